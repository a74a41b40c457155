//! Who owns or labels whom, as the watches see it, and the walk down from a
//! primary.
//!
//! An object is a secondary of primary P when it carries the label
//! `primary-all/primary-uid=<P's uid>` or an ownerReference to P; with
//! `depth > 1`, objects owned by a secondary are secondaries too.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use primary_all::PRIMARY_UID_LABEL;

/// What the index keeps of one object: about a hundred bytes plus its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The kind's key (`group/version/plural`) in the index's map of watched kinds.
    pub kind: Arc<str>,
    /// Its namespace.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Its resourceVersion, as the watch last saw it.
    pub resource_version: String,
    /// The uids of its owners.
    pub owners: Vec<String>,
    /// The value of its `primary-all/primary-uid` label.
    pub primary_label: Option<String>,
}

/// An object a walk from a primary reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// Its uid.
    pub uid: String,
    /// The uid of the object it hangs below (the primary at level 1).
    pub parent: String,
    /// 1 for the primary's own secondaries, 2 for theirs, and so on.
    pub level: u32,
    /// Whether it is owned by its parent (else labelled with its uid).
    pub owned: bool,
}

/// The object graph as the watches see it.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every object by uid.
    by_uid: HashMap<String, Entry>,
    /// (kind, namespace, name) → uid, to find a primary without asking.
    by_name: HashMap<(Arc<str>, Option<String>, String), String>,
    /// Owner uid or labelled primary uid → the uids below it.
    children: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// Adds or replaces one object.
    pub fn apply(&mut self, uid: String, entry: Entry) {
        self.remove(&uid);
        for parent in entry.owners.iter().chain(entry.primary_label.iter()) {
            self.children
                .entry(parent.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.by_name.insert(
            (
                entry.kind.clone(),
                entry.namespace.clone(),
                entry.name.clone(),
            ),
            uid.clone(),
        );
        self.by_uid.insert(uid, entry);
    }

    /// Removes one object.
    pub fn remove(&mut self, uid: &str) {
        if let Some(old) = self.by_uid.remove(uid) {
            for parent in old.owners.iter().chain(old.primary_label.iter()) {
                if let Some(set) = self.children.get_mut(parent) {
                    set.remove(uid);
                    if set.is_empty() {
                        self.children.remove(parent);
                    }
                }
            }
            self.by_name.remove(&(old.kind, old.namespace, old.name));
        }
    }

    /// Replaces every object of `kind` with `entries` (a watch's relist).
    pub fn replace_kind(&mut self, kind: &Arc<str>, entries: Vec<(String, Entry)>) {
        let stale: Vec<String> = self
            .by_uid
            .iter()
            .filter(|(_, e)| &e.kind == kind)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            self.remove(&uid);
        }
        for (uid, entry) in entries {
            self.apply(uid, entry);
        }
    }

    /// The uid of a named object.
    pub fn uid_of(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<String> {
        self.by_name
            .get(&(
                Arc::from(kind),
                namespace.map(str::to_string),
                name.to_string(),
            ))
            .cloned()
    }

    /// An object by uid.
    pub fn get(&self, uid: &str) -> Option<&Entry> {
        self.by_uid.get(uid)
    }

    /// Whether this graph holds an object of `entry`'s kind, namespace and
    /// name (whatever its uid).
    pub fn holds(&self, entry: &Entry) -> bool {
        self.uid_of(&entry.kind, entry.namespace.as_deref(), &entry.name)
            .is_some()
    }

    /// The secondaries of `primary_uid` down to `depth`: labels at level 1,
    /// ownerReferences at every level. Each object appears once, at the
    /// first level that reaches it; the primary itself never appears.
    pub fn secondaries(&self, primary_uid: &str, depth: u32) -> Vec<Reached> {
        walk(&[self], &|_| true, primary_uid, depth)
    }

    /// The kinds that hold at least one object in `namespace`.
    pub fn kinds_in(&self, namespace: &str) -> HashSet<Arc<str>> {
        self.by_uid
            .values()
            .filter(|e| e.namespace.as_deref() == Some(namespace))
            .map(|e| e.kind.clone())
            .collect()
    }

    /// How many objects are indexed.
    pub fn len(&self) -> usize {
        self.by_uid.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_uid.is_empty()
    }
}

/// The walk behind [`Graph::secondaries`], over the union of `graphs` (the
/// index, and objects of kinds it has not synced, read for one answer) and
/// only through entries `include` accepts.
// ANCHOR: walk
pub fn walk(
    graphs: &[&Graph],
    include: &dyn Fn(&Entry) -> bool,
    primary_uid: &str,
    depth: u32,
) -> Vec<Reached> {
    let entry = |uid: &str| {
        graphs
            .iter()
            .find_map(|g| g.by_uid.get(uid))
            .filter(|e| include(e))
    };
    let mut seen: HashSet<String> = HashSet::from([primary_uid.to_string()]);
    let mut found: Vec<Reached> = Vec::new();
    let mut frontier: Vec<String> = vec![primary_uid.to_string()];
    for level in 1..=depth {
        let mut next = Vec::new();
        for parent in &frontier {
            let children = graphs
                .iter()
                .flat_map(|g| g.children.get(parent).into_iter().flatten());
            for child in children {
                let Some(entry) = entry(child) else {
                    continue;
                };
                let owned = entry.owners.iter().any(|o| o == parent);
                let labelled =
                    level == 1 && entry.primary_label.as_deref() == Some(parent.as_str());
                if (owned || labelled) && seen.insert(child.clone()) {
                    found.push(Reached {
                        uid: child.clone(),
                        parent: parent.clone(),
                        level,
                        owned,
                    });
                    next.push(child.clone());
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    found
}
// ANCHOR_END: walk

impl Entry {
    /// Nothing owns it and no primary labels it: the top of a namespace.
    pub fn is_top_level(&self) -> bool {
        self.owners.is_empty() && self.primary_label.is_none()
    }

    /// The uid and entry of an object of kind `kind` (a `group/version/plural` key, as the index makes them), from
    /// its metadata; `None` without a uid or name.
    pub fn of(kind: &Arc<str>, m: &kube::api::ObjectMeta) -> Option<(String, Entry)> {
        Some((
            m.uid.clone()?,
            Entry {
                kind: kind.clone(),
                namespace: m.namespace.clone(),
                name: m.name.clone()?,
                resource_version: m.resource_version.clone().unwrap_or_default(),
                owners: m
                    .owner_references
                    .iter()
                    .flatten()
                    .map(|o| o.uid.clone())
                    .collect(),
                primary_label: m
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(PRIMARY_UID_LABEL))
                    .cloned(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, owners: &[&str], label: Option<&str>) -> Entry {
        Entry {
            kind: Arc::from("/v1/configmaps"),
            namespace: Some("ns".to_string()),
            name: name.to_string(),
            resource_version: "1".to_string(),
            owners: owners.iter().map(|s| s.to_string()).collect(),
            primary_label: label.map(str::to_string),
        }
    }

    fn graph() -> Graph {
        let mut graph = Graph::default();
        graph.apply("p".into(), entry("db", &[], None));
        graph.apply("a".into(), entry("owned", &["p"], None));
        graph.apply("b".into(), entry("labelled", &[], Some("p")));
        graph.apply("c".into(), entry("grandchild", &["a"], None));
        graph.apply("d".into(), entry("labelled-grandchild", &[], Some("a")));
        graph
    }

    fn names(graph: &Graph, found: Vec<Reached>) -> Vec<(String, u32)> {
        let mut names: Vec<(String, u32)> = found
            .into_iter()
            .map(|r| (graph.get(&r.uid).unwrap().name.clone(), r.level))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn level_one_is_owned_or_labelled_and_deeper_levels_are_owned() {
        let graph = graph();
        assert_eq!(
            names(&graph, graph.secondaries("p", 1)),
            vec![("labelled".into(), 1), ("owned".into(), 1)]
        );
        assert_eq!(
            names(&graph, graph.secondaries("p", 2)),
            vec![
                ("grandchild".into(), 2),
                ("labelled".into(), 1),
                ("owned".into(), 1)
            ]
        );
    }

    #[test]
    fn removal_and_relist_keep_the_index_consistent() {
        let mut graph = graph();
        graph.remove("a");
        assert_eq!(
            names(&graph, graph.secondaries("p", 3)),
            vec![("labelled".into(), 1)]
        );
        graph.replace_kind(
            &Arc::from("/v1/configmaps"),
            vec![("x".into(), entry("fresh", &["p"], None))],
        );
        assert_eq!(graph.len(), 1);
        assert_eq!(
            graph
                .uid_of("/v1/configmaps", Some("ns"), "fresh")
                .as_deref(),
            Some("x")
        );
        assert!(
            graph
                .uid_of("/v1/configmaps", Some("ns"), "owned")
                .is_none()
        );
    }

    #[test]
    fn an_update_that_drops_an_owner_unlinks_the_child() {
        let mut graph = graph();
        graph.apply("a".into(), entry("owned", &[], None));
        assert_eq!(
            names(&graph, graph.secondaries("p", 1)),
            vec![("labelled".into(), 1)]
        );
    }
}
