//! Connection records: register, read, bind, change state, remove, reconcile.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};
use mush_proto::{ConnState, ConnType, GatewayId, Handle, PodId, UnknownValue};

use crate::packed::{PackedError, Reader};
use crate::scripts::{READ_BUCKET, REGISTER, REMOVE, UPDATE};
use crate::{Store, StoreError};

/// Buckets read at once during reconciliation: enough to keep every master busy, few
/// enough not to queue thousands of pipelines on one multiplexed connection.
const RECONCILE_CONCURRENCY: usize = 64;

/// What the gateway knows when a socket connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConnection {
    /// The shard-unique handle the gateway allocated.
    pub handle: Handle,
    /// The gateway holding the socket.
    pub gateway: GatewayId,
    /// The game pod picked for the session, if one was picked already.
    pub pod: Option<PodId>,
    /// Peer address (`ip:port`).
    pub address: String,
    /// Peer host name (reverse DNS, or the address again).
    pub host: String,
    /// Telnet or WebSocket.
    pub conn_type: ConnType,
    /// When the socket connected (ms since the epoch).
    pub connected_at_ms: u64,
}

/// A connection as stored: the record plus its free-form metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnRecord {
    /// The connection.
    pub handle: Handle,
    /// The gateway holding the socket.
    pub gateway: GatewayId,
    /// The game pod serving the session (the sticky assignment).
    pub pod: Option<PodId>,
    /// The bound player (a dbref or name), once logged in.
    pub player: Option<String>,
    /// Connect screen or logged in.
    pub state: ConnState,
    /// Peer address.
    pub address: String,
    /// Peer host name.
    pub host: String,
    /// Telnet or WebSocket.
    pub conn_type: ConnType,
    /// When the socket connected (ms since the epoch).
    pub connected_at_ms: u64,
    /// Last activity seen (ms since the epoch; write-behind, so it may lag).
    pub last_seen_ms: u64,
    /// Client metadata: terminal type, window size, client name, ...
    pub meta: BTreeMap<String, String>,
}

