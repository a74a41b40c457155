//! The metadata index behind `--strategy=indexed`.
//!
//! One metadata-only watch per listable kind (kube-runtime's
//! `metadata_watcher`: names, uids, labels, ownerReferences, resourceVersion,
//! never specs or data) keeps an in-memory index of who owns what and who is
//! labelled with which primary. A request then knows *which* (kind,
//! namespace) pairs hold secondaries without asking kube-apiserver, and reads
//! only those: O(1 + kinds that hold secondaries) API calls instead of one per
//! kind in the cluster.
//!
//! A full-object cache, keyed by uid and checked against the
//! resourceVersion the watch last saw, serves `?consistency=cached`: an
//! object whose version the index confirms is not read again. It holds
//! objects as answers send them (no managedFields), shared (`Arc`), and is
//! bounded by their size in bytes ([`FULL_OBJECT_CACHE_BYTES`]), the least
//! used going first.
//!
//! # Availability per kind
//!
//! Each kind's watch is on its own: one that never syncs (a CRD whose
//! conversion webhook points nowhere, an aggregated API that fails its
//! LISTs) never holds up the others. A kind is [`Availability::Synced`]
//! once its watch has listed it; [`Availability::Syncing`] before that, and
//! for [`FAILING_GRACE`] after a failure, while answers read it directly;
//! [`Availability::Unavailable`] when its watch has kept failing longer, and
//! answers then name it as left out instead of waiting on it.
//! [`MetaIndex::is_ready`] asks only that every watch has tried once.
//!
//! # Lock order
//!
//! `kinds` → `synced`/`failing` → `graph`. A lock later in the
//! list is never held while one earlier is taken (a caller of
//! [`MetaIndex::graph`] drops its guard before [`MetaIndex::kind`]), and no
//! guard is held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

use crate::cluster::discovery::{Catalog, Kind};
use crate::graph::ownership::{Entry, Graph};

/// How many bytes of full objects (as JSON) `consistency=cached` keeps at
/// most: thousands of typical objects, a bounded share of the Pod's 512 MiB.
pub const FULL_OBJECT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// How long after its watch failed a kind is still read directly by
/// answers (a kube-apiserver restart, a lost watch); past it, the kind is
/// [`Availability::Unavailable`] and named as left out.
pub const FAILING_GRACE: Duration = Duration::from_secs(30);

/// Whether answers can take a kind's objects from the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Its watch has listed it: the index holds every object of it.
    Synced,
    /// Its watch has not listed it yet, or failed a moment ago: answers
    /// read it directly.
    Syncing,
    /// Its watch keeps failing: answers name it as left out.
    Unavailable,
}

/// The key of a kind in the index: `group/version/plural`.
pub fn kind_key(kind: &Kind) -> Arc<str> {
    Arc::from(format!(
        "{}/{}/{}",
        kind.resource.group, kind.resource.version, kind.resource.plural
    ))
}

fn entry_of(kind: &Arc<str>, meta: &PartialObjectMeta<DynamicObject>) -> Option<(String, Entry)> {
    Entry::of(kind, &meta.metadata)
}

/// One change the watches saw: an object added, changed or deleted (with
/// the uids it hangs below), or a whole kind listed afresh.
#[derive(Debug, Clone)]
pub enum Change {
    /// An object changed.
    Object {
        /// Its uid.
        uid: String,
        /// The uids of its owners and of the primary its label names.
        parents: Vec<String>,
    },
    /// A watch listed its kind again (after a restart or a lost watch):
    /// anything may have changed.
    Relisted,
}

impl Change {
    /// Whether the change may alter an answer made of `uids`.
    pub fn touches(&self, uids: &HashSet<String>) -> bool {
        match self {
            Self::Object { uid, parents } => {
                uids.contains(uid) || parents.iter().any(|p| uids.contains(p))
            }
            Self::Relisted => true,
        }
    }

    fn of(uid: &str, entry: &Entry) -> Self {
        Self::Object {
            uid: uid.to_string(),
            parents: entry
                .owners
                .iter()
                .chain(entry.primary_label.iter())
                .cloned()
                .collect(),
        }
    }
}

/// How many changes a slow watcher may fall behind before it is told it
/// missed some (and answers again).
const CHANGES_BUFFERED: usize = 1024;

/// A watched kind and the task that watches it.
type Watched = (Kind, JoinHandle<()>);

