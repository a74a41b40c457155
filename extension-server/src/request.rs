//! What a request asks for: the primary it names (from either URL shape) and
//! the query parameters, validated before any API call is made.
//!
//! Two URL shapes name the same primary, because kube-apiserver authorizes a
//! request by its path before proxying it. Its request parser sets a
//! namespace only for a `namespaces/{ns}/…` prefix, so the route the thesis
//! describes, `{group}/{version}/{kind}/{namespace}/{name}`, can only be
//! granted cluster-wide; the second shape,
//! `namespaces/{namespace}/{resource}.{group}/{name}`, can be granted in one
//! namespace by a RoleBinding.

use crate::error::AppError;

/// The group spelled in a path where the legacy core group (`""`) is meant.
pub const CORE: &str = primary_all::wire::CORE_GROUP_ALIAS;

/// The deepest `depth` a caller may ask for: ownership chains in real
/// clusters are short (Deployment → ReplicaSet → Pod is 2), and a bound keeps
/// one request from walking the whole cluster.
pub const MAX_DEPTH: u32 = 10;

/// A primary, as named by a path, before discovery resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryRef {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version, when the path names one (the first shape); otherwise the
    /// group's preferred version is used.
    pub version: Option<String>,
    /// The kind (`Database`) or plural resource name (`databases`), in any case.
    pub kind: String,
    /// The namespace; `None` for a cluster-scoped primary.
    pub namespace: Option<String>,
    /// The primary's name.
    pub name: String,
}

/// How the answer is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// A flat `List` of secondaries (the default).
    #[default]
    List,
    /// Secondaries nested under their owners, for people.
    Tree,
}

/// How fresh the objects in an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// The primary and every secondary are read from kube-apiserver for
    /// this request (quorum reads).
    #[default]
    Latest,
    /// Objects whose resourceVersion the watch cache confirms are served
    /// from memory (needs `--strategy=indexed`).
    Cached,
}

impl Consistency {
    /// The word the answer's `consistency` field carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Cached => "cached",
        }
    }
}

/// The query parameters of a primary route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// How many levels of ownerReferences to follow (1 = direct children).
    pub depth: u32,
    /// The layout of the answer.
    pub view: View,
    /// The version to read the primary at, for the routes whose path names
    /// none (clients that decode into a typed version send it).
    pub version: Option<String>,
    /// How fresh the objects must be.
    pub consistency: Consistency,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            depth: 1,
            view: View::List,
            version: None,
            consistency: Consistency::Latest,
        }
    }
}

/// Parses the path below `/apis/primary-all/v1/` into the primary it names.
///
/// # Errors
///
/// `400 BadRequest` for a path of neither shape or with a segment that is not
/// a valid group, version, kind, namespace or name.
pub fn parse_path(rest: &str) -> Result<PrimaryRef, AppError> {
    // Split first, then decode each segment, so that an escaped `/` stays
    // inside its segment (and then fails validation) instead of adding one.
    let decoded: Vec<String> = rest
        .split('/')
        .map(decode_segment)
        .collect::<Result<_, _>>()?;
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let primary = match segments.as_slice() {
        // namespaces/{namespace}/{resource}.{group}/{name}
        ["namespaces", namespace, resource_group, name] => {
            let (resource, group) = split_resource_group(resource_group)?;
            PrimaryRef {
                group,
                version: None,
                kind: resource,
                namespace: Some(namespace.to_string()),
                name: name.to_string(),
            }
        }
        // {resource}.{group}/{name}: a cluster-scoped primary, grantable by name
        [resource_group, name] => {
            let (resource, group) = split_resource_group(resource_group)?;
            PrimaryRef {
                group,
                version: None,
                kind: resource,
                namespace: None,
                name: name.to_string(),
            }
        }
        // {group}/{version}/{kind}/{namespace}/{name}
        [group, version, kind, namespace, name] => PrimaryRef {
            group: core_to_empty(group),
            version: Some(version.to_string()),
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        },
        // {group}/{version}/{kind}/{name}: a cluster-scoped primary
        [group, version, kind, name] => PrimaryRef {
            group: core_to_empty(group),
            version: Some(version.to_string()),
            kind: kind.to_string(),
            namespace: None,
            name: name.to_string(),
        },
        _ => {
            return Err(AppError::BadRequest(format!(
                "the path /apis/primary-all/v1/{rest} names no primary; use \
                 /apis/primary-all/v1/{{group}}/{{version}}/{{kind}}/{{namespace}}/{{name}} or \
                 /apis/primary-all/v1/namespaces/{{namespace}}/{{resource}}.{{group}}/{{name}} \
                 (\"core\" stands for the core group)"
            )));
        }
    };
    validate(&primary)?;
    Ok(primary)
}

