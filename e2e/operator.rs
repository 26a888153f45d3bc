//! The operator end to end, on a real Kubernetes control plane on 127.0.0.1: etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler and kwok (pods become Running
//! and Ready without containers), built from pinned Go modules by `scripts/k8s-tools`
//! (cached; the first run builds them). Helm installs the chart; the operator runs as a
//! local `mush operator` process with the chart's service account identity (impersonated),
//! so the chart's RBAC is what it gets. Session counts come from a real Redis Cluster.
//!
//! ```text
//! cargo test -p mush --test operator -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mush_harness::{
    ClusterOptions, ClusterTls, KubeControlPlane, Pki, RedisCluster, Server, eventually, free_port,
    on_fresh_ports, repo_dir, run_script,
};
use mush_proto::{ConnType, GatewayId, Handle, PodId};
use mush_store::{NewConnection, PodInfo, RedisTls, Store, StoreConfig, StoreMetrics};

const NAMESPACE: &str = "games";
const OPERATOR_NS: &str = "mush-system";
const SERVICE_ACCOUNT: &str = "mush-operator";

struct Cluster {
    plane: KubeControlPlane,
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> String {
        self.plane
            .kubectl(args)
            .unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
    }

    fn jsonpath(&self, kind_name: &str, path: &str) -> String {
        self.plane
            .kubectl(&[
                "-n",
                NAMESPACE,
                "get",
                kind_name,
                "-o",
                &format!("jsonpath={path}"),
            ])
            .unwrap_or_default()
    }

    fn apply(&self, yaml: &str) -> Result<String, String> {
        self.plane
            .kubectl_stdin(&["apply", "-f", "-"], yaml)
            .map_err(|e| e.to_string())
    }

    /// Merge-patches the `world` shard as a user would with `kubectl patch`.
    fn patch_shard(&self, patch: &str) {
        self.kubectl(&[
            "-n",
            NAMESPACE,
            "patch",
            "mushshard/world",
            "--type=merge",
            "-p",
            patch,
        ]);
    }

    fn game_pods(&self) -> Vec<String> {
        self.kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/instance=world,app.kubernetes.io/component=game",
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
    }
}

fn shard_yaml(redis: &[String], spec_extra: &str) -> String {
    let endpoints: Vec<String> = redis.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        r#"apiVersion: mush-on-kube.dev/v1alpha1
kind: MushShard
metadata:
  name: world
  namespace: {NAMESPACE}
spec:
  image: mush-on-kube/mush:e2e
  redis:
    endpoints: [{}]
    tls: {{secretName: redis-tls, clientCertificate: true}}
    keyPrefix: world
  nats:
    url: nats://127.0.0.1:4222
{spec_extra}"#,
        endpoints.join(", ")
    )
}

const GAME_SPEC: &str = "  game:
    minReplicas: 2
    maxReplicas: 6
    targetSessionsPerPod: 10
    scaleDownDelaySeconds: 3
";

/// A kubeconfig that acts as the chart's service account: the operator gets exactly the
/// RBAC the chart grants.
fn impersonating_kubeconfig(plane: &KubeControlPlane) -> PathBuf {
    let admin = std::fs::read_to_string(plane.kubeconfig()).expect("kubeconfig");
    let user = format!(
        "    as: system:serviceaccount:{OPERATOR_NS}:{SERVICE_ACCOUNT}\n    as-groups: [\"system:serviceaccounts\", \"system:serviceaccounts:{OPERATOR_NS}\", \"system:authenticated\"]\n"
    );
    let impersonating = admin.replace("    client-key:", &format!("{user}    client-key:"));
    let path = plane.dir().join("operator.kubeconfig");
    std::fs::write(&path, impersonating).expect("write kubeconfig");
    path
}

