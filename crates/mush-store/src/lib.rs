//! Connection state, pod assignment and write-behind on Redis Cluster.
//!
//! The gateway and the game pods share one view of every player connection through this
//! crate. The process that holds the socket (a gateway) and the process that runs the
//! player's commands (a game pod) can each die on their own; whatever must outlive either
//! of them is here.
//!
//! # Authority: who writes what
//!
//! | field(s) | written by | how |
//! | --- | --- | --- |
//! | handle, gateway, address, host, connection type, connected-at | the gateway, once, in [`Store::register`] | synchronous |
//! | pod (the sticky assignment) | the gateway at register / [`Store::assign`]; a rescuer or a draining pod through [`Store::move_handle`] | synchronous, compare-and-set for moves |
//! | player, state | the game pod serving the session ([`Store::bind_player`], [`Store::set_state`]) | synchronous |
//! | last-seen | whoever sees activity ([`Store::touch`]) | write-behind |
//! | metadata (terminal type, window size, client name...) | the gateway as the client tells it ([`Store::update_meta`]) | write-behind |
//! | removal | the gateway when the socket closes, or a reaper ([`Store::remove`]) | synchronous |
//!
//! # Consistency
//!
//! * **Synchronous writes** return only after Redis has applied them, and fail with a
//!   [`StoreError`] otherwise. Each is one Lua script inside one cluster slot, so it is
//!   atomic: the record, its active index entry and its pod-set entry change together or
//!   not at all. Two movers racing on one handle cannot both win.
//! * **Write-behind writes** are queued in memory, coalesced (the newest value per field
//!   wins) and written in one script call per bucket. They are *eventually* visible, usually
//!   within [`WriteBehindConfig::flush_interval`]. They are never dropped silently: a failed
//!   flush is logged with its keys and handles, counted, and retried with backoff until it
//!   succeeds or shutdown's deadline passes (then counted as `abandoned`). A full queue
//!   refuses the *newest* update and tells the caller ([`EnqueueError::Full`]). An update
//!   for a connection that no longer exists is discarded, logged and counted as `missing`;
//!   it never recreates the record.
//! * **TTL**: a record and its metadata expire together after
//!   [`StoreConfig::session_ttl`] without write-behind activity. Touches refresh it at most
//!   once per flush window, never once per command.
//! * **Indexes** (bucket active sets, per-pod sets) are derived from the records. The
//!   record's `pod` field is the truth; a reader that finds an index entry whose record has
//!   expired or names another pod removes the entry (atomically, in the same script).
//! * **Reads** go to masters and see every synchronous write that returned before them.
//!
//! # Layout
//!
//! See [`Keys`] for the key layout and why a connection's keys share one bucket hash tag.

mod assign;
mod commit;
mod config;
mod conn;
mod connection;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod journal;
mod keys;
mod metrics;
mod outbox;
mod packed;
mod purge;
mod queue;
mod scripts;
mod throttle;
mod world;
mod writebehind;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::cluster::ClusterClient;

use crate::connection::SharedConnection;
use redis::cluster_async::ClusterConnection;

pub use assign::{MoveOutcome, PodInfo, PodStatus};
pub use commit::{Commit, Committed, Index, IndexChange, NameChange, torn};
pub use config::{RedisTls, StoreConfig, WriteBehindConfig};
pub use conn::{ConnRecord, NewConnection};
pub use error::{EnqueueError, StoreError};
pub use keys::Keys;
pub use metrics::{OpLabels, StoreMetrics, WbLabels};
pub use outbox::{PARCEL_LEASE_MS, Parcel};
pub use queue::{
    Applied, BatchFinished, Claimed, DONE_MEMORY_MS, Listed, Listing, NewEntry, QueueChange,
};
pub use throttle::Door;
pub use world::{Dbref, Field, FieldChange, Kind, NewObject, Object, SearchIndex, VALUE_MAX};
pub use writebehind::{META_FIELD_MAX, META_VALUE_MAX};

use writebehind::WriteBehind;

/// A handle on the shard's state in Redis Cluster. Cheap to clone; clones share one
/// multiplexed cluster connection and one write-behind queue.
#[derive(Clone)]
pub struct Store {
    conn: Arc<SharedConnection>,
    keys: Arc<Keys>,
    ttl_ms: u64,
    metrics: StoreMetrics,
    write_behind: WriteBehind,
}

