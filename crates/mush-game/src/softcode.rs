//! Softcode in a game pod: the evaluator runs synchronously over a snapshot of the pod's
//! cache; when it needs something the snapshot lacks it stops with a [`Miss`], the pod
//! fetches that (from the cache or Redis) and runs the command again from the start.
//! Nothing a run does is visible until it finishes (writes and output are held in the
//! snapshot), so a re-run cannot show twice; the finished run's writes go to Redis, each
//! with its cache invalidation, and its output to the players.

use std::collections::HashMap;
use std::sync::Arc;

use mush_softcode::queue::QueueOp;
use mush_softcode::{
    Attr, AttrFlags, Change, Connection, Emit, Eval, Frame, Kind as SKind, Limits, Miss, NOTHING,
    Object as SObject, QueueView, Search, Secret, World,
};
use mush_store::{
    Applied, BatchFinished, Commit, Committed, Dbref, Field, FieldChange, Index, IndexChange, Kind,
    NameChange, Object, QueueChange, SearchIndex, StoreError,
};

use crate::engine::Engine;

/// How many times one command may stop to fetch before it is refused: a command touching
/// more objects than this is refused with a clear message rather than run forever.
const MAX_FETCHES: usize = 256;

/// How many times a command re-runs because other pods wrote what it read before it is
/// refused (each re-run reads the contested objects fresh, so this takes heavy contention).
const MAX_CONFLICTS: usize = 50;

/// Said when a command lost [`MAX_CONFLICTS`] races in a row.
const BUSY: &str =
    "That object is too busy right now (other commands keep changing it); please retry.";

/// A write a finished run makes.
enum Write {
    /// Object, name, value (empty: clear), owner, flag bits.
    Attr(Dbref, String, String, Dbref, u32),
    Flags(Dbref, Vec<String>),
    Field(Dbref, Field, String),
    /// Object, where it was, where it goes, whether it is an exit (exits are listed apart).
    Move(Dbref, Option<Dbref>, Option<Dbref>, bool),
    /// A new object: its number, type, name, owner and location (the fields the run sets
    /// on it later join its creation).
    Create(Dbref, SKind, String, Dbref, Option<Dbref>),
    /// Object, old owner, new owner: the owner index follows.
    Owner(Dbref, Dbref, Dbref),
    /// A player's new name (old, new): the unique name index follows.
    PlayerName(Dbref, String, String),
    /// A player's new password, hashed when the run's writes are applied.
    Password(Dbref, Secret),
}

/// What the evaluator sees of the world during one command.
#[derive(Default)]
struct Snapshot {
    objects: HashMap<i64, Option<Arc<SObject>>>,
    raw: HashMap<i64, Arc<Object>>,
    contents: HashMap<i64, Vec<i64>>,
    exits: HashMap<i64, Vec<i64>>,
    players: HashMap<String, Option<i64>>,
    searches: HashMap<Search, Vec<i64>>,
    connections: Option<Vec<Connection>>,
    queued: Option<QueueView>,
    /// Password checks done for this command: (player, password) -> matches.
    passwords: HashMap<(i64, Secret), bool>,
    attrs: HashMap<(i64, String), Option<Attr>>,
    /// Header changes this run made (flags, parent, zone), cleared with `attrs` before
    /// every run so a re-run starts from what was read, not from its own earlier changes.
    headers: HashMap<i64, Arc<SObject>>,
    /// Moves this run made (object, from, to), cleared like `headers`: contents lists read
    /// later in the run show them.
    moves: Vec<(i64, i64, i64)>,
    writes: Vec<Write>,
    /// The command's mark, which names the object numbers it allocates.
    mark: Option<String>,
    /// Object numbers allocated for each command (by mark: a batch runs several), in the
    /// order it creates (kept across re-runs, so a re-run creates the same objects).
    allocated: HashMap<Option<String>, Vec<i64>>,
    /// How many of them this run has used.
    made: usize,
    now: i64,
    seed: u64,
    /// What earlier runs of a batch of queued jobs kept (see [`run_batch`]); for a single
    /// command, its finished run.
    kept: Overlay,
}

/// The changes finished runs made, which the runs after them see and which are
/// committed together.
#[derive(Default)]
struct Overlay {
    attrs: HashMap<(i64, String), Option<Attr>>,
    headers: HashMap<i64, Arc<SObject>>,
    moves: Vec<(i64, i64, i64)>,
    writes: Vec<Write>,
}

impl Snapshot {
    fn new(mark: Option<&str>) -> Self {
        Snapshot {
            mark: mark.map(str::to_string),
            now: (mush_store::now_ms() / 1000) as i64,
            seed: rand_seed(),
            ..Snapshot::default()
        }
    }

    /// Starts a run from what earlier finished runs kept, not from its own earlier tries.
    fn begin(&mut self) {
        self.attrs.clone_from(&self.kept.attrs);
        self.headers.clone_from(&self.kept.headers);
        self.moves.clone_from(&self.kept.moves);
        self.writes.clear();
        self.made = 0;
    }

    /// Keeps a finished run's changes for the runs after it and the commit.
    fn keep(&mut self) {
        self.kept.attrs = std::mem::take(&mut self.attrs);
        self.kept.headers = std::mem::take(&mut self.headers);
        self.kept.moves = std::mem::take(&mut self.moves);
        self.kept.writes.append(&mut self.writes);
    }

    /// Forgets a copy another pod has changed, reads it again from Redis, and drops
    /// everything the runs built on it: they run again.
    async fn forget(&mut self, engine: &Arc<Engine>, stale: Dbref) -> Result<(), Stopped> {
        engine.cache.evict(stale);
        let id = to_i64(stale);
        self.objects.remove(&id);
        self.raw.remove(&id);
        load(engine, self, id).await?;
        self.kept = Overlay::default();
        Ok(())
    }
}

pub(crate) fn to_i64(id: Dbref) -> i64 {
    i64::try_from(id.0).unwrap_or(NOTHING)
}

fn from_i64(id: i64) -> Option<Dbref> {
    u64::try_from(id).ok().map(Dbref)
}

/// The store's name for a softcode type.
fn store_kind(kind: SKind) -> Kind {
    match kind {
        SKind::Room => Kind::Room,
        SKind::Player => Kind::Player,
        SKind::Thing => Kind::Thing,
        SKind::Exit => Kind::Exit,
    }
}

