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

use mush_softcode::queue::{Job, QueueOp, Wait};
use mush_store::{NewEntry, QueueChange, StoreError};

use crate::engine::Engine;

/// How long a claimed entry is a pod's before another may run it (a pod killed mid-run
/// delays its entries by at most this).
const LEASE_MS: u64 = 5_000;

/// Entries claimed at once.
const CLAIM_BATCH: usize = 16;

/// How often an idle pod looks for due entries (timed entries fire within this of their
/// time, plus the claim's round trip).
const POLL: Duration = Duration::from_millis(20);

/// How long a pod waits after a failed claim (Redis down or failing over).
const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// Longest entry id kept as written; longer ones (deep chains) are hashed.
const ID_MAX: usize = 120;

/// Said to an owner whose objects queued more than the quota.
const RUNAWAY: &str = "Run away objects: too many commands queued.  Halted.";

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
fn changes(producer: &str, ops: Vec<QueueOp>) -> Vec<QueueChange> {
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
) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Ok(());
    }
    let changes = changes(producer, ops);
    let applied = engine.store.queue_apply(&changes).await?;
    if changes
        .iter()
        .any(|c| matches!(c, QueueChange::Add(e) if e.delay_ms == Some(0)))
    {
        engine.queue_wake.notify_one();
    }
    runaway(engine, &applied.runaway_owners).await
}

async fn runaway(engine: &Arc<Engine>, owners: &[u64]) -> Result<(), StoreError> {
    for owner in owners {
        engine.notify(mush_store::Dbref(*owner), RUNAWAY).await?;
    }
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
        for entry in claimed {
            if let Err(error) = run_entry(&engine, &entry).await {
                tracing::warn!(%error, id = %entry.id, "queued entry failed; it runs again when its lease ends");
            }
        }
    }
}

async fn run_entry(engine: &Arc<Engine>, entry: &mush_store::Claimed) -> Result<(), StoreError> {
    let job: Job = match serde_json::from_str(&entry.body) {
        Ok(job) => job,
        Err(error) => {
            // Nothing can ever run it: finish it so it does not come back.
            tracing::error!(%error, id = %entry.id, "unreadable queue entry dropped");
            engine.store.queue_finish(&entry.id, &[]).await?;
            return Ok(());
        }
    };
    let spec = crate::softcode::Spec {
        executor: job.executor,
        caller: job.caller,
        enactor: job.enactor,
        args: &job.args,
        regs: &job.regs,
    };
    let timed_out = entry.timed_out.clone();
    let run = crate::softcode::run_spec(engine, &spec, Some(&entry.id), |ev, frame| {
        if let Some((object, attr)) = &timed_out {
            mush_softcode::queue::timed_out(ev, i64::try_from(*object).unwrap_or(-1), attr)?;
        }
        mush_softcode::command::run_list(ev, frame, &job.actions)?;
        mush_softcode::listen::hear(ev, frame.executor)?;
        mush_softcode::command::forward_puppets(ev)
    })
    .await;
    let ops = match run {
        Ok(mut finished) => {
            let ops = std::mem::take(&mut finished.queue);
            crate::softcode::deliver(engine, &finished).await?;
            ops
        }
        Err(crate::softcode::Stopped::Store(error)) => return Err(error),
        Err(crate::softcode::Stopped::Refused(why)) => {
            if let Ok(id) = u64::try_from(job.executor) {
                engine.notify(mush_store::Dbref(id), &why).await?;
            }
            Vec::new()
        }
    };
    let changes = changes(&entry.id, ops);
    let applied = engine.store.queue_finish(&entry.id, &changes).await?;
    runaway(engine, &applied.runaway_owners).await
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
