//! Building: `@create`, `@dig`, `@tel`, `@parent`, `@chzone`, `@name`.

use super::links::LinkTo;
use super::{Command, Input, found, split_eq, target, tell};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{controls, owner_of, room_of};
use crate::world::{Change, Kind, Miss, NOTHING};

/// The building family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@CREATE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: create,
    },
    Command {
        name: "@DIG",
        aliases: &[],
        switches: &["teleport"],
        wizard: false,
        run: dig,
    },
    Command {
        name: "@TELEPORT",
        aliases: &["@TEL"],
        switches: &["quiet"],
        wizard: false,
        run: teleport,
    },
    Command {
        name: "@PARENT",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: parent,
    },
    Command {
        name: "@CHZONE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: chzone,
    },
    Command {
        name: "@NAME",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: name,
    },
];

fn new_object(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    kind: Kind,
    name: &str,
    location: i64,
) -> R<Option<i64>> {
    let owner = owner_of(ev, frame.executor)?;
    match ev.world.create(kind, name, owner, location) {
        Ok(id) => Ok(Some(id)),
        Err(Miss::Refused(why)) => {
            tell(ev, frame, format!("Sorry, {why}."));
            Ok(None)
        }
        Err(miss) => Err(miss),
    }
}

fn create(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, _) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    let name = name.trim();
    if name.is_empty() {
        tell(ev, frame, "Create what?");
        return Ok(());
    }
    if let Some(id) = new_object(ev, frame, Kind::Thing, name, frame.executor)? {
        // Its home is where it was made (TinyMUX: the creator's room).
        let room = room_of(ev, frame.executor)?;
        ev.world.change(id, Change::Link(room))?;
        tell(ev, frame, format!("{name} created as object #{id}"));
    }
    Ok(())
}

fn dig(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    let name = name.trim();
    if name.is_empty() {
        tell(ev, frame, "Dig what?");
        return Ok(());
    }
    if let Some(id) = new_object(ev, frame, Kind::Room, name, NOTHING)? {
        tell(ev, frame, format!("{name} created as room #{id}."));
        // `=to[,back]`: an exit from here to the new room, and one back.
        if let Some(right) = right {
            let right = ev.eval_top(frame, right)?;
            let (to, back) = match right.split_once(',') {
                Some((t, b)) => (t.trim().to_string(), b.trim().to_string()),
                None => (right.trim().to_string(), String::new()),
            };
            // TinyMUX's do_dig: each exit only where the digger may open one, linked
            // only where it may link (`@dig` in a room of someone else's makes the room
            // and refuses the exit).
            let here = ev
                .world
                .object(frame.executor)?
                .map_or(NOTHING, |o| o.location);
            if !to.is_empty() {
                super::links::open_exit(ev, frame, here, &to, Some(LinkTo::Id(id)))?;
            }
            if !back.is_empty() {
                super::links::open_exit(ev, frame, id, &back, Some(LinkTo::Id(here)))?;
            }
        }
        if input.switches.iter().any(|s| s == "teleport") {
            tel_move(ev, frame, frame.executor, id)?;
        }
    }
    Ok(())
}

