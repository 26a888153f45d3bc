//! World objects (rooms, players, things, exits) and their attributes in Redis Cluster.
//!
//! Each object is one HASH under its own hash tag, so a change to one object is one atomic
//! command. What relates objects across slots is split into a *truth* field and
//! repairable *indexes*: an object's `loc` field is the truth of where it is; the `:in` and
//! `:ex` sets of its location are indexes that readers filter against `loc`. A pod that
//! dies between the two writes of a move leaves at worst a stale index entry, never an
//! object in two places.
//!
//! ```text
//! {prefix}:o:{<id>}        HASH  type name owner loc home dest parent zone flags desc pw
//!                                created modified a:<ATTR>... m:<ATTR>...
//!                                (m:<ATTR> = "<owner> <flag bits>" of attribute <ATTR>,
//!                                absent for one owned by the object's owner without flags)
//! {prefix}:o:{<id>}:in     SET   contents (index of objects whose loc is <id>)
//! {prefix}:o:{<id>}:ex     SET   exits (index of exits whose loc is <id>)
//! {prefix}:o:{<id>}:conns  SET   handles connected to player <id> (index of records)
//! {prefix}:wi:<what>:<v>  SET   search indexes (objects by owner, type, parent) for
//!                                lsearch() and children(); like contents, an index
//!                                entry is checked against the object and repaired
//! {prefix}:next            STRING last allocated dbref
//! {prefix}:names           HASH  lower-case player name -> id (uniqueness by HSETNX)
//! ```

use std::collections::BTreeMap;
use std::fmt;

use mush_proto::Handle;

use crate::scripts::{CREATE_IF_ABSENT, WRITE_IF_VERSION};
use crate::{Store, StoreError};

/// An object number, shown to players as `#<n>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dbref(pub u64);

impl fmt::Display for Dbref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl Dbref {
    /// Parses `#12` or `12`.
    pub fn parse(text: &str) -> Option<Self> {
        text.strip_prefix('#')
            .unwrap_or(text)
            .parse()
            .ok()
            .map(Self)
    }
}

/// The four object types of a MUSH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A place.
    Room,
    /// A character someone connects to.
    Player,
    /// An object that can be carried.
    Thing,
    /// A link from a room to a destination.
    Exit,
}

impl Kind {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Room => "room",
            Kind::Player => "player",
            Kind::Thing => "thing",
            Kind::Exit => "exit",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "room" => Kind::Room,
            "player" => Kind::Player,
            "thing" => Kind::Thing,
            "exit" => Kind::Exit,
            _ => return None,
        })
    }
}

/// One object as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its number.
    pub id: Dbref,
    /// Room, player, thing or exit.
    pub kind: Kind,
    /// Display name; for exits, `;`-separated aliases.
    pub name: String,
    /// Who may change it.
    pub owner: Dbref,
    /// Where it is (the source room of an exit).
    pub location: Option<Dbref>,
    /// Where `home` sends a player or thing.
    pub home: Option<Dbref>,
    /// Where an exit leads.
    pub destination: Option<Dbref>,
    /// Flag names, upper case (WIZARD, BUILDER, DARK, ...).
    pub flags: Vec<String>,
    /// What `look` shows.
    pub description: String,
    /// Argon2 password hash (players only).
    pub password_hash: String,
    /// User attributes set with `&ATTR obj=value`, names upper case.
    pub attributes: BTreeMap<String, String>,
    /// Who set each attribute and its flag bits, where that is not (the object's owner,
    /// no flags).
    pub attribute_meta: BTreeMap<String, (Dbref, u32)>,
    /// Its parent: attributes it lacks are inherited from there.
    pub parent: Option<Dbref>,
    /// Its zone.
    pub zone: Option<Dbref>,
    /// Creation time, Unix seconds (0: made before times were kept).
    pub created: i64,
    /// Last change, Unix seconds.
    pub modified: i64,
    /// Bumped by every write: a writer that read version N may write only while it is
    /// still N (see [`Store::write_if_version`]).
    pub version: u64,
}

