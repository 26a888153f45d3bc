//! `look`, and what a player sees on arriving somewhere: TinyMUX's `look_in` for a place
//! and `look_simple` for a thing, recorded in the golden corpus (`17-look`).
//!
//! A place shows its name (or its `@nameformat`), its description (`@idesc` from inside
//! a thing), its `@succ` or `@fail` (a room only, by its lock), its contents (or its
//! `@conformat`, given the visible contents as `%0` and "Contents:" as `%1`) and its
//! exits, its parents' too (or its `@exitformat`, given the visible exits as `%0`). A
//! thing shows its name, its description or "You see nothing special.", and what it
//! carries unless it is OPAQUE. Each format runs as the place, caused by the looker,
//! with the registers cleared.

use super::moves::{Family, did_it};
use super::{Command, Input};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{PARENT_DEPTH, display_name, inherited, room_of};
use crate::lock::passes;
use crate::world::{Dbref, Kind, NOTHING};

/// The `look` command.
pub const COMMANDS: &[Command] = &[Command {
    name: "LOOK",
    aliases: &["L"],
    switches: &[],
    wizard: false,
    run: look,
}];

const DESC: Family = Family {
    what: "DESCRIBE",
    default: None,
    owhat: "ODESC",
    awhat: "ADESC",
};

const IDESC: Family = Family {
    what: "IDESCRIBE",
    default: None,
    owhat: "ODESC",
    awhat: "ADESC",
};

const SUCC: Family = Family {
    what: "SUCCESS",
    default: None,
    owhat: "OSUCCESS",
    awhat: "ASUCCESS",
};

const FAIL: Family = Family {
    what: "FAIL",
    default: None,
    owhat: "OFAIL",
    awhat: "AFAIL",
};

fn look(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let what = ev.eval_top(frame, input.rest)?;
    let here = room_of(ev, frame.executor)?;
    if what.trim().is_empty() {
        return look_in(ev, frame, here);
    }
    let Some(id) = super::target_within_reach(ev, frame, &what)? else {
        return Ok(());
    };
    if id == here || ev.world.object(id)?.is_some_and(|o| o.kind == Kind::Room) {
        return look_in(ev, frame, id);
    }
    look_at(ev, frame, id)
}

/// What the executor sees looking around `place` (a room, or a thing it is inside).
pub fn look_in(ev: &mut Eval<'_>, frame: &Frame<'_>, place: Dbref) -> R {
    let me = frame.executor;
    match formatted(ev, me, place, "NAMEFORMAT", &[])? {
        Some(text) => tell(ev, me, text),
        None => {
            let head = super::attrs::unparse_for(ev, me, place)?;
            tell(ev, me, head);
        }
    }
    let Some(object) = ev.world.object(place)? else {
        return Ok(());
    };
    let inside = ev.world.object(me)?.is_some_and(|o| o.location == place);
    let has_idesc = object.kind != Kind::Room
        && inside
        && inherited(ev, place, "IDESCRIBE")?.is_some_and(|a| !a.value.is_empty());
    did_it(ev, me, place, if has_idesc { &IDESC } else { &DESC })?;
    if object.kind == Kind::Room {
        let family = if passes(ev, me, place, crate::lock::DEFAULT_LOCK)? {
            &SUCC
        } else {
            &FAIL
        };
        did_it(ev, me, place, family)?;
    }
    contents(ev, me, place, "Contents:")?;
    exits(ev, me, place)
}

/// What the executor sees looking at a thing, a player or an exit.
fn look_at(ev: &mut Eval<'_>, frame: &Frame<'_>, id: Dbref) -> R {
    let me = frame.executor;
    let Some(object) = ev.world.object(id)? else {
        return Ok(());
    };
    // Players show their name as it is; things and exits may format theirs.
    let format = if object.kind == Kind::Player {
        None
    } else {
        formatted(ev, me, id, "NAMEFORMAT", &[])?
    };
    // Without a format, a looker who may not examine it sees no name line at all.
    match format {
        Some(text) => tell(ev, me, text),
        None => {
            let visual = object.has_flag("VISUAL");
            if visual || crate::functions::objects::controls(ev, me, id)? {
                let head = super::attrs::unparse(ev, id)?;
                tell(ev, me, head);
            }
        }
    }
    if inherited(ev, id, "DESCRIBE")?.is_none_or(|a| a.value.is_empty()) {
        tell(ev, me, "You see nothing special.".into());
    }
    did_it(ev, me, id, &DESC)?;
    if !object.has_flag("OPAQUE") {
        contents(ev, me, id, "Carrying:")?;
    }
    Ok(())
}

