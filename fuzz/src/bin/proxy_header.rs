//! PROXY protocol version 2 headers, as a balancer (or someone reaching past it) sends.
fn main() {
    afl::fuzz!(|data: &[u8]| mush_gateway::fuzzing::proxy_header(data));
}
