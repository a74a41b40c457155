//! The two promises, attacked: an answer holds every secondary (or says what
//! it left out), and it never shows a caller an object the caller could not
//! read itself.
//!
//! Each test is one attack, through kube-apiserver, as a caller who is not
//! in `system:masters` (impersonated, as kubectl `--as` does).
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! ```

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use primary_all::wire::{LeftOutReason, PrimaryWithSecondaries};
use serde_json::json;

/// GETs `path` through kube-apiserver and decodes the answer.
///
/// The one helper in this file: it only sends the request, so every test
/// still shows the path it asks for and everything it asserts.
async fn get_answer(client: &kube::Client, path: &str) -> anyhow::Result<PrimaryWithSecondaries> {
    let request = http::Request::get(path).body(Vec::new())?;
    Ok(client.request(request).await?)
}

/// The `Kind/name` of every secondary in an answer, sorted.
fn names(answer: &PrimaryWithSecondaries) -> Vec<String> {
    let mut names: Vec<String> = answer
        .sec_res
        .items
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
                o.metadata.name.as_deref().unwrap_or("?")
            )
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_kind_served_only_in_a_non_preferred_version_is_found() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "mixed-versions").await?;
    let ns = namespace.name();

    // Given a group that serves Widget in v1 (so v1 is its preferred
    // version) and Gizmo only in v1alpha1, as monitoring.coreos.com serves
    // Prometheus in v1 and ScrapeConfig in v1alpha1 only
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (plural, kind, version) in [("widgets", "Widget", "v1"), ("gizmos", "Gizmo", "v1alpha1")] {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": { "name": format!("{plural}.mixed.example.com") },
            "spec": {
                "group": "mixed.example.com",
                "scope": "Namespaced",
                "names": { "plural": plural, "singular": kind.to_lowercase(), "kind": kind },
                "versions": [{
                    "name": version, "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true
                    } }
                }]
            }
        }))?;
        match crds.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
        let name = format!("{plural}.mixed.example.com");
        let established = await_condition(crds.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(30), established).await??;
    }

    // And a Database that owns one Gizmo and one Widget
    let databases: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Database"),
            "databases",
        ),
    );
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let owner = json!([{
        "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
        "uid": database.metadata.uid.clone().unwrap(), "controller": true
    }]);
    for (kind, version, plural) in [("Gizmo", "v1alpha1", "gizmos"), ("Widget", "v1", "widgets")] {
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            ns,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("mixed.example.com", version, kind),
                plural,
            ),
        );
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": format!("mixed.example.com/{version}"), "kind": kind,
            "metadata": { "name": format!("db-1-{}", kind.to_lowercase()), "ownerReferences": owner }
        }))?;
        api.create(&PostParams::default(), &object).await?;
    }

    // When the Database is asked for, within the time a new kind may take
    // to be watched (the answer never leaves it out silently meanwhile)
    let path = format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-1");
    let started = Instant::now();
    let answer = loop {
        let answer = get_answer(&client, &path).await?;
        let syncing = answer
            .left_out
            .iter()
            .any(|l| l.group == "mixed.example.com" && l.reason == LeftOutReason::Syncing);
        if names(&answer).len() == 2 || started.elapsed() > Duration::from_secs(10) {
            break answer;
        }
        assert!(
            syncing,
            "a secondary is missing and the answer does not say so: {:?}",
            answer.left_out
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Then both come back, the Gizmo at the only version that serves it
    assert_eq!(names(&answer), ["Gizmo/db-1-gizmo", "Widget/db-1-widget"]);
    let gizmo = answer
        .sec_res
        .items
        .iter()
        .find(|o| o.types.as_ref().is_some_and(|t| t.kind == "Gizmo"))
        .unwrap();
    assert_eq!(
        gizmo.types.as_ref().unwrap().api_version,
        "mixed.example.com/v1alpha1"
    );
    assert!(answer.left_out.is_empty(), "{:?}", answer.left_out);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_kind_created_a_moment_before_the_request_is_found_or_named_as_syncing()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "new-kind").await?;
    let ns = namespace.name();

    // Given a Database
    let databases: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Database"),
            "databases",
        ),
    );
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;

    // When a CRD is created (its name unique to this run, so the server has
    // never seen it), and as soon as it is Established, an object of it that
    // the Database owns
    let group = format!("{ns}.example.com");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": format!("backups.{group}") },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": "backups", "singular": "backup", "kind": "Backup" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": true
                } }
            }]
        }
    }))?;
    crds.create(&PostParams::default(), &crd).await?;
    let crd_name = format!("backups.{group}");
    let established = await_condition(crds.clone(), &crd_name, conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established).await??;
    let is_established = Instant::now();
    let backups: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&group, "v1", "Backup"),
            "backups",
        ),
    );
    let backup: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{group}/v1"), "kind": "Backup",
        "metadata": {
            "name": "db-1-nightly",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
                "uid": database.metadata.uid.clone().unwrap(), "controller": true
            }]
        }
    }))?;
    backups.create(&PostParams::default(), &backup).await?;

    // Then every answer either holds the Backup or names its kind as
    // syncing, and within 2 s of the CRD being Established one holds it
    let path = format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-1");
    let found_after = loop {
        let answer = get_answer(&client, &path).await?;
        if names(&answer) == ["Backup/db-1-nightly"] {
            break is_established.elapsed();
        }
        let syncing = answer
            .left_out
            .iter()
            .any(|l| l.group == group && l.reason == LeftOutReason::Syncing);
        let not_yet_discovered = is_established.elapsed() < Duration::from_secs(2);
        assert!(
            syncing || not_yet_discovered,
            "{:.1}s after Established: no Backup and no word of it: {:?}",
            is_established.elapsed().as_secs_f64(),
            answer.left_out
        );
        anyhow::ensure!(
            is_established.elapsed() < Duration::from_secs(10),
            "the Backup was never found"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "measured: a secondary of a new kind was in the answer {:.2}s after its CRD was Established",
        found_after.as_secs_f64()
    );
    assert!(found_after < Duration::from_secs(3), "{found_after:?}");

    crds.delete(&format!("backups.{group}"), &Default::default())
        .await?;
    namespace.delete().await?;
    Ok(())
}

/// The Database, a Secret it owns and a Secret it labels, and a Role that
/// lets a user read the Database and call primary-all, plus `secrets` as
/// `secret_rule` says. Returns the user's client.
///
/// Not a hidden assertion: only the fixture of the three tests below, each
/// of which asserts everything it checks.
async fn database_with_two_secrets_and_a_user(
    client: &kube::Client,
    ns: &str,
    user: &str,
    secret_rule: serde_json::Value,
) -> anyhow::Result<kube::Client> {
    let databases: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Database"),
            "databases",
        ),
    );
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let uid = database.metadata.uid.clone().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let owned: Secret = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1-owned",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
                "uid": uid, "controller": true
            }]
        },
        "stringData": { "password": "owned-password" }
    }))?;
    secrets.create(&PostParams::default(), &owned).await?;
    let labelled: Secret = serde_json::from_value(json!({
        "metadata": { "name": "db-1-labelled", "labels": { "primary-all/primary-uid": uid } },
        "stringData": { "password": "labelled-password" }
    }))?;
    secrets.create(&PostParams::default(), &labelled).await?;
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": user },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["*"], "verbs": ["get"] },
            secret_rule
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": user },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    // Both Secrets must be in the answer for a caller who may read them,
    // before any user is tried: the watch event trails the create.
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    for _ in 0..50 {
        if names(&get_answer(client, &path).await?).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate = Some(user.to_string());
    Ok(kube::Client::try_from(config)?)
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_who_may_get_secrets_but_not_list_them_learns_no_names() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "get-only").await?;
    let ns = namespace.name();

    // Given a user who may `get` any Secret here, but not `list` them: the
    // "you must know the name" pattern
    let getter = database_with_two_secrets_and_a_user(
        &client,
        ns,
        "getter",
        json!({ "apiGroups": [""], "resources": ["secrets"], "verbs": ["get"] }),
    )
    .await?;

    // When the user asks for the Database
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let answer = get_answer(&getter, &path).await?;

    // Then neither Secret is shown, nor its name, nor its data
    assert_eq!(names(&answer), Vec::<String>::new());
    let text = serde_json::to_string(&answer)?;
    for hidden in ["db-1-owned", "db-1-labelled", "password"] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
    // And the kind is named as left out, in the namespace the user named
    let left: Vec<(String, LeftOutReason, Option<String>)> = answer
        .left_out
        .iter()
        .map(|l| (l.resource.clone(), l.reason, l.namespace.clone()))
        .collect();
    assert_eq!(
        left,
        [(
            "secrets".to_string(),
            LeftOutReason::Forbidden,
            Some(ns.to_string())
        )]
    );

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_who_may_list_secrets_sees_them_all() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "list-user").await?;
    let ns = namespace.name();

    // Given a user who may `list` Secrets here (and nothing more of them)
    let lister = database_with_two_secrets_and_a_user(
        &client,
        ns,
        "lister",
        json!({ "apiGroups": [""], "resources": ["secrets"], "verbs": ["list"] }),
    )
    .await?;

    // When the user asks for the Database
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let answer = get_answer(&lister, &path).await?;

    // Then both Secrets are shown, the owned one and the labelled one,
    // and nothing is left out
    assert_eq!(
        names(&answer),
        ["Secret/db-1-labelled", "Secret/db-1-owned"]
    );
    assert!(answer.left_out.is_empty(), "{:?}", answer.left_out);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_granted_one_secret_by_resource_names_sees_exactly_that_one() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "resource-names").await?;
    let ns = namespace.name();

    // Given a user who may `get` the labelled Secret by name, and no other
    let named = database_with_two_secrets_and_a_user(
        &client,
        ns,
        "named",
        json!({
            "apiGroups": [""], "resources": ["secrets"],
            "resourceNames": ["db-1-labelled"], "verbs": ["get"]
        }),
    )
    .await?;

    // When the user asks for the Database
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let answer = get_answer(&named, &path).await?;

    // Then exactly the Secret the Role names is shown
    assert_eq!(names(&answer), ["Secret/db-1-labelled"]);
    let text = serde_json::to_string(&answer)?;
    assert!(!text.contains("db-1-owned"), "{text}");
    assert!(!text.contains("owned-password"), "{text}");
    // And the kind is named as left out, since one was withheld
    assert_eq!(answer.left_out.len(), 1, "{:?}", answer.left_out);
    assert_eq!(answer.left_out[0].reason, LeftOutReason::Forbidden);

    // And the same in the tree view and the health roll-up: nothing of the
    // other Secret
    let tree = get_answer(&named, &format!("{path}?view=tree")).await?;
    let text = serde_json::to_string(&tree.tree)?;
    assert!(text.contains("db-1-labelled"), "{text}");
    assert!(!text.contains("db-1-owned"), "{text}");

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_with_no_rights_in_another_namespace_sees_nothing_of_it_in_left_out()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "own-ns").await?;
    let other = kube_test_utils::TestNamespace::create(&client, "other-ns").await?;
    let ns = namespace.name();

    // Given a Database here that owns... nothing here, and a ConfigMap in
    // another namespace that claims the Database (by label) as its primary
    let user = database_with_two_secrets_and_a_user(
        &client,
        ns,
        "stranger",
        json!({ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"] }),
    )
    .await?;
    let databases: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Database"),
            "databases",
        ),
    );
    let uid = databases.get("db-1").await?.metadata.uid.unwrap();
    let foreign: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "claims-db-1", "labels": { "primary-all/primary-uid": uid } }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), other.name())
        .create(&PostParams::default(), &foreign)
        .await?;

    // When the user, who has no rights in the other namespace, asks
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let answer = get_answer(&user, &path).await?;

    // Then the other namespace appears nowhere in the answer
    let text = serde_json::to_string(&answer)?;
    assert!(!text.contains(other.name()), "{text}");
    assert!(!text.contains("claims-db-1"), "{text}");

    other.delete().await?;
    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn the_servers_own_account_can_read_but_never_reach_a_workload() -> anyhow::Result<()> {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    kube_test_utils::init_tracing();

    // Given the server's ServiceAccount, as `kubectl auth can-i --as` asks
    // for it: a SelfSubjectAccessReview sent while impersonating it
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate =
        Some("system:serviceaccount:primary-all:primary-all".to_string());
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".to_string(),
        "system:serviceaccounts:primary-all".to_string(),
        "system:authenticated".to_string(),
    ]);
    let server_account = kube::Client::try_from(config)?;
    let reviews: Api<SelfSubjectAccessReview> = Api::all(server_account);

    // When it asks what it may do (verb, group, resource, subresource)
    let table = [
        ("list", "", "secrets", ""),
        ("watch", "apps", "deployments", ""),
        ("list", "example.com", "databases", ""),
        ("create", "authorization.k8s.io", "subjectaccessreviews", ""),
        ("get", "", "secrets", ""),
        ("get", "", "nodes", "proxy"),
        ("create", "", "nodes", "proxy"),
        ("get", "", "pods", "exec"),
        ("create", "", "pods", "exec"),
        ("get", "", "pods", "attach"),
        ("create", "", "pods", "attach"),
        ("get", "", "pods", "portforward"),
        ("create", "", "pods", "portforward"),
        ("get", "", "pods", "proxy"),
        ("get", "", "services", "proxy"),
        ("get", "", "pods", "log"),
        ("create", "", "secrets", ""),
        ("delete", "", "pods", ""),
        ("patch", "example.com", "databases", ""),
    ];
    let mut answers = Vec::new();
    for (verb, group, resource, subresource) in table {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    group: Some(group.to_string()),
                    resource: Some(resource.to_string()),
                    subresource: Some(subresource.to_string()).filter(|s| !s.is_empty()),
                    namespace: Some("default".to_string()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = reviews.create(&PostParams::default(), &review).await?;
        let allowed = answer.status.is_some_and(|s| s.allowed);
        let what = match subresource {
            "" => format!("{verb} {resource}.{group}"),
            sub => format!("{verb} {resource}/{sub}.{group}"),
        };
        answers.push(format!("{what}: {}", if allowed { "yes" } else { "no" }));
    }

    // Then it may list, watch and review access, and nothing else: no get
    // (which on */* would include the subresources below), no subresource
    // that reaches a workload, no write
    assert_eq!(
        answers,
        [
            "list secrets.: yes",
            "watch deployments.apps: yes",
            "list databases.example.com: yes",
            "create subjectaccessreviews.authorization.k8s.io: yes",
            "get secrets.: no",
            "get nodes/proxy.: no",
            "create nodes/proxy.: no",
            "get pods/exec.: no",
            "create pods/exec.: no",
            "get pods/attach.: no",
            "create pods/attach.: no",
            "get pods/portforward.: no",
            "create pods/portforward.: no",
            "get pods/proxy.: no",
            "get services/proxy.: no",
            "get pods/log.: no",
            "create secrets.: no",
            "delete pods.: no",
            "patch databases.example.com: no",
        ]
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn anonymous_and_unauthenticated_callers_get_nothing_granted_to_authenticated_ones()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "anonymous").await?;
    let ns = namespace.name();
    let url = std::env::var("PRIMARY_ALL_EXTENSION_SERVER").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_EXTENSION_SERVER is not set: this test calls the server directly, \
             which `cargo xtask test` arranges for the local control plane"
        )
    })?;
    let ca_file = std::path::PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_CA")?);

    // Given a Database, and a RoleBinding here that lets every authenticated
    // caller read Databases and call primary-all
    let databases: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Database"),
            "databases",
        ),
    );
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    databases.create(&PostParams::default(), &database).await?;
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "authenticated-readers" },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["*"], "verbs": ["get"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "authenticated-readers" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "authenticated-readers" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;

    // And a client that talks to the server straight, as kube-apiserver's
    // front proxy does, with the front-proxy client certificate
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
    let front_proxy = kube::Client::try_from(config)?;
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");

    // When the front proxy vouches for an authenticated user with no groups,
    // for system:anonymous, and for a member of system:unauthenticated
    let mut codes = Vec::new();
    for (user, groups) in [
        ("carol", vec![]),
        ("system:anonymous", vec!["system:unauthenticated"]),
        ("system:anonymous", vec![]),
        ("dave", vec!["system:unauthenticated"]),
    ] {
        let mut request = http::Request::get(&path).header("X-Remote-User", user);
        for group in &groups {
            request = request.header("X-Remote-Group", *group);
        }
        let code = match front_proxy.request_text(request.body(Vec::new())?).await {
            Ok(_) => 200,
            Err(kube::Error::Api(status)) => status.code,
            Err(err) => return Err(err.into()),
        };
        codes.push(format!("{user} {groups:?}: {code}"));
    }

    // Then only the authenticated user gets the Database; the others are
    // refused, as kube-apiserver would refuse them
    assert_eq!(
        codes,
        [
            "carol []: 200",
            "system:anonymous [\"system:unauthenticated\"]: 403",
            "system:anonymous []: 403",
            "dave [\"system:unauthenticated\"]: 403",
        ]
    );

    namespace.delete().await?;
    Ok(())
}
