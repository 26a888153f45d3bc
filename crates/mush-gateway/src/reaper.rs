//! Gateway liveness and the reaper of dead gateways' sessions.
//!
//! A gateway's sockets die with it, so its sessions can never come back. Every gateway
//! heartbeats; any gateway may reap, one at a time (a lease in Redis). The reaper removes
//! the records, assignments and index entries of every connection held by a gateway whose
//! heartbeat expired, and the players' connection entries, instead of leaving them to the
//! 24 h TTL. Game pods close the matching sessions themselves when the gateway's stream
//! ends and does not come back.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mush_store::Dbref;

use crate::router::Router;

/// How often a gateway heartbeats and tries to reap.
#[derive(Clone, Debug)]
pub struct Liveness {
    /// Heartbeat lifetime: a gateway silent this long is dead.
    pub heartbeat_ttl: Duration,
    /// How often the reaper looks for dead gateways.
    pub reap_every: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            heartbeat_ttl: Duration::from_secs(5),
            reap_every: Duration::from_secs(15),
        }
    }
}

/// Heartbeats forever.
pub(crate) async fn heartbeat(router: Arc<Router>, liveness: Liveness) {
    let mut tick = tokio::time::interval(liveness.heartbeat_ttl / 3);
    loop {
        tick.tick().await;
        if let Err(error) = router
            .store()
            .gateway_heartbeat(router.id(), liveness.heartbeat_ttl)
            .await
        {
            tracing::warn!(%error, "gateway heartbeat failed");
        }
    }
}

/// Reaps dead gateways' sessions forever.
pub(crate) async fn reap(router: Arc<Router>, liveness: Liveness) {
    let mut tick = tokio::time::interval(liveness.reap_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match reap_once(&router, liveness.reap_every).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "reaped sessions of dead gateways"),
            Err(error) => tracing::warn!(%error, "reaper failed; will retry"),
        }
    }
}

async fn reap_once(router: &Router, lease: Duration) -> Result<usize, mush_store::StoreError> {
    let store = router.store();
    if !store.claim_reaper(router.id().as_str(), lease).await? {
        return Ok(0);
    }
    let dead: HashSet<_> = store.dead_gateways().await?.into_iter().collect();
    if dead.is_empty() {
        return Ok(0);
    }
    let mut removed = 0;
    for record in store.list_active().await? {
        if !dead.contains(&record.gateway) {
            continue;
        }
        if let Some(player) = record.player.as_deref().and_then(Dbref::parse) {
            store.remove_player_conn(player, record.handle).await?;
        }
        store.remove(record.handle).await?;
        removed += 1;
    }
    for gateway in &dead {
        store.deregister_gateway(gateway).await?;
    }
    Ok(removed)
}
