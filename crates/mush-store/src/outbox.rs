//! The outbox: output of finished queued work, kept until the gateways confirm it.
//!
//! A queued batch's world writes, its finish and its output parcel are one script
//! ([`crate::QueueChange::Parcel`]), so a pod killed after the commit and before its output
//! left leaves the parcel here. Parcels whose lease ran out (their pod died, or a gateway
//! never confirmed) are claimed by any pod and delivered again under the same id, and the
//! gateways drop a delivery id they have already seen: output of queued work arrives once.

use std::sync::LazyLock;

use redis::Script;

use crate::{Store, StoreError};

/// How long a parcel waits for its confirmations before another pod delivers it again: a
/// live pod's gateways confirm within milliseconds; a dead pod's parcels wait this long.
pub const PARCEL_LEASE_MS: u64 = 3_000;

/// A parcel left in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    /// Its id.
    pub id: String,
    /// What is to be delivered.
    pub body: String,
    /// How long ago it was written (ms).
    pub age_ms: u64,
}

/// KEYS: routing key. ARGV: prefix, most parcels, lease ms.
/// Returns {id, body, age ms, ...} for parcels whose lease ran out, leased again.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'outq', '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))) do
  local f = redis.call('HMGET', p .. 'o:' .. id, 'body', 'at')
  if f[1] then
    redis.call('ZADD', p .. 'outq', now + tonumber(ARGV[3]), id)
    table.insert(out, id)
    table.insert(out, f[1])
    table.insert(out, tostring(now - tonumber(f[2] or now)))
  else
    redis.call('ZREM', p .. 'outq', id)
  end
end
return out
",
    )
});

impl Store {
    /// Claims up to `max` parcels nobody confirmed within their lease, for this pod to
    /// deliver again (or drop, when too old to matter).
    pub async fn outbox_claim(&self, max: usize) -> Result<Vec<Parcel>, StoreError> {
        self.timed("outbox_claim", async {
            let p = self.queue_prefix();
            let reply: Vec<String> = CLAIM
                .key(format!("{p}outq"))
                .arg(&p)
                .arg(max)
                .arg(PARCEL_LEASE_MS)
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("outbox claim", "outbox"))?;
            Ok(reply
                .chunks_exact(3)
                .map(|c| Parcel {
                    id: c[0].clone(),
                    body: c[1].clone(),
                    age_ms: c[2].parse().unwrap_or(0),
                })
                .collect())
        })
        .await
    }

    /// Removes parcels every gateway confirmed (or that are dropped).
    pub async fn outbox_done(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.timed("outbox_done", async {
            let p = self.queue_prefix();
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("ZREM").arg(format!("{p}outq")).arg(ids).ignore();
            for id in ids {
                pipe.cmd("DEL").arg(format!("{p}o:{id}")).ignore();
            }
            pipe.query_async::<()>(&mut self.conn())
                .await
                .map_err(StoreError::redis("outbox done", "outbox"))
        })
        .await
    }

    /// Parcels waiting in the outbox (confirmed ones are removed), for tests and metrics.
    pub async fn outbox_len(&self) -> Result<usize, StoreError> {
        let p = self.queue_prefix();
        redis::cmd("ZCARD")
            .arg(format!("{p}outq"))
            .query_async(&mut self.conn())
            .await
            .map_err(StoreError::redis("outbox length", "outbox"))
    }
}
