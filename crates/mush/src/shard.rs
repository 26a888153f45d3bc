//! A whole shard on 127.0.0.1: Redis Cluster, NATS, game pods and a gateway.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mush_harness::{
    ClusterOptions, HarnessError, NatsServer, Pki, RedisCluster, Server, free_port, on_fresh_ports,
};
use mush_rpc::tls::{GAME_SERVER_NAME, GATEWAY_CLIENT_NAME, LinkFiles};

/// How to start a shard.
#[derive(Clone, Debug)]
pub struct ShardOptions {
    /// The `mush` executable.
    pub exe: PathBuf,
    /// Where every process keeps its data and log.
    pub dir: PathBuf,
    /// Game pods to start.
    pub game_pods: usize,
    /// Telnet port of the gateway (`None`: a free one).
    pub telnet_port: Option<u16>,
    /// WebSocket port of the gateway (`None`: a free one).
    pub websocket_port: Option<u16>,
    /// Password of Wizard (#1).
    pub god_password: String,
    /// Extra flags for the gateway.
    pub gateway_args: Vec<String>,
    /// Extra flags for every game pod.
    pub game_args: Vec<String>,
    /// Log filter of the children.
    pub log: String,
    /// Gateways and game pods speak gRPC over mutual TLS, with certificates from a CA
    /// made for this shard (as the operator's shards do); off: plain gRPC.
    pub link_tls: bool,
}

impl ShardOptions {
    /// Defaults for tests: two pods, free ports, quick timeouts.
    pub fn for_tests(exe: impl Into<PathBuf>, dir: &Path) -> Self {
        Self {
            exe: exe.into(),
            dir: dir.to_owned(),
            game_pods: 2,
            telnet_port: None,
            websocket_port: None,
            god_password: "potrzebie".into(),
            gateway_args: [
                "--pod-poll-ms",
                "200",
                "--heartbeat-ttl-ms",
                "1500",
                "--reap-interval-ms",
                "1000",
                // Tests and benchmarks open thousands of sockets from 127.0.0.1.
                "--max-connections-per-address",
                "100000",
            ]
            .map(String::from)
            .to_vec(),
            // Tests and benchmarks create and log in many players from 127.0.0.1; the
            // doors' own test sets these back.
            game_args: [
                "--heartbeat-ttl-ms",
                "1500",
                "--login-free-failures",
                "1000000",
                "--creates-per-address-hour",
                "1000000",
            ]
            .map(String::from)
            .to_vec(),
            log: "info".into(),
            link_tls: true,
        }
    }
}

/// A running shard; dropping it kills every process.
pub struct Shard {
    options: ShardOptions,
    redis: RedisCluster,
    nats: NatsServer,
    pods: Vec<(String, Server, u16)>,
    gateway: Server,
    gateway_http: u16,
    telnet_port: u16,
    websocket_port: u16,
    pods_started: usize,
    gateways_started: usize,
    /// The gateways' link files (`None` without link TLS).
    gateway_link: Option<LinkFiles>,
}

impl Shard {
    /// Starts everything and returns once the gateway listens.
    pub fn start(mut options: ShardOptions) -> Result<Self, HarnessError> {
        std::fs::create_dir_all(&options.dir).map_err(HarnessError::Io)?;
        let mut gateway_link = None;
        if options.link_tls {
            let (game, gateway) = link_certificates(&options.dir.join("link-tls"))?;
            options.game_args.extend(link_flag(&game));
            options.gateway_args.extend(link_flag(&gateway));
            gateway_link = Some(LinkFiles::in_dir(gateway));
        }
        let redis = RedisCluster::start_in(&options.dir.join("redis"), ClusterOptions::default())?;
        let nats = NatsServer::start_in(&options.dir.join("nats"))?;
        let mut pods = Vec::new();
        for index in 0..options.game_pods {
            let name = format!("game-{index}");
            let (server, http) = spawn_pod(&options, &redis, &nats, &name)?;
            pods.push((name, server, http));
        }
        let (gateway, gateway_http, telnet_port, websocket_port) = on_fresh_ports(|| {
            let telnet = options.telnet_port.map_or_else(free_port, Ok)?;
            let websocket = options.websocket_port.map_or_else(free_port, Ok)?;
            let (gateway, http) = spawn_gateway(&options, &redis, "gateway-0", telnet, websocket)?;
            Ok((gateway, http, telnet, websocket))
        })?;
        let shard = Self {
            gateway_link,
            pods_started: options.game_pods,
            gateways_started: 1,
            options,
            redis,
            nats,
            pods,
            gateway,
            gateway_http,
            telnet_port,
            websocket_port,
        };
        shard.wait_linked()?;
        Ok(shard)
    }

