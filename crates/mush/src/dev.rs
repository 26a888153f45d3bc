//! `mush dev`: a whole shard on loopback for a newcomer, torn down on Ctrl-C.
//!
//! Today it starts the shard's infrastructure (a 3-master Redis Cluster and a NATS
//! server as child processes) and checks that the state store works against it. The
//! gateway and game pods join it as they are built.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use mush_harness::{ClusterOptions, NatsServer, RedisCluster};
use mush_store::{Store, StoreConfig, StoreMetrics};

/// Flags of `mush dev`.
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Directory for the Redis nodes' and NATS' config, data and logs; emptied at start.
    #[arg(long, env = "MUSH_DEV_DIR", default_value = ".mush-dev")]
    data_dir: PathBuf,
    /// Key prefix of the shard.
    #[arg(long, env = "MUSH_PREFIX", default_value = "mush")]
    prefix: String,
}

/// Runs the dev shard until Ctrl-C or SIGTERM.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let dir = std::path::absolute(&args.data_dir).context("resolving --data-dir")?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("clearing the previous dev data in {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    tracing::info!(dir = %dir.display(), "starting a 3-master Redis Cluster");
    let redis = RedisCluster::start_in(&dir.join("redis"), ClusterOptions::default())
        .context("starting Redis Cluster")?;
    let nats = NatsServer::start_in(&dir.join("nats")).context("starting nats-server")?;

    let store = Store::connect(
        StoreConfig {
            nodes: redis.urls(),
            prefix: args.prefix.clone(),
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .await
    .context("connecting the state store")?;
    let rtt = store.ping().await.context("pinging Redis Cluster")?;

    println!();
    println!("mush dev is up (data and logs in {})", dir.display());
    println!("  Redis Cluster  {}", redis.urls().join(" "));
    println!("  NATS           {}", nats.url());
    println!(
        "  key prefix     {}   (store round trip {rtt:.1?})",
        args.prefix
    );
    println!();
    println!("The gateway and game pods are not built yet; telnet 127.0.0.1 4201 comes with them.");
    println!("Press Ctrl-C to stop and remove every process.");

    crate::shutdown::signal().await?;
    tracing::info!("stopping");
    store
        .shutdown(Instant::now() + Duration::from_secs(2))
        .await;
    drop(nats);
    drop(redis);
    Ok(())
}
