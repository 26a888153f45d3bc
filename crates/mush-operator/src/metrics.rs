//! Prometheus metrics of the operator.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The reason label of a failed reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Which kind of error (see [`crate::controller::Error::kind`]).
    pub kind: &'static str,
}

/// Counters of the reconcile loop.
#[derive(Clone, Debug)]
pub struct OperatorMetrics {
    /// Reconciles run.
    pub reconciles: Counter,
    /// Reconciles that failed, by kind.
    pub errors: Family<ErrorLabels, Counter>,
    /// How long reconciles take.
    pub duration: Histogram,
    /// Game replica changes made by the autoscaler.
    pub scalings: Counter,
    /// 1 while this replica holds the leader lease.
    pub leader: Gauge,
}

impl OperatorMetrics {
    /// Creates and registers the metrics under `mush_operator_`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self::unregistered();
        let sub = registry.sub_registry_with_prefix("mush_operator");
        sub.register(
            "reconciles",
            "MushShard reconciles run",
            metrics.reconciles.clone(),
        );
        sub.register(
            "reconcile_errors",
            "MushShard reconciles that failed, by kind",
            metrics.errors.clone(),
        );
        sub.register(
            "reconcile_seconds",
            "Duration of one reconcile",
            metrics.duration.clone(),
        );
        sub.register(
            "scalings",
            "Game replica changes made by the autoscaler",
            metrics.scalings.clone(),
        );
        sub.register(
            "leader",
            "1 while this replica holds the leader lease",
            metrics.leader.clone(),
        );
        metrics
    }

    /// Metrics registered nowhere (tests).
    pub fn unregistered() -> Self {
        Self {
            reconciles: Counter::default(),
            errors: Family::default(),
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            scalings: Counter::default(),
            leader: Gauge::default(),
        }
    }

    pub(crate) fn observe(&self, took: Duration) {
        self.reconciles.inc();
        self.duration.observe(took.as_secs_f64());
    }

    pub(crate) fn failed(&self, kind: &'static str) {
        self.errors.get_or_create(&ErrorLabels { kind }).inc();
    }
}
