//! What the cross-crate tests and the e2e suites share: a shard of real processes, a
//! scripted telnet player, and small HTTP and store helpers.
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mush::shard::{Shard, ShardOptions};
use mush_proto::PodId;
use mush_store::{Store, StoreConfig, StoreMetrics};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub const IAC: u8 = 255;
pub const SB: u8 = 250;
pub const SE: u8 = 240;

/// A shard of real processes for one test, its files in a temporary directory that must
/// live as long as the shard.
pub fn start_shard(name: &str, gateway_args: &[&str]) -> (Shard, tempfile::TempDir) {
    start_shard_with(name, |options| {
        options
            .gateway_args
            .extend(gateway_args.iter().map(|a| (*a).to_owned()))
    })
}

/// [`start_shard`] with the options adjusted first.
pub fn start_shard_with(
    name: &str,
    adjust: impl FnOnce(&mut ShardOptions),
) -> (Shard, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("mush-{name}-"))
        .tempdir()
        .expect("temp dir");
    let mut options = ShardOptions::for_tests(env!("CARGO_BIN_EXE_mush"), dir.path());
    adjust(&mut options);
    let shard = Shard::start(options).expect("shard");
    (shard, dir)
}

/// A gRPC channel to a game pod at `addr` (`host:port`) as the shard's gateways make it:
/// over the link's mutual TLS with a gateway's files (`Shard::gateway_link_files`), or
/// plain without them.
pub async fn link_channel(
    files: Option<&mush_rpc::tls::LinkFiles>,
    addr: &str,
) -> tonic::transport::Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("uri");
    match files {
        Some(files) => {
            let tls = std::sync::Arc::new(files.client().expect("gateway certificate"));
            mush_rpc::tls::connect_channel(&endpoint, tls).await
        }
        None => endpoint.connect().await,
    }
    .expect("connect to the game pod")
}

pub async fn store_of(shard: &Shard) -> Store {
    Store::connect(
        StoreConfig {
            nodes: shard.redis().urls(),
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .await
    .expect("store")
}

/// A scripted telnet player, over plain TCP or (`tls::connect`) a TLS session.
pub struct Player<S = TcpStream> {
    stream: S,
    text: String,
    /// Everything received, for exactly-once checks.
    pub transcript: String,
    closed: bool,
}

impl Player {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self::greeted(stream).await
    }

    pub async fn login(addr: SocketAddr, name: &str) -> Self {
        let mut player = Self::connect(addr).await;
        player.send(&format!("create {name} secret")).await;
        player.expect("Limbo").await;
        player
    }

    /// The socket, for a driver that reads and writes on its own from here on.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Player<S> {
    /// A player on an open connection, once the connect screen has arrived.
    pub async fn greeted(stream: S) -> Self {
        let mut player = Self {
            stream,
            text: String::new(),
            transcript: String::new(),
            closed: false,
        };
        player.expect("connect <name> <password>").await;
        player
    }

    /// The connection (a TLS test reads the certificate it was served).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    /// Writes and flushes (a TLS session may hold written bytes otherwise).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Reads until `needle` appears; returns everything up to and including it.
    pub async fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(at) = self.text.find(needle) {
                let seen: String = self.text.drain(..at + needle.len()).collect();
                return seen;
            }
            assert!(
                !self.closed,
                "connection closed while waiting for {needle:?}; got {:?}",
                self.text
            );
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {needle:?}; got {:?}",
                self.text
            );
            self.read_for(left).await;
        }
    }

    /// One read of at most `wait`; false when nothing came in that time.
    async fn read_for(&mut self, wait: Duration) -> bool {
        let mut buf = [0u8; 8192];
        match tokio::time::timeout(wait, self.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.closed = true;
                true
            }
            Ok(Ok(n)) => {
                let text = strip_telnet(&buf[..n]);
                self.transcript.push_str(&text);
                self.text.push_str(&text);
                true
            }
            Err(_) => false,
        }
    }

    /// Reads until `want` says the lines so far are enough, or until nothing more arrives
    /// for `quiet`, or 20 s pass; then takes every complete line received (without `\r`,
    /// empty lines dropped).
    pub async fn take_lines(
        &mut self,
        quiet: Duration,
        want: impl Fn(usize) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let complete = self.text.matches('\n').count();
            if want(complete) || Instant::now() > deadline || self.closed {
                break;
            }
            if !self.read_for(quiet).await {
                break;
            }
        }
        let end = self.text.rfind('\n').map_or(0, |at| at + 1);
        let taken: String = self.text.drain(..end).collect();
        taken
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// True if the gateway has not closed the socket (checked without blocking long).
    pub async fn is_open(&mut self) -> bool {
        self.read_for(Duration::from_millis(100)).await;
        !self.closed
    }
}

/// Removes telnet commands from received bytes (the tests read text).
pub fn strip_telnet(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == IAC && i + 1 < bytes.len() {
            match bytes[i + 1] {
                SB => {
                    while i + 1 < bytes.len() && !(bytes[i] == IAC && bytes[i + 1] == SE) {
                        i += 1;
                    }
                    i += 2;
                }
                251..=254 => i += 3,
                _ => i += 2,
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Logs in `<prefix>0`, `<prefix>1`... until one lands on a pod other than `pod`, and
/// returns that player and its name; fails if ten in a row do not. The gateway alternates
/// new sessions between its pods, so the first should do; CI twice saw the first two
/// logins of a fresh shard on one pod with both pods linked (cause not found), so each
/// miss prints the gateway's log (`shard_dir`/gateway.log) for the next one to read.
pub async fn login_elsewhere(
    addr: SocketAddr,
    store: &Store,
    pod: &PodId,
    prefix: &str,
    shard_dir: &std::path::Path,
) -> (Player, String) {
    for n in 0..10 {
        let name = format!("{prefix}{n}");
        let player = Player::login(addr, &name).await;
        let landed = pod_of(store, &name).await;
        if landed != *pod {
            return (player, name);
        }
        let log = std::fs::read_to_string(shard_dir.join("gateway.log")).unwrap_or_default();
        eprintln!("{name} landed on {landed} too; gateway log:\n{log}");
    }
    panic!("ten logins in a row landed on {pod}");
}

pub async fn pod_of(store: &Store, name: &str) -> PodId {
    let id = store
        .player_by_name(name)
        .await
        .expect("lookup")
        .expect("player exists");
    let records = store.list_active().await.expect("records");
    records
        .into_iter()
        .find(|r| r.player.as_deref() == Some(&id.0.to_string()))
        .and_then(|r| r.pod)
        .expect("player's session has a pod")
}

/// Sets the value of `flag` already in `args` (a [`ShardOptions`] default) to `value`.
pub fn set_flag(args: &mut [String], flag: &str, value: &str) {
    let at = args.iter().position(|a| a == flag).expect(flag);
    args[at + 1] = value.to_owned();
}

/// A counter or gauge from the `/metrics` page at `addr` (0 while it is not there yet).
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = http_get(addr, "/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect health");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

pub async fn wait_status(addr: SocketAddr, path: &str, want: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http_get(addr, path).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} on {addr} stayed {status} ({body}), wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
