//! A kind cluster, for laptops with a Docker engine.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::paths;
use crate::progress::{self, step};

/// The name of the kind cluster primary-all creates and reuses.
pub const CLUSTER: &str = "primary-all";

/// Where the kind cluster's kubeconfig is written.
pub fn kubeconfig() -> PathBuf {
    paths::workspace_root()
        .join("target")
        .join("kind")
        .join("kubeconfig")
}

/// Why kind cannot run here, if it cannot: kind needs its binary and a
/// running Docker engine.
pub fn unavailable_reason() -> Option<String> {
    if Command::new("kind").arg("version").output().is_err() {
        return Some(
            "`kind` is not on PATH (see https://kind.sigs.k8s.io); \
             `cargo xtask cluster up` runs a local control plane without it"
                .to_string(),
        );
    }
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "kind needs a running Docker engine, and `docker info` failed: {}; \
             `cargo xtask cluster up` runs a local control plane without one",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(_) => Some(
            "kind needs a Docker engine, and `docker` is not on PATH; \
             `cargo xtask cluster up` runs a local control plane without one"
                .to_string(),
        ),
    }
}

/// Creates the kind cluster, or reuses it, and writes its kubeconfig.
pub fn up() -> Result<()> {
    if let Some(reason) = unavailable_reason() {
        bail!("cannot start a kind cluster: {reason}");
    }
    let path = kubeconfig();
    std::fs::create_dir_all(path.parent().expect("kubeconfig has a parent"))?;
    let existing = progress::output({
        let mut cmd = Command::new("kind");
        cmd.args(["get", "clusters"]);
        cmd
    })?;
    if existing.lines().any(|line| line.trim() == CLUSTER) {
        step("Reusing", format!("kind cluster {CLUSTER}"));
        let mut cmd = Command::new("kind");
        cmd.args(["export", "kubeconfig", "--name", CLUSTER, "--kubeconfig"])
            .arg(&path);
        progress::run(cmd)?;
    } else {
        step(
            "Creating",
            format!("kind cluster {CLUSTER} (a minute or two)"),
        );
        let mut cmd = Command::new("kind");
        cmd.args([
            "create",
            "cluster",
            "--name",
            CLUSTER,
            "--wait",
            "120s",
            "--kubeconfig",
        ])
        .arg(&path);
        progress::run(cmd)?;
    }
    step(
        "Ready",
        format!("kind cluster; export KUBECONFIG={}", path.display()),
    );
    Ok(())
}

/// Deletes the kind cluster.
pub fn down() -> Result<()> {
    if let Some(reason) = unavailable_reason() {
        bail!("cannot delete a kind cluster: {reason}");
    }
    let mut cmd = Command::new("kind");
    cmd.args(["delete", "cluster", "--name", CLUSTER]);
    progress::run(cmd)
}
