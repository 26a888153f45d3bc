//! What the benchmark drivers share: a scripted telnet player and a shard to drive.
#![allow(dead_code)] // each driver uses its own part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A scripted telnet player.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// What the last [`Client::wait_for`] read before its needle.
    seen: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::new(),
            seen: Vec::new(),
        })
    }

    pub async fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.stream.write_all(text.as_bytes()).await
    }

    /// Reads until `needle` is seen; returns everything before it (and drops it).
    pub async fn read_until(&mut self, needle: &[u8], limit: Duration) -> std::io::Result<Vec<u8>> {
        self.wait_for(needle, limit).await?;
        Ok(std::mem::take(&mut self.seen))
    }

    /// Reads until `needle` is seen; drops everything up to it.
    pub async fn wait_for(&mut self, needle: &[u8], limit: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(at) = find(&self.buf, needle) {
                self.seen = self.buf.drain(..at + needle.len()).collect();
                self.seen.truncate(at);
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "waiting for {:?}; last output {:?}",
                        String::from_utf8_lossy(needle),
                        String::from_utf8_lossy(&self.buf[self.buf.len().saturating_sub(300)..])
                    ),
                ));
            }
            let mut chunk = [0u8; 16384];
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(error)) => return Err(error),
                Err(_) => {}
            }
        }
    }

    /// Waits for the connect screen's `create` line, which both servers' screens have
    /// (ours: `create <name> <password>    create a new character`; TinyMUX's
    /// `connect.txt`: `"create <name> <password>" creates a new character.`), and forgets
    /// the screen. Timed runs use this rather than [`Client::wait_banner`]: its moment of
    /// quiet put a 100 ms floor under every wave of a storm, on both servers alike, which
    /// hid most of the difference between them.
    pub async fn wait_greeting(&mut self) -> std::io::Result<()> {
        self.wait_for(b"create <name> <password>", Duration::from_secs(30))
            .await?;
        self.buf.clear();
        Ok(())
    }

    /// Waits for the connect banner: some output, then a moment of quiet. (TinyMUX can
    /// lose a line typed before its banner is out when many clients connect at once.)
    pub async fn wait_banner(&mut self) -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut chunk = [0u8; 16384];
            let quiet = if self.buf.is_empty() {
                Duration::from_secs(30)
            } else {
                Duration::from_millis(100)
            };
            match tokio::time::timeout(quiet, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(error)) => return Err(error),
                Err(_) => {
                    self.buf.clear();
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
        }
    }

    /// The socket, for a caller that only drains it from now on.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Sends `think <token>` and waits for the echo: one command round trip.
    pub async fn round_trip(&mut self, token: &str) -> std::io::Result<Duration> {
        let started = Instant::now();
        self.send(&format!("think {token}\r\n")).await?;
        self.wait_for(format!("{token}\r\n").as_bytes(), Duration::from_secs(30))
            .await?;
        Ok(started.elapsed())
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `p`th percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Creates `count` logged-in players named `<prefix><i>`.
pub async fn create_players(
    addr: SocketAddr,
    prefix: &str,
    count: usize,
) -> std::io::Result<Vec<Client>> {
    create_named(addr, prefix, 0..count).await
}

/// Creates logged-in players named `<prefix><i>` for each `i` of `range`, all at once.
pub async fn create_named(
    addr: SocketAddr,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> std::io::Result<Vec<Client>> {
    let count = range.len();
    let tasks: Vec<_> = range
        .map(|i| {
            let name = format!("{prefix}{i}");
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await?;
                client.wait_greeting().await?;
                client
                    .send(&format!("create {name} benchpw\r\nthink ready-{name}\r\n"))
                    .await?;
                client
                    .wait_for(
                        format!("ready-{name}\r\n").as_bytes(),
                        Duration::from_secs(60),
                    )
                    .await?;
                Ok::<_, std::io::Error>(client)
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(count);
    for task in tasks {
        clients.push(task.await.map_err(std::io::Error::other)??);
    }
    Ok(clients)
}

/// The release `mush` binary next to this example (built by the bench scripts).
pub fn mush_exe() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(Path::parent).ok_or("no target dir")?;
    let mush = dir.join("mush");
    if !mush.is_file() {
        return Err(format!("{} not built: run scripts/bench-dataplane", mush.display()).into());
    }
    Ok(mush)
}

/// A shard as `mush dev` runs it, input limits raised so the driver measures the system
/// rather than the rate limiter; returns once the gateway answers. The temporary directory
/// holds every process' data and must live as long as the shard. `MUSH_BENCH_PLAIN_LINK=1`
/// runs the gateway <-> game pod link without its mutual TLS, to measure what TLS costs.
pub async fn bench_shard(
    prefix: &str,
) -> Result<(mush::shard::Shard, tempfile::TempDir), Box<dyn std::error::Error>> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    let mut options = mush::shard::ShardOptions::for_tests(mush_exe()?, dir.path());
    options.log = "warn".into();
    options.link_tls = std::env::var("MUSH_BENCH_PLAIN_LINK").as_deref() != Ok("1");
    options
        .gateway_args
        .extend(["--input-rate", "1000000", "--input-burst", "1000000"].map(String::from));
    let shard = tokio::task::block_in_place(|| mush::shard::Shard::start(options))?;
    let mut probe = Client::connect(shard.telnet_addr()).await?;
    probe
        .wait_for(b"connect <name>", Duration::from_secs(30))
        .await?;
    Ok((shard, dir))
}

/// Resident memory of a process (KiB), from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A TinyMUX game in a temporary directory, with its command quota raised.
pub struct TinyMux {
    pub child: Child,
    _dir: tempfile::TempDir,
}

impl TinyMux {
    /// A game on a free port of 127.0.0.1, once it accepts connections.
    pub async fn listening() -> Result<(Self, SocketAddr), Box<dyn std::error::Error>> {
        let port = mush_harness::free_port()?;
        let mux = Self::start(port)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_listening(addr).await?;
        Ok((mux, addr))
    }

    pub fn start(port: u16) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::Builder::new().prefix("tinymux-").tempdir()?;
        let status = Command::new("/usr/games/tinymux-install")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err("tinymux-install failed".into());
        }
        let game = dir.path().join("tinymux/game");
        let conf = game.join("netmux.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text = text.replace("port 2860", &format!("port {port}"));
        text.push_str("\ncommand_quota_max 1000000\ncommand_quota_incr 1000000\npcreate_per_hour 1000000\nidle_timeout 86400\nconn_timeout 86400\n");
        std::fs::write(&conf, text)?;
        let child = Command::new(game.join("bin/netmux"))
            .args(["-c", "netmux.conf", "-p", "netmux.pid", "-e", "."])
            .current_dir(&game)
            .env("LD_LIBRARY_PATH", game.join("bin"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self { child, _dir: dir })
    }
}

impl Drop for TinyMux {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn wait_listening(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The body of a plain HTTP/1.0 GET (health and metrics ports).
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}

/// `rounds` times: `speaker` says a fresh token and every listener waits for it; returns,
/// per round, each listener's time from the `say` until it had the line.
pub async fn say_rounds(
    speaker: &mut Client,
    listeners: &mut Vec<Client>,
    rounds: usize,
    limit: Duration,
) -> std::io::Result<Vec<Vec<Duration>>> {
    let mut all = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let token = format!("fan{round}z");
        let needle = format!("says, \"{token}\"");
        let started = Instant::now();
        let waits: Vec<_> = listeners
            .drain(..)
            .map(|mut client| {
                let needle = needle.clone();
                tokio::spawn(async move {
                    client.wait_for(needle.as_bytes(), limit).await?;
                    Ok::<_, std::io::Error>((client, started.elapsed()))
                })
            })
            .collect();
        speaker.send(&format!("say {token}\r\n")).await?;
        let mut times = Vec::with_capacity(waits.len());
        for wait in waits {
            let (client, took) = wait.await.map_err(std::io::Error::other)??;
            times.push(took);
            listeners.push(client);
        }
        speaker.wait_for(token.as_bytes(), limit).await?;
        all.push(times);
    }
    Ok(all)
}

/// CPU time a process has used so far (user + system), from /proc.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}
