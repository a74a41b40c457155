//! Finding a primary's secondaries by scanning every listable kind.
//!
//! An object is a secondary of primary P when it carries the label
//! `primary-all/primary-uid=<P's uid>` or an ownerReference to P; with
//! `depth > 1`, objects owned by a secondary are secondaries too. There is no
//! server-side filter for ownerReferences, so a scan lists every kind once
//! (in the primary's namespace, or everywhere for a cluster-scoped primary)
//! and walks ownership in memory: one LIST per kind, however deep the walk.

use std::collections::HashMap;

use futures::StreamExt;
use kube::api::{DynamicObject, ListParams};
use primary_all::wire::{LeftOut, LeftOutReason};

use crate::cluster::discovery::{Catalog, Kind};
use crate::cluster::index::kind_key;
use crate::graph::ownership::{Entry, Graph, Reached};

/// How many LISTs run at once: enough to hide round trips, few enough not to
/// trip kube-apiserver's priority and fairness for one request.
pub const CONCURRENT_LISTS: usize = 16;

/// Why an object is a secondary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// It carries the primary-uid label.
    Label,
    /// It has an ownerReference to its parent.
    OwnerReference,
    /// A relationship rule of this name points at it from its parent.
    Rule(std::sync::Arc<str>),
}

impl Link {
    /// How a walk of the ownership graph reached an object: below an
    /// owner, or labelled by the primary.
    pub fn of(reached: &Reached) -> Self {
        if reached.owned {
            Self::OwnerReference
        } else {
            Self::Label
        }
    }

    /// The word the tree view shows: `label`, `ownerReference`, `rule:<name>`.
    pub fn to_word(&self) -> String {
        match self {
            Self::Label => "label".to_string(),
            Self::OwnerReference => "ownerReference".to_string(),
            Self::Rule(name) => format!("rule:{name}"),
        }
    }
}

/// One secondary and where it hangs.
#[derive(Debug, Clone)]
pub struct Secondary {
    /// Its kind.
    pub kind: Kind,
    /// The full object, with `apiVersion` and `kind` set.
    pub object: DynamicObject,
    /// The uid of the object it hangs below (the primary at level 1).
    pub parent_uid: String,
    /// Why it hangs there.
    pub link: Link,
    /// 1 for direct secondaries, 2 for theirs, and so on.
    pub level: u32,
}

impl Secondary {
    /// The object a walk of the ownership graph reached, where the walk
    /// found it: below an owner, or labelled by the primary.
    pub fn reached(kind: Kind, object: DynamicObject, reached: Reached) -> Self {
        let link = Link::of(&reached);
        Self {
            kind,
            object,
            parent_uid: reached.parent,
            link,
            level: reached.level,
        }
    }
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The secondaries, level by level.
    pub secondaries: Vec<Secondary>,
    /// Kinds whose LIST failed.
    pub failed: Vec<LeftOut>,
    /// How many API calls the scan made.
    pub api_calls: u32,
}

/// Lists every listable kind where secondaries of `primary` can live, then
/// walks labels and ownerReferences down to `depth` levels.
pub async fn scan(
    client: &kube::Client,
    catalog: &Catalog,
    primary: &DynamicObject,
    depth: u32,
) -> Scan {
    let namespace = primary.metadata.namespace.clone();
    let lists = futures::stream::iter(catalog.listable().iter().cloned())
        .map(|kind| {
            let client = client.clone();
            let namespace = namespace.clone();
            async move {
                let result = crate::cluster::read::list(
                    &client,
                    &kind,
                    namespace.as_deref(),
                    &ListParams::default(),
                    MAX_SCANNED_PER_KIND,
                )
                .await;
                (kind, result)
            }
        })
        .buffer_unordered(CONCURRENT_LISTS)
        .collect::<Vec<_>>()
        .await;

    let mut result = Scan::default();
    let mut objects: Vec<(Kind, DynamicObject)> = Vec::new();
    for (kind, list) in lists {
        match list {
            Ok(listed) => {
                result.api_calls += listed.api_calls;
                if listed.truncated {
                    result
                        .failed
                        .push(kind.left_out(namespace.as_deref(), LeftOutReason::Truncated));
                }
                objects.extend(listed.items.into_iter().map(|o| (kind.clone(), o)));
            }
            Err(err) if crate::cluster::read::is_gone(&err) => result.api_calls += 1,
            Err(err) => {
                result.api_calls += 1;
                tracing::warn!(kind = %kind.qualified_resource(), error = %err, "a scan's LIST failed");
                result
                    .failed
                    .push(kind.left_out(namespace.as_deref(), LeftOutReason::Failed));
            }
        }
    }
    result.secondaries = walk(primary, objects, depth);
    result
}

