//! The queue family: `@trigger`, `@force`, `@wait`, `@notify`, `@drain`, `@halt`,
//! `@switch`/`@select`, `@dolist` and `@break`/`@assert`.
//!
//! None of them runs anything by itself: each adds [`QueueOp`]s to the command's result,
//! which whoever owns the queue applies once the command has finished (see
//! [`crate::queue`]). TinyMUX 2.12 has no `@include` and no `/now` or `/inline` forms,
//! so neither has this.

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{controls, inherited, resolve};
use crate::functions::{is_number, to_f64, truthy};
use crate::queue::{
    Job, QueueOp, SEMAPHORE, Wait, semaphore, set_semaphore, split_top, strip_braces,
};
use crate::world::Dbref;

/// The queue family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@TRIGGER",
        aliases: &["@TR"],
        switches: &["quiet", "notify"],
        wizard: false,
        run: trigger,
    },
    Command {
        name: "@FORCE",
        aliases: &["@FO"],
        switches: &[],
        wizard: false,
        run: force,
    },
    Command {
        name: "@WAIT",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: wait,
    },
    Command {
        name: "@NOTIFY",
        aliases: &[],
        switches: &["all", "first", "quiet"],
        wizard: false,
        run: notify,
    },
    Command {
        name: "@DRAIN",
        aliases: &[],
        switches: &["all", "any", "quiet"],
        wizard: false,
        run: drain,
    },
    Command {
        name: "@HALT",
        aliases: &[],
        switches: &["all", "pid"],
        wizard: false,
        run: halt,
    },
    Command {
        name: "@SWITCH",
        aliases: &["@SW"],
        switches: &["all", "first", "notify"],
        wizard: false,
        run: switch,
    },
    Command {
        name: "@SELECT",
        aliases: &[],
        switches: &["notify"],
        wizard: false,
        run: select,
    },
    Command {
        name: "@DOLIST",
        aliases: &["@DOL"],
        switches: &["delimit", "space", "notify"],
        wizard: false,
        run: dolist,
    },
    Command {
        name: "@BREAK",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: brk,
    },
    Command {
        name: "@ASSERT",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: assert,
    },
];

/// Most arguments a command's right-hand side splits into.
const MAX_ARGS: usize = 100;

/// Splits at commas outside braces, brackets and parentheses; each piece trimmed and, as
/// TinyMUX's `CS_STRIP_AROUND` does, stripped of one pair of enclosing braces.
pub fn split_args(text: &str) -> Vec<String> {
    split_top(text, ',', MAX_ARGS)
        .into_iter()
        .map(|a| strip_braces(a.trim()).to_string())
        .collect()
}

/// Queues a job, unless its executor is halted (TinyMUX drops those silently).
fn push(ev: &mut Eval<'_>, job: Job, wait: Wait) -> R {
    if ev
        .world
        .object(job.executor)?
        .is_some_and(|o| o.has_flag("HALT"))
    {
        return Ok(());
    }
    ev.queue.push(QueueOp::Add { job, wait });
    Ok(())
}

/// Queues an action list for the executor to run now, as the running command's enactor
/// caused it (`@switch`, `@dolist`, `@wait`).
fn queue_own(ev: &mut Eval<'_>, frame: &Frame<'_>, actions: &str, wait: Wait) -> R {
    let job = Job::new(
        ev,
        frame.executor,
        frame.executor,
        frame.enactor,
        actions,
        frame.args.to_vec(),
    )?;
    push(ev, job, wait)
}

/// `@notify/quiet me` after the other jobs, for the `/notify` switches.
fn notify_me(ev: &mut Eval<'_>, frame: &Frame<'_>) -> R {
    queue_own(ev, frame, "@notify/quiet me", Wait::Now)
}

