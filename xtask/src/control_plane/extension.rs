//! Registering primary-all's extension server with the local control plane.
//!
//! The server runs on loopback as a process, with the RBAC of
//! `extension-server/deploy/` bound to its identity. The APIService points at
//! a Service of `type: ExternalName, externalName: localhost`, which
//! kube-apiserver's default (service) routing resolves to
//! `https://localhost:<port>`; endpoint routing would refuse it.

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

    let apiservice = paths::control_plane_dir().join("extension-apiservice.yaml");
    std::fs::write(&apiservice, local_registration(state.extension_port, pki)?)?;
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
        .arg(format!("--bind-address=127.0.0.1:{}", state.extension_port))
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
            "extension-server on 127.0.0.1:{} (strategy {})",
            state.extension_port,
            strategy.unwrap_or("default")
        ),
    );
    component("extension-server").start(cmd)?;
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

/// The Service and APIService for a server on loopback.
fn local_registration(port: u16, pki: &Pki) -> Result<String> {
    let ca =
        std::fs::read(pki.path("extension-ca.crt")).context("failed to read the serving CA")?;
    let ca_bundle = STANDARD.encode(ca);
    Ok(format!(
        "# Generated by cargo xtask cluster up: the extension server on loopback.
apiVersion: v1
kind: Service
metadata:
  name: primary-all
  namespace: primary-all
spec:
  type: ExternalName
  externalName: localhost
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
    name: primary-all
    namespace: primary-all
    port: {port}
  caBundle: {ca_bundle}
"
    ))
}
