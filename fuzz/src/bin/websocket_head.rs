//! The WebSocket port's HTTP request head, and typed text cleaned of control characters.
fn main() {
    afl::fuzz!(|data: &[u8]| mush_gateway::fuzzing::websocket_head(data));
}
