//! Telnet bytes in socket-sized chunks through the decoder and option negotiation. The
//! first byte picks the line limit, the next eight where reads split the rest.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&limit, rest)) = data.split_first() else {
            return;
        };
        let (cuts, bytes) = rest.split_at(rest.len().min(8));
        mush_gateway::fuzzing::telnet(bytes, cuts, usize::from(limit) * 16);
    });
}
