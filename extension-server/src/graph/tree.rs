//! An answer's secondaries nested below their owners, for people.

use std::collections::{HashMap, HashSet};

use kube::api::DynamicObject;
use primary_all::wire::TreeNode;

/// Drops `managedFields`: bookkeeping of field owners that no reader of an
/// answer wants, and often half of an object's size.
pub(crate) fn strip(mut object: DynamicObject) -> DynamicObject {
    object.metadata.managed_fields = None;
    object
}

/// One object to place in a tree: the uid it hangs below, and why.
pub struct Member<'a> {
    /// The object, with `apiVersion` and `kind`.
    pub object: &'a DynamicObject,
    /// The uid of the object it hangs below.
    pub parent: &'a str,
    /// Why it hangs there (`ownerReference`, `label`, `rule:…`).
    pub link: String,
}

/// `root` with `members` nested below their parents, each node with its
/// own health, children sorted by kind and name. A member whose parent is
/// not shown (the caller may not read it) hangs under its nearest ancestor
/// that is, found through `parents` (every uid, hidden ones too, to the uid
/// above it), or under the root.
pub fn tree(
    root: &DynamicObject,
    members: &[Member<'_>],
    parents: &HashMap<String, String>,
) -> TreeNode {
    let root_uid = root.metadata.uid.as_deref().unwrap_or_default();
    let member_uids: HashSet<&str> = members
        .iter()
        .filter_map(|m| m.object.metadata.uid.as_deref())
        .collect();
    let shown = |uid: &str| uid == root_uid || member_uids.contains(uid);
    let mut children: HashMap<&str, Vec<&Member<'_>>> = HashMap::new();
    for member in members {
        // Up past the owners the caller may not see; bounded, for cycles.
        let mut parent = member.parent;
        for _ in 0..parents.len() {
            match parents.get(parent) {
                Some(up) if !shown(parent) => parent = up,
                _ => break,
            }
        }
        let parent = if shown(parent) { parent } else { root_uid };
        children.entry(parent).or_default().push(member);
    }
    fn node(
        object: &DynamicObject,
        link: Option<&str>,
        children: &HashMap<&str, Vec<&Member<'_>>>,
    ) -> TreeNode {
        let uid = object.metadata.uid.as_deref().unwrap_or_default();
        let mut kids: Vec<TreeNode> = children
            .get(uid)
            .into_iter()
            .flatten()
            .map(|m| node(m.object, Some(&m.link), children))
            .collect();
        kids.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        TreeNode::of(object, link, health::of(object), kids)
    }
    node(root, None, &children)
}
