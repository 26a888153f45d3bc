//! Library side of the `mush` binary: a whole shard on loopback, as real processes.
//!
//! `mush dev`, the data-plane tests and the load driver all start shards the same way:
//! a Redis Cluster and a NATS server from `mush-harness`, game pods and a gateway as
//! child processes of the `mush` executable. Every process dies with the `Shard`.
//!
//! All of it is test and development machinery, so it exists only with the `dev` feature:
//! the release binary that production images carry has no harness in it.

#[cfg(feature = "dev")]
pub mod shard;
