//! What is measured: every request the benchmark times, baselines and
//! strategies alike, as one [`Case`], asked the same way and checked for
//! the same answer.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};

use super::caller::Minter;
use super::count::{self, Dispatched};
use super::peers;
use super::seed::{self, Config, GROUP, NAMESPACE};

/// How many reads the `get-1+k` baseline has in flight at once: the
/// extension server's own bound on an answer's reads.
const CONCURRENT_READS: usize = 16;

/// One kind of timed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Case {
    /// A plain GET of the primary through kube-apiserver: the cost of the
    /// cheapest answer there is.
    Get,
    /// The primary, then every secondary by name, concurrently: the least a
    /// `latest` answer must read (1 + k GETs).
    GetOnePlusK,
    /// `GET /apis/primary-all/v1`, which kube-apiserver proxies to the
    /// server: the floor of any aggregated answer.
    GroupVersion,
    /// primary-all, `consistency=latest` (the default).
    Latest,
    /// primary-all, `consistency=cached`.
    Cached,
    /// A plain GET as a new user on a new connection, every request.
    GetCold,
    /// `latest` as a new user every request: every SubjectAccessReview
    /// goes to kube-apiserver.
    LatestCold,
    /// What kubectl-tree does on every run, in-process: discovery, a LIST
    /// of every namespaced kind, the ownership walk on the client.
    TreeStyle,
    /// kube-lineage, as a process.
    KubeLineage,
    /// primary-all with `--strategy=list-all`, the seed's strategy.
    ListAll,
}

impl Case {
    /// The name the tables and the CSV use.
    pub fn name(self) -> &'static str {
        match self {
            Case::Get => "get",
            Case::GetOnePlusK => "get-1+k",
            Case::GroupVersion => "group-version",
            Case::Latest => "latest",
            Case::Cached => "cached",
            Case::GetCold => "get-cold",
            Case::LatestCold => "latest-cold",
            Case::TreeStyle => "tree-style",
            Case::KubeLineage => "kube-lineage",
            Case::ListAll => "list-all",
        }
    }

    /// The case of a name, for reading a CSV back.
    pub fn from_name(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Every case, in the order tables list them.
    pub const ALL: [Case; 10] = [
        Case::Get,
        Case::GetOnePlusK,
        Case::GroupVersion,
        Case::Latest,
        Case::Cached,
        Case::GetCold,
        Case::LatestCold,
        Case::TreeStyle,
        Case::KubeLineage,
        Case::ListAll,
    ];

    /// Whether every request is made by a user the server has not seen.
    fn is_cold(self) -> bool {
        matches!(self, Case::GetCold | Case::LatestCold)
    }
}

/// What one case needs to ask.
pub struct Target<'a> {
    /// The point of the matrix the cluster is at.
    pub config: Config,
    /// The warm caller's client.
    pub viewer: kube::Client,
    /// Mints cold callers.
    pub minter: &'a Minter,
    /// kube-lineage and the warm caller's kubeconfig for it.
    pub lineage: (PathBuf, PathBuf),
    /// The admin, who reads kube-apiserver's counters.
    pub admin: kube::Client,
}

impl Target<'_> {
    fn primary_path(&self) -> String {
        format!("/apis/{GROUP}/v1/namespaces/{NAMESPACE}/bench0s/primary")
    }

    fn answer_path(&self, case: Case) -> String {
        let path = format!("/apis/primary-all/v1/namespaces/{NAMESPACE}/bench0s.{GROUP}/primary");
        if case == Case::Cached {
            format!("{path}?consistency=cached")
        } else {
            path
        }
    }

    fn secondary_names(&self) -> Vec<String> {
        (0..self.config.secondaries)
            .map(|j| seed::secondary(self.config, j).0)
            .collect()
    }
}

/// One series of one case: its latencies and what kube-apiserver
/// dispatched for it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Every request's latency, in the order they ran.
    pub latencies: Vec<Duration>,
    /// The requests kube-apiserver dispatched meanwhile, per flow.
    pub dispatched: Dispatched,
}

impl Sample {
    /// This series' median latency (ms).
    pub fn p50(&self) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        super::ms(super::stats::percentile(&sorted, 0.50))
    }
}

/// Runs `requests` requests of `case`, one after the other, after warm-up
/// requests that fill caches and open connections (none for the cold
/// cases, whose point is that nothing is warm).
pub async fn sample(target: &Target<'_>, case: Case, requests: usize, run: &str) -> Result<Sample> {
    let cold: Vec<kube::Client> = if case.is_cold() {
        (0..requests)
            .map(|i| {
                let user = format!("bench-cold-{}-{run}-{i}", case.name());
                target.minter.client(&user)
            })
            .collect::<Result<_>>()?
    } else {
        for _ in 0..4 {
            ask(target, case, &target.viewer).await?;
        }
        Vec::new()
    };
    let before = count::dispatched(&target.admin).await?;
    let mut latencies = Vec::with_capacity(requests);
    for i in 0..requests {
        let client = cold.get(i).unwrap_or(&target.viewer);
        let started = Instant::now();
        let took = ask(target, case, client).await?;
        latencies.push(took.unwrap_or_else(|| started.elapsed()));
    }
    let after = count::dispatched(&target.admin).await?;
    Ok(Sample {
        latencies,
        dispatched: after - before,
    })
}

