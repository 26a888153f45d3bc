//! The command queue as softcode sees it: what a command asks of the queue (a [`QueueOp`]:
//! run this action list now, later, or when a semaphore is notified; notify; drain; halt)
//! and the pure bookkeeping of who waits for what ([`Queue`]).
//!
//! Commands only *ask*: like its output, a command's queue requests are collected while it
//! runs and applied once it has finished, so a command that runs again (a fetch, a lost
//! race) never queues twice. Whoever owns the queue applies them: the in-memory
//! [`Queue`] here for the table tests and the golden corpus, a durable queue in Redis on a
//! game pod (the same rules, written there).

use std::collections::BTreeMap;

use crate::eval::{Eval, R};
use crate::world::{Attr, Dbref};

/// One entry of the queue: an action list and who runs it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// The object whose commands these are (`%!`).
    pub executor: Dbref,
    /// The executor's owner when queued (`@halt/all` and the queue quota count by it).
    pub owner: Dbref,
    /// The object that queued them (`%@`).
    pub caller: Dbref,
    /// The object that caused them (`%#`).
    pub enactor: Dbref,
    /// The action list, unevaluated: commands separated by `;`.
    pub actions: String,
    /// `%0`-`%9`.
    pub args: Vec<String>,
    /// The registers at the time it was queued, as (name, value).
    pub regs: Vec<(String, String)>,
    /// 0 when a player caused it, 1 when an object did: TinyMUX runs players' work first.
    pub priority: u8,
    /// How many jobs its owner may have queued when it was queued (see
    /// [`crate::command::queue_quota`]).
    pub quota: u64,
}

impl Job {
    /// A job for `executor`, caused by `enactor`, carrying the running command's registers,
    /// with its owner, quota and priority found as TinyMUX finds them when it queues.
    pub fn new(
        ev: &mut Eval<'_>,
        executor: Dbref,
        caller: Dbref,
        enactor: Dbref,
        actions: &str,
        args: Vec<String>,
    ) -> R<Job> {
        let by_player = ev
            .world
            .object(enactor)?
            .is_some_and(|o| o.kind == crate::world::Kind::Player);
        let owner = crate::functions::objects::owner_of(ev, executor)?;
        let quota = queue_quota(ev, owner)?;
        Ok(Job {
            executor,
            owner,
            caller,
            enactor,
            actions: actions.to_string(),
            args,
            regs: ev.regs.sorted(),
            priority: if by_player { 0 } else { 1 },
            quota,
        })
    }
}

/// A wizard's queue quota where the world's size is not known.
const WIZARD_QUOTA_UNKNOWN_WORLD: u64 = 10_000;

/// How many jobs `owner` may have queued, as TinyMUX's `QueueMax`: its `QUEUEMAX`
/// attribute when that is a number of at least 0, else 100; a wizard at least the number
/// of objects in the world plus one.
pub fn queue_quota(ev: &mut Eval<'_>, owner: Dbref) -> R<u64> {
    let set = ev
        .world
        .attr(owner, "QUEUEMAX")?
        .filter(|a| crate::functions::is_integer(a.value.trim()))
        .and_then(|a| a.value.trim().parse::<u64>().ok());
    let mut quota = set.unwrap_or(QUEUE_QUOTA);
    if crate::functions::objects::is_wizard(ev, owner)? {
        // A world that cannot say its size (a game pod's snapshot) gives wizards the
        // quota of a large world instead.
        let top = match ev.world.db_top() {
            Ok(top) => u64::try_from(top).unwrap_or(0),
            Err(crate::world::Miss::Refused(_)) => WIZARD_QUOTA_UNKNOWN_WORLD,
            Err(miss) => return Err(miss),
        };
        quota = quota.max(top + 1);
    }
    Ok(quota)
}

/// When a queued job may run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Wait {
    /// As soon as possible, after what is already queued.
    Now,
    /// After this many milliseconds.
    Delay(u64),
    /// When `@notify` releases it from the semaphore `object`/`attr`, or after `timeout`
    /// milliseconds if one was given.
    Semaphore {
        /// The semaphore object.
        object: Dbref,
        /// The attribute counting its waiters (`SEMAPHORE` unless named).
        attr: String,
        /// Run anyway after this long.
        timeout: Option<u64>,
    },
}

