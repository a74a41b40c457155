//! The wire format of the extension API: paths and answers.

use kube::api::{ApiResource, DynamicObject};
use serde::{Deserialize, Serialize};

/// The API group the extension server serves.
pub const GROUP: &str = "primary-all";
/// The version of that group.
pub const VERSION: &str = "v1";
/// `apiVersion` of every answer.
///
/// The compatibility rule: within `primary-all/v1` answers only grow (a new
/// field has a default, so an older client ignores it; no field is removed
/// or changes meaning). A change an older client could not read is a new
/// version, served beside this one under its own path; clients check
/// `apiVersion` and `kind` and refuse what they do not read.
pub const API_VERSION: &str = "primary-all/v1";
/// `kind` of the answer to a primary route.
pub const KIND: &str = "PrimaryWithSecondaries";
/// The word that stands for the legacy core group (`""`) in a path.
pub const CORE_GROUP_ALIAS: &str = "core";
/// The path prefix of the group version: every route lies below it.
pub const PREFIX: &str = "/apis/primary-all/v1";

/// The `depth` an answer follows when the caller names none: the primary's
/// own secondaries.
pub const DEFAULT_DEPTH: u32 = 1;
/// The deepest `depth` a caller may ask for (`1..=MAX_DEPTH`): ownership
/// chains in real clusters are short (Deployment → ReplicaSet → Pod is 2),
/// and a bound keeps one request from walking the whole cluster.
pub const MAX_DEPTH: u32 = 10;

