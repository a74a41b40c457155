//! The local cluster's one node: containerd (with runc and the CNI plugins)
//! and a kubelet, on loopback, with every Pod in a network namespace of its
//! own on a bridge.
//!
//! Everything the node writes lives below `target/control-plane/node/`,
//! except what cannot be moved: the kubelet's `/var/log/containers` links,
//! containerd's shim sockets below `/run/containerd/s`, the bridge [`bridge`] and
//! the cgroup [`cgroup_root`]. [`teardown`] removes each of them again.
//!
//! Facts this module builds on (from a trial on this kind of machine):
//! * the VM may not lower `oom_score_adj` (no CAP_SYS_RESOURCE in its
//!   bounding set), so containerd must not try: `restrict_oom_score_adj`;
//! * kubelet ≥ 1.35 refuses cgroup v1 unless `failCgroupV1: false`, and its
//!   `cgroupRoot` must exist in every v1 hierarchy beforehand;
//! * there is no registry: every image is an archive of our own
//!   ([`super::image`]), imported with `ctr`, and run with
//!   `imagePullPolicy: Never`; the sandbox image is pinned in containerd;
//! * kubelet refuses a loopback `--node-ip` when it fills in the Node's
//!   addresses, so it leaves them out and `up` sets them to 127.0.0.1
//!   itself; the VM's own address is never used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::binaries;
use super::image::Image;
use super::pki::Pki;
use super::{State, component, kubeconfig, kubectl};
use crate::paths;
use crate::progress::{self, step};
use crate::tools;

/// The node's name (and its kubelet's `system:node:<name>` identity).
pub const NODE_NAME: &str = "primary-all-node";

/// The sandbox image every Pod's namespaces are held by: our own pause
/// binary, pinned in containerd so that nothing garbage-collects it.
pub const PAUSE_IMAGE: &str = "localhost/primary-all/pause:1";

/// The image for workloads that only need to run and be Ready (the demo's
/// Deployment, the tests' Pods): the same binary under a second name. Pods
/// use it with `imagePullPolicy: Never`.
pub const IDLE_IMAGE: &str = "localhost/primary-all/idle:1";

/// What names this clone's node on the machine: three bytes of a hash of
/// its path. Several clones (several engineers, CI) may each run a node on
/// one machine at the same time; their bridges, Pod subnets and cgroups
/// must not meet, and one clone's `down` must never touch another's Pods.
fn clone_id() -> [u8; 3] {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(paths::workspace_root().as_os_str().as_encoded_bytes());
    [hash[0], hash[1], hash[2]]
}

fn clone_hex() -> String {
    clone_id().iter().map(|b| format!("{b:02x}")).collect()
}

/// The Pods' network: a bridge on the host, one address each from this
/// /24 of 10.88.0.0/16, chosen by the clone.
pub fn pod_subnet() -> String {
    format!("10.88.{}.0/24", clone_id()[0])
}

/// The host's address on the Pods' bridge (the subnet's first address, as
/// the CNI plugin makes it): where Pods reach kube-apiserver, and where the
/// extension server listens when it runs as a host process.
pub fn pod_gateway() -> String {
    format!("10.88.{}.1", clone_id()[0])
}

/// The bridge the CNI plugin creates (`pa-<clone>`); `down` deletes it.
pub fn bridge() -> String {
    format!("pa-{}", clone_hex())
}

/// Creates the bridge with its gateway address when no Pod has made it yet,
/// so that a host process can listen there before the first Pod runs (the
/// CNI plugin takes a bridge that already carries the gateway address).
pub fn ensure_bridge() -> Result<()> {
    let bridge = bridge();
    let exists = Command::new("ip")
        .args(["link", "show", &bridge])
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let mut add = Command::new("ip");
        add.args(["link", "add", &bridge, "type", "bridge"]);
        progress::output(add).with_context(|| format!("failed to create bridge {bridge}"))?;
    }
    let addresses = Command::new("ip")
        .args(["-4", "addr", "show", "dev", &bridge])
        .output()
        .with_context(|| format!("failed to list the addresses of {bridge}"))?;
    let gateway = pod_gateway();
    if !String::from_utf8_lossy(&addresses.stdout).contains(&format!("inet {gateway}/")) {
        let mut addr = Command::new("ip");
        addr.args(["addr", "add", &format!("{gateway}/24"), "dev", &bridge]);
        progress::output(addr)
            .with_context(|| format!("failed to give {bridge} the address {gateway}"))?;
    }
    let mut up = Command::new("ip");
    up.args(["link", "set", &bridge, "up"]);
    progress::output(up).with_context(|| format!("failed to bring {bridge} up"))?;
    Ok(())
}