/// The most objects of one kind a scan reads (page by page): a bound on the
/// memory one answer can take; a kind cut short is named as `Truncated`.
pub const MAX_SCANNED_PER_KIND: usize = 50_000;

/// Walks labels (level 1 only) and ownerReferences (every level) from the
/// primary down to `depth`, in memory: the LISTed objects become the same
/// [`Graph`] the watch index keeps, so both strategies walk one way.
pub fn walk(
    primary: &DynamicObject,
    objects: Vec<(Kind, DynamicObject)>,
    depth: u32,
) -> Vec<Secondary> {
    let Some(primary_uid) = primary.metadata.uid.clone() else {
        return Vec::new();
    };
    let mut graph = Graph::default();
    let mut by_uid: HashMap<String, (Kind, DynamicObject)> = HashMap::new();
    for (kind, object) in objects {
        if let Some((uid, entry)) = Entry::of(&kind_key(&kind), &object.metadata) {
            graph.apply(uid.clone(), entry);
            by_uid.insert(uid, (kind, object));
        }
    }
    graph
        .secondaries(&primary_uid, depth)
        .into_iter()
        .filter_map(|reached| {
            let (kind, object) = by_uid.remove(&reached.uid)?;
            Some(Secondary::reached(kind, object, reached))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::discovery::tests::kind;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use primary_all::PRIMARY_UID_LABEL;

    fn object(name: &str, uid: &str, owner: Option<&str>, label: Option<&str>) -> DynamicObject {
        let mut object = DynamicObject::new(
            name,
            &kind("", "v1", "ConfigMap", "configmaps", true).resource,
        );
        object.metadata.uid = Some(uid.to_string());
        object.metadata.owner_references = owner.map(|o| {
            vec![OwnerReference {
                uid: o.to_string(),
                ..OwnerReference::default()
            }]
        });
        object.metadata.labels =
            label.map(|l| [(PRIMARY_UID_LABEL.to_string(), l.to_string())].into());
        object
    }

    fn with_kind(objects: Vec<DynamicObject>) -> Vec<(Kind, DynamicObject)> {
        let k = kind("", "v1", "ConfigMap", "configmaps", true);
        objects.into_iter().map(|o| (k.clone(), o)).collect()
    }

    /// Name, level and link of each secondary, by level then name: the walk's order
    /// within a level is not part of its contract (answers are sorted).
    fn names(found: &[Secondary]) -> Vec<(String, u32, String)> {
        let mut names: Vec<(String, u32, String)> = found
            .iter()
            .map(|s| {
                (
                    s.object.metadata.name.clone().unwrap(),
                    s.level,
                    s.link.to_word(),
                )
            })
            .collect();
        names.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        names
    }

    #[test]
    fn level_one_is_owned_or_labelled() {
        let primary = object("db", "p", None, None);
        let objects = with_kind(vec![
            object("owned", "a", Some("p"), None),
            object("labelled", "b", None, Some("p")),
            object("stranger", "c", None, None),
            object("other-label", "d", None, Some("q")),
        ]);
        let found = walk(&primary, objects, 1);
        assert_eq!(
            names(&found),
            vec![
                ("labelled".into(), 1, "label".into()),
                ("owned".into(), 1, "ownerReference".into())
            ]
        );
    }

    #[test]
    fn depth_follows_owner_references_level_by_level() {
        let primary = object("deploy", "p", None, None);
        let objects = with_kind(vec![
            object("pod", "c", Some("b"), None),
            object("replicaset", "b", Some("p"), None),
            object("container-thing", "d", Some("c"), None),
        ]);
        assert_eq!(
            names(&walk(&primary, objects.clone(), 1)),
            vec![("replicaset".into(), 1, "ownerReference".into())]
        );
        assert_eq!(
            names(&walk(&primary, objects.clone(), 2)),
            vec![
                ("replicaset".into(), 1, "ownerReference".into()),
                ("pod".into(), 2, "ownerReference".into())
            ]
        );
        assert_eq!(walk(&primary, objects, 10).len(), 3);
    }

    #[test]
    fn an_object_appears_once_and_the_primary_never() {
        let primary = object("db", "p", None, None);
        let objects = with_kind(vec![
            object("both", "a", Some("p"), Some("p")),
            object("db", "p", None, None),
        ]);
        let found = walk(&primary, objects, 3);
        assert_eq!(
            names(&found),
            vec![("both".into(), 1, "ownerReference".into())]
        );
    }

    #[test]
    fn ownership_cycles_terminate() {
        let primary = object("p", "p", Some("b"), None);
        let objects = with_kind(vec![
            object("a", "a", Some("p"), None),
            object("b", "b", Some("a"), None),
        ]);
        let found = walk(&primary, objects, 10);
        assert_eq!(found.len(), 2);
    }
}
