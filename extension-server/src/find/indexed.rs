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
use primary_all::PRIMARY_UID_LABEL;
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

/// Finds `primary`'s secondaries in the index, then reads the full objects
/// it names, all reads at once and none of a whole kind: per (kind,
/// namespace), one LIST by the primary-uid label for the labelled, one read
/// by name for each owned one; none when `consistency` is `cached` and the
/// index confirms the cached copy.
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
            scan.failed
                .push(kind.left_out(namespace.as_deref(), LeftOutReason::Unavailable));
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
    let mut groups: BTreeMap<KindInNamespace, Vec<Member>> = BTreeMap::new();
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
                    .push(Member {
                        name: entry.name.clone(),
                        reached,
                        version: entry.resource_version.clone(),
                    });
            }
        }
    }
    // What the cache confirms needs no read; the rest is read, every
    // (kind, namespace) at once.
    let mut plans: Vec<Group> = Vec::new();
    for ((key, namespace), members) in groups {
        let Some(kind) = index.kind(&key) else {
            continue;
        };
        let mut objects: HashMap<String, DynamicObject> = HashMap::new();
        if consistency == Consistency::Cached {
            for member in &members {
                let uid = &member.reached.uid;
                if let Some(object) = index.cached_object(uid, &member.version) {
                    objects.insert(uid.clone(), Arc::unwrap_or_clone(object));
                }
            }
        }
        plans.push(Group {
            kind,
            namespace,
            members,
            objects,
        });
    }
    let reads = plans
        .iter()
        .enumerate()
        .flat_map(|(at, group)| targeted_reads(group, &primary_uid).map(move |read| (at, read)))
        .collect::<Vec<_>>();
    let client = index.client();
    let results = futures::stream::iter(reads)
        .map(|(at, read)| {
            let group = &plans[at];
            let client = client.clone();
            async move {
                (
                    at,
                    read.run(&client, &group.kind, group.namespace.as_deref())
                        .await,
                )
            }
        })
        .buffer_unordered(CONCURRENT_READS)
        .collect::<Vec<_>>()
        .await;
    // Which uids each group wants, to keep only those of what a LIST returned.
    let wanted: Vec<HashSet<&str>> = plans
        .iter()
        .map(|group| {
            group
                .members
                .iter()
                .map(|m| m.reached.uid.as_str())
                .collect()
        })
        .collect();
    let mut found: Vec<Vec<DynamicObject>> = plans.iter().map(|_| Vec::new()).collect();
    let mut failed: HashSet<usize> = HashSet::new();
    let mut fetched_all = Vec::new();
    for (at, result) in results {
        scan.api_calls += result.api_calls;
        match result.objects {
            Ok(items) => {
                for object in items {
                    let is_member = object
                        .metadata
                        .uid
                        .as_deref()
                        .is_some_and(|uid| wanted[at].contains(uid));
                    if is_member {
                        if !index.holds_current(&object) {
                            fetched_all.push(object.clone());
                        }
                        found[at].push(object);
                    }
                }
            }
            Err(err) => {
                let group = &plans[at];
                if let Some(err) = &err {
                    if read::is_gone(err) {
                        continue;
                    }
                    tracing::warn!(kind = %group.kind.qualified_resource(), error = %err, "reading secondaries failed");
                }
                failed.insert(at);
            }
        }
    }
    for ((at, group), read) in plans.into_iter().enumerate().zip(found) {
        let Group {
            kind,
            namespace,
            members,
            mut objects,
        } = group;
        for object in read {
            if let Some(uid) = object.metadata.uid.clone() {
                objects.insert(uid, object);
            }
        }
        if failed.contains(&at) {
            scan.failed
                .push(kind.left_out(namespace.as_deref(), LeftOutReason::Failed));
            continue;
        }
        for Member { reached, .. } in members {
            // Deleted between the index and the read: not a secondary any more.
            let Some(object) = objects.remove(&reached.uid) else {
                continue;
            };
            scan.secondaries
                .push(Secondary::reached(kind.clone(), object, reached));
        }
    }
    index.remember(fetched_all);
    scan
}

/// How many reads of one answer are in flight at once: enough that an
/// answer with many secondaries of one kind costs a few round trips, few
/// enough not to trip kube-apiserver's priority and fairness.
pub const CONCURRENT_READS: usize = 16;

/// A secondary as the index names it.
struct Member {
    name: String,
    reached: Reached,
    /// The resourceVersion the watch last saw, which a cached copy must match.
    version: String,
}

/// The objects of one kind in one namespace an answer needs.
struct Group {
    kind: Kind,
    namespace: Option<String>,
    /// Names, where each hangs and its resourceVersion, from the index.
    members: Vec<Member>,
    /// What is known already (the cache), then what the reads returned, by uid.
    objects: HashMap<String, DynamicObject>,
}

/// One read of a [`Group`]: never the whole kind.
enum TargetedRead {
    /// The objects labelled with the primary's uid: one LIST that
    /// kube-apiserver filters by the label.
    Labelled(String),
    /// One object by name (a LIST with a name field selector, which
    /// kube-apiserver answers from its watch cache).
    Named(String),
}

