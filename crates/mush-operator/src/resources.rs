//! The desired state: which Kubernetes objects a `MushShard` spec produces.
//!
//! Pure functions of the spec (and of the game replica count the autoscaler chose), so
//! they are unit-tested without a cluster and applied as-is with server-side apply.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar,
    EnvVarSource, HTTPGetAction, Lifecycle, LifecycleHandler, ObjectFieldSelector,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    Secret, SecretVolumeSource, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec,
    SleepAction, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use crate::crd::{LinkTls, MushShard};
use crate::pki::{CaPem, Leaf, Role};

/// The field manager of every object the operator applies.
pub const MANAGER: &str = "mush-operator";
/// Pod annotation that changes with the configuration, so pods roll when it changes.
pub const CONFIG_HASH: &str = "mush-on-kube.dev/config-hash";
/// The ReplicaSet removes pods with the lowest cost first on scale-down.
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

const GRPC_PORT: i32 = 50051;
const GAME_HTTP_PORT: i32 = 8080;
const GATEWAY_HTTP_PORT: i32 = 8081;
const TELNET_PORT: i32 = 4201;
const WEBSOCKET_PORT: i32 = 4202;
const TELNET_TLS_PORT: i32 = 4203;
const WEBSOCKET_TLS_PORT: i32 = 4204;
/// Where a gateway finds its TLS Secret's files.
const TLS_DIR: &str = "/etc/mush/tls";
/// The gateway pod's volume holding that Secret.
const TLS_VOLUME: &str = "tls";
/// Where a pod finds its link certificate, key and CA.
const LINK_TLS_DIR: &str = "/etc/mush/link-tls";
/// The link Secret's volume.
const LINK_TLS_VOLUME: &str = "link-tls";
/// Where a game pod finds the CA (and client certificate) for NATS.
const NATS_TLS_DIR: &str = "/etc/mush/nats-tls";
/// The NATS TLS Secret's volume.
const NATS_TLS_VOLUME: &str = "nats-tls";
/// Where the game pods find the NATS credentials Secret.
const NATS_CREDS_DIR: &str = "/etc/mush/nats-creds";
const NATS_CREDS_VOLUME: &str = "nats-creds";
/// Where a pod finds the CA (and client certificate) for Redis.
const REDIS_TLS_DIR: &str = "/etc/mush/redis-tls";
/// The Redis TLS Secret's volume.
const REDIS_TLS_VOLUME: &str = "redis-tls";
/// The non-root user of the image (distroless `nonroot`).
const RUN_AS: i64 = 65532;

/// The two kinds of pods of a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// Holds players' sockets.
    Gateway,
    /// Runs the game.
    Game,
}

impl Component {
    /// The label value and name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Game => "game",
        }
    }
}

/// The names of a shard's objects.
#[derive(Clone, Debug)]
pub struct Names {
    shard: String,
}

impl Names {
    /// Names derived from the shard's name.
    pub fn of(shard: &MushShard) -> Self {
        Self {
            shard: shard.name_any(),
        }
    }

    /// The Deployment, Service and PDB of a component.
    pub fn component(&self, component: Component) -> String {
        format!("{}-{}", self.shard, component.as_str())
    }

    /// The ConfigMap.
    pub fn config(&self) -> String {
        format!("{}-config", self.shard)
    }

    /// The ServiceAccount of the shard's pods.
    pub fn service_account(&self) -> String {
        format!("{}-mush", self.shard)
    }

    /// The Secret of the link CA the operator keeps (see [`crate::pki`]).
    pub fn link_ca(&self) -> String {
        format!("{}-link-ca", self.shard)
    }

    /// The Secret of a role's link certificate, when the operator issues it.
    pub fn link(&self, role: Role) -> String {
        format!("{}-link-{}", self.shard, role.as_str())
    }
}

/// The Secrets each role mounts for the gateway <-> game pod link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSecrets {
    /// The gateways' Secret.
    pub gateway: String,
    /// The game pods' Secret.
    pub game: String,
    /// Whether the operator issues and renews them (no names in the spec).
    pub issued: bool,
}

impl LinkSecrets {
    /// The Secret a role mounts.
    pub fn of(&self, role: Role) -> &str {
        match role {
            Role::Gateway => &self.gateway,
            Role::Game => &self.game,
        }
    }
}

/// The link's Secrets for `shard`: those the spec names, the operator's own when it names
/// none, or none for a link the spec disables.
pub fn link_secrets(shard: &MushShard) -> Option<LinkSecrets> {
    let names = Names::of(shard);
    match &shard.spec.link_tls {
        Some(link) if link.disabled => None,
        Some(LinkTls {
            gateway_secret_name: Some(gateway),
            game_secret_name: Some(game),
            ..
        }) => Some(LinkSecrets {
            gateway: gateway.clone(),
            game: game.clone(),
            issued: false,
        }),
        _ => Some(LinkSecrets {
            gateway: names.link(Role::Gateway),
            game: names.link(Role::Game),
            issued: true,
        }),
    }
}

/// The annotation on an issued leaf's Secret: when the operator replaces it.
pub const RENEW_AFTER: &str = "mush-on-kube.dev/renew-after";

/// The Secret holding the link CA the operator keeps: its key never leaves it.
pub fn link_ca_secret(shard: &MushShard, ca: &CaPem) -> Secret {
    Secret {
        metadata: meta(shard, Names::of(shard).link_ca(), None),
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([
            ("ca.crt".to_owned(), ca.cert.clone()),
            ("ca.key".to_owned(), ca.key.clone()),
        ])),
        ..Secret::default()
    }
}

/// The Secret of a role's issued leaf, laid out as cert-manager lays out its own, so the
/// pods read either the same way.
pub fn link_leaf_secret(shard: &MushShard, role: Role, leaf: &Leaf, ca_cert: &str) -> Secret {
    let mut metadata = meta(shard, Names::of(shard).link(role), None);
    metadata.annotations = Some(BTreeMap::from([(
        RENEW_AFTER.to_owned(),
        leaf.renew_after.to_string(),
    )]));
    Secret {
        metadata,
        type_: Some("kubernetes.io/tls".into()),
        string_data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), leaf.cert.clone()),
            ("tls.key".to_owned(), leaf.key.clone()),
            ("ca.crt".to_owned(), ca_cert.to_owned()),
        ])),
        ..Secret::default()
    }
}

