//! Entry points for the coverage-guided fuzz targets in `fuzz/` (feature `fuzzing`, off in
//! every build that ships): each runs one of the gateway's parsers of untrusted bytes the
//! way a connection does, so a panic or a hang found there is one a player could cause.

use std::time::Duration;

use crate::telnet::codec::{Decoder, Event};
use crate::telnet::options::{MsspStatus, Options};

/// Telnet input in the chunks a socket might deliver it (`cuts` says where), through the
/// decoder and, for what it decodes, the option negotiation; replies are bounded.
pub fn telnet(bytes: &[u8], cuts: &[u8], max_line: usize) {
    let mut decoder = Decoder::new(max_line.max(1));
    let mut options = Options::default();
    let mssp = MsspStatus {
        name: "fuzz".into(),
        players: 1,
        uptime: 0,
    };
    let (mut events, mut out) = (Vec::new(), Vec::new());
    let mut rest = bytes;
    for &cut in cuts.iter().chain(std::iter::once(&u8::MAX)) {
        let (chunk, tail) = rest.split_at(usize::from(cut).min(rest.len()));
        rest = tail;
        decoder.feed(chunk, &mut events);
        for event in events.drain(..) {
            match event {
                Event::Negotiate(command, option) => {
                    options.negotiate(command, option, &mssp, &mut out)
                }
                Event::Sub(option, data) => {
                    options.subnegotiation(option, &data, &mut out);
                }
                _ => {}
            }
        }
        assert!(
            decoder.pending() <= max_line.max(1) + crate::telnet::codec::MAX_SUB,
            "decoder held past its limits"
        );
    }
    // However long the input, the answers stay bounded (no reflection).
    assert!(
        out.len() <= 64 * 1024,
        "negotiation answered {} bytes",
        out.len()
    );
}

/// A PROXY protocol version 2 header as a balancer (or an impostor) sends it.
pub fn proxy_header(bytes: &[u8]) {
    let Some(prefix) = bytes.first_chunk::<{ crate::proxy::PREFIX_LEN }>() else {
        return;
    };
    if let Ok(len) = crate::proxy::block_len(prefix) {
        let block = &bytes[crate::proxy::PREFIX_LEN..];
        let _ = crate::proxy::source(prefix, &block[..len.min(block.len())]);
    }
}

/// The WebSocket port's HTTP request head, then its lines as typed text is cleaned.
pub fn websocket_head(bytes: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let mut stream = bytes;
    let _ = runtime.block_on(crate::http::read_head(&mut stream, Duration::from_secs(1)));
    for line in String::from_utf8_lossy(bytes).lines() {
        let clean = crate::session::clean(line);
        assert!(
            !clean.chars().any(char::is_control),
            "control character kept"
        );
    }
}
