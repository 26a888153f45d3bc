//! `mush`: the one binary of mush-on-kube. Each process role is a subcommand, so one image
//! serves the gateway, the game pods and the operator.

mod config;
#[cfg(feature = "dev")]
mod dev;
mod game;
mod gateway;
mod health;
mod operator;
mod shutdown;
mod telemetry;

use clap::{Parser, Subcommand};

/// Command-line interface; every flag also reads an environment variable, so the same
/// binary is configured by flags on a laptop and by env in a Kubernetes pod spec.
#[derive(Parser)]
#[command(
    name = "mush",
    version,
    about = "A MUSH that runs natively on Kubernetes"
)]
struct Cli {
    #[command(flatten)]
    telemetry: telemetry::TelemetryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole shard on 127.0.0.1 for development: Redis Cluster, NATS, game pods and a
    /// gateway as child processes. Only in builds with the `dev` feature (`scripts/dev`).
    #[cfg(feature = "dev")]
    Dev(dev::DevArgs),
    /// Run a game pod (stateless; serves sessions for gateways over gRPC).
    Game(Box<game::GameArgs>),
    /// Run a gateway (holds players' telnet and WebSocket connections).
    Gateway(Box<gateway::GatewayArgs>),
    /// Run the Kubernetes operator (reconciles MushShard objects).
    Operator(Box<operator::OperatorArgs>),
    /// Print the MushShard CustomResourceDefinition as YAML (what `crds/` holds).
    Crdgen,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.telemetry)?;
    match cli.command {
        #[cfg(feature = "dev")]
        Command::Dev(args) => dev::run(args).await,
        Command::Game(args) => game::run(*args).await,
        Command::Gateway(args) => gateway::run(*args).await,
        Command::Operator(args) => operator::run(*args).await,
        Command::Crdgen => {
            use std::io::Write;
            let yaml = mush_operator::crd::crd_yaml()?;
            match std::io::stdout().write_all(yaml.as_bytes()) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
                _ => Ok(()),
            }
        }
    }
}
