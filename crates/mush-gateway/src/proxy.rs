//! PROXY protocol version 2 (the binary header HAProxy, AWS's Network Load Balancer,
//! Google Cloud's load balancers and many others put in front of a connection), so that a
//! gateway behind a load balancer sees each player's own address: the limits per address,
//! the login throttle and the account-creation limit all count by it.
//!
//! The header's parse is pure ([`block_len`], [`source`]); [`read`] is the edge that
//! takes it off a socket, byte-exact, so nothing after it is consumed. Version 1 (the text
//! form) is recognised only to say that it is not taken: one binary parser is less to get
//! wrong, and every balancer that speaks version 1 also speaks version 2.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The fixed part of a version 2 header: signature, version and command, family and
/// protocol, and the length of what follows.
pub(crate) const PREFIX_LEN: usize = 16;

/// The longest address block taken (addresses and TLVs). The specification keeps a whole
/// header within 536 bytes so that it fits the smallest TCP segment; a longer one is
/// refused rather than buffered.
pub(crate) const MAX_BLOCK: usize = 536 - PREFIX_LEN;

const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Why a connection's PROXY header was not taken; the connection is closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ProxyError {
    #[error("PROXY protocol version 1 (text) header; only version 2 is taken")]
    Version1,
    #[error("no PROXY protocol version 2 signature")]
    NoSignature,
    #[error("PROXY protocol version {0} (only 2 is taken)")]
    Version(u8),
    #[error("PROXY protocol command {0:#x} (only LOCAL and PROXY exist)")]
    Command(u8),
    #[error("PROXY header address block of {0} bytes (at most {MAX_BLOCK} are taken)")]
    TooLong(usize),
    #[error("PROXY header for a datagram connection on a stream port")]
    Datagram,
    #[error("PROXY header address family {0:#x} is not one of UNSPEC, INET, INET6, UNIX")]
    Family(u8),
    #[error("PROXY header address block of {got} bytes, shorter than its family's {need}")]
    Short { need: usize, got: usize },
    #[error("reading the PROXY header: {0}")]
    Io(String),
    /// Closed before its first byte: a balancer's TCP health check, not a failure.
    #[error("closed before sending anything")]
    Silent,
}

/// Checks the fixed part of a header and says how many bytes of address block follow.
pub(crate) fn block_len(prefix: &[u8; PREFIX_LEN]) -> Result<usize, ProxyError> {
    if prefix.starts_with(b"PROXY ") {
        return Err(ProxyError::Version1);
    }
    if prefix[..12] != SIGNATURE {
        return Err(ProxyError::NoSignature);
    }
    let version = prefix[12] >> 4;
    if version != 2 {
        return Err(ProxyError::Version(version));
    }
    let command = prefix[12] & 0x0f;
    if command > 1 {
        return Err(ProxyError::Command(command));
    }
    let len = usize::from(u16::from_be_bytes([prefix[14], prefix[15]]));
    if len > MAX_BLOCK {
        return Err(ProxyError::TooLong(len));
    }
    Ok(len)
}

/// The client's address a checked header names, or `None` when the connection's own
/// address stands: a LOCAL header (the balancer's own health check) or a family that
/// carries no internet address (UNSPEC, UNIX), as the specification asks. TLVs after the
/// addresses are skipped.
pub(crate) fn source(
    prefix: &[u8; PREFIX_LEN],
    block: &[u8],
) -> Result<Option<SocketAddr>, ProxyError> {
    const LOCAL: u8 = 0;
    if prefix[12] & 0x0f == LOCAL {
        return Ok(None);
    }
    let (family, protocol) = (prefix[13] >> 4, prefix[13] & 0x0f);
    if protocol == 2 {
        return Err(ProxyError::Datagram);
    }
    let need = match family {
        0 => return Ok(None),
        1 => 12,
        2 => 36,
        3 => 216,
        other => return Err(ProxyError::Family(other)),
    };
    if block.len() < need {
        return Err(ProxyError::Short {
            need,
            got: block.len(),
        });
    }
    let address = match family {
        1 => {
            let ip = Ipv4Addr::new(block[0], block[1], block[2], block[3]);
            let port = u16::from_be_bytes([block[8], block[9]]);
            SocketAddr::new(IpAddr::V4(ip), port)
        }
        2 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&block[..16]);
            let port = u16::from_be_bytes([block[32], block[33]]);
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port)
        }
        _ => return Ok(None),
    };
    Ok(Some(address))
}

