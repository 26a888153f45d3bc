//! The Redis key layout of one shard.
//!
//! Every key of a connection lives in its *bucket*, a hash tag chosen as
//! `handle % buckets`. A bucket is one cluster slot, so everything one operation on a
//! connection touches (its record, its metadata, the bucket's active index and the
//! bucket's per-pod sets) can change in one atomic Lua script, and batched work (write-behind
//! flushes, reconciliation) becomes one pipeline per bucket instead of one request per
//! handle. With the default 256 buckets the slots spread over every master; no key is hot
//! on the command path.
//!
//! ```text
//! {prefix}:{s<b>}:c:<handle>    HASH  connection record (TTL)
//! {prefix}:{s<b>}:m:<handle>    HASH  free-form client metadata (same TTL)
//! {prefix}:{s<b>}:active        SET   handles of bucket b (index; repaired on read)
//! {prefix}:{s<b>}:pod:<pod>     SET   handles of bucket b assigned to <pod> (index)
//! {prefix}:pod:{<pod>}          HASH  pod heartbeat: addr, draining (short TTL)
//! {prefix}:pods                 SET   pods that ever heartbeated and were not deregistered
//! ```

use mush_proto::{Handle, PodId};

use crate::StoreError;

/// Builds key names for one shard prefix and bucket count.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
    buckets: u16,
}

impl Keys {
    /// Checks that the prefix cannot break a hash tag and that there is at least one bucket.
    pub fn new(prefix: &str, buckets: u16) -> Result<Self, StoreError> {
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= 64
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !prefix_ok {
            return Err(StoreError::Config(format!(
                "key prefix {prefix:?} must be 1-64 characters of A-Z a-z 0-9 - _ ."
            )));
        }
        if buckets == 0 {
            return Err(StoreError::Config("bucket count must be at least 1".into()));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            buckets,
        })
    }

    /// Number of index buckets.
    pub fn buckets(&self) -> u16 {
        self.buckets
    }

    /// The bucket a handle belongs to.
    pub fn bucket(&self, handle: Handle) -> u16 {
        // The remainder is < buckets <= u16::MAX, so the cast cannot truncate.
        (handle.0 % u64::from(self.buckets)) as u16
    }

    fn tag(&self, bucket: u16) -> String {
        format!("{}:{{s{bucket}}}", self.prefix)
    }

    /// The connection record.
    pub fn conn(&self, handle: Handle) -> String {
        format!("{}:c:{handle}", self.tag(self.bucket(handle)))
    }

    /// `conn` without the handle, for scripts that walk an index.
    pub fn conn_prefix(&self, bucket: u16) -> String {
        format!("{}:c:", self.tag(bucket))
    }

    /// `meta` without the handle.
    pub fn meta_prefix(&self, bucket: u16) -> String {
        format!("{}:m:", self.tag(bucket))
    }

    /// The connection's metadata hash.
    pub fn meta(&self, handle: Handle) -> String {
        format!("{}:m:{handle}", self.tag(self.bucket(handle)))
    }

    /// The connection's command journal (the last command run and unacknowledged replies).
    pub fn journal(&self, handle: Handle) -> String {
        format!("{}:j:{handle}", self.tag(self.bucket(handle)))
    }

    /// The active index of a bucket.
    pub fn active(&self, bucket: u16) -> String {
        format!("{}:active", self.tag(bucket))
    }

    /// The per-pod set of a bucket.
    pub fn pod_set(&self, bucket: u16, pod: &PodId) -> String {
        format!("{}{pod}", self.pod_set_prefix(bucket))
    }

    /// `pod_set` without the pod name, for scripts that learn the pod from the record.
    pub fn pod_set_prefix(&self, bucket: u16) -> String {
        format!("{}:pod:", self.tag(bucket))
    }

    /// A pod's heartbeat hash.
    pub fn heartbeat(&self, pod: &PodId) -> String {
        format!("{}:pod:{{{pod}}}", self.prefix)
    }

    /// Alive while any game pod of the shard heartbeats: a pod that finds it gone is
    /// starting the shard (see `Store::claim_shard_start`).
    pub fn shard_up(&self) -> String {
        format!("{}:up", self.prefix)
    }

    /// The registry of pods.
    pub fn pods(&self) -> String {
        format!("{}:pods", self.prefix)
    }

    /// The shard's prefix; every key above starts with it followed by `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').expect("tag");
        let close = key[open..].find('}').expect("close") + open;
        &key[open + 1..close]
    }

    #[test]
    fn a_connection_and_its_indexes_share_one_hash_tag() {
        let keys = Keys::new("shard-a", 256).expect("keys");
        let handle = Handle(1234);
        let pod = PodId::new("game-0").expect("pod");
        let bucket = keys.bucket(handle);
        let tag = hash_tag(&keys.conn(handle)).to_owned();
        assert_eq!(hash_tag(&keys.meta(handle)), tag);
        assert_eq!(hash_tag(&keys.active(bucket)), tag);
        assert_eq!(hash_tag(&keys.pod_set(bucket, &pod)), tag);
        assert!(keys.conn(handle).starts_with("shard-a:"));
        assert_eq!(hash_tag(&keys.heartbeat(&pod)), "game-0");
    }

    #[test]
    fn prefixes_that_break_hash_tags_are_refused() {
        for bad in ["", "a{b", "a}b", "a b", "a:b"] {
            assert!(Keys::new(bad, 16).is_err(), "{bad:?}");
        }
        assert!(Keys::new("ok", 0).is_err());
    }
}
