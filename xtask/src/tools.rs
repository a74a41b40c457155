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
        )?;
        step(
            "Installed",
            format!("{} in {}", self.krate, progress::human(took)),
        );
        Ok(binary)
    }
}
