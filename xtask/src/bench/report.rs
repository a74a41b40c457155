//! What a run writes: the CSV files, the tables the book includes, the
//! targets met or missed, and the plots.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::stats::{Spread, percentile};
use super::{Case, Config, Plan, Results, ms, provenance};
use crate::paths;
use crate::plot;
use crate::progress::step;

/// One case at one point, summarised over its series.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) config: Config,
    pub(crate) case: Case,
    pub(crate) series: usize,
    pub(crate) requests: usize,
    /// The series' p50 (ms).
    pub(crate) p50: Spread,
    /// The p99 of every request of every series (ms).
    pub(crate) p99: f64,
    /// Requests of the server's ServiceAccount per request, as kube-apiserver counted them.
    pub(crate) server_calls: f64,
    /// Requests of the caller per request, as kube-apiserver counted them.
    pub(crate) caller_calls: f64,
}

impl Row {
    /// The API calls one answer costs kube-apiserver: the caller's own
    /// requests and, for primary-all's answers, the server's on its behalf.
    pub(crate) fn api_calls(&self) -> f64 {
        self.caller_calls + self.server_calls
    }
}

fn rows(results: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    for config in &results.points {
        for case in Case::ALL {
            let Some(samples) = results.samples.get(&(*config, case)) else {
                continue;
            };
            let p50s: Vec<f64> = samples.iter().map(|s| s.p50()).collect();
            let mut all: Vec<Duration> = samples.iter().flat_map(|s| s.latencies.clone()).collect();
            all.sort();
            let requests = samples.first().map_or(0, |s| s.latencies.len());
            let per_request = |f: &dyn Fn(&super::cases::Sample) -> f64| {
                Spread::of(
                    &samples
                        .iter()
                        .map(|s| f(s) / s.latencies.len().max(1) as f64)
                        .collect::<Vec<_>>(),
                )
                .map_or(0.0, |s| s.median)
            };
            let Some(p50) = Spread::of(&p50s) else {
                continue;
            };
            rows.push(Row {
                config: *config,
                case,
                series: samples.len(),
                requests,
                p50,
                p99: ms(percentile(&all, 0.99)),
                server_calls: per_request(&|s| s.dispatched.server),
                caller_calls: per_request(&|s| s.dispatched.callers),
            });
        }
    }
    rows
}

/// Prints what one point measured, as it finishes.
pub(crate) fn print_point(results: &Results, config: Config) {
    for row in rows(results).into_iter().filter(|r| r.config == config) {
        eprintln!(
            "{:>12} K={:<4} M={:<6} S={:<3} {:<13} p50 {:>9.2} ms [{:.2}–{:.2}]  p99 {:>9.2} ms  calls {:>5.1} (server {:.1})",
            "Measured",
            config.kinds,
            config.objects,
            config.secondaries,
            row.case.name(),
            row.p50.median,
            row.p50.min,
            row.p50.max,
            row.p99,
            row.api_calls(),
            row.server_calls,
        );
    }
}

