//! `mush`: the one binary of mush-on-kube. Each process role is a subcommand, so one image
//! serves the gateway, the game pods and the operator.

mod dev;
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
    /// Run a whole shard on 127.0.0.1 for development (Redis Cluster and NATS as children).
    Dev(dev::DevArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.telemetry)?;
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
    }
}
