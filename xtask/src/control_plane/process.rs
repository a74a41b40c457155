//! Starting, watching and stopping the control plane's processes.
//!
//! Each process runs in its own process group (so that Ctrl-C on `cargo xtask
//! demo` does not take the cluster down with it), logs to
//! `target/control-plane/logs/<name>.log` and leaves its pid in
//! `target/control-plane/pids/<name>.pid`, which is all `down` needs.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A process started by `cluster up`, known by name.
#[derive(Debug, Clone)]
pub struct Managed {
    /// The component name, which names its log and pid files.
    pub name: String,
    /// Where its pid and log files live.
    pub dir: PathBuf,
}

impl Managed {
    /// The process called `name` whose state lives below `dir`.
    pub fn new(dir: &Path, name: &str) -> Self {
        Self {
            name: name.to_string(),
            dir: dir.to_path_buf(),
        }
    }

    /// Its log file.
    pub fn log(&self) -> PathBuf {
        self.dir.join("logs").join(format!("{}.log", self.name))
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pids").join(format!("{}.pid", self.name))
    }

    /// Starts `cmd` in the background, detached from this process group.
    pub fn start(&self, mut cmd: Command) -> Result<u32> {
        std::fs::create_dir_all(self.dir.join("logs"))?;
        std::fs::create_dir_all(self.dir.join("pids"))?;
        let log = File::create(self.log())
            .with_context(|| format!("failed to create {}", self.log().display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("failed to start {}: {cmd:?}", self.name))?;
        std::fs::write(self.pid_file(), child.id().to_string())?;
        Ok(child.id())
    }

    /// The pid of the running process, if it is running.
    pub fn pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        is_alive(pid).then_some(pid)
    }

    /// Stops the process: SIGTERM, then SIGKILL after `grace`. Removes the pid
    /// file. Stopping a process that is not running is not an error.
    pub fn stop(&self, grace: Duration) -> Result<()> {
        if let Some(pid) = self.pid() {
            let target = Pid::from_raw(pid as i32);
            let _ = kill(target, Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while is_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if is_alive(pid) {
                let _ = kill(target, Signal::SIGKILL);
                let deadline = Instant::now() + Duration::from_secs(5);
                while is_alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            if is_alive(pid) {
                bail!("{} (pid {pid}) did not stop", self.name);
            }
        }
        let _ = std::fs::remove_file(self.pid_file());
        Ok(())
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would:
    /// no chance to drain. Removes the pid file. Killing a process that is
    /// not running is not an error.
    pub fn kill(&self) -> Result<()> {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(5);
            while is_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if is_alive(pid) {
                bail!("{} (pid {pid}) did not die on SIGKILL", self.name);
            }
        }
        let _ = std::fs::remove_file(self.pid_file());
        Ok(())
    }

    /// The last `lines` lines of its log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until `ready` says yes, failing early when the process exits and
    /// late when `timeout` passes; either failure carries the log's tail.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if ready() {
                return Ok(started.elapsed());
            }
            if self.pid().is_none() {
                bail!(
                    "{} exited during start-up; the end of {}:\n{}",
                    self.name,
                    self.log().display(),
                    self.log_tail(30)
                );
            }
            if started.elapsed() > timeout {
                bail!(
                    "{} was not ready after {}s; the end of {}:\n{}",
                    self.name,
                    timeout.as_secs(),
                    self.log().display(),
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Whether a process with this pid exists (and is not a zombie we own).
fn is_alive(pid: u32) -> bool {
    if kill(Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    // A zombie still answers signal 0; /proc says whether it is one.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => true,
    }
}

/// A TCP port on loopback that nothing listens on right now, and that
/// stays free until a component binds it: below the kernel's ephemeral
/// range (where `bind(:0)` would pick, and where any outgoing connection
/// of the boot may take it first; found by CI, a kubelet's port taken
/// between the choice and the start), and never one this process has
/// handed out already.
pub fn free_port() -> Result<u16> {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_001));
    let span = u32::from(high - low);
    // A start that differs between runs and clones, so that two clones
    // booting at once do not try the same ports in the same order.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for step in 0..span {
        let port = low + ((seed.wrapping_add(step)) % span) as u16;
        if handed_out.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return Ok(port);
        }
    }
    bail!("no free port on loopback between {low} and {high}")
}

/// A plain-HTTP GET on loopback (etcd's `/health`); `None` when it cannot connect.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_and_stops_a_process() {
        let dir = std::env::temp_dir().join(format!("primary-all-proc-{}", std::process::id()));
        let sleeper = Managed::new(&dir, "sleeper");
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let pid = sleeper.start(cmd).unwrap();
        assert_eq!(sleeper.pid(), Some(pid));
        sleeper.stop(Duration::from_secs(5)).unwrap();
        assert_eq!(sleeper.pid(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn kills_a_process_that_ignores_sigterm() {
        let dir = std::env::temp_dir().join(format!("primary-all-kill-{}", std::process::id()));
        let stubborn = Managed::new(&dir, "stubborn");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; exec sleep 30"]);
        stubborn.start(cmd).unwrap();
        stubborn.kill().unwrap();
        assert_eq!(stubborn.pid(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_process_that_dies_fails_the_wait_with_its_log() {
        let dir = std::env::temp_dir().join(format!("primary-all-die-{}", std::process::id()));
        let dying = Managed::new(&dir, "dying");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'fatal: no etcd'; exit 3"]);
        dying.start(cmd).unwrap();
        let err = dying
            .wait_until(Duration::from_secs(10), || false)
            .unwrap_err();
        assert!(err.to_string().contains("fatal: no etcd"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..20).map(|_| free_port().unwrap()).collect();
        let mut distinct = ports.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    }
}
