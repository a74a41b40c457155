//! Feature `etcd-status`: keeping the cache in the primary's status in etcd.
//!
//! By default the cache lives only in the value
//! [`get_latest_with_secondaries`](crate::GetLatestWithSecondariesExt::get_latest_with_secondaries)
//! returns. With this feature an operator can also write it into the
//! primary's status subresource, so that `kubectl get -o yaml` and every
//! other client see it. The price is a write per reconcile and a larger
//! object in etcd, whose request size limit (1.5 MiB by default) a large
//! cache can exceed: that is reported, never truncated.
//!
//! # What the status holds
//!
//! Whoever may `get` the primary reads its status, and RBAC cannot hide a
//! field: a user allowed to read Databases but denied Secrets would read a
//! Secret's `data` back from a status that held the Secret. So the status
//! holds only what tells a reader nothing they could not read themselves:
//!
//! * **a reference for every secondary** ([`SecondaryRef`]: `apiVersion`,
//!   `kind`, `namespace`, `name`, `uid`, `resourceVersion`, an optional
//!   `health`), in the field [`SecondaryRefs`] names. A reference says that
//!   the object exists and belongs to the primary, as an operator's status
//!   usually does anyway (`status.secretName`); it carries none of the
//!   object's labels, annotations, `data`, `spec` or `status`;
//! * **full objects only of the kinds the operator author lists** in
//!   [`StatusParams`], in the cache field [`CacheSecondaries`](crate::CacheSecondaries) names, with
//!   their managedFields stripped. Listing a kind is the author's statement
//!   that whoever may read the primary may read those objects too;
//! * **never a Secret's contents**: a core `Secret` is always reduced to its
//!   reference, even when listed.
//!
//! Both fields need a schema that kube-apiserver keeps, or structural schema
//! pruning drops what is written and the feature silently stores nothing:
//! the references have one ([`SecondaryRef`] is `JsonSchema`), and the cache
//! field gets one from
//! `#[schemars(schema_with = "primary_all::full_objects_schema")]`
//! ([`full_objects_schema`](crate::full_objects_schema)), never from
//! `#[schemars(skip)]`.
//!
//! ```no_run
//! # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::DynamicObject;
//! use primary_all::wire::SecondaryRef;
//! use primary_all::{GetLatestWithSecondariesExt, SecondaryRefs, StatusParams};
//!
//! #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
//! #[serde(rename_all = "camelCase")]
//! struct DatabaseStatus {
//!     /// Full objects, of the listed kinds only, once stored.
//!     #[serde(default)]
//!     #[schemars(schema_with = "primary_all::full_objects_schema")]
//!     secondaries: Vec<DynamicObject>,
//!     /// A reference for every secondary, once stored.
//!     #[serde(default)]
//!     secondary_refs: Vec<SecondaryRef>,
//! }
//!
//! #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
//! #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
//! struct DatabaseSpec {
//!     engine: String,
//! }
//!
//! primary_all::impl_cache_secondaries!(Database);
//! primary_all::impl_secondary_refs!(Database);
//!
//! # let client: kube::Client = todo!();
//! let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
//! let db = databases.get_latest_with_secondaries("db-1").await?;
//! // ConfigMaps in full, everything else (Secrets always) as references.
//! let params = StatusParams::default().full_objects::<ConfigMap>();
//! let stored = primary_all::store_secondaries_in_status_with(&databases, db, &params).await?;
//! println!("{} secondaries stored", stored.secondary_refs().len());
//! # Ok(())
//! # }
//! ```

use std::fmt::Debug;

use kube::Api;
use kube::Resource;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::SecondaryRefs;
use crate::error::{Error, Result};
use crate::wire::SecondaryRef;

/// etcd's default `--max-request-bytes`: the largest object it stores.
pub const ETCD_REQUEST_LIMIT: usize = 1_572_864;

/// Options of [`store_secondaries_in_status_with`]: which kinds are stored
/// as full objects. By default none is: every secondary is stored as a
/// [`SecondaryRef`].
///
/// ```
/// use k8s_openapi::api::core::v1::{ConfigMap, Secret};
/// use primary_all::StatusParams;
///
/// let params = StatusParams::default()
///     .full_objects::<ConfigMap>()
///     .full_objects_of("apps", "StatefulSet")
///     .full_objects::<Secret>(); // accepted, and still only referenced
/// assert!(params.stores_in_full("", "ConfigMap"));
/// assert!(params.stores_in_full("apps", "StatefulSet"));
/// assert!(!params.stores_in_full("", "Secret"));
/// assert!(!params.stores_in_full("apps", "Deployment"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusParams {
    /// The listed kinds, as (API group, kind); `""` is the core group.
    full_objects: Vec<(String, String)>,
}

