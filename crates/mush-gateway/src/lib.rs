//! The gateway: the only process that holds players' sockets.
//!
//! It speaks telnet (with real option negotiation) and WebSocket to players, allocates
//! shard-unique handles, picks a game pod per session (sticky, recorded in Redis), keeps
//! one gRPC stream per pod, and keeps every command until the pod acknowledges it, so a
//! pod can die without the player losing the connection or a typed command. The
//! WebSocket port also serves a web client (see `web` and `ws`). Both can also be served
//! over TLS, with a certificate reloaded from its files while connections stay (see `tls`).

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod http;
mod limits;
mod link;
mod metrics;
mod proxy;
mod reaper;
mod resume;
mod router;
mod seen;
mod session;
pub mod telnet;
mod tls;
mod web;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mush_proto::GatewayId;
use mush_store::Store;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use http::OriginPolicy;
pub use limits::ConnLimits;
pub use metrics::GatewayMetrics;
pub use mush_rpc::tls::TlsError;
pub use reaper::Liveness;
pub use router::{Router, RouterLimits};
pub use tls::TlsSettings;
/// The TLS library the gateway serves with, so tests and tools build clients with the very
/// same rustls (and its ring provider) without a dependency of their own to keep in step.
pub use tokio_rustls;
pub use web::client_size;

/// Settings of one gateway.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// This gateway's id (its pod name).
    pub id: GatewayId,
    /// Telnet listener.
    pub telnet: SocketAddr,
    /// WebSocket listener (`None`: off); it also serves the web client.
    pub websocket: Option<SocketAddr>,
    /// The TLS listeners and their certificate (`None`: no TLS).
    pub tls: Option<TlsSettings>,
    /// The gateway's certificate, key and CA for the game pods' gRPC port (`None`: plain
    /// gRPC). Pods are verified as `mush-game`; they accept this gateway only if its
    /// certificate is of their CA and names `mush-gateway`.
    pub link_tls: Option<mush_rpc::tls::LinkFiles>,
    /// Which pages may open a WebSocket.
    pub origins: OriginPolicy,
    /// How long a web client's session waits for the page to come back after its socket
    /// dropped (zero: not at all).
    pub resume_ttl: Duration,
    /// Game name for MSSP.
    pub mud_name: String,
    /// Every connection on the player ports starts with a PROXY protocol version 2 header
    /// naming the client (a load balancer in front); one without it is closed. Off: the
    /// socket's own address is the player's.
    pub proxy_protocol: bool,
    /// Per-connection limits.
    pub conn: ConnLimits,
    /// Router limits.
    pub router: RouterLimits,
    /// How often the pod list is read from Redis.
    pub pod_poll: Duration,
    /// Heartbeat and reaper timing.
    pub liveness: Liveness,
}

