//! What kinds the cluster serves: discovery, cached and refreshed in the
//! background instead of fetched for every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Discovery;
use kube::api::{Api, DynamicObject, TypeMeta};
use kube::discovery::{ApiCapabilities, ApiResource, Scope, verbs};
use tokio::sync::RwLock;

use primary_all::wire::{LeftOut, LeftOutReason};

/// How often the catalog is refreshed even when nothing asks for it.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// The least time between two refreshes forced by an unknown kind, so that a
/// stream of requests for a kind that does not exist costs no discovery storm.
pub const MIN_FORCED_REFRESH: Duration = Duration::from_secs(2);
/// After a CRD or APIService changes, discovery runs again at these delays
/// before falling back to [`REFRESH_EVERY`]: kube-apiserver's own discovery
/// document follows an APIService through a work queue of its own (and a CRD
/// until it is Established), so the first refresh after the event may not
/// show the new kind yet.
pub const FOLLOW_UPS: [Duration; 3] = [
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// One kind the cluster serves, at one version.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// Scope and verbs.
    pub capabilities: ApiCapabilities,
}

impl Kind {
    /// An `Api` for objects of this kind: in `namespace` when the kind is
    /// namespaced, cluster-wide otherwise (a cluster-scoped kind has no
    /// namespace to be read in, whatever the caller passes).
    pub fn api(&self, client: kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| self.is_namespaced()) {
            Some(ns) => Api::namespaced_with(client, ns, &self.resource),
            None => Api::all_with(client, &self.resource),
        }
    }

    /// Sets `apiVersion` and `kind` on an object of this kind: the items of
    /// a LIST come without them, and answers carry them.
    pub fn stamp(&self, object: &mut DynamicObject) {
        object.types = Some(TypeMeta {
            api_version: self.resource.api_version.clone(),
            kind: self.resource.kind.clone(),
        });
    }

    /// Whether objects of this kind live in namespaces.
    pub fn is_namespaced(&self) -> bool {
        matches!(self.capabilities.scope, Scope::Namespaced)
    }

    /// Whether `other` is the same resource (group and plural), at any
    /// version: what answers and `leftOut` count kinds by.
    pub fn is_same_resource(&self, other: &Kind) -> bool {
        self.resource.group == other.resource.group && self.resource.plural == other.resource.plural
    }

    /// `databases.example.com`, or `secrets` for the core group, as kubectl
    /// spells a resource.
    pub fn qualified_resource(&self) -> String {
        primary_all::wire::qualified_resource(&self.resource.group, &self.resource.plural)
    }

    /// The entry that names this kind as left out for `reason`, with the
    /// server's fixed message; `namespace` is kept only for a namespaced kind.
    pub fn left_out(&self, namespace: Option<&str>, reason: LeftOutReason) -> LeftOut {
        let namespace = namespace.filter(|_| self.is_namespaced());
        LeftOut::because(&self.resource, namespace, reason)
    }
}

/// A kind as a caller names it, before discovery resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindQuery<'a> {
    /// The API group; `""` for the core group.
    pub group: &'a str,
    /// The version, or `None` for the most stable one that serves the kind.
    pub version: Option<&'a str>,
    /// The kind (`Database`) or plural resource name (`databases`), any case.
    pub kind: &'a str,
}

/// A snapshot of discovery.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Every kind at every served version.
    all: Vec<Kind>,
    /// Every kind once, at its most stable served version, that supports
    /// LIST: what a scan for secondaries reads and the index watches.
    listable: Vec<Kind>,
}

impl Catalog {
    /// Builds a catalog from kube's discovery result. The server's own group
    /// is left out: it holds no objects.
    pub fn from_discovery(discovery: &Discovery) -> Self {
        let mut all = Vec::new();
        for group in discovery.groups() {
            if group.name() == primary_all::wire::GROUP {
                continue;
            }
            for version in group.versions() {
                for (resource, capabilities) in group.versioned_resources(version) {
                    all.push(Kind {
                        resource,
                        capabilities,
                    });
                }
            }
        }
        Self::from_kinds(all)
    }

