//! [`GetLatestWithSecondariesExt`]: `Api::get`, with the secondaries.

use std::fmt::Debug;
use std::future::Future;

use kube::Api;
use kube::Resource;
use serde::de::DeserializeOwned;

use crate::cache::CacheSecondaries;
use crate::error::{Error, Result};
use crate::wire::{API_VERSION, PrimaryWithSecondaries};

/// Options of a [`GetLatestWithSecondariesExt`] request, like kube's `GetParams`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondaryParams {
    /// How many levels of ownerReferences to follow; the server's default
    /// (1: direct secondaries) when `None`.
    pub depth: Option<u32>,
}

impl SecondaryParams {
    /// Follows ownerReferences `depth` levels down.
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }
}

/// Reads a primary together with its secondaries, in one request through
/// kube-apiserver to primary-all's extension API server.
///
/// Works like [`Api::get`]: the primary is read with a quorum read (the
/// latest state), and it comes back as the caller's own type, with the
/// secondaries in its status (see [`CacheSecondaries`]).
pub trait GetLatestWithSecondariesExt<K> {
    /// Gets the primary `name` with its direct secondaries.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # use kube::api::DynamicObject;
    /// # #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
    /// # struct DatabaseStatus { #[serde(default)] #[schemars(schema_with = "primary_all::full_objects_schema")] secondaries: Vec<DynamicObject> }
    /// # #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
    /// # #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
    /// # struct DatabaseSpec { engine: String }
    /// # primary_all::impl_cache_secondaries!(Database);
    /// # let client: kube::Client = todo!();
    /// use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt};
    ///
    /// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
    /// let db = databases.get_latest_with_secondaries("db-1").await?;
    /// for secondary in db.cache_secondary() {
    ///     println!("{:?} {:?}", secondary.types, secondary.metadata.name);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with the server's `Status` (so [`Error::is_not_found`]
    /// works for a missing primary), [`Error::NotInstalled`] when the
    /// cluster does not serve primary-all, [`Error::Kube`] when
    /// kube-apiserver cannot be reached, [`Error::Decode`] when the primary
    /// does not fit `K`.
    fn get_latest_with_secondaries(&self, name: &str) -> impl Future<Output = Result<K>> + Send;

    /// Like [`get_latest_with_secondaries`](Self::get_latest_with_secondaries),
    /// but `Ok(None)` when the primary does not exist.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # use kube::api::DynamicObject;
    /// # #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
    /// # struct DatabaseStatus { #[serde(default)] #[schemars(schema_with = "primary_all::full_objects_schema")] secondaries: Vec<DynamicObject> }
    /// # #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
    /// # #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
    /// # struct DatabaseSpec { engine: String }
    /// # primary_all::impl_cache_secondaries!(Database);
    /// # let client: kube::Client = todo!();
    /// use primary_all::GetLatestWithSecondariesExt;
    ///
    /// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
    /// if databases.get_latest_with_secondaries_opt("db-9").await?.is_none() {
    ///     println!("no such database");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries`](Self::get_latest_with_secondaries),
    /// except for a missing primary.
    fn get_latest_with_secondaries_opt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<K>>> + Send;

    /// Like [`get_latest_with_secondaries`](Self::get_latest_with_secondaries),
    /// with options.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # use kube::api::DynamicObject;
    /// # #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
    /// # struct DatabaseStatus { #[serde(default)] #[schemars(schema_with = "primary_all::full_objects_schema")] secondaries: Vec<DynamicObject> }
    /// # #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
    /// # #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
    /// # struct DatabaseSpec { engine: String }
    /// # primary_all::impl_cache_secondaries!(Database);
    /// # let client: kube::Client = todo!();
    /// use primary_all::{GetLatestWithSecondariesExt, SecondaryParams};
    ///
    /// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
    /// let params = SecondaryParams::default().depth(2); // the Pods of its StatefulSets too
    /// let db = databases.get_latest_with_secondaries_with("db-1", &params).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries`](Self::get_latest_with_secondaries).
    fn get_latest_with_secondaries_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<K>> + Send;
}

