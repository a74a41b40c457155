//! `cargo xtask bench`: what one answer costs, per strategy, as the cluster grows.
//!
//! Seeds the local control plane with K CRDs and M objects of which a primary
//! owns S, then measures, in one run and through kube-apiserver: the seed's
//! `list-all`, a kubectl-tree-style client (discovery and a parallel LIST of
//! every kind, client side), and `indexed` with `consistency=latest` and
//! `cached`. Results go to `target/bench/results.csv` and SVG plots; the full
//! run also writes them into the book.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

use crate::control_plane::{self, extension};
use crate::paths;
use crate::progress::{human, step};

/// The namespace the benchmark seeds.
pub(crate) const NAMESPACE: &str = "bench";
/// The API group of the benchmark's CRDs.
pub(crate) const GROUP: &str = "bench.primary-all.io";
/// Objects are spread over at most this many kinds; the others stay empty,
/// as in a cluster with many CRDs installed and few in use.
const POPULATED_KINDS: usize = 10;
/// Secondaries are spread over this many kinds.
const SECONDARY_KINDS: usize = 5;

/// One point of the benchmark matrix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    /// K: the benchmark's CRDs.
    pub(crate) kinds: usize,
    /// M: the objects spread over (at most 10 of) them.
    pub(crate) objects: usize,
    /// S: the secondaries the one primary owns.
    pub(crate) secondaries: usize,
}

/// One measured row.
#[derive(Debug, Clone)]
struct Row {
    config: Config,
    strategy: &'static str,
    requests: usize,
    p50: Duration,
    p99: Duration,
    api_calls: f64,
    rss_mib: f64,
    indexed_objects: f64,
}

/// The strategies, in the order they are measured.
const STRATEGIES: [&str; 4] = ["list-all", "kubectl-tree", "indexed", "indexed-cached"];

/// Runs the benchmark; `quick` is the small version CI runs.
pub fn run(quick: bool) -> Result<()> {
    let was_up = control_plane::State::load().is_some() && control_plane::is_ready();
    control_plane::up()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(run_async(quick));
    // Whatever happened, the server goes back to its default strategy.
    let _ = extension::restart("indexed");
    if !was_up {
        control_plane::down()?;
    }
    result
}

async fn run_async(quick: bool) -> Result<()> {
    let (matrix, requests) = if quick {
        (
            vec![Config {
                kinds: 10,
                objects: 1_000,
                secondaries: 5,
            }],
            50,
        )
    } else {
        (
            vec![
                Config {
                    kinds: 10,
                    objects: 1_000,
                    secondaries: 5,
                },
                Config {
                    kinds: 50,
                    objects: 1_000,
                    secondaries: 5,
                },
                Config {
                    kinds: 200,
                    objects: 1_000,
                    secondaries: 5,
                },
                Config {
                    kinds: 50,
                    objects: 10_000,
                    secondaries: 5,
                },
                Config {
                    kinds: 50,
                    objects: 10_000,
                    secondaries: 50,
                },
            ],
            200,
        )
    };
    let client = admin_client().await?;
    let direct = direct_client().await?;
    reset(&client).await?;
    let mut rows = Vec::new();
    for config in matrix {
        seed(&client, config).await?;
        for strategy in STRATEGIES {
            let row = measure(&client, &direct, config, strategy, requests).await?;
            eprintln!(
                "{:>12} K={:<4} M={:<6} S={:<3} {:<15} p50 {:>9.2} ms  p99 {:>9.2} ms  {:>6.1} calls/request  RSS {:>6.1} MiB",
                "Measured",
                config.kinds,
                config.objects,
                config.secondaries,
                strategy,
                ms(row.p50),
                ms(row.p99),
                row.api_calls,
                row.rss_mib
            );
            rows.push(row);
        }
    }
    reset(&client).await?;
    report(&rows, quick)
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The admin client of the local control plane.
pub(crate) async fn admin_client() -> Result<kube::Client> {
    Ok(kube::Client::try_from(admin_config().await?)?)
}

/// The admin's client configuration for the local control plane.
pub(crate) async fn admin_config() -> Result<kube::Config> {
    let kubeconfig = kube::config::Kubeconfig::read_from(paths::kubeconfig())?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?)
}

/// A client for the extension server itself (health and metrics need no
/// client certificate).
async fn direct_client() -> Result<kube::Client> {
    Ok(kube::Client::try_from(direct_config()?)?)
}

