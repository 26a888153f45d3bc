//! Counters for the doors: failed logins per address and per player, player creations per
//! address. Shared by every game pod (an attacker's next connection may land on another
//! pod), each one key with a window that starts at its first count.

use crate::{Store, StoreError};

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// Failed `connect`s from an address.
    FailedFromAddress,
    /// Failed `connect`s naming a player.
    FailedForPlayer,
    /// Players created from an address.
    CreatedFromAddress,
}

impl Door {
    fn tag(self) -> &'static str {
        match self {
            Self::FailedFromAddress => "fa",
            Self::FailedForPlayer => "fp",
            Self::CreatedFromAddress => "ca",
        }
    }
}

impl Store {
    fn door_key(&self, door: Door, who: &str) -> String {
        // Each counter in its own slot: a storm of one address's logins does not make
        // one hot key for the whole shard.
        format!("{}:door:{{{}:{who}}}", self.keys().prefix(), door.tag())
    }

    /// Adds one to `who`'s count at `door`, in a window of `window_ms` that starts with
    /// the first count; returns the count after adding.
    pub async fn door_count(
        &self,
        door: Door,
        who: &str,
        window_ms: u64,
    ) -> Result<u64, StoreError> {
        let key = self.door_key(door, who);
        self.timed("door_count", async {
            let (count,): (u64,) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(window_ms)
                .arg("NX")
                .ignore()
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("door count", who))?;
            Ok(count)
        })
        .await
    }

    /// `who`'s count at `door` in its current window (0 when none).
    pub async fn door_seen(&self, door: Door, who: &str) -> Result<u64, StoreError> {
        let key = self.door_key(door, who);
        self.timed("door_seen", async {
            let count: Option<u64> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("door read", who))?;
            Ok(count.unwrap_or(0))
        })
        .await
    }

    /// Takes one back from `who`'s count at `door` (an attempt counted up front that
    /// succeeded); the key goes at zero.
    pub async fn door_uncount(&self, door: Door, who: &str) -> Result<(), StoreError> {
        let key = self.door_key(door, who);
        self.timed("door_uncount", async {
            redis::Script::new(
                "local v = redis.call('DECR', KEYS[1]) if v <= 0 then redis.call('DEL', KEYS[1]) end return v",
            )
            .key(&key)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(StoreError::redis("door uncount", who))
        })
        .await
    }

    /// Forgets `who`'s count at `door` (a player who logged in is not held back by the
    /// failures before).
    pub async fn door_clear(&self, door: Door, who: &str) -> Result<(), StoreError> {
        let key = self.door_key(door, who);
        self.timed("door_clear", async {
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut self.conn())
                .await
                .map_err(StoreError::redis("door clear", who))
        })
        .await
    }
}