/// Labels that select one component's pods.
pub fn selector(shard: &MushShard, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "mush".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), shard.name_any()),
        (
            "app.kubernetes.io/component".to_owned(),
            component.as_str().to_owned(),
        ),
    ])
}

/// The label selector string of a component's pods (for listing them).
pub fn selector_string(shard: &MushShard, component: Component) -> String {
    selector(shard, component)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn labels(shard: &MushShard, component: Option<Component>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "mush".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), shard.name_any()),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGER.to_owned(),
        ),
    ]);
    if let Some(component) = component {
        labels.insert(
            "app.kubernetes.io/component".to_owned(),
            component.as_str().to_owned(),
        );
    }
    labels
}

fn meta(shard: &MushShard, name: String, component: Option<Component>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: shard.namespace(),
        labels: Some(labels(shard, component)),
        owner_references: owner(shard).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// The controller owner reference: deleting the shard deletes what it owns.
fn owner(shard: &MushShard) -> Option<OwnerReference> {
    shard.controller_owner_ref(&())
}

/// The shared settings of every pod, as environment.
pub fn config_map(shard: &MushShard) -> ConfigMap {
    let spec = &shard.spec;
    let mut data = BTreeMap::from([
        ("MUSH_PREFIX".to_owned(), shard.key_prefix()),
        (
            "MUSH_LOG_FORMAT".to_owned(),
            match spec.log_format {
                crate::crd::LogFormat::Text => "text",
                crate::crd::LogFormat::Json => "json",
            }
            .to_owned(),
        ),
        ("MUSH_NAME".to_owned(), shard.name_any()),
        (
            "MUSH_MASTER_ROOM".to_owned(),
            spec.game.master_room.to_string(),
        ),
    ]);
    if let Some(endpoints) = &spec.redis.endpoints {
        data.insert("MUSH_REDIS".to_owned(), endpoints.join(","));
    }
    if let Some(url) = &spec.nats.url {
        data.insert("MUSH_NATS".to_owned(), url.clone());
    }
    ConfigMap {
        metadata: meta(shard, Names::of(shard).config(), None),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// The identity the shard's pods run as; they never call the Kubernetes API.
pub fn service_account(shard: &MushShard) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(shard, Names::of(shard).service_account(), None),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// A hash of everything that should roll the pods when it changes. FNV-1a over the JSON,
/// not `std`'s `DefaultHasher`: that one may change between Rust releases, and an operator
/// built with a newer compiler would then roll every shard's pods for nothing.
pub fn config_hash(config: &ConfigMap, env: &[EnvVar]) -> String {
    let json = serde_json::to_string(&(&config.data, env)).unwrap_or_default();
    format!("{:016x}", crate::crd::fnv1a(json.as_bytes()))
}

fn env_var(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn secret_env(name: &str, selector: &k8s_openapi::api::core::v1::SecretKeySelector) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(selector.clone()),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: number,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

/// The pod template of a component.
fn pod_template(
    shard: &MushShard,
    component: Component,
    config_hash: &str,
    container: Container,
    grace: i64,
) -> PodTemplateSpec {
    let spec = &shard.spec;
    let http_port = match component {
        Component::Gateway => GATEWAY_HTTP_PORT,
        Component::Game => GAME_HTTP_PORT,
    };
    let mut labels = labels(shard, Some(component));
    labels.extend(selector(shard, component));
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: Some(BTreeMap::from([
                ("prometheus.io/scrape".to_owned(), "true".to_owned()),
                ("prometheus.io/port".to_owned(), http_port.to_string()),
                ("prometheus.io/path".to_owned(), "/metrics".to_owned()),
                (CONFIG_HASH.to_owned(), config_hash.to_owned()),
            ])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(Names::of(shard).service_account()),
            automount_service_account_token: Some(false),
            termination_grace_period_seconds: Some(grace),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(RUN_AS),
                run_as_group: Some(RUN_AS),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            containers: vec![container],
            node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
            tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
            affinity: spec.affinity.clone(),
            ..PodSpec::default()
        }),
    }
}

/// The variable a game pod reads God's password from.
const GOD_PASSWORD_ENV: &str = "MUSH_GOD_PASSWORD";

fn container(
    shard: &MushShard,
    component: Component,
    mut env: Vec<EnvVar>,
    ports: Vec<ContainerPort>,
) -> Container {
    let spec = &shard.spec;
    env.push(field_env("POD_NAME", "metadata.name"));
    if let Some(selector) = &spec.redis.endpoints_secret_ref {
        env.push(secret_env("MUSH_REDIS", selector));
    }
    if component == Component::Game
        && let Some(selector) = &spec.nats.url_secret_ref
    {
        env.push(secret_env("MUSH_NATS", selector));
    }
    if component == Component::Game
        && let Some(selector) = &spec.game.god_password_secret_ref
    {
        env.push(secret_env(GOD_PASSWORD_ENV, selector));
    }
    // God's password is the game pods' alone, however it is given: a gateway faces the
    // players and has no use for it.
    env.extend(
        spec.env
            .iter()
            .filter(|e| component == Component::Game || e.name != GOD_PASSWORD_ENV)
            .cloned(),
    );
    let resources = match component {
        Component::Gateway => spec.gateway.resources.clone(),
        Component::Game => spec.game.resources.clone(),
    }
    .unwrap_or_else(|| default_resources(component));
    Container {
        name: component.as_str().to_owned(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some(spec.image_pull_policy.as_str().to_owned()),
        args: Some(vec![component.as_str().to_owned()]),
        env: Some(env),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: Names::of(shard).config(),
                ..ConfigMapEnvSource::default()
            }),
            ..EnvFromSource::default()
        }]),
        ports: Some(ports),
        readiness_probe: Some(probe("/readyz", 5, 2)),
        liveness_probe: Some(probe("/livez", 10, 3)),
        // Let endpoints and gateways stop sending here before the process hears SIGTERM.
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: 1 }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        resources: Some(resources),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

