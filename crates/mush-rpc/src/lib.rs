//! The gateway <-> game pod protocol, generated from `proto/mush.proto`.
//!
//! Size limits live here so both ends enforce the same numbers.

#![allow(missing_docs)]

/// Generated protobuf messages and tonic client/server for package `mush.v1`.
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod v1 {
    tonic::include_proto!("mush.v1");
}

pub mod split;
pub mod tls;

/// The rustls this crate builds its configs with, so users need no dependency of their
/// own to keep in step.
pub use tokio_rustls;

/// The message trait, for code that stores a message (the journal keeps a command's
/// output to others as [`v1::Journalled`]).
pub use prost::Message;

/// Largest gRPC message either end accepts or sends. A batch holds many events, but a
/// single input line is capped at [`MAX_LINE`] and output is flushed in pieces, so 1 MiB
/// leaves room without letting one peer make the other allocate without bound.
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// Longest input line a player may send (bytes, after telnet decoding).
pub const MAX_LINE: usize = 8 * 1024;

/// The `SessionClose` reason of a connection the game asked to close (`Disconnect`): a
/// pod that still has a player in that session learns it was `@boot`ed (QUIT leaves the
/// world before asking), which `@adisconnect` tells apart from a network failure.
pub const CLOSED_BY_GAME: &str = "closed by the game";