fn convert(object: &Object) -> SObject {
    let opt = |d: Option<Dbref>| d.map(to_i64).unwrap_or(NOTHING);
    SObject {
        id: to_i64(object.id),
        kind: match object.kind {
            Kind::Room => SKind::Room,
            Kind::Player => SKind::Player,
            Kind::Thing => SKind::Thing,
            Kind::Exit => SKind::Exit,
        },
        name: object.name.clone(),
        owner: to_i64(object.owner),
        location: opt(object.location),
        link: match object.kind {
            Kind::Exit => opt(object.destination),
            _ => opt(object.home),
        },
        parent: opt(object.parent),
        zone: opt(object.zone),
        flags: object.flags.clone(),
        powers: object.powers.clone(),
        created: object.created,
        modified: object.modified,
    }
}

/// An object as softcode sees it, with TinyMUX's CONNECTED flag on a player that has a
/// connection (the flag is not stored: it is the connection index, cached by the pod and
/// invalidated when a player connects or leaves).
async fn converted(engine: &Engine, object: &Object) -> Result<SObject, StoreError> {
    let mut seen = convert(object);
    if object.kind == Kind::Player && !engine.handles_of(object.id).await?.is_empty() {
        mark_connected(&mut seen);
    }
    Ok(seen)
}

fn mark_connected(seen: &mut SObject) {
    if !seen.flags.iter().any(|f| f == "CONNECTED") {
        seen.flags.push("CONNECTED".into());
    }
}

/// Attribute names that are fields of the stored object rather than attributes.
fn field_attr(object: &Object, name: &str) -> Option<String> {
    match name {
        "DESCRIBE" | "DESC" if !object.description.is_empty() => Some(object.description.clone()),
        _ => None,
    }
}

impl Snapshot {
    /// A list as read, with this run's moves in and out of `container` applied (an arrival
    /// first, as TinyMUX lists the newest arrival first).
    fn moved(&self, container: i64, listed: &[i64], exits: bool) -> Vec<i64> {
        let mut list = listed.to_vec();
        for &(id, from, to) in &self.moves {
            let is_exit = matches!(self.object(id), Ok(Some(o)) if o.kind == SKind::Exit);
            if is_exit != exits {
                continue;
            }
            if from == container || to == container {
                list.retain(|&x| x != id);
            }
            if to == container {
                list.insert(0, id);
            }
        }
        list
    }

    fn loaded(&self, id: i64) -> Result<Option<&Arc<Object>>, Miss> {
        match self.objects.get(&id) {
            None => Err(Miss::Object(id)),
            Some(None) => Ok(None),
            Some(Some(_)) => Ok(self.raw.get(&id)),
        }
    }
}

impl World for Snapshot {
    fn object(&self, id: i64) -> Result<Option<Arc<SObject>>, Miss> {
        if id < 0 {
            return Ok(None);
        }
        if let Some(changed) = self.headers.get(&id) {
            return Ok(Some(changed.clone()));
        }
        self.objects.get(&id).cloned().ok_or(Miss::Object(id))
    }

    fn attr(&self, id: i64, name: &str) -> Result<Option<Attr>, Miss> {
        // Only a run that wrote attributes has an overlay; don't build a key otherwise.
        if !self.attrs.is_empty()
            && let Some(attr) = self.attrs.get(&(id, name.to_string()))
        {
            return Ok(attr.clone());
        }
        let Some(object) = self.loaded(id)? else {
            return Ok(None);
        };
        let value = object
            .attributes
            .get(name)
            .cloned()
            .or_else(|| field_attr(object, name));
        let (owner, flags) = object
            .attribute_meta
            .get(name)
            .map(|(owner, flags)| (to_i64(*owner), *flags))
            .unwrap_or((to_i64(object.owner), 0));
        Ok(value.map(|value| Attr {
            value,
            owner,
            flags: AttrFlags(flags),
        }))
    }

    fn attr_names(&self, id: i64) -> Result<Vec<String>, Miss> {
        let Some(object) = self.loaded(id)? else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = object.attributes.keys().cloned().collect();
        if !object.description.is_empty() && !names.iter().any(|n| n == "DESCRIBE") {
            names.insert(0, "DESCRIBE".into());
        }
        for ((obj, name), value) in &self.attrs {
            if *obj == id {
                names.retain(|n| n != name);
                if value.is_some() {
                    names.push(name.clone());
                }
            }
        }
        Ok(names)
    }

    fn contents(&self, id: i64) -> Result<Vec<i64>, Miss> {
        let listed = self.contents.get(&id).ok_or(Miss::Lists(id))?;
        Ok(self.moved(id, listed, false))
    }

    fn exits(&self, id: i64) -> Result<Vec<i64>, Miss> {
        let listed = self.exits.get(&id).ok_or(Miss::Lists(id))?;
        Ok(self.moved(id, listed, true))
    }

    fn player_named(&self, name: &str) -> Result<Option<i64>, Miss> {
        self.players
            .get(&name.to_lowercase())
            .copied()
            .ok_or_else(|| Miss::PlayerName(name.to_lowercase()))
    }

    fn connections(&self) -> Result<Vec<Connection>, Miss> {
        self.connections.clone().ok_or(Miss::Connections)
    }

    fn queued(&self) -> Result<QueueView, Miss> {
        self.queued.clone().ok_or(Miss::Queue)
    }

    fn check_password(&self, id: i64, password: &str) -> Result<bool, Miss> {
        let key = (id, Secret(password.to_string()));
        match self.passwords.get(&key) {
            Some(matches) => Ok(*matches),
            None => Err(Miss::Password(id, key.1)),
        }
    }

    fn set_password(&mut self, id: i64, password: &str) -> Result<(), Miss> {
        let Some(dbref) = from_i64(id) else {
            return Err(Miss::Refused("no such player".into()));
        };
        self.writes
            .push(Write::Password(dbref, Secret(password.to_string())));
        Ok(())
    }

    fn search(&self, query: &Search) -> Result<Vec<i64>, Miss> {
        self.searches
            .get(query)
            .cloned()
            .ok_or_else(|| Miss::Search(Box::new(query.clone())))
    }

    fn db_top(&self) -> Result<i64, Miss> {
        Err(Miss::Refused(
            "the size of the world is not known here".into(),
        ))
    }

    fn now(&self) -> i64 {
        self.now
    }