fn deployment(
    shard: &MushShard,
    component: Component,
    replicas: i32,
    template: PodTemplateSpec,
) -> Deployment {
    Deployment {
        metadata: meta(
            shard,
            Names::of(shard).component(component),
            Some(component),
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(selector(shard, component)),
                ..LabelSelector::default()
            },
            // A new pod is serving before an old one drains: no capacity dip.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The gateway Deployment.
pub fn gateway_deployment(shard: &MushShard, config_hash: &str) -> Deployment {
    let mut env = vec![
        env_var("MUSH_TELNET_LISTEN", format!("0.0.0.0:{TELNET_PORT}")),
        env_var("MUSH_WEBSOCKET_LISTEN", format!("0.0.0.0:{WEBSOCKET_PORT}")),
        env_var("MUSH_HTTP_LISTEN", format!("0.0.0.0:{GATEWAY_HTTP_PORT}")),
    ];
    let mut ports = vec![
        port("telnet", TELNET_PORT),
        port("websocket", WEBSOCKET_PORT),
        port("http", GATEWAY_HTTP_PORT),
    ];
    let tls = shard.spec.gateway.tls.as_ref();
    if tls.is_some() {
        env.extend([
            env_var(
                "MUSH_TELNET_TLS_LISTEN",
                format!("0.0.0.0:{TELNET_TLS_PORT}"),
            ),
            env_var(
                "MUSH_WEBSOCKET_TLS_LISTEN",
                format!("0.0.0.0:{WEBSOCKET_TLS_PORT}"),
            ),
            env_var("MUSH_TLS_CERT", format!("{TLS_DIR}/tls.crt")),
            env_var("MUSH_TLS_KEY", format!("{TLS_DIR}/tls.key")),
        ]);
        ports.extend([
            port("telnet-tls", TELNET_TLS_PORT),
            port("websocket-tls", WEBSOCKET_TLS_PORT),
        ]);
    }
    let container = container(shard, Component::Gateway, env, ports);
    let mut template = pod_template(shard, Component::Gateway, config_hash, container, 30);
    if let Some(tls) = tls {
        mount_secret(&mut template, TLS_VOLUME, &tls.secret_name, TLS_DIR);
    }
    if let Some(link) = link_secrets(shard) {
        link_tls(&mut template, link.of(Role::Gateway));
    }
    redis_tls(&mut template, shard);
    deployment(
        shard,
        Component::Gateway,
        shard.spec.gateway.replicas,
        template,
    )
}

/// The game Deployment with `replicas` pods (the autoscaler's choice).
pub fn game_deployment(shard: &MushShard, config_hash: &str, replicas: i32) -> Deployment {
    let grace = shard.spec.game.termination_grace_period_seconds;
    // The drain must finish inside the grace period, with room for the pre-stop sleep.
    let drain = (grace - 5).max(1);
    let container = container(
        shard,
        Component::Game,
        vec![
            field_env("POD_IP", "status.podIP"),
            env_var("MUSH_GRPC_LISTEN", format!("0.0.0.0:{GRPC_PORT}")),
            env_var("MUSH_HTTP_LISTEN", format!("0.0.0.0:{GAME_HTTP_PORT}")),
            env_var("MUSH_DRAIN_GRACE", drain.to_string()),
        ],
        vec![port("grpc", GRPC_PORT), port("http", GAME_HTTP_PORT)],
    );
    let mut template = pod_template(shard, Component::Game, config_hash, container, grace);
    if let Some(link) = link_secrets(shard) {
        link_tls(&mut template, link.of(Role::Game));
    }
    if let Some(tls) = &shard.spec.nats.tls {
        client_tls(
            &mut template,
            tls,
            NATS_TLS_VOLUME,
            NATS_TLS_DIR,
            "MUSH_NATS",
        );
    }
    if let Some(creds) = &shard.spec.nats.creds_secret_ref {
        mount_secret(
            &mut template,
            NATS_CREDS_VOLUME,
            &creds.name,
            NATS_CREDS_DIR,
        );
        add_env(
            &mut template,
            &[env_var(
                "MUSH_NATS_CREDS_FILE",
                format!("{NATS_CREDS_DIR}/{}", creds.key),
            )],
        );
    }
    redis_tls(&mut template, shard);
    deployment(shard, Component::Game, replicas, template)
}

/// Mounts Secret `secret` read-only at `dir` in every container of the pod. The whole
/// directory, not a subPath: the kubelet keeps a mounted Secret's files current only then,
/// and our processes re-read them for renewals.
fn mount_secret(template: &mut PodTemplateSpec, volume: &str, secret: &str, dir: &str) {
    let Some(pod) = template.spec.as_mut() else {
        return;
    };
    pod.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: volume.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    });
    for container in &mut pod.containers {
        container
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .push(VolumeMount {
                name: volume.to_owned(),
                mount_path: dir.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            });
    }
}

/// Mounts the link Secret `secret` and points the process at it.
fn link_tls(template: &mut PodTemplateSpec, secret: &str) {
    mount_secret(template, LINK_TLS_VOLUME, secret, LINK_TLS_DIR);
    add_env(template, &[env_var("MUSH_LINK_TLS_DIR", LINK_TLS_DIR)]);
}

/// Adds `env` to every container of the pod.
fn add_env(template: &mut PodTemplateSpec, env: &[EnvVar]) {
    for container in template.spec.iter_mut().flat_map(|pod| &mut pod.containers) {
        container
            .env
            .get_or_insert_with(Vec::new)
            .extend_from_slice(env);
    }
}

/// Both roles talk to Redis: its TLS Secret, when the shard names one.
fn redis_tls(template: &mut PodTemplateSpec, shard: &MushShard) {
    if let Some(tls) = &shard.spec.redis.tls {
        client_tls(template, tls, REDIS_TLS_VOLUME, REDIS_TLS_DIR, "MUSH_REDIS");
    }
}

