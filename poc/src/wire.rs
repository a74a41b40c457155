//! The wire format of the extension API: paths and answers.

use kube::api::DynamicObject;
use serde::{Deserialize, Serialize};

/// The API group the extension server serves.
pub const GROUP: &str = "primary-all";
/// The version of that group.
pub const VERSION: &str = "v1";
/// `apiVersion` of every answer.
pub const API_VERSION: &str = "primary-all/v1";
/// `kind` of the answer to a primary route.
pub const KIND: &str = "PrimaryWithSecondaries";
/// The word that stands for the legacy core group (`""`) in a path.
pub const CORE_GROUP_ALIAS: &str = "core";

/// The path of the primary route for a primary of kind `kind` (or its plural
/// resource name) in `group`/`version`; `namespace` is `None` for a
/// cluster-scoped primary. The core group is spelled `core`.
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
    match namespace {
        Some(ns) => format!("/apis/{API_VERSION}/{group}/{version}/{kind}/{ns}/{name}"),
        None => format!("/apis/{API_VERSION}/{group}/{version}/{kind}/{name}"),
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
}

fn one() -> u32 {
    1
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

/// Why a kind was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeftOutReason {
    /// The caller may not `get` objects of this kind there.
    Forbidden,
    /// Reading this kind failed.
    Failed,
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
    /// Why it is below its parent: `ownerReference` or `label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The objects below it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TreeNode>,
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
    fn a_list_is_a_v1_list() {
        let list = serde_json::to_value(SecondaryList::new(vec![])).unwrap();
        assert_eq!(
            list,
            serde_json::json!({"apiVersion": "v1", "kind": "List", "items": []})
        );
    }
}
