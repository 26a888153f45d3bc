//! One game pod: bootstraps the world if it is the first, serves gateways over gRPC, and
//! announces itself with a heartbeat until it shuts down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mush_proto::PodId;
use mush_rpc::MAX_MESSAGE;
use mush_rpc::tls::ReloadingServer;
use mush_rpc::v1::game_server::GameServer;
use mush_store::{Dbref, Kind, NewObject, PodInfo, Store};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::cache::{Cache, CacheTtl, Invalidator};
use crate::engine::{Engine, GameSettings};
use crate::metrics::GameMetrics;
use crate::password::{PasswordCost, PasswordHasher};
use crate::{GameError, GameService};

/// Everything a pod needs to know.
#[derive(Clone, Debug)]
pub struct PodConfig {
    /// This pod's name (the Kubernetes pod name).
    pub pod_id: PodId,
    /// Where the gRPC server listens.
    pub listen: SocketAddr,
    /// Host gateways dial; the port is the one actually bound (so port 0 works).
    pub advertise_host: String,
    /// NATS server for cache invalidations.
    pub nats_url: String,
    /// Credentials for NATS.
    pub nats_auth: crate::cache::NatsAuth,
    /// TLS to NATS.
    pub nats_tls: crate::cache::NatsTls,
    /// How often the pod renews its heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a heartbeat lives: a silent pod is presumed dead after this.
    pub heartbeat_ttl: Duration,
    /// Password of the God character (#1), used only when the world is created.
    pub god_password: Option<String>,
    /// What players see.
    pub settings: GameSettings,
    /// Cost of new password hashes.
    pub password_cost: PasswordCost,
    /// Cache lifetimes.
    pub cache_ttl: CacheTtl,
    /// The link's certificate, key and CA (`None`: plain gRPC, for a network where only
    /// gateways reach the pod). With them, only gateways with a certificate of that CA
    /// named `mush-gateway` get past the handshake.
    pub link_tls: Option<mush_rpc::tls::LinkFiles>,
    /// Longest a drain may take before the pod exits with sessions still on it (they are
    /// then rescued as after a crash). Keep it below Kubernetes' grace period.
    pub drain_grace: Duration,
}

/// A running pod.
pub struct Pod {
    engine: Arc<Engine>,
    addr: SocketAddr,
    link_tls: Option<Arc<ReloadingServer>>,
}

