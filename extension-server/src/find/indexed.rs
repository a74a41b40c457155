//! Answering from the metadata index: read only the kinds that hold
//! secondaries.
//!
//! Kinds the index has synced are walked in memory and read only where they
//! hold secondaries; kinds it has not synced yet (a CRD created a moment
//! ago, a watch that just failed) are read directly for this answer and
//! walked together with the index, so a new kind is never a silent gap.
//! Kinds whose watch keeps failing are named as left out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kube::api::{DynamicObject, ListParams};
use primary_all::wire::LeftOutReason;

use crate::cluster::discovery::Kind;
use crate::cluster::index::{Availability, MetaIndex, kind_key};
use crate::cluster::read;
use crate::find::{Consistency, Scan, Secondary};
use crate::graph::ownership::{self, Entry, Graph, Reached};

/// A kind's index key and a namespace: what one read covers.
type KindInNamespace = (Arc<str>, Option<String>);

/// How long a direct read of a kind the index has not synced may take; one
/// that takes longer is named as left out, so one slow kind cannot hold up
/// every answer.
pub const DIRECT_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The most objects a direct read of one kind takes.
pub const DIRECT_READ_LIMIT: usize = 10_000;

/// Finds `primary`'s secondaries in the index, then reads the full objects:
/// one read per (kind, namespace) that holds any, or none when
/// `consistency` is `cached` and the index confirms the cached copy.
pub async fn secondaries(
    index: &MetaIndex,
    primary: &DynamicObject,
    depth: u32,
    consistency: Consistency,
) -> Scan {
    let mut scan = Scan::default();
    let Some(primary_uid) = primary.metadata.uid.clone() else {
        return scan;
    };
    let namespace = primary.metadata.namespace.clone();
    let kinds = index.kinds();
    let unsynced: HashSet<Arc<str>> = kinds
        .iter()
        .filter(|(_, a)| *a != Availability::Synced)
        .map(|(k, _)| kind_key(k))
        .collect();
    for (kind, availability) in &kinds {
        if *availability == Availability::Unavailable {
            scan.failed.push(kind.left_out(namespace.as_deref(), LeftOutReason::Unavailable));
        }
    }
    let syncing: Vec<Kind> = kinds
        .into_iter()
        .filter(|(_, a)| *a == Availability::Syncing)
        .map(|(k, _)| k)
        .collect();
    let direct = read_directly(index, syncing, namespace.as_deref(), &mut scan).await;

    let found = {
        // What was read directly comes first, so its entries win over what
        // the index may still hold of a kind it has not synced.
        let graph = index.graph();
        let current = |e: &Entry| !unsynced.contains(&e.kind) || direct.graph.holds(e);
        ownership::walk(&[&direct.graph, &graph], &current, &primary_uid, depth)
    };
    // (kind, namespace) → the objects of it to read, with where they hang.
    let mut groups: BTreeMap<KindInNamespace, Vec<(String, Reached)>> = BTreeMap::new();
    let mut direct_objects = direct.objects;
    {
        let graph = index.graph();
        for reached in found {
            if let Some((kind, object)) = direct_objects.remove(&reached.uid) {
                scan.secondaries
                    .push(Secondary::reached(kind, object, reached));
                continue;
            }
            if let Some(entry) = graph.get(&reached.uid) {
                groups
                    .entry((entry.kind.clone(), entry.namespace.clone()))
                    .or_default()
                    .push((entry.name.clone(), reached));
            }
        }
    }
    let mut fetched_all = Vec::new();
    for ((key, namespace), members) in groups {
        let Some(kind) = index.kind(&key) else {
            continue;
        };
        let mut objects: BTreeMap<String, DynamicObject> = BTreeMap::new();
        if consistency == Consistency::Cached {
            let versions: Vec<(String, String)> = {
                let graph = index.graph();
                members
                    .iter()
                    .map(|(_, reached)| {
                        let version = graph
                            .get(&reached.uid)
                            .map(|e| e.resource_version.clone())
                            .unwrap_or_default();
                        (reached.uid.clone(), version)
                    })
                    .collect()
            };
            for (uid, version) in versions {
                if let Some(object) = index.cached_object(&uid, &version) {
                    objects.insert(uid, object);
                }
            }
        }
        if objects.len() < members.len() {
            let read = if members.len() == 1 {
                scan.api_calls += 1;
                read::one(&index.client(), &kind, namespace.as_deref(), &members[0].0)
                    .await
                    .map(|o| o.into_iter().collect::<Vec<_>>())
                    .map_err(|e| match e {
                        read::ReadError::Kube(err) => Some(err),
                        read::ReadError::Invalid(_) => None,
                    })
            } else {
                read::list(
                    &index.client(),
                    &kind,
                    namespace.as_deref(),
                    &ListParams::default(),
                    DIRECT_READ_LIMIT,
                )
                .await
                .map(|listed| {
                    scan.api_calls += listed.api_calls;
                    listed.items
                })
                .map_err(|err| {
                    scan.api_calls += 1;
                    Some(err)
                })
            };
            match read {
                Ok(items) => {
                    for object in items {
                        let Some(uid) = object.metadata.uid.clone() else {
                            continue;
                        };
                        if members.iter().any(|(_, m)| m.uid == uid) {
                            fetched_all.push(object.clone());
                            objects.insert(uid, object);
                        }
                    }
                }
                Err(Some(err)) if read::is_gone(&err) => continue,
                Err(err) => {
                    if let Some(err) = err {
                        tracing::warn!(kind = %kind.qualified_resource(), error = %err, "reading secondaries failed");
                    }
                    scan.failed.push(kind.left_out(namespace.as_deref(), LeftOutReason::Failed));
                    continue;
                }
            }
        }
        for (_, reached) in members {
            // Deleted between the index and the read: not a secondary any more.
            let Some(object) = objects.remove(&reached.uid) else {
                continue;
            };
            scan.secondaries
                .push(Secondary::reached(kind.clone(), object, reached));
        }
    }
    index.remember(&fetched_all);
    scan
}