fn trigger(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let spec = ev.eval_top(frame, left)?;
    let mut args = Vec::new();
    if let Some(right) = right {
        for arg in split_top(right, ',', MAX_ARGS).into_iter().take(10) {
            // Typed by a player the arguments are taken as written; queued, evaluated.
            args.push(if ev.interactive {
                arg.trim().to_string()
            } else {
                ev.eval_top(frame, arg)?
            });
        }
    }
    let found = match spec.split_once('/') {
        Some((obj, attr)) => match resolve(ev, frame.executor, obj)? {
            Ok(thing) => {
                let name = crate::functions::objects::canonical(&attr.trim().to_ascii_uppercase());
                inherited(ev, thing, &name)?.map(|a| (thing, a))
            }
            Err(_) => None,
        },
        None => None,
    };
    let Some((thing, found)) = found else {
        tell(ev, frame, "No match.");
        return Ok(());
    };
    if !controls(ev, frame.executor, thing)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    if !found.value.is_empty() {
        let job = Job::new(
            ev,
            thing,
            frame.executor,
            frame.executor,
            &found.value,
            args,
        )?;
        push(ev, job, Wait::Now)?;
    }
    if input.switches.iter().any(|s| s == "notify") {
        notify_me(ev, frame)?;
    }
    if !input.switches.iter().any(|s| s == "quiet") {
        tell(ev, frame, "Triggered.");
    }
    Ok(())
}

fn force(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let who = ev.eval_top(frame, left)?;
    let Some(thing) = target(ev, frame, &who)? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, thing)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    // Evaluated once by the forcer, and again when the forced object runs it.
    let actions = ev.eval_stripped(frame, right.unwrap_or(""))?;
    let job = Job::new(
        ev,
        thing,
        frame.executor,
        frame.executor,
        &actions,
        frame.args.to_vec(),
    )?;
    push(ev, job, Wait::Now)
}

/// Seconds as TinyMUX's `@wait` reads them (fractions allowed), in milliseconds.
fn millis(text: &str) -> u64 {
    let secs = to_f64(text);
    if secs.is_finite() && secs > 0.0 {
        (secs * 1000.0).min(1e15) as u64
    } else {
        0
    }
}

fn wait(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    // `@wait 1` without a command does nothing, silently, as in TinyMUX.
    let Some(actions) = right.map(strip_braces) else {
        return Ok(());
    };
    let when = ev.eval_top(frame, left)?;
    let when = when.trim();
    if is_number(when) {
        return queue_own(ev, frame, actions, Wait::Delay(millis(when)));
    }
    // A semaphore: obj, obj/attr or obj/timeout.
    let (obj, rest) = match when.split_once('/') {
        Some((o, r)) => (o, Some(r.trim())),
        None => (when, None),
    };
    let Some(thing) = target(ev, frame, obj)? else {
        return Ok(());
    };
    let (attr, timeout) = match rest {
        Some(r) if is_number(r) => (SEMAPHORE.to_string(), Some(millis(r))),
        Some(r) => (r.to_ascii_uppercase(), None),
        None => (SEMAPHORE.to_string(), None),
    };
    if !controls(ev, frame.executor, thing)? && !link_ok(ev, thing)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    // The semaphore counts waiters; a count that was below zero (notified before anyone
    // waited) lets this one run at once.
    let count = semaphore(ev, thing, &attr)? + 1;
    set_semaphore(ev, thing, &attr, count)?;
    if count <= 0 {
        return queue_own(ev, frame, actions, Wait::Now);
    }
    queue_own(
        ev,
        frame,
        actions,
        Wait::Semaphore {
            object: thing,
            attr,
            timeout,
        },
    )
}

/// Objects anyone may wait on (TinyMUX: `LINK_OK`).
fn link_ok(ev: &mut Eval<'_>, thing: Dbref) -> R<bool> {
    Ok(ev
        .world
        .object(thing)?
        .is_some_and(|o| o.has_flag("LINK_OK")))
}