    fn random(&mut self, n: u64) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % n.max(1)
    }

    fn set_attr(&mut self, id: i64, name: &str, value: Option<Attr>) -> Result<(), Miss> {
        let Some(dbref) = from_i64(id) else {
            return Err(Miss::Refused("no such object".into()));
        };
        if value
            .as_ref()
            .is_some_and(|a| a.value.len() > mush_store::VALUE_MAX)
        {
            return Err(Miss::Refused("that value is too long".into()));
        }
        // The description is the object's `desc` field, which `look` shows.
        if name == "DESCRIBE" {
            let text = value.as_ref().map(|a| a.value.clone()).unwrap_or_default();
            self.attrs.insert((id, name.to_string()), value);
            self.writes
                .push(Write::Field(dbref, Field::Description, text));
            return Ok(());
        }
        let (text, owner, flags) = match &value {
            Some(a) => (
                a.value.clone(),
                from_i64(a.owner).unwrap_or(dbref),
                a.flags.0,
            ),
            None => (String::new(), dbref, 0),
        };
        self.attrs.insert((id, name.to_string()), value);
        self.writes
            .push(Write::Attr(dbref, name.to_string(), text, owner, flags));
        Ok(())
    }

    fn change(&mut self, id: i64, change: Change) -> Result<(), Miss> {
        let Some(dbref) = from_i64(id) else {
            return Err(Miss::Refused("no such object".into()));
        };
        let current = match self.headers.get(&id) {
            Some(changed) => changed.clone(),
            None => match self.objects.get(&id) {
                Some(Some(object)) => object.clone(),
                Some(None) => return Err(Miss::Refused("no such object".into())),
                None => return Err(Miss::Object(id)),
            },
        };
        let mut updated = (*current).clone();
        // Stored as `loc` and `home` are: the number, empty for none.
        let field = |d: i64| from_i64(d).map(|d| d.0.to_string()).unwrap_or_default();
        match change {
            Change::Flag(flag, on) => {
                updated.flags.retain(|f| *f != flag);
                if on {
                    updated.flags.push(flag);
                }
                // CONNECTED is the connection index's, never stored (see `converted`).
                let stored = updated.flags.iter().filter(|f| *f != "CONNECTED");
                self.writes
                    .push(Write::Flags(dbref, stored.cloned().collect()));
            }
            Change::Parent(p) => {
                updated.parent = p;
                self.writes
                    .push(Write::Field(dbref, Field::Parent, field(p)));
            }
            Change::Zone(z) => {
                updated.zone = z;
                self.writes.push(Write::Field(dbref, Field::Zone, field(z)));
            }
            Change::Location(to) => {
                self.moves.push((id, updated.location, to));
                self.writes.push(Write::Move(
                    dbref,
                    from_i64(updated.location),
                    from_i64(to),
                    updated.kind == SKind::Exit,
                ));
                updated.location = to;
            }
            Change::Link(to) => {
                // An exit's link is its destination; anything else's is its home (a
                // room's drop-to), as `convert` reads them.
                let target = if updated.kind == SKind::Exit {
                    Field::Destination
                } else {
                    Field::Home
                };
                updated.link = to;
                self.writes.push(Write::Field(dbref, target, field(to)));
            }
            Change::Name(name) => {
                let write = if updated.kind == SKind::Player {
                    Write::PlayerName(dbref, updated.name.clone(), name.clone())
                } else {
                    Write::Field(dbref, Field::Name, name.clone())
                };
                updated.name = name;
                self.writes.push(write);
            }
            Change::Owner(owner) => {
                let (Some(old), Some(new)) = (from_i64(updated.owner), from_i64(owner)) else {
                    return Err(Miss::Refused("no such owner".into()));
                };
                updated.owner = owner;
                self.writes.push(Write::Owner(dbref, old, new));
            }
            Change::Power(power, on) => {
                updated.powers.retain(|p| *p != power);
                if on {
                    updated.powers.push(power);
                }
                self.writes
                    .push(Write::Field(dbref, Field::Powers, updated.powers.join(" ")));
            }
        }
        self.headers.insert(id, Arc::new(updated));
        Ok(())
    }

    fn create(&mut self, kind: SKind, name: &str, owner: i64, location: i64) -> Result<i64, Miss> {
        let allocated = self.allocated.get(&self.mark);
        let Some(&id) = allocated.and_then(|a| a.get(self.made)) else {
            return Err(Miss::NewObject);
        };
        // A player owns itself (`@pcreate` passes no owner).
        let owner = if owner == NOTHING { id } else { owner };
        let (Some(dbref), Some(owner_ref)) = (from_i64(id), from_i64(owner)) else {
            return Err(Miss::Refused("no such owner".into()));
        };
        self.made += 1;
        // Things and players start at home where they are made, as in TinyMUX.
        let link = if matches!(kind, SKind::Room | SKind::Exit) {
            NOTHING
        } else {
            location
        };
        let object = SObject::made(id, kind, name, owner, location, link, self.now);
        self.headers.insert(id, Arc::new(object));
        self.objects.entry(id).or_insert(None);
        self.contents.insert(id, Vec::new());
        self.exits.insert(id, Vec::new());
        self.writes.push(Write::Create(
            dbref,
            kind,
            name.to_string(),
            owner_ref,
            from_i64(location),
        ));
        if link != NOTHING {
            self.writes
                .push(Write::Field(dbref, Field::Home, link.to_string()));
        }
        if location != NOTHING {
            self.moves.push((id, NOTHING, location));
            self.writes.push(Write::Move(
                dbref,
                None,
                from_i64(location),
                kind == SKind::Exit,
            ));
        }
        Ok(id)
    }
}

/// What a finished softcode run produced.
pub(crate) struct Finished<T> {
    pub value: T,
    emits: Vec<Emit>,
    /// What it asked of the queue, for the caller to submit (see [`crate::queue`]).
    pub queue: Vec<QueueOp>,
    /// What it wrote, each object with the version its write left: what it queued must
    /// not run on an older copy (see [`mush_store::NewEntry::after`]).
    pub after: Vec<(u64, u64)>,
}

impl<T> Finished<T> {
    /// What it sends.
    pub(crate) fn emits(&self) -> &[Emit] {
        &self.emits
    }
}

