//! The local cluster: etcd, kube-apiserver, kube-controller-manager and
//! kube-scheduler on loopback, with generated certificates, one node
//! (containerd and a kubelet, see [`node`]), and primary-all's extension
//! server.
//!
//! `up` is idempotent and returns when the Node is Ready; `down` leaves no
//! process, mount, cgroup, bridge or network namespace behind; a failed
//! start prints the tail of the failing component's log and stops what it
//! started.

pub mod binaries;
pub mod extension;
pub mod image;
pub mod kubeconfig;
pub mod node;
pub mod pki;
pub mod process;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::paths;
use crate::progress::{self, step};
use pki::Pki;
use process::Managed;

/// The components that `up` starts, in start order (`down` stops them in
/// reverse, draining the node first).
pub const STARTED: [&str; 7] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "extension-server",
];

/// A component that `cluster stop|start|restart` acts on, named as its log
/// and pid files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Component {
    /// etcd (its data survives a stop).
    Etcd,
    /// kube-apiserver.
    KubeApiserver,
    /// kube-controller-manager.
    KubeControllerManager,
    /// kube-scheduler.
    KubeScheduler,
    /// containerd (its containers survive a stop; their shims keep them).
    Containerd,
    /// The kubelet (its Pods keep running while it is stopped).
    Kubelet,
    /// primary-all's extension server.
    ExtensionServer,
}

impl Component {
    /// The name of its process, log and pid files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::KubeApiserver => "kube-apiserver",
            Self::KubeControllerManager => "kube-controller-manager",
            Self::KubeScheduler => "kube-scheduler",
            Self::Containerd => "containerd",
            Self::Kubelet => "kubelet",
            Self::ExtensionServer => "extension-server",
        }
    }
}

/// What `up` chose and `status`/`down` need: written to `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// etcd's client port.
    pub etcd_port: u16,
    /// etcd's peer port.
    pub etcd_peer_port: u16,
    /// kube-apiserver's secure port.
    pub apiserver_port: u16,
    /// The extension server's HTTPS port.
    pub extension_port: u16,
    /// kube-scheduler's HTTPS port (health only).
    pub scheduler_port: u16,
    /// The kubelet's HTTPS port (logs, exec, port-forward).
    pub kubelet_port: u16,
    /// The kubelet's plain-HTTP health port.
    pub kubelet_healthz_port: u16,
}

