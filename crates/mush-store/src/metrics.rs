//! Prometheus metrics of the store, registered into the process' registry.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a write-behind outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WbLabels {
    /// `meta` or `touch`.
    pub op: &'static str,
    /// `ok` written; `coalesced` superseded by a newer value before it was written;
    /// `missing` the connection no longer existed; `failed` one failed write attempt (it is
    /// retried); `rejected` refused at enqueue (queue full or closed); `abandoned` still
    /// unwritten when shutdown's deadline passed.
    pub result: &'static str,
}

/// Labels of a synchronous operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    /// Store operation, e.g. `register`, `bind_player`, `move`.
    pub op: &'static str,
}

/// Counters, gauges and histograms of one store.
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    writebehind: Family<WbLabels, Counter>,
    queue_depth: Gauge,
    flush_seconds: Histogram,
    sync_seconds: Family<OpLabels, Histogram>,
    sync_errors: Family<OpLabels, Counter>,
    index_repaired: Counter,
    reconnects: Family<ReconnectLabels, Counter>,
}

/// Labels of the reconnect counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconnectLabels {
    /// `ok` (a new connection replaced a silent one) or `failed`.
    pub result: &'static str,
}

impl StoreMetrics {
    /// Creates the metrics and registers them under `mush_store_` in `registry`. Every
    /// write-behind series exists from the start at zero, so an alert on `failed` or
    /// `rejected` sees a value before the first failure.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self::unregistered();
        for op in ["meta", "touch"] {
            for result in [
                "ok",
                "coalesced",
                "missing",
                "failed",
                "rejected",
                "abandoned",
            ] {
                drop(metrics.writebehind.get_or_create(&WbLabels { op, result }));
            }
        }
        let sub = registry.sub_registry_with_prefix("mush_store");
        sub.register(
            "writebehind_ops",
            "Write-behind operations by outcome",
            metrics.writebehind.clone(),
        );
        sub.register(
            "writebehind_queue_depth",
            "Write-behind operations waiting to be written",
            metrics.queue_depth.clone(),
        );
        sub.register(
            "writebehind_flush_seconds",
            "Duration of one write-behind flush attempt",
            metrics.flush_seconds.clone(),
        );
        sub.register(
            "op_seconds",
            "Duration of synchronous store operations (Redis round trips included)",
            metrics.sync_seconds.clone(),
        );
        sub.register(
            "op_errors",
            "Synchronous store operations that failed",
            metrics.sync_errors.clone(),
        );
        sub.register(
            "reconnects",
            "Cluster connections replaced after they stopped answering, by outcome",
            metrics.reconnects.clone(),
        );
        sub.register(
            "index_repaired",
            "Stale index entries removed during reconciliation",
            metrics.index_repaired.clone(),
        );
        metrics
    }

    /// Metrics not exported anywhere (tools that only want the figures).
    pub fn unregistered() -> Self {
        Self {
            writebehind: Family::default(),
            queue_depth: Gauge::default(),
            flush_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            sync_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.00005, 2.0, 18))
            }),
            sync_errors: Family::default(),
            index_repaired: Counter::default(),
            reconnects: Family::default(),
        }
    }

    /// How many write-behind operations ended with `result` (see [`WbLabels`]).
    pub fn writebehind(&self, op: &'static str, result: &'static str) -> u64 {
        self.writebehind
            .get_or_create(&WbLabels { op, result })
            .get()
    }

    /// Operations currently queued or being written.
    pub fn queue_depth(&self) -> i64 {
        self.queue_depth.get()
    }

    /// Failed synchronous operations of one kind.
    pub fn sync_errors(&self, op: &'static str) -> u64 {
        self.sync_errors.get_or_create(&OpLabels { op }).get()
    }

    /// Stale index entries removed so far.
    pub fn index_repaired(&self) -> u64 {
        self.index_repaired.get()
    }

    /// Counts `n` operations reaching `result`; a final result (anything but `failed` and
    /// `rejected`) also takes them off the queue-depth gauge, which [`Self::enqueued`] put
    /// them on. The gauge is therefore exact: queued plus being written.
    pub(crate) fn count_wb(&self, op: &'static str, result: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        self.writebehind
            .get_or_create(&WbLabels { op, result })
            .inc_by(n);
        if !matches!(result, "failed" | "rejected") {
            self.queue_depth
                .dec_by(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    pub(crate) fn enqueued(&self) {
        self.queue_depth.inc();
    }

    pub(crate) fn observe_flush(&self, took: Duration) {
        self.flush_seconds.observe(took.as_secs_f64());
    }

    pub(crate) fn observe_sync(&self, op: &'static str, took: Duration, ok: bool) {
        self.sync_seconds
            .get_or_create(&OpLabels { op })
            .observe(took.as_secs_f64());
        if !ok {
            self.sync_errors.get_or_create(&OpLabels { op }).inc();
        }
    }

    /// Connections replaced after going silent (`ok`) or attempts that failed.
    pub fn reconnects(&self, ok: bool) -> u64 {
        self.reconnect_counter(ok).get()
    }

    pub(crate) fn reconnected(&self, ok: bool) {
        self.reconnect_counter(ok).inc();
    }

    fn reconnect_counter(&self, ok: bool) -> Counter {
        let result = if ok { "ok" } else { "failed" };
        self.reconnects
            .get_or_create(&ReconnectLabels { result })
            .clone()
    }

    pub(crate) fn repaired(&self, n: u64) {
        self.index_repaired.inc_by(n);
    }
}
