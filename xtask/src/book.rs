//! `cargo xtask book`: build the book, or serve it.

use std::process::Command;

use anyhow::Result;

use crate::paths;
use crate::progress::{self, step};
use crate::tools;

/// The address `serve` listens on.
pub const ADDRESS: &str = "127.0.0.1";
/// The port `serve` listens on.
pub const PORT: u16 = 3000;

/// Builds the book into `target/book`.
pub fn build() -> Result<()> {
    let mdbook = tools::MDBOOK.ensure()?;
    let out = paths::workspace_root().join("target").join("book");
    step("Building", format!("the book into {}", out.display()));
    let mut cmd = Command::new(mdbook);
    cmd.arg("build").arg(paths::workspace_root().join("book")).arg("--dest-dir").arg(&out);
    progress::run(cmd)
}

/// Serves the book on loopback until interrupted, rebuilding on change.
pub fn serve() -> Result<()> {
    let mdbook = tools::MDBOOK.ensure()?;
    let out = paths::workspace_root().join("target").join("book");
    step("Serving", format!("the book on http://{ADDRESS}:{PORT} (Ctrl-C stops)"));
    let mut cmd = Command::new(mdbook);
    cmd.arg("serve")
        .arg(paths::workspace_root().join("book"))
        .args(["--hostname", ADDRESS, "--port", &PORT.to_string()])
        .arg("--dest-dir")
        .arg(&out);
    progress::run(cmd)
}