impl StatusParams {
    /// Stores the secondaries of kind `K` as full objects.
    pub fn full_objects<K: Resource<DynamicType = ()>>(self) -> Self {
        self.full_objects_of(&K::group(&()), &K::kind(&()))
    }

    /// Stores the secondaries of `kind` in API `group` (`""` for the core
    /// group) as full objects, for kinds without a Rust type.
    pub fn full_objects_of(mut self, group: &str, kind: &str) -> Self {
        self.full_objects
            .push((group.to_string(), kind.to_string()));
        self
    }

    /// Whether a secondary of `kind` in `group` is stored in full: it was
    /// listed, and it is not a core `Secret`, which never is.
    pub fn stores_in_full(&self, group: &str, kind: &str) -> bool {
        let is_secret = group.is_empty() && kind == "Secret";
        !is_secret
            && self
                .full_objects
                .iter()
                .any(|(g, k)| g == group && k == kind)
    }
}

/// Writes `primary`'s secondaries into its status subresource as
/// references ([`SecondaryRef`]), none as a full object, and returns the
/// object as stored. The same as [`store_secondaries_in_status_with`] with
/// the default [`StatusParams`].
///
/// ```no_run
/// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
/// # use kube::api::DynamicObject;
/// # use primary_all::wire::SecondaryRef;
/// # #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
/// # #[serde(rename_all = "camelCase")]
/// # struct DatabaseStatus {
/// #     #[serde(default)] #[schemars(schema_with = "primary_all::full_objects_schema")] secondaries: Vec<DynamicObject>,
/// #     #[serde(default)] secondary_refs: Vec<SecondaryRef>,
/// # }
/// # #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
/// # #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
/// # struct DatabaseSpec { engine: String }
/// # primary_all::impl_cache_secondaries!(Database);
/// # primary_all::impl_secondary_refs!(Database);
/// # let client: kube::Client = todo!();
/// use primary_all::{GetLatestWithSecondariesExt, SecondaryRefs};
///
/// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
/// let db = databases.get_latest_with_secondaries("db-1").await?;
/// let stored = primary_all::store_secondaries_in_status(&databases, db).await?;
/// for reference in stored.secondary_refs() {
///     println!("{} {}", reference.kind, reference.name);
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`store_secondaries_in_status_with`].
pub async fn store_secondaries_in_status<K>(api: &Api<K>, primary: K) -> Result<K>
where
    K: Resource<DynamicType = ()> + SecondaryRefs + Serialize + DeserializeOwned + Clone + Debug,
    K::Status: Serialize,
{
    store_secondaries_in_status_with(api, primary, &StatusParams::default()).await
}