fn start_operator(plane: &KubeControlPlane, kubeconfig: &Path, identity: &str) -> Server {
    on_fresh_ports(|| {
        let http = free_port()?;
        Server::spawn(
            format!("mush operator {identity}"),
            Path::new(env!("CARGO_BIN_EXE_mush")),
            vec![
                "--log".into(),
                "info,kube=warn".into(),
                "operator".into(),
                "--kubeconfig".into(),
                kubeconfig.display().to_string(),
                "--http".into(),
                format!("127.0.0.1:{http}"),
                "--lease-namespace".into(),
                OPERATOR_NS.into(),
                "--lease-name".into(),
                "mush-operator".into(),
                "--identity".into(),
                identity.into(),
                "--lease-seconds".into(),
                "6".into(),
            ],
            http,
            plane.dir().join(format!("operator-{identity}.log")),
        )
    })
    .expect("operator")
}

/// Keeps the game pods' heartbeats alive in Redis and gives each pod its sessions, as
/// game pods would, while the test changes the numbers.
struct SessionSim {
    store: Store,
    next_handle: u64,
    handles: BTreeMap<String, Vec<u64>>,
}

impl SessionSim {
    async fn set(&mut self, pod: &str, sessions: usize) {
        let have = self.handles.entry(pod.to_owned()).or_default();
        while have.len() < sessions {
            self.next_handle += 1;
            self.store
                .register(&NewConnection {
                    handle: Handle(self.next_handle),
                    gateway: GatewayId::new("gw-e2e").expect("id"),
                    pod: Some(PodId::new(pod).expect("pod id")),
                    address: "127.0.0.1:1".into(),
                    host: "localhost".into(),
                    conn_type: ConnType::Telnet,
                    connected_at_ms: mush_store::now_ms(),
                })
                .await
                .expect("register");
            have.push(self.next_handle);
        }
        while have.len() > sessions {
            let handle = have.pop().expect("handle");
            self.store.remove(Handle(handle)).await.expect("remove");
        }
    }

