//! Option negotiation for one telnet connection.
//!
//! The gateway offers what it supports at connect and never waits for an answer before
//! showing the login screen (TinTin++ answers late or not at all; TinyFugue refuses most
//! options). Each option remembers whether it is on for either side, so a client that
//! repeats an offer (some send WILL NAWS twice) is not answered again, which would start a
//! negotiation loop. Output stays 7-bit ASCII until the client agrees to UTF-8 through
//! CHARSET, or says it handles UTF-8 through MTTS or NEW-ENVIRON.

use super::codec::{DO, DONT, WILL, WONT, negotiate, opt, subnegotiate};

const TTYPE_IS: u8 = 0;
const TTYPE_SEND: u8 = 1;
const CHARSET_REQUEST: u8 = 1;
const CHARSET_ACCEPTED: u8 = 2;
const CHARSET_REJECTED: u8 = 3;
const ENV_IS: u8 = 0;
const ENV_SEND: u8 = 1;
const ENV_INFO: u8 = 2;
const ENV_VAR: u8 = 0;
const ENV_VALUE: u8 = 1;
const ENV_USERVAR: u8 = 3;
const MSSP_VAR: u8 = 1;
const MSSP_VAL: u8 = 2;
/// MTTS bit: the client handles UTF-8.
const MTTS_UTF8: u32 = 4;
/// TTYPE rounds before giving up on the cycle.
const TTYPE_ROUNDS: u8 = 4;

/// What the connection learned that belongs in the session's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned {
    /// Metadata field.
    pub field: &'static str,
    /// Value.
    pub value: String,
}

/// Server status for MSSP.
#[derive(Clone, Debug)]
pub struct MsspStatus {
    /// Game name.
    pub name: String,
    /// Players connected shard-wide.
    pub players: u64,
    /// Unix time the shard started.
    pub uptime: u64,
}

impl MsspStatus {
    /// `(variable, value)` pairs, also used for the plain-text `MSSP-REQUEST`.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("NAME", self.name.clone()),
            ("PLAYERS", self.players.to_string()),
            ("UPTIME", self.uptime.to_string()),
            ("CODEBASE", "mush-on-kube".into()),
            ("FAMILY", "TinyMUD".into()),
            ("CHARSET", "ASCII UTF-8".into()),
            ("GMCP", "1".into()),
            ("MSSP", "1".into()),
        ]
    }
}

/// One bit per telnet option.
#[derive(Debug, Default, Clone, Copy)]
struct OptionSet([u64; 4]);

impl OptionSet {
    fn get(&self, option: u8) -> bool {
        self.0[usize::from(option / 64)] & (1 << (option % 64)) != 0
    }

    fn set(&mut self, option: u8, on: bool) {
        let word = &mut self.0[usize::from(option / 64)];
        if on {
            *word |= 1 << (option % 64);
        } else {
            *word &= !(1 << (option % 64));
        }
    }

    /// Returns the bit and clears it.
    fn take(&mut self, option: u8) -> bool {
        let was = self.get(option);
        self.set(option, false);
        was
    }
}

/// Option state of one connection.
#[derive(Debug, Default)]
pub struct Options {
    /// Options the client has enabled on its side (it said WILL, we said DO).
    his: OptionSet,
    /// Options we have enabled on our side (we said WILL, it said DO).
    ours: OptionSet,
    /// Options we offered or asked for and await an answer to.
    asked: OptionSet,
    ttype_last: Option<String>,
    ttype_round: u8,
    utf8: bool,
    /// Negotiations heard so far (see [`NEGOTIATIONS_ANSWERED`]).
    heard: u32,
}

/// Negotiations a connection gets answers to. A client settles its options in a few dozen
/// at connect; one that toggles options forever would otherwise have every request
/// answered (RFC 1143 answers each refusal and each change, and `DO MSSP` answers with
/// the whole MSSP table): a reflector, and work for nothing. Past this, requests change
/// nothing and are not answered.
pub const NEGOTIATIONS_ANSWERED: u32 = 256;

/// Options offered at connect.
const OFFER_WILL: [u8; 4] = [opt::EOR, opt::MSSP, opt::GMCP, opt::CHARSET];
const ASK_DO: [u8; 3] = [opt::TTYPE, opt::NAWS, opt::NEW_ENVIRON];

