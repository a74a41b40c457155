//! `cargo xtask load`: a bounded load test of the primary route on loopback.
//!
//! Seeds a modest cluster (the benchmark's seeding, at K = 5, M = 200,
//! S = 5), then for each concurrency level N sends a fixed number of
//! requests for the primary with its secondaries, by two routes: through
//! kube-apiserver as a user bound to the `view` role (the benchmark's
//! caller), and straight to one of the installed Pods as kube-apiserver's
//! front proxy calls it, naming that user. The server is the release build
//! as `cargo xtask install` runs it. Every level is bounded in
//! count and in time. Measures throughput, p50, p99, max and errors per level,
//! and the extension server's RSS before the first level and after the last.
//! Results go to `target/load/`; the full run also writes them into the book.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::bench::stats::percentile;
use crate::bench::{self, ms};
use crate::control_plane;
use crate::paths;
use crate::plot;
use crate::progress::{human, step};

/// What the load test seeds: a primary owning 5 secondaries (of 5 kinds),
/// among 200 background objects.
const SEED: bench::Config = bench::Config {
    kinds: 5,
    objects: 200,
    secondaries: 5,
};
/// The user both routes ask as.
const VIEWER: &str = "load-viewer";
/// How often a level in progress says how far it got.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// RSS growth beyond `LEAK_FACTOR × before + LEAK_SLACK_MIB` fails the run:
/// it would suggest that the server keeps something per request.
const LEAK_FACTOR: f64 = 3.0;
/// See [`LEAK_FACTOR`].
const LEAK_SLACK_MIB: f64 = 64.0;

/// How much load, and for how long at most.
#[derive(Debug, Clone)]
struct Plan {
    levels: Vec<usize>,
    requests: usize,
    deadline: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                levels: vec![2, 4, 8],
                requests: 200,
                deadline: Duration::from_secs(30),
            }
        } else {
            Self {
                levels: vec![1, 2, 4, 8, 16, 32],
                requests: 2_000,
                deadline: Duration::from_secs(120),
            }
        }
    }
}

/// The two ways a request reaches the extension server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// kubectl's way: the viewer's client, through kube-apiserver.
    Apiserver,
    /// kube-apiserver's way: TLS with the front-proxy client certificate and
    /// `X-Remote-*` headers, straight to the extension server.
    Straight,
}

impl Route {
    const ALL: [Route; 2] = [Route::Apiserver, Route::Straight];

    fn label(self) -> &'static str {
        match self {
            Route::Apiserver => "kube-apiserver",
            Route::Straight => "straight",
        }
    }
}

/// One measured level: a route at a concurrency.
#[derive(Debug, Clone)]
struct Level {
    route: Route,
    concurrency: usize,
    /// Requests planned.
    requests: usize,
    /// Requests answered (any status) or failed before the deadline.
    completed: usize,
    /// Non-200 answers and transport errors.
    errors: usize,
    /// The first error, for the report.
    first_error: Option<String>,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// The extension server's RSS after the level.
    rss_mib: f64,
}

