//! `cargo xtask test`: every suite, with the cluster it needs.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::book;
use crate::control_plane;
use crate::fixtures;
use crate::kind;
use crate::operators;
use crate::paths;
use crate::progress::{self, step};
use crate::tools;

/// Which cluster the cluster suites run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cluster {
    /// The local control plane, booted for the run and stopped afterwards
    /// (left running when it was already up).
    Local,
    /// The kind cluster `primary-all` (needs kind and a Docker engine).
    Kind,
    /// Whatever `KUBECONFIG` points at; nothing is booted or stopped.
    Existing,
}

/// Runs the fast suites, then the cluster suites against `cluster`.
pub fn run(cluster: Cluster) -> Result<()> {
    step(
        "Testing",
        "fast suites: unit and doc tests, the book lint, no cluster",
    );
    progress::run(cargo_test(&[], &[]))?;
    book::build()?;

    let mut direct = Vec::new();
    let (kubeconfig, stop_afterwards) = match cluster {
        Cluster::Local => {
            let was_up = control_plane::State::load().is_some() && control_plane::is_ready();
            control_plane::up()?;
            // Security tests also call the extension server straight, past
            // kube-apiserver, which only the local control plane allows.
            let state = control_plane::State::load().context("the control plane left no state")?;
            direct.push((
                "PRIMARY_ALL_EXTENSION_SERVER",
                format!("https://127.0.0.1:{}", state.extension_port),
            ));
            let ca = paths::control_plane_dir()
                .join("pki")
                .join("extension-ca.crt");
            direct.push(("PRIMARY_ALL_EXTENSION_CA", ca.display().to_string()));
            let binary = control_plane::extension::binary_path();
            direct.push(("PRIMARY_ALL_EXTENSION_BINARY", binary.display().to_string()));
            // The fault tests stop and start components with this very binary.
            let xtask = std::env::current_exe().context("failed to locate the xtask binary")?;
            direct.push(("PRIMARY_ALL_XTASK", xtask.display().to_string()));
            (paths::kubeconfig(), !was_up)
        }
        Cluster::Kind => {
            kind::up()?;
            (kind::kubeconfig(), false)
        }
        Cluster::Existing => {
            let path = std::env::var_os("KUBECONFIG")
                .map(PathBuf::from)
                .context("--cluster existing needs KUBECONFIG to point at a cluster")?;
            // cargo runs each test binary in its package's directory, so a
            // relative path would point elsewhere there.
            let path = std::fs::canonicalize(&path)
                .with_context(|| format!("KUBECONFIG={} does not exist", path.display()))?;
            (path, false)
        }
    };

    // The plugin's terminal test renders under tmux.
    tools::ensure_tmux()?;
    // CRD sets real operators ship, for the test that every kind in them
    // comes back.
    for set in fixtures::CRD_SETS {
        direct.push((set.env, set.ensure()?.display().to_string()));
    }
    // An operator no one here wrote, for the test that runs it.
    direct.extend(operators::ensure_cert_manager()?);
    step(
        "Testing",
        format!("cluster suites against {}", kubeconfig.display()),
    );
    // With every feature, so the extension's etcd-status tests run too; the
    // fast suites above ran without, so both configurations are tested.
    // `--no-fail-fast`: one failing binary must not hide the others' results.
    let mut cluster_tests = cargo_test(&["--all-features", "--no-fail-fast"], &["--ignored"]);
    cluster_tests
        .env("KUBECONFIG", &kubeconfig)
        .envs(direct.clone());
    let mut result = progress::run(cluster_tests);
    if result.is_ok() && cluster == Cluster::Local {
        result = attacks_against_the_seed_strategy(&kubeconfig, &direct);
    }

    if stop_afterwards {
        control_plane::down()?;
    }
    result
}

/// Runs the attack suites a second time against the seed's strategy,
/// `list-all`, which reads differently (fresh discovery and one LIST per
/// kind for every request) and must refuse the same callers; then restores
/// the default, `indexed`, even when the attacks failed.
fn attacks_against_the_seed_strategy(
    kubeconfig: &std::path::Path,
    direct: &[(&str, String)],
) -> Result<()> {
    let state = control_plane::State::load().context("the control plane left no state")?;
    let pki = control_plane::pki::Pki::at(paths::control_plane_dir().join("pki"));
    step(
        "Testing",
        "auth_attacks and trust again, with the extension server restarted as --strategy=list-all",
    );
    control_plane::extension::restart("list-all")?;
    control_plane::extension::wait_ready(&state, &pki)?;
    // The same cargo arguments as the run above, so nothing is rebuilt.
    let mut attacks = cargo_test(
        &[
            "--all-features",
            "--test",
            "auth_attacks",
            "--test",
            "trust",
        ],
        &["--ignored"],
    );
    attacks
        .env("KUBECONFIG", kubeconfig)
        .envs(direct.iter().map(|(k, v)| (*k, v.as_str())));
    let result = progress::run(attacks);
    step("Restoring", "the extension server's --strategy=indexed");
    control_plane::extension::restart("indexed")?;
    control_plane::extension::wait_ready(&state, &pki)?;
    result
}

/// `cargo test --workspace` with cargo's arguments before `--` and the
/// harness arguments after. Snapshots are never written in CI: a new or
/// changed one fails the run.
fn cargo_test(cargo_args: &[&str], harness_args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(paths::workspace_root())
        .args(["test", "--workspace", "--locked"])
        .args(cargo_args)
        .arg("--")
        .args(harness_args);
    if std::env::var_os("CI").is_some() {
        cmd.env("INSTA_UPDATE", "no");
    }
    cmd
}