    async fn beat(&self, pods: &[String]) {
        for pod in pods {
            let info = PodInfo {
                id: PodId::new(pod.as_str()).expect("pod id"),
                addr: "10.244.0.9:50051".into(),
                draining: false,
            };
            self.store
                .heartbeat(&info, Duration::from_secs(5))
                .await
                .expect("heartbeat");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_on_a_real_control_plane() {
    let started = Instant::now();
    let bin =
        tokio::task::block_in_place(|| run_script("k8s-tools", &[])).expect("scripts/k8s-tools");
    let dir = tempfile::Builder::new()
        .prefix("mush-e2e-k8s-")
        .tempdir()
        .expect("dir");
    let plane = tokio::task::block_in_place(|| KubeControlPlane::start(&bin, dir.path()))
        .expect("control plane");
    println!("control plane up in {:?}", started.elapsed());
    let k = Cluster { plane };
    // Redis speaks only TLS and wants client certificates: the operator reads the CA and
    // its certificate from the Secret the shard names (created below).
    let pki = Pki::new(&dir.path().join("redis-ca"), "redis-ca").expect("ca");
    let files = ClusterTls::issued_by(&pki, ClusterOptions::default().bind).expect("certificates");
    let (client_cert, client_key) = files.cli_client.clone().expect("a client certificate");
    let redis = RedisCluster::start_with(ClusterOptions {
        tls: Some(files),
        ..ClusterOptions::default()
    })
    .expect("redis");
    let read = |path: &std::path::Path| std::fs::read(path).expect("pem");
    let redis_tls = RedisTls {
        ca: read(&pki.ca()),
        client: Some((read(&client_cert), read(&client_key))),
    };
    let store = shard_store(&redis, &redis_tls, "world").await;

    // The chart: lint clean, template identical to the checked-in plain manifests, and
    // installed with Helm; its Deployment rolls out on the kwok node.
    let chart = repo_dir().join("charts/mush-operator");
    let chart = chart.to_str().expect("path");
    k.plane
        .helm(&["lint", "--strict", chart])
        .expect("helm lint");
    let rendered = k
        .plane
        .helm(&[
            "template",
            "mush-operator",
            chart,
            "--namespace",
            OPERATOR_NS,
            "--include-crds",
        ])
        .expect("helm template");
    let manifests = std::fs::read_to_string(repo_dir().join("manifests/mush-operator.yaml"))
        .expect("manifests");
    assert!(
        manifests.ends_with(&rendered),
        "manifests/mush-operator.yaml is stale: run scripts/gen-k8s"
    );
    k.plane
        .helm(&[
            "install",
            "mush-operator",
            chart,
            "--namespace",
            OPERATOR_NS,
            "--create-namespace",
            "--wait",
            "--timeout",
            "120s",
        ])
        .expect("helm install");
    println!("chart installed at {:?}", started.elapsed());

    // Least privilege: what the operator needs, and not more.
    let can = |verb: &str, resource: &str| {
        k.plane
            .kubectl(&[
                "auth",
                "can-i",
                verb,
                resource,
                "--all-namespaces",
                &format!("--as=system:serviceaccount:{OPERATOR_NS}:{SERVICE_ACCOUNT}"),
            ])
            .is_ok_and(|out| out.trim() == "yes")
    };
    assert!(can("patch", "deployments.apps"));
    assert!(can("patch", "mushshards.mush-on-kube.dev/status"));
    assert!(
        !can("delete", "deployments.apps"),
        "the operator may delete deployments"
    );
    assert!(!can("list", "secrets"), "the operator may list secrets");
    assert!(
        can("create", "secrets"),
        "the operator cannot issue link certificates"
    );
    assert!(!can("delete", "secrets"), "the operator may delete secrets");
    assert!(!can("create", "pods"), "the operator may create pods");

    let kubeconfig = impersonating_kubeconfig(&k.plane);
    let mut leader = start_operator(&k.plane, &kubeconfig, "local-a");
    let lease_holder = || {
        k.plane
            .kubectl(&[
                "-n",
                OPERATOR_NS,
                "get",
                "lease",
                "mush-operator",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ])
            .unwrap_or_default()
    };
    eventually("local-a to lead", Duration::from_secs(30), || {
        (lease_holder() == "local-a").then_some(())
    });

    // Invalid specs are refused by the API server with the schema's message.
    k.kubectl(&["create", "namespace", NAMESPACE]);
    let file = |key: &str, path: &std::path::Path| format!("--from-file={key}={}", path.display());
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "create",
        "secret",
        "generic",
        "redis-tls",
        &file("ca.crt", &pki.ca()),
        &file("tls.crt", &client_cert),
        &file("tls.key", &client_key),
    ]);
    let urls = redis.urls();
    for (extra, message) in [
        (
            "  game:\n    minReplicas: 5\n    maxReplicas: 2\n",
            "game.minReplicas must not be greater than game.maxReplicas",
        ),
        (
            "  game:\n    targetSessionsPerPod: 0\n",
            "should be greater than or equal to 1",
        ),
        ("  logFormat: xml\n", "Unsupported value: \"xml\""),
    ] {
        let error = k
            .apply(&shard_yaml(&urls, extra))
            .expect_err("invalid spec accepted");
        assert!(error.contains(message), "{message:?} not in: {error}");
    }
    let both = shard_yaml(&urls, "").replace(
        "    keyPrefix: world\n",
        "    keyPrefix: world\n    endpointsSecretRef: {name: redis-auth, key: nodes}\n",
    );
    let error = k.apply(&both).expect_err("two endpoint sources accepted");
    assert!(
        error.contains("set exactly one of redis.endpoints"),
        "{error}"
    );
    let no_image = shard_yaml(&urls, "").replace("  image: mush-on-kube/mush:e2e\n", "");
    let error = k.apply(&no_image).expect_err("missing image accepted");
    assert!(error.contains("spec.image: Required value"), "{error}");

    // A shard: Deployments, Services, PDBs, a NetworkPolicy, ConfigMap, ServiceAccount,
    // then Ready.
    k.apply(&shard_yaml(&urls, GAME_SPEC)).expect("apply shard");
    eventually(
        "the Deployments to be created",
        Duration::from_secs(60),
        || {
            k.plane
                .kubectl(&[
                    "-n",
                    NAMESPACE,
                    "get",
                    "deployment/world-gateway",
                    "deployment/world-game",
                ])
                .ok()
        },
    );
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "wait",
        "--for=condition=Available",
        "deployment/world-gateway",
        "deployment/world-game",
        "--timeout=120s",
    ]);
    for object in [
        "service/world-gateway",
        "service/world-game",
        "poddisruptionbudget/world-gateway",
        "poddisruptionbudget/world-game",
        "networkpolicy/world-game",
        "configmap/world-config",
        "serviceaccount/world-mush",
    ] {
        k.kubectl(&["-n", NAMESPACE, "get", object]);
    }
    assert_eq!(
        k.jsonpath("service/world-game", "{.spec.clusterIP}"),
        "None"
    );
    link_certificates_are_issued_and_renewed(&k, &dir);
    backend_policy_follows_the_spec(&k);
    // The game pods' gRPC port takes only this shard's gateways.
    assert_eq!(
        k.jsonpath(
            "networkpolicy/world-game",
            r"{.spec.ingress[0].ports[0].port}/{.spec.ingress[0].from[0].podSelector.matchLabels.app\.kubernetes\.io/component}/{.spec.podSelector.matchLabels.app\.kubernetes\.io/component}"
        ),
        "grpc/gateway/game"
    );
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "wait",
        "--for=condition=Ready",
        "mushshard/world",
        "--timeout=120s",
    ]);
    let table = k.kubectl(&["-n", NAMESPACE, "get", "mush"]);
    println!("{table}");
    assert!(
        table.contains("READY") && table.contains("SESSIONS") && table.contains("GAME PODS"),
        "{table}"
    );
    println!("shard ready at {:?}", started.elapsed());

    // A spec change rolls out, and the status says which generation it describes.
    k.patch_shard(
        r#"{"spec":{"gateway":{"replicas":2},"env":[{"name":"MUSH_MOTD","value":"hello"}]}}"#,
    );
    eventually("the gateway to scale to 2", Duration::from_secs(60), || {
        (k.jsonpath("deployment/world-gateway", "{.status.readyReplicas}") == "2").then_some(())
    });
    eventually("status to catch up", Duration::from_secs(30), || {
        let generation = k.jsonpath("mushshard/world", "{.metadata.generation}");
        (k.jsonpath("mushshard/world", "{.status.observedGeneration}") == generation
            && k.jsonpath("mushshard/world", "{.status.gatewayReadyReplicas}") == "2")
            .then_some(())
    });
    let env = k.jsonpath(
        "deployment/world-game",
        "{.spec.template.spec.containers[0].env[*].name}",
    );
    assert!(env.contains("MUSH_MOTD"), "{env}");

    // Sessions drive the game replicas: 45 sessions at 10 per pod need 5 pods.
    let mut sim = SessionSim {
        store: store.clone(),
        next_handle: 0,
        handles: BTreeMap::new(),
    };
    let pods = k.game_pods();
    assert_eq!(pods.len(), 2, "{pods:?}");
    let (busy, quiet) = (pods[0].clone(), pods[1].clone());
    sim.set(&busy, 30).await;
    sim.set(&quiet, 15).await;
    let replicas = |k: &Cluster| k.jsonpath("deployment/world-game", "{.spec.replicas}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while replicas(&k) != "5" {
        assert!(Instant::now() < deadline, "never scaled up to 5");
        sim.beat(&k.game_pods()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("scaled up to 5 at {:?}", started.elapsed());
    let status = k.jsonpath(
        "mushshard/world",
        "{.status.sessions}/{.status.desiredGameReplicas}",
    );
    assert_eq!(status, "45/5");

    // Fewer sessions: after the scale-down delay, back to 2, the emptiest pods removed.
    sim.set(&quiet, 0).await;
    sim.set(&busy, 12).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let cost_of = |pod: &str| {
        k.jsonpath(
            &format!("pod/{pod}"),
            "{.metadata.annotations.controller\\.kubernetes\\.io/pod-deletion-cost}",
        )
    };
    while replicas(&k) != "2" {
        assert!(Instant::now() < deadline, "never scaled down to 2");
        sim.beat(&k.game_pods()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        cost_of(&busy),
        "12",
        "the busiest pod was not marked with its session count"
    );
    eventually("the removed pods to go", Duration::from_secs(60), || {
        sim_pods_settled(&k)
    });
    assert!(
        k.game_pods().contains(&busy),
        "the busiest pod was removed: {:?}",
        k.game_pods()
    );
    let events = k.kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "events",
        "--field-selector=involvedObject.name=world",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(events.contains("Scaled"), "{events}");
    println!("scaled down to 2 at {:?}", started.elapsed());

    // The prefix cannot change once set.
    let error = k
        .apply(&shard_yaml(&urls, GAME_SPEC).replace("keyPrefix: world", "keyPrefix: other"))
        .expect_err("prefix changed");
    assert!(error.contains("redis.keyPrefix is immutable"), "{error}");
    // Nor can it be dropped (the shard would move to the derived one).
    let error = k
        .apply(&shard_yaml(&urls, GAME_SPEC).replace("    keyPrefix: world\n", ""))
        .expect_err("prefix removed");
    assert!(
        error.contains("redis.keyPrefix cannot be added or removed"),
        "{error}"
    );
    // A shard that names no prefix gets one derived from its namespace and name.
    k.apply(
        &shard_yaml(&urls, GAME_SPEC)
            .replace("  name: world\n", "  name: derived\n")
            .replace("    keyPrefix: world\n", ""),
    )
    .expect("shard without a prefix");
    let derived = eventually(
        "the derived shard's ConfigMap",
        Duration::from_secs(30),
        || {
            let prefix = k.jsonpath("configmap/derived-config", "{.data.MUSH_PREFIX}");
            (!prefix.is_empty()).then_some(prefix)
        },
    );
    assert!(
        derived.starts_with(&format!("{NAMESPACE}-derived-")) && derived.len() <= 32,
        "{derived}"
    );
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "mushshard/derived",
        "--timeout=60s",
    ]);

    // Leader election: a second replica waits; when the leader dies it takes over.
    let _follower = start_operator(&k.plane, &kubeconfig, "local-b");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(lease_holder(), "local-a", "two leaders");
    leader.kill();
    eventually("local-b to take over", Duration::from_secs(30), || {
        (lease_holder() == "local-b").then_some(())
    });
    k.patch_shard(r#"{"spec":{"gateway":{"replicas":1}}}"#);
    eventually(
        "the new leader to reconcile",
        Duration::from_secs(60),
        || (k.jsonpath("deployment/world-gateway", "{.spec.replicas}") == "1").then_some(()),
    );
    println!("leadership moved at {:?}", started.elapsed());

    // Deleting the shard: the finalizer removes its Redis keys, GC removes its objects.
    for pod in sim.handles.keys().cloned().collect::<Vec<_>>() {
        sim.set(&pod, 0).await;
    }
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "mushshard/world",
        "--wait=true",
        "--timeout=60s",
    ]);
    assert_eq!(store.purge().await.expect("scan"), 0, "keys left in Redis");
    eventually(
        "owned objects to be collected",
        Duration::from_secs(60),
        || {
            k.kubectl(&[
                "-n",
                NAMESPACE,
                "get",
                "deployments,services,configmaps,poddisruptionbudgets,serviceaccounts,networkpolicies,secrets",
                "-l",
                "app.kubernetes.io/instance=world",
                "-o",
                "name",
            ])
            .trim()
            .is_empty()
            .then_some(())
        },
    );

    // keepDataOnDelete: the keys stay.
    let kept = shard_yaml(&urls, "")
        .replace("name: world", "name: kept")
        .replace(
            "keyPrefix: world",
            "keyPrefix: kept\n    keepDataOnDelete: true",
        );
    k.apply(&kept).expect("apply kept");
    let kept_store = shard_store(&redis, &redis_tls, "kept").await;
    kept_store
        .heartbeat(
            &PodInfo {
                id: PodId::new("kept-game-x").expect("id"),
                addr: "10.244.0.9:50051".into(),
                draining: false,
            },
            Duration::from_secs(600),
        )
        .await
        .expect("heartbeat");
    eventually(
        "the kept shard's finalizer",
        Duration::from_secs(30),
        || {
            k.jsonpath("mushshard/kept", "{.metadata.finalizers}")
                .contains("mush-on-kube.dev/cleanup")
                .then_some(())
        },
    );
    // A MushShard pointed at a prefix another live shard owns (the kept one's) gets no
    // pods, and deleting it wipes nothing.
    let intruder = shard_yaml(&urls, "")
        .replace("name: world", "name: intruder")
        .replace("keyPrefix: world", "keyPrefix: kept");
    k.apply(&intruder).expect("apply intruder");
    let events_of = |name: &str| {
        k.kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            "events",
            &format!("--field-selector=involvedObject.name={name}"),
            "-o",
            "jsonpath={.items[*].reason}",
        ])
    };
    eventually(
        "the intruder to be refused",
        Duration::from_secs(30),
        || events_of("intruder").contains("PrefixInUse").then_some(()),
    );
    let deployments = k.kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "deployments",
        "-l",
        "app.kubernetes.io/instance=intruder",
        "-o",
        "name",
    ]);
    assert!(
        deployments.trim().is_empty(),
        "the intruder got pods: {deployments}"
    );
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "mushshard/intruder",
        "--timeout=60s",
    ]);
    assert_eq!(
        kept_store.live_pods().await.expect("pods").len(),
        1,
        "deleting the intruder wiped another shard's keys"
    );
    eventually(
        "the intruder's DataNotOwned",
        Duration::from_secs(30),
        || events_of("intruder").contains("DataNotOwned").then_some(()),
    );
    k.kubectl(&["-n", NAMESPACE, "delete", "mushshard/kept", "--timeout=60s"]);
    assert_eq!(
        kept_store.live_pods().await.expect("pods").len(),
        1,
        "keepDataOnDelete: the keys were deleted"
    );
    // The world stays, but the deleted shard's claim goes: a new MushShard may take it.
    assert_eq!(
        kept_store.owner().await.expect("owner"),
        None,
        "keepDataOnDelete left the owner marker"
    );

    println!("operator e2e passed in {:?}", started.elapsed());
}

