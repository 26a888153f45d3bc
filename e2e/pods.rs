//! The whole path as a user takes it, on real pods: a control plane plus one real node
//! (containerd, runc, CNI bridge, a kubelet and kube-proxy built from the pinned
//! Kubernetes module; `mush_harness::RealNode`). The `mush` image is built from the release
//! binary by `scripts/image` (no `dev` feature) and loaded into the node's containerd.
//!
//! 1. `helm install` the operator chart: the operator runs as a pod from the image, with
//!    the chart's service account and RBAC.
//! 2. `kubectl apply` a MushShard; its gateway and game pods become Ready through their
//!    real probes. Redis Cluster and NATS are host processes on the node bridge's address,
//!    as a managed Redis outside the cluster would be.
//! 3. Players connect through the gateway Service's NodePort on 127.0.0.1, create
//!    characters and play; one over TLS, with the certificate from a `kubernetes.io/tls`
//!    Secret the gateway mounts (`gateway.tls`). Gateways and game pods speak over mutual
//!    TLS with the certificates the operator issued (the spec names no `linkTls`).
//! 4. Redis paused (SIGSTOP): the game pods' Ready condition turns False within the probe
//!    period, and back after SIGCONT.
//! 5. Game pods scaled 2 -> 3 -> 2 by session counts: the kubelet sends SIGTERM to the pod
//!    the operator chose, its sessions move, players stay connected and typing.
//! 6. A rolling update of the game Deployment with players typing: 0 disconnects, every
//!    command answered exactly once.
//! 7. A game pod deleted with `--grace-period=0 --force`: its players are served again
//!    from another pod.
//!
//! Needs root (containerd and the kubelet); set `MUSH_SKIP_REAL_NODE=1` to skip on a
//! machine where it cannot run.
//!
//! ```text
//! cargo test -p mush --test pods -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mush_harness::{
    ClusterOptions, KubeControlPlane, NatsServer, RealNode, RedisCluster, eventually, repo_dir,
    run_script,
};
use mush_store::{Store, StoreConfig, StoreMetrics};
use tokio::sync::watch;

#[path = "../tests/support/mod.rs"]
mod support;
use support::{Player, http_get, pod_of};
#[path = "../tests/support/tls.rs"]
mod tls_support;
use tls_support::{client, issue, pki, tls_player};

const NAMESPACE: &str = "games";
const OPERATOR_NS: &str = "mush-system";
const IMAGE_TAG: &str = "e2e";
const GOD_PASSWORD: &str = "e2e-god-password";

/// kubectl calls block; the typing players run on the runtime meanwhile.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

struct Cluster {
    plane: KubeControlPlane,
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> String {
        blocking(|| self.plane.kubectl(args)).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
    }

    fn try_kubectl(&self, args: &[&str]) -> Option<String> {
        blocking(|| self.plane.kubectl(args)).ok()
    }

