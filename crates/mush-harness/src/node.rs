//! One real Kubernetes node beside the harness's control plane: containerd and runc run
//! real containers, the CNI bridge plugin gives pods addresses on a bridge, a kubelet and
//! kube-proxy (built by `scripts/k8s-tools` from the pinned Kubernetes module) make it a
//! node. Started by [`KubeControlPlane::start_with_node`].
//!
//! Network: the harness creates the bridge `mushbr0` with [`RealNode::host_ip`]
//! (10.85.0.1/24) itself, before anything else, because pods cannot reach the host's
//! 127.0.0.1: the API server, and Redis or NATS a test starts for pods
//! ([`crate::ClusterOptions::bind`], [`crate::NatsServer::start_on`]), listen on that
//! address. Pods get addresses from 10.85.0.0/24 (host-local IPAM), hostPorts through the
//! portmap plugin (also on 127.0.0.1), Services through kube-proxy in iptables mode
//! (ClusterIP, and NodePort also on 127.0.0.1). There is no cluster DNS.
//!
//! Everything lives under `DIR/mush-real-node` (containerd's root, state and socket, the
//! kubelet's root dir, pod logs, CNI config and IPAM state), marked as a node's by the file
//! `.mush-real-node` in it; component logs are `DIR/containerd.log`, `DIR/kubelet.log` and
//! `DIR/kube-proxy.log`, beside the control plane's.
//!
//! Some state is necessarily host-wide: the bridge, iptables chains (KUBE-* from
//! kube-proxy, CNI-* from portmap for the CNI network `mush-real-node`), the kubelet's
//! cgroup root `/mush-real-node` in every cgroup hierarchy, a few sysctls the kubelet and
//! kube-proxy set (restored on drop), containerd's shim sockets in `/run/containerd/s`,
//! kubelet symlinks in `/var/log/containers`, CNI result caches in `/var/lib/cni/results`,
//! the kubelet's device-plugin socket in `/var/lib/kubelet/device-plugins` (a fixed path).
//! Hence one real node per machine at a time: a lock file (`/run/mush-real-node.lock`)
//! serializes them, and a node starting removes whatever a crashed predecessor (a test
//! killed with SIGKILL) left in marked node directories. A node refuses to start while a
//! kubelet, kube-proxy or k3s that is not a real node's runs on the machine: KUBE-* chains
//! are then someone else's.
//!
//! Dropping the node stops the kubelet and kube-proxy, deletes every container through
//! containerd, stops containerd, kills any shim or container process that is left (shims
//! outlive containerd), unmounts everything under its directory, removes its cgroup root,
//! the bridge (if it is still the link it created) and veths, the KUBE-* chains (unless
//! another Kubernetes node started meanwhile) and its network's CNI-* chains, the host
//! paths it created, and restores the sysctls.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::kube::{KubeControlPlane, run_script, write_kubeconfig};
use crate::process::{
    Server, find_binary, free_port, is_root, lock_exclusive, on_fresh_ports, run_command,
    send_signal,
};

/// The node's name, also its `kubernetes.io/hostname` label.
pub(crate) const NODE_NAME: &str = "mush-node-0";
/// The bridge pods are attached to.
const BRIDGE: &str = "mushbr0";
/// The host's address on the bridge: the pods' gateway, where host servers listen for pods.
const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 85, 0, 1);
/// Pod addresses: clear of the service range (10.96.0.0/16) and kwok's (10.244.0.0/16).
const POD_CIDR: &str = "10.85.0.0/24";
/// The node's directory under the test directory. A path containing `/mush-real-node/`
/// may belong to some real node: leftovers of a crashed run are recognized that way, and
/// only in a directory holding the [`MARKER`] file.
const NODE_DIR: &str = "mush-real-node";
/// The file in each node directory, written when it is created, that makes it a node's.
const MARKER: &str = ".mush-real-node";
/// The file in each node directory recording host paths the node created (see
/// [`HostPaths`]).
const HOST_PATHS: &str = "host-paths";
/// The kubelet's cgroup root (its `cgroupRoot`): `/sys/fs/cgroup/HIERARCHY/mush-real-node`.
const CGROUP_ROOT: &str = "mush-real-node";
/// The CNI network's name; CNI caches results as `/var/lib/cni/results/NAME-*`, and the
/// portmap plugin names it in the comments of its rules.
const CNI_NETWORK: &str = "mush-real-node";
/// The lock serializing real nodes; fixed, like the host state it guards.
const LOCK_PATH: &str = "/run/mush-real-node.lock";
/// The sysctls as they were before any real node changed them (see [`original_sysctls`]).
const SAVED_SYSCTLS_PATH: &str = "/run/mush-real-node.sysctls";
/// The directory of the running node, so a successor finds it if the run crashes.
const CURRENT_DIR_PATH: &str = "/run/mush-real-node.dir";
/// Processes that make a machine a Kubernetes node; a real node refuses to start beside
/// one that is not a real node's.
const KUBE_PROCESSES: &[&str] = &["kubelet", "kube-proxy", "k3s"];
/// The sandbox image, built from `pause.c` and imported before the kubelet starts.
const PAUSE_REPOSITORY: &str = "localhost/mush-pause";
const PAUSE_TAG: &str = "1";
/// The containerd namespace the CRI plugin uses.
const CRI_NAMESPACE: &str = "k8s.io";
/// Host-wide sysctls the kubelet (kernel tunables) and kube-proxy (localhost NodePorts)
/// or the CNI bridge plugin (forwarding) change; restored when the node goes.
const SYSCTLS: &[&str] = &[
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
];
/// Where the kubelet links container logs, whatever its configuration says.
const CONTAINER_LOG_LINKS: &str = "/var/log/containers";
/// Where libcni caches results, whatever containerd's configuration says.
const CNI_RESULTS: &str = "/var/lib/cni/results";
/// Where the kubelet listens for device plugins, whatever its root directory (fixed in
/// the kubelet).
const DEVICE_PLUGINS: &str = "/var/lib/kubelet/device-plugins";
/// The kubelet's device-plugin registration socket.
const DEVICE_PLUGIN_SOCKET: &str = "/var/lib/kubelet/device-plugins/kubelet.sock";
/// Host directories the node's components create if missing, deepest first; removed
/// again (when empty) only if the node created them.
const HOST_DIRS: &[&str] = &[
    DEVICE_PLUGINS,
    "/var/lib/kubelet",
    CNI_RESULTS,
    "/var/lib/cni",
    CONTAINER_LOG_LINKS,
    SHIM_SOCKETS,
    "/run/containerd",
];
/// Where containerd 1.6 shims put their sockets, whatever containerd's configuration says.
const SHIM_SOCKETS: &str = "/run/containerd/s";

