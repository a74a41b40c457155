//! Putting an answer together: resolve, authorize, read, scan, filter.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::api::DynamicObject;
use primary_all::wire::{LeftOut, LeftOutReason, PrimaryWithSecondaries, SecondaryList};

use crate::answer::locate::{Located, locate};
use crate::answer::{Answered, Context, Params, PrimaryRef, View};
use crate::auth::authn::UserInfo;
use crate::auth::authz;
use crate::cluster::discovery::{Catalog, Kind};
use crate::error::AppError;
use crate::find::{Consistency, Secondary, rules};
use crate::graph::tree::{Member, strip, tree};

/// Answers one primary route for `user`: `wanted` with its secondaries.
///
/// # Errors
///
/// A `Status`-shaped [`AppError`]: 400 for a bad path or query, 403 when the
/// caller may not read the primary, 404 for an unknown kind or a missing
/// primary, 503 when kube-apiserver cannot be reached.
pub async fn primary(
    state: &Context,
    user: &UserInfo,
    wanted: &PrimaryRef,
    params: &Params,
) -> Result<Answered<PrimaryWithSecondaries>, AppError> {
    if params.consistency == Consistency::Cached && state.finder.index().is_none() {
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

    // The `list` reviews of the kinds the index says hold secondaries go out
    // while those are read: `authorize` below then finds them decided.
    let (scan, review_calls) = tokio::join!(
        state.finder.secondaries(
            &state.client,
            &catalog,
            &primary,
            params.depth,
            params.consistency,
        ),
        review_ahead(state, user, &primary, params.depth),
    );
    api_calls += scan.api_calls + review_calls;
    let mut found = scan.secondaries;
    let mut failed = scan.failed;
    let by_rules = follow_rules(state, user, &catalog, &primary, &found, params.depth).await;
    api_calls += by_rules.api_calls;
    let namespace = primary.metadata.namespace.as_deref();
    for kind in &by_rules.truncated {
        failed.push(kind.left_out(namespace, LeftOutReason::Truncated));
    }
    for kind in &by_rules.failed {
        failed.push(kind.left_out(namespace, LeftOutReason::Failed));
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
        failed.push(kind.left_out(namespace, LeftOutReason::Truncated));
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
    let body = PrimaryWithSecondaries {
        api_version: primary_all::wire::API_VERSION.to_string(),
        kind: primary_all::wire::KIND.to_string(),
        prim_res: strip(primary),
        sec_res: SecondaryList::new(visible.into_iter().map(|s| strip(s.object)).collect()),
        left_out,
        depth: params.depth,
        consistency: params.consistency.as_str().to_string(),
        tree,
        health: Some(health),
    };
    Ok(Answered { body, api_calls })
}

/// Asks, ahead of the reads, whether `user` may `list` each (kind,
/// namespace) the watch index says holds secondaries of `primary`, so the
/// reviews cost no round trip of their own; returns the API calls made. A
/// review that fails is left for `authorize` to ask again and report.
async fn review_ahead(
    state: &Context,
    user: &UserInfo,
    primary: &DynamicObject,
    depth: u32,
) -> u32 {
    let (Some(index), Some(uid)) = (state.finder.index(), primary.metadata.uid.as_deref()) else {
        return 0;
    };
    let pairs: BTreeSet<(Arc<str>, Option<String>)> = {
        let graph = index.graph();
        graph
            .secondaries(uid, depth)
            .iter()
            .filter_map(|reached| graph.get(&reached.uid))
            .map(|entry| (entry.kind.clone(), entry.namespace.clone()))
            .collect()
    };
    let reviews = pairs.into_iter().filter_map(|(key, namespace)| {
        let kind = index.kind(&key)?;
        Some(async move {
            state
                .authorizer
                .can_list(user, &kind, namespace.as_deref())
                .await
                .map_or(0, |decision| decision.api_calls)
        })
    });
    futures::stream::iter(reviews)
        .buffer_unordered(authz::CONCURRENT_REVIEWS)
        .fold(0, |calls, more| async move { calls + more })
        .await
}

/// Applies the relationship rules to the primary and to every secondary
/// above the deepest level asked for, so that what a rule finds stays
/// within `depth`.
async fn follow_rules(
    state: &Context,
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

/// Keeps the secondaries `user` may be shown, and names the kinds of the
/// others as left out: per (kind, namespace), everything when the caller
/// may `list` it there, else only objects it may `get` by name (see
/// [`authz`]). A left-out entry names a namespace only when it is
/// `primary_namespace`, the one the caller named.
pub(crate) async fn authorize(
    state: &Context,
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
    state: &Context,
    user: &UserInfo,
    catalog: &Catalog,
    entries: Vec<LeftOut>,
) -> Result<(Vec<LeftOut>, u32), AppError> {
    let mut distinct: Vec<LeftOut> = Vec::new();
    for entry in entries {
        let repeated = distinct.iter().any(|k| {
            k.group == entry.group && k.resource == entry.resource && k.namespace == entry.namespace
        });
        if !repeated {
            distinct.push(entry);
        }
    }
    // One review per entry, all at once (in order, so answers stay stable).
    let decisions = futures::stream::iter(distinct)
        .map(|entry| async move {
            let Some(kind) = catalog.by_group_kind(&entry.group, &entry.kind) else {
                return Ok((entry, None));
            };
            let decision = state
                .authorizer
                .can_list(user, &kind, entry.namespace.as_deref())
                .await?;
            Ok::<_, kube::Error>((entry, Some(decision)))
        })
        .buffered(authz::CONCURRENT_REVIEWS)
        .collect::<Vec<_>>()
        .await;
    let mut kept = Vec::new();
    let mut api_calls = 0;
    for decided in decisions {
        let (entry, decision) =
            decided.map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
        let Some(decision) = decision else {
            continue;
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::discovery::tests::kind;
    use crate::find::scan::Link;

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
