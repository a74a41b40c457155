//! [`GetLatestWithSecondariesExt`]: `Api::get`, with the secondaries.

use std::fmt::Debug;
use std::future::Future;

use kube::api::DynamicObject;
use kube::{Api, Resource};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::cache::CacheSecondaries;
use crate::error::{Error, Result};
use crate::wire::{API_VERSION, Consistency, Health, KIND, LeftOut, SecondaryList, TreeNode};

/// Options of a [`GetLatestWithSecondariesExt`] request, in the manner of
/// kube's `GetParams`: start from `default()` and chain the builders.
///
/// The struct is `#[non_exhaustive]`, so that the server's next option is
/// a new builder and not a breaking change.
///
/// ```
/// use primary_all::{Consistency, SecondaryParams};
///
/// let params = SecondaryParams::default().depth(2).cached().tree();
/// assert_eq!(params.depth, Some(2));
/// assert_eq!(params.consistency, Consistency::Cached);
/// assert!(params.tree);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecondaryParams {
    /// How many levels of ownerReferences to follow, from 1 (direct
    /// secondaries) to [`MAX_DEPTH`](Self::MAX_DEPTH); the server's default,
    /// 1, when `None`. A value outside that range is refused before any
    /// request is sent ([`Error::InvalidDepth`]).
    pub depth: Option<u32>,
    /// How fresh the objects must be; [`Consistency::Latest`] by default.
    pub consistency: Consistency,
    /// Whether the answer also nests the secondaries under their owners
    /// (the server's `view=tree`), in [`WithSecondaries::tree`].
    pub tree: bool,
}

impl SecondaryParams {
    /// The deepest `depth` the server follows: ownership chains in real
    /// clusters are short (Deployment → ReplicaSet → Pod is 2), and the
    /// bound keeps one request from walking the cluster.
    pub const MAX_DEPTH: u32 = crate::wire::MAX_DEPTH;

    /// Follows ownerReferences `depth` levels down (1 to
    /// [`MAX_DEPTH`](Self::MAX_DEPTH)): 2 gives a Deployment's ReplicaSets
    /// and their Pods.
    #[must_use]
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }

    /// Reads with `consistency`.
    #[must_use]
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// Reads from the server's watch cache where it is current
    /// ([`Consistency::Cached`]).
    #[must_use]
    pub fn cached(self) -> Self {
        self.consistency(Consistency::Cached)
    }

    /// Asks for the secondaries nested under their owners too
    /// ([`WithSecondaries::tree`]).
    #[must_use]
    pub fn tree(mut self) -> Self {
        self.tree = true;
        self
    }

    /// The query string the server reads, after `version=`.
    fn query(&self) -> Result<String> {
        let mut query = String::new();
        if let Some(depth) = self.depth {
            if !(1..=Self::MAX_DEPTH).contains(&depth) {
                return Err(Error::InvalidDepth { depth });
            }
            query.push_str(&format!("&depth={depth}"));
        }
        if self.consistency != Consistency::Latest {
            query.push_str(&format!("&consistency={}", self.consistency.as_str()));
        }
        if self.tree {
            query.push_str("&view=tree");
        }
        Ok(query)
    }
}

/// A primary of any type, with its secondaries beside it and what was
/// left out: the answer of the `_detailed` methods of
/// [`GetLatestWithSecondariesExt`].
///
/// For kube's own types (a `Deployment`), for `DynamicObject`, and for any
/// type without a status of ours, this is where the secondaries are. For a
/// [`CacheSecondaries`] type, [`into_cached`](Self::into_cached) moves them
/// into its status, which is what the plain methods return.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WithSecondaries<K> {
    /// The primary, as kube-apiserver served it, decoded once into `K`.
    pub primary: K,
    /// Its secondaries that the caller may read, each a full object with
    /// its `apiVersion` and `kind`.
    pub secondaries: Vec<DynamicObject>,
    /// The kinds that hold secondaries but are not in
    /// [`secondaries`](Self::secondaries), and why (most often
    /// [`LeftOutReason::Forbidden`](crate::wire::LeftOutReason::Forbidden):
    /// the caller may not `list` them). Empty when the answer is complete.
    pub left_out: Vec<LeftOut>,
    /// How many levels of ownerReferences the server followed.
    pub depth: u32,
    /// How the objects were read, as the server says: `latest` or `cached`.
    pub consistency: String,
    /// The secondaries nested under their owners, when asked for with
    /// [`SecondaryParams::tree`].
    pub tree: Option<TreeNode>,
    /// The worst health of the primary and its secondaries, with the path
    /// to the object it comes from, when the server computed it.
    pub health: Option<Health>,
}