/// The path of the primary route for a primary of kind `kind` (or its plural
/// resource name) in `group`/`version`; `namespace` is `None` for a
/// cluster-scoped primary. The core group is spelled `core`. This is the
/// thesis's shape, which kube-apiserver can only authorize cluster-wide; see
/// [`object_path`] for the one a RoleBinding can grant.
///
/// ```
/// assert_eq!(
///     primary_all::wire::path_for("", "v1", "ConfigMap", Some("team-a"), "settings"),
///     "/apis/primary-all/v1/core/v1/ConfigMap/team-a/settings"
/// );
/// ```
pub fn path_for(
    group: &str,
    version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> String {
    let group = if group.is_empty() {
        CORE_GROUP_ALIAS
    } else {
        group
    };
    let [group, version, kind, name] = [group, version, kind, name].map(path_segment);
    match namespace.map(path_segment) {
        Some(ns) => format!("{PREFIX}/{group}/{version}/{kind}/{ns}/{name}"),
        None => format!("{PREFIX}/{group}/{version}/{kind}/{name}"),
    }
}

/// The path of the primary route in kubectl's shape: `resource` is the
/// plural with its group (`deployments.apps`, `secrets` for the core group;
/// see [`qualified_resource`]), and a namespaced primary's path starts
/// with `namespaces/{namespace}`, so that a RoleBinding in that namespace
/// can grant it. Every segment is percent-encoded ([`path_segment`]).
///
/// ```
/// use primary_all::wire::object_path;
///
/// assert_eq!(
///     object_path(Some("team-a"), "deployments.apps", "web"),
///     "/apis/primary-all/v1/namespaces/team-a/deployments.apps/web"
/// );
/// assert_eq!(object_path(None, "namespaces", "team-a"), "/apis/primary-all/v1/namespaces/team-a");
/// ```
pub fn object_path(namespace: Option<&str>, resource: &str, name: &str) -> String {
    let (resource, name) = (path_segment(resource), path_segment(name));
    match namespace.map(path_segment) {
        Some(ns) => format!("{PREFIX}/namespaces/{ns}/{resource}/{name}"),
        None => format!("{PREFIX}/{resource}/{name}"),
    }
}

/// `text` as one path segment: everything that would end the segment
/// (`/`, `?`, `#`), `%` itself, and what a URI may not hold is
/// percent-encoded, so that a hostile name cannot add a segment or a query.
/// The server decodes each segment and refuses what is no valid name.
///
/// ```
/// assert_eq!(primary_all::wire::path_segment("db-1"), "db-1");
/// assert_eq!(primary_all::wire::path_segment("x/../y?z#%"), "x%2F..%2Fy%3Fz%23%25");
/// ```
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// What [`path_segment`] escapes.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Whether `status`, kube-apiserver's answer to a request below [`PREFIX`],
/// says that primary-all is not installed: a 404 or 503 that primary-all's
/// server did not write (every `Status` it writes names the group
/// [`GROUP`] in its `details`). kube-apiserver answers a group nobody
/// serves with a 404 (a `Status`, or plain `404 page not found`, which
/// kube-rs reports with the reason `Failed to parse error data`), and a
/// registered group whose server is not Available with a 503.
///
/// ```
/// use kube::core::Status;
///
/// let not_served = Status::failure("the server could not find the requested resource", "NotFound")
///     .with_code(404);
/// assert!(primary_all::wire::is_not_installed(&not_served));
///
/// let ours = Status::failure(r#"the server could not find the requested resource "/apis/primary-all/v1/x""#, "NotFound")
///     .with_code(404)
///     .with_details(primary_all::wire::status_details());
/// assert!(!primary_all::wire::is_not_installed(&ours));
/// ```
pub fn is_not_installed(status: &kube::core::Status) -> bool {
    let written_by_primary_all = status.details.as_ref().is_some_and(|d| d.group == GROUP);
    matches!(status.code, 404 | 503) && !written_by_primary_all
}

/// The `details` of every `Status` primary-all's server writes: they name
/// its group [`GROUP`], which is how [`is_not_installed`] tells them apart.
pub fn status_details() -> kube::core::response::StatusDetails {
    kube::core::response::StatusDetails {
        group: GROUP.to_string(),
        name: String::new(),
        kind: String::new(),
        uid: String::new(),
        causes: Vec::new(),
        retry_after_seconds: 0,
    }
}

/// `kind` of the answer to an owners route.
pub const OWNER_CHAIN_KIND: &str = "OwnerChain";
/// `kind` of the answer to a namespace's top-level route.
pub const TOP_LEVEL_LIST_KIND: &str = "TopLevelList";

/// The path of a namespace's top-level route: the objects nothing owns.
pub fn top_level_path(namespace: &str) -> String {
    format!("{PREFIX}/namespaces/{}/toplevel", path_segment(namespace))
}

/// How fresh the objects in an answer must be (`?consistency=`), stated
/// the way kube-apiserver states its `resourceVersion` semantics.
///
/// | | the primary | each secondary | *which* objects are secondaries |
/// |---|---|---|---|
/// | `latest` | a consistent read made after the request arrived | a consistent read made after the request arrived | the index's view when the request arrived |
/// | `cached` | the index's copy, if its resourceVersion is the one the watch last saw; else as `latest` | the same, per object | the same |
///
/// A consistent read is a LIST without `resourceVersion`: kube-apiserver
/// answers it as of etcd's current revision (from its watch cache once that
/// has caught up, else from etcd), so `latest` returns no object older than
/// the request, exactly as a `kubectl get` sent at that moment would. Which
/// objects are read comes from the watch index, which lags kube-apiserver
/// by the watch's delivery delay (milliseconds on one machine): a
/// secondary created in that window may be missing, one deleted in it is
/// dropped (its read finds nothing). Objects of kinds the index has not
/// synced are listed directly, so they follow `latest` too.
///
/// `cached` makes no read for an object whose copy the index confirms: the
/// copy is as fresh as the watch, that is, at most the watch's delay behind
/// etcd, and answers cost no API call but the reviews. Neither mode reads
/// all objects at one revision: each read is consistent on its own, as
/// kubectl's reads of several kinds are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Consistency {
    /// Every object read from kube-apiserver for this request: what
    /// "latest" in `get_latest_with_secondaries` means.
    #[default]
    Latest,
    /// Objects the server's watch index confirms served from its memory: an
    /// answer in a few milliseconds instead of tens, at most the watch's
    /// delay behind the cluster. Needs the server's default `indexed`
    /// strategy.
    Cached,
}