/// The index, its watches, and the full-object cache.
pub struct MetaIndex {
    client: kube::Client,
    graph: Arc<RwLock<Graph>>,
    kinds: RwLock<HashMap<Arc<str>, Watched>>,
    synced: Arc<RwLock<HashSet<Arc<str>>>>,
    failing: Arc<RwLock<HashMap<Arc<str>, Instant>>>,
    objects: moka::sync::Cache<String, Arc<DynamicObject>>,
    changes: broadcast::Sender<Change>,
    rediscover: Arc<Notify>,
}

impl MetaIndex {
    /// An empty index; [`MetaIndex::follow`] starts its watches.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            graph: Arc::default(),
            kinds: RwLock::default(),
            synced: Arc::default(),
            failing: Arc::default(),
            objects: moka::sync::Cache::builder()
                .max_capacity(FULL_OBJECT_CACHE_BYTES)
                .weigher(|uid: &String, object: &Arc<DynamicObject>| {
                    let bytes = uid.len() + serde_json::to_vec(&**object).map_or(0, |j| j.len());
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build(),
            changes: broadcast::channel(CHANGES_BUFFERED).0,
            rediscover: Arc::default(),
        }
    }

    /// Tells of every change the watches see from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Waits until the watches see that the cluster's kinds changed: a
    /// CustomResourceDefinition or APIService was created, changed or
    /// deleted, or a watch found its kind unknown to kube-apiserver (a 404).
    /// Discovery should then be refreshed and [`MetaIndex::follow`]ed, so
    /// that a new kind is watched (and answered) within seconds, and a gone
    /// one stops being watched, without waiting for the periodic refresh.
    pub async fn kinds_changed(&self) {
        self.rediscover.notified().await;
    }

    /// Starts a watch for every listable, watchable kind of `catalog` not yet
    /// watched, and stops those of kinds that are gone (a deleted CRD).
    pub fn follow(&self, catalog: &Catalog) {
        let wanted: HashMap<Arc<str>, Kind> = catalog
            .listable()
            .iter()
            .filter(|k| {
                k.capabilities
                    .supports_operation(kube::discovery::verbs::WATCH)
            })
            .map(|k| (kind_key(k), k.clone()))
            .collect();
        let mut kinds = self.kinds.write().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<Arc<str>> = kinds
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some((_, task)) = kinds.remove(&key) {
                task.abort();
            }
            self.synced
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            self.failing
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            self.graph
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .replace_kind(&key, Vec::new());
            tracing::info!(kind = %key, "stopped watching a kind that is gone");
        }
        // A watch ends only by a panic (`watch_kind` loops until it is
        // aborted): start it afresh, and read its kind directly for answers
        // until the new watch has listed it, since events were missed.
        let ended: Vec<Arc<str>> = kinds
            .iter()
            .filter(|(_, (_, task))| task.is_finished())
            .map(|(key, _)| key.clone())
            .collect();
        for key in ended {
            tracing::error!(kind = %key, "the watch of a kind ended; starting it again");
            kinds.remove(&key);
            self.synced
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
        for (key, kind) in wanted {
            if kinds.contains_key(&key) {
                continue;
            }
            let mut watch = KindWatch::new(
                key.clone(),
                self.graph.clone(),
                self.synced.clone(),
                self.changes.clone(),
            );
            watch.failing = self.failing.clone();
            if defines_kinds(&kind) {
                watch.kinds_changed = Some(self.rediscover.clone());
            }
            let task = tokio::spawn(watch_kind(
                self.client.clone(),
                kind.clone(),
                watch,
                self.rediscover.clone(),
            ));
            kinds.insert(key, (kind, task));
        }
    }

    /// The client the watches use.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Whether every watched kind has completed its initial list.
    pub fn is_synced(&self) -> bool {
        let kinds = self.kinds.read().unwrap_or_else(|e| e.into_inner());
        let synced = self.synced.read().unwrap_or_else(|e| e.into_inner());
        !kinds.is_empty() && kinds.keys().all(|k| synced.contains(k))
    }

    /// Whether the index can serve answers: it watches something, and every
    /// watch has either listed its kind or failed trying. A kind that never
    /// syncs does not hold the server back; answers name it instead.
    pub fn is_ready(&self) -> bool {
        let kinds = self.kinds.read().unwrap_or_else(|e| e.into_inner());
        let synced = self.synced.read().unwrap_or_else(|e| e.into_inner());
        let failing = self.failing.read().unwrap_or_else(|e| e.into_inner());
        !kinds.is_empty()
            && kinds
                .keys()
                .all(|k| synced.contains(k) || failing.contains_key(k))
    }

