//! Moving things and people, behind their locks and with their messages: `get`, `drop`,
//! `give`, `enter`, `leave`, `use`, and going through an exit by its name. Each success or
//! failure shows the thing's message attribute to the mover (or TinyMUX's default), its
//! `O`-message to the others in the room, and queues its `A`-action, as TinyMUX's
//! `did_it` does.

use super::{Command, Input, split_eq, tell};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{controls, inherited, resolve};
use crate::lock::passes;
use crate::queue::{Job, QueueOp, Wait};
use crate::world::{Change, Dbref, Kind, NOTHING};

/// The movement family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "GET",
        aliases: &["TAKE"],
        switches: &[],
        wizard: false,
        run: get,
    },
    Command {
        name: "DROP",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: drop,
    },
    Command {
        name: "GIVE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: give,
    },
    Command {
        name: "ENTER",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: enter,
    },
    Command {
        name: "LEAVE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: leave,
    },
    Command {
        name: "USE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: use_thing,
    },
    Command {
        name: "INVENTORY",
        aliases: &["I", "INV"],
        switches: &[],
        wizard: false,
        run: inventory,
    },
    Command {
        name: "HOME",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: home,
    },
    Command {
        name: "GO",
        aliases: &["MOVE", "GOTO"],
        switches: &[],
        wizard: false,
        run: go,
    },
];

/// One message family: the attribute the mover sees (with its default), the one the room
/// sees after the mover's name, and the action queued.
pub(super) struct Family {
    pub(super) what: &'static str,
    pub(super) default: Option<&'static str>,
    pub(super) owhat: &'static str,
    pub(super) awhat: &'static str,
}

/// TinyMUX's `did_it`: tells `player` the message (or the default), the others in the
/// player's room the `O`-message, and queues the action on `thing`.
pub(super) fn did_it(ev: &mut Eval<'_>, player: Dbref, thing: Dbref, f: &Family) -> R {
    let inner = Frame {
        executor: thing,
        caller: player,
        enactor: player,
        args: &[],
    };
    match inherited(ev, thing, f.what)? {
        Some(attr) if !attr.value.is_empty() => {
            let text = ev.eval_top(&inner, &attr.value)?;
            ev.emits.push(Emit::To(player, text));
        }
        _ => {
            if let Some(default) = f.default {
                ev.emits.push(Emit::To(player, default.to_string()));
            }
        }
    }
    if let Some(attr) = inherited(ev, thing, f.owhat)?
        && !attr.value.is_empty()
    {
        let text = ev.eval_top(&inner, &attr.value)?;
        let name = ev.name_of(player)?;
        let room = ev.world.object(player)?.map_or(NOTHING, |o| o.location);
        ev.emits.push(Emit::Room {
            room,
            except: vec![player],
            text: format!("{name} {text}"),
        });
    }
    if let Some(attr) = inherited(ev, thing, f.awhat)?
        && !attr.value.is_empty()
    {
        let job = Job::new(ev, thing, player, player, &attr.value, Vec::new())?;
        ev.queue.push(QueueOp::Add {
            job,
            wait: Wait::Now,
        });
    }
    Ok(())
}

/// Moves `who` to `to`: the room left hears it leave, the room reached hears it arrive.
fn move_to(ev: &mut Eval<'_>, who: Dbref, to: Dbref) -> R {
    let from = ev.world.object(who)?.map_or(NOTHING, |o| o.location);
    let name = ev.name_of(who)?;
    ev.emits.push(Emit::Room {
        room: from,
        except: vec![who],
        text: format!("{name} has left."),
    });
    ev.world.change(who, Change::Location(to))?;
    ev.emits.push(Emit::Room {
        room: to,
        except: vec![who],
        text: format!("{name} has arrived."),
    });
    Ok(())
}

/// Something near the executor by name, or "I don't see that here.".
fn near(ev: &mut Eval<'_>, frame: &Frame<'_>, text: &str) -> R<Option<Dbref>> {
    let text = ev.eval_top(frame, text)?;
    super::target_within_reach(ev, frame, &text)
}

fn get(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let Some(thing) = near(ev, frame, input.rest)? else {
        return Ok(());
    };
    let me = frame.executor;
    let Some(obj) = ev.world.object(thing)? else {
        return Ok(());
    };
    if obj.location == me {
        tell(ev, frame, "You already have that!");
        return Ok(());
    }
    if matches!(obj.kind, Kind::Room | Kind::Exit) || thing == me {
        tell(ev, frame, "You can't pick that up.");
        return Ok(());
    }
    let family = |ok: bool| {
        if ok {
            Family {
                what: "SUCCESS",
                default: Some("Taken."),
                owhat: "OSUCCESS",
                awhat: "ASUCCESS",
            }
        } else {
            Family {
                what: "FAIL",
                default: Some("You can't pick that up."),
                owhat: "OFAIL",
                awhat: "AFAIL",
            }
        }
    };
    if !passes(ev, me, thing, crate::lock::DEFAULT_LOCK)? {
        return did_it(ev, me, thing, &family(false));
    }
    // The place it leaves hears it go (not the taker), and it is told, as TinyMUX's
    // move_via_generic and do_get do.
    left_from(ev, me, thing, obj.location)?;
    ev.world.change(thing, Change::Location(me))?;
    ev.emits.push(Emit::To(thing, "Taken.".to_string()));
    did_it(ev, me, thing, &family(true))
}

