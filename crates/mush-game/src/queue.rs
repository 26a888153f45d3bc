//! The command queue on a game pod: what softcode asks of the queue goes to the shard's
//! durable queue in Redis ([`submit`]), and every pod runs the entries that come due
//! ([`worker`]), whichever pod queued them.
//!
//! Exactly once: an entry's id is derived from what produced it, so a producer that runs
//! again adds nothing twice; an entry is claimed with a lease; its world writes carry the
//! entry's id as their command mark, so a second run after a pod died writes nothing the
//! first one wrote; and finishing it removes it and queues what it produced in one script.

use std::sync::Arc;
use std::time::Duration;

use mush_softcode::queue::{Job, Notice, QueueOp, Wait};
use mush_store::{Applied, Claimed, NewEntry, QueueChange, StoreError};

use crate::engine::Engine;

/// How long a claimed entry is a pod's before another may run it (a pod killed mid-run
/// delays its entries by at most this).
const LEASE_MS: u64 = 5_000;

/// Most entries claimed at once. A claim that takes every due entry lets its batches run
/// what those entries queue to run now without a round trip to Redis per job (see
/// [`Inline`]), which is most of the queue's cost: 1,000 `@wait 0` entries each queueing a
/// `@trigger` drained in 94 ms with claims of 16, 46 ms with claims of this size. Entries
/// a pod cannot run within [`RELEASE_AFTER`] go back to the queue for any pod.
const CLAIM_BATCH: usize = 1024;

/// How long a pod runs the entries of one claim before giving back those it has not
/// started (half the lease: what it runs meanwhile finishes inside the lease, one job at
/// its CPU limit and one batch past [`BATCH_TIME`] included).
const RELEASE_AFTER: Duration = Duration::from_millis(LEASE_MS / 2);

/// How often an idle pod looks for due entries (timed entries fire within this of their
/// time, plus the claim's round trip).
const POLL: Duration = Duration::from_millis(20);

/// How long a pod waits after a failed claim (Redis down or failing over).
const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// Longest entry id kept as written; longer ones (deep chains) are hashed.
const ID_MAX: usize = 120;

/// The id of the `n`th entry a producer queued.
fn child_id(producer: &str, n: usize) -> String {
    let id = format!("{producer}/{n}");
    if id.len() <= ID_MAX {
        return id;
    }
    // FNV-1a: stable across pods and versions, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("~{hash:016x}")
}

fn to_u64(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

/// Turns what softcode asked into store changes, entries named after `producer`.
/// `after` is what the producer wrote (see [`NewEntry::after`]).
fn changes(producer: &str, ops: &[QueueOp], after: &[(u64, u64)]) -> Vec<QueueChange> {
    changes_but(producer, ops, after, |_| false)
}

/// [`changes`] without the requests for which `ran` is true (by their place in `ops`):
/// jobs a batch ran instead of queueing them.
fn changes_but(
    producer: &str,
    ops: &[QueueOp],
    after: &[(u64, u64)],
    ran: impl Fn(usize) -> bool,
) -> Vec<QueueChange> {
    let mut out = Vec::with_capacity(ops.len());
    for (n, op) in ops.iter().enumerate() {
        if ran(n) {
            continue;
        }
        out.push(match op {
            QueueOp::Add { job, wait } => {
                let (delay_ms, semaphore) = match wait {
                    Wait::Now => (Some(0), None),
                    Wait::Delay(ms) => (Some(*ms), None),
                    Wait::Semaphore {
                        object,
                        attr,
                        timeout,
                    } => (*timeout, Some((to_u64(*object), attr.clone()))),
                };
                let body = match serde_json::to_string(job) {
                    Ok(body) => body,
                    Err(error) => {
                        tracing::error!(%error, producer, "queue entry not serialisable; dropped");
                        continue;
                    }
                };
                QueueChange::Add(NewEntry {
                    id: child_id(producer, n),
                    executor: to_u64(job.executor),
                    owner: to_u64(job.owner),
                    delay_ms,
                    semaphore,
                    quota: job.quota,
                    body,
                    after: after.to_vec(),
                })
            }
            QueueOp::Notify {
                object,
                attr,
                count,
                drain,
            } => QueueChange::Notify {
                object: to_u64(*object),
                attr: attr.clone(),
                count: *count,
                drain: *drain,
            },
            QueueOp::Halt { object, owner, .. } => QueueChange::Halt {
                executor: object.map(to_u64),
                owner: owner.map(to_u64),
            },
        });
    }
    out
}

/// Sends a player command's queue requests to the shard's queue. `producer` is the
/// command's mark (`<handle>:<seq>`), so submitting again after a rescue adds nothing twice.
pub(crate) async fn submit(
    engine: &Arc<Engine>,
    producer: &str,
    ops: Vec<QueueOp>,
    after: &[(u64, u64)],
) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Ok(());
    }
    let tells = halt_tells(&ops);
    let changes = changes(producer, &ops, after);
    let applied = engine.store.queue_apply(&changes).await?;
    if changes
        .iter()
        .any(|c| matches!(c, QueueChange::Add(e) if e.delay_ms == Some(0)))
    {
        engine.queue_wake.notify_one();
    }
    report(engine, &tells, &applied).await
}