/// Writes `primary`'s secondaries into its status subresource with a merge
/// patch and returns the object as stored: a reference for every secondary
/// in the [`SecondaryRefs`] field, and in the [`CacheSecondaries`](crate::CacheSecondaries) field
/// full objects (without managedFields) of the kinds `params` lists, never
/// of Secrets. Both lists replace what was stored before.
///
/// ```no_run
/// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
/// # use kube::api::DynamicObject;
/// # use primary_all::wire::SecondaryRef;
/// # #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
/// # #[serde(rename_all = "camelCase")]
/// # struct DatabaseStatus {
/// #     #[serde(default)] #[schemars(schema_with = "primary_all::full_objects_schema")] secondaries: Vec<DynamicObject>,
/// #     #[serde(default)] secondary_refs: Vec<SecondaryRef>,
/// # }
/// # #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
/// # #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
/// # struct DatabaseSpec { engine: String }
/// # primary_all::impl_cache_secondaries!(Database);
/// # primary_all::impl_secondary_refs!(Database);
/// # let client: kube::Client = todo!();
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt, StatusParams};
///
/// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
/// let db = databases.get_latest_with_secondaries("db-1").await?;
/// let params = StatusParams::default().full_objects::<ConfigMap>();
/// let stored = primary_all::store_secondaries_in_status_with(&databases, db, &params).await?;
/// println!("{} ConfigMaps stored in full", stored.cache_secondary().len());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::TooLarge`] (and no write) when the object with what would be
/// stored exceeds [`ETCD_REQUEST_LIMIT`]; [`Error::Api`] or [`Error::Kube`]
/// when the patch fails.
#[tracing::instrument(skip(api, primary), fields(name = primary.meta().name.as_deref().unwrap_or_default()))]
pub async fn store_secondaries_in_status_with<K>(
    api: &Api<K>,
    mut primary: K,
    params: &StatusParams,
) -> Result<K>
where
    K: Resource<DynamicType = ()> + SecondaryRefs + Serialize + DeserializeOwned + Clone + Debug,
    K::Status: Serialize,
{
    let (references, full_objects) = reduce(std::mem::take(primary.cache_secondary_mut()), params);
    tracing::debug!(
        references = references.len(),
        full_objects = full_objects.len(),
        "storing the secondaries in the status"
    );
    *primary.secondary_refs_mut() = references;
    *primary.cache_secondary_mut() = full_objects;

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

/// Splits the cache into what may be stored: a reference for every
/// secondary, and the full objects of the kinds `params` lists (never a
/// Secret), without their managedFields.
fn reduce(
    cache: Vec<DynamicObject>,
    params: &StatusParams,
) -> (Vec<SecondaryRef>, Vec<DynamicObject>) {
    let mut references = Vec::with_capacity(cache.len());
    let mut full_objects = Vec::new();
    for mut secondary in cache {
        let reference = SecondaryRef::for_object(&secondary);
        if params.stores_in_full(reference.group(), &reference.kind) {
            secondary.metadata.managed_fields = None;
            full_objects.push(secondary);
        }
        references.push(reference);
    }
    (references, full_objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kube::api::ApiResource;

    fn object<K: Resource<DynamicType = ()>>(name: &str, data: serde_json::Value) -> DynamicObject {
        let mut object = DynamicObject::new(name, &ApiResource::erase::<K>(&())).within("team-a");
        object.metadata.uid = Some(format!("uid-{name}"));
        object.metadata.managed_fields = Some(vec![Default::default()]);
        object.data = data;
        object
    }

    fn cache() -> Vec<DynamicObject> {
        vec![
            object::<ConfigMap>("db-1-config", serde_json::json!({ "data": { "a": "b" } })),
            object::<Secret>(
                "db-1-credentials",
                serde_json::json!({ "data": { "password": "aHVudGVyMg==" } }),
            ),
            object::<StatefulSet>("db-1", serde_json::json!({ "spec": { "replicas": 1 } })),
        ]
    }

    #[test]
    fn by_default_every_secondary_is_only_referenced() {
        let (references, full_objects) = reduce(cache(), &StatusParams::default());

        let names: Vec<(&str, &str)> = references
            .iter()
            .map(|r| (r.kind.as_str(), r.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("ConfigMap", "db-1-config"),
                ("Secret", "db-1-credentials"),
                ("StatefulSet", "db-1")
            ]
        );
        assert!(full_objects.is_empty());
    }

    #[test]
    fn a_listed_kind_is_kept_in_full_without_managed_fields() {
        let params = StatusParams::default().full_objects::<ConfigMap>();

        let (references, full_objects) = reduce(cache(), &params);

        assert_eq!(references.len(), 3, "every secondary is referenced");
        assert_eq!(full_objects.len(), 1);
        assert_eq!(
            full_objects[0].metadata.name.as_deref(),
            Some("db-1-config")
        );
        assert_eq!(full_objects[0].data["data"]["a"], "b");
        assert!(full_objects[0].metadata.managed_fields.is_none());
    }

    #[test]
    fn a_secret_is_never_kept_in_full_even_when_listed() {
        let params = StatusParams::default()
            .full_objects::<Secret>()
            .full_objects_of("", "Secret");

        let (references, full_objects) = reduce(cache(), &params);

        assert_eq!(references.len(), 3);
        assert!(full_objects.is_empty(), "{full_objects:?}");
        let stored = serde_json::to_string(&references).unwrap();
        assert!(!stored.contains("aHVudGVyMg=="), "{stored}");
    }

    #[test]
    fn a_kind_is_listed_with_its_group() {
        let params = StatusParams::default().full_objects::<StatefulSet>();
        assert!(params.stores_in_full("apps", "StatefulSet"));
        assert!(!params.stores_in_full("", "StatefulSet"));
        assert!(!params.stores_in_full("example.com", "StatefulSet"));
    }
}
