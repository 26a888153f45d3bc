//! Deleting a whole shard's data (the operator's finalizer, when a MushShard is deleted).

use std::sync::LazyLock;

use redis::Script;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use crate::Store;
use crate::error::StoreError;

/// Keys unlinked per round trip.
const BATCH: usize = 500;

/// Deletes the owner marker only while it still names the caller.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0",
    )
});

impl Store {
    /// The key naming who owns this prefix (see [`Store::claim_owner`]).
    fn owner_key(&self) -> String {
        format!("{}:owner", self.keys.prefix())
    }

    /// Claims this prefix for `owner` (a MushShard's uid) unless someone else holds it:
    /// `None` when it is `owner`'s (now or already), `Some(other)` when it is `other`'s.
    /// A shard pointed at a prefix another shard uses must neither run on its data nor,
    /// when deleted, wipe it.
    pub async fn claim_owner(&self, owner: &str) -> Result<Option<String>, StoreError> {
        let key = self.owner_key();
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(owner)
            .arg("NX")
            .arg("GET")
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("claim owner", &key))?;
        Ok(set.filter(|held| held != owner))
    }

    /// Gives up `owner`'s claim on this prefix, keeping the data: a shard deleted with
    /// `keepDataOnDelete` leaves its world for the next MushShard that names the prefix,
    /// which could not claim it while the marker named a uid that no longer exists. True
    /// when the marker was `owner`'s and is gone; a marker naming someone else stays.
    pub async fn release_owner(&self, owner: &str) -> Result<bool, StoreError> {
        let key = self.owner_key();
        let deleted: i64 = RELEASE
            .key(&key)
            .arg(owner)
            .invoke_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("release owner", &key))?;
        Ok(deleted == 1)
    }

    /// Who owns this prefix, if anyone claimed it.
    pub async fn owner(&self) -> Result<Option<String>, StoreError> {
        let key = self.owner_key();
        redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("read owner", &key))
    }

    /// Deletes every key under this store's prefix on every master, with `SCAN` (never
    /// `KEYS`, which would stall a large Redis), the owner's marker last (so a purge cut
    /// short is still known to be the owner's when it is retried). Returns how many keys
    /// were deleted. Idempotent: a retry after a failure deletes what is left.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        let owner_key = self.owner_key();
        let pattern = format!("{}:*", self.keys.prefix());
        let mut deleted = 0;
        for (host, port) in self.masters().await? {
            let mut cursor = 0u64;
            loop {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port,
                });
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000);
                let reply = self
                    .conn()
                    .route_command(scan, route)
                    .await
                    .map_err(StoreError::redis("scan", format!("{host}:{port}")))?;
                let (next, mut keys): (u64, Vec<String>) = redis::from_redis_value(reply)
                    .map_err(|e| StoreError::Config(format!("unexpected SCAN reply: {e}")))?;
                keys.retain(|key| *key != owner_key);
                for chunk in keys.chunks(BATCH) {
                    // Keys of one SCAN page live in many slots: unlink them concurrently,
                    // one command each (a cluster pipeline must stay inside one slot).
                    futures_util::future::try_join_all(chunk.iter().map(|key| {
                        let mut conn = self.conn();
                        async move {
                            redis::cmd("UNLINK")
                                .arg(key)
                                .query_async::<i64>(&mut conn)
                                .await
                                .map_err(StoreError::redis("unlink", key))
                        }
                    }))
                    .await?;
                    deleted += chunk.len() as u64;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        let marker: i64 = redis::cmd("UNLINK")
            .arg(&owner_key)
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("unlink", &owner_key))?;
        Ok(deleted + u64::try_from(marker).unwrap_or(0))
    }

    /// The masters of the cluster as `(host, port)`, from `CLUSTER NODES`.
    async fn masters(&self) -> Result<Vec<(String, u16)>, StoreError> {
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("cluster nodes", "cluster"))?;
        Ok(nodes
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let address = fields.nth(1)?;
                let flags = fields.next()?;
                if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                    return None;
                }
                let (host, port) = address.split('@').next()?.rsplit_once(':')?;
                Some((host.to_owned(), port.parse().ok()?))
            })
            .collect())
    }
}