/// What one [`TargetedRead`] returned.
struct ReadResult {
    /// The objects, or the error (`None`: refused before any request).
    objects: Result<Vec<DynamicObject>, Option<kube::Error>>,
    api_calls: u32,
}

/// The reads that fetch what `group` still lacks: one labelled LIST when
/// any member hangs below the primary by its label, and a read by name for
/// every other (owned) member.
fn targeted_reads<'a>(
    group: &'a Group,
    primary_uid: &str,
) -> impl Iterator<Item = TargetedRead> + 'a {
    let missing = || {
        group
            .members
            .iter()
            .filter(|member| !group.objects.contains_key(&member.reached.uid))
    };
    // A member not owned by its parent hangs there by the label (level 1).
    let labelled = missing().any(|member| !member.reached.owned);
    let label = labelled.then(|| TargetedRead::Labelled(primary_uid.to_string()));
    let named = missing()
        .filter(|member| member.reached.owned)
        .map(|member| TargetedRead::Named(member.name.clone()));
    label.into_iter().chain(named)
}

impl TargetedRead {
    async fn run(&self, client: &kube::Client, kind: &Kind, namespace: Option<&str>) -> ReadResult {
        match self {
            Self::Labelled(primary_uid) => {
                let params =
                    ListParams::default().labels(&format!("{PRIMARY_UID_LABEL}={primary_uid}"));
                match read::list(client, kind, namespace, &params, DIRECT_READ_LIMIT).await {
                    Ok(listed) => ReadResult {
                        objects: Ok(listed.items),
                        api_calls: listed.api_calls,
                    },
                    Err(err) => ReadResult {
                        objects: Err(Some(err)),
                        api_calls: 1,
                    },
                }
            }
            Self::Named(name) => match read::one(client, kind, namespace, name).await {
                Ok(object) => ReadResult {
                    objects: Ok(object.into_iter().collect()),
                    api_calls: 1,
                },
                Err(read::ReadError::Kube(err)) => ReadResult {
                    objects: Err(Some(err)),
                    api_calls: 1,
                },
                Err(read::ReadError::Invalid(_)) => ReadResult {
                    objects: Err(None),
                    api_calls: 0,
                },
            },
        }
    }
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
                scan.failed
                    .push(kind.left_out(namespace, LeftOutReason::Syncing));
            }
            Err(_elapsed) => {
                scan.api_calls += 1;
                tracing::warn!(kind = %kind.qualified_resource(), "a kind not yet synced took too long to read");
                scan.failed
                    .push(kind.left_out(namespace, LeftOutReason::Syncing));
            }
        }
    }
    direct
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::discovery::tests::kind;

    fn member(name: &str, uid: &str, owned: bool) -> Member {
        let reached = Reached {
            uid: uid.to_string(),
            parent: "primary".to_string(),
            level: 1,
            owned,
        };
        Member {
            name: name.to_string(),
            reached,
            version: "1".to_string(),
        }
    }

    fn words(reads: impl Iterator<Item = TargetedRead>) -> Vec<String> {
        reads
            .map(|read| match read {
                TargetedRead::Labelled(uid) => format!("label {uid}"),
                TargetedRead::Named(name) => format!("name {name}"),
            })
            .collect()
    }

    #[test]
    fn labelled_members_cost_one_filtered_list_and_owned_ones_a_read_each() {
        let group = Group {
            kind: kind("", "v1", "ConfigMap", "configmaps", true),
            namespace: Some("team-a".to_string()),
            members: vec![
                member("labelled-1", "u1", false),
                member("labelled-2", "u2", false),
                member("owned-1", "u3", true),
                member("owned-2", "u4", true),
            ],
            objects: HashMap::new(),
        };

        let reads = words(targeted_reads(&group, "primary"));

        assert_eq!(reads, ["label primary", "name owned-1", "name owned-2"]);
    }

    #[test]
    fn what_the_cache_holds_is_not_read_again() {
        let config_maps = kind("", "v1", "ConfigMap", "configmaps", true);
        let cached = DynamicObject::new("owned-1", &config_maps.resource);
        let group = Group {
            kind: config_maps,
            namespace: Some("team-a".to_string()),
            members: vec![member("owned-1", "u3", true), member("owned-2", "u4", true)],
            objects: HashMap::from([("u3".to_string(), cached)]),
        };

        let reads = words(targeted_reads(&group, "primary"));

        assert_eq!(reads, ["name owned-2"]);
    }

    #[test]
    fn a_group_the_cache_holds_whole_needs_no_read() {
        let config_maps = kind("", "v1", "ConfigMap", "configmaps", true);
        let cached = DynamicObject::new("labelled-1", &config_maps.resource);
        let group = Group {
            kind: config_maps,
            namespace: None,
            members: vec![member("labelled-1", "u1", false)],
            objects: HashMap::from([("u1".to_string(), cached)]),
        };

        assert!(words(targeted_reads(&group, "primary")).is_empty());
    }
}