impl Options {
    /// The opening offers, sent before (and not waiting for) the login screen.
    pub fn offer(&mut self, out: &mut Vec<u8>) {
        for option in OFFER_WILL {
            self.asked.set(option, true);
            negotiate(WILL, option, out);
        }
        for option in ASK_DO {
            self.asked.set(option, true);
            negotiate(DO, option, out);
        }
    }

    /// True once the client may receive UTF-8.
    pub fn utf8(&self) -> bool {
        self.utf8
    }

    /// True if prompts end with IAC EOR (else IAC GA).
    pub fn eor(&self) -> bool {
        self.ours.get(opt::EOR)
    }

    /// Handles IAC WILL/WONT/DO/DONT from the client.
    pub fn negotiate(&mut self, command: u8, option: u8, mssp: &MsspStatus, out: &mut Vec<u8>) {
        self.heard = self.heard.saturating_add(1);
        if self.heard > NEGOTIATIONS_ANSWERED {
            return;
        }
        let asked = self.asked.take(option);
        match command {
            WILL => {
                if self.his.get(option) {
                    return;
                }
                if ASK_DO.contains(&option) {
                    self.his.set(option, true);
                    if !asked {
                        negotiate(DO, option, out);
                    }
                    match option {
                        opt::TTYPE => subnegotiate(opt::TTYPE, &[TTYPE_SEND], out),
                        opt::NEW_ENVIRON => subnegotiate(opt::NEW_ENVIRON, &[ENV_SEND], out),
                        _ => {}
                    }
                } else if !asked {
                    negotiate(DONT, option, out);
                }
            }
            WONT if self.his.get(option) => {
                self.his.set(option, false);
                negotiate(DONT, option, out);
            }
            DO => {
                if self.ours.get(option) {
                    return;
                }
                if OFFER_WILL.contains(&option) {
                    self.ours.set(option, true);
                    if !asked {
                        negotiate(WILL, option, out);
                    }
                    match option {
                        opt::CHARSET => subnegotiate(opt::CHARSET, b"\x01;UTF-8", out),
                        opt::MSSP => self.send_mssp(mssp, out),
                        _ => {}
                    }
                } else if !asked {
                    negotiate(WONT, option, out);
                }
            }
            DONT if self.ours.get(option) => {
                self.ours.set(option, false);
                negotiate(WONT, option, out);
            }
            _ => {}
        }
    }

    fn send_mssp(&self, mssp: &MsspStatus, out: &mut Vec<u8>) {
        let mut data = Vec::new();
        for (var, value) in mssp.pairs() {
            data.push(MSSP_VAR);
            data.extend_from_slice(var.as_bytes());
            data.push(MSSP_VAL);
            data.extend_from_slice(value.as_bytes());
        }
        subnegotiate(opt::MSSP, &data, out);
    }

    /// Handles IAC SB ... IAC SE; returns what belongs in the session's metadata.
    pub fn subnegotiation(&mut self, option: u8, data: &[u8], out: &mut Vec<u8>) -> Vec<Learned> {
        match option {
            opt::NAWS if data.len() >= 4 => {
                let width = u16::from_be_bytes([data[0], data[1]]);
                let height = u16::from_be_bytes([data[2], data[3]]);
                vec![Learned {
                    field: "naws",
                    value: format!("{width}x{height}"),
                }]
            }
            opt::TTYPE if data.first() == Some(&TTYPE_IS) => self.ttype(&data[1..], out),
            opt::CHARSET => self.charset(data, out),
            opt::NEW_ENVIRON if matches!(data.first(), Some(&ENV_IS) | Some(&ENV_INFO)) => {
                self.environ(&data[1..])
            }
            opt::GMCP => gmcp(data),
            _ => Vec::new(),
        }
    }

