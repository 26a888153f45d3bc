//! What every transport does the same way with a player's session: when it times out,
//! how a typed line reaches the router, and the words the player is told.

use mush_proto::Handle;
use tokio::time::Instant;

use crate::limits::ConnLimits;
use crate::router::{InputError, Router};

/// Told when the router already holds as many unacknowledged commands as it allows.
pub(crate) const BACKLOG: &str =
    "Too many commands are waiting for the game; that one was not sent.";
/// Told when the gateway stops (a rolling update of gateways).
pub(crate) const SHUTTING_DOWN: &str = "The gateway is shutting down; please reconnect.";

/// When the session times out: idle timeout once logged in, login timeout before.
/// `last_input` is when that clock started (see the transports: before login it is the
/// connect screen's start, so typing there does not hold it off).
pub(crate) fn deadline(limits: &ConnLimits, last_input: Instant, logged_in: bool) -> Instant {
    last_input
        + if logged_in {
            limits.idle_timeout
        } else {
            limits.login_timeout
        }
}

/// The goodbye line of a timed-out session.
pub(crate) fn timeout_notice(logged_in: bool) -> &'static str {
    if logged_in {
        "You have been idle too long. Goodbye!"
    } else {
        "Connect timed out. Goodbye!"
    }
}

/// A typed line as it may reach other players: a tab becomes a space and every other
/// control character (C0, DEL, C1) is dropped, so nobody can send escape sequences or
/// forge a line break into someone else's terminal. The telnet decoder already drops C0
/// bytes; this covers the C1 range for it and everything for WebSocket text.
pub(crate) fn clean(line: &str) -> String {
    line.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Hands one typed line to the router, refreshing the connection's last-seen time (except
/// for `IDLE`, the keep-alive that must not count as activity). `Ok(Some(notice))` when
/// the line was refused and the player should be told; `Err` when the session is gone.
pub(crate) fn submit(
    router: &Router,
    handle: Handle,
    line: String,
) -> Result<Option<&'static str>, InputError> {
    let line = clean(&line);
    if !line.trim().eq_ignore_ascii_case("IDLE")
        && let Err(error) = router.store().touch(handle)
    {
        tracing::debug!(%error, "touch not queued");
    }
    match router.input(handle, line) {
        Ok(()) => Ok(None),
        Err(InputError::Backlog) => {
            router.metrics().input_refused.inc();
            Ok(Some(BACKLOG))
        }
        Err(error @ InputError::Gone) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn control_characters_never_reach_other_terminals() {
        assert_eq!(clean("say hi"), "say hi");
        assert_eq!(clean("say a\tb"), "say a b");
        assert_eq!(clean("say \u{1b}[2Jgone"), "say [2Jgone");
        assert_eq!(clean("say x\u{9b}31mred\u{7f}"), "say x31mred");
        assert_eq!(clean("say x\rYou paged y"), "say xYou paged y");
        assert_eq!(clean("say héllo ✓"), "say héllo ✓");
    }
}
