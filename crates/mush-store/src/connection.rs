//! The shared Redis Cluster connection, replaced when it stops answering.
//!
//! redis-rs 1.8's async cluster connection can wedge for good when a master dies under
//! load: every request times out, also long after the replica is promoted (reproduced by
//! the store test `busy_store_recovers_after_a_master_fails_over`; its slot refresh, which
//! holds the topology lock while it queries nodes, is the likely place, not confirmed). A
//! fresh connection from the same client rediscovers the topology and works as soon as a
//! replica is promoted. So the store watches its own outcomes: when requests go unanswered
//! and none has been answered for [`REBUILD_AFTER`], it builds a new connection in the
//! background and swaps it in; requests already queued on the old one fail with their
//! timeout, and their callers retry as they would anyway.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;

use crate::metrics::StoreMetrics;

/// How long the connection may fail without a single success before it is replaced.
/// Longer than one request's timeout, so one slow request alone never triggers it.
pub(crate) const REBUILD_AFTER: Duration = Duration::from_secs(2);

/// The connection every store operation clones, and what is needed to replace it.
pub(crate) struct SharedConnection {
    client: ClusterClient,
    connect_timeout: Duration,
    current: RwLock<ClusterConnection>,
    /// When the newest answer arrived, in milliseconds since `born`: an atomic, since
    /// every store operation reports here.
    last_answer_ms: AtomicU64,
    born: Instant,
    rebuilding: AtomicBool,
    metrics: StoreMetrics,
}

impl SharedConnection {
    pub(crate) fn new(
        client: ClusterClient,
        conn: ClusterConnection,
        connect_timeout: Duration,
        metrics: StoreMetrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            connect_timeout,
            current: RwLock::new(conn),
            last_answer_ms: AtomicU64::new(0),
            born: Instant::now(),
            rebuilding: AtomicBool::new(false),
            metrics,
        })
    }

    /// A handle to the current connection (cheap: connections are multiplexed).
    pub(crate) fn get(&self) -> ClusterConnection {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records the outcome of one request (`answered`: Redis replied, even with an error);
    /// a silence after [`REBUILD_AFTER`] without any answer starts a replacement (one at a
    /// time).
    pub(crate) fn observe(self: &Arc<Self>, answered: bool) {
        if answered {
            self.last_answer_ms.store(self.now_ms(), Ordering::Relaxed);
            return;
        }
        let silent_for = Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_answer_ms.load(Ordering::Relaxed)),
        );
        if silent_for < REBUILD_AFTER || self.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.rebuild(silent_for).await;
            this.rebuilding.store(false, Ordering::Release);
        });
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn rebuild(&self, silent_for: Duration) {
        tracing::warn!(
            ?silent_for,
            "Redis Cluster connection has not answered; building a new one"
        );
        let fresh =
            tokio::time::timeout(self.connect_timeout, self.client.get_async_connection()).await;
        match fresh {
            Ok(Ok(conn)) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = conn;
                // Give the new connection a full window before judging it.
                self.last_answer_ms.store(self.now_ms(), Ordering::Relaxed);
                self.metrics.reconnected(true);
                tracing::info!("Redis Cluster connection replaced");
            }
            Ok(Err(error)) => {
                self.metrics.reconnected(false);
                tracing::warn!(%error, "cannot build a new Redis Cluster connection yet");
            }
            Err(_) => {
                self.metrics.reconnected(false);
                tracing::warn!(timeout = ?self.connect_timeout, "new Redis Cluster connection timed out");
            }
        }
    }
}
