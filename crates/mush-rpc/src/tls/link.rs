//! The gateway <-> game pod link over mutual TLS.
//!
//! Both ends hold a certificate from the shard's CA and trust only that CA. Roles are told
//! apart by name: a game pod serves as [`GAME_SERVER_NAME`] and accepts only clients whose
//! certificate is valid for [`GATEWAY_CLIENT_NAME`], so the key of a game pod (or of any
//! other certificate the CA signed) cannot open sessions as a gateway. A peer that fails
//! the handshake never reaches the gRPC service.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::transport::{Channel, Endpoint};

use super::{
    PemFiles, ReloadingClient, ReloadingServer, TlsError, ca_roots, certificate_chain, private_key,
    provider, rejected,
};

/// The DNS name a game pod's certificate must be valid for; gateways verify it instead of
/// the pod's address, which changes with every pod.
pub const GAME_SERVER_NAME: &str = "mush-game";

/// The DNS name a gateway's certificate must be valid for; game pods refuse other clients.
pub const GATEWAY_CLIENT_NAME: &str = "mush-gateway";

/// The files of one end of the link (a mounted Secret's `tls.crt`, `tls.key`, `ca.crt`,
/// as cert-manager writes them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFiles {
    /// PEM certificate chain of this end, leaf first.
    pub cert: PathBuf,
    /// PEM private key of this end.
    pub key: PathBuf,
    /// PEM certificate of the shard's CA: the only one the other end may present.
    pub ca: PathBuf,
    /// How often the files are re-read for a renewal.
    pub reload_every: Duration,
}

impl LinkFiles {
    /// The three files in a directory holding `tls.crt`, `tls.key` and `ca.crt`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            ca: dir.join("ca.crt"),
            reload_every: Duration::from_secs(10),
        }
    }

    /// The paths in the order the builds read them.
    pub fn paths(&self) -> Vec<PathBuf> {
        vec![self.cert.clone(), self.key.clone(), self.ca.clone()]
    }

    /// The game pod's end: loads its server config.
    pub fn server(&self) -> Result<ReloadingServer, TlsError> {
        ReloadingServer::load(self.paths(), link_server_config, self.reload_every)
    }

    /// The gateway's end: loads its client config.
    pub fn client(&self) -> Result<ReloadingClient, TlsError> {
        ReloadingClient::load(self.paths(), link_client_config, self.reload_every)
    }
}

const H2: &[u8] = b"h2";

/// A game pod's config: its certificate, and clients verified against the CA and named
/// [`GATEWAY_CLIENT_NAME`]. `files` are the certificate chain, key and CA.
pub fn link_server_config(
    files: &PemFiles,
    paths: &[PathBuf],
) -> Result<Arc<ServerConfig>, TlsError> {
    let end = Parts::of(files, paths)?;
    let rejected = rejected(&end.cert, &end.key);
    let webpki = WebPkiClientVerifier::builder_with_provider(end.roots, provider())
        .build()
        .map_err(|e| TlsError::BadCa {
            path: end.ca.clone(),
            reason: e.to_string(),
        })?;
    let verifier = Arc::new(GatewayOnly { webpki });
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(&rejected)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(end.chain, end.private)
        .map_err(&rejected)?;
    config.alpn_protocols = vec![H2.to_vec()];
    Ok(Arc::new(config))
}

/// A gateway's config: its certificate, and servers verified against the CA (and, at
/// connect time, named [`GAME_SERVER_NAME`]).
pub fn link_client_config(
    files: &PemFiles,
    paths: &[PathBuf],
) -> Result<Arc<ClientConfig>, TlsError> {
    let end = Parts::of(files, paths)?;
    let rejected = rejected(&end.cert, &end.key);
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(&rejected)?
        .with_root_certificates(end.roots)
        .with_client_auth_cert(end.chain, end.private)
        .map_err(&rejected)?;
    config.alpn_protocols = vec![H2.to_vec()];
    Ok(Arc::new(config))
}

/// One end's certificate chain, key and trust anchors, and the files they came from.
struct Parts {
    chain: Vec<CertificateDer<'static>>,
    private: PrivateKeyDer<'static>,
    roots: Arc<RootCertStore>,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

impl Parts {
    /// Parses `files` (certificate chain, key, CA), named by `paths` in errors.
    fn of(files: &PemFiles, paths: &[PathBuf]) -> Result<Self, TlsError> {
        let path = |i: usize| paths.get(i).cloned().unwrap_or_default();
        let (cert, key, ca) = (path(0), path(1), path(2));
        Ok(Self {
            chain: certificate_chain(files.get(0), &cert)?,
            private: private_key(files.get(1), &key)?,
            roots: ca_roots(files.get(2), &ca)?,
            cert,
            key,
            ca,
        })
    }
}

/// The CA's verdict on a client certificate, then the gateway's name on it.
#[derive(Debug)]
struct GatewayOnly {
    webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for GatewayOnly {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .webpki
            .verify_client_cert(end_entity, intermediates, now)?;
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::General(format!("client certificate: {e}")))?;
        let name = ServerName::try_from(GATEWAY_CLIENT_NAME)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        cert.verify_is_valid_for_subject_name(&name).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
        })?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// An accepted, authenticated gateway connection, as tonic's server takes it.
pub struct LinkIo(tokio_rustls::server::TlsStream<TcpStream>);

impl Connected for LinkIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.get_ref().0.connect_info()
    }
}

impl AsyncRead for LinkIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for LinkIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// How long a peer has for its handshake: it holds a task meanwhile.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` and yields those whose TLS handshake succeeds with
/// the config in place at accept time. Each handshake runs in its own task, so a slow or
/// silent peer delays no one; a failed one is handed to `refused` (to log and count) and
/// dropped. The accept loop ends when the returned stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ReloadingServer>,
    refused: impl Fn(SocketAddr, io::Error) + Send + Sync + 'static,
) -> impl futures_util::Stream<Item = io::Result<LinkIo>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<LinkIo>>(16);
    let refused = Arc::new(refused);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "gRPC accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.current());
            let (tx, refused) = (tx.clone(), refused.clone());
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                match handshake.await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(LinkIo(stream))).await;
                    }
                    Ok(Err(error)) => refused(peer, error),
                    Err(_) => refused(
                        peer,
                        io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"),
                    ),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Connects `endpoint` (an `http://host:port` endpoint whose settings, the connect timeout
/// among them, apply) over TLS with the client config in place at each connect, verifying
/// the pod as [`GAME_SERVER_NAME`].
pub async fn connect_channel(
    endpoint: &Endpoint,
    tls: Arc<ReloadingClient>,
) -> Result<Channel, tonic::transport::Error> {
    let connector = tower::service_fn(move |uri: tonic::codegen::http::Uri| {
        let connector = TlsConnector::from(tls.current());
        async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let port = uri.port_u16().unwrap_or(80);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(GAME_SERVER_NAME)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = connector.connect(name, tcp).await?;
            Ok::<_, io::Error>(TokioIo::new(stream))
        }
    });
    endpoint.connect_with_connector(connector).await
}