/// The configuration of [`direct_client`]: the extension server's URL and CA.
pub(crate) fn direct_config() -> Result<kube::Config> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let state = control_plane::State::load().context("the control plane is not up")?;
    let ca = paths::control_plane_dir()
        .join("pki")
        .join("extension-ca.crt");
    let roots: Vec<Vec<u8>> = CertificateDer::pem_file_iter(&ca)?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()?;
    let mut config =
        kube::Config::new(format!("https://127.0.0.1:{}", state.extension_port).parse()?);
    config.root_cert = Some(roots);
    Ok(config)
}

fn bench_resource(i: usize) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, "v1", &format!("Bench{i}")),
        &format!("bench{i}s"),
    )
}

/// Removes the bench namespace and CRDs, and waits until they are gone.
pub(crate) async fn reset(client: &kube::Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(NAMESPACE, &DeleteParams::default()).await;
    let selector = ListParams::default().labels("primary-all/bench=true");
    let _ = crds
        .delete_collection(&DeleteParams::default(), &selector)
        .await;
    let deadline = Instant::now() + Duration::from_secs(180);
    while (namespaces.get_opt(NAMESPACE).await?.is_some()
        || !crds.list(&selector).await?.items.is_empty())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Grows the cluster to `config`: CRDs, objects, and the primary's secondaries.
pub(crate) async fn seed(client: &kube::Client, config: Config) -> Result<()> {
    let started = Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(NAMESPACE).await?.is_none() {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }

    // CRDs: create the missing ones, delete the ones beyond K.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let existing: HashSet<String> = crds
        .list(&ListParams::default().labels("primary-all/bench=true"))
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    for name in existing.iter().filter(|n| {
        n.trim_start_matches("bench")
            .split('s')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i >= config.kinds)
    }) {
        crds.delete(name, &DeleteParams::default()).await?;
    }
    let missing: Vec<usize> = (0..config.kinds)
        .filter(|i| !existing.contains(&format!("bench{i}s.{GROUP}")))
        .collect();
    step(
        "Seeding",
        format!("{} CRDs (K = {})", missing.len(), config.kinds),
    );
    futures::stream::iter(missing.clone())
        .map(|i| {
            let crds = crds.clone();
            async move {
                let crd: CustomResourceDefinition = serde_json::from_value(json!({
                    "metadata": {"name": format!("bench{i}s.{GROUP}"), "labels": {"primary-all/bench": "true"}},
                    "spec": {
                        "group": GROUP,
                        "names": {"kind": format!("Bench{i}"), "plural": format!("bench{i}s"), "singular": format!("bench{i}")},
                        "scope": "Namespaced",
                        "versions": [{"name": "v1", "served": true, "storage": true,
                            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
                    }
                }))?;
                crds.create(&PostParams::default(), &crd).await?;
                let name = format!("bench{i}s.{GROUP}");
                let established = await_condition(crds, &name, conditions::is_crd_established());
                tokio::time::timeout(Duration::from_secs(60), established).await??;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    // Discovery must show every CRD before the server and the client see them.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Objects obj-0 … obj-(M-1), spread over the first kinds.
    let populated = config.kinds.min(POPULATED_KINDS);
    let primary_api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &bench_resource(0));
    let have: usize = {
        let mut total = 0;
        for i in 0..populated {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), NAMESPACE, &bench_resource(i));
            total += api
                .list(&ListParams::default().labels("primary-all/bench-object=true"))
                .await?
                .items
                .len();
        }
        total
    };
    if have < config.objects {
        step(
            "Seeding",
            format!("{} objects (M = {})", config.objects - have, config.objects),
        );
    }
    let created = std::sync::atomic::AtomicUsize::new(0);
    let last_report = std::sync::Mutex::new(Instant::now());
    futures::stream::iter(have..config.objects)
        .map(|n| {
            let client = client.clone();
            let created = &created;
            let last_report = &last_report;
            async move {
                let resource = bench_resource(n % populated);
                let api: Api<DynamicObject> = Api::namespaced_with(client, NAMESPACE, &resource);
                let mut object = DynamicObject::new(&format!("obj-{n}"), &resource);
                object.metadata.labels =
                    Some([("primary-all/bench-object".to_string(), "true".to_string())].into());
                object.data = json!({"spec": {"n": n}});
                match api.create(&PostParams::default(), &object).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(err) => return Err(err.into()),
                }
                let done = created.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let mut last = last_report.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() > Duration::from_secs(5) {
                    eprintln!(
                        "             … {done} objects created ({})",
                        human(started.elapsed())
                    );
                    *last = Instant::now();
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;

    // The primary, and S secondaries it owns, spread over a few kinds.
    let primary = match primary_api.get_opt("primary").await? {
        Some(primary) => primary,
        None => {
            let mut object = DynamicObject::new("primary", &bench_resource(0));
            object.data = json!({"spec": {"role": "primary"}});
            primary_api.create(&PostParams::default(), &object).await?
        }
    };
    let uid = primary
        .metadata
        .uid
        .clone()
        .context("the primary has no uid")?;
    for j in 0..config.secondaries {
        let resource = bench_resource(j % SECONDARY_KINDS.min(config.kinds));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
        if api.get_opt(&format!("sec-{j}")).await?.is_some() {
            continue;
        }
        let mut object = DynamicObject::new(&format!("sec-{j}"), &resource);
        object.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: format!("{GROUP}/v1"),
                kind: "Bench0".to_string(),
                name: "primary".to_string(),
                uid: uid.clone(),
                ..Default::default()
            },
        ]);
        api.create(&PostParams::default(), &object).await?;
    }
    step(
        "Seeded",
        format!(
            "K={} M={} S={} in {}",
            config.kinds,
            config.objects,
            config.secondaries,
            human(started.elapsed())
        ),
    );
    Ok(())
}

/// The server's `/metrics`, as name → value for unlabelled samples and
/// `requests_total{code="200"}`.
async fn scrape(direct: &kube::Client) -> Result<(f64, f64, f64)> {
    let text = direct
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("primary_all_api_calls_total "),
        value("primary_all_requests_total{code=\"200\"} "),
        value("primary_all_indexed_objects "),
    ))
}