/// Who each `@halt` among `ops` tells, in order.
fn halt_tells(ops: &[QueueOp]) -> Vec<i64> {
    ops.iter()
        .filter_map(|op| match op {
            QueueOp::Halt { tell, .. } => Some(*tell),
            _ => None,
        })
        .collect()
}

/// Runs one of the game's own hooks (`@aconnect`, `@adisconnect`, `@startup`) as
/// `executor` and submits what it queued under `producer`, so a hook that runs again (its
/// command re-sent after a pod died) queues nothing twice. A hook the world refuses (it
/// needs too much of it) is logged: the player's own command still goes on.
pub(crate) async fn hook(
    engine: &Arc<Engine>,
    executor: mush_store::Dbref,
    producer: &str,
    f: impl FnMut(&mut mush_softcode::Eval<'_>, &mush_softcode::Frame<'_>) -> mush_softcode::R,
) -> Result<(), StoreError> {
    match crate::softcode::run(engine, executor, Some(producer), f).await {
        Ok(mut finished) => {
            let ops = std::mem::take(&mut finished.queue);
            submit(engine, producer, ops, &finished.after).await?;
            crate::softcode::deliver(engine, &finished).await
        }
        Err(crate::softcode::Stopped::Store(error)) => Err(error),
        Err(crate::softcode::Stopped::Refused(why)) => {
            tracing::warn!(%executor, producer, why, "hook not run");
            Ok(())
        }
    }
}

/// Most objects one shard start runs `@startup` for (those that set it and their
/// descendants): beyond this the rest are logged, not run.
const STARTUP_MAX: usize = 10_000;

/// Queues every `@startup` of the world, as TinyMUX does when it starts: objects that set
/// the attribute and, since it is inherited, their children to [`PARENT_DEPTH`]
/// generations. Only the pod that starts the shard calls this (see
/// `Store::claim_shard_start`); `start` names the start, so each object's `@startup` is
/// queued once per start.
///
/// [`PARENT_DEPTH`]: mush_softcode::functions::objects::PARENT_DEPTH
pub(crate) async fn startup(engine: &Arc<Engine>, start: &str) -> Result<usize, StoreError> {
    use mush_store::SearchIndex;
    let mut objects = engine.store.search_index(SearchIndex::Startup, "").await?;
    let mut seen: std::collections::HashSet<mush_store::Dbref> = objects.iter().copied().collect();
    let mut generation = objects.clone();
    for _ in 0..mush_softcode::functions::objects::PARENT_DEPTH {
        let mut children = Vec::new();
        for parent in &generation {
            let found = engine
                .store
                .search_index(SearchIndex::Parent, &parent.0.to_string())
                .await?;
            children.extend(found.into_iter().filter(|c| seen.insert(*c)));
        }
        if children.is_empty() || objects.len() > STARTUP_MAX {
            break;
        }
        objects.extend(children.iter().copied());
        generation = children;
    }
    if objects.len() > STARTUP_MAX {
        tracing::warn!(
            found = objects.len(),
            run = STARTUP_MAX,
            "too many @startup objects; the rest are not run"
        );
        objects.truncate(STARTUP_MAX);
    }
    for &object in &objects {
        let producer = format!("startup:{start}:{}", object.0);
        let id = crate::softcode::to_i64(object);
        hook(engine, object, &producer, |ev, _| {
            mush_softcode::hooks::startup(ev, id)
        })
        .await?;
    }
    Ok(objects.len())
}

/// Most entries `@ps` lists (it counts them all): TinyMUX lists every one, but a shard's
/// queue may hold the work of many thousands of objects.
const PS_MAX: usize = 1_000;

/// The shard's queue as `@ps` sees it.
pub(crate) async fn view(engine: &Engine) -> Result<mush_softcode::QueueView, StoreError> {
    let listing = engine.store.queue_list(PS_MAX).await?;
    let now = listing.now_ms as i64;
    let entries = listing
        .entries
        .iter()
        .filter_map(|listed| {
            // A body this pod cannot read (a newer pod's format) is counted, not listed.
            let job: Job = serde_json::from_str(&listed.body).ok()?;
            Some(mush_softcode::Queued {
                executor: job.executor,
                owner: job.owner,
                enactor: job.enactor,
                actions: job.actions,
                args: job.args,
                wait_ms: listed.due_ms.map(|due| due as i64 - now),
                semaphore: listed.semaphore.map(|s| s as i64),
            })
        })
        .collect();
    Ok(mush_softcode::QueueView {
        entries,
        waiting: listing.waiting,
        semaphores: listing.semaphores,
    })
}

