//! Cargo-installed tools (mdbook and its preprocessors), pinned and cached per
//! user, because a fresh clone must not compile them again.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::paths;
use crate::progress::{self, step};

/// A tool installed with `cargo install --locked`.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The crate on crates.io.
    pub krate: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// The binary it installs.
    pub binary: &'static str,
}

/// mdBook, which renders and serves the book.
pub const MDBOOK: Tool = Tool {
    krate: "mdbook",
    version: "0.5.4",
    binary: "mdbook",
};

/// mdbook-bib, the preprocessor that renders `{{#cite key}}` from `refs.bib`.
pub const MDBOOK_BIB: Tool = Tool {
    krate: "mdbook-bib",
    version: "0.5.3",
    binary: "mdbook-bib",
};

impl Tool {
    fn root(&self) -> PathBuf {
        paths::user_cache_dir()
            .join("tools")
            .join(format!("{}-{}", self.krate, self.version))
    }

    /// The installed binary, installing it first when it is missing.
    pub fn ensure(&self) -> Result<PathBuf> {
        let binary = self.root().join("bin").join(self.binary);
        if binary.is_file() {
            return Ok(binary);
        }
        step(
            "Installing",
            format!(
                "{}@{} (once per machine, a few minutes)",
                self.krate, self.version
            ),
        );
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["install", "--locked", "--root"])
            .arg(self.root())
            .arg(format!("{}@{}", self.krate, self.version));
        let took = progress::run_counting_lines(
            cmd,
            &format!("cargo install {}", self.krate),
            "lines of output",
        )?
        .took;
        step(
            "Installed",
            format!("{} in {}", self.krate, progress::human(took)),
        );
        Ok(binary)
    }
}

/// Makes sure tmux is installed: the plugin's terminal test runs it under
/// tmux to see what a person sees.
pub fn ensure_tmux() -> Result<()> {
    ensure_debian_package(
        "tmux",
        "-V",
        "tmux",
        "the plugin's terminal test runs under tmux",
    )
}

/// Makes sure runc is installed: the node's containerd runs every container
/// with it.
pub fn ensure_runc() -> Result<()> {
    ensure_debian_package(
        "runc",
        "--version",
        "runc",
        "the local node's containerd runs containers with runc",
    )
}

/// Makes sure `program` runs (`program version_arg` succeeds), installing
/// `package` from Debian's packages when it does not (as root, or with sudo
/// when there is one), with a clear error otherwise. The package lists are
/// updated once per run of xtask, before the first install.
fn ensure_debian_package(program: &str, version_arg: &str, package: &str, why: &str) -> Result<()> {
    static UPDATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let found = Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    step(
        "Installing",
        format!("{package} from Debian's packages (apt-get): {why}"),
    );
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    if !UPDATED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        progress::run(apt(&["update", "-q"]))?;
    }
    progress::run(apt(&["install", "-y", "-q", package])).map_err(|err| {
        err.context(format!(
            "{why}: install it with `apt-get install {package}`"
        ))
    })
}