/// Mounts a client TLS Secret at `dir` and points the process at its files through
/// `{var}_CA_FILE` (and `{var}_CERT_FILE`, `{var}_KEY_FILE`).
fn client_tls(
    template: &mut PodTemplateSpec,
    tls: &crate::crd::ClientTls,
    volume: &str,
    dir: &str,
    var: &str,
) {
    mount_secret(template, volume, &tls.secret_name, dir);
    let mut env = vec![env_var(&format!("{var}_CA_FILE"), format!("{dir}/ca.crt"))];
    if tls.client_certificate {
        env.push(env_var(
            &format!("{var}_CERT_FILE"),
            format!("{dir}/tls.crt"),
        ));
        env.push(env_var(
            &format!("{var}_KEY_FILE"),
            format!("{dir}/tls.key"),
        ));
    }
    add_env(template, &env);
}

fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// The Service players connect to.
pub fn gateway_service(shard: &MushShard) -> Service {
    let service = &shard.spec.gateway.service;
    Service {
        metadata: meta(
            shard,
            Names::of(shard).component(Component::Gateway),
            Some(Component::Gateway),
        ),
        spec: Some(ServiceSpec {
            type_: Some(service.type_.as_str().to_owned()),
            selector: Some(selector(shard, Component::Gateway)),
            ports: Some(
                [
                    service_port("telnet", service.telnet_port),
                    service_port("websocket", service.websocket_port),
                ]
                .into_iter()
                .chain(shard.spec.gateway.tls.iter().flat_map(|tls| {
                    [
                        service_port("telnet-tls", tls.telnet_port),
                        service_port("websocket-tls", tls.websocket_port),
                    ]
                }))
                .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The headless Service of the game pods (stable DNS per pod, metrics scraping).
pub fn game_service(shard: &MushShard) -> Service {
    Service {
        metadata: meta(
            shard,
            Names::of(shard).component(Component::Game),
            Some(Component::Game),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(selector(shard, Component::Game)),
            ports: Some(vec![
                service_port("grpc", GRPC_PORT),
                service_port("http", GAME_HTTP_PORT),
            ]),
            publish_not_ready_addresses: Some(false),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Who may reach the game pods, where the cluster enforces NetworkPolicies: the shard's
/// own gateways on the gRPC port (a stranger there is refused by the link's TLS too, but
/// need not reach it at all), and anyone on the HTTP port (the kubelet's probes, which
/// some network plugins do not exempt, and metrics scrapers in other namespaces).
/// Policies add up, so a user who needs more in (a mesh, a debugging tool) adds a policy
/// of their own rather than turning this one off; egress (Redis, NATS) is not limited,
/// since where those run is the user's to know.
pub fn game_network_policy(shard: &MushShard) -> NetworkPolicy {
    let pods = |component| LabelSelector {
        match_labels: Some(selector(shard, component)),
        ..LabelSelector::default()
    };
    let tcp = |name: &str| NetworkPolicyPort {
        port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    };
    NetworkPolicy {
        metadata: meta(
            shard,
            Names::of(shard).component(Component::Game),
            Some(Component::Game),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pods(Component::Game)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        pod_selector: Some(pods(Component::Gateway)),
                        ..NetworkPolicyPeer::default()
                    }]),
                    ports: Some(vec![tcp("grpc")]),
                },
                NetworkPolicyIngressRule {
                    from: None,
                    ports: Some(vec![tcp("http")]),
                },
            ]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// A server of the shard's that may run in its namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The Redis Cluster: gateways, game pods and the operator talk to it.
    Redis,
    /// NATS: only game pods talk to it.
    Nats,
}

impl Backend {
    /// Both.
    pub const ALL: [Backend; 2] = [Backend::Redis, Backend::Nats];

    fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Nats => "nats",
        }
    }

    /// The labels of its pods the spec gives, if it runs in the shard's namespace.
    pub fn pods(self, shard: &MushShard) -> Option<&BTreeMap<String, String>> {
        match self {
            Self::Redis => shard.spec.redis.pod_selector.as_ref(),
            Self::Nats => shard.spec.nats.pod_selector.as_ref(),
        }
    }
}

impl Names {
    /// The NetworkPolicy guarding a backend's pods.
    pub fn backend_policy(&self, backend: Backend) -> String {
        format!("{}-{}", self.shard, backend.as_str())
    }
}

/// Labels no pod carries: a backend policy whose selector the spec dropped selects them,
/// so it admits and denies nothing until the shard goes (the operator deletes nothing; owned
/// objects go with their owner).
const NO_POD: (&str, &str) = ("mush-on-kube.dev/no-pod", "true");

/// The NetworkPolicy that lets only the shard's own clients reach a backend's pods: the
/// shard's pods that use it, the backend's pods themselves (Redis' cluster bus and
/// replication, NATS routes), and for Redis the operator's namespace (it reads session
/// counts and claims prefixes). Without labels in the spec it selects no pod (see
/// [`NO_POD`]), which the controller applies only to neutralise one it made before.
pub fn backend_network_policy(
    shard: &MushShard,
    backend: Backend,
    operator_namespace: &str,
) -> NetworkPolicy {
    let labels = |map: BTreeMap<String, String>| LabelSelector {
        match_labels: Some(map),
        ..LabelSelector::default()
    };
    let backend_pods = backend
        .pods(shard)
        .cloned()
        .unwrap_or_else(|| BTreeMap::from([(NO_POD.0.to_owned(), NO_POD.1.to_owned())]));
    let mut clients = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "mush".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), shard.name_any()),
    ]);
    if backend == Backend::Nats {
        clients.insert(
            "app.kubernetes.io/component".to_owned(),
            Component::Game.as_str().to_owned(),
        );
    }
    let mut from = vec![
        NetworkPolicyPeer {
            pod_selector: Some(labels(clients)),
            ..NetworkPolicyPeer::default()
        },
        NetworkPolicyPeer {
            pod_selector: Some(labels(backend_pods.clone())),
            ..NetworkPolicyPeer::default()
        },
    ];
    if backend == Backend::Redis {
        from.push(NetworkPolicyPeer {
            namespace_selector: Some(labels(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                operator_namespace.to_owned(),
            )]))),
            ..NetworkPolicyPeer::default()
        });
    }
    NetworkPolicy {
        metadata: meta(shard, Names::of(shard).backend_policy(backend), None),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(labels(backend_pods)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: None,
            }]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// One voluntary disruption at a time: a node drain takes game pods one by one, each
