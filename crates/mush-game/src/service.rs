//! The gRPC service gateways attach to: one bidirectional stream per gateway.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use mush_proto::{GatewayId, Handle};
use mush_rpc::Message as _;
use mush_rpc::split::BATCH_BYTES;
use mush_rpc::v1::game_server::Game;
use mush_rpc::v1::{GatewayBatch, PodBatch, PodEvent, gateway_event};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use crate::engine::{Engine, GATEWAY_QUEUE};

/// How long a gateway may stay detached before its sessions are closed.
const GATEWAY_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Most events put in one outgoing batch.
const BATCH_MAX: usize = 512;

/// Implements `mush.v1.Game`.
pub struct GameService {
    engine: Arc<Engine>,
}

impl GameService {
    /// A service over the pod's engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

type PodStream = Pin<Box<dyn Stream<Item = Result<PodBatch, Status>> + Send>>;

#[tonic::async_trait]
impl Game for GameService {
    type AttachStream = PodStream;

    async fn attach(
        &self,
        request: Request<Streaming<GatewayBatch>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("stream closed before Hello"))?;
        let mut events = first.events.into_iter();
        let Some(gateway_event::Kind::Hello(hello)) = events.next().and_then(|e| e.kind) else {
            return Err(Status::invalid_argument("the first event must be Hello"));
        };
        let gateway = GatewayId::new(hello.gateway_id)
            .map_err(|e| Status::invalid_argument(format!("bad gateway id: {e}")))?;
        tracing::info!(%gateway, "gateway attached");

        let (event_tx, event_rx) = mpsc::channel::<PodEvent>(GATEWAY_QUEUE);
        let (batch_tx, batch_rx) = mpsc::channel::<Result<PodBatch, Status>>(16);
        self.engine
            .attach_gateway(gateway.clone(), event_tx.clone(), hello.broadcast);
        self.engine.metrics.gateway_streams.inc();
        tokio::spawn(batch_events(
            event_rx,
            batch_tx,
            self.engine.streams_closed(),
        ));

        let engine = self.engine.clone();
        let rest: Vec<_> = events.collect();
        tokio::spawn(async move {
            dispatch(&engine, &gateway, rest);
            loop {
                match inbound.message().await {
                    Ok(Some(batch)) => dispatch(&engine, &gateway, batch.events),
                    Ok(None) => break,
                    Err(status) => {
                        tracing::warn!(%gateway, %status, "gateway stream failed");
                        break;
                    }
                }
            }
            tracing::info!(%gateway, "gateway detached");
            engine.detach_gateway(&gateway, &event_tx);
            engine.metrics.gateway_streams.dec();
            // A gateway that does not re-attach within the grace period is gone, and with it
            // its players' sockets: end their sessions here.
            tokio::time::sleep(GATEWAY_GRACE).await;
            if !engine.has_gateway(&gateway) {
                let closed = engine.close_sessions_of(&gateway);
                if closed > 0 {
                    tracing::warn!(%gateway, closed, "gateway did not come back; closed its sessions");
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(batch_rx);
        Ok(Response::new(Box::pin(stream)))
    }
}

fn dispatch(engine: &Arc<Engine>, gateway: &GatewayId, events: Vec<mush_rpc::v1::GatewayEvent>) {
    for event in events {
        match event.kind {
            Some(gateway_event::Kind::Open(open)) => engine.open(
                gateway.clone(),
                Handle(open.handle),
                open.resume,
                open.next_seq,
            ),
            Some(gateway_event::Kind::Input(input)) => {
                engine.input(Handle(input.handle), input.seq, input.line, input.acked);
            }
            Some(gateway_event::Kind::Close(close)) => {
                engine.close(Handle(close.handle), close.reason);
            }
            Some(gateway_event::Kind::Delivered(delivered)) => {
                engine.delivered(gateway, delivered.ids);
            }
            Some(gateway_event::Kind::Hello(_)) => {
                tracing::warn!(%gateway, "repeated Hello ignored");
            }
            // A newer gateway's event kind: skip it rather than break the stream.
            None => tracing::debug!(%gateway, "unknown event kind ignored"),
        }
    }
}

/// Drains the event queue into batches: whatever is queued when the stream is ready goes
/// out in one message.
async fn batch_events(
    mut events: mpsc::Receiver<PodEvent>,
    batches: mpsc::Sender<Result<PodBatch, Status>>,
    mut closed: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            biased;
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
            _ = closed.wait_for(|closed| *closed) => return,
        };
        // Filled by bytes as well as by count, so no message nears the cap (see
        // `mush_rpc::split`; every event is at most a piece).
        let mut bytes = first.encoded_len();
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX && bytes < BATCH_BYTES {
            match events.try_recv() {
                Ok(event) => {
                    bytes += event.encoded_len() + 8;
                    batch.push(event);
                }
                Err(_) => break,
            }
        }
        if batches.send(Ok(PodBatch { events: batch })).await.is_err() {
            break;
        }
    }
}