/// One real Kubernetes node (`mush-node-0`): containerd, kubelet and kube-proxy processes
/// and the host state they need, all removed again on drop (see the module docs).
#[derive(Debug)]
pub struct RealNode {
    /// `DIR/mush-real-node`.
    dir: PathBuf,
    /// containerd's gRPC socket.
    socket: PathBuf,
    ctr: PathBuf,
    kubelet: Option<Server>,
    kube_proxy: Option<Server>,
    containerd: Option<Server>,
    /// The values of [`SYSCTLS`] before any real node changed them.
    sysctls: Vec<(String, String)>,
    timings: Vec<(&'static str, Duration)>,
    /// Held while the node lives: one real node per machine.
    _lock: File,
}

impl RealNode {
    /// Starts the node's host side, the control plane on the bridge address, then the
    /// kubelet and kube-proxy. See [`KubeControlPlane::start_with_node`].
    pub(crate) fn start_with_plane(
        bin: &Path,
        dir: &Path,
    ) -> Result<(KubeControlPlane, Self), HarnessError> {
        let started = Instant::now();
        let mut node = Self::prepare(bin, dir)?;
        node.timings.push(("containerd ready", started.elapsed()));
        let plane = KubeControlPlane::start_on(bin, dir, HOST_IP, true)?;
        node.timings
            .push(("control plane ready", started.elapsed()));
        node.join(bin, dir, &plane, started)?;
        Ok((plane, node))
    }

    /// The host's address on the pods' bridge (10.85.0.1): pods reach host processes
    /// there, and the API server listens there.
    pub fn host_ip(&self) -> IpAddr {
        IpAddr::V4(HOST_IP)
    }

    /// The node's name (`mush-node-0`), also its `kubernetes.io/hostname` label.
    pub fn name(&self) -> &str {
        NODE_NAME
    }

    /// The pods' address range (the bridge's subnet).
    pub fn pod_cidr(&self) -> &str {
        POD_CIDR
    }

    /// The node's directory (containerd, kubelet and CNI state).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long each start-up phase took, counted from the start: containerd ready,
    /// control plane ready, node Ready, kube-proxy synced.
    pub fn startup_timings(&self) -> &[(&'static str, Duration)] {
        &self.timings
    }

    /// Imports an OCI-layout tar (see [`build_oci_image`]) as image `name`, e.g.
    /// `localhost/mush:TAG`; pods then use it with `imagePullPolicy: Never` or
    /// `IfNotPresent`. The tar's tag (its `org.opencontainers.image.ref.name`) must be
    /// `TAG`: containerd names the image `REPOSITORY:TAG` from it, and the CRI plugin finds
    /// images only under such a full name.
    pub fn load_image(&self, oci_tar: &Path, name: &str) -> Result<(), HarnessError> {
        let (repository, _tag) = split_image_name(name)?;
        let tar = oci_tar.to_string_lossy();
        self.ctr(&["images", "import", "--base-name", repository, &tar])?;
        let images = self.ctr(&["images", "ls", "-q"])?;
        if images.lines().any(|line| line.trim() == name) {
            Ok(())
        } else {
            Err(HarnessError::Invalid(format!(
                "importing {} did not yield image {name} (the tar's tag must be the part after ':'); containerd has: {}",
                oci_tar.display(),
                images.split_whitespace().collect::<Vec<_>>().join(", ")
            )))
        }
    }

    /// Runs `ctr` against this node's containerd, in the CRI plugin's namespace.
    pub fn ctr(&self, args: &[&str]) -> Result<String, HarnessError> {
        let socket = self.socket.to_string_lossy();
        let mut all = vec!["--address", &socket, "--namespace", CRI_NAMESPACE];
        all.extend_from_slice(args);
        run(&self.ctr, &all, None)
    }

    /// Everything before the control plane: the lock, leftovers of a crashed run, the
    /// bridge, containerd with the sandbox image, the CNI configuration.
    fn prepare(bin: &Path, dir: &Path) -> Result<Self, HarnessError> {
        if !is_root() {
            return Err(HarnessError::Invalid(
                "a real Kubernetes node needs root (bridges, iptables, mounts, cgroups)".into(),
            ));
        }
        for tool in ["kubelet", "kube-proxy"] {
            if !bin.join(tool).is_file() {
                return Err(HarnessError::Invalid(format!(
                    "{} missing: run scripts/k8s-tools, which builds it",
                    bin.join(tool).display()
                )));
            }
        }
        let containerd = find_binary("containerd", "containerd")?;
        let ctr = find_binary("ctr", "containerd")?;
        find_binary("containerd-shim-runc-v2", "containerd")?;
        let runc = find_binary("runc", "runc")?;
        for (tool, package) in [
            ("umoci", "umoci"),
            ("iptables", "iptables"),
            ("ip", "iproute2"),
            ("gcc", "gcc"),
            ("tar", "tar"),
        ] {
            find_binary(tool, package)?;
        }
        if !Path::new("/usr/lib/cni/bridge").is_file() {
            return Err(HarnessError::MissingBinary {
                binary: "/usr/lib/cni/bridge".into(),
                package: "containernetworking-plugins",
            });
        }

        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_PATH)
            .map_err(HarnessError::Io)?;
        lock_exclusive(&lock)?;

        // Under the lock no other real node runs: whatever is in a marked node directory
        // is a crashed run's. A kubelet, kube-proxy or k3s of no real node is another
        // Kubernetes node's, whose host state (KUBE-* chains, ...) must not be touched.
        let leftover_scope = Scope::leftovers();
        let foreign = foreign_kube_processes(&leftover_scope);
        if !foreign.is_empty() {
            return Err(HarnessError::Invalid(format!(
                "another Kubernetes node runs on this machine, so a real node cannot start (it would share iptables chains and host paths with it): {}",
                foreign.join("; ")
            )));
        }
        let leftovers = sweep(&leftover_scope);
        if !leftovers.removed.is_empty() {
            eprintln!(
                "real node: removed leftovers of an earlier run: {:?}",
                leftovers.removed
            );
        }
        if !leftovers.failed.is_empty() {
            // Starting may still work; if not, the step that trips says why.
            eprintln!(
                "real node: could not remove leftovers of an earlier run: {:?}",
                leftovers.failed
            );
        }
        let sysctls = original_sysctls()?;

        std::fs::create_dir_all(dir).map_err(HarnessError::Io)?;
        // Canonical, as mountinfo's and /proc's paths are, so prefixes compare.
        let dir = dir.canonicalize().map_err(HarnessError::Io)?;
        let node_dir = dir.join(NODE_DIR);
        if node_dir.exists() {
            // A failed earlier start in the same directory (the sweep above unmounted
            // what was mounted in it); but only a directory a node made.
            if !has_marker(&node_dir) {
                return Err(HarnessError::Invalid(format!(
                    "{} exists but is not a real node's directory (no {MARKER} in it)",
                    node_dir.display()
                )));
            }
            std::fs::remove_dir_all(&node_dir).map_err(HarnessError::Io)?;
        }
        std::fs::create_dir_all(&node_dir).map_err(HarnessError::Io)?;
        std::fs::write(node_dir.join(MARKER), marker_text()).map_err(HarnessError::Io)?;
        std::fs::write(CURRENT_DIR_PATH, node_dir.to_string_lossy().as_bytes())
            .map_err(HarnessError::Io)?;
        HostPaths::record_missing_dirs(&node_dir)?;
        let socket = node_dir.join("containerd/containerd.sock");
        let mut node = Self {
            dir: node_dir,
            socket,
            ctr,
            kubelet: None,
            kube_proxy: None,
            containerd: None,
            sysctls,
            timings: Vec::new(),
            _lock: lock,
        };
        // From here on, dropping `node` removes what was made.
        create_cgroup_root()?;
        node.create_bridge()?;
        node.write_cni_config()?;
        node.start_containerd(&containerd, &runc, &dir)?;
        node.import_pause_image()?;
        Ok(node)
    }

