//! The kube-rs extension's `_detailed` methods: a primary of any type (the
//! operator's own, kube's `Deployment` and `StatefulSet`, a `DynamicObject`)
//! with its secondaries beside it and what was left out, never silently.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and installs the server
//! ```

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube_test_utils::IDLE_IMAGE;
use kube_test_utils::fixtures::{Database, DatabaseSpec};
use primary_all::wire::LeftOutReason;
use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt, SecondaryParams};
use serde_json::json;

/// The ClusterRole the crate's README tells operator authors to apply.
const OPERATOR_CLUSTER_ROLE: &str = include_str!("../poc/deploy/operator-clusterrole.yaml");

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn an_operator_bound_to_the_shipped_role_is_told_that_its_secrets_were_left_out()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "left-out").await?;
    let ns = namespace.name();
    let databases: Api<Database> = Api::namespaced(client.clone(), ns);

    // Given a Database
    let database = Database::new(
        "db-1",
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: None,
        },
    );
    let database = databases.create(&PostParams::default(), &database).await?;

    // And a ConfigMap and a Secret that its operator marked as secondaries
    let mut config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("db-1-config".to_string()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    assert!(primary_all::mark_as_secondary(
        &database,
        &mut config_map.metadata
    ));
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map)
        .await?;
    let mut secret = Secret {
        metadata: ObjectMeta {
            name: Some("db-1-credentials".to_string()),
            ..ObjectMeta::default()
        },
        string_data: Some([("password".to_string(), "not-a-real-password".to_string())].into()),
        ..Secret::default()
    };
    assert!(primary_all::mark_as_secondary(
        &database,
        &mut secret.metadata
    ));
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;

    // And the operator's ServiceAccount, bound in this namespace to the
    // ClusterRole in poc/deploy/ exactly as shipped (it grants no Secrets)
    let service_account: ServiceAccount = serde_json::from_value(json!({
        "metadata": { "name": "database-operator" }
    }))?;
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service_account)
        .await?;
    let role: ClusterRole = serde_saphyr::from_str(OPERATOR_CLUSTER_ROLE)?;
    let role_name = role
        .metadata
        .name
        .clone()
        .expect("the shipped role has a name");
    assert_eq!(role_name, "database-operator");
    Api::<ClusterRole>::all(client.clone())
        .patch(
            &role_name,
            &PatchParams::apply("primary-all-tests").force(),
            &Patch::Apply(&role),
        )
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "database-operator" },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name
        },
        "subjects": [{ "kind": "ServiceAccount", "name": "database-operator", "namespace": ns }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let mut operator_config = kube::Config::infer().await?;
    operator_config.auth_info.impersonate =
        Some(format!("system:serviceaccount:{ns}:database-operator"));
    let operator = kube::Client::try_from(operator_config)?;
    let kube::Error::Api(status) = Api::<Secret>::namespaced(operator.clone(), ns)
        .get("db-1-credentials")
        .await
        .unwrap_err()
    else {
        panic!("expected a Status")
    };
    assert_eq!(
        status.code, 403,
        "the operator may not read the Secret itself"
    );

    // When the operator reads the Database with get_latest_with_secondaries_detailed
    // (once kube-apiserver's RBAC has seen the new binding)
    let as_operator: Api<Database> = Api::namespaced(operator.clone(), ns);
    let seen = async {
        loop {
            match as_operator
                .get_latest_with_secondaries_detailed("db-1")
                .await
            {
                Ok(answer) if !answer.secondaries.is_empty() => return anyhow::Ok(answer),
                Ok(_) => {}
                Err(err) if err.is_forbidden() => {}
                Err(err) => return Err(err.into()),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), seen).await??;

    // Then it is its own type, the latest Database
    assert_eq!(answer.primary.metadata.uid, database.metadata.uid);
    assert_eq!(answer.primary.spec.engine, "postgres");

    // And beside it the ConfigMap, the one secondary it may list
    let shown: Vec<(String, String)> = answer
        .secondaries
        .iter()
        .map(|s| {
            (
                s.types.clone().unwrap_or_default().kind,
                s.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [("ConfigMap".to_string(), "db-1-config".to_string())]
    );

    // And Secrets are named as left out, because it may not list them, with
    // nothing of the Secret itself
    assert!(!answer.is_complete());
    assert_eq!(answer.left_out.len(), 1, "{:?}", answer.left_out);
    let left_out = &answer.left_out[0];
    assert_eq!(
        (
            left_out.group.as_str(),
            left_out.version.as_str(),
            left_out.kind.as_str(),
            left_out.resource.as_str(),
            left_out.namespace.as_deref(),
            left_out.reason,
        ),
        (
            "",
            "v1",
            "Secret",
            "secrets",
            Some(ns),
            LeftOutReason::Forbidden
        )
    );
    let told = format!("{answer:?}");
    assert!(!told.contains("db-1-credentials"), "{told}");
    assert!(!told.contains("not-a-real-password"), "{told}");

    // And the plain call, which reports nothing left out, caches only the ConfigMap
    let db = as_operator.get_latest_with_secondaries("db-1").await?;
    assert_eq!(db.cache_secondary().len(), 1);
    assert_eq!(
        db.cache_secondary()[0].metadata.name.as_deref(),
        Some("db-1-config")
    );

    // While the cluster admin, who may list Secrets, gets a complete answer
    let as_admin = databases
        .get_latest_with_secondaries_detailed("db-1")
        .await?;
    assert!(as_admin.is_complete(), "{:?}", as_admin.left_out);
    assert_eq!(as_admin.secondaries.len(), 2);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_deployment_comes_back_as_kubes_own_type_with_its_replica_set_and_pods_beside_it()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "any-type").await?;
    let ns = namespace.name();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);

    // Given a Deployment of two replicas, for which kube-controller-manager
    // makes a ReplicaSet and the ReplicaSet two Pods
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
            }
        }
    }))?;
    let deployment = deployments
        .create(&PostParams::default(), &deployment)
        .await?;

    // When it is read as kube's Deployment, two levels deep (once the
    // controllers have made all three objects)
    let params = SecondaryParams::default().depth(2);
    let kinds_of = |secondaries: &[DynamicObject]| {
        let mut kinds: Vec<String> = secondaries
            .iter()
            .map(|s| s.types.clone().unwrap_or_default().kind)
            .collect();
        kinds.sort();
        kinds
    };
    let made = async {
        loop {
            let answer = deployments
                .get_latest_with_secondaries_detailed_with("web", &params)
                .await?;
            if kinds_of(&answer.secondaries) == ["Pod", "Pod", "ReplicaSet"] {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(60), made).await??;

    // Then the primary is the Deployment itself, typed
    assert_eq!(answer.primary.metadata.uid, deployment.metadata.uid);
    assert_eq!(answer.primary.spec.replicas, Some(2));
    assert_eq!((answer.depth, answer.consistency.as_str()), (2, "latest"));
    assert!(answer.is_complete(), "{:?}", answer.left_out);

    // And the Pods belong to the ReplicaSet, which belongs to the Deployment
    let replica_set = answer
        .secondaries
        .iter()
        .find(|s| s.types.as_ref().is_some_and(|t| t.kind == "ReplicaSet"))
        .expect("the ReplicaSet is there");
    let owner_uid = |object: &DynamicObject| {
        object.metadata.owner_references.clone().unwrap_or_default()[0]
            .uid
            .clone()
    };
    assert_eq!(Some(owner_uid(replica_set)), deployment.metadata.uid);
    for pod in answer
        .secondaries
        .iter()
        .filter(|s| s.types.as_ref().is_some_and(|t| t.kind == "Pod"))
    {
        assert_eq!(Some(owner_uid(pod)), replica_set.metadata.uid);
    }

    // And one level deep, only the ReplicaSet
    let direct = deployments
        .get_latest_with_secondaries_detailed("web")
        .await?;
    assert_eq!(kinds_of(&direct.secondaries), ["ReplicaSet"]);

    // When the same Deployment is read as a DynamicObject with its
    // ApiResource, from the server's cache, as a tree
    let resource = ApiResource::erase::<Deployment>(&());
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let params = SecondaryParams::default().depth(2).cached().tree();
    let answer = dynamic
        .get_latest_with_secondaries_detailed_with("web", &params)
        .await?;

    // Then it is the same object, with the same secondaries nested by owner
    assert_eq!(answer.primary.metadata.uid, deployment.metadata.uid);
    assert_eq!(answer.consistency, "cached");
    assert_eq!(kinds_of(&answer.secondaries), ["Pod", "Pod", "ReplicaSet"]);
    let tree = answer.tree.expect("tree() asks for a tree");
    assert_eq!(
        (tree.kind.as_str(), tree.name.as_str()),
        ("Deployment", "web")
    );
    assert_eq!(tree.children.len(), 1);
    assert_eq!(tree.children[0].kind, "ReplicaSet");
    assert_eq!(tree.children[0].children.len(), 2);

    // And a Deployment that does not exist is None, not an error
    assert!(
        deployments
            .get_latest_with_secondaries_detailed_opt("no-such-web")
            .await?
            .is_none()
    );

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_stateful_set_comes_back_with_its_pod_and_controller_revision() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "any-sts").await?;
    let ns = namespace.name();
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);

    // Given a StatefulSet of one replica
    let stateful_set: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "db" },
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": { "matchLabels": { "app": "db" } },
            "template": {
                "metadata": { "labels": { "app": "db" } },
                "spec": { "containers": [{ "name": "db", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
            }
        }
    }))?;
    stateful_sets
        .create(&PostParams::default(), &stateful_set)
        .await?;

    // When it is read as kube's StatefulSet (once its controller made the Pod)
    let made = async {
        loop {
            let answer = stateful_sets
                .get_latest_with_secondaries_detailed("db")
                .await?;
            if answer
                .secondaries
                .iter()
                .any(|s| s.metadata.name.as_deref() == Some("db-0"))
            {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(60), made).await??;

    // Then beside it are the Pod db-0 and the ControllerRevision it rolls out
    let mut kinds: Vec<String> = answer
        .secondaries
        .iter()
        .map(|s| s.types.clone().unwrap_or_default().kind)
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["ControllerRevision", "Pod"]);
    assert_eq!(answer.primary.spec.replicas, Some(1));

    namespace.delete().await?;
    Ok(())
}
