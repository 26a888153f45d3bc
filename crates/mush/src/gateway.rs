//! `mush gateway`: holds the players' connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mush_gateway::{
    ConnLimits, Gateway, GatewayConfig, Liveness, OriginPolicy, RouterLimits, TlsSettings,
};
use mush_proto::GatewayId;
use mush_store::{Store, StoreMetrics};
use prometheus_client::registry::Registry;

use crate::config::{LinkTlsArgs, StoreArgs};
use crate::health::{self, ReadyCheck, redis_ready};

/// Flags of `mush gateway`.
#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub link_tls: LinkTlsArgs,
    /// This gateway's name; in Kubernetes the pod name. Its id adds the process start
    /// time (see `incarnation`).
    #[arg(long, env = "POD_NAME")]
    pub gateway_id: Option<String>,
    /// Telnet listen address.
    #[arg(long, env = "MUSH_TELNET_LISTEN", default_value = "0.0.0.0:4201")]
    pub telnet: SocketAddr,
    /// WebSocket listen address (`off` to disable); it also serves the web client at `/`.
    #[arg(long, env = "MUSH_WEBSOCKET_LISTEN", default_value = "0.0.0.0:4202")]
    pub websocket: String,
    /// TLS telnet listen address (`off` to disable; in Kubernetes `0.0.0.0:4203`). Needs
    /// `--tls-cert` and `--tls-key`.
    #[arg(long, env = "MUSH_TELNET_TLS_LISTEN", default_value = "off")]
    pub telnet_tls: String,
    /// TLS WebSocket listen address (`off` to disable): `wss://` and the web client over
    /// `https://`. Needs `--tls-cert` and `--tls-key`.
    #[arg(long, env = "MUSH_WEBSOCKET_TLS_LISTEN", default_value = "off")]
    pub websocket_tls: String,
    /// PEM certificate chain of the TLS listeners (a Secret's `tls.crt`); re-read while
    /// running, so a renewed Secret is picked up without dropping anyone.
    #[arg(long, env = "MUSH_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the TLS listeners (a Secret's `tls.key`).
    #[arg(long, env = "MUSH_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of the certificate files for a new certificate.
    #[arg(long, env = "MUSH_TLS_RELOAD_SECS", default_value_t = 10)]
    pub tls_reload_secs: u64,
    /// Milliseconds a client has for its TLS handshake before it is dropped; it holds a
    /// connection slot meanwhile.
    #[arg(long, env = "MUSH_TLS_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub tls_handshake_timeout_ms: u64,
    /// Origins whose pages may open a WebSocket, comma-separated (`https://play.example.org`),
    /// or `*`. Empty: only the gateway's own page. Clients that send no `Origin` (not
    /// browsers) are always let in.
    #[arg(long, env = "MUSH_WEBSOCKET_ORIGINS", default_value = "")]
    pub websocket_origins: String,
    /// Seconds a web client's session waits for its page to reconnect after the socket
    /// dropped (0: close at once, as for telnet).
    #[arg(long, env = "MUSH_WEBSOCKET_RESUME_SECS", default_value_t = 60)]
    pub websocket_resume_secs: u64,
    /// Health and metrics listen address.
    #[arg(long, env = "MUSH_HTTP_LISTEN", default_value = "0.0.0.0:8081")]
    pub http: SocketAddr,
    /// The game's name (MSSP).
    #[arg(long, env = "MUSH_NAME", default_value = "mush-on-kube")]
    pub mud_name: String,
    /// Sustained input lines per second per connection.
    #[arg(long, env = "MUSH_INPUT_RATE", default_value_t = 10.0)]
    pub input_rate: f64,
    /// Input lines a connection may send in a burst.
    #[arg(long, env = "MUSH_INPUT_BURST", default_value_t = 100.0)]
    pub input_burst: f64,
    /// Seconds a logged-in connection may stay idle.
    #[arg(long, env = "MUSH_IDLE_TIMEOUT", default_value_t = 3600)]
    pub idle_timeout_secs: u64,
    /// Seconds a connection may stay at the connect screen.
    #[arg(long, env = "MUSH_LOGIN_TIMEOUT", default_value_t = 300)]
    pub login_timeout_secs: u64,
    /// Connections held at once, all ports (plain and TLS) together; more are told the game
    /// is full (on a TLS port, simply closed).
    #[arg(long, env = "MUSH_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Connections held at once from one address (behind a NAT, raise it).
    #[arg(long, env = "MUSH_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 50)]
    pub max_connections_per_address: usize,
    /// Every connection on the player ports (plain, TLS, WebSocket) must begin with a PROXY
    /// protocol version 2 header, which names the player's address for the limits and the
    /// login throttle; one without it is closed. While its header is awaited (10 s at most)
    /// a connection holds a place under `--max-connections`. Only for ports that nothing but the load
    /// balancer can reach: anyone who can send the header chooses their address.
    #[arg(long, env = "MUSH_PROXY_PROTOCOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub proxy_protocol: bool,
    /// Output messages queued per connection before it is closed as too slow.
    #[arg(long, env = "MUSH_OUTPUT_QUEUE", default_value_t = 1024)]
    pub output_queue: usize,
    /// Gateway heartbeat lifetime in milliseconds: its sessions are reaped this long after
    /// it dies.
    #[arg(long, env = "MUSH_GATEWAY_HEARTBEAT_TTL_MS", default_value_t = 5000)]
    pub heartbeat_ttl_ms: u64,
    /// How often the reaper looks for dead gateways, in milliseconds.
    #[arg(long, env = "MUSH_REAP_INTERVAL_MS", default_value_t = 15_000)]
    pub reap_interval_ms: u64,
    /// How often the pod list is read, in milliseconds.
    #[arg(long, env = "MUSH_POD_POLL_MS", default_value_t = 500)]
    pub pod_poll_ms: u64,
}

