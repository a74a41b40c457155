//! The server under test: primary-all as users install it, the release
//! build in two Pods behind its Service and APIService (`cargo xtask
//! install`). What the benchmark changes about it (the strategy, a
//! restart), it changes the way an operator of the cluster would: through
//! the Deployment.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::install::NAMESPACE;
use crate::progress::{human, step};

const DEPLOYMENT: &str = "primary-all";
const CONTAINER: &str = "extension-server";
const POD_LABELS: &str = "app.kubernetes.io/name=primary-all";

/// Runs the Deployment's Pods with `--strategy=<strategy>` (the server's
/// default when `None`) and waits until the rollout is done and the
/// APIService answers.
pub async fn set_strategy(admin: &kube::Client, strategy: Option<&str>) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NAMESPACE);
    let deployment = deployments.get(DEPLOYMENT).await?;
    let container = deployment
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER))
        .context("the Deployment has no extension-server container")?;
    let mut args: Vec<String> = container
        .args
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !a.starts_with("--strategy="))
        .collect();
    if let Some(strategy) = strategy {
        args.push(format!("--strategy={strategy}"));
    }
    if container.args.as_ref() == Some(&args) {
        return Ok(());
    }
    step(
        "Rolling out",
        format!(
            "primary-all with {}",
            strategy.map_or("its default strategy".into(), |s| format!("--strategy={s}"))
        ),
    );
    roll_out(
        admin,
        json!({"spec": {"template": {"spec": {"containers": [{"name": CONTAINER, "args": args}]}}}}),
    )
    .await
}

/// Patches the Deployment's Pod template and waits for the rollout.
async fn roll_out(admin: &kube::Client, patch: serde_json::Value) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NAMESPACE);
    deployments
        .patch(
            DEPLOYMENT,
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
    wait_rolled_out(admin).await
}

/// Replaces both Pods (as `kubectl rollout restart` does) and returns how
/// long each new Pod took from its container's start to Ready.
pub async fn restart(admin: &kube::Client) -> Result<Vec<Duration>> {
    let stamp = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    step("Restarting", "primary-all's Pods, to time them to Ready");
    roll_out(
        admin,
        json!({"spec": {"template": {"metadata": {"annotations": {"primary-all/bench-restarted-at": stamp}}}}}),
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let mut times = Vec::new();
    for pod in pods.list(&ListParams::default().labels(POD_LABELS)).await? {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let status = pod.status.unwrap_or_default();
        let started = status
            .container_statuses
            .iter()
            .flatten()
            .find(|c| c.name == CONTAINER)
            .and_then(|c| c.state.as_ref()?.running.as_ref()?.started_at.clone());
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready" && c.status == "True")
            .and_then(|c| c.last_transition_time.clone());
        if let (Some(started), Some(ready)) = (started, ready) {
            let seconds = ready.0.as_second() - started.0.as_second();
            times.push(Duration::from_secs(seconds.max(0) as u64));
        }
    }
    anyhow::ensure!(
        !times.is_empty(),
        "no restarted Pod reported its start and its readiness"
    );
    Ok(times)
}

/// Waits until every replica runs the Deployment's current template and is
/// Ready, and the old Pods are gone.
async fn wait_rolled_out(admin: &kube::Client) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let started = Instant::now();
    let mut told = Instant::now();
    loop {
        let deployment = deployments.get(DEPLOYMENT).await?;
        let wanted = deployment.spec.replicas.unwrap_or(1);
        let status = deployment.status.clone().unwrap_or_default();
        let current = deployment.metadata.generation <= status.observed_generation;
        let pod_count = pods
            .list(&ListParams::default().labels(POD_LABELS))
            .await?
            .items
            .len();
        if current
            && status.updated_replicas == Some(wanted)
            && status.ready_replicas == Some(wanted)
            && status.replicas == Some(wanted)
            && pod_count == wanted as usize
        {
            step(
                "Ready",
                format!(
                    "{wanted}/{wanted} replicas after {}",
                    human(started.elapsed())
                ),
            );
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!(
                "the rollout of primary-all did not finish within 5 minutes; see `kubectl -n {NAMESPACE} get pods`"
            );
        }
        if told.elapsed() > Duration::from_secs(10) {
            step(
                "Waiting",
                format!(
                    "for the rollout: {}/{wanted} Ready, {}/{wanted} updated, {pod_count} Pods ({})",
                    status.ready_replicas.unwrap_or(0),
                    status.updated_replicas.unwrap_or(0),
                    human(started.elapsed())
                ),
            );
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The resident memory (VmRSS, MiB) of every extension server that runs in
/// a Pod of this node: the processes named `extension-server` whose cgroup
/// is below `kubepods` (the node's Pods run on this machine).
pub fn pod_rss_mib() -> Vec<f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| {
            let dir = e.path();
            // The kernel keeps the first 15 bytes of a command's name.
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            if comm.trim() != "extension-serve" {
                return None;
            }
            let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok()?;
            if !cgroup.contains("kubepods") {
                return None;
            }
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            let kib: f64 = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(kib / 1024.0)
        })
        .collect()
}
