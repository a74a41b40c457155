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

use primary_all::wire::MAX_DEPTH;

use crate::answer::{Params, PrimaryRef, View};
use crate::error::AppError;
use crate::find::Consistency;

/// The group spelled in a path where the legacy core group (`""`) is meant.
pub const CORE: &str = primary_all::wire::CORE_GROUP_ALIAS;

/// The longest watch a caller may ask for, like kube-apiserver's
/// `--min-request-timeout` scaled: a client reconnects after it.
pub const MAX_WATCH_SECONDS: u32 = 3600;

/// What a path below `/apis/primary-all/v1/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A primary and its secondaries: either URL shape.
    Primary(PrimaryRef),
    /// The objects above one: either URL shape, then `/owners`.
    Owners(PrimaryRef),
    /// `{group}/{version}/{kind}/{x}/owners`, which reads two ways: the
    /// owners of the cluster-scoped object `x`, or the namespaced primary
    /// named `owners` in namespace `x`. Only the kind's scope, known after
    /// discovery, tells which (as kube-apiserver tells a subresource apart).
    PrimaryOrOwners {
        /// The reading as a namespaced primary named `owners`.
        primary: PrimaryRef,
        /// The reading as the owners of a cluster-scoped object.
        owners_of: PrimaryRef,
    },
    /// `namespaces/{namespace}/toplevel`: the objects nothing owns.
    TopLevel {
        /// The namespace.
        namespace: String,
    },
}

/// The last segment of an owners route.
pub const OWNERS: &str = "owners";
/// The last segment of a namespace's top-level route.
pub const TOP_LEVEL: &str = "toplevel";

/// Parses the path below `/apis/primary-all/v1/` into the route it names.
///
/// # Errors
///
/// `400 BadRequest` for a path of no known shape, or with a segment that is
/// not a valid group, version, kind, namespace or name.
///
/// `name_selected` is the name a `fieldSelector=metadata.name=…` selects: it
/// completes a path that names a kind but no object, the shape kube-apiserver
/// treats as a long-running `watch` (a path naming an object is a `get`,
/// which it cuts after a minute), so `?watch=true` streams use it.
pub fn parse_route(rest: &str, name_selected: Option<&str>) -> Result<Route, AppError> {
    let decoded = decode_segments(rest)?;
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["namespaces", namespace, TOP_LEVEL] => {
            if !is_dns_label(namespace) {
                return Err(bad("namespace", namespace, "a DNS label such as team-a"));
            }
            Ok(Route::TopLevel {
                namespace: namespace.to_string(),
            })
        }
        // namespaces/{namespace}/{resource}.{group}, or {resource}.{group}
        // cluster-scoped: a kind, whose object the field selector names.
        ["namespaces", _, _] | [_] => match name_selected {
            Some(name) => {
                let mut named = segments.clone();
                named.push(name);
                primary_of(&named, rest).map(Route::Primary)
            }
            None => Err(AppError::BadRequest(format!(
                "the path /apis/primary-all/v1/{} names a kind but no object: add its name \
                 to the path, or select it with fieldSelector=metadata.name={{name}}",
                cut(rest)
            ))),
        },
        [first, _, _, _, OWNERS] if *first != "namespaces" => {
            match (
                primary_of(&segments, rest),
                primary_of(&segments[..4], rest),
            ) {
                (Ok(primary), Ok(owners_of)) => Ok(Route::PrimaryOrOwners { primary, owners_of }),
                (Ok(primary), Err(_)) => Ok(Route::Primary(primary)),
                (Err(_), Ok(owners_of)) => Ok(Route::Owners(owners_of)),
                (Err(err), Err(_)) => Err(err),
            }
        }
        [prefix @ .., OWNERS] if !prefix.is_empty() => match primary_of(prefix, rest) {
            Ok(object) => Ok(Route::Owners(object)),
            // `{group}/{version}/{kind}/{namespace}/owners`: a primary named `owners`.
            Err(err) => primary_of(&segments, rest)
                .map(Route::Primary)
                .map_err(|_| err),
        },
        _ => primary_of(&segments, rest).map(Route::Primary),
    }
}