    fn create_bridge(&self) -> Result<(), HarnessError> {
        let ip = find_binary("ip", "iproute2")?;
        run(&ip, &["link", "add", BRIDGE, "type", "bridge"], None)?;
        run(
            &ip,
            &["addr", "add", &format!("{HOST_IP}/24"), "dev", BRIDGE],
            None,
        )?;
        run(&ip, &["link", "set", BRIDGE, "up"], None)?;
        // ClusterIPs are virtual: kube-proxy rewrites them to pod addresses. Until its rules
        // are in, a connection to one would follow the default route off this machine; on
        // the bridge it stays here (and goes with the bridge).
        run(
            &ip,
            &["route", "add", crate::kube::SERVICE_CIDR, "dev", BRIDGE],
            None,
        )?;
        // Removed again only while it is this very link (see `HostPaths`).
        HostPaths::record_bridge(&self.dir)
    }

    fn write_cni_config(&self) -> Result<(), HarnessError> {
        let conf_dir = self.dir.join("cni/net.d");
        std::fs::create_dir_all(&conf_dir).map_err(HarnessError::Io)?;
        // No ipMasq: pods only talk to the host and each other, and it would add chains.
        // host-local keeps its leases under our directory, not in /var/lib/cni/networks.
        let conf = format!(
            r#"{{
  "cniVersion": "1.0.0",
  "name": "{CNI_NETWORK}",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {{
        "type": "host-local",
        "ranges": [[{{ "subnet": "{POD_CIDR}", "gateway": "{HOST_IP}" }}]],
        "routes": [{{ "dst": "0.0.0.0/0" }}],
        "dataDir": "{ipam}"
      }}
    }},
    {{ "type": "portmap", "capabilities": {{ "portMappings": true }} }}
  ]
}}
"#,
            ipam = self.dir.join("cni/ipam").display(),
        );
        std::fs::write(conf_dir.join("10-mush.conflist"), conf).map_err(HarnessError::Io)
    }

    fn start_containerd(
        &mut self,
        containerd: &Path,
        runc: &Path,
        log_dir: &Path,
    ) -> Result<(), HarnessError> {
        let base = self.dir.join("containerd");
        std::fs::create_dir_all(&base).map_err(HarnessError::Io)?;
        let config = base.join("config.toml");
        let server = on_fresh_ports(|| {
            let metrics_port = free_port()?;
            std::fs::write(&config, self.containerd_config(&base, runc, metrics_port))
                .map_err(HarnessError::Io)?;
            Server::spawn(
                "containerd",
                containerd,
                vec!["--config".into(), config.to_string_lossy().into_owned()],
                metrics_port,
                log_dir.join("containerd.log"),
            )
        })?;
        self.containerd = Some(server);
        // The metrics listener comes up before the gRPC API is served.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.ctr(&["version"]) {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() > deadline => {
                    return Err(HarnessError::Timeout(format!("containerd's API: {error}")));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// containerd 1.6's configuration: everything under `base`, the CRI plugin set up for
    /// this machine (overlayfs, runc with cgroupfs, `restrict_oom_score_adj` because root
    /// lacks CAP_SYS_RESOURCE here and a negative oom_score_adj fails every sandbox, the
    /// locally built sandbox image, network namespaces mounted under the state dir instead
    /// of /var/run/netns).
    fn containerd_config(&self, base: &Path, runc: &Path, metrics_port: u16) -> String {
        format!(
            r#"version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[metrics]
  address = "127.0.0.1:{metrics_port}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_REPOSITORY}:{PAUSE_TAG}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        Root = "{base}/runc"
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{conf_dir}"
    max_conf_num = 1
"#,
            base = base.display(),
            socket = self.socket.display(),
            runc = runc.display(),
            conf_dir = self.dir.join("cni/net.d").display(),
        )
    }

    fn import_pause_image(&self) -> Result<(), HarnessError> {
        let work = self.dir.join("pause");
        std::fs::create_dir_all(&work).map_err(HarnessError::Io)?;
        let binary = work.join("pause");
        build_static_binary(include_str!("pause.c"), &binary)?;
        let tar = build_oci_image(&work, PAUSE_TAG, &[(&binary, "/pause")], &["/pause"])?;
        self.load_image(&tar, &format!("{PAUSE_REPOSITORY}:{PAUSE_TAG}"))
    }

    /// The node joins the running control plane: its Node object, the kubelet, then
    /// kube-proxy.
    fn join(
        &mut self,
        bin: &Path,
        log_dir: &Path,
        plane: &KubeControlPlane,
        started: Instant,
    ) -> Result<(), HarnessError> {
        let pki = plane.dir().join("pki");
        let kubelet_kubeconfig = self.dir.join("kubelet.kubeconfig");
        write_kubeconfig(&kubelet_kubeconfig, plane.server(), &pki, "kubelet")?;
        let proxy_kubeconfig = self.dir.join("kube-proxy.kubeconfig");
        write_kubeconfig(&proxy_kubeconfig, plane.server(), &pki, "kube-proxy")?;

        // The kubelet never sets spec.podCIDR (the controller manager would, from a
        // cluster CIDR kwok's nodes would draw from too), so the Node exists first.
        plane.kubectl_stdin(
            &["apply", "-f", "-"],
            &format!(
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE_NAME}\n  labels:\n    kubernetes.io/hostname: {NODE_NAME}\n    kubernetes.io/os: linux\n    kubernetes.io/arch: amd64\nspec:\n  podCIDR: {POD_CIDR}\n  podCIDRs: [{POD_CIDR}]\n"
            ),
        )?;

        let kubelet_root = self.dir.join("kubelet");
        std::fs::create_dir_all(&kubelet_root).map_err(HarnessError::Io)?;
        let kubelet_config = self.dir.join("kubelet.yaml");
        let kubelet = on_fresh_ports(|| {
            let (port, healthz_port) = (free_port()?, free_port()?);
            std::fs::write(
                &kubelet_config,
                self.kubelet_config(&pki.join("ca.crt"), port, healthz_port),
            )
            .map_err(HarnessError::Io)?;
            Server::spawn(
                "kubelet",
                &bin.join("kubelet"),
                vec![
                    format!("--config={}", kubelet_config.display()),
                    format!("--kubeconfig={}", kubelet_kubeconfig.display()),
                    format!("--root-dir={}", kubelet_root.display()),
                    format!("--cert-dir={}", kubelet_root.join("pki").display()),
                    format!("--hostname-override={NODE_NAME}"),
                    format!("--node-ip={HOST_IP}"),
                ],
                healthz_port,
                log_dir.join("kubelet.log"),
            )
        })?;
        self.kubelet = Some(kubelet);
        plane.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("node/{NODE_NAME}"),
            "--timeout=120s",
        ])?;
        self.timings.push(("node Ready", started.elapsed()));
        // Its path is fixed in the kubelet; ours only if this kubelet made it.
        HostPaths::record_device_plugin_socket(&self.dir)?;

        let proxy_config = self.dir.join("kube-proxy.yaml");
        let kube_proxy = on_fresh_ports(|| {
            let (healthz_port, metrics_port) = (free_port()?, free_port()?);
            std::fs::write(
                &proxy_config,
                kube_proxy_config(&proxy_kubeconfig, healthz_port, metrics_port),
            )
            .map_err(HarnessError::Io)?;
            Server::spawn(
                "kube-proxy",
                &bin.join("kube-proxy"),
                vec![format!("--config={}", proxy_config.display())],
                healthz_port,
                log_dir.join("kube-proxy.log"),
            )
        })?;
        let healthz = kube_proxy.addr();
        self.kube_proxy = Some(kube_proxy);
        // 200 once the first sync of the Service rules is done.
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_status(healthz, "/healthz") != Some(200) {
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout("kube-proxy's first sync".into()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.timings.push(("kube-proxy synced", started.elapsed()));

        // Pods need their namespace's service account, which the controller manager makes.
        let deadline = Instant::now() + Duration::from_secs(60);
        while plane
            .kubectl(&["get", "serviceaccount", "default", "-o", "name"])
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout("the default service account".into()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// The kubelet's configuration for this machine: cgroup v1 with the cgroupfs driver
    /// (containerd 1.6 cannot tell it the driver), every path under our directory,
    /// x509 client certificates from our CA and no authorization (`kubectl logs`/`exec`
    /// through the API server), no swap check, no image GC or disk eviction (the pause
    /// image must survive a full disk), no iptables chains of its own, and no negative
    /// oom_score_adj (root lacks CAP_SYS_RESOURCE here).
    fn kubelet_config(&self, ca: &Path, port: u16, healthz_port: u16) -> String {
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://{socket}
address: {HOST_IP}
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz_port}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: {ca}
authorization:
  mode: AlwaysAllow
podCIDR: {POD_CIDR}
cgroupRoot: /{CGROUP_ROOT}
podLogsDir: {pod_logs}
volumePluginDir: {volume_plugins}
makeIPTablesUtilChains: false
oomScoreAdj: 0
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
  imagefs.inodesFree: "1%"
serializeImagePulls: false
shutdownGracePeriod: 0s
"#,
            socket = self.socket.display(),
            ca = ca.display(),
            pod_logs = self.dir.join("pod-logs").display(),
            volume_plugins = self.dir.join("volume-plugins").display(),
        )
    }

    /// Stops everything and removes what it left on the host; returns what could not be
    /// cleaned up.
    fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(mut kubelet) = self.kubelet.take() {
            kubelet.kill();
        }
        if let Some(mut kube_proxy) = self.kube_proxy.take() {
            kube_proxy.kill();
        }
        if let Some(mut containerd) = self.containerd.take() {
            // The graceful way: deleting a task kills its processes and unmounts its root
            // file system, and a pod's shim exits with its last task, removing its
            // socket. It races with the CRI plugin, which deletes exited tasks itself, and
            // a shim may be going away meanwhile; the sweep below removes whatever this
            // left, and reports what it could not, so errors here do not matter.
            if let Ok(tasks) = self.ctr(&["tasks", "ls", "-q"]) {
                for task in tasks.split_whitespace() {
                    let _ = self.ctr(&["tasks", "rm", "-f", task]);
                }
            }
            containerd.terminate(Duration::from_secs(5));
        }
        problems.extend(sweep(&Scope::ours(self.dir.clone())).failed);
        for (name, value) in &self.sysctls {
            if let Err(error) = std::fs::write(Path::new("/proc/sys").join(name), value) {
                problems.push(format!("restoring sysctl {name}: {error}"));
            }
        }
        let _ = std::fs::remove_file(SAVED_SYSCTLS_PATH);
        let _ = std::fs::remove_file(CURRENT_DIR_PATH);
        problems
    }
}

