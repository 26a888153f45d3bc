//! World objects (rooms, players, things, exits) and their attributes in Redis Cluster.
//!
//! Every world key shares the hash tag `{<prefix>:w}` (one slot, with the shard's queue), so
//! one script applies a command's writes to several objects and their indexes at once (see
//! [`crate::Commit`]). An object's `loc` field is the truth of where it is; the `:in` and
//! `:ex` sets of its location are indexes that move with it in the same commit, and that
//! readers still filter against `loc` (a pod's cached list may be older than the object).
//! A player's connections are connection state and keep a slot of their own per player.
//!
//! ```text
//! W = {prefix}:{<prefix>:w}:
//! W o:<id>            HASH  type name owner loc home dest parent zone flags desc pw
//!                           created modified a:<ATTR>... m:<ATTR>...
//!                           (m:<ATTR> = "<owner> <flag bits>" of attribute <ATTR>,
//!                           absent for one owned by the object's owner without flags)
//!                           v (version), w (last 16 writers' marks), c and s (the last
//!                           commit that wrote several objects, and what it requires)
//! W o:<id>:in         SET   contents (index of objects whose loc is <id>)
//! W o:<id>:ex         SET   exits (index of exits whose loc is <id>)
//! W wi:<what>:<v>     SET   search indexes (objects by owner, type, parent) for
//!                           lsearch() and children(); like contents, an index
//!                           entry is checked against the object and repaired
//! W next              STRING last allocated dbref
//! W cseq              STRING number of the last commit that wrote several objects
//! W names             HASH  lower-case player name -> id
//! W made:<mark>       LIST  object numbers a command allocated (1 h)
//! W q:...                   the queue (see `queue.rs`)
//! {prefix}:pc:{<id>}  SET   handles connected to player <id> (index of records)
//! ```

use std::collections::BTreeMap;
use std::fmt;

use mush_proto::Handle;