impl Object {
    /// True if the object has `flag` (case-insensitive).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// What a new object starts with.
#[derive(Clone, Debug)]
pub struct NewObject {
    /// Type.
    pub kind: Kind,
    /// Name.
    pub name: String,
    /// Owner; `None` makes the object its own owner (players).
    pub owner: Option<Dbref>,
    /// Location (source room of an exit).
    pub location: Option<Dbref>,
    /// Home.
    pub home: Option<Dbref>,
    /// Destination of an exit.
    pub destination: Option<Dbref>,
    /// Initial flags.
    pub flags: Vec<String>,
    /// Password hash (players).
    pub password_hash: String,
}

/// A field of an object that commands change one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `name`.
    Name,
    /// `desc`.
    Description,
    /// `flags` (space-separated).
    Flags,
    /// `home`.
    Home,
    /// `dest` of an exit.
    Destination,
    /// `owner`.
    Owner,
    /// `pw`.
    PasswordHash,
    /// `parent` (empty: none).
    Parent,
    /// `zone` (empty: none).
    Zone,
    /// `loc`: where the object is (its container's contents index follows it).
    Location,
}

impl Field {
    /// The stored field name.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Description => "desc",
            Field::Flags => "flags",
            Field::Home => "home",
            Field::Destination => "dest",
            Field::Owner => "owner",
            Field::PasswordHash => "pw",
            Field::Parent => "parent",
            Field::Zone => "zone",
            Field::Location => "loc",
        }
    }
}

/// One field change of [`Store::write_if_version`], by stored field name (`a:<ATTR>`,
/// `m:<ATTR>`, `flags`, `parent`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldChange {
    /// Set the field.
    Set(String, String),
    /// Remove the field.
    Delete(String),
}

/// What a search index groups objects by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SearchIndex {
    /// Objects of one owner.
    Owner,
    /// Objects of one type.
    Type,
    /// Children of one parent.
    Parent,
    /// Objects that have set a `STARTUP` attribute (one list: the value is empty).
    Startup,
}

impl SearchIndex {
    fn as_str(self) -> &'static str {
        match self {
            SearchIndex::Owner => "owner",
            SearchIndex::Type => "type",
            SearchIndex::Parent => "parent",
            SearchIndex::Startup => "startup",
        }
    }
}

/// How long the object numbers a command allocated are remembered (a command re-runs
/// within seconds of its pod dying).
const MADE_MEMORY_SECS: u64 = 3600;

/// Longest attribute value or description accepted.
pub const VALUE_MAX: usize = 8 * 1024;

impl Store {
    fn object_key(&self, id: Dbref) -> String {
        format!("{}:o:{{{}}}", self.keys.prefix(), id.0)
    }

    fn index_key(&self, id: Dbref, index: &str) -> String {
        format!("{}:o:{{{}}}:{index}", self.keys.prefix(), id.0)
    }

    fn search_key(&self, index: SearchIndex, value: &str) -> String {
        format!("{}:wi:{}:{value}", self.keys.prefix(), index.as_str())
    }

    /// Adds an object to a search index (after the write that made it true).
    pub async fn index_for_search(
        &self,
        index: SearchIndex,
        value: &str,
        id: Dbref,
    ) -> Result<(), StoreError> {
        self.search_member("SADD", index, value, id).await
    }

    /// Removes an object from a search index (a reader found the entry stale).
    pub async fn unindex_for_search(
        &self,
        index: SearchIndex,
        value: &str,
        id: Dbref,
    ) -> Result<(), StoreError> {
        self.search_member("SREM", index, value, id).await
    }

    async fn search_member(
        &self,
        command: &'static str,
        index: SearchIndex,
        value: &str,
        id: Dbref,
    ) -> Result<(), StoreError> {
        redis::cmd(command)
            .arg(self.search_key(index, value))
            .arg(id.0)
            .query_async::<i64>(&mut self.conn())
            .await
            .map_err(StoreError::redis(command, id))?;
        Ok(())
    }

    /// The objects a search index lists, in dbref order; entries may be stale (check
    /// each against the object).
    pub async fn search_index(
        &self,
        index: SearchIndex,
        value: &str,
    ) -> Result<Vec<Dbref>, StoreError> {
        self.timed("search_index", async {
            let mut members: Vec<u64> = redis::cmd("SMEMBERS")
                .arg(self.search_key(index, value))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read search index", value))?;
            members.sort_unstable();
            Ok(members.into_iter().map(Dbref).collect())
        })
        .await
    }