    /// Game pods by name with their Ready condition, as the kubelet reports it; pods being
    /// deleted are left out.
    fn game_pods(&self) -> BTreeMap<String, bool> {
        let out = self
            .try_kubectl(&[
                "-n",
                NAMESPACE,
                "get",
                "pods",
                "-l",
                "app.kubernetes.io/instance=world,app.kubernetes.io/component=game",
                "-o",
                r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
            ])
            .unwrap_or_default();
        out.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                match fields.as_slice() {
                    [name, "", ready] => Some(((*name).to_owned(), *ready == "True")),
                    _ => None,
                }
            })
            .collect()
    }

    fn ready_game_pods(&self) -> Vec<String> {
        self.game_pods()
            .into_iter()
            .filter_map(|(name, ready)| ready.then_some(name))
            .collect()
    }

    /// The node port the gateway Service gives its port `name`.
    fn node_port(&self, name: &str) -> u16 {
        self.kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            "service",
            "world-gateway",
            "-o",
            &format!(r#"jsonpath={{.spec.ports[?(@.name=="{name}")].nodePort}}"#),
        ])
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("nodePort of {name}: {e}"))
    }

    /// The gateway's pod (the shard has one).
    fn gateway_pod(&self) -> String {
        self.kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/instance=world,app.kubernetes.io/component=gateway",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
    }

    /// `kubectl get pod <pod> -o jsonpath=<path>` in the shard's namespace.
    fn pod_field(&self, pod: &str, path: &str) -> Option<String> {
        self.try_kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            "pod",
            pod,
            "-o",
            &format!("jsonpath={path}"),
        ])
    }

    /// The containerd id of `pod`'s one container.
    fn container_id(&self, pod: &str) -> String {
        self.pod_field(pod, "{.status.containerStatuses[0].containerID}")
            .expect("container id")
            .trim_start_matches("containerd://")
            .to_owned()
    }

    /// How often the kubelet has restarted `pod`'s container.
    fn restarts(&self, pod: &str) -> u32 {
        self.pod_field(pod, "{.status.containerStatuses[0].restartCount}")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until `pod`'s container has restarted more than `before` times and the pod is
    /// Ready again.
    fn wait_restarted(&self, pod: &str, before: u32) {
        blocking(|| {
            eventually(
                "the container restarted and Ready",
                Duration::from_secs(60),
                || {
                    let ready =
                        self.pod_field(pod, r#"{.status.conditions[?(@.type=="Ready")].status}"#)?;
                    (self.restarts(pod) > before && ready == "True").then_some(())
                },
            )
        });
    }

    /// Pod logs, printed when a step fails so the failure says why.
    fn dump(&self) {
        for (ns, selector) in [
            (OPERATOR_NS, "app.kubernetes.io/name=mush-operator"),
            (NAMESPACE, "app.kubernetes.io/instance=world"),
        ] {
            if let Some(out) = self.try_kubectl(&[
                "-n",
                ns,
                "logs",
                "-l",
                selector,
                "--tail=30",
                "--prefix",
                "--all-containers",
            ]) {
                eprintln!("--- logs of {selector}:\n{out}");
            }
        }
        if let Some(out) = self.try_kubectl(&["get", "pods", "-A", "-o", "wide"]) {
            eprintln!("--- pods:\n{out}");
        }
    }
}

/// Waits until `addr` takes connections (a NodePort after kube-proxy wrote its rules).
fn answers(addr: SocketAddr, what: &str, limit: Duration) {
    blocking(|| {
        eventually(what, limit, || {
            std::net::TcpStream::connect(addr).ok().map(drop)
        })
    });
}

/// Dumps the cluster's logs when the test panics before the end.
struct DumpOnPanic<'a>(&'a Cluster);

impl Drop for DumpOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.dump();
        }
    }
}

fn shard_yaml(redis: &RedisCluster, nats: &NatsServer, extra_game: &str) -> String {
    let endpoints: Vec<String> = redis.urls().iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        r#"apiVersion: mush-on-kube.dev/v1alpha1
kind: MushShard
metadata:
  name: world
  namespace: {NAMESPACE}
spec:
  image: localhost/mush:{IMAGE_TAG}
  imagePullPolicy: Never
  redis:
    endpoints: [{endpoints}]
    keyPrefix: world
  nats:
    url: "{nats}"
  gateway:
    replicas: 1
    service:
      type: NodePort
    tls:
      secretName: world-tls
  game:
    minReplicas: 2
    maxReplicas: 3
    targetSessionsPerPod: 3
    bufferPods: 0
    scaleDownDelaySeconds: 5
    terminationGracePeriodSeconds: 30
    godPasswordSecretRef:
      name: world-god
      key: password
{extra_game}  logFormat: text
"#,
        endpoints = endpoints.join(", "),
        nats = nats.url(),
    )
}

/// What one typing player saw while the cluster changed under it.
struct Typing {
    name: String,
    /// Ticks are `<name>-<phase>-tick-<n>`, so each phase counts its own.
    phase: &'static str,
    sent: u64,
    slowest: Duration,
    player: Player,
}