/// The store of the shard whose keys start with `prefix`.
/// Redis said to run beside the shard (`redis.podSelector`): a policy admits the shard's
/// pods, the Redis pods and the operator's namespace to it; the selector dropped, the
/// policy selects no pod (the operator deletes nothing).
fn backend_policy_follows_the_spec(k: &Cluster) {
    assert!(
        k.jsonpath("networkpolicy/world-redis", "{.metadata.name}")
            .is_empty(),
        "a policy for a Redis the spec does not place"
    );
    k.patch_shard(r#"{"spec":{"redis":{"podSelector":{"app":"redis"}}}}"#);
    eventually("the Redis policy", Duration::from_secs(30), || {
        let selected = k.jsonpath(
            "networkpolicy/world-redis",
            "{.spec.podSelector.matchLabels.app}",
        );
        (selected == "redis").then_some(())
    });
    let from = k.jsonpath(
        "networkpolicy/world-redis",
        r"{.spec.ingress[0].from[0].podSelector.matchLabels.app\.kubernetes\.io/instance} {.spec.ingress[0].from[1].podSelector.matchLabels.app} {.spec.ingress[0].from[2].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name}",
    );
    assert_eq!(from, format!("world redis {OPERATOR_NS}"));
    assert!(
        k.jsonpath("networkpolicy/world-nats", "{.metadata.name}")
            .is_empty()
    );
    k.patch_shard(r#"{"spec":{"redis":{"podSelector":null}}}"#);
    eventually(
        "the Redis policy made inert",
        Duration::from_secs(30),
        || {
            let selected = k.jsonpath(
                "networkpolicy/world-redis",
                r"{.spec.podSelector.matchLabels.mush-on-kube\.dev/no-pod}",
            );
            (selected == "true").then_some(())
        },
    );
}

/// The `world` shard names no link Secrets, so the operator issues them: a CA and a
/// certificate per role that chains to it (checked by `openssl verify` for the role's
/// purpose and name), mounted by each Deployment. A certificate past its renewal time is
/// replaced and the other left alone; a lost CA is replaced and both certificates with it.
fn link_certificates_are_issued_and_renewed(k: &Cluster, dir: &tempfile::TempDir) {
    // A Secret's key, decoded ("" while the Secret is missing).
    let field = |secret: &str, key: &str| {
        k.plane
            .kubectl(&[
                "-n",
                NAMESPACE,
                "get",
                &format!("secret/{secret}"),
                "-o",
                &format!("go-template={{{{index .data \"{key}\" | base64decode}}}}"),
            ])
            .unwrap_or_default()
    };
    eventually("the link Secrets", Duration::from_secs(30), || {
        ["world-link-ca", "world-link-gateway", "world-link-game"]
            .iter()
            .all(|s| {
                !k.jsonpath(&format!("secret/{s}"), "{.metadata.name}")
                    .is_empty()
            })
            .then_some(())
    });
    let verify = |role: &str, purpose: &str, name: &str| {
        let secret = format!("world-link-{role}");
        let at = |file: &str, text: String| {
            let path = dir.path().join(format!("{role}-{file}"));
            std::fs::write(&path, text).expect("write");
            path
        };
        let ca = at("ca.crt", field("world-link-ca", "ca.crt"));
        assert_eq!(field(&secret, "ca.crt"), field("world-link-ca", "ca.crt"));
        let cert = at("tls.crt", field(&secret, "tls.crt"));
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&ca)
            .args(["-purpose", purpose, "-verify_hostname", name])
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{secret}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            k.jsonpath(
                &format!("secret/{secret}"),
                "{.type}/{.metadata.ownerReferences[0].kind}"
            ),
            "kubernetes.io/tls/MushShard"
        );
    };
    verify("gateway", "sslclient", "mush-gateway");
    verify("game", "sslserver", "mush-game");
    for (deployment, secret) in [
        ("world-gateway", "world-link-gateway"),
        ("world-game", "world-link-game"),
    ] {
        let volumes = k.jsonpath(
            &format!("deployment/{deployment}"),
            "{.spec.template.spec.volumes[*].secret.secretName}",
        );
        assert!(
            volumes.split(' ').any(|v| v == secret),
            "{deployment}: {volumes}"
        );
    }

    // Past its renewal time: replaced, and only it.
    let (gateway, game) = (
        field("world-link-gateway", "tls.crt"),
        field("world-link-game", "tls.crt"),
    );
    k.kubectl(&[
        "-n",
        NAMESPACE,
        "annotate",
        "--overwrite",
        "secret/world-link-gateway",
        "mush-on-kube.dev/renew-after=2020-01-01T00:00:00Z",
    ]);
    eventually(
        "the due certificate renewed",
        Duration::from_secs(30),
        || (field("world-link-gateway", "tls.crt") != gateway).then_some(()),
    );
    let renew_after = k.jsonpath(
        "secret/world-link-gateway",
        r"{.metadata.annotations.mush-on-kube\.dev/renew-after}",
    );
    assert!(renew_after.as_str() > "2026", "{renew_after}");
    assert_eq!(
        field("world-link-game", "tls.crt"),
        game,
        "the other was renewed too"
    );
    verify("gateway", "sslclient", "mush-gateway");

    // A lost CA: a new one, and both certificates reissued under it.
    let ca = field("world-link-ca", "ca.crt");
    k.kubectl(&["-n", NAMESPACE, "delete", "secret/world-link-ca"]);
    eventually(
        "a new CA and certificates under it",
        Duration::from_secs(30),
        || {
            let new_ca = field("world-link-ca", "ca.crt");
            (new_ca != ca
                && field("world-link-gateway", "ca.crt") == new_ca
                && field("world-link-game", "ca.crt") == new_ca)
                .then_some(())
        },
    );
    verify("gateway", "sslclient", "mush-gateway");
    verify("game", "sslserver", "mush-game");
}

async fn shard_store(redis: &RedisCluster, tls: &RedisTls, prefix: &str) -> Store {
    Store::connect(
        StoreConfig {
            nodes: redis.urls(),
            prefix: prefix.into(),
            tls: Some(tls.clone()),
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .await
    .expect("store")
}

/// True once the game Deployment has as many pods as it wants.
fn sim_pods_settled(k: &Cluster) -> Option<()> {
    let want = k.jsonpath("deployment/world-game", "{.spec.replicas}");
    let have = k.game_pods().len().to_string();
    let total = k.jsonpath("deployment/world-game", "{.status.replicas}");
    (want == have && total == want).then_some(())
}
