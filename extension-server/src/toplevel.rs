//! A namespace as its top-level objects: what nothing owns and no primary
//! labels, each with the count of objects below it and its rolled-up health.
//!
//! `kubectl get all` shows a namespace as hundreds of Pods, ReplicaSets and
//! Secrets; this shows the handful of things someone created on purpose
//! (a Database, a Deployment, a ConfigMap written by hand) and how each is
//! doing. Every kind holding objects in the namespace is read with one LIST
//! (the watch index says which kinds hold any; without it, every listable
//! kind is listed), and only kinds the caller may `get` there are counted:
//! the others are named as left out, like in every answer.

use std::collections::HashMap;

use futures::StreamExt;
use kube::api::{DynamicObject, ListParams};
use primary_all::wire::{ObjectRef, TopLevelItem, TopLevelList};

use crate::AppState;
use crate::answer::{self, Member};
use crate::authn::UserInfo;
use crate::authz;
use crate::discovery::Kind;
use crate::error::AppError;
use crate::health;
use crate::index::{Entry, Graph, Reached, kind_key};
use crate::request::MAX_DEPTH;
use crate::secondaries::CONCURRENT_LISTS;

/// Answers `namespaces/{namespace}/toplevel` for `user`.
///
/// # Errors
///
/// 503 when discovery has not completed or kube-apiserver cannot be
/// reached; a kind that cannot be read is left out, not an error.
pub async fn answer(
    state: &AppState,
    user: &UserInfo,
    namespace: &str,
) -> Result<TopLevelList, AppError> {
    let mut api_calls = 0;
    let catalog = answer::catalog(state, &mut api_calls).await?;
    let kinds = kinds_to_read(state, catalog.listable(), namespace);

    // Which kinds may the caller read here? Asked before anything is read.
    let mut readable = Vec::new();
    let mut left_out = Vec::new();
    for kind in kinds {
        let decision = state
            .authorizer
            .can_get(user, &kind, Some(namespace), None)
            .await
            .map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
        if decision.allowed {
            readable.push(kind);
        } else if holds_any(state, &kind, namespace).await {
            left_out.push(authz::forbidden_left_out(user, &kind, Some(namespace)));
        }
    }

    let lists = futures::stream::iter(readable)
        .map(|kind| {
            let api = kind.api(state.client.clone(), Some(namespace));
            async move { (kind.clone(), api.list(&ListParams::default()).await) }
        })
        .buffer_unordered(CONCURRENT_LISTS)
        .collect::<Vec<_>>()
        .await;

    let rules = state.rules.get();
    let mut graph = Graph::default();
    let mut objects: HashMap<String, DynamicObject> = HashMap::new();
    for (kind, listed) in lists {
        let items = match listed {
            Ok(list) => list.items,
            Err(err) => {
                left_out.push(crate::secondaries::left_out(&kind, Some(namespace), &err));
                continue;
            }
        };
        let key = kind_key(&kind);
        for mut object in items {
            let Some((uid, entry)) = Entry::of(&key, &object.metadata) else {
                continue;
            };
            kind.stamp(&mut object);
            graph.apply(uid.clone(), entry);
            objects.insert(uid, object);
        }
    }

    let mut items: Vec<TopLevelItem> = objects
        .iter()
        .filter(|(uid, _)| graph.get(uid).is_some_and(Entry::is_top_level))
        .filter(|(_, o)| {
            let types = o.types.clone().unwrap_or_default();
            let group = types.api_version.rsplit_once('/').map_or("", |(g, _)| g);
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
            let below = match state.synced_index() {
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

/// The namespaced kinds to list: those the watch index has objects of in
/// `namespace`, or (without an index) every listable namespaced kind.
fn kinds_to_read(state: &AppState, listable: &[Kind], namespace: &str) -> Vec<Kind> {
    let namespaced = listable.iter().filter(|k| k.is_namespaced());
    match state.synced_index() {
        Some(index) => {
            let held = index.graph().kinds_in(namespace);
            namespaced
                .filter(|k| held.contains(&kind_key(k)))
                .cloned()
                .collect()
        }
        None => namespaced.cloned().collect(),
    }
}

/// Whether `kind` holds objects in `namespace`: the index knows (every kind
/// it returned from [`kinds_to_read`] does); without it, one LIST of at most
/// one object, with the server's own rights, tells.
async fn holds_any(state: &AppState, kind: &Kind, namespace: &str) -> bool {
    if state.synced_index().is_some() {
        return true;
    }
    kind.api(state.client.clone(), Some(namespace))
        .list(&ListParams::default().limit(1))
        .await
        .is_ok_and(|l| !l.items.is_empty())
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
                link: if r.owned { "ownerReference" } else { "label" }.to_string(),
            })
        })
        .collect();
    let tree = answer::tree(object, &members, &parents);
    let types = object.types.clone().unwrap_or_default();
    TopLevelItem {
        object: ObjectRef {
            api_version: types.api_version,
            kind: types.kind,
            namespace: object.metadata.namespace.clone(),
            name: object.metadata.name.clone().unwrap_or_default(),
            link: None,
        },
        secondaries: u32::try_from(members.len()).unwrap_or(u32::MAX),
        health: health::roll_up(&tree),
    }
}
