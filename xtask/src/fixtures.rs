//! Fixtures from the world outside: CRD sets that real operators ship,
//! taken from their Go modules at the versions `tests/control-plane/crds/`
//! pins, so that the cluster tests are not only checked against CRDs we
//! wrote.
//!
//! `go mod download` fetches a module once into the per-user Go module
//! cache and checks it against `go.sum`; every later run, in any clone,
//! finds it there.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::paths;
use crate::progress::{self, step};

/// A Go module and the folder in it that holds the CRDs.
#[derive(Debug, Clone, Copy)]
pub struct CrdSet {
    /// The module path, as `tests/control-plane/crds/go.mod` requires it.
    pub module: &'static str,
    /// The folder of CRD manifests inside the module.
    pub folder: &'static str,
    /// The environment variable that tells the cluster tests where it is.
    pub env: &'static str,
}

/// The Prometheus Operator's CRDs: `monitoring.coreos.com`, which serves
/// some kinds in v1 and others (AlertmanagerConfig, PrometheusAgent,
/// ScrapeConfig) in v1alpha1 only.
pub const PROMETHEUS_OPERATOR: CrdSet = CrdSet {
    module: "github.com/prometheus-operator/prometheus-operator",
    folder: "example/prometheus-operator-crd",
    env: "PRIMARY_ALL_PROMETHEUS_OPERATOR_CRDS",
};

/// Every CRD set the tests apply.
pub const CRD_SETS: [CrdSet; 1] = [PROMETHEUS_OPERATOR];

impl CrdSet {
    /// The folder of CRDs, downloading the module first when the Go module
    /// cache does not have it.
    pub fn ensure(&self) -> Result<PathBuf> {
        let pins = paths::workspace_root().join("tests/control-plane/crds");
        let mut cmd = Command::new("go");
        cmd.current_dir(&pins)
            .args(["mod", "download", "-json", self.module]);
        step(
            "Fetching",
            format!(
                "{} (pinned in tests/control-plane/crds/go.mod)",
                self.module
            ),
        );
        let json = progress::output(cmd).with_context(|| {
            format!("failed to download {} with `go mod download`", self.module)
        })?;
        let download: serde_json::Value =
            serde_json::from_str(&json).context("`go mod download -json` printed no JSON")?;
        let dir = download["Dir"]
            .as_str()
            .with_context(|| format!("`go mod download` gave no folder for {}", self.module))?;
        let folder = PathBuf::from(dir).join(self.folder);
        anyhow::ensure!(
            folder.is_dir(),
            "{} has no folder {}",
            self.module,
            self.folder
        );
        Ok(folder)
    }
}
