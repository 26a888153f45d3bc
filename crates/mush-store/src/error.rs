//! What can go wrong talking to the store, with enough context to act on it.

use mush_proto::Handle;

/// A synchronous store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis did not answer or refused. Every write is one atomic script, so it was applied
    /// wholly or not at all; after a timeout or a dropped connection nobody knows which
    /// ([`StoreError::outcome_unknown`]): the request may still run when Redis wakes up.
    #[error("{op} for {target} failed: {source}")]
    Redis {
        /// The store operation.
        op: &'static str,
        /// The handle, pod or bucket it was about.
        target: String,
        /// The client error (timeout, connection refused, cluster down...).
        #[source]
        source: redis::RedisError,
    },
    /// Connecting to the cluster failed or took too long.
    #[error("cannot connect to Redis Cluster at {nodes}: {reason}")]
    Connect {
        /// The seed nodes tried.
        nodes: String,
        /// Why.
        reason: String,
    },
    /// The connection does not exist (never registered, removed, or expired by TTL).
    #[error("connection {0} does not exist (removed or expired)")]
    NotFound(Handle),
    /// The world object does not exist (never created, or destroyed).
    #[error("object #{0} does not exist")]
    NoObject(u64),
    /// A command created an object whose number another creation already used.
    #[error("object #{0} already exists")]
    ObjectExists(u64),
    /// `register` for a handle that is already registered: handles are never reused.
    #[error("connection {0} is already registered")]
    AlreadyExists(Handle),
    /// A stored record that this version cannot read.
    #[error("connection record {handle} is unreadable: {reason}")]
    Corrupt {
        /// Whose record.
        handle: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The write-behind flusher has stopped (the store is shutting down).
    #[error("write-behind has shut down")]
    Shutdown,
    /// Invalid configuration.
    #[error("invalid store configuration: {0}")]
    Config(String),
}

/// True when Redis did not answer (timeout, dropped or failed connection), as opposed to
/// answering with an error.
pub(crate) fn unanswered(error: &redis::RedisError) -> bool {
    error.is_timeout() || error.is_connection_dropped() || error.is_io_error()
}

impl StoreError {
    /// True when a write may have been applied although it failed here (timeout, dropped
    /// connection). A caller that retries must accept the retry's "already done" answer,
    /// e.g. [`StoreError::AlreadyExists`] for a `register` whose first attempt timed out.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Redis { source, .. } => unanswered(source),
            _ => false,
        }
    }

    pub(crate) fn redis(
        op: &'static str,
        target: impl ToString,
    ) -> impl FnOnce(redis::RedisError) -> Self {
        let target = target.to_string();
        move |source| Self::Redis { op, target, source }
    }
}

/// A write-behind operation was not queued. The caller decides whether to retry later or
/// give the update up; the store has already counted and logged it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// The bounded queue is full (Redis slow or down): policy is to refuse the newest
    /// update rather than grow memory or silently drop an older one.
    #[error("write-behind queue full ({capacity} pending): {op} for connection {handle} refused")]
    Full {
        /// The operation refused.
        op: &'static str,
        /// Its connection.
        handle: Handle,
        /// The queue bound.
        capacity: usize,
    },
    /// A metadata field name or value over the limits (untrusted client input).
    #[error(
        "metadata {field:?} for connection {handle} refused: field must be 1-64 bytes, value at most 1024"
    )]
    TooLarge {
        /// Its connection.
        handle: Handle,
        /// The field name (cut to the limit).
        field: String,
    },
    /// The store is shutting down.
    #[error("write-behind has shut down: {op} for connection {handle} refused")]
    Closed {
        /// The operation refused.
        op: &'static str,
        /// Its connection.
        handle: Handle,
    },
}
