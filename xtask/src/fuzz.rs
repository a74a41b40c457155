//! `cargo xtask fuzz`: the extension server's fuzz targets, each bounded in time.
//!
//! Runs `extension-server/fuzz` (a cargo-fuzz crate outside the workspace)
//! with a pinned cargo-fuzz from the per-user tool cache and the nightly
//! toolchain that libFuzzer's sanitizer flags need. Each target starts from
//! the seed corpus in the repository, read-only; what libFuzzer learns goes to
//! `target/fuzz/corpus/<target>/`, and a crash to
//! `extension-server/fuzz/artifacts/<target>/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::paths;
use crate::progress::{self, human, step};
use crate::tools::Tool;

/// cargo-fuzz, which builds the targets with libFuzzer and runs them.
pub const CARGO_FUZZ: Tool = Tool {
    krate: "cargo-fuzz",
    version: "0.13.2",
    binary: "cargo-fuzz",
};

/// How often a running target says how far it got.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// What one bounded run of a target did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Outcome {
    /// Inputs executed (libFuzzer's `Done N runs`, or its last status line).
    runs: u64,
    /// Where libFuzzer wrote the crashing input, when it found one.
    artifact: Option<String>,
}

/// Runs every target (or `only`) for `seconds` each; fails on a crash.
pub fn run(seconds: u64, only: Option<&str>) -> Result<()> {
    let fuzz_dir = paths::workspace_root()
        .join("extension-server")
        .join("fuzz");
    let targets = targets(&fuzz_dir)?;
    let targets: Vec<String> = match only {
        Some(name) if targets.iter().any(|t| t == name) => vec![name.to_string()],
        Some(name) => bail!(
            "there is no fuzz target {name:?}; the targets are: {}",
            targets.join(", ")
        ),
        None => targets,
    };
    let nightly_bin = nightly_bin_dir()?;
    let cargo_fuzz = CARGO_FUZZ.ensure()?;

    step(
        "Building",
        format!(
            "the fuzz targets with nightly and AddressSanitizer (minutes the first time on a machine): {}",
            targets.join(", ")
        ),
    );
    let mut build = fuzz_command(&cargo_fuzz, &nightly_bin, &fuzz_dir);
    build.arg("build").arg("--target-dir").arg(target_dir());
    let took = progress::run_counting_lines(build, "cargo fuzz build", "lines of output")?.took;
    step("Built", format!("the fuzz targets in {}", human(took)));

    let mut crashes = Vec::new();
    let mut outcomes = Vec::new();
    for target in &targets {
        let outcome = run_target(&cargo_fuzz, &nightly_bin, &fuzz_dir, target, seconds)?;
        outcomes.push((target.clone(), outcome.clone()));
        match &outcome.artifact {
            None => step(
                "Fuzzed",
                format!(
                    "{target}: {} inputs in {seconds} s ({:.0}/s), no crash",
                    outcome.runs,
                    outcome.runs as f64 / seconds.max(1) as f64
                ),
            ),
            Some(artifact) => {
                step(
                    "Crashed",
                    format!("{target} after {} inputs: {artifact}", outcome.runs),
                );
                crashes.push(format!(
                    "{target}: {artifact} (replay with `cd extension-server/fuzz && cargo +nightly fuzz run {target} {artifact}`)"
                ));
            }
        }
    }
    write_summary(
        &outcomes,
        seconds,
        only.is_none() && seconds >= BOOK_SECONDS,
    )?;
    if !crashes.is_empty() {
        bail!("the fuzzer found crashes:\n  {}", crashes.join("\n  "));
    }
    Ok(())
}

/// The per-target time of the run the book reports (`cargo xtask fuzz`'s
/// default); shorter runs (CI's) write only `target/fuzz/`.
const BOOK_SECONDS: u64 = 60;

/// Writes what the run did to `target/fuzz/fuzz-results.md`, and into the
/// book's figures when `for_the_book`: the book includes the file instead of
/// typing the counts.
fn write_summary(outcomes: &[(String, Outcome)], seconds: u64, for_the_book: bool) -> Result<()> {
    let (date, machine) = crate::bench::provenance();
    let text = summary(outcomes, seconds, &date, &machine);
    let mut folders = vec![paths::workspace_root().join("target/fuzz")];
    if for_the_book {
        folders.push(paths::workspace_root().join("book/src/figures"));
    }
    for folder in folders {
        std::fs::create_dir_all(&folder)?;
        let file = folder.join("fuzz-results.md");
        std::fs::write(&file, &text)
            .with_context(|| format!("failed to write {}", file.display()))?;
        step("Wrote", file.display());
    }
    Ok(())
}

