//! The one shutdown signal every long-running subcommand waits for.

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, whichever comes first: a developer presses
/// Ctrl-C, Kubernetes sends SIGTERM.
pub async fn signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}
