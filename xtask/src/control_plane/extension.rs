//! Registering primary-all's extension server with the local control plane
//! as a host process: the fault tests kill, stop and restart it in ways a
//! Pod cannot be, and the benchmark measures it beside kube-apiserver. (The
//! suites otherwise run against the server installed as Pods, see
//! [`crate::install`].)
//!
//! The process listens on every address; the APIService points at a
//! Service of its own, `primary-all-host`, without a selector, whose
//! EndpointSlice names the process at the node's bridge address.
//! kube-apiserver routes to an APIService by EndpointSlice here
//! (`--enable-aggregator-routing`), and an EndpointSlice may not name a
//! loopback address.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::pki::{self, Pki};
use super::{State, component, kubeconfig, kubectl};
use crate::paths;
use crate::progress::{self, step};

/// The manifests of `extension-server/deploy/` that a local cluster uses
/// as they are; the Deployment, Service and APIService are replaced by a
/// process on loopback and the generated manifest below.
pub const SHARED_MANIFESTS: [&str; 4] = [
    "namespace.yaml",
    "rbac.yaml",
    "viewer-clusterrole.yaml",
    "relationship-rules.yaml",
];

/// Builds the server, starts it, and registers its APIService; returns when
/// kube-apiserver reports the APIService Available.
pub fn register(state: &State, pki: &Pki) -> Result<()> {
    let binary = build()?;
    super::node::ensure_bridge()?;
    let deploy = paths::workspace_root().join("extension-server/deploy");
    step(
        "Applying",
        "extension-server RBAC and relationship rules (extension-server/deploy/)",
    );
    for manifest in SHARED_MANIFESTS {
        apply(&deploy.join(manifest))?;
    }

    let server_kubeconfig = paths::control_plane_dir().join("extension-server.kubeconfig");
    kubeconfig::write(
        &server_kubeconfig,
        &kubeconfig::render(
            &state.server(),
            pki,
            pki::EXTENSION_SERVER_USER,
            "extension-client",
        )?,
    )?;
    start(state, pki, &binary, None)?;
    point_at_host_process(state, pki)
}

/// Points the APIService at the host process (which must be running) and
/// waits until kube-apiserver reports it Available.
pub fn point_at_host_process(state: &State, pki: &Pki) -> Result<()> {
    let apiservice = paths::control_plane_dir().join("extension-apiservice.yaml");
    std::fs::write(&apiservice, host_registration(state.extension_port, pki)?)?;
    step(
        "Pointing",
        format!(
            "APIService v1.primary-all at the host process ({})",
            host_address(state)
        ),
    );
    apply(&apiservice)?;
    let took = component("extension-server").wait_until(Duration::from_secs(60), is_available)?;
    step(
        "Ready",
        format!(
            "APIService v1.primary-all Available after {}",
            progress::human(took)
        ),
    );
    Ok(())
}

/// Where the host process answers: the node's bridge address (what
/// kube-apiserver dials) and the port. It listens on loopback too.
pub fn host_address(state: &State) -> String {
    format!("{}:{}", super::node::pod_gateway(), state.extension_port)
}

/// Starts the server process with `strategy` (the server's default when
/// `None`), with the identity of its ServiceAccount.
pub fn start(state: &State, pki: &Pki, binary: &Path, strategy: Option<&str>) -> Result<()> {
    let server_kubeconfig = paths::control_plane_dir().join("extension-server.kubeconfig");
    let mut cmd = Command::new(binary);
    cmd.env("KUBECONFIG", &server_kubeconfig)
        .env(
            "RUST_LOG",
            std::env::var("PRIMARY_ALL_SERVER_LOG")
                .unwrap_or_else(|_| "extension_server=debug,tower_http=info,kube=warn".to_string()),
        )
        .arg(format!("--bind-address=0.0.0.0:{}", state.extension_port))
        .arg(format!(
            "--tls-cert-file={}",
            pki.path("extension-serving.crt").display()
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            pki.path("extension-serving.key").display()
        ))
        .args(strategy.map(|s| format!("--strategy={s}")));
    step(
        "Starting",
        format!(
            "extension-server on 0.0.0.0:{} (strategy {})",
            state.extension_port,
            strategy.unwrap_or("default")
        ),
    );
    component("extension-server").start(cmd)?;
    Ok(())
}