    /// Every watched kind with its availability.
    pub fn kinds(&self) -> Vec<(Kind, Availability)> {
        let kinds = self.kinds.read().unwrap_or_else(|e| e.into_inner());
        let synced = self.synced.read().unwrap_or_else(|e| e.into_inner());
        let failing = self.failing.read().unwrap_or_else(|e| e.into_inner());
        kinds
            .iter()
            .map(|(key, (kind, _))| {
                let availability = if synced.contains(key) {
                    Availability::Synced
                } else {
                    match failing.get(key) {
                        Some(since) if since.elapsed() >= FAILING_GRACE => {
                            Availability::Unavailable
                        }
                        _ => Availability::Syncing,
                    }
                };
                (kind.clone(), availability)
            })
            .collect()
    }

    /// How many watched kinds are not synced.
    pub fn unsynced_kinds(&self) -> usize {
        let kinds = self.kinds.read().unwrap_or_else(|e| e.into_inner());
        let synced = self.synced.read().unwrap_or_else(|e| e.into_inner());
        kinds.keys().filter(|k| !synced.contains(*k)).count()
    }

    /// Reads the graph.
    pub fn graph(&self) -> std::sync::RwLockReadGuard<'_, Graph> {
        self.graph.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The kind behind a key.
    pub fn kind(&self, key: &str) -> Option<Kind> {
        self.kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|(k, _)| k.clone())
    }

    /// A cached full object, if its resourceVersion is the one the index
    /// last saw (so it is as fresh as the watch).
    pub fn cached_object(&self, uid: &str, resource_version: &str) -> Option<Arc<DynamicObject>> {
        self.objects
            .get(uid)
            .filter(|o| o.metadata.resource_version.as_deref() == Some(resource_version))
    }

    /// Whether the cache holds `object` at its resourceVersion already, so
    /// that remembering it again would only cost a copy.
    pub fn holds_current(&self, object: &DynamicObject) -> bool {
        match (&object.metadata.uid, &object.metadata.resource_version) {
            (Some(uid), Some(version)) => self.cached_object(uid, version).is_some(),
            _ => false,
        }
    }

    /// Remembers full objects read for an answer, for `consistency=cached`,
    /// without their managedFields (which no answer sends).
    pub fn remember(&self, fetched: impl IntoIterator<Item = DynamicObject>) {
        for mut object in fetched {
            object.metadata.managed_fields = None;
            if let Some(uid) = object.metadata.uid.clone() {
                self.objects.insert(uid, Arc::new(object));
            }
        }
    }
}

/// The object type of a metadata-only watch.
type Meta = PartialObjectMeta<DynamicObject>;

/// Follows one kind until aborted.
///
/// Any error marks the kind unsynced (so `/readyz` fails while
/// kube-apiserver is away) and starts a fresh watcher after kube-runtime's
/// backoff: a fresh watcher lists first, so the index is rebuilt from what
/// is there now, and its `InitDone` marks the kind synced again. (A watcher
/// kept across the error would resume from its resourceVersion without any
/// event, and readiness would never learn that it had recovered.) A 404
/// means the kind may be gone: `rediscover` asks for a fresh discovery, which
/// stops this watch if it is.
async fn watch_kind(
    client: kube::Client,
    kind: Kind,
    mut watch: KindWatch,
    rediscover: Arc<Notify>,
) {
    // An Api of PartialObjectMeta asks kube-apiserver for metadata only.
    let api: Api<Meta> = Api::all_with(client, &kind.resource);
    let config = watcher::Config::default().any_semantic();
    let mut backoff = watcher::DefaultBackoff::default();
    loop {
        let mut stream = watcher::watcher(api.clone(), config.clone()).boxed();
        while let Some(event) = stream.next().await {
            match watch.on_event(event) {
                After::Continue => {}
                After::Synced => backoff = watcher::DefaultBackoff::default(),
                After::Failed { kind_missing } => {
                    if kind_missing {
                        rediscover.notify_one();
                    }
                    break;
                }
            }
        }
        let pause = backoff.next().unwrap_or(Duration::from_secs(30));
        tokio::time::sleep(pause).await;
    }
}

