//! Session-aware autoscaling of game pods.
//!
//! desired = clamp(ceil(sessions / target) + buffer, min, max). Scaling up happens at once
//! (players are waiting); scaling down only after the sessions have needed fewer pods for
//! the whole scale-down delay, so a brief dip never churns pods. The pods removed are the
//! emptiest ones ([`deletion_costs`]), and each drains its sessions to the others.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::crd::GameSpec;

/// What the autoscaler knows at one reconcile.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Live sessions of the shard.
    pub sessions: u64,
    /// Replicas the game Deployment has now (`None` before it exists).
    pub current: Option<i32>,
    /// Since when fewer pods would do (from the status).
    pub pending_since: Option<Timestamp>,
    /// Now.
    pub now: Timestamp,
}

/// What the autoscaler decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Replicas to apply now.
    pub replicas: i32,
    /// What the sessions alone call for (clamped).
    pub wanted: i32,
    /// Since when a scale-down has been waiting for its delay (kept in the status).
    pub pending_since: Option<Timestamp>,
    /// Why, for the status and events.
    pub reason: String,
}

impl Decision {
    /// True when the replica count changes.
    pub fn scales(&self, current: Option<i32>) -> bool {
        current.is_some_and(|c| c != self.replicas)
    }
}

/// Pods the sessions call for: ceil(sessions / target) + buffer, within min..=max.
pub fn wanted(spec: &GameSpec, sessions: u64) -> i32 {
    let target = u64::try_from(spec.target_sessions_per_pod.max(1)).unwrap_or(1);
    let needed = i32::try_from(sessions.div_ceil(target)).unwrap_or(i32::MAX);
    needed
        .saturating_add(spec.buffer_pods.max(0))
        .clamp(spec.min_replicas, spec.max_replicas.max(spec.min_replicas))
}

/// The decision for one reconcile.
pub fn decide(spec: &GameSpec, seen: &Observation) -> Decision {
    let wanted = wanted(spec, seen.sessions);
    let target = spec.target_sessions_per_pod;
    let Some(current) = seen.current else {
        return Decision {
            replicas: wanted,
            wanted,
            pending_since: None,
            reason: format!("starting with {wanted} game pods"),
        };
    };
    let sessions = seen.sessions;
    // Bounds changed in the spec: follow them at once.
    let max = spec.max_replicas.max(spec.min_replicas);
    if current > max || current < spec.min_replicas {
        let replicas = current.clamp(spec.min_replicas, max).max(wanted.min(max));
        return Decision {
            replicas,
            wanted,
            pending_since: None,
            reason: format!(
                "game pods held within {}..={max}: {replicas}",
                spec.min_replicas
            ),
        };
    }
    if wanted >= current {
        let reason = if wanted > current {
            format!(
                "{sessions} sessions at {target} per pod need {wanted} game pods (had {current})"
            )
        } else {
            format!("{sessions} sessions at {target} per pod: {current} game pods is right")
        };
        return Decision {
            replicas: wanted,
            wanted,
            pending_since: None,
            reason,
        };
    }
    let delay =
        Duration::from_secs(u64::try_from(spec.scale_down_delay_seconds.max(0)).unwrap_or(0));
    let since = seen.pending_since.unwrap_or(seen.now);
    let waited = Duration::try_from(seen.now.duration_since(since)).unwrap_or(Duration::ZERO);
    if waited >= delay {
        Decision {
            replicas: wanted,
            wanted,
            pending_since: None,
            reason: format!(
                "{sessions} sessions at {target} per pod need {wanted} game pods for {}s: down from {current}",
                waited.as_secs()
            ),
        }
    } else {
        Decision {
            replicas: current,
            wanted,
            pending_since: Some(since),
            reason: format!(
                "{sessions} sessions need {wanted} game pods; scaling down from {current} in {}s",
                (delay - waited).as_secs()
            ),
        }
    }
}