/// The cgroup below which the kubelet puts every Pod, in each hierarchy.
pub fn cgroup_root() -> String {
    format!("primary-all-{}", clone_hex())
}

/// The cgroup v1 hierarchies the kubelet needs [`cgroup_root`] in.
const CGROUP_V1_HIERARCHIES: [&str; 9] = [
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
];

/// Where the kubelet links every container's log; it cannot be moved.
const CONTAINER_LOG_LINKS: &str = "/var/log/containers";

/// The node's state directory.
pub fn dir() -> PathBuf {
    paths::control_plane_dir().join("node")
}

fn containerd_socket() -> PathBuf {
    dir().join("containerd").join("containerd.sock")
}

/// `ctr` against the node's containerd, in the CRI's namespace.
pub fn ctr() -> Command {
    let mut cmd = Command::new(binaries::binary("ctr"));
    cmd.arg("--address")
        .arg(containerd_socket())
        .args(["--namespace", "k8s.io"]);
    cmd
}

/// Starts containerd and the kubelet and waits until the Node is Ready and
/// schedulable (the node-lifecycle controller lifted its not-ready taint).
///
/// # Errors
///
/// When a component does not start; the error carries its log's tail.
pub fn start(state: &State, pki: &Pki) -> Result<()> {
    tools::ensure_runc()?;
    start_containerd()?;
    start_kubelet(state, pki)
}

/// Writes containerd's configuration and the CNI network, starts containerd
/// and imports the node's images.
pub fn start_containerd() -> Result<()> {
    let root = dir().join("containerd");
    let cni_conf = dir().join("cni").join("net.d");
    for d in [&root, &cni_conf] {
        std::fs::create_dir_all(d).with_context(|| format!("failed to create {}", d.display()))?;
    }
    let socket = containerd_socket();
    // A Unix socket's path has room for 107 bytes, and containerd adds
    // `.ttrpc` for its second socket.
    if socket.as_os_str().len() > 100 {
        bail!(
            "the checkout's path is too long for containerd's socket ({}); clone it to a shorter path",
            socket.display()
        );
    }
    let runc = find_on_path("runc").context("runc is not on PATH")?;
    let registries = root.join("registries").join("_default");
    std::fs::create_dir_all(&registries)?;
    std::fs::write(
        registries.join("hosts.toml"),
        "# Generated by cargo xtask cluster up: no registry is reachable from the node.\nserver = \"http://127.0.0.1:1\"\n",
    )?;
    let config = root.join("config.toml");
    std::fs::write(&config, containerd_config(&root, &socket, &runc, &cni_conf))?;
    std::fs::write(
        cni_conf.join("10-primary-all.conflist"),
        cni_conflist(&dir().join("cni").join("ipam")),
    )?;

    let bin = binaries::binary("containerd");
    let bin_dir = bin.parent().map(Path::to_path_buf).unwrap_or_default();
    // containerd finds its shim on PATH.
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let mut cmd = Command::new(&bin);
    cmd.env("PATH", path).arg("--config").arg(&config);
    let containerd = component("containerd");
    step(
        "Starting",
        format!(
            "containerd {} with runc {}",
            binaries::CONTAINERD_VERSION,
            runc.display()
        ),
    );
    containerd.start(cmd)?;
    let took = containerd.wait_until(Duration::from_secs(30), || {
        let mut version = ctr();
        version.arg("version");
        progress::output(version).is_ok()
    })?;
    step(
        "Ready",
        format!("containerd after {}", progress::human(took)),
    );
    import_images()
}

