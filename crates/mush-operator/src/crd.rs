//! The `MushShard` custom resource: what a Kubernetes user writes, and what the operator
//! reports back in its status.
//!
//! The schema is generated from these types (`mush crdgen`), validation included: ranges
//! and patterns from `#[schemars]`, cross-field rules as CEL (`x-kubernetes-validations`),
//! so a bad spec is refused by the API server with a message before the operator sees it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, ResourceRequirements, SecretKeySelector, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of the project's resources.
pub const GROUP: &str = "mush-on-kube.dev";

/// One MUSH world: a gateway Deployment holding the players' connections and a game
/// Deployment running their commands, both on the Redis Cluster and NATS named here.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "mush-on-kube.dev",
    version = "v1alpha1",
    kind = "MushShard",
    doc = "A MUSH world: gateways holding players' connections and game pods scaled by live sessions.",
    namespaced,
    status = "MushShardStatus",
    shortname = "mush",
    category = "mush",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Sessions","type":"integer","jsonPath":".status.sessions"}"#,
    printcolumn = r#"{"name":"Game pods","type":"integer","jsonPath":".status.gameReadyReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MushShardSpec {
    /// The `mush` image both Deployments run.
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
    /// When the kubelet pulls the image.
    #[serde(default)]
    pub image_pull_policy: PullPolicy,
    /// The pods that hold players' connections.
    #[serde(default)]
    pub gateway: GatewaySpec,
    /// The pods that run the game; scaled by live sessions.
    #[serde(default)]
    pub game: GameSpec,
    /// Where connection and world state live.
    pub redis: RedisSpec,
    /// Where pods tell each other to drop stale cache entries.
    pub nats: NatsSpec,
    /// Extra environment for every container. `MUSH_GOD_PASSWORD` set here reaches the
    /// game pods only (prefer `game.godPasswordSecretRef`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Node labels every pod must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints every pod tolerates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Scheduling affinity of every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Log line format of every process.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Mutual TLS between gateways and game pods: a game pod takes only gateways whose
    /// certificate is of the shard's CA. Left out, the operator issues and renews the
    /// certificates itself; name two Secrets to bring your own (cert-manager's), or set
    /// `disabled` where something else (a service mesh) secures pod traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_tls: Option<LinkTls>,
}

/// Where the gateway <-> game pod link's certificates come from.
///
/// Named Secrets each hold `tls.crt`, `tls.key` and the shard CA's `ca.crt` (what a
/// cert-manager `Certificate` from a CA issuer writes); the operator never reads them.
/// Without names, the operator keeps a CA in `<shard>-link-ca` and a certificate per role
/// in `<shard>-link-gateway` and `<shard>-link-game`, renewed 30 days before they expire.
/// Either way they are mounted whole and re-read while pods run, so a renewal needs no
/// restart.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("has(self.gatewaySecretName) == has(self.gameSecretName)")
        .message("linkTls: name both gatewaySecretName and gameSecretName, or neither"),
    validation = kube::core::Rule::new("!(has(self.disabled) && self.disabled && has(self.gatewaySecretName))")
        .message("linkTls: a disabled link takes no Secrets")
)]
pub struct LinkTls {
    /// The gateways' Secret; its certificate must be valid for the DNS name `mush-gateway`
    /// and allow client authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub gateway_secret_name: Option<String>,
    /// The game pods' Secret; its certificate must be valid for the DNS name `mush-game`
    /// and allow server authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub game_secret_name: Option<String>,
    /// A plain link: whatever reaches a game pod's gRPC port can act as a gateway (the
    /// NetworkPolicy still admits only the shard's gateways).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// The kubelet's image pull policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    /// Pull on every start.
    Always,
    /// Pull when the node lacks the image.
    #[default]
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The value Kubernetes expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Log format of the processes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    #[default]
    Json,
}

/// The gateway pods and their Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// Gateway pods; each holds its own players' sockets.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 50))]
    pub replicas: i32,
    /// How players reach the gateways.
    #[serde(default)]
    pub service: ServiceSpec,
    /// CPU and memory of a gateway container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// TLS for players: a TLS telnet port and `wss` beside the plain ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<GatewayTls>,
}

impl Default for GatewaySpec {
    fn default() -> Self {
        Self {
            replicas: 1,
            service: ServiceSpec::default(),
            resources: None,
            tls: None,
        }
    }
}

