//! Leader election on a `coordination.k8s.io/v1` Lease, so two operator replicas never
//! both reconcile (kube-runtime has none of its own).
//!
//! The holder renews the Lease every third of its duration; a replica takes it over only
//! once it has not been renewed for a whole duration. Every write is a replace with the
//! Lease's `resourceVersion`, so of two replicas racing for an expired Lease exactly one
//! wins. A leader that cannot renew in time steps down (its work stops before another
//! replica may start), and one that shuts down releases the Lease so the next takes over
//! at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

/// Where the lease lives and who this replica is.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
}

/// A replica taking part in the election.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This replica holds the lease now.
    Leading,
    /// Another replica holds a live lease.
    Following(String),
}

impl LeaderElector {
    /// An elector for `config` using `client`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    /// The renewal period: a third of the lease duration.
    pub fn renew_every(&self) -> Duration {
        self.config.duration / 3
    }

    /// Waits until this replica leads, trying every renewal period.
    pub async fn acquire(&self) -> Result<(), kube::Error> {
        loop {
            match self.try_acquire().await {
                Ok(Outcome::Leading) => return Ok(()),
                Ok(Outcome::Following(holder)) => {
                    tracing::debug!(%holder, "another replica leads; waiting");
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::debug!("lost a race for the lease; retrying");
                }
                Err(error) => return Err(error),
            }
            tokio::time::sleep(self.renew_every()).await;
        }
    }

    /// One attempt to take or renew the lease.
    pub async fn try_acquire(&self) -> Result<Outcome, kube::Error> {
        let now = Timestamp::now();
        let duration_secs = i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            self.api.create(&PostParams::default(), &lease).await?;
            tracing::info!(identity = %self.config.identity, "acquired the leader lease (new)");
            return Ok(Outcome::Leading);
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.config.identity;
        let lasts = SignedDuration::from_secs(i64::from(
            spec.lease_duration_seconds.unwrap_or(duration_secs),
        ));
        let expired = spec
            .renew_time
            .as_ref()
            .is_none_or(|renewed| renewed.0 + lasts < now);
        if !mine && !holder.is_empty() && !expired {
            return Ok(Outcome::Following(holder));
        }
        if !mine {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(identity = %self.config.identity, previous = %holder, "taking over the leader lease");
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(duration_secs);
        spec.renew_time = Some(MicroTime(now));
        let name = lease.name_any();
        // Replace carries the resourceVersion read above: a concurrent writer makes it 409.
        self.api
            .replace(&name, &PostParams::default(), &lease)
            .await?;
        Ok(Outcome::Leading)
    }

    /// Renews the lease until a renewal fails for longer than the lease duration or
    /// another replica holds it; then returns (the caller must stop leading).
    pub async fn keep_leading(&self) {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.renew_every()).await;
            match self.try_acquire().await {
                Ok(Outcome::Leading) => last_renewed = tokio::time::Instant::now(),
                Ok(Outcome::Following(holder)) => {
                    tracing::error!(%holder, "another replica took the leader lease; stepping down");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "could not renew the leader lease");
                    // Step down before the lease can expire and another replica start.
                    if last_renewed.elapsed() + self.renew_every() >= self.config.duration {
                        tracing::error!("leader lease about to expire; stepping down");
                        return;
                    }
                }
            }
        }
    }

    /// Gives the lease up so another replica takes over without waiting for expiry.
    pub async fn release(&self) {
        let result = async {
            let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
                return Ok(());
            };
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.renew_time = None;
            let name = lease.name_any();
            self.api
                .replace(&name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        .await;
        match result {
            Ok(()) => tracing::info!("released the leader lease"),
            Err(error) => {
                tracing::warn!(%error, "could not release the leader lease; it will expire")
            }
        }
    }
}
