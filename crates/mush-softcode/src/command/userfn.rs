//! `@function`: defines, lists and deletes global user functions (see [`crate::userfn`]).

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Eval, Frame, R};
use crate::userfn::{MAX, UserFn, all, store};

/// The user-function family.
pub const COMMANDS: &[Command] = &[Command {
    name: "@FUNCTION",
    aliases: &[],
    switches: &["privileged", "list", "delete", "preserve"],
    wizard: true,
    run: function,
}];

/// Said where the game has no master room to keep definitions on.
const NO_MASTER_ROOM: &str = "This game has no master room to keep user functions on.";

fn function(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?.trim().to_ascii_uppercase();
    let has = |s: &str| input.switches.iter().any(|x| x == s);
    let mut fns = all(ev)?;
    if has("list") || name.is_empty() {
        tell(
            ev,
            frame,
            "Function Name                  DBref#    Attribute                      Flgs",
        );
        let rule = "----------------------------   --------  ------------------------------  -- ";
        tell(ev, frame, rule);
        for f in &fns {
            let flags = if f.privileged { "W-" } else { "--" };
            tell(
                ev,
                frame,
                format!("{:<28}   #{:<7}  {:<30}  {flags}", f.name, f.object, f.attr),
            );
        }
        tell(ev, frame, rule);
        tell(
            ev,
            frame,
            format!("Total User-Defined Functions: {}", fns.len()),
        );
        return Ok(());
    }
    if has("delete") {
        let before = fns.len();
        fns.retain(|f| f.name != name);
        if fns.len() == before {
            tell(ev, frame, "Function not found.");
        } else {
            if store(ev, &fns)? {
                tell(ev, frame, format!("Function {name} deleted."));
            } else {
                tell(ev, frame, NO_MASTER_ROOM);
            }
        }
        return Ok(());
    }
    if crate::functions::lookup(&name).is_some() {
        tell(
            ev,
            frame,
            "Function already defined in builtin function table.",
        );
        return Ok(());
    }
    let spec = ev.eval_top(frame, right.unwrap_or(""))?;
    let Some((obj, attr)) = spec.split_once('/') else {
        tell(ev, frame, "No such attribute.");
        return Ok(());
    };
    let Some(object) = target(ev, frame, obj)? else {
        return Ok(());
    };
    let attr = crate::functions::objects::canonical(&attr.trim().to_ascii_uppercase());
    if crate::functions::objects::inherited(ev, object, &attr)?.is_none() {
        tell(ev, frame, "No such attribute.");
        return Ok(());
    }
    let def = UserFn {
        name: name.clone(),
        object,
        attr,
        privileged: has("privileged"),
    };
    match fns.iter_mut().find(|f| f.name == name) {
        Some(slot) => *slot = def,
        None => {
            if fns.len() >= MAX {
                tell(ev, frame, "Too many user functions.");
                return Ok(());
            }
            fns.push(def);
        }
    }
    if store(ev, &fns)? {
        tell(ev, frame, format!("Function {name} defined."));
    } else {
        tell(ev, frame, NO_MASTER_ROOM);
    }
    Ok(())
}