/// The gateways' TLS listeners and their certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayTls {
    /// A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) in the shard's namespace, for
    /// instance one cert-manager renews. It is mounted into the gateways, which re-read it
    /// while connections stay; the operator itself never reads it.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// The Service's TLS telnet port.
    #[serde(default = "telnet_tls_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub telnet_port: i32,
    /// The Service's `wss` (and HTTPS web client) port.
    #[serde(default = "websocket_tls_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub websocket_port: i32,
}

fn telnet_tls_port() -> i32 {
    4203
}

fn websocket_tls_port() -> i32 {
    4204
}

/// The gateway Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// ClusterIP, NodePort or LoadBalancer.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// The telnet port (4201 is the MUSH tradition).
    #[serde(default = "telnet_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub telnet_port: i32,
    /// The WebSocket port for browser clients.
    #[serde(default = "websocket_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub websocket_port: i32,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            type_: ServiceType::default(),
            telnet_port: telnet_port(),
            websocket_port: websocket_port(),
        }
    }
}

/// The kind of gateway Service.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    /// Inside the cluster only.
    #[default]
    ClusterIP,
    /// On every node's port.
    NodePort,
    /// Through the cloud's load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The value Kubernetes expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// The game pods and how they scale.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("self.minReplicas <= self.maxReplicas")
        .message("game.minReplicas must not be greater than game.maxReplicas")
)]
pub struct GameSpec {
    /// Fewest game pods, however few players.
    #[serde(default = "two")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    /// Most game pods, however many players.
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Sessions one game pod should serve; the operator scales to
    /// `ceil(sessions / target) + bufferPods`, clamped to min..max.
    #[serde(default = "target_sessions")]
    #[schemars(range(min = 1, max = 100000))]
    pub target_sessions_per_pod: i32,
    /// Spare pods above what the sessions need, so a login wave never waits for a pod.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub buffer_pods: i32,
    /// How long the sessions must need fewer pods before the operator removes any.
    #[serde(default = "scale_down_delay")]
    #[schemars(range(min = 0, max = 86400))]
    pub scale_down_delay_seconds: i32,
    /// Time a game pod gets to hand its sessions to others before it is killed.
    #[serde(default = "grace")]
    #[schemars(range(min = 5, max = 3600))]
    pub termination_grace_period_seconds: i64,
    /// CPU and memory of a game container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The master room's object number: what it holds serves every player (global
    /// `$`-commands, `@aconnect`s) and it keeps `@function` and `@attribute`
    /// definitions. A new world makes #2, as TinyMUX's starting database does.
    #[serde(default = "master_room")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub master_room: i64,
    /// The Secret key holding the password of God (#1), which a game pod sets when it
    /// creates a new world. Only game pods get it: the gateway, which faces the players,
    /// never holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub god_password_secret_ref: Option<SecretKeySelector>,
}

fn master_room() -> i64 {
    2
}

impl Default for GameSpec {
    fn default() -> Self {
        Self {
            min_replicas: two(),
            max_replicas: ten(),
            target_sessions_per_pod: target_sessions(),
            buffer_pods: 0,
            scale_down_delay_seconds: scale_down_delay(),
            termination_grace_period_seconds: grace(),
            resources: None,
            master_room: master_room(),
            god_password_secret_ref: None,
        }
    }
}

/// The shard's Redis Cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("has(self.endpoints) != has(self.endpointsSecretRef)")
        .message("set exactly one of redis.endpoints and redis.endpointsSecretRef"),
    validation = kube::core::Rule::new("has(self.keyPrefix) == has(oldSelf.keyPrefix)")
        .message("redis.keyPrefix cannot be added or removed once the shard exists")
)]
pub struct RedisSpec {
    /// Seed nodes, `redis://host:port` each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub endpoints: Option<Vec<String>>,
    /// A Secret key holding the seed nodes, comma-separated (when they carry a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints_secret_ref: Option<SecretKeySelector>,
    /// TLS to Redis with a private CA (the seeds must then be `rediss://`): mounted into
    /// the gateways and game pods, and read by the operator for its own Redis access.
    /// Pods read the files at start, so a renewal is used from their next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// Every key of the shard starts with this; it cannot change once set (the data would
    /// be left behind under the old one). Unset, it is derived from the shard's namespace
    /// and name (see [`MushShard::key_prefix`]), so two shards sharing a Redis never meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("redis.keyPrefix is immutable"))]
    pub key_prefix: Option<String>,
    /// Keep the shard's keys when the MushShard is deleted (default: delete them).
    #[serde(default)]
    pub keep_data_on_delete: bool,
    /// Labels of the Redis pods, when they run in the shard's namespace: the operator then
    /// keeps a NetworkPolicy (`<shard>-redis`) that lets only this shard's pods, the
    /// operator's namespace and the Redis pods themselves (cluster bus, replication) reach
    /// them. Policies add up, so shards sharing a Redis each admit their own pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<BTreeMap<String, String>>,
}