use crate::commit::{Commit, Committed, Index, IndexChange, NameChange};
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
    /// Power names, upper case (BOOT, SEE_ALL, ...).
    pub powers: Vec<String>,
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
    /// still N (see [`Store::commit`]).
    pub version: u64,
    /// The number of the last commit that wrote this object together with others (0:
    /// none).
    pub commit: u64,
    /// Objects that such commits also wrote, each with the commit a reader must hold of
    /// it at least (see [`crate::torn`]).
    pub requires: Vec<(Dbref, u64)>,
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
    /// `powers` (space-separated).
    Powers,
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
            Field::Powers => "powers",
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
    /// What every key of the world (and of the queue) starts with: the shard's prefix and
    /// the world's hash tag.
    pub(crate) fn world_prefix(&self) -> String {
        let prefix = self.keys.prefix();
        format!("{prefix}:{{{prefix}:w}}:")
    }

    fn object_key(&self, id: Dbref) -> String {
        format!("{}o:{}", self.world_prefix(), id.0)
    }

    fn index_key(&self, id: Dbref, index: &str) -> String {
        format!("{}o:{}:{index}", self.world_prefix(), id.0)
    }

    fn conns_key(&self, player: Dbref) -> String {
        format!("{}:pc:{{{}}}", self.keys.prefix(), player.0)
    }

    fn search_key(&self, index: SearchIndex, value: &str) -> String {
        format!("{}{}", self.world_prefix(), search_suffix(index, value))
    }

    /// An index's key after [`Store::world_prefix`].
    pub(crate) fn index_suffix(&self, index: &Index) -> String {
        match index {
            Index::Contents(id) => format!("o:{}:in", id.0),
            Index::Exits(id) => format!("o:{}:ex", id.0),
            Index::Search(index, value) => search_suffix(*index, value),
        }
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
        format!("{}names", self.world_prefix())
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
        let key = format!("{}made:{mark}", self.world_prefix());
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

    /// Allocates the next dbref. The first call returns #0.
    async fn allocate(&self) -> Result<Dbref, StoreError> {
        let next: i64 = redis::cmd("INCR")
            .arg(format!("{}next", self.world_prefix()))
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("allocate dbref", "world"))?;
        Ok(Dbref(u64::try_from(next - 1).unwrap_or(0)))
    }

    /// Creates an object, with its place in its location's index and the search indexes,
    /// in one commit. Players must have a name no other player has (case-insensitive); a
    /// clash returns `Ok(None)`.
    pub async fn create_object(&self, new: &NewObject) -> Result<Option<Dbref>, StoreError> {
        let id = self.allocate().await?;
        let opt = |d: Option<Dbref>| d.map(|d| d.0.to_string()).unwrap_or_default();
        let owner = new.owner.unwrap_or(id);
        let now = now_secs().to_string();
        let fields = [
            ("type", new.kind.as_str().to_string()),
            ("name", new.name.clone()),
            ("owner", owner.0.to_string()),
            ("loc", opt(new.location)),
            ("home", opt(new.home)),
            ("dest", opt(new.destination)),
            ("flags", new.flags.join(" ")),
            ("desc", String::new()),
            ("pw", new.password_hash.clone()),
            ("created", now.clone()),
            ("modified", now),
        ];
        let mut commit = Commit {
            creates: vec![(
                id,
                fields
                    .into_iter()
                    .map(|(f, v)| FieldChange::Set(f.to_string(), v))
                    .collect(),
            )],
            indexes: vec![
                (
                    IndexChange::Add,
                    Index::Search(SearchIndex::Owner, owner.0.to_string()),
                    id,
                ),
                (
                    IndexChange::Add,
                    Index::Search(SearchIndex::Type, new.kind.as_str().to_string()),
                    id,
                ),
            ],
            ..Commit::default()
        };
        if let Some(location) = new.location {
            let index = if new.kind == Kind::Exit {
                Index::Exits(location)
            } else {
                Index::Contents(location)
            };
            commit.indexes.push((IndexChange::Add, index, id));
        }
        if new.kind == Kind::Player {
            commit.names.push((NameChange::Claim, new.name.clone(), id));
        }
        match self.commit(&commit).await? {
            Committed::NameTaken(_) => Ok(None),
            _ => Ok(Some(id)),
        }
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
            Object::from_fields(id, fields).map(Some)
        })
        .await
    }

    /// Changes one field of an existing object (one `HSET`).
    pub async fn set_field(&self, id: Dbref, field: Field, value: &str) -> Result<(), StoreError> {
        self.write_existing(id, &[FieldChange::Set(field.key().into(), value.into())])
            .await
    }

    /// Applies several field changes to one object atomically, and only if its version is
    /// still `version` (what the caller read). `Ok(false)` means another writer got there
    /// first: re-read and try again. `mark` names the command (see [`Commit::mark`]): a
    /// command that already wrote this object finds its mark and writes nothing twice
    /// (`Ok(true)`). A one-object [`Store::commit`].
    pub async fn write_if_version(
        &self,
        id: Dbref,
        version: u64,
        mark: Option<&str>,
        changes: &[FieldChange],
    ) -> Result<bool, StoreError> {
        let commit = Commit {
            mark: mark.map(str::to_string),
            reads: vec![(id, version)],
            writes: vec![(id, changes.to_vec())],
            ..Commit::default()
        };
        match self.commit(&commit).await? {
            Committed::Applied | Committed::AlreadyApplied => Ok(true),
            Committed::Stale(_) => Ok(false),
            Committed::NameTaken(name) => Err(StoreError::Corrupt {
                handle: id.to_string(),
                reason: format!("a field write claimed the name {name:?}"),
            }),
        }
    }

    /// Writes whatever the object's version is (writers that did not read first): the
    /// fields change, the modification time and the version move on, in one step, and
    /// only on an object that exists.
    async fn write_existing(&self, id: Dbref, changes: &[FieldChange]) -> Result<(), StoreError> {
        let commit = Commit {
            writes: vec![(id, changes.to_vec())],
            ..Commit::default()
        };
        self.commit(&commit).await.map(|_| ())
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
        self.write_existing(id, &changes).await
    }

    /// Objects indexed as inside `id` (may include stale entries: check their location).
    pub async fn contents(&self, id: Dbref) -> Result<Vec<Dbref>, StoreError> {
        self.index_members(self.index_key(id, "in"))
            .await
            .map(|v| v.into_iter().map(Dbref).collect())
    }

    /// Exits indexed as leaving `id` (check their location too).
    pub async fn exits(&self, id: Dbref) -> Result<Vec<Dbref>, StoreError> {
        self.index_members(self.index_key(id, "ex"))
            .await
            .map(|v| v.into_iter().map(Dbref).collect())
    }

    /// Removes a stale index entry found by a reader.
    pub async fn unindex(&self, container: Dbref, member: Dbref) -> Result<(), StoreError> {
        self.index_remove(self.index_key(container, "in"), member.0)
            .await?;
        self.index_remove(self.index_key(container, "ex"), member.0)
            .await
    }

    /// Destroys an object: its hash, its indexes, its entry in its location's index and,
    /// for a player, its name.
    pub async fn destroy_object(&self, object: &Object) -> Result<(), StoreError> {
        self.timed("destroy_object", async {
            let mut conn = self.conn();
            let mut pipe = redis::pipe();
            pipe.atomic()
                .del(self.object_key(object.id))
                .del(self.index_key(object.id, "in"))
                .del(self.index_key(object.id, "ex"));
            if let Some(location) = object.location {
                pipe.srem(self.index_key(location, "in"), object.id.0)
                    .srem(self.index_key(location, "ex"), object.id.0);
            }
            if object.kind == Kind::Player {
                pipe.hdel(self.names_key(), object.name.to_lowercase());
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(StoreError::redis("destroy object", object.id))?;
            redis::cmd("DEL")
                .arg(self.conns_key(object.id))
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("destroy object", object.id))?;
            Ok(())
        })
        .await
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
        self.index_add(self.conns_key(player), handle.0).await
    }

    /// Records that `handle` left `player`.
    pub async fn remove_player_conn(
        &self,
        player: Dbref,
        handle: Handle,
    ) -> Result<(), StoreError> {
        self.index_remove(self.conns_key(player), handle.0).await
    }

    /// Handles indexed as connected to `player` (check their records for stale ones).
    pub async fn player_conns(&self, player: Dbref) -> Result<Vec<Handle>, StoreError> {
        self.index_members(self.conns_key(player))
            .await
            .map(|v| v.into_iter().map(Handle).collect())
    }

    async fn index_add(&self, key: String, member: u64) -> Result<(), StoreError> {
        redis::cmd("SADD")
            .arg(&key)
            .arg(member)
            .query_async::<i64>(&mut self.conn())
            .await
            .map_err(StoreError::redis("index add", &key))?;
        Ok(())
    }

    async fn index_remove(&self, key: String, member: u64) -> Result<(), StoreError> {
        redis::cmd("SREM")
            .arg(&key)
            .arg(member)
            .query_async::<i64>(&mut self.conn())
            .await
            .map_err(StoreError::redis("index remove", &key))?;
        Ok(())
    }

    async fn index_members(&self, key: String) -> Result<Vec<u64>, StoreError> {
        self.timed("index_members", async {
            let mut members: Vec<u64> = redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read index", &key))?;
            members.sort_unstable();
            Ok(members)
        })
        .await
    }
}

