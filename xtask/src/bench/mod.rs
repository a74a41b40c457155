//! `cargo xtask bench`: what one answer costs, measured as users get it.
//!
//! The server under test is the release build running as the two Pods that
//! `cargo xtask install` makes, reached through kube-apiserver; the caller
//! is a user bound to the built-in `view` role (not `system:masters`, for
//! whom kube-apiserver skips authorization); API calls are counted by
//! kube-apiserver itself, per FlowSchema. The local control plane is grown
//! through the points of the matrix (K CRDs, M objects, a primary that owns
//! S secondaries); at each point every [`Case`] — the baselines, primary-all
//! in both consistencies, warm and cold callers, the peers — runs in
//! several series, each in a new shuffled order, and each case reports the
//! median of its series' p50 with their spread. Results go to
//! `target/bench/` (CSV, tables, plots); the full run also writes them into
//! `book/src/figures/`, which the book includes as they are.

pub(crate) mod caller;
mod cases;
pub(crate) mod count;
pub(crate) mod peers;
mod report;
mod seed;
pub(crate) mod server;
pub(crate) mod stats;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

pub(crate) use cases::Case;
pub use report::replot;
pub(crate) use seed::{Config, GROUP, NAMESPACE, reset, seed};

use crate::control_plane;
use crate::paths;
use crate::progress::{human, step};

/// One point of the matrix and what is measured there.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    /// K, M, S.
    pub(crate) config: Config,
    /// The cases run with the server's default strategy.
    pub(crate) cases: Vec<Case>,
    /// Whether the seed's `list-all` strategy is measured too (a rollout
    /// there and back).
    pub(crate) list_all: bool,
    /// Whether throughput at [`Plan::clients`] concurrent clients is measured.
    pub(crate) throughput: bool,
    /// Whether the Pods are restarted to time them to Ready and weigh their
    /// memory with nothing cached.
    pub(crate) restart: bool,
}

/// The whole run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) points: Vec<Point>,
    /// Series per case (each in a new shuffled order).
    pub(crate) series: usize,
    /// Requests per series of a cheap case.
    pub(crate) requests: usize,
    /// Requests per series of a case that lists every kind (the peers,
    /// `list-all`).
    pub(crate) expensive_requests: usize,
    /// Concurrent clients of the throughput measurement.
    pub(crate) clients: usize,
    /// Requests per client per series of the throughput measurement.
    pub(crate) per_client: usize,
    /// The seed of the shuffled orders.
    pub(crate) seed: u64,
}

/// Every case but `list-all`, which needs the Pods rolled out with its
/// strategy: what each point runs with the default strategy.
fn indexed_cases() -> Vec<Case> {
    Case::ALL
        .into_iter()
        .filter(|case| *case != Case::ListAll)
        .collect()
}

/// The cases at M = 100,000, where the peers and `list-all` would take
/// minutes per request: what the scale target is about.
const SCALE_CASES: [Case; 3] = [Case::Get, Case::Latest, Case::Cached];

impl Plan {
    /// The small run CI makes so the harness does not rot: the reference
    /// point only, every case, fewer requests.
    pub(crate) fn quick(seed: u64) -> Self {
        Self {
            points: vec![Point {
                config: Config {
                    kinds: 10,
                    objects: 1_000,
                    secondaries: 5,
                },
                cases: indexed_cases(),
                list_all: true,
                throughput: true,
                restart: false,
            }],
            series: 5,
            requests: 10,
            expensive_requests: 2,
            clients: 8,
            per_client: 10,
            seed,
        }
    }

    /// The run the book reports.
    pub(crate) fn full(seed: u64) -> Self {
        let point = |kinds, objects, secondaries| Point {
            config: Config {
                kinds,
                objects,
                secondaries,
            },
            cases: indexed_cases(),
            list_all: true,
            throughput: false,
            restart: false,
        };
        let mut reference = point(10, 1_000, 5);
        reference.throughput = true;
        let mut wide = point(200, 1_000, 5);
        wide.restart = true;
        let scale = Point {
            config: Config {
                kinds: 200,
                objects: 100_000,
                secondaries: 5,
            },
            cases: SCALE_CASES.to_vec(),
            list_all: false,
            throughput: false,
            restart: true,
        };
        Self {
            points: vec![
                reference,
                point(50, 1_000, 5),
                wide,
                point(50, 10_000, 5),
                point(50, 10_000, 50),
                scale,
            ],
            series: 5,
            requests: 40,
            expensive_requests: 8,
            clients: 8,
            per_client: 25,
            seed,
        }
    }

