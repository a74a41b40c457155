//! Reads with the server's own account, in the only shapes its role allows.
//!
//! The server's ClusterRole grants `list` and `watch`, never `get`: RBAC
//! cannot subtract, and `get` on `*/*` would include subresources such as
//! `nodes/proxy` and `services/proxy`, which reach workloads. So one object
//! is read by name as a LIST with the field selector `metadata.name=…`
//! (kube-apiserver serves it from its watch cache, or from etcd for a
//! consistent read), and every LIST is paginated.
//!
//! Names and namespaces that come from the cluster's data (a relationship
//! rule's reference, a label) are validated before they reach a request,
//! and an object that comes back must be the one asked for.

use kube::api::{DynamicObject, ListParams};

use crate::cluster::discovery::Kind;

/// How many objects one page of a LIST holds.
pub const PAGE_SIZE: u32 = 500;

/// What a paginated LIST returned.
#[derive(Debug, Default)]
pub struct Listed {
    /// The objects, with `apiVersion` and `kind` set.
    pub items: Vec<DynamicObject>,
    /// How many requests it took (one per page).
    pub api_calls: u32,
    /// Whether `max` cut the list short.
    pub truncated: bool,
}

/// Lists objects of `kind` in `namespace` (everywhere when `None`, or for a
/// cluster-scoped kind) page by page, `params` narrowing them, until the
/// last page or until `max` objects were read.
///
/// # Errors
///
/// The first page's or any later page's error (an expired continue token
/// included: the caller then reads again, or reports the kind).
pub async fn list(
    client: &kube::Client,
    kind: &Kind,
    namespace: Option<&str>,
    params: &ListParams,
    max: usize,
) -> Result<Listed, kube::Error> {
    let api = kind.api(client.clone(), namespace);
    let mut listed = Listed::default();
    let mut params = params.clone().limit(PAGE_SIZE);
    loop {
        let page = api.list(&params).await?;
        listed.api_calls += 1;
        for mut object in page.items {
            if listed.items.len() >= max {
                listed.truncated = true;
                return Ok(listed);
            }
            kind.stamp(&mut object);
            listed.items.push(object);
        }
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(listed),
        }
    }
}

/// Whether a read failed because kube-apiserver no longer serves the kind
/// (its CRD or APIService was deleted a moment ago, before discovery caught
/// up): a kind that does not exist holds no objects, so nothing is missing.
/// By the code alone, as kube-apiserver answers a plain-text 404 there.
pub fn is_gone(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

/// Reads the object of `kind` named `name` in `namespace`, as a LIST with
/// a name field selector; `Ok(None)` when there is none, or when what came
/// back is not that object.
///
/// # Errors
///
/// [`ReadError::Invalid`] (and no request) when `name` or `namespace` is not
/// a name an object can have; [`ReadError::Kube`] when the LIST fails.
pub async fn one(
    client: &kube::Client,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<DynamicObject>, ReadError> {
    let namespace = namespace.filter(|_| kind.is_namespaced());
    if kind.is_namespaced() && namespace.is_none() {
        return Err(ReadError::Invalid(format!(
            "{} is namespaced: a namespace is needed",
            kind.qualified_resource()
        )));
    }
    if let Some(namespace) = namespace {
        check_namespace(namespace).map_err(ReadError::Invalid)?;
    }
    check_name(name).map_err(ReadError::Invalid)?;
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    let listed = list(client, kind, namespace, &params, 2)
        .await
        .map_err(ReadError::Kube)?;
    let mut items = listed.items.into_iter();
    match (items.next(), items.next()) {
        (Some(object), None) if is_the_one(&object, kind, namespace, name) => Ok(Some(object)),
        _ => Ok(None),
    }
}

/// Why [`one`] read nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The name or namespace cannot name an object; nothing was sent.
    #[error("not a valid reference: {0}")]
    Invalid(String),
    /// kube-apiserver answered with an error.
    #[error("failed to read: {0}")]
    Kube(#[source] kube::Error),
}

/// Whether `object` is the object of `kind` named `name` in `namespace`:
/// what a read returns is checked, never trusted to be what was asked for.
pub fn is_the_one(
    object: &DynamicObject,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
) -> bool {
    let types_match = object
        .types
        .as_ref()
        .is_none_or(|t| t.api_version == kind.resource.api_version && t.kind == kind.resource.kind);
    let namespace_matches = if kind.is_namespaced() {
        object.metadata.namespace.as_deref() == namespace
    } else {
        object.metadata.namespace.is_none()
    };
    types_match && namespace_matches && object.metadata.name.as_deref() == Some(name)
}

/// A namespace is an RFC 1123 label: at most 63 lowercase letters, digits
/// and `-`, starting and ending with a letter or digit.
///
/// # Errors
///
/// A message naming what is wrong.
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    let bytes = namespace.as_bytes();
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let valid = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| alphanumeric(b) || *b == b'-')
        && bytes.first().is_some_and(alphanumeric)
        && bytes.last().is_some_and(alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "namespace {:?} is not a DNS label",
            shorten(namespace)
        ))
    }
}

