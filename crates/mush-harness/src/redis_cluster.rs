//! A real Redis Cluster made of `redis-server --cluster-enabled yes` processes.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::process::{Server, find_binary, free_port};

/// Shape and timing of a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of masters; Redis Cluster needs at least 3 to elect a replica on failover.
    pub masters: usize,
    /// Replicas per master.
    pub replicas: usize,
    /// `cluster-node-timeout`: how long a silent master is tolerated before its replica is
    /// promoted. Short by default so failover tests run in seconds, not the 15 s default.
    pub node_timeout: Duration,
    /// The local address every node binds and announces to clients and peers: 127.0.0.1
    /// by default; the bridge address of the harness's real Kubernetes node
    /// (`RealNode::host_ip`) for a cluster that pods must reach, since pods cannot reach
    /// the host's loopback.
    pub bind: IpAddr,
    /// An ACL user and password every client must log in as; the `default` user is off.
    /// Replicas replicate as that user too. `None`: no authentication, as Redis starts.
    pub acl: Option<(String, String)>,
    /// TLS only (no plain port), replication and the cluster bus included, with this
    /// certificate; clients are given `rediss://` seeds.
    pub tls: Option<ClusterTls>,
}

/// A TLS cluster's files (PEM): every node's certificate and key, and the CA that signed
/// them (and, with `verify_clients`, the clients' certificates).
#[derive(Clone, Debug)]
pub struct ClusterTls {
    /// The nodes' certificate (valid for [`ClusterOptions::bind`]).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA.
    pub ca: PathBuf,
    /// Clients must present a certificate of the CA (`tls-auth-clients yes`).
    pub verify_clients: bool,
    /// A client certificate and key of the CA: `redis-cli` presents it when clients are
    /// verified, and tests can give it to the clients they test.
    pub cli_client: Option<(PathBuf, PathBuf)>,
}

impl ClusterTls {
    /// Files for a cluster on `bind` that verifies its clients, all issued by `pki`: the
    /// nodes' certificate (which also dials, on the bus and replication links) and one
    /// client certificate.
    pub fn issued_by(pki: &crate::Pki, bind: IpAddr) -> Result<Self, HarnessError> {
        let (cert, key) = pki.peer("redis", "/CN=redis", &[&format!("IP:{bind}")])?;
        let client = pki.client("redis-client", "/CN=redis-client")?;
        Ok(Self {
            cert,
            key,
            ca: pki.ca(),
            verify_clients: true,
            cli_client: Some(client),
        })
    }
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            masters: 3,
            replicas: 1,
            node_timeout: Duration::from_millis(1000),
            bind: Ipv4Addr::LOCALHOST.into(),
            acl: None,
            tls: None,
        }
    }
}