/// Says what applying queue changes did, as TinyMUX does: each `@halt`'s count to whoever
/// halted; to an owner that went over its quota, that its objects were halted, with the
/// object that went over set HALT (so its `$`-commands stop until someone clears it).
async fn report(engine: &Arc<Engine>, tells: &[i64], applied: &Applied) -> Result<(), StoreError> {
    for (&tell, &count) in tells.iter().zip(&applied.halted) {
        // A halt whose entry was already finished elsewhere was not applied.
        let Some(count) = count else {
            continue;
        };
        let notice = Notice::Halted {
            tell,
            count: count as usize,
        };
        let (to, text) = notice.message();
        if let Ok(to) = u64::try_from(to) {
            engine.notify(mush_store::Dbref(to), &text).await?;
        }
    }
    for &(owner, object) in &applied.runaway {
        let notice = Notice::Runaway {
            owner: owner as i64,
            object: object as i64,
        };
        engine
            .notify(mush_store::Dbref(owner), &notice.message().1)
            .await?;
        set_halt(engine, mush_store::Dbref(object)).await?;
    }
    Ok(())
}

/// Sets an object HALT, checked against the version read so a concurrent flag change is
/// not lost (a few tries; an object that keeps changing is left as it is, and logged).
async fn set_halt(engine: &Arc<Engine>, id: mush_store::Dbref) -> Result<(), StoreError> {
    for _ in 0..5 {
        engine.cache.evict(id);
        let Some(object) = engine.object(id).await? else {
            return Ok(());
        };
        if object.has_flag("HALT") {
            return Ok(());
        }
        let mut flags = object.flags.clone();
        flags.push("HALT".into());
        let change =
            mush_store::FieldChange::Set(mush_store::Field::Flags.key().into(), flags.join(" "));
        if engine
            .store
            .write_if_version(id, object.version, None, &[change])
            .await?
        {
            engine.changed(&[id]).await;
            return Ok(());
        }
    }
    tracing::warn!(%id, "run-away object not set HALT: it kept changing");
    Ok(())
}

/// Runs due entries until `stop` says so. Errors are logged and retried: an entry whose
/// run failed keeps its lease until it runs out, then runs again (its writes are marked).
pub(crate) async fn worker(engine: Arc<Engine>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let (claimed, pause) = match engine.store.queue_claim(CLAIM_BATCH, LEASE_MS).await {
            Ok(claimed) => (claimed, POLL),
            Err(error) => {
                // Redis is away: look again after a while, not 50 times a second.
                tracing::warn!(%error, "queue claim failed; retrying in {CLAIM_RETRY:?}");
                (Vec::new(), CLAIM_RETRY)
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = engine.queue_wake.notified() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        // A claim that took every due entry: what they queue to run now is next in line.
        let inline = claimed.len() < CLAIM_BATCH;
        if let Err(error) = run_claimed(&engine, claimed, inline).await {
            tracing::warn!(%error, "queued entries failed; they run again when their leases end");
        }
    }
}

/// How often the outbox loop removes confirmed parcels.
const OUTBOX_TICK: Duration = Duration::from_millis(100);

/// How often it looks for parcels nobody confirmed (their pod died).
const OUTBOX_RESCUE: Duration = Duration::from_millis(500);

/// Output older than this is dropped rather than delivered: it would only confuse.
const PARCEL_MAX_AGE_MS: u64 = 60_000;

/// Keeps the outbox (see [`mush_store::Parcel`]): removes the parcels this pod's gateways
/// confirmed, and delivers again those whose lease ran out, whichever pod wrote them, until
/// `stop` says so (then once more, so what was just confirmed is not sent again).
pub(crate) async fn outbox(engine: Arc<Engine>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last_rescue = tokio::time::Instant::now();
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(OUTBOX_TICK) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        if stopping {
            // The last batches' confirmations are a round trip away.
            tokio::time::sleep(OUTBOX_TICK).await;
        }
        let done = std::mem::take(&mut *crate::engine::lock(&engine.confirmed));
        if let Err(error) = engine.store.outbox_done(&done).await {
            tracing::warn!(%error, parcels = done.len(), "confirmed output not removed; it is sent again and dropped by the gateways");
        }
        if stopping {
            return;
        }
        if last_rescue.elapsed() < OUTBOX_RESCUE {
            continue;
        }
        last_rescue = tokio::time::Instant::now();
        engine.forget_unconfirmed(Duration::from_millis(PARCEL_MAX_AGE_MS));
        engine.prune_waiting();
        let parcels = match engine.store.outbox_claim(64).await {
            Ok(parcels) => parcels,
            Err(error) => {
                tracing::debug!(%error, "outbox not read; trying again");
                continue;
            }
        };
        let mut dropped = Vec::new();
        for parcel in parcels {
            let emits = serde_json::from_str::<Vec<mush_softcode::Emit>>(&parcel.body);
            match emits {
                Ok(emits) if parcel.age_ms <= PARCEL_MAX_AGE_MS => {
                    engine.metrics.parcels_resent.inc();
                    if let Err(error) =
                        crate::softcode::deliver_parcel(&engine, &parcel.id, &emits, true).await
                    {
                        tracing::debug!(%error, id = parcel.id, "output not sent again yet");
                    }
                }
                _ => dropped.push(parcel.id),
            }
        }
        if !dropped.is_empty() {
            tracing::warn!(
                parcels = dropped.len(),
                "output of queued work dropped: unconfirmed for a minute or unreadable"
            );
            engine.metrics.parcels_dropped.inc_by(dropped.len() as u64);
            crate::engine::lock(&engine.confirmed).extend(dropped);
        }
    }
}

