//! A real Kubernetes control plane on 127.0.0.1 for the operator's end-to-end tests: etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, and kwok simulating one node
//! (its pods become Running and Ready without containers).
//!
//! [`KubeControlPlane::start_with_node`] starts the same plane beside one real node that
//! runs containers (see [`crate::RealNode`]); the API server then listens on the node's
//! bridge address instead of 127.0.0.1, because pods cannot reach the host's loopback.
//!
//! The binaries come from `scripts/k8s-tools` (built from pinned Go modules, cached).
//! Certificates are made with the `openssl` command: a throwaway CA, the API server's
//! serving certificate for 127.0.0.1 (and the bridge address, and the `kubernetes`
//! Service's ClusterIP that in-cluster clients dial), an admin client certificate (group
//! `system:masters`) and the service-account signing key. Every process listens on
//! 127.0.0.1 (or the bridge address) only and dies with this value.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::node::RealNode;
use crate::pki::Pki;
use crate::process::{Server, free_port, on_fresh_ports, run_command};

/// The ClusterIP of the `kubernetes` Service: the first address of the service range.
/// In-cluster clients dial it, so the API server's certificate names it.
const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
/// The Services' virtual addresses (ClusterIPs).
pub(crate) const SERVICE_CIDR: &str = "10.96.0.0/16";

/// A running control plane.
#[derive(Debug)]
pub struct KubeControlPlane {
    bin: PathBuf,
    dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    /// Every process, newest first: dropping kills kwok and the controllers before the API
    /// server, and etcd last.
    _processes: Vec<Server>,
}

impl KubeControlPlane {
    /// Starts everything with binaries from `bin`, state and logs under `dir`; returns when
    /// the API server is ready and the fake node is Ready.
    pub fn start(bin: &Path, dir: &Path) -> Result<Self, HarnessError> {
        let plane = Self::start_on(bin, dir, Ipv4Addr::LOCALHOST, false)?;
        plane.add_fake_node()?;
        Ok(plane)
    }

    /// Starts the control plane beside one real node that runs containers (containerd,
    /// runc, CNI bridge, kubelet, kube-proxy; see [`RealNode`]), with binaries from `bin`
    /// (`scripts/k8s-tools`, which also builds the kubelet and kube-proxy), state and logs
    /// under `dir`. Returns when the node is Ready and kube-proxy has synced.
    ///
    /// The API server listens on [`RealNode::host_ip`] (pods reach it there and through
    /// the `kubernetes` Service); the kubeconfig names that address. There is no kwok
    /// node (kwok runs, [`Self::add_fake_node`] adds one). Drop the node before the
    /// plane: `let (plane, node) = ...` does, since locals drop in reverse order.
    ///
    /// Needs root. Only one real node runs on a machine at a time (it owns a fixed bridge
    /// and the host's KUBE-*/CNI-* iptables chains); a second caller waits for the first.
    pub fn start_with_node(bin: &Path, dir: &Path) -> Result<(Self, RealNode), HarnessError> {
        RealNode::start_with_plane(bin, dir)
    }

    /// Starts the control plane with its API server on `ip`; with `real_node`, it also
    /// issues the client certificates of the kubelet, kube-proxy and the API server's
    /// kubelet client, and lets the API server publish its address as the endpoint of the
    /// `kubernetes` Service (a loopback address may not be one).
    pub(crate) fn start_on(
        bin: &Path,
        dir: &Path,
        ip: Ipv4Addr,
        real_node: bool,
    ) -> Result<Self, HarnessError> {
        std::fs::create_dir_all(dir).map_err(HarnessError::Io)?;
        let pki = make_certificates(&dir.join("pki"), ip, real_node)?;
        let pki = pki.dir();
        let path = |name: &str| pki.join(name).to_string_lossy().into_owned();

        // Every component picks its ports right before it starts, and again if one was
        // taken meanwhile.
        let (etcd, etcd_url) = on_fresh_ports(|| {
            let (etcd_port, etcd_peer) = (free_port()?, free_port()?);
            let etcd_url = format!("http://127.0.0.1:{etcd_port}");
            // A failed start may have begun a member with the old ports.
            let _ = std::fs::remove_dir_all(dir.join("etcd"));
            let etcd = Server::spawn(
                "etcd",
                &bin.join("etcd"),
                vec![
                    "--name=e2e".into(),
                    format!("--data-dir={}", dir.join("etcd").display()),
                    format!("--listen-client-urls={etcd_url}"),
                    format!("--advertise-client-urls={etcd_url}"),
                    format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
                    format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
                    format!("--initial-cluster=e2e=http://127.0.0.1:{etcd_peer}"),
                    // A test cluster: durability across power loss does not matter, speed does.
                    "--unsafe-no-fsync".into(),
                ],
                etcd_port,
                dir.join("etcd.log"),
            )?;
            Ok((etcd, etcd_url))
        })?;

        let (apiserver, api_port) = on_fresh_ports(|| {
            let api_port = free_port()?;
            let mut args = vec![
                format!("--etcd-servers={etcd_url}"),
                format!("--bind-address={ip}"),
                format!("--advertise-address={ip}"),
                format!("--secure-port={api_port}"),
                format!("--tls-cert-file={}", path("apiserver.crt")),
                format!("--tls-private-key-file={}", path("apiserver.key")),
                format!("--client-ca-file={}", path("ca.crt")),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-account-key-file={}", path("sa.pub")),
                format!("--service-account-signing-key-file={}", path("sa.key")),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--authorization-mode=Node,RBAC".into(),
            ];
            if real_node {
                // `kubectl logs`/`exec` go through the kubelet, which trusts this
                // certificate (its x509 client CA is ours) and allows it everything.
                args.extend([
                    format!(
                        "--kubelet-client-certificate={}",
                        path("apiserver-kubelet-client.crt")
                    ),
                    format!(
                        "--kubelet-client-key={}",
                        path("apiserver-kubelet-client.key")
                    ),
                    "--kubelet-preferred-address-types=InternalIP".into(),
                ]);
            } else {
                // Endpoints of the `kubernetes` Service may not be a loopback address.
                args.push("--endpoint-reconciler-type=none".into());
            }
            let apiserver = Server::spawn_at(
                "kube-apiserver",
                &bin.join("kube-apiserver"),
                args,
                IpAddr::V4(ip),
                api_port,
                dir.join("kube-apiserver.log"),
            )?;
            Ok((apiserver, api_port))
        })?;

        let server = format!("https://{ip}:{api_port}");
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &server, pki, "admin")?;
        let kc = format!("--kubeconfig={}", kubeconfig.display());

