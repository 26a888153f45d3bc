//! Attributes in bulk: `@cpattr`, `@mvattr`, `@wipe` and `@edit`.

use super::queue::split_args;
use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{can_read, canonical, controls, resolve, set_attr};
use crate::world::Dbref;

/// The bulk attribute family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@CPATTR",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: cpattr,
    },
    Command {
        name: "@MVATTR",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: mvattr,
    },
    Command {
        name: "@WIPE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: wipe,
    },
    Command {
        name: "@EDIT",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: edit,
    },
];

fn upper(name: &str) -> String {
    canonical(&name.trim().to_ascii_uppercase())
}

/// Writes one attribute as the executor, telling `prefix` and `done` (or why not).
fn put(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    obj: Dbref,
    name: &str,
    value: &str,
    prefix: &str,
    done: &str,
) -> R {
    if !controls(ev, frame.executor, obj)? {
        tell(ev, frame, format!("{prefix}Permission denied."));
        return Ok(());
    }
    match set_attr(ev, frame.executor, obj, name, value)? {
        Ok(()) => tell(ev, frame, format!("{prefix}{done}")),
        Err(e) => tell(ev, frame, format!("{prefix}{e}")),
    }
    Ok(())
}

fn cpattr(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(right) = right else {
        return Ok(());
    };
    let source = ev.eval_top(frame, left)?;
    let found = match source.split_once('/') {
        Some((obj, attr)) => match resolve(ev, frame.executor, obj)? {
            Ok(id) => {
                let name = upper(attr);
                match crate::functions::objects::inherited(ev, id, &name)? {
                    Some(a) if can_read(ev, frame.executor, id, &name, &a)? => {
                        Some((name, a.value))
                    }
                    _ => None,
                }
            }
            Err(_) => None,
        },
        None => None,
    };
    let Some((name, value)) = found else {
        tell(ev, frame, "No match.");
        return Ok(());
    };
    for dest in split_args(right) {
        let dest = ev.eval_top(frame, &dest)?;
        let (obj, attr) = match dest.split_once('/') {
            Some((o, a)) => (o.to_string(), upper(a)),
            None => (dest.clone(), name.clone()),
        };
        let Some(id) = target(ev, frame, &obj)? else {
            continue;
        };
        put(ev, frame, id, &attr, &value, "", "Set.")?;
    }
    Ok(())
}

fn mvattr(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let obj = ev.eval_top(frame, left)?;
    let Some(id) = target(ev, frame, &obj)? else {
        return Ok(());
    };
    let names: Vec<String> = split_args(right.unwrap_or(""))
        .into_iter()
        .map(|n| upper(&n))
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() < 2 {
        tell(ev, frame, "Nothing to do.");
        return Ok(());
    }
    let source = ev.world.attr(id, &names[0])?;
    let value = source.as_ref().map(|a| a.value.clone()).unwrap_or_default();
    for dest in &names[1..] {
        put(ev, frame, id, dest, &value, &format!("{dest}: "), "Set.")?;
    }
    if source.is_some() {
        put(
            ev,
            frame,
            id,
            &names[0],
            "",
            &format!("{}: ", names[0]),
            "Cleared.",
        )?;
    }
    Ok(())
}

fn wipe(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let text = ev.eval_top(frame, input.rest)?;
    let (obj, pattern) = match text.split_once('/') {
        Some((o, p)) => (o.to_string(), Some(p.trim().to_ascii_uppercase())),
        None => (text.clone(), None),
    };
    let Ok(id) = resolve(ev, frame.executor, &obj)? else {
        tell(ev, frame, "No match.");
        return Ok(());
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let mut wiped = 0;
    for name in ev.world.attr_names(id)? {
        if pattern
            .as_deref()
            .is_some_and(|p| !crate::wild::matches(p, &name))
        {
            continue;
        }
        if set_attr(ev, frame.executor, id, &name, "")?.is_ok() {
            wiped += 1;
        }
    }
    if wiped == 0 && pattern.is_some() {
        tell(ev, frame, "No matching attributes.");
    } else {
        tell(ev, frame, "Wiped.");
    }
    Ok(())
}

fn edit(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let args = right.map(split_args).unwrap_or_default();
    let (from, to) = match args.as_slice() {
        [from, to, ..] if !from.is_empty() => (from.clone(), to.clone()),
        [from] if !from.is_empty() => (from.clone(), String::new()),
        _ => {
            tell(ev, frame, "Nothing to do.");
            return Ok(());
        }
    };
    let spec = ev.eval_top(frame, left)?;
    let Some((obj, pattern)) = spec.split_once('/') else {
        tell(ev, frame, "No match.");
        return Ok(());
    };
    let Ok(id) = resolve(ev, frame.executor, obj)? else {
        tell(ev, frame, "No match.");
        return Ok(());
    };
    let pattern = pattern.trim().to_ascii_uppercase();
    let mut any = false;
    for name in ev.world.attr_names(id)? {
        if !crate::wild::matches(&pattern, &name) {
            continue;
        }
        let Some(attr) = ev.world.attr(id, &name)? else {
            continue;
        };
        if !can_read(ev, frame.executor, id, &name, &attr)? {
            continue;
        }
        any = true;
        let value = match from.as_str() {
            "^" => format!("{to}{}", attr.value),
            "$" => format!("{}{to}", attr.value),
            _ => attr.value.replace(from.as_str(), &to),
        };
        match set_attr(ev, frame.executor, id, &name, &value)? {
            Ok(()) => tell(ev, frame, format!("Set - {name}: {value}")),
            Err(e) => tell(ev, frame, e),
        }
    }
    if !any {
        tell(ev, frame, "No matching attributes.");
    }
    Ok(())
}