/// Writes everything into `target/bench/`, and into the book after a full run.
pub(crate) fn write(results: &Results, plan: &Plan, quick: bool) -> Result<()> {
    let dir = paths::workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    let (date, machine) = provenance();
    let rows = rows(results);

    std::fs::write(dir.join("results.csv"), csv(&rows, &date, &machine))?;
    let throughput = throughput_csv(results, &date, &machine);
    std::fs::write(dir.join("throughput.csv"), &throughput)?;
    let restarts = restarts_csv(results, &date, &machine);
    std::fs::write(dir.join("restarts.csv"), &restarts)?;
    let method = format!(
        "Measured {date} on the project's machine ({machine}): the release build of primary-all as \
         two Pods, reached through kube-apiserver; the caller a user bound to the built-in `view` \
         role; {} series per case, each in a new shuffled order (seed {}); {} requests per series \
         ({} for the cases that list every kind); p50 is the median of the series' p50 with the \
         smallest and largest in brackets; API calls are kube-apiserver's own count \
         (`apiserver_flowcontrol_dispatched_requests_total` of the caller's and the server's \
         FlowSchemas) per request.\n",
        plan.series, plan.seed, plan.requests, plan.expensive_requests
    );
    let table = format!("{method}\n{}", results_table(&rows));
    std::fs::write(dir.join("results.md"), &table)?;
    let scale = scale_table(results);
    std::fs::write(dir.join("scale.md"), &scale)?;
    let targets = targets(results);
    std::fs::write(dir.join("targets.md"), &targets)?;
    plots(&rows, &dir)?;
    step(
        "Wrote",
        format!(
            "{}: results, throughput, restarts, targets, plots",
            dir.display()
        ),
    );
    eprintln!("\n{targets}");

    if !quick {
        let figures = paths::workspace_root().join("book/src/figures");
        std::fs::create_dir_all(&figures)?;
        std::fs::copy(dir.join("results.csv"), figures.join("bench-results.csv"))?;
        std::fs::copy(
            dir.join("throughput.csv"),
            figures.join("bench-throughput.csv"),
        )?;
        std::fs::copy(dir.join("restarts.csv"), figures.join("bench-restarts.csv"))?;
        std::fs::write(figures.join("bench-results.md"), &table)?;
        std::fs::write(figures.join("bench-scale.md"), &scale)?;
        std::fs::write(figures.join("bench-targets.md"), &targets)?;
        std::fs::copy(dir.join("latency.svg"), figures.join("bench-latency.svg"))?;
        std::fs::copy(
            dir.join("api-calls.svg"),
            figures.join("bench-api-calls.svg"),
        )?;
        step(
            "Wrote",
            "the tables, CSV files and plots into book/src/figures/",
        );
    }
    Ok(())
}

const CSV_HEADER: &str = "date,machine,build,caller,kinds,objects,secondaries,case,series,requests_per_series,p50_ms,p50_min_ms,p50_max_ms,p99_ms,server_calls_per_request,caller_calls_per_request\n";

fn csv(rows: &[Row], date: &str, machine: &str) -> String {
    let mut csv = String::from(CSV_HEADER);
    for r in rows {
        let _ = writeln!(
            csv,
            "{date},{machine},release,view,{},{},{},{},{},{},{:.3},{:.3},{:.3},{:.3},{:.2},{:.2}",
            r.config.kinds,
            r.config.objects,
            r.config.secondaries,
            r.case.name(),
            r.series,
            r.requests,
            r.p50.median,
            r.p50.min,
            r.p50.max,
            r.p99,
            r.server_calls,
            r.caller_calls
        );
    }
    csv
}

fn throughput_csv(results: &Results, date: &str, machine: &str) -> String {
    let mut csv = String::from(
        "date,machine,kinds,objects,secondaries,case,clients,series,per_second,per_second_min,per_second_max\n",
    );
    for ((config, case), values) in &results.throughput {
        if let Some(spread) = Spread::of(values) {
            let _ = writeln!(
                csv,
                "{date},{machine},{},{},{},{},{},{},{:.1},{:.1},{:.1}",
                config.kinds,
                config.objects,
                config.secondaries,
                case.name(),
                results.clients,
                values.len(),
                spread.median,
                spread.min,
                spread.max
            );
        }
    }
    csv
}

fn restarts_csv(results: &Results, date: &str, machine: &str) -> String {
    let mut csv =
        String::from("date,machine,kinds,objects,replica,seconds_to_ready,resident_mib\n");
    for (config, (ready, rss)) in &results.restarts {
        for (replica, seconds) in ready.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{date},{machine},{},{},{replica},{},{:.1}",
                config.kinds,
                config.objects,
                seconds.as_secs(),
                rss.get(replica).copied().unwrap_or(f64::NAN)
            );
        }
    }
    csv
}

fn results_table(rows: &[Row]) -> String {
    let mut table = String::from(
        "| K | M | S | case | p50 (ms) | p99 (ms) | API calls / request | of them the server's |\n|---:|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            table,
            "| {} | {} | {} | `{}` | {:.1} [{:.1}–{:.1}] | {:.1} | {:.1} | {:.1} |",
            r.config.kinds,
            r.config.objects,
            r.config.secondaries,
            r.case.name(),
            r.p50.median,
            r.p50.min,
            r.p50.max,
            r.p99,
            r.api_calls(),
            r.server_calls
        );
    }
    table
}