/// What a command asks of the queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum QueueOp {
    /// Queue a job.
    Add {
        /// The job.
        job: Job,
        /// When it runs.
        wait: Wait,
    },
    /// Release (`drain: false`) or discard (`drain: true`) up to `count` jobs waiting on a
    /// semaphore (all of them when `count` is `None`), oldest first.
    Notify {
        /// The semaphore object.
        object: Dbref,
        /// The attribute (`None` with `drain`: every attribute of the object).
        attr: Option<String>,
        /// How many.
        count: Option<u64>,
        /// Discard rather than release.
        drain: bool,
    },
    /// Remove every queued job whose executor is `object`, or, with `owner`, whose executor
    /// is owned by `owner` (neither: every job), telling `tell` how many went.
    Halt {
        /// An object.
        object: Option<Dbref>,
        /// Every object of this owner.
        owner: Option<Dbref>,
        /// Who hears "N queue entries removed.".
        tell: Dbref,
    },
}

/// What applying a command's requests produced that someone must be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// `@halt` removed this many jobs.
    Halted {
        /// Who is told.
        tell: Dbref,
        /// How many.
        count: usize,
    },
    /// An owner went over the queue quota: all its jobs were removed, and the object that
    /// queued the last one is to be set HALT.
    Runaway {
        /// The owner, who is told.
        owner: Dbref,
        /// The object that queued too much.
        object: Dbref,
    },
}

impl Notice {
    /// Who hears it and what, as TinyMUX words it.
    pub fn message(&self) -> (Dbref, String) {
        match self {
            Notice::Halted { tell, count } => (
                *tell,
                format!(
                    "{count} queue entr{} removed.",
                    if *count == 1 { "y" } else { "ies" }
                ),
            ),
            Notice::Runaway { owner, .. } => (
                *owner,
                "Run away objects: too many commands queued.  Halted.".to_string(),
            ),
        }
    }
}

/// Most jobs one owner may have queued unless its `QUEUEMAX` attribute says otherwise
/// (TinyMUX's `player_queue_limit`).
pub const QUEUE_QUOTA: u64 = 100;

/// The attribute a semaphore counts its waiters in when none is named.
pub const SEMAPHORE: &str = "SEMAPHORE";

/// A semaphore's count: how many wait on it (below zero: notified before anyone waited).
pub fn semaphore(ev: &mut Eval<'_>, thing: Dbref, attr: &str) -> R<i64> {
    Ok(ev
        .world
        .attr(thing, attr)?
        .map_or(0, |a| crate::functions::to_i64(&a.value)))
}

/// Sets a semaphore's count (zero clears the attribute).
pub fn set_semaphore(ev: &mut Eval<'_>, thing: Dbref, attr: &str, count: i64) -> R {
    let owner = ev.world.object(thing)?.map_or(thing, |o| o.owner);
    let value = (count != 0).then(|| Attr {
        value: count.to_string(),
        owner,
        flags: Default::default(),
    });
    ev.world.set_attr(thing, attr, value)
}

/// A job whose semaphore wait timed out runs without a notify, so it takes itself off the
/// count as `@notify` would have: run this first, in the job's own command.
pub fn timed_out(ev: &mut Eval<'_>, thing: Dbref, attr: &str) -> R {
    let count = semaphore(ev, thing, attr)?;
    set_semaphore(ev, thing, attr, count - 1)
}

/// Splits at `sep` outside braces, brackets and parentheses (`\` and `%` protect the next
/// character), keeping each piece as written, into at most `max` pieces (the last takes
/// the rest). Every command-line splitter (`=`, `,`, `;`) is this one.
pub fn split_top(text: &str, sep: char, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' | '%' => escaped = true,
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            c if c == sep && depth <= 0 && out.len() + 1 < max => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// Splits an action list into commands at each top-level `;`, trimming each; empty
/// commands are dropped. Braces stay: a command in braces is not a command (TinyMUX's
/// `parse_to`).
pub fn split_actions(text: &str) -> Vec<&str> {
    split_top(text, ';', usize::MAX)
        .into_iter()
        .map(str::trim)
        .filter(|cmd| !cmd.is_empty())
        .collect()
}

/// Removes one pair of braces enclosing the whole text, if they match each other.
pub fn strip_braces(text: &str) -> &str {
    let t = text.trim();
    if !(t.starts_with('{') && t.ends_with('}')) || t.len() < 2 {
        return t;
    }
    let mut depth = 0i32;
    let mut escaped = false;
    for (i, c) in t.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' | '%' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 && i != t.len() - 1 {
                    return t;
                }
            }
            _ => {}
        }
    }
    &t[1..t.len() - 1]
}

/// Where a job waits in a [`Queue`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    job: Job,
    /// Ready from this time (ms); `None`: only when notified.
    due: Option<i64>,
    /// Waits on this semaphore.
    semaphore: Option<(Dbref, String)>,
}