    fn names_key(&self) -> String {
        format!("{}:names", self.keys.prefix())
    }

    /// True once the world has been created (room #0 exists).
    pub async fn world_exists(&self) -> Result<bool, StoreError> {
        Ok(self.object(Dbref(0)).await?.is_some())
    }

    /// Takes the one-time lock for creating the world; false if another pod holds it.
    pub async fn claim_bootstrap(
        &self,
        pod: &mush_proto::PodId,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let claimed: Option<String> = redis::cmd("SET")
            .arg(format!("{}:bootstrap", self.keys.prefix()))
            .arg(pod.as_str())
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("claim bootstrap", pod))?;
        Ok(claimed.is_some())
    }

    /// The `n`th object number a command named `mark` allocates: the same number however
    /// often the command runs (a re-run after its pod died creates nothing twice). Without
    /// a mark, a fresh number. Two runs racing for one slot both get the first number
    /// recorded (the other's is skipped, as numbers of failed creations are).
    pub async fn allocate_for(&self, mark: Option<&str>, n: usize) -> Result<Dbref, StoreError> {
        let Some(mark) = mark else {
            return self.allocate().await;
        };
        let key = format!("{}:made:{mark}", self.keys.prefix());
        if let Some(id) = self.made_at(&key, n).await? {
            return Ok(Dbref(id));
        }
        let fresh = self.allocate().await?;
        redis::pipe()
            .cmd("RPUSH")
            .arg(&key)
            .arg(fresh.0)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(MADE_MEMORY_SECS)
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(StoreError::redis("allocate", mark))?;
        Ok(self.made_at(&key, n).await?.map_or(fresh, Dbref))
    }

    async fn made_at(&self, key: &str, n: usize) -> Result<Option<u64>, StoreError> {
        redis::cmd("LINDEX")
            .arg(key)
            .arg(n)
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("allocate", key))
    }

    /// Creates object `id` with `changes` (its fields) unless it exists; true if created.
    /// With the object numbers of [`Store::allocate_for`], a command that creates runs any
    /// number of times and creates once.
    pub async fn create_if_absent(
        &self,
        id: Dbref,
        mark: Option<&str>,
        changes: &[FieldChange],
    ) -> Result<bool, StoreError> {
        self.timed("create_if_absent", async {
            let mut script = CREATE_IF_ABSENT.key(self.object_key(id));
            script.arg(mark.unwrap_or_default());
            for change in changes {
                if let FieldChange::Set(field, value) = change {
                    script.arg("S").arg(field).arg(value);
                }
            }
            let created: i64 = script
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("create object", id))?;
            Ok(created == 1)
        })
        .await
    }

    /// Allocates the next dbref. The first call returns #0.
    async fn allocate(&self) -> Result<Dbref, StoreError> {
        let next: i64 = redis::cmd("INCR")
            .arg(format!("{}:next", self.keys.prefix()))
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("allocate dbref", "world"))?;
        Ok(Dbref(u64::try_from(next - 1).unwrap_or(0)))
    }

    /// Creates an object and indexes it in its location. Players must have a name no other
    /// player has (case-insensitive); a clash returns `Ok(None)`.
    pub async fn create_object(&self, new: &NewObject) -> Result<Option<Dbref>, StoreError> {
        self.timed("create_object", async {
            let id = self.allocate().await?;
            let mut conn = self.conn();
            if new.kind == Kind::Player {
                let claimed: i64 = redis::cmd("HSETNX")
                    .arg(self.names_key())
                    .arg(new.name.to_lowercase())
                    .arg(id.0)
                    .query_async(&mut conn)
                    .await
                    .map_err(StoreError::redis("claim player name", &new.name))?;
                if claimed == 0 {
                    return Ok(None);
                }
            }
            let opt = |d: Option<Dbref>| d.map(|d| d.0.to_string()).unwrap_or_default();
            redis::cmd("HSET")
                .arg(self.object_key(id))
                .arg("type")
                .arg(new.kind.as_str())
                .arg("name")
                .arg(&new.name)
                .arg("owner")
                .arg(new.owner.unwrap_or(id).0)
                .arg("loc")
                .arg(opt(new.location))
                .arg("home")
                .arg(opt(new.home))
                .arg("dest")
                .arg(opt(new.destination))
                .arg("flags")
                .arg(new.flags.join(" "))
                .arg("desc")
                .arg("")
                .arg("pw")
                .arg(&new.password_hash)
                .arg("created")
                .arg(now_secs())
                .arg("modified")
                .arg(now_secs())
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("create object", id))?;
            if let Some(location) = new.location {
                let index = if new.kind == Kind::Exit { "ex" } else { "in" };
                self.index_add(location, index, id.0).await?;
            }
            let owner = new.owner.unwrap_or(id).0.to_string();
            self.index_for_search(SearchIndex::Owner, &owner, id)
                .await?;
            self.index_for_search(SearchIndex::Type, new.kind.as_str(), id)
                .await?;
            Ok(Some(id))
        })
        .await
    }

    /// Reads an object; `None` if it does not exist (never created or destroyed).
    pub async fn object(&self, id: Dbref) -> Result<Option<Object>, StoreError> {
        self.timed("object", async {
            let fields: Vec<(String, String)> = redis::cmd("HGETALL")
                .arg(self.object_key(id))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read object", id))?;
            if fields.is_empty() {
                return Ok(None);
            }
            parse_object(id, fields).map(Some)
        })
        .await
    }

    /// Changes one field of an existing object (one `HSET`).
    pub async fn set_field(&self, id: Dbref, field: Field, value: &str) -> Result<(), StoreError> {
        self.hset_existing(id, &[(field.key(), value)], "set_field")
            .await
    }

    /// Applies several field changes to one object atomically, and only if its version is
    /// still `version` (what the caller read). `Ok(false)` means another writer got there
    /// first: re-read and try again. `mark` names the command (a player's command as
    /// `<handle>:<seq>`, a queued job by its entry id): a command that already wrote this
    /// object, and runs again because its pod died before answering, finds its mark and
    /// writes nothing twice (`Ok(true)`).
    pub async fn write_if_version(
        &self,
        id: Dbref,
        version: u64,
        mark: Option<&str>,
        changes: &[FieldChange],
    ) -> Result<bool, StoreError> {
        match self
            .write_object(id, Some(version), mark, changes, "write_if_version")
            .await?
        {
            1 | 2 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError::NoObject(id.0)),
        }
    }

    /// Every write to an object hash goes through one script: the fields change, the
    /// modification time and the version move on, all in one step, and only on an object
    /// that exists. `version` `None` writes whatever the version is (writers that did not
    /// read first). Returns the script's answer (1 applied, 2 already applied by this
    /// mark, 0 version moved on, -1 no such object).
    async fn write_object(
        &self,
        id: Dbref,
        version: Option<u64>,
        mark: Option<&str>,
        changes: &[FieldChange],
        op: &'static str,
    ) -> Result<i64, StoreError> {
        self.timed(op, async {
            let mut script = WRITE_IF_VERSION.key(self.object_key(id));
            script.arg(version.map_or_else(|| "*".to_string(), |v| v.to_string()));
            script.arg(mark.unwrap_or_default());
            for change in changes {
                match change {
                    FieldChange::Set(field, value) => script.arg("S").arg(field).arg(value),
                    FieldChange::Delete(field) => script.arg("D").arg(field).arg(""),
                };
            }
            script.arg("S").arg("modified").arg(now_secs());
            script
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis(op, id))
        })
        .await
    }

    /// Sets a user attribute; an empty value clears it (with its owner and flags).
    pub async fn set_attribute(
        &self,
        id: Dbref,
        name: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let name = name.to_uppercase();
        let changes = if value.is_empty() {
            vec![
                FieldChange::Delete(format!("a:{name}")),
                FieldChange::Delete(format!("m:{name}")),
            ]
        } else {
            vec![FieldChange::Set(format!("a:{name}"), value.to_string())]
        };
        self.write_existing(id, &changes, "set_attribute").await
    }

    /// Sets fields of an existing object (see [`Store::write_object`]).
    async fn hset_existing(
        &self,
        id: Dbref,
        fields: &[(&str, &str)],
        op: &'static str,
    ) -> Result<(), StoreError> {
        let changes: Vec<FieldChange> = fields
            .iter()
            .map(|(f, v)| FieldChange::Set((*f).to_string(), (*v).to_string()))
            .collect();
        self.write_existing(id, &changes, op).await
    }

    async fn write_existing(
        &self,
        id: Dbref,
        changes: &[FieldChange],
        op: &'static str,
    ) -> Result<(), StoreError> {
        match self.write_object(id, None, None, changes, op).await? {
            1 => Ok(()),
            _ => Err(StoreError::NoObject(id.0)),
        }
    }

    /// Objects indexed as inside `id` (may include stale entries: check their location).
    pub async fn contents(&self, id: Dbref) -> Result<Vec<Dbref>, StoreError> {
        self.index_members(id, "in")
            .await
            .map(|v| v.into_iter().map(Dbref).collect())
    }

    /// Exits indexed as leaving `id` (check their location too).
    pub async fn exits(&self, id: Dbref) -> Result<Vec<Dbref>, StoreError> {
        self.index_members(id, "ex")
            .await
            .map(|v| v.into_iter().map(Dbref).collect())
    }

    /// Removes a stale index entry found by a reader.
    pub async fn unindex(&self, container: Dbref, member: Dbref) -> Result<(), StoreError> {
        self.index_remove(container, "in", member.0).await?;
        self.index_remove(container, "ex", member.0).await
    }

    /// Destroys an object: its hash, its indexes, its entry in its location's index and,
    /// for a player, its name.
    pub async fn destroy_object(&self, object: &Object) -> Result<(), StoreError> {
        self.timed("destroy_object", async {
            let mut conn = self.conn();
            redis::cmd("DEL")
                .arg(self.object_key(object.id))
                .arg(self.index_key(object.id, "in"))
                .arg(self.index_key(object.id, "ex"))
                .arg(self.index_key(object.id, "conns"))
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("destroy object", object.id))?;
            if let Some(location) = object.location {
                self.unindex(location, object.id).await?;
            }
            if object.kind == Kind::Player {
                redis::cmd("HDEL")
                    .arg(self.names_key())
                    .arg(object.name.to_lowercase())
                    .query_async::<i64>(&mut conn)
                    .await
                    .map_err(StoreError::redis("free player name", object.id))?;
            }
            Ok(())
        })
        .await
    }

    /// Claims a player name for `player` before the rename is written; `Ok(false)` if
    /// another player holds it. Claiming a name one already holds succeeds, so a rename
    /// that runs again after a crash finds its own claim.
    pub async fn claim_player_name(&self, player: Dbref, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let key = name.to_lowercase();
        let claimed: i64 = redis::cmd("HSETNX")
            .arg(self.names_key())
            .arg(&key)
            .arg(player.0)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::redis("claim player name", name))?;
        if claimed == 1 {
            return Ok(true);
        }
        Ok(self.player_by_name(&key).await? == Some(player))
    }

    /// Frees a player's old name after the rename to `new` is written (nothing when the
    /// rename only changed case, or when the old name is no longer this player's).
    pub async fn free_player_name(
        &self,
        player: Dbref,
        old: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        if old.eq_ignore_ascii_case(new) || self.player_by_name(old).await? != Some(player) {
            return Ok(());
        }
        redis::cmd("HDEL")
            .arg(self.names_key())
            .arg(old.to_lowercase())
            .query_async::<i64>(&mut self.conn())
            .await
            .map_err(StoreError::redis("free player name", player))?;
        Ok(())
    }

    /// Moves an object between containers' indexes after its `loc` was written (exits
    /// are listed apart from contents). Both steps are idempotent, so a command that runs
    /// again after a crash repeats them harmlessly.
    pub async fn relist(
        &self,
        id: Dbref,
        exit: bool,
        from: Option<Dbref>,
        to: Option<Dbref>,
    ) -> Result<(), StoreError> {
        let index = if exit { "ex" } else { "in" };
        if let Some(from) = from {
            self.index_remove(from, index, id.0).await?;
        }
        if let Some(to) = to {
            self.index_add(to, index, id.0).await?;
        }
        Ok(())
    }

    /// Finds a player by name (case-insensitive).
    pub async fn player_by_name(&self, name: &str) -> Result<Option<Dbref>, StoreError> {
        let id: Option<u64> = redis::cmd("HGET")
            .arg(self.names_key())
            .arg(name.to_lowercase())
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("find player", name))?;
        Ok(id.map(Dbref))
    }

    /// Records that `handle` is connected to `player`.
    pub async fn add_player_conn(&self, player: Dbref, handle: Handle) -> Result<(), StoreError> {
        self.index_add(player, "conns", handle.0).await
    }

    /// Records that `handle` left `player`.
    pub async fn remove_player_conn(
        &self,
        player: Dbref,
        handle: Handle,
    ) -> Result<(), StoreError> {
        self.index_remove(player, "conns", handle.0).await
    }

    /// Handles indexed as connected to `player` (check their records for stale ones).
    pub async fn player_conns(&self, player: Dbref) -> Result<Vec<Handle>, StoreError> {
        self.index_members(player, "conns")
            .await
            .map(|v| v.into_iter().map(Handle).collect())
    }

    async fn index_add(&self, id: Dbref, index: &str, member: u64) -> Result<(), StoreError> {
        redis::cmd("SADD")
            .arg(self.index_key(id, index))
            .arg(member)
            .query_async::<i64>(&mut self.conn())
            .await
            .map_err(StoreError::redis("index add", id))?;
        Ok(())
    }

    async fn index_remove(&self, id: Dbref, index: &str, member: u64) -> Result<(), StoreError> {
        redis::cmd("SREM")
            .arg(self.index_key(id, index))
            .arg(member)
            .query_async::<i64>(&mut self.conn())
            .await
            .map_err(StoreError::redis("index remove", id))?;
        Ok(())
    }

    async fn index_members(&self, id: Dbref, index: &str) -> Result<Vec<u64>, StoreError> {
        self.timed("index_members", async {
            let mut members: Vec<u64> = redis::cmd("SMEMBERS")
                .arg(self.index_key(id, index))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read index", id))?;
            members.sort_unstable();
            Ok(members)
        })
        .await
    }
}

