//! A command's writes to the world, applied in one step.
//!
//! Every key of a shard's world (objects, contents and search indexes, player names, the
//! object counter) and of its queue shares one hash tag, so one Lua script
//! ([`crate::scripts::WORLD_COMMIT`]) can check every version a command read and apply all
//! of its writes at once: players on different pods see all of a command's changes or
//! none, and a command whose reads went stale is run again, never applied on them. Why one
//! slot and not per-object slots with locks: a MUSH world is small and written rarely
//! (TinyMUX serves one from a single thread), most reads are served from the pods' caches,
//! and a single script is both the simplest atomic commit and the fastest (one round
//! trip). The README's design notes give the capacity measured.
//!
//! Readers need one more rule, because a pod's cache fills one object at a time: the
//! objects of a commit that wrote several carry the commit's number and each other's as
//! requirements ([`Object::requires`]); a reader holding one of them and an older copy of
//! another holds half a commit, and reads that one again ([`torn`]).

use crate::scripts::WORLD_COMMIT;
use crate::world::{Dbref, FieldChange, Object, SearchIndex};
use crate::{Store, StoreError};

/// One command's writes, applied all at once or not at all by [`Store::commit`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    /// Names the command (a player's `<handle>:<seq>`, a queued entry's id): a command
    /// that runs again after its pod died finds its mark on what it wrote and writes
    /// nothing twice.
    pub mark: Option<String>,
    /// Every existing object the command read, with the version it read. Any of them
    /// changed since means the command decided on stale data: nothing is written.
    pub reads: Vec<(Dbref, u64)>,
    /// Objects it creates (numbers from [`Store::allocate_for`]), with all their fields.
    pub creates: Vec<(Dbref, Vec<FieldChange>)>,
    /// Changes to existing objects.
    pub writes: Vec<(Dbref, Vec<FieldChange>)>,
    /// Index entries added or removed.
    pub indexes: Vec<(IndexChange, Index, Dbref)>,
    /// Player names claimed (unique, case-insensitive) and freed.
    pub names: Vec<(NameChange, String, Dbref)>,
    /// The modification time written (Unix seconds); `None`: now. A writer that caches
    /// what it wrote ([`Object::committed`]) passes the time it used.
    pub at: Option<i64>,
}

/// Whether an index entry is added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexChange {
    /// Add the object.
    Add,
    /// Remove it.
    Remove,
}

/// An index a commit changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Index {
    /// The things and players in a container.
    Contents(Dbref),
    /// The exits of a room.
    Exits(Dbref),
    /// A search index, by value.
    Search(SearchIndex, String),
}

/// Whether a player name is claimed or freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameChange {
    /// The player takes the name; the commit fails if another player holds it.
    Claim,
    /// The name is freed, if this player holds it.
    Free,
}

/// What [`Store::commit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Committed {
    /// Every write is applied.
    Applied,
    /// The command had committed already (its mark was found): nothing changed.
    AlreadyApplied,
    /// This object changed after the command read it: nothing changed; read it again and
    /// run the command again.
    Stale(Dbref),
    /// Another player holds this name: nothing changed.
    NameTaken(String),
}

impl Store {
    /// Applies `commit` in one step (see the module docs).
    pub async fn commit(&self, commit: &Commit) -> Result<Committed, StoreError> {
        self.timed("commit", async {
            let target = commit.mark.as_deref().unwrap_or("world");
            let reply: Vec<redis::Value> = WORLD_COMMIT
                .key(format!("{}cseq", self.world_prefix()))
                .arg(self.world_args(commit))
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("commit", target))?;
            committed(&reply, target)
        })
        .await
    }

    /// The arguments of `world_commit` (see [`WORLD_COMMIT`]) for `commit`.
    pub(crate) fn world_args(&self, commit: &Commit) -> Vec<String> {
        let mut args = vec![
            self.world_prefix(),
            commit.mark.clone().unwrap_or_default(),
            commit.at.unwrap_or_else(crate::world::now_secs).to_string(),
        ];
        let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
        for (id, version) in &commit.reads {
            push(&["R", &id.0.to_string(), &version.to_string()]);
        }
        for (op, list) in [("C", &commit.creates), ("W", &commit.writes)] {
            for (id, changes) in list {
                push(&[op, &id.0.to_string(), &changes.len().to_string()]);
                for change in changes {
                    match change {
                        FieldChange::Set(field, value) => push(&["S", field, value]),
                        FieldChange::Delete(field) => push(&["D", field, ""]),
                    }
                }
            }
        }
        for (change, index, member) in &commit.indexes {
            let op = match change {
                IndexChange::Add => "+",
                IndexChange::Remove => "-",
            };
            push(&[op, &self.index_suffix(index), &member.0.to_string()]);
        }
        for (change, name, player) in &commit.names {
            let op = match change {
                NameChange::Claim => "N",
                NameChange::Free => "F",
            };
            push(&[op, &name.to_lowercase(), &player.0.to_string()]);
        }
        args
    }
}

/// Reads `world_commit`'s answer.
pub(crate) fn committed(reply: &[redis::Value], target: &str) -> Result<Committed, StoreError> {
    let code = reply.first().and_then(as_int);
    let arg = reply.get(1).and_then(as_text).unwrap_or_default();
    let id = || arg.parse().map(Dbref).unwrap_or(Dbref(0));
    match code {
        Some(1) => Ok(Committed::Applied),
        Some(2) => Ok(Committed::AlreadyApplied),
        Some(0) => Ok(Committed::Stale(id())),
        Some(3) => Ok(Committed::NameTaken(arg)),
        Some(4) => Err(StoreError::NoObject(id().0)),
        Some(5) => Err(StoreError::ObjectExists(id().0)),
        _ => Err(StoreError::Corrupt {
            handle: target.to_string(),
            reason: format!("unexpected commit reply {reply:?}"),
        }),
    }
}

pub(crate) fn as_int(value: &redis::Value) -> Option<i64> {
    match value {
        redis::Value::Int(n) => Some(*n),
        _ => None,
    }
}

pub(crate) fn as_text(value: &redis::Value) -> Option<String> {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(text) => Some(text.clone()),
        redis::Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first object of a reader's set that is older than a commit another object of the
/// set comes from: the reader holds half of that commit and must read this one again.
/// `get` gives the reader's copy of an object (`Some(None)`: the reader knows it does not
/// exist; `None`: the reader does not hold it, so it cannot disagree).
pub fn torn<'a>(
    held: impl IntoIterator<Item = &'a Object>,
    get: impl Fn(Dbref) -> Option<Option<&'a Object>>,
) -> Option<Dbref> {
    for object in held {
        for (other, commit) in &object.requires {
            match get(*other) {
                Some(Some(copy)) if copy.commit >= *commit => {}
                Some(_) => return Some(*other),
                None => {}
            }
        }
    }
    None
}
