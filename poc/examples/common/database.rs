//! The example primary, `Database` in `example.com/v1`, as an operator
//! author writes it: the CRD in `extension-server/deploy/example/` matches.

use kube::CustomResource;
use kube::api::DynamicObject;
use primary_all::wire::SecondaryRef;
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
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// The cache that `get_latest_with_secondaries` fills with every
    /// secondary; once stored (feature `etcd-status`), only the full objects
    /// of the kinds the operator listed. A schema kube-apiserver keeps,
    /// where `#[schemars(skip)]` would have it pruned.
    #[serde(default)]
    #[schemars(schema_with = "primary_all::full_objects_schema")]
    pub secondaries: Vec<DynamicObject>,
    /// Once stored (feature `etcd-status`): a reference for every secondary.
    #[serde(default)]
    pub secondary_refs: Vec<SecondaryRef>,
}

// The cache lives in `status.secondaries`, the references in
// `status.secondaryRefs`.
primary_all::impl_cache_secondaries!(Database);
primary_all::impl_secondary_refs!(Database);
// ANCHOR_END: database