/// `databases.example.com` → (`databases`, `example.com`); `secrets` → (`secrets`, core).
fn split_resource_group(segment: &str) -> Result<(String, String), AppError> {
    match segment.split_once('.') {
        Some((resource, group)) => Ok((resource.to_string(), core_to_empty(group))),
        None => Ok((segment.to_string(), String::new())),
    }
}

fn core_to_empty(group: &str) -> String {
    if group == CORE {
        String::new()
    } else {
        group.to_string()
    }
}

fn validate(primary: &PrimaryRef) -> Result<(), AppError> {
    if !primary.group.is_empty() && !is_dns_subdomain(&primary.group) {
        return Err(bad(
            "group",
            &primary.group,
            "a DNS subdomain such as example.com, or \"core\"",
        ));
    }
    if let Some(version) = &primary.version {
        if !is_dns_label(version) {
            return Err(bad("version", version, "a version such as v1 or v1beta1"));
        }
    }
    if !is_kind(&primary.kind) {
        return Err(bad(
            "kind",
            &primary.kind,
            "a kind such as Database or a resource such as databases",
        ));
    }
    if let Some(namespace) = &primary.namespace {
        if !is_dns_label(namespace) {
            return Err(bad(
                "namespace",
                namespace,
                "a DNS label of at most 63 characters",
            ));
        }
    }
    if !is_object_name(&primary.name) {
        return Err(bad(
            "name",
            &primary.name,
            "a name of at most 253 characters such as db-1",
        ));
    }
    Ok(())
}

fn bad(what: &str, value: &str, expected: &str) -> AppError {
    let shown: String = value.chars().take(80).collect();
    let ellipsis = if value.chars().count() > 80 {
        "…"
    } else {
        ""
    };
    AppError::BadRequest(format!(
        "invalid {what} {shown:?}{ellipsis}: expected {expected}"
    ))
}

/// RFC 1123 label: lowercase alphanumerics and `-`, at most 63, alphanumeric at both ends.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A kind (`Database`) or a plural resource (`databases`): a letter, then
/// letters, digits or `-`.
fn is_kind(s: &str) -> bool {
    s.len() <= 63
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What kube-apiserver accepts as an object name in a path: most kinds want
/// a DNS subdomain, a few (RBAC) also allow `:`; never `/`, `%`, `.` or `..`.
fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'@'))
}

/// Parses the raw query string of a primary route.
///
/// # Errors
///
/// `400 BadRequest` for an unknown or repeated parameter, a value out of
/// range, or a query that is not valid percent-encoded UTF-8.
pub fn parse_params(query: Option<&str>) -> Result<Params, AppError> {
    let mut params = Params::default();
    let mut seen: Vec<String> = Vec::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        let value = decode(value)?;
        if seen.contains(&key) {
            return Err(AppError::BadRequest(format!(
                "query parameter {key:?} is given more than once"
            )));
        }
        seen.push(key.clone());
        match key.as_str() {
            "depth" => {
                params.depth = value
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (1..=MAX_DEPTH).contains(d))
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "invalid depth {value:?}: expected a whole number from 1 to {MAX_DEPTH}"
                        ))
                    })?;
            }
            "view" => {
                params.view = match value.as_str() {
                    "list" => View::List,
                    "tree" => View::Tree,
                    _ => {
                        return Err(AppError::BadRequest(format!(
                            "invalid view {value:?}: expected \"list\" or \"tree\""
                        )));
                    }
                };
            }
            "consistency" => {
                params.consistency = match value.as_str() {
                    "latest" => Consistency::Latest,
                    "cached" => Consistency::Cached,
                    _ => {
                        return Err(AppError::BadRequest(format!(
                            "invalid consistency {value:?}: expected \"latest\" or \"cached\""
                        )));
                    }
                };
            }
            "version" => {
                if !is_dns_label(&value) {
                    return Err(bad("version", &value, "a version such as v1 or v1beta1"));
                }
                params.version = Some(value);
            }
            // kubectl and client-go add these to raw GETs; they change nothing here.
            "timeout" | "pretty" => {}
            _ => {
                let shown: String = key.chars().take(40).collect();
                return Err(AppError::BadRequest(format!(
                    "unknown query parameter {shown:?}: expected depth, view, version or consistency"
                )));
            }
        }
    }
    Ok(params)
}

/// Percent-decodes one path segment (`+` stays a `+`).
fn decode_segment(segment: &str) -> Result<String, AppError> {
    percent_decode(segment, false)
}

