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

/// Hashes and verifies player passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
}

/// A hash could not be made (bad parameters) or the worker thread failed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHasher {
    /// A hasher with the given cost.
    pub fn new(cost: PasswordCost) -> Result<Self, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .map_err(|e| HashError(e.to_string()))?;
        Ok(Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        })
    }

    /// A PHC-format hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            argon
                .hash_password(password.as_bytes())
                .map(|hash: PasswordHash| hash.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await
        .map_err(|e| HashError(e.to_string()))?
    }

    /// True if `password` matches `hash`; false for a wrong password or an unreadable hash.
    pub async fn verify(&self, password: &str, hash: &str) -> bool {
        let argon = self.argon.clone();
        let (password, hash) = (password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || {
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