/// Parses the path below `/apis/primary-all/v1/` into the primary it names.
///
/// # Errors
///
/// `400 BadRequest` for a path of neither shape or with a segment that is not
/// a valid group, version, kind, namespace or name.
pub fn parse_path(rest: &str) -> Result<PrimaryRef, AppError> {
    let decoded = decode_segments(rest)?;
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    primary_of(&segments, rest)
}

/// Splits first, then decodes each segment, so that an escaped `/` stays
/// inside its segment (and then fails validation) instead of adding one.
fn decode_segments(rest: &str) -> Result<Vec<String>, AppError> {
    rest.split('/').map(decode_segment).collect()
}

/// The primary that decoded `segments` name, in either shape; `rest` is the
/// raw path, for the error message.
fn primary_of(segments: &[&str], rest: &str) -> Result<PrimaryRef, AppError> {
    let primary = match segments {
        // namespaces/{namespace}/{resource}.{group}/{name}/{more}: a subresource
        // or a stray segment, which would otherwise read as the first shape
        // with group "namespaces" and fail on a puzzling "invalid kind".
        ["namespaces", _, _, _, _] => return Err(no_primary(rest)),
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
        _ => return Err(no_primary(rest)),
    };
    validate(&primary)?;
    Ok(primary)
}

/// The answer to a path of neither shape; the path is cut, so that a huge
/// one is not echoed back whole.
fn no_primary(rest: &str) -> AppError {
    AppError::BadRequest(format!(
        "the path /apis/primary-all/v1/{} names no primary; use \
         /apis/primary-all/v1/{{group}}/{{version}}/{{kind}}/{{namespace}}/{{name}} or \
         /apis/primary-all/v1/namespaces/{{namespace}}/{{resource}}.{{group}}/{{name}} \
         (\"core\" stands for the core group)",
        cut(rest)
    ))
}