/// True when a job asked something of the queue that the next job must already see
/// (TinyMUX applies a halt or a notify at once).
fn ordered(ops: &[QueueOp]) -> bool {
    ops.iter()
        .any(|op| matches!(op, QueueOp::Halt { .. } | QueueOp::Notify { .. }))
}

/// Most jobs one batch runs that were queued inside it (see [`Inline`]).
const INLINE_JOBS: usize = 10_000;

/// How long one batch goes on running: past this it ends after the job running, and
/// what it has not run goes to the queue (or, for claimed entries, to the next batch).
/// Far inside [`LEASE_MS`], and short enough that a command running its queued work at
/// once answers its player soon.
const BATCH_TIME: Duration = Duration::from_millis(200);

/// A job of a batch: a claimed entry, or a job queued to run now by a job of the batch
/// or by the command that started it, run in the batch rather than through Redis.
struct Pending {
    /// Its queue entry's id; for a job run at once, the id its entry would have had.
    id: String,
    job: Job,
    /// The semaphore it waited on, when its timeout ran out.
    timed_out: Option<(u64, String)>,
    /// Which request queued it: the place in the batch of the job that queued it (`None`:
    /// the command that started the batch) and which of its requests it was. `None` for a
    /// claimed entry.
    from: Option<(Option<usize>, usize)>,
}

impl crate::softcode::BatchJob for Pending {
    fn spec(&self) -> crate::softcode::Spec<'_> {
        spec(&self.job)
    }

    fn mark(&self) -> &str {
        &self.id
    }
}

/// How a batch takes in what its jobs queue to run now, one pass of it.
///
/// TinyMUX runs its queue in order: what a job queues runs after every job queued before
/// it. A batch holding every entry that was due (`inline`), and work a command queued,
/// can run such jobs itself, appended in that order, with no Redis round trip per job:
/// they commit with the batch, or (the batch lost) never happened. It stops taking them
/// in, and they are queued as usual, after [`INLINE_JOBS`], when an owner would have more
/// than its quota waiting (the queue then halts it, as TinyMUX does), or when the batch
/// has run for [`BATCH_TIME`]. A job that halts or notifies ends the batch: the queue
/// must apply that before anything runs after it.
#[derive(Default)]
struct Inline {
    /// The jobs waiting when the first ran are counted in `waiting`.
    counted: bool,
    /// Jobs taken in.
    taken: usize,
    /// No more are taken in.
    closed: bool,
    /// Jobs of the batch not run yet, by owner.
    waiting: std::collections::HashMap<i64, u64>,
}

impl Inline {
    /// After `jobs[i]` ran: what the batch does next. `began`: when the batch first began
    /// (a batch run again after losing a race keeps its first start, so its retries stay
    /// inside the lease).
    fn next(
        &mut self,
        jobs: &[Pending],
        i: usize,
        run: &crate::softcode::Run,
        inline: bool,
        began: std::time::Instant,
    ) -> crate::softcode::Next<Pending> {
        use crate::softcode::Next;
        if self.counted {
            if let Some(n) = self.waiting.get_mut(&jobs[i].job.owner) {
                *n = n.saturating_sub(1);
            }
        } else {
            // The first job ran: the others wait.
            self.counted = true;
            for job in &jobs[i + 1..] {
                *self.waiting.entry(job.job.owner).or_default() += 1;
            }
        }
        let Ok(finished) = run else {
            return Next::Go(Vec::new());
        };
        if ordered(&finished.queue) || began.elapsed() >= BATCH_TIME {
            return Next::End;
        }
        if !inline || self.closed {
            return Next::Go(Vec::new());
        }
        let mut more = Vec::new();
        for (n, op) in finished.queue.iter().enumerate() {
            let QueueOp::Add { job, wait } = op else {
                continue;
            };
            if *wait != Wait::Now {
                continue;
            }
            let waiting = self.waiting.entry(job.owner).or_default();
            if self.taken >= INLINE_JOBS || *waiting >= job.quota {
                self.closed = true;
                break;
            }
            *waiting += 1;
            self.taken += 1;
            more.push(Pending {
                id: child_id(&jobs[i].id, n),
                job: job.clone(),
                timed_out: None,
                from: Some((Some(i), n)),
            });
        }
        Next::Go(more)
    }
}

/// Which requests of which jobs a batch ran rather than queued: (place of the job that
/// queued it, or `None` for the command, request number).
fn ran_in(jobs: &[Pending], runs: usize) -> std::collections::HashSet<(Option<usize>, usize)> {
    jobs[..runs.min(jobs.len())]
        .iter()
        .filter_map(|job| job.from)
        .collect()
}

/// What the batch's runs asked of the queue, as changes, but for what it ran itself.
fn run_changes(
    jobs: &[Pending],
    runs: &[crate::softcode::Run],
    after: &[(u64, u64)],
    ran: &std::collections::HashSet<(Option<usize>, usize)>,
    i: usize,
) -> Vec<QueueChange> {
    let ops = runs[i].as_ref().map_or(&[][..], |r| &r.queue[..]);
    changes_but(&jobs[i].id, ops, after, |n| ran.contains(&(Some(i), n)))
}