/// Objects of kinds the index has not synced, read for one answer.
#[derive(Default)]
struct Direct {
    /// Their entries, to walk beside the index.
    graph: Graph,
    /// The full objects by uid.
    objects: HashMap<String, (Kind, DynamicObject)>,
}

/// Reads every kind of `kinds` where secondaries of a primary in
/// `namespace` can live (that namespace, or everywhere for a cluster-scoped
/// primary), each bounded by [`DIRECT_READ_TIMEOUT`]; a kind that fails or
/// takes longer is named as left out (`Syncing`).
async fn read_directly(
    index: &MetaIndex,
    kinds: Vec<Kind>,
    namespace: Option<&str>,
    scan: &mut Scan,
) -> Direct {
    let client = index.client();
    let reads = futures::stream::iter(kinds)
        .map(|kind| {
            let client = client.clone();
            async move {
                let params = ListParams::default();
                let read = read::list(&client, &kind, namespace, &params, DIRECT_READ_LIMIT);
                let result = tokio::time::timeout(DIRECT_READ_TIMEOUT, read).await;
                (kind, result)
            }
            .boxed()
        })
        .buffer_unordered(crate::find::scan::CONCURRENT_LISTS)
        .collect::<Vec<_>>()
        .await;
    let mut direct = Direct::default();
    for (kind, result) in reads {
        match result {
            Ok(Ok(listed)) => {
                scan.api_calls += listed.api_calls;
                let key = kind_key(&kind);
                for object in listed.items {
                    if let Some((uid, entry)) = Entry::of(&key, &object.metadata) {
                        direct.graph.apply(uid.clone(), entry);
                        direct.objects.insert(uid, (kind.clone(), object));
                    }
                }
            }
            Ok(Err(err)) if read::is_gone(&err) => scan.api_calls += 1,
            Ok(Err(err)) => {
                scan.api_calls += 1;
                tracing::warn!(kind = %kind.qualified_resource(), error = %err, "a kind not yet synced could not be read");
                scan.failed.push(kind.left_out(namespace, LeftOutReason::Syncing));
            }
            Err(_elapsed) => {
                scan.api_calls += 1;
                tracing::warn!(kind = %kind.qualified_resource(), "a kind not yet synced took too long to read");
                scan.failed.push(kind.left_out(namespace, LeftOutReason::Syncing));
            }
        }
    }
    direct
}
