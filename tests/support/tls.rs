//! TLS clients for the tests of the gateway's TLS ports (`tests/tls.rs`, `e2e/pods.rs`):
//! a throwaway CA made with the `openssl` command, a client trusting it, and a scripted
//! telnet player over TLS.
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mush_gateway::tokio_rustls::rustls::pki_types::pem::PemObject;
use mush_gateway::tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use mush_gateway::tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use mush_gateway::tokio_rustls::{TlsConnector, client::TlsStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::strip_telnet;

/// A throwaway CA and the server certificates it issues, in `dir`.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("pki dir");
        let pki = Self {
            dir: dir.to_owned(),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=mush-test-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("ext file");
        pki
    }

    pub fn openssl(&self, args: &[&str]) {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("the openssl command (Debian's `openssl` package)");
        assert!(
            output.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Issues `{name}.crt` and `{name}.key` for 127.0.0.1 and localhost.
    pub fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        (self.dir.join(crt), self.dir.join(key))
    }

    /// A client config that trusts this CA only.
    pub fn client(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        let ca = CertificateDer::from_pem_file(self.dir.join("ca.crt")).expect("ca.crt");
        roots.add(ca).expect("CA certificate accepted");
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
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

/// A scripted telnet player over TLS (`support::Player` speaks plain TCP).
pub struct TlsPlayer {
    pub stream: TlsStream<TcpStream>,
    text: String,
}

impl TlsPlayer {
    pub async fn connect(connector: &TlsConnector, addr: SocketAddr) -> Self {
        let mut player = Self {
            stream: tls_connect(connector, addr).await,
            text: String::new(),
        };
        player.expect("connect <name> <password>").await;
        player
    }

    pub async fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.stream.flush().await.expect("flush");
    }

    pub async fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 8192];
        loop {
            if let Some(at) = self.text.find(needle) {
                return self.text.drain(..at + needle.len()).collect();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let read = tokio::time::timeout(left, self.stream.read(&mut buf)).await;
            match read {
                Ok(Ok(n)) if n > 0 => self.text.push_str(&strip_telnet(&buf[..n])),
                Ok(result) => panic!(
                    "connection closed ({result:?}) while waiting for {needle:?}; got {:?}",
                    self.text
                ),
                Err(_) => panic!("timed out waiting for {needle:?}; got {:?}", self.text),
            }
        }
    }
}