/// `databases.example.com` → (`databases`, `example.com`); `secrets` → (`secrets`, core).
///
/// A trailing dot (`databases.`) names no group: it is refused rather than
/// read as the core group, which only `secrets` or `secrets.core` mean.
fn split_resource_group(segment: &str) -> Result<(String, String), AppError> {
    match segment.split_once('.') {
        Some((_, "")) => Err(bad(
            "resource",
            segment,
            "a resource such as databases.example.com, or secrets for the core group",
        )),
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
    if let Some(version) = &primary.version
        && !is_dns_label(version)
    {
        return Err(bad("version", version, "a version such as v1 or v1beta1"));
    }
    if !is_kind(&primary.kind) {
        return Err(bad(
            "kind",
            &primary.kind,
            "a kind such as Database or a resource such as databases",
        ));
    }
    if let Some(namespace) = &primary.namespace
        && !is_dns_label(namespace)
    {
        return Err(bad(
            "namespace",
            namespace,
            "a DNS label of at most 63 characters",
        ));
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
    AppError::BadRequest(format!(
        "invalid {what} {}: expected {expected}",
        quoted(value)
    ))
}

/// The most of a caller's value that a message echoes, in characters.
const SHOWN: usize = 80;

/// `value` cut to [`SHOWN`] characters, with `…` when it was longer.
fn cut(value: &str) -> String {
    let mut shown: String = value.chars().take(SHOWN).collect();
    if value.chars().nth(SHOWN).is_some() {
        shown.push('…');
    }
    shown
}

/// `value` quoted and escaped as `{:?}` does, cut to [`SHOWN`] characters.
fn quoted(value: &str) -> String {
    let shown: String = value.chars().take(SHOWN).collect();
    let ellipsis = if value.chars().nth(SHOWN).is_some() {
        "…"
    } else {
        ""
    };
    format!("{shown:?}{ellipsis}")
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
        let key = decode(key).map_err(|why| {
            AppError::BadRequest(format!("invalid query parameter {}: {why}", quoted(pair)))
        })?;
        let value = decode(value).map_err(|why| {
            AppError::BadRequest(format!("invalid query parameter {}: {why}", quoted(pair)))
        })?;
        if seen.contains(&key) {
            return Err(AppError::BadRequest(format!(
                "query parameter {} is given more than once",
                quoted(&key)
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
                        bad(
                            "depth",
                            &value,
                            &format!("a whole number from 1 to {MAX_DEPTH}"),
                        )
                    })?;
            }
            "view" => {
                params.view = match value.as_str() {
                    "list" => View::List,
                    "tree" => View::Tree,
                    _ => return Err(bad("view", &value, "\"list\" or \"tree\"")),
                };
            }
            "consistency" => {
                params.consistency = Consistency::from_word(&value)
                    .ok_or_else(|| bad("consistency", &value, "\"latest\" or \"cached\""))?;
            }
            "version" => {
                if !is_dns_label(&value) {
                    return Err(bad("version", &value, "a version such as v1 or v1beta1"));
                }
                params.version = Some(value);
            }
            "fieldSelector" => match value.strip_prefix("metadata.name=") {
                Some(name) if !name.contains(',') => params.name_selected = Some(name.to_string()),
                _ => {
                    return Err(bad(
                        "fieldSelector",
                        &value,
                        "metadata.name={name}, the one field selector served",
                    ));
                }
            },
            "watch" => {
                params.watch = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad("watch", &value, "\"true\" or \"false\"")),
                };
            }
            "timeoutSeconds" => {
                params.timeout_seconds = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|t| (1..=MAX_WATCH_SECONDS).contains(t))
                        .ok_or_else(|| {
                            bad(
                                "timeoutSeconds",
                                &value,
                                &format!("a whole number from 1 to {MAX_WATCH_SECONDS}"),
                            )
                        })?,
                );
            }
            // kubectl and client-go add these to raw GETs; they change nothing here.
            "timeout" | "pretty" | "allowWatchBookmarks" => {}
            _ => {
                return Err(AppError::BadRequest(format!(
                    "unknown query parameter {}: expected depth, view, version, consistency, \
                     watch, timeoutSeconds or fieldSelector",
                    quoted(&key)
                )));
            }
        }
    }
    Ok(params)
}

/// Percent-decodes one path segment (`+` stays a `+`).
fn decode_segment(segment: &str) -> Result<String, AppError> {
    crate::percent::decode(segment).map_err(|why| {
        AppError::BadRequest(format!("invalid path segment {}: {why}", quoted(segment)))
    })
}

