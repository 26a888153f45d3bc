//! User-named attributes and their access flags (`@attribute/access FOO=wizard`): TinyMUX
//! 2.12 keeps one definition per attribute name, and its flags apply to that attribute on
//! every object at once (`wizard`: only wizards set it anywhere; `hidden`: only wizards
//! read it). They are not copied onto the objects: `examine` shows only the flags set on
//! the copy itself, as TinyMUX's does.
//!
//! The definitions are world data, one attribute ([`ATTR`]) on the master room, one line
//! per name, as [`crate::userfn`] keeps `@function`: every game pod must apply the same
//! flags (an attribute set through one pod must be refused by all), so they cannot live
//! in a pod's memory, and a change is one object's write, atomic like any other.
//!
//! Where this differs from TinyMUX, on purpose: TinyMUX makes a definition the first
//! time any object gets an attribute of that name and numbers its attributes, so
//! `@attribute` knows which names exist and `/rename` and `/delete` reach every object's
//! copy. Here attributes are stored by name and no write of an attribute touches the
//! master room (that would make one object every pod writes, for every new name): every
//! valid name that is not built in counts as a user-named attribute, a definition is
//! written only when its flags differ from the default, and `/rename` and `/delete` move
//! or drop the definition (its flags) while the objects' values stay where they are.

use std::rc::Rc;

use crate::eval::{Eval, R};
use crate::world::{Attr, AttrFlags};

/// The master room attribute holding the definitions.
pub const ATTR: &str = "USERATTRIBUTES";

/// Access flags of a definition (TinyMUX's `AF_*` bits that `@attribute/access` sets).
pub mod flag {
    /// No one may set it, not even God.
    pub const CONST: u32 = 1;
    /// Only God reads it.
    pub const DARK: u32 = 2;
    /// Marked deleted (no effect of its own).
    pub const DELETED: u32 = 4;
    /// Only God sets it.
    pub const GOD: u32 = 8;
    /// Only wizards (and royalty) read it.
    pub const HIDDEN: u32 = 16;
    /// Not matched by attribute-setting commands (no effect here).
    pub const IGNORE: u32 = 32;
    /// No one reads or sets it.
    pub const INTERNAL: u32 = 64;
    /// Its values are locks.
    pub const IS_LOCK: u32 = 128;
    /// Only God sets it.
    pub const LOCKED: u32 = 256;
    /// Its `$` and `^` patterns are not commands.
    pub const NO_COMMAND: u32 = 512;
    /// Children do not inherit it.
    pub const NO_INHERIT: u32 = 1024;
    /// TinyMUX's default for new names (no effect of its own).
    pub const PRIVATE: u32 = 2048;
    /// Its command patterns are regular expressions (TinyMUX's matcher reads the copy's
    /// flag only, so no effect here either).
    pub const REGEXP: u32 = 4096;
    /// Anyone reads it.
    pub const VISUAL: u32 = 8192;
    /// Only wizards set it.
    pub const WIZARD: u32 = 16384;
}

/// The flag names `@attribute/access` takes, in TinyMUX's table order, with the fewest
/// letters that name each (`w` is wizard; `d` names nothing: dark and deleted need two).
pub const NAMES: &[(&str, usize, u32)] = &[
    ("const", 1, flag::CONST),
    ("dark", 2, flag::DARK),
    ("deleted", 2, flag::DELETED),
    ("god", 1, flag::GOD),
    ("hidden", 1, flag::HIDDEN),
    ("ignore", 2, flag::IGNORE),
    ("internal", 2, flag::INTERNAL),
    ("is_lock", 4, flag::IS_LOCK),
    ("locked", 1, flag::LOCKED),
    ("no_command", 4, flag::NO_COMMAND),
    ("no_inherit", 4, flag::NO_INHERIT),
    ("private", 1, flag::PRIVATE),
    ("regexp", 1, flag::REGEXP),
    ("visual", 1, flag::VISUAL),
    ("wizard", 1, flag::WIZARD),
];

/// The flags a name has until `@attribute/access` changes them.
pub const DEFAULT: u32 = flag::PRIVATE;

/// The bit a flag name (any case) stands for.
pub fn by_name(word: &str) -> Option<u32> {
    let lower = word.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(name, min, _)| lower.len() >= *min && name.starts_with(lower.as_str()))
        .map(|(_, _, bit)| *bit)
}