/// Waits until the server answers: its own `/readyz` (request-header CA,
/// discovery and watches loaded) and a request through kube-apiserver, and
/// kube-apiserver reports the APIService Available. After a restart the
/// Available condition may still be the old one, hence all three.
///
/// # Errors
///
/// When the server exits or is not ready within 60 seconds.
pub fn wait_ready(state: &State, pki: &Pki) -> Result<()> {
    let took = component("extension-server").wait_until(Duration::from_secs(60), || {
        let mut readyz = kubectl();
        readyz
            .arg(format!(
                "--server=https://127.0.0.1:{}",
                state.extension_port
            ))
            .arg(format!(
                "--certificate-authority={}",
                pki.path("extension-ca.crt").display()
            ))
            .args(["get", "--raw", "/readyz", "--request-timeout=2s"]);
        let mut through = kubectl();
        through.args([
            "get",
            "--raw",
            "/apis/primary-all/v1",
            "--request-timeout=2s",
        ]);
        matches!(progress::output(readyz), Ok(body) if body.trim() == "ok")
            && progress::output(through).is_ok()
            && is_available()
    })?;
    step(
        "Ready",
        format!(
            "extension-server ready and APIService v1.primary-all Available after {}",
            progress::human(took)
        ),
    );
    Ok(())
}

/// Stops the running server and starts it again with `strategy`.
pub fn restart(strategy: &str) -> Result<()> {
    let state = State::load().context("the control plane is not up")?;
    let pki = Pki::at(paths::control_plane_dir().join("pki"));
    component("extension-server").stop(Duration::from_secs(30))?;
    start(&state, &pki, &binary_path(), Some(strategy))
}

/// Where `cargo build -p extension-server` puts the server.
pub fn binary_path() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| paths::workspace_root().join("target"));
    target.join("debug").join("extension-server")
}

/// `cargo build -p extension-server`, so that `up` always runs the server
/// built from this checkout.
fn build() -> Result<std::path::PathBuf> {
    step("Building", "extension-server");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(paths::workspace_root()).args([
        "build",
        "--quiet",
        "--locked",
        "--package",
        "extension-server",
    ]);
    progress::run(cmd)?;
    Ok(binary_path())
}

fn apply(manifest: &Path) -> Result<()> {
    let mut cmd = kubectl();
    cmd.args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(manifest);
    progress::output(cmd).with_context(|| format!("failed to apply {}", manifest.display()))?;
    Ok(())
}

/// Whether kube-apiserver has marked the APIService Available, which needs
/// the server's `GET /apis/primary-all/v1` to answer.
pub fn is_available() -> bool {
    let mut cmd = kubectl();
    cmd.args([
        "get",
        "apiservice",
        "v1.primary-all",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
    ]);
    matches!(progress::output(cmd), Ok(status) if status.trim() == "True")
}

/// The Service, EndpointSlice and APIService for the host process.
fn host_registration(port: u16, pki: &Pki) -> Result<String> {
    let ca =
        std::fs::read(pki.path("extension-ca.crt")).context("failed to read the serving CA")?;
    let ca_bundle = STANDARD.encode(ca);
    let gateway = super::node::pod_gateway();
    Ok(format!(
        "# Generated by cargo xtask: the extension server as a host process.
apiVersion: v1
kind: Service
metadata:
  name: primary-all-host
  namespace: primary-all
spec:
  ports:
    - name: https
      port: 443
      targetPort: {port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: primary-all-host
  namespace: primary-all
  labels:
    kubernetes.io/service-name: primary-all-host
    endpointslice.kubernetes.io/managed-by: xtask.primary-all
addressType: IPv4
endpoints:
  - addresses: [\"{gateway}\"]
    conditions:
      ready: true
ports:
  - name: https
    port: {port}
    protocol: TCP
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.primary-all
spec:
  group: primary-all
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service:
    name: primary-all-host
    namespace: primary-all
    port: 443
  caBundle: {ca_bundle}
"
    ))
}
