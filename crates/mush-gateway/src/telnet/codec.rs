//! Telnet on the wire (RFC 854/855): bytes in, lines and option commands out; text in,
//! bytes out.
//!
//! The decoder is a state machine fed whatever each TCP read returned, so a command or a
//! line split across reads is reassembled. Lines end with CR LF, LF, CR, or CR NUL (all seen
//! from real clients). Lines and subnegotiations have size limits; over-long input is
//! discarded up to its end and reported, never buffered without bound.

/// Interpret As Command.
pub const IAC: u8 = 255;
/// Refuse an option on the peer's side.
pub const DONT: u8 = 254;
/// Ask the peer to enable an option.
pub const DO: u8 = 253;
/// Refuse an option on our side.
pub const WONT: u8 = 252;
/// Offer an option on our side.
pub const WILL: u8 = 251;
/// Subnegotiation begin.
pub const SB: u8 = 250;
/// Go ahead (prompt marker when EOR is not agreed).
pub const GA: u8 = 249;
/// Subnegotiation end.
pub const SE: u8 = 240;
/// End of record (prompt marker, option 25 agreed).
pub const EOR_MARK: u8 = 239;

/// Option numbers this gateway speaks.
pub mod opt {
    /// Echo (RFC 857).
    pub const ECHO: u8 = 1;
    /// Suppress go-ahead (RFC 858).
    pub const SGA: u8 = 3;
    /// Terminal type (RFC 1091), cycled for MTTS.
    pub const TTYPE: u8 = 24;
    /// End of record (RFC 885).
    pub const EOR: u8 = 25;
    /// Window size (RFC 1073).
    pub const NAWS: u8 = 31;
    /// New environment (RFC 1572), used by TinTin++ for CHARSET and MTTS.
    pub const NEW_ENVIRON: u8 = 39;
    /// Character set (RFC 2066).
    pub const CHARSET: u8 = 42;
    /// MUD Server Status Protocol.
    pub const MSSP: u8 = 70;
    /// Generic MUD Communication Protocol.
    pub const GMCP: u8 = 201;
}

/// Something the client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete input line (without its line end), raw bytes.
    Line(Vec<u8>),
    /// A line longer than the limit was discarded.
    LineTooLong,
    /// IAC WILL/WONT/DO/DONT option.
    Negotiate(u8, u8),
    /// IAC SB option data IAC SE (data unescaped).
    Sub(u8, Vec<u8>),
    /// A subnegotiation longer than the limit was discarded.
    SubTooLong(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    Negotiate(u8),
    SubOption,
    Sub,
    SubIac,
}

/// Largest subnegotiation payload kept (GMCP messages, TTYPE names, NEW-ENVIRON).
pub const MAX_SUB: usize = 8 * 1024;

/// Decodes a client's byte stream.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    line: Vec<u8>,
    overflow: bool,
    after_cr: bool,
    sub_option: u8,
    sub: Vec<u8>,
    sub_overflow: bool,
    max_line: usize,
}