impl<K> WithSecondaries<K> {
    /// Whether nothing was left out: every secondary the server found is in
    /// [`secondaries`](Self::secondaries).
    pub fn is_complete(&self) -> bool {
        self.left_out.is_empty()
    }
}

impl<K: CacheSecondaries> WithSecondaries<K> {
    /// The primary with the secondaries in its status cache (replacing
    /// what was there), as
    /// [`get_latest_with_secondaries`](GetLatestWithSecondariesExt::get_latest_with_secondaries)
    /// returns it; [`left_out`](Self::left_out) and the rest are dropped.
    pub fn into_cached(self) -> K {
        let mut primary = self.primary;
        let cache = primary.cache_secondary_mut();
        cache.clear();
        cache.extend(self.secondaries);
        primary
    }
}

/// Reads a primary together with its secondaries, in one request through
/// kube-apiserver to primary-all's extension API server.
///
/// Works like [`Api::get`]: it takes a name, uses the `Api`'s namespace,
/// group, version and resource, and reads the primary as of now (a
/// consistent read: "latest"). Two families of methods:
///
/// * `get_latest_with_secondaries*` return the caller's own type with the
///   secondaries in its status ([`CacheSecondaries`]); what the server left
///   out (kinds the caller may not `list`) is **not** in what they return,
///   so a controller that must know reads the `_detailed` variant;
/// * `get_latest_with_secondaries_detailed*` work for any `K` (kube's
///   `Deployment`, `DynamicObject` with an `ApiResource`, your own type)
///   and return a [`WithSecondaries`]: the primary, the secondaries beside
///   it, and [`WithSecondaries::left_out`].
///
/// Each has an `_opt` twin that answers `Ok(None)` for a missing primary,
/// and a `_with` twin that takes [`SecondaryParams`], as kube's `get_opt`
/// and `get_with` do.
///
/// # RBAC
///
/// The caller needs `get` on resource `<plural>.<group>` (`<plural>` for
/// the core group) in API group `primary-all`, where kube-apiserver
/// authorizes the request; `get` on the primary itself; and `list` on each
/// kind of secondary it should see, since the server shows only what the
/// caller could read itself. The crate's README has a ready ClusterRole.
pub trait GetLatestWithSecondariesExt<K> {
    /// Gets the primary `name` with its direct secondaries in its status.
    ///
    /// What the server left out is not reported here; see
    /// [`get_latest_with_secondaries_detailed`](Self::get_latest_with_secondaries_detailed).
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
    /// does not fit `K`, [`Error::Incompatible`] when the server answers in
    /// a version of the wire format this crate does not read,
    /// [`Error::UnknownResourceUrl`] when the `Api` was built for a URL that
    /// names no resource.
    fn get_latest_with_secondaries(&self, name: &str) -> impl Future<Output = Result<K>> + Send
    where
        K: CacheSecondaries;

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
    ) -> impl Future<Output = Result<Option<K>>> + Send
    where
        K: CacheSecondaries;

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
    /// As [`get_latest_with_secondaries`](Self::get_latest_with_secondaries),
    /// and [`Error::InvalidDepth`] (nothing sent) for a depth outside
    /// 1..=[`SecondaryParams::MAX_DEPTH`].
    fn get_latest_with_secondaries_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<K>> + Send
    where
        K: CacheSecondaries;

    /// Like [`get_latest_with_secondaries_with`](Self::get_latest_with_secondaries_with),
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
    /// use primary_all::{GetLatestWithSecondariesExt, SecondaryParams};
    ///
    /// let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
    /// let params = SecondaryParams::default().cached();
    /// match databases.get_latest_with_secondaries_opt_with("db-1", &params).await? {
    ///     Some(db) => println!("found {:?}", db.metadata.name),
    ///     None => println!("no such database"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries_with`](Self::get_latest_with_secondaries_with),
    /// except for a missing primary.
    fn get_latest_with_secondaries_opt_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<Option<K>>> + Send
    where
        K: CacheSecondaries;

    /// Gets the primary `name` of any type, with its direct secondaries
    /// beside it and the kinds the server left out.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client: kube::Client = todo!();
    /// use k8s_openapi::api::apps::v1::Deployment;
    /// use primary_all::GetLatestWithSecondariesExt;
    ///
    /// let deployments: kube::Api<Deployment> = kube::Api::namespaced(client, "default");
    /// let answer = deployments.get_latest_with_secondaries_detailed("web").await?;
    /// println!("{} ReplicaSets and more", answer.secondaries.len());
    /// for left_out in &answer.left_out {
    ///     println!("left out: {} ({:?}): {}", left_out.kind, left_out.reason, left_out.message);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries`](Self::get_latest_with_secondaries).
    fn get_latest_with_secondaries_detailed(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<WithSecondaries<K>>> + Send;

    /// Like [`get_latest_with_secondaries_detailed`](Self::get_latest_with_secondaries_detailed),
    /// but `Ok(None)` when the primary does not exist.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client: kube::Client = todo!();
    /// use k8s_openapi::api::apps::v1::StatefulSet;
    /// use primary_all::GetLatestWithSecondariesExt;
    ///
    /// let stateful_sets: kube::Api<StatefulSet> = kube::Api::namespaced(client, "default");
    /// if let Some(answer) = stateful_sets.get_latest_with_secondaries_detailed_opt("db").await? {
    ///     println!("complete: {}", answer.is_complete());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries_detailed`](Self::get_latest_with_secondaries_detailed),
    /// except for a missing primary.
    fn get_latest_with_secondaries_detailed_opt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<WithSecondaries<K>>>> + Send;

    /// Like [`get_latest_with_secondaries_detailed`](Self::get_latest_with_secondaries_detailed),
    /// with options.
    ///
    /// A `DynamicObject` primary works too: the `Api`'s `ApiResource` names
    /// its group, version and resource.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client: kube::Client = todo!();
    /// use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    /// use primary_all::{GetLatestWithSecondariesExt, SecondaryParams};
    ///
    /// let gvk = GroupVersionKind::gvk("example.com", "v1", "Database");
    /// let resource = ApiResource::from_gvk_with_plural(&gvk, "databases");
    /// let databases: kube::Api<DynamicObject> =
    ///     kube::Api::namespaced_with(client, "default", &resource);
    /// let params = SecondaryParams::default().depth(3).tree();
    /// let answer = databases.get_latest_with_secondaries_detailed_with("db-1", &params).await?;
    /// println!("{:#?}", answer.tree);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries_with`](Self::get_latest_with_secondaries_with).
    fn get_latest_with_secondaries_detailed_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<WithSecondaries<K>>> + Send;

    /// Like [`get_latest_with_secondaries_detailed_with`](Self::get_latest_with_secondaries_detailed_with),
    /// but `Ok(None)` when the primary does not exist.
    ///
    /// ```no_run
    /// # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client: kube::Client = todo!();
    /// use k8s_openapi::api::apps::v1::Deployment;
    /// use primary_all::{GetLatestWithSecondariesExt, SecondaryParams};
    ///
    /// let deployments: kube::Api<Deployment> = kube::Api::namespaced(client, "default");
    /// let params = SecondaryParams::default().depth(2); // its ReplicaSets and their Pods
    /// if let Some(answer) = deployments.get_latest_with_secondaries_detailed_opt_with("web", &params).await? {
    ///     println!("{} objects below web", answer.secondaries.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_latest_with_secondaries_detailed_with`](Self::get_latest_with_secondaries_detailed_with),
    /// except for a missing primary.
    fn get_latest_with_secondaries_detailed_opt_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<Option<WithSecondaries<K>>>> + Send;
}