/// Runs claimed entries in batches (see [`crate::softcode::run_batch`]): one after
/// another over one snapshot, their writes committed together with their finish.
/// `inline`: the claim took every entry that was due, so what they queue to run now may
/// run in the batch (see [`Inline`]), until a batch leaves such work in the queue.
async fn run_claimed(
    engine: &Arc<Engine>,
    claimed: Vec<Claimed>,
    mut inline: bool,
) -> Result<(), StoreError> {
    // Entries with nothing to run (unreadable, or of a HALT object, as in TinyMUX: its
    // entries were removed when it was halted; these were already claimed then, or
    // queued by a pod that had not yet seen the flag) are finished with nothing.
    let mut idle = Finishing::default();
    let mut jobs: Vec<Pending> = Vec::with_capacity(claimed.len());
    for entry in claimed {
        match serde_json::from_str::<Job>(&entry.body) {
            Ok(job) if !halted(engine, job.executor).await? => {
                engine.cache.catch_up(&entry.after);
                jobs.push(Pending {
                    id: entry.id,
                    job,
                    timed_out: entry.timed_out,
                    from: None,
                });
            }
            Ok(_) => idle.entries.push((entry.id, Vec::new())),
            Err(error) => {
                tracing::error!(%error, id = %entry.id, "unreadable queue entry dropped");
                idle.entries.push((entry.id, Vec::new()));
            }
        }
    }
    idle.flush(engine).await;
    let claim_started = std::time::Instant::now();
    while !jobs.is_empty() {
        if claim_started.elapsed() >= RELEASE_AFTER {
            jobs = release(engine, jobs).await;
            if jobs.is_empty() {
                break;
            }
        }
        let claimed = jobs.len();
        let started = std::time::Instant::now();
        // Whether the batch left work due now in the queue: what later batches of this
        // claim queue must not run before it.
        let mut left_due = false;
        let run =
            |job: &Pending, ev: &mut mush_softcode::Eval<'_>, frame: &mush_softcode::Frame<'_>| {
                perform(ev, frame, &job.job, job.timed_out.as_ref())
            };
        let next = |state: &mut Inline, jobs: &[Pending], i: usize, run: &crate::softcode::Run| {
            state.next(jobs, i, run, inline, started)
        };
        let finish = |jobs: &[Pending], runs: &[crate::softcode::Run], after: &[(u64, u64)]| {
            let groups = claimed_groups(jobs, runs, after, started);
            left_due = groups.iter().any(|(_, changes)| due_now(changes));
            groups
        };
        match crate::softcode::run_batch(engine, &mut jobs, None, run, next, finish, true).await? {
            crate::softcode::Batched::Done {
                runs,
                applied,
                parcel,
            } => {
                if left_due {
                    inline = false;
                }
                let tells: Vec<i64> = runs
                    .iter()
                    .flatten()
                    .flat_map(|finished| halt_tells(&finished.queue))
                    .collect();
                if let Some((id, emits)) = parcel {
                    // Committed with the finish: if this fails, the outbox sends it later.
                    if let Err(error) =
                        crate::softcode::deliver_parcel(engine, &id, &emits, true).await
                    {
                        tracing::warn!(%error, id, "output left in the outbox for later");
                    }
                }
                report(engine, &tells, &applied).await?;
                jobs.truncate(claimed);
                jobs.drain(..runs.len().min(claimed));
            }
            crate::softcode::Batched::Gone(id) => {
                jobs.truncate(claimed);
                jobs.retain(|job| job.id != id);
            }
            crate::softcode::Batched::Alone => {
                jobs.truncate(claimed);
                let mut left = std::mem::take(&mut jobs).into_iter();
                while let Some(job) = left.next() {
                    if claim_started.elapsed() >= RELEASE_AFTER {
                        let rest: Vec<Pending> = std::iter::once(job).chain(left).collect();
                        jobs = release(engine, rest).await;
                        break;
                    }
                    alone(engine, &job).await?;
                }
            }
        }
    }
    Ok(())
}

/// The finish groups of a claimed batch: each claimed entry that ran with what it asked
/// of the queue; what the jobs run in the batch asked goes with the last entry's finish
/// (all of them finish or none), marked with when the batch began (`started`) so that
/// adds of an executor halted meanwhile are dropped.
fn claimed_groups(
    jobs: &[Pending],
    runs: &[crate::softcode::Run],
    after: &[(u64, u64)],
    started: std::time::Instant,
) -> Vec<(Option<String>, Vec<QueueChange>)> {
    let ran = ran_in(jobs, runs.len());
    let mut groups: Vec<(Option<String>, Vec<QueueChange>)> = Vec::new();
    for i in 0..runs.len() {
        let changes = run_changes(jobs, runs, after, &ran, i);
        if jobs[i].from.is_none() {
            groups.push((Some(jobs[i].id.clone()), changes));
        } else if let Some((_, last)) = groups.last_mut()
            && !changes.is_empty()
        {
            last.push(QueueChange::Since {
                elapsed_ms: elapsed_ms(started),
            });
            last.extend(changes);
        }
    }
    groups
}

