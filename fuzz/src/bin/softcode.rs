//! Lines typed by a wizard into an in-memory world: the command parser, the evaluator, its
//! functions, `$`-commands and listens, under the limits a game pod runs them with. A
//! panic is a finding; so is a line that runs past AFL's time limit (`scripts/fuzz` sets
//! it), since hostile code must stay bounded.
use mush_softcode::command;
use mush_softcode::memory::MemoryWorld;
use mush_softcode::{Eval, Frame, Limits};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(&data[..data.len().min(4096)]);
        let mut world = MemoryWorld::new();
        let frame = Frame {
            executor: 1,
            caller: 1,
            enactor: 1,
            args: &[],
        };
        for line in text.lines().take(16) {
            let mut ev = Eval::new(&mut world, Limits::default());
            let _ = command::typed(&mut ev, &frame, line);
        }
    });
}