/// What the watch loop does after one event.
#[derive(Debug, PartialEq, Eq)]
enum After {
    /// Keep reading this watcher.
    Continue,
    /// The kind has (re)listed and is synced: reset the backoff.
    Synced,
    /// The watcher failed: drop it and start a fresh one after the backoff.
    Failed {
        /// It failed with 404: the kind may have been deleted.
        kind_missing: bool,
    },
}

/// One kind's watch as the index and readiness see it, one event at a time.
struct KindWatch {
    key: Arc<str>,
    graph: Arc<RwLock<Graph>>,
    synced: Arc<RwLock<HashSet<Arc<str>>>>,
    /// The entries of a list in progress.
    buffer: Vec<(String, Entry)>,
    /// Whether the kind was synced once and then lost, so that its return
    /// is logged (once) too.
    lost: bool,
    /// Where changes are told, for watches of answers.
    changes: broadcast::Sender<Change>,
    /// When each kind began failing (since it last synced).
    failing: Arc<RwLock<HashMap<Arc<str>, Instant>>>,
    /// For kinds whose objects define kinds (CRDs, APIServices): told of
    /// every change after the initial list and of every relist after an
    /// error, so discovery follows.
    kinds_changed: Option<Arc<Notify>>,
}

impl KindWatch {
    fn new(
        key: Arc<str>,
        graph: Arc<RwLock<Graph>>,
        synced: Arc<RwLock<HashSet<Arc<str>>>>,
        changes: broadcast::Sender<Change>,
    ) -> Self {
        Self {
            key,
            graph,
            synced,
            buffer: Vec::new(),
            lost: false,
            changes,
            failing: Arc::default(),
            kinds_changed: None,
        }
    }

    fn on_event(&mut self, event: Result<Event<Meta>, watcher::Error>) -> After {
        let key = &self.key;
        match event {
            Ok(Event::Init) => self.buffer.clear(),
            Ok(Event::InitApply(meta)) => self.buffer.extend(entry_of(key, &meta)),
            Ok(Event::InitDone) => {
                self.graph
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .replace_kind(key, std::mem::take(&mut self.buffer));
                self.synced
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone());
                self.failing
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(key);
                if std::mem::take(&mut self.lost) {
                    tracing::info!(kind = %key, "watch resumed: relisted and synced again");
                    // A CRD or APIService may have come or gone while the
                    // watch was away, and no event will tell of it.
                    if let Some(kinds_changed) = &self.kinds_changed {
                        kinds_changed.notify_one();
                    }
                }
                // Nobody listening is not an error.
                let _ = self.changes.send(Change::Relisted);
                return After::Synced;
            }
            Ok(Event::Apply(meta)) => {
                if let Some((uid, entry)) = entry_of(key, &meta) {
                    let change = Change::of(&uid, &entry);
                    self.graph
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .apply(uid, entry);
                    let _ = self.changes.send(change);
                }
                if let Some(kinds_changed) = &self.kinds_changed {
                    kinds_changed.notify_one();
                }
            }
            Ok(Event::Delete(meta)) => {
                if let Some((uid, entry)) = entry_of(key, &meta) {
                    self.graph
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&uid);
                    let _ = self.changes.send(Change::of(&uid, &entry));
                }
                if let Some(kinds_changed) = &self.kinds_changed {
                    kinds_changed.notify_one();
                }
            }
            Err(err) => {
                self.buffer.clear();
                let was_synced = self
                    .synced
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(key);
                self.failing
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(key.clone())
                    .or_insert_with(Instant::now);
                if was_synced {
                    self.lost = true;
                    tracing::warn!(
                        kind = %key,
                        error = %err,
                        "watch failed; answers read the kind directly until it has relisted"
                    );
                } else {
                    tracing::debug!(kind = %key, error = %err, "watch failed again; retrying");
                }
                return After::Failed {
                    kind_missing: is_not_found(&err),
                };
            }
        }
        After::Continue
    }
}

/// Whether objects of `kind` define kinds: CustomResourceDefinitions and
/// APIServices, whose changes discovery must follow.
fn defines_kinds(kind: &Kind) -> bool {
    matches!(
        (kind.resource.group.as_str(), kind.resource.plural.as_str()),
        ("apiextensions.k8s.io", "customresourcedefinitions")
            | ("apiregistration.k8s.io", "apiservices")
    )
}

