//! `@lock` and `@unlock`: a key parsed from the setter's view and stored, objects as
//! `(#n)`, in the lock attribute the switch names (see [`crate::lock`]); `obj/attr` instead
//! locks or unlocks one attribute against changes by others.

use super::{Command, Input, found, split_eq, target, tell};
use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{controls, owner_of, resolve};
use crate::lock::{DEFAULT_LOCK, Key, KeyError, lock_attr};
use crate::world::{Attr, AttrFlags};

/// The lock family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@LOCK",
        aliases: &[],
        switches: SWITCHES,
        wizard: false,
        run: lock,
    },
    Command {
        name: "@UNLOCK",
        aliases: &[],
        switches: SWITCHES,
        wizard: false,
        run: unlock,
    },
];

const SWITCHES: &[&str] = &[
    "defaultlock",
    "droplock",
    "enterlock",
    "getfromlock",
    "givelock",
    "leavelock",
    "linklock",
    "maillock",
    "openlock",
    "pagelock",
    "parentlock",
    "receivelock",
    "speechlock",
    "teloutlock",
    "tportlock",
    "uselock",
    "userlock",
    "visiblelock",
];

/// The lock attribute the typed switch names (the default lock without one).
fn which(input: &Input<'_>) -> String {
    input
        .switches
        .first()
        .and_then(|s| lock_attr(s))
        .unwrap_or_else(|| DEFAULT_LOCK.to_string())
}

/// `@lock obj/attr` and `@unlock obj/attr`: the attribute's own lock flag.
fn attribute_lock(ev: &mut Eval<'_>, frame: &Frame<'_>, obj: &str, attr: &str, on: bool) -> R {
    let Some(thing) = target(ev, frame, obj)? else {
        return Ok(());
    };
    let name = crate::functions::objects::canonical(&attr.trim().to_ascii_uppercase());
    let Some(mut found) = ev.world.attr(thing, &name)? else {
        tell(ev, frame, "Attribute not present on object.");
        return Ok(());
    };
    let wizard = crate::functions::objects::is_wizard(ev, frame.executor)?;
    if !wizard && found.owner != owner_of(ev, frame.executor)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    if on {
        found.flags.0 |= AttrFlags::LOCKED;
    } else {
        found.flags.0 &= !AttrFlags::LOCKED;
    }
    ev.world.set_attr(thing, &name, Some(found))?;
    tell(
        ev,
        frame,
        if on {
            "Attribute locked."
        } else {
            "Attribute unlocked."
        },
    );
    Ok(())
}

fn lock(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    if let Some((obj, attr)) = name.split_once('/') {
        return attribute_lock(ev, frame, obj, attr, true);
    }
    let lookup = resolve(ev, frame.executor, &name)?;
    let ambiguous = "I don't know which one you want to lock!";
    let Some(thing) = found(
        ev,
        frame,
        lookup,
        ambiguous,
        "I don't see what you want to lock!",
    ) else {
        return Ok(());
    };
    if !controls(ev, frame.executor, thing)? {
        tell(ev, frame, "You can't lock that!");
        return Ok(());
    }
    let text = match right {
        Some(r) => ev.eval_top(frame, r)?,
        None => String::new(),
    };
    let key = match Key::parse(ev, frame.executor, &text)? {
        Ok(key) => key,
        Err(error) => {
            match error {
                KeyError::NoMatch(name) => tell(ev, frame, format!("I don't see {name} here.")),
                KeyError::Ambiguous(name) => {
                    tell(ev, frame, format!("I don't know which {name} you mean!"))
                }
                KeyError::Syntax => {}
            }
            tell(ev, frame, "I don't understand that key.");
            return Ok(());
        }
    };
    let owner = owner_of(ev, frame.executor)?;
    ev.world.set_attr(
        thing,
        &which(input),
        Some(Attr {
            value: key.unparse(),
            owner,
            flags: AttrFlags::default(),
        }),
    )?;
    tell(ev, frame, "Locked.");
    Ok(())
}

fn unlock(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, _) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    if let Some((obj, attr)) = name.split_once('/') {
        return attribute_lock(ev, frame, obj, attr, false);
    }
    let Some(thing) = target(ev, frame, &name)? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, thing)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    ev.world.set_attr(thing, &which(input), None)?;
    tell(ev, frame, "Unlocked.");
    Ok(())
}