impl Pod {
    /// Prepares the pod: NATS, world bootstrap, gRPC listener. Serving starts with
    /// [`Pod::serve`].
    pub async fn start(
        config: &PodConfig,
        store: Store,
        registry: &mut Registry,
    ) -> Result<(Self, TcpListener), GameError> {
        // First: a pod whose certificates cannot work should say so before anything else.
        let link_tls = match &config.link_tls {
            Some(files) => Some(Arc::new(files.server()?)),
            None => None,
        };
        let cache = Arc::new(Cache::new(config.cache_ttl));
        tokio::spawn(sweep(cache.clone()));
        let prefix = store.keys().prefix().to_owned();
        let invalidator = Invalidator::start(
            &config.nats_url,
            &config.nats_auth,
            &config.nats_tls,
            &prefix,
            cache.clone(),
        )
        .await;
        let passwords = PasswordHasher::new(config.password_cost)?;
        bootstrap_world(
            &store,
            &config.pod_id,
            config.god_password.as_deref(),
            &passwords,
            &config.settings,
        )
        .await?;
        let metrics = GameMetrics::new(registry);
        let engine = Engine::new(
            config.pod_id.clone(),
            store,
            cache,
            invalidator,
            passwords,
            config.settings.clone(),
            metrics,
        );
        if let Some(client) = engine.invalidator.client() {
            tokio::spawn(crate::rebalance::listen(
                client.clone(),
                prefix,
                engine.clone(),
            ));
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| GameError::Io(format!("binding gRPC on {}", config.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| GameError::Io("reading the bound address".into(), e))?;
        Ok((
            Self {
                engine,
                addr,
                link_tls,
            },
            listener,
        ))
    }

    /// The bound gRPC address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The engine (readiness checks read it).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Serves until `shutdown` resolves, heartbeating meanwhile. Then drains: the pod
    /// announces itself as draining (gateways stop sending it new sessions), hands every
    /// session to another pod after its current command, flushes the write-behind queue,
    /// deregisters, and returns.
    pub async fn serve(
        self,
        config: &PodConfig,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GameError> {
        let mut info = PodInfo {
            id: config.pod_id.clone(),
            addr: format!("{}:{}", config.advertise_host, self.addr.port()),
            draining: false,
        };
        let store = self.engine.store.clone();
        // Before the first heartbeat, which keeps the shard "up" for the pods after us.
        let starting = store
            .claim_shard_start(&info.id, config.heartbeat_ttl)
            .await?;
        store.heartbeat(&info, config.heartbeat_ttl).await?;
        let mut beat = tokio::spawn(heartbeat(
            store.clone(),
            info.clone(),
            config.heartbeat_interval,
            config.heartbeat_ttl,
        ));
        tracing::info!(pod = %info.id, addr = %info.addr, "game pod serving");
        // Every pod runs the shard's queued softcode, whichever pod queued it.
        let (stop_queue, queue_stopped) = tokio::sync::watch::channel(false);
        let mut outbox = tokio::spawn(crate::queue::outbox(
            self.engine.clone(),
            queue_stopped.clone(),
        ));
        let mut queue = tokio::spawn(crate::queue::worker(self.engine.clone(), queue_stopped));
        if starting {
            // This pod starts the shard: the world's `@startup`s run, once per start.
            let engine = self.engine.clone();
            let start = format!("{}@{}", info.id, mush_store::now_ms());
            tokio::spawn(async move {
                match crate::queue::startup(&engine, &start).await {
                    Ok(count) => tracing::info!(count, "@startup queued"),
                    Err(error) => tracing::warn!(%error, "@startup not queued"),
                }
            });
        }

        let service = GameServer::new(GameService::new(self.engine.clone()))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .http2_adaptive_window(Some(true))
            .add_service(service);
        let stopped = async {
            let _ = server_stopped.await;
        };
        let mut reload = None;
        let mut server = match &self.link_tls {
            Some(tls) => {
                let metrics = &self.engine.metrics;
                reload = Some(tokio::spawn(tls.clone().reload(
                    "link TLS certificate",
                    metrics.link_tls_reloads.clone(),
                    metrics.link_tls_reload_failures.clone(),
                )));
                let metrics = self.engine.metrics.clone();
                let incoming = mush_rpc::tls::incoming(
                    listener,
                    tls.clone(),
                    move |peer, error| {
                        metrics.link_refused.inc();
                        tracing::warn!(%peer, %error, "gRPC connection refused at the TLS handshake");
                    },
                );
                tokio::spawn(server.serve_with_incoming_shutdown(incoming, stopped))
            }
            // Our own listener (bound early so port 0 works): tonic's tcp_nodelay applies
            // only to listeners it binds, so set it on the incoming stream itself.
            None => tokio::spawn(server.serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                stopped,
            )),
        };
        tokio::pin!(shutdown);
        let early = tokio::select! {
            _ = &mut shutdown => None,
            result = &mut server => Some(result),
        };
        if early.is_none() {
            // Drain while the gRPC server still runs: acks and SessionMoved must reach
            // the gateways.
            beat.abort();
            info.draining = true;
            if let Err(error) = store.heartbeat(&info, config.heartbeat_ttl).await {
                tracing::warn!(%error, "could not announce draining");
            }
            beat = tokio::spawn(heartbeat(
                store.clone(),
                info.clone(),
                config.heartbeat_interval,
                config.heartbeat_ttl,
            ));
            let started = Instant::now();
            let sessions = self.engine.session_count();
            let left = self.engine.drain(started + config.drain_grace).await;
            tracing::info!(sessions, left, took = ?started.elapsed(), "drained");
            // Let the last acks and moves leave on the streams before they close.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The entry running now finishes (or its lease runs out and another pod runs it).
        let _ = stop_queue.send(true);
        if tokio::time::timeout(Duration::from_secs(5), &mut queue)
            .await
            .is_err()
        {
            queue.abort();
        }
        if tokio::time::timeout(Duration::from_secs(2), &mut outbox)
            .await
            .is_err()
        {
            outbox.abort();
        }
        self.engine.close_streams();
        let _ = stop_server.send(());
        let served = match early {
            Some(result) => result,
            None => server.await,
        };
        beat.abort();
        if let Some(reload) = reload {
            reload.abort();
        }
        if let Err(error) = store.deregister_pod(&info.id).await {
            tracing::warn!(%error, "could not deregister; the heartbeat will expire");
        }
        let abandoned = store
            .shutdown(Instant::now() + Duration::from_secs(5))
            .await;
        if abandoned > 0 {
            tracing::error!(abandoned, "write-behind operations abandoned at shutdown");
        }
        served
            .map_err(|e| GameError::Serve(e.to_string()))?
            .map_err(|e| GameError::Serve(e.to_string()))
    }
}

/// Drops expired cache entries every few seconds, for as long as the pod runs.
async fn sweep(cache: Arc<Cache>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        let dropped = cache.sweep();
        if dropped > 0 {
            tracing::debug!(dropped, "expired cache entries dropped");
        }
    }
}

async fn heartbeat(store: Store, info: PodInfo, every: Duration, ttl: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(error) = store.heartbeat(&info, ttl).await {
            tracing::warn!(%error, "heartbeat failed");
        }
    }
}

/// Creates room #0 and the God character #1 on first boot. One pod wins a lock; the
/// others wait for it.
async fn bootstrap_world(
    store: &Store,
    pod: &PodId,
    god_password: Option<&str>,
    passwords: &PasswordHasher,
    settings: &GameSettings,
) -> Result<(), GameError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.world_exists().await? {
        if store.claim_bootstrap(pod, Duration::from_secs(30)).await? {
            let password = god_password.ok_or(GameError::NoGodPassword)?;
            let hash = passwords.hash(password).await?;
            let limbo = NewObject {
                kind: Kind::Room,
                name: "Limbo".into(),
                owner: Some(Dbref(1)),
                location: None,
                home: None,
                destination: None,
                flags: Vec::new(),
                password_hash: String::new(),
            };
            let room = store.create_object(&limbo).await?;
            let god = NewObject {
                kind: Kind::Player,
                name: "Wizard".into(),
                owner: None,
                location: Some(settings.start_room),
                home: Some(settings.start_room),
                destination: None,
                flags: vec!["WIZARD".into()],
                password_hash: hash,
            };
            let wizard = store.create_object(&god).await?;
            if room != Some(Dbref(0)) || wizard != Some(Dbref(1)) {
                return Err(GameError::Bootstrap(format!(
                    "expected #0 and #1, got {room:?} and {wizard:?}: the key prefix holds another world"
                )));
            }
            // The master room, #2 as in TinyMUX's starting database.
            let master = NewObject {
                kind: Kind::Room,
                name: "Master Room".into(),
                owner: Some(Dbref(1)),
                location: None,
                home: None,
                destination: None,
                flags: vec!["FLOATING".into()],
                password_hash: String::new(),
            };
            let master = store.create_object(&master).await?;
            if master != Some(settings.master_room) {
                tracing::info!(
                    ?master,
                    configured = %settings.master_room,
                    "the settings name another master room than the one a new world makes"
                );
            }
            store
                .set_field(
                    Dbref(0),
                    mush_store::Field::Description,
                    "You are in Limbo, where every world begins. Type 'help' to get started.",
                )
                .await?;
            tracing::info!("created the world: Limbo(#0), Wizard(#1) and the Master Room(#2)");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(GameError::Bootstrap(
                "another pod holds the bootstrap lock and never finished".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
