//! Fixtures shared by cluster tests: the example `Database`, its type and its CRD.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, CustomResource};
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
pub struct DatabaseStatus {
    /// The secondaries cache.
    #[serde(default)]
    #[schemars(skip)]
    pub secondaries: Vec<DynamicObject>,
}

primary_all::impl_cache_secondaries!(Database);

/// The image a test's Pods run when they only need to run and be Ready: the
/// local node's own idle image (`cargo xtask cluster up` imports it; there
/// is no registry), used with `imagePullPolicy: Never`. On another cluster
/// (kind) it must be loaded first.
pub const IDLE_IMAGE: &str = "localhost/primary-all/idle:1";

/// The example primary's CRD, the very file the demo applies.
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