impl Decoder {
    /// A decoder that refuses lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            state: State::Data,
            line: Vec::new(),
            overflow: false,
            after_cr: false,
            sub_option: 0,
            sub: Vec::new(),
            sub_overflow: false,
            max_line,
        }
    }

    /// Feeds the bytes of one read, appending what they complete to `events`.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<Event>) {
        for &byte in bytes {
            self.state = match self.state {
                State::Data => self.data(byte, events),
                State::Iac => match byte {
                    IAC => self.data(IAC, events),
                    WILL | WONT | DO | DONT => State::Negotiate(byte),
                    SB => State::SubOption,
                    // NOP, GA, AYT, break, ...: nothing for a line-mode MUD to do.
                    _ => State::Data,
                },
                State::Negotiate(command) => {
                    events.push(Event::Negotiate(command, byte));
                    State::Data
                }
                State::SubOption => {
                    self.sub_option = byte;
                    self.sub.clear();
                    self.sub_overflow = false;
                    State::Sub
                }
                State::Sub => match byte {
                    IAC => State::SubIac,
                    _ => {
                        self.push_sub(byte);
                        State::Sub
                    }
                },
                State::SubIac => match byte {
                    SE => {
                        if self.sub_overflow {
                            events.push(Event::SubTooLong(self.sub_option));
                        } else {
                            events.push(Event::Sub(self.sub_option, std::mem::take(&mut self.sub)));
                        }
                        State::Data
                    }
                    IAC => {
                        self.push_sub(IAC);
                        State::Sub
                    }
                    // A broken client: IAC <x> inside SB. Keep the byte, stay in SB.
                    other => {
                        self.push_sub(other);
                        State::Sub
                    }
                },
            };
        }
    }

    fn push_sub(&mut self, byte: u8) {
        if self.sub.len() < MAX_SUB {
            self.sub.push(byte);
        } else {
            self.sub_overflow = true;
        }
    }

    fn data(&mut self, byte: u8, events: &mut Vec<Event>) -> State {
        let after_cr = std::mem::take(&mut self.after_cr);
        match byte {
            IAC if self.state == State::Data => return State::Iac,
            b'\r' => {
                self.end_line(events);
                self.after_cr = true;
            }
            b'\n' | 0 if after_cr => {}
            b'\n' => self.end_line(events),
            // Backspace and DEL from clients without local editing.
            8 | 127 => {
                self.line.pop();
            }
            b'\t' => self.push_line(b' '),
            byte if byte < 32 => {}
            byte => self.push_line(byte),
        }
        State::Data
    }

    fn push_line(&mut self, byte: u8) {
        if self.line.len() < self.max_line {
            self.line.push(byte);
        } else {
            self.overflow = true;
        }
    }

    fn end_line(&mut self, events: &mut Vec<Event>) {
        if std::mem::take(&mut self.overflow) {
            self.line.clear();
            events.push(Event::LineTooLong);
        } else {
            events.push(Event::Line(std::mem::take(&mut self.line)));
        }
    }

    /// Bytes of the line being typed (for memory accounting).
    pub fn pending(&self) -> usize {
        self.line.len() + self.sub.len()
    }
}

/// Appends `text` for a telnet client: LF becomes CR LF, IAC is doubled, and anything
/// outside ASCII becomes `?` unless the client agreed to UTF-8.
pub fn encode_text(text: &str, utf8: bool, out: &mut Vec<u8>) {
    for ch in text.chars() {
        match ch {
            '\n' => out.extend_from_slice(b"\r\n"),
            '\r' => {}
            ch if ch.is_ascii() => out.push(ch as u8),
            ch if utf8 => {
                let mut buf = [0u8; 4];
                for &byte in ch.encode_utf8(&mut buf).as_bytes() {
                    out.push(byte);
                    if byte == IAC {
                        out.push(IAC);
                    }
                }
            }
            _ => out.push(b'?'),
        }
    }
}

/// IAC <command> <option>.
pub fn negotiate(command: u8, option: u8, out: &mut Vec<u8>) {
    out.extend_from_slice(&[IAC, command, option]);
}

