//! Sessions of web clients whose socket dropped, kept for a short while so the page can
//! re-attach without logging in again (a phone changing networks, a laptop lid, a proxy
//! that cut an idle socket).
//!
//! The page is given a fresh single-use token on each socket. When that socket drops
//! without the game having ended the session, the session is *parked* under the token:
//! it stays open on its pod and its output queues. A new socket from the same address
//! presenting the token within the lifetime takes the session over; otherwise the session
//! is closed as any dropped connection would have been.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::router::{Attachment, Router, lock};

/// Length of a token in bytes before hex encoding.
const TOKEN_BYTES: usize = 24;

/// A session between two sockets.
pub(crate) struct Held {
    /// The router's handles on the session (output keeps queuing here).
    pub attachment: Attachment,
    /// Whether the player is logged in (chooses the idle or the login timeout).
    pub logged_in: bool,
    /// When the timeout's clock started: the last typed line once logged in (the idle
    /// timeout), the connect screen's start before (the login timeout, which typing does
    /// not reset). Parking does not reset it.
    pub last_input: Instant,
}

struct Parked {
    held: Held,
    ip: IpAddr,
}

/// Why a token was not honoured.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ResumeError {
    /// Unknown, used, or expired.
    #[error("no session waits under that token (expired or already resumed)")]
    Unknown,
    /// Presented from another address than the one the session was on.
    #[error("the token belongs to a connection from another address")]
    OtherAddress,
}

/// The parked sessions of one gateway.
pub(crate) struct Resumes {
    ttl: Duration,
    parked: Mutex<HashMap<String, Parked>>,
}

impl Resumes {
    /// An empty table; `ttl` zero turns resuming off.
    pub(crate) fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            ttl,
            parked: Mutex::new(HashMap::new()),
        })
    }

    /// How long a dropped session waits.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new random token (hex), or `None` when the system has no randomness to give
    /// (then the page simply cannot resume).
    pub(crate) fn token() -> Option<String> {
        let mut bytes = [0u8; TOKEN_BYTES];
        if let Err(error) = getrandom::fill(&mut bytes) {
            tracing::warn!(%error, "no randomness for a resume token");
            return None;
        }
        Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Parks a session under `token` and closes it when nobody claims it in time (or when
    /// the gateway shuts down).
    pub(crate) fn park(
        self: &Arc<Self>,
        token: String,
        ip: IpAddr,
        held: Held,
        router: Arc<Router>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let handle = held.attachment.handle;
        lock(&self.parked).insert(token.clone(), Parked { held, ip });
        let resumes = self.clone();
        tokio::spawn(async move {
            let until = Instant::now() + resumes.ttl;
            let reason = loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break "resume window expired",
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break "gateway shutdown";
                        }
                    }
                }
            };
            let expired = lock(&resumes.parked).remove(&token);
            if expired.is_some() {
                tracing::debug!(%handle, reason, "parked web session closed");
                router.close(handle, reason).await;
            }
        });
    }

    /// Takes the session parked under `token` if `ip` is the address it was on. A token
    /// shown from another address stays valid for its owner.
    pub(crate) fn claim(&self, token: &str, ip: IpAddr) -> Result<Held, ResumeError> {
        let mut parked = lock(&self.parked);
        match parked.get(token) {
            None => Err(ResumeError::Unknown),
            Some(p) if p.ip != ip => Err(ResumeError::OtherAddress),
            Some(_) => parked
                .remove(token)
                .map(|p| p.held)
                .ok_or(ResumeError::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let a = Resumes::token().expect("token");
        let b = Resumes::token().expect("token");
        assert_eq!(a.len(), TOKEN_BYTES * 2);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