/// A search index's key after [`Store::world_prefix`].
fn search_suffix(index: SearchIndex, value: &str) -> String {
    format!("wi:{}:{value}", index.as_str())
}

impl Object {
    /// An object from its stored fields (as `HGETALL` returns them).
    pub fn from_fields(id: Dbref, fields: Vec<(String, String)>) -> Result<Object, StoreError> {
        let mut object = Object {
            id,
            kind: Kind::Thing,
            name: String::new(),
            owner: id,
            location: None,
            home: None,
            destination: None,
            flags: Vec::new(),
            powers: Vec::new(),
            description: String::new(),
            password_hash: String::new(),
            attributes: BTreeMap::new(),
            attribute_meta: BTreeMap::new(),
            parent: None,
            zone: None,
            created: 0,
            modified: 0,
            version: 0,
            commit: 0,
            requires: Vec::new(),
        };
        for (field, value) in fields {
            object.set(&field, value)?;
        }
        Ok(object)
    }

    /// This object as a one-object commit that changed `changes` leaves it: what a pod
    /// caches for its own write instead of reading it back. The stored fields it does
    /// not model (`w`) are not needed by readers.
    pub fn committed(&self, changes: &[FieldChange], at: i64) -> Result<Object, StoreError> {
        let mut next = self.clone();
        for change in changes {
            match change {
                FieldChange::Set(field, value) => next.set(field, value.clone())?,
                FieldChange::Delete(field) => {
                    if let Some(attr) = field.strip_prefix("a:") {
                        next.attributes.remove(attr);
                    } else if let Some(attr) = field.strip_prefix("m:") {
                        next.attribute_meta.remove(attr);
                    }
                }
            }
        }
        next.modified = at;
        next.version += 1;
        Ok(next)
    }

    /// Sets one stored field, as read from Redis.
    fn set(&mut self, field: &str, value: String) -> Result<(), StoreError> {
        let id = self.id;
        let opt = |v: &str| if v.is_empty() { None } else { Dbref::parse(v) };
        match field {
            "type" => {
                self.kind = Kind::parse(&value).ok_or_else(|| StoreError::Corrupt {
                    handle: id.to_string(),
                    reason: format!("unknown type {value:?}"),
                })?;
            }
            "name" => self.name = value,
            "owner" => self.owner = opt(&value).unwrap_or(id),
            "loc" => self.location = opt(&value),
            "home" => self.home = opt(&value),
            "dest" => self.destination = opt(&value),
            "flags" => self.flags = value.split_whitespace().map(str::to_owned).collect(),
            "powers" => self.powers = value.split_whitespace().map(str::to_owned).collect(),
            "desc" => self.description = value,
            "pw" => self.password_hash = value,
            "parent" => self.parent = opt(&value),
            "zone" => self.zone = opt(&value),
            "created" => self.created = value.parse().unwrap_or(0),
            "modified" => self.modified = value.parse().unwrap_or(0),
            "v" => self.version = value.parse().unwrap_or(0),
            "c" => self.commit = value.parse().unwrap_or(0),
            "s" => {
                self.requires = value
                    .split_whitespace()
                    .filter_map(|pair| {
                        let (id, commit) = pair.split_once(':')?;
                        Some((Dbref(id.parse().ok()?), commit.parse().ok()?))
                    })
                    .collect();
            }
            other => {
                if let Some(attr) = other.strip_prefix("a:") {
                    self.attributes.insert(attr.to_owned(), value);
                } else if let Some(attr) = other.strip_prefix("m:") {
                    let mut parts = value.split_whitespace();
                    let owner = parts.next().and_then(Dbref::parse);
                    let flags = parts.next().and_then(|f| f.parse().ok()).unwrap_or(0);
                    if let Some(owner) = owner {
                        self.attribute_meta.insert(attr.to_owned(), (owner, flags));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch, as objects record their times.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
