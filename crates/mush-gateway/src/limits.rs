//! Per-connection limits: line length, input rate, output backlog, timeouts.

use std::time::{Duration, Instant};

/// Limits every player connection lives under.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// Longest input line in bytes; longer ones are refused with a message.
    pub max_line: usize,
    /// Sustained input lines per second.
    pub input_rate: f64,
    /// Lines a client may send at once before the rate applies (pasting a script).
    pub input_burst: f64,
    /// Close a logged-in connection after this long without input.
    pub idle_timeout: Duration,
    /// Close a connection that has not logged in after this long.
    pub login_timeout: Duration,
    /// Close a connection whose socket accepts no output for this long.
    pub write_timeout: Duration,
    /// Close a connection on the WebSocket port whose HTTP request head (at most 8 KiB)
    /// has not arrived after this long, and one whose PROXY header (`--proxy-protocol`)
    /// has not.
    pub head_timeout: Duration,
    /// Connections held at once, all ports (plain and TLS) together.
    pub max_connections: usize,
    /// Connections held at once from one address.
    pub max_per_address: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_line: mush_rpc::MAX_LINE,
            input_rate: 10.0,
            input_burst: 100.0,
            idle_timeout: Duration::from_secs(3600),
            login_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_per_address: 50,
        }
    }
}

/// Why a connection was not let in; the text is what it is told before it is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The gateway holds its maximum.
    Full,
    /// The address holds its maximum.
    Address,
}

impl Refused {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::Full => "The game is full right now; please try again later.\r\n",
            Self::Address => "Too many connections from your address; close one and try again.\r\n",
        }
    }
}

/// Counts the connections held, in all and per address, so that one address (or a
/// flood from many) cannot hold every socket the gateway can take.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    held: std::sync::Mutex<(usize, std::collections::HashMap<std::net::IpAddr, usize>)>,
}

/// A connection let in; dropping it makes room again. It holds a place in the total from
/// the moment it is accepted, and a place under its address once the address is known.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: std::sync::Arc<Admission>,
    ip: Option<std::net::IpAddr>,
}

impl Admission {
    fn held(
        &self,
    ) -> std::sync::MutexGuard<'_, (usize, std::collections::HashMap<std::net::IpAddr, usize>)>
    {
        crate::router::lock(&self.held)
    }

    /// Lets a connection from `ip` in, within `limits`.
    pub(crate) fn admit(
        self: &std::sync::Arc<Self>,
        ip: std::net::IpAddr,
        limits: &ConnLimits,
    ) -> Result<Admitted, Refused> {
        self.admit_unnamed(limits)?.named(ip, limits)
    }

    /// Lets a connection in within the total alone, before its address is known: one behind
    /// a balancer names its client only in its PROXY header, and a connection still owing
    /// that header must hold a place too, or silent sockets could be opened without limit.
    pub(crate) fn admit_unnamed(
        self: &std::sync::Arc<Self>,
        limits: &ConnLimits,
    ) -> Result<Admitted, Refused> {
        let mut held = self.held();
        if held.0 >= limits.max_connections {
            return Err(Refused::Full);
        }
        held.0 += 1;
        Ok(Admitted {
            admission: self.clone(),
            ip: None,
        })
    }
}

impl Admitted {
    /// The same connection counted under its address `ip` too; refused (and its place in
    /// the total given back) when the address holds its maximum.
    pub(crate) fn named(
        mut self,
        ip: std::net::IpAddr,
        limits: &ConnLimits,
    ) -> Result<Admitted, Refused> {
        let mut held = self.admission.held();
        let from = held.1.entry(ip).or_default();
        if *from >= limits.max_per_address {
            if *from == 0 {
                held.1.remove(&ip);
            }
            return Err(Refused::Address);
        }
        *from += 1;
        drop(held);
        self.ip = Some(ip);
        Ok(self)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut held = self.admission.held();
        held.0 = held.0.saturating_sub(1);
        let Some(ip) = self.ip else { return };
        if let Some(from) = held.1.get_mut(&ip) {
            *from -= 1;
            if *from == 0 {
                held.1.remove(&ip);
            }
        }
    }
}

