//! Progress for long work: a person at a terminal never stares at silence.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How often a long step says that it is still working.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Prints a step header, the way cargo prints `Compiling`.
pub fn step(verb: &str, what: impl std::fmt::Display) {
    eprintln!("{verb:>12} {what}");
}

/// Formats a duration as `4m05s` or `12.3s`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Runs `cmd` to completion, streaming nothing but counting the lines it
/// writes to stderr (e.g. `go build -v` prints one package per line), and
/// prints a heartbeat with that count so a long build is visibly alive.
/// On failure the last lines of its output are shown.
pub fn run_counting_lines(mut cmd: Command, label: &str, unit: &str) -> Result<Counted> {
    let started = Instant::now();
    let mut child: Child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to start {label}: {cmd:?}"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let tx_out = tx.clone();
    let readers = [
        std::thread::spawn(move || forward_lines(BufReader::new(stderr), tx)),
        std::thread::spawn(move || forward_lines(BufReader::new(stdout), tx_out)),
    ];
    let mut count = 0usize;
    let mut tail: Vec<String> = Vec::new();
    let mut last_beat = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                count += 1;
                tail.push(line);
                if tail.len() > 40 {
                    tail.remove(0);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_beat.elapsed() >= HEARTBEAT {
            eprintln!(
                "             … {label}: {count} {unit} so far ({})",
                human(started.elapsed())
            );
            last_beat = Instant::now();
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child
        .wait()
        .with_context(|| format!("failed to wait for {label}"))?;
    if !status.success() {
        eprintln!("--- last lines of {label} ---");
        for line in &tail {
            eprintln!("{line}");
        }
        bail!("{label} failed ({status})");
    }
    Ok(Counted {
        took: started.elapsed(),
        lines: count,
    })
}

/// What [`run_counting_lines`] saw of a command that succeeded.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    /// How long it ran.
    pub took: Duration,
    /// The lines it wrote, stdout and stderr together.
    pub lines: usize,
}

fn forward_lines(reader: impl BufRead, tx: mpsc::Sender<String>) {
    for line in reader.lines().map_while(Result::ok) {
        if tx.send(line).is_err() {
            break;
        }
    }
}

/// Runs `cmd` with inherited stdio and fails with its exit status.
pub fn run(mut cmd: Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(&cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout, failing with its stderr.
pub fn output(mut cmd: Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` and returns stdout and stderr together, failing with both.
pub fn output_with_stderr(mut cmd: Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}",
            describe(&cmd),
            out.status,
            text.trim()
        );
    }
    Ok(text)
}

/// `program arg arg …`, for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_read_like_cargo() {
        assert_eq!(human(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human(Duration::from_secs(245)), "4m05s");
    }

    #[test]
    fn failing_commands_report_their_status() {
        let err = run_counting_lines(Command::new("false"), "false", "lines").unwrap_err();
        assert!(err.to_string().contains("false failed"), "{err}");
    }

    #[test]
    fn counting_sees_every_line() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo a; echo b >&2; echo c"]);
        let counted = run_counting_lines(cmd, "sh", "lines").unwrap();
        assert_eq!(counted.lines, 3);
    }
}
