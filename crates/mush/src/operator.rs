//! `mush operator`: the Kubernetes operator, one active replica at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use mush_operator::controller::{self, Context};
use mush_operator::leader::{LeaderElector, LeaseConfig};
use mush_operator::metrics::OperatorMetrics;
use prometheus_client::registry::Registry;

use crate::health::{self, ReadyCheck};

/// Flags of `mush operator`. The Kubernetes API is found as kubectl finds it
/// (`KUBECONFIG`, `~/.kube/config`, or the in-cluster service account).
#[derive(Args, Debug, Clone)]
pub struct OperatorArgs {
    /// A kubeconfig file to use instead of the usual lookup (a local run against a test
    /// cluster, possibly impersonating the chart's service account).
    #[arg(long)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Health and metrics listen address.
    #[arg(long, env = "MUSH_HTTP_LISTEN", default_value = "0.0.0.0:8082")]
    pub http: SocketAddr,
    /// Namespace of the leader Lease (the operator's own, from the downward API).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// Name of the leader Lease.
    #[arg(long, env = "MUSH_LEASE_NAME", default_value = "mush-operator")]
    pub lease_name: String,
    /// This replica's identity in the Lease and in events (its pod name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds a leader lease lasts without renewal.
    #[arg(long, env = "MUSH_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// Watch MushShards in this namespace only (a namespace-scoped install, whose RBAC is a
    /// Role there); unset, every namespace.
    #[arg(long, env = "MUSH_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
}

/// Runs the operator until SIGTERM, or until it loses the leader lease (then it exits
/// with an error and its supervisor restarts it as a follower).
pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    let http = health::bind(args.http).await?;
    let client = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("using {}", path.display()))?;
            kube::Client::try_from(config).context("building the Kubernetes client")?
        }
        None => kube::Client::try_default()
            .await
            .context("connecting to the Kubernetes API (KUBECONFIG or in-cluster)")?,
    };
    let identity = args.identity.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "mush-operator".into()),
            std::process::id()
        )
    });
    let mut registry = Registry::default();
    let metrics = OperatorMetrics::new(&mut registry);
    let probe = client.clone();
    let ready: ReadyCheck = Arc::new(move || {
        let client = probe.clone();
        Box::pin(async move {
            client
                .apiserver_version()
                .await
                .map(|_| ())
                .map_err(|e| format!("Kubernetes API unreachable: {e}"))
        })
    });
    health::run_role(
        http,
        registry,
        ready,
        axum::Router::new(),
        |stop| async move {
            let elector = LeaderElector::new(
                client.clone(),
                LeaseConfig {
                    namespace: args.lease_namespace.clone(),
                    name: args.lease_name.clone(),
                    identity: identity.clone(),
                    duration: Duration::from_secs(args.lease_seconds.max(3)),
                },
            );
            tracing::info!(%identity, lease = %args.lease_name, "waiting for the leader lease");
            tokio::select! {
                acquired = elector.acquire() => acquired.context("leader election")?,
                _ = health::wait_true(stop.clone()) => return Ok(()),
            }
            metrics.leader.set(1);
            tracing::info!(%identity, "leading: reconciling MushShards");

            // One task renews the lease until SIGTERM or until the lease is lost; either ends
            // the controller (whose shutdown future must be Sync: a oneshot receiver is).
            let elector = Arc::new(elector);
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
            let leading = {
                let (elector, stop) = (elector.clone(), stop.clone());
                tokio::spawn(async move {
                    let lost = tokio::select! {
                        _ = elector.keep_leading() => true,
                        _ = health::wait_true(stop) => false,
                    };
                    let _ = done_tx.send(());
                    lost
                })
            };
            let ctx = Context::new(
                client.clone(),
                metrics.clone(),
                &identity,
                &args.lease_namespace,
            );
            let ran = controller::run(client, ctx, args.watch_namespace.as_deref(), async move {
                let _ = done_rx.await;
            })
            .await;
            metrics.leader.set(0);
            if ran.is_err() {
                leading.abort();
            }
            ran?;
            if leading.await.unwrap_or(false) {
                anyhow::bail!("lost the leader lease");
            }
            elector.release().await;
            Ok(())
        },
    )
    .await
}