    /// Waits until the gateway streams to every running game pod.
    ///
    /// A gateway places new sessions only on pods it reaches; players who log in before it
    /// has linked them all would pile onto the first (and a test that expects two players
    /// on two pods would depend on timing).
    pub fn wait_linked(&self) -> Result<(), HarnessError> {
        let want = self.pods.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let linked = gateway_pod_streams(self.gateway_http());
            if linked == Some(want) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout(format!(
                    "the gateway to stream to {want} game pods (it has {linked:?})"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where players connect with telnet.
    pub fn telnet_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.telnet_port))
    }

    /// Where browsers connect.
    pub fn websocket_url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.websocket_port)
    }

    /// The Redis Cluster.
    pub fn redis(&self) -> &RedisCluster {
        &self.redis
    }

    /// The Redis Cluster, for tests that kill and restart its nodes.
    pub fn redis_mut(&mut self) -> &mut RedisCluster {
        &mut self.redis
    }

    /// The NATS server (tests stop and start it).
    pub fn nats_mut(&mut self) -> &mut NatsServer {
        &mut self.nats
    }

    /// A gateway's link certificate, key and CA (`None` without link TLS), for tests that
    /// attach to a game pod as a gateway does.
    pub fn gateway_link_files(&self) -> Option<LinkFiles> {
        self.gateway_link.clone()
    }

    /// The NATS URL.
    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// The gateway's process id (for memory measurements).
    pub fn gateway_pid(&self) -> Option<u32> {
        self.gateway.pid()
    }

    /// Names of the running game pods.
    pub fn pod_names(&self) -> Vec<String> {
        self.pods.iter().map(|(name, _, _)| name.clone()).collect()
    }

    /// The process id of a running game pod (for memory measurements).
    pub fn pod_pid(&self, name: &str) -> Option<u32> {
        self.pods
            .iter()
            .find(|(n, _, _)| n == name)
            .and_then(|(_, server, _)| server.pid())
    }

    /// The health/metrics address of a game pod.
    pub fn pod_http(&self, name: &str) -> Option<SocketAddr> {
        self.pods
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, port)| SocketAddr::from(([127, 0, 0, 1], *port)))
    }

    /// The health/metrics address of the gateway.
    pub fn gateway_http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.gateway_http))
    }

    /// SIGKILLs a game pod (a crash: no drain, no goodbye).
    pub fn kill_pod(&mut self, name: &str) -> Result<(), HarnessError> {
        self.take_pod(name)?.kill();
        Ok(())
    }

    fn take_pod(&mut self, name: &str) -> Result<Server, HarnessError> {
        let index = self
            .pods
            .iter()
            .position(|(n, _, _)| n == name)
            .ok_or_else(|| HarnessError::Invalid(format!("no pod {name}")))?;
        Ok(self.pods.remove(index).1)
    }

    /// Sends SIGTERM to a game pod (a drain, as Kubernetes does) and waits for it to exit;
    /// returns its exit status, `None` if it had to be killed after `grace`.
    pub fn terminate_pod(
        &mut self,
        name: &str,
        grace: Duration,
    ) -> Result<Option<std::process::ExitStatus>, HarnessError> {
        Ok(self.take_pod(name)?.terminate(grace))
    }

    /// SIGKILLs the gateway: every player connection drops with it.
    pub fn kill_gateway(&mut self) {
        self.gateway.kill();
    }

    /// Starts a new gateway (fresh name, same ports) after [`Shard::kill_gateway`].
    pub fn start_gateway(&mut self) -> Result<(), HarnessError> {
        let name = format!("gateway-{}", self.gateways_started);
        self.gateways_started += 1;
        let (gateway, http) = on_fresh_ports(|| {
            spawn_gateway(
                &self.options,
                &self.redis,
                &name,
                self.telnet_port,
                self.websocket_port,
            )
        })?;
        self.gateway = gateway;
        self.gateway_http = http;
        self.wait_linked()
    }

    /// Starts one more game pod with a fresh name and returns the name.
    pub fn start_pod(&mut self) -> Result<String, HarnessError> {
        let name = format!("game-{}", self.pods_started);
        self.pods_started += 1;
        let (server, http) = spawn_pod(&self.options, &self.redis, &self.nats, &name)?;
        self.pods.push((name.clone(), server, http));
        self.wait_linked()?;
        Ok(name)
    }

    /// Stops everything gracefully (SIGTERM, then SIGKILL after a grace period).
    pub fn stop(mut self) {
        self.gateway.terminate(Duration::from_secs(5));
        for (_, pod, _) in &mut self.pods {
            pod.terminate(Duration::from_secs(5));
        }
    }
}