impl<K> GetLatestWithSecondariesExt<K> for Api<K>
where
    K: Resource + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
{
    fn get_latest_with_secondaries(&self, name: &str) -> impl Future<Output = Result<K>> + Send
    where
        K: CacheSecondaries,
    {
        let request = fetch(self, name, &SecondaryParams::default());
        async move { request.await.map(WithSecondaries::into_cached) }
    }

    fn get_latest_with_secondaries_opt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<K>>> + Send
    where
        K: CacheSecondaries,
    {
        let request = fetch(self, name, &SecondaryParams::default());
        async move { not_found_is_none(request.await).map(|a| a.map(WithSecondaries::into_cached)) }
    }

    fn get_latest_with_secondaries_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<K>> + Send
    where
        K: CacheSecondaries,
    {
        let request = fetch(self, name, params);
        async move { request.await.map(WithSecondaries::into_cached) }
    }

    fn get_latest_with_secondaries_opt_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<Option<K>>> + Send
    where
        K: CacheSecondaries,
    {
        let request = fetch(self, name, params);
        async move { not_found_is_none(request.await).map(|a| a.map(WithSecondaries::into_cached)) }
    }

    fn get_latest_with_secondaries_detailed(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<WithSecondaries<K>>> + Send {
        fetch(self, name, &SecondaryParams::default())
    }

    fn get_latest_with_secondaries_detailed_opt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<WithSecondaries<K>>>> + Send {
        let request = fetch(self, name, &SecondaryParams::default());
        async move { not_found_is_none(request.await) }
    }

    fn get_latest_with_secondaries_detailed_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<WithSecondaries<K>>> + Send {
        fetch(self, name, params)
    }

    fn get_latest_with_secondaries_detailed_opt_with(
        &self,
        name: &str,
        params: &SecondaryParams,
    ) -> impl Future<Output = Result<Option<WithSecondaries<K>>>> + Send {
        let request = fetch(self, name, params);
        async move { not_found_is_none(request.await) }
    }
}

/// `get_opt`'s rule: a missing primary is `None`, every other error stays.
fn not_found_is_none<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(answer) => Ok(Some(answer)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// The one request: a GET through kube-apiserver of the route for `api`'s
/// resource. The path is built (and the params checked) before the future
/// starts, and the future owns everything it needs, so callers may pass
/// temporaries.
fn fetch<K>(
    api: &Api<K>,
    name: &str,
    params: &SecondaryParams,
) -> impl Future<Output = Result<WithSecondaries<K>>> + Send + use<K>
where
    K: Resource + DeserializeOwned + Clone + Send + 'static,
{
    let path = route(api.resource_url(), name, params);
    let client = api.clone().into_client();
    async move {
        let path = path?;
        tracing::debug!(%path, "asking primary-all for the primary with its secondaries");
        let request = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| Error::Kube(kube::Error::HttpError(e)))?;
        let text = client.request_text(request).await?;
        decode(&text)
    }
}

/// The path of the namespace-grantable route for the resource whose kube
/// URL is `resource_url` (what [`Api::resource_url`] returns, e.g.
/// `/apis/apps/v1/namespaces/default/deployments`), with its version as a
/// query parameter so the answer decodes into the `Api`'s type.
///
/// Taking the `Api`'s own URL, rather than `K`'s `Resource` impl, is what
/// lets every `Api` ask: kube's types, a `DynamicObject` with its
/// `ApiResource`, a type whose `DynamicType` is not `()`.
///
/// ```
/// use primary_all::SecondaryParams;
///
/// let path = primary_all::route(
///     "/apis/apps/v1/namespaces/team-a/deployments",
///     "web",
///     &SecondaryParams::default().depth(2),
/// )?;
/// assert_eq!(
///     path,
///     "/apis/primary-all/v1/namespaces/team-a/deployments.apps/web?version=v1&depth=2"
/// );
/// # Ok::<(), primary_all::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::UnknownResourceUrl`] when `resource_url` is not a kube resource
/// URL, [`Error::InvalidDepth`] for a depth the server would refuse.
pub fn route(resource_url: &str, name: &str, params: &SecondaryParams) -> Result<String> {
    let unknown = || Error::UnknownResourceUrl {
        url: resource_url.to_string(),
    };
    let (group, rest) = if let Some(rest) = resource_url.strip_prefix("/api/") {
        ("", rest)
    } else if let Some(rest) = resource_url.strip_prefix("/apis/") {
        rest.split_once('/').ok_or_else(unknown)?
    } else {
        return Err(unknown());
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let (version, namespace, plural) = match segments.as_slice() {
        [version, plural] => (*version, None, *plural),
        [version, "namespaces", namespace, plural] => (*version, Some(*namespace), *plural),
        _ => return Err(unknown()),
    };
    if [group, version, plural]
        .iter()
        .any(|s| s.contains(['?', '#']))
        || version.is_empty()
        || plural.is_empty()
    {
        return Err(unknown());
    }
    let resource = crate::wire::qualified_resource(group, plural);
    let mut path = crate::wire::object_path(namespace, &resource, name);
    path.push_str(&format!("?version={version}"));
    path.push_str(&params.query()?);
    Ok(path)
}

/// The answer as it arrives: [`PrimaryWithSecondaries`](crate::wire::PrimaryWithSecondaries)
/// with the primary typed, so that it is decoded once, straight into `K`.
/// A test keeps the two in step.
#[derive(Deserialize)]
struct Answer<P> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    prim_res: P,
    sec_res: SecondaryList,
    #[serde(rename = "leftOut", default)]
    left_out: Vec<LeftOut>,
    #[serde(default = "one")]
    depth: u32,
    #[serde(default)]
    consistency: String,
    #[serde(default)]
    tree: Option<TreeNode>,
    #[serde(default)]
    health: Option<Health>,
}

fn one() -> u32 {
    1
}

/// Just the type of an answer, read when the whole does not decode, to
/// tell "a newer wire format" from "a primary that does not fit `K`".
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

/// Decodes an answer, checking that it is one this crate reads: a
/// `PrimaryWithSecondaries` in `primary-all/v1`.
fn decode<K: DeserializeOwned>(text: &str) -> Result<WithSecondaries<K>> {
    let incompatible = |header: Header| Error::Incompatible {
        api_version: header.api_version,
        kind: header.kind,
    };
    let answer: Answer<K> = match serde_json::from_str(text) {
        Ok(answer) => answer,
        Err(err) => {
            return match serde_json::from_str::<Header>(text) {
                Ok(header) if header.api_version != API_VERSION || header.kind != KIND => {
                    Err(incompatible(header))
                }
                _ => Err(Error::Decode(err)),
            };
        }
    };
    if answer.api_version != API_VERSION || answer.kind != KIND {
        return Err(incompatible(Header {
            api_version: answer.api_version,
            kind: answer.kind,
        }));
    }
    Ok(WithSecondaries {
        primary: answer.prim_res,
        secondaries: answer.sec_res.items,
        left_out: answer.left_out,
        depth: answer.depth,
        consistency: answer.consistency,
        tree: answer.tree,
        health: answer.health,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{LeftOutReason, PrimaryWithSecondaries};
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
    use kube::api::ApiResource;
    use serde_json::json;

    /// The URL kube's `Api` uses for `K`, as `Api::resource_url` returns it.
    fn url<K: Resource<DynamicType = ()>>(namespace: Option<&str>) -> String {
        K::url_path(&(), namespace)
    }

    #[test]
    fn namespaced_primaries_use_the_grantable_route_with_their_version() {
        let path = route(
            &url::<Secret>(Some("team-a")),
            "token",
            &SecondaryParams::default().depth(2),
        )
        .unwrap();
        assert_eq!(
            path,
            "/apis/primary-all/v1/namespaces/team-a/secrets/token?version=v1&depth=2"
        );
    }

    #[test]
    fn a_group_is_appended_to_the_plural() {
        let path = route(
            &url::<Deployment>(Some("team-a")),
            "web",
            &SecondaryParams::default(),
        )
        .unwrap();
        assert_eq!(
            path,
            "/apis/primary-all/v1/namespaces/team-a/deployments.apps/web?version=v1"
        );
    }

    #[test]
    fn cluster_scoped_primaries_have_no_namespace() {
        let path = route(
            &url::<Namespace>(None),
            "team-a",
            &SecondaryParams::default(),
        )
        .unwrap();
        assert_eq!(path, "/apis/primary-all/v1/namespaces/team-a?version=v1");
    }

    #[test]
    fn a_dynamic_resource_names_its_own_group_version_and_plural() {
        let gvk = kube::api::GroupVersionKind::gvk("example.com", "v1beta2", "Database");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "databases");
        let path = route(
            &DynamicObject::url_path(&resource, Some("default")),
            "db-1",
            &SecondaryParams::default().cached().tree(),
        )
        .unwrap();
        assert_eq!(
            path,
            "/apis/primary-all/v1/namespaces/default/databases.example.com/db-1\
             ?version=v1beta2&consistency=cached&view=tree"
        );
    }

    #[test]
    fn a_depth_outside_the_servers_bound_is_refused_before_sending() {
        for depth in [0, SecondaryParams::MAX_DEPTH + 1, u32::MAX] {
            let err = route(
                &url::<ConfigMap>(Some("a")),
                "b",
                &SecondaryParams::default().depth(depth),
            )
            .unwrap_err();
            assert!(
                matches!(err, Error::InvalidDepth { depth: d } if d == depth),
                "{err:?}"
            );
        }
        for depth in [1, SecondaryParams::MAX_DEPTH] {
            let params = SecondaryParams::default().depth(depth);
            assert!(route(&url::<ConfigMap>(Some("a")), "b", &params).is_ok());
        }
    }

    #[test]
    fn a_hostile_name_stays_one_segment() {
        let path = route(
            &url::<ConfigMap>(Some("a")),
            "x/../y?depth=10#z %",
            &SecondaryParams::default(),
        )
        .unwrap();
        assert_eq!(
            path,
            "/apis/primary-all/v1/namespaces/a/configmaps/x%2F..%2Fy%3Fdepth=10%23z%20%25?version=v1"
        );
    }

    #[test]
    fn a_url_that_names_no_resource_is_an_error_not_a_panic() {
        for bad in [
            "",
            "/",
            "/api/",
            "/apis/apps",
            "/apis/apps/v1",
            "/healthz",
            "/api/v1/namespaces/a/pods/b",
        ] {
            let err = route(bad, "x", &SecondaryParams::default()).unwrap_err();
            assert!(
                matches!(err, Error::UnknownResourceUrl { .. }),
                "{bad:?}: {err:?}"
            );
        }
    }

    fn answer_json() -> serde_json::Value {
        json!({
            "apiVersion": "primary-all/v1",
            "kind": "PrimaryWithSecondaries",
            "prim_res": {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "db-1", "namespace": "team-a" },
                "data": { "engine": "postgres" }
            },
            "sec_res": { "apiVersion": "v1", "kind": "List", "items": [
                { "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "db-1-config" } }
            ]},
            "leftOut": [{
                "group": "", "version": "v1", "kind": "Secret", "resource": "secrets",
                "namespace": "team-a", "reason": "Forbidden", "message": "may not list"
            }],
            "depth": 2,
            "consistency": "cached",
            "someFieldOfALaterServer": { "ignored": true }
        })
    }

    #[test]
    fn an_answer_decodes_once_into_the_callers_type_with_what_was_left_out() {
        let answer: WithSecondaries<ConfigMap> = decode(&answer_json().to_string()).unwrap();
        assert_eq!(answer.primary.metadata.name.as_deref(), Some("db-1"));
        assert_eq!(answer.primary.data.as_ref().unwrap()["engine"], "postgres");
        assert_eq!(answer.secondaries.len(), 1);
        assert_eq!(answer.left_out.len(), 1);
        assert_eq!(answer.left_out[0].kind, "Secret");
        assert_eq!(answer.left_out[0].reason, LeftOutReason::Forbidden);
        assert!(!answer.is_complete());
        assert_eq!((answer.depth, answer.consistency.as_str()), (2, "cached"));
    }

    #[test]
    fn the_typed_answer_reads_what_the_shared_wire_type_writes() {
        let wire: PrimaryWithSecondaries = serde_json::from_value(answer_json()).unwrap();
        let written = serde_json::to_string(&wire).unwrap();
        let answer: WithSecondaries<DynamicObject> = decode(&written).unwrap();
        assert_eq!(answer.primary.metadata.name, wire.prim_res.metadata.name);
        assert_eq!(answer.secondaries.len(), wire.sec_res.items.len());
        assert_eq!(answer.left_out, wire.left_out);
        assert_eq!(answer.depth, wire.depth);
        assert_eq!(answer.consistency, wire.consistency);
    }

    #[test]
    fn another_version_of_the_answer_is_named_as_incompatible() {
        let mut later = answer_json();
        later["apiVersion"] = json!("primary-all/v2");
        later["prim_res"] = json!("a shape v1 never had");
        let err = decode::<ConfigMap>(&later.to_string()).unwrap_err();
        assert!(
            matches!(&err, Error::Incompatible { api_version, .. } if api_version == "primary-all/v2"),
            "{err:?}"
        );
        let mut same_shape = answer_json();
        same_shape["kind"] = json!("OwnerChain");
        let err = decode::<ConfigMap>(&same_shape.to_string()).unwrap_err();
        assert!(matches!(err, Error::Incompatible { .. }), "{err:?}");
    }

    #[test]
    fn a_primary_that_does_not_fit_the_type_is_a_decode_error() {
        let mut wrong = answer_json();
        wrong["prim_res"]["data"] = json!("not a map");
        let err = decode::<ConfigMap>(&wrong.to_string()).unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
    }
}
