//! Sticky assignment of connections to game pods, and the pods' heartbeats.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use mush_proto::{GatewayId, Handle, PodId};

use crate::scripts::{ASSIGN, HEARTBEAT, MOVE};
use crate::{Store, StoreError, millis, now_ms};

/// Buckets counted or listed at once.
const BUCKET_CONCURRENCY: usize = 64;

/// What a game pod announces about itself with every heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    /// The pod.
    pub id: PodId,
    /// Where gateways reach its gRPC service (`host:port`).
    pub addr: String,
    /// A draining pod takes no new sessions and is handing its sessions away.
    pub draining: bool,
}

/// A registered pod as seen by gateways, rescuers and the autoscaler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodStatus {
    /// The pod and what it announced (empty address if its heartbeat expired).
    pub info: PodInfo,
    /// False once the heartbeat has expired: the pod is presumed dead and its sessions
    /// are orphans to be moved.
    pub alive: bool,
    /// Connections assigned to it (from the per-pod index).
    pub sessions: u64,
}

/// The result of a compare-and-set move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoveOutcome {
    /// The connection now belongs to the target pod.
    Moved,
    /// The connection was no longer on the source pod; `current` owns it (someone else
    /// moved it first). Nothing changed.
    NotOnSource {
        /// The owner found, if any.
        current: Option<PodId>,
    },
    /// The connection does not exist.
    Missing,
}

