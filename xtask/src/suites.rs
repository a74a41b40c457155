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

/// The cluster suites that run against the extension server as a host
/// process rather than as the installed Pods: they kill it, stop it and
/// restart it onto a new state, and watch one request drain through a
/// SIGTERM, which a Pod's process does not let a test do.
pub const HOST_PROCESS_SUITES: [&str; 1] = ["faults"];

/// The cluster suites that disturb the installed Pods (delete and evict
/// them), so they run after every other suite that talks to the Pods, one
/// of which the direct tests reach by its address.
pub const LAST_SUITES: [&str; 1] = ["replicas"];

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
            crate::install::local()?;
            // Security tests also call the extension server straight, past
            // kube-apiserver: one of its Pods, at the Pod's address.
            direct.push((
                "PRIMARY_ALL_EXTENSION_SERVER",
                format!("https://{}:8443", crate::install::a_pod_address()?),
            ));
            // A Pod's address is in no certificate; the Service's name is.
            direct.push((
                "PRIMARY_ALL_EXTENSION_TLS_NAME",
                crate::install::SERVICE_NAMES[0].to_string(),
            ));
            // Where a test may serve something kube-apiserver dials (an
            // EndpointSlice may not name loopback): the node's bridge.
            direct.push((
                "PRIMARY_ALL_HOST_ADDRESS",
                control_plane::node::pod_gateway(),
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
            crate::install::kind()?;
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
    let (host_process, in_cluster): (Vec<String>, Vec<String>) = test_targets()?
        .into_iter()
        .partition(|t| HOST_PROCESS_SUITES.contains(&t.as_str()));
    step(
        "Testing",
        format!(
            "cluster suites against primary-all installed in {} (kube-apiserver → APIService → \
             Service → Pods)",
            kubeconfig.display()
        ),
    );
    // With every feature, so the extension's etcd-status tests run too; the
    // fast suites above ran without, so both configurations are tested.
    // `--no-fail-fast`: one failing binary must not hide the others' results.
    let (last, first): (Vec<String>, Vec<String>) = in_cluster
        .into_iter()
        .partition(|t| LAST_SUITES.contains(&t.as_str()));
    // The libraries' and binaries' cluster tests (kube-test-utils has some)
    // run with the first batch.
    let mut result = cluster_suites(&first, &["--lib", "--bins"], &kubeconfig, &direct);
    step(
        "Testing",
        format!(
            "{} (they delete and evict the installed Pods)",
            last.join(", ")
        ),
    );
    result = result.and(cluster_suites(&last, &[], &kubeconfig, &direct));
    if cluster == Cluster::Local {
        let host = against_the_host_process(&kubeconfig, &direct, &host_process);
        result = result.and(host);
    }

    if stop_afterwards {
        control_plane::down()?;
    }
    result
}

/// The suites that need the host process ([`HOST_PROCESS_SUITES`]), then
/// the attacks against the seed's strategy; the APIService points at the
/// installed Pods again afterwards, even when they failed.
fn against_the_host_process(
    kubeconfig: &std::path::Path,
    direct: &[(&str, String)],
    suites: &[String],
) -> Result<()> {
    let state = control_plane::State::load().context("the control plane left no state")?;
    let pki = control_plane::pki::Pki::at(paths::control_plane_dir().join("pki"));
    control_plane::extension::point_at_host_process(&state, &pki)?;
    let mut direct: Vec<(&str, String)> = direct.to_vec();
    for (key, value) in &mut direct {
        if *key == "PRIMARY_ALL_EXTENSION_SERVER" {
            *value = format!("https://{}", control_plane::extension::host_address(&state));
        }
    }
    step(
        "Testing",
        format!(
            "{} against the extension server as a host process",
            suites.join(", ")
        ),
    );
    let mut result = cluster_suites(suites, &[], kubeconfig, &direct);
    if result.is_ok() {
        result = attacks_against_the_seed_strategy(kubeconfig, &direct);
    }
    step("Restoring", "the APIService to the installed Pods");
    crate::install::point_local_at_pods()?;
    result
}

/// Runs the cluster tests (`--ignored`) of the test targets `targets`, and
/// of whatever else `more` selects, against `kubeconfig` with `direct`'s
/// environment. Always with every feature and `--no-fail-fast`, so that no
/// run rebuilds what another built and one failing binary hides nothing.
fn cluster_suites(
    targets: &[String],
    more: &[&str],
    kubeconfig: &std::path::Path,
    direct: &[(&str, String)],
) -> Result<()> {
    let mut args = vec!["--all-features", "--no-fail-fast"];
    args.extend(more);
    for target in targets {
        args.extend(["--test", target.as_str()]);
    }
    let mut cmd = cargo_test(&args, &["--ignored"]);
    cmd.env("KUBECONFIG", kubeconfig)
        .envs(direct.iter().map(|(k, v)| (*k, v.as_str())));
    progress::run(cmd)
}

/// Every test target of the workspace (`cargo metadata`), so that a new
/// test file runs without anyone listing it here.
fn test_targets() -> Result<Vec<String>> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(paths::workspace_root()).args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--locked",
    ]);
    let metadata: serde_json::Value = serde_json::from_str(&progress::output(cmd)?)
        .context("`cargo metadata` printed no JSON")?;
    let mut targets: Vec<String> = metadata["packages"]
        .as_array()
        .context("`cargo metadata` listed no packages")?
        .iter()
        .flat_map(|package| package["targets"].as_array().cloned().unwrap_or_default())
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"))
        })
        .filter_map(|target| target["name"].as_str().map(str::to_string))
        .collect();
    targets.sort();
    targets.dedup();
    Ok(targets)
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
    let attacks = ["auth_attacks".to_string(), "trust".to_string()];
    let result = cluster_suites(&attacks, &[], kubeconfig, direct);
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