/// `obj[/attr]` of `@notify` and `@drain`.
fn semaphore_spec(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    text: &str,
) -> R<Option<(Dbref, Option<String>)>> {
    let text = ev.eval_top(frame, text)?;
    let (obj, attr) = match text.split_once('/') {
        Some((o, a)) => (o.to_string(), Some(a.trim().to_ascii_uppercase())),
        None => (text.clone(), None),
    };
    let Some(thing) = target(ev, frame, &obj)? else {
        return Ok(None);
    };
    if !controls(ev, frame.executor, thing)? && !link_ok(ev, thing)? {
        tell(ev, frame, "Permission denied.");
        return Ok(None);
    }
    Ok(Some((thing, attr)))
}

/// `@notify` and `@drain`: release (or discard) waiters of a semaphore.
fn notify_with(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>, drain: bool) -> R {
    let (left, right) = split_eq(input.rest);
    let Some((thing, attr)) = semaphore_spec(ev, frame, left)? else {
        return Ok(());
    };
    let attr = attr.unwrap_or_else(|| SEMAPHORE.to_string());
    let count = match right {
        Some(n) => crate::functions::to_i64(&ev.eval_top(frame, n)?),
        None => 1,
    };
    if count <= 0 {
        return Ok(());
    }
    let current = semaphore(ev, thing, &attr)?;
    let all = input.switches.iter().any(|s| s == "all");
    if drain || all {
        if current > 0 || drain {
            ev.queue.push(QueueOp::Notify {
                object: thing,
                attr: Some(attr.clone()),
                count: None,
                drain,
            });
        }
        set_semaphore(ev, thing, &attr, 0)?;
    } else {
        // Waiters are released only while the count says someone waits; the count goes
        // down regardless, so a notify before the wait lets the wait run at once.
        if current > 0 {
            ev.queue.push(QueueOp::Notify {
                object: thing,
                attr: Some(attr.clone()),
                count: Some(count as u64),
                drain: false,
            });
        }
        set_semaphore(ev, thing, &attr, current - count)?;
    }
    if !input.switches.iter().any(|s| s == "quiet") {
        tell(ev, frame, if drain { "Drained." } else { "Notified." });
    }
    Ok(())
}

fn notify(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    notify_with(ev, frame, input, false)
}

fn drain(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    notify_with(ev, frame, input, true)
}