impl Drop for RealNode {
    fn drop(&mut self) {
        let problems = self.teardown();
        if !problems.is_empty() {
            eprintln!("real node cleanup: {problems:?}");
        }
    }
}

/// What a sweep removes: the host state of the real nodes whose (canonical, marked)
/// directories it holds: ours at teardown, or a crashed run's at start (under the lock).
struct Scope {
    dirs: Vec<PathBuf>,
    /// Whether the node directories themselves go too (a crashed run's test never got to
    /// remove its temporary directory).
    remove_dirs: bool,
}

impl Scope {
    fn ours(dir: PathBuf) -> Self {
        Self {
            dirs: vec![dir],
            remove_dirs: false,
        }
    }

    /// The marked node directories a crashed run left: named by `/run/mush-real-node.dir`,
    /// or found in mount points, shims' and processes' command lines.
    fn leftovers() -> Self {
        let mut candidates: Vec<String> = mount_points();
        candidates.extend(shims().into_iter().map(|shim| shim.address));
        candidates.extend(processes().into_iter().flat_map(|(_, args)| args));
        if let Ok(current) = std::fs::read_to_string(CURRENT_DIR_PATH) {
            candidates.push(current.trim().to_owned());
        }
        let mut dirs: Vec<PathBuf> = candidates
            .iter()
            .flat_map(|path| node_dirs_in(path))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs.retain(|dir| has_marker(dir));
        Self {
            dirs,
            remove_dirs: true,
        }
    }

    /// True when `path` is state of a node in scope.
    fn covers(&self, path: &str) -> bool {
        self.dirs.iter().any(|dir| Path::new(path).starts_with(dir))
    }
}

/// The node directories `path` may lie in: each of its prefixes ending in a
/// `mush-real-node` component (`path` may be an argument like `--config=/a/b`).
fn node_dirs_in(path: &str) -> Vec<PathBuf> {
    let needle = format!("/{NODE_DIR}");
    let mut dirs = Vec::new();
    for (at, _) in path.match_indices(&needle) {
        let end = at + needle.len();
        if path[end..].is_empty() || path[end..].starts_with('/') {
            let start = path[..at].find('/').unwrap_or(at);
            dirs.push(PathBuf::from(&path[start..end]));
        }
    }
    dirs
}

/// True when `dir` holds the marker a node writes into its directory at creation.
fn has_marker(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|text| text.starts_with("mush-real-node "))
}

/// The marker's text: which process made the directory, and a random id.
fn marker_text() -> String {
    let mut id = [0u8; 8];
    if let Ok(mut random) = File::open("/dev/urandom") {
        let _ = random.read_exact(&mut id);
    }
    let id: String = id.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("mush-real-node pid={} id={id}\n", std::process::id())
}

/// Host paths outside its directory a node created, recorded in `DIR/host-paths` so they
/// are removed only if the node (or a crashed predecessor) made them: the directories of
/// [`HOST_DIRS`] that were missing before it started, and the kubelet's device-plugin
/// socket (by device and inode, as the kubelet created it).
#[derive(Default)]
struct HostPaths {
    dirs: Vec<PathBuf>,
    socket: Option<(PathBuf, u64, u64)>,
    /// The bridge's interface index when the node created it.
    bridge: Option<u32>,
}

impl HostPaths {
    fn record_missing_dirs(node_dir: &Path) -> Result<(), HarnessError> {
        let text: String = HOST_DIRS
            .iter()
            .filter(|dir| std::fs::symlink_metadata(dir).is_err())
            .map(|dir| format!("dir {dir}\n"))
            .collect();
        std::fs::write(node_dir.join(HOST_PATHS), text).map_err(HarnessError::Io)
    }

