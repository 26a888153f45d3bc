//! Powers: TinyMUX 2.12's per-object privileges (`@power obj=see_all`), each a slice of
//! what a wizard may do, and the checks that consult them.
//!
//! A power belongs to the object it is set on: unlike a flag it is never borrowed from
//! the owner, so a player's `see_all` does nothing for its things (TinyMUX reads
//! `Powers(x)` of the object itself). Each check below is a TinyMUX macro of `powers.h`
//! or `flags.h` and is true for the power's holder or for wizards (some also royalty),
//! as TinyMUX has it; `pass_locks`, `guest` and `find_unfindable` are the power alone.

use crate::eval::{Eval, R};
use crate::functions::objects::{is_wizard, owner_of};
use crate::world::Dbref;

/// Who may set or clear a power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setter {
    /// Any wizard.
    Wizard,
    /// Only God (#1).
    God,
}

/// TinyMUX's power table, in its order (the order `examine`, `powers()` and
/// `@decompile` list them): the name and who may set it.
pub const POWERS: &[(&str, Setter)] = &[
    ("announce", Setter::Wizard),
    ("boot", Setter::Wizard),
    ("builder", Setter::Wizard),
    ("chown_anything", Setter::Wizard),
    ("comm_all", Setter::Wizard),
    ("control_all", Setter::God),
    ("expanded_who", Setter::Wizard),
    ("find_unfindable", Setter::Wizard),
    ("free_money", Setter::Wizard),
    ("free_quota", Setter::Wizard),
    ("guest", Setter::God),
    ("halt", Setter::Wizard),
    ("hide", Setter::Wizard),
    ("idle", Setter::Wizard),
    ("long_fingers", Setter::Wizard),
    ("monitor", Setter::Wizard),
    ("no_destroy", Setter::Wizard),
    ("pass_locks", Setter::Wizard),
    ("poll", Setter::Wizard),
    ("prog", Setter::Wizard),
    ("quota", Setter::Wizard),
    ("search", Setter::Wizard),
    ("see_all", Setter::Wizard),
    ("see_hidden", Setter::Wizard),
    ("see_queue", Setter::Wizard),
    ("siteadmin", Setter::Wizard),
    ("stat_any", Setter::Wizard),
    ("steal_money", Setter::Wizard),
    ("tel_anything", Setter::Wizard),
    ("tel_anywhere", Setter::Wizard),
    ("unkillable", Setter::Wizard),
];

/// God: the one object every check lets through.
pub const GOD: Dbref = 1;

/// The table entry of a power name (any case, whole name only: TinyMUX matches powers
/// exactly, `see` is no power).
pub fn lookup(name: &str) -> Option<(&'static str, Setter)> {
    let lower = name.trim().to_ascii_lowercase();
    POWERS.iter().find(|(n, _)| *n == lower).copied()
}

/// The powers of an object as TinyMUX lists them: table order, lower case.
pub fn listed(powers: &[String]) -> Vec<&'static str> {
    POWERS
        .iter()
        .filter(|(name, _)| powers.iter().any(|p| p.eq_ignore_ascii_case(name)))
        .map(|(name, _)| *name)
        .collect()
}

/// True when the object itself holds the power (`name` lower case, as in [`POWERS`]).
pub fn holds(ev: &mut Eval<'_>, who: Dbref, name: &str) -> R<bool> {
    Ok(ev
        .world
        .object(who)?
        .is_some_and(|o| o.powers.iter().any(|p| p.eq_ignore_ascii_case(name))))
}

/// TinyMUX's `Royalty(x)`: the flag on the object, or on an owner it inherits from.
pub fn royalty(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    let Some(obj) = ev.world.object(who)? else {
        return Ok(false);
    };
    if obj.has_flag("ROYALTY") {
        return Ok(true);
    }
    Ok(obj.has_flag("INHERIT")
        && ev
            .world
            .object(obj.owner)?
            .is_some_and(|o| o.has_flag("ROYALTY")))
}

/// TinyMUX's `WizRoy(x)`: a wizard or royalty.
pub fn wiz_roy(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    Ok(is_wizard(ev, who)? || royalty(ev, who)?)
}

