//! Speech: `think`, `say`, `pose`, `@pemit`, `@emit`, `@remit`, `@oemit`.

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{display_name, may_pemit};
use crate::world::Kind;

/// The speech family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "THINK",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: think,
    },
    Command {
        name: "SAY",
        aliases: &[],
        switches: &["noeval"],
        wizard: false,
        run: say,
    },
    Command {
        name: "POSE",
        aliases: &[],
        switches: &["nospace", "noeval"],
        wizard: false,
        run: pose,
    },
    Command {
        name: "SEMIPOSE",
        aliases: &[],
        switches: &["noeval"],
        wizard: false,
        run: semipose,
    },
    Command {
        name: "@PEMIT",
        aliases: &[],
        switches: &["list", "contents", "object", "silent", "noeval"],
        wizard: false,
        run: pemit,
    },
    Command {
        name: "@EMIT",
        aliases: &[],
        switches: &["here", "room", "noeval"],
        wizard: false,
        run: emit,
    },
    Command {
        name: "@REMIT",
        aliases: &[],
        switches: &["noeval"],
        wizard: false,
        run: remit,
    },
    Command {
        name: "@OEMIT",
        aliases: &[],
        switches: &["noeval"],
        wizard: false,
        run: oemit,
    },
];

fn text(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>, raw: &str) -> R<String> {
    if input.switches.iter().any(|s| s == "noeval") {
        Ok(raw.to_string())
    } else {
        ev.eval_top(frame, raw)
    }
}

fn think(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let out = ev.eval_top(frame, input.rest)?;
    if !out.is_empty() {
        tell(ev, frame, out);
    }
    Ok(())
}

/// The executor's name and room.
fn speaker(ev: &mut Eval<'_>, frame: &Frame<'_>) -> R<(String, i64)> {
    let me = ev.world.object(frame.executor)?;
    Ok(match me {
        Some(o) => (
            display_name(&o).to_string(),
            if o.kind == Kind::Room {
                o.id
            } else {
                o.location
            },
        ),
        None => (String::new(), crate::world::NOTHING),
    })
}

fn say(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let said = text(ev, frame, input, input.rest)?;
    let (name, room) = speaker(ev, frame)?;
    tell(ev, frame, format!("You say, \"{said}\""));
    ev.emits.push(Emit::Room {
        room,
        except: vec![frame.executor],
        text: format!("{name} says, \"{said}\""),
    });
    Ok(())
}

fn pose(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let posed = text(ev, frame, input, input.rest)?;
    let (name, room) = speaker(ev, frame)?;
    let line = if input.switches.iter().any(|s| s == "nospace") {
        format!("{name}{posed}")
    } else {
        format!("{name} {posed}")
    };
    ev.emits.push(Emit::Room {
        room,
        except: Vec::new(),
        text: line,
    });
    Ok(())
}

fn semipose(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let posed = text(ev, frame, input, input.rest)?;
    let (name, room) = speaker(ev, frame)?;
    ev.emits.push(Emit::Room {
        room,
        except: Vec::new(),
        text: format!("{name}{posed}"),
    });
    Ok(())
}

fn pemit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        tell(ev, frame, "Huh?  (Type \"help\" for help.)");
        return Ok(());
    };
    let who = ev.eval_top(frame, left)?;
    let message = text(ev, frame, input, right)?;
    let list = input.switches.iter().any(|s| s == "list");
    let names: Vec<String> = if list {
        who.split_whitespace().map(str::to_string).collect()
    } else {
        vec![who]
    };
    for name in names {
        let Some(id) = target(ev, frame, &name)? else {
            continue;
        };
        if !may_pemit(ev, frame.executor, id)? {
            tell(ev, frame, "Permission denied.");
            continue;
        }
        if input.switches.iter().any(|s| s == "contents") {
            ev.emits.push(Emit::Room {
                room: id,
                except: Vec::new(),
                text: message.clone(),
            });
        } else {
            ev.emits.push(Emit::To(id, message.clone()));
        }
    }
    Ok(())
}

fn emit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let message = text(ev, frame, input, input.rest)?;
    let (_, room) = speaker(ev, frame)?;
    ev.emits.push(Emit::Room {
        room,
        except: Vec::new(),
        text: message,
    });
    Ok(())
}

fn remit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        tell(ev, frame, "Huh?  (Type \"help\" for help.)");
        return Ok(());
    };
    let where_ = ev.eval_top(frame, left)?;
    let message = text(ev, frame, input, right)?;
    if let Some(room) = target(ev, frame, &where_)? {
        ev.emits.push(Emit::Room {
            room,
            except: Vec::new(),
            text: message,
        });
    }
    Ok(())
}

fn oemit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        tell(ev, frame, "Huh?  (Type \"help\" for help.)");
        return Ok(());
    };
    let who = ev.eval_top(frame, left)?;
    let message = text(ev, frame, input, right)?;
    if let Some(id) = target(ev, frame, &who)? {
        let room = ev
            .world
            .object(id)?
            .map(|o| o.location)
            .unwrap_or(crate::world::NOTHING);
        ev.emits.push(Emit::Room {
            room,
            except: vec![id],
            text: message,
        });
    }
    Ok(())
}