impl Store {
    /// Assigns a connection to a pod unconditionally (new sessions, or an operator's
    /// rebalance). Synchronous and atomic with the per-pod index.
    pub async fn assign(&self, handle: Handle, pod: &PodId) -> Result<(), StoreError> {
        self.timed("assign", async {
            let bucket = self.keys.bucket(handle);
            let assigned: i64 = ASSIGN
                .key(self.keys.conn(handle))
                .key(self.keys.pod_set(bucket, pod))
                .arg(handle.0)
                .arg(pod.as_str())
                .arg(self.keys.pod_set_prefix(bucket))
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("assign", handle))?;
            if assigned == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound(handle))
            }
        })
        .await
    }

    /// Moves a connection from `from` to `to` only if it is still on `from`: of any number
    /// of concurrent movers, exactly one sees [`MoveOutcome::Moved`].
    pub async fn move_handle(
        &self,
        handle: Handle,
        from: &PodId,
        to: &PodId,
    ) -> Result<MoveOutcome, StoreError> {
        self.timed("move", async {
            let bucket = self.keys.bucket(handle);
            let (code, current): (i64, String) = MOVE
                .key(self.keys.conn(handle))
                .key(self.keys.pod_set(bucket, from))
                .key(self.keys.pod_set(bucket, to))
                .arg(handle.0)
                .arg(from.as_str())
                .arg(to.as_str())
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("move", handle))?;
            Ok(match code {
                1 => MoveOutcome::Moved,
                0 => MoveOutcome::NotOnSource {
                    current: PodId::new(current).ok(),
                },
                _ => MoveOutcome::Missing,
            })
        })
        .await
    }

    /// The handles in a pod's sets. Cheaper than [`Store::list_pod`] (no records read) but
    /// may include a few stale entries, which a mover's compare-and-set rejects harmlessly.
    pub async fn pod_handles(&self, pod: &PodId) -> Result<Vec<Handle>, StoreError> {
        self.timed("pod_handles", async {
            let per_bucket: Vec<Vec<u64>> = futures_util::stream::iter(0..self.keys.buckets())
                .map(|bucket| {
                    let mut conn = self.conn();
                    let key = self.keys.pod_set(bucket, pod);
                    async move {
                        redis::cmd("SMEMBERS")
                            .arg(&key)
                            .query_async::<Vec<u64>>(&mut conn)
                            .await
                            .map_err(StoreError::redis("pod_handles", key))
                    }
                })
                .buffer_unordered(BUCKET_CONCURRENCY)
                .try_collect()
                .await?;
            Ok(per_bucket.into_iter().flatten().map(Handle).collect())
        })
        .await
    }

    /// Announces a pod as alive for `ttl`; call it every fraction of `ttl`.
    pub async fn heartbeat(&self, pod: &PodInfo, ttl: Duration) -> Result<(), StoreError> {
        self.timed("heartbeat", async {
            let mut conn = self.conn();
            HEARTBEAT
                .key(self.keys.heartbeat(&pod.id))
                .arg(millis(ttl).max(1))
                .arg("addr")
                .arg(&pod.addr)
                .arg("draining")
                .arg(u8::from(pod.draining))
                .arg("seen_at")
                .arg(now_ms())
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("heartbeat", &pod.id))?;
            redis::cmd("SADD")
                .arg(self.keys.pods())
                .arg(pod.id.as_str())
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("heartbeat", &pod.id))?;
            // Any pod's heartbeat keeps the shard "up" (see `claim_shard_start`).
            redis::cmd("SET")
                .arg(self.keys.shard_up())
                .arg(pod.id.as_str())
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async::<()>(&mut conn)
                .await
                .map_err(StoreError::redis("heartbeat", &pod.id))?;
            Ok(())
        })
        .await
    }

    /// Whether this pod is starting the shard: true when no pod of the shard has
    /// heartbeated for `ttl` (a first start, or every pod was down), and only for the one
    /// pod that claims it. A rolling update, a scale-up or a pod restart among live pods
    /// is not a start. Call it before the pod's first heartbeat, which renews the claim.
    pub async fn claim_shard_start(&self, pod: &PodId, ttl: Duration) -> Result<bool, StoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.shard_up())
            .arg(pod.as_str())
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("claim shard start", pod))?;
        Ok(set.is_some())
    }

    /// Forgets a pod (after it drained, or after its orphans were moved).
    pub async fn deregister_pod(&self, pod: &PodId) -> Result<(), StoreError> {
        self.timed("deregister_pod", async {
            let mut conn = self.conn();
            redis::cmd("DEL")
                .arg(self.keys.heartbeat(pod))
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("deregister_pod", pod))?;
            redis::cmd("SREM")
                .arg(self.keys.pods())
                .arg(pod.as_str())
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("deregister_pod", pod))?;
            Ok(())
        })
        .await
    }

    /// Every registered pod, alive or not, with its session count: one read of the
    /// registry, one per heartbeat, and one pipeline of `SCARD`s per bucket.
    pub async fn pods(&self) -> Result<Vec<PodStatus>, StoreError> {
        self.timed("pods", async {
            let mut conn = self.conn();
            let mut ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(self.keys.pods())
                .query_async(&mut conn)
                .await
                .map_err(StoreError::redis("pods", "registry"))?;
            ids.sort();
            let ids: Vec<PodId> = ids
                .into_iter()
                .filter_map(|id| match PodId::new(id) {
                    Ok(id) => Some(id),
                    Err(error) => {
                        tracing::warn!(%error, "ignoring malformed pod id in the registry");
                        None
                    }
                })
                .collect();
            let mut pods = Vec::with_capacity(ids.len());
            for id in &ids {
                let beat: HashMap<String, String> = redis::cmd("HGETALL")
                    .arg(self.keys.heartbeat(id))
                    .query_async(&mut conn)
                    .await
                    .map_err(StoreError::redis("pods", id))?;
                pods.push(PodStatus {
                    alive: !beat.is_empty(),
                    info: PodInfo {
                        id: id.clone(),
                        addr: beat.get("addr").cloned().unwrap_or_default(),
                        draining: beat.get("draining").is_some_and(|d| d == "1"),
                    },
                    sessions: 0,
                });
            }
            let counts = self.session_counts(&ids).await?;
            for (pod, count) in pods.iter_mut().zip(counts) {
                pod.sessions = count;
            }
            Ok(pods)
        })
        .await
    }

    /// Pods whose heartbeat is current, with their session counts.
    pub async fn live_pods(&self) -> Result<Vec<PodStatus>, StoreError> {
        Ok(self.pods().await?.into_iter().filter(|p| p.alive).collect())
    }

    async fn session_counts(&self, pods: &[PodId]) -> Result<Vec<u64>, StoreError> {
        if pods.is_empty() {
            return Ok(Vec::new());
        }
        let per_bucket: Vec<Vec<u64>> = futures_util::stream::iter(0..self.keys.buckets())
            .map(|bucket| {
                let mut pipe = redis::pipe();
                for pod in pods {
                    pipe.scard(self.keys.pod_set(bucket, pod));
                }
                let mut conn = self.conn();
                async move {
                    pipe.query_async::<Vec<u64>>(&mut conn)
                        .await
                        .map_err(StoreError::redis(
                            "count sessions",
                            format!("bucket {bucket}"),
                        ))
                }
            })
            .buffer_unordered(BUCKET_CONCURRENCY)
            .try_collect()
            .await?;
        let mut totals = vec![0; pods.len()];
        for counts in per_bucket {
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
        }
        Ok(totals)
    }

    /// Announces a gateway as alive for `ttl`. Its sessions are reaped once it stops.
    pub async fn gateway_heartbeat(
        &self,
        gateway: &GatewayId,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed("gateway_heartbeat", async {
            let mut conn = self.conn();
            redis::cmd("SET")
                .arg(self.gateway_key(gateway))
                .arg(now_ms())
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async::<()>(&mut conn)
                .await
                .map_err(StoreError::redis("gateway heartbeat", gateway))?;
            redis::cmd("SADD")
                .arg(self.gateways_key())
                .arg(gateway.as_str())
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::redis("gateway heartbeat", gateway))?;
            Ok(())
        })
        .await
    }

    /// Registered gateways whose heartbeat has expired.
    pub async fn dead_gateways(&self) -> Result<Vec<GatewayId>, StoreError> {
        self.timed("dead_gateways", async {
            let mut conn = self.conn();
            let ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(self.gateways_key())
                .query_async(&mut conn)
                .await
                .map_err(StoreError::redis("dead_gateways", "registry"))?;
            let mut dead = Vec::new();
            for id in ids.into_iter().filter_map(|id| GatewayId::new(id).ok()) {
                let alive: i64 = redis::cmd("EXISTS")
                    .arg(self.gateway_key(&id))
                    .query_async(&mut conn)
                    .await
                    .map_err(StoreError::redis("dead_gateways", &id))?;
                if alive == 0 {
                    dead.push(id);
                }
            }
            Ok(dead)
        })
        .await
    }

    /// Forgets a gateway (after a clean shutdown, or once its sessions were reaped).
    pub async fn deregister_gateway(&self, gateway: &GatewayId) -> Result<(), StoreError> {
        let mut conn = self.conn();
        redis::cmd("DEL")
            .arg(self.gateway_key(gateway))
            .query_async::<i64>(&mut conn)
            .await
            .map_err(StoreError::redis("deregister_gateway", gateway))?;
        redis::cmd("SREM")
            .arg(self.gateways_key())
            .arg(gateway.as_str())
            .query_async::<i64>(&mut conn)
            .await
            .map_err(StoreError::redis("deregister_gateway", gateway))?;
        Ok(())
    }

    /// Takes the shard-wide reaper lease for `ttl`; false if another process holds it.
    pub async fn claim_reaper(&self, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let claimed: Option<String> = redis::cmd("SET")
            .arg(format!("{}:reaper", self.keys.prefix()))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("claim reaper", owner))?;
        Ok(claimed.is_some())
    }

    fn gateway_key(&self, gateway: &GatewayId) -> String {
        format!("{}:gw:{{{gateway}}}", self.keys.prefix())
    }

    fn gateways_key(&self) -> String {
        format!("{}:gateways", self.keys.prefix())
    }
}
