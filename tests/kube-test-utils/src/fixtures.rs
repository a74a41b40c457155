//! Fixtures shared by cluster tests: the example `Database`, its type and its CRD.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, CustomResource};
use primary_all::wire::SecondaryRef;
use serde::{Deserialize, Serialize};

/// The example primary, as an operator author declares it (the CRD below
/// matches it).
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Database",
    namespaced,
    status = "DatabaseStatus"
)]
pub struct DatabaseSpec {
    /// The database engine.
    pub engine: String,
    /// How many replicas.
    pub replicas: Option<i32>,
}

/// Where the operator keeps what it observed.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// The secondaries cache (once stored: the full objects of listed kinds).
    #[serde(default)]
    #[schemars(schema_with = "primary_all::full_objects_schema")]
    pub secondaries: Vec<DynamicObject>,
    /// Once stored: a reference for every secondary.
    #[serde(default)]
    pub secondary_refs: Vec<SecondaryRef>,
}

primary_all::impl_cache_secondaries!(Database);
primary_all::impl_secondary_refs!(Database);

/// The example primary again, in a group of its own
/// (`generated.example.com`) and with the same [`DatabaseStatus`], for the
/// test that applies the CRD kube generates from the type
/// (`GeneratedDatabase::crd()`): under a name of its own it cannot race the
/// tests that apply the shipped YAML as `databases.example.com`, and under
/// a kind of its own it does not make `database/db-1` (a kind named without
/// its group) ambiguous for the tests that run after it.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[kube(
    group = "generated.example.com",
    version = "v1",
    kind = "GeneratedDatabase",
    namespaced,
    status = "DatabaseStatus"
)]
pub struct GeneratedDatabaseSpec {
    /// The database engine.
    pub engine: String,
}

primary_all::impl_cache_secondaries!(GeneratedDatabase);
primary_all::impl_secondary_refs!(GeneratedDatabase);

/// The image a test's Pods run when they only need to run and be Ready: the
/// local node's own idle image (`cargo xtask cluster up` imports it; there
/// is no registry), used with `imagePullPolicy: Never`. On another cluster
/// (kind) it must be loaded first.
pub const IDLE_IMAGE: &str = "localhost/primary-all/idle:1";

/// The example primary's CRD, the very file the demo applies. It declares
/// the status fields `Database::crd()` generates (a unit test checks), and
/// keeps the status fields it does not declare, which some tests write.
pub const DATABASE_CRD_YAML: &str =
    include_str!("../../../extension-server/deploy/example/database-crd.yaml");

/// Installs (server-side apply, idempotent) the `databases.example.com` CRD
/// and waits until it is Established, so that tests can create Databases.
///
/// # Errors
///
/// When the CRD cannot be applied or is not Established within 30 seconds.
pub async fn install_database_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(DATABASE_CRD_YAML).context("database-crd.yaml does not parse")?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("primary-all-tests").force();
    api.patch("databases.example.com", &params, &Patch::Apply(&crd))
        .await
        .context("failed to apply the Database CRD")?;
    let established = await_condition(
        api,
        "databases.example.com",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .context("the Database CRD was not Established within 30s")??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::CustomResourceExt;

    /// The schemas of the status fields, without descriptions (the YAML
    /// words them for readers of the file, the type for readers of the
    /// code).
    fn status_fields(crd: &CustomResourceDefinition) -> serde_json::Value {
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a v1 schema");
        let mut status =
            serde_json::to_value(&schema.properties.as_ref().expect("properties")["status"])
                .expect("a schema serializes");
        strip_descriptions(&mut status);
        status["properties"].take()
    }

    fn strip_descriptions(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("description");
                map.values_mut().for_each(strip_descriptions);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
            _ => {}
        }
    }

    #[test]
    fn the_shipped_crd_declares_the_status_fields_database_crd_generates() {
        let shipped: CustomResourceDefinition =
            serde_saphyr::from_str(DATABASE_CRD_YAML).expect("database-crd.yaml parses");
        let generated = Database::crd();
        assert_eq!(status_fields(&shipped), status_fields(&generated));
        assert_eq!(
            status_fields(&generated)["secondaryRefs"]["items"]["required"],
            serde_json::json!(["apiVersion", "kind", "name"])
        );
    }
}
