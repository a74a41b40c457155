//! `cargo xtask book`: build the book, or serve it.
//!
//! mdBook only logs a missing include or an unknown citation and carries
//! on; `build` reads its log and fails on either, so CI catches what a
//! reader would otherwise find as a hole in a page.

use std::process::Command;

use anyhow::{Result, bail};

use crate::paths;
use crate::progress::{self, step};
use crate::tools;

/// The address `serve` listens on.
pub const ADDRESS: &str = "127.0.0.1";
/// The port `serve` listens on.
pub const PORT: u16 = 3000;

/// Lines of mdBook's log that mean the book is wrong, though it built.
pub const FATAL_LOG_LINES: [&str; 4] = [
    "Unknown bibliography reference",
    "Error updating",
    "Failed to",
    "ERROR",
];

/// `mdbook` with `mdbook-bib` on its PATH, aimed at `book/`.
fn mdbook(subcommand: &str) -> Result<Command> {
    let mdbook = tools::MDBOOK.ensure()?;
    let bib = tools::MDBOOK_BIB.ensure()?;
    let mut path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    path.insert(
        0,
        bib.parent()
            .expect("a binary has a directory")
            .to_path_buf(),
    );
    let mut cmd = Command::new(mdbook);
    cmd.env("PATH", std::env::join_paths(path)?)
        .arg(subcommand)
        .arg(paths::workspace_root().join("book"))
        .arg("--dest-dir")
        .arg(paths::workspace_root().join("target").join("book"));
    Ok(cmd)
}

/// Builds the book into `target/book`, failing on what mdBook only logs.
pub fn build() -> Result<()> {
    step("Building", "the book into target/book");
    let log = progress::output_with_stderr(mdbook("build")?)?;
    let problems: Vec<&str> = log
        .lines()
        .filter(|line| FATAL_LOG_LINES.iter().any(|fatal| line.contains(fatal)))
        .collect();
    if !problems.is_empty() {
        bail!("the book built with problems:\n{}", problems.join("\n"));
    }
    Ok(())
}

/// Serves the book on loopback until interrupted, rebuilding on change.
pub fn serve() -> Result<()> {
    step(
        "Serving",
        format!("the book on http://{ADDRESS}:{PORT} (Ctrl-C stops)"),
    );
    let mut cmd = mdbook("serve")?;
    cmd.args(["--hostname", ADDRESS, "--port", &PORT.to_string()]);
    progress::run(cmd)
}
