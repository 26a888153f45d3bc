//! A whole game in memory for the tests: the in-memory world, a queue, and a clock that
//! moves only when a test lets queued work settle, so timed jobs run deterministically.

#![allow(dead_code)]

use mush_softcode::command::{self, HUH, Ran};
use mush_softcode::memory::MemoryWorld;
use mush_softcode::queue::{Job, Notice, Queue, QueueOp};
use mush_softcode::{Change, Dbref, Emit, Eval, Frame, Limits, World};

/// Most jobs one settle runs: a job that queues itself for ever stops here.
pub const SETTLE_JOBS: usize = 10_000;

/// The world, its queue and a clock in milliseconds.
pub struct Game {
    pub world: MemoryWorld,
    pub queue: Queue,
    pub clock: i64,
}

impl Game {
    pub fn new() -> Self {
        let world = MemoryWorld::new();
        let clock = world.now * 1000;
        Self {
            world,
            queue: Queue::new(),
            clock,
        }
    }

    /// Runs a line typed by `player`, as a player's command is: a built-in command, else a
    /// `$`-command, else "Huh?". Returns what was sent, in order; queued work waits for
    /// [`Game::settle`].
    pub fn typed(&mut self, player: Dbref, line: &str) -> Vec<Emit> {
        self.world.queued = self.queue.view(self.clock);
        let args: Vec<String> = Vec::new();
        let frame = Frame {
            executor: player,
            caller: player,
            enactor: player,
            args: &args,
        };
        let mut ev = Eval::new(&mut self.world, Limits::default());
        // In memory, what `$`-commands matched simply joins the queue: it runs at the
        // next settle, after the command, as TinyMUX runs it.
        match command::typed(&mut ev, &frame, line) {
            Ok((Ran::Done, matched)) => ev.queue.extend(matched),
            Ok((Ran::NotMine, _)) => ev.emits.insert(0, Emit::To(player, HUH.to_string())),
            Err(miss) => ev
                .emits
                .insert(0, Emit::To(player, format!("(world miss: {miss})"))),
        }
        let ops = std::mem::take(&mut ev.queue);
        let mut emits = std::mem::take(&mut ev.emits);
        emits.extend(self.apply(ops));
        emits
    }

    /// Applies queue requests, with TinyMUX's quota (wizards have none), and says what
    /// they caused (`@halt` counts, run-away owners, whose object is then set HALT).
    pub fn apply(&mut self, ops: Vec<QueueOp>) -> Vec<Emit> {
        let notices = self.queue.apply(ops, self.clock);
        let mut emits = Vec::new();
        for notice in notices {
            if let Notice::Runaway { object, .. } = &notice {
                let _ = self
                    .world
                    .change(*object, Change::Flag("HALT".into(), true));
            }
            let (to, text) = notice.message();
            emits.push(Emit::To(to, text));
        }
        emits
    }

    /// Runs one queued job (whose semaphore wait timed out, if `timed_out`).
    pub fn run_job(&mut self, job: Job, timed_out: Option<(Dbref, String)>) -> Vec<Emit> {
        self.world.queued = self.queue.view(self.clock);
        let frame = Frame {
            executor: job.executor,
            caller: job.caller,
            enactor: job.enactor,
            args: &job.args,
        };
        let mut ev = Eval::new(&mut self.world, Limits::default());
        for (name, value) in &job.regs {
            ev.regs.set(name, value.clone());
        }
        let ran = match &timed_out {
            Some((object, attr)) => mush_softcode::queue::timed_out(&mut ev, *object, attr),
            None => Ok(()),
        }
        .and_then(|()| command::run_list(&mut ev, &frame, &job.actions));
        if let Err(miss) = ran {
            ev.emits
                .push(Emit::To(job.executor, format!("(world miss: {miss})")));
        }
        let (mut emits, ops) = finish(ev, job.executor);
        emits.extend(self.apply(ops));
        emits
    }

    /// Runs one of the game's own hooks (a connection, a disconnection, the start), which
    /// only queues work, as TinyMUX's do; [`Game::settle`] runs it.
    pub fn hook(&mut self, f: impl FnOnce(&mut Eval<'_>) -> mush_softcode::R) -> Vec<Emit> {
        let mut ev = Eval::new(&mut self.world, Limits::default());
        if let Err(miss) = f(&mut ev) {
            panic!("a hook missed in memory: {miss}");
        }
        let ops = std::mem::take(&mut ev.queue);
        let mut emits = std::mem::take(&mut ev.emits);
        emits.extend(self.apply(ops));
        emits
    }

    /// Lets `ms` milliseconds pass, running every job that becomes ready meanwhile.
    pub fn settle(&mut self, ms: i64) -> Vec<Emit> {
        let until = self.clock + ms;
        let mut emits = Vec::new();
        for _ in 0..SETTLE_JOBS {
            let Some(due) = self.queue.next_due() else {
                break;
            };
            if due > until {
                break;
            }
            self.clock = self.clock.max(due);
            self.world.now = self.clock / 1000;
            let Some((job, timed_out)) = self.queue.pop_ready(self.clock) else {
                break;
            };
            emits.extend(self.run_job(job, timed_out));
        }
        self.clock = until;
        self.world.now = self.clock / 1000;
        emits
    }

    /// What `who` sees of some output, line by line (colour removed unless it has ANSI).
    pub fn seen_by(&self, who: Dbref, emits: &[Emit]) -> Vec<String> {
        let me = self.world.object(who).ok().flatten();
        let here = me.as_ref().map(|o| o.location).unwrap_or(-1);
        // TinyMUX sends colour only to players with the ANSI flag.
        let ansi = me.is_some_and(|o| o.has_flag("ANSI"));
        let mut lines = Vec::new();
        for emit in emits {
            let text = match emit {
                Emit::To(to, text) if *to == who => text,
                Emit::Room { room, except, text } if *room == here && !except.contains(&who) => {
                    text
                }
                Emit::Boot {
                    player,
                    text: Some(text),
                } if *player == who => text,
                _ => continue,
            };
            let text = if ansi {
                text.clone()
            } else {
                mush_softcode::functions::strings::strip(text)
            };
            lines.extend(text.split("\r\n").map(str::to_string));
        }
        lines
    }
}

/// What a finished command or job leaves: listeners react, puppets forward, and its output
/// and queue requests are taken.
fn finish(mut ev: Eval<'_>, sender: Dbref) -> (Vec<Emit>, Vec<QueueOp>) {
    let _ = mush_softcode::listen::hear(&mut ev, sender);
    let _ = command::forward_puppets(&mut ev);
    (std::mem::take(&mut ev.emits), std::mem::take(&mut ev.queue))
}
