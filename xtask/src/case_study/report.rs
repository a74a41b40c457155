//! What the case study writes: a CSV of every outcome, the table and the
//! commands the book includes, and a plot of what each route cost
//! kube-apiserver.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::style::RGBColor;

use super::routes::Route;
use super::{Outcome, SCENARIOS, figures_dir};
use crate::bench::stats::Spread;
use crate::plot;
use crate::progress::step;

/// Writes the report into `dir` and the book's figures.
pub fn write(outcomes: &[Outcome], dir: &Path, rounds: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let (date, machine) = crate::bench::provenance();
    let files = [
        ("case-study.csv", csv(outcomes, rounds, &date, &machine)),
        ("case-study.md", table(outcomes, rounds, &date, &machine)),
        ("case-study-commands.md", commands(outcomes)),
        ("case-study-summary.md", summary(outcomes)),
    ];
    let figures = figures_dir();
    for (name, text) in &files {
        for folder in [dir, figures.as_path()] {
            let file = folder.join(name);
            std::fs::write(&file, text)
                .with_context(|| format!("failed to write {}", file.display()))?;
        }
    }
    for folder in [dir, figures.as_path()] {
        plot_calls(outcomes, &folder.join("case-study.svg"))?;
    }
    step(
        "Wrote",
        format!(
            "{} and book/src/figures/case-study{{.csv,.md,.svg,-commands.md,-summary.md}}",
            dir.display()
        ),
    );
    Ok(())
}

/// One line per scenario and route, with each count's median and range.
fn csv(outcomes: &[Outcome], rounds: usize, date: &str, machine: &str) -> String {
    let mut out = String::from(
        "scenario,route,commands,kinds_named,objects_read,located,rounds,\
         caller_calls_median,caller_calls_min,caller_calls_max,\
         server_calls_median,server_calls_min,server_calls_max,\
         time_ms_median,time_ms_min,time_ms_max,date,machine\n",
    );
    for o in outcomes {
        let spread = |s: &Spread| format!("{:.0},{:.0},{:.0}", s.median, s.min, s.max);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{rounds},{},{},{},{date},{machine}",
            o.scenario,
            o.route.key(),
            o.walk.commands.len(),
            o.walk.kinds_named,
            o.walk.read,
            if o.located { "yes" } else { "no" },
            spread(&o.caller_calls),
            spread(&o.server_calls),
            spread(&o.millis),
        );
    }
    out
}

/// `median` when every round gave the same, else `median (min–max)`.
fn with_range(s: &Spread) -> String {
    if s.min == s.max {
        format!("{:.0}", s.median)
    } else {
        format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
    }
}

/// The outcome of `route` on the fault named `scenario`, if it ran.
fn outcome_of<'a>(outcomes: &'a [Outcome], scenario: &str, route: Route) -> Option<&'a Outcome> {
    outcomes
        .iter()
        .find(|o| o.scenario == scenario && o.route == route)
}

/// The outcomes of the fault named `scenario`, in the order the report
/// lists the routes.
fn by_route<'a>(outcomes: &'a [Outcome], scenario: &str) -> Vec<&'a Outcome> {
    Route::ALL
        .iter()
        .filter_map(|route| outcome_of(outcomes, scenario, *route))
        .collect()
}

/// `yes`, or a `no` that stands out in a table of yeses.
fn located(o: &Outcome) -> &'static str {
    if o.located { "yes" } else { "**no**" }
}

/// What locating the fault cost kube-apiserver in all: the person's
/// requests and the server's on their behalf (medians).
fn all_calls(o: &Outcome) -> f64 {
    o.caller_calls.median + o.server_calls.median
}

/// The tables the book includes: one per fault, a column per route and a
/// row per measure, so that the routes stand side by side and the table
/// fits a page however long the route names are.
fn table(outcomes: &[Outcome], rounds: usize, date: &str, machine: &str) -> String {
    type Measure = (&'static str, fn(&Outcome) -> String);
    let measures: [Measure; 7] = [
        ("Commands", |o| o.walk.commands.len().to_string()),
        ("Kinds named", |o| o.walk.kinds_named.to_string()),
        ("Objects read", |o| o.walk.read.to_string()),
        ("Located", |o| located(o).to_string()),
        ("API calls: person", |o| with_range(&o.caller_calls)),
        ("API calls: server", |o| with_range(&o.server_calls)),
        ("Time (ms)", |o| with_range(&o.millis)),
    ];
    let mut out = String::new();
    for scenario in &SCENARIOS {
        let columns = by_route(outcomes, scenario.name);
        if columns.is_empty() {
            continue;
        }
        let _ = writeln!(out, "**{}**\n", scenario.name);
        let names: Vec<&str> = columns.iter().map(|o| o.route.name()).collect();
        let _ = writeln!(out, "| | {} |", names.join(" | "));
        let _ = writeln!(out, "|---|{}", "--:|".repeat(columns.len()));
        for (measure, value) in measures {
            let values: Vec<String> = columns.iter().map(|o| value(o)).collect();
            let _ = writeln!(out, "| {measure} | {} |", values.join(" | "));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Medians of {rounds} rounds, with their range where rounds differed; \
         API calls as kube-apiserver counted them. Measured {date} on {machine} \
         by `cargo xtask case-study`."
    );
    out
}

/// The Conclusion's short form of the tables: per fault and route, what
/// the person had to name and type, and what it cost kube-apiserver in all.
fn summary(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| Fault | Route | Located | Kinds named | Commands | API calls (person + server, median) |\n\
         |---|---|---|--:|--:|--:|\n",
    );
    for o in outcomes {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.0} |",
            o.scenario,
            o.route.name(),
            located(o),
            o.walk.kinds_named,
            o.walk.commands.len(),
            all_calls(o),
        );
    }
    out
}

