//! Marking what an operator creates as a secondary of its primary.

use kube::Resource;
use kube::api::ObjectMeta;

use crate::PRIMARY_UID_LABEL;

/// Marks `child` as a secondary of `primary` in one call: the
/// `primary-all/primary-uid` label (which the server finds with a cheap
/// server-side selector) and a controller ownerReference (so that the
/// garbage collector deletes the child with its primary). An existing
/// controller reference to another owner is left alone, because Kubernetes
/// allows only one; the label still links the child.
///
/// Returns `false`, changing nothing, when `primary` has no uid yet (it was
/// never created).
///
/// ```
/// use k8s_openapi::api::core::v1::{ConfigMap, Secret};
/// use kube::api::ObjectMeta;
///
/// let mut primary = ConfigMap::default();
/// primary.metadata.name = Some("db-1".into());
/// primary.metadata.uid = Some("1234".into());
/// let mut child = Secret::default();
///
/// assert!(primary_all::mark_as_secondary(&primary, &mut child.metadata));
/// assert_eq!(child.metadata.labels.unwrap()["primary-all/primary-uid"], "1234");
/// assert_eq!(child.metadata.owner_references.unwrap()[0].controller, Some(true));
/// ```
pub fn mark_as_secondary<P: Resource<DynamicType = ()>>(
    primary: &P,
    child: &mut ObjectMeta,
) -> bool {
    let Some(owner) = primary.controller_owner_ref(&()) else {
        return false;
    };
    child
        .labels
        .get_or_insert_with(Default::default)
        .insert(PRIMARY_UID_LABEL.to_string(), owner.uid.clone());
    let references = child.owner_references.get_or_insert_with(Vec::new);
    let has_controller = references.iter().any(|r| r.controller == Some(true));
    if !has_controller && !references.iter().any(|r| r.uid == owner.uid) {
        references.push(owner);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn primary(uid: Option<&str>) -> ConfigMap {
        let mut primary = ConfigMap::default();
        primary.metadata.name = Some("db-1".into());
        primary.metadata.uid = uid.map(str::to_string);
        primary
    }

    #[test]
    fn a_primary_without_uid_marks_nothing() {
        let mut child = ObjectMeta::default();
        assert!(!mark_as_secondary(&primary(None), &mut child));
        assert_eq!(child, ObjectMeta::default());
    }

    #[test]
    fn marking_twice_adds_one_reference() {
        let mut child = ObjectMeta::default();
        mark_as_secondary(&primary(Some("1")), &mut child);
        mark_as_secondary(&primary(Some("1")), &mut child);
        assert_eq!(child.owner_references.unwrap().len(), 1);
    }

    #[test]
    fn another_controller_keeps_its_place_and_the_label_links() {
        let mut child = ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                uid: "other".into(),
                controller: Some(true),
                ..Default::default()
            }]),
            ..ObjectMeta::default()
        };
        mark_as_secondary(&primary(Some("1")), &mut child);
        assert_eq!(child.owner_references.unwrap().len(), 1);
        assert_eq!(child.labels.unwrap()[PRIMARY_UID_LABEL], "1");
    }
}