/// Percent-decodes one query component strictly (see [`crate::percent`]),
/// `+` being a space, as in forms; the error says what is wrong, for the
/// caller to prefix with the parameter it was found in.
fn decode(component: &str) -> Result<String, String> {
    crate::percent::decode_form(component).map_err(|malformed| malformed.to_string())
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
                watch: false,
                timeout_seconds: None,
                name_selected: None,
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
                watch: false,
                timeout_seconds: None,
                name_selected: None,
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

    #[test]
    fn a_sign_is_not_a_hex_digit_in_an_escape() {
        // `u8::from_str_radix("+1", 16)` is Ok(1): `%+1` used to decode to 0x01.
        let err = parse_path("example.com/v1/Database/default/db%+1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid path segment \"db%+1\": \"%+1\" is a malformed %-escape \
             (expected % and two hex digits)"
        );
        let err = parse_params(Some("depth=%+1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid query parameter \"depth=%+1\": \"%+1\" is a malformed %-escape \
             (expected % and two hex digits)"
        );
    }

    #[test]
    fn bad_escapes_name_the_segment_or_parameter_they_are_in() {
        let cases = [
            (
                parse_path("example.com/v1/Database/default/db%zz").unwrap_err(),
                "invalid path segment \"db%zz\": \"%zz\" is a malformed %-escape \
                 (expected % and two hex digits)",
            ),
            (
                parse_path("example.com/v1/Database/default/db%f").unwrap_err(),
                "invalid path segment \"db%f\": \"%f\" is a malformed %-escape \
                 (expected % and two hex digits)",
            ),
            (
                parse_path("example.com/v1/Database/default/%ff%fe").unwrap_err(),
                "invalid path segment \"%ff%fe\": it is not UTF-8 once %-decoded",
            ),
            (
                parse_params(Some("depth=2&view=%ff")).unwrap_err(),
                "invalid query parameter \"view=%ff\": it is not UTF-8 once %-decoded",
            ),
            (
                parse_params(Some("dep%zzth=2")).unwrap_err(),
                "invalid query parameter \"dep%zzth=2\": \"%zz\" is a malformed %-escape \
                 (expected % and two hex digits)",
            ),
        ];
        for (err, message) in cases {
            assert!(matches!(err, AppError::BadRequest(_)), "{err:?}");
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn overlong_query_values_are_cut_in_the_message() {
        // A 32 KiB value used to come back whole in the Status message.
        for query in [
            format!("depth={}", "9".repeat(32 * 1024)),
            format!("view={}", "x".repeat(32 * 1024)),
            format!("consistency={}", "x".repeat(32 * 1024)),
            format!("{}=1", "k".repeat(32 * 1024)),
        ] {
            let message = parse_params(Some(&query)).unwrap_err().to_string();
            assert!(message.len() < 200, "{} bytes: {message}", message.len());
            assert!(message.contains("…"), "{message}");
        }
    }

    #[test]
    fn an_overlong_path_of_neither_shape_is_cut_in_the_message() {
        let rest = "a/".repeat(16 * 1024);
        let message = parse_path(&rest).unwrap_err().to_string();
        assert!(message.len() < 500, "{} bytes: {message}", message.len());
        assert!(
            message.starts_with("the path /apis/primary-all/v1/a/a/a/"),
            "{message}"
        );
    }

    #[test]
    fn a_resource_with_a_trailing_dot_names_no_group() {
        // `databases.` used to be read as the core resource `databases`.
        let err = parse_path("namespaces/team-a/databases./db-1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid resource \"databases.\": expected a resource such as \
             databases.example.com, or secrets for the core group"
        );
        assert!(parse_path("secrets./token").is_err());
        assert_eq!(parse_path("secrets.core/token").unwrap().group, "");
    }

    #[test]
    fn a_segment_after_the_namespaced_route_names_no_primary() {
        // It used to read as group "namespaces", version "team-a", and fail
        // on "invalid kind \"databases.example.com\"".
        let err = parse_path("namespaces/team-a/databases.example.com/db-1/status").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the path /apis/primary-all/v1/namespaces/team-a/databases.example.com/db-1/status \
                 names no primary"
            ),
            "{err}"
        );
        // A Namespace, by the cluster-scoped grantable route, is still a primary.
        assert_eq!(parse_path("namespaces/team-a").unwrap().kind, "namespaces");
    }

    #[test]
    fn owners_follow_either_shape() {
        let pod = parse_path("namespaces/team-a/pods/web-0").unwrap();
        assert_eq!(
            parse_route("namespaces/team-a/pods/web-0/owners", None).unwrap(),
            Route::Owners(pod)
        );
        let thesis = parse_path("core/v1/Pod/team-a/web-0").unwrap();
        assert_eq!(
            parse_route("core/v1/Pod/team-a/web-0/owners", None).unwrap(),
            Route::Owners(thesis)
        );
        let volume = parse_path("persistentvolumes/pv-1").unwrap();
        assert_eq!(
            parse_route("persistentvolumes/pv-1/owners", None).unwrap(),
            Route::Owners(volume)
        );
    }

    #[test]
    fn a_thesis_path_ending_in_owners_reads_two_ways_until_the_scope_is_known() {
        assert_eq!(
            parse_route("core/v1/PersistentVolume/pv-1/owners", None).unwrap(),
            Route::PrimaryOrOwners {
                primary: parse_path("core/v1/PersistentVolume/pv-1/owners").unwrap(),
                owners_of: parse_path("core/v1/PersistentVolume/pv-1").unwrap(),
            }
        );
    }

    #[test]
    fn an_object_named_owners_is_still_a_primary() {
        assert_eq!(
            parse_route("namespaces/team-a/configmaps/owners", None).unwrap(),
            Route::Primary(parse_path("namespaces/team-a/configmaps/owners").unwrap())
        );
        assert_eq!(
            parse_route("namespaces/owners", None).unwrap(),
            Route::Primary(parse_path("namespaces/owners").unwrap())
        );
        assert!(parse_route("owners", None).is_err());
    }

    #[test]
    fn the_top_level_route_names_a_namespace() {
        assert_eq!(
            parse_route("namespaces/team-a/toplevel", None).unwrap(),
            Route::TopLevel {
                namespace: "team-a".to_string()
            }
        );
        assert!(parse_route("namespaces/Team_A/toplevel", None).is_err());
    }

    #[test]
    fn a_path_naming_a_kind_takes_the_name_from_the_field_selector() {
        let params = parse_params(Some("watch=true&fieldSelector=metadata.name%3Ddb-1")).unwrap();
        assert_eq!(params.name_selected.as_deref(), Some("db-1"));
        assert_eq!(
            parse_route("namespaces/team-a/databases.example.com", Some("db-1")).unwrap(),
            Route::Primary(parse_path("namespaces/team-a/databases.example.com/db-1").unwrap())
        );
        assert_eq!(
            parse_route("namespaces.core", Some("team-a")).unwrap(),
            Route::Primary(parse_path("namespaces.core/team-a").unwrap())
        );
        let err = parse_route("namespaces/team-a/databases.example.com", None).unwrap_err();
        assert!(
            err.to_string().contains("fieldSelector=metadata.name="),
            "{err}"
        );
        assert!(parse_params(Some("fieldSelector=spec.nodeName%3Dn1")).is_err());
        assert!(
            parse_params(Some(
                "fieldSelector=metadata.name%3Da,metadata.namespace%3Db"
            ))
            .is_err()
        );
    }

    #[test]
    fn watch_and_its_timeout_are_parsed_and_bounded() {
        let params = parse_params(Some("watch=true&timeoutSeconds=30")).unwrap();
        assert!(params.watch);
        assert_eq!(params.timeout_seconds, Some(30));
        assert!(parse_params(Some("watch=yes")).is_err());
        assert!(parse_params(Some("timeoutSeconds=0")).is_err());
        assert!(parse_params(Some("timeoutSeconds=3601")).is_err());
    }

    #[test]
    fn the_fuzz_corpus_parses_without_panicking() {
        // The seed corpus of extension-server/fuzz (target parse_request),
        // fed as the fuzz target feeds it, so that plain `cargo test` runs it.
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join("corpus")
            .join("parse_request");
        let mut files = 0;
        for entry in std::fs::read_dir(&corpus).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let input = String::from_utf8_lossy(&bytes);
            let (path, query) = match input.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (&*input, None),
            };
            if let Err(err) = parse_path(path) {
                assert!(matches!(err, AppError::BadRequest(_)), "{input:?}: {err:?}");
            }
            let name_selected = match parse_params(query) {
                Ok(params) => params.name_selected,
                Err(err) => {
                    assert!(matches!(err, AppError::BadRequest(_)), "{input:?}: {err:?}");
                    None
                }
            };
            if let Err(err) = parse_route(path, name_selected.as_deref()) {
                assert!(matches!(err, AppError::BadRequest(_)), "{input:?}: {err:?}");
            }
            files += 1;
        }
        assert!(files >= 10, "only {files} files in {}", corpus.display());
    }
}