impl State {
    /// The API server's URL.
    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.apiserver_port)
    }

    fn path() -> PathBuf {
        paths::control_plane_dir().join("state.json")
    }

    /// The state of the last `up`, if there is one.
    pub fn load() -> Option<Self> {
        let text = std::fs::read_to_string(Self::path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self) -> Result<()> {
        std::fs::write(Self::path(), serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
}

/// One managed component by name.
pub fn component(name: &str) -> Managed {
    Managed::new(&paths::control_plane_dir(), name)
}

/// `kubectl` from the cache, pointed at the local cluster's admin kubeconfig.
pub fn kubectl() -> Command {
    let mut cmd = Command::new(binaries::binary("kubectl"));
    cmd.arg("--kubeconfig").arg(paths::kubeconfig());
    cmd
}

/// Whether kube-apiserver answers `/readyz` with `ok`.
pub fn is_ready() -> bool {
    let mut cmd = kubectl();
    cmd.args(["get", "--raw", "/readyz", "--request-timeout=2s"]);
    matches!(progress::output(cmd), Ok(body) if body.trim() == "ok")
}

/// Boots the control plane, or does nothing when it is already up.
pub fn up() -> Result<()> {
    binaries::ensure_built()?;
    if State::load().is_some() && STARTED.iter().all(|c| component(c).pid().is_some()) && is_ready()
    {
        step(
            "Running",
            format!(
                "control plane is already up; {}",
                paths::kubeconfig().display()
            ),
        );
        return Ok(());
    }
    // Half a cluster (a crash, a reboot) is cleaned away and started afresh.
    down_quietly()?;
    let started = Instant::now();
    if let Err(err) = boot() {
        let _ = down_quietly();
        return Err(err);
    }
    step(
        "Ready",
        format!(
            "control plane in {}; export KUBECONFIG={}",
            progress::human(started.elapsed()),
            paths::kubeconfig().display()
        ),
    );
    Ok(())
}

fn boot() -> Result<()> {
    let dir = paths::control_plane_dir();
    std::fs::create_dir_all(&dir)?;
    let state = State {
        etcd_port: process::free_port()?,
        etcd_peer_port: process::free_port()?,
        apiserver_port: process::free_port()?,
        extension_port: process::free_port()?,
        scheduler_port: process::free_port()?,
        kubelet_port: process::free_port()?,
        kubelet_healthz_port: process::free_port()?,
    };
    state.save()?;

    step(
        "Generating",
        "certificates (cluster CA, front-proxy CA, node, service-account key)",
    );
    let pki = Pki::at(dir.join("pki"));
    pki.generate()?;
    kubeconfig::write(
        &paths::kubeconfig(),
        &kubeconfig::render(&state.server(), &pki, "admin", "admin")?,
    )?;
    let kcm_kubeconfig = dir.join("controller-manager.kubeconfig");
    kubeconfig::write(
        &kcm_kubeconfig,
        &kubeconfig::render(
            &state.server(),
            &pki,
            "system:kube-controller-manager",
            "controller-manager",
        )?,
    )?;

    kubeconfig::write(
        &scheduler_kubeconfig(),
        &kubeconfig::render(&state.server(), &pki, "system:kube-scheduler", "scheduler")?,
    )?;

    start_etcd(&state)?;
    start_apiserver(&state, &pki)?;
    start_controller_manager(&pki, &kcm_kubeconfig)?;
    start_scheduler(&state, &pki)?;
    node::start(&state, &pki)?;
    extension::register(&state, &pki)?;
    Ok(())
}

fn scheduler_kubeconfig() -> PathBuf {
    paths::control_plane_dir().join("scheduler.kubeconfig")
}

fn start_etcd(state: &State) -> Result<()> {
    let data = paths::control_plane_dir().join("etcd-data");
    let peer = format!("http://127.0.0.1:{}", state.etcd_peer_port);
    let client = format!("http://127.0.0.1:{}", state.etcd_port);
    let mut cmd = Command::new(binaries::binary("etcd"));
    cmd.arg("--name=primary-all")
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=primary-all={peer}"))
        .arg("--unsafe-no-fsync=true")
        .arg("--log-level=warn");
    let etcd = component("etcd");
    step("Starting", format!("etcd on 127.0.0.1:{}", state.etcd_port));
    etcd.start(cmd)?;
    etcd.wait_until(Duration::from_secs(30), || {
        process::http_get(state.etcd_port, "/health")
            .is_some_and(|r| r.contains("\"health\":\"true\""))
    })?;
    Ok(())
}

fn start_apiserver(state: &State, pki: &Pki) -> Result<()> {
    let file = |f: &str| pki.path(f).display().to_string();
    let mut cmd = Command::new(binaries::binary("kube-apiserver"));
    cmd.arg(format!(
        "--etcd-servers=http://127.0.0.1:{}",
        state.etcd_port
    ))
    .arg(format!("--secure-port={}", state.apiserver_port))
    // Every address, so that Pods reach it at the bridge's address (there is
    // no kube-proxy to carry them to the `kubernetes` Service's ClusterIP).
    .arg("--bind-address=0.0.0.0")
    .arg("--advertise-address=127.0.0.1")
    // The `kubernetes` Service's endpoints may not be a loopback address,
    // and nothing here reaches the API server through that Service.
    .arg("--endpoint-reconciler-type=none")
    // Proxy to an APIService's Service by its EndpointSlices (a Pod's
    // address), not its ClusterIP, which only kube-proxy would make lead
    // anywhere.
    .arg("--enable-aggregator-routing=true")
    .arg(format!("--tls-cert-file={}", file("apiserver.crt")))
    .arg(format!("--tls-private-key-file={}", file("apiserver.key")))
    .arg(format!("--client-ca-file={}", file("ca.crt")))
    // The Node authorizer gives each kubelet what its own Pods need, and
    // NodeRestriction keeps it to its own Node.
    .arg("--authorization-mode=Node,RBAC")
    .arg("--enable-admission-plugins=NodeRestriction")
    // Logs, exec and port-forward: kube-apiserver calls the kubelet with
    // its own client certificate, checks the kubelet's serving certificate,
    // and dials the Node's InternalIP (127.0.0.1), never a host name.
    .arg(format!(
        "--kubelet-client-certificate={}",
        file("apiserver-kubelet-client.crt")
    ))
    .arg(format!(
        "--kubelet-client-key={}",
        file("apiserver-kubelet-client.key")
    ))
    .arg(format!(
        "--kubelet-certificate-authority={}",
        file("ca.crt")
    ))
    .arg("--kubelet-preferred-address-types=InternalIP,Hostname")
    .arg("--service-cluster-ip-range=10.0.0.0/24")
    .arg("--service-account-issuer=https://kubernetes.default.svc")
    .arg(format!("--service-account-key-file={}", file("sa.pub")))
    .arg(format!(
        "--service-account-signing-key-file={}",
        file("sa.key")
    ))
    .arg("--allow-privileged=true")
    // The aggregation layer: kube-apiserver proxies to extension servers
    // with the front-proxy client certificate and X-Remote-* headers.
    .arg(format!(
        "--requestheader-client-ca-file={}",
        file("front-proxy-ca.crt")
    ))
    .arg(format!(
        "--requestheader-allowed-names={}",
        pki::FRONT_PROXY_CLIENT_CN
    ))
    .arg("--requestheader-username-headers=X-Remote-User")
    .arg("--requestheader-uid-headers=X-Remote-Uid")
    .arg("--requestheader-group-headers=X-Remote-Group")
    .arg("--requestheader-extra-headers-prefix=X-Remote-Extra-")
    .arg(format!(
        "--proxy-client-cert-file={}",
        file("front-proxy-client.crt")
    ))
    .arg(format!(
        "--proxy-client-key-file={}",
        file("front-proxy-client.key")
    ));
    let apiserver = component("kube-apiserver");
    step(
        "Starting",
        format!("kube-apiserver on 127.0.0.1:{}", state.apiserver_port),
    );
    apiserver.start(cmd)?;
    let took = apiserver.wait_until(Duration::from_secs(90), is_ready)?;
    step(
        "Ready",
        format!("kube-apiserver /readyz ok after {}", progress::human(took)),
    );
    Ok(())
}

fn start_controller_manager(pki: &Pki, kubeconfig: &std::path::Path) -> Result<()> {
    // Every controller a cluster runs by default: node-lifecycle lifts the
    // not-ready taint, the Pod GC removes Pods of a gone node, the
    // clusterrole-aggregation controller fills in view/edit/admin, the
    // endpoint controllers feed Services. The cloud controllers skip
    // themselves without a cloud provider, and nodeipam without
    // --allocate-node-cidrs (the CNI's host-local hands out addresses).
    let controllers = ["*"];
    let mut cmd = Command::new(binaries::binary("kube-controller-manager"));
    cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg("--leader-elect=false")
        .arg("--secure-port=0")
        .arg(format!("--controllers={}", controllers.join(",")))
        // The CSR signer signs with the cluster CA, whose key is kept.
        .arg(format!(
            "--cluster-signing-cert-file={}",
            pki.path("ca.crt").display()
        ))
        .arg(format!(
            "--cluster-signing-key-file={}",
            pki.path("ca.key").display()
        ))
        .arg(format!(
            "--service-account-private-key-file={}",
            pki.path("sa.key").display()
        ))
        .arg(format!("--root-ca-file={}", pki.path("ca.crt").display()));
    let kcm = component("kube-controller-manager");
    step(
        "Starting",
        "kube-controller-manager (every default controller)",
    );
    kcm.start(cmd)?;
    // It has no health port here (--secure-port=0); it is ready when the
    // default namespace has the ServiceAccount its controller creates.
    kcm.wait_until(Duration::from_secs(60), || {
        let mut get = kubectl();
        get.args([
            "get",
            "serviceaccount",
            "default",
            "-n",
            "default",
            "-o",
            "name",
        ]);
        progress::output(get).is_ok()
    })?;
    Ok(())
}

fn start_scheduler(state: &State, pki: &Pki) -> Result<()> {
    let file = |f: &str| pki.path(f).display().to_string();
    let kubeconfig = scheduler_kubeconfig().display().to_string();
    let mut cmd = Command::new(binaries::binary("kube-scheduler"));
    cmd.arg(format!("--kubeconfig={kubeconfig}"))
        .arg(format!("--authentication-kubeconfig={kubeconfig}"))
        .arg(format!("--authorization-kubeconfig={kubeconfig}"))
        .arg("--leader-elect=false")
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={}", state.scheduler_port))
        .arg(format!("--tls-cert-file={}", file("scheduler-serving.crt")))
        .arg(format!(
            "--tls-private-key-file={}",
            file("scheduler-serving.key")
        ));
    let scheduler = component("kube-scheduler");
    step(
        "Starting",
        format!(
            "kube-scheduler (health on 127.0.0.1:{})",
            state.scheduler_port
        ),
    );
    scheduler.start(cmd)?;
    // Its /readyz says ok once its informers have synced.
    scheduler.wait_until(Duration::from_secs(60), || {
        let mut readyz = kubectl();
        readyz
            .arg(format!(
                "--server=https://127.0.0.1:{}",
                state.scheduler_port
            ))
            .args(["get", "--raw", "/readyz", "--request-timeout=2s"]);
        matches!(progress::output(readyz), Ok(body) if body.trim() == "ok")
    })?;
    Ok(())
}

/// Stops one component and leaves everything else as it is: a fault to
/// inject. SIGTERM with a grace period, or SIGKILL when `kill` is set.
///
/// # Errors
///
/// When the control plane is not up, or the process does not stop.
pub fn stop(which: Component, kill: bool) -> Result<()> {
    State::load().context("the control plane is not up: cargo xtask cluster up")?;
    let managed = component(which.name());
    let Some(pid) = managed.pid() else {
        step(
            "Stopped",
            format!("nothing: {} was not running", which.name()),
        );
        return Ok(());
    };
    if kill {
        step(
            "Killing",
            format!("{} (pid {pid}) with SIGKILL", which.name()),
        );
        managed.kill()?;
    } else {
        step("Stopping", format!("{} (pid {pid})", which.name()));
        managed.stop(Duration::from_secs(15))?;
    }
    step("Stopped", which.name());
    Ok(())
}

/// Starts one stopped component again, on the ports and with the
/// certificates of the last `up`, and waits until it is ready. The extension
/// server runs with `strategy`, or the server's default.
///
/// # Errors
///
/// When the control plane is not up, or the component does not get ready.
pub fn start(which: Component, strategy: Option<&str>) -> Result<()> {
    let state = State::load().context("the control plane is not up: cargo xtask cluster up")?;
    if let Some(pid) = component(which.name()).pid() {
        step(
            "Running",
            format!("{} is already running (pid {pid})", which.name()),
        );
        return Ok(());
    }
    let dir = paths::control_plane_dir();
    let pki = Pki::at(dir.join("pki"));
    match which {
        Component::Etcd => start_etcd(&state),
        Component::KubeApiserver => start_apiserver(&state, &pki),
        Component::KubeControllerManager => {
            start_controller_manager(&pki, &dir.join("controller-manager.kubeconfig"))
        }
        Component::KubeScheduler => start_scheduler(&state, &pki),
        Component::Containerd => node::start_containerd(),
        Component::Kubelet => node::start_kubelet(&state, &pki),
        Component::ExtensionServer => {
            extension::start(&state, &pki, &extension::binary_path(), strategy)?;
            extension::wait_ready(&state, &pki)
        }
    }
}

/// Stops one component and starts it again: [`stop`], then [`start`].
///
/// # Errors
///
/// As [`stop`] and [`start`].
pub fn restart(which: Component, kill: bool, strategy: Option<&str>) -> Result<()> {
    stop(which, kill)?;
    start(which, strategy)
}

/// Stops every component and removes the cluster's state (not its logs).
pub fn down() -> Result<()> {
    let stopped = down_quietly()?;
    if stopped.is_empty() {
        step("Stopped", "nothing: the control plane was not running");
    } else {
        step("Stopped", stopped.join(", "));
    }
    Ok(())
}

fn down_quietly() -> Result<Vec<String>> {
    let mut stopped = Vec::new();
    let mut stop = |name: &str| -> Result<()> {
        let managed = component(name);
        if managed.pid().is_some() {
            stopped.push(name.to_string());
        }
        managed.stop(Duration::from_secs(15))
    };
    // Nothing may make or place new Pods while the node drains.
    for name in [
        // The demo's operator, when it ran.
        "cert-manager",
        "extension-server",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        stop(name)?;
    }
    if node::is_present() {
        node::drain()?;
        let node_stopped = node::teardown()?;
        stopped.extend(node_stopped);
    }
    for name in STARTED.iter().rev() {
        let managed = component(name);
        if managed.pid().is_some() {
            stopped.push(name.to_string());
        }
        managed.stop(Duration::from_secs(15))?;
    }
    let dir = paths::control_plane_dir();
    for leftover in [
        "etcd-data",
        "pki",
        "pids",
        "state.json",
        "kubeconfig",
        "controller-manager.kubeconfig",
        "scheduler.kubeconfig",
        "extension-server.kubeconfig",
        "extension-apiservice.yaml",
    ] {
        let path = dir.join(leftover);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("failed to remove {}", path.display()))?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(stopped)
}

/// Prints what runs, and whether kube-apiserver is ready.
pub fn status() -> Result<()> {
    let Some(state) = State::load() else {
        println!("control plane: down");
        return Ok(());
    };
    for name in STARTED {
        match component(name).pid() {
            Some(pid) => println!("{name:<24} running (pid {pid})"),
            None => println!("{name:<24} stopped"),
        }
    }
    println!("{:<24} {}", "server", state.server());
    println!(
        "{:<24} https://127.0.0.1:{}",
        "extension server", state.extension_port
    );
    println!("{:<24} {}", "kubeconfig", paths::kubeconfig().display());
    let ready = is_ready();
    println!(
        "{:<24} {}",
        "readyz",
        if ready { "ok" } else { "not ready" }
    );
    let mut node_ready = kubectl();
    node_ready.args([
        "get",
        "node",
        node::NODE_NAME,
        "--request-timeout=2s",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    let node_ready = progress::output(node_ready).unwrap_or_default();
    println!(
        "{:<24} {}",
        format!("node {}", node::NODE_NAME),
        if node_ready.trim() == "True" {
            "Ready"
        } else {
            "not ready"
        }
    );
    if !ready {
        bail!("the control plane is not ready");
    }
    Ok(())
}