impl Store {
    /// Records a new connection, indexes it, and (if `pod` is set) assigns it. Synchronous
    /// and atomic. Fails with [`StoreError::AlreadyExists`] if the handle is taken.
    pub async fn register(&self, new: &NewConnection) -> Result<(), StoreError> {
        let handle = new.handle;
        self.timed("register", async {
            let bucket = self.keys.bucket(handle);
            let mut call = REGISTER.prepare_invoke();
            call.key(self.keys.conn(handle))
                .key(self.keys.meta(handle))
                .key(self.keys.active(bucket));
            if let Some(pod) = &new.pod {
                call.key(self.keys.pod_set(bucket, pod));
            }
            let connected = new.connected_at_ms.to_string();
            call.arg(self.ttl_ms)
                .arg(handle.0)
                .arg("handle")
                .arg(handle.0)
                .arg("gateway")
                .arg(new.gateway.as_str())
                .arg("pod")
                .arg(new.pod.as_ref().map_or("", PodId::as_str))
                .arg("player")
                .arg("")
                .arg("state")
                .arg(ConnState::Connected.as_str())
                .arg("addr")
                .arg(&new.address)
                .arg("host")
                .arg(&new.host)
                .arg("ctype")
                .arg(new.conn_type.as_str())
                .arg("connected_at")
                .arg(&connected)
                .arg("last_seen")
                .arg(&connected);
            let created: i64 = call
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("register", handle))?;
            if created == 1 {
                Ok(())
            } else {
                Err(StoreError::AlreadyExists(handle))
            }
        })
        .await
    }

    /// Reserves `count` fresh handles for one gateway: one `INCRBY` per block, not per
    /// connection, and never a handle another gateway of the shard holds.
    pub async fn allocate_handles(&self, count: u64) -> Result<std::ops::Range<u64>, StoreError> {
        self.timed("allocate_handles", async {
            let end: u64 = redis::cmd("INCRBY")
                .arg(format!("{}:handles", self.keys.prefix()))
                .arg(count)
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("allocate handles", "shard"))?;
            Ok(end.saturating_sub(count) + 1..end + 1)
        })
        .await
    }

    /// Reads one connection with its metadata; `None` if it does not exist.
    pub async fn get(&self, handle: Handle) -> Result<Option<ConnRecord>, StoreError> {
        self.timed("get", async {
            let (record, meta): (Pairs, Pairs) = redis::pipe()
                .hgetall(self.keys.conn(handle))
                .hgetall(self.keys.meta(handle))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("get", handle))?;
            if record.is_empty() {
                return Ok(None);
            }
            parse_record(handle, as_pairs(&record), as_pairs(&meta)).map(Some)
        })
        .await
    }

    /// Binds the connection to a player at login and marks it logged in. Synchronous.
    pub async fn bind_player(&self, handle: Handle, player: &str) -> Result<(), StoreError> {
        let fields = [("player", player), ("state", ConnState::LoggedIn.as_str())];
        self.timed("bind_player", self.update(handle, "bind_player", &fields))
            .await
    }

    /// Changes the connection's state. Back to [`ConnState::Connected`] (LOGOUT) also
    /// clears the bound player: a connection at the connect screen has none. Synchronous.
    pub async fn set_state(&self, handle: Handle, state: ConnState) -> Result<(), StoreError> {
        let fields: &[(&str, &str)] = match state {
            ConnState::Connected => &[("state", "connected"), ("player", "")],
            ConnState::LoggedIn => &[("state", "logged-in")],
        };
        self.timed("set_state", self.update(handle, "set_state", fields))
            .await
    }

    async fn update(
        &self,
        handle: Handle,
        op: &'static str,
        fields: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let mut call = UPDATE.prepare_invoke();
        call.key(self.keys.conn(handle));
        for (field, value) in fields {
            call.arg(*field).arg(*value);
        }
        let updated: i64 = call
            .invoke_async(&mut self.conn())
            .await
            .map_err(StoreError::redis(op, handle))?;
        if updated == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(handle))
        }
    }

    /// Deletes the record, its metadata and its index entries. Returns whether a record
    /// still existed (false after TTL expiry; the indexes are cleaned either way).
    pub async fn remove(&self, handle: Handle) -> Result<bool, StoreError> {
        self.timed("remove", async {
            let bucket = self.keys.bucket(handle);
            let existed: i64 = REMOVE
                .key(self.keys.conn(handle))
                .key(self.keys.meta(handle))
                .key(self.keys.active(bucket))
                .key(self.keys.journal(handle))
                .arg(handle.0)
                .arg(self.keys.pod_set_prefix(bucket))
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("remove", handle))?;
            Ok(existed == 1)
        })
        .await
    }

    /// Every live connection of the shard, for a process rebuilding its view after a
    /// restart. One pipelined read per bucket, buckets in parallel; stale index entries
    /// found on the way are repaired.
    pub async fn list_active(&self) -> Result<Vec<ConnRecord>, StoreError> {
        self.timed("list_active", self.read_index(None)).await
    }

    /// The connections assigned to one pod (for failover and drain), read like
    /// [`Store::list_active`] from the pod's sets.
    pub async fn list_pod(&self, pod: &PodId) -> Result<Vec<ConnRecord>, StoreError> {
        self.timed("list_pod", self.read_index(Some(pod))).await
    }

    async fn read_index(&self, pod: Option<&PodId>) -> Result<Vec<ConnRecord>, StoreError> {
        let per_bucket: Vec<Vec<ConnRecord>> = futures_util::stream::iter(0..self.keys.buckets())
            .map(|bucket| self.read_bucket(bucket, pod))
            .buffer_unordered(RECONCILE_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(per_bucket.into_iter().flatten().collect())
    }

    async fn read_bucket(
        &self,
        bucket: u16,
        pod: Option<&PodId>,
    ) -> Result<Vec<ConnRecord>, StoreError> {
        let index = match pod {
            Some(pod) => self.keys.pod_set(bucket, pod),
            None => self.keys.active(bucket),
        };
        let (removed, packed): (u64, Vec<u8>) = READ_BUCKET
            .key(&index)
            .arg(self.keys.conn_prefix(bucket))
            .arg(self.keys.meta_prefix(bucket))
            .arg(pod.map_or("", PodId::as_str))
            .invoke_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("read index", &index))?;
        if removed > 0 {
            tracing::info!(index, removed, "removed stale index entries");
            self.metrics.repaired(removed);
        }
        unpack_records(bucket, &packed)
    }
}