/// One table row per target: its time, the inputs libFuzzer ran, and the
/// crash, if any.
fn summary(outcomes: &[(String, Outcome)], seconds: u64, date: &str, machine: &str) -> String {
    let mut out = String::from("| Fuzz target | Time | Inputs run | Crash |\n|---|--:|--:|---|\n");
    for (target, outcome) in outcomes {
        out.push_str(&format!(
            "| `{target}` | {seconds} s | {} | {} |\n",
            thousands(outcome.runs),
            outcome
                .artifact
                .as_deref()
                .map_or("none".to_string(), |a| format!("`{a}`"))
        ));
    }
    out.push_str(&format!(
        "\nOne run of `cargo xtask fuzz` (nightly, AddressSanitizer), {date}, {machine}.\n"
    ));
    out
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The targets: the files in `fuzz_targets/`, sorted.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("failed to list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The `bin` directory of the nightly toolchain, or an error that says how
/// to install one.
fn nightly_bin_dir() -> Result<PathBuf> {
    let missing = "cargo xtask fuzz needs a nightly Rust toolchain (libFuzzer's sanitizer flags are \
                   nightly-only), and rustup has none: install it with `rustup toolchain install nightly`";
    let list = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .with_context(|| format!("failed to run `rustup toolchain list`: {missing}"))?;
    if !has_nightly(&String::from_utf8_lossy(&list.stdout)) {
        bail!(missing);
    }
    let cargo = progress::output({
        let mut cmd = Command::new("rustup");
        cmd.args(["which", "--toolchain", "nightly", "cargo"]);
        cmd
    })
    .with_context(|| missing.to_string())?;
    Path::new(cargo.trim())
        .parent()
        .map(Path::to_path_buf)
        .context("`rustup which cargo` printed no path")
}

/// Where the targets are built. The nightly build with AddressSanitizer
/// takes minutes from cold, so it lives in the per-user cache like the other
/// slow builds, and a fresh clone (CI's) rebuilds only the workspace's own
/// crates.
fn target_dir() -> std::path::PathBuf {
    paths::user_cache_dir().join("fuzz-target")
}

/// Whether `rustup toolchain list` shows a nightly toolchain.
fn has_nightly(toolchains: &str) -> bool {
    toolchains
        .lines()
        .any(|l| l.trim_start().starts_with("nightly"))
}

/// `cargo-fuzz fuzz …` in the fuzz crate, on the nightly toolchain whatever
/// toolchain runs xtask (cargo-fuzz calls plain `cargo` and `rustc`).
fn fuzz_command(cargo_fuzz: &Path, nightly_bin: &Path, fuzz_dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_fuzz);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(nightly_bin.to_path_buf()).chain(std::env::split_paths(&path)),
    )
    .unwrap_or(path);
    cmd.arg("fuzz")
        .current_dir(fuzz_dir)
        .env("PATH", path)
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .stdin(Stdio::null());
    cmd
}

/// Runs one target for `seconds`, with a heartbeat, and reads the outcome
/// from libFuzzer's output.
fn run_target(
    cargo_fuzz: &Path,
    nightly_bin: &Path,
    fuzz_dir: &Path,
    target: &str,
    seconds: u64,
) -> Result<Outcome> {
    let learned = paths::workspace_root()
        .join("target")
        .join("fuzz")
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&learned)?;
    let seeds = fuzz_dir.join("corpus").join(target);
    step(
        "Fuzzing",
        format!("{target} for {seconds} s from {}", seeds.display()),
    );
    let mut cmd = fuzz_command(cargo_fuzz, nightly_bin, fuzz_dir);
    // The first corpus directory is where libFuzzer writes what it learns:
    // the scratch one, so the repository's seeds stay as committed.
    cmd.args(["run", target])
        .arg("--target-dir")
        .arg(target_dir())
        .arg(&learned)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // A single input slower than this is a hang, reported like a crash.
        .arg("-timeout=10")
        .arg("-print_final_stats=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to start {}", progress::describe(&cmd)))?;
    let (tx, rx) = mpsc::channel::<String>();
    let readers = [
        {
            let tx = tx.clone();
            let stderr = child.stderr.take().context("stderr is piped")?;
            std::thread::spawn(move || forward(BufReader::new(stderr), tx))
        },
        {
            let stdout = child.stdout.take().context("stdout is piped")?;
            std::thread::spawn(move || forward(BufReader::new(stdout), tx))
        },
    ];
    let mut output: Vec<String> = Vec::new();
    let mut last_beat = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => output.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_beat.elapsed() >= HEARTBEAT {
            let so_far = parse_outcome(&output).runs;
            if so_far == 0 {
                // cargo-fuzz builds the target first (minutes, from cold).
                eprintln!(
                    "             … {target}: building with nightly ({} so far)",
                    human(started.elapsed())
                );
            } else {
                eprintln!(
                    "             … {target}: {so_far} inputs so far ({} of {seconds} s)",
                    human(started.elapsed())
                );
            }
            last_beat = Instant::now();
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait()?;
    let outcome = parse_outcome(&output);
    if !status.success() && outcome.artifact.is_none() {
        eprintln!("--- last lines of cargo fuzz run {target} ---");
        for line in output.iter().rev().take(40).rev() {
            eprintln!("{line}");
        }
        bail!("cargo fuzz run {target} failed ({status}) without writing a crash artifact");
    }
    if outcome.artifact.is_some() {
        eprintln!("--- the crash, as libFuzzer reported it ---");
        // A panic's message, else the sanitizer's report, without the
        // stack of libFuzzer's own frames.
        let start = output
            .iter()
            .position(|l| l.contains("panicked"))
            .or_else(|| output.iter().position(|l| l.contains("ERROR")))
            .unwrap_or(0);
        for line in output[start..]
            .iter()
            .take_while(|l| !l.contains("ERROR: libFuzzer"))
            .take(30)
        {
            eprintln!("{line}");
        }
    }
    Ok(outcome)
}

