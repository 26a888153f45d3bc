//! What the evaluator knows of the world: a trait, so the evaluator has no I/O.
//!
//! A game pod implements it over its cache: a read of something not cached returns
//! [`Miss`], the pod fetches it and runs the command again (nothing the evaluator did is
//! visible before the command ends, so a re-run cannot show twice). The in-memory world
//! ([`crate::memory::MemoryWorld`]) answers everything at once and backs the table tests.

use std::sync::Arc;

/// An object number; `-1` is NOTHING, as in TinyMUX.
pub type Dbref = i64;

/// No object.
pub const NOTHING: Dbref = -1;

/// The four object types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A place.
    Room,
    /// A thing.
    Thing,
    /// An exit.
    Exit,
    /// A player.
    Player,
}

impl Kind {
    /// As `type()` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Room => "ROOM",
            Kind::Thing => "THING",
            Kind::Exit => "EXIT",
            Kind::Player => "PLAYER",
        }
    }
}

/// One object's header (everything but its attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its number.
    pub id: Dbref,
    /// Its type.
    pub kind: Kind,
    /// Its name (exits: all aliases, `;`-separated).
    pub name: String,
    /// Its owner.
    pub owner: Dbref,
    /// Where it is (an exit: its source room).
    pub location: Dbref,
    /// Home of a player or thing; drop-to of a room; destination of an exit.
    pub link: Dbref,
    /// Its parent, for inherited attributes.
    pub parent: Dbref,
    /// Its zone.
    pub zone: Dbref,
    /// Flag names, upper case.
    pub flags: Vec<String>,
    /// Power names, upper case.
    pub powers: Vec<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last change, Unix seconds.
    pub modified: i64,
}

impl Object {
    /// A new object as `create` makes it: no parent, zone, flags or powers, made at `now`.
    pub fn made(
        id: Dbref,
        kind: Kind,
        name: &str,
        owner: Dbref,
        location: Dbref,
        link: Dbref,
        now: i64,
    ) -> Self {
        Object {
            id,
            kind,
            name: name.to_string(),
            owner,
            location,
            link,
            parent: NOTHING,
            zone: NOTHING,
            flags: Vec::new(),
            powers: Vec::new(),
            created: now,
            modified: now,
        }
    }

    /// True when the object has the flag (upper-case name).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Attribute flags (TinyMUX's `AF_*` that softcode sees).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttrFlags(pub u32);

impl AttrFlags {
    /// `$` and `^` patterns on it are not commands.
    pub const NO_COMMAND: u32 = 1;
    /// Anyone may read it.
    pub const VISUAL: u32 = 2;
    /// Only wizards see it.
    pub const HIDDEN: u32 = 4;
    /// Only wizards change it.
    pub const WIZARD: u32 = 8;
    /// Children do not inherit it.
    pub const NO_INHERIT: u32 = 16;
    /// Its owner does not change when the object changes hands; only its owner changes it.
    pub const LOCKED: u32 = 32;
    /// Not evaluated by `u()` and friends.
    pub const NO_EVAL: u32 = 64;
    /// Shown unevaluated... kept for `examine`.
    pub const NO_PARSE: u32 = 128;
    /// Regular-expression command patterns.
    pub const REGEXP: u32 = 256;
    /// Case-sensitive command patterns.
    pub const CASE: u32 = 512;
    /// Names of the flags with their letters, as `examine` shows them.
    pub const NAMES: &'static [(u32, &'static str, char)] = &[
        (Self::NO_COMMAND, "no_command", '$'),
        (Self::NO_INHERIT, "no_inherit", 'I'),
        (Self::VISUAL, "visual", 'V'),
        (Self::HIDDEN, "hidden", 'M'),
        (Self::WIZARD, "wizard", 'W'),
        (Self::LOCKED, "locked", '+'),
        (Self::NO_EVAL, "no_eval", 'E'),
        (Self::NO_PARSE, "no_parse", 'P'),
        (Self::REGEXP, "regexp", 'R'),
        (Self::CASE, "case", 'C'),
    ];

    /// True when `bit` is set.
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// The bit of a flag name (`no_command`, ...), case-insensitive, unique prefixes allowed.
    pub fn by_name(name: &str) -> Option<u32> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return None;
        }
        Self::NAMES
            .iter()
            .find(|(_, n, _)| *n == name)
            .or_else(|| Self::NAMES.iter().find(|(_, n, _)| n.starts_with(&name)))
            .map(|(bit, _, _)| *bit)
    }

    /// The letters `examine` shows, in TinyMUX's order.
    pub fn letters(self) -> String {
        Self::NAMES
            .iter()
            .filter(|(bit, _, _)| self.has(*bit))
            .map(|(_, _, c)| *c)
            .collect()
    }
}

/// One attribute as stored on an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// The text, unevaluated.
    pub value: String,
    /// Who set it.
    pub owner: Dbref,
    /// Its flags.
    pub flags: AttrFlags,
}

/// A password on its way to be checked or set: never printed, not even in debug output.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A queued job as `@ps` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// The object that will run it.
    pub executor: Dbref,
    /// That object's owner when it was queued.
    pub owner: Dbref,
    /// Who caused it (`%#`).
    pub enactor: Dbref,
    /// The commands it will run.
    pub actions: String,
    /// `%0`-`%9`.
    pub args: Vec<String>,
    /// Milliseconds until it may run (0 or less: ready); `None`: only when its semaphore
    /// is notified.
    pub wait_ms: Option<i64>,
    /// The object whose semaphore it waits on.
    pub semaphore: Option<Dbref>,
}

/// The shard's queue as `@ps` sees it: the entries (a world may list only so many) in
/// the order they were queued, and how many there are of each kind in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueView {
    /// Entries, oldest first.
    pub entries: Vec<Queued>,
    /// Entries not waiting on a semaphore, in all.
    pub waiting: usize,
    /// Entries waiting on a semaphore, in all.
    pub semaphores: usize,
}