impl Level {
    fn throughput(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn deadline_hit(&self) -> bool {
        self.completed < self.requests
    }
}

/// Runs the load test; `quick` is the small version CI runs.
pub fn run(quick: bool) -> Result<()> {
    let started = Instant::now();
    let was_up = control_plane::State::load().is_some() && control_plane::is_ready();
    control_plane::up()?;
    crate::install::local()?;
    let pod = crate::install::a_pod_address()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(run_async(quick, pod));
    if !was_up {
        control_plane::down()?;
    }
    step(
        "Finished",
        format!("load test in {}", human(started.elapsed())),
    );
    result
}

async fn run_async(quick: bool, pod: String) -> Result<()> {
    let plan = Plan::new(quick);
    let admin_config = bench::admin_config().await?;
    let admin = kube::Client::try_from(admin_config.clone())?;
    bench::caller::bind_viewers(&admin).await?;
    let through = {
        let mut config = bench::caller::Minter::new(admin_config)?.config(VIEWER)?;
        // Every failure counts: no retries of 429s and 503s.
        config.default_retry = false;
        kube::Client::try_from(config)?
    };
    let straight = straight_client(&pod)?;
    wait_ready(&straight).await?;
    bench::seed(&admin, SEED).await?;
    let path = format!(
        "/apis/primary-all/v1/namespaces/{}/bench0s.{}/primary",
        bench::NAMESPACE,
        bench::GROUP
    );
    warm_up(
        &[(Route::Apiserver, &through), (Route::Straight, &straight)],
        &path,
    )
    .await?;

    let rss_before = server_rss_mib();
    step(
        "Loading",
        format!(
            "{} levels × {} routes, {} requests each, at most {} s each; server RSS {rss_before:.1} MiB",
            plan.levels.len(),
            Route::ALL.len(),
            plan.requests,
            plan.deadline.as_secs()
        ),
    );
    // The time under load, not the run's: a first run on a machine also
    // builds the control plane, which says nothing about the server.
    let loading = Instant::now();
    let mut levels = Vec::new();
    for &concurrency in &plan.levels {
        for route in Route::ALL {
            let client = match route {
                Route::Apiserver => &through,
                Route::Straight => &straight,
            };
            let level = measure(client, route, &path, concurrency, &plan).await;
            eprintln!("{:>12} {}", "Measured", row_line(&level));
            if level.deadline_hit() {
                step(
                    "Deadline",
                    format!(
                        "N={concurrency} {}: {} of {} requests in {} s; the level stopped there",
                        route.label(),
                        level.completed,
                        level.requests,
                        plan.deadline.as_secs()
                    ),
                );
            }
            levels.push(level);
        }
    }
    let rss_after = server_rss_mib();

    step("Cleaning", "the seeded namespace and CRDs");
    bench::reset(&admin).await?;
    report(
        &levels,
        &plan,
        rss_before,
        rss_after,
        loading.elapsed(),
        quick,
    )?;
    verdict(&levels, rss_before, rss_after)
}

/// A client that calls the extension server as kube-apiserver's front proxy
/// does: with its client certificate (the caller is then named by headers).
fn straight_client(pod: &str) -> Result<kube::Client> {
    let mut config = direct_config(pod)?;
    let pki = control_plane::pki::Pki::at(paths::control_plane_dir().join("pki"));
    config.auth_info.client_certificate =
        Some(pki.path("front-proxy-client.crt").display().to_string());
    config.auth_info.client_key = Some(pki.path("front-proxy-client.key").display().to_string());
    config.default_retry = false;
    Ok(kube::Client::try_from(config)?)
}

/// One request for the primary; `Ok` with the body on 200, `Err` with what
/// went wrong otherwise.
async fn ask(client: &kube::Client, route: Route, path: &str) -> Result<Vec<u8>, String> {
    let mut request = http::Request::get(path);
    if route == Route::Straight {
        // What kube-apiserver's front proxy says about the viewer.
        request = request
            .header("X-Remote-User", VIEWER)
            .header("X-Remote-Group", bench::caller::VIEWERS)
            .header("X-Remote-Group", "system:authenticated");
    }
    let request = request
        .body(kube::client::Body::empty())
        .map_err(|e| e.to_string())?;
    let response = client.send(request).await.map_err(|e| e.to_string())?;
    let code = response.status();
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(|e| format!("{code}, body unreadable: {e}"))?;
    if code != http::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        return Err(format!(
            "{code}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    Ok(body.to_vec())
}

/// Asks by every route until the answer holds every seeded secondary (the
/// server's index has caught up with the seeding), for at most 60 s.
async fn warm_up(routes: &[(Route, &kube::Client)], path: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    step(
        "Warming",
        format!(
            "until both routes answer with the {} secondaries",
            SEED.secondaries
        ),
    );
    for (route, client) in routes {
        loop {
            let answer = ask(client, *route, path).await;
            let found = answer
                .as_ref()
                .ok()
                .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                .and_then(|v| v["sec_res"]["items"].as_array().map(Vec::len));
            if found == Some(SEED.secondaries) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: after 60 s the answer still does not hold the {} secondaries: {}",
                    route.label(),
                    SEED.secondaries,
                    match answer {
                        Ok(_) => format!("{found:?} found"),
                        Err(err) => err,
                    }
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// Sends `plan.requests` requests from `concurrency` workers, until all are
/// answered or the level's deadline passes (requests in flight then are cut
/// and not counted).
async fn measure(
    client: &kube::Client,
    route: Route,
    path: &str,
    concurrency: usize,
    plan: &Plan,
) -> Level {
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + plan.deadline);
    let issued = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, path) = (client.clone(), path.to_string());
            let (issued, completed) = (issued.clone(), completed.clone());
            let requests = plan.requests;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                while issued.fetch_add(1, Ordering::Relaxed) < requests {
                    let sent = Instant::now();
                    match tokio::time::timeout_at(deadline, ask(&client, route, &path)).await {
                        Err(_) => break,
                        Ok(answer) => {
                            latencies.push(sent.elapsed());
                            if let Err(err) = answer {
                                errors.push(err);
                            }
                            completed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = std::pin::pin!(futures::future::join_all(workers));
    let results = loop {
        tokio::select! {
            results = &mut all => break results,
            () = tokio::time::sleep(HEARTBEAT) => eprintln!(
                "             … N={concurrency} {}: {} of {} answered ({})",
                route.label(),
                completed.load(Ordering::Relaxed),
                plan.requests,
                human(started.elapsed())
            ),
        }
    };
    let elapsed = started.elapsed();
    let mut latencies = Vec::with_capacity(plan.requests);
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok((l, e)) => {
                latencies.extend(l);
                errors.extend(e);
            }
            Err(panicked) => errors.push(format!("a worker failed: {panicked}")),
        }
    }
    latencies.sort();
    Level {
        route,
        concurrency,
        requests: plan.requests,
        completed: latencies.len(),
        errors: errors.len(),
        first_error: errors.into_iter().next(),
        elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        rss_mib: server_rss_mib(),
    }
}

/// p99(N) / p99(N/2) per route, for each level whose half was measured.
fn p99_ratios(levels: &[Level]) -> Vec<(Route, usize, f64)> {
    levels
        .iter()
        .filter_map(|l| {
            let half = levels.iter().find(|h| {
                h.route == l.route && h.concurrency * 2 == l.concurrency && !h.p99.is_zero()
            })?;
            Some((
                l.route,
                l.concurrency,
                l.p99.as_secs_f64() / half.p99.as_secs_f64(),
            ))
        })
        .collect()
}

/// One sentence on how the p99 grew as the clients doubled (`ratios` as
/// [`p99_ratios`] gives them), per route: the
/// largest ratio and which doublings, if any, went past the factor of two
/// that Little's law allows at a fixed throughput. The book reads the
/// table through it, so that its prose types no ratio of its own.
fn doublings_line(ratios: &[(Route, usize, f64)]) -> String {
    let parts: Vec<String> = Route::ALL
        .iter()
        .filter_map(|route| {
            let own: Vec<&(Route, usize, f64)> =
                ratios.iter().filter(|(r, _, _)| r == route).collect();
            let (_, at, largest) = own.iter().max_by(|a, b| a.2.total_cmp(&b.2))?;
            let past: Vec<String> = own
                .iter()
                .filter(|(_, _, x)| *x > 2.0)
                .map(|(_, n, _)| format!("{} → {n}", n / 2))
                .collect();
            let past = if past.is_empty() {
                "no doubling past 2".to_string()
            } else {
                format!("past 2 at {}", past.join(", "))
            };
            Some(format!(
                "{}: at most {largest:.2} (N = {at}), {past}",
                route.label()
            ))
        })
        .collect();
    format!(
        "p99 growth per doubling of the clients: {}.",
        parts.join("; ")
    )
}

fn row_line(l: &Level) -> String {
    format!(
        "N={:<3} {:<15} {:>5}/{:<5} in {:>6.1} s  {:>7.1} req/s  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  {} errors  RSS {:.1} MiB",
        l.concurrency,
        l.route.label(),
        l.completed,
        l.requests,
        l.elapsed.as_secs_f64(),
        l.throughput(),
        ms(l.p50),
        ms(l.p99),
        ms(l.max),
        l.errors,
        l.rss_mib
    )
}

fn csv(levels: &[Level], date: &str, machine: &str) -> String {
    let mut out = String::from(
        "date,machine,route,concurrency,requests,completed,errors,seconds,throughput_rps,p50_ms,p99_ms,max_ms,server_rss_mib\n",
    );
    for l in levels {
        let _ = writeln!(
            out,
            "{date},{machine},{},{},{},{},{},{:.3},{:.1},{:.3},{:.3},{:.3},{:.1}",
            l.route.label(),
            l.concurrency,
            l.requests,
            l.completed,
            l.errors,
            l.elapsed.as_secs_f64(),
            l.throughput(),
            ms(l.p50),
            ms(l.p99),
            ms(l.max),
            l.rss_mib
        );
    }
    out
}

fn markdown(
    levels: &[Level],
    plan: &Plan,
    (date, machine): (&str, &str),
    (rss_before, rss_after): (f64, f64),
    under_load: Duration,
) -> String {
    let mut out = format!(
        "Measured {date} on the project's machine ({machine}): {} requests per level, at most {} s per level, \
         for the primary with {} secondaries (K = {}, M = {}). The extension server is the release build \
         as two Pods (`cargo xtask install`), with its default strategy; the caller is a user bound to \
         the built-in `view` role, through kube-apiserver or named by the front proxy's headers straight \
         to one Pod; the server's RSS is the larger of its two replicas'. The load generator, etcd and \
         kube-apiserver share the machine's cores with it.\n\n",
        plan.requests,
        plan.deadline.as_secs(),
        SEED.secondaries,
        SEED.kinds,
        SEED.objects
    );
    out.push_str("| route | N | answered | errors | req/s | p50 (ms) | p99 (ms) | max (ms) | p99 / p99 at N/2 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let ratios = p99_ratios(levels);
    for route in Route::ALL {
        for l in levels.iter().filter(|l| l.route == route) {
            let ratio = ratios
                .iter()
                .find(|(r, n, _)| *r == route && *n == l.concurrency)
                .map_or("".to_string(), |(_, _, x)| format!("{x:.2}"));
            let _ = writeln!(
                out,
                "| {} | {} | {}/{} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {ratio} |",
                route.label(),
                l.concurrency,
                l.completed,
                l.requests,
                l.errors,
                l.throughput(),
                ms(l.p50),
                ms(l.p99),
                ms(l.max)
            );
        }
    }
    let _ = writeln!(out, "\n{}", doublings_line(&ratios));
    let _ = writeln!(
        out,
        "\nExtension server RSS: {rss_before:.1} MiB before the first level, {rss_after:.1} MiB after the last. Time under load, every level by both routes: {}.",
        human(under_load)
    );
    out
}

/// Writes the CSV, the table and the plots, and prints the table.
fn report(
    levels: &[Level],
    plan: &Plan,
    rss_before: f64,
    rss_after: f64,
    under_load: Duration,
    quick: bool,
) -> Result<()> {
    let dir = paths::workspace_root().join("target").join("load");
    std::fs::create_dir_all(&dir)?;
    let (date, machine) = bench::provenance();
    let table = markdown(
        levels,
        plan,
        (&date, &machine),
        (rss_before, rss_after),
        under_load,
    );
    let files = [
        ("load-results.csv", csv(levels, &date, &machine)),
        ("load-results.md", table.clone()),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text)?;
    }
    plot(
        &dir.join("load-throughput.svg"),
        levels,
        "throughput (requests/s) against concurrency",
        "requests per second",
        Level::throughput,
    )?;
    plot(
        &dir.join("load-p99.svg"),
        levels,
        "p99 latency (ms) against concurrency",
        "p99 (ms)",
        |l| ms(l.p99),
    )?;
    step("Wrote", format!("{}/load-*", dir.display()));
    eprintln!("\n{table}");
    if !quick {
        let figures = paths::workspace_root().join("book/src/figures");
        std::fs::create_dir_all(&figures)?;
        for (name, text) in &files {
            std::fs::write(figures.join(name), text)?;
        }
        for name in ["load-throughput.svg", "load-p99.svg"] {
            std::fs::copy(dir.join(name), figures.join(name))?;
        }
        step(
            "Wrote",
            "the table, the CSV and the plots into book/src/figures/",
        );
    }
    Ok(())
}

/// The targets: 0 errors (fails), p99 against concurrency (reported), RSS
/// growth (fails beyond a leak's size).
fn verdict(levels: &[Level], rss_before: f64, rss_after: f64) -> Result<()> {
    for route in Route::ALL {
        let steps: Vec<String> = p99_ratios(levels)
            .iter()
            .filter(|(r, _, _)| *r == route)
            .map(|(_, n, x)| format!("{}→{n}: {x:.2}", n / 2))
            .collect();
        step(
            "p99 ratio",
            format!(
                "{} (p99(N) / p99(N/2); 1.0 is flat, 2.0 is queueing): {}",
                route.label(),
                steps.join(", ")
            ),
        );
    }
    let rss_limit = rss_limit_mib(rss_before);
    step(
        "RSS",
        format!(
            "{rss_before:.1} MiB before, {rss_after:.1} MiB after ({:.2}×; a leak is suspected beyond {rss_limit:.0} MiB)",
            rss_after / rss_before.max(1e-9)
        ),
    );
    let failed: Vec<&Level> = levels.iter().filter(|l| l.errors > 0).collect();
    let deadlines: Vec<String> = levels
        .iter()
        .filter(|l| l.deadline_hit())
        .map(|l| format!("N={} {}", l.concurrency, l.route.label()))
        .collect();
    if !deadlines.is_empty() {
        step(
            "Deadline",
            format!("hit at {} (reported, not failed)", deadlines.join(", ")),
        );
    }
    if !failed.is_empty() {
        let mut message = String::from("requests failed under load:");
        for l in failed {
            let _ = write!(
                message,
                "\n  N={} {}: {} errors, the first: {}",
                l.concurrency,
                l.route.label(),
                l.errors,
                l.first_error.as_deref().unwrap_or("?")
            );
        }
        bail!(message);
    }
    if rss_after > rss_limit {
        bail!(
            "the extension server's RSS grew from {rss_before:.1} MiB to {rss_after:.1} MiB \
             (more than {LEAK_FACTOR}× + {LEAK_SLACK_MIB} MiB): a leak? Its log: {}",
            control_plane::component("extension-server").log().display()
        );
    }
    step("Passed", "0 errors, RSS within bounds");
    Ok(())
}

fn rss_limit_mib(before: f64) -> f64 {
    LEAK_FACTOR * before + LEAK_SLACK_MIB
}

/// One figure: `value` against concurrency, a line per route.
fn plot(
    path: &Path,
    levels: &[Level],
    title: &str,
    y_label: &str,
    value: impl Fn(&Level) -> f64,
) -> Result<()> {
    use plotters::style::{BLUE, RED};
    let lines: Vec<plot::Line> = Route::ALL
        .into_iter()
        .zip([BLUE, RED])
        .map(|(route, colour)| plot::Line {
            label: route.label().to_string(),
            colour,
            points: levels
                .iter()
                .filter(|l| l.route == route)
                .map(|l| (l.concurrency as f64, value(l)))
                .collect(),
        })
        .collect();
    let figure = plot::Figure {
        title,
        x_desc: "concurrent clients (N)",
        y_desc: y_label,
        y_log: false,
        x_labels: 8,
        size: (720, 420),
    };
    plot::lines(path, &figure, &lines)
}

/// The configuration of a client of one installed Pod: its address, the
/// serving CA, and the Service's name (a Pod's address is in no certificate).
fn direct_config(pod: &str) -> Result<kube::Config> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let ca = paths::control_plane_dir()
        .join("pki")
        .join("extension-ca.crt");
    let roots: Vec<Vec<u8>> = CertificateDer::pem_file_iter(&ca)?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()?;
    let mut config = kube::Config::new(format!("https://{pod}:8443").parse()?);
    config.root_cert = Some(roots);
    config.tls_server_name = Some(crate::install::SERVICE_NAMES[0].to_string());
    Ok(config)
}

/// Waits until the Pod says it is ready (its watches synced).
async fn wait_ready(direct: &kube::Client) -> Result<()> {
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

/// The largest resident memory of the installed replicas (MiB), 0 when
/// none runs.
fn server_rss_mib() -> f64 {
    bench::server::pod_rss_mib().into_iter().fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(route: Route, concurrency: usize, p99_ms: u64) -> Level {
        Level {
            route,
            concurrency,
            requests: 100,
            completed: 100,
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(2),
            p50: Duration::from_millis(p99_ms / 2),
            p99: Duration::from_millis(p99_ms),
            max: Duration::from_millis(p99_ms * 2),
            rss_mib: 40.0,
        }
    }

    #[test]
    fn p99_ratios_compare_each_level_with_its_half_on_the_same_route() {
        let levels = vec![
            level(Route::Apiserver, 2, 10),
            level(Route::Straight, 2, 4),
            level(Route::Apiserver, 4, 15),
            level(Route::Straight, 4, 8),
            level(Route::Apiserver, 16, 99),
        ];
        let ratios = p99_ratios(&levels);
        assert_eq!(ratios.len(), 2, "{ratios:?}");
        assert_eq!((ratios[0].0, ratios[0].1), (Route::Apiserver, 4));
        assert!((ratios[0].2 - 1.5).abs() < 1e-9);
        assert_eq!((ratios[1].0, ratios[1].1), (Route::Straight, 4));
        assert!((ratios[1].2 - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_doublings_line_names_the_largest_ratio_and_every_doubling_past_two() {
        let levels = vec![
            level(Route::Apiserver, 2, 10),
            level(Route::Apiserver, 4, 15),
            level(Route::Apiserver, 8, 40),
            level(Route::Straight, 2, 4),
            level(Route::Straight, 4, 6),
        ];
        assert_eq!(
            doublings_line(&p99_ratios(&levels)),
            "p99 growth per doubling of the clients: \
             kube-apiserver: at most 2.67 (N = 8), past 2 at 4 → 8; \
             straight: at most 1.50 (N = 4), no doubling past 2."
        );
    }

    #[test]
    fn errors_fail_the_run_and_name_the_first() {
        let mut bad = level(Route::Straight, 8, 10);
        bad.errors = 3;
        bad.first_error = Some("503 Service Unavailable: …".to_string());
        let err = verdict(&[level(Route::Apiserver, 8, 10), bad], 40.0, 41.0).unwrap_err();
        assert!(err.to_string().contains("N=8 straight: 3 errors"), "{err}");
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[test]
    fn only_a_leak_sized_growth_of_rss_fails() {
        let levels = [level(Route::Apiserver, 2, 10)];
        verdict(&levels, 40.0, 150.0).unwrap();
        let err = verdict(&levels, 40.0, 200.0).unwrap_err();
        assert!(err.to_string().contains("a leak?"), "{err}");
    }

    #[test]
    fn a_cut_level_is_reported_as_such() {
        let mut cut = level(Route::Apiserver, 32, 10);
        cut.completed = 40;
        assert!(cut.deadline_hit());
        assert!((cut.throughput() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn the_csv_has_one_row_per_level_and_no_stray_commas() {
        let levels = [level(Route::Apiserver, 1, 10), level(Route::Straight, 1, 5)];
        let text = csv(&levels, "2026-01-01", "2 cores / 24 GiB");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let columns = lines[0].split(',').count();
        assert!(
            lines.iter().all(|l| l.split(',').count() == columns),
            "{text}"
        );
        assert!(lines[2].contains(",straight,1,100,100,0,"), "{text}");
    }

    #[test]
    fn the_plots_are_svg() {
        let dir = std::env::temp_dir().join(format!("primary-all-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let levels = [
            level(Route::Apiserver, 1, 10),
            level(Route::Apiserver, 2, 12),
            level(Route::Straight, 1, 5),
            level(Route::Straight, 2, 6),
        ];
        let path = dir.join("p99.svg");
        plot(&path, &levels, "p99", "ms", |l| ms(l.p99)).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