/// The connection records of a packed `READ_BUCKET` reply. A record that does not parse is
/// logged and skipped; a reply that does not, is an error. Pure, so the reader of these
/// bytes (which come from Redis, writable by more than this process) is fuzzed alone.
pub(crate) fn unpack_records(bucket: u16, packed: &[u8]) -> Result<Vec<ConnRecord>, StoreError> {
    let corrupt = |error: PackedError| StoreError::Corrupt {
        handle: format!("bucket {bucket}"),
        reason: error.to_string(),
    };
    let mut reader = Reader::new(packed);
    let items = reader.array().map_err(corrupt)?;
    // The header's count is not trusted for the allocation: a record takes bytes, so there
    // are no more records than bytes.
    let mut records = Vec::with_capacity((items / 3).min(packed.len()));
    for _ in 0..items / 3 {
        let handle = reader.str().map_err(corrupt)?;
        let fields = reader.pairs().map_err(corrupt)?;
        let meta = reader.pairs().map_err(corrupt)?;
        let parsed = handle
            .parse::<Handle>()
            .map_err(|e| StoreError::Corrupt {
                handle: handle.to_owned(),
                reason: e.to_string(),
            })
            .and_then(|handle| parse_record(handle, fields, meta));
        match parsed {
            Ok(record) => records.push(record),
            Err(error) => tracing::error!(%error, "skipping unreadable connection record"),
        }
    }
    if !reader.is_done() {
        return Err(StoreError::Corrupt {
            handle: format!("bucket {bucket}"),
            reason: "trailing bytes after the packed records".into(),
        });
    }
    Ok(records)
}

/// A hash as `HGETALL` returns it, in field order.
type Pairs = Vec<(String, String)>;

fn as_pairs(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Builds a record from `HGETALL`-style pairs; unknown fields are ignored (a newer writer
/// may add some), missing ones default, malformed ones are an error.
fn parse_record<'a>(
    handle: Handle,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    meta: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ConnRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        handle: handle.to_string(),
        reason,
    };
    let number = |name: &str, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| corrupt(format!("{name} is not a number: {value:?}")))
    };
    let mut record = ConnRecord {
        handle,
        gateway: GatewayId::new("unknown").map_err(|e| corrupt(e.to_string()))?,
        pod: None,
        player: None,
        state: ConnState::Connected,
        address: String::new(),
        host: String::new(),
        conn_type: ConnType::Telnet,
        connected_at_ms: 0,
        last_seen_ms: 0,
        meta: meta
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let mut gateway_seen = false;
    for (name, value) in fields {
        match name {
            "gateway" => {
                record.gateway = GatewayId::new(value).map_err(|e| corrupt(e.to_string()))?;
                gateway_seen = true;
            }
            "pod" if !value.is_empty() => {
                record.pod = Some(PodId::new(value).map_err(|e| corrupt(e.to_string()))?);
            }
            "player" if !value.is_empty() => record.player = Some(value.to_owned()),
            "state" => {
                record.state = value
                    .parse()
                    .map_err(|e: UnknownValue| corrupt(e.to_string()))?
            }
            "ctype" => {
                record.conn_type = value
                    .parse()
                    .map_err(|e: UnknownValue| corrupt(e.to_string()))?
            }
            "addr" => record.address = value.to_owned(),
            "host" => record.host = value.to_owned(),
            "connected_at" => record.connected_at_ms = number(name, value)?,
            "last_seen" => record.last_seen_ms = number(name, value)?,
            _ => {}
        }
    }
    if !gateway_seen {
        return Err(corrupt("no gateway field".into()));
    }
    Ok(record)
}

#[cfg(test)]
mod unpack_tests {
    use super::*;

    /// A reply's array header is not trusted: one claiming four billion items over five
    /// bytes is an error, not an allocation of hundreds of gigabytes.
    #[test]
    fn a_lying_count_is_refused_without_allocating_for_it() {
        let error = unpack_records(7, &[0xdd, 0xff, 0xff, 0xff, 0xff]).expect_err("truncated");
        assert!(error.to_string().contains("truncated"), "{error}");
        assert!(unpack_records(7, &[0x90]).expect("empty").is_empty());
    }
}
