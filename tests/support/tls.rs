//! TLS clients for the tests of the gateway's TLS ports (`tests/tls.rs`, `e2e/pods.rs`):
//! server certificates from the harness's throwaway CA ([`mush_harness::Pki`]), a client
//! trusting that CA, and the scripted telnet [`Player`] over a TLS session.
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mush_gateway::tokio_rustls::rustls::pki_types::pem::PemObject;
use mush_gateway::tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use mush_gateway::tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use mush_gateway::tokio_rustls::{TlsConnector, client::TlsStream};
use mush_harness::Pki;
use tokio::net::TcpStream;

use crate::support::Player;

/// A player on the TLS telnet port.
pub type TlsPlayer = Player<TlsStream<TcpStream>>;

/// A new throwaway CA in `dir`.
pub fn pki(dir: &std::path::Path) -> Pki {
    Pki::new(dir, "mush-test-ca").expect("test CA")
}

/// Issues `{name}.crt` and `{name}.key` for 127.0.0.1 and localhost.
pub fn issue(pki: &Pki, name: &str) -> (PathBuf, PathBuf) {
    pki.server(
        name,
        &format!("/CN={name}"),
        &["IP:127.0.0.1", "DNS:localhost"],
    )
    .expect("server certificate")
}

/// A client config that trusts `pki`'s CA only.
pub fn client(pki: &Pki) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(pki.ca()).expect("ca.crt");
    roots.add(ca).expect("CA certificate accepted");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `addr`, checked against the name `localhost`.
pub async fn tls_connect(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("handshake timed out")
        .expect("handshake")
}

/// A telnet player over TLS, once the connect screen has arrived.
pub async fn tls_player(connector: &TlsConnector, addr: SocketAddr) -> TlsPlayer {
    Player::greeted(tls_connect(connector, addr).await).await
}