/// The shard's NATS server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("has(self.url) != has(self.urlSecretRef)")
        .message("set exactly one of nats.url and nats.urlSecretRef")
)]
pub struct NatsSpec {
    /// `nats://host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub url: Option<String>,
    /// A Secret key holding the URL (when it carries credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_secret_ref: Option<SecretKeySelector>,
    /// TLS to NATS (the game pods are its only clients). The NATS client reads the files
    /// when it connects, so a renewed client certificate is used from the pods' next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// A Secret key holding a NATS credentials file (a user JWT and its key, as `nsc`
    /// writes it), for servers in operator mode. Mounted into the game pods and read when
    /// they start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creds_secret_ref: Option<SecretKeySelector>,
    /// Labels of the NATS pods, when they run in the shard's namespace: the operator then
    /// keeps a NetworkPolicy (`<shard>-nats`) that lets only this shard's game pods and the
    /// NATS pods themselves (cluster routes) reach them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<BTreeMap<String, String>>,
}

/// TLS to a server of the shard's (Redis, NATS) from a Secret as cert-manager writes one:
/// `ca.crt`, the CA of the servers' certificates (TLS is then required), and with
/// `clientCertificate` also `tls.crt` and `tls.key`, for servers that verify their
/// clients. Mounted into the pods that talk to that server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientTls {
    /// The Secret, in the shard's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Also present `tls.crt`/`tls.key` from it as the pods' client certificate.
    #[serde(default)]
    pub client_certificate: bool,
}

/// What the operator saw and did, for `kubectl get` and for alerts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MushShardStatus {
    /// Ready, Progressing and Degraded, each with a reason and a message.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Gateway pods ready.
    #[serde(default)]
    pub gateway_ready_replicas: i32,
    /// Game pods ready.
    #[serde(default)]
    pub game_ready_replicas: i32,
    /// Game pods the Deployment has now.
    #[serde(default)]
    pub game_replicas: i32,
    /// Game pods the autoscaler wants.
    #[serde(default)]
    pub desired_game_replicas: i32,
    /// Live sessions in the shard (from the game pods' heartbeats in Redis).
    #[serde(default)]
    pub sessions: i64,
    /// When the autoscaler last changed the game replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
    /// Since when the sessions have needed fewer pods than there are (scale-down delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_pending_since: Option<Time>,
    /// The autoscaler's last decision, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<String>,
}

fn one() -> i32 {
    1
}
fn two() -> i32 {
    2
}
fn ten() -> i32 {
    10
}
fn target_sessions() -> i32 {
    200
}
fn scale_down_delay() -> i32 {
    300
}
fn grace() -> i64 {
    60
}
fn telnet_port() -> i32 {
    4201
}
fn websocket_port() -> i32 {
    4202
}

/// The CRD as YAML, exactly as `mush crdgen` prints it and `crds/` holds it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    use kube::CustomResourceExt;
    serde_yaml::to_string(&MushShard::crd())
}

/// A shard as a user would write it, for the operator's unit tests.
impl MushShard {
    /// The key prefix the shard's data lives under: `spec.redis.keyPrefix`, or one derived
    /// from the namespace and name. The derived one reads as `<namespace>-<name>` (cut to
    /// fit) and ends with a hash of the exact `namespace/name`, so shards whose names only
    /// sanitise alike (`a-b/c` and `a/b-c`) or share a long start still differ.
    pub fn key_prefix(&self) -> String {
        if let Some(prefix) = &self.spec.redis.key_prefix {
            return prefix.clone();
        }
        let namespace = self.metadata.namespace.as_deref().unwrap_or("default");
        let name = self.metadata.name.as_deref().unwrap_or_default();
        derived_prefix(namespace, name)
    }
}

/// Longest prefix the schema allows.
const PREFIX_MAX: usize = 32;

/// FNV-1a (64 bits): a hash that is the same in every build and on every machine, for
/// values that must never change (a derived key prefix, the pods' configuration hash).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn derived_prefix(namespace: &str, name: &str) -> String {
    let hash = fnv1a(format!("{namespace}/{name}").as_bytes());
    let suffix = format!("{:08x}", hash >> 32);
    let readable: String = format!("{namespace}-{name}")
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .take(PREFIX_MAX - suffix.len() - 1)
        .collect();
    let readable = readable.trim_matches('-');
    if readable.is_empty() {
        format!("s-{suffix}")
    } else {
        format!("{readable}-{suffix}")
    }
}