/// "Name has left." to those in the place `thing` leaves but it and the one moving it,
/// unless it or the place is DARK.
fn left_from(ev: &mut Eval<'_>, mover: Dbref, thing: Dbref, from: Dbref) -> R {
    let dark = ev.world.object(thing)?.is_some_and(|o| o.has_flag("DARK"))
        || ev.world.object(from)?.is_some_and(|o| o.has_flag("DARK"));
    if from != NOTHING && !dark {
        let name = ev.name_of(thing)?;
        ev.emits.push(Emit::Room {
            room: from,
            except: vec![thing, mover],
            text: format!("{name} has left."),
        });
    }
    Ok(())
}

fn drop(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    let text = ev.eval_top(frame, input.rest)?;
    let thing = match resolve(ev, me, &text)? {
        Ok(id) if ev.world.object(id)?.is_some_and(|o| o.location == me) => id,
        _ => {
            tell(ev, frame, "You don't have that!");
            return Ok(());
        }
    };
    if !passes(ev, me, thing, "DROPLOCK")? {
        return did_it(
            ev,
            me,
            thing,
            &Family {
                what: "DFAIL",
                default: Some("You can't drop that."),
                owhat: "ODFAIL",
                awhat: "ADFAIL",
            },
        );
    }
    let here = ev.world.object(me)?.map_or(NOTHING, |o| o.location);
    ev.world.change(thing, Change::Location(here))?;
    ev.emits.push(Emit::To(thing, "Dropped.".to_string()));
    did_it(
        ev,
        me,
        thing,
        &Family {
            what: "DROP",
            default: Some("Dropped."),
            owhat: "ODROP",
            awhat: "ADROP",
        },
    )?;
    // Without an @odrop the others hear TinyMUX's default, "<name> dropped <thing>.".
    if inherited(ev, thing, "ODROP")?.is_none_or(|a| a.value.is_empty()) {
        let (who, what) = (ev.name_of(me)?, ev.name_of(thing)?);
        ev.emits.push(Emit::Room {
            room: here,
            except: vec![me],
            text: format!("{who} dropped {what}."),
        });
    }
    Ok(())
}

fn give(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    let (left, right) = split_eq(input.rest);
    let Some(to) = near(ev, frame, left)? else {
        return Ok(());
    };
    let what = ev.eval_top(frame, right.unwrap_or(""))?;
    let thing = match resolve(ev, me, &what)? {
        Ok(id) if ev.world.object(id)?.is_some_and(|o| o.location == me) => id,
        _ => {
            tell(ev, frame, "You don't have that!");
            return Ok(());
        }
    };
    let thing_name = ev.name_of(thing)?;
    let to_name = ev.name_of(to)?;
    if !passes(ev, me, thing, "GIVELOCK")? {
        tell(ev, frame, format!("You can't give {thing_name} away."));
        return Ok(());
    }
    if !passes(ev, thing, to, "RECEIVELOCK")? {
        tell(ev, frame, format!("{to_name} doesn't want {thing_name}."));
        return Ok(());
    }
    ev.world.change(thing, Change::Location(to))?;
    let my_name = ev.name_of(me)?;
    ev.emits
        .push(Emit::To(to, format!("{my_name} gave you {thing_name}.")));
    tell(ev, frame, "Given.");
    Ok(())
}

fn enter(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    let Some(thing) = near(ev, frame, input.rest)? else {
        return Ok(());
    };
    let Some(obj) = ev.world.object(thing)? else {
        return Ok(());
    };
    let open = obj.has_flag("ENTER_OK") || controls(ev, me, thing)?;
    if obj.kind == Kind::Exit || obj.kind == Kind::Room || thing == me {
        tell(ev, frame, "You can't enter that.");
        return Ok(());
    }
    if !open || !passes(ev, me, thing, "ENTERLOCK")? {
        return did_it(
            ev,
            me,
            thing,
            &Family {
                what: "EFAIL",
                default: Some("You can't enter that."),
                owhat: "OEFAIL",
                awhat: "AEFAIL",
            },
        );
    }
    move_to(ev, me, thing)?;
    did_it(
        ev,
        me,
        thing,
        &Family {
            what: "ENTER",
            default: None,
            owhat: "OENTER",
            awhat: "AENTER",
        },
    )?;
    super::look::look_in(ev, frame, thing)
}

