//! Answering from the metadata index: read only the kinds that hold
//! secondaries.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::api::{DynamicObject, ListParams};

use crate::index::{MetaIndex, Reached};
use crate::request::Consistency;
use crate::secondaries::{Scan, Secondary};

/// A kind's index key and a namespace: what one read covers.
type KindInNamespace = (Arc<str>, Option<String>);

/// Finds `primary_uid`'s secondaries in the index, then reads the full
/// objects: one GET or LIST per (kind, namespace) that holds any, or none
/// when `consistency` is `cached` and the index confirms the cached copy.
pub async fn secondaries(
    index: &MetaIndex,
    primary_uid: &str,
    depth: u32,
    consistency: Consistency,
) -> Scan {
    let found = index.graph().secondaries(primary_uid, depth);
    // (kind, namespace) → the objects of it to read, with where they hang.
    let mut groups: BTreeMap<KindInNamespace, Vec<(String, Reached)>> = BTreeMap::new();
    {
        let graph = index.graph();
        for reached in found {
            if let Some(entry) = graph.get(&reached.uid) {
                groups
                    .entry((entry.kind.clone(), entry.namespace.clone()))
                    .or_default()
                    .push((entry.name.clone(), reached));
            }
        }
    }
    let mut scan = Scan::default();
    let mut fetched_all = Vec::new();
    for ((key, namespace), members) in groups {
        let Some(kind) = index.kind(&key) else {
            continue;
        };
        let mut objects: BTreeMap<String, DynamicObject> = BTreeMap::new();
        if consistency == Consistency::Cached {
            let graph = index.graph();
            for (_, reached) in &members {
                let version = graph
                    .get(&reached.uid)
                    .map(|e| e.resource_version.clone())
                    .unwrap_or_default();
                if let Some(object) = index.cached_object(&reached.uid, &version) {
                    objects.insert(reached.uid.clone(), object);
                }
            }
        }
        if objects.len() < members.len() {
            let api = kind.api(index.client(), namespace.as_deref());
            scan.api_calls += 1;
            let read = if members.len() == 1 {
                api.get_opt(&members[0].0)
                    .await
                    .map(|o| o.into_iter().collect::<Vec<_>>())
            } else {
                api.list(&ListParams::default()).await.map(|l| l.items)
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
                Err(err) => {
                    scan.failed.push(crate::secondaries::left_out(
                        &kind,
                        namespace.as_deref(),
                        &err,
                    ));
                    continue;
                }
            }
        }
        for (_, reached) in members {
            // Deleted between the index and the read: not a secondary any more.
            let Some(mut object) = objects.remove(&reached.uid) else {
                continue;
            };
            kind.stamp(&mut object);
            scan.secondaries
                .push(Secondary::reached(kind.clone(), object, reached));
        }
    }
    index.remember(&fetched_all);
    scan
}