/// Types `think <name>-tick-<n>` every 150 ms, each after the last one's answer, until
/// told to stop. A closed socket or an answer slower than 20 s fails the test (the
/// player's `expect`).
async fn type_until(
    mut player: Player,
    name: String,
    phase: &'static str,
    mut stop: watch::Receiver<bool>,
) -> Typing {
    let mut sent = 0;
    let mut slowest = Duration::ZERO;
    while !*stop.borrow() {
        sent += 1;
        let started = Instant::now();
        player
            .send(&format!("think {name}-{phase}-tick-{sent}"))
            .await;
        player
            .expect(&format!("{name}-{phase}-tick-{sent}\r\n"))
            .await;
        slowest = slowest.max(started.elapsed());
        let _ = tokio::time::timeout(Duration::from_millis(150), stop.changed()).await;
    }
    Typing {
        name,
        phase,
        sent,
        slowest,
        player,
    }
}

/// Every tick answered exactly once, and the socket still open; returns the slowest.
async fn check_typing(results: &mut [Typing]) -> Duration {
    let mut slowest = Duration::ZERO;
    for typing in results.iter_mut() {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for line in typing.player.transcript.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(tick) =
                line.strip_prefix(&format!("{}-{}-tick-", typing.name, typing.phase))
            {
                *counts.entry(tick.to_owned()).or_default() += 1;
            }
        }
        for n in 1..=typing.sent {
            assert_eq!(
                counts.get(&n.to_string()).copied().unwrap_or(0),
                1,
                "{}: tick {n} answered {:?} times",
                typing.name,
                counts.get(&n.to_string())
            );
        }
        assert_eq!(
            counts.len() as u64,
            typing.sent,
            "{}: extra ticks",
            typing.name
        );
        assert!(
            typing.player.is_open().await,
            "{} was disconnected",
            typing.name
        );
        slowest = slowest.max(typing.slowest);
    }
    slowest
}

/// Players typing in the background while `during` changes the cluster.
async fn while_typing(
    players: Vec<(String, Player)>,
    phase: &'static str,
    during: impl FnOnce(),
) -> Vec<Typing> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = players
        .into_iter()
        .map(|(name, player)| tokio::spawn(type_until(player, name, phase, stop_rx.clone())))
        .collect();
    // Some typing before the change, so a slow start is not mistaken for the change.
    tokio::time::sleep(Duration::from_secs(1)).await;
    during();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("a typing player failed"));
    }
    results
}