impl Consistency {
    /// The word the query and the answer's `consistency` field carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Cached => "cached",
        }
    }

    /// The mode `word` names (`latest`, `cached`), if any.
    ///
    /// ```
    /// use primary_all::wire::Consistency;
    ///
    /// assert_eq!(Consistency::from_word("cached"), Some(Consistency::Cached));
    /// assert_eq!(Consistency::from_word("eventual"), None);
    /// ```
    pub fn from_word(word: &str) -> Option<Self> {
        [Self::Latest, Self::Cached]
            .into_iter()
            .find(|mode| mode.as_str() == word)
    }
}

/// The answer: a primary, its secondaries, and what was left out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrimaryWithSecondaries {
    /// Always [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    /// The primary, as read from kube-apiserver.
    pub prim_res: DynamicObject,
    /// Its secondaries, each a full object with `apiVersion` and `kind`.
    pub sec_res: SecondaryList,
    /// Kinds that hold secondaries but are not in `sec_res`, and why: never
    /// silently incomplete.
    #[serde(rename = "leftOut", default)]
    pub left_out: Vec<LeftOut>,
    /// How many levels of ownerReferences were followed.
    #[serde(default = "one")]
    pub depth: u32,
    /// How the objects were read: `latest` (a quorum read from etcd).
    #[serde(default)]
    pub consistency: String,
    /// The secondaries nested under their owners, with `?view=tree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<TreeNode>,
    /// The worst health of the primary and every secondary in the answer,
    /// with the path to the object it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

fn one() -> u32 {
    1
}

/// The API group of an `apiVersion`: `apps` of `apps/v1`, `""` of `v1`.
///
/// ```
/// assert_eq!(primary_all::wire::group_of("apps/v1"), "apps");
/// assert_eq!(primary_all::wire::group_of("v1"), "");
/// ```
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// A kind left out of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The API group (`""` for core).
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind.
    pub kind: String,
    /// The plural resource name.
    pub resource: String,
    /// The namespace the check was made in, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Why it was left out.
    pub reason: LeftOutReason,
    /// A human-readable explanation.
    pub message: String,
}

impl LeftOut {
    /// An entry for objects of `resource` (in `namespace`, for a namespaced
    /// kind), with a message of the caller's own.
    pub fn new(
        resource: &ApiResource,
        namespace: Option<&str>,
        reason: LeftOutReason,
        message: impl Into<String>,
    ) -> Self {
        Self {
            group: resource.group.clone(),
            version: resource.version.clone(),
            kind: resource.kind.clone(),
            resource: resource.plural.clone(),
            namespace: namespace.map(str::to_string),
            reason,
            message: message.into(),
        }
    }

    /// An entry with the fixed message the server writes for `reason`:
    /// written from the reason alone, never from kube-apiserver's error text
    /// (which can name an object); the cause goes to the server's log.
    ///
    /// ```
    /// use kube::api::ApiResource;
    /// use primary_all::wire::{LeftOut, LeftOutReason};
    ///
    /// let secrets = ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&());
    /// let left_out = LeftOut::because(&secrets, Some("team-a"), LeftOutReason::Failed);
    /// assert_eq!(left_out.message, "reading secrets failed; the server's log has the cause");
    /// assert_eq!(left_out.namespace.as_deref(), Some("team-a"));
    /// ```
    pub fn because(resource: &ApiResource, namespace: Option<&str>, reason: LeftOutReason) -> Self {
        let what = qualified_resource(&resource.group, &resource.plural);
        let message = match reason {
            LeftOutReason::Forbidden => format!("the caller may not list {what} here"),
            LeftOutReason::Failed => {
                format!("reading {what} failed; the server's log has the cause")
            }
            LeftOutReason::Syncing => format!(
                "the server has not synced {what} yet and could not read it directly; try again"
            ),
            LeftOutReason::Unavailable => {
                format!("the server cannot read {what} at the moment; objects of it may be missing")
            }
            LeftOutReason::Truncated => {
                format!("the answer reached a bound on the reads of {what}; more may exist")
            }
        };
        Self::new(resource, namespace, reason, message)
    }
}