#[cfg(test)]
impl Finished<()> {
    /// A run that sent nothing, wrote nothing and asked `queue` of the queue.
    pub(crate) fn queued(queue: Vec<QueueOp>) -> Self {
        Finished {
            value: (),
            emits: Vec::new(),
            queue,
            after: Vec::new(),
        }
    }
}

/// Who runs a piece of softcode, and with what: a player's command, a description shown to
/// a looker, a queued job.
pub(crate) struct Spec<'a> {
    pub executor: i64,
    pub caller: i64,
    pub enactor: i64,
    /// `%0`-`%9`.
    pub args: &'a [String],
    /// Registers it starts with.
    pub regs: &'a [(String, String)],
}

/// Why a run could not finish.
pub(crate) enum Stopped {
    /// Storage failed.
    Store(StoreError),
    /// The world refused (the text says why) or the command needs too much.
    Refused(String),
}

impl From<StoreError> for Stopped {
    fn from(error: StoreError) -> Self {
        Stopped::Store(error)
    }
}

/// Runs `f` as `executor` until it finishes without a miss, then applies its writes;
/// `mark` names the command (`<handle>:<seq>`, or a queue entry's id) so that running it
/// again after a pod died never writes twice.
pub(crate) async fn run<T>(
    engine: &Arc<Engine>,
    executor: Dbref,
    mark: Option<&str>,
    f: impl FnMut(&mut Eval<'_>, &Frame<'_>) -> Result<T, Miss>,
) -> Result<Finished<T>, Stopped> {
    run_as(engine, executor, executor, mark, f).await
}

/// [`run`] with the code of `executor` caused by `enactor` (`%#`, `%N`): a description
/// evaluated for the player looking at it.
pub(crate) async fn run_as<T>(
    engine: &Arc<Engine>,
    executor: Dbref,
    enactor: Dbref,
    mark: Option<&str>,
    f: impl FnMut(&mut Eval<'_>, &Frame<'_>) -> Result<T, Miss>,
) -> Result<Finished<T>, Stopped> {
    let spec = Spec {
        executor: to_i64(executor),
        caller: to_i64(enactor),
        enactor: to_i64(enactor),
        args: &[],
        regs: &[],
    };
    run_spec(engine, &spec, mark, f).await
}

/// [`run`] for any [`Spec`].
pub(crate) async fn run_spec<T>(
    engine: &Arc<Engine>,
    spec: &Spec<'_>,
    mark: Option<&str>,
    mut f: impl FnMut(&mut Eval<'_>, &Frame<'_>) -> Result<T, Miss>,
) -> Result<Finished<T>, Stopped> {
    let mut snapshot = Snapshot::new(mark);
    preload(engine, &mut snapshot, spec).await?;
    let mut limits = limits(engine);
    let mut conflicts = 0;
    loop {
        let (value, emits, queue) =
            evaluate(engine, &mut snapshot, spec, &mut limits, &mut f).await?;
        // Half of another command's writes (one object fresh, another it wrote still an
        // older copy), or a write on a copy another pod has changed since: forget that
        // copy, read it fresh from Redis and run again.
        let stale = match torn(&snapshot) {
            Some(stale) => stale,
            None => match apply(engine, &snapshot, mark).await? {
                Ok(after) => {
                    return Ok(Finished {
                        value,
                        emits,
                        queue,
                        after,
                    });
                }
                Err(stale) => stale,
            },
        };
        conflicts += 1;
        if conflicts > MAX_CONFLICTS {
            return Err(Stopped::Refused(BUSY.into()));
        }
        snapshot.forget(engine, stale).await?;
    }
}

/// One job of a batch (see [`run_batch`]).
pub(crate) trait BatchJob {
    /// Who runs it, and with what.
    fn spec(&self) -> Spec<'_>;
    /// The id its writes and the objects it creates are named by: its queue entry's.
    fn mark(&self) -> &str;
}

/// One job's run in a batch: its output and what it asked of the queue, or why the world
/// refused it (said to its executor).
pub(crate) type Run = Result<Finished<()>, String>;

/// What a batch does after a job ran.
pub(crate) enum Next<J> {
    /// Goes on, with these jobs (what the last one queued to run now) appended: they run
    /// in the batch, after every job before them, as TinyMUX's queue would run them.
    Go(Vec<J>),
    /// Ends here: the jobs not run yet are the caller's to queue (see [`Batched::Done`]).
    End,
}

/// How a batch ended.
pub(crate) enum Batched {
    /// The first `runs.len()` jobs ran, their writes committed and their entries finished
    /// together. The jobs of the batch after them did not run.
    Done {
        runs: Vec<Run>,
        applied: Applied,
        /// The batch's output, kept in the outbox with its finish: the caller delivers it
        /// ([`deliver_parcel`]) and the gateways' confirmation removes it.
        parcel: Option<(String, Vec<Emit>)>,
    },
    /// This entry is no longer queued (halted, or run by a pod that claimed it after this
    /// one's lease ran out): nothing was written; run the others again without it.
    Gone(String),
    /// The batch kept losing races or met a taken player name: nothing was written; run
    /// its jobs one at a time.
    Alone,
}