/// `@tel [obj=]dest`, as TinyMUX's `do_teleport`: the executor must control what moves
/// or where it is (or have the `tel_anything` power), and control the destination, have
/// `tel_anywhere` (or `tel_anything`), or find it JUMP_OK with a tport lock that lets
/// the mover in.
fn teleport(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    let (left, right) = split_eq(input.rest);
    let (what, dest) = match right {
        Some(r) => (ev.eval_top(frame, left)?, ev.eval_top(frame, r)?),
        None => ("me".to_string(), ev.eval_top(frame, left)?),
    };
    let Some(id) = target(ev, frame, &what)? else {
        return Ok(());
    };
    let Some(victim) = ev.world.object(id)? else {
        return Ok(());
    };
    if victim.kind == Kind::Room || victim.kind == Kind::Exit {
        tell(ev, frame, "You can't teleport that.");
        return Ok(());
    }
    if !controls(ev, me, id)?
        && !controls(ev, me, victim.location)?
        && !crate::powers::tel_anything(ev, me)?
    {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let lookup = crate::functions::objects::resolve(ev, me, &dest)?;
    let Some(to) = found(
        ev,
        frame,
        lookup,
        "I don't know which destination you mean!",
        "No match.",
    ) else {
        return Ok(());
    };
    if id == to {
        tell(ev, frame, "Bad destination.");
        return Ok(());
    }
    let place = ev.world.object(to)?;
    let jump_ok = place
        .as_ref()
        .is_some_and(|p| p.kind != Kind::Exit && p.has_flag("JUMP_OK"));
    let allowed = controls(ev, me, to)?
        || crate::powers::tel_anywhere(ev, me)?
        || (jump_ok && crate::lock::passes(ev, id, to, "TPORTLOCK")?);
    if !allowed {
        if me != id {
            tell(ev, frame, "Permission denied.");
        }
        let failed = super::moves::Family {
            what: "TFAIL",
            default: Some("You can't teleport there!"),
            owhat: "OTFAIL",
            awhat: "ATFAIL",
        };
        return super::moves::did_it(ev, id, to, &failed);
    }
    tel_move(ev, frame, id, to)
}

/// Moves `id` to `to` as a teleport does (TinyMUX's `move_via_teleport`): those left
/// behind hear it leave, those there hear it arrive if it can hear, and the one moved
/// (a player) looks around; another mover is told "Teleported.".
pub(super) fn tel_move(ev: &mut Eval<'_>, frame: &Frame<'_>, id: i64, to: i64) -> R {
    let me = frame.executor;
    let Some(victim) = ev.world.object(id)? else {
        return Ok(());
    };
    let from = victim.location;
    if from != to {
        // Those left behind hear it (not the one who did it), and so does a container
        // that can hear, such as the player who was holding it.
        let name = ev.name_of(id)?;
        ev.emits.push(Emit::Room {
            room: from,
            except: vec![id],
            text: format!("{name} has left."),
        });
        if ev.world.object(from)?.is_some_and(|o| o.kind != Kind::Room) {
            ev.emits.push(Emit::To(from, format!("{name} has left.")));
        }
        ev.world.change(id, Change::Location(to))?;
        // Only what can hear is heard arriving (TinyMUX's process_enter_loc), by all
        // there, the one who sent it too.
        if super::attrs::can_hear(ev, id)? {
            ev.emits.push(Emit::Room {
                room: to,
                except: vec![id],
                text: format!("{name} has arrived."),
            });
        }
    }

    if id == me {
        super::look::look_in(ev, frame, to)?;
    } else {
        tell(ev, frame, "Teleported.");
        if victim.kind == Kind::Player {
            let inner = Frame {
                executor: id,
                caller: id,
                enactor: id,
                args: &[],
            };
            super::look::look_in(ev, &inner, to)?;
        }
    }
    Ok(())
}

/// `look` (the room) and `look <thing>` (its name and description). A game pod keeps its
/// own `look` for players; this one serves queued code and the in-memory world, where a
/// built-in `look` must win over a `$look` command, as in TinyMUX.
/// `obj=value` with `obj` something the executor controls (told otherwise) and `value`
/// evaluated.
fn controlled_and_value(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    input: &Input<'_>,
) -> R<Option<(i64, String)>> {
    let (left, right) = split_eq(input.rest);
    let obj = ev.eval_top(frame, left)?;
    let Some(id) = target(ev, frame, &obj)? else {
        return Ok(None);
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(None);
    }
    let value = ev.eval_top(frame, right.unwrap_or(""))?;
    Ok(Some((id, value)))
}

fn parent(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let Some((id, par)) = controlled_and_value(ev, frame, input)? else {
        return Ok(());
    };
    if par.trim().is_empty() {
        ev.world.change(id, Change::Parent(NOTHING))?;
        tell(ev, frame, "Parent cleared.");
        return Ok(());
    }
    let Some(pid) = target(ev, frame, &par)? else {
        return Ok(());
    };
    // A parent lends its attributes: only its controller, or anyone when it is PARENT_OK.
    let lends = ev
        .world
        .object(pid)?
        .is_some_and(|p| p.has_flag("PARENT_OK"));
    if !lends && !controls(ev, frame.executor, pid)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    // A parent chain must not loop back to the object.
    let mut cursor = pid;
    for _ in 0..=crate::functions::objects::PARENT_DEPTH {
        if cursor == id {
            tell(ev, frame, "You can't have yourself as a parent!");
            return Ok(());
        }
        match ev.world.object(cursor)? {
            Some(o) if o.parent != NOTHING => cursor = o.parent,
            _ => break,
        }
    }
    ev.world.change(id, Change::Parent(pid))?;
    tell(ev, frame, "Parent set.");
    Ok(())
}

fn chzone(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let Some((id, zone)) = controlled_and_value(ev, frame, input)? else {
        return Ok(());
    };
    if zone.trim().is_empty() || zone.trim().eq_ignore_ascii_case("none") {
        ev.world.change(id, Change::Zone(NOTHING))?;
        tell(ev, frame, "Zone changed.");
        return Ok(());
    }
    let Some(zid) = target(ev, frame, &zone)? else {
        return Ok(());
    };
    ev.world.change(id, Change::Zone(zid))?;
    tell(ev, frame, "Zone changed.");
    Ok(())
}

fn name(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let Some((id, new)) = controlled_and_value(ev, frame, input)? else {
        return Ok(());
    };
    let new = new.trim();
    if new.is_empty() {
        tell(ev, frame, "Give it what new name?");
        return Ok(());
    }
    ev.world.change(id, Change::Name(new.to_string()))?;
    // TinyMUX says nothing when the renamer or the renamed is QUIET.
    if !super::links::quiet(ev, frame.executor)? && !super::links::quiet(ev, id)? {
        tell(ev, frame, "Name set.");
    }
    Ok(())
}