/// IAC SB option data IAC SE, with IAC in data doubled.
pub fn subnegotiate(option: u8, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[IAC, SB, option]);
    for &byte in data {
        out.push(byte);
        if byte == IAC {
            out.push(IAC);
        }
    }
    out.extend_from_slice(&[IAC, SE]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<Event> {
        let mut decoder = Decoder::new(16);
        let mut events = Vec::new();
        for chunk in input.chunks(piece) {
            decoder.feed(chunk, &mut events);
        }
        events
    }

    #[test]
    fn every_line_end_and_every_split_gives_the_same_lines() {
        let input = b"one\r\ntwo\nthree\rfour\r\0five\r\n";
        let expected: Vec<Event> = ["one", "two", "three", "four", "five"]
            .iter()
            .map(|l| Event::Line(l.as_bytes().to_vec()))
            .collect();
        for piece in 1..input.len() {
            assert_eq!(
                decode_in_pieces(input, piece),
                expected,
                "piece size {piece}"
            );
        }
    }

    #[test]
    fn negotiation_and_subnegotiation_split_across_reads() {
        let mut input = vec![IAC, WILL, opt::NAWS, b'h', b'i'];
        input.extend_from_slice(&[IAC, SB, opt::NAWS, 0, 80, 0, 24, IAC, SE]);
        input.extend_from_slice(&[IAC, SB, opt::TTYPE, 0, b'a', IAC, IAC, b'b', IAC, SE]);
        input.extend_from_slice(b"\r\n");
        for piece in 1..input.len() {
            assert_eq!(
                decode_in_pieces(&input, piece),
                vec![
                    Event::Negotiate(WILL, opt::NAWS),
                    Event::Sub(opt::NAWS, vec![0, 80, 0, 24]),
                    Event::Sub(opt::TTYPE, vec![0, b'a', IAC, b'b']),
                    Event::Line(b"hi".to_vec()),
                ],
                "piece size {piece}"
            );
        }
    }

    #[test]
    fn long_lines_are_discarded_to_their_end_and_reported() {
        let mut input = vec![b'x'; 40];
        input.extend_from_slice(b"\r\nok\r\n");
        assert_eq!(
            decode_in_pieces(&input, 7),
            vec![Event::LineTooLong, Event::Line(b"ok".to_vec())]
        );
    }

    /// A byte, mostly from the ones the decoder treats specially.
    fn byte(cases: &mut mush_harness::Cases) -> u8 {
        const SPECIAL: [u8; 12] = [IAC, SB, SE, WILL, WONT, DO, DONT, b'\r', b'\n', 0, 7, 8];
        let pick = cases.next_u64();
        if pick.is_multiple_of(3) {
            (pick >> 8) as u8
        } else {
            SPECIAL[(pick >> 8) as usize % SPECIAL.len()]
        }
    }

    /// Properties over random input (a short, deterministic stand-in for a fuzzer that
    /// runs in every test run): whatever the bytes and wherever the reads split them, the
    /// decoder gives the same events, never a line over its limit, never a subnegotiation
    /// over [`MAX_SUB`], and holds no more than those two limits.
    #[test]
    fn random_input_decodes_the_same_however_it_is_split_and_stays_bounded() {
        const MAX_LINE: usize = 64;
        let mut cases = mush_harness::Cases(0x9e37_79b9_7f4a_7c15);
        for case in 0..3000 {
            let len = cases.below(600) as usize;
            let input: Vec<u8> = (0..len).map(|_| byte(&mut cases)).collect();
            let mut whole = Decoder::new(MAX_LINE);
            let mut expected = Vec::new();
            whole.feed(&input, &mut expected);
            let mut split = Decoder::new(MAX_LINE);
            let mut events = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let take = 1 + cases.below(40) as usize;
                let (chunk, more) = rest.split_at(take.min(rest.len()));
                split.feed(chunk, &mut events);
                assert!(
                    split.pending() <= MAX_LINE + MAX_SUB,
                    "case {case}: holds too much"
                );
                rest = more;
            }
            assert_eq!(events, expected, "case {case}: a split changed the events");
            for event in &events {
                match event {
                    Event::Line(line) => assert!(line.len() <= MAX_LINE, "case {case}"),
                    Event::Sub(_, data) => assert!(data.len() <= MAX_SUB, "case {case}"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn garbage_bytes_never_panic_and_controls_are_dropped() {
        let garbage: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let mut decoder = Decoder::new(8192);
        let mut events = Vec::new();
        decoder.feed(&garbage, &mut events);
        assert!(decoder.pending() <= 8192 + MAX_SUB);
        assert_eq!(
            decode_in_pieces(b"a\x07b\x08c\td\n", 3),
            vec![Event::Line(b"ac d".to_vec())]
        );
    }

    #[test]
    fn output_is_crlf_with_iac_doubled_and_ascii_until_utf8() {
        let mut out = Vec::new();
        encode_text("caf\u{e9}\nok", false, &mut out);
        assert_eq!(out, b"caf?\r\nok");
        out.clear();
        encode_text("caf\u{e9}", true, &mut out);
        assert_eq!(out, "caf\u{e9}".as_bytes());
        out.clear();
        subnegotiate(opt::GMCP, &[1, IAC, 2], &mut out);
        assert_eq!(out, vec![IAC, SB, opt::GMCP, 1, IAC, IAC, 2, IAC, SE]);
    }
}
