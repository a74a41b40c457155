//! `cargo xtask case-study`: does asking for the primary reduce what a
//! person must know and do to find out why it is not well?
//!
//! Two faults are injected on the demo's cluster, each under a primary:
//! a rollout of db-1's pooler whose image is not on the node (the Pod at
//! fault is three levels below the Database), and a cert-manager
//! Certificate whose Issuer is misspelt (the reason is in the
//! CertificateRequest cert-manager made, not in the Certificate). Then a
//! person who may read the namespace but not its Secrets looks for each
//! fault by four routes ([`routes::Route`]): kubectl knowing every kind the
//! operator makes, kubectl knowing none, kube-lineage, and
//! `kubectl primary-all get`. Per route the report gives what the person
//! typed and read, whether they located the fault, and what it cost
//! kube-apiserver (counted by kube-apiserver, per FlowSchema, over several
//! rounds in rotating order). The run fails when primary-all's route no
//! longer locates a fault: the claim is tested, not only reported.

mod report;
mod routes;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::bench::{self, caller, count, peers, stats::Spread};
use crate::control_plane;
use crate::paths;
use crate::progress::{self, human, step};
use routes::{Route, Terminal, Walk};

/// Measured rounds per route (each in a rotated order), after one round
/// that warms the discovery caches.
const ROUNDS: usize = 5;

/// The viewer the routes run as (in the benchmark's viewers group).
const USER: &str = "case-study-viewer";

/// The ClusterRole that lets the viewers read the two operators' kinds.
const OPERATOR_READER: &str = "primary-all-case-study:operator-reader";

/// One fault under one primary, and what a person must find.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// A short name for the report's rows.
    pub name: &'static str,
    /// The primary's resource, as typed on the command line.
    pub resource: &'static str,
    /// The primary's kind.
    pub kind: &'static str,
    /// The primary's name.
    pub primary: &'static str,
    /// Its namespace.
    pub namespace: &'static str,
    /// What a person who knows the operator lists besides the primary:
    /// every kind it makes, and the kinds those make.
    pub secondary_kinds: &'static [&'static str],
    /// The text that says what is wrong, in the object at fault.
    pub cause: &'static str,
    /// How the fault is made.
    pub fault: Fault,
}

/// The two faults, as a person would make them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kubectl set image` of db-1's pooler to an image the node does not
    /// have: the new ReplicaSet's Pod cannot start, the old Pods keep
    /// running, and the Deployment looks merely slow.
    MissingImage,
    /// A Certificate whose issuerRef names `selfsigned` where the Issuer is
    /// `self-signed`: cert-manager makes a CertificateRequest that waits
    /// for an Issuer that does not exist.
    MisspeltIssuer,
}

/// The two faults.
pub const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "db-1 rollout",
        resource: "databases.example.com",
        kind: "Database",
        primary: "db-1",
        namespace: "default",
        secondary_kinds: &[
            "secrets",
            "services",
            "configmaps",
            "deployments",
            "replicasets",
            "pods",
            "endpointslices",
        ],
        cause: "ErrImageNeverPull",
        fault: Fault::MissingImage,
    },
    Scenario {
        name: "api-tls issuance",
        resource: "certificates.cert-manager.io",
        kind: "Certificate",
        primary: "api-tls",
        namespace: "default",
        secondary_kinds: &["certificaterequests.cert-manager.io", "secrets"],
        cause: "issuer.cert-manager.io \"selfsigned\" not found",
        fault: Fault::MisspeltIssuer,
    },
];

/// The image of the broken rollout: not on the node, and the Deployment's
/// `imagePullPolicy: Never` forbids pulling it.
const MISSING_IMAGE: &str = "localhost/primary-all/pgbouncer:1.23";

/// What one route did on one scenario, over the rounds.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: &'static str,
    pub route: Route,
    /// The last round's walk (the same commands every round).
    pub walk: Walk,
    /// Whether every round located the fault.
    pub located: bool,
    /// Requests of the person, per round, as kube-apiserver counted them.
    pub caller_calls: Spread,
    /// Requests of the extension server on the person's behalf, per round.
    pub server_calls: Spread,
    /// Wall time per round (ms).
    pub millis: Spread,
}