fn or_wizard(ev: &mut Eval<'_>, who: Dbref, power: &str) -> R<bool> {
    Ok(holds(ev, who, power)? || is_wizard(ev, who)?)
}

fn or_wiz_roy(ev: &mut Eval<'_>, who: Dbref, power: &str) -> R<bool> {
    Ok(holds(ev, who, power)? || wiz_roy(ev, who)?)
}

/// `Control_All`: controls everything but God.
pub fn control_all(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "control_all")
}

/// `See_All`: examines and reads everything.
pub fn see_all(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wiz_roy(ev, who, "see_all")
}

/// `See_Queue`: `@ps/all`.
pub fn see_queue(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wiz_roy(ev, who, "see_queue")
}

/// `Can_Halt`: `@halt/all`, and `@halt` of what it does not control.
pub fn can_halt(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "halt")
}

/// `Can_Boot`: `@boot`.
pub fn can_boot(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "boot")
}

/// `Announce`: `@wall`.
pub fn announce(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "announce")
}

/// `Chown_Any`: `@chown` of what it neither controls nor carries, to anyone it controls.
pub fn chown_any(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "chown_anything")
}

/// `Search`: `@search` and `lsearch()` of other players' objects.
pub fn search(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wiz_roy(ev, who, "search")
}

/// `Long_Fingers`: looks at and takes things far away.
pub fn long_fingers(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "long_fingers")
}

/// `Tel_Anything`: `@tel` of what it does not control.
pub fn tel_anything(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wiz_roy(ev, who, "tel_anything")
}

/// `Tel_Anywhere`: `@tel` to places it does not control (and `tel_anything` grants it).
pub fn tel_anywhere(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    Ok(holds(ev, who, "tel_anywhere")? || tel_anything(ev, who)?)
}

/// `Can_Monitor`: sets MONITOR on players.
pub fn can_monitor(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "monitor")
}

/// `Can_Hide`: a player sets itself DARK.
pub fn can_hide(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wizard(ev, who, "hide")
}

/// `See_Hidden`: sees DARK players who may hide (wizards and royalty too).
pub fn see_hidden(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wiz_roy(ev, who, "see_hidden")
}

/// `Link_Anywhere`: links exits, drop-tos and homes to places it neither controls nor
/// finds LINK_OK (newer TinyMUX has a `link_anywhere` power; [`POWERS`], as 2.12 lists
/// them, does not, so in practice wizards and royalty).
pub fn link_anywhere(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    or_wiz_roy(ev, who, "link_anywhere")
}

/// `Pass_Locks`: every lock passes (the power alone; wizards still meet locks).
pub fn pass_locks(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    holds(ev, who, "pass_locks")
}

/// `Guest`: the commands TinyMUX marks `CA_NO_GUEST` say "Permission denied." (the
/// power alone; a wizard is never refused).
pub fn guest(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    Ok(holds(ev, who, "guest")? && !is_wizard(ev, who)?)
}

/// TinyMUX's `Examinable(p, x)`: `x` is VISUAL, `p` may see all, or both have one owner.
pub fn examinable(ev: &mut Eval<'_>, who: Dbref, what: Dbref) -> R<bool> {
    let Some(thing) = ev.world.object(what)? else {
        return Ok(false);
    };
    if thing.has_flag("VISUAL") || see_all(ev, who)? {
        return Ok(true);
    }
    Ok(owner_of(ev, who)? == owner_of(ev, what)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_exact_and_case_blind() {
        assert_eq!(lookup("SEE_ALL"), Some(("see_all", Setter::Wizard)));
        assert_eq!(lookup(" control_all "), Some(("control_all", Setter::God)));
        assert_eq!(lookup("see"), None);
        assert_eq!(lookup(""), None);
    }

    #[test]
    fn listed_in_table_order() {
        let powers = vec!["SEE_ALL".to_string(), "ANNOUNCE".into(), "BOGUS".into()];
        assert_eq!(listed(&powers), vec!["announce", "see_all"]);
    }
}