/// handing its sessions over before the next goes.
pub fn pdb(shard: &MushShard, component: Component) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(
            shard,
            Names::of(shard).component(component),
            Some(component),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector(shard, component)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// What a shard's pod asks for when its spec says nothing: a request the scheduler can
/// place by, and a memory limit well above what was measured (game pods settle at about
/// 60-70 MB after a storm of 2,000 sessions, the gateway at about 70 MB holding 2,000;
/// `scripts/bench-storm`). No CPU limit: throttling a pod at its limit adds latency to
/// every command it runs, and the request already shares the node fairly.
fn default_resources(component: Component) -> ResourceRequirements {
    let (cpu, memory, limit) = match component {
        Component::Gateway => ("100m", "64Mi", "512Mi"),
        Component::Game => ("250m", "128Mi", "1Gi"),
    };
    let quantity = |q: &str| k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.to_owned());
    ResourceRequirements {
        requests: Some(
            [
                ("cpu".to_owned(), quantity(cpu)),
                ("memory".to_owned(), quantity(memory)),
            ]
            .into_iter()
            .collect(),
        ),
        limits: Some(
            [("memory".to_owned(), quantity(limit))]
                .into_iter()
                .collect(),
        ),
        ..ResourceRequirements::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::crd::test_shard as shard;

    fn container_of(deployment: &Deployment) -> &Container {
        &deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec")
            .containers[0]
    }

    /// The Secret mounted at `dir` in the deployment's container, and its mount.
    /// The first container's environment values whose names start with `prefix`.
    fn env_of(deployment: &Deployment, prefix: &str) -> BTreeMap<String, String> {
        container_of(deployment)
            .env
            .iter()
            .flatten()
            .filter(|e| e.name.starts_with(prefix))
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    fn secret_at(deployment: &Deployment, dir: &str) -> Option<(String, VolumeMount)> {
        let mount = container_of(deployment)
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == dir)?
            .clone();
        let pod = deployment.spec.as_ref()?.template.spec.as_ref()?;
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)?;
        Some((volume.secret.as_ref()?.secret_name.clone()?, mount))
    }

    #[test]
    fn every_object_is_owned_by_the_shard_and_labelled() {
        let shard = shard();
        let config = config_map(&shard);
        let hash = config_hash(&config, &[]);
        let metas = [
            config.metadata.clone(),
            service_account(&shard).metadata,
            gateway_deployment(&shard, &hash).metadata,
            game_deployment(&shard, &hash, 3).metadata,
            gateway_service(&shard).metadata,
            game_service(&shard).metadata,
            pdb(&shard, Component::Gateway).metadata,
            pdb(&shard, Component::Game).metadata,
            game_network_policy(&shard).metadata,
        ];
        for meta in metas {
            let owners = meta.owner_references.expect("owner");
            assert_eq!(owners.len(), 1);
            assert_eq!(owners[0].kind, "MushShard");
            assert_eq!(owners[0].controller, Some(true));
            assert_eq!(meta.namespace.as_deref(), Some("games"));
            assert_eq!(
                meta.labels.expect("labels")["app.kubernetes.io/instance"],
                "world"
            );
        }
    }

    #[test]
    fn only_the_shards_gateways_reach_the_game_pods_grpc_port() {
        let shard = shard();
        let spec = game_network_policy(&shard).spec.expect("spec");
        let game = game_deployment(&shard, "h", 2);
        let template = game.spec.expect("spec").template;
        // The policy selects exactly the game pods (not the gateways).
        let selected = spec
            .pod_selector
            .and_then(|s| s.match_labels)
            .expect("labels");
        let labels = template.metadata.expect("meta").labels.expect("labels");
        assert!(selected.iter().all(|(k, v)| labels.get(k) == Some(v)));
        assert_ne!(selected, selector(&shard, Component::Gateway));
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        let rules = spec.ingress.expect("ingress");
        let ports = |rule: &NetworkPolicyIngressRule| -> Vec<String> {
            rule.ports
                .iter()
                .flatten()
                .filter_map(|p| match &p.port {
                    Some(IntOrString::String(name)) => Some(name.clone()),
                    _ => None,
                })
                .collect()
        };
        let grpc: Vec<_> = rules.iter().filter(|r| ports(r) == ["grpc"]).collect();
        assert_eq!(grpc.len(), 1);
        let from = grpc[0].from.as_ref().expect("grpc only from some pods");
        assert_eq!(from.len(), 1);
        assert_eq!(
            from[0]
                .pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.clone()),
            Some(selector(&shard, Component::Gateway))
        );
        assert!(from[0].namespace_selector.is_none(), "this namespace only");
        // Probes and scrapers reach the HTTP port from anywhere; nothing else is open.
        let http: Vec<_> = rules.iter().filter(|r| ports(r) == ["http"]).collect();
        assert_eq!(http.len(), 1);
        assert!(http[0].from.is_none());
        assert_eq!(rules.len(), 2);
        // The named ports exist on the game container.
        let container = &template.spec.expect("pod").containers[0];
        let named: Vec<_> = container
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect();
        assert!(named.contains(&"grpc".to_owned()) && named.contains(&"http".to_owned()));
    }

    #[test]
    fn game_pods_drain_within_their_grace_and_are_hardened() {
        let mut shard = shard();
        shard.spec.game.termination_grace_period_seconds = 90;
        let deployment = game_deployment(&shard, "h", 4);
        let spec = deployment.spec.as_ref().expect("spec");
        assert_eq!(spec.replicas, Some(4));
        let pod = spec.template.spec.as_ref().expect("pod");
        assert_eq!(pod.termination_grace_period_seconds, Some(90));
        let container = container_of(&deployment);
        let env: BTreeMap<_, _> = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e))
            .collect();
        assert_eq!(env["MUSH_DRAIN_GRACE"].value.as_deref(), Some("85"));
        assert!(env["POD_NAME"].value_from.is_some());
        assert!(env["POD_IP"].value_from.is_some());
        assert_eq!(container.args, Some(vec!["game".to_owned()]));
        let security = container.security_context.as_ref().expect("security");
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(
            security.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(
            pod.security_context
                .as_ref()
                .and_then(|s| s.run_as_non_root),
            Some(true)
        );
        let readiness = container.readiness_probe.as_ref().expect("readiness");
        assert_eq!(
            readiness.http_get.as_ref().and_then(|h| h.path.as_deref()),
            Some("/readyz")
        );
        let liveness = container.liveness_probe.as_ref().expect("liveness");
        assert_eq!(
            liveness.http_get.as_ref().and_then(|h| h.path.as_deref()),
            Some("/livez")
        );
        let annotations = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .expect("annotations");
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["prometheus.io/port"], "8080");
        // Rolling updates add before they remove.
        let rolling = spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .expect("rolling");
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    }

    #[test]
    fn pods_get_default_requests_and_a_memory_limit_unless_the_spec_sets_them() {
        let mut shard = shard();
        let resources = |shard: &MushShard| {
            game_deployment(shard, "h", 2)
                .spec
                .and_then(|s| s.template.spec)
                .map(|p| p.containers[0].resources.clone())
                .expect("container")
                .expect("resources")
        };
        let default = resources(&shard);
        let requests = default.requests.expect("requests");
        assert_eq!(requests["cpu"].0, "250m");
        assert_eq!(requests["memory"].0, "128Mi");
        let limits = default.limits.expect("limits");
        assert_eq!(limits["memory"].0, "1Gi");
        assert!(!limits.contains_key("cpu"), "no CPU limit by default");
        let mine = ResourceRequirements {
            limits: Some(
                [(
                    "memory".to_owned(),
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity("2Gi".into()),
                )]
                .into_iter()
                .collect(),
            ),
            ..ResourceRequirements::default()
        };
        shard.spec.game.resources = Some(mine.clone());
        assert_eq!(resources(&shard), mine, "the spec's own resources win");
    }

    #[test]
    fn configuration_reaches_pods_and_a_change_rolls_them() {
        let mut shard = shard();
        let config = config_map(&shard);
        let data = config.data.clone().expect("data");
        assert_eq!(data["MUSH_REDIS"], "redis://r-0:6379,redis://r-1:6379");
        assert_eq!(data["MUSH_PREFIX"], "w1");
        assert_eq!(data["MUSH_NATS"], "nats://nats:4222");
        assert_eq!(data["MUSH_LOG_FORMAT"], "json");
        assert_eq!(
            data["MUSH_MASTER_ROOM"], "2",
            "TinyMUX's master room by default"
        );
        let before = config_hash(&config, &shard.spec.env);
        shard.spec.game.master_room = 40;
        assert_eq!(
            config_map(&shard).data.expect("data")["MUSH_MASTER_ROOM"],
            "40"
        );
        assert_ne!(before, config_hash(&config_map(&shard), &shard.spec.env));
        shard.spec.game.master_room = 2;
        shard.spec.nats.url = Some("nats://other:4222".into());
        assert_ne!(before, config_hash(&config_map(&shard), &shard.spec.env));
        shard.spec.env.push(env_var("MUSH_GOD_PASSWORD", "x"));
        shard.spec.env.push(env_var("MUSH_EXTRA", "y"));
        let with_env = config_hash(&config_map(&shard), &shard.spec.env);
        assert_ne!(before, with_env);
        let names = |c: &Container| -> Vec<String> {
            c.env.iter().flatten().map(|e| e.name.clone()).collect()
        };
        let gateway = names(container_of(&gateway_deployment(&shard, &with_env)));
        let game = names(container_of(&game_deployment(&shard, &with_env, 2)));
        assert!(
            gateway.contains(&"MUSH_EXTRA".to_owned()),
            "extra env reaches the gateway"
        );
        assert!(
            game.contains(&"MUSH_EXTRA".to_owned()),
            "extra env reaches the game"
        );
        assert!(game.contains(&"MUSH_GOD_PASSWORD".to_owned()));
        assert!(
            !gateway.contains(&"MUSH_GOD_PASSWORD".to_owned()),
            "God's password reached the gateway"
        );
    }

    #[test]
    fn gateway_tls_mounts_its_secret_and_opens_two_more_ports() {
        let mut shard = shard();
        let plain = gateway_deployment(&shard, "h");
        assert!(secret_at(&plain, "/etc/mush/tls").is_none());
        assert_eq!(
            gateway_service(&shard)
                .spec
                .expect("spec")
                .ports
                .expect("ports")
                .len(),
            2
        );
        shard.spec.gateway.tls = Some(crate::crd::GatewayTls {
            secret_name: "world-tls".into(),
            telnet_port: 4203,
            websocket_port: 443,
        });
        let deployment = gateway_deployment(&shard, "h");
        let container = container_of(&deployment);
        let env: BTreeMap<_, _> = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(env["MUSH_TELNET_TLS_LISTEN"], "0.0.0.0:4203");
        assert_eq!(env["MUSH_WEBSOCKET_TLS_LISTEN"], "0.0.0.0:4204");
        assert_eq!(env["MUSH_TLS_CERT"], "/etc/mush/tls/tls.crt");
        assert_eq!(env["MUSH_TLS_KEY"], "/etc/mush/tls/tls.key");
        let mount = &container.volume_mounts.as_ref().expect("mounts")[0];
        assert_eq!(
            (
                mount.mount_path.as_str(),
                mount.read_only,
                mount.sub_path.as_ref()
            ),
            ("/etc/mush/tls", Some(true), None),
            "a subPath mount would never see the renewed Secret"
        );
        let pod = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec");
        let volume = &pod.volumes.as_ref().expect("volumes")[0];
        assert_eq!(volume.name, mount.name);
        assert_eq!(
            volume
                .secret
                .as_ref()
                .and_then(|s| s.secret_name.as_deref()),
            Some("world-tls")
        );
        let ports: Vec<(String, i32)> = gateway_service(&shard)
            .spec
            .and_then(|s| s.ports)
            .expect("ports")
            .into_iter()
            .map(|p| (p.name.unwrap_or_default(), p.port))
            .collect();
        assert_eq!(
            ports,
            vec![
                ("telnet".to_owned(), 4201),
                ("websocket".to_owned(), 4202),
                ("telnet-tls".to_owned(), 4203),
                ("websocket-tls".to_owned(), 443),
            ]
        );
        // Game pods never see the certificate.
        assert!(secret_at(&game_deployment(&shard, "h", 2), "/etc/mush/tls").is_none());
    }

    #[test]
    fn link_tls_mounts_each_roles_secret_and_points_the_process_at_it() {
        let named = crate::crd::LinkTls {
            gateway_secret_name: Some("mine-gateway".into()),
            game_secret_name: Some("mine-game".into()),
            disabled: false,
        };
        let disabled = crate::crd::LinkTls {
            disabled: true,
            ..Default::default()
        };
        let issued = shard().name_any();
        let issued = [
            format!("{issued}-link-gateway"),
            format!("{issued}-link-game"),
        ];
        // (case, the spec's linkTls, the Secrets mounted: gateway's, game's)
        let table = [
            (
                "left out: the operator's",
                None,
                Some([issued[0].as_str(), issued[1].as_str()]),
            ),
            (
                "named: the user's",
                Some(named),
                Some(["mine-gateway", "mine-game"]),
            ),
            ("disabled: none", Some(disabled), None),
        ];
        for (case, link, expected) in table {
            let mut shard = shard();
            shard.spec.link_tls = link;
            let deployments = [
                gateway_deployment(&shard, "h"),
                game_deployment(&shard, "h", 2),
            ];
            for (n, deployment) in deployments.iter().enumerate() {
                let container = container_of(deployment);
                let dir = container
                    .env
                    .iter()
                    .flatten()
                    .find(|e| e.name == "MUSH_LINK_TLS_DIR")
                    .and_then(|e| e.value.clone());
                let mounted = secret_at(deployment, "/etc/mush/link-tls");
                let Some(expected) = expected else {
                    assert!(dir.is_none() && mounted.is_none(), "{case}");
                    continue;
                };
                assert_eq!(dir.as_deref(), Some("/etc/mush/link-tls"), "{case}");
                let (mounted, mount) = mounted.expect("link mount");
                assert_eq!(
                    (mount.read_only, mount.sub_path.as_ref()),
                    (Some(true), None),
                    "{case}"
                );
                assert_eq!(mounted, expected[n], "{case}");
            }
        }
    }

    #[test]
    fn client_tls_secrets_reach_the_pods_that_talk_to_each_server() {
        let mut shard = shard();
        let mounted = |deployment: &Deployment, dir: &str| secret_at(deployment, dir).map(|s| s.0);
        let secret = |name: &str, client_certificate| crate::crd::ClientTls {
            secret_name: name.into(),
            client_certificate,
        };
        assert!(env_of(&game_deployment(&shard, "h", 2), "MUSH_NATS_").is_empty());
        shard.spec.nats.tls = Some(secret("nats-client", false));
        shard.spec.redis.tls = Some(secret("redis-client", true));
        let game = game_deployment(&shard, "h", 2);
        let gateway = gateway_deployment(&shard, "h");
        assert_eq!(
            env_of(&game, "MUSH_NATS_"),
            BTreeMap::from([(
                "MUSH_NATS_CA_FILE".to_owned(),
                "/etc/mush/nats-tls/ca.crt".to_owned()
            )])
        );
        assert_eq!(
            mounted(&game, "/etc/mush/nats-tls").as_deref(),
            Some("nats-client")
        );
        // The gateways never talk to NATS; both roles talk to Redis.
        assert!(env_of(&gateway, "MUSH_NATS_").is_empty());
        assert!(mounted(&gateway, "/etc/mush/nats-tls").is_none());
        for deployment in [&game, &gateway] {
            let env = env_of(deployment, "MUSH_REDIS_");
            assert_eq!(env["MUSH_REDIS_CA_FILE"], "/etc/mush/redis-tls/ca.crt");
            assert_eq!(env["MUSH_REDIS_CERT_FILE"], "/etc/mush/redis-tls/tls.crt");
            assert_eq!(env["MUSH_REDIS_KEY_FILE"], "/etc/mush/redis-tls/tls.key");
            assert_eq!(
                mounted(deployment, "/etc/mush/redis-tls").as_deref(),
                Some("redis-client")
            );
        }
        shard.spec.nats.tls = Some(secret("nats-client", true));
        let env = env_of(&game_deployment(&shard, "h", 2), "MUSH_NATS_");
        assert_eq!(env["MUSH_NATS_CERT_FILE"], "/etc/mush/nats-tls/tls.crt");
        assert_eq!(env["MUSH_NATS_KEY_FILE"], "/etc/mush/nats-tls/tls.key");
    }

    /// Redis and NATS running beside the shard: only the shard's own clients, the servers
    /// themselves and (Redis) the operator's namespace reach them; without labels the
    /// policy selects no pod at all.
    #[test]
    fn backend_policies_admit_the_shards_clients_and_the_servers_themselves() {
        let mut shard = shard();
        shard.spec.redis.pod_selector = Some(BTreeMap::from([("app".into(), "redis".into())]));
        shard.spec.nats.pod_selector = Some(BTreeMap::from([("app".into(), "nats".into())]));
        let peers = |policy: &NetworkPolicy| -> Vec<String> {
            let spec = policy.spec.as_ref().expect("spec");
            let rules = spec.ingress.as_ref().expect("ingress");
            assert_eq!(rules.len(), 1);
            assert!(rules[0].ports.is_none(), "every port of the servers");
            rules[0]
                .from
                .iter()
                .flatten()
                .map(|peer| {
                    let pods = peer
                        .pod_selector
                        .as_ref()
                        .and_then(|s| s.match_labels.as_ref());
                    let namespaces = peer
                        .namespace_selector
                        .as_ref()
                        .and_then(|s| s.match_labels.as_ref());
                    format!("pods {pods:?} namespaces {namespaces:?}")
                })
                .collect()
        };
        let selected = |policy: &NetworkPolicy| {
            policy
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.as_ref())
                .and_then(|s| s.match_labels.clone())
        };
        let name = shard.name_any();
        let redis = backend_network_policy(&shard, Backend::Redis, "mush-system");
        assert_eq!(
            redis.metadata.name.as_deref(),
            Some(format!("{name}-redis").as_str())
        );
        assert_eq!(
            selected(&redis),
            Some(BTreeMap::from([("app".into(), "redis".into())]))
        );
        let shard_pods = format!(
            "pods Some({{\"app.kubernetes.io/instance\": \"{name}\", \"app.kubernetes.io/name\": \"mush\"}}) namespaces None"
        );
        assert_eq!(
            peers(&redis),
            [
                shard_pods.clone(),
                r#"pods Some({"app": "redis"}) namespaces None"#.to_owned(),
                r#"pods None namespaces Some({"kubernetes.io/metadata.name": "mush-system"})"#
                    .to_owned(),
            ]
        );
        let nats = backend_network_policy(&shard, Backend::Nats, "mush-system");
        let game_pods = format!(
            "pods Some({{\"app.kubernetes.io/component\": \"game\", \"app.kubernetes.io/instance\": \"{name}\", \"app.kubernetes.io/name\": \"mush\"}}) namespaces None"
        );
        assert_eq!(
            peers(&nats),
            [
                game_pods,
                r#"pods Some({"app": "nats"}) namespaces None"#.to_owned()
            ]
        );
        shard.spec.redis.pod_selector = None;
        let inert = backend_network_policy(&shard, Backend::Redis, "mush-system");
        assert_eq!(
            selected(&inert),
            Some(BTreeMap::from([(
                "mush-on-kube.dev/no-pod".into(),
                "true".into()
            )]))
        );
    }

    #[test]
    fn nats_credentials_reach_the_game_pods_as_a_file() {
        let mut shard = shard();
        shard.spec.nats.creds_secret_ref = Some(k8s_openapi::api::core::v1::SecretKeySelector {
            name: "world-nats".into(),
            key: "game.creds".into(),
            optional: None,
        });
        let (game, gateway) = (
            game_deployment(&shard, "h", 2),
            gateway_deployment(&shard, "h"),
        );
        let env = env_of(&game, "MUSH_NATS_");
        assert_eq!(
            env["MUSH_NATS_CREDS_FILE"],
            "/etc/mush/nats-creds/game.creds"
        );
        let (secret, mount) = secret_at(&game, "/etc/mush/nats-creds").expect("mounted");
        assert_eq!(
            (secret.as_str(), mount.read_only),
            ("world-nats", Some(true))
        );
        assert!(env_of(&gateway, "MUSH_NATS_").is_empty());
        assert!(secret_at(&gateway, "/etc/mush/nats-creds").is_none());
    }

    #[test]
    fn gods_password_from_its_secret_reaches_only_game_pods() {
        let mut shard = shard();
        shard.spec.game.god_password_secret_ref =
            Some(k8s_openapi::api::core::v1::SecretKeySelector {
                name: "world-god".into(),
                key: "password".into(),
                optional: None,
            });
        let from = |c: &Container| {
            c.env
                .iter()
                .flatten()
                .find(|e| e.name == "MUSH_GOD_PASSWORD")
                .and_then(|e| e.value_from.as_ref())
                .and_then(|v| v.secret_key_ref.as_ref())
                .map(|s| (s.name.clone(), s.key.clone()))
        };
        assert_eq!(
            from(container_of(&game_deployment(&shard, "h", 2))),
            Some(("world-god".to_owned(), "password".to_owned()))
        );
        assert_eq!(from(container_of(&gateway_deployment(&shard, "h"))), None);
    }

    #[test]
    fn config_hash_is_fnv1a_of_the_json_and_so_stable_across_builds() {
        // FNV-1a of `[null,[]]`, computed independently.
        assert_eq!(config_hash(&ConfigMap::default(), &[]), "2d4c5f4c6b552c88");
    }

    #[test]
    fn secrets_become_secret_references_not_config() {
        let mut shard = shard();
        let selector = k8s_openapi::api::core::v1::SecretKeySelector {
            name: "redis-auth".into(),
            key: "nodes".into(),
            optional: None,
        };
        shard.spec.redis.endpoints = None;
        shard.spec.redis.endpoints_secret_ref = Some(selector.clone());
        assert!(
            !config_map(&shard)
                .data
                .expect("data")
                .contains_key("MUSH_REDIS")
        );
        let deployment = game_deployment(&shard, "h", 2);
        let redis = container_of(&deployment)
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "MUSH_REDIS")
            .expect("MUSH_REDIS");
        assert_eq!(
            redis
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.clone()),
            Some(selector)
        );
    }

    #[test]
    fn services_and_budgets() {
        let mut shard = shard();
        shard.spec.gateway.service.type_ = crate::crd::ServiceType::LoadBalancer;
        shard.spec.gateway.service.telnet_port = 23;
        let gateway = gateway_service(&shard).spec.expect("spec");
        assert_eq!(gateway.type_.as_deref(), Some("LoadBalancer"));
        let ports = gateway.ports.expect("ports");
        assert_eq!(ports[0].port, 23);
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("telnet".into()))
        );
        let game = game_service(&shard).spec.expect("spec");
        assert_eq!(game.cluster_ip.as_deref(), Some("None"));
        let budget = pdb(&shard, Component::Game).spec.expect("spec");
        assert_eq!(budget.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(
            budget.selector.and_then(|s| s.match_labels),
            Some(selector(&shard, Component::Game))
        );
    }
}