fn scale_table(results: &Results) -> String {
    let mut table = String::from(
        "| K | M | seconds from start to Ready (each replica) | resident memory (MiB, each replica) |\n|---:|---:|---|---|\n",
    );
    for (config, (ready, rss)) in &results.restarts {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} |",
            config.kinds,
            config.objects,
            ready
                .iter()
                .map(|d| d.as_secs().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            rss.iter()
                .map(|m| format!("{m:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !results.throughput.is_empty() {
        let _ = writeln!(
            table,
            "\nRequests per second at {} concurrent clients (median of the series, smallest and largest in brackets):\n\n| K | M | S | case | requests / s |\n|---:|---:|---:|---|---:|",
            results.clients
        );
        for ((config, case), values) in &results.throughput {
            if let Some(s) = Spread::of(values) {
                let _ = writeln!(
                    table,
                    "| {} | {} | {} | `{}` | {:.0} [{:.0}–{:.0}] |",
                    config.kinds,
                    config.objects,
                    config.secondaries,
                    case.name(),
                    s.median,
                    s.min,
                    s.max
                );
            }
        }
    }
    table
}

/// The series' p50 of one case at one point (ms), in series order.
fn p50s(results: &Results, config: Config, case: Case) -> Option<Vec<f64>> {
    let samples = results.samples.get(&(config, case))?;
    Some(samples.iter().map(|s| s.p50()).collect())
}

/// `a ÷ b` per series (the i-th series of both ran in the same round),
/// summarised.
fn ratio(a: &[f64], b: &[f64]) -> Option<Spread> {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    Spread::of(&ratios)
}

/// One target, met or missed.
struct Target {
    what: String,
    wanted: String,
    measured: Option<Spread>,
    met: fn(f64) -> bool,
}

/// The targets of the performance issue, each from the points that measure it.
fn targets(results: &Results) -> String {
    let reference = Config {
        kinds: 10,
        objects: 1_000,
        secondaries: 5,
    };
    let wide = Config {
        kinds: 50,
        objects: 10_000,
        secondaries: 50,
    };
    let mut list = Vec::new();
    let p = |config, case| p50s(results, config, case);
    let both = |a: Option<Vec<f64>>, b: Option<Vec<f64>>| match (a, b) {
        (Some(a), Some(b)) => ratio(&a, &b),
        _ => None,
    };
    list.push(Target {
        what: "`latest` p50 ÷ plain GET p50 (K = 10, M = 1,000, S = 5)".into(),
        wanted: "≤ 3".into(),
        measured: both(p(reference, Case::Latest), p(reference, Case::Get)),
        met: |r| r <= 3.0,
    });
    list.push(Target {
        what: "`latest` p50 ÷ `get-1+k` p50 (same point)".into(),
        wanted: "≤ 1.5".into(),
        measured: both(p(reference, Case::Latest), p(reference, Case::GetOnePlusK)),
        met: |r| r <= 1.5,
    });
    list.push(Target {
        what: "`cached` p50 ÷ `GET /apis/primary-all/v1` p50 (same point)".into(),
        wanted: "≤ 1.5".into(),
        measured: both(p(reference, Case::Cached), p(reference, Case::GroupVersion)),
        met: |r| r <= 1.5,
    });
    let thr = |case| results.throughput.get(&(reference, case)).cloned();
    list.push(Target {
        what: format!(
            "`cached` ÷ `GET /apis/primary-all/v1` throughput at {} clients",
            results.clients
        ),
        wanted: "≥ 0.6".into(),
        measured: match (thr(Case::Cached), thr(Case::GroupVersion)) {
            (Some(a), Some(b)) => ratio(&a, &b),
            _ => None,
        },
        met: |r| r >= 0.6,
    });
    let k = reference.kinds_holding_secondaries() as f64;
    list.push(Target {
        what: format!(
            "`latest` throughput ÷ (plain-GET throughput ÷ (1 + k)), k = {k}, at {} clients",
            results.clients
        ),
        wanted: "≥ 0.7".into(),
        measured: match (thr(Case::Latest), thr(Case::Get)) {
            (Some(a), Some(b)) => {
                let scaled: Vec<f64> = b.iter().map(|b| b / (1.0 + k)).collect();
                ratio(&a, &scaled)
            }
            _ => None,
        },
        met: |r| r >= 0.7,
    });
    for (case, name) in [
        (Case::ListAll, "`list-all`"),
        (Case::TreeStyle, "`tree-style` (kubectl-tree's requests)"),
        (Case::KubeLineage, "kube-lineage"),
    ] {
        list.push(Target {
            what: format!("{name} p50 ÷ `latest` p50 (K = 50, M = 10,000, S = 50)"),
            wanted: "≥ 20".into(),
            measured: both(p(wide, case), p(wide, Case::Latest)),
            met: |r| r >= 20.0,
        });
    }
    let memory = |config| {
        results
            .restarts
            .get(&config)
            .map(|(_, rss)| rss.iter().sum::<f64>() / rss.len().max(1) as f64)
    };
    list.push(Target {
        what: "server memory per indexed object, (RSS at M = 100,000 − RSS at M = 1,000) ÷ 99,000, K = 200 (KiB)".into(),
        wanted: "≤ 1".into(),
        measured: match (memory(Config { kinds: 200, objects: 100_000, secondaries: 5 }), memory(Config { kinds: 200, objects: 1_000, secondaries: 5 })) {
            (Some(big), Some(small)) => Spread::of(&[(big - small) * 1024.0 / 99_000.0]),
            _ => None,
        },
        met: |r| r <= 1.0,
    });
    list.push(Target {
        what: "seconds from a Pod's start to Ready at M = 100,000, K = 200 (slowest replica)"
            .into(),
        wanted: "≤ 30".into(),
        measured: results
            .restarts
            .get(&Config {
                kinds: 200,
                objects: 100_000,
                secondaries: 5,
            })
            .and_then(|(ready, _)| ready.iter().map(Duration::as_secs).max())
            .and_then(|s| Spread::of(&[s as f64])),
        met: |r| r <= 30.0,
    });

    let mut table = String::from(
        "| target | wanted | measured (median of the series [smallest–largest]) | |\n|---|---:|---:|---|\n",
    );
    for t in list {
        let (measured, verdict) = match t.measured {
            Some(s) if s.min == s.max => (format!("{:.2}", s.median), verdict((t.met)(s.median))),
            Some(s) => (
                format!("{:.2} [{:.2}–{:.2}]", s.median, s.min, s.max),
                verdict((t.met)(s.median)),
            ),
            None => ("not measured in this run".into(), ""),
        };
        let _ = writeln!(
            table,
            "| {} | {} | {measured} | {verdict} |",
            t.what, t.wanted
        );
    }
    let cold = both(p(reference, Case::LatestCold), p(reference, Case::GetCold));
    if let Some(cold) = cold {
        let _ = writeln!(
            table,
            "\nA cold caller (a new user on a new connection every request): `latest-cold` p50 ÷ `get-cold` p50 = {:.2} [{:.2}–{:.2}].",
            cold.median, cold.min, cold.max
        );
    }
    table
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

/// The two figures of the cost curve, from the rows at M = 1,000, S = 5.
fn plots(rows: &[Row], dir: &Path) -> Result<()> {
    let curve: Vec<&Row> = rows
        .iter()
        .filter(|r| r.config.objects == 1_000 && r.config.secondaries == 5)
        .collect();
    let cases = [
        Case::ListAll,
        Case::KubeLineage,
        Case::TreeStyle,
        Case::Latest,
        Case::Cached,
        Case::GetOnePlusK,
        Case::Get,
    ];
    plot(
        &dir.join("latency.svg"),
        &curve,
        &cases,
        "p50 latency (ms) against kinds in the cluster (M = 1,000, S = 5)",
        "p50 (ms)",
        |r| r.p50.median.max(0.01),
    )?;
    plot(
        &dir.join("api-calls.svg"),
        &curve,
        &cases,
        "kube-apiserver requests per answer against kinds (M = 1,000, S = 5)",
        "requests per answer (kube-apiserver's count)",
        |r| r.api_calls().max(0.1),
    )
}

/// Redraws the book's figures from its CSV of the last full run, without
/// measuring again (for a change of the plots' style).
pub fn replot() -> Result<()> {
    let figures = paths::workspace_root().join("book/src/figures");
    let csv = std::fs::read_to_string(figures.join("bench-results.csv"))
        .context("book/src/figures/bench-results.csv is missing: run `cargo xtask bench` first")?;
    let rows = parse_csv(&csv)?;
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

fn parse_csv(csv: &str) -> Result<Vec<Row>> {
    anyhow::ensure!(
        csv.starts_with(CSV_HEADER.trim_end()),
        "bench-results.csv has another header than this version writes: run `cargo xtask bench`"
    );
    let mut rows = Vec::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(
            f.len() == 16,
            "a line of bench-results.csv has {} fields: {line}",
            f.len()
        );
        let case = Case::from_name(f[7]).with_context(|| format!("unknown case {}", f[7]))?;
        rows.push(Row {
            config: Config {
                kinds: f[4].parse()?,
                objects: f[5].parse()?,
                secondaries: f[6].parse()?,
            },
            case,
            series: f[8].parse()?,
            requests: f[9].parse()?,
            p50: Spread {
                median: f[10].parse()?,
                min: f[11].parse()?,
                max: f[12].parse()?,
            },
            p99: f[13].parse()?,
            server_calls: f[14].parse()?,
            caller_calls: f[15].parse()?,
        });
    }
    Ok(rows)
}

/// One figure of the cost curve: `value` against K, a line per case.
fn plot(
    path: &Path,
    rows: &[&Row],
    cases: &[Case],
    title: &str,
    y_label: &str,
    value: impl Fn(&Row) -> f64,
) -> Result<()> {
    use plotters::style::{BLACK, BLUE, CYAN, GREEN, MAGENTA, RED, RGBColor};
    let colours = [
        RED,
        MAGENTA,
        BLACK,
        BLUE,
        GREEN,
        CYAN,
        RGBColor(128, 128, 128),
    ];
    let lines: Vec<plot::Line> = cases
        .iter()
        .zip(colours)
        .map(|(case, colour)| plot::Line {
            label: case.name().to_string(),
            colour,
            points: rows
                .iter()
                .filter(|r| r.case == *case)
                .map(|r| (r.config.kinds as f64, value(r)))
                .collect(),
        })
        .collect();
    let figure = plot::Figure {
        title,
        x_desc: "kinds served by the cluster (K)",
        y_desc: y_label,
        y_log: true,
        x_labels: 6,
        size: (760, 460),
    };
    plot::lines(path, &figure, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_reads_back_as_it_was_written() {
        let row = Row {
            config: Config {
                kinds: 50,
                objects: 10_000,
                secondaries: 50,
            },
            case: Case::KubeLineage,
            series: 5,
            requests: 8,
            p50: Spread {
                median: 412.5,
                min: 398.25,
                max: 455.0,
            },
            p99: 501.125,
            server_calls: 0.0,
            caller_calls: 61.5,
        };
        let text = csv(std::slice::from_ref(&row), "2026-12-02", "2 cores / 24 GiB");
        let back = parse_csv(&text).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].config, row.config);
        assert_eq!(back[0].case, Case::KubeLineage);
        assert_eq!(back[0].p50, row.p50);
        assert_eq!(back[0].p99, 501.125);
        assert_eq!(back[0].api_calls(), 61.5);
    }

    #[test]
    fn a_ratio_pairs_the_series_of_one_round() {
        let spread = ratio(&[10.0, 20.0, 30.0], &[5.0, 5.0, 10.0]).unwrap();
        assert_eq!(spread.median, 3.0);
        assert_eq!(spread.min, 2.0);
        assert_eq!(spread.max, 4.0);
    }

    #[test]
    fn a_target_not_measured_says_so_and_claims_nothing() {
        let text = targets(&Results::default());
        assert!(text.contains("not measured in this run"), "{text}");
        assert!(!text.contains("| met |"), "{text}");
        assert!(!text.contains("| missed |"), "{text}");
    }
}