/// The pause binary as an OCI archive (written once per binary, next to
/// it in the cache), imported under both its names.
fn import_images() -> Result<()> {
    let pause = binaries::binary("pause");
    let archive = pause.with_file_name("pause.oci.tar");
    if !archive.is_file() {
        let binary =
            std::fs::read(&pause).with_context(|| format!("failed to read {}", pause.display()))?;
        Image {
            binary: &binary,
            entrypoint: "pause",
            names: &[PAUSE_IMAGE, IDLE_IMAGE],
            // Like the upstream pause image: no root needed.
            user: "65535:65535",
        }
        .write(&archive)?;
    }
    step(
        "Importing",
        format!("images {PAUSE_IMAGE} and {IDLE_IMAGE} (our own pause binary) into containerd"),
    );
    let mut import = ctr();
    import.args(["images", "import"]).arg(&archive);
    progress::output_with_stderr(import).context("failed to import the node's images")?;
    let mut list = ctr();
    list.args(["images", "list", "--quiet"]);
    let images = progress::output(list)?;
    for name in [PAUSE_IMAGE, IDLE_IMAGE] {
        if !images.lines().any(|line| line.trim() == name) {
            bail!("containerd does not list {name} after the import; it lists:\n{images}");
        }
    }
    Ok(())
}

/// Creates the cgroups, writes the kubelet's configuration, starts it and
/// waits until its Node is Ready.
pub fn start_kubelet(state: &State, pki: &Pki) -> Result<()> {
    let kubelet_dir = dir().join("kubelet");
    std::fs::create_dir_all(&kubelet_dir)?;
    create_cgroups()?;
    let node_kubeconfig = kubelet_dir.join("kubeconfig");
    kubeconfig::write(
        &node_kubeconfig,
        &kubeconfig::render(
            &state.server(),
            pki,
            &format!("system:node:{NODE_NAME}"),
            "kubelet",
        )?,
    )?;
    let config = kubelet_dir.join("config.yaml");
    std::fs::write(&config, kubelet_config(state, pki, &kubelet_dir))?;

    let mut cmd = Command::new(binaries::binary("kubelet"));
    cmd.arg(format!("--config={}", config.display()))
        .arg(format!("--kubeconfig={}", node_kubeconfig.display()))
        .arg(format!("--root-dir={}", kubelet_dir.join("root").display()))
        .arg(format!("--hostname-override={NODE_NAME}"))
        .arg("--node-ip=127.0.0.1");
    let kubelet = component("kubelet");
    step(
        "Starting",
        format!(
            "kubelet {} as node {NODE_NAME} (127.0.0.1:{}, Pods on {} behind bridge {})",
            binaries::KUBERNETES_VERSION,
            state.kubelet_port,
            pod_subnet(),
            bridge()
        ),
    );
    let started = Instant::now();
    kubelet.start(cmd)?;
    kubelet.wait_until(Duration::from_secs(60), || {
        let mut get = kubectl();
        get.args(["get", "node", NODE_NAME, "-o", "name"]);
        progress::output(get).is_ok()
    })?;
    set_node_addresses()?;
    kubelet.wait_until(Duration::from_secs(90), || {
        let mut get = kubectl();
        get.args([
            "get",
            "node",
            NODE_NAME,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.spec.taints[*].key}",
        ]);
        matches!(progress::output(get), Ok(out)
            if out.starts_with("True") && !out.contains("node.kubernetes.io/not-ready"))
    })?;
    step(
        "Ready",
        format!(
            "node {NODE_NAME} Ready and schedulable {} after the kubelet started",
            progress::human(started.elapsed())
        ),
    );
    Ok(())
}

