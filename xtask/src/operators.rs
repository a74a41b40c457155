//! Operators that no one here wrote, built once per machine from the Go
//! module that pins them, for the cluster test that runs one against the
//! local cluster (`tests/operator.rs`).
//!
//! cert-manager is the one: its controller issues a self-signed
//! `Certificate` into a `Secret` through `CertificateRequest`s, so a
//! Certificate is a primary whose secondaries someone else's code made.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::paths;
use crate::progress::{self, step};

/// The cert-manager release that `tests/control-plane/cert-manager/go.mod`
/// pins.
pub const CERT_MANAGER_VERSION: &str = "v1.21.2";

/// The root module, which holds cert-manager's controllers and its CRDs.
const CERT_MANAGER_MODULE: &str = "github.com/cert-manager/cert-manager";

/// The plain CRD manifests in the root module, as controller-gen writes
/// them. The Helm chart's copies (`deploy/charts/cert-manager/templates/
/// crd-*.yaml`) are the same CRDs wrapped in template directives, which no
/// client can apply as they are.
const CERT_MANAGER_CRDS: &str = "deploy/crds";

/// The environment variable that tells the cluster test where the
/// controller binary is.
pub const CERT_MANAGER_CONTROLLER_ENV: &str = "PRIMARY_ALL_CERT_MANAGER_CONTROLLER";

/// The environment variable that tells the cluster test where the CRDs are.
pub const CERT_MANAGER_CRDS_ENV: &str = "PRIMARY_ALL_CERT_MANAGER_CRDS";

/// The folder of the Go module that pins cert-manager and holds our `main`.
fn module_dir() -> PathBuf {
    paths::workspace_root().join("tests/control-plane/cert-manager")
}

/// The directory that holds the controller binary. It is keyed by the
/// release and by the content of our wiring (`main.go`, `go.mod`,
/// `go.sum`), so that changing either builds afresh instead of reusing a
/// stale binary.
pub fn cert_manager_bin_dir() -> PathBuf {
    paths::user_cache_dir()
        .join("operators")
        .join(format!(
            "cert-manager-{CERT_MANAGER_VERSION}_main-{}",
            source_digest()
        ))
        .join("bin")
}

fn source_digest() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for file in ["go.mod", "go.sum", "main.go"] {
        hasher.update(std::fs::read(module_dir().join(file)).unwrap_or_default());
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds cert-manager's controller when the cache does not have it yet,
/// finds its CRDs in the Go module cache, and returns both as the
/// environment the cluster test reads.
///
/// # Errors
///
/// When `go` is missing, the module cannot be downloaded, or the build
/// fails.
pub fn ensure_cert_manager() -> Result<Vec<(&'static str, String)>> {
    let binary = ensure_controller()?;
    let crds = crds_folder()?;
    Ok(vec![
        (CERT_MANAGER_CONTROLLER_ENV, binary.display().to_string()),
        (CERT_MANAGER_CRDS_ENV, crds.display().to_string()),
    ])
}

/// `cargo xtask operators`: builds what is missing and prints the
/// environment as `export` lines on stdout (progress goes to stderr), so
/// `eval "$(cargo xtask operators)"` prepares a shell to run
/// `tests/operator.rs` alone.
///
/// # Errors
///
/// As [`ensure_cert_manager`].
pub fn print_env() -> Result<()> {
    for (name, value) in ensure_cert_manager()? {
        println!("export {name}='{value}'");
    }
    Ok(())
}

/// cert-manager's controller, built first when the cache lacks it.
pub fn ensure_controller() -> Result<PathBuf> {
    let dir = cert_manager_bin_dir();
    let binary = dir.join("cert-manager-controller");
    if binary.is_file() {
        return Ok(binary);
    }
    step(
        "Building",
        format!(
            "cert-manager {CERT_MANAGER_VERSION}'s controller from tests/control-plane/cert-manager: \
             a cold build takes about 3 minutes on 2 cores; it is cached in {}",
            dir.display()
        ),
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    // Built beside its final name and moved into place only when the build
    // succeeded, so an interrupted build leaves no half-written binary.
    let staging = dir.join(".building-cert-manager-controller");
    let mut build = Command::new("go");
    build
        .current_dir(module_dir())
        .env("CGO_ENABLED", "0")
        .args(["build", "-v", "-trimpath", "-ldflags", "-s -w", "-o"])
        .arg(&staging)
        .arg(".");
    let took = progress::run_counting_lines(build, "go build (cert-manager)", "packages")
        .context("failed to build cert-manager's controller (is Go ≥ 1.26 on PATH?)")?
        .took;
    std::fs::rename(&staging, &binary)
        .with_context(|| format!("go build did not produce {}", staging.display()))?;
    step(
        "Finished",
        format!("cert-manager in {}", progress::human(took)),
    );
    Ok(binary)
}

/// The CRD folder of the pinned root module, downloaded first when the Go
/// module cache does not have it.
pub fn crds_folder() -> Result<PathBuf> {
    let mut cmd = Command::new("go");
    cmd.current_dir(module_dir())
        .args(["mod", "download", "-json", CERT_MANAGER_MODULE]);
    let json = progress::output(cmd).with_context(|| {
        format!("failed to download {CERT_MANAGER_MODULE} with `go mod download`")
    })?;
    let download: serde_json::Value =
        serde_json::from_str(&json).context("`go mod download -json` printed no JSON")?;
    let dir = download["Dir"]
        .as_str()
        .with_context(|| format!("`go mod download` gave no folder for {CERT_MANAGER_MODULE}"))?;
    let folder = PathBuf::from(dir).join(CERT_MANAGER_CRDS);
    anyhow::ensure!(
        folder.is_dir(),
        "{CERT_MANAGER_MODULE} has no folder {CERT_MANAGER_CRDS}"
    );
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version xtask names the cache after is the one the Go module
    /// pins: a bump in one place without the other would mislabel the cache.
    #[test]
    fn the_pinned_version_matches_the_go_module() {
        let go_mod = std::fs::read_to_string(module_dir().join("go.mod")).unwrap();
        assert!(
            go_mod.contains(&format!("{CERT_MANAGER_MODULE} {CERT_MANAGER_VERSION}")),
            "tests/control-plane/cert-manager/go.mod does not pin {CERT_MANAGER_VERSION}"
        );
    }

    #[test]
    fn the_cache_is_keyed_by_the_release_and_by_our_wiring() {
        let dir = cert_manager_bin_dir().display().to_string();
        assert!(
            dir.contains("operators/cert-manager-v1.21.2_main-"),
            "{dir}"
        );
        assert!(dir.ends_with("/bin"), "{dir}");
    }
}
