//! `mush dev`: a whole shard on loopback for a newcomer, torn down on Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use mush::shard::{Shard, ShardOptions};

/// Flags of `mush dev`.
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Directory for every process' data and log; emptied at start.
    #[arg(long, env = "MUSH_DEV_DIR", default_value = ".mush-dev")]
    data_dir: PathBuf,
    /// Telnet port.
    #[arg(long, env = "MUSH_DEV_TELNET_PORT", default_value_t = 4201)]
    telnet_port: u16,
    /// WebSocket port.
    #[arg(long, env = "MUSH_DEV_WEBSOCKET_PORT", default_value_t = 4202)]
    websocket_port: u16,
    /// Game pods to run.
    #[arg(long, default_value_t = 2)]
    game_pods: usize,
    /// Password of Wizard (#1). Dev only: `mush game` has no default.
    #[arg(
        long,
        env = "MUSH_GOD_PASSWORD",
        default_value = "potrzebie",
        hide_env_values = true
    )]
    god_password: String,
    /// Extra flags for the gateway (e.g. `--gateway-arg=--input-rate=1000`).
    #[arg(long = "gateway-arg", allow_hyphen_values = true)]
    gateway_args: Vec<String>,
}

/// Runs the dev shard until Ctrl-C or SIGTERM.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let dir = std::path::absolute(&args.data_dir).context("resolving --data-dir")?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("clearing the previous dev data in {}", dir.display()))?;
    }
    let exe = std::env::current_exe().context("finding the mush executable")?;
    let mut options = ShardOptions::for_tests(exe, &dir);
    options.telnet_port = Some(args.telnet_port);
    options.websocket_port = Some(args.websocket_port);
    options.game_pods = args.game_pods.max(1);
    options.god_password = args.god_password.clone();
    options.gateway_args = args.gateway_args.clone();
    options.game_args = Vec::new();
    tracing::info!(dir = %dir.display(), "starting Redis Cluster, NATS, {} game pods and a gateway", options.game_pods);
    let shard =
        tokio::task::block_in_place(|| Shard::start(options)).context("starting the shard")?;

    println!();
    println!("mush dev is up. Connect with:");
    println!();
    println!(
        "    telnet 127.0.0.1 {}        (or any MUD client)",
        args.telnet_port
    );
    println!(
        "    http://127.0.0.1:{}/       (the web client, in a browser)",
        args.websocket_port
    );
    println!(
        "    {}               (WebSocket, one line per text frame)",
        shard.websocket_url()
    );
    println!();
    println!(
        "    connect Wizard {}   (the God character; MUSH_GOD_PASSWORD sets it)",
        args.god_password
    );
    println!();
    println!("Redis Cluster  {}", shard.redis().urls().join(" "));
    println!("NATS           {}", shard.nats_url());
    println!("game pods      {}", shard.pod_names().join(", "));
    println!("logs and data  {}", dir.display());
    println!();
    println!("Press Ctrl-C to stop every process.");

    crate::shutdown::signal().await?;
    tracing::info!("stopping");
    tokio::task::block_in_place(|| shard.stop());
    Ok(())
}
