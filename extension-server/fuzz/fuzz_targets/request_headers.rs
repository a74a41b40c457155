//! Arbitrary bytes, read as request headers (one `name: value` per line), fed
//! to the `X-Remote-*` parsing that runs once the front proxy's certificate
//! has been verified. The parser must never panic, and what it reads must be
//! what kube-apiserver's own request-header authenticator
//! (k8s.io/apiserver `headerrequest`) reads from the same headers: the first
//! non-empty user name, every non-empty group, extra keys lowercased and then
//! percent-unescaped (kept whole when an escape is malformed). Values that are
//! not UTF-8 have no Rust `String` to compare with, and are left out of the
//! comparison.

#![no_main]

use std::collections::BTreeMap;

use extension_server::auth::authn::RequestHeaderConfig;
use extension_server::error::AppError;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in bytes.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let value = &line[colon + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    // Every value UTF-8, so that the reference below sees what Go sees
    let all_utf8 = headers
        .values()
        .all(|v| std::str::from_utf8(v.as_bytes()).is_ok());

    // The header names kube-apiserver writes into its configmap
    let config = RequestHeaderConfig {
        username_headers: vec!["X-Remote-User".to_string()],
        uid_headers: vec!["X-Remote-Uid".to_string()],
        group_headers: vec!["X-Remote-Group".to_string()],
        extra_headers_prefixes: vec!["X-Remote-Extra-".to_string()],
        ..RequestHeaderConfig::default()
    };
    let got = config.user_from_headers(&headers);
    if !all_utf8 {
        if let Err(err) = got {
            assert!(matches!(err, AppError::Unauthorized(_)), "{err:?}");
        }
        return;
    }

    let text = |v: &HeaderValue| std::str::from_utf8(v.as_bytes()).unwrap().to_string();
    let name = headers
        .get("x-remote-user")
        .map(text)
        .filter(|n| !n.is_empty());
    match (got, name) {
        (Err(err), None) => assert!(matches!(err, AppError::Unauthorized(_)), "{err:?}"),
        (Err(err), Some(name)) => panic!("user {name:?} in the headers, but {err:?}"),
        (Ok(user), None) => panic!("no user name in the headers, but {user:?}"),
        (Ok(user), Some(name)) => {
            assert_eq!(user.name, name);
            let mut groups: Vec<String> = headers
                .get_all("x-remote-group")
                .iter()
                .map(text)
                .filter(|g| !g.is_empty())
                .collect();
            // kube-apiserver's AuthenticatedGroupAdder: everyone but
            // system:anonymous gets system:authenticated, unless they carry
            // it or system:unauthenticated already.
            let marked = groups
                .iter()
                .any(|g| g == "system:authenticated" || g == "system:unauthenticated");
            if name != "system:anonymous" && !marked {
                groups.push("system:authenticated".to_string());
            }
            assert_eq!(user.groups, groups);
            let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (header, value) in &headers {
                if let Some(key) = header.as_str().strip_prefix("x-remote-extra-") {
                    extra
                        .entry(unescape_like_go(&key.to_ascii_lowercase()))
                        .or_default()
                        .push(text(value));
                }
            }
            assert_eq!(user.extra, extra);
        }
    }
});

/// `url.PathUnescape`, and the key unchanged when it fails, as
/// `unescapeExtraKey` in k8s.io/apiserver does.
fn unescape_like_go(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1..i + 3) {
                Some([hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    let hex = |b: u8| (b as char).to_digit(16).unwrap() as u8;
                    out.push(hex(*hi) * 16 + hex(*lo));
                    i += 3;
                }
                _ => return key.to_string(),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