fn forward(reader: impl BufRead, tx: mpsc::Sender<String>) {
    for line in reader.lines().map_while(Result::ok) {
        if tx.send(line).is_err() {
            break;
        }
    }
}

/// Inputs executed and the crash artifact, from libFuzzer's output: `Done N
/// runs in S second(s)` at the end, else the count of its last status line
/// (`#N\tpulse …`), and `Test unit written to PATH` on a crash.
fn parse_outcome(lines: &[String]) -> Outcome {
    let mut outcome = Outcome::default();
    for line in lines {
        if let Some(rest) = line.strip_prefix("Done ") {
            if let Some(runs) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                outcome.runs = runs;
            }
        } else if let Some(rest) = line.strip_prefix('#') {
            if let Some(runs) = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                outcome.runs = outcome.runs.max(runs);
            }
        } else if let Some(path) = line.split("Test unit written to ").nth(1) {
            outcome.artifact = Some(path.trim().to_string());
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_summary_has_a_row_per_target_with_its_inputs_and_crash() {
        let clean = Outcome {
            runs: 706_669,
            artifact: None,
        };
        let crashed = Outcome {
            runs: 12,
            artifact: Some("artifacts/parse_request/crash-1".into()),
        };
        let text = summary(
            &[
                ("parse_request".into(), clean),
                ("request_headers".into(), crashed),
            ],
            60,
            "2026-12-02",
            "2 cores / 24 GiB",
        );
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[2], "| `parse_request` | 60 s | 706,669 | none |");
        assert_eq!(
            rows[3],
            "| `request_headers` | 60 s | 12 | `artifacts/parse_request/crash-1` |"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000), "1,000");
    }

    #[test]
    fn a_clean_run_reports_its_inputs() {
        let outcome = parse_outcome(&lines(
            "INFO: Seed: 42\n#2\tINITED cov: 120 ft: 130 corp: 17/400b exec/s: 0 rss: 40Mb\n\
             #262144\tpulse  cov: 900 ft: 2000 corp: 300/9Kb exec/s: 13107 rss: 300Mb\n\
             Done 301234 runs in 21 second(s)\nstat::number_of_executed_units: 301234",
        ));
        assert_eq!(
            outcome,
            Outcome {
                runs: 301_234,
                artifact: None
            }
        );
    }

    #[test]
    fn a_crash_names_its_artifact() {
        let outcome = parse_outcome(&lines(
            "#1024\tpulse  cov: 900\n==123== ERROR: libFuzzer: deadly signal\n\
             artifact_prefix='/w/fuzz/artifacts/parse_request/'; Test unit written to /w/fuzz/artifacts/parse_request/crash-abc\n\
             Base64: AAAA",
        ));
        assert_eq!(outcome.runs, 1024);
        assert_eq!(
            outcome.artifact.as_deref(),
            Some("/w/fuzz/artifacts/parse_request/crash-abc")
        );
    }

    #[test]
    fn nightly_is_found_in_rustups_list() {
        assert!(has_nightly(
            "stable-x86_64-unknown-linux-gnu (active, default)\nnightly-x86_64-unknown-linux-gnu\n"
        ));
        assert!(has_nightly("nightly-2026-01-01-x86_64-unknown-linux-gnu\n"));
        assert!(!has_nightly(
            "stable-x86_64-unknown-linux-gnu (default)\n1.95.0-x86_64-unknown-linux-gnu\n"
        ));
    }

    #[test]
    fn every_target_in_the_crate_is_found() {
        let fuzz_dir = paths::workspace_root()
            .join("extension-server")
            .join("fuzz");
        let targets = targets(&fuzz_dir).unwrap();
        assert_eq!(targets, vec!["parse_request", "request_headers"]);
        for target in &targets {
            assert!(
                fuzz_dir.join("corpus").join(target).is_dir(),
                "{target} has no seed corpus"
            );
        }
    }
}