/// A resource as kubectl names it: `deployments.apps`, and `secrets` for
/// the core group.
///
/// ```
/// assert_eq!(primary_all::wire::qualified_resource("apps", "deployments"), "deployments.apps");
/// assert_eq!(primary_all::wire::qualified_resource("", "secrets"), "secrets");
/// ```
pub fn qualified_resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// The version of an `apiVersion`: `v1` of `apps/v1` and of `v1`.
///
/// ```
/// assert_eq!(primary_all::wire::version_of("apps/v1"), "v1");
/// assert_eq!(primary_all::wire::version_of("v1"), "v1");
/// ```
pub fn version_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map_or(api_version, |(_, version)| version)
}

/// Why a kind was left out.
///
/// Every entry is written by the server from a fixed set of messages; none
/// carries kube-apiserver's error text (which can name an object), and only
/// kinds the caller may read (or, for [`Forbidden`](Self::Forbidden), kinds
/// that hold something below the primary) are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeftOutReason {
    /// The caller may not `list` objects of this kind there (and holds no
    /// `get` by name for the ones below the primary).
    Forbidden,
    /// Reading this kind failed.
    Failed,
    /// The server's watch of this kind has not listed it yet, and reading it
    /// directly failed too.
    Syncing,
    /// The server cannot read this kind at the moment (its watch keeps
    /// failing: a conversion webhook or an aggregated API that does not
    /// answer); objects of it may be missing.
    Unavailable,
    /// A bound on the work of one answer (reads by relationship rules, the
    /// size of the answer) was reached; more objects of this kind may exist.
    Truncated,
}

/// One node of the `?view=tree` answer: an object and what it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeNode {
    /// The object's `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The object's kind.
    pub kind: String,
    /// The object's namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
    /// Why it is below its parent: `ownerReference`, `label`, or `rule:`
    /// and the name of the relationship rule that found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The object's own health (its subtree's is rolled up into the answer's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// The objects below it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    /// The node of `object`, with its own `health` and the nodes below it;
    /// `link` says why it hangs below its parent (`None` for the root).
    pub fn of(
        object: &DynamicObject,
        link: Option<&str>,
        health: Health,
        children: Vec<TreeNode>,
    ) -> Self {
        let ObjectRef {
            api_version,
            kind,
            namespace,
            name,
            link,
        } = ObjectRef::of(object, link);
        Self {
            api_version,
            kind,
            namespace,
            name,
            link,
            health: Some(health),
            children,
        }
    }
}

/// How an object is doing, computed the way kstatus computes it: from its
/// conditions, its `observedGeneration`, and the well-known kinds' own
/// status fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The verdict.
    pub status: HealthStatus,
    /// A one-word cause (`ReplicasNotReady`, a condition's reason), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A sentence for people, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// For a rolled-up health: the objects from the one it was rolled up
    /// for down to the one the verdict comes from, each as `Kind/name`.
    /// Empty for an object's own health.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

/// The verdicts of [`Health`], from best to worst: a roll-up takes the
/// greatest ([`Ord`] follows this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    /// Reconciled and working (kstatus: Current).
    Ready,
    /// Nothing could be said (no status to read, or one that makes no sense).
    Unknown,
    /// Still being reconciled: not all replicas ready, a generation not yet
    /// observed, a condition saying so.
    InProgress,
    /// A condition or field says it failed.
    Failed,
}

