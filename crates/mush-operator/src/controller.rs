//! The reconcile loop: one `MushShard` in, its objects applied, its game pods scaled, its
//! status written.
//!
//! Every owned object is applied with server-side apply under one field manager, so the
//! operator owns exactly the fields it sets and a user's `kubectl` edits elsewhere survive.
//! Deleting a shard runs the finalizer (its Redis keys are removed unless the spec keeps
//! them), then garbage collection removes the owned objects.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use mush_store::{RedisTls, Store, StoreConfig, StoreError, StoreMetrics};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::autoscale::{self, Observation};
use crate::crd::{MushShard, MushShardStatus};
use crate::metrics::OperatorMetrics;
use crate::pki::{self, CaPem, LeafState, PkiError, Role};
use crate::resources::{self, Backend, Component, DELETION_COST, MANAGER, Names, RENEW_AFTER};

/// The finalizer that deletes a shard's Redis keys before the shard goes.
pub const FINALIZER: &str = "mush-on-kube.dev/cleanup";

/// How often a shard is looked at again with nothing changed: the autoscaler's period.
const RESYNC: Duration = Duration::from_secs(10);

/// Why a reconcile failed; each is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The shard's Redis Cluster could not be reached or used.
    #[error("Redis Cluster of the shard: {0}")]
    Redis(#[from] StoreError),
    /// The spec cannot be acted on (e.g. a Secret it names is missing a key).
    #[error("{0}")]
    Spec(String),
    /// The finalizer helper failed (adding or removing the finalizer, or cleanup).
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// A link certificate could not be made.
    #[error(transparent)]
    Pki(#[from] PkiError),
}

impl Error {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Redis(_) => "redis",
            Self::Spec(_) => "spec",
            Self::Finalizer(_) => "finalizer",
            Self::Pki(_) => "pki",
        }
    }
}

/// A shard's store with the endpoints and prefix it was made for.
struct ShardStore {
    endpoints: Vec<String>,
    tls: Option<RedisTls>,
    prefix: String,
    store: Store,
}

/// What every reconcile shares.
pub struct Context {
    client: Client,
    recorder: Recorder,
    metrics: OperatorMetrics,
    /// One store per shard, reused while its endpoints and prefix stay the same.
    stores: tokio::sync::Mutex<HashMap<String, ShardStore>>,
    /// Consecutive failures per shard, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// The operator's own namespace, which a Redis policy must admit.
    namespace: String,
}