fn halt(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    // The whole argument names what to halt (TinyMUX 2.12 takes no `=command`).
    let text = ev.eval_top(frame, input.rest)?;
    let all = input.switches.iter().any(|s| s == "all");
    let me = ev.world.object(frame.executor)?;
    let owner = me.as_ref().map_or(frame.executor, |o| o.owner);
    // TinyMUX's Can_Halt: wizards and the halt power halt everything, and what they do
    // not control.
    let can_halt = crate::powers::can_halt(ev, frame.executor)?;
    if all && !can_halt {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let (object, whose) = if all && text.trim().is_empty() {
        (None, None)
    } else if text.trim().is_empty() {
        // A player halts everything its owner owns; an object only itself.
        match me.map(|o| o.kind) {
            Some(crate::world::Kind::Player) => (None, Some(owner)),
            _ => (Some(frame.executor), None),
        }
    } else {
        let Some(thing) = target(ev, frame, &text)? else {
            return Ok(());
        };
        if !can_halt && !controls(ev, frame.executor, thing)? {
            tell(ev, frame, "Permission denied.");
            return Ok(());
        }
        if all {
            tell(ev, frame, "Can't specify a target and /all");
            return Ok(());
        }
        match ev.world.object(thing)?.map(|o| o.kind) {
            Some(crate::world::Kind::Player) => (None, Some(thing)),
            _ => (Some(thing), None),
        }
    };
    ev.queue.push(QueueOp::Halt {
        object,
        owner: whose,
        tell: owner,
    });
    Ok(())
}

fn switch_with(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>, first: bool) -> R {
    let (left, right) = split_eq(input.rest);
    let value = ev.eval_stripped(frame, left)?;
    let cases = split_args(right.unwrap_or(""));
    let mut matched = false;
    let mut i = 0;
    while i + 1 < cases.len() {
        let pattern = ev.eval_top(frame, &cases[i])?;
        if crate::wild::compare(&pattern, &value) {
            matched = true;
            let actions = cases[i + 1].replace("#$", &value);
            queue_own(ev, frame, &actions, Wait::Now)?;
            if first {
                break;
            }
        }
        i += 2;
    }
    if !matched && cases.len() % 2 == 1 {
        let actions = cases[cases.len() - 1].replace("#$", &value);
        queue_own(ev, frame, &actions, Wait::Now)?;
    }
    if input.switches.iter().any(|s| s == "notify") {
        notify_me(ev, frame)?;
    }
    Ok(())
}

fn switch(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let first = input.switches.iter().any(|s| s == "first");
    switch_with(ev, frame, input, first)
}

fn select(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    switch_with(ev, frame, input, true)
}

fn dolist(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (mut left, right) = split_eq(input.rest);
    let mut delim = ' ';
    if input.switches.iter().any(|s| s == "delimit") {
        // The first word of the list is the delimiter.
        let t = left.trim_start();
        let (word, rest) = t.split_once(' ').unwrap_or((t, ""));
        let mut chars = word.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => delim = c,
            _ => {
                tell(ev, frame, "The delimiter must be a single character!");
                return Ok(());
            }
        }
        left = rest;
    }
    let list = ev.eval_top(frame, left)?;
    let items: Vec<&str> = split_top(&list, delim, usize::MAX)
        .into_iter()
        .map(|item| strip_braces(item.trim_matches(' ')))
        .filter(|item| !item.is_empty())
        .collect();
    if items.is_empty() {
        // With a delimiter and nothing after it TinyMUX says nothing.
        if !input.switches.iter().any(|s| s == "delimit") {
            tell(
                ev,
                frame,
                "That's terrific, but what should I do with the list?",
            );
        }
        return Ok(());
    }
    let actions = strip_braces(right.unwrap_or(""));
    for (n, item) in items.iter().enumerate() {
        let text = actions
            .replace("##", item)
            .replace("#@", &(n + 1).to_string());
        queue_own(ev, frame, &text, Wait::Now)?;
    }
    if input.switches.iter().any(|s| s == "notify") {
        notify_me(ev, frame)?;
    }
    Ok(())
}

/// `@break`/`@assert`: stops the rest of the action list when `stop(value)`, queueing the
/// optional action list in its place.
fn stop_if(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>, stop: fn(bool) -> bool) -> R {
    let (left, right) = split_eq(input.rest);
    let value = ev.eval_top(frame, left)?;
    if stop(truthy(&value)) {
        ev.broke = true;
        if let Some(actions) = right {
            queue_own(ev, frame, actions, Wait::Now)?;
        }
    }
    Ok(())
}

fn brk(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    stop_if(ev, frame, input, |v| v)
}

fn assert(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    stop_if(ev, frame, input, |v| !v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::split_actions;

    #[test]
    fn arguments_split_at_top_level_commas_and_lose_enclosing_braces() {
        assert_eq!(
            split_args("a, {b,c} ,[d(e,f)]"),
            vec!["a", "b,c", "[d(e,f)]"]
        );
        assert_eq!(split_args(""), vec![""]);
        assert_eq!(split_actions("{x};y"), vec!["{x}", "y"]);
    }

    #[test]
    fn switch_cases_compare_numbers_and_wildcards() {
        use crate::wild::compare;
        assert!(compare("<10", "9"));
        assert!(!compare("<10", "10"));
        assert!(compare(">2", "10"));
        assert!(compare(">abb", "abc"));
        assert!(compare("a*", "abc"));
        assert!(!compare("b*", "abc"));
    }
}
