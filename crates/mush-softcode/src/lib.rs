//! The MUSH softcode evaluator, in TinyMUX 2.12's dialect.
//!
//! Pure: it parses ([`ast`]), evaluates ([`eval`]) and runs built-in functions
//! ([`functions`]) over a world it sees only through the [`world::World`] trait, so it is
//! tested by fast table tests on [`memory::MemoryWorld`] and runs in a game pod over its
//! cache. Every limit (invocations, nesting, steps, buffer length) is enforced here, so
//! hostile code costs a bounded amount of work wherever it runs.

pub mod ast;
pub mod attrdef;
pub mod command;
pub mod dollar;
pub mod eval;
pub mod functions;
pub mod hooks;
pub mod listen;
pub mod lock;
pub mod memory;
pub mod powers;
pub mod queue;
pub mod userfn;
pub mod wild;
pub mod world;

pub use eval::{Emit, Eval, Frame, Limits, R};
pub use world::{
    Attr, AttrFlags, Change, Connection, Dbref, Kind, Miss, NOTHING, Object, QueueView, Queued,
    Search, Secret, World,
};