/// Waits until the server says it is ready (its watches synced).
pub(crate) async fn wait_ready(direct: &kube::Client) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ready = direct
            .request_text(http::Request::get("/readyz").body(Vec::new())?)
            .await;
        if matches!(ready.as_deref(), Ok("ok")) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the extension server was not ready within 180 s: {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The extension server's resident memory (VmRSS), 0 when it is not running.
pub(crate) fn server_rss_mib() -> f64 {
    let Some(pid) = control_plane::component("extension-server").pid() else {
        return 0.0;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn measure(
    client: &kube::Client,
    direct: &kube::Client,
    config: Config,
    strategy: &'static str,
    requests: usize,
) -> Result<Row> {
    let server_strategy = match strategy {
        "list-all" => Some("list-all"),
        "indexed" => Some("indexed"),
        _ => None,
    };
    if let Some(server_strategy) = server_strategy {
        extension::restart(server_strategy)?;
        wait_ready(direct).await?;
    }
    let path = format!("/apis/primary-all/v1/namespaces/{NAMESPACE}/bench0s.{GROUP}/primary");
    let path = if strategy == "indexed-cached" {
        format!("{path}?consistency=cached")
    } else {
        path
    };

    let ask = |client: kube::Client, path: String| async move {
        if strategy == "kubectl-tree" {
            tree_client(&client).await
        } else {
            let answer: serde_json::Value = client
                .request(http::Request::get(&path).body(Vec::new())?)
                .await?;
            let found = answer["sec_res"]["items"].as_array().map_or(0, Vec::len);
            anyhow::Ok((found, 0))
        }
    };
    // Warm-up: caches fill, connections open.
    for _ in 0..3 {
        ask(client.clone(), path.clone()).await?;
    }
    let (calls_before, requests_before, _) = scrape(direct).await?;
    let mut latencies = Vec::with_capacity(requests);
    let mut client_calls = 0;
    for _ in 0..requests {
        let started = Instant::now();
        let (found, calls) = ask(client.clone(), path.clone()).await?;
        latencies.push(started.elapsed());
        client_calls += calls;
        anyhow::ensure!(
            found == config.secondaries,
            "{strategy} found {found} secondaries, expected {}",
            config.secondaries
        );
    }
    let (calls_after, requests_after, indexed_objects) = scrape(direct).await?;
    latencies.sort();
    let api_calls = if strategy == "kubectl-tree" {
        client_calls as f64 / requests as f64
    } else {
        (calls_after - calls_before) / (requests_after - requests_before).max(1.0)
    };
    Ok(Row {
        config,
        strategy,
        requests,
        p50: latencies[requests / 2],
        p99: latencies[(requests * 99 / 100).min(requests - 1)],
        api_calls,
        rss_mib: server_rss_mib(),
        indexed_objects,
    })
}

/// What kubectl-tree does on every run: discovery, then a parallel LIST of
/// every listable namespaced kind, and the ownership walk on the client.
async fn tree_client(client: &kube::Client) -> Result<(usize, usize)> {
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
    let calls = 2 + kinds.len();
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
        .unwrap_or_default();
    let found = objects
        .iter()
        .filter(|o| {
            o.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == primary_uid)
        })
        .count();
    Ok((found, calls))
}

/// Writes the CSV and the plots; prints the ratios the targets are about.
fn report(rows: &[Row], quick: bool) -> Result<()> {
    let dir = paths::workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    let (date, machine) = provenance();
    let mut csv = String::from(
        "date,machine,kinds,objects,secondaries,strategy,requests,p50_ms,p99_ms,api_calls_per_request,server_rss_mib,indexed_objects\n",
    );
    for r in rows {
        writeln!(
            csv,
            "{date},{machine},{},{},{},{},{},{:.3},{:.3},{:.2},{:.1},{}",
            r.config.kinds,
            r.config.objects,
            r.config.secondaries,
            r.strategy,
            r.requests,
            ms(r.p50),
            ms(r.p99),
            r.api_calls,
            r.rss_mib,
            r.indexed_objects
        )?;
    }
    std::fs::write(dir.join("results.csv"), &csv)?;
    step("Wrote", dir.join("results.csv").display());

    plots(rows, &dir)?;

    let mut table = format!(
        "Measured {date} on the project's machine ({machine}), {} requests per row, through kube-apiserver.\n\n",
        rows.first().map_or(0, |r| r.requests)
    );
    table.push_str("| K | M | S | strategy | p50 (ms) | p99 (ms) | API calls / answer | server RSS (MiB) |\n|---:|---:|---:|---|---:|---:|---:|---:|\n");
    for r in rows {
        writeln!(
            table,
            "| {} | {} | {} | `{}` | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.config.kinds,
            r.config.objects,
            r.config.secondaries,
            r.strategy,
            ms(r.p50),
            ms(r.p99),
            r.api_calls,
            r.rss_mib
        )?;
    }
    writeln!(table, "\n{}", ratios(rows))?;
    std::fs::write(dir.join("results.md"), &table)?;
    eprintln!("\n{}", ratios(rows));
    if !quick {
        let figures = paths::workspace_root().join("book/src/figures");
        std::fs::create_dir_all(&figures)?;
        std::fs::copy(dir.join("latency.svg"), figures.join("bench-latency.svg"))?;
        std::fs::copy(
            dir.join("api-calls.svg"),
            figures.join("bench-api-calls.svg"),
        )?;
        std::fs::write(figures.join("bench-results.md"), &table)?;
        step("Wrote", "the plots and the table into book/src/figures/");
    }
    Ok(())
}

/// When and where a run was measured: the UTC date, and the machine as
/// "N cores / M GiB" (no comma, as it is one field of a CSV).
pub(crate) fn provenance() -> (String, String) {
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let machine = format!(
        // No comma: the machine is one field of the CSV.
        "{} cores / {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m.lines().next().map(|l| l
                .split_whitespace()
                .nth(1)
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0)))
            .map_or("unknown memory".to_string(), |kb| format!(
                "{:.0} GiB",
                kb / 1024.0 / 1024.0
            ))
    );
    (date, machine)
}