/// A connected player, as `lwho()`, `conn()`, `idle()` and `doing()` see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The player.
    pub player: Dbref,
    /// Seconds connected.
    pub connected_secs: i64,
    /// Seconds since the last command.
    pub idle_secs: i64,
    /// The `@doing` text.
    pub doing: String,
}

/// The world needs to fetch something before the evaluation can go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Miss {
    /// An object's header and attributes.
    #[error("object #{0} is not loaded")]
    Object(Dbref),
    /// The contents or exits of an object.
    #[error("the lists of #{0} are not loaded")]
    Lists(Dbref),
    /// A player name lookup.
    #[error("player name {0:?} is not loaded")]
    PlayerName(String),
    /// The list of connected players.
    #[error("connections are not loaded")]
    Connections,
    /// A search over the whole world (`lsearch`, `children`).
    #[error("search is not loaded")]
    Search(Box<Search>),
    /// The queue (`@ps`).
    #[error("the queue is not loaded")]
    Queue,
    /// A number for a new object (the world hands them out before the command creates).
    #[error("no object number is allocated")]
    NewObject,
    /// Whether a password is a player's (checking a hash takes the world's time).
    #[error("the password of #{0} is not checked")]
    Password(Dbref, Secret),
    /// The world could not take a write (quota, storage); the text says why.
    #[error("{0}")]
    Refused(String),
}

/// Which objects `lsearch()` and `children()` want.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Search {
    /// Only objects of this owner.
    pub owner: Option<Dbref>,
    /// Only objects of this type.
    pub kind: Option<Kind>,
    /// Only objects with this parent.
    pub parent: Option<Dbref>,
    /// Only objects in this zone.
    pub zone: Option<Dbref>,
    /// Only objects whose name matches this wildcard pattern.
    pub name: Option<String>,
    /// Only objects with this flag.
    pub flag: Option<String>,
    /// Object numbers in this range, inclusive.
    pub range: Option<(Dbref, Dbref)>,
}

impl Search {
    /// True when the object is one the search wants (both worlds answer searches with it).
    pub fn matches(&self, o: &Object) -> bool {
        self.owner.is_none_or(|x| o.owner == x)
            && self.kind.is_none_or(|x| o.kind == x)
            && self.parent.is_none_or(|x| o.parent == x)
            && self.zone.is_none_or(|x| o.zone == x)
            && self.flag.as_deref().is_none_or(|f| o.has_flag(f))
            && self
                .name
                .as_deref()
                .is_none_or(|p| crate::wild::matches(p, &o.name))
            && self.range.is_none_or(|(lo, hi)| o.id >= lo && o.id <= hi)
    }
}

/// A change to an object's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new name.
    Name(String),
    /// A new owner.
    Owner(Dbref),
    /// A new location (moves between contents lists).
    Location(Dbref),
    /// A new home, drop-to or destination.
    Link(Dbref),
    /// A new parent.
    Parent(Dbref),
    /// A new zone.
    Zone(Dbref),
    /// A flag set or cleared.
    Flag(String, bool),
    /// A power set or cleared.
    Power(String, bool),
}

/// The world as softcode reads and writes it.
///
/// Reads return [`Miss`] when the implementation must fetch first. Writes are seen at once
/// by later reads of the same command; an implementation applies them together when the
/// command ends.
pub trait World {
    /// An object's header; `None` if there is no such object.
    fn object(&self, id: Dbref) -> Result<Option<Arc<Object>>, Miss>;
    /// An attribute set on the object itself (no inheritance), by upper-case name.
    fn attr(&self, id: Dbref, name: &str) -> Result<Option<Attr>, Miss>;
    /// The names of the attributes set on the object, upper case, in creation order.
    fn attr_names(&self, id: Dbref) -> Result<Vec<String>, Miss>;
    /// What the object holds, in the order it arrived (latest first, as TinyMUX lists it).
    fn contents(&self, id: Dbref) -> Result<Vec<Dbref>, Miss>;
    /// The exits leaving a room, in TinyMUX's order.
    fn exits(&self, id: Dbref) -> Result<Vec<Dbref>, Miss>;
    /// A player by exact name (case-insensitive).
    fn player_named(&self, name: &str) -> Result<Option<Dbref>, Miss>;
    /// Connected players, most recently connected first.
    fn connections(&self) -> Result<Vec<Connection>, Miss>;
    /// The queue, as `@ps` lists it.
    fn queued(&self) -> Result<QueueView, Miss>;
    /// True if `password` is the player's.
    fn check_password(&self, id: Dbref, password: &str) -> Result<bool, Miss>;
    /// Sets a player's password (a world that keeps hashes hashes it).
    fn set_password(&mut self, id: Dbref, password: &str) -> Result<(), Miss>;
    /// Objects matching a search, in dbref order.
    fn search(&self, query: &Search) -> Result<Vec<Dbref>, Miss>;
    /// The highest dbref in use plus one.
    fn db_top(&self) -> Result<Dbref, Miss>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// A random number in `0..n` (`n > 0`).
    fn random(&mut self, n: u64) -> u64;
    /// Sets (`Some`) or clears (`None`) an attribute on the object itself.
    fn set_attr(&mut self, id: Dbref, name: &str, value: Option<Attr>) -> Result<(), Miss>;
    /// Changes an object's header.
    fn change(&mut self, id: Dbref, change: Change) -> Result<(), Miss>;
    /// Creates an object; returns its number.
    fn create(
        &mut self,
        kind: Kind,
        name: &str,
        owner: Dbref,
        location: Dbref,
    ) -> Result<Dbref, Miss>;
}