/// The commands each route typed, per fault: what the table counts, with
/// the tree a tree-table route printed under its first command, as the
/// person saw it.
fn commands(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for scenario in &SCENARIOS {
        let _ = writeln!(out, "**{}**\n", scenario.name);
        for o in by_route(outcomes, scenario.name) {
            let _ = writeln!(out, "{}:\n\n```console", o.route.name());
            for (i, command) in o.walk.commands.iter().enumerate() {
                let _ = writeln!(out, "$ {}", shorten(command));
                if let Some(tree) = o.walk.tree.as_deref().filter(|_| i == 0) {
                    out.push_str(tree.trim_end());
                    out.push('\n');
                }
            }
            let _ = writeln!(out, "```\n");
        }
    }
    out
}

/// A command as a person reads it: the program without its directory, and
/// a comma-separated list of more kinds than a person would type (the
/// sweep's, pasted from discovery) as its first three and a count.
fn shorten(command: &str) -> String {
    command
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                return word.rsplit('/').next().unwrap_or(word).to_string();
            }
            let kinds: Vec<&str> = word.split(',').collect();
            if kinds.len() > 10 {
                format!("{},… ({} kinds)", kinds[..3].join(","), kinds.len())
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Requests of the person and the server together, per route and fault.
fn plot_calls(outcomes: &[Outcome], path: &Path) -> Result<()> {
    const COLOURS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
    let categories: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
    let groups: Vec<plot::Bars> = SCENARIOS
        .iter()
        .zip(COLOURS)
        .map(|(scenario, colour)| plot::Bars {
            label: scenario.name.to_string(),
            colour,
            values: Route::ALL
                .iter()
                .map(|route| outcome_of(outcomes, scenario.name, *route).map(all_calls))
                .collect(),
        })
        .collect();
    plot::bars(
        path,
        &plot::Figure {
            title: "API calls to locate a fault, the person's and the server's (median)",
            x_desc: "requests kube-apiserver served (log scale)",
            y_desc: "",
            y_log: false,
            x_labels: 8,
            size: (760, 360),
        },
        &categories,
        &groups,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::case_study::routes::Walk;

    fn outcome(route: Route, located: bool, calls: f64) -> Outcome {
        let spread = Spread {
            median: calls,
            min: calls,
            max: calls + 2.0,
        };
        Outcome {
            scenario: SCENARIOS[0].name,
            route,
            walk: Walk {
                commands: vec!["/cache/bin/kubectl get pods,services,configmaps,secrets".into()],
                kinds_named: 5,
                read: 12,
                located,
                tree: None,
                took: Duration::from_millis(80),
            },
            located,
            caller_calls: spread,
            server_calls: Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            },
            millis: spread,
        }
    }

    #[test]
    fn the_table_marks_a_route_that_missed_and_shows_ranges_only_where_rounds_differ() {
        let text = table(
            &[outcome(Route::KubectlSweep, false, 40.0)],
            5,
            "2026-12-02",
            "2 cores / 24 GiB",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "**db-1 rollout**");
        assert_eq!(lines[2], "| | kubectl, every kind |");
        assert_eq!(lines[3], "|---|--:|");
        assert_eq!(lines[7], "| Located | **no** |");
        assert_eq!(lines[8], "| API calls: person | 40 (40–42) |");
        assert_eq!(lines[9], "| API calls: server | 0 |");
        assert!(text.contains("Medians of 5 rounds"));
    }

    #[test]
    fn the_summary_adds_the_persons_and_the_servers_calls() {
        let mut plugin = outcome(Route::PrimaryAll, true, 1.0);
        plugin.server_calls = Spread {
            median: 12.0,
            min: 12.0,
            max: 22.0,
        };
        let text = summary(&[plugin]);
        assert_eq!(
            text.lines().nth(2),
            Some("| db-1 rollout | kubectl primary-all | yes | 5 | 1 | 13 |")
        );
    }

    #[test]
    fn a_tree_route_shows_its_tree_under_its_first_command_only() {
        let mut lineage = outcome(Route::KubeLineage, true, 105.0);
        lineage.walk.commands = vec![
            "/cache/bin/kube-lineage databases.example.com db-1 -n default".into(),
            "kubectl get Pod/db-1-x -n default -o json".into(),
        ];
        lineage.walk.tree = Some("NAME            READY\nDatabase/db-1   -\n\n".into());
        let text = commands(&[lineage]);
        assert!(
            text.contains(
                "```console\n\
                 $ kube-lineage databases.example.com db-1 -n default\n\
                 NAME            READY\n\
                 Database/db-1   -\n\
                 $ kubectl get Pod/db-1-x -n default -o json\n\
                 ```"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_long_list_of_kinds_is_shortened_and_the_programs_directory_dropped() {
        assert_eq!(
            shorten("/cache/bin/kubectl get a,b,c,d,e,f,g,h,i,j,k -n default"),
            "kubectl get a,b,c,… (11 kinds) -n default"
        );
        assert_eq!(
            shorten("kubectl get secrets,services,configmaps,deployments -o json"),
            "kubectl get secrets,services,configmaps,deployments -o json"
        );
    }

    #[test]
    fn the_csv_has_one_line_per_outcome_with_every_column() {
        let text = csv(
            &[
                outcome(Route::PrimaryAll, true, 3.0),
                outcome(Route::KubeLineage, true, 90.0),
            ],
            5,
            "2026-12-02",
            "2 cores / 24 GiB",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let columns = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == columns));
        assert!(lines[1].starts_with("db-1 rollout,primary-all,1,5,12,yes,5,3,3,5,"));
    }
}