/// The two figures of the cost curve, from the rows at M = 1,000, S = 5.
fn plots(rows: &[Row], dir: &std::path::Path) -> Result<()> {
    let curve: Vec<&Row> = rows
        .iter()
        .filter(|r| r.config.objects == 1_000 && r.config.secondaries == 5)
        .collect();
    plot(
        &dir.join("latency.svg"),
        &curve,
        "p50 latency (ms) against kinds in the cluster (M = 1,000, S = 5)",
        "p50 (ms)",
        |r| ms(r.p50).max(0.01),
    )?;
    plot(
        &dir.join("api-calls.svg"),
        &curve,
        "kube-apiserver calls per answer against kinds (M = 1,000, S = 5)",
        "API calls per answer",
        |r| r.api_calls.max(0.1),
    )
}

/// Redraws the book's figures from the CSV of the last full run, without
/// measuring again (for a change of the plots' style).
pub fn replot() -> Result<()> {
    let figures = paths::workspace_root().join("book/src/figures");
    let csv = std::fs::read_to_string(figures.join("bench-results.csv"))
        .context("book/src/figures/bench-results.csv is missing: run `cargo xtask bench` first")?;
    let mut rows = Vec::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(
            f.len() == 12,
            "a line of bench-results.csv has {} fields: {line}",
            f.len()
        );
        let strategy = STRATEGIES
            .into_iter()
            .find(|s| *s == f[5])
            .with_context(|| format!("unknown strategy {}", f[5]))?;
        let millis = |v: &str| -> Result<Duration> {
            Ok(Duration::from_secs_f64(v.parse::<f64>()? / 1000.0))
        };
        rows.push(Row {
            config: Config {
                kinds: f[2].parse()?,
                objects: f[3].parse()?,
                secondaries: f[4].parse()?,
            },
            strategy,
            requests: f[6].parse()?,
            p50: millis(f[7])?,
            p99: millis(f[8])?,
            api_calls: f[9].parse()?,
            rss_mib: f[10].parse()?,
            indexed_objects: f[11].parse()?,
        });
    }
    let dir = paths::workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    plots(&rows, &dir)?;
    std::fs::copy(dir.join("latency.svg"), figures.join("bench-latency.svg"))?;
    std::fs::copy(
        dir.join("api-calls.svg"),
        figures.join("bench-api-calls.svg"),
    )?;
    step("Wrote", "the plots into book/src/figures/");
    Ok(())
}