/// An in-memory queue with TinyMUX's rules: of the jobs that are ready, players' work runs
/// before objects', and otherwise in the order queued (a job released from a semaphore
/// keeps its place); a timed job becomes ready at its time, a semaphore job when notified
/// or at its timeout.
#[derive(Clone, Debug, Default)]
pub struct Queue {
    /// By ticket (arrival order).
    entries: BTreeMap<u64, Entry>,
    ticket: u64,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// What `@ps` sees of it at time `now` (ms).
    pub fn view(&self, now: i64) -> crate::world::QueueView {
        let entries: Vec<crate::world::Queued> = self
            .entries
            .values()
            .map(|e| crate::world::Queued {
                executor: e.job.executor,
                owner: e.job.owner,
                enactor: e.job.enactor,
                actions: e.job.actions.clone(),
                args: e.job.args.clone(),
                wait_ms: e.due.map(|due| due - now),
                semaphore: e.semaphore.as_ref().map(|(object, _)| *object),
            })
            .collect();
        let semaphores = entries.iter().filter(|e| e.semaphore.is_some()).count();
        crate::world::QueueView {
            waiting: entries.len() - semaphores,
            semaphores,
            entries,
        }
    }

    /// Applies what a command asked, at time `now` (ms).
    pub fn apply(&mut self, ops: Vec<QueueOp>, now: i64) -> Vec<Notice> {
        let mut notices = Vec::new();
        for op in ops {
            match op {
                QueueOp::Add { job, wait } => {
                    let owner = job.owner;
                    if self.owned_by(owner) as u64 >= job.quota {
                        let executor = job.executor;
                        self.entries.retain(|_, e| e.job.owner != owner);
                        notices.push(Notice::Runaway {
                            owner,
                            object: executor,
                        });
                        continue;
                    }
                    let (due, semaphore) = match wait {
                        Wait::Now => (Some(now), None),
                        Wait::Delay(ms) => (Some(now.saturating_add(ms as i64)), None),
                        Wait::Semaphore {
                            object,
                            attr,
                            timeout,
                        } => (
                            timeout.map(|ms| now.saturating_add(ms as i64)),
                            Some((object, attr)),
                        ),
                    };
                    self.ticket += 1;
                    self.entries.insert(
                        self.ticket,
                        Entry {
                            job,
                            due,
                            semaphore,
                        },
                    );
                }
                QueueOp::Notify {
                    object,
                    attr,
                    count,
                    drain,
                } => self.notify(object, attr.as_deref(), count, drain, now),
                QueueOp::Halt {
                    object,
                    owner,
                    tell,
                } => {
                    let before = self.entries.len();
                    self.entries.retain(|_, e| {
                        !(object.is_none_or(|o| e.job.executor == o)
                            && owner.is_none_or(|o| e.job.owner == o))
                    });
                    notices.push(Notice::Halted {
                        tell,
                        count: before - self.entries.len(),
                    });
                }
            }
        }
        notices
    }