    fn record_device_plugin_socket(node_dir: &Path) -> Result<(), HarnessError> {
        use std::os::unix::fs::MetadataExt;
        // The kubelet removes stale sockets there and listens anew at start: one there now
        // is our kubelet's.
        let Ok(meta) = std::fs::symlink_metadata(DEVICE_PLUGIN_SOCKET) else {
            return Ok(());
        };
        let mut file = File::options()
            .append(true)
            .open(node_dir.join(HOST_PATHS))
            .map_err(HarnessError::Io)?;
        writeln!(
            file,
            "socket {DEVICE_PLUGIN_SOCKET} {} {}",
            meta.dev(),
            meta.ino()
        )
        .map_err(HarnessError::Io)
    }

    fn record_bridge(node_dir: &Path) -> Result<(), HarnessError> {
        let index = bridge_index().ok_or_else(|| {
            HarnessError::Invalid(format!("bridge {BRIDGE} vanished right after creation"))
        })?;
        let mut file = File::options()
            .append(true)
            .open(node_dir.join(HOST_PATHS))
            .map_err(HarnessError::Io)?;
        writeln!(file, "bridge {BRIDGE} {index}").map_err(HarnessError::Io)
    }

    fn read(node_dir: &Path) -> Self {
        let mut paths = Self::default();
        let text = std::fs::read_to_string(node_dir.join(HOST_PATHS)).unwrap_or_default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            match fields.as_slice() {
                ["dir", dir] => paths.dirs.push(PathBuf::from(dir)),
                ["bridge", name, index] if *name == BRIDGE => paths.bridge = index.parse().ok(),
                ["socket", path, dev, ino] => {
                    if let (Ok(dev), Ok(ino)) = (dev.parse(), ino.parse()) {
                        paths.socket = Some((PathBuf::from(path), dev, ino));
                    }
                }
                _ => {}
            }
        }
        paths
    }

    /// Removes the socket if it is still the one recorded.
    fn remove_socket(&self, report: &mut SweepReport) {
        use std::os::unix::fs::MetadataExt;
        if let Some((path, dev, ino)) = &self.socket
            && std::fs::symlink_metadata(path)
                .is_ok_and(|meta| meta.dev() == *dev && meta.ino() == *ino)
        {
            match std::fs::remove_file(path) {
                Ok(()) => report.removed.push(format!("socket {}", path.display())),
                Err(error) => report
                    .failed
                    .push(format!("removing {}: {error}", path.display())),
            }
        }
    }

    /// Removes the recorded directories, when empty, deepest first.
    fn remove_dirs(&self) {
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// What a sweep did: what it found and removed, and what it could not remove.
#[derive(Default)]
struct SweepReport {
    removed: Vec<String>,
    failed: Vec<String>,
}

/// Kubelets, kube-proxies and k3s processes that are no real node's in `scope` (whose
/// command line names none of its directories), as `PID: COMMAND LINE`.
fn foreign_kube_processes(scope: &Scope) -> Vec<String> {
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|(pid, _)| u32::try_from(*pid).is_ok_and(|pid| pid != me))
        // An empty command line: a zombie (a killed real node's kubelet not yet reaped)
        // or a kernel thread.
        .filter(|(_, args)| !args.is_empty())
        .filter(|(pid, args)| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            is_kube_process(comm.trim(), args)
        })
        .filter(|(_, args)| {
            !args
                .iter()
                .any(|arg| node_dirs_in(arg).iter().any(|dir| scope.dirs.contains(dir)))
        })
        .map(|(pid, args)| format!("{pid}: {}", args.join(" ")))
        .collect()
}

/// True when a process named `comm` running `args` is a kubelet, kube-proxy or k3s.
fn is_kube_process(comm: &str, args: &[String]) -> bool {
    let exe = args
        .first()
        .and_then(|arg0| arg0.split_whitespace().next())
        .map(|arg0| arg0.rsplit('/').next().unwrap_or(arg0))
        .unwrap_or("");
    KUBE_PROCESSES.contains(&exe)
        || KUBE_PROCESSES.contains(&comm)
        || comm.starts_with("k3s")
        || exe.starts_with("k3s-")
}

