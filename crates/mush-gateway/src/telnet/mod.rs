//! Telnet: the wire codec, option negotiation, and the connection task.

pub mod codec;
mod conn;
pub mod options;

pub(crate) use conn::serve;
pub use options::MsspStatus;