/// Makes the shard's link CA in `dir` and a directory each for the game pods and the
/// gateways holding `tls.crt`, `tls.key` and `ca.crt`, as a mounted Secret would.
fn link_certificates(dir: &Path) -> Result<(PathBuf, PathBuf), HarnessError> {
    let pki = Pki::new(dir, "mush shard link CA")?;
    let game = pki.server(
        "game",
        &format!("/CN={GAME_SERVER_NAME}"),
        &[&format!("DNS:{GAME_SERVER_NAME}")],
    )?;
    let gateway = pki.client_for(
        "gateway",
        &format!("/CN={GATEWAY_CLIENT_NAME}"),
        &[&format!("DNS:{GATEWAY_CLIENT_NAME}")],
    )?;
    let role = |name: &str, (cert, key): (PathBuf, PathBuf)| {
        let role = dir.join(name);
        std::fs::create_dir_all(&role).map_err(HarnessError::Io)?;
        for (from, to) in [(cert, "tls.crt"), (key, "tls.key"), (pki.ca(), "ca.crt")] {
            std::fs::copy(from, role.join(to)).map_err(HarnessError::Io)?;
        }
        Ok::<_, HarnessError>(role)
    };
    Ok((role("game", game)?, role("gateway", gateway)?))
}

fn link_flag(dir: &Path) -> [String; 2] {
    ["--link-tls-dir".into(), dir.display().to_string()]
}

/// The gateway's `mush_gateway_pod_streams` gauge, `None` while it does not answer.
fn gateway_pod_streams(http: SocketAddr) -> Option<usize> {
    let mut stream = TcpStream::connect_timeout(&http, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .lines()
        .find_map(|line| line.strip_prefix("mush_gateway_pod_streams "))
        .and_then(|value| value.trim().parse().ok())
}

fn common_args(options: &ShardOptions, redis: &RedisCluster, http: u16) -> Vec<String> {
    vec![
        "--log".into(),
        options.log.clone(),
        "--redis".into(),
        redis.urls().join(","),
        "--http".into(),
        format!("127.0.0.1:{http}"),
    ]
}

fn spawn_pod(
    options: &ShardOptions,
    redis: &RedisCluster,
    nats: &NatsServer,
    name: &str,
) -> Result<(Server, u16), HarnessError> {
    on_fresh_ports(|| spawn_pod_once(options, redis, nats, name))
}

fn spawn_pod_once(
    options: &ShardOptions,
    redis: &RedisCluster,
    nats: &NatsServer,
    name: &str,
) -> Result<(Server, u16), HarnessError> {
    let (grpc, http) = (free_port()?, free_port()?);
    let mut args = vec!["game".to_owned()];
    args.extend(common_args(options, redis, http));
    args.extend([
        "--pod-id".into(),
        name.into(),
        "--listen".into(),
        format!("127.0.0.1:{grpc}"),
        "--advertise-host".into(),
        "127.0.0.1".into(),
        "--nats".into(),
        nats.url(),
        "--god-password".into(),
        options.god_password.clone(),
    ]);
    args.extend(options.game_args.iter().cloned());
    Server::spawn(
        format!("mush game {name}"),
        &options.exe,
        args,
        grpc,
        options.dir.join(format!("{name}.log")),
    )
    .map(|server| (server, http))
}

fn spawn_gateway(
    options: &ShardOptions,
    redis: &RedisCluster,
    name: &str,
    telnet: u16,
    websocket: u16,
) -> Result<(Server, u16), HarnessError> {
    let http = free_port()?;
    let mut args = vec!["gateway".to_owned()];
    args.extend(common_args(options, redis, http));
    args.extend([
        "--gateway-id".into(),
        name.into(),
        "--telnet".into(),
        format!("127.0.0.1:{telnet}"),
        "--websocket".into(),
        format!("127.0.0.1:{websocket}"),
    ]);
    args.extend(options.gateway_args.iter().cloned());
    Server::spawn(
        "mush gateway",
        &options.exe,
        args,
        telnet,
        options.dir.join("gateway.log"),
    )
    .map(|server| (server, http))
}