        Self::probe_ready(&bin.join("kubectl"), &kubeconfig, Duration::from_secs(90))?;

        let controller_manager = on_fresh_ports(|| {
            let cm_port = free_port()?;
            Server::spawn(
                "kube-controller-manager",
                &bin.join("kube-controller-manager"),
                vec![
                    kc.clone(),
                    format!("--authentication-kubeconfig={}", kubeconfig.display()),
                    format!("--authorization-kubeconfig={}", kubeconfig.display()),
                    "--bind-address=127.0.0.1".into(),
                    format!("--secure-port={cm_port}"),
                    "--leader-elect=false".into(),
                    format!("--service-account-private-key-file={}", path("sa.key")),
                    format!("--root-ca-file={}", path("ca.crt")),
                    "--use-service-account-credentials=false".into(),
                    // Quick garbage collection and ReplicaSet reactions for a test.
                    "--concurrent-gc-syncs=5".into(),
                ],
                cm_port,
                dir.join("kube-controller-manager.log"),
            )
        })?;

        let scheduler = on_fresh_ports(|| {
            let sched_port = free_port()?;
            Server::spawn(
                "kube-scheduler",
                &bin.join("kube-scheduler"),
                vec![
                    kc.clone(),
                    format!("--authentication-kubeconfig={}", kubeconfig.display()),
                    format!("--authorization-kubeconfig={}", kubeconfig.display()),
                    "--bind-address=127.0.0.1".into(),
                    format!("--secure-port={sched_port}"),
                    "--leader-elect=false".into(),
                ],
                sched_port,
                dir.join("kube-scheduler.log"),
            )
        })?;

        let kwok = on_fresh_ports(|| {
            let kwok_port = free_port()?;
            Server::spawn(
                "kwok",
                &bin.join("kwok"),
                vec![
                    kc.clone(),
                    format!("--config={}", bin.join("kwok-stages.yaml").display()),
                    "--manage-all-nodes=false".into(),
                    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
                    format!("--server-address=127.0.0.1:{kwok_port}"),
                    // Pod IPs are only written into pod status; nothing is sent to them.
                    "--cidr=10.244.0.0/16".into(),
                    "--node-ip=10.244.0.1".into(),
                ],
                kwok_port,
                dir.join("kwok.log"),
            )
        })?;

