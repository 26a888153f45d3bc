//! The HTTP request head that opens every connection on the WebSocket port.
//!
//! The port serves two things: the web client's files (`GET /`, `/app.js`, `/app.css`) and
//! the WebSocket upgrade. The head is read here, under a size and a time limit, before
//! anything else, so a slow or oversized request costs one bounded buffer and one timer;
//! an upgrade is then handed to the WebSocket library with the head replayed in front of
//! the socket ([`Prefixed`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Longest request head accepted (request line and headers).
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// Most headers accepted in one head.
const MAX_HEADERS: usize = 48;

/// Why a request head was refused; each maps to the status the client is sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// The head did not end within [`MAX_HEAD`] bytes.
    #[error("request head longer than {MAX_HEAD} bytes")]
    TooLarge,
    /// The head did not arrive in time.
    #[error("request head not received within {0:?}")]
    Timeout(Duration),
    /// Not HTTP/1.x, or a header line that does not parse.
    #[error("malformed request head: {0}")]
    Malformed(String),
    /// The client closed the connection before finishing the head.
    #[error("connection closed before the end of the request head")]
    Closed,
    /// Reading failed.
    #[error("reading the request head: {0}")]
    Io(#[from] io::Error),
}

impl HeadError {
    /// The status to answer with, if any answer makes sense.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::TooLarge => Some(431),
            Self::Timeout(_) => Some(408),
            Self::Malformed(_) => Some(400),
            Self::Closed | Self::Io(_) => None,
        }
    }
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query string (after `?`), possibly empty.
    pub query: String,
    /// Headers, names lower-cased, values as sent (lossy UTF-8).
    pub headers: Vec<(String, String)>,
    /// The raw bytes of the head and whatever followed it in the same reads.
    pub raw: Vec<u8>,
}

impl Head {
    /// The first value of a header (name in lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True for a WebSocket upgrade request.
    pub(crate) fn is_upgrade(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }

    /// A query parameter's value (no percent-decoding: the values used here are hex).
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Reads one request head of at most [`MAX_HEAD`] bytes within `limit`.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Result<Head, HeadError> {
    match tokio::time::timeout(limit, read_head_unbounded(stream)).await {
        Ok(result) => result,
        Err(_) => Err(HeadError::Timeout(limit)),
    }
}

async fn read_head_unbounded<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Head, HeadError> {
    let mut raw = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        raw.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&raw) {
            Ok(httparse::Status::Complete(_)) => {
                let method = request.method.unwrap_or_default().to_owned();
                let target = request.path.unwrap_or_default();
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let (path, query) = (path.to_owned(), query.to_owned());
                let headers = request
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                return Ok(Head {
                    method,
                    path,
                    query,
                    headers,
                    raw,
                });
            }
            Ok(httparse::Status::Partial) if raw.len() >= MAX_HEAD => {
                return Err(HeadError::TooLarge);
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(error) => return Err(HeadError::Malformed(error.to_string())),
        }
    }
}