fn leave(ev: &mut Eval<'_>, frame: &Frame<'_>, _: &Input<'_>) -> R {
    let me = frame.executor;
    let Some(inside) = ev.world.object(me)?.map(|o| o.location) else {
        return Ok(());
    };
    let Some(container) = ev.world.object(inside)? else {
        return Ok(());
    };
    if container.kind == Kind::Room {
        tell(ev, frame, "You can't leave.");
        return Ok(());
    }
    if !passes(ev, me, inside, "LEAVELOCK")? {
        return did_it(
            ev,
            me,
            inside,
            &Family {
                what: "LFAIL",
                default: Some("You can't leave."),
                owhat: "OLFAIL",
                awhat: "ALFAIL",
            },
        );
    }
    let to = container.location;
    move_to(ev, me, to)?;
    did_it(
        ev,
        me,
        inside,
        &Family {
            what: "LEAVE",
            default: None,
            owhat: "OLEAVE",
            awhat: "ALEAVE",
        },
    )?;
    super::look::look_in(ev, frame, to)
}

fn use_thing(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    let Some(thing) = near(ev, frame, input.rest)? else {
        return Ok(());
    };
    if !passes(ev, me, thing, "USELOCK")? {
        return did_it(
            ev,
            me,
            thing,
            &Family {
                what: "UFAIL",
                default: Some("You can't figure out how to use that."),
                owhat: "OUFAIL",
                awhat: "AUFAIL",
            },
        );
    }
    did_it(
        ev,
        me,
        thing,
        &Family {
            what: "USE",
            default: Some("Used."),
            owhat: "OUSE",
            awhat: "AUSE",
        },
    )
}

/// Goes through the exit of the executor's room named by `line`, if there is one (TinyMUX
/// tries exits before built-in commands); false when no exit has that name.
pub fn through_exit(ev: &mut Eval<'_>, frame: &Frame<'_>, line: &str) -> R<bool> {
    let me = frame.executor;
    let Some(here) = ev.world.object(me)?.map(|o| o.location) else {
        return Ok(false);
    };
    if here == NOTHING {
        return Ok(false);
    }
    let wanted = line.trim().to_lowercase();
    let mut exit = None;
    for id in ev.world.exits(here)? {
        if let Some(obj) = ev.world.object(id)?
            && obj
                .name
                .split(';')
                .any(|alias| alias.trim().to_lowercase() == wanted)
        {
            exit = Some(obj);
            break;
        }
    }
    let Some(exit) = exit else {
        return Ok(false);
    };
    let dest = exit.link;
    if dest == NOTHING || !passes(ev, me, exit.id, crate::lock::DEFAULT_LOCK)? {
        did_it(
            ev,
            me,
            exit.id,
            &Family {
                what: "FAIL",
                default: Some("You can't go that way."),
                owhat: "OFAIL",
                awhat: "AFAIL",
            },
        )?;
        return Ok(true);
    }
    did_it(
        ev,
        me,
        exit.id,
        &Family {
            what: "SUCCESS",
            default: None,
            owhat: "OSUCCESS",
            awhat: "ASUCCESS",
        },
    )?;
    move_to(ev, me, dest)?;
    super::look::look_in(ev, frame, dest)?;
    Ok(true)
}

fn inventory(ev: &mut Eval<'_>, frame: &Frame<'_>, _: &Input<'_>) -> R {
    let me = frame.executor;
    let carried = ev.world.contents(me)?;
    if carried.is_empty() {
        tell(ev, frame, "You aren't carrying anything.");
        return Ok(());
    }
    tell(ev, frame, "You are carrying:");
    for id in carried {
        let line = super::attrs::unparse_for(ev, me, id)?;
        tell(ev, frame, line);
    }
    Ok(())
}

fn home(ev: &mut Eval<'_>, frame: &Frame<'_>, _: &Input<'_>) -> R {
    let me = frame.executor;
    let Some(object) = ev.world.object(me)? else {
        return Ok(());
    };
    let home = object.link;
    if object.kind != Kind::Player && object.kind != Kind::Thing || ev.world.object(home)?.is_none()
    {
        tell(ev, frame, "You have no home to go to.");
        return Ok(());
    }
    for _ in 0..3 {
        tell(ev, frame, "There's no place like home...");
    }
    if object.location != home {
        move_to(ev, me, home)?;
    }
    super::look::look_in(ev, frame, home)
}

fn go(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let direction = ev.eval_top(frame, input.rest)?;
    if direction.trim().eq_ignore_ascii_case("home") {
        return home(ev, frame, input);
    }
    if !through_exit(ev, frame, &direction)? {
        tell(ev, frame, "You can't go that way.");
    }
    Ok(())
}