/// Boots the cluster (unless it is up), sets up the demo's primaries,
/// injects each fault, walks every route, and writes the report into
/// `target/case-study/` and the book's figures.
pub fn run() -> Result<()> {
    let started = std::time::Instant::now();
    let was_up = control_plane::State::load().is_some() && control_plane::is_ready();
    control_plane::up()?;
    crate::install::local()?;
    crate::demo::apply_example()?;
    crate::demo::operator()?;
    let lineage = peers::ensure_kube_lineage()?;
    let path = crate::demo::plugin_path()?;

    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(run_async(lineage, path));
    if !was_up {
        control_plane::down()?;
    }
    let outcomes = result?;
    let dir = paths::workspace_root().join("target/case-study");
    report::write(&outcomes, &dir, ROUNDS)?;
    step(
        "Finished",
        format!("the case study in {}", human(started.elapsed())),
    );
    let missed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.route == Route::PrimaryAll && !o.located)
        .map(|o| o.scenario.to_string())
        .collect();
    if !missed.is_empty() {
        bail!(
            "kubectl primary-all did not locate the fault of {} (see {})",
            missed.join(", "),
            dir.join("case-study.md").display()
        );
    }
    Ok(())
}

async fn run_async(lineage: std::path::PathBuf, path: std::ffi::OsString) -> Result<Vec<Outcome>> {
    let admin_config = bench::admin_config().await?;
    let admin = kube::Client::try_from(admin_config.clone())?;
    count::classify(&admin).await?;
    caller::bind_viewers(&admin).await?;
    bind_operator_reader(&admin).await?;
    let minter = caller::Minter::new(admin_config)?;
    let dir = paths::workspace_root().join("target/case-study");
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let terminal = Terminal {
        kubeconfig: minter.kubeconfig(USER, &dir)?,
        home,
        path,
        kube_lineage: lineage,
    };

    let mut outcomes = Vec::new();
    for scenario in &SCENARIOS {
        step("Injecting", format!("the fault of {}", scenario.name));
        let culprit = inject(scenario)?;
        step(
            "Walking",
            format!(
                "{} routes × {} rounds (after a warm-up round) to {culprit}",
                Route::ALL.len(),
                ROUNDS
            ),
        );
        let walked = walk_rounds(&admin, &terminal, scenario, &culprit).await;
        undo(scenario)?;
        outcomes.extend(walked?);
    }
    Ok(outcomes)
}

/// Every route, in a warm-up round and then [`ROUNDS`] rounds, each
/// starting one route later, with kube-apiserver's counters read around
/// each walk.
async fn walk_rounds(
    admin: &kube::Client,
    terminal: &Terminal,
    scenario: &Scenario,
    culprit: &str,
) -> Result<Vec<Outcome>> {
    for route in Route::ALL {
        terminal.walk(route, scenario, culprit)?;
    }
    let mut walks: BTreeMap<Route, Vec<(Walk, count::Dispatched)>> = BTreeMap::new();
    for round in 0..ROUNDS {
        for i in 0..Route::ALL.len() {
            let route = Route::ALL[(round + i) % Route::ALL.len()];
            let before = count::dispatched(admin).await?;
            let walk = terminal.walk(route, scenario, culprit)?;
            // The server's reviews and reads end with the answer; the
            // counter is read after them.
            let calls = count::dispatched(admin).await? - before;
            walks.entry(route).or_default().push((walk, calls));
        }
    }
    let mut outcomes = Vec::new();
    for (route, rounds) in walks {
        let spread = |f: &dyn Fn(&(Walk, count::Dispatched)) -> f64| {
            Spread::of(&rounds.iter().map(f).collect::<Vec<_>>()).unwrap_or(Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            })
        };
        let located = rounds.iter().all(|(walk, _)| walk.located);
        let outcome = Outcome {
            scenario: scenario.name,
            route,
            walk: rounds
                .last()
                .map(|(walk, _)| walk.clone())
                .context("no round ran")?,
            located,
            caller_calls: spread(&|(_, calls)| calls.callers),
            server_calls: spread(&|(_, calls)| calls.server),
            millis: spread(&|(walk, _)| bench::ms(walk.took)),
        };
        step(
            if located { "Located" } else { "Missed" },
            format!(
                "{} by {}: {} command(s), {} kind(s) named, {} object(s) read, {:.0} + {:.0} API calls",
                scenario.name,
                route.name(),
                outcome.walk.commands.len(),
                outcome.walk.kinds_named,
                outcome.walk.read,
                outcome.caller_calls.median,
                outcome.server_calls.median
            ),
        );
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Lets the viewers read the example's Databases and cert-manager's kinds
/// (cert-manager's Helm chart ships such roles; its CRDs alone do not).
async fn bind_operator_reader(admin: &kube::Client) -> Result<()> {
    let apply = PatchParams::apply("primary-all-case-study").force();
    let role: ClusterRole = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": OPERATOR_READER},
        "rules": [{"apiGroups": ["example.com", "cert-manager.io", "acme.cert-manager.io"],
                   "resources": ["*"], "verbs": ["get", "list", "watch"]}]
    }))?;
    Api::<ClusterRole>::all(admin.clone())
        .patch(OPERATOR_READER, &apply, &Patch::Apply(&role))
        .await
        .context("failed to apply the case study's ClusterRole")?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": OPERATOR_READER},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPERATOR_READER},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": caller::VIEWERS}]
    }))?;
    Api::<ClusterRoleBinding>::all(admin.clone())
        .patch(OPERATOR_READER, &apply, &Patch::Apply(&binding))
        .await
        .context("failed to apply the case study's ClusterRoleBinding")?;
    Ok(())
}