/// A place's contents as `viewer` sees them: not the viewer, not DARK things, and players
/// only while connected; or the place's `@conformat`.
fn contents(ev: &mut Eval<'_>, viewer: Dbref, place: Dbref, title: &str) -> R {
    let mut seen = Vec::new();
    for id in ev.world.contents(place)? {
        if id == viewer {
            continue;
        }
        let Some(obj) = ev.world.object(id)? else {
            continue;
        };
        if obj.has_flag("DARK") || (obj.kind == Kind::Player && !obj.has_flag("CONNECTED")) {
            continue;
        }
        seen.push(id);
    }
    let list = dbref_list(&seen);
    if let Some(text) = formatted(ev, viewer, place, "CONFORMAT", &[list, title.to_string()])? {
        tell(ev, viewer, text);
        return Ok(());
    }
    if seen.is_empty() {
        return Ok(());
    }
    tell(ev, viewer, title.to_string());
    for id in seen {
        let line = super::attrs::unparse_for(ev, viewer, id)?;
        tell(ev, viewer, line);
    }
    Ok(())
}

/// A place's exits and its parents' that `viewer` may see (not DARK), by name; or the
/// place's `@exitformat`, run when it has any exits at all.
fn exits(ev: &mut Eval<'_>, viewer: Dbref, place: Dbref) -> R {
    let mut all = Vec::new();
    let mut level = place;
    for _ in 0..=PARENT_DEPTH {
        if level == NOTHING {
            break;
        }
        for id in ev.world.exits(level)? {
            if !all.contains(&id) {
                all.push(id);
            }
        }
        level = ev.world.object(level)?.map_or(NOTHING, |o| o.parent);
    }
    if all.is_empty() {
        return Ok(());
    }
    let mut shown = Vec::new();
    for id in all {
        if let Some(exit) = ev.world.object(id)?
            && !exit.has_flag("DARK")
        {
            shown.push(exit);
        }
    }
    let ids: Vec<Dbref> = shown.iter().map(|o| o.id).collect();
    if let Some(text) = formatted(ev, viewer, place, "EXITFORMAT", &[dbref_list(&ids)])? {
        tell(ev, viewer, text);
        return Ok(());
    }
    if shown.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = shown.iter().map(|o| display_name(o)).collect();
    tell(ev, viewer, "Obvious exits:".into());
    tell(ev, viewer, names.join("  "));
    Ok(())
}

/// `object`'s format attribute (its own or a parent's) evaluated as `object` for `viewer`
/// with `args`, on cleared registers that the look leaves as they were; `None` when it
/// has none.
fn formatted(
    ev: &mut Eval<'_>,
    viewer: Dbref,
    object: Dbref,
    attr: &str,
    args: &[String],
) -> R<Option<String>> {
    let Some(format) = inherited(ev, object, attr)? else {
        return Ok(None);
    };
    if format.value.is_empty() {
        return Ok(None);
    }
    let frame = Frame {
        executor: object,
        caller: viewer,
        enactor: viewer,
        args,
    };
    let saved = std::mem::take(&mut ev.regs);
    let text = ev.eval_top(&frame, &format.value);
    ev.regs = saved;
    text.map(Some)
}

fn dbref_list(ids: &[Dbref]) -> String {
    ids.iter()
        .map(|id| format!("#{id}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tell(ev: &mut Eval<'_>, to: Dbref, text: String) {
    ev.emits.push(Emit::To(to, text));
}