/// Runs jobs one after another over one snapshot, each seeing what the jobs before it
/// changed, and commits all their writes together with the finish of their entries and
/// what they queued (one script, [`mush_store::Store::queue_finish_batch`]; `finish`
/// groups what each run asked of the queue by entry, given the jobs, the runs and what
/// the batch wrote): a batch costs one round trip to Redis where its jobs alone cost one
/// each, and it stays exactly once (an entry still queued has not committed; `mark`, when
/// given, names the commit for work that has no entry).
///
/// With `parcel` the batch's output is kept in the outbox with its commit and returned
/// for the caller to send; without, the caller sends each run's output itself.
///
/// After each job `next` says whether the batch goes on and with which new jobs (`S` is
/// its state for one pass, fresh when the batch runs again). `jobs` grows with them and is
/// cut back to what it was given when the batch runs again: a write on a copy another pod
/// changed meanwhile runs the whole batch again, as it does a single command.
pub(crate) async fn run_batch<J: BatchJob, S: Default>(
    engine: &Arc<Engine>,
    jobs: &mut Vec<J>,
    mark: Option<&str>,
    mut f: impl FnMut(&J, &mut Eval<'_>, &Frame<'_>) -> Result<(), Miss>,
    mut next: impl FnMut(&mut S, &[J], usize, &Run) -> Next<J>,
    mut finish: impl FnMut(&[J], &[Run], &[(u64, u64)]) -> Vec<(Option<String>, Vec<QueueChange>)>,
    parcel: bool,
) -> Result<Batched, StoreError> {
    let given = jobs.len();
    let mut snapshot = Snapshot::new(None);
    for job in jobs.iter() {
        preload(engine, &mut snapshot, &job.spec()).await?;
    }
    let mut conflicts = 0;
    loop {
        jobs.truncate(given);
        let mut state = S::default();
        let mut runs: Vec<Run> = Vec::with_capacity(jobs.len());
        let mut i = 0;
        while i < jobs.len() {
            let job = &jobs[i];
            snapshot.mark = Some(job.mark().to_string());
            let mut limits = limits(engine);
            let mut one = |ev: &mut Eval<'_>, frame: &Frame<'_>| f(job, ev, frame);
            let spec = job.spec();
            let run = match evaluate(engine, &mut snapshot, &spec, &mut limits, &mut one).await {
                Ok(((), emits, queue)) => Ok(Finished {
                    value: (),
                    emits,
                    queue,
                    after: Vec::new(),
                }),
                Err(Stopped::Refused(why)) => Err(why),
                Err(Stopped::Store(error)) => return Err(error),
            };
            let step = next(&mut state, &jobs[..], i, &run);
            runs.push(run);
            i += 1;
            match step {
                Next::Go(more) => {
                    for job in &more {
                        preload(engine, &mut snapshot, &job.spec()).await?;
                    }
                    jobs.extend(more);
                }
                Next::End => break,
            }
        }
        let stale = match torn(&snapshot) {
            Some(stale) => stale,
            None => {
                let prepared = match prepare(engine, &snapshot, mark).await {
                    Ok(prepared) => prepared,
                    Err(Stopped::Store(error)) => return Err(error),
                    Err(Stopped::Refused(_)) => return Ok(Batched::Alone),
                };
                let mut entries = finish(&jobs[..], &runs, &prepared.after);
                if snapshot.kept.writes.is_empty()
                    && entries
                        .iter()
                        .all(|(id, changes)| id.is_none() && changes.is_empty())
                {
                    // Nothing to write, finish or queue: no round trip (the caller sends
                    // the output, as a command's).
                    return Ok(Batched::Done {
                        runs,
                        applied: Applied::default(),
                        parcel: None,
                    });
                }
                let parcel = if parcel {
                    parcel_of(&jobs[..], &runs, &mut entries)
                } else {
                    None
                };
                let entries: Vec<(Option<&str>, &[QueueChange])> = entries
                    .iter()
                    .map(|(id, changes)| (id.as_deref(), changes.as_slice()))
                    .collect();
                let finished = engine
                    .store
                    .queue_finish_batch(&prepared.commit, &entries)
                    .await?;
                match finished {
                    BatchFinished::Done(applied) => {
                        prepared.applied(engine, true).await?;
                        return Ok(Batched::Done {
                            runs,
                            applied,
                            parcel,
                        });
                    }
                    // Work with no entry whose commit applied before (its command runs
                    // again after a pod died): nothing more to do, nothing to send twice.
                    BatchFinished::AlreadyApplied => {
                        return Ok(Batched::Done {
                            runs,
                            applied: Applied::default(),
                            parcel: None,
                        });
                    }
                    BatchFinished::Stale(stale) => stale,
                    BatchFinished::Gone(id) => return Ok(Batched::Gone(id)),
                    BatchFinished::NameTaken(_) => return Ok(Batched::Alone),
                }
            }
        };
        conflicts += 1;
        if conflicts > MAX_CONFLICTS {
            return Ok(Batched::Alone);
        }
        match snapshot.forget(engine, stale).await {
            Ok(()) => {}
            Err(Stopped::Store(error)) => return Err(error),
            Err(Stopped::Refused(_)) => return Ok(Batched::Alone),
        }
    }
}

/// What a batch sends (each job's output, or why it could not run, told to its
/// executor), added to the first group's changes as its outbox parcel.
fn parcel_of<J: BatchJob>(
    jobs: &[J],
    runs: &[Run],
    entries: &mut [(Option<String>, Vec<QueueChange>)],
) -> Option<(String, Vec<Emit>)> {
    let mut emits = Vec::new();
    for (run, job) in runs.iter().zip(jobs) {
        match run {
            Ok(finished) => emits.extend(finished.emits.iter().cloned()),
            Err(why) => emits.push(Emit::To(job.spec().executor, why.clone())),
        }
    }
    let (_, changes) = entries.first_mut()?;
    if emits.is_empty() {
        return None;
    }
    // Not `q:<entry>`: that is the id of the entry's output when it runs alone, and a
    // pod that died after such a run leaves it seen by the gateways.
    let id = format!("b:{}", jobs.first()?.mark());
    // Emits are plain data; serialising them cannot fail.
    let body = serde_json::to_string(&emits).unwrap_or_default();
    changes.push(QueueChange::Parcel {
        id: id.clone(),
        body,
    });
    Some((id, emits))
}

/// Almost every command reads its executor and where it stands: they are loaded up front
/// rather than through two misses and re-runs.
async fn preload(
    engine: &Arc<Engine>,
    snapshot: &mut Snapshot,
    spec: &Spec<'_>,
) -> Result<(), StoreError> {
    load(engine, snapshot, spec.executor).await?;
    load(engine, snapshot, spec.enactor).await?;
    if let Some(Some(object)) = snapshot.objects.get(&spec.executor).cloned() {
        load(engine, snapshot, object.location).await?;
        // Every typed line is first tried as an exit here. Only the exits come now: the
        // room's contents (a crowd, each converted) are read when a command needs them,
        // so a `think` in a room of hundreds does not read them all. A batch's later jobs
        // in the same room keep the list its first read (one view of the room per batch,
        // and no read per job).
        if let Some(room) = from_i64(object.location)
            && !snapshot.exits.contains_key(&object.location)
        {
            load_exits(engine, snapshot, room).await?;
        }
    }
    Ok(())
}

/// Reads a room's exits into the snapshot, each exit with them.
async fn load_exits(
    engine: &Arc<Engine>,
    snapshot: &mut Snapshot,
    room: Dbref,
) -> Result<(), StoreError> {
    let exits = engine.exits(room).await?;
    members_loaded(engine, snapshot, &exits).await?;
    let ids: Vec<i64> = exits.iter().map(|o| to_i64(o.id)).collect();
    snapshot.exits.insert(to_i64(room), ids);
    Ok(())
}

