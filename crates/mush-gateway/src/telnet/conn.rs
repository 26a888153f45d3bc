//! One telnet connection, from accept to close.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use mush_proto::ConnType;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};

use super::codec::{Decoder, EOR_MARK, Event, GA, IAC, encode_text};
use super::options::Options;
use crate::ConnContext;
use crate::limits::TokenBucket;
use crate::router::{ClientOut, Facts, UNAVAILABLE};
use crate::session;

/// Serves one telnet client until it quits, times out, stops reading, or the gateway
/// shuts down. The socket is never held open waiting for negotiation answers.
///
/// `stream` is a TCP socket or a TLS session over one (the caller sets `TCP_NODELAY`).
/// Every write is flushed: a TLS stream may keep written bytes in its buffer otherwise.
pub(crate) async fn serve<S>(
    ctx: Arc<ConnContext>,
    stream: S,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut options = Options::default();
    let mut out = Vec::new();
    options.offer(&mut out);
    if !write(&mut writer, &out, ctx.limits.write_timeout).await {
        return;
    }
    let facts = Facts::from_peer(peer, ConnType::Telnet);
    let mut attachment = match ctx.router.open(facts).await {
        Ok(attachment) => attachment,
        Err(error) => {
            tracing::warn!(%peer, %error, "cannot register connection");
            let text = format!("{UNAVAILABLE}\r\n");
            write(&mut writer, text.as_bytes(), ctx.limits.write_timeout).await;
            return;
        }
    };
    let handle = attachment.handle;
    let router = ctx.router.clone();
    let limits = &ctx.limits;
    let mut decoder = Decoder::new(limits.max_line);
    let mut bucket = TokenBucket::new(limits.input_rate, limits.input_burst);
    let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
    let mut events = Vec::new();
    // Telnet input is typed text: 2 KiB per read keeps idle connections small; a paste
    // just takes more reads.
    let mut buf = vec![0u8; 2048];
    let mut logged_in = false;
    let mut last_input = Instant::now();
    let mut told_throttle = false;

    let reason = loop {
        let deadline = session::deadline(limits, last_input, logged_in);
        let throttle_until = (!pending.is_empty()).then(|| Instant::from_std(bucket.next_token()));
        out.clear();
        tokio::select! {
            read = reader.read(&mut buf), if pending.is_empty() => {
                let n = match read {
                    Ok(0) => break "client closed the connection",
                    Ok(n) => n,
                    Err(_) => break "read error",
                };
                events.clear();
                decoder.feed(&buf[..n], &mut events);
                for event in events.drain(..) {
                    match event {
                        Event::Line(line) => pending.push_back(line),
                        Event::LineTooLong => {
                            router_refused(&ctx);
                            encode_text(&format!("That line is too long (limit {} bytes); it was not sent.\n", limits.max_line), options.utf8(), &mut out);
                        }
                        Event::Negotiate(command, option) => options.negotiate(command, option, &ctx.mssp(), &mut out),
                        Event::Sub(option, data) => {
                            for learned in options.subnegotiation(option, &data, &mut out) {
                                if let Err(error) = router.store().update_meta(handle, learned.field, learned.value) {
                                    tracing::debug!(%error, "client metadata not queued");
                                }
                            }
                        }
                        Event::SubTooLong(option) => tracing::debug!(option, "over-long subnegotiation ignored"),
                    }
                }
            }
            _ = async { sleep_until(throttle_until.unwrap_or(deadline)).await }, if throttle_until.is_some() => {}
            message = attachment.output.recv() => {
                let Some(message) = message else { break "router dropped the session" };
                let mut close = None;
                for message in std::iter::once(message).chain(std::iter::from_fn(|| attachment.output.try_recv().ok())) {
                    match message {
                        ClientOut::Text { text, prompt } => write_text(&mut out, &text, prompt, &options),
                        ClientOut::Close { text } => {
                            write_text(&mut out, &text, false, &options);
                            close = Some(mush_rpc::CLOSED_BY_GAME);
                            break;
                        }
                        ClientOut::State { logged_in: now } => {
                            // A login starts the idle clock; a logout a new connect screen's.
                            if now != logged_in {
                                last_input = Instant::now();
                            }
                            logged_in = now;
                        }
                    }
                }
                if let Some(reason) = close {
                    write(&mut writer, &out, limits.write_timeout).await;
                    break reason;
                }
            }
            _ = attachment.kick.notified() => break "output overflow: the client stopped reading",
            _ = sleep_until(deadline), if throttle_until.is_none() => {
                write_text(&mut out, session::timeout_notice(logged_in), false, &options);
                write(&mut writer, &out, limits.write_timeout).await;
                break "timeout";
            }
            _ = shutdown.changed() => {
                write_text(&mut out, session::SHUTTING_DOWN, false, &options);
                write(&mut writer, &out, limits.write_timeout).await;
                break "gateway shutdown";
            }
        }
        // Lines run as tokens allow; the rest wait with the socket unread.
        while !pending.is_empty() {
            if !bucket.take() {
                if !std::mem::replace(&mut told_throttle, true) {
                    encode_text(
                        "You are sending commands too fast; they will run as you slow down.\n",
                        options.utf8(),
                        &mut out,
                    );
                }
                break;
            }
            told_throttle = false;
            let line = pending.pop_front().unwrap_or_default();
            let text = String::from_utf8_lossy(&line).into_owned();
            // Only a login stops the connect screen's clock: lines typed there (empty ones,
            // wrong passwords) do not keep a socket waiting forever.
            if logged_in {
                last_input = Instant::now();
            }
            if !logged_in && text.trim() == "MSSP-REQUEST" {
                mssp_text(&ctx, &mut out, &options);
                continue;
            }
            match session::submit(&router, handle, text) {
                Ok(None) => {}
                Ok(Some(notice)) => write_text(&mut out, notice, false, &options),
                Err(_) => break,
            }
        }
        if !out.is_empty() && !write(&mut writer, &out, limits.write_timeout).await {
            break "write failed or timed out";
        }
    };
    tracing::debug!(%handle, %peer, reason, "telnet connection closed");
    router.close(handle, reason).await;
    // A TLS session ends with its close_notify (a TCP socket with its FIN either way); a
    // client that stopped reading gets a second only.
    let _ = timeout(std::time::Duration::from_secs(1), writer.shutdown()).await;
}

fn router_refused(ctx: &ConnContext) {
    ctx.router.metrics().input_refused.inc();
}

fn write_text(out: &mut Vec<u8>, text: &str, prompt: bool, options: &Options) {
    encode_text(text, options.utf8(), out);
    if prompt {
        out.extend_from_slice(&[IAC, if options.eor() { EOR_MARK } else { GA }]);
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

fn mssp_text(ctx: &ConnContext, out: &mut Vec<u8>, options: &Options) {
    let mut text = String::from("\nMSSP-REPLY-START\n");
    for (var, value) in ctx.mssp().pairs() {
        text.push_str(&format!("{var}\t{value}\n"));
    }
    text.push_str("MSSP-REPLY-END\n");
    encode_text(&text, options.utf8(), out);
}

/// Writes one piece and flushes it; false if the client did not take it within the limit.
async fn write<W>(writer: &mut W, bytes: &[u8], limit: std::time::Duration) -> bool
where
    W: AsyncWrite + Unpin,
{
    let send = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    matches!(timeout(limit, send).await, Ok(Ok(())))
}