#[cfg(test)]
pub(crate) fn test_shard() -> MushShard {
    let mut shard = MushShard::new(
        "world",
        MushShardSpec {
            image: "mush:test".into(),
            image_pull_policy: PullPolicy::default(),
            gateway: GatewaySpec::default(),
            game: GameSpec::default(),
            redis: RedisSpec {
                endpoints: Some(vec!["redis://r-0:6379".into(), "redis://r-1:6379".into()]),
                endpoints_secret_ref: None,
                key_prefix: Some("w1".into()),
                keep_data_on_delete: false,
                tls: None,
                pod_selector: None,
            },
            nats: NatsSpec {
                url: Some("nats://nats:4222".into()),
                url_secret_ref: None,
                tls: None,
                creds_secret_ref: None,
                pod_selector: None,
            },
            env: vec![],
            node_selector: BTreeMap::new(),
            tolerations: vec![],
            affinity: None,
            log_format: LogFormat::default(),
            link_tls: None,
        },
    );
    shard.metadata.namespace = Some("games".into());
    shard.metadata.uid = Some("uid-1".into());
    shard.metadata.generation = Some(3);
    shard
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn checked_in_crd_matches_the_types() {
        let generated = crd_yaml().expect("yaml");
        let checked_in = include_str!("../../../crds/mushshard.yaml");
        assert!(
            generated == checked_in,
            "crds/mushshard.yaml is stale: run `cargo run -p mush -- crdgen > crds/mushshard.yaml` \
             (and copy it to charts/mush-operator/crds/)"
        );
    }

    #[test]
    fn schema_validates_ranges_bounds_and_the_immutable_prefix() {
        let json = serde_json::to_string(&MushShard::crd()).expect("json");
        for rule in [
            "self.minReplicas <= self.maxReplicas",
            "self == oldSelf",
            "has(self.endpoints) != has(self.endpointsSecretRef)",
            "has(self.url) != has(self.urlSecretRef)",
            "has(self.keyPrefix) == has(oldSelf.keyPrefix)",
        ] {
            assert!(json.contains(rule), "missing CEL rule {rule}");
        }
        assert!(json.contains(r#""maximum":1000.0"#) || json.contains(r#""maximum":1000"#));
        assert!(
            json.contains(r#""required":["image","nats","redis"]"#),
            "{json:.400}"
        );
    }

    #[test]
    fn a_prefix_is_derived_from_namespace_and_name_when_unset() {
        let pattern = regex_lite_prefix;
        let cases = [
            ("games", "world"),
            ("a-b", "c"),
            ("a", "b-c"),
            ("Games", "World.Of.Text"),
            (
                "a-very-long-namespace-name-indeed",
                "and-an-even-longer-shard-name",
            ),
            ("x", "---"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (namespace, name) in cases {
            let prefix = derived_prefix(namespace, name);
            assert!(pattern(&prefix), "{namespace}/{name} -> {prefix:?}");
            assert!(seen.insert(prefix.clone()), "{prefix} twice");
        }
        // Pinned (worked out apart from this code): a shard's prefix must never change
        // between operator versions, or its world is left behind.
        assert_eq!(derived_prefix("games", "world"), "games-world-c62b3665");
        assert_eq!(
            derived_prefix(
                "a-very-long-namespace-name-indeed",
                "and-an-even-longer-shard-name"
            ),
            "a-very-long-namespace-n-21d21dfb"
        );
        // `a-b/c` and `a/b-c` read alike but live apart.
        assert_ne!(derived_prefix("a-b", "c"), derived_prefix("a", "b-c"));

        let mut shard = test_shard();
        assert_eq!(shard.key_prefix(), "w1", "an explicit prefix wins");
        shard.spec.redis.key_prefix = None;
        assert_eq!(shard.key_prefix(), derived_prefix("games", "world"));
    }

    /// `^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`, the schema's pattern.
    fn regex_lite_prefix(prefix: &str) -> bool {
        let bytes = prefix.as_bytes();
        let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        (1..=32).contains(&bytes.len())
            && edge(bytes[0])
            && edge(bytes[bytes.len() - 1])
            && bytes.iter().all(|&b| edge(b) || b == b'-')
    }
}
