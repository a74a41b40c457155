//! The start of every route that names an object: resolve its kind, check
//! its scope, authorize the caller, read it.

use std::sync::Arc;

use kube::api::DynamicObject;
use primary_all::wire::PREFIX;

use crate::answer::{Context, Params, PrimaryRef};
use crate::auth::authn::UserInfo;
use crate::auth::authz;
use crate::cluster::discovery::{self, Catalog, Kind};
use crate::cluster::index::kind_key;
use crate::cluster::read;
use crate::error::AppError;
use crate::find::Consistency;

/// An object a path names, read for a caller who may `get` it.
pub(crate) struct Located {
    /// Its kind.
    pub kind: Kind,
    /// The catalog the kind was resolved with (a scan lists its kinds).
    pub catalog: Arc<Catalog>,
    /// The object, with `apiVersion` and `kind`.
    pub object: DynamicObject,
    /// The API calls it took.
    pub api_calls: u32,
}

/// The start of every route that names an object: resolve its kind, check
/// the scope, refuse unless `user` may `get` it, and read it (a consistent
/// read, or the cached copy with `consistency=cached`).
pub(crate) async fn locate(
    state: &Context,
    user: &UserInfo,
    wanted: &PrimaryRef,
    params: &Params,
) -> Result<Located, AppError> {
    let wanted = with_version(wanted.clone(), params)?;
    let mut api_calls = 0;
    let catalog = catalog(state, &mut api_calls).await?;
    let (kind, catalog) = resolve(state, catalog, &wanted, &mut api_calls).await?;
    let namespace = check_scope(&kind, &wanted)?;
    // The review and the read go out together: one round trip, not two.
    // The review is looked at first, so a caller who may not `get` the
    // object learns nothing from the read (not even whether it exists).
    let (allowed, read) = tokio::join!(
        require_get(state, user, &kind, namespace.as_deref(), &wanted.name),
        read_primary(
            state,
            &kind,
            namespace.as_deref(),
            &wanted.name,
            params.consistency,
        )
    );
    api_calls += allowed?;
    let (object, read_calls) = read?;
    Ok(Located {
        kind,
        catalog,
        object,
        api_calls: api_calls + read_calls,
    })
}

/// Refuses with 403, in kube-apiserver's words, unless `user` may `get`
/// the object itself: nobody learns anything about an object they could not
/// read. Returns the API calls the check cost (0 or 1).
pub(crate) async fn require_get(
    state: &Context,
    user: &UserInfo,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
) -> Result<u32, AppError> {
    let decision = state
        .authorizer
        .can_get(user, kind, namespace, name)
        .await
        .map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
    if !decision.allowed {
        return Err(AppError::Forbidden(authz::forbidden_message(
            user, kind, namespace, name,
        )));
    }
    Ok(decision.api_calls)
}

/// `wanted` with the version a `?version=` names; both naming different
/// versions is a bad request.
fn with_version(mut wanted: PrimaryRef, params: &Params) -> Result<PrimaryRef, AppError> {
    if let Some(version) = &params.version {
        match &wanted.version {
            Some(in_path) if in_path != version => {
                return Err(AppError::BadRequest(format!(
                    "the path names version {in_path:?} and the query {version:?}: name one"
                )));
            }
            _ => wanted.version = Some(version.clone()),
        }
    }
    Ok(wanted)
}

/// The catalog to resolve and scan with: the cached one, or (the seed's
/// `list-all`) a fresh discovery for this request alone.
pub(crate) async fn catalog(
    state: &Context,
    api_calls: &mut u32,
) -> Result<Arc<Catalog>, AppError> {
    if state.finder.discovers_per_request() {
        let catalog = discovery::discover(&state.client)
            .await
            .map_err(|e| AppError::from_kube("failed to discover the cluster's kinds", e))?;
        // Aggregated discovery: one request for /api and one for /apis.
        *api_calls += 2;
        return Ok(Arc::new(catalog));
    }
    match state.discovery.get().await {
        Some(catalog) => Ok(catalog),
        None => Err(AppError::Unavailable(
            "discovery has not completed yet; try again shortly".to_string(),
        )),
    }
}