/// Injects `scenario`'s fault as the admin and waits until the object at
/// fault says so; its name.
fn inject(scenario: &Scenario) -> Result<String> {
    match scenario.fault {
        Fault::MissingImage => {
            let mut set = control_plane::kubectl();
            set.args([
                "set",
                "image",
                "deployment/db-1-pooler",
                &format!("pgbouncer={MISSING_IMAGE}"),
                "-n",
                scenario.namespace,
            ]);
            progress::output(set)?;
            wait_for_culprit(scenario, "pods", "-l app=db-1-pooler")
        }
        Fault::MisspeltIssuer => {
            let manifest = paths::control_plane_dir().join("case-study-certificate.yaml");
            std::fs::write(
                &manifest,
                format!(
                    "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
  namespace: {namespace}
spec:
  secretName: {name}
  commonName: api.example.com
  dnsNames: [api.example.com]
  issuerRef:
    # The Issuer is called self-signed: a typo a person makes.
    name: selfsigned
    kind: Issuer
",
                    name = scenario.primary,
                    namespace = scenario.namespace
                ),
            )?;
            let mut apply = control_plane::kubectl();
            apply.args(["apply", "--server-side", "-f"]).arg(&manifest);
            progress::output(apply)?;
            wait_for_culprit(scenario, "certificaterequests.cert-manager.io", "")
        }
    }
}

/// Polls `resource` in the scenario's namespace (for at most 90 s) until
/// one object says the scenario's cause.
fn wait_for_culprit(scenario: &Scenario, resource: &str, selector: &str) -> Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut get = control_plane::kubectl();
        get.args(["get", resource, "-n", scenario.namespace, "-o", "json"]);
        get.args(selector.split_whitespace());
        let items = routes::list_items(&progress::output(get)?);
        if let Some(culprit) = items.iter().find(|o| routes::says(o, scenario.cause)) {
            return culprit
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .context("the object at fault has no name");
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "after 90 s no {resource} in {} says {:?}: the fault of {} was not injected",
                scenario.namespace,
                scenario.cause,
                scenario.name
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Takes `scenario`'s fault back out, so that the demo's objects are as
/// the demo left them.
fn undo(scenario: &Scenario) -> Result<()> {
    step("Undoing", format!("the fault of {}", scenario.name));
    match scenario.fault {
        Fault::MissingImage => {
            let mut set = control_plane::kubectl();
            set.args([
                "set",
                "image",
                "deployment/db-1-pooler",
                &format!("pgbouncer={}", control_plane::node::IDLE_IMAGE),
                "-n",
                scenario.namespace,
            ]);
            progress::output(set)?;
            let mut rolled = control_plane::kubectl();
            rolled.args([
                "rollout",
                "status",
                "deployment/db-1-pooler",
                "-n",
                scenario.namespace,
                "--timeout=90s",
            ]);
            progress::output(rolled)?;
        }
        Fault::MisspeltIssuer => {
            let mut delete = control_plane::kubectl();
            delete.args([
                "delete",
                scenario.resource,
                scenario.primary,
                "-n",
                scenario.namespace,
                "--wait=true",
            ]);
            progress::output(delete)?;
        }
    }
    Ok(())
}

/// Where the report goes besides `target/case-study/`.
pub fn figures_dir() -> std::path::PathBuf {
    paths::workspace_root().join("book/src/figures")
}