/// Requests per second of `case` with `clients` concurrent clients, each
/// making `per_client` requests one after the other.
pub async fn throughput(
    target: &Target<'_>,
    case: Case,
    clients: &[kube::Client],
    per_client: usize,
) -> Result<f64> {
    for client in clients {
        ask(target, case, client).await?;
    }
    let started = Instant::now();
    let runs = clients.iter().map(|client| async move {
        for _ in 0..per_client {
            ask(target, case, client).await?;
        }
        anyhow::Ok(())
    });
    for result in futures::future::join_all(runs).await {
        result?;
    }
    Ok((clients.len() * per_client) as f64 / started.elapsed().as_secs_f64())
}

/// Waits until the server's answer is complete as the warm caller sees it
/// (its index has every kind and every secondary of this point), in both
/// consistencies, so that no series measures a server still catching up.
pub async fn wait_complete(target: &Target<'_>, case: Case) -> Result<()> {
    let started = Instant::now();
    loop {
        let latest = ask(target, case, &target.viewer).await;
        let cached = if case == Case::Latest {
            ask(target, Case::Cached, &target.viewer).await
        } else {
            Ok(None)
        };
        match (latest, cached) {
            (Ok(_), Ok(_)) => return Ok(()),
            (Err(err), _) | (_, Err(err)) if started.elapsed() > Duration::from_secs(120) => {
                return Err(err.context("the server's answer was not complete within 2 minutes"));
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Asks once and checks the answer; the latency when the case measures it
/// itself (a process), `None` when the caller's clock is right.
async fn ask(target: &Target<'_>, case: Case, client: &kube::Client) -> Result<Option<Duration>> {
    let expected = target.config.secondaries;
    match case {
        Case::Get | Case::GetCold => {
            get(client, &target.primary_path()).await?;
        }
        Case::GroupVersion => {
            get(client, "/apis/primary-all/v1").await?;
        }
        Case::GetOnePlusK => {
            get(client, &target.primary_path()).await?;
            let paths: Vec<String> = (0..expected)
                .map(|j| {
                    let (name, resource) = seed::secondary(target.config, j);
                    format!(
                        "/apis/{GROUP}/v1/namespaces/{NAMESPACE}/{}/{name}",
                        resource.plural
                    )
                })
                .collect();
            let read: Vec<Result<serde_json::Value>> = futures::stream::iter(paths)
                .map(|path| async move { get(client, &path).await })
                .buffer_unordered(CONCURRENT_READS)
                .collect()
                .await;
            for result in read {
                result?;
            }
        }
        Case::Latest | Case::Cached | Case::LatestCold | Case::ListAll => {
            let answer = get(client, &target.answer_path(case)).await?;
            let found = answer["sec_res"]["items"].as_array().map_or(0, Vec::len);
            let left_out = answer["leftOut"].as_array().map_or(0, Vec::len);
            if found != expected || left_out != 0 {
                bail!(
                    "{} found {found} of {expected} secondaries and left out {left_out} kinds",
                    case.name()
                );
            }
        }
        Case::TreeStyle => {
            let found = tree_style(client).await?;
            if found != expected {
                bail!("tree-style found {found} of {expected} secondaries");
            }
        }
        Case::KubeLineage => {
            let (binary, kubeconfig) = target.lineage.clone();
            let names = target.secondary_names();
            let (took, found) = tokio::task::spawn_blocking(move || {
                peers::kube_lineage(&binary, &kubeconfig, &names)
            })
            .await??;
            if found != expected {
                bail!("kube-lineage showed {found} of {expected} secondaries");
            }
            return Ok(Some(took));
        }
    }
    Ok(None)
}

async fn get(client: &kube::Client, path: &str) -> Result<serde_json::Value> {
    client
        .request(http::Request::get(path).body(Vec::new())?)
        .await
        .with_context(|| format!("GET {path}"))
}

/// What kubectl-tree does on every run: discovery, then a parallel LIST of
/// every listable namespaced kind in the namespace, and the ownership walk
/// on the client. Kinds the caller may not list are skipped, as
/// kubectl-tree skips them.
async fn tree_style(client: &kube::Client) -> Result<usize> {
    let discovery = kube::Discovery::new(client.clone())
        .run_aggregated()
        .await?;
    let mut kinds = Vec::new();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if capabilities.supports_operation(kube::discovery::verbs::LIST)
                && capabilities.scope == kube::discovery::Scope::Namespaced
            {
                kinds.push(resource);
            }
        }
    }
    let lists: Vec<Vec<DynamicObject>> = futures::stream::iter(kinds)
        .map(|resource| {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), NAMESPACE, &resource);
            async move {
                api.list(&ListParams::default())
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let objects: Vec<DynamicObject> = lists.into_iter().flatten().collect();
    let primary_uid = objects
        .iter()
        .find(|o| {
            o.metadata.name.as_deref() == Some("primary")
                && o.types.as_ref().is_none_or(|t| t.kind == "Bench0")
        })
        .and_then(|o| o.metadata.uid.clone())
        .context("tree-style did not find the primary")?;
    Ok(objects
        .iter()
        .filter(|o| {
            o.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == primary_uid)
        })
        .count())
}
