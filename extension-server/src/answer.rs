//! Putting an answer together: resolve, authorize, read, scan, filter.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::api::DynamicObject;
use primary_all::wire::{LeftOut, LeftOutReason, PrimaryWithSecondaries, SecondaryList, TreeNode};

use crate::authn::UserInfo;
use crate::discovery::{self, Catalog, Kind};
use crate::error::AppError;
use crate::request::{self, Params, PrimaryRef, View};
use crate::secondaries::{self, Secondary};
use crate::{AppState, PREFIX, Strategy, authz, health, indexed, read, rules};

/// Answers one primary route for `user`: `wanted` with its secondaries.
///
/// # Errors
///
/// A `Status`-shaped [`AppError`]: 400 for a bad path or query, 403 when the
/// caller may not read the primary, 404 for an unknown kind or a missing
/// primary, 503 when kube-apiserver cannot be reached.
pub async fn primary(
    state: &AppState,
    user: &UserInfo,
    wanted: &PrimaryRef,
    params: &Params,
) -> Result<PrimaryWithSecondaries, AppError> {
    if params.consistency == request::Consistency::Cached && state.index.is_none() {
        return Err(AppError::BadRequest(
            "consistency=cached needs the server's watch cache (--strategy=indexed)".to_string(),
        ));
    }
    let Located {
        kind,
        catalog,
        object: primary,
        mut api_calls,
    } = locate(state, user, wanted, params).await?;
    tracing::Span::current().record(
        "primary",
        format!("{}/{}", kind.qualified_resource(), wanted.name),
    );

    let scan = match &state.index {
        Some(index) => {
            indexed::secondaries(index, &primary, params.depth, params.consistency).await
        }
        None => secondaries::scan(&state.client, &catalog, &primary, params.depth).await,
    };
    api_calls += scan.api_calls;
    let mut found = scan.secondaries;
    let mut failed = scan.failed;
    let by_rules = follow_rules(state, user, &catalog, &primary, &found, params.depth).await;
    api_calls += by_rules.api_calls;
    let namespace = primary.metadata.namespace.as_deref();
    for kind in &by_rules.truncated {
        failed.push(secondaries::left_out(
            kind,
            namespace,
            LeftOutReason::Truncated,
        ));
    }
    for kind in &by_rules.failed {
        failed.push(secondaries::left_out(
            kind,
            namespace,
            LeftOutReason::Failed,
        ));
    }
    found.extend(by_rules.secondaries);
    // Where every secondary hangs, the forbidden ones too, for the tree.
    let parents: HashMap<String, String> = found
        .iter()
        .filter_map(|s| Some((s.object.metadata.uid.clone()?, s.parent_uid.clone())))
        .collect();
    let (mut visible, mut left_out, sar_calls) = authorize(state, user, found, namespace).await?;
    // LISTs finish in any order; answers do not.
    visible.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    api_calls += sar_calls;
    for kind in cap(&mut visible, MAX_SECONDARIES) {
        failed.push(secondaries::left_out(
            &kind,
            namespace,
            LeftOutReason::Truncated,
        ));
    }
    let failed: Vec<LeftOut> = failed
        .into_iter()
        .filter(|l| holds_nothing_visible(l, &visible))
        .collect();
    let (failed, sar_calls) = readable_left_out(state, user, &catalog, failed).await?;
    api_calls += sar_calls;
    left_out.extend(failed);

    tracing::Span::current().record("secondaries", visible.len());
    tracing::Span::current().record("api_calls", api_calls);
    state.metrics.api_calls.observe(f64::from(api_calls));
    state.metrics.api_calls_total.inc_by(u64::from(api_calls));

    let members: Vec<Member<'_>> = visible
        .iter()
        .map(|s| Member {
            object: &s.object,
            parent: &s.parent_uid,
            link: s.link.to_word(),
        })
        .collect();
    let tree = tree(&primary, &members, &parents);
    let health = health::roll_up(&tree);
    let tree = (params.view == View::Tree).then_some(tree);
    Ok(PrimaryWithSecondaries {
        api_version: primary_all::wire::API_VERSION.to_string(),
        kind: primary_all::wire::KIND.to_string(),
        prim_res: strip(primary),
        sec_res: SecondaryList::new(visible.into_iter().map(|s| strip(s.object)).collect()),
        left_out,
        depth: params.depth,
        consistency: params.consistency.as_str().to_string(),
        tree,
        health: Some(health),
    })
}

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
/// the scope, refuse unless `user` may `get` it, and read it (a quorum read,
/// or the cached copy with `consistency=cached`).
pub(crate) async fn locate(
    state: &AppState,
    user: &UserInfo,
    wanted: &PrimaryRef,
    params: &Params,
) -> Result<Located, AppError> {
    let wanted = with_version(wanted.clone(), params)?;
    let mut api_calls = 0;
    let catalog = catalog(state, &mut api_calls).await?;
    let (kind, catalog) = resolve(state, catalog, &wanted, &mut api_calls).await?;
    let namespace = check_scope(&kind, &wanted)?;
    api_calls += require_get(state, user, &kind, namespace.as_deref(), &wanted.name).await?;
    let (object, read_calls) = read_primary(
        state,
        &kind,
        namespace.as_deref(),
        &wanted.name,
        params.consistency,
    )
    .await?;
    Ok(Located {
        kind,
        catalog,
        object,
        api_calls: api_calls + read_calls,
    })
}

