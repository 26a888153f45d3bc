//! The harness's real Kubernetes node end to end: the control plane plus containerd, runc,
//! CNI, kubelet and kube-proxy (binaries from `scripts/k8s-tools`, cached; the first run
//! builds them). A pod from an image built here from scratch (a static C server) becomes
//! Ready through a real readiness probe; the test reaches it through its hostPort on
//! 127.0.0.1, its Service's ClusterIP and NodePort; the pod reaches a Redis Cluster and a
//! NATS server on the host's bridge address, and the API server through the `kubernetes`
//! Service; `kubectl logs` and `exec` work. After the drop nothing of the node is left: no
//! process or shim of its containerd, no mount under its directory, no cgroup under its
//! cgroup root, no bridge, no iptables chain that was not there before it started. Before
//! all that, a node refuses to start beside a kubelet that is not a real node's.
//!
//! Needs root; fails without it unless `MUSH_SKIP_REAL_NODE` is set.
//!
//! ```text
//! cargo test -p mush-harness --test real_node -- --nocapture
//! ```

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mush_harness::{
    ClusterOptions, KubeControlPlane, NatsServer, RedisCluster, build_oci_image,
    build_static_binary, eventually, free_port, is_root, run_script,
};

/// A static HTTP server for the test image: `echo PORT` serves `hello from HOSTNAME` on
/// PORT; `echo get IP PORT [LINE]` connects, sends LINE, prints what comes back (or
/// `connected`); `echo say TEXT` prints TEXT (for `kubectl exec`).
const ECHO_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int get(const char *ip, int port, const char *line) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, ip, &addr.sin_addr);
    struct timeval timeout = {3, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("connect");
        return 1;
    }
    if (line) {
        dprintf(s, "%s\r\n", line);
    }
    char buf[512];
    ssize_t n = read(s, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        printf("%s", buf);
    } else {
        printf("connected\n");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "say") == 0) {
        printf("%s\n", argv[2]);
        return 0;
    }
    if (argc > 3 && strcmp(argv[1], "get") == 0) {
        return get(argv[2], atoi(argv[3]), argc > 4 ? argv[4] : 0);
    }
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 16) != 0) {
        perror("listen");
        return 1;
    }
    char host[64] = "?";
    gethostname(host, sizeof host);
    printf("listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) {
            continue;
        }
        struct timeval timeout = {2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        char buf[1024];
        read(c, buf, sizeof buf);
        dprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello from %s\n", host);
        close(c);
    }
}
"#;

/// The Kubernetes binaries, built once and cached by `scripts/k8s-tools`.
fn k8s_bin() -> PathBuf {
    let started = Instant::now();
    let bin = run_script("k8s-tools", &[]).expect("scripts/k8s-tools");
    println!(
        "Kubernetes binaries ready in {:?}: {}",
        started.elapsed(),
        bin.display()
    );
    bin
}

/// `GET /` over HTTP; the body, if an answer came.
fn http_get(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some(body.to_owned())
}

/// Processes whose command line mentions `needle`, as `pid: command line`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

/// containerd shims serving a containerd whose socket (`-address`) lies under `dir`, as
/// `pid: command line`.
fn shims_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        if !args
            .first()
            .is_some_and(|exe| exe.contains("containerd-shim"))
        {
            continue;
        }
        let address = args
            .iter()
            .position(|arg| arg == "-address")
            .and_then(|i| args.get(i + 1));
        if address.is_some_and(|address| Path::new(address).starts_with(dir)) {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                args.join(" ")
            ));
        }
    }
    found
}

/// Every iptables and ip6tables chain on the host, as `SAVE TABLE CHAIN`.
fn iptables_chains() -> BTreeSet<String> {
    let mut chains = BTreeSet::new();
    for save in ["iptables-save", "ip6tables-save"] {
        let Ok(output) = Command::new(save).output() else {
            continue;
        };
        let mut table = String::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some(name) = line.strip_prefix('*') {
                table = name.to_owned();
            } else if let Some(decl) = line.strip_prefix(':') {
                let chain = decl.split(' ').next().unwrap_or("");
                chains.insert(format!("{save} {table} {chain}"));
            }
        }
    }
    chains
}

/// The node's cgroup root (`mush-real-node`) in each mounted cgroup hierarchy, where it
/// exists.
fn cgroup_roots() -> Vec<PathBuf> {
    let mut roots = vec![Path::new("/sys/fs/cgroup/mush-real-node").to_owned()];
    for entry in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        roots.push(entry.path().join("mush-real-node"));
    }
    roots.retain(|root| root.is_dir());
    roots
}