        Ok(Self {
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            kubeconfig,
            server,
            _processes: vec![kwok, scheduler, controller_manager, apiserver, etcd],
        })
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Where state and logs live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The API server's URL, `https://IP:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The directory of the binaries (kubectl, helm, ...).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs `kubectl args` against this cluster; its stdout, or an error with its stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, HarnessError> {
        self.run_tool("kubectl", args, None)
    }

    /// Runs `kubectl args` with `stdin` piped in (e.g. `apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String, HarnessError> {
        self.run_tool("kubectl", args, Some(stdin))
    }

    /// Runs `helm args` against this cluster.
    pub fn helm(&self, args: &[&str]) -> Result<String, HarnessError> {
        self.run_tool("helm", args, None)
    }

    fn run_tool(
        &self,
        tool: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, HarnessError> {
        run_tool(
            &self.bin.join(tool),
            &self.kubeconfig,
            &self.dir,
            args,
            stdin,
        )
    }

    fn probe_ready(
        kubectl: &Path,
        kubeconfig: &Path,
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let dir = kubeconfig.parent().unwrap_or(Path::new("."));
            match run_tool(kubectl, kubeconfig, dir, &["get", "--raw", "/readyz"], None) {
                Ok(out) if out.trim() == "ok" => return Ok(()),
                _ if Instant::now() > deadline => {
                    return Err(HarnessError::Timeout("kube-apiserver /readyz".into()));
                }
                _ => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    /// Adds `kwok-node-0`, a node kwok manages: pods scheduled there turn Running and
    /// Ready without containers. [`Self::start`] adds it; beside a real node, pods meant
    /// for one or the other need a node selector.
    pub fn add_fake_node(&self) -> Result<(), HarnessError> {
        self.kubectl_stdin(
            &["apply", "-f", "-"],
            r#"apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable:
    cpu: "64"
    memory: 256Gi
    pods: "500"
  capacity:
    cpu: "64"
    memory: 256Gi
    pods: "500"
"#,
        )?;
        self.kubectl(&[
            "wait",
            "--for=condition=Ready",
            "node/kwok-node-0",
            "--timeout=60s",
        ])?;
        Ok(())
    }
}

fn run_tool(
    exe: &Path,
    kubeconfig: &Path,
    dir: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, HarnessError> {
    run_command(
        Command::new(exe)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            // Helm and kubectl keep their caches and config here, never in the user's home.
            .env("KUBECACHEDIR", dir.join("kubectl-cache"))
            .env("HELM_CACHE_HOME", dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", dir.join("helm/config"))
            .env("HELM_DATA_HOME", dir.join("helm/data")),
        stdin.map(str::as_bytes),
    )
}

/// Writes a kubeconfig for `server` authenticating with `pki/{user}.crt` and `.key`.
pub(crate) fn write_kubeconfig(
    path: &Path,
    server: &str,
    pki: &Path,
    user: &str,
) -> Result<(), HarnessError> {
    let file = |name: String| pki.join(name).to_string_lossy().into_owned();
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: e2e\n  context:\n    cluster: e2e\n    user: {user}\n    namespace: default\ncurrent-context: e2e\n",
            ca = file("ca.crt".into()),
            cert = file(format!("{user}.crt")),
            key = file(format!("{user}.key")),
        ),
    )
    .map_err(HarnessError::Io)
}

/// The control plane's certificates: a CA, the API server's serving certificate for
/// 127.0.0.1 and `ip` (and the `kubernetes` Service's ClusterIP), an admin client
/// certificate and the service-account key pair; with `real_node`, also the client
/// certificates of the kubelet, kube-proxy and the API server's kubelet client.
fn make_certificates(dir: &Path, ip: Ipv4Addr, real_node: bool) -> Result<Pki, HarnessError> {
    let pki = Pki::new(dir, "mush-e2e-ca")?;
    let bridge = format!("IP:{ip}");
    let mut names = vec!["IP:127.0.0.1"];
    if !ip.is_loopback() {
        names.push(&bridge);
    }
    let service_ip = format!("IP:{KUBERNETES_SERVICE_IP}");
    names.extend([
        service_ip.as_str(),
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
    ]);
    pki.server("apiserver", "/CN=kube-apiserver", &names)?;
    pki.client("admin", "/O=system:masters/CN=e2e-admin")?;
    if real_node {
        let kubelet = format!("/O=system:nodes/CN=system:node:{}", crate::node::NODE_NAME);
        for (name, subject) in [
            (
                "apiserver-kubelet-client",
                "/O=system:masters/CN=kube-apiserver-kubelet-client",
            ),
            ("kubelet", kubelet.as_str()),
            ("kube-proxy", "/CN=system:kube-proxy"),
        ] {
            pki.client(name, subject)?;
        }
    }
    // The service-account signing key stays RSA, as the API server's defaults expect.
    pki.openssl(&["genrsa", "-out", "sa.key", "2048"])?;
    pki.openssl(&["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"])?;
    Ok(pki)
}

/// The repository this harness is built in (its scripts and charts live there).
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `scripts/<name>` of the repository (`k8s-tools`, `image`) and returns the last
/// line it printed: the path it built. The tests that need a control plane, a node or the
/// image share this, so each reports a failing script the same way.
pub fn run_script(name: &str, args: &[&str]) -> Result<PathBuf, HarnessError> {
    let script = repo_dir().join("scripts").join(name);
    let out = run_command(Command::new(&script).args(args), None)?;
    out.lines()
        .last()
        .map(|line| PathBuf::from(line.trim()))
        .ok_or_else(|| {
            HarnessError::Invalid(format!(
                "`{} {}` printed nothing",
                script.display(),
                args.join(" ")
            ))
        })
}
