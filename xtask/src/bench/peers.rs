//! The peer tools, run the way their users run them: kube-lineage as a
//! process, built from its Go module at the version `xtask/peers/go.mod`
//! pins, once per machine, into the per-user cache.
//!
//! kubectl-tree is not here: the Go module proxy this machine reaches
//! serves no version of `github.com/ahmetb/kubectl-tree`, so it cannot be
//! built; the benchmark's built-in `tree-style` client does what
//! kubectl-tree does on every run (discovery, a LIST of every namespaced
//! kind, the ownership walk on the client) in its place.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::seed::{GROUP, NAMESPACE};
use crate::paths;
use crate::progress::{self, step};

/// The kube-lineage release `xtask/peers/go.mod` pins.
pub const KUBE_LINEAGE_VERSION: &str = "v0.5.0";

const KUBE_LINEAGE_PACKAGE: &str = "github.com/tohjustin/kube-lineage/cmd/kube-lineage";

fn module_dir() -> PathBuf {
    paths::workspace_root().join("xtask/peers")
}

/// Builds kube-lineage when the cache does not have it yet; its path.
pub fn ensure_kube_lineage() -> Result<PathBuf> {
    let dir = paths::user_cache_dir()
        .join("peers")
        .join(format!("kube-lineage-{KUBE_LINEAGE_VERSION}"));
    let binary = dir.join("kube-lineage");
    if binary.is_file() {
        return Ok(binary);
    }
    step(
        "Building",
        format!(
            "kube-lineage {KUBE_LINEAGE_VERSION} from its Go module (xtask/peers): a cold build \
             takes about 2 minutes on 2 cores; it is cached in {}",
            dir.display()
        ),
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let staging = dir.join(".building-kube-lineage");
    let mut build = Command::new("go");
    build
        .current_dir(module_dir())
        .env("CGO_ENABLED", "0")
        .args(["build", "-v", "-trimpath", "-o"])
        .arg(&staging)
        .arg(KUBE_LINEAGE_PACKAGE);
    let took = progress::run_counting_lines(build, "go build (kube-lineage)", "packages")
        .context("failed to build kube-lineage (is Go ≥ 1.26 on PATH?)")?
        .took;
    std::fs::rename(&staging, &binary)
        .with_context(|| format!("go build did not produce {}", staging.display()))?;
    step(
        "Finished",
        format!("kube-lineage in {}", progress::human(took)),
    );
    Ok(binary)
}

/// Runs kube-lineage on the benchmark's primary as the user of
/// `kubeconfig`; how long the process took and how many of the primary's
/// `secondaries` (by name) its output shows.
pub fn kube_lineage(
    binary: &Path,
    kubeconfig: &Path,
    secondaries: &[String],
) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let output = Command::new(binary)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "-n",
            NAMESPACE,
            &format!("bench0s.{GROUP}"),
            "primary",
            "--no-headers",
        ])
        .output()
        .context("failed to run kube-lineage")?;
    let took = started.elapsed();
    if !output.status.success() {
        bail!(
            "kube-lineage failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok((
        took,
        shown(&String::from_utf8_lossy(&output.stdout), secondaries),
    ))
}

/// How many of `names` kube-lineage's tree shows, as `<Kind>/<name>` (with
/// or without the group) after the tree's branch characters.
fn shown(output: &str, names: &[String]) -> usize {
    names
        .iter()
        .filter(|name| {
            let suffix = format!("/{name}");
            output
                .split_whitespace()
                .any(|word| word.ends_with(&suffix))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_shows_a_secondary_by_its_kind_and_name() {
        let output = "\
Bench0/primary                    -   5m
├── Bench1/sec-1                  -   5m
└── Bench2.bench.primary-all.io/sec-2   -   5m
";
        let names: Vec<String> = ["sec-1", "sec-2", "sec-3", "sec-11"]
            .map(String::from)
            .to_vec();
        assert_eq!(shown(output, &names), 2);
    }
}
