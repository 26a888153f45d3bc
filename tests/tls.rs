//! The gateway's TLS ports against a shard of real processes: TLS telnet and `wss`, a
//! certificate renewed the way Kubernetes renews a mounted Secret (a new directory behind
//! the `..data` symlink) while players stay connected, a game pod killed under a TLS
//! player, and clients that never finish a handshake.
//!
//! Certificates are made with the `openssl` command in the test's temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use mush_gateway::tokio_rustls::rustls::pki_types::CertificateDer;
use mush_gateway::tokio_rustls::rustls::pki_types::pem::PemObject;
use mush_gateway::tokio_rustls::{TlsConnector, client::TlsStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

#[path = "support/mod.rs"]
mod support;
use support::*;
#[path = "support/tls.rs"]
mod tls_support;
use tls_support::{client, issue, pki, tls_connect, tls_player};

/// The leaf certificate of a PEM file, to compare with what a server presented.
fn leaf(cert: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(cert).expect("certificate file")
}

/// A mounted Secret as the kubelet keeps it: `tls.crt` and `tls.key` are symlinks through
/// `..data`, itself a symlink to a timestamped directory; an update writes a new directory
/// and renames a new `..data` link over the old one (one atomic step for both files).
struct SecretVolume {
    dir: PathBuf,
    generation: u32,
}

impl SecretVolume {
    fn new(dir: &Path, cert: &Path, key: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("volume dir");
        let mut volume = Self {
            dir: dir.to_owned(),
            generation: 0,
        };
        volume.update(cert, key);
        for name in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).expect("link");
        }
        volume
    }

    fn update(&mut self, cert: &Path, key: &Path) {
        self.generation += 1;
        let data = format!("..2026_01_01_00_00_0{}.000", self.generation);
        let target = self.dir.join(&data);
        std::fs::create_dir(&target).expect("data dir");
        std::fs::copy(cert, target.join("tls.crt")).expect("copy cert");
        std::fs::copy(key, target.join("tls.key")).expect("copy key");
        let temporary = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&data, &temporary).expect("data link");
        std::fs::rename(&temporary, self.dir.join("..data")).expect("swap ..data");
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("tls.crt")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("tls.key")
    }
}

/// Gateway flags for TLS telnet and `wss` on fresh ports; returns them and the addresses.
fn tls_flags(volume: &SecretVolume) -> (Vec<String>, SocketAddr, SocketAddr) {
    let port = || mush_harness::free_port().expect("free port");
    let telnet = SocketAddr::from(([127, 0, 0, 1], port()));
    let websocket = SocketAddr::from(([127, 0, 0, 1], port()));
    let flags = [
        "--telnet-tls".to_owned(),
        telnet.to_string(),
        "--websocket-tls".to_owned(),
        websocket.to_string(),
        "--tls-cert".to_owned(),
        volume.cert().display().to_string(),
        "--tls-key".to_owned(),
        volume.key().display().to_string(),
        "--tls-reload-secs".to_owned(),
        "1".to_owned(),
        "--tls-handshake-timeout-ms".to_owned(),
        "1000".to_owned(),
    ]
    .to_vec();
    (flags, telnet, websocket)
}

/// The certificate a TLS connection was served with.
fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("server presented a certificate")
        .clone()
        .into_owned()
}

/// A `wss` player: tungstenite's client handshake over our own TLS stream.
struct WssPlayer {
    socket: WebSocketStream<TlsStream<TcpStream>>,
    text: String,
}