/// Applies the relationship rules to the primary and to every secondary
/// above the deepest level asked for, so that what a rule finds stays
/// within `depth`.
async fn follow_rules(
    state: &AppState,
    user: &UserInfo,
    catalog: &Catalog,
    primary: &DynamicObject,
    found: &[Secondary],
    depth: u32,
) -> rules::Found {
    let rules = state.rules.get();
    if rules.rules.is_empty() {
        return rules::Found::default();
    }
    let mut known: HashSet<String> = found
        .iter()
        .filter_map(|s| s.object.metadata.uid.clone())
        .chain(primary.metadata.uid.clone())
        .collect();
    let sources: Vec<(&DynamicObject, u32)> = std::iter::once((primary, 0))
        .chain(found.iter().map(|s| (&s.object, s.level)))
        .filter(|(_, level)| *level < depth)
        .collect();
    let reader = rules::Reader {
        authorizer: &state.authorizer,
        user,
    };
    rules::apply(&state.client, reader, catalog, &rules, &sources, &mut known).await
}

/// Refuses with 403, in kube-apiserver's words, unless `user` may `get`
/// the object itself: nobody learns anything about an object they could not
/// read. Returns the API calls the check cost (0 or 1).
pub(crate) async fn require_get(
    state: &AppState,
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
    state: &AppState,
    api_calls: &mut u32,
) -> Result<Arc<Catalog>, AppError> {
    match state.strategy {
        Strategy::Scan | Strategy::Indexed => match state.discovery.get().await {
            Some(catalog) => Ok(catalog),
            None => Err(AppError::Unavailable(
                "discovery has not completed yet; try again shortly".to_string(),
            )),
        },
        Strategy::ListAll => {
            let catalog = discovery::discover(&state.client)
                .await
                .map_err(|e| AppError::from_kube("failed to discover the cluster's kinds", e))?;
            // Aggregated discovery: one request for /api and one for /apis.
            *api_calls += 2;
            Ok(Arc::new(catalog))
        }
    }
}

