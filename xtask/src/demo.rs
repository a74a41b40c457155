//! `cargo xtask demo`: the main job, from nothing to a primary and its
//! secondaries on screen, then the book.

use anyhow::Result;

use crate::book;
use crate::control_plane;
use crate::paths;
use crate::progress::{self, step};

/// The example manifests the demo applies, in order.
pub const EXAMPLE: [&str; 2] = ["database-crd.yaml", "db-1.yaml"];

/// Boots the cluster, applies the example, prints what it made, and serves
/// the book unless `serve` is false (then the cluster stays up for kubectl).
pub fn run(serve: bool) -> Result<()> {
    control_plane::up()?;
    let example = paths::workspace_root().join("extension-server/deploy/example");

    step("Applying", "the Database CRD (example.com/v1)");
    let mut crd = control_plane::kubectl();
    crd.args(["apply", "--server-side", "-f"]).arg(example.join(EXAMPLE[0]));
    progress::run(crd)?;
    let mut established = control_plane::kubectl();
    established.args([
        "wait",
        "--for=condition=Established",
        "crd/databases.example.com",
        "--timeout=60s",
    ]);
    progress::run(established)?;

    step("Applying", "Database db-1");
    let mut db = control_plane::kubectl();
    db.args(["apply", "--server-side", "-f"]).arg(example.join(EXAMPLE[1]));
    progress::run(db)?;

    step("Showing", "what the cluster holds");
    let mut get = control_plane::kubectl();
    get.args(["get", "databases.example.com", "--all-namespaces", "-o", "wide"]);
    progress::run(get)?;

    println!();
    println!("The cluster stays up. Try:");
    println!("  export KUBECONFIG={}", paths::kubeconfig().display());
    println!(
        "  {} get databases.example.com db-1 -o yaml",
        control_plane::binaries::binary("kubectl").display()
    );
    println!("  cargo xtask cluster down    # when you are done");
    println!();

    if serve {
        book::serve()?;
    }
    Ok(())
}

