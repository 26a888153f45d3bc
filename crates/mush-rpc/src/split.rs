//! Keeping every message under [`crate::MAX_MESSAGE`]: long texts are cut into pieces and
//! batches are filled by bytes, not only by count.
//!
//! One player's output can be as large as it likes (an `examine` of an object with many
//! 8 KiB attributes, a `say` with a long line in a crowded room, a rescue that re-sends a
//! long backlog). A message over the cap would end the whole stream between a gateway and
//! a pod, and with it every other session on it; the command re-sent after that would
//! break the next pod's stream too. So no event may be larger than a piece, and no batch
//! larger than [`BATCH_BYTES`].

use prost::Message;

use crate::v1::{Ack, Disconnect, Output, PodEvent, pod_event};

/// Largest text one event carries; longer texts go as several events, in order.
pub const TEXT_PIECE: usize = 64 * 1024;

/// A batch is closed once it holds this many bytes (encoded); with events at most a
/// piece and some framing, every batch stays far below [`crate::MAX_MESSAGE`].
pub const BATCH_BYTES: usize = 256 * 1024;

/// Cuts `text` into pieces of at most `max` bytes, at a line end where there is one, else
/// at a character boundary. Joined, the pieces are `text` again.
pub fn cut(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        // At a line end if one is in the second half of the piece (keeps lines whole).
        if let Some(newline) = rest[..end].rfind('\n')
            && newline + 1 >= end / 2
        {
            end = newline + 1;
        }
        if end == 0 {
            // `max` smaller than one character: take the character anyway.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces.push(rest);
    pieces
}

/// The event as events of at most [`TEXT_PIECE`] bytes of text each, in order: the
/// leading pieces of a long acknowledgement's reply or of a disconnect's last words go
/// as plain output to the same session, the acknowledgement or disconnect last. (A pod
/// that dies between them has its command answered again from the journal, so the first
/// pieces of such a reply can show twice; nothing is lost.)
pub fn pieces(event: PodEvent) -> Vec<PodEvent> {
    let wrap = |kind| PodEvent { kind: Some(kind) };
    let output = |handle, text: &str| {
        wrap(pod_event::Kind::Output(Output {
            handle,
            text: text.to_owned(),
            prompt: false,
        }))
    };
    match event.kind {
        Some(pod_event::Kind::Output(o)) if o.text.len() > TEXT_PIECE => {
            let parts = cut(&o.text, TEXT_PIECE);
            let last = parts.len() - 1;
            parts
                .into_iter()
                .enumerate()
                .map(|(i, text)| {
                    // The gateway ends each text with a line end: a piece cut after a
                    // '\n' drops it, as the gateway adds it back.
                    let text = if i == last {
                        text
                    } else {
                        text.strip_suffix('\n').unwrap_or(text)
                    };
                    wrap(pod_event::Kind::Output(Output {
                        handle: o.handle,
                        text: text.to_owned(),
                        // Only the last piece can be the prompt.
                        prompt: o.prompt && i == last,
                    }))
                })
                .collect()
        }
        Some(pod_event::Kind::Ack(a)) if a.text.len() > TEXT_PIECE => {
            let mut parts = cut(&a.text, TEXT_PIECE);
            let last = parts.pop().unwrap_or_default();
            // The reply's lines are joined with '\n' and the gateway ends each text with
            // a line end: a piece cut after a '\n' drops it, as the gateway adds it back.
            let mut events: Vec<PodEvent> = parts
                .into_iter()
                .map(|p| output(a.handle, p.strip_suffix('\n').unwrap_or(p)))
                .collect();
            events.push(wrap(pod_event::Kind::Ack(Ack {
                handle: a.handle,
                seq: a.seq,
                text: last.to_owned(),
            })));
            events
        }
        Some(pod_event::Kind::Disconnect(d)) if d.text.len() > TEXT_PIECE => {
            let mut parts = cut(&d.text, TEXT_PIECE);
            let last = parts.pop().unwrap_or_default();
            let mut events: Vec<PodEvent> = parts
                .into_iter()
                .map(|p| output(d.handle, p.strip_suffix('\n').unwrap_or(p)))
                .collect();
            events.push(wrap(pod_event::Kind::Disconnect(Disconnect {
                handle: d.handle,
                text: last.to_owned(),
            })));
            events
        }
        kind => vec![PodEvent { kind }],
    }
}

/// Groups `events` into runs of at most [`BATCH_BYTES`] encoded bytes each (an event
/// alone over that, which [`pieces`] prevents, still goes alone), in order.
pub fn by_bytes<M: Message>(events: Vec<M>, max: usize) -> Vec<Vec<M>> {
    let mut groups = Vec::new();
    let mut group = Vec::new();
    let mut bytes = 0;
    for event in events {
        // Each repeated element costs its length and a few bytes of framing.
        let size = event.encoded_len() + 8;
        if !group.is_empty() && bytes + size > max {
            groups.push(std::mem::take(&mut group));
            bytes = 0;
        }
        bytes += size;
        group.push(event);
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(events: &[PodEvent]) -> Vec<(&'static str, usize, bool)> {
        events
            .iter()
            .map(|e| match e.kind.as_ref() {
                Some(pod_event::Kind::Output(o)) => ("output", o.text.len(), o.prompt),
                Some(pod_event::Kind::Ack(a)) => ("ack", a.text.len(), false),
                Some(pod_event::Kind::Disconnect(d)) => ("disconnect", d.text.len(), false),
                _ => ("other", 0, false),
            })
            .collect()
    }

    #[test]
    fn cuts_at_line_ends_or_character_boundaries_and_loses_nothing() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("", 4, &[""]),
            ("abcd", 4, &["abcd"]),
            ("abcdef", 4, &["abcd", "ef"]),
            ("ab\ncdef", 4, &["ab\n", "cdef"]),
            // A line end early in the piece is not worth a short piece.
            ("a\nbcdefgh", 6, &["a\nbcde", "fgh"]),
            // Never inside a character (é is two bytes).
            ("aébc", 2, &["a", "é", "bc"]),
            ("ééé", 3, &["é", "é", "é"]),
            // A limit below one character still moves forward.
            ("€x", 1, &["€", "x"]),
        ];
        for (text, max, want) in cases {
            let got = cut(text, *max);
            assert_eq!(&got, want, "cut({text:?}, {max})");
            assert_eq!(got.concat(), *text);
        }
    }

    #[test]
    fn long_texts_become_pieces_with_the_ack_or_disconnect_last() {
        let long = "x".repeat(TEXT_PIECE * 2 + 10);
        let output = |prompt| PodEvent {
            kind: Some(pod_event::Kind::Output(Output {
                handle: 7,
                text: long.clone(),
                prompt,
            })),
        };
        assert_eq!(
            text_of(&pieces(output(true))),
            [
                ("output", TEXT_PIECE, false),
                ("output", TEXT_PIECE, false),
                ("output", 10, true)
            ]
        );
        let ack = PodEvent {
            kind: Some(pod_event::Kind::Ack(Ack {
                handle: 7,
                seq: 3,
                text: long.clone(),
            })),
        };
        assert_eq!(
            text_of(&pieces(ack)),
            [
                ("output", TEXT_PIECE, false),
                ("output", TEXT_PIECE, false),
                ("ack", 10, false)
            ]
        );
        let bye = PodEvent {
            kind: Some(pod_event::Kind::Disconnect(Disconnect {
                handle: 7,
                text: long.clone(),
            })),
        };
        assert_eq!(
            text_of(&pieces(bye)),
            [
                ("output", TEXT_PIECE, false),
                ("output", TEXT_PIECE, false),
                ("disconnect", 10, false)
            ]
        );
        // Short events pass as they are.
        let short = PodEvent {
            kind: Some(pod_event::Kind::Output(Output {
                handle: 1,
                text: "hi".into(),
                prompt: false,
            })),
        };
        assert_eq!(pieces(short.clone()), [short]);
    }

    #[test]
    fn batches_stay_under_their_byte_budget() {
        let events: Vec<PodEvent> = (0..100)
            .flat_map(|_| {
                pieces(PodEvent {
                    kind: Some(pod_event::Kind::Output(Output {
                        handle: 1,
                        text: "y".repeat(50_000),
                        prompt: false,
                    })),
                })
            })
            .collect();
        let groups = by_bytes(events, BATCH_BYTES);
        assert!(groups.len() > 1);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 100);
        for group in &groups {
            let batch = crate::v1::PodBatch {
                events: group.clone(),
            };
            assert!(
                batch.encoded_len() <= BATCH_BYTES,
                "{}",
                batch.encoded_len()
            );
        }
    }
}