/// Flag names of a set of bits, space-separated, in table order.
pub fn names_of(bits: u32) -> String {
    NAMES
        .iter()
        .filter(|(_, _, bit)| bits & bit != 0)
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The bits of a space-separated list of flag names (unknown names are skipped).
fn bits_of(text: &str) -> u32 {
    text.split_whitespace()
        .filter_map(by_name)
        .fold(0, |acc, bit| acc | bit)
}

/// The attribute flags of one copy, as definition bits (so both can be tested at once).
pub fn of_copy(flags: AttrFlags) -> u32 {
    [
        (AttrFlags::VISUAL, flag::VISUAL),
        (AttrFlags::HIDDEN, flag::HIDDEN),
        (AttrFlags::WIZARD, flag::WIZARD),
        (AttrFlags::NO_COMMAND, flag::NO_COMMAND),
        (AttrFlags::NO_INHERIT, flag::NO_INHERIT),
        (AttrFlags::REGEXP, flag::REGEXP),
    ]
    .iter()
    .filter(|(copy, _)| flags.has(*copy))
    .fold(0, |acc, (_, bit)| acc | bit)
}

/// TinyMUX's built-in attribute names (and the aliases this crate stores them under),
/// upper case: these are not user-named, so `@attribute` refuses them.
#[rustfmt::skip]
const BUILTIN: &[&str] = &[
    "AAHEAR", "ACLONE", "ACONNECT", "ACREATE", "ADESC", "ADESCRIBE", "ADESTROY", "ADFAIL",
    "ADISCONNECT", "ADROP", "AEFAIL", "AENTER", "AFAIL", "AGFAIL", "AHEAR", "AKILL", "ALEAVE",
    "ALFAIL", "ALIAS", "ALLOWANCE", "AMAIL", "AMHEAR", "AMOVE", "APARENT", "APAY", "ARFAIL",
    "ASUCC", "ASUCCESS", "ATFAIL", "ATPORT", "ATOFAIL", "AUFAIL", "AUSE", "AWAY", "CHARGES",
    "CMDCHECK", "COMJOIN", "COMLEAVE", "COMMENT", "COMOFF", "COMON", "CONFORMAT", "COST",
    "CREATED", "DAILY", "DESC", "DESCRIBE", "DEFAULTLOCK", "DESCFORMAT", "DESTROYER", "DFAIL",
    "DROP", "DROPLOCK", "EALIAS", "EFAIL", "ENTER", "ENTERLOCK", "EXITFORMAT", "EXITTO", "FAIL",
    "FILTER", "FORWARDLIST", "GETFROMLOCK", "GFAIL", "GIVELOCK", "IDESC", "IDESCRIBE", "IDLE",
    "IDLETIMEOUT", "INFILTER", "INPREFIX", "KILL", "LALIAS", "LAST", "LASTPAGE", "LASTSITE",
    "LASTIP", "LEAVE", "LEAVELOCK", "LFAIL", "LINKLOCK", "LISTEN", "LOGINDATA", "MAILCURF",
    "MAILFLAGS", "MAILFOLDERS", "MAILLOCK", "MAILMSG", "MAILSUB", "MAILSUCC", "MAILTO", "MFAIL",
    "MODIFIED", "MONIKER", "MOVE", "NAME", "NAMEFORMAT", "NEWOBJS", "ODESC", "ODESCRIBE",
    "ODFAIL", "ODROP", "OEFAIL", "OENTER", "OFAIL", "OGFAIL", "OKILL", "OLEAVE", "OLFAIL",
    "OMOVE", "OPAY", "OPENLOCK", "ORFAIL", "OSUCC", "OSUCCESS", "OTFAIL", "OTPORT", "OTOFAIL",
    "OUFAIL", "OUSE", "OXENTER", "OXLEAVE", "OXTPORT", "PAGELOCK", "PARENTLOCK", "PAY",
    "PREFIX", "PROGCMD", "QUEUEMAX", "QUOTA", "RECEIVELOCK", "REJECT", "RFAIL", "RQUOTA",
    "RUNOUT", "SAYSTRING", "SEMAPHORE", "SEX", "SIGNATURE", "SPEECHMOD", "SPEECHLOCK",
    "STARTUP", "SUCC", "SUCCESS", "TELOUTLOCK", "TFAIL", "TIMEOUT", "TPORT", "TPORTLOCK",
    "TOFAIL", "UFAIL", "USE", "USELOCK", "USERLOCK", "VISIBLELOCK", "VA", "VB", "VC", "VD",
    "VE", "VF", "VG", "VH", "VI", "VJ", "VK", "VL", "VM", "VN", "VO", "VP", "VQ", "VR", "VS",
    "VT", "VU", "VV", "VW", "VX", "VY", "VZ", "VRML_URL", "HTDESC", "REASON", "REGINFO",
    "CONNINFO", "RLEVEL", "COLOR", "ALEAD", "LEAD", "OLEAD", "ADEATH", "AFAILURE", "APAYMENT",
    "DEATH", "FAILURE", "FORWARD", "ODEATH", "OFAILURE", "OPAYMENT", "PAYMENT", "SPEECHFORMAT",
];

/// True for a built-in attribute name (upper case).
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.contains(&name)
}

/// The stored form of a user-named attribute (upper case), or `None` when `text` is no
/// valid attribute name or a built-in one.
pub fn user_named(text: &str) -> Option<String> {
    let name = text.trim().to_ascii_uppercase();
    (crate::functions::objects::valid_attr_name(&name) && !is_builtin(&name)).then_some(name)
}

/// Every definition whose flags are not the default, in the order first written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    /// Name (upper case) and flags.
    pub defs: Vec<(String, u32)>,
}

