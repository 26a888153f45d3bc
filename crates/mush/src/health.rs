//! `/livez`, `/readyz` and `/metrics` on a small HTTP server, for probes and Prometheus,
//! and whatever a role adds for operators (a game pod's `/debug/cache`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use mush_store::Store;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A readiness check: `Ok` when the process can do its work, else why not.
pub type ReadyCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Health {
    registry: Arc<Registry>,
    ready: ReadyCheck,
}

/// Binds the health server's port. Every role does this first, before its own listeners:
/// a port conflict then stops the process at once, instead of leaving it serving players
/// without probes or metrics (and anything that waits for the role's port knows the
/// health port is bound too).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding the health server on {addr}: {e}"))
}

/// Serves the health endpoints, and the role's `extra` routes, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    ready: ReadyCheck,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = Health {
        registry: Arc::new(registry),
        ready,
    };
    let app = Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(extra);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    match (health.ready)().await {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &health.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        ),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            error.to_string(),
        ),
    }
}

/// Runs a process role beside its health server until it ends or SIGTERM/Ctrl-C arrives;
/// then tells both to stop (through the watch handed to `serve`) and waits for them.
pub async fn run_role<Fut>(
    http: TcpListener,
    registry: Registry,
    ready: ReadyCheck,
    extra: Router,
    serve: impl FnOnce(watch::Receiver<bool>) -> Fut,
) -> anyhow::Result<()>
where
    Fut: Future<Output = anyhow::Result<()>>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let health = tokio::spawn(self::serve(
        http,
        registry,
        ready,
        extra,
        wait_true(stop_rx.clone()),
    ));
    let serving = serve(stop_rx);
    tokio::pin!(serving);
    let result = tokio::select! {
        result = &mut serving => result,
        signal = crate::shutdown::signal() => {
            signal?;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
            serving.await
        }
    };
    let _ = stop_tx.send(true);
    match health.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "health server failed"),
        Err(error) => tracing::error!(%error, "health server task failed"),
    }
    result
}

/// Ready when a Redis round trip works and is not slower than `slow`.
pub async fn redis_ready(store: &Store, slow: std::time::Duration) -> Result<(), String> {
    match tokio::time::timeout(slow, store.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("Redis Cluster unreachable: {error}")),
        Err(_) => Err(format!("Redis Cluster slower than {slow:?}")),
    }
}

/// Resolves once the watch turns true (or its sender is gone).
pub async fn wait_true(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}