/// Writes a complete response and closes the write side. `body` is omitted for `HEAD`.
pub(crate) async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if with_body {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A stream that first yields bytes already read from it (the request head), so the
/// WebSocket handshake can parse the head again from the start.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Which pages may open a WebSocket to the gateway (browsers send `Origin`; other
/// clients do not, and are always let in: the check protects players' browsers from
/// other sites, not the gateway from programs).
#[derive(Clone, Debug, Default)]
pub enum OriginPolicy {
    /// Only the page the gateway serves itself: `Origin` must name the host the request
    /// was sent to (its `Host` header).
    #[default]
    SameHost,
    /// Any origin (`*`).
    Any,
    /// The gateway's own page and these origins (`https://play.example.org`), compared
    /// without case.
    List(Vec<String>),
}

impl OriginPolicy {
    /// Parses the flag's value: empty for [`OriginPolicy::SameHost`], `*`, or a
    /// comma-separated list of origins.
    pub fn parse(flag: &str) -> Result<Self, String> {
        let flag = flag.trim();
        if flag.is_empty() {
            return Ok(Self::SameHost);
        }
        if flag == "*" {
            return Ok(Self::Any);
        }
        let mut list = Vec::new();
        for origin in flag.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin
                    .trim_end_matches('/')
                    .contains(|c: char| c.is_whitespace())
                && origin.splitn(4, '/').nth(3).is_none_or(str::is_empty);
            if !valid {
                return Err(format!(
                    "{origin:?} is not an origin (scheme://host[:port], no path)"
                ));
            }
            list.push(origin.trim_end_matches('/').to_ascii_lowercase());
        }
        Ok(Self::List(list))
    }

    /// Whether a request with this `Origin` (if any) sent to this `Host` may upgrade.
    pub(crate) fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let origin = origin.trim().to_ascii_lowercase();
        let same_host = host.is_some_and(|host| {
            let host = host.trim().to_ascii_lowercase();
            origin
                .split_once("://")
                .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host)
        });
        match self {
            Self::Any => true,
            Self::SameHost => same_host,
            Self::List(list) => same_host || list.contains(&origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_a_head_and_keeps_the_bytes_after_it() {
        let bytes = b"GET /ws?resume=ab12 HTTP/1.1\r\nHost: x:1\r\nUpgrade: WebSocket\r\n\r\nextra";
        let mut input = &bytes[..];
        let head = read_head(&mut input, Duration::from_secs(1))
            .await
            .expect("head");
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/ws");
        assert_eq!(head.query_param("resume"), Some("ab12"));
        assert_eq!(head.header("host"), Some("x:1"));
        assert!(head.is_upgrade());
        assert!(head.raw.ends_with(b"extra"));
    }

    #[tokio::test]
    async fn an_endless_head_is_refused_at_the_limit() {
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        while bytes.len() < MAX_HEAD * 2 {
            bytes.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let mut input = &bytes[..];
        let error = read_head(&mut input, Duration::from_secs(1))
            .await
            .expect_err("too large");
        assert!(matches!(error, HeadError::TooLarge), "{error}");
        assert_eq!(error.status(), Some(431));
    }

    #[tokio::test]
    async fn a_slow_head_times_out() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("write");
        let error = read_head(&mut server, Duration::from_millis(50))
            .await
            .expect_err("timeout");
        assert!(matches!(error, HeadError::Timeout(_)), "{error}");
        assert_eq!(error.status(), Some(408));
    }

    #[tokio::test]
    async fn garbage_is_malformed_and_an_early_close_is_closed() {
        let mut input = &b"\x16\x03\x01 hello\r\n\r\n"[..];
        let error = read_head(&mut input, Duration::from_secs(1))
            .await
            .expect_err("garbage");
        assert_eq!(error.status(), Some(400), "{error}");
        let mut input = &b"GET / HTTP/1.1\r\nHost"[..];
        let error = read_head(&mut input, Duration::from_secs(1))
            .await
            .expect_err("closed");
        assert!(matches!(error, HeadError::Closed), "{error}");
    }

    #[tokio::test]
    async fn the_prefix_is_read_before_the_stream() {
        let mut stream = Prefixed::new(b"abc".to_vec(), &b"def"[..]);
        let mut all = String::new();
        stream.read_to_string(&mut all).await.expect("read");
        assert_eq!(all, "abcdef");
    }

    #[test]
    fn origins() {
        let same = OriginPolicy::SameHost;
        assert!(same.allows(None, Some("h:4202")), "non-browser clients");
        assert!(same.allows(Some("http://h:4202"), Some("h:4202")));
        assert!(same.allows(Some("HTTPS://H:4202"), Some("h:4202")));
        assert!(!same.allows(Some("http://evil.example"), Some("h:4202")));
        assert!(!same.allows(Some("http://h:4202"), None));
        assert!(!same.allows(Some("null"), Some("h:4202")));
        let list =
            OriginPolicy::parse("https://play.example.org, http://localhost:8000/").expect("list");
        assert!(list.allows(Some("https://play.example.org"), Some("gw:4202")));
        assert!(list.allows(Some("http://localhost:8000"), Some("gw:4202")));
        assert!(list.allows(Some("http://gw:4202"), Some("gw:4202")));
        assert!(!list.allows(Some("https://evil.example"), Some("gw:4202")));
        assert!(
            OriginPolicy::parse("*")
                .expect("any")
                .allows(Some("x"), None)
        );
        assert!(OriginPolicy::parse("play.example.org").is_err());
        assert!(OriginPolicy::parse("https://play.example.org/path").is_err());
        assert!(matches!(
            OriginPolicy::parse(" ").expect("empty"),
            OriginPolicy::SameHost
        ));
    }
}
