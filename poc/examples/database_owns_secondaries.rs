//! An operator marks what it creates as a secondary of its primary, and
//! then reads the primary with it.
//!
//! ```not_rust
//! cargo xtask demo --no-serve
//! export KUBECONFIG=$PWD/target/control-plane/kubeconfig
//! cargo run -p primary-all --example database_owns_secondaries
//! ```

#[path = "common/database.rs"]
mod database;

use database::Database;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};
use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    let client = kube::Client::try_default().await?;
    let databases: Api<Database> = Api::namespaced(client.clone(), "default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");

    // ANCHOR: mark_as_secondary
    let db = databases.get("db-1").await?;
    let mut settings = ConfigMap {
        metadata: ObjectMeta {
            name: Some("db-1-settings".to_string()),
            ..ObjectMeta::default()
        },
        data: Some([("engine".to_string(), db.spec.engine.clone())].into()),
        ..ConfigMap::default()
    };
    // The label and a controller ownerReference, in one call.
    anyhow::ensure!(
        primary_all::mark_as_secondary(&db, &mut settings.metadata),
        "db-1 has no uid"
    );
    let params = PatchParams::apply("database-operator").force();
    config_maps
        .patch("db-1-settings", &params, &Patch::Apply(&settings))
        .await?;
    // ANCHOR_END: mark_as_secondary

    let db = databases.get_latest_with_secondaries("db-1").await?;
    let names: Vec<&str> = db
        .cache_secondary()
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    println!("db-1's secondaries: {names:?}");
    anyhow::ensure!(
        names.contains(&"db-1-settings"),
        "the server did not find db-1-settings"
    );
    Ok(())
}
