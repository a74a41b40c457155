//! The example primary, `Database` in `example.com/v1`, as an operator
//! author writes it: the CRD in `extension-server/deploy/example/` matches.

use kube::CustomResource;
use kube::api::DynamicObject;
use serde::{Deserialize, Serialize};

// ANCHOR: database
/// What the user asks for.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Database",
    namespaced,
    status = "DatabaseStatus"
)]
pub struct DatabaseSpec {
    /// The database engine, e.g. postgres.
    pub engine: String,
    /// How many replicas to run.
    pub replicas: Option<i32>,
}

/// What the operator observed: here, the secondaries.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
pub struct DatabaseStatus {
    /// The cache that `get_latest_with_secondaries` fills.
    #[serde(default)]
    #[schemars(skip)]
    pub secondaries: Vec<DynamicObject>,
}

// The cache lives in `status.secondaries`.
primary_all::impl_cache_secondaries!(Database);
// ANCHOR_END: database