/// Resolves the kind; an unknown one triggers one rate-limited rediscovery,
/// because a CRD may have been created a moment ago. Returns the catalog it
/// resolved with, so that a scan lists the kinds of that same catalog.
pub(crate) async fn resolve(
    state: &AppState,
    catalog: Arc<Catalog>,
    wanted: &PrimaryRef,
    api_calls: &mut u32,
) -> Result<(Kind, Arc<Catalog>), AppError> {
    if let Some(kind) = lookup(&catalog, wanted)? {
        return Ok((kind, catalog));
    }
    if state.strategy != Strategy::ListAll
        && let Ok(Some(fresh)) = state.discovery.refresh_if_stale().await
    {
        if let Some(index) = &state.index {
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
    if let Some(kind) = catalog.resolve(wanted) {
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
    state: &AppState,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
    consistency: request::Consistency,
) -> Result<(DynamicObject, u32), AppError> {
    if let (request::Consistency::Cached, Some(index)) = (consistency, &state.index) {
        let key = crate::index::kind_key(kind);
        let cached = {
            let graph = index.graph();
            graph.uid_of(&key, namespace, name).and_then(|uid| {
                let version = graph.get(&uid)?.resource_version.clone();
                Some((uid, version))
            })
        };
        if let Some(object) = cached.and_then(|(uid, version)| index.cached_object(&uid, &version))
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
    if let Some(index) = &state.index {
        index.remember(std::slice::from_ref(&primary));
    }
    Ok((primary, 1))
}

/// Keeps the secondaries `user` may be shown, and names the kinds of the
/// others as left out: per (kind, namespace), everything when the caller
/// may `list` it there, else only objects it may `get` by name (see
/// [`authz`]). A left-out entry names a namespace only when it is
/// `primary_namespace`, the one the caller named.
pub(crate) async fn authorize(
    state: &AppState,
    user: &UserInfo,
    found: Vec<Secondary>,
    primary_namespace: Option<&str>,
) -> Result<(Vec<Secondary>, Vec<LeftOut>, u32), AppError> {
    type Key = (String, String, Option<String>);
    let key = |s: &Secondary| -> Key {
        (
            s.kind.resource.group.clone(),
            s.kind.resource.plural.clone(),
            s.object.metadata.namespace.clone(),
        )
    };
    let mut groups: BTreeMap<Key, (Kind, BTreeSet<String>)> = BTreeMap::new();
    for secondary in &found {
        groups
            .entry(key(secondary))
            .or_insert_with(|| (secondary.kind.clone(), BTreeSet::new()))
            .1
            .insert(secondary.object.metadata.name.clone().unwrap_or_default());
    }
    let decisions = futures::stream::iter(groups)
        .map(|(key, (kind, names))| {
            async move {
                let shown = state
                    .authorizer
                    .shown(user, &kind, key.2.as_deref(), &names)
                    .await;
                (key, kind, names, shown)
            }
            .boxed()
        })
        .buffer_unordered(authz::CONCURRENT_REVIEWS)
        .collect::<Vec<_>>()
        .await;
    let mut api_calls = 0;
    let mut shown: HashMap<Key, authz::Shown> = HashMap::new();
    let mut left_out: BTreeMap<Key, LeftOut> = BTreeMap::new();
    for (key, kind, names, decision) in decisions {
        let (decision, calls) =
            decision.map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
        api_calls += calls;
        if names.iter().any(|n| !decision.includes(n)) {
            let namespace = key.2.as_deref().filter(|ns| Some(*ns) == primary_namespace);
            left_out.insert(
                key.clone(),
                authz::forbidden_left_out(user, &kind, namespace),
            );
        }
        shown.insert(key, decision);
    }
    let visible = found
        .into_iter()
        .filter(|s| {
            shown
                .get(&key(s))
                .is_some_and(|d| d.includes(s.object.metadata.name.as_deref().unwrap_or_default()))
        })
        .collect();
    Ok((visible, left_out.into_values().collect(), api_calls))
}

/// Keeps the entries for kinds that could not be read (failed, syncing,
/// unavailable, truncated) only where `user` may `list` that kind: what the
/// caller could not have read is not the caller's gap, and naming it would
/// tell the caller about kinds it may not see.
pub(crate) async fn readable_left_out(
    state: &AppState,
    user: &UserInfo,
    catalog: &Catalog,
    entries: Vec<LeftOut>,
) -> Result<(Vec<LeftOut>, u32), AppError> {
    let mut kept: Vec<LeftOut> = Vec::new();
    let mut api_calls = 0;
    for entry in entries {
        let repeated = kept.iter().any(|k| {
            k.group == entry.group && k.resource == entry.resource && k.namespace == entry.namespace
        });
        if repeated {
            continue;
        }
        let Some(kind) = catalog.by_group_kind(&entry.group, &entry.kind) else {
            continue;
        };
        let decision = state
            .authorizer
            .can_list(user, &kind, entry.namespace.as_deref())
            .await
            .map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
        api_calls += decision.api_calls;
        if decision.allowed {
            kept.push(entry);
        }
    }
    Ok((kept, api_calls))
}

/// The most secondaries one answer holds: a bound on its size (a few KiB
/// an object, so tens of MiB at most). The objects past it (in the answer's
/// order: by level, kind and name) are left out, and their kinds named as
/// `Truncated`.
pub const MAX_SECONDARIES: usize = 10_000;

/// Keeps the first `max` of `visible` and returns the kinds of those cut.
fn cap(visible: &mut Vec<Secondary>, max: usize) -> Vec<Kind> {
    let mut cut: Vec<Kind> = Vec::new();
    for secondary in visible.drain(max.min(visible.len())..) {
        if !cut.iter().any(|k| k.is_same_resource(&secondary.kind)) {
            cut.push(secondary.kind);
        }
    }
    cut
}

fn sort_key(s: &Secondary) -> (u32, &str, &str, Option<&str>, Option<&str>) {
    (
        s.level,
        s.kind.resource.group.as_str(),
        s.kind.resource.kind.as_str(),
        s.object.metadata.namespace.as_deref(),
        s.object.metadata.name.as_deref(),
    )
}

/// A failed LIST is worth reporting unless the caller sees objects of that kind anyway.
fn holds_nothing_visible(left: &LeftOut, visible: &[Secondary]) -> bool {
    !visible
        .iter()
        .any(|s| s.kind.resource.group == left.group && s.kind.resource.plural == left.resource)
}

/// Drops `managedFields`: bookkeeping of field owners that no reader of an
/// answer wants, and often half of an object's size.
pub(crate) fn strip(mut object: DynamicObject) -> DynamicObject {
    object.metadata.managed_fields = None;
    object
}

/// One object to place in a tree: the uid it hangs below, and why.
pub struct Member<'a> {
    /// The object, with `apiVersion` and `kind`.
    pub object: &'a DynamicObject,
    /// The uid of the object it hangs below.
    pub parent: &'a str,
    /// Why it hangs there (`ownerReference`, `label`, `rule:…`).
    pub link: String,
}

/// `root` with `members` nested below their parents, each node with its
/// own health, children sorted by kind and name. A member whose parent is
/// not shown (the caller may not read it) hangs under its nearest ancestor
/// that is, found through `parents` (every uid, hidden ones too, to the uid
/// above it), or under the root.
pub fn tree(
    root: &DynamicObject,
    members: &[Member<'_>],
    parents: &HashMap<String, String>,
) -> TreeNode {
    let root_uid = root.metadata.uid.as_deref().unwrap_or_default();
    let member_uids: HashSet<&str> = members
        .iter()
        .filter_map(|m| m.object.metadata.uid.as_deref())
        .collect();
    let shown = |uid: &str| uid == root_uid || member_uids.contains(uid);
    let mut children: HashMap<&str, Vec<&Member<'_>>> = HashMap::new();
    for member in members {
        // Up past the owners the caller may not see; bounded, for cycles.
        let mut parent = member.parent;
        for _ in 0..parents.len() {
            match parents.get(parent) {
                Some(up) if !shown(parent) => parent = up,
                _ => break,
            }
        }
        let parent = if shown(parent) { parent } else { root_uid };
        children.entry(parent).or_default().push(member);
    }
    fn node(
        object: &DynamicObject,
        link: Option<&str>,
        children: &HashMap<&str, Vec<&Member<'_>>>,
    ) -> TreeNode {
        let uid = object.metadata.uid.as_deref().unwrap_or_default();
        let mut kids: Vec<TreeNode> = children
            .get(uid)
            .into_iter()
            .flatten()
            .map(|m| node(m.object, Some(&m.link), children))
            .collect();
        kids.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        let types = object.types.clone().unwrap_or_default();
        TreeNode {
            api_version: types.api_version,
            kind: types.kind,
            namespace: object.metadata.namespace.clone(),
            name: object.metadata.name.clone().unwrap_or_default(),
            link: link.map(str::to_string),
            health: Some(health::of(object)),
            children: kids,
        }
    }
    node(root, None, &children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::tests::kind;
    use crate::secondaries::Link;

    fn secondary(kind: &Kind, name: &str) -> Secondary {
        Secondary {
            kind: kind.clone(),
            object: DynamicObject::new(name, &kind.resource),
            parent_uid: "p".to_string(),
            link: Link::OwnerReference,
            level: 1,
        }
    }

    #[test]
    fn an_answer_past_its_bound_keeps_the_first_and_names_the_kinds_it_cut() {
        let config_maps = kind("", "v1", "ConfigMap", "configmaps", true);
        let secrets = kind("", "v1", "Secret", "secrets", true);
        let mut visible = vec![
            secondary(&config_maps, "a"),
            secondary(&config_maps, "b"),
            secondary(&secrets, "c"),
            secondary(&secrets, "d"),
        ];
        let cut = cap(&mut visible, 1);
        let kept: Vec<_> = visible
            .iter()
            .filter_map(|s| s.object.metadata.name.clone())
            .collect();
        assert_eq!(kept, ["a"]);
        let cut: Vec<_> = cut.iter().map(|k| k.resource.plural.as_str()).collect();
        assert_eq!(cut, ["configmaps", "secrets"]);

        let mut small = vec![secondary(&config_maps, "a")];
        assert!(cap(&mut small, 10).is_empty());
        assert_eq!(small.len(), 1);
    }
}