    /// TTYPE cycling: first answer is the client name, second the terminal, third
    /// `MTTS <bits>`; stop when an answer repeats.
    fn ttype(&mut self, name: &[u8], out: &mut Vec<u8>) -> Vec<Learned> {
        let name = clean(name, 64);
        if self.ttype_last.as_deref() == Some(name.as_str()) {
            return Vec::new();
        }
        self.ttype_round += 1;
        let mut learned = Vec::new();
        if let Some(bits) = name
            .strip_prefix("MTTS ")
            .and_then(|b| b.trim().parse::<u32>().ok())
        {
            if bits & MTTS_UTF8 != 0 {
                self.utf8 = true;
            }
            learned.push(Learned {
                field: "mtts",
                value: bits.to_string(),
            });
        } else {
            let field = if self.ttype_round == 1 {
                "client"
            } else {
                "terminal"
            };
            learned.push(Learned {
                field,
                value: name.clone(),
            });
            if self.ttype_round < TTYPE_ROUNDS {
                subnegotiate(opt::TTYPE, &[TTYPE_SEND], out);
            }
        }
        self.ttype_last = Some(name);
        learned
    }

    fn charset(&mut self, data: &[u8], out: &mut Vec<u8>) -> Vec<Learned> {
        match data.first() {
            Some(&CHARSET_ACCEPTED) => {
                let name = clean(&data[1..], 32);
                self.utf8 = name.eq_ignore_ascii_case("UTF-8") || name.eq_ignore_ascii_case("UTF8");
                vec![Learned {
                    field: "charset",
                    value: name,
                }]
            }
            // TinTin++ may answer REJECTED: stay in ASCII (or keep what MTTS said).
            Some(&CHARSET_REJECTED) => vec![Learned {
                field: "charset",
                value: "rejected".into(),
            }],
            // The client asks us: accept UTF-8 if it is among its offers.
            Some(&CHARSET_REQUEST) if data.len() > 2 => {
                let separator = data[1];
                let offers = &data[2..];
                let utf8 = offers
                    .split(|&b| b == separator)
                    .any(|c| c.eq_ignore_ascii_case(b"UTF-8"));
                if utf8 {
                    let mut reply = vec![CHARSET_ACCEPTED];
                    reply.extend_from_slice(b"UTF-8");
                    subnegotiate(opt::CHARSET, &reply, out);
                    self.utf8 = true;
                } else {
                    subnegotiate(opt::CHARSET, &[CHARSET_REJECTED], out);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// NEW-ENVIRON IS/INFO, parsed loosely (TinTin++ sends empty names and trailing spaces).
    fn environ(&mut self, data: &[u8]) -> Vec<Learned> {
        let mut learned = Vec::new();
        for piece in data.split(|&b| b == ENV_VAR || b == ENV_USERVAR).skip(1) {
            let (name, value) = match piece.iter().position(|&b| b == ENV_VALUE) {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &[][..]),
            };
            let name = clean(name, 32).trim().to_ascii_uppercase();
            let value = clean(value, 64).trim().to_owned();
            match name.as_str() {
                "CHARSET" => {
                    if value.eq_ignore_ascii_case("UTF-8") {
                        self.utf8 = true;
                    }
                    learned.push(Learned {
                        field: "charset",
                        value,
                    });
                }
                "MTTS" => {
                    if value.parse::<u32>().is_ok_and(|bits| bits & MTTS_UTF8 != 0) {
                        self.utf8 = true;
                    }
                    learned.push(Learned {
                        field: "mtts",
                        value,
                    });
                }
                "CLIENT_NAME" => learned.push(Learned {
                    field: "client",
                    value,
                }),
                _ => {}
            }
        }
        learned
    }
}

/// GMCP `Core.Hello {...}` and `Core.Supports.Set [...]` are kept as metadata.
fn gmcp(data: &[u8]) -> Vec<Learned> {
    let text = clean(data, 1024);
    let (package, body) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    let field = match package.to_ascii_lowercase().as_str() {
        "core.hello" => "gmcp_hello",
        "core.supports.set" | "core.supports.add" => "gmcp_supports",
        _ => return Vec::new(),
    };
    vec![Learned {
        field,
        value: body.trim().to_owned(),
    }]
}

/// Printable text of at most `max` bytes from untrusted bytes.
fn clean(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::codec::{IAC, SB, SE};
    use super::*;

    fn mssp() -> MsspStatus {
        MsspStatus {
            name: "Test".into(),
            players: 3,
            uptime: 1_700_000_000,
        }
    }

    #[test]
    fn ttype_cycles_to_mtts_and_turns_utf8_on() {
        let mut options = Options::default();
        let mut out = Vec::new();
        options.offer(&mut out);
        out.clear();
        options.negotiate(WILL, opt::TTYPE, &mssp(), &mut out);
        assert_eq!(
            out,
            vec![IAC, SB, opt::TTYPE, TTYPE_SEND, IAC, SE],
            "asked already: no DO again"
        );
        out.clear();
        let learned = options.subnegotiation(opt::TTYPE, b"\x00MUDLET", &mut out);
        assert_eq!(
            learned[0],
            Learned {
                field: "client",
                value: "MUDLET".into()
            }
        );
        assert!(!out.is_empty(), "asks for the next type");
        options.subnegotiation(opt::TTYPE, b"\x00XTERM-256COLOR", &mut out);
        assert!(!options.utf8());
        let learned = options.subnegotiation(opt::TTYPE, b"\x00MTTS 2829", &mut out);
        assert_eq!(learned[0].field, "mtts");
        assert!(options.utf8());
    }

    #[test]
    fn a_client_toggling_options_forever_is_answered_only_so_often() {
        let mut options = Options::default();
        let mut out = Vec::new();
        let mut answered_bytes = Vec::new();
        for round in 0..10_000u32 {
            // DO/DONT MSSP: each DO would send the whole table again.
            let command = if round % 2 == 0 { DO } else { DONT };
            out.clear();
            options.negotiate(command, opt::MSSP, &mssp(), &mut out);
            answered_bytes.push(out.len());
        }
        let total: usize = answered_bytes.iter().sum();
        let per_answer = answered_bytes.iter().copied().max().unwrap_or(0);
        assert!(
            total <= NEGOTIATIONS_ANSWERED as usize * per_answer,
            "{total} bytes answered"
        );
        assert!(
            answered_bytes[..10].iter().any(|&n| n > 0),
            "the first were answered"
        );
        assert!(
            answered_bytes[NEGOTIATIONS_ANSWERED as usize..]
                .iter()
                .all(|&n| n == 0),
            "answers past the budget"
        );
    }

    #[test]
    fn repeated_offers_are_not_answered_again() {
        let mut options = Options::default();
        let mut out = Vec::new();
        options.negotiate(WILL, opt::NAWS, &mssp(), &mut out);
        assert_eq!(out, vec![IAC, DO, opt::NAWS]);
        out.clear();
        options.negotiate(WILL, opt::NAWS, &mssp(), &mut out);
        assert!(out.is_empty(), "answered an already-agreed option: {out:?}");
        options.negotiate(WILL, 99, &mssp(), &mut out);
        assert_eq!(out, vec![IAC, DONT, 99]);
    }

    #[test]
    fn charset_rejected_keeps_ascii_and_accepted_switches_to_utf8() {
        let mut options = Options::default();
        let mut out = Vec::new();
        options.offer(&mut out);
        out.clear();
        options.negotiate(DO, opt::CHARSET, &mssp(), &mut out);
        assert_eq!(
            out,
            [&[IAC, SB, opt::CHARSET][..], b"\x01;UTF-8", &[IAC, SE]].concat()
        );
        options.subnegotiation(opt::CHARSET, &[CHARSET_REJECTED], &mut out);
        assert!(!options.utf8());
        options.subnegotiation(opt::CHARSET, b"\x02UTF-8", &mut out);
        assert!(options.utf8());
    }

    #[test]
    fn new_environ_is_parsed_loosely() {
        let mut options = Options::default();
        let mut out = Vec::new();
        let data = b"\x00\x00\x01\x00CHARSET\x01UTF-8 \x03MTTS\x01137";
        let learned = options.subnegotiation(opt::NEW_ENVIRON, data, &mut out);
        assert!(options.utf8());
        assert!(learned.contains(&Learned {
            field: "mtts",
            value: "137".into()
        }));
    }

    #[test]
    fn mssp_and_gmcp() {
        let mut options = Options::default();
        let mut out = Vec::new();
        options.offer(&mut out);
        out.clear();
        options.negotiate(DO, opt::MSSP, &mssp(), &mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("\u{1}NAME\u{2}Test") && text.contains("PLAYERS\u{2}3"),
            "{text}"
        );
        let learned =
            options.subnegotiation(opt::GMCP, b"Core.Hello {\"client\":\"Mudlet\"}", &mut out);
        assert_eq!(learned[0].field, "gmcp_hello");
    }
}
