//! A namespace as its top-level objects: what nothing owns and no primary
//! labels, each with the count of objects below it and its rolled-up health.
//!
//! `kubectl get all` shows a namespace as hundreds of Pods, ReplicaSets and
//! Secrets; this shows the handful of things someone created on purpose
//! (a Database, a Deployment, a ConfigMap written by hand) and how each is
//! doing. Every kind holding objects in the namespace is read with one LIST
//! (the watch index says which kinds hold any; without it, every listable
//! kind is listed), and only what the caller may `list` there (or `get` by
//! name) is shown and counted: the others are named as left out, like in
//! every answer.

use std::collections::{BTreeSet, HashMap};

use futures::{FutureExt, StreamExt};
use kube::api::{DynamicObject, ListParams};
use primary_all::wire::{LeftOutReason, MAX_DEPTH, ObjectRef, TopLevelItem, TopLevelList};

use crate::answer::{Context, locate, primary};
use crate::auth::authn::UserInfo;
use crate::auth::authz;
use crate::cluster::discovery::Kind;
use crate::cluster::index::{Availability, kind_key};
use crate::cluster::read;
use crate::error::AppError;
use crate::find::Link;
use crate::find::scan::{CONCURRENT_LISTS, MAX_SCANNED_PER_KIND};
use crate::graph::ownership::{Entry, Graph, Reached};
use crate::graph::tree::{Member, tree};

/// Answers `namespaces/{namespace}/toplevel` for `user`.
///
/// # Errors
///
/// 503 when discovery has not completed or kube-apiserver cannot be
/// reached; a kind that cannot be read is left out, not an error.
pub async fn answer(
    state: &Context,
    user: &UserInfo,
    namespace: &str,
) -> Result<TopLevelList, AppError> {
    let mut api_calls = 0;
    let catalog = locate::catalog(state, &mut api_calls).await?;
    let mut forbidden = Vec::new();
    let mut left_out = Vec::new();
    let kinds = kinds_to_read(state, catalog.listable(), namespace, &mut left_out);

    let lists = futures::stream::iter(kinds)
        .map(|kind| {
            async move {
                let params = ListParams::default();
                let listed = read::list(
                    &state.client,
                    &kind,
                    Some(namespace),
                    &params,
                    MAX_SCANNED_PER_KIND,
                )
                .await;
                (kind, listed)
            }
            .boxed()
        })
        .buffer_unordered(CONCURRENT_LISTS)
        .collect::<Vec<_>>()
        .await;

    // A namespace's objects are a list: each kind is shown where the caller
    // may `list` it, else only the objects it may `get` by name.
    let rules = state.rules.get();
    let mut graph = Graph::default();
    let mut objects: HashMap<String, DynamicObject> = HashMap::new();
    for (kind, listed) in lists {
        let listed = match listed {
            Ok(listed) => listed,
            Err(err) if read::is_gone(&err) => continue,
            Err(err) => {
                tracing::warn!(kind = %kind.qualified_resource(), error = %err, "toplevel's LIST failed");
                left_out.push(kind.left_out(Some(namespace), LeftOutReason::Failed));
                continue;
            }
        };
        api_calls += listed.api_calls;
        if listed.items.is_empty() {
            continue;
        }
        if listed.truncated {
            left_out.push(kind.left_out(Some(namespace), LeftOutReason::Truncated));
        }
        let names: BTreeSet<String> = listed
            .items
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        let (shown, calls) = state
            .authorizer
            .shown(user, &kind, Some(namespace), &names)
            .await
            .map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
        api_calls += calls;
        if names.iter().any(|n| !shown.includes(n)) {
            forbidden.push(authz::forbidden_left_out(user, &kind, Some(namespace)));
        }
        let key = kind_key(&kind);
        for object in listed.items {
            if !shown.includes(object.metadata.name.as_deref().unwrap_or_default()) {
                continue;
            }
            let Some((uid, entry)) = Entry::of(&key, &object.metadata) else {
                continue;
            };
            graph.apply(uid.clone(), entry);
            objects.insert(uid, object);
        }
    }
    let (mut left_out, calls) = primary::readable_left_out(state, user, &catalog, left_out).await?;
    api_calls += calls;
    left_out.extend(forbidden);
    tracing::Span::current().record("api_calls", api_calls);

    let mut items: Vec<TopLevelItem> = objects
        .iter()
        .filter(|(uid, _)| graph.get(uid).is_some_and(Entry::is_top_level))
        .filter(|(_, o)| {
            let types = o.types.clone().unwrap_or_default();
            let group = primary_all::wire::group_of(&types.api_version);
            !rules.is_hidden(
                group,
                &types.kind,
                o.metadata.name.as_deref().unwrap_or_default(),
            )
        })
        .map(|(uid, object)| {
            // The server's index sees every kind, so its walk passes owners
            // of kinds the caller may not read; without it, only what was
            // listed can be walked.
            let below = match state.finder.index() {
                Some(index) => index.graph().secondaries(uid, MAX_DEPTH),
                None => graph.secondaries(uid, MAX_DEPTH),
            };
            item(&below, &objects, object)
        })
        .collect();
    items.sort_by(|a, b| (&a.object.kind, &a.object.name).cmp(&(&b.object.kind, &b.object.name)));
    left_out.sort_by(|a, b| (&a.group, &a.resource).cmp(&(&b.group, &b.resource)));

    Ok(TopLevelList {
        api_version: primary_all::wire::API_VERSION.to_string(),
        kind: primary_all::wire::TOP_LEVEL_LIST_KIND.to_string(),
        namespace: namespace.to_string(),
        items,
        left_out,
    })
}