impl Context {
    /// A context for the controller; `identity` names this operator replica in events,
    /// `namespace` is where it runs.
    pub fn new(
        client: Client,
        metrics: OperatorMetrics,
        identity: &str,
        namespace: &str,
    ) -> Arc<Self> {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: Some(identity.to_owned()),
            },
        );
        Arc::new(Self {
            client,
            recorder,
            metrics,
            stores: tokio::sync::Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            namespace: namespace.to_owned(),
        })
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shard's store, connecting (and resolving a Secret) when needed. The map is not
    /// locked while connecting: one shard's unreachable Redis must not hold up the others.
    async fn store(&self, shard: &MushShard) -> Result<Store, Error> {
        let key = shard_key(shard);
        let endpoints = self.redis_endpoints(shard).await?;
        let tls = self.redis_tls(shard).await?;
        let prefix = shard.key_prefix();
        if let Some(cached) = self.stores.lock().await.get(&key)
            && cached.endpoints == endpoints
            && cached.tls == tls
            && cached.prefix == prefix
        {
            return Ok(cached.store.clone());
        }
        let store = Store::connect(
            StoreConfig {
                nodes: endpoints.clone(),
                prefix: prefix.clone(),
                connect_timeout: Duration::from_secs(3),
                tls: tls.clone(),
                ..StoreConfig::default()
            },
            StoreMetrics::unregistered(),
        )
        .await?;
        self.stores.lock().await.insert(
            key,
            ShardStore {
                endpoints,
                tls,
                prefix,
                store: store.clone(),
            },
        );
        Ok(store)
    }

    async fn redis_endpoints(&self, shard: &MushShard) -> Result<Vec<String>, Error> {
        let redis = &shard.spec.redis;
        if let Some(endpoints) = &redis.endpoints {
            return Ok(endpoints.clone());
        }
        let Some(selector) = &redis.endpoints_secret_ref else {
            return Err(Error::Spec("redis: no endpoints and no Secret".into()));
        };
        let value = self
            .secret_values(shard, &selector.name, &[&selector.key])
            .await?
            .remove(0);
        let text = String::from_utf8(value).map_err(|_| {
            Error::Spec(format!(
                "Secret {} key {} is not UTF-8",
                selector.name, selector.key
            ))
        })?;
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The CA (and client certificate) for the shard's Redis, from `redis.tls`'s Secret:
    /// the operator reads Redis too (prefix claim, session counts, cleanup).
    async fn redis_tls(&self, shard: &MushShard) -> Result<Option<RedisTls>, Error> {
        let Some(tls) = &shard.spec.redis.tls else {
            return Ok(None);
        };
        // One read of the Secret for all three keys.
        let keys: &[&str] = if tls.client_certificate {
            &["ca.crt", "tls.crt", "tls.key"]
        } else {
            &["ca.crt"]
        };
        let mut values = self.secret_values(shard, &tls.secret_name, keys).await?;
        let ca = values.remove(0);
        let client = (values.len() == 2).then(|| (values.remove(0), values.remove(0)));
        Ok(Some(RedisTls { ca, client }))
    }

    /// Keys of one Secret in the shard's namespace, read once, in the order asked.
    async fn secret_values(
        &self,
        shard: &MushShard,
        name: &str,
        keys: &[&str],
    ) -> Result<Vec<Vec<u8>>, Error> {
        let namespace = shard.namespace().unwrap_or_default();
        let secret: Secret = Api::namespaced(self.client.clone(), &namespace)
            .get(name)
            .await?;
        let mut data = secret.data.unwrap_or_default();
        keys.iter()
            .map(|key| {
                data.remove(*key)
                    .map(|v| v.0)
                    .ok_or_else(|| Error::Spec(format!("Secret {name} has no key {key}")))
            })
            .collect()
    }

    async fn publish(&self, shard: &MushShard, type_: EventType, reason: &str, note: String) {
        let event = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &shard.object_ref(&())).await {
            tracing::warn!(%error, reason, "could not publish an event");
        }
    }
}

fn shard_key(shard: &MushShard) -> String {
    format!(
        "{}/{}",
        shard.namespace().unwrap_or_default(),
        shard.name_any()
    )
}

/// Runs the controller until `shutdown` resolves: over every namespace, or only
/// `namespace` when the operator is installed for one (its RBAC is then a Role there, and
/// a cluster-wide watch would be refused).
pub async fn run(
    client: Client,
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Error> {
    fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match namespace {
            Some(namespace) => Api::namespaced(client.clone(), namespace),
            None => Api::all(client.clone()),
        }
    }
    let shards = api::<MushShard>(&client, namespace);
    // Fail early and clearly when the CRD is missing, instead of a watch error loop.
    shards
        .list(&ListParams::default().limit(1))
        .await
        .map_err(|e| {
            Error::Spec(format!(
                "cannot list MushShards (is the CRD installed?): {e}"
            ))
        })?;
    let owned =
        || watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
    Controller::new(shards, watcher::Config::default().any_semantic())
        .owns(api::<Deployment>(&client, namespace), owned())
        .owns(api::<Service>(&client, namespace), owned())
        .owns(api::<ConfigMap>(&client, namespace), owned())
        .owns(api::<PodDisruptionBudget>(&client, namespace), owned())
        .owns(api::<ServiceAccount>(&client, namespace), owned())
        .owns(api::<NetworkPolicy>(&client, namespace), owned())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((shard, _)) => tracing::debug!(shard = %shard.name, "reconciled"),
                Err(error) => tracing::debug!(%error, "reconcile loop"),
            }
        })
        .await;
    Ok(())
}

