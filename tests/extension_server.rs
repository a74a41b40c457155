//! The extension API server, through kube-apiserver: a primary with all its
//! secondaries in one request, errors as `Status`, and only what the caller
//! may read.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube_test_utils::IDLE_IMAGE;
use primary_all::wire::PrimaryWithSecondaries;
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
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_database_comes_with_its_label_and_owner_linked_secondaries() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "secondaries").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database, the primary
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1",
        "kind": "Database",
        "metadata": { "name": "db-1" },
        "spec": { "engine": "postgres", "replicas": 1 }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let uid = database.metadata.uid.clone().unwrap();
    let owner = json!([{
        "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
        "uid": uid, "controller": true, "blockOwnerDeletion": true
    }]);

    // And a Secret that carries the primary-uid label
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "db-1-credentials", "labels": { "primary-all/primary-uid": uid } },
        "stringData": { "password": "not-a-real-password" }
    }))?;
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;

    // And a Service, a ConfigMap and a StatefulSet that the Database owns
    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": "db-1", "ownerReferences": owner },
        "spec": { "selector": { "app": "db-1" }, "ports": [{ "port": 5432 }] }
    }))?;
    Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await?;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "db-1-config", "ownerReferences": owner },
        "data": { "postgresql.conf": "max_connections = 100" }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map)
        .await?;
    let stateful_set: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "db-1", "ownerReferences": owner },
        "spec": {
            "serviceName": "db-1",
            "replicas": 1,
            "selector": { "matchLabels": { "app": "db-1" } },
            "template": {
                "metadata": { "labels": { "app": "db-1" } },
                "spec": { "containers": [{ "name": "postgres", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
            }
        }
    }))?;
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    stateful_sets
        .create(&PostParams::default(), &stateful_set)
        .await?;
    // (whose Pod the node runs: its status settles once the Pod is Ready)
    let settled = async {
        loop {
            let status = stateful_sets.get("db-1").await?.status.unwrap_or_default();
            if status.available_replicas == Some(1) && status.current_replicas == Some(1) {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), settled).await??;

    // And another custom resource, a replica Database, that it owns
    let replica: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1",
        "kind": "Database",
        "metadata": { "name": "db-1-replica", "ownerReferences": owner },
        "spec": { "engine": "postgres" }
    }))?;
    databases.create(&PostParams::default(), &replica).await?;

    // And a ConfigMap that is nobody's secondary
    let stranger: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "unrelated" } }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &stranger)
        .await?;

    // When the primary is asked for through kube-apiserver
    let path = format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-1");
    let answer = get_raw(&client, &path).await?;

    // Then the answer is the primary with exactly its five secondaries
    let typed: PrimaryWithSecondaries = serde_json::from_value(answer.clone())?;
    assert_eq!(typed.kind, "PrimaryWithSecondaries");
    assert_eq!(typed.prim_res.metadata.uid.as_deref(), Some(uid.as_str()));
    let mut found: Vec<(String, String)> = typed
        .sec_res
        .items
        .iter()
        .map(|o| {
            (
                o.types.clone().unwrap().kind,
                o.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("ConfigMap".to_string(), "db-1-config".to_string()),
            ("Database".to_string(), "db-1-replica".to_string()),
            ("Secret".to_string(), "db-1-credentials".to_string()),
            ("Service".to_string(), "db-1".to_string()),
            ("StatefulSet".to_string(), "db-1".to_string()),
        ]
    );
    assert!(
        typed.left_out.is_empty(),
        "the admin may read everything: {:?}",
        typed.left_out
    );
    assert_eq!(typed.consistency, "latest");

    // And every item is a full object, managedFields stripped
    let mut settings = kube_test_utils::k8s_redactions();
    settings.add_redaction(".**.spec.clusterIP", "[clusterIP]");
    settings.add_redaction(".**.spec.clusterIPs", "[clusterIPs]");
    settings
        .bind_async(async { insta::assert_json_snapshot!(answer) })
        .await;

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_replica_set_appears_at_depth_two_but_not_at_depth_one() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "depth").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database that owns a Deployment
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-2" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {
            "name": "db-2-exporter",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-2",
                "uid": database.metadata.uid.clone().unwrap(), "controller": true
            }]
        },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "exporter" } },
            "template": {
                "metadata": { "labels": { "app": "exporter" } },
                "spec": { "containers": [{ "name": "exporter", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
            }
        }
    }))?;
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment)
        .await?;

    // And the ReplicaSet that kube-controller-manager makes for it
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let wait = async {
        loop {
            if let Some(rs) = replica_sets
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .next()
            {
                return anyhow::Ok(rs);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let replica_set = tokio::time::timeout(Duration::from_secs(60), wait).await??;
    let replica_set_name = replica_set.metadata.name.clone().unwrap();

    // When the primary is asked for at depth 1
    let depth_one: PrimaryWithSecondaries = serde_json::from_value(
        get_raw(
            &client,
            &format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-2?depth=1"),
        )
        .await?,
    )?;

    // Then only the Deployment is there
    let kinds: Vec<String> = depth_one
        .sec_res
        .items
        .iter()
        .map(|o| o.types.clone().unwrap().kind)
        .collect();
    assert_eq!(kinds, vec!["Deployment"]);
    assert_eq!(depth_one.depth, 1);

    // When it is asked for at depth 2, as a tree
    let depth_two: PrimaryWithSecondaries = serde_json::from_value(
        get_raw(
            &client,
            &format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-2?depth=2&view=tree"),
        )
        .await?,
    )?;

    // Then the ReplicaSet is there too, below the Deployment
    let names: Vec<String> = depth_two
        .sec_res
        .items
        .iter()
        .map(|o| o.metadata.name.clone().unwrap())
        .collect();
    assert!(names.contains(&"db-2-exporter".to_string()), "{names:?}");
    assert!(names.contains(&replica_set_name), "{names:?}");
    let tree = depth_two.tree.expect("view=tree answers with a tree");
    assert_eq!(tree.kind, "Database");
    assert_eq!(tree.children.len(), 1);
    assert_eq!(tree.children[0].kind, "Deployment");
    assert_eq!(tree.children[0].children[0].kind, "ReplicaSet");
    assert_eq!(tree.children[0].children[0].name, replica_set_name);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn both_routes_give_the_same_answer() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "routes").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database with one labelled ConfigMap
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-3" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "db-3-config",
            "labels": { "primary-all/primary-uid": database.metadata.uid.clone().unwrap() }
        }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map)
        .await?;

    // When it is asked for by the thesis route, by plural, and by the namespaced route
    let thesis = get_raw(
        &client,
        &format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-3"),
    )
    .await?;
    let plural = get_raw(
        &client,
        &format!("/apis/primary-all/v1/example.com/v1/databases/{ns}/db-3"),
    )
    .await?;
    let namespaced = get_raw(
        &client,
        &format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-3"),
    )
    .await?;

    // Then all three answers are the same
    assert_eq!(thesis, plural);
    assert_eq!(thesis, namespaced);
    assert_eq!(
        thesis["sec_res"]["items"][0]["metadata"]["name"],
        "db-3-config"
    );

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_cluster_scoped_primary_is_named_without_a_namespace() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "cluster-scoped").await?;
    let ns = namespace.name();

    // Given a Namespace as the primary, with a ConfigMap labelled as its secondary
    let uid = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .get(ns)
        .await?
        .metadata
        .uid
        .unwrap();
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "team-settings", "labels": { "primary-all/primary-uid": uid } }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map)
        .await?;

    // When it is asked for by both cluster-scoped shapes
    let thesis = get_raw(
        &client,
        &format!("/apis/primary-all/v1/core/v1/Namespace/{ns}"),
    )
    .await?;
    let grantable = get_raw(&client, &format!("/apis/primary-all/v1/namespaces/{ns}")).await?;

    // Then both name the Namespace and find the ConfigMap inside it
    assert_eq!(thesis, grantable);
    assert_eq!(thesis["prim_res"]["kind"], "Namespace");
    let names: Vec<&str> = thesis["sec_res"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"team-settings"), "{names:?}");

    // And naming a namespace for a cluster-scoped kind is a bad request
    let err = get_raw(
        &client,
        &format!("/apis/primary-all/v1/core/v1/Namespace/default/{ns}"),
    )
    .await
    .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 400);
    assert!(
        status.message.contains("is cluster-scoped"),
        "{}",
        status.message
    );

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_missing_primary_is_not_found_like_kubectl_says_it() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;

    // When a Database that does not exist is asked for
    let err = get_raw(
        &client,
        "/apis/primary-all/v1/example.com/v1/Database/default/db-9",
    )
    .await
    .unwrap_err();

    // Then the answer is a Status 404 with kubectl's wording
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    insta::assert_json_snapshot!(status, @r#"
    {
      "status": "Failure",
      "code": 404,
      "message": "databases.example.com \"db-9\" not found",
      "metadata": {},
      "reason": "NotFound",
      "details": {
        "group": "primary-all"
      }
    }
    "#);
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn an_unknown_kind_is_not_found() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;

    // When a kind that no group serves is asked for
    let err = get_raw(
        &client,
        "/apis/primary-all/v1/example.com/v1/Teapot/default/earl-grey",
    )
    .await
    .unwrap_err();

    // Then the answer is a Status 404 that names the kind
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 404);
    insta::assert_json_snapshot!(status, @r#"
    {
      "status": "Failure",
      "code": 404,
      "message": "the server doesn't have a resource type \"Teapot\" in example.com/v1",
      "metadata": {},
      "reason": "NotFound",
      "details": {
        "group": "primary-all"
      }
    }
    "#);
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_malformed_name_is_a_bad_request() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;

    // When a name that is no valid object name is asked for
    let err = get_raw(
        &client,
        "/apis/primary-all/v1/example.com/v1/Database/default/DB_1!",
    )
    .await
    .unwrap_err();

    // Then the answer is a Status 400 that says what was expected
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 400);
    insta::assert_json_snapshot!(status, @r#"
    {
      "status": "Failure",
      "code": 400,
      "message": "invalid name \"DB_1!\": expected a name of at most 253 characters such as db-1",
      "metadata": {},
      "reason": "BadRequest",
      "details": {
        "group": "primary-all"
      }
    }
    "#);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn without_the_front_proxy_certificate_a_forged_user_gets_401() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let url = std::env::var("PRIMARY_ALL_EXTENSION_SERVER").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_EXTENSION_SERVER is not set: this test calls the server directly, \
             which `cargo xtask test` arranges for the local control plane"
        )
    })?;
    let ca_file = std::env::var("PRIMARY_ALL_EXTENSION_CA")?;

    // Given a client that trusts the server's certificate but has no client certificate
    let ca_pem = std::fs::read(&ca_file)?;
    let ca_der: Vec<Vec<u8>> = <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(&ca_pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()?;
    let mut config = kube::Config::new(url.parse()?);
    // A Pod's address is in no certificate; the Service's name is.
    config.tls_server_name = std::env::var("PRIMARY_ALL_EXTENSION_TLS_NAME").ok();
    config.root_cert = Some(ca_der);
    let direct = kube::Client::try_from(config)?;

    // When it calls the server straight, claiming to be the admin
    let request = http::Request::get("/apis/primary-all/v1/core/v1/Namespace/kube-system")
        .header("X-Remote-User", "admin")
        .header("X-Remote-Group", "system:masters")
        .body(Vec::new())?;
    let err = direct
        .request::<serde_json::Value>(request)
        .await
        .unwrap_err();

    // Then it gets 401 and nothing else
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 401);
    assert_eq!(status.reason, "Unauthorized");
    assert!(
        status.message.contains("no client certificate"),
        "{}",
        status.message
    );

    // And health probes need no certificate at all
    let request = http::Request::get("/readyz").body(Vec::new())?;
    assert_eq!(direct.request_text(request).await?, "ok");
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_who_may_read_databases_and_config_maps_sees_secrets_left_out() -> anyhow::Result<()>
{
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "rbac").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database with a labelled ConfigMap and a labelled Secret
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-4" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let uid = database.metadata.uid.clone().unwrap();
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "db-4-config", "labels": { "primary-all/primary-uid": uid } }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map)
        .await?;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "db-4-credentials", "labels": { "primary-all/primary-uid": uid } },
        "stringData": { "password": "not-a-real-password" }
    }))?;
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;

    // And a user, alice, who may read Databases and ConfigMaps in this
    // namespace, and use the namespaced route for Databases, but not Secrets
    // ANCHOR: alice_role
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "database-reader" },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
            { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["databases.example.com"], "verbs": ["get"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    // ANCHOR_END: alice_role
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "alice-reads-databases" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "database-reader" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let mut alice_config = kube::Config::infer().await?;
    alice_config.auth_info.impersonate = Some("alice".to_string());
    let alice = kube::Client::try_from(alice_config)?;

    // When alice asks for the Database by the namespaced route
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-4");
    let answer: PrimaryWithSecondaries = serde_json::from_value(get_raw(&alice, &path).await?)?;

    // Then she sees the ConfigMap, and the Secret is named as left out, not shown
    let names: Vec<String> = answer
        .sec_res
        .items
        .iter()
        .map(|o| o.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["db-4-config"]);
    assert_eq!(answer.left_out.len(), 1);
    let mut settings = insta::Settings::clone_current();
    settings.add_redaction("[].namespace", "[namespace]");
    settings.bind(|| insta::assert_yaml_snapshot!(answer.left_out));

    // And the thesis route, which only a cluster-wide grant opens, is forbidden to her
    let thesis = format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-4");
    let kube::Error::Api(status) = get_raw(&alice, &thesis).await.unwrap_err() else {
        panic!("expected a Status")
    };
    assert_eq!(status.code, 403);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn the_deploy_manifests_pass_a_server_side_dry_run() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let deploy =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension-server/deploy");

    // Given every manifest a real cluster needs
    let mut applied = BTreeMap::new();
    for file in [
        "namespace.yaml",
        "rbac.yaml",
        "viewer-clusterrole.yaml",
        "relationship-rules.yaml",
        "deployment.yaml",
        "service.yaml",
        "apiservice.yaml",
    ] {
        let text = std::fs::read_to_string(deploy.join(file))?;
        let documents: Vec<DynamicObject> = serde_saphyr::from_multiple(&text)?;
        for document in documents {
            // When each is applied server-side with dryRun=All
            let types = document.types.clone().unwrap();
            let gvk = GroupVersionKind::try_from(&types)?;
            let (resource, capabilities) = kube::discovery::pinned_kind(&client, &gvk).await?;
            let name = document.metadata.name.clone().unwrap();
            let api: Api<DynamicObject> = match (&document.metadata.namespace, capabilities.scope) {
                (Some(ns), kube::discovery::Scope::Namespaced) => {
                    Api::namespaced_with(client.clone(), ns, &resource)
                }
                _ => Api::all_with(client.clone(), &resource),
            };
            let params = PatchParams::apply("primary-all-tests").dry_run().force();
            let result = api.patch(&name, &params, &Patch::Apply(&document)).await;

            // Then kube-apiserver accepts it
            applied.insert(
                format!("{file}: {} {name}", types.kind),
                result.map(|_| "accepted").map_err(|e| e.to_string()),
            );
        }
    }
    insta::assert_yaml_snapshot!(applied);
    Ok(())
}
