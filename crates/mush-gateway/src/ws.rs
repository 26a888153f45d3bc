//! The WebSocket port: the web client's files over plain HTTP, and WebSocket connections
//! with one text frame per line, both ways.
//!
//! A frame that starts with [`GMCP`] (U+0001, which nobody can type: typed lines lose
//! their control characters) carries GMCP instead of a line: `\u{1}Package.Message` and,
//! after one space, its JSON data. The gateway sends GMCP only to a client that sent some
//! first (the web client opens with `Core.Hello`), so plain clients see lines only. Over
//! GMCP the page learns the session's state and gets its resume token (see
//! [`crate::resume`]).

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use mush_proto::ConnType;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::ConnContext;
use crate::http::{self, Prefixed};
use crate::limits::TokenBucket;
use crate::resume::{Held, ResumeError, Resumes};
use crate::router::{ClientOut, Facts, UNAVAILABLE};
use crate::{session, web};

/// The first character of a GMCP frame.
pub(crate) const GMCP: char = '\u{1}';

/// Told when a resume token was not honoured; a new session starts instead.
const NOT_RESUMED: &str = "Your previous session could not be resumed; please log in again.";

/// Serves one connection on the WebSocket port: a file of the web client, or a WebSocket.
/// `stream` is a TCP socket or a TLS session over one (the caller sets `TCP_NODELAY`).
pub(crate) async fn serve<S>(
    ctx: Arc<ConnContext>,
    mut stream: S,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = ctx.limits.clone();
    let head = match http::read_head(&mut stream, limits.head_timeout).await {
        Ok(head) => head,
        Err(error) => {
            tracing::debug!(%peer, %error, "HTTP request refused");
            if let Some(status) = error.status() {
                let body = format!("{error}\n");
                let headers = [("Content-Type", "text/plain; charset=utf-8")];
                let _ = timeout(
                    limits.write_timeout,
                    http::respond(&mut stream, status, &headers, body.as_bytes(), true),
                )
                .await;
            }
            return;
        }
    };
    if !head.is_upgrade() {
        if let Err(error) = timeout(limits.write_timeout, web::answer(&mut stream, &head))
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        {
            tracing::debug!(%peer, %error, "could not send a file of the web client");
        }
        return;
    }
    if !ctx
        .origins
        .allows(head.header("origin"), head.header("host"))
    {
        tracing::info!(%peer, origin = head.header("origin"), "WebSocket from a foreign origin refused");
        let headers = [("Content-Type", "text/plain; charset=utf-8")];
        let body = b"This origin may not open a WebSocket to the game (--websocket-origins).\n";
        let _ = timeout(
            limits.write_timeout,
            http::respond(&mut stream, 403, &headers, body, true),
        )
        .await;
        return;
    }
    let resume = head.query_param("resume").map(str::to_owned);
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_line + 64))
        .max_frame_size(Some(limits.max_line + 64));
    let socket = match timeout(
        limits.write_timeout,
        tokio_tungstenite::accept_async_with_config(Prefixed::new(head.raw, stream), Some(config)),
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
    let (mut sink, source) = socket.split();

    let mut first_words = Vec::new();
    let claimed = resume.map(|token| ctx.resumes.claim(&token, peer.ip()));
    let (held, resumed) = match claimed {
        Some(Ok(held)) => (held, true),
        other => {
            if let Some(Err(error)) = other {
                tracing::info!(%peer, %error, "web session not resumed");
                first_words.push(NOT_RESUMED.to_owned());
                if error == ResumeError::OtherAddress {
                    ctx.router.metrics().input_refused.inc();
                }
            }
            let facts = Facts::from_peer(peer, ConnType::WebSocket);
            match ctx.router.open(facts).await {
                Ok(attachment) => (
                    Held {
                        attachment,
                        logged_in: false,
                        last_input: Instant::now(),
                    },
                    false,
                ),
                Err(error) => {
                    tracing::warn!(%peer, %error, "cannot register connection");
                    let _ = sink.send(Message::text(UNAVAILABLE)).await;
                    return;
                }
            }
        }
    };
    if resumed {
        tracing::debug!(%peer, handle = %held.attachment.handle, "web session resumed");
    }
    let connection = Connection {
        ctx: ctx.clone(),
        peer,
        held,
        resumed,
        gmcp: false,
        token: None,
    };
    connection.play(sink, source, first_words, shutdown).await;
}