/// `pod-deletion-cost` per pod: its session count, so the ReplicaSet removes the emptiest
/// pods first and the fewest sessions have to move. Pods without a heartbeat (starting,
/// or already gone from Redis) cost nothing.
pub fn deletion_costs(
    pods: &[String],
    sessions_by_pod: &BTreeMap<String, u64>,
) -> BTreeMap<String, i32> {
    pods.iter()
        .map(|pod| {
            let sessions = sessions_by_pod.get(pod).copied().unwrap_or(0);
            (pod.clone(), i32::try_from(sessions).unwrap_or(i32::MAX))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::SignedDuration;

    fn spec() -> GameSpec {
        GameSpec {
            min_replicas: 2,
            max_replicas: 10,
            target_sessions_per_pod: 100,
            buffer_pods: 1,
            scale_down_delay_seconds: 300,
            ..GameSpec::default()
        }
    }

    fn seen(sessions: u64, current: Option<i32>) -> Observation {
        Observation {
            sessions,
            current,
            pending_since: None,
            now: Timestamp::from_second(1_000_000).expect("time"),
        }
    }

    #[test]
    fn wanted_is_ceil_plus_buffer_clamped() {
        let spec = spec();
        assert_eq!(wanted(&spec, 0), 2, "min");
        assert_eq!(wanted(&spec, 100), 2, "1 + buffer");
        assert_eq!(wanted(&spec, 101), 3, "ceil(1.01) = 2, + buffer");
        assert_eq!(wanted(&spec, 450), 6);
        assert_eq!(wanted(&spec, 1_000_000), 10, "max");
    }

    #[test]
    fn scales_up_at_once() {
        let decision = decide(&spec(), &seen(450, Some(3)));
        assert_eq!(decision.replicas, 6);
        assert!(decision.scales(Some(3)));
        assert_eq!(decision.pending_since, None);
    }

    #[test]
    fn scales_down_only_after_the_delay() {
        let spec = spec();
        let mut observation = seen(50, Some(6));
        let first = decide(&spec, &observation);
        assert_eq!(first.replicas, 6, "held");
        assert_eq!(first.wanted, 2);
        assert_eq!(first.pending_since, Some(observation.now));

        observation.pending_since = first.pending_since;
        observation.now += SignedDuration::from_secs(299);
        assert_eq!(decide(&spec, &observation).replicas, 6, "still held");

        observation.now += SignedDuration::from_secs(1);
        let down = decide(&spec, &observation);
        assert_eq!(down.replicas, 2);
        assert_eq!(down.pending_since, None);
    }

    #[test]
    fn a_dip_that_recovers_resets_the_delay() {
        let spec = spec();
        let mut observation = seen(50, Some(6));
        observation.pending_since = Some(observation.now - SignedDuration::from_secs(200));
        observation.sessions = 500;
        let decision = decide(&spec, &observation);
        assert_eq!(decision.replicas, 6);
        assert_eq!(decision.pending_since, None);
    }

    #[test]
    fn bounds_from_the_spec_apply_at_once() {
        let mut spec = spec();
        spec.max_replicas = 4;
        assert_eq!(decide(&spec, &seen(50, Some(8))).replicas, 4);
        spec.min_replicas = 3;
        assert_eq!(decide(&spec, &seen(0, Some(2))).replicas, 3);
        assert_eq!(decide(&spec, &seen(0, None)).replicas, 3, "first start");
    }

    #[test]
    fn the_emptiest_pods_cost_least() {
        let pods = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let sessions = BTreeMap::from([("a".to_owned(), 40), ("b".to_owned(), 3)]);
        let costs = deletion_costs(&pods, &sessions);
        assert_eq!(costs["a"], 40);
        assert_eq!(costs["b"], 3);
        assert_eq!(costs["c"], 0, "no heartbeat: cheapest");
    }

    /// The property tests below draw thousands of cases, the same ones on every run, from
    /// the project's one deterministic generator.
    struct Cases(mush_harness::Cases);

    impl Cases {
        fn below(&mut self, n: u64) -> u64 {
            self.0.below(n)
        }

        fn spec(&mut self) -> GameSpec {
            GameSpec {
                min_replicas: 1 + self.below(20) as i32,
                max_replicas: 1 + self.below(40) as i32,
                target_sessions_per_pod: 1 + self.below(500) as i32,
                buffer_pods: self.below(4) as i32,
                scale_down_delay_seconds: self.below(600) as i32,
                ..GameSpec::default()
            }
        }

        fn observation(&mut self) -> Observation {
            let now =
                Timestamp::from_second(1_000_000 + self.below(1_000_000) as i64).expect("time");
            let pending_since = (self.below(2) == 0)
                .then(|| now - SignedDuration::from_secs(self.below(900) as i64));
            Observation {
                sessions: if self.below(10) == 0 {
                    self.0.next_u64() >> 1
                } else {
                    self.below(20_000)
                },
                current: (self.below(8) != 0).then(|| self.below(50) as i32),
                pending_since,
                now,
            }
        }
    }

    #[test]
    fn property_decisions_stay_in_bounds_scale_up_at_once_and_down_only_after_the_delay() {
        let mut cases = Cases(mush_harness::Cases(0x9e37_79b9_7f4a_7c15));
        for case in 0..20_000 {
            let spec = cases.spec();
            let mut seen = cases.observation();
            // The delay's edge (a second short, exactly, a second over) gets its share.
            if cases.below(3) == 0 {
                let edge = i64::from(spec.scale_down_delay_seconds) + cases.below(3) as i64 - 1;
                seen.pending_since = Some(seen.now - SignedDuration::from_secs(edge.max(0)));
            }
            let max = spec.max_replicas.max(spec.min_replicas);
            let decision = decide(&spec, &seen);
            let context = format!("case {case}: {spec:?} {seen:?} -> {decision:?}");
            assert!(
                (spec.min_replicas..=max).contains(&decision.replicas),
                "out of bounds: {context}"
            );
            // The formula, worked out here in wide integers: ceil(sessions / target) +
            // buffer, clamped to min..=max.
            let target = u128::try_from(spec.target_sessions_per_pod).expect("target");
            let needed = u128::from(seen.sessions).div_ceil(target)
                + u128::try_from(spec.buffer_pods).expect("buffer");
            let expected = needed.clamp(
                u128::try_from(spec.min_replicas).expect("min"),
                u128::try_from(max).expect("max"),
            );
            assert_eq!(
                u128::try_from(decision.wanted).expect("wanted"),
                expected,
                "{context}"
            );
            // Enough pods for the sessions, unless the maximum says otherwise.
            let capacity = i64::from(decision.wanted) * i64::from(spec.target_sessions_per_pod);
            assert!(
                decision.wanted == max || capacity >= seen.sessions.min(i64::MAX as u64) as i64,
                "too few pods: {context}"
            );
            match seen.current {
                Some(current) if (spec.min_replicas..=max).contains(&current) => {
                    if decision.wanted >= current {
                        assert_eq!(decision.replicas, decision.wanted, "up at once: {context}");
                        assert_eq!(decision.pending_since, None, "{context}");
                    } else {
                        let since = seen.pending_since.unwrap_or(seen.now);
                        let waited = seen.now.duration_since(since).as_secs();
                        let due = waited >= i64::from(spec.scale_down_delay_seconds);
                        let expected = if due { decision.wanted } else { current };
                        assert_eq!(
                            decision.replicas, expected,
                            "down after the delay: {context}"
                        );
                        assert_eq!(decision.pending_since.is_some(), !due, "{context}");
                    }
                }
                _ => assert_eq!(decision.pending_since, None, "{context}"),
            }
            // More sessions never call for fewer pods.
            let more = Observation {
                sessions: seen.sessions.saturating_add(1 + cases.below(1_000)),
                ..seen.clone()
            };
            assert!(
                decide(&spec, &more).replicas >= decision.replicas,
                "more sessions, fewer pods: {context}"
            );
            // A decision applied and seen again is kept.
            let again = Observation {
                current: Some(decision.replicas),
                pending_since: decision.pending_since,
                ..seen.clone()
            };
            if decision.replicas == decision.wanted {
                assert_eq!(
                    decide(&spec, &again).replicas,
                    decision.replicas,
                    "{context}"
                );
            }
        }
    }

    #[test]
    fn property_deletion_costs_order_pods_by_sessions() {
        let mut cases = Cases(mush_harness::Cases(0x2545_f491_4f6c_dd1d));
        for _ in 0..2_000 {
            let pods: Vec<String> = (0..1 + cases.below(12)).map(|i| format!("p{i}")).collect();
            let mut sessions: BTreeMap<String, u64> = BTreeMap::new();
            for pod in &pods {
                if cases.below(5) != 0 {
                    let count = if cases.below(20) == 0 {
                        u64::MAX
                    } else {
                        cases.below(5_000)
                    };
                    sessions.insert(pod.clone(), count);
                }
            }
            let costs = deletion_costs(&pods, &sessions);
            assert_eq!(costs.len(), pods.len());
            for a in &pods {
                for b in &pods {
                    let (sa, sb) = (
                        sessions.get(a).copied().unwrap_or(0),
                        sessions.get(b).copied().unwrap_or(0),
                    );
                    if sa < sb {
                        assert!(costs[a] <= costs[b], "{a}:{sa} {b}:{sb} {costs:?}");
                    }
                    assert!(costs[a] >= 0);
                }
            }
        }
    }
}