/// A gateway with its listeners bound.
pub struct Gateway {
    config: GatewayConfig,
    router: Arc<Router>,
    telnet: TcpListener,
    websocket: Option<TcpListener>,
    telnet_tls: Option<TcpListener>,
    websocket_tls: Option<TcpListener>,
    certificates: Option<Arc<tls::Certificates>>,
    link_tls: Option<Arc<mush_rpc::tls::ReloadingClient>>,
    started: u64,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the bind said.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or CA could not be loaded.
    #[error("loading the TLS certificate: {0}")]
    Tls(#[from] TlsError),
}

impl Gateway {
    /// Binds the listeners (so the caller learns the ports before serving).
    pub async fn bind(
        config: GatewayConfig,
        store: Store,
        registry: &mut Registry,
    ) -> Result<Self, GatewayError> {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| GatewayError::Bind { addr, source })
        };
        let certificates = match &config.tls {
            Some(settings) => Some(Arc::new(tls::Certificates::load(settings.clone())?)),
            None => None,
        };
        let link_tls = match &config.link_tls {
            Some(files) => Some(Arc::new(files.client()?)),
            None => None,
        };
        // The TLS ports are bound before the plain telnet port, so whoever waits for the
        // telnet port to answer (a readiness probe, a test) finds them all listening.
        let tls_addrs = config.tls.as_ref().map(|t| (t.telnet, t.websocket));
        let telnet_tls = match tls_addrs.and_then(|(telnet, _)| telnet) {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let websocket_tls = match tls_addrs.and_then(|(_, websocket)| websocket) {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let telnet = bind(config.telnet).await?;
        let websocket = match config.websocket {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let metrics = GatewayMetrics::new(registry);
        let router = Router::new(config.id.clone(), store, config.router.clone(), metrics);
        Ok(Self {
            config,
            router,
            telnet,
            websocket,
            telnet_tls,
            websocket_tls,
            certificates,
            link_tls,
            started: mush_store::now_ms() / 1000,
        })
    }

    /// The bound telnet address.
    pub fn telnet_addr(&self) -> Option<SocketAddr> {
        self.telnet.local_addr().ok()
    }

    /// The bound WebSocket address.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound TLS telnet address.
    pub fn telnet_tls_addr(&self) -> Option<SocketAddr> {
        self.telnet_tls.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound TLS WebSocket address.
    pub fn websocket_tls_addr(&self) -> Option<SocketAddr> {
        self.websocket_tls
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The router (readiness checks and tests read it).
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// Serves until `shutdown` turns true; then tells every connection and returns.
    pub async fn serve(self, mut shutdown: watch::Receiver<bool>) {
        let router = self.router.clone();
        if let Err(error) = router
            .store()
            .gateway_heartbeat(router.id(), self.config.liveness.heartbeat_ttl)
            .await
        {
            tracing::warn!(%error, "first gateway heartbeat failed");
        }
        let beat = tokio::spawn(reaper::heartbeat(
            router.clone(),
            self.config.liveness.clone(),
        ));
        let reap = tokio::spawn(reaper::reap(router.clone(), self.config.liveness.clone()));
        let discovery = tokio::spawn(discover_pods(
            router.clone(),
            self.config.pod_poll,
            self.link_tls.clone(),
        ));
        let link_reload = self.link_tls.clone().map(|tls| {
            tokio::spawn(tls.reload(
                "link TLS certificate",
                router.metrics().link_tls_reloads.clone(),
                router.metrics().link_tls_reload_failures.clone(),
            ))
        });
        let reassign = tokio::spawn(router.clone().reassign_orphans());
        let conn = Arc::new(ConnContext {
            router: router.clone(),
            limits: self.config.conn.clone(),
            mud_name: self.config.mud_name.clone(),
            started: self.started,
            origins: self.config.origins.clone(),
            resumes: resume::Resumes::new(self.config.resume_ttl),
            admission: Arc::new(limits::Admission::default()),
            proxy_protocol: self.config.proxy_protocol,
        });
        let reload = self
            .certificates
            .clone()
            .map(|certs| tokio::spawn(certs.reload(router.metrics().clone())));
        let mut listeners = vec![(self.telnet, Protocol::Telnet, None)];
        listeners.extend(self.websocket.map(|l| (l, Protocol::WebSocket, None)));
        for (listener, protocol) in [
            (self.telnet_tls, Protocol::Telnet),
            (self.websocket_tls, Protocol::WebSocket),
        ] {
            if let (Some(listener), Some(certs)) = (listener, &self.certificates) {
                listeners.push((listener, protocol, Some(certs.clone())));
            }
        }
        let accepting: Vec<_> = listeners
            .into_iter()
            .map(|(listener, protocol, tls)| {
                tokio::spawn(accept(
                    listener,
                    conn.clone(),
                    shutdown.clone(),
                    protocol,
                    tls,
                ))
            })
            .collect();
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        discovery.abort();
        reassign.abort();
        for listener in accepting {
            let _ = listener.await;
        }
        for reload in [reload, link_reload].into_iter().flatten() {
            reload.abort();
        }
        // Connection tasks remove their own records as they close; the heartbeat simply
        // stops, and whatever a task could not remove is reaped once it expires.
        beat.abort();
        reap.abort();
    }
}

/// What every connection task shares.
pub(crate) struct ConnContext {
    pub router: Arc<Router>,
    pub limits: ConnLimits,
    pub mud_name: String,
    pub started: u64,
    /// Which pages may open a WebSocket.
    pub origins: OriginPolicy,
    /// Web sessions waiting for their page to come back.
    pub resumes: Arc<resume::Resumes>,
    /// Connections held, in all and per address.
    pub admission: Arc<limits::Admission>,
    /// Connections begin with a PROXY protocol header (see [`GatewayConfig`]).
    pub proxy_protocol: bool,
}

impl ConnContext {
    pub fn mssp(&self) -> telnet::MsspStatus {
        telnet::MsspStatus {
            name: self.mud_name.clone(),
            players: self.router.shard_players(),
            uptime: self.started,
        }
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Telnet,
    WebSocket,
}

/// Accepts connections on one listener. Admission is decided before anything else, a TLS
/// handshake included: the limit in all at once, the limit per address as soon as the
/// address is known (after the PROXY header, when balancers send one), so a flood of handshakes costs no more than a flood of plain
/// connections. The place in the total is taken here, in the order the connections came
/// (their tasks may start in any order); header and handshake run in the connection's own
/// task, each under a timeout, so a silent client holds its task only that long.
async fn accept(
    listener: TcpListener,
    conn: Arc<ConnContext>,
    mut shutdown: watch::Receiver<bool>,
    protocol: Protocol,
    tls: Option<Arc<tls::Certificates>>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((mut stream, peer)) => {
                    let conn = conn.clone();
                    let shutdown = shutdown.clone();
                    // A connection owing its PROXY header holds a place in the total
                    // while it is read; its address's place is taken once it is known.
                    let admitted = if conn.proxy_protocol {
                        conn.admission.admit_unnamed(&conn.limits)
                    } else {
                        conn.admission.admit(peer.ip(), &conn.limits)
                    };
                    // The config in place at accept time: a reload later does not touch it.
                    let tls = tls.as_ref().map(|certs| (certs.acceptor(), certs.handshake_timeout()));
                    tokio::spawn(async move {
                        let admitted = match admitted {
                            Ok(unnamed) if conn.proxy_protocol => {
                                match proxied(&conn, &mut stream, peer).await {
                                    Some(client) => unnamed
                                        .named(client.ip(), &conn.limits)
                                        .map(|a| (a, client))
                                        .map_err(|refused| (refused, client)),
                                    None => return,
                                }
                            }
                            Ok(admitted) => Ok((admitted, peer)),
                            Err(refused) => Err((refused, peer)),
                        };
                        let (_admitted, peer) = match admitted {
                            Ok(admitted) => admitted,
                            Err((refused, peer)) => {
                                refuse(&conn, stream, peer, refused, protocol, tls.is_some()).await;
                                return;
                            }
                        };
                        if let Err(error) = stream.set_nodelay(true) {
                            tracing::debug!(%error, "TCP_NODELAY not set");
                        }
                        let Some((acceptor, handshake_timeout)) = tls else {
                            serve_conn(protocol, conn, stream, peer, shutdown).await;
                            return;
                        };
                        // Boxed, like each protocol's serving in `serve_conn`: a spawned
                        // task's future is allocated at its largest state's size for the
                        // connection's life, so inline handshake and serving states of
                        // every protocol and transport cost every idle connection.
                        let failure = match tokio::time::timeout(handshake_timeout, Box::pin(acceptor.accept(stream))).await {
                            Ok(Ok(stream)) => {
                                serve_conn(protocol, conn, stream, peer, shutdown).await;
                                return;
                            }
                            Ok(Err(error)) => error.to_string(),
                            Err(_) => format!("no handshake within {handshake_timeout:?}"),
                        };
                        conn.router.metrics().tls_handshake_failures.inc();
                        tracing::debug!(%peer, error = failure, "TLS handshake failed");
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Tells a connection that was not let in why, and closes it: in plain text on the telnet
/// port, as an HTTP 503 on the WebSocket port, and not at all on a TLS port, where plain
/// text would be garbage and a handshake just to refuse would make a flood dearer.
async fn refuse(
    conn: &ConnContext,
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    refused: limits::Refused,
    protocol: Protocol,
    tls: bool,
) {
    conn.router.metrics().connections_refused.inc();
    tracing::info!(%peer, ?refused, "connection refused");
    if tls {
        return;
    }
    let text = match protocol {
        Protocol::Telnet => refused.text().to_owned(),
        Protocol::WebSocket => format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            refused.text().len(),
            refused.text()
        ),
    };
    let _ = tokio::time::timeout(
        conn.limits.write_timeout,
        tokio::io::AsyncWriteExt::write_all(&mut stream, text.as_bytes()),
    )
    .await;
}

/// The client's address from the PROXY header `stream` begins with (the balancer's own,
/// `peer`, for its health checks), or `None` when the header is missing, malformed or
/// late: the connection is then closed without a word (the other end is a balancer, or
/// someone reaching past it), counted and logged. A connection closed before its first
/// byte is a balancer's TCP health check: closed, neither counted nor logged.
async fn proxied(
    conn: &ConnContext,
    stream: &mut tokio::net::TcpStream,
    peer: SocketAddr,
) -> Option<SocketAddr> {
    let failure = match tokio::time::timeout(conn.limits.head_timeout, proxy::read(stream)).await {
        Ok(Ok(client)) => return Some(client.unwrap_or(peer)),
        Ok(Err(proxy::ProxyError::Silent)) => return None,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no PROXY header within {:?}", conn.limits.head_timeout),
    };
    conn.router.metrics().proxy_header_failures.inc();
    tracing::info!(%peer, error = failure, "connection closed: no usable PROXY header");
    None
}

/// Serves one admitted connection, plain or after its TLS handshake.
async fn serve_conn<S>(
    protocol: Protocol,
    conn: Arc<ConnContext>,
    stream: S,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // Boxed: only the protocol this connection speaks takes room (see `accept`).
    match protocol {
        Protocol::Telnet => Box::pin(telnet::serve(conn, stream, peer, shutdown)).await,
        Protocol::WebSocket => Box::pin(ws::serve(conn, stream, peer, shutdown)).await,
    }
}

/// Reads the pod list and keeps one stream per live pod.
async fn discover_pods(
    router: Arc<Router>,
    every: Duration,
    tls: Option<Arc<mush_rpc::tls::ReloadingClient>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let connecting = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    loop {
        tick.tick().await;
        let pods = match router.store().pods().await {
            Ok(pods) => pods,
            Err(error) => {
                tracing::warn!(%error, "cannot read the pod list");
                continue;
            }
        };
        router.update_pods(&pods);
        // A dead pod whose sessions have all been moved is forgotten, so the registry does
        // not grow with every crash. Any gateway may do it; deregistering twice is harmless.
        for pod in pods.iter().filter(|p| !p.alive && p.sessions == 0) {
            match router.store().deregister_pod(&pod.info.id).await {
                Ok(()) => {
                    tracing::info!(pod = %pod.info.id, "forgot a dead pod with no sessions left")
                }
                Err(error) => tracing::debug!(%error, "could not deregister a dead pod"),
            }
        }
        for pod in pods.into_iter().filter(|p| p.alive) {
            let id = pod.info.id.clone();
            if router.is_linked(&id)
                || !connecting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.clone())
            {
                continue;
            }
            let (router, connecting, tls) = (router.clone(), connecting.clone(), tls.clone());
            tokio::spawn(async move {
                let reason = link::run(router, id.clone(), pod.info.addr, tls).await;
                tracing::warn!(pod = %id, reason, "pod stream ended");
                connecting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            });
        }
    }
}
