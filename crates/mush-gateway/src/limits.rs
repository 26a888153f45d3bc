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
    /// has not arrived after this long.
    pub head_timeout: Duration,
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
}