    fn requests_of(&self, case: Case) -> usize {
        match case {
            Case::TreeStyle | Case::KubeLineage | Case::ListAll => self.expensive_requests,
            _ => self.requests,
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub(crate) struct Results {
    /// Per point and case, one sample per series.
    pub(crate) samples: BTreeMap<(Config, Case), Vec<cases::Sample>>,
    /// Per point and case, requests per second, one per series.
    pub(crate) throughput: BTreeMap<(Config, Case), Vec<f64>>,
    /// Per restarted point: each new Pod's time from start to Ready, and
    /// each replica's resident memory once its answers were complete.
    pub(crate) restarts: BTreeMap<Config, (Vec<Duration>, Vec<f64>)>,
    /// The points, in the order they ran.
    pub(crate) points: Vec<Config>,
    /// The concurrent clients of the throughput measurement.
    pub(crate) clients: usize,
}

/// Runs the benchmark; `quick` is the small version CI runs.
pub fn run(quick: bool, seed: u64) -> Result<()> {
    let started = std::time::Instant::now();
    let plan = if quick {
        Plan::quick(seed)
    } else {
        Plan::full(seed)
    };
    let lineage = peers::ensure_kube_lineage()?;
    let was_up = control_plane::State::load().is_some() && control_plane::is_ready();
    control_plane::up()?;
    crate::install::local()?;
    let runtime = tokio::runtime::Runtime::new()?;
    // A cluster booted for the run is stopped and removed afterwards; only
    // one that was up before is cleaned (100,000 objects take minutes).
    let result = runtime.block_on(run_async(&plan, lineage, quick, was_up));
    // Whatever happened, the Pods go back to the default strategy.
    let restored = runtime.block_on(async {
        let admin = admin_client().await?;
        server::set_strategy(&admin, None).await
    });
    if !was_up {
        control_plane::down()?;
    }
    step(
        "Finished",
        format!("benchmark in {}", human(started.elapsed())),
    );
    result.and(restored)
}

async fn run_async(
    plan: &Plan,
    lineage: std::path::PathBuf,
    quick: bool,
    clean: bool,
) -> Result<()> {
    let admin_config = admin_config().await?;
    let admin = kube::Client::try_from(admin_config.clone())?;
    reset(&admin).await?;
    count::classify(&admin).await?;
    caller::bind_viewers(&admin).await?;
    let minter = caller::Minter::new(admin_config)?;
    let users = paths::workspace_root().join("target/bench/users");
    let lineage_kubeconfig = minter.kubeconfig("bench-viewer", &users)?;
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    let mut shuffle = stats::Shuffle::new(plan.seed);
    let mut results = Results {
        clients: plan.clients,
        ..Default::default()
    };

    for point in &plan.points {
        let config = point.config;
        seed(&admin, config).await?;
        let target = cases::Target {
            config,
            viewer: minter.client("bench-viewer")?,
            minter: &minter,
            lineage: (lineage.clone(), lineage_kubeconfig.clone()),
            admin: admin.clone(),
        };
        cases::wait_complete(&target, Case::Latest).await?;
        results.points.push(config);
        if point.restart {
            let ready = server::restart(&admin).await?;
            cases::wait_complete(&target, Case::Latest).await?;
            let rss = server::pod_rss_mib();
            step(
                "Restarted",
                format!(
                    "K={} M={}: Ready after {:?} s, resident {:?} MiB",
                    config.kinds,
                    config.objects,
                    ready.iter().map(Duration::as_secs).collect::<Vec<_>>(),
                    rss.iter().map(|m| m.round()).collect::<Vec<_>>()
                ),
            );
            results.restarts.insert(config, (ready, rss));
        }
        measure_series(
            plan,
            &target,
            &point.cases,
            &mut shuffle,
            &run,
            &mut results,
        )
        .await?;
        if point.throughput {
            let clients: Vec<kube::Client> = (0..plan.clients)
                .map(|_| minter.client("bench-viewer"))
                .collect::<Result<_>>()?;
            for series in 0..plan.series {
                let mut order = vec![Case::Get, Case::GroupVersion, Case::Latest, Case::Cached];
                shuffle.shuffle(&mut order);
                for case in order {
                    let per_second =
                        cases::throughput(&target, case, &clients, plan.per_client).await?;
                    results
                        .throughput
                        .entry((config, case))
                        .or_default()
                        .push(per_second);
                }
                step(
                    "Throughput",
                    format!(
                        "series {}/{} at {} clients done",
                        series + 1,
                        plan.series,
                        plan.clients
                    ),
                );
            }
        }
        if point.list_all {
            server::set_strategy(&admin, Some("list-all")).await?;
            cases::wait_complete(&target, Case::ListAll).await?;
            measure_series(
                plan,
                &target,
                &[Case::ListAll],
                &mut shuffle,
                &run,
                &mut results,
            )
            .await?;
            server::set_strategy(&admin, None).await?;
        }
        report::print_point(&results, config);
    }
    report::write(&results, plan, quick)?;
    if clean {
        step("Cleaning", "the seeded namespace and CRDs");
        reset(&admin).await?;
    }
    Ok(())
}

/// Every case of `cases` in `plan.series` series, each in a new order.
async fn measure_series(
    plan: &Plan,
    target: &cases::Target<'_>,
    cases: &[Case],
    shuffle: &mut stats::Shuffle,
    run: &str,
    results: &mut Results,
) -> Result<()> {
    let config = target.config;
    for series in 0..plan.series {
        let mut order = cases.to_vec();
        shuffle.shuffle(&mut order);
        for case in &order {
            let sample = cases::sample(
                target,
                *case,
                plan.requests_of(*case),
                &format!(
                    "{run}-{}-{}-{}-{series}",
                    config.kinds, config.objects, config.secondaries
                ),
            )
            .await?;
            results
                .samples
                .entry((config, *case))
                .or_default()
                .push(sample);
        }
        step(
            "Series",
            format!(
                "{}/{} at K={} M={} S={} done ({})",
                series + 1,
                plan.series,
                config.kinds,
                config.objects,
                config.secondaries,
                order
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Ok(())
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