/// Runs a gateway until SIGTERM or Ctrl-C.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let http = health::bind(args.http).await?;
    let id = incarnation(args.gateway_id.as_deref().unwrap_or("gateway"))?;
    let websocket = listen_flag("--websocket", &args.websocket)?;
    let tls = tls_settings(&args)?;
    let origins = OriginPolicy::parse(&args.websocket_origins)
        .map_err(|reason| anyhow::anyhow!("--websocket-origins: {reason}"))?;
    let mut registry = Registry::default();
    let store = Store::connect(args.store.store_config()?, StoreMetrics::new(&mut registry))
        .await
        .context("connecting to Redis Cluster")?;
    let config = GatewayConfig {
        id,
        telnet: args.telnet,
        websocket,
        tls,
        link_tls: args.link_tls.files(),
        origins,
        resume_ttl: Duration::from_secs(args.websocket_resume_secs),
        mud_name: args.mud_name.clone(),
        proxy_protocol: args.proxy_protocol,
        conn: ConnLimits {
            input_rate: args.input_rate,
            input_burst: args.input_burst,
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            login_timeout: Duration::from_secs(args.login_timeout_secs),
            max_connections: args.max_connections,
            max_per_address: args.max_connections_per_address,
            ..ConnLimits::default()
        },
        router: RouterLimits {
            output_queue: args.output_queue.max(1),
            max_unacked: 1000,
            handle_block: 1000,
        },
        pod_poll: Duration::from_millis(args.pod_poll_ms.max(50)),
        liveness: Liveness {
            heartbeat_ttl: Duration::from_millis(args.heartbeat_ttl_ms.max(300)),
            reap_every: Duration::from_millis(args.reap_interval_ms.max(100)),
        },
    };
    let gateway = Gateway::bind(config, store.clone(), &mut registry).await?;
    tracing::info!(
        telnet = ?gateway.telnet_addr(),
        websocket = ?gateway.websocket_addr(),
        telnet_tls = ?gateway.telnet_tls_addr(),
        websocket_tls = ?gateway.websocket_tls_addr(),
        "gateway listening"
    );
    if let Some(addr) = gateway.websocket_addr() {
        tracing::info!(url = %format!("http://{addr}/"), "web client");
    }
    if let Some(addr) = gateway.websocket_tls_addr() {
        tracing::info!(url = %format!("https://{addr}/"), "web client over TLS");
    }
    let slow = Duration::from_millis(args.store.redis_slow_ms);
    let router = gateway.router().clone();
    let ready: ReadyCheck = Arc::new(move || {
        let (store, router) = (store.clone(), router.clone());
        Box::pin(async move {
            redis_ready(&store, slow).await?;
            if router.linked_pods().is_empty() {
                return Err("no game pod reachable".into());
            }
            Ok(())
        })
    });
    health::run_role(
        http,
        registry,
        ready,
        axum::Router::new(),
        |stop| async move {
            gateway.serve(stop).await;
            Ok(())
        },
    )
    .await
}

/// A listen address flag: an address, or `off` (or empty) for none.
fn listen_flag(flag: &str, value: &str) -> anyhow::Result<Option<SocketAddr>> {
    match value {
        "off" | "" => Ok(None),
        addr => Ok(Some(
            addr.parse().with_context(|| format!("{flag} {addr:?}"))?,
        )),
    }
}

/// The TLS settings, if a TLS listener is on; one without a certificate and key is refused
/// at startup rather than found out by the first player.
fn tls_settings(args: &GatewayArgs) -> anyhow::Result<Option<TlsSettings>> {
    let telnet = listen_flag("--telnet-tls", &args.telnet_tls)?;
    let websocket = listen_flag("--websocket-tls", &args.websocket_tls)?;
    if telnet.is_none() && websocket.is_none() {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        anyhow::bail!(
            "--telnet-tls/--websocket-tls need --tls-cert and --tls-key \
             (MUSH_TLS_CERT, MUSH_TLS_KEY): the PEM files of the certificate and its key"
        );
    };
    Ok(Some(TlsSettings {
        telnet,
        websocket,
        reload_every: Duration::from_secs(args.tls_reload_secs.max(1)),
        handshake_timeout: Duration::from_millis(args.tls_handshake_timeout_ms.max(100)),
        ..TlsSettings::new(cert, key)
    }))
}

/// The id of this gateway process: its name (the pod's) and when it started. An id names a
/// process, not a pod, because a container the kubelet restarts keeps its pod name: the
/// sessions of the process that died must read as a dead gateway's (game pods let go of
/// them, the reaper closes them once its heartbeat lapses), not be adopted by a newcomer
/// that holds none of their sockets.
fn incarnation(name: &str) -> anyhow::Result<GatewayId> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Ok(GatewayId::new(format!("{name}-{started:x}"))?)
}