    /// A catalog of `all`, every kind at every version it is served in.
    pub fn from_kinds(all: Vec<Kind>) -> Self {
        let listable = most_stable_per_kind(&all)
            .into_iter()
            .filter(|k| k.capabilities.supports_operation(verbs::LIST))
            .collect();
        Self { all, listable }
    }

    /// The kinds a scan for secondaries lists.
    pub fn listable(&self) -> &[Kind] {
        &self.listable
    }

    /// Resolves a group, version and kind-or-plural (any case). Without a
    /// version, the most stable version that serves the kind wins.
    pub fn resolve(&self, query: KindQuery<'_>) -> Option<Kind> {
        let matches = |k: &&Kind| {
            k.resource.group == query.group
                && (k.resource.kind.eq_ignore_ascii_case(query.kind)
                    || k.resource.plural.eq_ignore_ascii_case(query.kind))
        };
        match query.version {
            Some(version) => self
                .all
                .iter()
                .filter(matches)
                .find(|k| k.resource.version == version)
                .cloned(),
            None => self
                .listable
                .iter()
                .find(matches)
                .or_else(|| self.all.iter().find(matches))
                .cloned(),
        }
    }

    /// The kinds of every group whose kind or plural is `name` (any case),
    /// each once at its most stable version: how kubectl reads `database/db-1`,
    /// naming no group. More than one means the name is ambiguous.
    pub fn resolve_in_any_group(&self, name: &str) -> Vec<Kind> {
        self.listable
            .iter()
            .filter(|k| {
                k.resource.kind.eq_ignore_ascii_case(name)
                    || k.resource.plural.eq_ignore_ascii_case(name)
            })
            .cloned()
            .collect()
    }

    /// The kind with this `apiVersion` and `kind`, as an ownerReference or
    /// a reference in a relationship rule names it.
    pub fn by_api_version(&self, api_version: &str, kind: &str) -> Option<Kind> {
        self.all
            .iter()
            .find(|k| k.resource.api_version == api_version && k.resource.kind == kind)
            .cloned()
    }

    /// The kind `kind` of `group` at its most stable version (a relationship
    /// rule names no version).
    pub fn by_group_kind(&self, group: &str, kind: &str) -> Option<Kind> {
        self.listable
            .iter()
            .find(|k| k.resource.group == group && k.resource.kind == kind)
            .cloned()
    }

    /// How many kinds the catalog knows, at every version.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether discovery found nothing.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

/// Every kind of every group once, at the most stable version that serves it
/// (v1 before v1beta2 before v1beta1 before v1alpha1, as Kubernetes ranks
/// versions), in the order of `all`.
///
/// A group's *preferred* version is not enough: groups serve some kinds in
/// one version only. The Prometheus Operator's `monitoring.coreos.com`
/// prefers v1 but serves `AlertmanagerConfig` and `ScrapeConfig` in
/// v1alpha1 alone; taking the preferred version's resources would never
/// find those objects.
pub fn most_stable_per_kind(all: &[Kind]) -> Vec<Kind> {
    let mut best: Vec<&Kind> = Vec::new();
    for kind in all {
        let same = best.iter_mut().find(|b| {
            b.resource.group == kind.resource.group && b.resource.kind == kind.resource.kind
        });
        match same {
            Some(chosen) => {
                if stability(kind) > stability(chosen) {
                    *chosen = kind;
                }
            }
            None => best.push(kind),
        }
    }
    best.into_iter().cloned().collect()
}

/// The rank of a kind's version: higher is more stable.
fn stability(kind: &Kind) -> impl Ord + use<> {
    kube::core::Version::parse(&kind.resource.version).priority()
}

/// Runs discovery once: one request per group version.
///
/// # Errors
///
/// When kube-apiserver cannot be reached or answers discovery with an error.
pub async fn discover(client: &kube::Client) -> Result<Catalog, kube::Error> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await?;
    Ok(Catalog::from_discovery(&discovery))
}