impl<K> GetLatestWithSecondariesExt<K> for Api<K>
where
    K: Resource<DynamicType = ()>
        + CacheSecondaries
        + DeserializeOwned
        + Clone
        + Debug
        + Send
        + Sync,
    K::Status: Default,
{
    fn get_latest_with_secondaries(&self, name: &str) -> impl Future<Output = Result<K>> + Send {
        fetch(
            self,
            route::<K>(self.namespace(), name, &SecondaryParams::default()),
        )
    }

    fn get_latest_with_secondaries_opt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<K>>> + Send {
        let request = self.get_latest_with_secondaries(name);
        async move {
            match request.await {
                Ok(primary) => Ok(Some(primary)),
                Err(err) if err.is_not_found() => Ok(None),
                Err(err) => Err(err),
            }
        }
    }

    fn get_latest_with_secondaries_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<K>> + Send {
        fetch(self, route::<K>(self.namespace(), name, params))
    }
}

/// The one request: a GET of `path` through kube-apiserver. The future owns
/// everything it needs, so callers may pass temporaries.
fn fetch<K>(api: &Api<K>, path: String) -> impl Future<Output = Result<K>> + Send + 'static
where
    K: Resource + Clone + CacheSecondaries + DeserializeOwned + Send,
    K::Status: Default,
{
    let client = api.clone().into_client();
    async move {
        tracing::debug!(%path, "asking primary-all for the primary with its secondaries");
        let request = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| Error::Kube(kube::Error::HttpError(e)))?;
        let answer: PrimaryWithSecondaries =
            client.request(request).await.map_err(Error::from_kube)?;
        into_primary(answer)
    }
}

/// The namespace-grantable route for `K`'s plural and group, with its
/// version as a query parameter so the answer decodes into `K`.
pub fn route<K: Resource<DynamicType = ()>>(
    namespace: Option<&str>,
    name: &str,
    params: &SecondaryParams,
) -> String {
    let group = K::group(&());
    let plural = K::plural(&());
    let resource = if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    };
    let mut path = match namespace {
        Some(ns) => format!("/apis/{API_VERSION}/namespaces/{ns}/{resource}/{name}"),
        None => format!("/apis/{API_VERSION}/{resource}/{name}"),
    };
    path.push_str(&format!("?version={}", K::version(&())));
    if let Some(depth) = params.depth {
        path.push_str(&format!("&depth={depth}"));
    }
    path
}

/// Turns an answer into the caller's type, with the secondaries cached.
///
/// # Errors
///
/// [`Error::Decode`] when the primary does not deserialize into `K`.
pub fn into_primary<K>(answer: PrimaryWithSecondaries) -> Result<K>
where
    K: CacheSecondaries + DeserializeOwned,
    K::Status: Default,
{
    let value = serde_json::to_value(&answer.prim_res).map_err(Error::Decode)?;
    let mut primary: K = serde_json::from_value(value).map_err(Error::Decode)?;
    let cache = primary.cache_secondary_mut();
    cache.clear();
    cache.extend(answer.sec_res.items);
    Ok(primary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Secret};

    #[test]
    fn namespaced_primaries_use_the_grantable_route_with_their_version() {
        let path = route::<Secret>(
            Some("team-a"),
            "token",
            &SecondaryParams::default().depth(2),
        );
        assert_eq!(
            path,
            "/apis/primary-all/v1/namespaces/team-a/secrets/token?version=v1&depth=2"
        );
    }

    #[test]
    fn cluster_scoped_primaries_have_no_namespace() {
        let path = route::<Namespace>(None, "team-a", &SecondaryParams::default());
        assert_eq!(path, "/apis/primary-all/v1/namespaces/team-a?version=v1");
    }
}
