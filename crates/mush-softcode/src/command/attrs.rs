//! Attributes: `&attr obj=value`, `@set`, `@describe` and friends, `examine`.

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Eval, Frame, R, dbref};
use crate::functions::objects::{FLAG_LETTERS, controls, display_name, set_attr, set_thing};
use crate::world::{Dbref, Kind};

/// The attribute family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@SET",
        aliases: &[],
        switches: &["quiet"],
        wizard: false,
        run: set,
    },
    Command {
        name: "@DESCRIBE",
        aliases: &["@DESC"],
        switches: &[],
        wizard: false,
        run: describe,
    },
    Command {
        name: "@SUCCESS",
        aliases: &["@SUCC"],
        switches: &[],
        wizard: false,
        run: describe,
    },
    Command {
        name: "@OSUCCESS",
        aliases: &["@OSUCC"],
        switches: &[],
        wizard: false,
        run: describe,
    },
    Command {
        name: "@FAIL",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: describe,
    },
    Command {
        name: "@OFAIL",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: describe,
    },
    Command {
        name: "@SEX",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: describe,
    },
    Command {
        name: "EXAMINE",
        aliases: &["EX", "EXA"],
        switches: &["brief", "full", "parent"],
        wizard: false,
        run: examine,
    },
];

/// The attribute an `@attr obj=value` command sets.
fn attr_of(command: &str) -> &'static str {
    match command {
        "@DESCRIBE" => "DESCRIBE",
        "@SUCCESS" => "SUCCESS",
        "@OSUCCESS" => "OSUCCESS",
        "@FAIL" => "FAIL",
        "@OFAIL" => "OFAIL",
        "@SEX" => "SEX",
        _ => "DESCRIBE",
    }
}

/// `&ATTR obj=value`: stored unevaluated; an empty value clears it.
pub fn ampersand(ev: &mut Eval<'_>, frame: &Frame<'_>, rest: &str) -> R {
    let (name, rest) = match rest.find(' ') {
        Some(i) => (&rest[..i], rest[i + 1..].trim_start()),
        None => (rest, ""),
    };
    let (obj, value) = split_eq(rest);
    let obj = ev.eval_top(frame, obj)?;
    write(
        ev,
        frame,
        obj.trim(),
        &name.to_ascii_uppercase(),
        value.unwrap_or(""),
    )
}

fn write(ev: &mut Eval<'_>, frame: &Frame<'_>, obj: &str, name: &str, value: &str) -> R {
    let Some(id) = target(ev, frame, obj)? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    match set_attr(ev, frame.executor, id, name, value)? {
        Ok(()) => tell(
            ev,
            frame,
            if value.is_empty() { "Cleared." } else { "Set." },
        ),
        Err(e) => tell(ev, frame, e),
    }
    Ok(())
}

fn set(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        tell(ev, frame, "Set what?");
        return Ok(());
    };
    let left = ev.eval_top(frame, left)?;
    // `attr:value` is stored as typed; a flag name is evaluated.
    let what = if right.contains(':') {
        right.to_string()
    } else {
        ev.eval_top(frame, right)?
    };
    match set_thing(ev, frame, left.trim(), &what)? {
        Ok(reply) => {
            if !input.switches.iter().any(|s| s == "quiet") {
                tell(ev, frame, reply);
            }
        }
        Err(e) => tell(ev, frame, e),
    }
    Ok(())
}

fn describe(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let obj = ev.eval_top(frame, left)?;
    write(
        ev,
        frame,
        obj.trim(),
        attr_of(input.name),
        right.unwrap_or(""),
    )
}

/// `Name(#12flags)` as TinyMUX shows an object to someone who may examine it.
pub fn unparse(ev: &mut Eval<'_>, id: Dbref) -> R<String> {
    let Some(obj) = ev.world.object(id)? else {
        return Ok(match id {
            -1 => "*NOTHING*".into(),
            -3 => "*HOME*".into(),
            _ => format!("*GARBAGE*({})", dbref(id)),
        });
    };
    let mut letters = match obj.kind {
        Kind::Room => "R",
        Kind::Exit => "E",
        Kind::Player => "P",
        Kind::Thing => "",
    }
    .to_string();
    for (flag, letter) in FLAG_LETTERS {
        if obj.has_flag(flag) {
            letters.push(*letter);
        }
    }
    Ok(format!("{}(#{}{letters})", display_name(&obj), obj.id))
}

fn examine(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let text = ev.eval_top(frame, input.rest)?;
    let text = if text.trim().is_empty() {
        "here".to_string()
    } else {
        text
    };
    let (obj_text, pattern) = match text.split_once('/') {
        Some((o, p)) => (o.to_string(), Some(p.trim().to_ascii_uppercase())),
        None => (text.clone(), None),
    };
    let Some(id) = target(ev, frame, &obj_text)? else {
        return Ok(());
    };
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    let mine = controls(ev, frame.executor, id)?;
    if pattern.is_none() {
        let head = unparse(ev, id)?;
        tell(ev, frame, head);
        if !mine {
            let owner = ev.name_of(obj.owner)?;
            tell(ev, frame, format!("Owned by {owner}"));
            return Ok(());
        }
        let flags: Vec<&str> = FLAG_LETTERS
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| obj.has_flag(f))
            .collect();
        tell(
            ev,
            frame,
            format!("Type: {} Flags: {}", obj.kind.name(), flags.join(" ")),
        );
        let owner = ev.name_of(obj.owner)?;
        tell(
            ev,
            frame,
            format!("Owner: {owner}  Key: *UNLOCKED* Pennies: 0"),
        );
    }
    let pattern = pattern.unwrap_or_else(|| "*".to_string());
    for name in ev.world.attr_names(id)? {
        if !crate::wild::matches(&pattern, &name) {
            continue;
        }
        let Some(attr) = ev.world.attr(id, &name)? else {
            continue;
        };
        let letters = attr.flags.letters();
        let line = if attr.owner != obj.owner || !letters.is_empty() {
            let mut tag = String::new();
            if attr.owner != obj.owner {
                tag.push_str(&dbref(attr.owner));
            }
            if !letters.is_empty() {
                if !tag.is_empty() {
                    tag.push(' ');
                }
                tag.push_str(&letters);
            }
            format!("{name} [{tag}]: {}", attr.value)
        } else {
            format!("{name}: {}", attr.value)
        };
        tell(ev, frame, line);
    }
    Ok(())
}