/// Removes the host state of the nodes in `scope`: their component, container and shim
/// processes, mounts, the cgroup root, veths and the bridge, KUBE-* chains and the CNI
/// network's chains, CNI result caches, kubelet log links, shim sockets, and the host paths
/// they created.
fn sweep(scope: &Scope) -> SweepReport {
    let mut report = SweepReport::default();
    // Read before a crashed run's directory goes.
    let host_paths: Vec<HostPaths> = scope.dirs.iter().map(|dir| HostPaths::read(dir)).collect();

    // A crashed run's components, should any have outlived it (their command lines name
    // their directory).
    let me = std::process::id();
    for (pid, args) in processes() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let component = is_kube_process(comm.trim(), &args) || comm.trim() == "containerd";
        if component
            && u32::try_from(pid).is_ok_and(|pid| pid != me)
            && args
                .iter()
                .any(|arg| node_dirs_in(arg).iter().any(|dir| scope.dirs.contains(dir)))
        {
            report
                .removed
                .push(format!("killed {} ({pid})", comm.trim()));
            let _ = send_signal(pid, libc::SIGKILL);
        }
    }

    // Container processes first, so their shims (still alive) reap them; then the shims,
    // whose command line names their containerd's socket. The cgroup root is a real
    // node's; under the lock, only one real node's.
    let killed = kill_cgroup_processes();
    if killed > 0 {
        report
            .removed
            .push(format!("killed {killed} container processes"));
    }
    for shim in shims()
        .into_iter()
        .filter(|shim| scope.covers(&shim.address))
    {
        report
            .removed
            .push(format!("killed shim {} ({})", shim.pid, shim.id));
        let _ = send_signal(shim.pid, libc::SIGKILL);
        // A killed shim leaves its socket behind; its name is a hash of where it was for.
        if let Some(hash) = sha256_hex(&format!("{}/{}/{}", shim.address, shim.namespace, shim.id))
        {
            let _ = std::fs::remove_file(Path::new(SHIM_SOCKETS).join(hash));
        }
    }

    let mounts: Vec<String> = mount_points()
        .into_iter()
        .filter(|point| scope.covers(point))
        .collect();
    if !mounts.is_empty() {
        report.removed.push(format!("unmounted {mounts:?}"));
        for point in &mounts {
            let output = Command::new("umount").args(["-l", point]).output();
            if let Ok(output) = output
                && !output.status.success()
            {
                report.failed.push(format!(
                    "umount -l {point}: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
    }

    // A crashed run's node directory goes too, once nothing is mounted in it any more.
    if scope.remove_dirs {
        let still_mounted = mount_points();
        for dir in &scope.dirs {
            if !still_mounted
                .iter()
                .any(|point| Path::new(point).starts_with(dir))
                && std::fs::remove_dir_all(dir).is_ok()
            {
                report.removed.push(format!("directory {}", dir.display()));
            }
        }
    }

    report.failed.extend(remove_cgroups());

    // The bridge's name is fixed: only the very link a node in scope created goes.
    let bridge = bridge_index();
    if bridge.is_some() && host_paths.iter().any(|paths| paths.bridge == bridge) {
        report.removed.push(format!("bridge {BRIDGE}"));
        if let Ok(links) = run(
            Path::new("ip"),
            &["-o", "link", "show", "master", BRIDGE],
            None,
        ) {
            for link in links.lines().filter_map(|line| {
                let name = line.split(": ").nth(1)?;
                Some(name.split('@').next().unwrap_or(name).to_owned())
            }) {
                let _ = run(Path::new("ip"), &["link", "del", &link], None);
            }
        }
        if let Err(error) = run(Path::new("ip"), &["link", "del", BRIDGE], None) {
            report
                .failed
                .push(format!("deleting bridge {BRIDGE}: {error}"));
        }
    }

    // KUBE-* chains are some kube-proxy's: ours only while no other Kubernetes node runs
    // (checked at start, and again here, as one may have started since).
    let foreign = foreign_kube_processes(scope);
    let kube_chains = foreign.is_empty();
    if !kube_chains {
        report.failed.push(format!(
            "left KUBE-* iptables chains alone: another Kubernetes node runs: {}",
            foreign.join("; ")
        ));
    }
    for (save, restore) in [
        ("iptables-save", "iptables-restore"),
        ("ip6tables-save", "ip6tables-restore"),
    ] {
        match sweep_iptables(save, restore, kube_chains) {
            Ok(0) => {}
            Ok(chains) => report.removed.push(format!("{chains} chains from {save}")),
            Err(error) => report.failed.push(error),
        }
    }

    // libcni caches each sandbox's results as NETWORK-ID-IFNAME: ours, and containerd's
    // loopback network's for the same sandboxes.
    if let Ok(entries) = std::fs::read_dir(CNI_RESULTS) {
        let names: Vec<String> = entries
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        let ours = format!("{CNI_NETWORK}-");
        for name in names.iter().filter(|name| name.starts_with(&ours)) {
            let _ = std::fs::remove_file(Path::new(CNI_RESULTS).join(name));
            if let Some(id) = name[ours.len()..].strip_suffix("-eth0") {
                let loopback = format!("cni-loopback-{id}-lo");
                let _ = std::fs::remove_file(Path::new(CNI_RESULTS).join(loopback));
            }
        }
    }

    if let Ok(entries) = std::fs::read_dir(CONTAINER_LOG_LINKS) {
        for entry in entries.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path())
                && scope.covers(&target.to_string_lossy())
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    // The device-plugin socket (its path is fixed) and the host directories, only if a
    // node in scope made them.
    for paths in &host_paths {
        paths.remove_socket(&mut report);
    }
    for paths in &host_paths {
        paths.remove_dirs();
    }
    report
}

/// A containerd shim process, from its command line.
struct Shim {
    pid: libc::pid_t,
    namespace: String,
    id: String,
    address: String,
}

fn shims() -> Vec<Shim> {
    processes()
        .into_iter()
        .filter(|(_, args)| {
            args.first()
                .is_some_and(|exe| exe.contains("containerd-shim"))
        })
        .filter_map(|(pid, args)| {
            let flag = |name: &str| {
                args.iter()
                    .position(|arg| arg == name)
                    .and_then(|i| args.get(i + 1).cloned())
            };
            Some(Shim {
                pid,
                namespace: flag("-namespace")?,
                id: flag("-id")?,
                address: flag("-address")?,
            })
        })
        .collect()
}

/// Every process with its command line.
fn processes() -> Vec<(libc::pid_t, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args = cmdline
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            Some((pid, args))
        })
        .collect()
}

/// Mount points of this mount namespace, deepest first.
fn mount_points() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mount_path)
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse((point.matches('/').count(), point.len())));
    points.dedup();
    points
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape_mount_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(code) = raw
                .get(i + 1..i + 4)
                .and_then(|digits| u8::from_str_radix(digits, 8).ok())
        {
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bridge's interface index, if it exists.
fn bridge_index() -> Option<u32> {
    let path = Path::new("/sys/class/net").join(BRIDGE).join("ifindex");
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The mounted cgroup hierarchies (v1 and v2), by canonical path, each once.
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut hierarchies: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| {
            let (fields, fs) = line.split_once(" - ")?;
            let fstype = fs.split(' ').next()?;
            let point = fields.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| unescape_mount_path(point))
        })
        .map(|point| {
            let point = PathBuf::from(point);
            point.canonicalize().unwrap_or(point)
        })
        .collect();
    hierarchies.sort();
    hierarchies.dedup();
    hierarchies
}

/// Creates the kubelet's cgroup root in every hierarchy: the kubelet requires it to exist.
fn create_cgroup_root() -> Result<(), HarnessError> {
    for hierarchy in cgroup_hierarchies() {
        let root = hierarchy.join(CGROUP_ROOT);
        match std::fs::create_dir(&root) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(HarnessError::Invalid(format!(
                    "creating cgroup {}: {error}",
                    root.display()
                )));
            }
        }
    }
    Ok(())
}

/// The kubelet's cgroup root in each hierarchy, with its descendants, deepest first.
fn cgroup_dirs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&entry.path(), out);
                }
            }
        }
        out.push(dir.to_owned());
    }
    let mut out = Vec::new();
    for hierarchy in cgroup_hierarchies() {
        let top = hierarchy.join(CGROUP_ROOT);
        if top.is_dir() {
            walk(&top, &mut out);
        }
    }
    out
}