/// Whether a watcher failed because kube-apiserver does not know the kind.
///
/// By the code alone: for a deleted CRD kube-apiserver answers a plain-text
/// `404 page not found`, which kube turns into a `Status` whose reason is
/// not `NotFound`, so `Status::is_not_found` says no.
fn is_not_found(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 404,
        watcher::Error::WatchError(status) => status.code == 404,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(uid: &str, name: &str) -> Meta {
        use kube::core::PartialObjectMetaExt;
        kube::core::ObjectMeta {
            uid: Some(uid.to_string()),
            name: Some(name.to_string()),
            namespace: Some("ns".to_string()),
            ..Default::default()
        }
        .into_response_partial()
    }

    fn status(code: u16, reason: &str) -> watcher::Error {
        watcher::Error::WatchStartFailed(kube::Error::Api(Box::new(
            kube::core::Status::failure("from kube-apiserver", reason).with_code(code),
        )))
    }

    #[test]
    fn readiness_follows_the_watch_through_a_failure_and_a_relist() {
        let key: Arc<str> = Arc::from("/v1/configmaps");
        let graph: Arc<RwLock<Graph>> = Arc::default();
        let synced: Arc<RwLock<HashSet<Arc<str>>>> = Arc::default();
        let is_synced = || synced.read().unwrap().contains(&key);
        let mut watch = KindWatch::new(
            key.clone(),
            graph.clone(),
            synced.clone(),
            broadcast::channel(1).0,
        );

        // The first list syncs the kind.
        assert_eq!(watch.on_event(Ok(Event::Init)), After::Continue);
        assert_eq!(
            watch.on_event(Ok(Event::InitApply(object("a", "old")))),
            After::Continue
        );
        assert!(!is_synced());
        assert_eq!(watch.on_event(Ok(Event::InitDone)), After::Synced);
        assert!(is_synced());

        // kube-apiserver goes away: the kind is not synced, the watcher is dropped.
        assert_eq!(
            watch.on_event(Err(status(503, "ServiceUnavailable"))),
            After::Failed {
                kind_missing: false
            }
        );
        assert!(!is_synced());

        // A fresh watcher relists: synced again, with what is there now.
        watch.on_event(Ok(Event::Init));
        watch.on_event(Ok(Event::InitApply(object("b", "new"))));
        assert!(!is_synced(), "not synced before the relist is done");
        assert_eq!(watch.on_event(Ok(Event::InitDone)), After::Synced);
        assert!(is_synced());
        let graph = graph.read().unwrap();
        assert_eq!(graph.len(), 1);
        assert_eq!(graph.get("b").unwrap().name, "new");
    }

    #[tokio::test]
    async fn a_crd_watch_that_relists_after_an_error_asks_for_discovery() {
        let rediscover: Arc<Notify> = Arc::default();
        let mut watch = KindWatch::new(
            Arc::from("apiextensions.k8s.io/v1/customresourcedefinitions"),
            Arc::default(),
            Arc::default(),
            broadcast::channel(1).0,
        );
        watch.kinds_changed = Some(rediscover.clone());
        let asked = || {
            let notified = rediscover.notified();
            futures::FutureExt::now_or_never(notified).is_some()
        };

        // The first list is what discovery already saw: nothing to ask.
        watch.on_event(Ok(Event::Init));
        watch.on_event(Ok(Event::InitApply(object("a", "widgets.example.com"))));
        watch.on_event(Ok(Event::InitDone));
        assert!(!asked());

        // kube-apiserver goes away; while it is away a CRD may come or go,
        // and the relist carries no event that says so.
        watch.on_event(Err(status(503, "ServiceUnavailable")));
        watch.on_event(Ok(Event::Init));
        watch.on_event(Ok(Event::InitApply(object("b", "gizmos.example.com"))));
        assert!(!asked(), "not before the relist is done");
        watch.on_event(Ok(Event::InitDone));
        assert!(asked());
    }

    #[test]
    fn a_404_says_the_kind_may_be_gone() {
        let key: Arc<str> = Arc::from("example.com/v1/throwaways");
        let mut watch =
            KindWatch::new(key, Arc::default(), Arc::default(), broadcast::channel(1).0);
        // What kube makes of kube-apiserver's plain-text "404 page not found"
        // for the kind of a deleted CRD.
        assert_eq!(
            watch.on_event(Err(status(404, "Failed to parse error data"))),
            After::Failed { kind_missing: true }
        );
        assert_eq!(
            watch.on_event(Err(status(404, "NotFound"))),
            After::Failed { kind_missing: true }
        );
    }
}