/// The ratios the performance targets are stated in, for every config.
fn ratios(rows: &[Row]) -> String {
    let mut out = String::from(
        "| K | M | S | list-all p50 / indexed p50 | indexed API calls / (1 + kinds holding secondaries) | indexed-cached p99 (ms) |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    let configs: Vec<Config> = rows
        .iter()
        .filter(|r| r.strategy == "list-all")
        .map(|r| r.config)
        .collect();
    for c in configs {
        let find = |s: &str| {
            rows.iter().find(|r| {
                r.strategy == s
                    && r.config.kinds == c.kinds
                    && r.config.objects == c.objects
                    && r.config.secondaries == c.secondaries
            })
        };
        if let (Some(list_all), Some(indexed), Some(cached)) =
            (find("list-all"), find("indexed"), find("indexed-cached"))
        {
            let holding = SECONDARY_KINDS.min(c.kinds).min(c.secondaries) as f64;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1}× | {:.2} | {:.1} |",
                c.kinds,
                c.objects,
                c.secondaries,
                list_all.p50.as_secs_f64() / indexed.p50.as_secs_f64().max(1e-9),
                indexed.api_calls / (1.0 + holding),
                ms(cached.p99)
            );
        }
    }
    out
}

fn plot(
    path: &std::path::Path,
    rows: &[&Row],
    title: &str,
    y_label: &str,
    value: impl Fn(&Row) -> f64,
) -> Result<()> {
    use plotters::prelude::*;
    let kinds: Vec<f64> = rows.iter().map(|r| r.config.kinds as f64).collect();
    let (x_min, x_max) = (
        kinds.iter().cloned().fold(f64::MAX, f64::min),
        kinds.iter().cloned().fold(0.0, f64::max),
    );
    let values: Vec<f64> = rows.iter().map(|r| value(r)).collect();
    let (y_min, y_max) = (
        values.iter().cloned().fold(f64::MAX, f64::min) / 2.0,
        values.iter().cloned().fold(0.0, f64::max) * 2.0,
    );
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let x_range = if x_max > x_min {
        (x_min * 0.8)..(x_max * 1.25)
    } else {
        (x_min * 0.5)..(x_min * 2.0)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(
            x_range.log_scale(),
            (y_min.max(1e-3)..y_max.max(1.0)).log_scale(),
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc("kinds served by the cluster (K)")
        .y_desc(y_label)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y}")
            }
        })
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let colours = [RED, BLACK, BLUE, GREEN];
    for (strategy, colour) in STRATEGIES.iter().zip(colours) {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.strategy == *strategy)
            .map(|r| (r.config.kinds as f64, value(r)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .label(*strategy)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}