/// Percent-decodes one query component (`+` is a space, as in forms).
fn decode(component: &str) -> Result<String, AppError> {
    percent_decode(component, true)
}

fn percent_decode(component: &str, plus_is_space: bool) -> Result<String, AppError> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        AppError::BadRequest("the request has a malformed %-escape".to_string())
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| AppError::BadRequest("the request is not valid UTF-8".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thesis_route_names_group_version_kind_namespace_and_name() {
        let primary = parse_path("example.com/v1/Database/default/db-1").unwrap();
        assert_eq!(
            primary,
            PrimaryRef {
                group: "example.com".to_string(),
                version: Some("v1".to_string()),
                kind: "Database".to_string(),
                namespace: Some("default".to_string()),
                name: "db-1".to_string(),
            }
        );
    }

    #[test]
    fn core_stands_for_the_core_group() {
        let primary = parse_path("core/v1/secrets/default/token").unwrap();
        assert_eq!(primary.group, "");
        assert_eq!(primary.kind, "secrets");
    }

    #[test]
    fn the_namespaced_route_splits_resource_and_group() {
        let primary = parse_path("namespaces/team-a/databases.example.com/db-1").unwrap();
        assert_eq!(primary.group, "example.com");
        assert_eq!(primary.version, None);
        assert_eq!(primary.kind, "databases");
        assert_eq!(primary.namespace.as_deref(), Some("team-a"));
    }

    #[test]
    fn the_namespaced_route_takes_a_core_resource_alone() {
        let primary = parse_path("namespaces/team-a/services/web").unwrap();
        assert_eq!(primary.group, "");
        assert_eq!(primary.kind, "services");
    }

    #[test]
    fn cluster_scoped_primaries_have_both_shapes_too() {
        let seed_shape = parse_path("core/v1/Namespace/team-a").unwrap();
        assert_eq!(seed_shape.namespace, None);
        assert_eq!(seed_shape.kind, "Namespace");
        let grantable = parse_path("clusterdatabases.example.com/shared").unwrap();
        assert_eq!(grantable.namespace, None);
        assert_eq!(grantable.kind, "clusterdatabases");
        assert_eq!(grantable.group, "example.com");
    }

    #[test]
    fn malformed_paths_are_bad_requests() {
        for path in [
            "",
            "example.com",
            "a/b/c/d/e/f",
            "example.com/v1/Database/default/..",
            "example.com/v1/Database/Default/db-1",
            "example.com/v1/Data_base/default/db-1",
            "Example.COM/v1/Database/default/db-1",
            "example.com/V1/Database/default/db-1",
            "namespaces/team-a/databases.example.com/db%2F1",
            "example.com/v1/Database/default/",
            "example.com/v1/Database/default/db%2",
            "example.com/v1/Database/default/%ff%fe",
        ] {
            let err = parse_path(path).unwrap_err();
            assert!(
                matches!(err, AppError::BadRequest(_)),
                "{path:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn segments_are_decoded_after_splitting() {
        let err = parse_path("example.com/v1/Database/default/db%2F1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid name \"db/1\": expected a name of at most 253 characters such as db-1"
        );
        let primary = parse_path("example.com/v1/Database/default/db%2D1").unwrap();
        assert_eq!(primary.name, "db-1");
    }

    #[test]
    fn overlong_values_are_cut_in_the_message() {
        let name = "a".repeat(300);
        let err = parse_path(&format!("example.com/v1/Database/default/{name}")).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("invalid name \"aaaa"), "{message}");
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn params_default_to_depth_one_and_a_list() {
        assert_eq!(
            parse_params(None).unwrap(),
            Params {
                depth: 1,
                view: View::List,
                version: None,
                consistency: Consistency::Latest,
            }
        );
        assert_eq!(parse_params(Some("")).unwrap(), Params::default());
    }

    #[test]
    fn params_are_parsed() {
        assert_eq!(
            parse_params(Some("depth=3&view=tree&version=v1beta1&consistency=cached")).unwrap(),
            Params {
                depth: 3,
                view: View::Tree,
                version: Some("v1beta1".to_string()),
                consistency: Consistency::Cached,
            }
        );
    }

    #[test]
    fn bad_params_are_bad_requests() {
        for query in [
            "depth=0",
            "depth=-1",
            "depth=11",
            "depth=99999999999999999999",
            "depth=two",
            "depth=1&depth=2",
            "view=graph",
            "colour=blue",
            "depth=%zz",
            "depth=%ff",
            "version=V1",
        ] {
            let err = parse_params(Some(query)).unwrap_err();
            assert!(
                matches!(err, AppError::BadRequest(_)),
                "{query:?} gave {err:?}"
            );
        }
    }
}