/// The namespaced kinds to list: those the watch index has synced and
/// holds objects of in `namespace`, and those it has not synced yet; kinds
/// it cannot read are added to `left_out`. Without an index, every listable
/// namespaced kind.
fn kinds_to_read(
    state: &Context,
    listable: &[Kind],
    namespace: &str,
    left_out: &mut Vec<primary_all::wire::LeftOut>,
) -> Vec<Kind> {
    let Some(index) = state.finder.index() else {
        return listable
            .iter()
            .filter(|k| k.is_namespaced())
            .cloned()
            .collect();
    };
    let held = index.graph().kinds_in(namespace);
    let mut kinds = Vec::new();
    for (kind, availability) in index.kinds() {
        if !kind.is_namespaced() {
            continue;
        }
        match availability {
            Availability::Synced if held.contains(&kind_key(&kind)) => kinds.push(kind),
            Availability::Synced => {}
            Availability::Syncing => kinds.push(kind),
            Availability::Unavailable => {
                left_out.push(kind.left_out(Some(namespace), LeftOutReason::Unavailable))
            }
        }
    }
    kinds
}

/// One top-level object: the objects below it that the caller may read
/// (every level), and the worst health among them. `below` is the walk
/// from it, through objects of every kind, so that an object below an
/// owner the caller may not read is still counted, and hangs, for the
/// roll-up's path, under its nearest ancestor the caller may read.
fn item(
    below: &[Reached],
    objects: &HashMap<String, DynamicObject>,
    object: &DynamicObject,
) -> TopLevelItem {
    let parents: HashMap<String, String> = below
        .iter()
        .map(|r| (r.uid.clone(), r.parent.clone()))
        .collect();
    let members: Vec<Member<'_>> = below
        .iter()
        .filter_map(|r| {
            Some(Member {
                object: objects.get(&r.uid)?,
                parent: &r.parent,
                link: Link::of(r).to_word(),
            })
        })
        .collect();
    let tree = tree(object, &members, &parents);
    TopLevelItem {
        object: ObjectRef::of(object, None),
        secondaries: u32::try_from(members.len()).unwrap_or(u32::MAX),
        health: health::roll_up(&tree),
    }
}