impl HealthStatus {
    /// The word the answer carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Unknown => "Unknown",
            Self::InProgress => "InProgress",
            Self::Failed => "Failed",
        }
    }
}

/// An object named by its type and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The object's `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The object's kind.
    pub kind: String,
    /// The object's namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
    /// How it is linked to the object before it in a chain:
    /// `ownerReference`, `label`, or `rule:` and a rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl ObjectRef {
    /// The reference to `object` (its `apiVersion` and `kind` as its
    /// `types` carry them), linked to the object before it by `link`.
    ///
    /// ```
    /// use kube::api::{ApiResource, DynamicObject};
    /// use primary_all::wire::ObjectRef;
    ///
    /// let pods = ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&());
    /// let pod = DynamicObject::new("web-0", &pods).within("team-a");
    /// let reference = ObjectRef::of(&pod, Some("ownerReference"));
    /// assert_eq!((reference.api_version.as_str(), reference.kind.as_str()), ("v1", "Pod"));
    /// assert_eq!(reference.namespace.as_deref(), Some("team-a"));
    /// ```
    pub fn of(object: &DynamicObject, link: Option<&str>) -> Self {
        let types = object.types.clone().unwrap_or_default();
        Self {
            api_version: types.api_version,
            kind: types.kind,
            namespace: object.metadata.namespace.clone(),
            name: object.metadata.name.clone().unwrap_or_default(),
            link: link.map(str::to_string),
        }
    }
}

/// The answer to an owners route: an object and the chain above it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerChain {
    /// Always [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always [`OWNER_CHAIN_KIND`].
    pub kind: String,
    /// The object asked about.
    pub object: ObjectRef,
    /// Its owner first, then the owner's owner, up to the highest-level
    /// object the caller may read. Where an object has several owners, the
    /// controller is followed (else the first), as `kubectl describe` does.
    pub owners: Vec<ObjectRef>,
    /// Owners the chain could not be followed through, and why: the chain
    /// stops at the first one.
    #[serde(rename = "leftOut", default)]
    pub left_out: Vec<LeftOut>,
}

/// The answer to a namespace's top-level route.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopLevelList {
    /// Always [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always [`TOP_LEVEL_LIST_KIND`].
    pub kind: String,
    /// The namespace.
    pub namespace: String,
    /// The objects in it that nothing owns and no primary labels, sorted by
    /// kind and name.
    pub items: Vec<TopLevelItem>,
    /// Kinds whose objects are not counted, and why.
    #[serde(rename = "leftOut", default)]
    pub left_out: Vec<LeftOut>,
}

/// One top-level object of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopLevelItem {
    /// The object.
    #[serde(flatten)]
    pub object: ObjectRef,
    /// How many objects are below it (every level), of the kinds the caller
    /// may read.
    pub secondaries: u32,
    /// The worst health of it and everything below it that the caller may
    /// read, with the path to where it comes from.
    pub health: Health,
}

