//! Argon2id password hashes, computed off the async threads.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
    /// 7 MiB, 5 passes: OWASP's argon2id minimum in its least-memory form (OWASP lists
    /// 19 MiB x 2, 12 MiB x 3, 9 MiB x 4 and 7 MiB x 5 as equal). All four cost about the
    /// same time (15-26 ms a hash on the 2-core development machine, 7 MiB x 5 the
    /// cheapest); the least memory keeps a pod's hashing threads at 7 MiB each. A shard
    /// that cannot spend that per login lowers `--password-memory-kib` /
    /// `--password-iterations`, and old hashes keep verifying with their own parameters.
    fn default() -> Self {
        Self {
            memory_kib: 7168,
            iterations: 5,
        }
    }
}

/// Hashes and verifies player passwords on a small pool of its own threads (one per core).
///
/// Each hash takes its whole memory cost at once (7 MiB by default). On tokio's blocking
/// pool a login storm ran dozens at a time on ever-changing threads, and the allocator
/// kept their freed buffers: a game pod grew to 180-260 MB after 300 logins, against
/// 26 MB with a 64 KiB cost. The hashing is CPU-bound, so more at once than cores only
/// queues on the CPU anyway. So a fixed pool, and each thread hashes in one buffer of its
/// own, allocated once: with a buffer allocated per hash, glibc kept freed 7 MiB buffers
/// in its arenas and a pod settled at 141 MB after a 1,000-login storm.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

/// Work for the pool, given the thread's parameters and hashing memory; it answers
/// through its own channel.
type Job = Box<dyn FnOnce(&Argon2<'static>, &mut Memory) + Send>;

/// A hashing thread's memory, kept between hashes: sized for the default cost, and used
/// for every hash that fits (older, cheaper hashes included). A hash that needs more gets
/// a buffer of its own for that once, so no stored hash can grow a thread for good.
struct Memory(Vec<Block>);

impl Memory {
    fn for_params(params: &Params) -> Self {
        Self(vec![Block::default(); params.block_count()])
    }

    /// Computes `argon`'s hash of `password` with `salt` into `out`.
    fn hash(
        &mut self,
        argon: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let blocks = argon.params().block_count();
        match self.0.get_mut(..blocks) {
            Some(memory) => argon.hash_password_into_with_memory(password, salt, out, memory),
            None => argon.hash_password_into_with_memory(
                password,
                salt,
                out,
                vec![Block::default(); blocks],
            ),
        }
    }
}

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
            // Each thread keeps its own copy of the parameters, and its own memory.
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || {
                    let mut memory = Memory::for_params(argon.params());
                    loop {
                        // The lock is held only to take a job; a poisoned one still works.
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            // A job that panics must not take the thread with it; its
                            // caller sees its answer channel dropped.
                            Ok(job) => {
                                let run = std::panic::AssertUnwindSafe(|| job(&argon, &mut memory));
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
        f: impl FnOnce(&Argon2<'static>, &mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut job: Job = Box::new(move |argon, memory| {
            let _ = tx.send(f(argon, memory));
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
        self.run(move |argon, memory| {
            let failed = |e: &dyn std::fmt::Display| HashError(e.to_string());
            let salt = argon2::password_hash::try_generate_salt().map_err(|e| failed(&e))?;
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            memory
                .hash(argon, password.as_bytes(), &salt, &mut out)
                .map_err(|e| failed(&e))?;
            let hash = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(argon.params()).map_err(|e| failed(&e))?,
                salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
                hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
            };
            Ok(hash.to_string())
        })
        .await?
    }

    /// True if `password` matches `hash`; false for a wrong password or an unreadable hash.
    /// The parameters are the hash's own, so hashes made at an earlier cost still verify.
    pub async fn verify(&self, password: &str, hash: &str) -> bool {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move |_, memory| {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
                return false;
            };
            let (Ok(algorithm), Ok(params)) = (
                Algorithm::try_from(parsed.algorithm.as_str()),
                Params::try_from(&parsed),
            ) else {
                return false;
            };
            let version = parsed
                .version
                .and_then(|v| Version::try_from(v).ok())
                .unwrap_or_default();
            let argon = Argon2::new(algorithm, version, params);
            let mut out = vec![0u8; expected.len()];
            memory
                .hash(&argon, password.as_bytes(), salt.as_ref(), &mut out)
                .is_ok()
                // `Output`'s comparison takes the same time wherever the bytes differ.
                && Output::new(&out).is_ok_and(|computed| computed == *expected)
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

    /// New hashes carry OWASP's minimum (7 MiB, 5 passes, 1 lane); hashes made at the
    /// cheaper cost of earlier releases still verify, since each hash names its own.
    #[tokio::test]
    async fn new_hashes_meet_owasp_and_old_ones_still_verify() {
        let hasher = PasswordHasher::new(PasswordCost::default()).expect("hasher");
        let hash = hasher.hash("potrzebie").await.expect("hash");
        assert!(hash.contains("$m=7168,t=5,p=1$"), "{hash}");
        let earlier = PasswordHasher::new(PasswordCost {
            memory_kib: 2048,
            iterations: 1,
        })
        .expect("hasher");
        let old = earlier.hash("potrzebie").await.expect("hash");
        assert!(old.contains("$m=2048,t=1,p=1$"), "{old}");
        assert!(hasher.verify("potrzebie", &old).await);
        assert!(!hasher.verify("potrzebiE", &old).await);
    }

    /// The hashes are the argon2 crate's own PHC strings both ways: what its hasher wrote
    /// (every hash stored before this pool computed them itself) verifies here, and what
    /// this pool writes verifies there.
    #[tokio::test]
    async fn hashes_are_the_libraries_phc_strings_both_ways() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(2048, 1, 1, None).expect("params");
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let written: PasswordHash = library.hash_password(b"xyzzy").expect("library hash");
        let hasher = PasswordHasher::new(PasswordCost::default()).expect("hasher");
        assert!(hasher.verify("xyzzy", &written.to_string()).await);
        assert!(!hasher.verify("plugh", &written.to_string()).await);
        let ours = hasher.hash("xyzzy").await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("PHC");
        assert!(Argon2::default().verify_password(b"xyzzy", &parsed).is_ok());
        assert!(
            Argon2::default()
                .verify_password(b"plugh", &parsed)
                .is_err()
        );
    }
}
