//! Hostile input, through kube-apiserver and straight to the extension
//! server: every malformed path, query or header gets a 4xx answer (never a
//! 5xx, never a hang), and every answer the extension server writes is a
//! `Status` whose message names what is wrong.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

/// The group version the extension server serves.
const PREFIX: &str = "/apis/primary-all/v1";
/// The thesis route up to the name, for a Database in `default`.
const DATABASES: &str = "/apis/primary-all/v1/example.com/v1/Database/default";
/// A Database that no test creates: a valid request for it is a clean 404.
const MISSING: &str = "bad-input-missing";

/// One hostile request.
struct Case {
    /// Its key in the snapshot; the prefix groups what it attacks.
    label: &'static str,
    /// Sent exactly as written: neither the client nor this test normalises
    /// dot segments or escapes.
    path_and_query: String,
    /// What a message from the extension server must contain: the part of
    /// the request it refuses.
    names: &'static str,
    /// Also sent straight to the extension server, past kube-apiserver's
    /// own parsing (which decodes, re-encodes or refuses some input first).
    straight: bool,
    /// Sent with a 64 KiB `X-Custom` header.
    oversized_header: bool,
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn hostile_paths_queries_and_headers_get_a_4xx_status_that_names_the_culprit()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    // The admin client, without kube-rs's retries of 503s: the first answer
    // is the one recorded, and a 5xx fails at once instead of being retried
    let mut admin_config = kube::Config::infer().await?;
    admin_config.default_retry = false;
    let client = kube::Client::try_from(admin_config)?;
    kube_test_utils::install_database_crd(&client).await?;
    let url = std::env::var("PRIMARY_ALL_EXTENSION_SERVER").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_EXTENSION_SERVER is not set: this test calls the server directly, \
             which `cargo xtask test` arranges for the local control plane"
        )
    })?;
    let ca_file = std::path::PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_CA")?);

    // Given a client that talks to the extension server straight, as
    // kube-apiserver's front proxy does: with the front-proxy client
    // certificate from the local control plane's PKI (next to the server's
    // CA), so that its requests get past authentication to the parser
    let ca_pem = std::fs::read(&ca_file)?;
    let ca_der: Vec<Vec<u8>> = <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(&ca_pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()?;
    let pki = ca_file
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no directory", ca_file.display()))?;
    let mut config = kube::Config::new(url.parse()?);
    // A Pod's address is in no certificate; the Service's name is.
    config.tls_server_name = std::env::var("PRIMARY_ALL_EXTENSION_TLS_NAME").ok();
    config.root_cert = Some(ca_der);
    config.auth_info.client_certificate =
        Some(pki.join("front-proxy-client.crt").display().to_string());
    config.auth_info.client_key = Some(pki.join("front-proxy-client.key").display().to_string());
    config.default_retry = false;
    let straight = kube::Client::try_from(config)?;

    // And a table of hostile requests, all of them for Databases that do not exist
    let cases = vec![
        // Names: too long, not DNS, dot segments, escapes
        Case {
            label: "name 254 characters",
            path_and_query: format!("{DATABASES}/{}", "a".repeat(254)),
            names: "aaaaaaaa",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name 4000 characters",
            path_and_query: format!("{DATABASES}/{}", "a".repeat(4000)),
            names: "aaaaaaaa",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "name with uppercase, _ and !",
            path_and_query: format!("{DATABASES}/DB_1!"),
            names: "DB_1!",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "name with an escaped space",
            path_and_query: format!("{DATABASES}/db%201"),
            names: "db 1",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "name with an escaped NUL",
            path_and_query: format!("{DATABASES}/db%001"),
            names: "db\\01",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name in UTF-8, not DNS",
            path_and_query: format!("{DATABASES}/%C3%A9t%C3%A9"),
            names: "été",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "name with a colon (valid for RBAC kinds)",
            path_and_query: format!("{DATABASES}/system:db"),
            names: "\"system:db\" not found",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "name ..",
            path_and_query: format!("{DATABASES}/.."),
            names: "invalid name \"..\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name .",
            path_and_query: format!("{DATABASES}/."),
            names: "invalid name \".\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name %2e%2e",
            path_and_query: format!("{DATABASES}/%2e%2e"),
            names: "invalid name \"..\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with an escaped slash %2F",
            path_and_query: format!("{DATABASES}/db%2F1"),
            names: "db/1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with an escaped slash %2f",
            path_and_query: format!("{DATABASES}/db%2f1"),
            names: "db/1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with an escaped backslash",
            path_and_query: format!("{DATABASES}/db%5C1"),
            names: "db\\\\1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with an escaped ?",
            path_and_query: format!("{DATABASES}/db%3Fdepth=2"),
            names: "db?depth=2",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with a malformed escape %zz",
            path_and_query: format!("{DATABASES}/db%zz"),
            names: "%zz",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with a cut escape %f",
            path_and_query: format!("{DATABASES}/db%f"),
            names: "%f",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with a signed escape %+1",
            path_and_query: format!("{DATABASES}/db%+1"),
            names: "%+1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with non-UTF-8 escapes %ff%fe",
            path_and_query: format!("{DATABASES}/%ff%fe"),
            names: "not UTF-8",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "name with an overlong UTF-8 slash %c0%af",
            path_and_query: format!("{DATABASES}/%c0%af"),
            names: "not UTF-8",
            straight: true,
            oversized_header: false,
        },
        // Namespaces
        Case {
            label: "namespace uppercase",
            path_and_query: format!("{PREFIX}/example.com/v1/Database/Default/{MISSING}"),
            names: "\"Default\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "namespace uppercase, namespaced route",
            path_and_query: format!("{PREFIX}/namespaces/Default/databases.example.com/{MISSING}"),
            names: "\"Default\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "namespace 64 characters",
            path_and_query: format!(
                "{PREFIX}/example.com/v1/Database/{}/{MISSING}",
                "n".repeat(64)
            ),
            names: "nnnnnnnn",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "namespace ..",
            path_and_query: format!("{PREFIX}/example.com/v1/Database/../{MISSING}"),
            names: "\"..\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "namespace with an escaped slash",
            path_and_query: format!("{PREFIX}/example.com/v1/Database/kube-system%2Fsecrets/x"),
            names: "kube-system/secrets",
            straight: true,
            oversized_header: false,
        },
        // Paths of neither shape
        Case {
            label: "path .. climbing out of the group",
            path_and_query: format!("{PREFIX}/../../../api/v1/namespaces/kube-system/secrets"),
            names: "../../../api/v1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "path .. inside the route",
            path_and_query: format!("{PREFIX}/example.com/v1/../v1/Database/default/{MISSING}"),
            names: "v1/../v1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "path with an empty segment",
            path_and_query: format!("{PREFIX}/example.com//v1/Database/default/{MISSING}"),
            names: "example.com//v1",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "path with a trailing slash",
            path_and_query: format!("{DATABASES}/"),
            names: "invalid name \"\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "path of the group with a slash",
            path_and_query: format!("{PREFIX}/"),
            names: "/apis/primary-all/v1/",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "path with a subresource",
            path_and_query: format!("{DATABASES}/{MISSING}/status"),
            names: "bad-input-missing/status",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "path with a subresource, namespaced route",
            path_and_query: format!(
                "{PREFIX}/namespaces/default/databases.example.com/{MISSING}/status"
            ),
            names: "bad-input-missing/status",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "path with three extra segments",
            path_and_query: format!("{DATABASES}/{MISSING}/a/b/c"),
            names: "bad-input-missing/a/b/c",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "path of 32 KiB",
            path_and_query: format!("{PREFIX}/{}", "a/".repeat(16 * 1024)),
            names: "a/a/a/a/",
            straight: true,
            oversized_header: false,
        },
        // Groups, versions, kinds, resources
        Case {
            label: "group unknown",
            path_and_query: format!("{PREFIX}/unknown.example.org/v1/Widget/default/w"),
            names: "\"Widget\" in unknown.example.org/v1",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "group not DNS",
            path_and_query: format!("{PREFIX}/Example.COM/v1/Database/default/{MISSING}"),
            names: "\"Example.COM\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "version unknown",
            path_and_query: format!("{PREFIX}/example.com/v9/Database/default/{MISSING}"),
            names: "example.com/v9",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "version not a DNS label",
            path_and_query: format!("{PREFIX}/example.com/V1/Database/default/{MISSING}"),
            names: "\"V1\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "kind unknown",
            path_and_query: format!("{PREFIX}/example.com/v1/Teapot/default/earl-grey"),
            names: "\"Teapot\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "kind unknown in core",
            path_and_query: format!("{PREFIX}/core/v1/Gadget/default/g"),
            names: "\"Gadget\" in core/v1",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "kind with _",
            path_and_query: format!("{PREFIX}/example.com/v1/Data_base/default/{MISSING}"),
            names: "\"Data_base\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "kind 64 characters",
            path_and_query: format!(
                "{PREFIX}/example.com/v1/{}/default/{MISSING}",
                "K".repeat(64)
            ),
            names: "KKKKKKKK",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "resource with a trailing dot",
            path_and_query: format!("{PREFIX}/namespaces/default/databases./{MISSING}"),
            names: "\"databases.\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "resource that is only a group",
            path_and_query: format!("{PREFIX}/namespaces/default/.example.com/{MISSING}"),
            names: "invalid kind \"\"",
            straight: false,
            oversized_header: false,
        },
        // Scope
        Case {
            label: "scope: a namespaced kind asked cluster-scoped",
            path_and_query: format!("{PREFIX}/example.com/v1/Database/{MISSING}"),
            names: "databases.example.com is namespaced",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "scope: a namespaced resource by the cluster route",
            path_and_query: format!("{PREFIX}/databases.example.com/{MISSING}"),
            names: "databases.example.com is namespaced",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "scope: a cluster-scoped kind asked in a namespace",
            path_and_query: format!("{PREFIX}/core/v1/Namespace/default/kube-system"),
            names: "namespaces is cluster-scoped",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "scope: a cluster-scoped resource by the namespaced route",
            path_and_query: format!("{PREFIX}/namespaces/default/namespaces/kube-system"),
            names: "namespaces is cluster-scoped",
            straight: false,
            oversized_header: false,
        },
        // Query parameters
        Case {
            label: "query depth huge",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=99999999999999999999"),
            names: "\"99999999999999999999\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth negative",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=-1"),
            names: "\"-1\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth zero",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=0"),
            names: "invalid depth \"0\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth eleven",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=11"),
            names: "invalid depth \"11\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth not a number",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=two"),
            names: "\"two\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth a fraction",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=1.5"),
            names: "\"1.5\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth empty",
            path_and_query: format!("{DATABASES}/{MISSING}?depth="),
            names: "invalid depth \"\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth twice",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=1&depth=2"),
            names: "\"depth\" is given more than once",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query depth twice, once escaped",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=1&dep%74h=2"),
            names: "\"depth\" is given more than once",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query depth of 32 KiB",
            path_and_query: format!("{DATABASES}/{MISSING}?depth={}", "9".repeat(32 * 1024)),
            names: "invalid depth \"99999999",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query parameter unknown",
            path_and_query: format!("{DATABASES}/{MISSING}?colour=blue"),
            names: "\"colour\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query parameter unknown, 1000 characters",
            path_and_query: format!("{DATABASES}/{MISSING}?{}=1", "k".repeat(1000)),
            names: "kkkkkkkk",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query view bogus",
            path_and_query: format!("{DATABASES}/{MISSING}?view=graph"),
            names: "\"graph\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query view empty",
            path_and_query: format!("{DATABASES}/{MISSING}?view="),
            names: "invalid view \"\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query consistency bogus",
            path_and_query: format!("{DATABASES}/{MISSING}?consistency=eventual"),
            names: "\"eventual\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query version other than the path's",
            path_and_query: format!("{DATABASES}/{MISSING}?version=v2"),
            names: "\"v2\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query version not a DNS label",
            path_and_query: format!("{DATABASES}/{MISSING}?version=V1"),
            names: "\"V1\"",
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "query watch bogus",
            path_and_query: format!("{DATABASES}/{MISSING}?watch=maybe"),
            names: "invalid watch \"maybe\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query timeoutSeconds zero",
            path_and_query: format!("{DATABASES}/{MISSING}?watch=true&timeoutSeconds=0"),
            names: "invalid timeoutSeconds \"0\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "route owners asked to watch",
            path_and_query: format!(
                "{PREFIX}/namespaces/default/configmaps/{MISSING}/owners?watch=true"
            ),
            names: "primary routes only",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "route owners of a missing object",
            path_and_query: format!(
                "{PREFIX}/namespaces/default/databases.example.com/{MISSING}/owners"
            ),
            names: MISSING,
            straight: false,
            oversized_header: false,
        },
        Case {
            label: "route toplevel of a namespace that is not a DNS label",
            path_and_query: format!("{PREFIX}/namespaces/Not_A_Label/toplevel"),
            names: "\"Not_A_Label\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "route toplevel with a name after it",
            path_and_query: format!("{PREFIX}/namespaces/default/toplevel/extra"),
            names: "\"toplevel\"",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query with a malformed escape %zz",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=%zz"),
            names: "%zz",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query with a signed escape %+1",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=%+1"),
            names: "%+1",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query with a non-UTF-8 escape %ff",
            path_and_query: format!("{DATABASES}/{MISSING}?view=%ff"),
            names: "not UTF-8",
            straight: true,
            oversized_header: false,
        },
        Case {
            label: "query with a semicolon",
            path_and_query: format!("{DATABASES}/{MISSING}?depth=two;x=1"),
            names: "\"two;x=1\"",
            straight: true,
            oversized_header: false,
        },
        // Headers
        Case {
            label: "header X-Custom of 64 KiB",
            path_and_query: format!("{DATABASES}/{MISSING}"),
            names: "\"bad-input-missing\" not found",
            straight: true,
            oversized_header: true,
        },
    ];

    // When each is sent through kube-apiserver, as the admin, and the subset
    // marked `straight` to the extension server too
    let mut table: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    let mut not_4xx: Vec<String> = Vec::new();
    let mut straight_not_status: Vec<&str> = Vec::new();
    for case in &cases {
        let mut routes = vec![("through kube-apiserver", &client)];
        if case.straight {
            routes.push(("straight", &straight));
        }
        for (route, route_client) in routes {
            let mut request = http::Request::get(case.path_and_query.as_str());
            if route == "straight" {
                // What kube-apiserver's front proxy says about the caller
                request = request
                    .header("X-Remote-User", "bad-input-test")
                    .header("X-Remote-Group", "system:masters");
            }
            if case.oversized_header {
                request = request.header("X-Custom", "a".repeat(64 * 1024));
            }
            let request = request.body(kube::client::Body::empty())?;
            let sent = tokio::time::timeout(Duration::from_secs(10), route_client.send(request));
            let response = match sent.await {
                Ok(Ok(response)) => response,
                Ok(Err(err)) => {
                    let row = format!("no answer: {err}");
                    not_4xx.push(format!("{} {route}: {row}", case.label));
                    table.entry(case.label).or_default().insert(route, row);
                    continue;
                }
                Err(_) => {
                    let row = "no answer within 10 s".to_string();
                    not_4xx.push(format!("{} {route}: {row}", case.label));
                    table.entry(case.label).or_default().insert(route, row);
                    continue;
                }
            };
            let code = response.status().as_u16();
            let bytes = response.into_body().collect_bytes().await?;
            let status = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .filter(|body| body["kind"] == "Status");

            // Then every answer is a 4xx (checked for all of them below, after the table)
            if !(400..500).contains(&code) {
                not_4xx.push(format!("{} {route}: {code}", case.label));
            }

            // And every Status is a Failure whose code is the HTTP code and
            // whose message names the offending part. kube-apiserver's own
            // refusals on these paths (a request line it cannot parse, a
            // failed proxy) are plain text, so a Status is the extension
            // server's; kube-apiserver passes it through unchanged.
            let row = match &status {
                Some(status) => {
                    let message = status["message"].as_str().unwrap_or_default();
                    assert_eq!(status["status"], "Failure", "{}: {status}", case.label);
                    assert_eq!(status["code"], code, "{}: {status}", case.label);
                    assert!(!message.is_empty(), "{}: {status}", case.label);
                    // kube-apiserver drops query pairs it cannot parse, so
                    // some requests reach the server as a valid request for
                    // the missing Database: its 404 names that, not the input.
                    let names_the_input = message.contains(case.names)
                        || message == format!("databases.example.com \"{MISSING}\" not found");
                    assert!(
                        names_the_input,
                        "{} {route}: {message:?} does not name {:?}",
                        case.label, case.names
                    );
                    let reason = status["reason"].as_str().unwrap_or_default();
                    let shown: String = message.chars().take(80).collect();
                    format!("{code} {reason} (extension server): {shown}")
                }
                None => {
                    // Straight, an answer that is no Status comes from the
                    // server's HTTP layer (hyper), not from its handlers.
                    let who = if route == "straight" {
                        straight_not_status.push(case.label);
                        "extension server's HTTP layer"
                    } else {
                        "kube-apiserver"
                    };
                    let text = String::from_utf8_lossy(&bytes);
                    let shown: String = text.trim().chars().take(80).collect();
                    format!("{code} text ({who}): {shown}")
                }
            };
            table.entry(case.label).or_default().insert(route, row);
        }
    }

    // Then the table of answers is the one reviewed
    assert!(cases.len() >= 40, "{} cases", cases.len());
    insta::assert_yaml_snapshot!(table);

    // And nothing was a 5xx, a hang, or a dropped connection
    assert!(not_4xx.is_empty(), "answers that are no 4xx: {not_4xx:#?}");

    // And every answer the server wrote itself is a Status
    assert!(
        straight_not_status.is_empty(),
        "straight answers that are no Status: {straight_not_status:?}"
    );

    // And the server is still healthy: ready, straight
    let readyz = http::Request::get("/readyz").body(Vec::new())?;
    assert_eq!(straight.request_text(readyz).await?, "ok");

    // And a valid request for a missing primary is still a clean 404
    let missing = http::Request::get(format!("{DATABASES}/{MISSING}")).body(Vec::new())?;
    let err = client
        .request::<serde_json::Value>(missing)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    assert_eq!(
        status.message,
        format!("databases.example.com \"{MISSING}\" not found")
    );
    Ok(())
}
