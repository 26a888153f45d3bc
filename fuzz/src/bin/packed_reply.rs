//! The packed (MessagePack) reply Redis returns for a bucket of connection records.
fn main() {
    afl::fuzz!(|data: &[u8]| mush_store::fuzzing::packed_reply(data));
}
