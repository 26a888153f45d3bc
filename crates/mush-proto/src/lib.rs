//! Identifiers and connection facts shared by every mush-on-kube process.
//!
//! This crate sits at the bottom of the dependency graph: the state store, the gateway, the
//! game pods and the operator all speak in these types, so a handle or a pod id means the
//! same thing on every side of a Redis key or a gRPC stream.

use std::fmt;
use std::str::FromStr;

/// A player connection, unique across every gateway of a shard for the shard's lifetime.
///
/// Gateways allocate handles in blocks from Redis, so a handle is never reused; the store
/// relies on that to repair its indexes without racing a new session of the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub u64);

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Handle {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .map(Handle)
            .map_err(|_| IdError::Handle(s.to_owned()))
    }
}

/// Rejects identifiers that would break a Redis key or a hash tag.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a decimal u64.
    #[error("not a connection handle: {0:?}")]
    Handle(String),
    /// Empty, too long, or with characters outside `[A-Za-z0-9._-]`.
    #[error("invalid {kind} {value:?}: use 1-253 characters of A-Z a-z 0-9 . _ -")]
    Name {
        /// Which kind of name.
        kind: &'static str,
        /// The rejected value.
        value: String,
    },
}

fn check_name(kind: &'static str, value: &str) -> Result<(), IdError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(IdError::Name {
            kind,
            value: value.to_owned(),
        })
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates the name: it becomes part of Redis keys, so only DNS-label-like
            /// characters are allowed (a Kubernetes pod name always passes).
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_name($kind, &value)?;
                Ok(Self(value))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

name_type!(
    /// A game pod: in Kubernetes its pod name, in `mush dev` a generated name.
    PodId,
    "pod id"
);
name_type!(
    /// A gateway process, which owns the players' sockets.
    GatewayId,
    "gateway id"
);

/// Where a connection is in its life: before or after `connect <name> <password>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// At the connect screen.
    Connected,
    /// Bound to a player object.
    LoggedIn,
}

/// How the player reached the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnType {
    /// Raw TCP with telnet negotiation.
    Telnet,
    /// A browser over WebSocket.
    WebSocket,
}

macro_rules! wire_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The stable text form used in Redis and on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownValue { kind: stringify!($name), value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(ConnState { Connected => "connected", LoggedIn => "logged-in" });
wire_enum!(ConnType { Telnet => "telnet", WebSocket => "websocket" });

/// A stored text that names no known variant: a newer writer, or a corrupted record.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    /// The enum that was parsed.
    pub kind: &'static str,
    /// The rejected text.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_key_breaking_characters() {
        assert!(PodId::new("game-7f9c4-abcde").is_ok());
        for bad in ["", "a{b", "a}b", "a b", "a:b", &"x".repeat(254)] {
            assert!(PodId::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn enums_round_trip_through_text() {
        for state in [ConnState::Connected, ConnState::LoggedIn] {
            assert_eq!(state.as_str().parse::<ConnState>(), Ok(state));
        }
        for kind in [ConnType::Telnet, ConnType::WebSocket] {
            assert_eq!(kind.as_str().parse::<ConnType>(), Ok(kind));
        }
        assert!("bogus".parse::<ConnState>().is_err());
        assert_eq!("42".parse::<Handle>(), Ok(Handle(42)));
        assert!("-1".parse::<Handle>().is_err());
    }
}
