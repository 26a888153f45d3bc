//! The evaluator alone, on the in-memory world: how long the two benchmark commands of
//! `scripts/bench-dataplane` spend evaluating, without sockets, gateway or Redis.
//!
//! ```text
//! cargo run --release -p mush-softcode --example eval_bench
//! ```

use std::time::Instant;

use mush_softcode::command;
use mush_softcode::memory::MemoryWorld;
use mush_softcode::{Eval, Frame, Limits};

fn run(world: &mut MemoryWorld, line: &str) -> usize {
    let frame = Frame {
        executor: 1,
        caller: 1,
        enactor: 1,
        args: &[],
    };
    let mut ev = Eval::new(world, Limits::default());
    let _ = command::run(&mut ev, &frame, line);
    ev.emits.len()
}

fn main() {
    let mut world = MemoryWorld::new();
    run(&mut world, "@create SCP");
    run(&mut world, "@create SCC");
    for i in 1..10 {
        run(
            &mut world,
            &format!("&F{i} SCP=[u(me/F{},add(%0,1))]", i + 1),
        );
    }
    run(&mut world, "&F10 SCP=[add(%0,1)]");
    run(&mut world, "@parent SCC=SCP");
    for (label, line) in [
        (
            "think [iter(lnum(1,1000),add(##,1))]",
            "think [iter(lnum(1,1000),add(##,1))]",
        ),
        ("10 nested u() over a parent", "think [u(SCC/F1,1)]"),
        ("think, no functions", "think hello"),
    ] {
        let rounds = 2000;
        let started = Instant::now();
        for _ in 0..rounds {
            run(&mut world, line);
        }
        let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("{label:<40} {per:>8.1} us per command");
    }
    // The worst a command can cost: work until a limit stops it.
    run(&mut world, "&b me=[u(me/b)][u(me/b)]");
    for (label, line) in [
        ("hostile: exponential u()", "think [u(me/b)]"),
        (
            "hostile: nested loops, no calls",
            "think [iter(lnum(1800),iter(lnum(1800),{x y z}))]",
        ),
    ] {
        let started = Instant::now();
        run(&mut world, line);
        println!(
            "{label:<40} {:>8.1} ms until a limit stops it",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
}
