//! Stateless game pods.
//!
//! A pod holds nothing that must survive it: sessions are rebuilt from their Redis records
//! when they move here, the world lives in Redis Cluster, and the pod's cache is kept
//! honest by NATS invalidations (with a short TTL whenever NATS is away). Gateways attach
//! over gRPC ([`GameService`]); commands run in [`commands`] and output goes straight to
//! each recipient's gateway.

mod cache;
mod commands;
mod engine;
mod help;
mod metrics;
mod password;
mod pod;
mod queue;
mod rebalance;
mod service;
mod softcode;

pub use cache::{Cache, CacheTtl, CredentialsError, Invalidator, NatsAuth, NatsTls};
pub use commands::WORLD_DOWN;
pub use engine::{CacheAudit, Engine, GameSettings};
pub use metrics::GameMetrics;
pub use password::{PasswordCost, PasswordHasher};
pub use pod::{Pod, PodConfig};
pub use service::GameService;

/// Why a pod could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum GameError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] mush_store::StoreError),
    /// Password hashing failed.
    #[error(transparent)]
    Hash(#[from] password::HashError),
    /// The world does not exist yet and no God password was configured.
    #[error("the world does not exist yet: set --god-password (MUSH_GOD_PASSWORD) to create it")]
    NoGodPassword,
    /// Creating the world went wrong.
    #[error("world bootstrap: {0}")]
    Bootstrap(String),
    /// A socket error.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Serve(String),
    /// The link's certificate, key or CA cannot be used.
    #[error("gRPC TLS: {0}")]
    LinkTls(#[from] mush_rpc::tls::TlsError),
}
