//! The shared Redis Cluster connection, replaced when it stops answering.
//!
//! redis-rs 1.8's async cluster connection can wedge for good when a master dies under
//! load: a slot refresh holds its topology lock while it waits on the dead node's
//! connection, and every request queues behind it (reproduced by the store test
//! `busy_store_recovers_after_a_master_fails_over`). A fresh connection from the same client
//! rediscovers the topology and works as soon as a replica is promoted. So the store watches
//! its own outcomes: when requests fail and none has succeeded for [`REBUILD_AFTER`], it
//! builds a new connection in the background and swaps it in; requests already queued on
//! the old one fail with their timeout, and their callers retry as they would anyway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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
    last_success: Mutex<Instant>,
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
            last_success: Mutex::new(Instant::now()),
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

    /// Records the outcome of one request; a failure after [`REBUILD_AFTER`] without any
    /// success starts a replacement (one at a time).
    pub(crate) fn observe(self: &Arc<Self>, ok: bool) {
        let mut last = self.last_success.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            *last = Instant::now();
            return;
        }
        let silent_for = last.elapsed();
        drop(last);
        if silent_for < REBUILD_AFTER || self.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.rebuild(silent_for).await;
            this.rebuilding.store(false, Ordering::Release);
        });
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
                *self.last_success.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
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