impl Registry {
    /// The flags of a name.
    pub fn flags(&self, name: &str) -> u32 {
        self.defs
            .iter()
            .find(|(n, _)| n == name)
            .map_or(DEFAULT, |(_, bits)| *bits)
    }

    /// True when the name has a definition of its own.
    pub fn has(&self, name: &str) -> bool {
        self.defs.iter().any(|(n, _)| n == name)
    }

    /// Sets the flags of a name (the default drops its line).
    pub fn set(&mut self, name: &str, bits: u32) {
        match self.defs.iter().position(|(n, _)| n == name) {
            Some(i) if bits == DEFAULT => {
                self.defs.remove(i);
            }
            Some(i) => self.defs[i].1 = bits,
            None if bits == DEFAULT => {}
            None => self.defs.push((name.to_string(), bits)),
        }
    }

    /// Drops the definition of a name.
    pub fn remove(&mut self, name: &str) {
        self.defs.retain(|(n, _)| n != name);
    }

    /// Reads the stored text: `NAME<TAB>flag names` per line (bad lines are skipped).
    pub fn parse(text: &str) -> Self {
        let defs = text
            .split('\n')
            .filter_map(|line| {
                let (name, flags) = line.split_once('\t')?;
                let name = name.trim();
                (!name.is_empty()).then(|| (name.to_string(), bits_of(flags)))
            })
            .collect();
        Self { defs }
    }

    /// The stored text.
    pub fn unparse(&self) -> String {
        self.defs
            .iter()
            .map(|(name, bits)| format!("{name}\t{}", names_of(*bits)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Every definition (read once per evaluation: checks of attribute access ask often).
pub fn registry(ev: &mut Eval<'_>) -> R<Rc<Registry>> {
    if let Some(cached) = &ev.attr_defs {
        return Ok(Rc::clone(cached));
    }
    let master = ev.limits.master_room;
    let registry = if crate::userfn::is_room(ev, master)? {
        match ev.world.attr(master, ATTR)? {
            Some(stored) => Registry::parse(&stored.value),
            None => Registry::default(),
        }
    } else {
        Registry::default()
    };
    let registry = Rc::new(registry);
    ev.attr_defs = Some(Rc::clone(&registry));
    Ok(registry)
}

/// The flags of a user-named attribute (built-in names have none here).
pub fn flags_of(ev: &mut Eval<'_>, name: &str) -> R<u32> {
    if is_builtin(name) {
        return Ok(0);
    }
    Ok(registry(ev)?.flags(name))
}

/// The flags of an attribute copy together with its name's: what TinyMUX tests when it
/// decides whether one may read, set, inherit or run it.
pub fn combined(ev: &mut Eval<'_>, name: &str, copy: AttrFlags) -> R<u32> {
    Ok(flags_of(ev, name)? | of_copy(copy))
}

/// Stores every definition; `false` when the game has no master room to keep them on.
pub fn store(ev: &mut Eval<'_>, registry: Registry) -> R<bool> {
    let master = ev.limits.master_room;
    if !crate::userfn::is_room(ev, master)? {
        return Ok(false);
    }
    let owner = ev.world.object(master)?.map_or(1, |o| o.owner);
    let text = registry.unparse();
    let value = (!text.is_empty()).then_some(Attr {
        value: text,
        owner,
        flags: AttrFlags(AttrFlags::WIZARD | AttrFlags::HIDDEN | AttrFlags::NO_COMMAND),
    });
    ev.world.set_attr(master, ATTR, value)?;
    ev.attr_defs = Some(Rc::new(registry));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_need_their_shortest_prefix() {
        assert_eq!(by_name("w"), Some(flag::WIZARD));
        assert_eq!(by_name("WIZ"), Some(flag::WIZARD));
        assert_eq!(by_name("d"), None);
        assert_eq!(by_name("da"), Some(flag::DARK));
        assert_eq!(by_name("no_"), None);
        assert_eq!(by_name("no_i"), Some(flag::NO_INHERIT));
        assert_eq!(by_name("wizards"), None);
    }

    #[test]
    fn registry_round_trips_and_drops_defaults() {
        let mut r = Registry::default();
        r.set("FOO", DEFAULT | flag::WIZARD | flag::HIDDEN);
        r.set("BAR", DEFAULT);
        assert_eq!(r.defs.len(), 1);
        let back = Registry::parse(&r.unparse());
        assert_eq!(back, r);
        assert_eq!(back.flags("FOO"), DEFAULT | flag::WIZARD | flag::HIDDEN);
        assert_eq!(back.flags("BAR"), DEFAULT);
        let mut r = back;
        r.set("FOO", DEFAULT);
        assert!(r.defs.is_empty());
    }

    #[test]
    fn user_names_exclude_builtins_and_bad_names() {
        assert_eq!(user_named("foo"), Some("FOO".into()));
        assert_eq!(user_named("desc"), None);
        assert_eq!(user_named("DefaultLock"), None);
        assert_eq!(user_named("1BAD"), None);
        assert_eq!(user_named(""), None);
    }
}