/// A running Redis Cluster on 127.0.0.1 (or [`ClusterOptions::bind`]); every process dies
/// with this value.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Server>,
    bind: IpAddr,
    acl: Option<(String, String)>,
    tls: Option<ClusterTls>,
    redis_cli: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts a 3-master, 1-replica-each cluster in a fresh temporary directory.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with(ClusterOptions::default())
    }

    /// Starts a cluster of the given shape in a fresh temporary directory.
    pub fn start_with(options: ClusterOptions) -> Result<Self, HarnessError> {
        let tmp = tempfile::Builder::new()
            .prefix("mush-redis-")
            .tempdir()
            .map_err(HarnessError::Io)?;
        let dir = tmp.path().to_owned();
        let mut cluster = Self::start_in(&dir, options)?;
        cluster._tmp = Some(tmp);
        Ok(cluster)
    }

    /// Starts a cluster whose data and logs live under `dir` (kept after exit; `mush dev`
    /// names it so a newcomer can read the logs).
    pub fn start_in(dir: &Path, options: ClusterOptions) -> Result<Self, HarnessError> {
        let redis_server = find_binary("redis-server", "redis-server")?;
        let redis_cli = find_binary("redis-cli", "redis-tools")?;
        if options.masters < 3 {
            return Err(HarnessError::Invalid(
                "Redis Cluster needs at least 3 masters".into(),
            ));
        }
        let count = options.masters * (1 + options.replicas);
        let mut nodes = Vec::with_capacity(count);
        for index in 0..count {
            nodes.push(start_node(&redis_server, dir, index, &options)?);
        }
        let cluster = Self {
            nodes,
            bind: options.bind,
            acl: options.acl.clone(),
            tls: options.tls.clone(),
            redis_cli,
            _tmp: None,
            dir: dir.to_owned(),
        };
        cluster.create(options.replicas)?;
        cluster.wait_healthy(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// `redis://IP:PORT` (`rediss://` for a TLS cluster) for every node, the seed list a
    /// cluster client wants (IP is [`ClusterOptions::bind`], 127.0.0.1 by default), with
    /// `user:password@` when the cluster has an ACL user.
    pub fn urls(&self) -> Vec<String> {
        let login = match &self.acl {
            Some((user, password)) => format!("{user}:{password}@"),
            None => String::new(),
        };
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        self.nodes
            .iter()
            .map(|node| format!("{scheme}://{login}{}", node.addr()))
            .collect()
    }

    /// The address every node binds and announces.
    pub fn bind(&self) -> IpAddr {
        self.bind
    }

    /// Ports of every node, running or not.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(Server::port).collect()
    }

    /// Process ids of the running nodes (a benchmark counts their CPU and memory).
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(Server::pid).collect()
    }

    /// The directory holding each node's config, `nodes.conf` and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Ports of the nodes that currently serve slots as masters (asked of a live node).
    pub fn master_ports(&self) -> Result<Vec<u16>, HarnessError> {
        let nodes = self.cli(self.any_live_port()?, &["cluster", "nodes"])?;
        Ok(nodes
            .lines()
            .filter(|line| {
                let flags = line.split(' ').nth(2).unwrap_or("");
                flags.contains("master") && !flags.contains("fail")
            })
            .filter_map(|line| line.split(' ').nth(1))
            .filter_map(|addr| addr.split('@').next()?.rsplit(':').next()?.parse().ok())
            .collect())
    }

    /// Kills (SIGKILL) one master and returns its port; its replica takes over after the
    /// node timeout plus an election.
    pub fn kill_a_master(&mut self) -> Result<u16, HarnessError> {
        let port = *self
            .master_ports()?
            .first()
            .ok_or_else(|| HarnessError::Invalid("no live master".into()))?;
        self.kill_node(port)?;
        Ok(port)
    }

    /// Kills (SIGKILL) the node on `port`.
    pub fn kill_node(&mut self, port: u16) -> Result<(), HarnessError> {
        self.node_mut(port)?.kill();
        Ok(())
    }

    /// Restarts a killed node on its old port; it rejoins from its `nodes.conf`.
    pub fn restart_node(&mut self, port: u16) -> Result<(), HarnessError> {
        self.node_mut(port)?.start()
    }

    /// Freezes every node (SIGSTOP): clients see timeouts, as in a network partition, and
    /// the data survives for [`Self::resume_all`].
    pub fn pause_all(&self) -> Result<(), HarnessError> {
        self.nodes
            .iter()
            .filter(|node| node.is_running())
            .try_for_each(|node| node.signal(libc::SIGSTOP))
    }

    /// Thaws every node frozen by [`Self::pause_all`].
    pub fn resume_all(&self) -> Result<(), HarnessError> {
        self.nodes
            .iter()
            .filter(|node| node.is_running())
            .try_for_each(|node| node.signal(libc::SIGCONT))
    }

    /// Waits until every running node reports `cluster_state:ok` with all 16384 slots
    /// served, and every replica's link to its master is up.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_healthy() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout(format!(
                    "Redis Cluster in {} to become healthy",
                    self.dir.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn is_healthy(&self) -> bool {
        self.nodes
            .iter()
            .filter(|node| node.is_running())
            .all(|node| {
                let Ok(info) = self.cli(node.port(), &["cluster", "info"]) else {
                    return false;
                };
                let Ok(replication) = self.cli(node.port(), &["info", "replication"]) else {
                    return false;
                };
                let replica_ok = !replication.contains("role:slave")
                    || replication.contains("master_link_status:up");
                info.contains("cluster_state:ok")
                    && info.contains("cluster_slots_ok:16384")
                    && replica_ok
            })
    }

    fn create(&self, replicas: usize) -> Result<(), HarnessError> {
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(self.nodes.iter().map(|node| node.addr().to_string()));
        args.extend([
            "--cluster-replicas".to_owned(),
            replicas.to_string(),
            "--cluster-yes".to_owned(),
        ]);
        let output = Command::new(&self.redis_cli)
            .args(self.login())
            .args(&args)
            .output()
            .map_err(HarnessError::Io)?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !text.contains("[OK] All 16384 slots covered") {
            return Err(HarnessError::Invalid(format!(
                "redis-cli --cluster create failed: {text} {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(())
    }

    /// Runs `redis-cli -p PORT args...` and returns its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> Result<String, HarnessError> {
        let output = Command::new(&self.redis_cli)
            .args(["-h", &self.bind.to_string(), "-p", &port.to_string()])
            .args(self.login())
            .args(args)
            .output()
            .map_err(HarnessError::Io)?;
        if !output.status.success() {
            return Err(HarnessError::Invalid(format!(
                "redis-cli -p {port} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// redis-cli's login flags for an ACL cluster, and its TLS flags for a TLS one.
    fn login(&self) -> Vec<String> {
        let mut flags = match &self.acl {
            Some((user, password)) => vec![
                "--user".into(),
                user.clone(),
                "--pass".into(),
                password.clone(),
                "--no-auth-warning".into(),
            ],
            None => Vec::new(),
        };
        if let Some(tls) = &self.tls {
            flags.extend([
                "--tls".into(),
                "--cacert".into(),
                tls.ca.display().to_string(),
            ]);
            if let Some((cert, key)) = &tls.cli_client {
                flags.extend([
                    "--cert".into(),
                    cert.display().to_string(),
                    "--key".into(),
                    key.display().to_string(),
                ]);
            }
        }
        flags
    }

    fn any_live_port(&self) -> Result<u16, HarnessError> {
        self.nodes
            .iter()
            .find(|node| node.is_running())
            .map(Server::port)
            .ok_or_else(|| HarnessError::Invalid("no node is running".into()))
    }

    fn node_mut(&mut self, port: u16) -> Result<&mut Server, HarnessError> {
        self.nodes
            .iter_mut()
            .find(|node| node.port() == port)
            .ok_or_else(|| HarnessError::Invalid(format!("no node on port {port}")))
    }
}

/// Starts one cluster node, retrying on a fresh port if another process took ours between
/// the probe and the bind.
fn start_node(
    redis_server: &Path,
    dir: &Path,
    index: usize,
    options: &ClusterOptions,
) -> Result<Server, HarnessError> {
    let node_dir = dir.join(format!("node-{index}"));
    std::fs::create_dir_all(&node_dir).map_err(HarnessError::Io)?;
    let mut last_error = None;
    for _ in 0..5 {
        let port = free_port()?;
        let bus_port = free_port()?;
        if port == bus_port {
            continue;
        }
        let conf = node_dir.join("redis.conf");
        std::fs::write(&conf, node_config(&node_dir, port, bus_port, options))
            .map_err(HarnessError::Io)?;
        match Server::spawn_at(
            format!("redis-server node {index}"),
            redis_server,
            vec![conf.display().to_string()],
            options.bind,
            port,
            node_dir.join("redis.log"),
        ) {
            Ok(server) => return Ok(server),
            Err(error @ HarnessError::Exited { .. }) => {
                let _ = std::fs::remove_file(node_dir.join("nodes.conf"));
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| HarnessError::Invalid("no free port pair".into())))
}

fn node_config(dir: &Path, port: u16, bus_port: u16, options: &ClusterOptions) -> String {
    // A TLS node listens for clients on its TLS port only.
    let ports = match &options.tls {
        Some(_) => format!("port 0\ntls-port {port}\n"),
        None => format!("port {port}\n"),
    };
    let mut config = format!(
        "{ports}\
         cluster-port {bus_port}\n\
         bind {bind}\n\
         cluster-announce-ip {bind}\n\
         protected-mode {protected}\n\
         dir {dir}\n\
         cluster-enabled yes\n\
         cluster-config-file nodes.conf\n\
         cluster-node-timeout {timeout}\n\
         cluster-replica-validity-factor 0\n\
         save \"\"\n\
         appendonly no\n\
         daemonize no\n\
         loglevel notice\n",
        dir = dir.display(),
        timeout = options.node_timeout.as_millis(),
        bind = options.bind,
        // Protected mode refuses clients that are not on loopback, which a cluster bound to
        // another address (the real node's bridge, for pods) is for.
        protected = if options.bind.is_loopback() {
            "yes"
        } else {
            "no"
        },
    );
    if let Some(tls) = &options.tls {
        config.push_str(&format!(
            "tls-cert-file {cert}\n\
             tls-key-file {key}\n\
             tls-ca-cert-file {ca}\n\
             tls-auth-clients {verify}\n\
             tls-replication yes\n\
             tls-cluster yes\n",
            cert = tls.cert.display(),
            key = tls.key.display(),
            ca = tls.ca.display(),
            verify = if tls.verify_clients { "yes" } else { "no" },
        ));
    }
    if let Some((user, password)) = &options.acl {
        // Only the named user gets in, with every right; replicas log in to their master
        // as that user.
        config.push_str(&format!(
            "user default off\n\
             user {user} on >{password} ~* &* +@all\n\
             masteruser {user}\n\
             masterauth {password}\n"
        ));
    }
    config
}
