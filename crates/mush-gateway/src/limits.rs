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

/// A connection let in; dropping it makes room again.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: std::sync::Arc<Admission>,
    ip: std::net::IpAddr,
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
        let mut held = self.held();
        if held.0 >= limits.max_connections {
            return Err(Refused::Full);
        }
        let from = held.1.entry(ip).or_default();
        if *from >= limits.max_per_address {
            return Err(Refused::Address);
        }
        *from += 1;
        held.0 += 1;
        Ok(Admitted {
            admission: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut held = self.admission.held();
        held.0 = held.0.saturating_sub(1);
        if let Some(from) = held.1.get_mut(&self.ip) {
            *from -= 1;
            if *from == 0 {
                held.1.remove(&self.ip);
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

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
    }

    /// Takes a token if one is there.
    pub fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token is due.
    pub fn next_token(&mut self) -> Instant {
        self.refill();
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
}
