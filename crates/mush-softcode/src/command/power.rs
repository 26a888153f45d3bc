//! `@power obj=[!]power ...`: sets and clears powers (see [`crate::powers`]), with
//! TinyMUX 2.12's replies: `Set.`/`Cleared.` per power, `I don't understand that power.`,
//! and `Permission denied.` for a power its executor may not hand out (wizards set
//! powers; `control_all` and `guest` are God's).

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{controls, is_wizard};
use crate::powers::{GOD, Setter, lookup};
use crate::world::Change;

/// The power family.
pub const COMMANDS: &[Command] = &[Command {
    name: "@POWER",
    aliases: &[],
    switches: &["quiet"],
    wizard: false,
    run: power,
}];

/// `@power`'s arguments are taken as typed, from the prompt and from the queue alike
/// (TinyMUX gives the command no evaluation).
fn power(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let Some(list) = right.filter(|r| !r.is_empty()) else {
        tell(ev, frame, "I don't know what you want to set!");
        return Ok(());
    };
    let Some(id) = target(ev, frame, left.trim())? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let quiet = input.switches.iter().any(|s| s == "quiet")
        || ev
            .world
            .object(frame.executor)?
            .is_some_and(|o| o.has_flag("QUIET"));
    for (clear, word) in tokens(list.trim_end()) {
        if word.is_empty() {
            let what = if clear { "clear" } else { "set" };
            tell(ev, frame, format!("You must specify a power to {what}."));
            continue;
        }
        let Some((name, setter)) = lookup(word) else {
            tell(ev, frame, "I don't understand that power.");
            continue;
        };
        let allowed = match setter {
            Setter::Wizard => is_wizard(ev, frame.executor)?,
            Setter::God => frame.executor == GOD,
        };
        if !allowed {
            tell(ev, frame, "Permission denied.");
            continue;
        }
        ev.world
            .change(id, Change::Power(name.to_ascii_uppercase(), !clear))?;
        if !quiet {
            tell(ev, frame, if clear { "Cleared." } else { "Set." });
        }
    }
    Ok(())
}

/// The powers of a list as TinyMUX's `power_set` reads them: words apart, each maybe
/// after `!` (spaces allowed between), a `!` alone naming no power.
fn tokens(list: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.trim_start();
        let clear = rest.starts_with('!');
        if clear {
            rest = rest[1..].trim_start();
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push((clear, &rest[..end]));
        if end == rest.len() {
            return out;
        }
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::tokens;

    #[test]
    fn power_lists_split_as_tinymux_reads_them() {
        assert_eq!(tokens("see_all"), vec![(false, "see_all")]);
        assert_eq!(
            tokens("see_all !boot"),
            vec![(false, "see_all"), (true, "boot")]
        );
        assert_eq!(tokens("  !  boot"), vec![(true, "boot")]);
        assert_eq!(tokens("!"), vec![(true, "")]);
        assert_eq!(tokens("a  b"), vec![(false, "a"), (false, "b")]);
        assert_eq!(tokens("a "), vec![(false, "a"), (false, "")]);
    }
}
