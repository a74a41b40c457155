//! Feature `etcd-status`: an operator stores db-1's secondaries in its
//! status, ConfigMaps in full and everything else (Secrets always) as
//! references, and a plain `Api::get` reads them back.
//!
//! ```not_rust
//! cargo xtask demo --no-serve
//! export KUBECONFIG=$PWD/target/control-plane/kubeconfig
//! cargo run -p primary-all --features etcd-status --example database_store_secondaries_in_status
//! ```

#[path = "common/database.rs"]
mod database;

use database::Database;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt, SecondaryRefs, StatusParams};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    let client = kube::Client::try_default().await?;
    let databases: Api<Database> = Api::namespaced(client, "default");

    // ANCHOR: store_secondaries_in_status
    let db = databases.get_latest_with_secondaries("db-1").await?;
    let params = StatusParams::default()
        .full_objects::<ConfigMap>()
        .full_objects::<Secret>(); // accepted, and Secrets are still only referenced
    primary_all::store_secondaries_in_status_with(&databases, db, &params).await?;

    // What every reader of db-1 sees: a reference for each secondary, and
    // the ConfigMaps in full.
    let stored = databases.get("db-1").await?;
    for reference in stored.secondary_refs() {
        println!("  {}/{} (referenced)", reference.kind, reference.name);
    }
    for object in stored.cache_secondary() {
        let kind = object.types.as_ref().map_or("?", |t| t.kind.as_str());
        let name = object.metadata.name.as_deref().unwrap_or("?");
        println!("  {kind}/{name} (in full)");
    }
    // ANCHOR_END: store_secondaries_in_status
    Ok(())
}
