//! Real servers for tests, benchmarks and `mush dev`: a Redis Cluster built from
//! `redis-server` processes and a `nats-server`, on random free ports of 127.0.0.1; a
//! Kubernetes control plane with a kwok node, or with a real node that runs containers
//! ([`KubeControlPlane::start_with_node`], [`RealNode`]).
//!
//! Nothing here is a mock. Each value owns its processes and kills them when dropped
//! (also on panic); data and logs live in a temporary directory unless the caller names
//! one. Parallel tests get their own ports and directories, so they never collide.

mod cases;
mod kube;
mod nats;
mod nats_jwt;
mod node;
mod pki;
mod process;
mod redis_cluster;

pub use cases::Cases;
pub use kube::{KubeControlPlane, repo_dir, run_script};
pub use nats::NatsServer;
pub use nats_jwt::NatsOperator;
pub use node::{RealNode, build_oci_image, build_static_binary};
pub use pki::Pki;
pub use process::{
    Server, eventually, find_binary, free_port, is_root, on_fresh_ports, port_taken,
};
pub use redis_cluster::{ClusterOptions, ClusterTls, RedisCluster};

/// Why a server could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The binary is not installed; the message names the Debian package.
    #[error(
        "{binary} not found on PATH: install Debian's {package} package (apt-get install {package})"
    )]
    MissingBinary {
        /// Binary looked for.
        binary: String,
        /// Debian package that ships it.
        package: &'static str,
    },
    /// Spawning the process failed.
    #[error("could not start {name}: {source}")]
    Spawn {
        /// Which server.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The process exited before it was ready.
    #[error("{name} exited early ({status}); log: {log_tail}")]
    Exited {
        /// Which server.
        name: String,
        /// Its exit status.
        status: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// A command-line tool (kubectl, helm, openssl) failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The server is not running.
    #[error("{0} is not running")]
    NotRunning(String),
    /// A request that cannot be satisfied.
    #[error("{0}")]
    Invalid(String),
    /// File-system or socket error.
    #[error(transparent)]
    Io(std::io::Error),
}