/// True when `changes` add an entry due at once.
fn due_now(changes: &[QueueChange]) -> bool {
    changes
        .iter()
        .any(|change| matches!(change, QueueChange::Add(entry) if entry.delay_ms == Some(0)))
}

/// Gives back claimed entries this pod has no time left to run (see [`RELEASE_AFTER`]);
/// returns those it keeps: an entry waiting on a semaphore that timed out, which the
/// claim took off its semaphore and only this pod knows to count down.
async fn release(engine: &Arc<Engine>, jobs: Vec<Pending>) -> Vec<Pending> {
    let (keep, back): (Vec<Pending>, Vec<Pending>) =
        jobs.into_iter().partition(|job| job.timed_out.is_some());
    let ids: Vec<&str> = back.iter().map(|job| job.id.as_str()).collect();
    match engine.store.queue_release(&ids).await {
        Ok(n) => tracing::debug!(released = n, "claimed entries given back"),
        Err(error) => {
            tracing::warn!(%error, entries = ids.len(), "claimed entries not given back; they run when their leases end")
        }
    }
    keep
}

fn elapsed_ms(since: std::time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What a command queued and matched, run once it is done (see [`run_now`]).
pub(crate) struct Deferred {
    /// The name its jobs' ids are derived from.
    pub producer: String,
    /// Adds only: what the command queued, then what it matched as `$`-commands.
    pub ops: Vec<QueueOp>,
    /// What the command wrote.
    pub after: Vec<(u64, u64)>,
}

/// Runs what a player's command queued to run now, and what it matched as `$`-commands,
/// on this pod at once, as one batch (see [`Inline`]), instead of through the shard's
/// queue: TinyMUX queues it and runs it before the player's next command, so the player
/// sees the same, and the shard saves an add, a claim and a finish in Redis per job. It
/// stays exactly once: until this returns the command is not acknowledged, so a pod that
/// dies meanwhile has the command sent again and run again; the batch's commit carries a
/// mark derived from the command's (a second commit of it applies nothing), and whatever
/// it leaves queued has ids derived from the same. Its output goes with the command's.
/// What cannot run at once (timed work, semaphores, a job past the batch's limits) goes
/// to the queue in the same commit; if the batch keeps losing races, all of it does.
pub(crate) async fn run_now(engine: &Arc<Engine>, deferred: Deferred) -> Result<(), StoreError> {
    let Deferred {
        producer,
        ops,
        after,
    } = deferred;
    let mut jobs: Vec<Pending> = Vec::new();
    let mut per_owner: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
    for (n, op) in ops.iter().enumerate() {
        if let QueueOp::Add {
            job,
            wait: Wait::Now,
        } = op
        {
            let count = per_owner.entry(job.owner).or_default();
            *count += 1;
            if *count > job.quota {
                // Over its quota: the queue halts the owner, as TinyMUX does.
                return submit(engine, &producer, ops, &after).await;
            }
            jobs.push(Pending {
                id: child_id(&producer, n),
                job: job.clone(),
                timed_out: None,
                from: Some((None, n)),
            });
        }
    }
    if jobs.is_empty() {
        return submit(engine, &producer, ops, &after).await;
    }
    let started = std::time::Instant::now();
    let mark = format!("{producer}/now");
    // Whether the batch left work due now in the queue: this pod's worker is woken for it.
    let mut left_due = false;
    let run =
        |job: &Pending, ev: &mut mush_softcode::Eval<'_>, frame: &mush_softcode::Frame<'_>| {
            perform(ev, frame, &job.job, None)
        };
    let next = |state: &mut Inline, jobs: &[Pending], i: usize, run: &crate::softcode::Run| {
        state.next(jobs, i, run, true, started)
    };
    let finish = |jobs: &[Pending], runs: &[crate::softcode::Run], wrote: &[(u64, u64)]| {
        let ran = ran_in(jobs, runs.len());
        let mut changes = vec![QueueChange::Since {
            elapsed_ms: elapsed_ms(started),
        }];
        changes.extend(changes_but(&producer, &ops, &after, |n| {
            ran.contains(&(None, n))
        }));
        // What the batch's jobs queue must not run on older copies than the command's
        // writes or the batch's.
        let mut wrote_all = after.clone();
        wrote_all.extend_from_slice(wrote);
        for i in 0..runs.len() {
            changes.extend(run_changes(jobs, runs, &wrote_all, &ran, i));
        }
        if changes.len() == 1 {
            changes.clear();
        }
        left_due = due_now(&changes);
        vec![(None, changes)]
    };
    let batched =
        crate::softcode::run_batch(engine, &mut jobs, Some(&mark), run, next, finish, false)
            .await?;
    match batched {
        crate::softcode::Batched::Done { runs, applied, .. } => {
            if left_due {
                engine.queue_wake.notify_one();
            }
            let mut tells = Vec::new();
            for (run, job) in runs.iter().zip(&jobs) {
                match run {
                    Ok(finished) => {
                        tells.extend(halt_tells(&finished.queue));
                        crate::softcode::deliver(engine, finished).await?;
                    }
                    Err(why) => {
                        if let Ok(id) = u64::try_from(job.job.executor) {
                            engine.notify(mush_store::Dbref(id), why).await?;
                        }
                    }
                }
            }
            report(engine, &tells, &applied).await
        }
        crate::softcode::Batched::Gone(_) | crate::softcode::Batched::Alone => {
            // The batch lost its races this time; if an earlier run of the command (its
            // pod died before the answer) committed it, nothing more is to be done.
            if engine.store.batch_committed(&mark).await? {
                return Ok(());
            }
            submit(engine, &producer, ops, &after).await
        }
    }
}

/// True when `executor` is a HALT object (its jobs run nothing).
async fn halted(engine: &Arc<Engine>, executor: i64) -> Result<bool, StoreError> {
    let Ok(id) = u64::try_from(executor) else {
        return Ok(false);
    };
    Ok(engine
        .object(mush_store::Dbref(id))
        .await?
        .is_some_and(|o| o.has_flag("HALT")))
}

/// Runs one claimed entry by itself, as a command under its entry's id, and finishes it.
async fn alone(engine: &Arc<Engine>, entry: &Pending) -> Result<(), StoreError> {
    let (ops, after) = execute(engine, &entry.job, &entry.id, entry.timed_out.clone()).await?;
    let mut finished = Finishing::default();
    finished.tells.extend(halt_tells(&ops));
    finished
        .entries
        .push((entry.id.clone(), changes(&entry.id, &ops, &after)));
    finished.flush(engine).await;
    Ok(())
}

/// Entries run but not yet finished in Redis, with what they asked of the queue.
#[derive(Default)]
struct Finishing {
    entries: Vec<(String, Vec<QueueChange>)>,
    tells: Vec<i64>,
}

impl Finishing {
    /// Finishes them in one script. On failure they are left to their leases: each runs
    /// again later, its marked writes not applied twice.
    async fn flush(&mut self, engine: &Arc<Engine>) {
        if self.entries.is_empty() {
            return;
        }
        let batch: Vec<(&str, &[QueueChange])> = self
            .entries
            .iter()
            .map(|(id, changes)| (id.as_str(), changes.as_slice()))
            .collect();
        let result = match engine.store.queue_finish_many(&batch).await {
            Ok(applied) => report(engine, &self.tells, &applied).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::warn!(%error, entries = batch.len(), "queued entries not finished; they run again when their leases end");
        }
        self.entries.clear();
        self.tells.clear();
    }
}

/// Runs one queue entry by itself under `mark` (its id) and delivers its output, under
/// `q:<entry>` so that a run again after its pod died is not seen twice; returns what it
/// asked of the queue.
async fn execute(
    engine: &Arc<Engine>,
    job: &Job,
    mark: &str,
    timed_out: Option<(u64, String)>,
) -> Result<(Vec<QueueOp>, Vec<(u64, u64)>), StoreError> {
    if halted(engine, job.executor).await? {
        return Ok((Vec::new(), Vec::new()));
    }
    let run = crate::softcode::run_spec(engine, &spec(job), Some(mark), |ev, frame| {
        perform(ev, frame, job, timed_out.as_ref())
    })
    .await;
    match run {
        Ok(mut finished) => {
            let ops = std::mem::take(&mut finished.queue);
            // Run again after its pod died, the job sends the same delivery id: a gateway
            // that already passed it on drops the copy.
            let id = format!("q:{mark}");
            crate::softcode::deliver_parcel(engine, &id, finished.emits(), false).await?;
            Ok((ops, std::mem::take(&mut finished.after)))
        }
        Err(crate::softcode::Stopped::Store(error)) => Err(error),
        Err(crate::softcode::Stopped::Refused(why)) => {
            if let Ok(id) = u64::try_from(job.executor) {
                engine.notify(mush_store::Dbref(id), &why).await?;
            }
            Ok((Vec::new(), Vec::new()))
        }
    }
}

/// Who runs `job`, and with what.
fn spec(job: &Job) -> crate::softcode::Spec<'_> {
    crate::softcode::Spec {
        executor: job.executor,
        caller: job.caller,
        enactor: job.enactor,
        args: &job.args,
        regs: &job.regs,
    }
}

