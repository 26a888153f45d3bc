//! The gateway's long-lived gRPC stream to one game pod.

use std::sync::Arc;
use std::time::Duration;

use mush_proto::PodId;
use mush_rpc::MAX_MESSAGE;
use mush_rpc::Message as _;
use mush_rpc::split::BATCH_BYTES;
use mush_rpc::tls::ReloadingClient;
use mush_rpc::v1::game_client::GameClient;
use mush_rpc::v1::{GatewayBatch, GatewayEvent, Hello, gateway_event, pod_event};
use tokio::sync::mpsc;
use tonic::transport::Endpoint;

use crate::router::Router;

/// Most events put in one outgoing batch.
const BATCH_MAX: usize = 512;

/// Connects to a pod, attaches, and pumps its events into the router until the stream
/// ends; then orphans the pod's sessions. Returns the reason the stream ended.
pub(crate) async fn run(
    router: Arc<Router>,
    pod: PodId,
    addr: String,
    tls: Option<Arc<ReloadingClient>>,
) -> String {
    let reason = match attach(&router, &pod, &addr, tls).await {
        Ok(()) => "stream closed by the pod".to_owned(),
        Err(error) => error,
    };
    router.link_down(&pod);
    reason
}

async fn attach(
    router: &Arc<Router>,
    pod: &PodId,
    addr: &str,
    tls: Option<Arc<ReloadingClient>>,
) -> Result<(), String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| format!("bad pod address {addr}: {e}"))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_adaptive_window(true)
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(3))
        .keep_alive_while_idle(true);
    let channel = match tls {
        Some(tls) => mush_rpc::tls::connect_channel(&endpoint, tls).await,
        None => endpoint.connect().await,
    }
    .map_err(|e| format!("connect to {addr}: {}", error_chain(&e)))?;
    let mut client = GameClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);

    let (tx, rx) = mpsc::unbounded_channel::<GatewayEvent>();
    let hello = GatewayEvent {
        kind: Some(gateway_event::Kind::Hello(Hello {
            gateway_id: router.id().to_string(),
            broadcast: true,
        })),
    };
    tx.send(hello).map_err(|_| "stream closed".to_owned())?;
    // Filled by bytes as well as by count: a rescue re-sending many long lines must not
    // make a message over the pod's cap (each line is at most `MAX_LINE`).
    let outbound = futures_util::stream::unfold(rx, |mut rx| async move {
        let first = rx.recv().await?;
        let mut bytes = first.encoded_len();
        let mut events = vec![first];
        while events.len() < BATCH_MAX && bytes < BATCH_BYTES {
            match rx.try_recv() {
                Ok(event) => {
                    bytes += event.encoded_len() + 8;
                    events.push(event);
                }
                Err(_) => break,
            }
        }
        Some((GatewayBatch { events }, rx))
    });
    let response = client
        .attach(outbound)
        .await
        .map_err(|status| format!("attach to {addr}: {status}"))?;
    router.link_up(pod, tx);
    tracing::info!(%pod, addr, "attached to game pod");
    let mut inbound = response.into_inner();
    loop {
        match inbound.message().await {
            Ok(Some(batch)) => {
                for event in batch.events {
                    match event.kind {
                        Some(pod_event::Kind::Delivery(delivery)) => {
                            router.on_delivery(pod, delivery);
                        }
                        Some(kind) => router.on_pod_event(kind),
                        None => {}
                    }
                }
            }
            Ok(None) => return Ok(()),
            Err(status) => return Err(format!("stream from {addr}: {status}")),
        }
    }
}

/// An error and its sources on one line: tonic's transport error alone says only
/// "transport error", and a refused certificate is in its sources.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