fn parse_object(id: Dbref, fields: Vec<(String, String)>) -> Result<Object, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        handle: id.to_string(),
        reason,
    };
    let opt = |v: &str| if v.is_empty() { None } else { Dbref::parse(v) };
    let mut object = Object {
        id,
        kind: Kind::Thing,
        name: String::new(),
        owner: id,
        location: None,
        home: None,
        destination: None,
        flags: Vec::new(),
        description: String::new(),
        password_hash: String::new(),
        attributes: BTreeMap::new(),
        attribute_meta: BTreeMap::new(),
        parent: None,
        zone: None,
        created: 0,
        modified: 0,
        version: 0,
    };
    for (field, value) in fields {
        match field.as_str() {
            "type" => {
                object.kind = Kind::parse(&value)
                    .ok_or_else(|| corrupt(format!("unknown type {value:?}")))?;
            }
            "name" => object.name = value,
            "owner" => object.owner = opt(&value).unwrap_or(id),
            "loc" => object.location = opt(&value),
            "home" => object.home = opt(&value),
            "dest" => object.destination = opt(&value),
            "flags" => object.flags = value.split_whitespace().map(str::to_owned).collect(),
            "desc" => object.description = value,
            "pw" => object.password_hash = value,
            "parent" => object.parent = opt(&value),
            "zone" => object.zone = opt(&value),
            "created" => object.created = value.parse().unwrap_or(0),
            "modified" => object.modified = value.parse().unwrap_or(0),
            "v" => object.version = value.parse().unwrap_or(0),
            other => {
                if let Some(attr) = other.strip_prefix("a:") {
                    object.attributes.insert(attr.to_owned(), value);
                } else if let Some(attr) = other.strip_prefix("m:") {
                    let mut parts = value.split_whitespace();
                    let owner = parts.next().and_then(Dbref::parse);
                    let flags = parts.next().and_then(|f| f.parse().ok()).unwrap_or(0);
                    if let Some(owner) = owner {
                        object
                            .attribute_meta
                            .insert(attr.to_owned(), (owner, flags));
                    }
                }
            }
        }
    }
    Ok(object)
}

/// Seconds since the Unix epoch, as objects record their times.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
