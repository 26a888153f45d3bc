//! Delivery ids seen lately: a pod that died before it knew its output arrived has it sent
//! again under the same id (from the outbox or the journal), and this set drops the copy.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How long an id is remembered: a repeat comes within a lease or two of the original
/// (seconds), or when a re-sent command is answered from the journal (as long as the
/// gateway keeps re-sending it, well under this).
pub(crate) const REMEMBER: Duration = Duration::from_secs(300);

/// Most ids remembered; the oldest go first beyond this.
pub(crate) const MAX_IDS: usize = 200_000;

/// Ids seen lately, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    ids: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl Seen {
    /// True the first time `id` is offered (within [`REMEMBER`]); false for a repeat.
    pub(crate) fn first(&mut self, id: &str, now: Instant) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) <= REMEMBER && self.order.len() < MAX_IDS {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        if self.ids.contains(id) {
            return false;
        }
        self.ids.insert(id.to_owned());
        self.order.push_back((now, id.to_owned()));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_dropped_until_forgotten() {
        let start = Instant::now();
        let mut seen = Seen::default();
        let cases = [
            ("a", 0, true),
            ("a", 1, false),
            ("b", 2, true),
            ("a", 299, false),
            // `a` was seen at 0 s: forgotten after REMEMBER, so it counts as new again.
            ("a", 301, true),
            ("b", 301, false),
        ];
        for (id, at, first) in cases {
            let now = start + Duration::from_secs(at);
            assert_eq!(seen.first(id, now), first, "{id} at {at} s");
        }
    }

    #[test]
    fn memory_is_bounded() {
        let now = Instant::now();
        let mut seen = Seen::default();
        for n in 0..MAX_IDS + 10 {
            assert!(seen.first(&n.to_string(), now));
        }
        assert!(seen.len() <= MAX_IDS);
        // The newest are still remembered.
        assert!(!seen.first(&(MAX_IDS + 9).to_string(), now));
    }
}
