//! Speech: `think`, `say`, `pose`, `@pemit`, `@emit`, `@remit`, `@oemit`, `page`,
//! `whisper`.

use super::{Command, Input, split_eq, tell};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{Reach, display_name, emit_each, emit_targets, oemit_each};

/// The speech family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "PAGE",
        aliases: &["P"],
        switches: &[],
        wizard: false,
        run: page,
    },
    Command {
        name: "WHISPER",
        aliases: &["W"],
        switches: &[],
        wizard: false,
        run: whisper,
    },
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
        switches: &["here", "room"],
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
    let name = match ev.world.object(frame.executor)? {
        Some(o) => display_name(&o).to_string(),
        None => String::new(),
    };
    let room = crate::functions::objects::room_of(ev, frame.executor)?;
    Ok((name, room))
}

/// In an AUDITORIUM room only those who pass its speech lock may speak (TinyMUX).
fn may_speak(ev: &mut Eval<'_>, frame: &Frame<'_>, room: i64) -> R<bool> {
    if !ev
        .world
        .object(room)?
        .is_some_and(|r| r.has_flag("AUDITORIUM"))
    {
        return Ok(true);
    }
    if crate::lock::passes(ev, frame.executor, room, "SPEECHLOCK")? {
        return Ok(true);
    }
    tell(ev, frame, "Sorry, you may not speak in this place.");
    Ok(false)
}

fn say(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let said = text(ev, frame, input, input.rest)?;
    let (name, room) = speaker(ev, frame)?;
    if !may_speak(ev, frame, room)? {
        return Ok(());
    }
    tell(ev, frame, format!("You say, \"{said}\""));
    ev.emits.push(Emit::Room {
        room,
        except: vec![frame.executor],
        text: format!("{name} says, \"{said}\""),
    });
    Ok(())
}

/// TinyMUX quirk kept for scripts: `:  text` (a space after the colon) poses without the
/// space, and `; text` keeps one.
fn leading_space(input: &Input<'_>) -> bool {
    input.raw_rest.starts_with(' ')
}

fn pose(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let posed = text(ev, frame, input, input.rest)?;
    let (name, room) = speaker(ev, frame)?;
    let nospace = input.prefix && leading_space(input);
    let line = if nospace || input.switches.iter().any(|s| s == "nospace") {
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
        text: format!(
            "{name}{}{posed}",
            if leading_space(input) { " " } else { "" }
        ),
    });
    Ok(())
}

fn pemit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        return Ok(());
    };
    let who = ev.eval_top(frame, left)?;
    let message = text(ev, frame, input, right)?;
    let names: Vec<&str> = if input.switches.iter().any(|s| s == "list") {
        who.split_whitespace().collect()
    } else {
        vec![who.trim()]
    };
    let contents = input.switches.iter().any(|s| s == "contents");
    let reach = if contents {
        Reach::Contents
    } else {
        Reach::Pemit
    };
    let targets = emit_targets(ev, frame.executor, &names, reach)?;
    emit_each(ev, frame.executor, targets, &message, contents)
}

fn emit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let message = text(ev, frame, input, input.rest)?;
    if message.is_empty() {
        return Ok(());
    }
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
        return Ok(());
    };
    let where_ = ev.eval_top(frame, left)?;
    let message = text(ev, frame, input, right)?;
    let targets = emit_targets(ev, frame.executor, &[where_.trim()], Reach::Contents)?;
    emit_each(ev, frame.executor, targets, &message, true)
}

fn oemit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        return Ok(());
    };
    let who = ev.eval_top(frame, left)?;
    let message = text(ev, frame, input, right)?;
    let targets = emit_targets(ev, frame.executor, &[who.trim()], Reach::Oemit)?;
    oemit_each(ev, frame.executor, targets, &message)
}

/// `page <player>=<message>` (`:` makes it a pose): to a connected player anywhere.
fn page(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let Some((name, message)) = addressed(ev, frame, input, "page")? else {
        return Ok(());
    };
    let name = name.trim().trim_start_matches('*');
    let target = if name.eq_ignore_ascii_case("me") {
        Some(frame.executor)
    } else {
        ev.world.player_named(name)?
    };
    let Some(target) = target else {
        tell(ev, frame, "I don't recognize that player.");
        return Ok(());
    };
    let Some(them) = ev.world.object(target)? else {
        tell(ev, frame, "I don't recognize that player.");
        return Ok(());
    };
    if !them.has_flag("CONNECTED") {
        tell(ev, frame, format!("{} is not connected.", them.name));
        return Ok(());
    }
    let (me_name, _) = speaker(ev, frame)?;
    let message = message.trim();
    let (to_them, to_me) = match message.strip_prefix(':') {
        Some(pose) => (
            format!("From afar, {me_name} {pose}"),
            format!("Long distance to {}: {me_name} {pose}", them.name),
        ),
        None => (
            format!("{me_name} pages: {message}"),
            format!("You paged {} with '{message}'.", them.name),
        ),
    };
    ev.emits.push(Emit::To(target, to_them));
    tell(ev, frame, to_me);
    Ok(())
}

/// `whisper <player>=<message>`: to a player in the same room, unheard by the others.
fn whisper(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let Some((name, message)) = addressed(ev, frame, input, "whisper")? else {
        return Ok(());
    };
    let here = crate::functions::objects::room_of(ev, frame.executor)?;
    let Some(target) = super::target(ev, frame, name.trim())? else {
        return Ok(());
    };
    let them = ev.world.object(target)?;
    let Some(them) = them.filter(|o| o.kind == crate::world::Kind::Player && o.location == here)
    else {
        tell(ev, frame, "I don't see that here.");
        return Ok(());
    };
    let (me_name, _) = speaker(ev, frame)?;
    let message = message.trim();
    ev.emits.push(Emit::To(
        target,
        format!("{me_name} whispers, \"{message}\""),
    ));
    tell(
        ev,
        frame,
        format!("You whisper \"{message}\" to {}.", them.name),
    );
    Ok(())
}

/// `<player>=<message>`, both evaluated; without `=`, the command's usage is told.
fn addressed(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    input: &Input<'_>,
    command: &str,
) -> R<Option<(String, String)>> {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        tell(ev, frame, format!("Usage: {command} <player>=<message>"));
        return Ok(None);
    };
    let name = ev.eval_top(frame, left)?;
    let message = ev.eval_top(frame, right)?;
    Ok(Some((name, message)))
}