/// Puts the members of a list read into the snapshot, those it does not hold yet.
async fn members_loaded(
    engine: &Arc<Engine>,
    snapshot: &mut Snapshot,
    members: &[Arc<Object>],
) -> Result<(), StoreError> {
    // A crowded room's players are checked for connections together, not one by one.
    let fresh: Vec<&Arc<Object>> = members
        .iter()
        .filter(|o| !snapshot.objects.contains_key(&to_i64(o.id)))
        .collect();
    let players: Vec<Dbref> = fresh
        .iter()
        .filter(|o| o.kind == Kind::Player)
        .map(|o| o.id)
        .collect();
    let mut conns = engine.conns_of(&players).await?.into_iter();
    for object in fresh {
        let mut seen = convert(object);
        if object.kind == Kind::Player && conns.next().is_some_and(|c| !c.is_empty()) {
            mark_connected(&mut seen);
        }
        let key = to_i64(object.id);
        snapshot.objects.insert(key, Some(Arc::new(seen)));
        snapshot.raw.insert(key, object.clone());
    }
    Ok(())
}

fn limits(engine: &Engine) -> Limits {
    Limits {
        master_room: to_i64(engine.settings.master_room),
        pemit_far_players: engine.settings.pemit_far_players,
        pemit_any_object: engine.settings.pemit_any_object,
        ..Limits::default()
    }
}

/// Runs `f` until it finishes without a miss (fetching what each miss names), and keeps
/// its changes in the snapshot. The CPU budget in `limits` is the command's, not each
/// run's: re-runs spend from what is left.
async fn evaluate<T>(
    engine: &Arc<Engine>,
    snapshot: &mut Snapshot,
    spec: &Spec<'_>,
    limits: &mut Limits,
    f: &mut impl FnMut(&mut Eval<'_>, &Frame<'_>) -> Result<T, Miss>,
) -> Result<(T, Vec<Emit>, Vec<QueueOp>), Stopped> {
    let (me, cause) = (spec.executor, spec.enactor);
    for _ in 0..MAX_FETCHES {
        snapshot.begin();
        // The evaluator (not Send) lives only inside this block, never across an await.
        let outcome = {
            let mut ev = Eval::new(snapshot, *limits);
            for (name, value) in spec.regs {
                ev.regs.set(name, value.clone());
            }
            let frame = Frame {
                executor: me,
                caller: spec.caller,
                enactor: cause,
                args: spec.args,
            };
            let result = f(&mut ev, &frame).map(|value| {
                (
                    value,
                    std::mem::take(&mut ev.emits),
                    std::mem::take(&mut ev.queue),
                )
            });
            limits.steps = limits.steps.saturating_sub(ev.steps());
            result
        };
        match outcome {
            Ok(done) => {
                snapshot.keep();
                return Ok(done);
            }
            Err(miss) => fetch(engine, snapshot, miss).await?,
        }
    }
    Err(Stopped::Refused(
        "That command needs too much of the world at once.".into(),
    ))
}

/// An object of the snapshot older than a commit another object of it comes from (see
/// [`mush_store::torn`]).
fn torn(snapshot: &Snapshot) -> Option<Dbref> {
    mush_store::torn(snapshot.raw.values().map(|o| &**o), |id| {
        let key = to_i64(id);
        match (snapshot.raw.get(&key), snapshot.objects.get(&key)) {
            (Some(object), _) => Some(Some(&**object)),
            (None, Some(None)) => Some(None),
            _ => None,
        }
    })
}

fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    u64::from(nanos) | 1
}

async fn fetch(engine: &Arc<Engine>, snapshot: &mut Snapshot, miss: Miss) -> Result<(), Stopped> {
    match miss {
        Miss::Object(id) => load(engine, snapshot, id).await?,
        Miss::Lists(id) => {
            let Some(dbref) = from_i64(id) else {
                snapshot.contents.insert(id, Vec::new());
                snapshot.exits.insert(id, Vec::new());
                return Ok(());
            };
            // The members come with the lists (name matching reads every one of them), so
            // they go into the snapshot now rather than through one miss each.
            let members = engine.contents(dbref).await?;
            members_loaded(engine, snapshot, &members).await?;
            // TinyMUX lists the newest arrival first.
            let contents: Vec<i64> = members.iter().rev().map(|o| to_i64(o.id)).collect();
            snapshot.contents.insert(id, contents);
            if !snapshot.exits.contains_key(&id) {
                load_exits(engine, snapshot, dbref).await?;
            }
        }
        Miss::PlayerName(name) => {
            let found = engine.store.player_by_name(&name).await?.map(to_i64);
            snapshot.players.insert(name, found);
        }
        Miss::Connections => {
            let rows = engine.who_rows().await?;
            snapshot.connections = Some(crate::commands::connections(&rows));
        }
        Miss::Queue => snapshot.queued = Some(crate::queue::view(engine).await?),
        Miss::Password(id, secret) => {
            let hash = match from_i64(id) {
                Some(dbref) => engine
                    .object(dbref)
                    .await?
                    .map(|o| o.password_hash.clone())
                    .unwrap_or_default(),
                None => String::new(),
            };
            let matches = !hash.is_empty() && engine.passwords.verify(&secret.0, &hash).await;
            snapshot.passwords.insert((id, secret), matches);
        }
        Miss::NewObject => {
            let mark = snapshot.mark.clone();
            let allocated = snapshot.allocated.entry(mark.clone()).or_default();
            let id = engine
                .store
                .allocate_for(mark.as_deref(), allocated.len())
                .await?;
            allocated.push(to_i64(id));
        }
        Miss::Search(query) => {
            let found = search(engine, &query).await?;
            snapshot.searches.insert(*query, found);
        }
        Miss::Refused(why) => return Err(Stopped::Refused(format!("Sorry, {why}."))),
    }
    Ok(())
}

