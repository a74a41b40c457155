//! Feature `etcd-status`: keeping the cache in the primary's status in etcd.
//!
//! By default the cache lives only in the value
//! [`get_latest_with_secondaries`](crate::GetLatestWithSecondariesExt::get_latest_with_secondaries)
//! returns. With this feature an operator can also write it into the
//! primary's status subresource, so that `kubectl get -o yaml` and every
//! other client see it. The price is a write per reconcile and a larger
//! object in etcd, whose request size limit (1.5 MiB by default) a large
//! cache can exceed: that is reported, never truncated.

use std::fmt::Debug;

use kube::Api;
use kube::Resource;
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::CacheSecondaries;
use crate::error::{Error, Result};

/// etcd's default `--max-request-bytes`: the largest object it stores.
pub const ETCD_REQUEST_LIMIT: usize = 1_572_864;

/// Writes `primary`'s cached secondaries into its status subresource with a
/// merge patch, after stripping their managedFields, and returns the object
/// as stored.
///
/// ```no_run
/// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
/// # use kube::api::DynamicObject;
/// # #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
/// # struct DatabaseStatus { #[serde(default)] #[schemars(skip)] secondaries: Vec<DynamicObject> }
/// # #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
/// # #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
/// # struct DatabaseSpec { engine: String }
/// # primary_all::impl_cache_secondaries!(Database);
/// # let client: kube::Client = todo!();
/// use primary_all::GetLatestWithSecondariesExt;
///
/// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
/// let db = databases.get_latest_with_secondaries("db-1").await?;
/// let stored = primary_all::store_secondaries_in_status(&databases, db).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::TooLarge`] (and no write) when the object with its cache would
/// exceed [`ETCD_REQUEST_LIMIT`]; [`Error::Api`] or [`Error::Kube`] when the
/// patch fails.
pub async fn store_secondaries_in_status<K>(api: &Api<K>, mut primary: K) -> Result<K>
where
    K: Resource<DynamicType = ()> + CacheSecondaries + Serialize + DeserializeOwned + Clone + Debug,
    K::Status: Default + Serialize,
{
    for secondary in primary.cache_secondary_mut() {
        secondary.metadata.managed_fields = None;
    }
    let size = serde_json::to_vec(&primary).map_err(Error::Decode)?.len();
    if size > ETCD_REQUEST_LIMIT {
        return Err(Error::TooLarge {
            size,
            limit: ETCD_REQUEST_LIMIT,
        });
    }
    let name = primary.meta().name.clone().unwrap_or_default();
    let patch = serde_json::json!({ "status": primary.status() });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::from_kube)
}