impl WssPlayer {
    async fn connect(connector: &TlsConnector, addr: SocketAddr) -> Self {
        let stream = tls_connect(connector, addr).await;
        let url = format!("wss://localhost:{}/", addr.port());
        let (socket, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .expect("WebSocket handshake over TLS");
        let mut player = Self {
            socket,
            text: String::new(),
        };
        player.expect("connect <name> <password>").await;
        player
    }

    async fn send(&mut self, line: &str) {
        self.socket.send(line.into()).await.expect("send");
    }

    async fn expect(&mut self, needle: &str) -> String {
        loop {
            if let Some(at) = self.text.find(needle) {
                return self.text.drain(..at + needle.len()).collect();
            }
            let frame = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; got {:?}", self.text))
                .expect("wss closed")
                .expect("wss error");
            if let Message::Text(text) = frame {
                self.text.push_str(text.as_str());
                self.text.push('\n');
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_players_survive_a_certificate_renewal_and_a_game_pod_crash() {
    let pki_dir = tempfile::Builder::new()
        .prefix("mush-tls-pki-")
        .tempdir()
        .expect("temp dir");
    let pki = pki(&pki_dir.path().join("pki"));
    let (first_cert, first_key) = issue(&pki, "first");
    let mut volume = SecretVolume::new(&pki_dir.path().join("secret"), &first_cert, &first_key);
    let (flags, telnet_tls, wss) = tls_flags(&volume);
    let (mut shard, _dir) = tokio::task::block_in_place(|| {
        start_shard_with("tls", |options| options.gateway_args.extend(flags))
    });
    let store = store_of(&shard).await;
    let connector = client(&pki);

    // TLS telnet: the connect screen, a new character, a command.
    let mut tess = tls_player(&connector, telnet_tls).await;
    assert_eq!(served(tess.stream()), leaf(&first_cert));
    tess.send("create Tess secret").await;
    tess.expect("Limbo").await;
    tess.send("think over tls").await;
    tess.expect("over tls").await;

    // wss: the same game; the two see each other.
    let mut wendy = WssPlayer::connect(&connector, wss).await;
    wendy.send("create Wendy secret").await;
    wendy.expect("Limbo").await;
    tess.expect("Wendy has connected.").await;
    tess.send("say hello, secure web").await;
    wendy.expect("Tess says, \"hello, secure web\"").await;
    wendy.send("say hello, secure telnet").await;
    tess.expect("Wendy says, \"hello, secure telnet\"").await;

    // The Secret is renewed: new connections get the new certificate, old ones go on.
    let (second_cert, second_key) = issue(&pki, "second");
    assert_ne!(leaf(&first_cert), leaf(&second_cert));
    volume.update(&second_cert, &second_key);
    let deadline = Instant::now() + Duration::from_secs(15);
    let fresh = loop {
        let stream = tls_connect(&connector, telnet_tls).await;
        if served(&stream) == leaf(&second_cert) {
            break stream;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway still serves the old certificate 15 s after the renewal"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(fresh);
    let fresh_wss = tls_connect(&connector, wss).await;
    assert_eq!(served(&fresh_wss), leaf(&second_cert), "wss uses it too");
    drop(fresh_wss);
    assert_eq!(served(tess.stream()), leaf(&first_cert));
    tess.send("think still the old session").await;
    tess.expect("still the old session").await;
    wendy.send("say after the renewal").await;
    tess.expect("Wendy says, \"after the renewal\"").await;
    assert!(metric(shard.gateway_http(), "mush_gateway_tls_reloads_total").await >= 1);
    let mut newcomer = tls_player(&connector, telnet_tls).await;
    assert_eq!(served(newcomer.stream()), leaf(&second_cert));
    newcomer.send("create Nina secret").await;
    newcomer.expect("Limbo").await;

    // A renewal with a key that is not the certificate's is refused; the good one stays.
    let failures = metric(
        shard.gateway_http(),
        "mush_gateway_tls_reload_failures_total",
    )
    .await;
    volume.update(&first_cert, &second_key);
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(
        shard.gateway_http(),
        "mush_gateway_tls_reload_failures_total",
    )
    .await
        == failures
    {
        assert!(Instant::now() < deadline, "the bad pair was not noticed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let still = tls_connect(&connector, telnet_tls).await;
    assert_eq!(
        served(&still),
        leaf(&second_cert),
        "the last good pair stays"
    );
    drop(still);

    // The game pod behind Tess dies; the gateway holds her TLS session and moves it.
    let pod = pod_of(&store, "Tess").await;
    tokio::task::block_in_place(|| {
        shard.kill_pod(pod.as_str()).expect("kill");
        shard.start_pod().expect("new pod");
    });
    tess.send("think after the crash").await;
    tess.expect("after the crash").await;
    wendy.send("say still here").await;
    tess.expect("Wendy says, \"still here\"").await;
    assert_ne!(pod_of(&store, "Tess").await, pod, "Tess's session moved");
    newcomer.send("think me too").await;
    newcomer.expect("me too").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_plain_text_clients_on_tls_ports_are_dropped_without_harm() {
    let pki_dir = tempfile::Builder::new()
        .prefix("mush-tls-pki-")
        .tempdir()
        .expect("temp dir");
    let pki = pki(&pki_dir.path().join("pki"));
    let (cert, key) = issue(&pki, "server");
    let volume = SecretVolume::new(&pki_dir.path().join("secret"), &cert, &key);
    let (flags, telnet_tls, wss) = tls_flags(&volume);
    let (shard, _dir) = tokio::task::block_in_place(|| {
        start_shard_with("tls-silent", |options| options.gateway_args.extend(flags))
    });
    let connector = client(&pki);
    let mut tess = tls_player(&connector, telnet_tls).await;
    tess.send("create Tess secret").await;
    tess.expect("Limbo").await;

    // A client that sends nothing is dropped once the handshake timeout (1 s here) is up.
    for addr in [telnet_tls, wss] {
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
            .await
            .expect("a silent client was still held after 10 s");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a silent client got {read:?}"
        );
        let held = started.elapsed();
        assert!(
            held >= Duration::from_millis(800) && held < Duration::from_secs(5),
            "a silent client was dropped after {held:?}, wanted about 1 s"
        );
    }

    // Plain telnet and plain HTTP on the TLS ports: a TLS alert at most, then the end.
    for (addr, text) in [
        (telnet_tls, "connect Tess secret\r\n"),
        (wss, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ] {
        let mut plain = TcpStream::connect(addr).await.expect("connect");
        plain.write_all(text.as_bytes()).await.expect("write");
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got))
            .await
            .expect("a plain-text client on a TLS port was not disconnected");
        let got = String::from_utf8_lossy(&got);
        assert!(
            !got.contains("connect <name>") && !got.contains("HTTP/1.1 200"),
            "plain text was served on a TLS port ({read:?}): {got:?}"
        );
    }
    assert!(
        metric(
            shard.gateway_http(),
            "mush_gateway_tls_handshake_failures_total"
        )
        .await
            >= 4
    );

    // The TLS player was not disturbed.
    tess.send("think unharmed").await;
    tess.expect("unharmed").await;
}
