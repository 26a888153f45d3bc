//! `@attribute[/access|/rename|/delete] name[=value]`: God's user-named attribute
//! registry (see [`crate::attrdef`]), with TinyMUX 2.12's replies. Without a switch it
//! only checks the name, as TinyMUX's does.

use super::{Command, Input, split_eq, tell};
use crate::attrdef::{self, by_name, is_builtin, user_named};
use crate::eval::{Eval, Frame, R};
use crate::functions::objects::valid_attr_name;
use crate::powers::GOD;

/// The attribute registry family.
pub const COMMANDS: &[Command] = &[Command {
    name: "@ATTRIBUTE",
    aliases: &[],
    switches: &["access", "delete", "rename"],
    wizard: false,
    run: attribute,
}];

/// Said where the game has no master room to keep definitions on.
const NO_MASTER_ROOM: &str = "This game has no master room to keep attribute definitions on.";

fn attribute(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    // TinyMUX's CA_GOD: not even other wizards.
    if frame.executor != GOD {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    if input.switches.len() > 1 {
        tell(ev, frame, "Illegal combination of switches.");
        return Ok(());
    }
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    let value = match right {
        Some(r) => ev.eval_top(frame, r)?,
        None => String::new(),
    };
    let Some(name) = user_named(&name) else {
        tell(ev, frame, "No such user-named attribute.");
        return Ok(());
    };
    let switch = input.switches.first().map(String::as_str);
    let mut registry = (*attrdef::registry(ev)?).clone();
    let stored = match switch.map(|s| s.chars().next()) {
        Some(Some('a')) => {
            let mut bits = registry.flags(&name);
            let mut changed = false;
            for word in value.to_ascii_uppercase().split_whitespace() {
                let (clear, word) = match word.strip_prefix('!') {
                    Some(w) => (true, w),
                    None => (false, word),
                };
                match by_name(word) {
                    Some(bit) if clear => {
                        bits &= !bit;
                        changed = true;
                    }
                    Some(bit) => {
                        bits |= bit;
                        changed = true;
                    }
                    None => tell(ev, frame, format!("Unknown permission: {word}.")),
                }
            }
            if !changed {
                return Ok(());
            }
            registry.set(&name, bits);
            let quiet = ev
                .world
                .object(frame.executor)?
                .is_some_and(|o| o.has_flag("QUIET"));
            let stored = attrdef::store(ev, registry)?;
            if stored && !quiet {
                tell(ev, frame, "Attribute access changed.");
            }
            stored
        }
        Some(Some('r')) => {
            let new = value.trim().to_ascii_uppercase();
            if is_builtin(&new) || registry.has(&new) {
                tell(ev, frame, "An attribute with that name already exists.");
                return Ok(());
            }
            if !valid_attr_name(&new) {
                tell(ev, frame, "Attribute rename failed.");
                return Ok(());
            }
            let bits = registry.flags(&name);
            registry.remove(&name);
            registry.set(&new, bits);
            let stored = attrdef::store(ev, registry)?;
            if stored {
                tell(ev, frame, "Attribute renamed.");
            }
            stored
        }
        Some(Some('d')) => {
            registry.remove(&name);
            let stored = attrdef::store(ev, registry)?;
            if stored {
                tell(ev, frame, "Attribute deleted.");
            }
            stored
        }
        _ => true,
    };
    if !stored {
        tell(ev, frame, NO_MASTER_ROOM);
    }
    Ok(())
}
