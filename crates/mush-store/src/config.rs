//! Store settings. Plain data with working defaults for `mush dev`; the binary maps its
//! flags and environment onto it.

use std::time::Duration;

/// How to reach Redis Cluster and how to lay out and expire a shard's keys.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Seed nodes, `redis://host:port`; the client discovers the rest of the cluster.
    pub nodes: Vec<String>,
    /// Prefix of every key of the shard (one Redis Cluster can hold several shards).
    pub prefix: String,
    /// Index buckets. Fixed for the life of a shard: changing it re-homes every key.
    pub buckets: u16,
    /// Lifetime of a connection record without any write-behind activity.
    pub session_ttl: Duration,
    /// Limit on establishing the first connection to the cluster.
    pub connect_timeout: Duration,
    /// Limit on one request, retries included; an interactive service would rather fail
    /// fast and say so than make a player wait for the client's default multi-second
    /// backoff.
    pub response_timeout: Duration,
    /// Retries of a request on MOVED/ASK/IO errors (each after a short backoff).
    pub retries: u32,
    /// The write-behind queue.
    pub write_behind: WriteBehindConfig,
    /// TLS to Redis with a CA of our own (and a client certificate); `None`: `rediss://`
    /// seeds are checked against the system's roots, `redis://` ones are plain.
    pub tls: Option<RedisTls>,
}

/// TLS to a Redis Cluster whose certificates a private CA signed (PEM bytes, read by the
/// caller: the operator takes them from a Secret, a pod from its mounted files). The seeds
/// must then be `rediss://`; the client connects to every node it discovers the same way.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// The CA of the nodes' certificates.
    pub ca: Vec<u8>,
    /// Certificate and key, for nodes that verify clients (`tls-auth-clients yes`).
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for RedisTls {
    // Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTls")
            .field("ca_bytes", &self.ca.len())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            nodes: vec!["redis://127.0.0.1:7000".into()],
            prefix: "mush".into(),
            buckets: 256,
            session_ttl: Duration::from_secs(24 * 3600),
            connect_timeout: Duration::from_secs(3),
            response_timeout: Duration::from_millis(1500),
            retries: 3,
            write_behind: WriteBehindConfig::default(),
            tls: None,
        }
    }
}

/// The bounded queue for non-critical writes (metadata, last-seen).
#[derive(Clone, Debug)]
pub struct WriteBehindConfig {
    /// Operations waiting to be written; when full, new ones are refused (and counted).
    pub capacity: usize,
    /// A flush starts when this many operations are pending...
    pub max_batch: usize,
    /// ...or when this much time has passed since the last flush. Also the window in which
    /// repeated touches of one connection coalesce into one write.
    pub flush_interval: Duration,
    /// First wait before retrying a failed flush; doubles up to `retry_max`.
    pub retry_min: Duration,
    /// Longest wait between retries of a failed flush.
    pub retry_max: Duration,
    /// Buckets written concurrently during one flush.
    pub concurrency: usize,
}

impl Default for WriteBehindConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            max_batch: 8192,
            flush_interval: Duration::from_millis(100),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(2),
            concurrency: 32,
        }
    }
}
