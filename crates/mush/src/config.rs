//! Flags shared by the process roles (each also read from the environment).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mush_rpc::tls::LinkFiles;
use mush_store::{RedisTls, StoreConfig};

/// How to reach the shard's Redis Cluster.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Redis Cluster seed nodes, comma-separated `redis://host:port` (`rediss://` for
    /// TLS); an ACL user and password may ride in them and are never printed.
    #[arg(
        long,
        env = "MUSH_REDIS",
        value_delimiter = ',',
        default_value = "redis://127.0.0.1:7000",
        hide_env_values = true
    )]
    pub redis: Vec<String>,
    /// Key prefix of the shard (also the NATS subject prefix).
    #[arg(long, env = "MUSH_PREFIX", default_value = "mush")]
    pub prefix: String,
    /// Lifetime of an idle connection record, in seconds.
    #[arg(long, env = "MUSH_SESSION_TTL", default_value_t = 86_400)]
    pub session_ttl_secs: u64,
    /// Limit on one Redis request, in milliseconds.
    #[arg(long, env = "MUSH_REDIS_TIMEOUT_MS", default_value_t = 1500)]
    pub redis_timeout_ms: u64,
    /// Readiness fails when a Redis round trip takes longer than this (milliseconds).
    #[arg(long, env = "MUSH_REDIS_SLOW_MS", default_value_t = 500)]
    pub redis_slow_ms: u64,
    /// CA file (PEM) of the Redis nodes' certificates, for `rediss://` seeds signed by a
    /// private CA (without it, the system's roots).
    #[arg(long, env = "MUSH_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for nodes that verify clients (`tls-auth-clients yes`).
    #[arg(long, env = "MUSH_REDIS_CERT_FILE", requires_all = ["redis_key_file", "redis_ca_file"])]
    pub redis_cert_file: Option<PathBuf>,
    /// The key of `--redis-cert-file` (PEM).
    #[arg(long, env = "MUSH_REDIS_KEY_FILE", requires = "redis_cert_file")]
    pub redis_key_file: Option<PathBuf>,
}

impl StoreArgs {
    /// The store configuration these flags describe (reading the TLS files they name).
    pub fn store_config(&self) -> anyhow::Result<StoreConfig> {
        let read = |path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("Redis TLS file {}", path.display()))
        };
        let tls = match &self.redis_ca_file {
            Some(ca) => Some(RedisTls {
                ca: read(ca)?,
                client: match (&self.redis_cert_file, &self.redis_key_file) {
                    (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
                    _ => None,
                },
            }),
            None => None,
        };
        Ok(StoreConfig {
            nodes: self.redis.clone(),
            prefix: self.prefix.clone(),
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            response_timeout: Duration::from_millis(self.redis_timeout_ms),
            tls,
            ..StoreConfig::default()
        })
    }
}

/// The mutually authenticated TLS between gateways and game pods.
#[derive(Args, Debug, Clone)]
pub struct LinkTlsArgs {
    /// Directory holding this process's `tls.crt`, `tls.key` and the shard CA's `ca.crt`
    /// (a mounted Secret as cert-manager or the operator writes it) for the gRPC link
    /// between gateways and game pods. Game pods then take only gateways whose certificate
    /// is of that CA and names `mush-gateway`; gateways take only pods whose certificate
    /// names `mush-game`. Unset: plain gRPC (only for a network where nothing else reaches
    /// the pods' gRPC port). The files are re-read every 10 s for a renewal.
    #[arg(long, env = "MUSH_LINK_TLS_DIR")]
    pub link_tls_dir: Option<PathBuf>,
}

impl LinkTlsArgs {
    /// The link's files, if configured.
    pub fn files(&self) -> Option<LinkFiles> {
        self.link_tls_dir.as_ref().map(LinkFiles::in_dir)
    }
}
