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

use crate::v1::{Ack, Broadcast, Disconnect, Output, PodEvent, pod_event};

/// Largest text one event carries; longer texts go as several events, in order.
pub const TEXT_PIECE: usize = 64 * 1024;

/// Most sessions one [`Broadcast`] names: with a piece of text, an event stays well under
/// half a batch (a handle costs at most ten bytes).
pub const BROADCAST_HANDLES: usize = 4096;

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
        Some(pod_event::Kind::Broadcast(b))
            if b.text.len() > TEXT_PIECE || b.handles.len() > BROADCAST_HANDLES =>
        {
            let parts = cut(&b.text, TEXT_PIECE);
            let last = parts.len() - 1;
            let mut events = Vec::new();
            // Each session gets the pieces in order; a session is in one group only.
            for group in b.handles.chunks(BROADCAST_HANDLES) {
                for (i, text) in parts.iter().enumerate() {
                    let text = if i == last {
                        text
                    } else {
                        text.strip_suffix('\n').unwrap_or(text)
                    };
                    events.push(wrap(pod_event::Kind::Broadcast(Broadcast {
                        handles: group.to_vec(),
                        text: text.to_owned(),
                    })));
                }
            }
            events
        }
        kind => vec![PodEvent { kind }],
    }
}

/// The event as it leaves for a gateway: in [`pieces`], and with a broadcast made plain
/// output per session unless the gateway said it reads broadcasts (`broadcast`).
pub fn outgoing(event: pod_event::Kind, broadcast: bool) -> Vec<PodEvent> {
    let kinds = match event {
        pod_event::Kind::Broadcast(_) if !broadcast => without_broadcast(event),
        event => vec![event],
    };
    kinds
        .into_iter()
        .flat_map(|kind| pieces(PodEvent { kind: Some(kind) }))
        .collect()
}

/// The event as a gateway that does not read [`Broadcast`] needs it: a broadcast becomes
/// one [`Output`] per session, in the order of its handles.
fn without_broadcast(event: pod_event::Kind) -> Vec<pod_event::Kind> {
    match event {
        pod_event::Kind::Broadcast(b) => b
            .handles
            .into_iter()
            .map(|handle| {
                pod_event::Kind::Output(Output {
                    handle,
                    text: b.text.clone(),
                    prompt: false,
                })
            })
            .collect(),
        kind => vec![kind],
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

    /// What each session would show for `events`: its texts joined as the gateway joins
    /// them (each text ends a line).
    fn shown(events: &[PodEvent]) -> std::collections::BTreeMap<u64, String> {
        let mut shown = std::collections::BTreeMap::<u64, String>::new();
        let mut add = |handle, text: &str| {
            let out = shown.entry(handle).or_default();
            out.push_str(text);
            out.push('\n');
        };
        for event in events {
            match event.kind.as_ref() {
                Some(pod_event::Kind::Output(o)) => add(o.handle, &o.text),
                Some(pod_event::Kind::Broadcast(b)) => {
                    for &handle in &b.handles {
                        add(handle, &b.text);
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        shown
    }

    #[test]
    fn a_large_broadcast_becomes_pieces_every_listener_reads_once_in_order() {
        let text = format!(
            "{}\n{}",
            "a".repeat(TEXT_PIECE - 10),
            "b".repeat(TEXT_PIECE)
        );
        let cases: &[(usize, &str, usize)] = &[
            // (listeners, text, events expected)
            (3, "hello", 1),
            (BROADCAST_HANDLES, "hello", 1),
            (BROADCAST_HANDLES + 1, "hello", 2),
            (3, &text, 2),
            (BROADCAST_HANDLES * 2 + 5, &text, 6),
        ];
        for &(listeners, text, want) in cases {
            let handles: Vec<u64> = (0..listeners as u64).map(|h| h * 1_000_003).collect();
            let events = pieces(PodEvent {
                kind: Some(pod_event::Kind::Broadcast(Broadcast {
                    handles: handles.clone(),
                    text: text.to_owned(),
                })),
            });
            assert_eq!(events.len(), want, "{listeners} listeners");
            for event in &events {
                assert!(
                    event.encoded_len() <= BATCH_BYTES / 2,
                    "{}",
                    event.encoded_len()
                );
            }
            let shown = shown(&events);
            assert_eq!(shown.len(), listeners);
            for handle in handles {
                assert_eq!(shown[&handle], format!("{text}\n"), "handle {handle}");
            }
        }
    }

    #[test]
    fn an_older_gateway_gets_a_broadcast_as_output_to_each_listener() {
        let broadcast = pod_event::Kind::Broadcast(Broadcast {
            handles: vec![9, 4, 7],
            text: "Bob has arrived.".into(),
        });
        let outputs: Vec<(u64, String, bool)> = without_broadcast(broadcast)
            .into_iter()
            .map(|kind| match kind {
                pod_event::Kind::Output(o) => (o.handle, o.text, o.prompt),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let want = |h| (h, "Bob has arrived.".to_owned(), false);
        assert_eq!(outputs, [want(9), want(4), want(7)]);
        // Anything else passes as it is.
        let ack = pod_event::Kind::Ack(Ack {
            handle: 1,
            seq: 2,
            text: "ok".into(),
        });
        assert_eq!(without_broadcast(ack.clone()), [ack]);
    }
}