/// Gives the Node the addresses kube-apiserver dials for logs, exec and
/// port-forward: InternalIP 127.0.0.1 and its name. The kubelet rejects a
/// loopback node IP and then leaves the addresses alone, so they stay.
fn set_node_addresses() -> Result<()> {
    let patch = format!(
        r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}},{{"type":"Hostname","address":"{NODE_NAME}"}}]}}}}"#
    );
    let mut cmd = kubectl();
    cmd.args([
        "patch",
        "node",
        NODE_NAME,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
    progress::output(cmd).context("failed to set the node's address to 127.0.0.1")?;
    Ok(())
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// containerd's configuration: every path below `root`, the CRI plugin on
/// a Unix socket only, runc and the CNI plugins we built.
fn containerd_config(root: &Path, socket: &Path, runc: &Path, cni_conf: &Path) -> String {
    let root_dir = root.display();
    let socket = socket.display();
    let cni_bin = binaries::binary("bridge")
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let cni_conf = cni_conf.display();
    let runc = runc.display();
    format!(
        r#"# Generated by cargo xtask cluster up: the local node's containerd.
version = 3
root = "{root_dir}/root"
state = "{root_dir}/state"

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "{root_dir}/opt"

# NRI would listen on a socket outside target/; nothing here uses it.
[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{PAUSE_IMAGE}"
  # Every registry is 127.0.0.1:1, where nothing listens: an image that is
  # not on the node fails to pull at once, and no pull leaves the machine.
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "{root_dir}/registries"

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # The VM may not lower oom_score_adj (no CAP_SYS_RESOURCE): without this
  # every sandbox fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{cni_bin}"]
    conf_dir = "{cni_conf}"
    max_conf_num = 1
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        Root = "{root_dir}/runc"
        SystemdCgroup = false
"#
    )
}

/// A bridge with host-local addresses: each Pod gets its own network
/// namespace and an address on [`pod_subnet`], reachable from the host
/// through the bridge. No masquerading: Pods reach nothing beyond the node.
fn cni_conflist(ipam_dir: &Path) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "primary-all",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge(),
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": ipam_dir.display().to_string(),
                    "ranges": [[{"subnet": pod_subnet()}]],
                },
            },
            {"type": "loopback"},
        ],
    }))
    .expect("a JSON literal serialises")
}

/// The kubelet's configuration: serving on loopback with the cluster CA,
/// no anonymous access, cgroupfs below [`cgroup_root`], and neither image
/// garbage collection nor eviction at disk levels a laptop reaches (the
/// node's images cannot be pulled again).
fn kubelet_config(state: &State, pki: &Pki, kubelet_dir: &Path) -> String {
    let file = |f: &str| pki.path(f).display().to_string();
    let (ca, cert, key) = (
        file("ca.crt"),
        file("kubelet-serving.crt"),
        file("kubelet-serving.key"),
    );
    let socket = containerd_socket().display().to_string();
    let logs = kubelet_dir.join("pod-logs").display().to_string();
    let plugins = kubelet_dir.join("volume-plugins").display().to_string();
    format!(
        "# Generated by cargo xtask cluster up: the local node's kubelet.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz}
tlsCertFile: {cert}
tlsPrivateKeyFile: {key}
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://{socket}
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup_root}
# kubelet >= 1.35 refuses cgroup v1 by default; this machine has it.
failCgroupV1: false
failSwapOn: false
podLogsDir: {logs}
volumePluginDir: {plugins}
clusterDomain: cluster.local
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
",
        port = state.kubelet_port,
        cgroup_root = cgroup_root(),
        healthz = state.kubelet_healthz_port,
    )
}

/// Creates [`cgroup_root`] in every cgroup v1 hierarchy (cpuset with its
/// parent's CPUs and memory nodes), or below the unified hierarchy on a
/// cgroup v2 machine. The cgroup mounts themselves are never touched.
fn create_cgroups() -> Result<()> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").is_file() {
        let dir = base.join(cgroup_root());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        let controllers = std::fs::read_to_string(base.join("cgroup.controllers"))?;
        let enable: Vec<String> = controllers
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), enable.join(" "));
        return Ok(());
    }
    for hierarchy in CGROUP_V1_HIERARCHIES {
        let parent = base.join(hierarchy);
        if !parent.is_dir() {
            continue;
        }
        let dir = parent.join(cgroup_root());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        if hierarchy == "cpuset" {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let value = std::fs::read_to_string(parent.join(file))?;
                std::fs::write(dir.join(file), value.trim())
                    .with_context(|| format!("failed to write {}/{file}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Every cgroup directory of the node, deepest first.
fn node_cgroups() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&entry.path(), out);
                }
            }
        }
        out.push(dir.to_path_buf());
    }
    let base = Path::new("/sys/fs/cgroup");
    let mut roots: Vec<PathBuf> = CGROUP_V1_HIERARCHIES
        .iter()
        .map(|h| base.join(h).join(cgroup_root()))
        .collect();
    roots.push(base.join(cgroup_root()));
    roots.push(base.join("unified").join(cgroup_root()));
    let mut all = Vec::new();
    for root in roots.iter().filter(|r| r.is_dir()) {
        walk(root, &mut all);
    }
    all
}