/// An object's name: 1 to 253 characters that kube-apiserver accepts in a
/// path segment and that need no escaping in a field selector. Names of
/// most kinds are DNS subdomains; RBAC's allow `:` too (`system:node`), so
/// the check is on what could change the meaning of a request instead: no
/// `/`, `%`, `,`, `=`, `!`, `\`, `?`, `#`, whitespace or control character,
/// and not `.` or `..`.
///
/// # Errors
///
/// A message naming what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    let forbidden = |c: char| {
        matches!(
            c,
            '/' | '%' | ',' | '=' | '!' | '\\' | '?' | '#' | '&' | '~'
        ) || c.is_whitespace()
            || c.is_control()
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && !name.chars().any(forbidden);
    if valid {
        Ok(())
    } else {
        Err(format!("name {:?} is not an object name", shorten(name)))
    }
}

/// At most 64 characters of what the cluster's data said, for messages.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::discovery::tests::kind;

    #[test]
    fn namespaces_are_dns_labels() {
        for good in ["default", "team-a", "a", "0", &"x".repeat(63)] {
            assert_eq!(check_namespace(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "B",
            "b/secrets/db-password#",
            "b?x=1",
            "..",
            "-a",
            "a-",
            "a.b",
            "a%2Fb",
            &"x".repeat(64),
        ] {
            assert!(check_namespace(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn names_cannot_change_the_request() {
        for good in [
            "db-1",
            "db.example.com",
            "system:node",
            "a",
            &"x".repeat(253),
        ] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "x/../../secrets",
            "x#",
            "x?watch=1",
            "x%2F",
            "a,metadata.namespace=kube-system",
            "a=b",
            "a b",
            "a\nb",
            &"x".repeat(254),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn only_the_object_asked_for_is_the_one() {
        let config_maps = kind("", "v1", "ConfigMap", "configmaps", true);
        let mut object = DynamicObject::new("settings", &config_maps.resource).within("team-a");
        assert!(is_the_one(
            &object,
            &config_maps,
            Some("team-a"),
            "settings"
        ));
        assert!(!is_the_one(
            &object,
            &config_maps,
            Some("team-b"),
            "settings"
        ));
        assert!(!is_the_one(&object, &config_maps, Some("team-a"), "other"));

        // A Secret that came back where a ConfigMap was asked for is dropped.
        let secrets = kind("", "v1", "Secret", "secrets", true);
        object.types = Some(kube::api::TypeMeta {
            api_version: "v1".to_string(),
            kind: "Secret".to_string(),
        });
        assert!(!is_the_one(
            &object,
            &config_maps,
            Some("team-a"),
            "settings"
        ));
        assert!(is_the_one(&object, &secrets, Some("team-a"), "settings"));

        // A cluster-scoped kind has no namespace.
        let volumes = kind("", "v1", "PersistentVolume", "persistentvolumes", false);
        let volume = DynamicObject::new("pv-1", &volumes.resource);
        assert!(is_the_one(&volume, &volumes, None, "pv-1"));
    }
}