type Sink<S> =
    futures_util::stream::SplitSink<tokio_tungstenite::WebSocketStream<Prefixed<S>>, Message>;
type Source<S> = futures_util::stream::SplitStream<tokio_tungstenite::WebSocketStream<Prefixed<S>>>;

/// One socket's hold on a session.
struct Connection {
    ctx: Arc<ConnContext>,
    peer: SocketAddr,
    held: Held,
    /// The session came from a parked one.
    resumed: bool,
    /// The client speaks GMCP (it sent some).
    gmcp: bool,
    /// The resume token given to this socket, if any.
    token: Option<String>,
}

/// How a connection ended: whether the page may come back to the session.
struct Ending {
    reason: &'static str,
    resumable: bool,
}

impl Connection {
    async fn play<S>(
        mut self,
        mut sink: Sink<S>,
        mut source: Source<S>,
        mut pending: Vec<String>,
        mut shutdown: watch::Receiver<bool>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limits = self.ctx.limits.clone();
        let router = self.ctx.router.clone();
        let handle = self.held.attachment.handle;
        let peer = self.peer;
        let mut bucket = TokenBucket::new(limits.input_rate, limits.input_burst);

        let ending = loop {
            let deadline = session::deadline(&limits, self.held.last_input, self.held.logged_in);
            let mut frames: Vec<String> = std::mem::take(&mut pending);
            let mut close = None;
            tokio::select! {
                frame = source.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(gmcp) = text.as_str().strip_prefix(GMCP) {
                            if !bucket.take() {
                                sleep_until(Instant::from_std(bucket.next_token())).await;
                                bucket.take();
                            }
                            self.on_gmcp(gmcp, &mut frames);
                            send_frames(&mut sink, frames, limits.write_timeout).await;
                            continue;
                        }
                        // One line per frame; a frame with line breaks (a pasted block, a
                        // client's multi-line mode) is that many lines, each its own command,
                        // never one line that draws a second one on other players' screens.
                        let text = text.as_str().trim_end_matches(['\r', '\n']);
                        let mut gone = false;
                        // At most a burst of lines per frame: waiting for the tokens of
                        // thousands of one-character lines would stall this connection's
                        // output and timeouts for minutes.
                        let most = limits.input_burst.max(1.0) as usize;
                        if text.split('\n').nth(most).is_some() {
                            frames.push(format!("That message had more than {most} lines; only the first {most} were sent."));
                        }
                        for line in text.split('\n').take(most) {
                            if !bucket.take() {
                                sleep_until(Instant::from_std(bucket.next_token())).await;
                                bucket.take();
                            }
                            // Only a login stops the connect screen's clock.
                            if self.held.logged_in {
                                self.held.last_input = Instant::now();
                            }
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
                            break Ending { reason: "session gone", resumable: false };
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        router.metrics().input_refused.inc();
                        frames.push("Binary frames are not supported: send text, one line per frame.".into());
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        break Ending { reason: "client closed the connection", resumable: true };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::debug!(%peer, %error, "WebSocket error");
                        break Ending { reason: "protocol error", resumable: true };
                    }
                },
                message = self.held.attachment.output.recv() => {
                    let Some(message) = message else {
                        break Ending { reason: "router dropped the session", resumable: false };
                    };
                    let more = std::iter::from_fn(|| self.held.attachment.output.try_recv().ok());
                    let batch: Vec<ClientOut> = std::iter::once(message).chain(more).collect();
                    for message in batch {
                        match message {
                            ClientOut::Text { text, .. } => frames.extend(text.lines().map(str::to_owned)),
                            ClientOut::Close { text } => {
                                frames.extend(text.lines().map(str::to_owned));
                                close = Some(mush_rpc::CLOSED_BY_GAME);
                                break;
                            }
                            ClientOut::State { logged_in } => {
                                if logged_in != self.held.logged_in {
                                    self.held.last_input = Instant::now();
                                }
                                self.held.logged_in = logged_in;
                                if self.gmcp {
                                    frames.push(self.session_frame());
                                }
                            }
                        }
                    }
                }
                _ = self.held.attachment.kick.notified() => {
                    break Ending { reason: "output overflow: the client stopped reading", resumable: false };
                }
                _ = sleep_until(deadline) => {
                    frames.push(session::timeout_notice(self.held.logged_in).into());
                    close = Some("timeout");
                }
                _ = shutdown.changed() => {
                    frames.push(session::SHUTTING_DOWN.into());
                    close = Some("gateway shutdown");
                }
            }
            // A gateway going away is no goodbye: the page reconnects (to another
            // gateway) and starts over there.
            if let Some(reason) = close
                && self.gmcp
                && reason != "gateway shutdown"
            {
                frames.push(gmcp_frame("Core.Goodbye", &serde_json::json!(reason)));
            }
            let ok = send_frames(&mut sink, frames, limits.write_timeout).await;
            if let Some(reason) = close {
                let _ = timeout(limits.write_timeout, sink.close()).await;
                break Ending {
                    reason,
                    resumable: false,
                };
            }
            if !ok {
                break Ending {
                    reason: "write failed or timed out",
                    resumable: true,
                };
            }
        };
        match self.token.take() {
            Some(token) if ending.resumable && !self.ctx.resumes.ttl().is_zero() => {
                tracing::debug!(%handle, %peer, reason = ending.reason, "WebSocket dropped; session parked for resuming");
                self.ctx
                    .resumes
                    .park(token, peer.ip(), self.held, router, shutdown);
            }
            _ => {
                tracing::debug!(%handle, %peer, reason = ending.reason, "WebSocket connection closed");
                router.close(handle, ending.reason).await;
            }
        }
    }

    /// Handles one GMCP message from the client; answers go to `frames`.
    fn on_gmcp(&mut self, message: &str, frames: &mut Vec<String>) {
        let (package, data) = message.split_once(' ').unwrap_or((message, ""));
        let data = session::clean(data.trim());
        let data: String = data.chars().take(1024).collect();
        let handle = self.held.attachment.handle;
        let store_meta = |field: &'static str| {
            if let Err(error) = self
                .ctx
                .router
                .store()
                .update_meta(handle, field, data.clone())
            {
                tracing::debug!(%error, "client metadata not queued");
            }
        };
        match package.to_ascii_lowercase().as_str() {
            "core.hello" => {
                store_meta("gmcp_hello");
                self.gmcp = true;
                frames.push(gmcp_frame(
                    "Core.Hello",
                    &serde_json::json!({
                        "name": self.ctx.mud_name,
                        "version": env!("CARGO_PKG_VERSION"),
                    }),
                ));
                frames.push(self.session_frame());
                // A fresh token on every socket: a token works once.
                if !self.ctx.resumes.ttl().is_zero()
                    && let Some(token) = Resumes::token()
                {
                    frames.push(gmcp_frame(
                        "Client.Resume",
                        &serde_json::json!({
                            "token": token,
                            "ttl": self.ctx.resumes.ttl().as_secs(),
                        }),
                    ));
                    self.token = Some(token);
                }
            }
            "core.supports.set" | "core.supports.add" => store_meta("gmcp_supports"),
            "core.ping" if self.gmcp => {
                frames.push(gmcp_frame("Core.Ping", &serde_json::json!({})))
            }
            _ => tracing::debug!(package, "GMCP message ignored"),
        }
    }

    fn session_frame(&self) -> String {
        gmcp_frame(
            "Client.Session",
            &serde_json::json!({
                "logged_in": self.held.logged_in,
                "resumed": self.resumed,
            }),
        )
    }
}

/// A GMCP frame: marker, package, space, JSON.
fn gmcp_frame(package: &str, data: &serde_json::Value) -> String {
    format!("{GMCP}{package} {data}")
}

/// Sends frames and flushes; false when the socket did not take them in time.
async fn send_frames<S>(sink: &mut Sink<S>, frames: Vec<String>, limit: std::time::Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if frames.is_empty() {
        return true;
    }
    for frame in frames {
        if !matches!(
            timeout(limit, sink.feed(Message::text(frame))).await,
            Ok(Ok(()))
        ) {
            return false;
        }
    }
    matches!(timeout(limit, sink.flush()).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmcp_frames_start_with_the_marker_that_typed_lines_lose() {
        let frame = gmcp_frame("Core.Goodbye", &serde_json::json!("timeout"));
        assert_eq!(frame, "\u{1}Core.Goodbye \"timeout\"");
        assert_eq!(session::clean(&frame), "Core.Goodbye \"timeout\"");
    }
}
