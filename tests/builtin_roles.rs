//! The built-in roles a cluster gives its users: whoever is bound to `view`
//! in a namespace may ask primary-all for a primary there (the shipped
//! `primary-all:viewer` aggregates into `view`), and sees exactly what `view`
//! lets them read: no Secrets. This needs kube-controller-manager's
//! clusterrole-aggregation controller, which fills in `view`'s rules.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and installs the server
//! ```

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube_test_utils::IDLE_IMAGE;
use primary_all::wire::{LeftOutReason, PrimaryWithSecondaries};
use serde_json::json;

/// GETs `path` through kube-apiserver and decodes the answer.
///
/// The one helper in this file: it only sends the request, so every test
/// still shows the path it asks for and everything it asserts.
async fn get_raw(client: &kube::Client, path: &str) -> Result<serde_json::Value, kube::Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .expect("a valid request");
    client.request::<serde_json::Value>(request).await
}

#[tokio::test]
#[ignore = "needs a cluster with kube-controller-manager: cargo xtask test"]
async fn a_user_bound_to_view_asks_for_a_primary_and_sees_what_view_allows() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "view-role").await?;
    let ns = namespace.name();
    let elsewhere = kube_test_utils::TestNamespace::create(&client, "view-role-other").await?;
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );

    // Given the role an operator ships so that `view` covers its kind, as
    // real operators do (a ClusterRole labelled to aggregate into `view`)
    let databases_view: ClusterRole = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {
            "name": "example-databases-view",
            "labels": { "rbac.authorization.k8s.io/aggregate-to-view": "true" }
        },
        "rules": [{
            "apiGroups": ["example.com"], "resources": ["databases"],
            "verbs": ["get", "list", "watch"]
        }]
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .patch(
            "example-databases-view",
            &PatchParams::apply("primary-all-tests").force(),
            &Patch::Apply(&databases_view),
        )
        .await?;

    // And kube-controller-manager has aggregated it and primary-all:viewer
    // into the built-in `view` role
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    let aggregated = async {
        loop {
            let view = cluster_roles.get("view").await?;
            let groups: Vec<String> = view
                .rules
                .unwrap_or_default()
                .into_iter()
                .flat_map(|r| r.api_groups.unwrap_or_default())
                .collect();
            if groups.iter().any(|g| g == "primary-all")
                && groups.iter().any(|g| g == "example.com")
            {
                return anyhow::Ok(groups);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let groups = tokio::time::timeout(Duration::from_secs(30), aggregated).await??;
    assert!(groups.iter().any(|g| g == "apps"), "{groups:?}");

    // And a Database that owns a ConfigMap, a Secret and a Deployment, in
    // this namespace and in another one
    for namespace in [ns, elsewhere.name()] {
        let databases: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &database_resource);
        let database: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "example.com/v1", "kind": "Database",
            "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
        }))?;
        let database = databases.create(&PostParams::default(), &database).await?;
        let owner = json!([{
            "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
            "uid": database.metadata.uid.clone().unwrap(), "controller": true
        }]);
        let secret: Secret = serde_json::from_value(json!({
            "metadata": { "name": "db-1-credentials", "ownerReferences": owner },
            "stringData": { "password": "not-a-real-password" }
        }))?;
        Api::<Secret>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &secret)
            .await?;
        let config_map: ConfigMap = serde_json::from_value(json!({
            "metadata": { "name": "db-1-config", "ownerReferences": owner }
        }))?;
        Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &config_map)
            .await?;
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": { "name": "db-1-pooler", "ownerReferences": owner },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "pooler" } },
                "template": {
                    "metadata": { "labels": { "app": "pooler" } },
                    "spec": { "containers": [{ "name": "pooler", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
                }
            }
        }))?;
        Api::<Deployment>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &deployment)
            .await?;
    }

    // And vera, bound to the built-in `view` role in this namespace only
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "vera-views" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "vera" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let mut vera_config = kube::Config::infer().await?;
    vera_config.auth_info.impersonate = Some("vera".to_string());
    let vera = kube::Client::try_from(vera_config)?;

    // When vera asks for the Database three levels deep (once the server's
    // index has seen the Deployment's ReplicaSet)
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1?depth=3");
    let found = async {
        loop {
            let answer: PrimaryWithSecondaries =
                serde_json::from_value(get_raw(&vera, &path).await?)?;
            if answer
                .sec_res
                .items
                .iter()
                .any(|o| o.types.as_ref().is_some_and(|t| t.kind == "ReplicaSet"))
            {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), found).await??;

    // Then she gets the ConfigMap, the Deployment and what it made, and not
    // the Secret, which `view` does not grant
    let mut kinds: Vec<&str> = answer
        .sec_res
        .items
        .iter()
        .filter_map(|o| o.types.as_ref().map(|t| t.kind.as_str()))
        .collect();
    kinds.sort();
    kinds.dedup();
    assert!(kinds.contains(&"ConfigMap"), "{kinds:?}");
    assert!(kinds.contains(&"Deployment"), "{kinds:?}");
    assert!(!kinds.contains(&"Secret"), "{kinds:?}");
    let text = serde_json::to_string(&answer)?;
    assert!(!text.contains("db-1-credentials"), "{text}");
    assert!(!text.contains("not-a-real-password"), "{text}");

    // And the Secrets are named as left out because she may not list them
    let left_out: Vec<(&str, &LeftOutReason)> = answer
        .left_out
        .iter()
        .map(|l| (l.kind.as_str(), &l.reason))
        .collect();
    assert_eq!(left_out, [("Secret", &LeftOutReason::Forbidden)]);

    // When she asks for the same Database in a namespace `view` is not bound in
    let other = format!(
        "/apis/primary-all/v1/namespaces/{}/databases.example.com/db-1",
        elsewhere.name()
    );
    let err = get_raw(&vera, &other).await.unwrap_err();

    // Then kube-apiserver refuses her before primary-all is asked
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}");
    };
    assert_eq!(status.code, 403, "{status:?}");

    elsewhere.delete().await?;
    namespace.delete().await?;
    Ok(())
}