/// Loads an object and, since `u()` and `get()` walk parent chains, its parents too (from
/// the pod's cache when they are there), so a chain costs one re-run, not one per parent.
async fn load(engine: &Arc<Engine>, snapshot: &mut Snapshot, id: i64) -> Result<(), StoreError> {
    let mut next = id;
    for _ in 0..=mush_softcode::functions::objects::PARENT_DEPTH {
        if next < 0 || snapshot.objects.contains_key(&next) {
            break;
        }
        let object = match from_i64(next) {
            Some(dbref) => engine.object(dbref).await?,
            None => None,
        };
        let Some(object) = object else {
            snapshot.objects.insert(next, None);
            break;
        };
        let seen = converted(engine, &object).await?;
        let parent = seen.parent;
        snapshot.objects.insert(next, Some(Arc::new(seen)));
        snapshot.raw.insert(next, object);
        next = parent;
    }
    Ok(())
}

/// Applies a finished run's writes in one [`mush_store::Commit`]: every object it read
/// must still be at the version it read, and then every write, index change and player
/// name applies at once. Returns what it wrote (see [`Finished::after`]), or the object
/// that had moved on (nothing is written then).
async fn apply(
    engine: &Arc<Engine>,
    snapshot: &Snapshot,
    mark: Option<&str>,
) -> Result<Result<Vec<(u64, u64)>, Dbref>, Stopped> {
    if snapshot.kept.writes.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let prepared = prepare(engine, snapshot, mark).await?;
    let applied = match engine.store.commit(&prepared.commit).await? {
        Committed::Applied => true,
        Committed::AlreadyApplied => false,
        Committed::Stale(id) => return Ok(Err(id)),
        Committed::NameTaken(_) => {
            return Err(Stopped::Refused("That name is already in use.".into()));
        }
    };
    prepared.applied(engine, applied).await?;
    Ok(Ok(prepared.after))
}

/// A commit ready to send, with what its writer caches once it applied.
struct Prepared {
    commit: Commit,
    /// Each object it writes, with the version the commit leaves.
    after: Vec<(u64, u64)>,
    /// The one object a one-object commit writes, as read, with its eviction count.
    single: Option<(Arc<Object>, u64)>,
}

impl Prepared {
    /// Updates this pod's cache and tells the others, once the commit applied (`fresh`:
    /// by this call, so the written copy is known exactly).
    async fn applied(&self, engine: &Arc<Engine>, fresh: bool) -> Result<(), StoreError> {
        let commit = &self.commit;
        let mut touched: Vec<Dbref> = Vec::new();
        match (&self.single, commit.writes.first()) {
            (Some((read, seen)), Some((_, changes))) if fresh => {
                let at = commit.at.unwrap_or_default();
                engine
                    .wrote(Arc::new(read.committed(changes, at)?), *seen)
                    .await;
            }
            _ => touched.extend(
                commit
                    .creates
                    .iter()
                    .chain(commit.writes.iter())
                    .map(|(id, _)| *id),
            ),
        }
        // Every container whose lists changed.
        for (_, index, _) in &commit.indexes {
            if let Index::Contents(c) | Index::Exits(c) = index
                && !touched.contains(c)
            {
                touched.push(*c);
            }
        }
        engine.changed(&touched).await;
        Ok(())
    }
}

/// The commit of what the snapshot's finished runs wrote: every object read, at the
/// version read, and every write.
async fn prepare(
    engine: &Arc<Engine>,
    snapshot: &Snapshot,
    mark: Option<&str>,
) -> Result<Prepared, Stopped> {
    let writes = &snapshot.kept.writes;
    let mut commit = Commit {
        mark: mark.map(str::to_string),
        ..Commit::default()
    };
    let created: Vec<Dbref> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Create(id, ..) => Some(*id),
            _ => None,
        })
        .collect();
    let mut order: Vec<Dbref> = Vec::new();
    let mut changes: HashMap<Dbref, Vec<FieldChange>> = HashMap::new();
    let search = |index, value: String, id| (IndexChange::Add, Index::Search(index, value), id);
    for write in writes {
        let set = |k: &str, v: String| FieldChange::Set(k.to_string(), v);
        let (id, list) = match write {
            Write::Attr(id, name, value, owner, flags) => {
                let name = name.to_uppercase();
                if name == "STARTUP" && !value.is_empty() {
                    // What a shard start runs (see `crate::queue::startup`).
                    commit
                        .indexes
                        .push(search(SearchIndex::Startup, String::new(), *id));
                }
                let list = if value.is_empty() {
                    vec![
                        FieldChange::Delete(format!("a:{name}")),
                        FieldChange::Delete(format!("m:{name}")),
                    ]
                } else {
                    vec![
                        set(&format!("a:{name}"), value.clone()),
                        set(&format!("m:{name}"), format!("{} {flags}", owner.0)),
                    ]
                };
                (*id, list)
            }
            Write::Field(id, field, value) => {
                if *field == Field::Parent && !value.is_empty() {
                    commit
                        .indexes
                        .push(search(SearchIndex::Parent, value.clone(), *id));
                }
                (*id, vec![set(field.key(), value.clone())])
            }
            Write::Flags(id, flags) => (*id, vec![set(Field::Flags.key(), flags.join(" "))]),
            Write::Move(id, from, to, exit) => {
                let list = |c: Dbref| {
                    if *exit {
                        Index::Exits(c)
                    } else {
                        Index::Contents(c)
                    }
                };
                if let Some(from) = from {
                    commit.indexes.push((IndexChange::Remove, list(*from), *id));
                }
                if let Some(to) = to {
                    commit.indexes.push((IndexChange::Add, list(*to), *id));
                }
                let place = to.map(|d| d.0.to_string()).unwrap_or_default();
                (*id, vec![set(Field::Location.key(), place)])
            }
            Write::Owner(id, old, new) => {
                commit.indexes.push((
                    IndexChange::Remove,
                    Index::Search(SearchIndex::Owner, old.0.to_string()),
                    *id,
                ));
                commit
                    .indexes
                    .push(search(SearchIndex::Owner, new.0.to_string(), *id));
                (*id, vec![set(Field::Owner.key(), new.0.to_string())])
            }
            Write::PlayerName(id, old, new) => {
                commit.names.push((NameChange::Claim, new.clone(), *id));
                if !old.eq_ignore_ascii_case(new) {
                    commit.names.push((NameChange::Free, old.clone(), *id));
                }
                (*id, vec![set(Field::Name.key(), new.clone())])
            }
            Write::Password(id, secret) => {
                let hash = engine.passwords.hash(&secret.0).await.map_err(|error| {
                    tracing::error!(%error, "password hash failed");
                    Stopped::Refused("Sorry, that password could not be set; try again.".into())
                })?;
                (*id, vec![set(Field::PasswordHash.key(), hash)])
            }
            Write::Create(id, kind, name, owner, location) => {
                let now = (mush_store::now_ms() / 1000).to_string();
                let kind = store_kind(*kind);
                if kind == Kind::Player {
                    commit.names.push((NameChange::Claim, name.clone(), *id));
                }
                commit
                    .indexes
                    .push(search(SearchIndex::Owner, owner.0.to_string(), *id));
                commit
                    .indexes
                    .push(search(SearchIndex::Type, kind.as_str().to_string(), *id));
                let list = vec![
                    set("type", kind.as_str().to_string()),
                    set(Field::Name.key(), name.clone()),
                    set(Field::Owner.key(), owner.0.to_string()),
                    set(
                        Field::Location.key(),
                        location.map(|d| d.0.to_string()).unwrap_or_default(),
                    ),
                    set("created", now.clone()),
                    set("modified", now),
                ];
                (*id, list)
            }
        };
        if !order.contains(&id) {
            order.push(id);
        }
        changes.entry(id).or_default().extend(list);
    }
    for id in order {
        let list = changes.remove(&id).unwrap_or_default();
        if created.contains(&id) {
            commit.creates.push((id, list));
        } else {
            commit.writes.push((id, list));
        }
    }
    // Every object the run read, at the version it read: a decision taken on a copy
    // another pod has since changed is taken again. What only reads needs no check (it
    // answers from its snapshot, kept whole by `torn`), so nothing is sent for it.
    if !writes.is_empty() {
        commit.reads = snapshot
            .raw
            .iter()
            .filter_map(|(id, object)| Some((from_i64(*id)?, object.version)))
            .collect();
        commit.reads.sort_unstable();
    }
    commit.at = Some((mush_store::now_ms() / 1000) as i64);
    // A command that changed one object (most do) keeps what it made of it in the cache,
    // so the next command on it needs no read from Redis.
    let single = match (commit.creates.as_slice(), commit.writes.as_slice()) {
        ([], [(id, _)]) => snapshot
            .raw
            .get(&to_i64(*id))
            .map(|read| (read.clone(), engine.cache.evictions_of(*id))),
        _ => None,
    };
    let version = |id: &Dbref| snapshot.raw.get(&to_i64(*id)).map_or(0, |o| o.version);
    let after = commit
        .creates
        .iter()
        .map(|(id, _)| (id.0, 1))
        .chain(commit.writes.iter().map(|(id, _)| (id.0, version(id) + 1)))
        .collect();
    Ok(Prepared {
        commit,
        single,
        after,
    })
}