/// The catalog shared by every request, refreshed in the background and on
/// demand when a request names a kind it does not know (a CRD just created).
/// (Not `Debug`: kube's `Client` is not.)
pub struct DiscoveryCache {
    client: kube::Client,
    current: RwLock<Option<(Arc<Catalog>, Instant)>>,
}

impl DiscoveryCache {
    /// An empty cache; [`DiscoveryCache::refresh`] fills it.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            current: RwLock::new(None),
        }
    }

    /// The current catalog, if discovery has run.
    pub async fn get(&self) -> Option<Arc<Catalog>> {
        self.current
            .read()
            .await
            .as_ref()
            .map(|(catalog, _)| catalog.clone())
    }

    /// Runs discovery and replaces the catalog.
    ///
    /// # Errors
    ///
    /// When discovery fails; the old catalog stays in place.
    pub async fn refresh(&self) -> Result<Arc<Catalog>, kube::Error> {
        let catalog = Arc::new(discover(&self.client).await?);
        tracing::debug!(kinds = catalog.len(), "discovery refreshed");
        *self.current.write().await = Some((catalog.clone(), Instant::now()));
        Ok(catalog)
    }

    /// Refreshes for a request that named a kind the catalog lacks, and
    /// returns the catalog to use. A catalog younger than
    /// [`MIN_FORCED_REFRESH`] may still predate a CRD created a moment ago
    /// (the demo applies one and asks at once), so the request waits until
    /// the catalog is that old and then refreshes, unless another request
    /// refreshed meanwhile: a stream of unknown kinds costs one discovery per
    /// [`MIN_FORCED_REFRESH`], and none is answered from a stale catalog.
    pub async fn refresh_if_stale(&self) -> Result<Option<Arc<Catalog>>, kube::Error> {
        let age = self
            .current
            .read()
            .await
            .as_ref()
            .map(|(_, at)| at.elapsed());
        if let Some(age) = age.filter(|age| *age < MIN_FORCED_REFRESH) {
            let waited_from = Instant::now();
            tokio::time::sleep(MIN_FORCED_REFRESH - age).await;
            let refreshed_meanwhile = matches!(
                &*self.current.read().await,
                Some((_, at)) if *at >= waited_from
            );
            if refreshed_meanwhile {
                return Ok(self.get().await);
            }
        }
        self.refresh().await.map(Some)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A kind for tests: `("apps", "v1", "Deployment", "deployments", true)`.
    pub fn kind(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Kind {
        Kind {
            resource: ApiResource {
                group: group.to_string(),
                version: version.to_string(),
                api_version: if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.to_string(),
                plural: plural.to_string(),
            },
            capabilities: ApiCapabilities {
                scope: if namespaced {
                    Scope::Namespaced
                } else {
                    Scope::Cluster
                },
                subresources: vec![],
                operations: vec!["get".to_string(), "list".to_string(), "watch".to_string()],
            },
        }
    }

    fn primary<'a>(group: &'a str, version: Option<&'a str>, kind: &'a str) -> KindQuery<'a> {
        KindQuery {
            group,
            version,
            kind,
        }
    }

    fn catalog() -> Catalog {
        Catalog::from_kinds(vec![
            kind("", "v1", "Secret", "secrets", true),
            kind("example.com", "v1", "Database", "databases", true),
            kind("example.com", "v1beta1", "Database", "databases", true),
        ])
    }

    #[test]
    fn resolves_kind_or_plural_in_any_case() {
        let catalog = catalog();
        for name in ["Database", "database", "DATABASES", "databases"] {
            let found = catalog
                .resolve(primary("example.com", Some("v1"), name))
                .unwrap();
            assert_eq!(found.resource.kind, "Database", "{name}");
        }
    }

    #[test]
    fn resolves_the_version_asked_for() {
        let found = catalog()
            .resolve(primary("example.com", Some("v1beta1"), "Database"))
            .unwrap();
        assert_eq!(found.resource.version, "v1beta1");
    }

    #[test]
    fn unknown_kinds_and_versions_resolve_to_nothing() {
        let catalog = catalog();
        assert!(
            catalog
                .resolve(primary("example.com", Some("v2"), "Database"))
                .is_none()
        );
        assert!(
            catalog
                .resolve(primary("example.org", Some("v1"), "Database"))
                .is_none()
        );
        assert!(
            catalog
                .resolve(primary("", Some("v1"), "Database"))
                .is_none()
        );
    }

    #[test]
    fn every_kind_is_listed_once_at_its_most_stable_version() {
        // A group like monitoring.coreos.com: Prometheus in v1 (and an old
        // v1beta1), AlertmanagerConfig in v1alpha1 and v1beta1, ScrapeConfig
        // in v1alpha1 only; discovery lists the preferred version first.
        let catalog = Catalog::from_kinds(vec![
            kind(
                "monitoring.coreos.com",
                "v1",
                "Prometheus",
                "prometheuses",
                true,
            ),
            kind(
                "monitoring.coreos.com",
                "v1beta1",
                "Prometheus",
                "prometheuses",
                true,
            ),
            kind(
                "monitoring.coreos.com",
                "v1alpha1",
                "AlertmanagerConfig",
                "alertmanagerconfigs",
                true,
            ),
            kind(
                "monitoring.coreos.com",
                "v1beta1",
                "AlertmanagerConfig",
                "alertmanagerconfigs",
                true,
            ),
            kind(
                "monitoring.coreos.com",
                "v1alpha1",
                "ScrapeConfig",
                "scrapeconfigs",
                true,
            ),
            kind("", "v1", "ConfigMap", "configmaps", true),
        ]);
        let listed: Vec<String> = catalog
            .listable()
            .iter()
            .map(|k| format!("{}/{}", k.resource.api_version, k.resource.kind))
            .collect();
        assert_eq!(
            listed,
            [
                "monitoring.coreos.com/v1/Prometheus",
                "monitoring.coreos.com/v1beta1/AlertmanagerConfig",
                "monitoring.coreos.com/v1alpha1/ScrapeConfig",
                "v1/ConfigMap",
            ]
        );
    }

    #[test]
    fn a_kind_only_in_a_non_preferred_version_resolves_without_a_version() {
        let catalog = Catalog::from_kinds(vec![
            kind("example.com", "v1", "Widget", "widgets", true),
            kind("example.com", "v1alpha1", "Gizmo", "gizmos", true),
        ]);
        let found = catalog
            .resolve(primary("example.com", None, "gizmo"))
            .unwrap();
        assert_eq!(found.resource.version, "v1alpha1");
        assert_eq!(
            catalog
                .by_group_kind("example.com", "Gizmo")
                .unwrap()
                .resource
                .version,
            "v1alpha1"
        );
        assert_eq!(catalog.resolve_in_any_group("gizmos").len(), 1);
    }

    #[test]
    fn a_kind_without_list_is_not_listable_at_any_version() {
        let mut create_only = kind(
            "authorization.k8s.io",
            "v1",
            "SubjectAccessReview",
            "subjectaccessreviews",
            false,
        );
        create_only.capabilities.operations = vec!["create".to_string()];
        let catalog = Catalog::from_kinds(vec![create_only]);
        assert!(catalog.listable().is_empty());
        assert_eq!(catalog.len(), 1);
    }

    #[test]
    fn qualified_resources_read_like_kubectl() {
        assert_eq!(
            kind("", "v1", "Secret", "secrets", true).qualified_resource(),
            "secrets"
        );
        assert_eq!(
            kind("apps", "v1", "Deployment", "deployments", true).qualified_resource(),
            "deployments.apps"
        );
    }
}
