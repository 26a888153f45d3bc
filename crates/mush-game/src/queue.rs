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

/// Entries claimed at once, and run as one batch. 64 measured no faster than 16 (the
/// Redis side of adding, claiming and finishing each entry dominates), and a batch of 16
/// jobs at their CPU limit still finishes well inside its lease.
const CLAIM_BATCH: usize = 16;

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
fn changes(producer: &str, ops: Vec<QueueOp>, after: &[(u64, u64)]) -> Vec<QueueChange> {
    let mut out = Vec::with_capacity(ops.len());
    for (n, op) in ops.into_iter().enumerate() {
        out.push(match op {
            QueueOp::Add { job, wait } => {
                let (delay_ms, semaphore) = match &wait {
                    Wait::Now => (Some(0), None),
                    Wait::Delay(ms) => (Some(*ms), None),
                    Wait::Semaphore {
                        object,
                        attr,
                        timeout,
                    } => (*timeout, Some((to_u64(*object), attr.clone()))),
                };
                let body = match serde_json::to_string(&job) {
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
                object: to_u64(object),
                attr,
                count,
                drain,
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
    let changes = changes(producer, ops, after);
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
        if let Err(error) = run_claimed(&engine, claimed).await {
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

/// Runs claimed entries in batches (see [`crate::softcode::run_batch`]): one after
/// another over one snapshot, their writes committed together with their finish.
async fn run_claimed(engine: &Arc<Engine>, claimed: Vec<Claimed>) -> Result<(), StoreError> {
    // Entries with nothing to run (unreadable, or of a HALT object, as in TinyMUX: its
    // entries were removed when it was halted; these were already claimed then, or
    // queued by a pod that had not yet seen the flag) are finished with nothing.
    let mut idle = Finishing::default();
    let mut jobs: Vec<(Claimed, Job)> = Vec::with_capacity(claimed.len());
    for entry in claimed {
        match serde_json::from_str::<Job>(&entry.body) {
            Ok(job) if !halted(engine, job.executor).await? => jobs.push((entry, job)),
            Ok(_) => idle.entries.push((entry.id, Vec::new())),
            Err(error) => {
                tracing::error!(%error, id = %entry.id, "unreadable queue entry dropped");
                idle.entries.push((entry.id, Vec::new()));
            }
        }
    }
    idle.flush(engine).await;
    for (entry, _) in &jobs {
        engine.cache.catch_up(&entry.after);
    }
    while !jobs.is_empty() {
        let queued: Vec<crate::softcode::Queued<'_>> = jobs
            .iter()
            .map(|(entry, job)| crate::softcode::Queued {
                spec: spec(job),
                mark: &entry.id,
            })
            .collect();
        let run = |i: usize, ev: &mut mush_softcode::Eval<'_>, frame: &mush_softcode::Frame<'_>| {
            let (entry, job) = &jobs[i];
            perform(ev, frame, job, entry.timed_out.as_ref())
        };
        let finish = |runs: &[crate::softcode::Run], after: &[(u64, u64)]| {
            runs.iter()
                .zip(&jobs)
                .map(|(run, (entry, _))| {
                    let ops = run.as_ref().map(|r| r.queue.clone()).unwrap_or_default();
                    (entry.id.clone(), changes(&entry.id, ops, after))
                })
                .collect()
        };
        match crate::softcode::run_batch(engine, &queued, run, ordered, finish).await? {
            crate::softcode::Batched::Done {
                runs,
                applied,
                parcel,
            } => {
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
                let done = runs.len();
                drop(queued);
                jobs.drain(..done);
            }
            crate::softcode::Batched::Gone(id) => {
                drop(queued);
                jobs.retain(|(entry, _)| entry.id != id);
            }
            crate::softcode::Batched::Alone => {
                drop(queued);
                for (entry, _) in std::mem::take(&mut jobs) {
                    alone(engine, &entry).await?;
                }
            }
        }
    }
    Ok(())
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
async fn alone(engine: &Arc<Engine>, entry: &Claimed) -> Result<(), StoreError> {
    let (ops, after) = run_entry(engine, entry).await?;
    let mut finished = Finishing::default();
    finished.tells.extend(halt_tells(&ops));
    finished
        .entries
        .push((entry.id.clone(), changes(&entry.id, ops, &after)));
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

/// Runs what a player's `$`-command matched, at once and on this pod, instead of through
/// the shard's queue: TinyMUX queues it and runs it before the player's next command, so
/// the player sees the same; the shard saves an add, a claim and a finish in Redis per
/// match. It stays exactly once: until this returns, the player's command is not
/// acknowledged, so a pod that dies meanwhile has the command re-sent and run again, and
/// each match runs under its own mark (`<command>/d<n>`), which its writes and what it
/// queues carry, so nothing is written or queued twice. Anything but a job due now (none
/// today) goes to the queue as usual.
pub(crate) async fn run_matched(
    engine: &Arc<Engine>,
    producer: &str,
    ops: Vec<QueueOp>,
) -> Result<(), StoreError> {
    for (n, op) in ops.into_iter().enumerate() {
        let id = format!("{producer}/d{n}");
        match op {
            QueueOp::Add {
                job,
                wait: Wait::Now,
            } => {
                let (produced, after) = execute(engine, &job, &id, None, false).await?;
                submit(engine, &id, produced, &after).await?;
            }
            // Nothing the player's command wrote is missing here: it ran on this pod.
            other => submit(engine, &id, vec![other], &[]).await?,
        }
    }
    Ok(())
}

/// Runs one job under `mark` (its queue entry's id) and delivers its output; returns what
/// it asked of the queue.
/// `queued` is true for a queue entry run alone: its output goes as a delivery under
/// `q:<entry>`, so that a run again after its pod died is not seen twice. A `$`-command
/// run inside the player's command (`false`) sends its output as the command does, held
/// with it and journalled (the player's own output is part of the command's reply).
async fn execute(
    engine: &Arc<Engine>,
    job: &Job,
    mark: &str,
    timed_out: Option<(u64, String)>,
    queued: bool,
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
            if queued {
                // Run again after its pod died, the job sends the same delivery id: a
                // gateway that already passed it on drops the copy.
                let id = format!("q:{mark}");
                crate::softcode::deliver_parcel(engine, &id, finished.emits(), false).await?;
            } else {
                crate::softcode::deliver(engine, &finished).await?;
            }
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
    if let Some((object, attr)) = timed_out {
        mush_softcode::queue::timed_out(ev, i64::try_from(*object).unwrap_or(-1), attr)?;
    }
    mush_softcode::command::run_list(ev, frame, &job.actions)?;
    mush_softcode::listen::hear(ev, frame.executor)?;
    mush_softcode::command::forward_puppets(ev)
}

/// Runs a claimed entry; returns what it asked of the queue, for its finish.
async fn run_entry(
    engine: &Arc<Engine>,
    entry: &Claimed,
) -> Result<(Vec<QueueOp>, Vec<(u64, u64)>), StoreError> {
    match serde_json::from_str::<Job>(&entry.body) {
        Ok(job) => execute(engine, &job, &entry.id, entry.timed_out.clone(), true).await,
        Err(error) => {
            // Nothing can ever run it: it is finished with nothing, so it does not come back.
            tracing::error!(%error, id = %entry.id, "unreadable queue entry dropped");
            Ok((Vec::new(), Vec::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