/// The pids of every process in the node's cgroups: whatever a container
/// left running.
fn node_processes() -> Vec<i32> {
    let mut pids: Vec<i32> = node_cgroups()
        .iter()
        .filter_map(|dir| std::fs::read_to_string(dir.join("cgroup.procs")).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The pids of the runc shims that our containerd started: the shim
/// binary from our cache, with our socket as its `-address`.
fn our_shims() -> Vec<i32> {
    let shim = binaries::binary("containerd-shim-runc-v2");
    let socket = containerd_socket().display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            exe.as_deref() == Some(shim.as_path()) && args.contains(&socket.as_bytes())
        })
        .collect()
}

/// Mount points at or below `dir`, deepest first, from /proc/self/mountinfo.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount_path(field)))
        .filter(|p| p.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    mounts.dedup();
    mounts
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|b| (b'0'..=b'7').contains(b))
                && let Ok(code) = u8::from_str_radix(&field[i + 1..i + 4], 8)
            {
                out.push(code);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether there is anything of a node to tear down.
pub fn is_present() -> bool {
    dir().exists()
        || component("kubelet").pid().is_some()
        || component("containerd").pid().is_some()
        || !node_cgroups().is_empty()
        || Path::new("/sys/class/net").join(bridge()).exists()
}

/// Deletes every Pod while the kubelet still runs, so that it stops each
/// sandbox the way it started it (CNI DEL, namespaces, mounts, cgroups),
/// and waits until containerd runs no container. The controllers that
/// would make new Pods must be stopped already.
pub fn drain() -> Result<()> {
    if component("kubelet").pid().is_none() || component("containerd").pid().is_none() {
        return Ok(());
    }
    step("Draining", format!("node {NODE_NAME}: deleting every Pod"));
    let mut delete = kubectl();
    delete.args([
        "delete",
        "pods",
        "--all",
        "--all-namespaces",
        "--grace-period=2",
        "--wait=false",
        "--request-timeout=10s",
    ]);
    if let Err(err) = progress::output(delete) {
        eprintln!("             (could not delete the Pods through the API: {err:#})");
        return Ok(());
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if running_tasks().is_some_and(|tasks| tasks.is_empty()) {
            step(
                "Drained",
                format!(
                    "node {NODE_NAME}: no container runs ({})",
                    progress::human(started.elapsed())
                ),
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("             (containers still run after 60s; they are killed below)");
    Ok(())
}

/// The ids of containerd's running tasks, or `None` when it does not answer.
fn running_tasks() -> Option<Vec<String>> {
    let mut list = ctr();
    list.args(["tasks", "list", "--quiet"]);
    let out = progress::output(list).ok()?;
    Some(
        out.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Stops the kubelet, containerd and every shim by pid, kills what is left
/// in the node's cgroups, and removes the mounts, the bridge, the cgroups,
/// the log links and the node's state. Safe to run on a node that is half
/// there, or not there at all.
///
/// # Errors
///
/// When a process does not stop or a mount below the node's directory
/// stays, because removing its files would then reach into whatever is
/// mounted there.
pub fn teardown() -> Result<Vec<String>> {
    let mut stopped = Vec::new();
    let kubelet = component("kubelet");
    if kubelet.pid().is_some() {
        stopped.push("kubelet".to_string());
    }
    kubelet.stop(Duration::from_secs(15))?;

    // What the drain did not stop: killed through containerd, which
    // then removes their shims' state.
    if let Some(tasks) = running_tasks() {
        for task in tasks {
            let mut stop = ctr();
            stop.args(["tasks", "kill", "--signal", "SIGKILL", &task]);
            let _ = progress::output(stop);
            let mut remove = ctr();
            remove.args(["tasks", "delete", "--force", &task]);
            let _ = progress::output(remove);
        }
    }
    let containerd = component("containerd");
    if containerd.pid().is_some() {
        stopped.push("containerd".to_string());
    }
    containerd.stop(Duration::from_secs(15))?;

    let shims = our_shims();
    if !shims.is_empty() {
        stopped.push(format!("{} shim(s)", shims.len()));
    }
    for pid in shims.into_iter().chain(node_processes()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while (!our_shims().is_empty() || !node_processes().is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(pid) = our_shims().first() {
        bail!("containerd-shim-runc-v2 (pid {pid}) did not stop");
    }

    let node_dir = dir();
    for mount in mounts_below(&node_dir) {
        let _ = nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH);
    }
    if let Some(mount) = mounts_below(&node_dir).first() {
        bail!(
            "{} is still mounted; unmount it before `cargo xtask cluster down` removes {}",
            mount.display(),
            node_dir.display()
        );
    }

    let bridge = bridge();
    if Path::new("/sys/class/net").join(&bridge).exists() {
        let mut delete = Command::new("ip");
        delete.args(["link", "delete", &bridge]);
        progress::output(delete)
            .with_context(|| format!("failed to delete the {bridge} bridge"))?;
    }

    // A cgroup can be removed once the kernel has let go of its last task.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for cgroup in node_cgroups() {
            let _ = std::fs::remove_dir(&cgroup);
        }
        let left = node_cgroups();
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("failed to remove the cgroup {}", left[0].display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    remove_log_links(&node_dir);
    if node_dir.exists() {
        std::fs::remove_dir_all(&node_dir)
            .with_context(|| format!("failed to remove {}", node_dir.display()))?;
    }
    Ok(stopped)
}

/// Removes the links in `/var/log/containers` that point below `node_dir`.
fn remove_log_links(node_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(CONTAINER_LOG_LINKS) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if std::fs::read_link(&path).is_ok_and(|target| target.starts_with(node_dir)) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests name the idle image in their own crate; it must be the
    /// one that `up` imports.
    #[test]
    fn the_tests_use_the_image_the_node_has() {
        let fixtures = std::fs::read_to_string(
            paths::workspace_root().join("tests/kube-test-utils/src/fixtures.rs"),
        )
        .unwrap();
        assert!(
            fixtures.contains(&format!("pub const IDLE_IMAGE: &str = \"{IDLE_IMAGE}\";")),
            "tests/kube-test-utils/src/fixtures.rs does not name {IDLE_IMAGE}"
        );
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape_mount_path("/plain/path"), "/plain/path");
        assert_eq!(unescape_mount_path(r"/end\"), r"/end\");
    }

    #[test]
    fn the_pod_network_is_a_bridge_with_its_own_subnet() {
        let conflist: serde_json::Value =
            serde_json::from_str(&cni_conflist(Path::new("/tmp/ipam"))).unwrap();
        let bridge = &conflist["plugins"][0];
        assert_eq!(bridge["type"], "bridge");
        assert_eq!(bridge["bridge"], super::bridge());
        // A Linux interface name has room for 15 bytes.
        assert!(super::bridge().len() <= 15);
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], pod_subnet());
        assert_eq!(conflist["plugins"][1]["type"], "loopback");
    }

    #[test]
    fn containerd_pins_our_sandbox_image_and_keeps_oom_scores() {
        let config = containerd_config(
            Path::new("/x/containerd"),
            Path::new("/x/containerd/containerd.sock"),
            Path::new("/usr/sbin/runc"),
            Path::new("/x/cni/net.d"),
        );
        assert!(config.contains(&format!("sandbox = \"{PAUSE_IMAGE}\"")));
        assert!(config.contains("restrict_oom_score_adj = true"));
        assert!(config.contains("netns_mounts_under_state_dir = true"));
        assert!(config.contains("disable_tcp_service = true"));
        assert!(config.contains("config_path = \"/x/containerd/registries\""));
        assert!(config.contains("stream_server_address = \"127.0.0.1\""));
    }
}
