//! Rebalancing: spreading sessions evenly after pods joined.
//!
//! Sessions are sticky: a new pod takes only new sessions, so after a scale-up the old pods
//! stay as busy as they were until players come and go. A wizard's `@rebalance` asks every
//! pod over NATS (`<prefix>.rebalance`) to hand its surplus to the emptier pods, with the
//! same compare-and-set handoff a drain uses, so nothing is lost or run twice and the
//! players notice nothing beyond a moment's latency.
//!
//! Each pod decides alone, from the one pod list in Redis: it keeps at most the mean
//! (rounded up) and sends the rest to pods below it (see [`plan`]). A pod that misses the
//! message (NATS is at-most-once) merely stays busier; asking again is harmless.

use std::sync::Arc;

use futures_util::StreamExt;
use mush_proto::PodId;
use mush_store::PodStatus;

use crate::engine::Engine;

/// The NATS subject every pod of a shard listens on for rebalance requests.
fn subject(prefix: &str) -> String {
    format!("{prefix}.rebalance")
}

/// The pods that take part in a rebalance (alive, not draining), their sessions, and the
/// most each should keep: the mean, rounded up.
pub(crate) struct Shape<'a> {
    pub(crate) live: Vec<&'a PodStatus>,
    pub(crate) sessions: u64,
    pub(crate) target: u64,
}

impl<'a> Shape<'a> {
    pub(crate) fn of(pods: &'a [PodStatus]) -> Self {
        let mut live: Vec<&PodStatus> = pods
            .iter()
            .filter(|p| p.alive && !p.info.draining)
            .collect();
        live.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        let sessions: u64 = live.iter().map(|p| p.sessions).sum();
        let target = sessions.div_ceil(live.len().max(1) as u64);
        Self {
            live,
            sessions,
            target,
        }
    }
}

/// What a rebalance means for one pod.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The most sessions a pod should keep: the mean over live pods, rounded up.
    pub(crate) target: u64,
    /// Where this pod sends its surplus, one entry per session to move.
    pub(crate) moves: Vec<PodId>,
}

/// This pod's part in a rebalance; draining or dead pods neither give nor take.
///
/// Every pod computes the same ledger from the same counts: the surpluses, in pod-name
/// order, are laid against the deficits in pod-name order, and each pod sends its own
/// stretch. So the moves of all pods together fill every deficit at most once, with no
/// coordinator and no overshoot.
pub(crate) fn plan(me: &PodId, pods: &[PodStatus]) -> Plan {
    let Shape { live, target, .. } = Shape::of(pods);
    let mut plan = Plan {
        target,
        moves: Vec::new(),
    };
    if !live.iter().any(|p| p.info.id == *me) {
        return plan;
    }
    // My stretch of the surplus ledger.
    let mut offset = 0;
    let mut mine = 0..0;
    for pod in &live {
        let surplus = pod.sessions.saturating_sub(target);
        if pod.info.id == *me {
            mine = offset..offset + surplus;
        }
        offset += surplus;
    }
    // The deficit ledger, walked up to the end of my stretch.
    let mut start = 0;
    for pod in &live {
        let deficit = target.saturating_sub(pod.sessions);
        let slots = start..start + deficit;
        let overlap = slots.start.max(mine.start)..slots.end.min(mine.end);
        for _ in overlap {
            plan.moves.push(pod.info.id.clone());
        }
        start = slots.end;
        if start >= mine.end {
            break;
        }
    }
    plan
}

/// Asks every pod of the shard, this one included, to rebalance. Returns false when the
/// request did not go out (NATS down or not flushed within 2 s, so a dying connection
/// cannot hang the wizard's command).
pub(crate) async fn request(client: &async_nats::Client, prefix: &str) -> bool {
    if client.connection_state() != async_nats::connection::State::Connected {
        return false;
    }
    if let Err(error) = client.publish(subject(prefix), Default::default()).await {
        tracing::warn!(%error, "rebalance request not published");
        return false;
    }
    // Flushed, so the request is on its way rather than buffered for a reconnect.
    tokio::time::timeout(std::time::Duration::from_secs(2), client.flush())
        .await
        .is_ok_and(|flushed| flushed.is_ok())
}

/// Runs this pod's part of every rebalance asked for on NATS, until the subscription ends.
pub(crate) async fn listen(client: async_nats::Client, prefix: String, engine: Arc<Engine>) {
    let subject = subject(&prefix);
    let mut requests = match client.subscribe(subject.clone()).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::error!(%error, subject, "cannot subscribe to rebalance requests");
            return;
        }
    };
    while requests.next().await.is_some() {
        engine.rebalance().await;
    }
}

#[cfg(test)]
mod tests {
    use mush_store::PodInfo;

    use super::*;

    fn pod(name: &str, sessions: u64) -> PodStatus {
        PodStatus {
            info: PodInfo {
                id: PodId::new(name).expect("pod id"),
                addr: String::new(),
                draining: false,
            },
            alive: true,
            sessions,
        }
    }

    fn id(name: &str) -> PodId {
        PodId::new(name).expect("pod id")
    }

    /// Applies every pod's plan, each made alone from the same counts.
    fn apply_all(pods: &[PodStatus]) -> (Vec<u64>, u64) {
        let mut after: Vec<u64> = pods.iter().map(|p| p.sessions).collect();
        let mut moved = 0;
        for (index, me) in pods.iter().enumerate() {
            for to in plan(&me.info.id, pods).moves {
                after[index] -= 1;
                let to = pods
                    .iter()
                    .position(|p| p.info.id == to)
                    .expect("known pod");
                after[to] += 1;
                moved += 1;
            }
        }
        (after, moved)
    }

