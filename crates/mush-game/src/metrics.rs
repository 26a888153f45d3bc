//! Prometheus metrics of a game pod.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters and histograms of one pod.
#[derive(Clone, Debug)]
pub struct GameMetrics {
    /// Sessions served by this pod.
    pub sessions: Gauge,
    /// Commands run.
    pub commands: Counter,
    /// Command run time, Redis included, network to the gateway excluded.
    pub command_seconds: Histogram,
    /// Output events dropped because a gateway was gone or not reading.
    pub output_dropped: Counter,
    /// Inputs for sessions this pod does not serve (a gateway routing to a stale pod).
    pub orphan_inputs: Counter,
    /// Attached gateway streams.
    pub gateway_streams: Gauge,
    /// Failed command-journal calls (each retried; Redis unreachable or failing over).
    pub journal_failures: Counter,
    /// Re-sent commands answered from the journal instead of running again.
    pub journal_answers: Counter,
    /// Commands whose only effect was their reply, answered without a journal write.
    pub unjournalled: Counter,
    /// Sessions this pod handed to emptier pods when a rebalance was asked for.
    pub rebalanced: Counter,
    /// Output parcels of queued work sent again (their pod died before the gateways
    /// confirmed them).
    pub parcels_resent: Counter,
    /// Output parcels dropped: unconfirmed for a minute, or unreadable.
    pub parcels_dropped: Counter,
    /// Players whose departure (disconnect cleanup) failed after its retries.
    pub departure_failures: Counter,
    /// Failed `connect`s (wrong password or no such player).
    pub login_failures: Counter,
    /// `create`s refused: the address made its hour's players.
    pub creates_refused: Counter,
    /// Session opens refused: the handle is another gateway's connection.
    pub opens_refused: Counter,
    /// gRPC connections refused at the TLS handshake (no certificate, another CA's, not a
    /// gateway's, or a handshake that timed out).
    pub link_refused: Counter,
    /// Renewed link certificates put in use.
    pub link_tls_reloads: Counter,
    /// Changed link certificate files that did not work (the previous ones stay).
    pub link_tls_reload_failures: Counter,
}

impl GameMetrics {
    /// Creates and registers the metrics under `mush_game_`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            sessions: Gauge::default(),
            commands: Counter::default(),
            command_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 18)),
            output_dropped: Counter::default(),
            orphan_inputs: Counter::default(),
            gateway_streams: Gauge::default(),
            journal_failures: Counter::default(),
            journal_answers: Counter::default(),
            unjournalled: Counter::default(),
            rebalanced: Counter::default(),
            parcels_resent: Counter::default(),
            parcels_dropped: Counter::default(),
            departure_failures: Counter::default(),
            login_failures: Counter::default(),
            creates_refused: Counter::default(),
            opens_refused: Counter::default(),
            link_refused: Counter::default(),
            link_tls_reloads: Counter::default(),
            link_tls_reload_failures: Counter::default(),
        };
        let sub = registry.sub_registry_with_prefix("mush_game");
        sub.register(
            "sessions",
            "Sessions served by this pod",
            metrics.sessions.clone(),
        );
        sub.register("commands", "Commands run", metrics.commands.clone());
        sub.register(
            "command_seconds",
            "Command run time in the pod",
            metrics.command_seconds.clone(),
        );
        sub.register(
            "output_dropped",
            "Output events dropped (gateway gone or not reading)",
            metrics.output_dropped.clone(),
        );
        sub.register(
            "orphan_inputs",
            "Inputs for sessions this pod does not serve",
            metrics.orphan_inputs.clone(),
        );
        sub.register(
            "gateway_streams",
            "Attached gateway streams",
            metrics.gateway_streams.clone(),
        );
        sub.register(
            "journal_failures",
            "Failed command-journal calls, each retried",
            metrics.journal_failures.clone(),
        );
        sub.register(
            "journal_answers",
            "Re-sent commands answered from the journal, not run again",
            metrics.journal_answers.clone(),
        );
        sub.register(
            "unjournalled_commands",
            "Commands whose only effect was their reply (no journal write needed)",
            metrics.unjournalled.clone(),
        );
        sub.register(
            "rebalanced_sessions",
            "Sessions handed to emptier pods by a rebalance",
            metrics.rebalanced.clone(),
        );
        sub.register(
            "parcels_resent",
            "Output parcels of queued work sent again after their pod died",
            metrics.parcels_resent.clone(),
        );
        sub.register(
            "parcels_dropped",
            "Output parcels dropped (unconfirmed for a minute, or unreadable)",
            metrics.parcels_dropped.clone(),
        );
        sub.register(
            "departure_failures",
            "Disconnect cleanups that failed after their retries",
            metrics.departure_failures.clone(),
        );
        sub.register(
            "login_failures",
            "Failed connects (wrong password or no such player)",
            metrics.login_failures.clone(),
        );
        sub.register(
            "creates_refused",
            "Player creations refused: the address made its hour's players",
            metrics.creates_refused.clone(),
        );
        sub.register(
            "opens_refused",
            "Session opens refused: the handle is another gateway's connection",
            metrics.opens_refused.clone(),
        );
        sub.register(
            "link_refused",
            "gRPC connections refused at the TLS handshake",
            metrics.link_refused.clone(),
        );
        sub.register(
            "link_tls_reloads",
            "Renewed link certificates put in use",
            metrics.link_tls_reloads.clone(),
        );
        sub.register(
            "link_tls_reload_failures",
            "Changed link certificate files that did not work",
            metrics.link_tls_reload_failures.clone(),
        );
        metrics
    }

    pub(crate) fn observe_command(&self, took: Duration) {
        self.commands.inc();
        self.command_seconds.observe(took.as_secs_f64());
    }
}
