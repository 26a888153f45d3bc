//! TLS for the players' ports: the certificate and key come from PEM files (a mounted
//! Kubernetes Secret's `tls.crt` and `tls.key`) and are reloaded while the gateway runs
//! (`mush_rpc::tls::Reloading`: a connection keeps the config it was handshaken with, and
//! a renewal that does not work is logged and counted while the old config stays).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mush_rpc::tls::{ReloadingServer, TlsError, server_config};
use tokio_rustls::TlsAcceptor;

use crate::GatewayMetrics;

/// The TLS ports, where their certificate comes from and how they treat it.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// TLS telnet listener (`None`: off): telnet after a TLS handshake.
    pub telnet: Option<SocketAddr>,
    /// TLS WebSocket listener (`None`: off): the WebSocket port's pages and `wss`.
    pub websocket: Option<SocketAddr>,
    /// PEM certificate chain, leaf first (a Secret's `tls.crt`).
    pub cert: PathBuf,
    /// PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) (a Secret's `tls.key`).
    pub key: PathBuf,
    /// How often the files are re-read for a new certificate.
    pub reload_every: Duration,
    /// How long a client has for the TLS handshake. The connection holds an admission slot
    /// meanwhile, so a silent client must not hold it for ever.
    pub handshake_timeout: Duration,
}

impl TlsSettings {
    /// Settings with no listener yet, the default reload interval (10 s) and handshake
    /// timeout (10 s).
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            telnet: None,
            websocket: None,
            cert: cert.into(),
            key: key.into(),
            reload_every: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The TLS config in use for new connections, and how to renew it.
pub(crate) struct Certificates {
    config: Arc<ReloadingServer>,
    settings: TlsSettings,
}

impl Certificates {
    /// Loads the pair at startup; a bad one is an error (nothing to fall back to).
    pub(crate) fn load(settings: TlsSettings) -> Result<Self, TlsError> {
        let paths = vec![settings.cert.clone(), settings.key.clone()];
        Ok(Self {
            config: Arc::new(ReloadingServer::load(
                paths,
                server_config,
                settings.reload_every,
            )?),
            settings,
        })
    }

    /// An acceptor with the config in place now.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.current())
    }

    /// How long a client has for its handshake.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.settings.handshake_timeout
    }

    /// Re-reads the files every `reload_every`, for ever (the caller aborts it).
    pub(crate) async fn reload(self: Arc<Self>, metrics: GatewayMetrics) {
        self.config
            .clone()
            .reload(
                "players' TLS certificate",
                metrics.tls_reloads,
                metrics.tls_reload_failures,
            )
            .await;
    }
}