    /// Together, the plans leave no pod above the target and move only the surplus.
    #[test]
    fn surplus_pods_fill_the_new_ones_without_overshooting() {
        let pods = [pod("a", 30), pod("b", 30), pod("c", 0), pod("d", 0)];
        assert_eq!(plan(&id("a"), &pods).target, 15);
        assert_eq!(apply_all(&pods), (vec![15, 15, 15, 15], 30));
        let pods = [pod("a", 3), pod("b", 40), pod("c", 1), pod("d", 26)];
        let (after, moved) = apply_all(&pods);
        assert_eq!(after, [18, 18, 16, 18]);
        assert_eq!(moved, 30);
    }

    #[test]
    fn uneven_totals_round_the_target_up() {
        let pods = [pod("a", 25), pod("b", 25), pod("c", 11)];
        let plan = plan(&id("a"), &pods);
        assert_eq!(plan.target, 21);
        assert_eq!(plan.moves, vec![id("c"); 4]);
    }

    #[test]
    fn a_balanced_or_light_pod_keeps_its_sessions() {
        let pods = [pod("a", 10), pod("b", 11), pod("c", 10)];
        assert!(plan(&id("b"), &pods).moves.is_empty());
        assert!(plan(&id("a"), &pods).moves.is_empty());
    }

    /// Properties over 5,000 random shards (1-8 pods, 0-300 sessions each, some draining
    /// or dead, listed in any order), every pod planning alone from its own copy of the
    /// list: sessions are conserved; afterwards no live pod holds more than the target;
    /// exactly the surplus moves (no fewer could leave every pod at or below the target);
    /// only pods above the target send, only pods below it receive, none past its deficit;
    /// draining and dead pods neither give nor take; the order of the list changes nothing.
    #[test]
    fn every_pods_plan_together_balances_exactly() {
        let mut cases = mush_harness::Cases(0x2eba_1a7c);
        for case in 0..5_000 {
            let count = 1 + cases.below(8) as usize;
            let pods: Vec<PodStatus> = (0..count)
                .map(|n| {
                    let mut p = pod(&format!("game-{n}"), cases.below(301));
                    match cases.below(10) {
                        0 => p.info.draining = true,
                        1 => p.alive = false,
                        _ => {}
                    }
                    p
                })
                .collect();
            let taking = |p: &PodStatus| p.alive && !p.info.draining;
            let live: Vec<&PodStatus> = pods.iter().filter(|p| taking(p)).collect();
            let total: u64 = live.iter().map(|p| p.sessions).sum();
            let target = total.div_ceil(live.len().max(1) as u64);
            let surplus: u64 = live.iter().map(|p| p.sessions.saturating_sub(target)).sum();

            // Each pod plans from a list in its own order.
            let mut after: Vec<u64> = pods.iter().map(|p| p.sessions).collect();
            let (mut moved, mut received) = (0, vec![0u64; pods.len()]);
            for (index, me) in pods.iter().enumerate() {
                let mut shuffled = pods.clone();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, cases.below(i as u64 + 1) as usize);
                }
                let mine = plan(&me.info.id, &shuffled);
                assert_eq!(
                    mine,
                    plan(&me.info.id, &pods),
                    "case {case}: order mattered"
                );
                assert_eq!(mine.target, target, "case {case}");
                if !mine.moves.is_empty() {
                    assert!(
                        taking(me) && me.sessions > target,
                        "case {case}: {me:?} sent"
                    );
                }
                for to in mine.moves {
                    let to = pods
                        .iter()
                        .position(|p| p.info.id == to)
                        .expect("known pod");
                    assert!(taking(&pods[to]), "case {case}: sent to {:?}", pods[to]);
                    after[index] -= 1;
                    after[to] += 1;
                    received[to] += 1;
                    moved += 1;
                }
            }
            assert_eq!(moved, surplus, "case {case}: {pods:?}");
            assert_eq!(
                after.iter().sum::<u64>(),
                pods.iter().map(|p| p.sessions).sum::<u64>()
            );
            for ((p, now), got) in pods.iter().zip(&after).zip(&received) {
                if taking(p) {
                    assert!(*now <= target, "case {case}: {pods:?} -> {after:?}");
                    assert!(
                        *now >= p.sessions.min(target),
                        "case {case}: {p:?} overdrawn"
                    );
                    assert!(
                        *got == 0 || p.sessions < target,
                        "case {case}: {p:?} received"
                    );
                } else {
                    assert_eq!(*now, p.sessions, "case {case}: {p:?} took part");
                }
            }
        }
    }

    #[test]
    fn draining_and_dead_pods_neither_give_nor_take() {
        let mut draining = pod("d", 0);
        draining.info.draining = true;
        let mut dead = pod("x", 0);
        dead.alive = false;
        let pods = [pod("a", 20), pod("b", 0), draining.clone(), dead];
        let plan_a = plan(&id("a"), &pods);
        assert_eq!(plan_a.target, 10);
        assert_eq!(plan_a.moves, vec![id("b"); 10]);
        let mut busy_draining = draining;
        busy_draining.sessions = 40;
        assert!(
            plan(&id("d"), &[pod("a", 0), busy_draining])
                .moves
                .is_empty()
        );
    }
}