/// A token bucket for input lines. An empty bucket does not drop input: the connection
/// stops reading (TCP pushes back on the client) until a token is due.
#[derive(Debug)]
pub struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        // A clock read before the last one (callers on other threads) adds nothing.
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = self.at.max(now);
    }

    /// Takes a token if one is there.
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    /// When the next token is due.
    pub fn next_token(&mut self) -> Instant {
        self.next_token_at(Instant::now())
    }

    /// [`take`](Self::take) at a given moment: the bucket's arithmetic apart from the
    /// clock, so its properties can be checked over any timeline.
    fn take_at(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// [`next_token`](Self::next_token) at a given moment.
    fn next_token_at(&mut self, now: Instant) -> Instant {
        self.refill(now);
        let missing = (1.0 - self.tokens).max(0.0);
        self.at + Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut bucket = TokenBucket::new(1000.0, 3.0);
        assert!(bucket.take() && bucket.take() && bucket.take());
        assert!(!bucket.take());
        assert!(bucket.next_token() > Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        assert!(bucket.take());
    }

    /// Properties over 1,000 random timelines (rates 0.1-1,000 lines/s, bursts 1-200,
    /// attempts 0-2 s apart or in bursts): in every stretch of time no more lines pass than
    /// the burst plus the rate allows; a refused line's `next_token` lies ahead and a line
    /// is taken then; a line that comes a whole token's time after the last is never
    /// refused.
    #[test]
    fn the_bucket_never_passes_more_than_burst_plus_rate() {
        let mut cases = mush_harness::Cases(0x7a11_b0c7);
        for case in 0..1_000 {
            let rate = [0.1, 1.0, 10.0, 100.0, 1_000.0][cases.below(5) as usize];
            let burst = (1 + cases.below(200)) as f64;
            let start = Instant::now();
            let mut bucket = TokenBucket::new(rate, burst);
            bucket.at = start;
            let (mut now, mut last) = (start, None::<Instant>);
            let mut taken = Vec::new();
            for _ in 0..150 {
                let gap = match cases.below(4) {
                    0 => Duration::ZERO,
                    1 => Duration::from_micros(cases.below(1_000)),
                    2 => Duration::from_secs_f64(cases.below(3_000) as f64 / 1_000.0 / rate),
                    _ => Duration::from_millis(cases.below(2_000)),
                };
                now += gap;
                // A token's time and a microsecond, above the float rounding of the refill.
                let token_time = Duration::from_secs_f64(1.0 / rate) + Duration::from_micros(1);
                let spaced = last.is_none_or(|l| now - l >= token_time);
                if bucket.take_at(now) {
                    taken.push(now);
                    last = Some(now);
                    continue;
                }
                assert!(
                    !spaced,
                    "case {case}: a line a token's time after the last refused"
                );
                let due = bucket.next_token_at(now);
                assert!(
                    due > now,
                    "case {case}: refused, yet the next token is due now"
                );
                // A hair past `due`, for the float rounding of the refill.
                let due = due + Duration::from_nanos(1_000);
                assert!(
                    bucket.take_at(due),
                    "case {case}: refused when its token was due"
                );
                taken.push(due);
                (now, last) = (due, Some(due));
            }
            for (i, first) in taken.iter().enumerate() {
                for (j, later) in taken.iter().enumerate().skip(i) {
                    let allowed = burst + (*later - *first).as_secs_f64() * rate + 1e-6;
                    assert!(
                        (j - i + 1) as f64 <= allowed,
                        "case {case}: {} lines passed in {:?} (rate {rate}, burst {burst})",
                        j - i + 1,
                        *later - *first
                    );
                }
            }
        }
    }

    #[test]
    fn connections_are_limited_per_address_and_in_all_and_freed_on_drop() {
        let limits = ConnLimits {
            max_connections: 3,
            max_per_address: 2,
            ..ConnLimits::default()
        };
        let admission = std::sync::Arc::new(Admission::default());
        let a: std::net::IpAddr = [10, 0, 0, 1].into();
        let b: std::net::IpAddr = [10, 0, 0, 2].into();
        let a1 = admission.admit(a, &limits).expect("first");
        let _a2 = admission.admit(a, &limits).expect("second");
        assert_eq!(
            admission
                .admit(a, &limits)
                .expect_err("over the address limit"),
            Refused::Address
        );
        let _b1 = admission.admit(b, &limits).expect("other address");
        assert_eq!(
            admission.admit(b, &limits).expect_err("over the total"),
            Refused::Full
        );
        drop(a1);
        let _a3 = admission.admit(a, &limits).expect("room again");
        assert_eq!(admission.held().1.get(&a), Some(&2));
    }

    /// Connections still owing their PROXY header take places in the total, so silent
    /// sockets cannot be opened past it; once named, their address's limit applies too,
    /// and a connection refused by address gives its place in the total back.
    #[test]
    fn connections_not_yet_named_count_in_the_total() {
        let limits = ConnLimits {
            max_connections: 3,
            max_per_address: 1,
            ..ConnLimits::default()
        };
        let admission = std::sync::Arc::new(Admission::default());
        let a: std::net::IpAddr = [10, 0, 0, 1].into();
        let silent: Vec<_> = (0..3)
            .map(|_| admission.admit_unnamed(&limits).expect("room"))
            .collect();
        assert_eq!(
            admission
                .admit_unnamed(&limits)
                .expect_err("full of silent sockets"),
            Refused::Full
        );
        drop(silent);
        let named = admission
            .admit_unnamed(&limits)
            .expect("room")
            .named(a, &limits)
            .expect("first from a");
        let second = admission.admit_unnamed(&limits).expect("room in the total");
        assert_eq!(
            second.named(a, &limits).expect_err("a holds its one"),
            Refused::Address
        );
        assert_eq!(admission.held().0, 1, "the refused one gave its place back");
        drop(named);
        assert_eq!(admission.held().0, 0);
        assert!(admission.held().1.is_empty());
    }
}
