//! Reads the demo's `Database` db-1 with its secondaries, in one request.
//!
//! ```not_rust
//! cargo xtask demo --no-serve
//! export KUBECONFIG=$PWD/target/control-plane/kubeconfig
//! RUST_LOG=info,kube=debug cargo run -p primary-all --example database_get_latest_with_secondaries
//! ```

#[path = "common/database.rs"]
mod database;

use database::Database;
use kube::Api;
use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    let client = kube::Client::try_default().await?;

    // ANCHOR: get_latest_with_secondaries
    let databases: Api<Database> = Api::namespaced(client, "default");
    let db = databases.get_latest_with_secondaries("db-1").await?;

    println!(
        "Database {} ({})",
        db.metadata.name.as_deref().unwrap_or("?"),
        db.spec.engine
    );
    for secondary in db.cache_secondary() {
        let kind = secondary.types.as_ref().map_or("?", |t| t.kind.as_str());
        println!(
            "  {kind}/{}",
            secondary.metadata.name.as_deref().unwrap_or("?")
        );
    }
    // ANCHOR_END: get_latest_with_secondaries
    Ok(())
}
