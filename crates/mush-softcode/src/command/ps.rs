//! `@ps`: what is waiting in the queue, listed as TinyMUX 2.12 lists it (recorded:
//! `[49]Box(#12):say hi %0` for a timed entry, `[#12]` and `[#12/29]` for semaphore
//! waits without and with a timeout, `/long` adding the enactor and arguments, and the
//! totals as shown/all).
//!
//! A shard has none of TinyMUX's system tasks (dumps, `@dbck`, idle checks) in its queue:
//! their work is done by Redis and the pods' own loops, so the wizard's System Queue
//! section is empty and says so.

use super::{Command, Input, target, tell};
use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{controls, is_wizard};
use crate::world::{Dbref, Kind, NOTHING, Queued};

/// The `@ps` command.
pub const COMMANDS: &[Command] = &[Command {
    name: "@PS",
    aliases: &[],
    switches: &["brief", "long", "summary", "all"],
    wizard: false,
    run: ps,
}];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    Brief,
    Long,
    Summary,
}

fn ps(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let has = |s: &str| input.switches.iter().any(|x| x == s);
    let all = has("all");
    let me = frame.executor;
    // TinyMUX's See_Queue: wizards, royalty and the see_queue power.
    if all && !crate::powers::see_queue(ev, me)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let text = ev.eval_top(frame, input.rest)?;
    let owner = crate::functions::objects::owner_of(ev, me)?;
    let (by_owner, by_object) = if text.trim().is_empty() {
        if all {
            (NOTHING, NOTHING)
        } else if kind_of(ev, me)? == Some(Kind::Player) {
            (owner, NOTHING)
        } else {
            (owner, me)
        }
    } else {
        let Some(thing) = target(ev, frame, &text)? else {
            return Ok(());
        };
        if !controls(ev, me, thing)? {
            tell(ev, frame, "Permission denied.");
            return Ok(());
        }
        if all {
            tell(ev, frame, "Can't specify a target and /all");
            return Ok(());
        }
        if kind_of(ev, thing)? == Some(Kind::Player) {
            (thing, NOTHING)
        } else {
            // An object alone, whoever owns it (its controller may look).
            (NOTHING, thing)
        }
    };
    let detail = match (has("brief"), has("long"), has("summary")) {
        (_, false, false) => Detail::Brief,
        (false, true, false) => Detail::Long,
        (false, false, true) => Detail::Summary,
        _ => {
            tell(ev, frame, "Illegal combination of switches.");
            return Ok(());
        }
    };
    let view = ev.world.queued()?;
    let wanted = |q: &Queued| {
        (by_owner == NOTHING || q.owner == by_owner)
            && (by_object == NOTHING || q.executor == by_object)
    };
    // As TinyMUX's scheduler lists them: by the time they may run, oldest first among
    // equals; a semaphore wait without a timeout comes before those with one.
    let mut waits: Vec<&Queued> = view
        .entries
        .iter()
        .filter(|q| q.semaphore.is_none())
        .collect();
    waits.sort_by_key(|q| q.wait_ms.unwrap_or(0));
    let mut semaphores: Vec<&Queued> = view
        .entries
        .iter()
        .filter(|q| q.semaphore.is_some())
        .collect();
    semaphores.sort_by_key(|q| q.wait_ms.map_or((0, 0), |w| (1, w)));
    let waits: Vec<&Queued> = waits.into_iter().filter(|q| wanted(q)).collect();
    let semaphores: Vec<&Queued> = semaphores.into_iter().filter(|q| wanted(q)).collect();
    if detail != Detail::Summary {
        for (title, list) in [("Wait Queue", &waits), ("Semaphore Queue", &semaphores)] {
            if list.is_empty() {
                continue;
            }
            tell(ev, frame, format!("----- {title} -----"));
            for queued in list {
                for line in entry_lines(ev, queued, detail)? {
                    tell(ev, frame, line);
                }
            }
        }
    }
    let wizard = is_wizard(ev, me)?;
    if wizard {
        tell(ev, frame, "----- System Queue -----");
    }
    tell(
        ev,
        frame,
        format!(
            "Totals: Wait Queue...{}/{}  Semaphores...{}/{}  SQL 0/0",
            waits.len(),
            view.waiting,
            semaphores.len(),
            view.semaphores
        ),
    );
    if wizard {
        tell(ev, frame, "        System Tasks.....0");
    }
    Ok(())
}

/// One entry's line (and, with `/long`, its enactor and arguments).
fn entry_lines(ev: &mut Eval<'_>, queued: &Queued, detail: Detail) -> R<Vec<String>> {
    let seconds = queued.wait_ms.map(|ms| ms.max(0) / 1000);
    let when = match (queued.semaphore, seconds) {
        (Some(sem), Some(s)) => format!("[#{sem}/{s}]"),
        (Some(sem), None) => format!("[#{sem}]"),
        (None, s) => format!("[{}]", s.unwrap_or(0)),
    };
    let who = super::attrs::unparse(ev, queued.executor)?;
    let mut lines = vec![format!("{when}{who}:{}", queued.actions)];
    if detail == Detail::Long {
        let args: String = queued
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| format!("; Arg{i}='{a}'"))
            .collect();
        let enactor = super::attrs::unparse(ev, queued.enactor)?;
        lines.push(format!("   Enactor: {enactor}{args}"));
    }
    Ok(lines)
}

fn kind_of(ev: &mut Eval<'_>, id: Dbref) -> R<Option<Kind>> {
    Ok(ev.world.object(id)?.map(|o| o.kind))
}