#[test]
fn a_pod_on_the_real_node_serves_and_everything_is_gone_after_the_drop() {
    if std::env::var_os("MUSH_SKIP_REAL_NODE").is_some() {
        eprintln!("MUSH_SKIP_REAL_NODE is set: the real-node test is skipped");
        return;
    }
    assert!(
        is_root(),
        "the real node needs root (containerd, the kubelet); run the suite as root or set MUSH_SKIP_REAL_NODE=1"
    );
    let bin = k8s_bin();
    let tmp = tempfile::Builder::new()
        .prefix("mush-real-node-test-")
        .tempdir()
        .expect("temp dir");
    // Canonical, as the paths in mountinfo and command lines are.
    let dir = tmp.path().canonicalize().expect("canonical temp dir");
    let dir_text = dir.to_string_lossy().into_owned();

    // A kubelet that is no real node's (a copy of `sleep` named kubelet): the node must
    // refuse to start rather than share the host's Kubernetes state with it.
    {
        let fake = dir.join("other-node/kubelet");
        std::fs::create_dir_all(fake.parent().expect("parent")).expect("fake dir");
        std::fs::copy("/bin/sleep", &fake).expect("copy sleep");
        let mut other = Command::new(&fake).arg("60").spawn().expect("fake kubelet");
        // Only once /proc shows it running as a kubelet can the node see it.
        let cmdline = format!("/proc/{}/cmdline", other.id());
        eventually("the fake kubelet in /proc", Duration::from_secs(10), || {
            let args = std::fs::read(&cmdline).ok()?;
            args.starts_with(fake.to_string_lossy().as_bytes())
                .then_some(())
        });
        let result = KubeControlPlane::start_with_node(&bin, &dir.join("refused"));
        let _ = other.kill();
        let _ = other.wait();
        let error = result
            .expect_err("the node must refuse to start")
            .to_string();
        assert!(
            error.contains("another Kubernetes node") && error.contains(&*fake.to_string_lossy()),
            "unexpected error: {error}"
        );
        println!("refused to start beside a foreign kubelet");
    }

    let chains_before = iptables_chains();
    {
        let started = Instant::now();
        let (plane, node) =
            KubeControlPlane::start_with_node(&bin, &dir).expect("control plane with a node");
        println!(
            "node Ready and kube-proxy synced after {:?}",
            started.elapsed()
        );
        for (phase, at) in node.startup_timings() {
            println!("  {phase}: {at:?}");
        }
        assert_eq!(node.name(), "mush-node-0");
        assert!(
            cgroup_roots()
                .iter()
                .any(|root| root.join("kubepods").is_dir()),
            "the kubelet's pods are not under its cgroup root: {:?}",
            cgroup_roots()
        );
        let host_ip = node.host_ip();

        // Host servers pods can reach: on the bridge address, not 127.0.0.1.
        let redis = RedisCluster::start_with(ClusterOptions {
            masters: 3,
            replicas: 0,
            bind: host_ip,
            ..ClusterOptions::default()
        })
        .expect("redis cluster on the bridge address");
        let nats = NatsServer::start_on(host_ip).expect("nats on the bridge address");

        let image_started = Instant::now();
        let work = dir.join("echo-image");
        let echo = work.join("echo");
        build_static_binary(ECHO_C, &echo).expect("compile the echo server");
        let tar = build_oci_image(&work, "t1", &[(&echo, "/echo")], &["/echo"]).expect("image");
        node.load_image(&tar, "localhost/mush-echo:t1")
            .expect("import the image");
        println!("image built and imported in {:?}", image_started.elapsed());

        let host_port = free_port().expect("free port");
        let pod_started = Instant::now();
        plane
            .kubectl_stdin(
                &["apply", "-f", "-"],
                &format!(
                    r#"apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
spec:
  nodeSelector:
    kubernetes.io/hostname: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: localhost/mush-echo:t1
    imagePullPolicy: Never
    args: ["8080"]
    ports:
    - containerPort: 8080
      hostPort: {host_port}
    readinessProbe:
      httpGet:
        path: /
        port: 8080
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: NodePort
  selector:
    app: echo
  ports:
  - port: 80
    targetPort: 8080
"#,
                    node = node.name(),
                ),
            )
            .expect("apply the pod");
        plane
            .kubectl(&[
                "wait",
                "--for=condition=Ready",
                "pod/echo",
                "--timeout=120s",
            ])
            .unwrap_or_else(|e| {
                let describe = plane
                    .kubectl(&["describe", "pod", "echo"])
                    .unwrap_or_default();
                panic!("pod not Ready: {e}\n{describe}")
            });
        println!("pod Ready after {:?}", pod_started.elapsed());

        let pod_ip = plane
            .kubectl(&["get", "pod", "echo", "-o", "jsonpath={.status.podIP}"])
            .expect("pod IP");
        println!("pod IP {pod_ip}");
        assert!(pod_ip.starts_with("10.85.0."), "pod IP {pod_ip}");

        let hostport: SocketAddr = ([127, 0, 0, 1], host_port).into();
        let body = eventually("the hostPort on 127.0.0.1", Duration::from_secs(30), || {
            http_get(hostport)
        });
        assert_eq!(body.trim(), "hello from echo");

        let cluster_ip = plane
            .kubectl(&["get", "service", "echo", "-o", "jsonpath={.spec.clusterIP}"])
            .expect("cluster IP");
        let cluster_addr = SocketAddr::new(cluster_ip.parse().expect("IP"), 80);
        let body = eventually("the ClusterIP", Duration::from_secs(30), || {
            http_get(cluster_addr)
        });
        assert_eq!(body.trim(), "hello from echo");

        let node_port: u16 = plane
            .kubectl(&[
                "get",
                "service",
                "echo",
                "-o",
                "jsonpath={.spec.ports[0].nodePort}",
            ])
            .expect("node port")
            .parse()
            .expect("port number");
        for ip in [IpAddr::from([127, 0, 0, 1]), host_ip] {
            let addr = SocketAddr::new(ip, node_port);
            let body = eventually(
                &format!("the NodePort on {addr}"),
                Duration::from_secs(30),
                || http_get(addr),
            );
            assert_eq!(body.trim(), "hello from echo");
        }
        println!("reached the pod by hostPort, ClusterIP {cluster_ip} and NodePort {node_port}");

        let exec = |args: &[&str]| {
            let mut all = vec!["exec", "echo", "--", "/echo"];
            all.extend_from_slice(args);
            plane
                .kubectl(&all)
                .unwrap_or_else(|e| panic!("kubectl {all:?}: {e}"))
        };
        assert_eq!(exec(&["say", "hi"]).trim(), "hi");
        let logs = plane.kubectl(&["logs", "echo"]).expect("kubectl logs");
        assert!(logs.contains("listening on 8080"), "logs: {logs}");

        // The pod reaches host processes on the bridge address...
        let redis_port = redis.ports()[0].to_string();
        let pong = exec(&["get", &host_ip.to_string(), &redis_port, "PING"]);
        assert!(pong.contains("PONG"), "redis from the pod: {pong}");
        let nats_port = nats.port().to_string();
        let info = exec(&["get", &host_ip.to_string(), &nats_port]);
        assert!(info.starts_with("INFO "), "nats from the pod: {info}");
        // ... and the API server through the `kubernetes` Service (kube-proxy's DNAT).
        let api = exec(&["get", "10.96.0.1", "443"]);
        assert!(api.contains("connected"), "API server from the pod: {api}");
        println!("the pod reached Redis, NATS and the API server");

        let drop_started = Instant::now();
        drop(nats);
        drop(redis);
        drop(node);
        println!("node torn down in {:?}", drop_started.elapsed());
        drop(plane);
    }

    let left = processes_mentioning(&dir_text);
    assert!(left.is_empty(), "processes left: {left:#?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&dir_text)).collect();
    assert!(left.is_empty(), "mounts left: {left:#?}");
    assert!(
        !Path::new("/sys/class/net/mushbr0").exists(),
        "the bridge is left"
    );
    // Container processes (`/pause`, `/echo 8080`) do not mention the directory; their
    // cgroups would keep the cgroup root alive.
    let roots = cgroup_roots();
    assert!(roots.is_empty(), "cgroup roots left: {roots:#?}");
    let new_chains: Vec<String> = iptables_chains()
        .difference(&chains_before)
        .cloned()
        .collect();
    assert!(
        new_chains.is_empty(),
        "iptables chains left: {new_chains:#?}"
    );
    let shims = shims_under(&dir);
    assert!(shims.is_empty(), "shims left: {shims:#?}");
}