async fn reconcile(shard: Arc<MushShard>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let key = shard_key(&shard);
    let span = tracing::info_span!("reconcile", shard = %key);
    let namespace = shard
        .namespace()
        .ok_or_else(|| Error::Spec("MushShard must be namespaced".into()))?;
    let api: Api<MushShard> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, shard, |event| async {
        match event {
            Event::Apply(shard) => apply(&shard, &ctx).await,
            Event::Cleanup(shard) => cleanup(&shard, &ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics.observe(started.elapsed());
    if result.is_ok() {
        ctx.failures().remove(&key);
    }
    result
}

/// Exponential backoff per shard: 1 s doubling to 5 min, reset by a success.
fn error_policy(shard: Arc<MushShard>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed(error.kind());
    let key = shard_key(&shard);
    let attempts = {
        let mut failures = ctx.failures();
        let count = failures.entry(key.clone()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    };
    let wait = Duration::from_secs(1u64 << attempts.min(9)).min(Duration::from_secs(300));
    tracing::warn!(shard = %key, %error, attempts, ?wait, "reconcile failed; retrying");
    Action::requeue(wait)
}

/// Server-side applies `object` under the operator's field manager.
async fn apply_object<K>(client: &Client, namespace: &str, object: &K) -> Result<K, Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let name = object
        .meta()
        .name
        .clone()
        .ok_or_else(|| Error::Spec("object without a name".into()))?;
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(object),
        )
        .await?)
}

async fn apply(shard: &MushShard, ctx: &Context) -> Result<Action, Error> {
    let client = &ctx.client;
    let namespace = shard.namespace().unwrap_or_default();
    let names = Names::of(shard);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let game_name = names.component(Component::Game);
    let current = deployments
        .get_opt(&game_name)
        .await?
        .and_then(|d| d.spec.and_then(|s| s.replicas));

    let sessions = sessions_by_pod(shard, ctx).await;
    let total = sessions.as_ref().map(|s| s.values().sum::<u64>());
    let status = shard.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let (decision, redis_error) = match total {
        Ok(total) => {
            let decision = autoscale::decide(
                &shard.spec.game,
                &Observation {
                    sessions: total,
                    current,
                    pending_since: status.scale_down_pending_since.as_ref().map(|t| t.0),
                    now,
                },
            );
            (decision, None)
        }
        Err(error) => {
            // Without session counts, hold what there is (or the minimum).
            let replicas = current.unwrap_or(shard.spec.game.min_replicas);
            let decision = autoscale::Decision {
                replicas,
                wanted: replicas,
                pending_since: status.scale_down_pending_since.as_ref().map(|t| t.0),
                reason: format!("session counts unavailable; game pods held at {replicas}"),
            };
            (decision, Some(error.to_string()))
        }
    };

    // A scale-down coming or happening: mark the emptiest pods so the ReplicaSet removes
    // those, and keep the marks current while the delay runs.
    if let (Ok(by_pod), Some(current)) = (&sessions, current)
        && decision.wanted < current
    {
        set_deletion_costs(client, &namespace, shard, by_pod).await?;
    }

    // The prefix is this shard's, or it gets no pods: two shards on one prefix would run
    // on each other's world. (With Redis unreachable, it is checked on a later pass.)
    if let Some(other) = claimed_by_another(shard, ctx).await {
        let message = format!(
            "key prefix {:?} belongs to another MushShard (uid {other}); choose another redis.keyPrefix",
            shard.key_prefix()
        );
        tracing::warn!(shard = %shard_key(shard), %message, "prefix in use");
        ctx.publish(shard, EventType::Warning, "PrefixInUse", message)
            .await;
        return Ok(Action::requeue(RESYNC));
    }

    // Before the Deployments: a new shard's pods find their Secrets when they start.
    if resources::link_secrets(shard).is_some_and(|link| link.issued) {
        ensure_link_certificates(shard, ctx, now).await?;
    }

    let config = resources::config_map(shard);
    let hash = resources::config_hash(&config, &shard.spec.env);
    apply_object(client, &namespace, &resources::service_account(shard)).await?;
    apply_object(client, &namespace, &config).await?;
    let gateway = apply_object(
        client,
        &namespace,
        &resources::gateway_deployment(shard, &hash),
    )
    .await?;
    let game = apply_object(
        client,
        &namespace,
        &resources::game_deployment(shard, &hash, decision.replicas),
    )
    .await?;
    apply_object(client, &namespace, &resources::gateway_service(shard)).await?;
    apply_object(client, &namespace, &resources::game_service(shard)).await?;
    apply_object(
        client,
        &namespace,
        &resources::pdb(shard, Component::Gateway),
    )
    .await?;
    apply_object(client, &namespace, &resources::pdb(shard, Component::Game)).await?;
    apply_object(client, &namespace, &resources::game_network_policy(shard)).await?;
    for backend in Backend::ALL {
        let policy = resources::backend_network_policy(shard, backend, &ctx.namespace);
        // A policy the spec no longer asks for is made inert, not deleted (the operator
        // deletes nothing); without one before, nothing is made.
        let wanted = backend.pods(shard).is_some()
            || Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
                .get_opt(&names.backend_policy(backend))
                .await?
                .is_some();
        if wanted {
            apply_object(client, &namespace, &policy).await?;
        }
    }

    let mut last_scale_time = status.last_scale_time.clone();
    if decision.scales(current) {
        ctx.metrics.scalings.inc();
        last_scale_time = Some(Time(now));
        tracing::info!(from = ?current, to = decision.replicas, reason = %decision.reason, "scaling game pods");
        ctx.publish(shard, EventType::Normal, "Scaled", decision.reason.clone())
            .await;
    }
    if let Some(error) = &redis_error
        && status
            .conditions
            .iter()
            .all(|c| c.reason != "RedisUnreachable")
    {
        ctx.publish(shard, EventType::Warning, "RedisUnreachable", error.clone())
            .await;
    }

    let new_status = MushShardStatus {
        conditions: conditions(shard, &status, &gateway, &game, redis_error.as_deref(), now),
        observed_generation: shard.metadata.generation,
        gateway_ready_replicas: ready(&gateway),
        game_ready_replicas: ready(&game),
        game_replicas: game.status.as_ref().and_then(|s| s.replicas).unwrap_or(0),
        desired_game_replicas: decision.replicas,
        sessions: total
            .map(|t| i64::try_from(t).unwrap_or(i64::MAX))
            .unwrap_or(status.sessions),
        last_scale_time,
        scale_down_pending_since: decision.pending_since.map(Time),
        autoscaler: Some(decision.reason.clone()),
    };
    if shard.status.as_ref() != Some(&new_status) {
        let api: Api<MushShard> = Api::namespaced(client.clone(), &namespace);
        api.patch_status(
            &shard.name_any(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": new_status })),
        )
        .await?;
    }
    Ok(Action::requeue(RESYNC))
}

/// Keeps the link certificates the operator issues for `shard` (see [`crate::pki`]): the
/// CA's Secret made once, each role's certificate issued when missing, of another CA, or
/// due for renewal. A renewal only replaces a Secret's files; the pods re-read them, and
/// both ends already trust the CA, so no connection is dropped and no pod restarts.
async fn ensure_link_certificates(
    shard: &MushShard,
    ctx: &Context,
    now: Timestamp,
) -> Result<(), Error> {
    let namespace = shard.namespace().unwrap_or_default();
    let names = Names::of(shard);
    let id = shard_key(shard);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let text = |secret: &Secret, key: &str| -> Option<String> {
        let value = secret.data.as_ref()?.get(key)?;
        String::from_utf8(value.0.clone()).ok()
    };
    let ca = match secrets.get_opt(&names.link_ca()).await? {
        Some(secret) => match (text(&secret, "ca.crt"), text(&secret, "ca.key")) {
            (Some(cert), Some(key)) => CaPem { cert, key },
            _ => {
                return Err(Error::Spec(format!(
                    "Secret {} lacks a PEM ca.crt or ca.key; delete it to have a new link CA issued",
                    names.link_ca()
                )));
            }
        },
        None => {
            let ca = pki::new_ca(&id, now)?;
            apply_object(
                &ctx.client,
                &namespace,
                &resources::link_ca_secret(shard, &ca),
            )
            .await?;
            let note = format!("a new CA for the link in Secret {}", names.link_ca());
            tracing::info!(shard = %id, %note, "link CA issued");
            ctx.publish(shard, EventType::Normal, "LinkCaIssued", note)
                .await;
            ca
        }
    };
    for role in Role::ALL {
        let name = names.link(role);
        let current = secrets.get_opt(&name).await?;
        let state = pki::leaf_state(
            &ca.cert,
            current.as_ref().and_then(|s| text(s, "ca.crt")).as_deref(),
            current
                .as_ref()
                .and_then(|s| s.annotations().get(RENEW_AFTER))
                .map(String::as_str),
            now,
        );
        let LeafState::Renew(reason) = state else {
            continue;
        };
        let leaf = pki::issue(&id, &ca, role, now)?;
        apply_object(
            &ctx.client,
            &namespace,
            &resources::link_leaf_secret(shard, role, &leaf, &ca.cert),
        )
        .await?;
        let note = format!("{name}: {reason}; renew after {}", leaf.renew_after);
        tracing::info!(shard = %id, %note, "link certificate issued");
        ctx.publish(shard, EventType::Normal, "LinkCertificateIssued", note)
            .await;
    }
    Ok(())
}

/// Sessions per game pod, from the pods' heartbeats in the shard's Redis.
async fn sessions_by_pod(shard: &MushShard, ctx: &Context) -> Result<BTreeMap<String, u64>, Error> {
    let pods = ctx.store(shard).await?.live_pods().await?;
    Ok(pods
        .into_iter()
        .map(|p| (p.info.id.to_string(), p.sessions))
        .collect())
}

fn ready(deployment: &Deployment) -> i32 {
    deployment
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// True while a Deployment has not finished rolling out its current spec.
fn rolling(deployment: &Deployment) -> bool {
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let Some(status) = &deployment.status else {
        return true;
    };
    status.observed_generation < deployment.metadata.generation
        || status.updated_replicas.unwrap_or(0) < wanted
        || status.replicas.unwrap_or(0) > wanted
        || status.available_replicas.unwrap_or(0) < wanted
}

/// The Deployment's own verdict that it is stuck, if it gave one.
fn stuck(deployment: &Deployment) -> Option<String> {
    deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing" && c.status == "False")
        .map(|c| {
            format!(
                "{}: {}",
                deployment.name_any(),
                c.message
                    .clone()
                    .unwrap_or_else(|| c.reason.clone().unwrap_or_default())
            )
        })
}

/// Ready, Progressing and Degraded, keeping each condition's transition time while its
/// status stays the same.
fn conditions(
    shard: &MushShard,
    old: &MushShardStatus,
    gateway: &Deployment,
    game: &Deployment,
    redis_error: Option<&str>,
    now: Timestamp,
) -> Vec<Condition> {
    let generation = shard.metadata.generation;
    let make = |type_: &str, ok: bool, reason: &str, message: String| {
        let status = if ok { "True" } else { "False" };
        let since = old
            .conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map_or(Time(now), |c| c.last_transition_time.clone());
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: since,
        }
    };
    let gateway_ready = ready(gateway);
    let game_ready = ready(game);
    let gateway_wanted = shard.spec.gateway.replicas;
    let game_wanted = game.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let ready_condition = if let Some(error) = redis_error {
        make("Ready", false, "RedisUnreachable", error.to_owned())
    } else if gateway_ready < gateway_wanted {
        make(
            "Ready",
            false,
            "GatewayNotReady",
            format!("{gateway_ready}/{gateway_wanted} gateway pods ready"),
        )
    } else if game_ready < game_wanted.min(shard.spec.game.min_replicas).max(1) {
        make(
            "Ready",
            false,
            "GameNotReady",
            format!("{game_ready}/{game_wanted} game pods ready"),
        )
    } else {
        make(
            "Ready",
            true,
            "AllReady",
            format!("{gateway_ready} gateway and {game_ready} game pods ready"),
        )
    };
    let progressing = if rolling(gateway) || rolling(game) {
        make(
            "Progressing",
            true,
            "RollingOut",
            format!(
                "gateway {gateway_ready}/{gateway_wanted}, game {game_ready}/{game_wanted} ready"
            ),
        )
    } else {
        make(
            "Progressing",
            false,
            "Complete",
            "every pod runs the current spec".into(),
        )
    };
    let degraded = if let Some(error) = redis_error {
        make("Degraded", true, "RedisUnreachable", error.to_owned())
    } else if let Some(message) = stuck(gateway).or_else(|| stuck(game)) {
        make("Degraded", true, "ProgressDeadlineExceeded", message)
    } else {
        make("Degraded", false, "AsExpected", "nothing is wrong".into())
    };
    vec![ready_condition, progressing, degraded]
}

/// Annotates every game pod with its session count as deletion cost.
async fn set_deletion_costs(
    client: &Client,
    namespace: &str,
    shard: &MushShard,
    sessions: &BTreeMap<String, u64>,
) -> Result<(), Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(&resources::selector_string(shard, Component::Game)))
        .await?;
    let names: Vec<String> = list.items.iter().map(ResourceExt::name_any).collect();
    let costs = autoscale::deletion_costs(&names, sessions);
    for pod in &list.items {
        let name = pod.name_any();
        let cost = costs.get(&name).copied().unwrap_or(0).to_string();
        if pod.annotations().get(DELETION_COST) == Some(&cost) {
            continue;
        }
        pods.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": { "annotations": { DELETION_COST: cost } }
            })),
        )
        .await?;
    }
    Ok(())
}

