//! WebSocket connections for browser clients: one text frame per line, both ways.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use mush_proto::ConnType;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::ConnContext;
use crate::limits::TokenBucket;
use crate::router::{ClientOut, Facts, UNAVAILABLE};
use crate::session;

/// Serves one WebSocket client. Frames larger than the line limit are refused by the
/// protocol layer (the connection closes with a "message too big" error, logged).
pub(crate) async fn serve(
    ctx: Arc<ConnContext>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
    let limits = ctx.limits.clone();
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_line + 64))
        .max_frame_size(Some(limits.max_line + 64));
    let socket = match timeout(
        limits.write_timeout,
        tokio_tungstenite::accept_async_with_config(stream, Some(config)),
    )
    .await
    {
        Ok(Ok(socket)) => socket,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "WebSocket handshake failed");
            return;
        }
        Err(_) => return,
    };
    let (mut sink, mut source) = socket.split();
    let facts = Facts::from_peer(peer, ConnType::WebSocket);
    let mut attachment = match ctx.router.open(facts).await {
        Ok(attachment) => attachment,
        Err(error) => {
            tracing::warn!(%peer, %error, "cannot register connection");
            let _ = sink.send(Message::text(UNAVAILABLE)).await;
            return;
        }
    };
    let handle = attachment.handle;
    let router = ctx.router.clone();
    let mut bucket = TokenBucket::new(limits.input_rate, limits.input_burst);
    let mut logged_in = false;
    let mut last_input = Instant::now();

    let reason = loop {
        let deadline = session::deadline(&limits, last_input, logged_in);
        let mut frames: Vec<String> = Vec::new();
        let mut close = None;
        tokio::select! {
            frame = source.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    // One line per frame; a frame with line breaks (a pasted block, a
                    // client's multi-line mode) is that many lines, each its own command,
                    // never one line that draws a second one on other players' screens.
                    let text = text.as_str().trim_end_matches(['\r', '\n']);
                    let mut gone = false;
                    for line in text.split('\n') {
                        if !bucket.take() {
                            sleep_until(Instant::from_std(bucket.next_token())).await;
                            bucket.take();
                        }
                        last_input = Instant::now();
                        match session::submit(&router, handle, line.to_owned()) {
                            Ok(None) => {}
                            Ok(Some(notice)) => frames.push(notice.into()),
                            Err(_) => {
                                gone = true;
                                break;
                            }
                        }
                    }
                    if gone {
                        break "session gone";
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    router.metrics().input_refused.inc();
                    frames.push("Binary frames are not supported: send text, one line per frame.".into());
                }
                Some(Ok(Message::Close(_))) | None => break "client closed the connection",
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%peer, %error, "WebSocket error");
                    break "protocol error";
                }
            },
            message = attachment.output.recv() => {
                let Some(message) = message else { break "router dropped the session" };
                for message in std::iter::once(message).chain(std::iter::from_fn(|| attachment.output.try_recv().ok())) {
                    match message {
                        ClientOut::Text { text, .. } => frames.extend(text.lines().map(str::to_owned)),
                        ClientOut::Close { text } => {
                            frames.extend(text.lines().map(str::to_owned));
                            close = Some(mush_rpc::CLOSED_BY_GAME);
                            break;
                        }
                        ClientOut::State { logged_in: now } => logged_in = now,
                    }
                }
            }
            _ = attachment.kick.notified() => break "output overflow: the client stopped reading",
            _ = sleep_until(deadline) => {
                frames.push(session::timeout_notice(logged_in).into());
                close = Some("timeout");
            }
            _ = shutdown.changed() => {
                frames.push(session::SHUTTING_DOWN.into());
                close = Some("gateway shutdown");
            }
        }
        let mut ok = true;
        for frame in frames {
            if !matches!(
                timeout(limits.write_timeout, sink.feed(Message::text(frame))).await,
                Ok(Ok(()))
            ) {
                ok = false;
                break;
            }
        }
        if ok
            && !matches!(
                timeout(limits.write_timeout, sink.flush()).await,
                Ok(Ok(()))
            )
        {
            ok = false;
        }
        if let Some(reason) = close {
            let _ = sink.close().await;
            break reason;
        }
        if !ok {
            break "write failed or timed out";
        }
    };
    tracing::debug!(%handle, %peer, reason, "WebSocket connection closed");
    router.close(handle, reason).await;
}