fn into_players(results: Vec<Typing>) -> Vec<(String, Player)> {
    results.into_iter().map(|t| (t.name, t.player)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shard_runs_on_real_pods_and_keeps_its_players() {
    if std::env::var_os("MUSH_SKIP_REAL_NODE").is_some() {
        eprintln!("MUSH_SKIP_REAL_NODE is set: the real-pod e2e is skipped");
        return;
    }
    // The real node runs containerd and a kubelet, which need root.
    assert!(
        mush_harness::is_root(),
        "the real-pod e2e needs root (containerd and a kubelet); run the suite as root or set MUSH_SKIP_REAL_NODE=1"
    );

    let started = Instant::now();
    let bin = run_script("k8s-tools", &[]).expect("scripts/k8s-tools");
    let image = run_script("image", &[IMAGE_TAG]).expect("scripts/image");
    println!(
        "Kubernetes binaries and the image ready in {:?}: {}",
        started.elapsed(),
        image.display()
    );
    let dir = tempfile::Builder::new()
        .prefix("mush-pods-")
        .tempdir()
        .expect("tempdir");

    let started = Instant::now();
    let (plane, node): (KubeControlPlane, RealNode) =
        blocking(|| KubeControlPlane::start_with_node(&bin, dir.path()))
            .expect("control plane and node");
    println!(
        "control plane and real node up in {:?} ({:?})",
        started.elapsed(),
        node.startup_timings()
    );
    let cluster = Cluster { plane };
    let _dump = DumpOnPanic(&cluster);
    let image_name = format!("localhost/mush:{IMAGE_TAG}");
    blocking(|| node.load_image(&image, &image_name)).expect("load image");

    let redis = blocking(|| {
        RedisCluster::start_with(ClusterOptions {
            bind: node.host_ip(),
            ..ClusterOptions::default()
        })
    })
    .expect("redis cluster on the node bridge");
    let nats = blocking(|| NatsServer::start_on(node.host_ip())).expect("nats on the node bridge");

    // 1. The operator from the chart, as a pod, installed for one namespace: a Role there
    // and no cluster-wide rights (e2e/operator.rs covers the cluster-wide install).
    cluster.kubectl(&["create", "namespace", NAMESPACE]);
    let started = Instant::now();
    let chart = repo_dir().join("charts/mush-operator");
    blocking(|| {
        cluster.plane.helm(&[
            "install",
            "mush-operator",
            &chart.to_string_lossy(),
            "--namespace",
            OPERATOR_NS,
            "--create-namespace",
            "--set",
            "image.repository=localhost/mush",
            "--set",
            &format!("image.tag={IMAGE_TAG}"),
            "--set",
            "image.pullPolicy=Never",
            "--set",
            "replicaCount=1",
            "--set",
            &format!("watchNamespace={NAMESPACE}"),
            "--set",
            "logFormat=text",
            "--wait",
            "--timeout",
            "180s",
        ])
    })
    .expect("helm install");
    println!("operator pod Ready in {:?}", started.elapsed());
    let operator_sa = cluster.kubectl(&[
        "-n",
        OPERATOR_NS,
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/name=mush-operator",
        "-o",
        "jsonpath={.items[0].spec.serviceAccountName} {.items[0].spec.nodeName}",
    ]);
    assert_eq!(operator_sa, format!("mush-operator {}", node.name()));
    let can = |args: &[&str]| {
        let mut all = vec![
            "auth",
            "can-i",
            "--as=system:serviceaccount:mush-system:mush-operator",
        ];
        all.extend_from_slice(args);
        // `can-i` says "no" with a failing exit status.
        cluster
            .try_kubectl(&all)
            .is_some_and(|out| out.trim() == "yes")
    };
    assert!(can(&["list", "mushshards", "-n", NAMESPACE]));
    assert!(can(&["get", "secrets", "-n", NAMESPACE]));
    assert!(!can(&["list", "mushshards", "--all-namespaces"]));
    assert!(!can(&["get", "secrets", "-n", "default"]));

    // 2. A shard, applied as a user would.
    let create_secret = |args: &[&str]| {
        let mut all = vec!["-n", NAMESPACE, "create", "secret"];
        all.extend_from_slice(args);
        cluster.kubectl(&all);
    };
    create_secret(&[
        "generic",
        "world-god",
        &format!("--from-literal=password={GOD_PASSWORD}"),
    ]);
    // The players' TLS certificate, as cert-manager or an administrator would store it.
    let pki = pki(&dir.path().join("players-pki"));
    let (cert, key) = issue(&pki, "world-gateway");
    create_secret(&[
        "tls",
        "world-tls",
        &format!("--cert={}", cert.display()),
        &format!("--key={}", key.display()),
    ]);
    let applied = Instant::now();
    blocking(|| {
        cluster
            .plane
            .kubectl_stdin(&["apply", "-f", "-"], &shard_yaml(&redis, &nats, ""))
    })
    .expect("apply shard");
    cluster.kubectl(&[
        "-n",
        NAMESPACE,
        "wait",
        "--for=condition=Ready",
        "mushshard/world",
        "--timeout=240s",
    ]);
    let apply_to_ready = applied.elapsed();
    println!("kubectl apply -> shard Ready: {apply_to_ready:?}");
    assert_eq!(cluster.ready_game_pods().len(), 2);
    // The link runs on the certificates the operator issued: both Deployments mount them.
    for (deployment, secret) in [
        ("world-gateway", "world-link-gateway"),
        ("world-game", "world-link-game"),
    ] {
        let volumes = cluster.kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            &format!("deployment/{deployment}"),
            "-o",
            "jsonpath={.spec.template.spec.volumes[*].secret.secretName}",
        ]);
        assert!(
            volumes.split(' ').any(|v| v == secret),
            "{deployment}: {volumes}"
        );
    }

    // 3. Players through the gateway Service's NodePort on 127.0.0.1.
    let node_port = cluster.node_port("telnet");
    let addr: SocketAddr = ([127, 0, 0, 1], node_port).into();
    // kube-proxy writes the NodePort's rules once the gateway's endpoint is Ready, a moment
    // after the pod itself.
    let reachable = Instant::now();
    answers(
        addr,
        "the gateway's NodePort answers",
        Duration::from_secs(30),
    );
    println!(
        "gateway NodePort {node_port} answered {:?} after the shard was Ready",
        reachable.elapsed()
    );
    // The same gateway over TLS: the Secret mounted, the TLS telnet port behind its own
    // NodePort.
    let tls_port = cluster.node_port("telnet-tls");
    let mut secure = tls_player(&client(&pki), ([127, 0, 0, 1], tls_port).into()).await;
    secure.send("create Vesna secret").await;
    secure.expect("Limbo").await;
    secure.send("think over TLS [add(1,1)]").await;
    secure.expect("over TLS 2").await;
    println!("a player over TLS through NodePort {tls_port}");
    // Leaves, so the session counts below are the typing players'.
    drop(secure);
    let mut first = Player::login(addr, "Alice").await;
    first.send("@create Lantern").await;
    first.expect("created as object").await;
    first.send("&colour lantern=amber").await;
    first.expect("Set.").await;
    first
        .send("think Lantern: [get(lantern/colour)] [add(40,2)]")
        .await;
    first.expect("Lantern: amber 42").await;
    let mut players = vec![("alice".to_owned(), first)];
    for name in ["Bruno", "Chiara", "Dmitri"] {
        players.push((name.to_lowercase(), Player::login(addr, name).await));
    }
    let store = Store::connect(
        StoreConfig {
            nodes: redis.urls(),
            prefix: "world".into(),
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .await
    .expect("store");

    // 4. Redis paused: the kubelet's readiness probes see it.
    blocking(|| redis.pause_all()).expect("SIGSTOP redis");
    let paused = Instant::now();
    blocking(|| {
        eventually(
            "game pods not Ready while Redis is paused",
            Duration::from_secs(30),
            || {
                let pods = cluster.game_pods();
                (!pods.is_empty() && pods.values().all(|ready| !ready)).then_some(())
            },
        )
    });
    let not_ready_after = paused.elapsed();
    blocking(|| redis.resume_all()).expect("SIGCONT redis");
    let resumed = Instant::now();
    blocking(|| {
        eventually(
            "game pods Ready after SIGCONT",
            Duration::from_secs(40),
            || (cluster.ready_game_pods().len() == 2).then_some(()),
        )
    });
    let ready_again_after = resumed.elapsed();
    // The gateway's readiness checks Redis too: while it was paused the Service took the
    // gateway out (new connections refused), but the connected players stayed.
    answers(
        addr,
        "the gateway's NodePort answers again",
        Duration::from_secs(40),
    );
    let gateway_again_after = resumed.elapsed();
    for (name, player) in players.iter_mut() {
        player
            .send(&format!("think {name}-after-redis-pause"))
            .await;
        player.expect(&format!("{name}-after-redis-pause")).await;
    }
    println!(
        "Redis SIGSTOP: game pods not Ready after {not_ready_after:?} (probe: every 5 s, 2 failures); Ready {ready_again_after:?} after SIGCONT, gateway taking connections again after {gateway_again_after:?}; connected players kept"
    );
    // The probe period is 5 s and two failures make a pod not Ready: at most ~10 s, plus
    // one probe timeout and the kubelet's status sync.
    assert!(not_ready_after < Duration::from_secs(20));

    // 5. Scale out by sessions, then back in: the kubelet stops the pod the operator chose.
    let before: Vec<String> = cluster.ready_game_pods();
    let mut extras = Vec::new();
    for name in ["Extra1", "Extra2", "Extra3"] {
        extras.push(Player::login(addr, name).await);
    }
    let scaled_out = Instant::now();
    blocking(|| {
        eventually("a third game pod Ready", Duration::from_secs(120), || {
            (cluster.ready_game_pods().len() == 3).then_some(())
        })
    });
    println!(
        "7 sessions -> 3 game pods Ready in {:?}",
        scaled_out.elapsed()
    );
    let third = cluster
        .ready_game_pods()
        .into_iter()
        .find(|p| !before.contains(p))
        .expect("the new pod");
    // Newcomers land on the pod with the fewest sessions once the gateway has a stream to
    // the new pod: its metrics (on the pod's own address, as Prometheus reads them) say so.
    let gateway_ip = cluster
        .pod_field(&cluster.gateway_pod(), "{.status.podIP}")
        .expect("gateway pod address");
    let metrics: SocketAddr = format!("{}:8081", gateway_ip.trim())
        .parse()
        .expect("gateway pod address");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = http_get(metrics, "/metrics").await;
        if body
            .lines()
            .any(|l| l.trim() == "mush_gateway_pod_streams 3")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway never linked the third pod"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for name in ["Late1", "Late2"] {
        players.push((name.to_lowercase(), Player::login(addr, name).await));
    }
    let mut placed: BTreeMap<String, String> = BTreeMap::new();
    for (name, _) in &players {
        placed.insert(name.clone(), pod_of(&store, name).await.to_string());
    }
    println!("the new pod is {third}; players by pod before the scale-in: {placed:?}");
    let results = while_typing(players, "scale", || {
        drop(std::mem::take(&mut extras));
        let scaled_in = Instant::now();
        blocking(|| {
            eventually("back to 2 game pods", Duration::from_secs(120), || {
                let pods = cluster.game_pods();
                (pods.len() == 2 && pods.values().all(|r| *r)).then_some(())
            })
        });
        println!("6 sessions -> 2 game pods in {:?}", scaled_in.elapsed());
    })
    .await;
    let mut results = results;
    let slowest_scale = check_typing(&mut results).await;
    let live: Vec<String> = cluster.game_pods().into_keys().collect();
    let removed: Vec<&String> = before
        .iter()
        .chain(std::iter::once(&third))
        .filter(|p| !live.contains(p))
        .collect();
    assert_eq!(removed.len(), 1);
    let moved: Vec<&String> = placed
        .iter()
        .filter(|(_, pod)| *pod == removed[0])
        .map(|(name, _)| name)
        .collect();
    println!(
        "scale-in removed {removed:?}, which served {moved:?}; players typing throughout: 0 disconnects, slowest command {slowest_scale:?}"
    );
    // Sessions are spread by count, so the pod the operator gives up serves someone.
    assert!(!moved.is_empty(), "the removed pod served no typing player");
    for name in moved {
        let now = pod_of(&store, name).await.to_string();
        assert!(
            live.contains(&now),
            "{name} is served by {now}, not a live pod"
        );
    }

    // 6. A rolling update of the game Deployment with players typing.
    let old_pods = cluster.ready_game_pods();
    let results = while_typing(into_players(results), "roll", || {
        let rolling = Instant::now();
        cluster.kubectl(&[
            "-n",
            NAMESPACE,
            "patch",
            "mushshard/world",
            "--type=merge",
            "-p",
            r#"{"spec":{"game":{"resources":{"requests":{"cpu":"200m","memory":"96Mi"}}}}}"#,
        ]);
        blocking(|| {
            eventually("the game pods replaced", Duration::from_secs(180), || {
                let pods = cluster.game_pods();
                (pods.len() == 2
                    && pods.values().all(|r| *r)
                    && pods.keys().all(|p| !old_pods.contains(p)))
                .then_some(())
            })
        });
        println!(
            "rolling update of the game pods took {:?}",
            rolling.elapsed()
        );
    })
    .await;
    let mut results = results;
    let slowest_roll = check_typing(&mut results).await;
    println!(
        "rolling update with {} players typing: 0 disconnects, 0 lost or doubled commands, slowest command {slowest_roll:?}",
        results.len()
    );

    // 7. A game pod force-deleted: its players are served again from another pod. Alice
    // types throughout; her slowest command is how long she waited.
    let victim = pod_of(&store, "Alice").await.to_string();
    let results = while_typing(into_players(results), "force", || {
        cluster.kubectl(&[
            "-n",
            NAMESPACE,
            "delete",
            "pod",
            &victim,
            "--grace-period=0",
            "--force",
            "--wait=false",
        ]);
        // The API object goes at once; the kubelet then kills the containers. Typing goes
        // on until Alice's session lives on another pod.
        let runtime = tokio::runtime::Handle::current();
        blocking(|| {
            eventually(
                "Alice served by another pod",
                Duration::from_secs(60),
                || {
                    let now = runtime.block_on(pod_of(&store, "Alice")).to_string();
                    (now != victim).then_some(())
                },
            )
        });
    })
    .await;
    let mut results = results;
    check_typing(&mut results).await;
    let served_again = results
        .iter()
        .find(|t| t.name == "alice")
        .map(|t| t.slowest)
        .expect("alice typed");
    let slowest_force = results.iter().map(|t| t.slowest).max().unwrap_or_default();
    let now = pod_of(&store, "Alice").await.to_string();
    println!(
        "pod {victim} force-deleted: Alice's slowest command {served_again:?} (all players: {slowest_force:?}), now on {now}"
    );
    assert_ne!(now, victim);

    // 7b. A game container crashes (SIGKILL, no drain): the kubelet restarts it in the
    // same pod; its players, typing, are served by a pod again and nothing runs twice.
    let crash_pod = pod_of(&store, "Alice").await.to_string();
    let container = cluster.container_id(&crash_pod);
    let restarts = cluster.restarts(&crash_pod);
    let results = while_typing(into_players(results), "crash", || {
        blocking(|| node.ctr(&["tasks", "kill", "--signal", "SIGKILL", &container]))
            .expect("SIGKILL a game container");
        cluster.wait_restarted(&crash_pod, restarts);
    })
    .await;
    let mut results = results;
    let slowest_crash = check_typing(&mut results).await;
    println!(
        "game container in {crash_pod} SIGKILLed and restarted by the kubelet: 0 disconnects, 0 lost or doubled commands, slowest command {slowest_crash:?}"
    );
    let players = into_players(results);

    // 8. The gateway's container killed: the kubelet restarts it in the same pod (same pod
    // name). Its players lose their sockets, as with any gateway crash, and reconnect; the
    // dead process's sessions are reaped, not adopted by the new one.
    let gateway_pod = cluster.gateway_pod();
    let container = cluster.container_id(&gateway_pod);
    let gateway_restarts = cluster.restarts(&gateway_pod);
    blocking(|| node.ctr(&["tasks", "kill", "--signal", "SIGKILL", &container]))
        .expect("SIGKILL the gateway container");
    let crashed = Instant::now();
    let mut players = players;
    for (name, player) in players.iter_mut() {
        assert!(
            !player.is_open().await || {
                tokio::time::sleep(Duration::from_secs(1)).await;
                !player.is_open().await
            },
            "{name} still connected to a killed gateway"
        );
    }
    drop(players);
    cluster.wait_restarted(&gateway_pod, gateway_restarts);
    answers(
        addr,
        "the NodePort answers after the restart",
        Duration::from_secs(30),
    );
    let mut alice = Player::connect(addr).await;
    alice.send("connect Alice secret").await;
    alice.expect("Limbo").await;
    let back = crashed.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let active = store.list_active().await.expect("records");
        if active.len() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sessions of the killed gateway process were not reaped: {} records",
            active.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "gateway container SIGKILLed: restarted in pod {gateway_pod}, Alice back in {back:?}, the dead process's sessions reaped after {:?}",
        crashed.elapsed()
    );
    alice.send("think alice-after-gateway-restart").await;
    alice.expect("alice-after-gateway-restart").await;
    let players = vec![("alice".to_owned(), alice)];

    println!(
        "FIGURES: apply->Ready {apply_to_ready:?}; served again after a forced deletion {served_again:?}; after a game container crash {slowest_crash:?}; rolling update 0 disconnects, slowest command {slowest_roll:?}; scale 3->2 slowest command {slowest_scale:?}"
    );
    drop(players);
    drop(store);
    drop(_dump);
    // The node first (its pods use Redis and NATS), then the control plane.
    drop(node);
    drop(cluster);
}
