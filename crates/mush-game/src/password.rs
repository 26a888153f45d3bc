//! Argon2id password hashes, computed off the async threads.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Cost parameters of new hashes. Verification reads the parameters stored in each hash,
/// so raising them later only affects passwords set afterwards.
#[derive(Clone, Copy, Debug)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
}

impl Default for PasswordCost {
    /// 2 MiB, 1 pass: about 2 ms on the 2-core development machine, which keeps a
    /// whole login (hash, Redis, the room's announcements) under 5 ms there. That is below
    /// OWASP's argon2id minimum (19 MiB x 2); a shard that can spend more per login raises
    /// `--password-memory-kib`, and old hashes keep verifying with their own parameters.
    fn default() -> Self {
        Self {
            memory_kib: 2048,
            iterations: 1,
        }
    }
}

/// Hashes and verifies player passwords on a small pool of its own threads (one per core).
///
/// Each hash takes its whole memory cost at once (2 MiB by default). On tokio's blocking
/// pool a login storm ran dozens at a time on ever-changing threads, and the allocator
/// kept their freed buffers: a game pod grew to 180-260 MB after 300 logins, against
/// 26 MB with a 64 KiB cost. The hashing is CPU-bound, so more at once than cores only
/// queues on the CPU anyway; on a fixed pool, each thread reuses its own buffer, memory
/// stays at cores x cost, and logins finish no later.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

/// Work for the pool; it answers through its own channel.
type Job = Box<dyn FnOnce(&Argon2<'static>) + Send>;

/// Hashes waiting for a thread of the pool, beyond which callers wait their turn.
const WAITING: usize = 1024;

/// A hash could not be made (bad parameters) or the worker thread failed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHasher {
    /// A hasher with the given cost, and its threads.
    pub fn new(cost: PasswordCost) -> Result<Self, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .map_err(|e| HashError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(WAITING);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        for n in 0..cores {
            let (queue, argon) = (queue.clone(), argon.clone());
            // Each thread keeps its own copy of the parameters.
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take a job; a poisoned one still works.
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            // A job that panics must not take the thread with it; its
                            // caller sees its answer channel dropped.
                            Ok(job) => {
                                let run = std::panic::AssertUnwindSafe(|| job(&argon));
                                if std::panic::catch_unwind(run).is_err() {
                                    tracing::error!("a password hash panicked");
                                }
                            }
                            // Every hasher was dropped: the pool ends.
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashError(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on the pool; waits (without blocking the runtime) while the pool is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut job: Job = Box::new(move |argon| {
            let _ = tx.send(f(argon));
        });
        loop {
            match self.jobs.try_send(job) {
                Ok(()) => break,
                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                    job = back;
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    return Err(HashError("the hashing threads are gone".into()));
                }
            }
        }
        rx.await
            .map_err(|_| HashError("a hashing thread failed".into()))
    }

    /// A PHC-format hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move |argon| {
            argon
                .hash_password(password.as_bytes())
                .map(|hash: PasswordHash| hash.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await?
    }

    /// True if `password` matches `hash`; false for a wrong password or an unreadable hash.
    pub async fn verify(&self, password: &str, hash: &str) -> bool {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move |argon| {
            PasswordHash::new(&hash)
                .is_ok_and(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let hasher = PasswordHasher::new(PasswordCost::default()).expect("hasher");
        let hash = hasher.hash("potrzebie").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("potrzebie", &hash).await);
        assert!(!hasher.verify("Potrzebie", &hash).await);
        assert!(!hasher.verify("potrzebie", "not a hash").await);
    }
}