/// SIGKILLs every process under the cgroup root until none is left (or 10 s passed);
/// returns how many signals it sent.
fn kill_cgroup_processes() -> usize {
    let mut killed = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut pids: Vec<libc::pid_t> = cgroup_dirs()
            .iter()
            .filter_map(|dir| std::fs::read_to_string(dir.join("cgroup.procs")).ok())
            .flat_map(|procs| {
                procs
                    .lines()
                    .filter_map(|pid| pid.trim().parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        if pids.is_empty() || Instant::now() > deadline {
            return killed;
        }
        for pid in pids {
            if send_signal(pid, libc::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the (empty) cgroup root and its descendants, deepest first; one already gone
/// is fine.
fn remove_cgroups() -> Vec<String> {
    let mut problems = Vec::new();
    for dir in cgroup_dirs() {
        // A cgroup whose last process just died can stay busy for a moment.
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(&dir) {
                Ok(()) => break,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => break,
                Err(error) => {
                    tries += 1;
                    if tries > 20 {
                        problems.push(format!("removing cgroup {}: {error}", dir.display()));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    problems
}

/// Removes every KUBE-* chain if `kube_chains` (kube-proxy's; when no other kube-proxy
/// runs, see [`foreign_kube_processes`]) and the CNI-* chains of our CNI network (the portmap
/// plugin's), and the rules of other chains that jump to them or name our network, in one
/// `iptables-restore --noflush` transaction per table.
/// Returns how many chains it removed.
fn sweep_iptables(save: &str, restore: &str, kube_chains: bool) -> Result<usize, String> {
    let Ok(save_bin) = find_binary(save, "iptables") else {
        return Ok(0);
    };
    let dump = run(&save_bin, &[], None).map_err(|error| format!("{save}: {error}"))?;
    let script = iptables_cleanup_script(&dump, kube_chains);
    if script.is_empty() {
        return Ok(0);
    }
    let restore_bin = find_binary(restore, "iptables").map_err(|error| error.to_string())?;
    run(&restore_bin, &["--noflush"], Some(script.as_bytes()))
        .map_err(|error| format!("{restore}: {error}"))?;
    Ok(script
        .lines()
        .filter(|line| line.starts_with("-X "))
        .count())
}

/// The portmap plugin's chains shared by every network using it on the host.
const PORTMAP_SHARED_CHAINS: &[&str] = &[
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-SETMARK",
    "CNI-HOSTPORT-MASQ",
];

/// The `iptables-restore --noflush` input that removes our chains from an
/// `iptables-save` dump: per table, flush our chains (dropping their references to each
/// other), delete the rules of other chains that jump to ours or name our CNI network,
/// then delete ours.
///
/// Ours: every KUBE-* chain (if `kube_chains`); the CNI-* chains our network's rules jump to (the plugins
/// comment theirs with `name: "NETWORK" id: "CONTAINER"`); and portmap's shared
/// CNI-HOSTPORT-* chains if nothing but their own plumbing is left in them without our
/// rules (portmap creates them again when another network needs them).
fn iptables_cleanup_script(dump: &str, kube_chains: bool) -> String {
    let names_our_network = |rule: &str| {
        rule.contains(&format!("name: \\\"{CNI_NETWORK}\\\""))
            || rule.contains(&format!("name: \"{CNI_NETWORK}\""))
    };
    let target = |rule: &str| -> Option<String> {
        let tokens: Vec<&str> = rule.split(' ').collect();
        tokens
            .windows(2)
            .find(|pair| pair[0] == "-j" || pair[0] == "-g")
            .map(|pair| pair[1].to_owned())
    };
    let mut script = String::new();
    let mut table = String::new();
    // Per table: declared chains (name, built-in) and rules (chain, rule after `-A `).
    let mut chains: Vec<(String, bool)> = Vec::new();
    let mut rules: Vec<(String, String)> = Vec::new();
    for line in dump.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_owned();
            chains.clear();
            rules.clear();
        } else if let Some(decl) = line.strip_prefix(':') {
            let mut fields = decl.split(' ');
            let chain = fields.next().unwrap_or("");
            let builtin = fields.next().is_some_and(|policy| policy != "-");
            chains.push((chain.to_owned(), builtin));
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let chain = rule.split(' ').next().unwrap_or("");
            rules.push((chain.to_owned(), rule.to_owned()));
        } else if line == "COMMIT" {
            let declared = |name: &str| chains.iter().any(|(chain, _)| chain == name);
            let builtin = |name: &str| chains.iter().any(|(chain, b)| chain == name && *b);
            let mut ours: Vec<String> = chains
                .iter()
                .filter(|(chain, _)| kube_chains && chain.starts_with("KUBE-"))
                .map(|(chain, _)| chain.clone())
                .collect();
            for (_, rule) in &rules {
                if names_our_network(rule)
                    && let Some(to) = target(rule)
                    && to.starts_with("CNI-")
                    && !PORTMAP_SHARED_CHAINS.contains(&to.as_str())
                    && declared(&to)
                    && !ours.contains(&to)
                {
                    ours.push(to);
                }
            }
            let goes = |ours: &[String], chain: &str, rule: &str| {
                !ours.iter().any(|c| c == chain)
                    && (names_our_network(rule)
                        || target(rule).is_some_and(|to| ours.contains(&to)))
            };
            let shared: Vec<String> = PORTMAP_SHARED_CHAINS
                .iter()
                .filter(|chain| declared(chain))
                .map(|chain| (*chain).to_owned())
                .collect();
            if !shared.is_empty() {
                let remaining = rules
                    .iter()
                    .filter(|(chain, rule)| !ours.contains(chain) && !goes(&ours, chain, rule));
                let in_use = remaining.clone().any(|(chain, rule)| {
                    chain == "CNI-HOSTPORT-DNAT"
                        || (!builtin(chain)
                            && !shared.contains(chain)
                            && target(rule).is_some_and(|to| shared.contains(&to)))
                });
                if !in_use {
                    ours.extend(shared);
                }
            }
            let deletes: Vec<String> = rules
                .iter()
                .filter(|(chain, rule)| goes(&ours, chain, rule))
                .map(|(_, rule)| format!("-D {rule}"))
                .collect();
            if !ours.is_empty() || !deletes.is_empty() {
                script.push_str(&format!("*{table}\n"));
                for chain in &ours {
                    script.push_str(&format!(":{chain} - [0:0]\n"));
                }
                for delete in &deletes {
                    script.push_str(delete);
                    script.push('\n');
                }
                for chain in &ours {
                    script.push_str(&format!("-X {chain}\n"));
                }
                script.push_str("COMMIT\n");
            }
        }
    }
    script
}

/// The original values of [`SYSCTLS`]: those a crashed run saved, or the current ones
/// (then saved).
fn original_sysctls() -> Result<Vec<(String, String)>, HarnessError> {
    // Remembered in a file, so a crashed run's changes are still undone by the next node.
    let path = Path::new(SAVED_SYSCTLS_PATH);
    if let Ok(saved) = std::fs::read_to_string(path) {
        return Ok(saved
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once('=')?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect());
    }
    let current: Vec<(String, String)> = SYSCTLS
        .iter()
        .filter_map(|name| {
            let value = std::fs::read_to_string(Path::new("/proc/sys").join(name)).ok()?;
            Some(((*name).to_owned(), value.trim().to_owned()))
        })
        .collect();
    let text: String = current
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    std::fs::write(path, text).map_err(HarnessError::Io)?;
    Ok(current)
}

/// The kube-proxy configuration: iptables mode, Services for the pod range, NodePorts on
/// 127.0.0.1 and the bridge address only, and no conntrack or oom_score_adj changes it is
/// not allowed to make here.
fn kube_proxy_config(kubeconfig: &Path, healthz_port: u16, metrics_port: u16) -> String {
    format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
hostnameOverride: {NODE_NAME}
mode: iptables
clusterCIDR: {POD_CIDR}
detectLocalMode: ClusterCIDR
healthzBindAddress: 127.0.0.1:{healthz_port}
metricsBindAddress: 127.0.0.1:{metrics_port}
bindAddressHardFail: true
oomScoreAdj: 0
nodePortAddresses: ["127.0.0.1/32", "{HOST_IP}/32"]
iptables:
  localhostNodePorts: true
  masqueradeAll: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
"#,
        kubeconfig = kubeconfig.display(),
    )
}

/// `GET path` over plain HTTP; the status code, if any answer came.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split(' ').nth(1)?.parse().ok()
}

/// Compiles a C program (a pause container, a tiny test server) into a static binary with
/// `gcc -static`, so an image needs nothing else: no libc, no registry.
pub fn build_static_binary(source: &str, output: &Path) -> Result<(), HarnessError> {
    let gcc = find_binary("gcc", "gcc")?;
    let dir = output.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(HarnessError::Io)?;
    let source_path = output.with_extension("c");
    std::fs::write(&source_path, source).map_err(HarnessError::Io)?;
    run(
        &gcc,
        &[
            "-static",
            "-Os",
            "-o",
            &output.to_string_lossy(),
            &source_path.to_string_lossy(),
        ],
        None,
    )?;
    Ok(())
}

/// Builds an image from scratch holding `files` (host path, path in the image), with
/// `entrypoint`, tagged `tag`, packed by `scripts/oci-pack` (the `mush` image's packer
/// too); returns the path of a tar of its OCI layout, made in `work_dir`, for
/// [`RealNode::load_image`] (which names it `REPOSITORY:tag`).
pub fn build_oci_image(
    work_dir: &Path,
    tag: &str,
    files: &[(&Path, &str)],
    entrypoint: &[&str],
) -> Result<PathBuf, HarnessError> {
    let rootfs = work_dir.join(format!("rootfs-{tag}"));
    let _ = std::fs::remove_dir_all(&rootfs);
    for (source, target) in files {
        let destination = rootfs.join(target.trim_start_matches('/'));
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(HarnessError::Io)?;
        }
        std::fs::copy(source, &destination).map_err(HarnessError::Io)?;
    }
    let (rootfs_arg, out) = (
        rootfs.to_string_lossy().into_owned(),
        work_dir.join(format!("image-{tag}.tar")),
    );
    let out_arg = out.to_string_lossy().into_owned();
    let mut args = vec![rootfs_arg.as_str(), tag, out_arg.as_str()];
    for arg in entrypoint {
        args.extend(["--config.entrypoint", arg]);
    }
    run_script("oci-pack", &args)?;
    let _ = std::fs::remove_dir_all(&rootfs);
    Ok(out)
}

/// `localhost/mush:TAG` as (`localhost/mush`, `TAG`).
fn split_image_name(name: &str) -> Result<(&str, &str), HarnessError> {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(colon) => Ok((&name[..slash + colon], &name[slash + colon + 1..])),
        None => Err(HarnessError::Invalid(format!(
            "image name {name} has no tag (want REPOSITORY:TAG)"
        ))),
    }
}

/// SHA-256 of `text` as hex, with `sha256sum` (coreutils).
fn sha256_hex(text: &str) -> Option<String> {
    let out = run(Path::new("sha256sum"), &[], Some(text.as_bytes())).ok()?;
    out.split_whitespace().next().map(str::to_owned)
}

/// Runs `program args` (with `stdin` piped in); its stdout, or an error with its stderr.
fn run(program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<String, HarnessError> {
    run_command(Command::new(program).args(args), stdin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cleanup_script_removes_our_chains_and_the_jumps_to_them() {
        // Ours: KUBE-*, our network's CNI-DN chain; portmap's shared chains, only
        // plumbing once our rule is gone; not OTHER or built-in chains.
        let dump = "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:CNI-DN-ours - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n:CNI-HOSTPORT-MASQ - [0:0]\n:CNI-HOSTPORT-SETMARK - [0:0]\n:OTHER - [0:0]\n-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n-A OUTPUT -j OTHER\n-A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ\n-A CNI-DN-ours -p tcp -m tcp --dport 1 -j CNI-HOSTPORT-SETMARK\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"mush-real-node\\\" id: \\\"abc\\\"\" -m multiport --dports 1 -j CNI-DN-ours\n-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE\n-A CNI-HOSTPORT-SETMARK -m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
        assert_eq!(
            iptables_cleanup_script(dump, true),
            "*nat\n:KUBE-SERVICES - [0:0]\n:CNI-DN-ours - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n:CNI-HOSTPORT-SETMARK - [0:0]\n:CNI-HOSTPORT-MASQ - [0:0]\n-D PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n-D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n-D POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ\n-X KUBE-SERVICES\n-X CNI-DN-ours\n-X CNI-HOSTPORT-DNAT\n-X CNI-HOSTPORT-SETMARK\n-X CNI-HOSTPORT-MASQ\nCOMMIT\n"
        );
        // Beside another Kubernetes node, its KUBE-* chains stay.
        let without_kube = iptables_cleanup_script(dump, false);
        assert!(!without_kube.contains("KUBE-"), "{without_kube}");
        assert!(without_kube.contains("-X CNI-DN-ours\n"), "{without_kube}");
        assert_eq!(
            iptables_cleanup_script("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", true),
            ""
        );
    }

    #[test]
    fn the_cleanup_script_leaves_other_networks_chains() {
        // podman's portmap: its CNI-DN chain and the shared chains it still uses stay;
        // only our rule and chain go.
        let dump = "*nat\n:OUTPUT ACCEPT [0:0]\n:CNI-DN-ours - [0:0]\n:CNI-DN-theirs - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n:CNI-HOSTPORT-SETMARK - [0:0]\n-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n-A CNI-DN-ours -p tcp -j CNI-HOSTPORT-SETMARK\n-A CNI-DN-theirs -p tcp -j CNI-HOSTPORT-SETMARK\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"mush-real-node\\\" id: \\\"abc\\\"\" -j CNI-DN-ours\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"podman\\\" id: \\\"def\\\"\" -j CNI-DN-theirs\n-A CNI-HOSTPORT-SETMARK -j MARK --set-xmark 0x2000/0x2000\nCOMMIT\n";
        assert_eq!(
            iptables_cleanup_script(dump, true),
            "*nat\n:CNI-DN-ours - [0:0]\n-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"mush-real-node\\\" id: \\\"abc\\\"\" -j CNI-DN-ours\n-X CNI-DN-ours\nCOMMIT\n"
        );
        // Someone else's CNI-* chains without any of our rules: nothing to do.
        let theirs = "*nat\n:CNI-DN-theirs - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"podman\\\" id: \\\"def\\\"\" -j CNI-DN-theirs\nCOMMIT\n";
        assert_eq!(iptables_cleanup_script(theirs, true), "");
    }

    #[test]
    fn node_dirs_are_found_in_paths_and_arguments() {
        assert_eq!(
            node_dirs_in("/tmp/mush-real-node-test-x/mush-real-node/containerd/x.sock"),
            vec![PathBuf::from("/tmp/mush-real-node-test-x/mush-real-node")]
        );
        assert_eq!(
            node_dirs_in("--config=/t/mush-real-node/kube-proxy.yaml"),
            vec![PathBuf::from("/t/mush-real-node")]
        );
        assert_eq!(
            node_dirs_in("/t/mush-real-node"),
            vec![PathBuf::from("/t/mush-real-node")]
        );
        assert!(node_dirs_in("/tmp/mush-real-node-test-x/other").is_empty());
    }

    #[test]
    fn kube_processes_are_recognized() {
        let args = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert!(is_kube_process(
            "kubelet",
            &args("/usr/bin/kubelet --config=x")
        ));
        assert!(is_kube_process(
            "k3s-server",
            &args("/usr/local/bin/k3s server")
        ));
        assert!(is_kube_process("x", &args("/opt/bin/kube-proxy")));
        assert!(!is_kube_process("bash", &args("bash -c kubelet")));
        assert!(!is_kube_process(
            "kube-apiserver",
            &args("/bin/kube-apiserver")
        ));
    }

    #[test]
    fn image_names_split_at_the_tag() {
        assert_eq!(
            split_image_name("localhost/mush:abc").expect("name"),
            ("localhost/mush", "abc")
        );
        assert_eq!(
            split_image_name("localhost:5000/mush:1").expect("name"),
            ("localhost:5000/mush", "1")
        );
        assert!(split_image_name("localhost:5000/mush").is_err());
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mount_path("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape_mount_path("/plain"), "/plain");
    }
}