impl Store {
    /// Connects to the cluster and starts the write-behind flusher on the current Tokio
    /// runtime.
    pub async fn connect(config: StoreConfig, metrics: StoreMetrics) -> Result<Self, StoreError> {
        let keys = Arc::new(Keys::new(&config.prefix, config.buckets)?);
        let nodes = config
            .nodes
            .iter()
            .map(|n| redact_url(n))
            .collect::<Vec<_>>()
            .join(",");
        let connect_error = |reason: String| StoreError::Connect {
            nodes: nodes.clone(),
            reason,
        };
        let mut builder = ClusterClient::builder(config.nodes.clone());
        if let Some(tls) = &config.tls {
            // A CA given for plain seeds would be silently unused: say so instead.
            if let Some(plain) = config.nodes.iter().find(|n| !n.starts_with("rediss://")) {
                return Err(connect_error(format!(
                    "a Redis CA was given, but seed {} is not rediss://",
                    redact_url(plain)
                )));
            }
            builder = builder.certs(redis::TlsCertificates {
                client_tls: tls.client.clone().map(|(client_cert, client_key)| {
                    redis::ClientTlsConfig {
                        client_cert,
                        client_key,
                    }
                }),
                root_cert: Some(tls.ca.clone()),
            });
        }
        let client = builder
            .retries(config.retries)
            .min_retry_wait(10)
            .max_retry_wait(250)
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.response_timeout)
            .build()
            .map_err(|e| connect_error(e.to_string()))?;
        let conn = tokio::time::timeout(config.connect_timeout, client.get_async_connection())
            .await
            .map_err(|_| connect_error(format!("no answer within {:?}", config.connect_timeout)))?
            .map_err(|e| connect_error(e.to_string()))?;
        let conn = SharedConnection::new(client, conn, config.connect_timeout, metrics.clone());
        let ttl_ms = millis(config.session_ttl);
        let write_behind = WriteBehind::start(
            conn.clone(),
            keys.clone(),
            ttl_ms,
            config.write_behind.clone(),
            metrics.clone(),
        );
        Ok(Self {
            conn,
            keys,
            ttl_ms,
            metrics,
            write_behind,
        })
    }

    /// The key layout (for tools that clean or inspect a shard).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The store's metrics.
    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    /// One round trip to the master of every bucket's slot, concurrently: readiness probes
    /// use it to notice a master that is gone (a plain `PING` is answered by any live node,
    /// so it stays green while a third of the sessions cannot be written).
    pub async fn ping(&self) -> Result<Duration, StoreError> {
        let start = Instant::now();
        self.timed("ping", async {
            let probes = (0..self.keys.buckets()).map(|bucket| {
                let mut conn = self.conn();
                let key = self.keys.active(bucket);
                async move {
                    redis::cmd("EXISTS")
                        .arg(key)
                        .query_async::<i64>(&mut conn)
                        .await
                }
            });
            futures_util::future::try_join_all(probes)
                .await
                .map_err(StoreError::redis("ping", "cluster"))
        })
        .await?;
        Ok(start.elapsed())
    }

    /// Waits until every write-behind operation queued before this call is written (or has
    /// failed for good). Used by a draining pod and by tests.
    pub async fn flush_write_behind(&self) -> Result<(), StoreError> {
        self.write_behind.flush().await
    }

    /// Stops the write-behind flusher after a last flush that may run until `deadline`.
    /// Returns how many operations had to be abandoned (also logged and counted).
    pub async fn shutdown(&self, deadline: Instant) -> u64 {
        self.write_behind.shutdown(deadline).await
    }

    fn conn(&self) -> ClusterConnection {
        self.conn.get()
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let result = work.await;
        self.metrics
            .observe_sync(op, start.elapsed(), result.is_ok());
        // Any answer from Redis, even an error, shows the connection works.
        self.conn
            .observe(!result.as_ref().is_err_and(StoreError::outcome_unknown));
        result
    }
}

/// Milliseconds since the Unix epoch, the time format of every stored timestamp.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `url` with any password in it replaced by `***` (`redis://user:***@host:6379`), for
/// log lines and errors: no secret given in a URL is ever printed.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        // A lone userinfo is a token (NATS) or a password-only login: secret too.
        None => "***".to_owned(),
    };
    format!("{scheme}://{user}@{host}{path}")
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn passwords_and_tokens_in_urls_are_never_printed() {
        let cases = [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            (
                "redis://:s3cret@10.0.0.1:6379",
                "redis://:***@10.0.0.1:6379",
            ),
            (
                "rediss://mush:s3cret@redis:6380/0",
                "rediss://mush:***@redis:6380/0",
            ),
            ("nats://t0ken@nats:4222", "nats://***@nats:4222"),
            ("nats://u:p@ss@nats:4222", "nats://u:***@nats:4222"),
            ("not a url", "not a url"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