/// Delivers a finished run's output.
pub(crate) async fn deliver<T>(
    engine: &Arc<Engine>,
    finished: &Finished<T>,
) -> Result<(), StoreError> {
    deliver_emits(engine, &finished.emits).await
}

/// Sends `emits` as one parcel under `id` (see [`Engine::send_parcel`]): nothing leaves
/// unless all of it was resolved to connections, and a gateway passes an id on once.
pub(crate) async fn deliver_parcel(
    engine: &Arc<Engine>,
    id: &str,
    emits: &[Emit],
    confirm: bool,
) -> Result<(), StoreError> {
    let (resolved, events) = engine.collect(deliver_emits(engine, emits)).await;
    resolved?;
    engine.send_parcel(id, events, confirm);
    Ok(())
}

async fn deliver_emits(engine: &Arc<Engine>, emits: &[Emit]) -> Result<(), StoreError> {
    for emit in emits {
        match emit {
            Emit::To(id, text) => {
                if let Some(id) = from_i64(*id) {
                    engine.notify(id, text).await?;
                }
            }
            Emit::Room { room, except, text } => {
                if let Some(room) = from_i64(*room) {
                    let except: Vec<Dbref> = except.iter().filter_map(|e| from_i64(*e)).collect();
                    engine.emit_room_except(room, text, &except).await?;
                }
            }
            Emit::Boot { player, text } => {
                if let Some(player) = from_i64(*player) {
                    engine.boot(player, text.as_deref().unwrap_or("")).await?;
                }
            }
        }
    }
    Ok(())
}

/// Most objects one search may look at: a search wider than this is refused with a clear
/// message rather than read a whole large world.
const MAX_SEARCHED: usize = 20_000;

/// Answers `lsearch()`/`children()` from the narrowest search index, checking every entry
/// against its object (and removing the stale ones) before applying the whole query.
async fn search(engine: &Arc<Engine>, query: &Search) -> Result<Vec<i64>, Stopped> {
    let kind_name = |k: SKind| store_kind(k).as_str();
    let mut groups: Vec<(SearchIndex, String)> = Vec::new();
    if let Some(parent) = query.parent {
        groups.push((SearchIndex::Parent, parent.to_string()));
    } else if let Some(owner) = query.owner {
        groups.push((SearchIndex::Owner, owner.to_string()));
    } else if let Some(kind) = query.kind {
        groups.push((SearchIndex::Type, kind_name(kind).into()));
    } else {
        for kind in [SKind::Room, SKind::Thing, SKind::Exit, SKind::Player] {
            groups.push((SearchIndex::Type, kind_name(kind).into()));
        }
    }
    let mut found = Vec::new();
    for (index, value) in groups {
        let members = engine.store.search_index(index, &value).await?;
        if members.len() > MAX_SEARCHED {
            return Err(Stopped::Refused(format!(
                "That search would read more than {MAX_SEARCHED} objects; narrow it (by owner, type or parent)."
            )));
        }
        for chunk in members.chunks(256) {
            let objects =
                futures_util::future::try_join_all(chunk.iter().map(|&id| engine.object(id)))
                    .await?;
            for (&id, object) in chunk.iter().zip(objects) {
                let Some(object) = object else {
                    engine.store.unindex_for_search(index, &value, id).await?;
                    continue;
                };
                let o = convert(&object);
                let truth = match index {
                    SearchIndex::Owner => o.owner.to_string(),
                    SearchIndex::Type => kind_name(o.kind).into(),
                    SearchIndex::Parent => o.parent.to_string(),
                    // Never searched by softcode (only a shard start reads it).
                    SearchIndex::Startup => value.clone(),
                };
                if truth != value {
                    engine.store.unindex_for_search(index, &value, id).await?;
                    continue;
                }
                if query.matches(&o) {
                    found.push(o.id);
                }
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}