/// What running a job does: a semaphore wait that timed out counts down first, then the
/// actions, what the executor hears of them, and its puppets' output.
fn perform(
    ev: &mut mush_softcode::Eval<'_>,
    frame: &mush_softcode::Frame<'_>,
    job: &Job,
    timed_out: Option<&(u64, String)>,
) -> mush_softcode::R {
    // Set HALT after the job was queued (a job run in its batch never was): it runs
    // nothing, as its queue entry would have been removed.
    if ev
        .world
        .object(frame.executor)?
        .is_some_and(|o| o.has_flag("HALT"))
    {
        return Ok(());
    }
    if let Some((object, attr)) = timed_out {
        mush_softcode::queue::timed_out(ev, i64::try_from(*object).unwrap_or(-1), attr)?;
    }
    mush_softcode::command::run_list(ev, frame, &job.actions)?;
    mush_softcode::listen::hear(ev, frame.executor)?;
    mush_softcode::command::forward_puppets(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::softcode::{Finished, Next};

    fn job(owner: i64, quota: u64) -> Job {
        Job {
            executor: 10 + owner,
            owner,
            caller: 1,
            enactor: 1,
            actions: "think x".into(),
            args: Vec::new(),
            regs: Vec::new(),
            priority: 1,
            quota,
        }
    }

    fn pending(id: &str, owner: i64) -> Pending {
        Pending {
            id: id.into(),
            job: job(owner, 100),
            timed_out: None,
            from: None,
        }
    }

    fn add(owner: i64, quota: u64, wait: Wait) -> QueueOp {
        QueueOp::Add {
            job: job(owner, quota),
            wait,
        }
    }

    /// Where a job the batch took in came from (see [`Pending::from`]).
    type From = Option<(Option<usize>, usize)>;

    /// Ids and origins of what the batch takes in, or `None` when it ends.
    fn taken(next: Next<Pending>) -> Option<Vec<(String, From)>> {
        match next {
            Next::Go(more) => Some(more.into_iter().map(|p| (p.id, p.from)).collect()),
            Next::End => None,
        }
    }

    #[test]
    fn a_batch_takes_in_what_its_jobs_queue_to_run_now_in_order_and_within_limits() {
        let jobs = [pending("e1", 5), pending("e2", 5)];
        let now = std::time::Instant::now();
        let ran = |queue| Ok(Finished::queued(queue));
        let semaphore = Wait::Semaphore {
            object: 3,
            attr: "SEMAPHORE".into(),
            timeout: None,
        };
        // (inline allowed, what the job queued) -> what the batch takes in (entry id and
        // request number), `None` when it ends.
        type Case = (
            &'static str,
            bool,
            Vec<QueueOp>,
            Option<Vec<(&'static str, usize)>>,
        );
        let cases: Vec<Case> = vec![
            ("nothing queued", true, vec![], Some(vec![])),
            (
                "jobs to run now are taken in, named as their entries would be",
                true,
                vec![add(5, 100, Wait::Now), add(5, 100, Wait::Now)],
                Some(vec![("e1/0", 0), ("e1/1", 1)]),
            ),
            (
                "timed and semaphore work stays for the queue",
                true,
                vec![
                    add(5, 100, Wait::Delay(0)),
                    add(5, 100, semaphore),
                    add(5, 100, Wait::Now),
                ],
                Some(vec![("e1/2", 2)]),
            ),
            (
                "not when the claim left due entries behind",
                false,
                vec![add(5, 100, Wait::Now)],
                Some(vec![]),
            ),
            (
                "an owner at its quota (e2 waits) closes the batch to more",
                true,
                vec![add(5, 1, Wait::Now), add(6, 100, Wait::Now)],
                Some(vec![]),
            ),
            (
                "a halt ends the batch",
                true,
                vec![
                    add(5, 100, Wait::Now),
                    QueueOp::Halt {
                        object: None,
                        owner: None,
                        tell: 1,
                    },
                ],
                None,
            ),
        ];
        for (name, inline, queue, want) in cases {
            let mut state = Inline::default();
            let got = taken(state.next(&jobs, 0, &ran(queue), inline, now));
            let want = want.map(|w| {
                w.into_iter()
                    .map(|(id, n)| (id.to_string(), Some((Some(0), n))))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_batch_stops_taking_in_after_its_limit_and_ends_after_its_time() {
        let jobs = [pending("e1", 5), pending("e2", 5)];
        let now = std::time::Instant::now();
        let one_more = || Ok(Finished::queued(vec![add(5, 100, Wait::Now)]));
        let mut state = Inline {
            taken: INLINE_JOBS - 1,
            ..Inline::default()
        };
        assert_eq!(
            taken(state.next(&jobs, 0, &one_more(), true, now)).map(|t| t.len()),
            Some(1)
        );
        assert_eq!(
            taken(state.next(&jobs, 1, &one_more(), true, now)).map(|t| t.len()),
            Some(0)
        );
        assert!(state.closed);
        // Once closed, a batch with room again still takes nothing: what comes later must
        // not run before what went to the queue.
        state.taken = 0;
        assert_eq!(
            taken(state.next(&jobs, 1, &one_more(), true, now)).map(|t| t.len()),
            Some(0)
        );

        // The time counts from the batch's first start (a batch run again after a lost
        // race does not start its clock again).
        let long_ago = now - BATCH_TIME;
        let mut late = Inline::default();
        assert!(taken(late.next(&jobs, 0, &one_more(), true, long_ago)).is_none());
        // A refused job queues nothing and the batch goes on.
        let mut state = Inline::default();
        assert_eq!(
            taken(state.next(&jobs, 0, &Err("refused".into()), true, now)).map(|t| t.len()),
            Some(0)
        );
    }

    #[test]
    fn child_ids_are_stable_and_bounded() {
        assert_eq!(child_id("7:3", 0), "7:3/0");
        let deep = "x".repeat(200);
        let a = child_id(&deep, 1);
        assert_eq!(a, child_id(&deep, 1));
        assert_ne!(a, child_id(&deep, 2));
        assert!(a.len() <= ID_MAX);
    }
}