    fn notify(
        &mut self,
        object: Dbref,
        attr: Option<&str>,
        count: Option<u64>,
        drain: bool,
        now: i64,
    ) {
        // Untimed waiters before timed ones, each in arrival order.
        let mut found: Vec<(bool, u64)> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.semaphore
                    .as_ref()
                    .is_some_and(|(o, a)| *o == object && attr.is_none_or(|x| x == a))
            })
            .map(|(ticket, e)| (e.due.is_some(), *ticket))
            .collect();
        found.sort_unstable();
        let limit = count.map_or(found.len(), |c| c.min(found.len() as u64) as usize);
        for (_, ticket) in found.into_iter().take(limit) {
            if drain {
                self.entries.remove(&ticket);
            } else if let Some(entry) = self.entries.get_mut(&ticket) {
                entry.semaphore = None;
                entry.due = Some(now);
            }
        }
    }

    /// Removes and returns the job to run next at `now` (ms), with the semaphore it was
    /// waiting on when that wait timed out (see [`timed_out`]).
    pub fn pop_ready(&mut self, now: i64) -> Option<(Job, Option<(Dbref, String)>)> {
        let ticket = self
            .entries
            .iter()
            .filter(|(_, e)| e.due.is_some_and(|d| d <= now))
            .min_by_key(|(ticket, e)| (e.job.priority, **ticket))
            .map(|(ticket, _)| *ticket)?;
        self.entries.remove(&ticket).map(|e| (e.job, e.semaphore))
    }

    /// When the next timed job becomes ready.
    pub fn next_due(&self) -> Option<i64> {
        self.entries.values().filter_map(|e| e.due).min()
    }

    /// How many jobs of this owner are queued (the queue quota counts them).
    pub fn owned_by(&self, owner: Dbref) -> usize {
        self.entries
            .values()
            .filter(|e| e.job.owner == owner)
            .count()
    }

    /// Jobs queued, timed and waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(actions: &str) -> Job {
        Job {
            executor: 12,
            owner: 1,
            caller: 1,
            enactor: 1,
            actions: actions.into(),
            args: Vec::new(),
            regs: Vec::new(),
            priority: 1,
            quota: QUEUE_QUOTA,
        }
    }

    #[test]
    fn action_lists_split_at_top_level_semicolons() {
        let cases: &[(&str, &[&str])] = &[
            ("think a;think b", &["think a", "think b"]),
            ("think a; think b ;", &["think a", "think b"]),
            ("{think a;think b}", &["{think a;think b}"]),
            (
                "@switch 1=1,{think a;think b};think c",
                &["@switch 1=1,{think a;think b}", "think c"],
            ),
            (
                "think [add(1,2)];think \\;x",
                &["think [add(1,2)]", "think \\;x"],
            ),
            ("think %;x", &["think %;x"]),
            ("{a}{b}", &["{a}{b}"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(split_actions(text), *want, "{text:?}");
        }
    }

    #[test]
    fn ready_jobs_run_in_order_and_timed_ones_at_their_time() {
        let mut q = Queue::new();
        q.apply(
            vec![
                QueueOp::Add {
                    job: job("late"),
                    wait: Wait::Delay(1000),
                },
                QueueOp::Add {
                    job: job("first"),
                    wait: Wait::Now,
                },
                QueueOp::Add {
                    job: job("second"),
                    wait: Wait::Now,
                },
            ],
            0,
        );
        assert_eq!(q.pop_ready(0).map(|(j, _)| j.actions), Some("first".into()));
        assert_eq!(
            q.pop_ready(0).map(|(j, _)| j.actions),
            Some("second".into())
        );
        assert_eq!(q.pop_ready(999), None);
        assert_eq!(q.next_due(), Some(1000));
        assert_eq!(
            q.pop_ready(1000).map(|(j, _)| j.actions),
            Some("late".into())
        );
        assert!(q.is_empty());
    }

    #[test]
    fn semaphores_release_oldest_first_and_drain_discards() {
        let mut q = Queue::new();
        let sem = |name: &str, timeout| QueueOp::Add {
            job: job(name),
            wait: Wait::Semaphore {
                object: 20,
                attr: SEMAPHORE.into(),
                timeout,
            },
        };
        q.apply(
            vec![sem("a", None), sem("b", Some(5000)), sem("c", None)],
            0,
        );
        assert_eq!(q.pop_ready(10), None);
        q.apply(
            vec![QueueOp::Notify {
                object: 20,
                attr: Some(SEMAPHORE.into()),
                count: Some(2),
                drain: false,
            }],
            10,
        );
        // Untimed waiters first.
        assert_eq!(q.pop_ready(10).map(|(j, _)| j.actions), Some("a".into()));
        assert_eq!(q.pop_ready(10).map(|(j, _)| j.actions), Some("c".into()));
        assert_eq!(q.pop_ready(10), None);
        q.apply(
            vec![QueueOp::Notify {
                object: 20,
                attr: None,
                count: None,
                drain: true,
            }],
            20,
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_semaphore_job_with_a_timeout_runs_at_its_timeout() {
        let mut q = Queue::new();
        q.apply(
            vec![QueueOp::Add {
                job: job("t"),
                wait: Wait::Semaphore {
                    object: 20,
                    attr: SEMAPHORE.into(),
                    timeout: Some(300),
                },
            }],
            0,
        );
        assert_eq!(q.pop_ready(299), None);
        assert_eq!(
            q.pop_ready(300),
            Some((job("t"), Some((20, SEMAPHORE.to_string()))))
        );
    }

    #[test]
    fn halt_removes_an_objects_jobs() {
        let mut q = Queue::new();
        let mut other = job("other");
        other.executor = 13;
        q.apply(
            vec![
                QueueOp::Add {
                    job: job("mine"),
                    wait: Wait::Delay(10),
                },
                QueueOp::Add {
                    job: other,
                    wait: Wait::Now,
                },
                QueueOp::Halt {
                    object: Some(12),
                    owner: None,
                    tell: 1,
                },
            ],
            0,
        );
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_ready(100).map(|(j, _)| j.executor), Some(13));
    }
}
