//! The command journal: which of a session's commands have run, and what they answered.
//!
//! A game pod commits each command with an effect beyond its own reply (a world write,
//! output to others, a login) here (one atomic script in the connection's slot) *before*
//! any of its output leaves the pod, together with the replies of earlier effect-free
//! commands not yet acknowledged. So when a pod dies and the gateway re-sends the commands
//! it never saw acknowledged, the next pod knows which of them already ran and answers
//! those from the journal instead of running them again; effect-free commands after the
//! last journalled one simply run again (nobody saw their first run). A reply is kept until the
//! gateway says it has seen the acknowledgement (`Input.acked`), so the journal holds only
//! the replies still in flight, usually none or one.

use mush_proto::Handle;

use crate::Store;
use crate::error::StoreError;
use crate::scripts::COMMIT;

impl Store {
    /// Records that the commands of `handle` up to `seq` ran, with the `replies` given
    /// (`(seq, reply)`: the last command's, and any earlier ones not yet journalled whose
    /// acknowledgement the gateway has not seen), forgetting the replies up to
    /// `forget_upto` (the gateway has them). `others` is command `seq`'s output to other
    /// sessions, as the game encoded it (empty: none), kept with the reply so that a pod
    /// answering the command again from the journal sends it again too (gateways drop
    /// what they already passed on). Synchronous and idempotent: a retry after an
    /// unknown outcome writes the same thing again. Fails with [`StoreError::NotFound`] if
    /// the connection is gone.
    pub async fn commit_commands(
        &self,
        handle: Handle,
        seq: u64,
        replies: &[(u64, &str)],
        others: &[u8],
        forget_upto: u64,
    ) -> Result<(), StoreError> {
        self.timed("commit_command", async {
            let mut call = COMMIT.prepare_invoke();
            call.key(self.keys.conn(handle))
                .key(self.keys.journal(handle))
                .arg(self.ttl_ms)
                .arg(seq)
                .arg(forget_upto)
                .arg(others);
            for (seq, reply) in replies {
                call.arg(*seq).arg(*reply);
            }
            let written: i64 = call
                .invoke_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("commit command", handle))?;
            if written == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound(handle))
            }
        })
        .await
    }

    /// The newest command of `handle` that ran (0 if none did).
    pub async fn last_committed(&self, handle: Handle) -> Result<u64, StoreError> {
        self.timed("last_committed", async {
            let seq: Option<u64> = redis::cmd("HGET")
                .arg(self.keys.journal(handle))
                .arg("seq")
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read journal", handle))?;
            Ok(seq.unwrap_or(0))
        })
        .await
    }

    /// The journalled reply of command `seq`; `None` once the gateway acknowledged it (or if
    /// it never ran).
    pub async fn committed_reply(
        &self,
        handle: Handle,
        seq: u64,
    ) -> Result<Option<String>, StoreError> {
        self.timed("committed_reply", async {
            redis::cmd("HGET")
                .arg(self.keys.journal(handle))
                .arg(format!("r{seq}"))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read journal", handle))
        })
        .await
    }

    /// Command `seq`'s journalled output to others (empty once acknowledged, or if none).
    pub async fn committed_others(&self, handle: Handle, seq: u64) -> Result<Vec<u8>, StoreError> {
        self.timed("committed_reply", async {
            let others: Option<Vec<u8>> = redis::cmd("HGET")
                .arg(self.keys.journal(handle))
                .arg(format!("o{seq}"))
                .query_async(&mut self.conn())
                .await
                .map_err(StoreError::redis("read journal", handle))?;
            Ok(others.unwrap_or_default())
        })
        .await
    }
}