/// Reads a whole header off `stream` (exactly its bytes) and returns the client's address,
/// or `None` when the connection's own address stands. The caller bounds it in time.
pub(crate) async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyError> {
    let io = |error: std::io::Error| ProxyError::Io(error.to_string());
    let mut prefix = [0u8; PREFIX_LEN];
    let first = stream.read(&mut prefix).await.map_err(io)?;
    if first == 0 {
        return Err(ProxyError::Silent);
    }
    stream.read_exact(&mut prefix[first..]).await.map_err(io)?;
    let len = block_len(&prefix)?;
    let mut block = vec![0u8; len];
    stream.read_exact(&mut block).await.map_err(io)?;
    source(&prefix, &block)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 2 header for `source` -> `destination` (both of one family), as a balancer
    /// sends it.
    fn header(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.push(0x21);
        match (source, destination) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                out.push(0x11);
                out.extend_from_slice(&12u16.to_be_bytes());
                out.extend_from_slice(&s.ip().octets());
                out.extend_from_slice(&d.ip().octets());
                out.extend_from_slice(&s.port().to_be_bytes());
                out.extend_from_slice(&d.port().to_be_bytes());
            }
            (SocketAddr::V6(s), SocketAddr::V6(d)) => {
                out.push(0x21);
                out.extend_from_slice(&36u16.to_be_bytes());
                out.extend_from_slice(&s.ip().octets());
                out.extend_from_slice(&d.ip().octets());
                out.extend_from_slice(&s.port().to_be_bytes());
                out.extend_from_slice(&d.port().to_be_bytes());
            }
            _ => panic!("source and destination of one family"),
        }
        out
    }

    fn parse(bytes: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
        let prefix: [u8; PREFIX_LEN] = bytes[..PREFIX_LEN].try_into().expect("16 bytes");
        let len = block_len(&prefix)?;
        let block = &bytes[PREFIX_LEN..];
        assert_eq!(block.len(), len, "test header's length field");
        source(&prefix, block)
    }

    /// `header` with the byte at `at` replaced.
    fn with(mut bytes: Vec<u8>, at: usize, value: u8) -> Vec<u8> {
        bytes[at] = value;
        bytes
    }

    fn v4() -> Vec<u8> {
        header(
            "203.0.113.7:40000".parse().expect("addr"),
            "10.0.0.1:4201".parse().expect("addr"),
        )
    }

    #[test]
    fn headers_name_the_client_or_leave_the_connection_s_own_address() {
        let v6 = header(
            "[2001:db8::7]:50000".parse().expect("addr"),
            "[2001:db8::1]:4201".parse().expect("addr"),
        );
        let mut tlvs = v4();
        // Two TLVs after the addresses (ALPN "h2", a NOOP of 3 bytes), counted in the length.
        tlvs[15] = 12 + 5 + 6;
        tlvs.extend_from_slice(&[0x01, 0, 2, b'h', b'2', 0x04, 0, 3, 0, 0, 0]);
        let mut local = v4();
        local[12] = 0x20;
        let mut unspec = SIGNATURE.to_vec();
        unspec.extend_from_slice(&[0x21, 0x00, 0, 0]);
        let mut unix = SIGNATURE.to_vec();
        unix.extend_from_slice(&[0x21, 0x31, 0, 216]);
        unix.extend_from_slice(&[b'/'; 216]);
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            ("TCP over IPv4", v4(), Some("203.0.113.7:40000")),
            ("TCP over IPv6", v6, Some("[2001:db8::7]:50000")),
            ("TLVs skipped", tlvs, Some("203.0.113.7:40000")),
            ("LOCAL: a health check", local, None),
            ("UNSPEC family", unspec, None),
            ("UNIX family", unix, None),
        ];
        for (what, bytes, want) in cases {
            let want = want.map(|a| a.parse::<SocketAddr>().expect("addr"));
            assert_eq!(parse(&bytes), Ok(want), "{what}");
        }
    }

    #[test]
    fn malformed_headers_are_refused_with_their_reason() {
        let mut text = b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 4201\r\n".to_vec();
        text.truncate(PREFIX_LEN);
        let mut long = v4();
        long[14..16].copy_from_slice(&(MAX_BLOCK as u16 + 1).to_be_bytes());
        let mut short = v4();
        short[15] = 8;
        short.truncate(PREFIX_LEN + 8);
        let cases: Vec<(&str, Vec<u8>, ProxyError)> = vec![
            ("version 1 text", text, ProxyError::Version1),
            (
                "a telnet client",
                b"connect Wizard p".to_vec(),
                ProxyError::NoSignature,
            ),
            (
                "version 1 nibble",
                with(v4(), 12, 0x11),
                ProxyError::Version(1),
            ),
            ("command 2", with(v4(), 12, 0x22), ProxyError::Command(2)),
            ("a block too long", long, ProxyError::TooLong(MAX_BLOCK + 1)),
            ("UDP over IPv4", with(v4(), 13, 0x12), ProxyError::Datagram),
            ("family 4", with(v4(), 13, 0x41), ProxyError::Family(4)),
            (
                "IPv4 block too short",
                short,
                ProxyError::Short { need: 12, got: 8 },
            ),
        ];
        for (what, bytes, want) in cases {
            let prefix: [u8; PREFIX_LEN] = bytes[..PREFIX_LEN].try_into().expect("16 bytes");
            let got = block_len(&prefix).and_then(|_| source(&prefix, &bytes[PREFIX_LEN..]));
            assert_eq!(got, Err(want), "{what}");
        }
    }

    /// Random headers behind a real signature (deterministic, so a failure reproduces):
    /// every one is taken or refused, none panics, and an address is taken only from a
    /// PROXY command over a stream with the block its family needs.
    #[test]
    fn random_headers_are_taken_or_refused_never_a_panic() {
        let mut cases = mush_harness::Cases(0x2545_f491_4f6c_dd1d);
        let mut next = || cases.next_u64();
        for case in 0..20_000 {
            let mut prefix = [0u8; PREFIX_LEN];
            prefix[..12].copy_from_slice(&SIGNATURE);
            for byte in &mut prefix[12..] {
                *byte = next() as u8;
            }
            // Mostly the version and lengths a parser meets, sometimes anything.
            if case % 4 != 0 {
                prefix[12] = 0x20 | (prefix[12] & 0x01);
                prefix[14] = 0;
                prefix[15] %= 64;
            }
            let block: Vec<u8> = (0..usize::from(prefix[15])).map(|_| next() as u8).collect();
            let Ok(len) = block_len(&prefix) else {
                continue;
            };
            let got = source(&prefix, &block[..len.min(block.len())]);
            if let Ok(Some(_)) = got {
                let need = match prefix[13] >> 4 {
                    1 => 12,
                    2 => 36,
                    other => panic!("case {case}: an address from family {other}"),
                };
                assert_eq!(prefix[12] & 0x0f, 1, "case {case}: from a LOCAL header");
                assert_ne!(prefix[13] & 0x0f, 2, "case {case}: from a datagram");
                assert!(block.len() >= need, "case {case}: from a short block");
            }
        }
    }

    #[tokio::test]
    async fn read_takes_exactly_the_header_and_leaves_what_follows() {
        let mut bytes = v4();
        bytes.extend_from_slice(b"WHO\r\n");
        let mut stream = &bytes[..];
        let got = read(&mut stream).await;
        assert_eq!(got, Ok(Some("203.0.113.7:40000".parse().expect("addr"))));
        assert_eq!(stream, b"WHO\r\n");
        let mut cut = &v4()[..20];
        assert!(matches!(read(&mut cut).await, Err(ProxyError::Io(_))));
        let mut nothing: &[u8] = &[];
        assert_eq!(read(&mut nothing).await, Err(ProxyError::Silent));
    }
}