/// A secondary named, not shown: what the `etcd-status` feature keeps in
/// the primary's status for every secondary, so that a reader of the primary
/// learns which objects belong to it but none of their contents.
///
/// It holds the object's type, name, namespace, uid and resourceVersion
/// (enough to `get` it, and to tell whether it changed since), never its
/// labels, annotations, `data`, `spec` or `status`. It has a real schema
/// ([`schemars::JsonSchema`]), so a CRD generated with kube's
/// `CustomResourceExt::crd()` keeps it.
///
/// ```
/// use kube::api::{ApiResource, DynamicObject};
/// use primary_all::wire::SecondaryRef;
///
/// let secrets = ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&());
/// let mut secret = DynamicObject::new("db-1-credentials", &secrets).within("team-a");
/// secret.data = serde_json::json!({ "data": { "password": "aHVudGVyMg==" } });
///
/// let reference = SecondaryRef::for_object(&secret);
/// assert_eq!(
///     serde_json::to_value(&reference).unwrap(),
///     serde_json::json!({
///         "apiVersion": "v1", "kind": "Secret",
///         "namespace": "team-a", "name": "db-1-credentials"
///     })
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    description = "A secondary of this object, named by its type and identity; none of its contents."
)]
pub struct SecondaryRef {
    /// The secondary's `apiVersion`, e.g. `v1` or `apps/v1`.
    pub api_version: String,
    /// The secondary's kind, e.g. `Secret`.
    pub kind: String,
    /// The secondary's namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The secondary's name.
    pub name: String,
    /// The secondary's uid, which tells a recreated object from the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The secondary's resourceVersion when the reference was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// A word on how the secondary is doing (`Ready`, `Failed`, …), if the
    /// operator sets one; `SecondaryRef::for_object` leaves it empty,
    /// because an object alone does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

impl SecondaryRef {
    /// The reference to `object`: its type and identity from its
    /// `apiVersion`, `kind` and metadata, nothing else. An object without
    /// type information gets empty `apiVersion` and `kind`.
    pub fn for_object(object: &DynamicObject) -> Self {
        let (api_version, kind) = object
            .types
            .as_ref()
            .map(|t| (t.api_version.clone(), t.kind.clone()))
            .unwrap_or_default();
        Self {
            api_version,
            kind,
            namespace: object.metadata.namespace.clone(),
            name: object.metadata.name.clone().unwrap_or_default(),
            uid: object.metadata.uid.clone(),
            resource_version: object.metadata.resource_version.clone(),
            health: None,
        }
    }

    /// The API group, from [`api_version`](Self::api_version): `""` for the
    /// core group (`v1`).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _version)| group)
    }
}

/// A `v1` `List` of secondaries, in the shape `kubectl` prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SecondaryList {
    /// Always `v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always `List`.
    pub kind: String,
    /// The secondaries.
    pub items: Vec<DynamicObject>,
}

impl SecondaryList {
    /// A list of `items`.
    pub fn new(items: Vec<DynamicObject>) -> Self {
        Self {
            api_version: "v1".to_string(),
            kind: "List".to_string(),
            items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_group_is_spelled_core() {
        assert_eq!(
            path_for("", "v1", "Service", Some("ns"), "web"),
            "/apis/primary-all/v1/core/v1/Service/ns/web"
        );
    }

    #[test]
    fn cluster_scoped_primaries_have_no_namespace_segment() {
        assert_eq!(
            path_for("", "v1", "Namespace", None, "team-a"),
            "/apis/primary-all/v1/core/v1/Namespace/team-a"
        );
    }

    #[test]
    fn a_reference_holds_identity_and_nothing_of_the_contents() {
        let config_maps =
            kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let mut object = DynamicObject::new("db-1-config", &config_maps).within("team-a");
        object.metadata.uid = Some("1234".to_string());
        object.metadata.resource_version = Some("42".to_string());
        object.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
        object.metadata.annotations = Some([("note".to_string(), "private".to_string())].into());
        object.data = serde_json::json!({ "data": { "max_connections": "100" } });

        let reference = SecondaryRef::for_object(&object);

        assert_eq!(
            serde_json::to_value(&reference).unwrap(),
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap", "namespace": "team-a",
                "name": "db-1-config", "uid": "1234", "resourceVersion": "42"
            })
        );
        assert_eq!(reference.group(), "");
    }

    #[test]
    fn a_reference_knows_its_group() {
        let reference = SecondaryRef {
            api_version: "apps/v1".to_string(),
            ..SecondaryRef::default()
        };
        assert_eq!(reference.group(), "apps");
    }

    #[test]
    fn a_list_is_a_v1_list() {
        let list = serde_json::to_value(SecondaryList::new(vec![])).unwrap();
        assert_eq!(
            list,
            serde_json::json!({"apiVersion": "v1", "kind": "List", "items": []})
        );
    }
}