/// The uid of another MushShard that owns this shard's key prefix, if one does; claims
/// the prefix for this shard when nobody does (see `Store::claim_owner`).
async fn claimed_by_another(shard: &MushShard, ctx: &Context) -> Option<String> {
    let uid = shard.metadata.uid.clone()?;
    let store = ctx.store(shard).await.ok()?;
    match store.claim_owner(&uid).await {
        Ok(other) => other,
        Err(error) => {
            tracing::debug!(%error, "prefix ownership not checked (Redis unreachable)");
            None
        }
    }
}

/// The shard's store if the shard owns its prefix (its uid is the owner marker).
async fn owner_store(shard: &MushShard, ctx: &Context) -> Result<Option<Store>, Error> {
    let Some(uid) = &shard.metadata.uid else {
        return Ok(None);
    };
    let store = ctx.store(shard).await?;
    let owned = store.owner().await?.as_deref() == Some(uid.as_str());
    Ok(owned.then_some(store))
}

async fn cleanup(shard: &MushShard, ctx: &Context) -> Result<Action, Error> {
    let key = shard_key(shard);
    let prefix = shard.key_prefix();
    if shard.spec.redis.keep_data_on_delete {
        // The world stays for a later MushShard on the same prefix, so this shard's claim
        // goes with it (a marker naming a deleted uid would lock the prefix). Best effort:
        // keepDataOnDelete is also the way out when Redis or its Secret is gone, so a
        // failure here must not hold the deletion; the marker can be removed by hand.
        let released = async {
            if let Some(uid) = &shard.metadata.uid {
                ctx.store(shard).await?.release_owner(uid).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        let (type_, note) = match released {
            Ok(()) => (
                EventType::Normal,
                format!(
                    "keys under {prefix}: kept (keepDataOnDelete); the prefix is free for the next MushShard"
                ),
            ),
            Err(error) => {
                tracing::warn!(shard = %key, %error, "prefix claim not released");
                (
                    EventType::Warning,
                    format!(
                        "keys under {prefix}: kept (keepDataOnDelete), but the claim on the prefix could not be released ({error}): delete {prefix}:owner by hand before another MushShard uses it"
                    ),
                )
            }
        };
        ctx.publish(shard, type_, "DataKept", note).await;
    } else if let Some(store) = owner_store(shard, ctx).await? {
        let deleted = store.purge().await?;
        tracing::info!(shard = %key, deleted, "shard data deleted from Redis");
        ctx.publish(
            shard,
            EventType::Normal,
            "DataDeleted",
            format!("{deleted} keys under {prefix}: deleted"),
        )
        .await;
    } else {
        // Never wipe what this shard cannot prove it made: a throwaway MushShard pointed at
        // someone else's Redis and prefix must not delete their data.
        ctx.publish(
            shard,
            EventType::Warning,
            "DataNotOwned",
            format!("keys under {prefix}: kept (this MushShard never owned the prefix)"),
        )
        .await;
    }
    ctx.stores.lock().await.remove(&key);
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};

    use crate::crd::test_shard as shard;

    fn deployment(replicas: i32, ready: i32) -> Deployment {
        Deployment {
            metadata: kube::api::ObjectMeta {
                name: Some("d".into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(1),
                replicas: Some(replicas),
                updated_replicas: Some(replicas),
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                ..Default::default()
            }),
        }
    }

    fn find<'a>(conditions: &'a [Condition], type_: &str) -> &'a Condition {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("condition")
    }

    #[test]
    fn all_ready_is_ready_and_not_degraded() {
        let now = Timestamp::now();
        let conditions = conditions(
            &shard(),
            &MushShardStatus::default(),
            &deployment(1, 1),
            &deployment(2, 2),
            None,
            now,
        );
        assert_eq!(find(&conditions, "Ready").status, "True");
        assert_eq!(find(&conditions, "Progressing").status, "False");
        assert_eq!(find(&conditions, "Degraded").status, "False");
        assert!(conditions.iter().all(|c| c.observed_generation == Some(3)));
    }

    #[test]
    fn unreachable_redis_degrades_with_its_reason() {
        let conditions = conditions(
            &shard(),
            &MushShardStatus::default(),
            &deployment(1, 1),
            &deployment(2, 2),
            Some("Redis Cluster of the shard: connect refused"),
            Timestamp::now(),
        );
        let degraded = find(&conditions, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "RedisUnreachable")
        );
        assert!(degraded.message.contains("connect refused"));
        assert_eq!(find(&conditions, "Ready").status, "False");
    }

    #[test]
    fn a_stuck_rollout_degrades_and_a_rolling_one_progresses() {
        let mut stuck_game = deployment(3, 1);
        if let Some(status) = stuck_game.status.as_mut() {
            status.updated_replicas = Some(1);
            status.conditions = Some(vec![DeploymentCondition {
                type_: "Progressing".into(),
                status: "False".into(),
                reason: Some("ProgressDeadlineExceeded".into()),
                message: Some("ReplicaSet has timed out progressing".into()),
                ..Default::default()
            }]);
        }
        let conditions = conditions(
            &shard(),
            &MushShardStatus::default(),
            &deployment(1, 1),
            &stuck_game,
            None,
            Timestamp::now(),
        );
        assert_eq!(find(&conditions, "Progressing").status, "True");
        let degraded = find(&conditions, "Degraded");
        assert_eq!(degraded.reason, "ProgressDeadlineExceeded");
        assert!(degraded.message.contains("timed out"));
    }

    #[test]
    fn transition_times_stay_while_the_status_stays() {
        let earlier = Timestamp::from_second(1_000).expect("time");
        let first = conditions(
            &shard(),
            &MushShardStatus::default(),
            &deployment(1, 1),
            &deployment(2, 2),
            None,
            earlier,
        );
        let old = MushShardStatus {
            conditions: first,
            ..Default::default()
        };
        let later = conditions(
            &shard(),
            &old,
            &deployment(1, 1),
            &deployment(2, 2),
            None,
            Timestamp::now(),
        );
        assert_eq!(find(&later, "Ready").last_transition_time, Time(earlier));
        let changed = conditions(
            &shard(),
            &old,
            &deployment(1, 0),
            &deployment(2, 2),
            None,
            Timestamp::now(),
        );
        assert_ne!(find(&changed, "Ready").last_transition_time, Time(earlier));
    }
}