/// Resolves the kind; an unknown one triggers one rate-limited rediscovery,
/// because a CRD may have been created a moment ago. Returns the catalog it
/// resolved with, so that a scan lists the kinds of that same catalog.
pub(crate) async fn resolve(
    state: &Context,
    catalog: Arc<Catalog>,
    wanted: &PrimaryRef,
    api_calls: &mut u32,
) -> Result<(Kind, Arc<Catalog>), AppError> {
    if let Some(kind) = lookup(&catalog, wanted)? {
        return Ok((kind, catalog));
    }
    if !state.finder.discovers_per_request()
        && let Ok(Some(fresh)) = state.discovery.refresh_if_stale().await
    {
        if let Some(index) = state.finder.index() {
            index.follow(&fresh);
        }
        *api_calls += 2;
        if let Some(kind) = lookup(&fresh, wanted)? {
            return Ok((kind, fresh));
        }
    }
    // Named without group or version, every group was searched: say so as
    // kubectl does, without pretending only the core group was.
    if wanted.group.is_empty() && wanted.version.is_none() {
        return Err(AppError::NotFound(format!(
            "the server doesn't have a resource type \"{}\"",
            wanted.kind
        )));
    }
    let group = if wanted.group.is_empty() {
        "core".to_string()
    } else {
        wanted.group.clone()
    };
    let version = wanted
        .version
        .as_deref()
        .map(|v| format!("/{v}"))
        .unwrap_or_default();
    Err(AppError::NotFound(format!(
        "the server doesn't have a resource type \"{}\" in {group}{version}",
        wanted.kind
    )))
}

/// The kind `wanted` names in `catalog`: by group, version and kind or
/// plural; or, named without a group (`database/db-1`, as kubectl users type
/// it), the kind of any group when exactly one group has it.
fn lookup(catalog: &Catalog, wanted: &PrimaryRef) -> Result<Option<Kind>, AppError> {
    if let Some(kind) = catalog.resolve(wanted.kind_query()) {
        return Ok(Some(kind));
    }
    if !wanted.group.is_empty() || wanted.version.is_some() {
        return Ok(None);
    }
    match catalog.resolve_in_any_group(&wanted.kind).as_slice() {
        [] => Ok(None),
        [kind] => Ok(Some(kind.clone())),
        several => {
            let names: Vec<String> = several.iter().map(Kind::qualified_resource).collect();
            Err(AppError::BadRequest(format!(
                "{:?} is ambiguous: it names {}; name the group, as in {}",
                wanted.kind,
                names.join(", "),
                names[0]
            )))
        }
    }
}

/// A namespaced kind needs a namespace, a cluster-scoped one must have none.
fn check_scope(kind: &Kind, wanted: &PrimaryRef) -> Result<Option<String>, AppError> {
    match (kind.is_namespaced(), &wanted.namespace) {
        (true, Some(ns)) => Ok(Some(ns.clone())),
        (false, None) => Ok(None),
        (true, None) => Err(AppError::BadRequest(format!(
            "{} is namespaced: name a namespace, as in {PREFIX}/namespaces/{{namespace}}/{}/{}",
            kind.qualified_resource(),
            kind.qualified_resource(),
            wanted.name
        ))),
        (false, Some(_)) => Err(AppError::BadRequest(format!(
            "{} is cluster-scoped: leave the namespace out, as in {PREFIX}/{}/{}",
            kind.qualified_resource(),
            kind.qualified_resource(),
            wanted.name
        ))),
    }
}

/// Reads the primary with a consistent read (a LIST by name without
/// resourceVersion, which kube-apiserver answers as fresh as a quorum read
/// of etcd): this is what "latest" means.
///
/// With `consistency=cached`, a copy whose resourceVersion the watch cache
/// confirms is used instead, and the read costs no API call.
async fn read_primary(
    state: &Context,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
    consistency: Consistency,
) -> Result<(DynamicObject, u32), AppError> {
    if let (Consistency::Cached, Some(index)) = (consistency, state.finder.index()) {
        let key = kind_key(kind);
        let cached = {
            let graph = index.graph();
            graph.uid_of(&key, namespace, name).and_then(|uid| {
                let version = graph.get(&uid)?.resource_version.clone();
                Some((uid, version))
            })
        };
        if let Some(object) = cached
            .and_then(|(uid, version)| index.cached_object(&uid, &version))
            .map(Arc::unwrap_or_clone)
        {
            return Ok((object, 0));
        }
    }
    let primary = read::one(&state.client, kind, namespace, name)
        .await
        .map_err(|e| match e {
            read::ReadError::Invalid(why) => AppError::BadRequest(why),
            read::ReadError::Kube(err) => AppError::from_kube(
                format!("failed to read {} {name:?}", kind.qualified_resource()),
                err,
            ),
        })?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "{} \"{name}\" not found",
                kind.qualified_resource()
            ))
        })?;
    if let Some(index) = state.finder.index()
        && !index.holds_current(&primary)
    {
        index.remember([primary.clone()]);
    }
    Ok((primary, 1))
}
