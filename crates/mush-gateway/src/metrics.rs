//! Prometheus metrics of a gateway.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Counters and gauges of one gateway.
#[derive(Clone, Debug, Default)]
pub struct GatewayMetrics {
    /// Connections held.
    pub sessions: Gauge,
    /// Lines sent to pods.
    pub inputs: Counter,
    /// Pods with a working stream.
    pub pod_streams: Gauge,
    /// Sessions moved to another pod after their pod's stream broke.
    pub moves: Counter,
    /// Connections closed because they did not read their output.
    pub slow_clients: Counter,
    /// Input refused: over-long lines, rate limit, backlog.
    pub input_refused: Counter,
    /// Output deliveries dropped as copies of ones already passed on.
    pub deliveries_repeated: Counter,
    /// Connections refused: the gateway or the address held its maximum.
    pub connections_refused: Counter,
    /// TLS handshakes that failed or timed out (scanners, plain-text clients, bad clients).
    pub tls_handshake_failures: Counter,
    /// Connections closed for a missing, malformed or late PROXY header (`--proxy-protocol`).
    pub proxy_header_failures: Counter,
    /// Certificates swapped in after their files changed.
    pub tls_reloads: Counter,
    /// Changed certificate files that could not be used (the old certificate stayed).
    pub tls_reload_failures: Counter,
    /// The link's (gateway -> game pod) client certificates swapped in after a renewal.
    pub link_tls_reloads: Counter,
    /// Changed link certificate files that could not be used.
    pub link_tls_reload_failures: Counter,
}

impl GatewayMetrics {
    /// Creates and registers the metrics under `mush_gateway_`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let sub = registry.sub_registry_with_prefix("mush_gateway");
        sub.register("sessions", "Connections held", metrics.sessions.clone());
        sub.register("inputs", "Lines sent to game pods", metrics.inputs.clone());
        sub.register(
            "pod_streams",
            "Game pods with a working stream",
            metrics.pod_streams.clone(),
        );
        sub.register(
            "moves",
            "Sessions moved to another pod",
            metrics.moves.clone(),
        );
        sub.register(
            "slow_clients",
            "Connections closed for not reading output",
            metrics.slow_clients.clone(),
        );
        sub.register(
            "input_refused",
            "Input lines refused (too long, too fast, backlog)",
            metrics.input_refused.clone(),
        );
        sub.register(
            "deliveries_repeated",
            "Output deliveries dropped as repeats of ones already passed on",
            metrics.deliveries_repeated.clone(),
        );
        sub.register(
            "connections_refused",
            "Connections refused (the gateway or the address held its maximum)",
            metrics.connections_refused.clone(),
        );
        sub.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            metrics.tls_handshake_failures.clone(),
        );
        sub.register(
            "proxy_header_failures",
            "Connections closed for a missing, malformed or late PROXY protocol header",
            metrics.proxy_header_failures.clone(),
        );
        sub.register(
            "tls_reloads",
            "TLS certificates reloaded after their files changed",
            metrics.tls_reloads.clone(),
        );
        sub.register(
            "tls_reload_failures",
            "Changed TLS certificate files that could not be used (the previous certificate stays)",
            metrics.tls_reload_failures.clone(),
        );
        sub.register(
            "link_tls_reloads",
            "Link (gRPC) client certificates reloaded after their files changed",
            metrics.link_tls_reloads.clone(),
        );
        sub.register(
            "link_tls_reload_failures",
            "Changed link certificate files that could not be used",
            metrics.link_tls_reload_failures.clone(),
        );
        metrics
    }
}
