//! What a person sees of a namespace through kube-apiserver: a tree with
//! each object's health and the worst rolled up, the owners above any
//! object, the top-level objects of a namespace, objects a relationship rule
//! links, a watch of an answer, and only ever what the caller may read.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! ```

use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use insta::internals::Content;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube_test_utils::IDLE_IMAGE;
use primary_all::wire::{HealthStatus, OwnerChain, PrimaryWithSecondaries, TopLevelList};
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
async fn a_tree_gives_each_object_its_health_and_the_answer_the_first_worst() -> anyhow::Result<()>
{
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "health-tree").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let owner = json!([{
        "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
        "uid": database.metadata.uid.clone().unwrap(), "controller": true
    }]);

    // And a StatefulSet it owns, whose two Pods the StatefulSet controller
    // makes and the node runs until they are Ready
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let stateful_set: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "db-1", "ownerReferences": owner },
        "spec": {
            "serviceName": "db-1",
            "replicas": 2,
            "selector": { "matchLabels": { "app": "db-1" } },
            "template": {
                "metadata": { "labels": { "app": "db-1" } },
                "spec": { "containers": [{ "name": "postgres", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
            }
        }
    }))?;
    stateful_sets
        .create(&PostParams::default(), &stateful_set)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let all_ready = async {
        loop {
            let status = stateful_sets.get("db-1").await?.status.unwrap_or_default();
            if status.ready_replicas == Some(2)
                && status.available_replicas == Some(2)
                && status.current_replicas == Some(2)
            {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), all_ready).await??;

    // And a Deployment it owns, for which kube-controller-manager makes a
    // ReplicaSet and two Pods that stay Pending: they ask for a node that
    // the cluster does not have, so kube-scheduler marks them Unschedulable
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "db-1-exporter", "ownerReferences": owner },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "exporter" } },
            "template": {
                "metadata": { "labels": { "app": "exporter" } },
                "spec": {
                    "nodeSelector": { "primary-all/test-node": "none" },
                    "containers": [{ "name": "exporter", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }]
                }
            }
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let unschedulable = |pod: &Pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.type_ == "PodScheduled"
                        && c.status == "False"
                        && c.reason.as_deref() == Some("Unschedulable")
                })
            })
    };
    let settled = async {
        loop {
            let status = deployments
                .get("db-1-exporter")
                .await?
                .status
                .unwrap_or_default();
            let made = pods
                .list(&ListParams::default().labels("app=exporter"))
                .await?;
            if status.observed_generation == Some(1)
                && status.updated_replicas == Some(2)
                && status.replicas == Some(2)
                && made.items.len() == 2
                && made.items.iter().all(unschedulable)
            {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), settled).await??;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let replica_set_name = replica_sets.list(&ListParams::default()).await?.items[0]
        .metadata
        .name
        .clone()
        .unwrap();

    // When the primary is asked for as a tree three levels deep (once the
    // server's watch index has seen all four Pods)
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/database/db-1?view=tree&depth=3");
    let complete = async {
        loop {
            let answer: PrimaryWithSecondaries =
                serde_json::from_value(get_raw(&client, &path).await?)?;
            let pods_in_it = answer
                .sec_res
                .items
                .iter()
                .filter(|o| o.types.as_ref().is_some_and(|t| t.kind == "Pod"))
                .count();
            if pods_in_it == 4 {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), complete).await??;

    // Then every node carries its own health: Ready for the Database and
    // the StatefulSet with its Pods, InProgress for the Deployment, its
    // ReplicaSet and its Pending (Unschedulable) Pods
    let mut settings = kube_test_utils::k8s_redactions();
    settings.add_redaction(".**.namespace", "[namespace]");
    // The ReplicaSet's pod-template-hash and its Pods' suffixes.
    settings.add_dynamic_redaction(".**.name", move |value, _| match value.as_str() {
        Some(name) if name == replica_set_name => Content::from("db-1-exporter-[hash]"),
        Some(name) if name.starts_with(&format!("{replica_set_name}-")) => {
            Content::from("db-1-exporter-[hash]-[hash]")
        }
        _ => value,
    });
    let tree = answer.tree.clone().expect("view=tree answers with a tree");
    settings
        .bind_async(async { insta::assert_json_snapshot!(tree) })
        .await;

    // And the answer's health is InProgress, with the path to the
    // Deployment: a roll-up keeps the first of the worst verdicts in
    // pre-order (children sorted by kind, then name), and the Deployment is
    // itself InProgress (0 of 2 replicas ready), so its ReplicaSet and
    // Pending Pods, no worse, do not take the path further down
    let health = answer.health.expect("every answer has a health");
    assert_eq!(health.status, HealthStatus::InProgress);
    assert_eq!(health.reason, "ReplicasNotReady");
    assert_eq!(health.message, "0 of 2 replicas ready");
    assert_eq!(health.path, ["Database/db-1", "Deployment/db-1-exporter"]);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_failing_child_makes_the_answer_failed_and_leads_to_it() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "health-failed").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);
    let ready = json!({ "status": { "conditions": [
        { "type": "Ready", "status": "True", "reason": "Serving" }
    ]}});

    // Given a Ready Database
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    databases
        .patch_status("db-1", &PatchParams::default(), &Patch::Merge(&ready))
        .await?;
    let owner = json!([{
        "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
        "uid": database.metadata.uid.clone().unwrap(), "controller": true
    }]);

    // And a ConfigMap and two Ready Databases that it owns, one sorting
    // before the other
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "db-1-config", "ownerReferences": owner }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map)
        .await?;
    for name in ["db-1-replica", "db-1-standby"] {
        let child: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "example.com/v1", "kind": "Database",
            "metadata": { "name": name, "ownerReferences": owner },
            "spec": { "engine": "postgres" }
        }))?;
        databases.create(&PostParams::default(), &child).await?;
        databases
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&ready))
            .await?;
    }
    let path = format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-1?view=tree");
    let complete = async {
        loop {
            let answer: PrimaryWithSecondaries =
                serde_json::from_value(get_raw(&client, &path).await?)?;
            if answer.sec_res.items.len() == 3 {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let before = tokio::time::timeout(Duration::from_secs(30), complete).await??;
    let health = before.health.expect("every answer has a health");
    assert_eq!(health.status, HealthStatus::Ready);
    assert_eq!(health.path, ["Database/db-1"]);

    // When the first owned Database reports that it is not Ready
    let disk_full = json!({ "status": { "conditions": [{
        "type": "Ready", "status": "False", "reason": "DiskFull",
        "message": "the data volume is 100% full"
    }]}});
    databases
        .patch_status(
            "db-1-replica",
            &PatchParams::default(),
            &Patch::Merge(&disk_full),
        )
        .await?;
    let answer: PrimaryWithSecondaries = serde_json::from_value(get_raw(&client, &path).await?)?;

    // Then the answer is Failed, with its reason and the path down to it
    let health = answer.health.expect("every answer has a health");
    assert_eq!(health.status, HealthStatus::Failed);
    assert_eq!(health.reason, "DiskFull");
    assert_eq!(health.message, "the data volume is 100% full");
    assert_eq!(health.path, ["Database/db-1", "Database/db-1-replica"]);

    // And the other children, Ready, are shown so and change nothing
    let tree = answer.tree.expect("view=tree answers with a tree");
    let children: Vec<(&str, &str, HealthStatus)> = tree
        .children
        .iter()
        .map(|c| {
            let status = c.health.as_ref().expect("every node has a health").status;
            (c.kind.as_str(), c.name.as_str(), status)
        })
        .collect();
    assert_eq!(
        children,
        [
            ("ConfigMap", "db-1-config", HealthStatus::Ready),
            ("Database", "db-1-replica", HealthStatus::Failed),
            ("Database", "db-1-standby", HealthStatus::Ready),
        ]
    );
    assert_eq!(tree.health.map(|h| h.status), Some(HealthStatus::Ready));

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn the_owners_of_a_pod_lead_up_through_its_replica_set_and_deployment_to_the_database()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "owners").await?;
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
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1-exporter",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
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

    // And the Pod that the Deployment's ReplicaSet makes
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let made = async {
        loop {
            if let Some(pod) = pods.list(&ListParams::default()).await?.items.pop() {
                return anyhow::Ok(pod);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let pod = tokio::time::timeout(Duration::from_secs(60), made).await??;
    let pod_name = pod.metadata.name.clone().unwrap();
    let replica_set_name = pod.metadata.owner_references.unwrap()[0].name.clone();

    // When its owners are asked for by resource and by kind
    let by_resource = get_raw(
        &client,
        &format!("/apis/primary-all/v1/namespaces/{ns}/pods/{pod_name}/owners"),
    )
    .await?;
    let by_kind = get_raw(
        &client,
        &format!("/apis/primary-all/v1/core/v1/Pod/{ns}/{pod_name}/owners"),
    )
    .await?;

    // Then both answers are the same chain: the ReplicaSet, the Deployment,
    // the Database, nearest first, each linked by an ownerReference
    assert_eq!(by_resource, by_kind);
    let chain: OwnerChain = serde_json::from_value(by_kind)?;
    assert_eq!(chain.kind, "OwnerChain");
    assert_eq!(
        (chain.object.kind.as_str(), chain.object.name.as_str()),
        ("Pod", pod_name.as_str())
    );
    let owners: Vec<(&str, &str, &str, Option<&str>)> = chain
        .owners
        .iter()
        .map(|o| {
            (
                o.api_version.as_str(),
                o.kind.as_str(),
                o.name.as_str(),
                o.link.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            (
                "apps/v1",
                "ReplicaSet",
                replica_set_name.as_str(),
                Some("ownerReference")
            ),
            (
                "apps/v1",
                "Deployment",
                "db-1-exporter",
                Some("ownerReference")
            ),
            ("example.com/v1", "Database", "db-1", Some("ownerReference")),
        ]
    );
    assert!(chain.left_out.is_empty(), "{:?}", chain.left_out);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_namespace_top_level_lists_what_nothing_owns_with_what_is_below_it() -> anyhow::Result<()>
{
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "toplevel").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    // Given a fresh namespace holding a Database that owns a ConfigMap
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1-config",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
                "uid": database.metadata.uid.clone().unwrap(), "controller": true
            }]
        }
    }))?;
    config_maps
        .create(&PostParams::default(), &config_map)
        .await?;

    // And a ConfigMap that nothing owns
    let settings: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "settings" }, "data": { "color": "blue" }
    }))?;
    config_maps
        .create(&PostParams::default(), &settings)
        .await?;

    // And a Deployment, with the ReplicaSet and two Pods that
    // kube-controller-manager makes for it and the node runs until Available
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
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
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let settled = async {
        loop {
            let status = deployments.get("web").await?.status.unwrap_or_default();
            if status.observed_generation == Some(1)
                && status.updated_replicas == Some(2)
                && status.replicas == Some(2)
                && status.available_replicas == Some(2)
                && pods.list(&ListParams::default()).await?.items.len() == 2
            {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), settled).await??;

    // When the namespace's top level is asked for (once the server's watch
    // index has seen the Pods, which says which kinds to read)
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/toplevel");
    let counted = async {
        loop {
            let list: TopLevelList = serde_json::from_value(get_raw(&client, &path).await?)?;
            if list.items.iter().any(|i| i.secondaries == 3) {
                return anyhow::Ok(list);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let list = tokio::time::timeout(Duration::from_secs(30), counted).await??;

    // Then it lists exactly the three objects made on purpose (not the
    // ServiceAccount `default` nor the controllers' Events), each with the
    // count of everything below it: the Database its ConfigMap, the
    // Deployment its ReplicaSet and the two Pods
    let items: Vec<(&str, &str, u32)> = list
        .items
        .iter()
        .map(|i| {
            (
                i.object.kind.as_str(),
                i.object.name.as_str(),
                i.secondaries,
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            ("ConfigMap", "settings", 0),
            ("Database", "db-1", 1),
            ("Deployment", "web", 3),
        ]
    );
    assert!(list.left_out.is_empty(), "{:?}", list.left_out);

    // And each with its rolled-up health: the Deployment's Pods are Pending
    let mut settings = insta::Settings::clone_current();
    settings.add_redaction(".namespace", "[namespace]");
    settings.add_redaction(".items[].namespace", "[namespace]");
    settings.bind(|| insta::assert_json_snapshot!(list));

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_service_has_the_pods_it_selects_below_it_within_the_depth() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "rules").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database that owns a Service selecting app: db-1
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let service: Service = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
                "uid": database.metadata.uid.clone().unwrap(), "controller": true
            }]
        },
        "spec": { "selector": { "app": "db-1" }, "ports": [{ "port": 5432 }] }
    }))?;
    Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await?;

    // And two Pods that nothing owns labelled app: db-1, and one labelled app: other
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for (name, app) in [("db-1-a", "db-1"), ("db-1-b", "db-1"), ("other", "other")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "app": app } },
            "spec": { "containers": [{ "name": "postgres", "image": IDLE_IMAGE, "imagePullPolicy": "Never" }] }
        }))?;
        pods.create(&PostParams::default(), &pod).await?;
    }

    // When the tree is asked for two levels deep (once the server's watch
    // index has seen the Service, and the EndpointSlice that the endpoint
    // slice controller makes for it, owned by it)
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let found = async {
        loop {
            let answer: PrimaryWithSecondaries = serde_json::from_value(
                get_raw(&client, &format!("{path}?view=tree&depth=2")).await?,
            )?;
            let has_slice = answer
                .sec_res
                .items
                .iter()
                .any(|o| o.types.as_ref().is_some_and(|t| t.kind == "EndpointSlice"));
            if has_slice {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let depth_two = tokio::time::timeout(Duration::from_secs(30), found).await??;

    // Then exactly the two selected Pods hang below the Service, linked by
    // the rule, beside its EndpointSlice, linked by its ownerReference
    let tree = depth_two.tree.expect("view=tree answers with a tree");
    assert_eq!(tree.children.len(), 1);
    let service = &tree.children[0];
    assert_eq!(
        (
            service.kind.as_str(),
            service.name.as_str(),
            service.link.as_deref()
        ),
        ("Service", "db-1", Some("ownerReference"))
    );
    let below: Vec<(&str, &str, Option<&str>, usize)> = service
        .children
        .iter()
        .map(|c| {
            // The slice's name is generated: db-1-<five random characters>.
            let name = match c.kind.as_str() {
                "EndpointSlice" if c.name.starts_with("db-1-") => "db-1-[generated]",
                _ => c.name.as_str(),
            };
            (c.kind.as_str(), name, c.link.as_deref(), c.children.len())
        })
        .collect();
    assert_eq!(
        below,
        [
            (
                "EndpointSlice",
                "db-1-[generated]",
                Some("ownerReference"),
                0
            ),
            ("Pod", "db-1-a", Some("rule:service-selects-pods"), 0),
            ("Pod", "db-1-b", Some("rule:service-selects-pods"), 0),
        ]
    );
    assert_eq!(depth_two.sec_res.items.len(), 4);

    // When it is asked for one level deep
    let depth_one: PrimaryWithSecondaries =
        serde_json::from_value(get_raw(&client, &format!("{path}?view=tree&depth=1")).await?)?;

    // Then the Service is there without any Pod
    let tree = depth_one.tree.expect("view=tree answers with a tree");
    assert_eq!(tree.children.len(), 1);
    assert_eq!(tree.children[0].kind, "Service");
    assert!(tree.children[0].children.is_empty());
    let kinds: Vec<String> = depth_one
        .sec_res
        .items
        .iter()
        .map(|o| o.types.clone().unwrap().kind)
        .collect();
    assert_eq!(kinds, ["Service"]);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_who_may_not_read_secrets_pods_or_replica_sets_sees_them_left_out_in_every_view()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "hiding").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    // Given a Database that owns a Secret, a ConfigMap and a Deployment
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
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "db-1-config", "ownerReferences": owner }
    }))?;
    config_maps
        .create(&PostParams::default(), &config_map)
        .await?;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "db-1-exporter", "ownerReferences": owner },
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

    // And the ReplicaSet and Pod that kube-controller-manager makes for it
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let made = async {
        loop {
            if let Some(pod) = pods.list(&ListParams::default()).await?.items.pop() {
                return anyhow::Ok(pod);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let pod = tokio::time::timeout(Duration::from_secs(60), made).await??;
    let pod_name = pod.metadata.name.clone().unwrap();
    let replica_set_ref = pod.metadata.owner_references.unwrap()[0].clone();

    // And a ConfigMap that the ReplicaSet owns
    let cache: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1-exporter-cache",
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set_ref.name,
                "uid": replica_set_ref.uid, "controller": true
            }]
        }
    }))?;
    config_maps.create(&PostParams::default(), &cache).await?;

    // And a user, bob, who may read Databases, ConfigMaps and Deployments
    // here and use the primary-all routes, but not Secrets, Pods or ReplicaSets
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "no-secrets-pods-or-replica-sets" },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
            { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] },
            { "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["*"], "verbs": ["get", "list", "watch"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "bob-reads-some" },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
            "name": "no-secrets-pods-or-replica-sets"
        },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let mut bob_config = kube::Config::infer().await?;
    bob_config.auth_info.impersonate = Some("bob".to_string());
    let bob = kube::Client::try_from(bob_config)?;
    // Nothing bob is shown may be, or name, an object he may not read.
    let forbidden_kinds = ["Pod", "ReplicaSet", "Secret"];
    let shows_nothing_forbidden = |answer: &serde_json::Value| {
        let text = answer.to_string();
        assert!(!text.contains("db-1-credentials"), "{text}");
        assert!(!text.contains("not-a-real-password"), "{text}");
        assert!(!text.contains(&pod_name), "{text}");
        let mut kinds = Vec::new();
        let mut stack = vec![answer];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(kind) = map.get("kind").and_then(|k| k.as_str()) {
                        kinds.push(kind.to_string());
                    }
                    // An ownerReference is part of an object bob may read;
                    // leftOut names kinds, never objects.
                    stack.extend(
                        map.iter()
                            .filter(|(k, _)| *k != "ownerReferences" && *k != "leftOut")
                            .map(|(_, v)| v),
                    );
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        assert!(
            !kinds.iter().any(|k| forbidden_kinds.contains(&k.as_str())),
            "{kinds:?}"
        );
    };
    let left_out_kinds = |answer: &serde_json::Value| {
        let mut kinds: Vec<String> = answer["leftOut"]
            .as_array()
            .expect("every answer has leftOut")
            .iter()
            .map(|l| l["kind"].as_str().unwrap_or_default().to_string())
            .collect();
        kinds.sort();
        kinds
    };

    // When bob asks for the Database as a tree three levels deep (once the
    // server's watch index has seen the ConfigMap the ReplicaSet owns)
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let found = async {
        loop {
            let answer = get_raw(&bob, &format!("{path}?view=tree&depth=3")).await?;
            if answer.to_string().contains("db-1-exporter-cache") {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let tree_answer = tokio::time::timeout(Duration::from_secs(30), found).await??;

    // Then he sees the ConfigMaps and the Deployment, the ReplicaSet's
    // ConfigMap below the Deployment, its nearest ancestor he may read
    let typed: PrimaryWithSecondaries = serde_json::from_value(tree_answer.clone())?;
    let tree = typed.tree.expect("view=tree answers with a tree");
    let shown: Vec<(&str, &str, Vec<&str>)> = tree
        .children
        .iter()
        .map(|c| {
            (
                c.kind.as_str(),
                c.name.as_str(),
                c.children.iter().map(|g| g.name.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("ConfigMap", "db-1-config", vec![]),
            ("Deployment", "db-1-exporter", vec!["db-1-exporter-cache"]),
        ]
    );
    // And the Pod, the ReplicaSet and the Secret are named as left out, not shown
    assert_eq!(left_out_kinds(&tree_answer), forbidden_kinds);
    shows_nothing_forbidden(&tree_answer);

    // When bob asks for the owners of the ConfigMap that the ReplicaSet owns
    let chain_answer = get_raw(
        &bob,
        &format!("/apis/primary-all/v1/namespaces/{ns}/configmaps/db-1-exporter-cache/owners"),
    )
    .await?;

    // Then the chain stops below the ReplicaSet, which is named as left out
    let chain: OwnerChain = serde_json::from_value(chain_answer.clone())?;
    assert!(chain.owners.is_empty(), "{:?}", chain.owners);
    assert_eq!(left_out_kinds(&chain_answer), ["ReplicaSet"]);
    shows_nothing_forbidden(&chain_answer);

    // And the owners of the Database's ConfigMap are the Database, in full
    let chain: OwnerChain = serde_json::from_value(
        get_raw(
            &bob,
            &format!("/apis/primary-all/v1/namespaces/{ns}/configmaps/db-1-config/owners"),
        )
        .await?,
    )?;
    let owners: Vec<&str> = chain.owners.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(owners, ["db-1"]);
    assert!(chain.left_out.is_empty(), "{:?}", chain.left_out);

    // And the owners of the Pod itself are forbidden to him
    let err = get_raw(
        &bob,
        &format!("/apis/primary-all/v1/namespaces/{ns}/pods/{pod_name}/owners"),
    )
    .await
    .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 403);

    // When bob asks for the namespace's top level
    let top_answer = get_raw(
        &bob,
        &format!("/apis/primary-all/v1/namespaces/{ns}/toplevel"),
    )
    .await?;

    // Then he sees only the Database (the rest is owned, or of kinds he may
    // not read), and the kinds he may not read that hold objects here are
    // left out, among them the Pod, the ReplicaSet and the Secret
    let list: TopLevelList = serde_json::from_value(top_answer.clone())?;
    let items: Vec<(&str, &str)> = list
        .items
        .iter()
        .map(|i| (i.object.kind.as_str(), i.object.name.as_str()))
        .collect();
    assert_eq!(items, [("Database", "db-1")]);
    // And the Database counts the three objects below it that his tree
    // shows, the ConfigMap below the ReplicaSet he may not read included
    assert_eq!(list.items[0].secondaries, 3);
    let left_out = left_out_kinds(&top_answer);
    for kind in forbidden_kinds {
        assert!(left_out.iter().any(|k| k == kind), "{left_out:?}");
    }
    for kind in ["ConfigMap", "Database", "Deployment"] {
        assert!(!left_out.iter().any(|k| k == kind), "{left_out:?}");
    }
    shows_nothing_forbidden(&top_answer);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_watch_sends_the_answer_then_a_new_one_when_a_secondary_changes() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "watch").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    // Given a Database that owns a ConfigMap
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let uid = database.metadata.uid.clone().unwrap();
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1-config",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
                "uid": uid, "controller": true
            }]
        }
    }))?;
    config_maps
        .create(&PostParams::default(), &config_map)
        .await?;

    // When it is watched (for at most 20 seconds), by the path that names
    // its kind and selects it by name: kube-apiserver authorizes that as a
    // `watch` and lets it run past its one-minute limit for a `get`
    let path = format!(
        "/apis/primary-all/v1/namespaces/{ns}/databases.example.com\
         ?watch=true&fieldSelector=metadata.name%3Ddb-1&timeoutSeconds=20"
    );
    let request = http::Request::get(path).body(Vec::new())?;
    let mut lines = client.request_stream(request).await?.lines();
    let mut next_event = async || -> anyhow::Result<(String, PrimaryWithSecondaries)> {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the watch ended"))??;
        let event: serde_json::Value = serde_json::from_str(&line)?;
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        Ok((kind, serde_json::from_value(event["object"].clone())?))
    };

    // Then the first event is the answer, ADDED
    let (kind, first) = next_event().await?;
    assert_eq!(kind, "ADDED");
    assert_eq!(first.kind, "PrimaryWithSecondaries");
    assert_eq!(first.prim_res.metadata.name.as_deref(), Some("db-1"));

    // When the ConfigMap is annotated
    let touched = json!({ "metadata": { "annotations": { "example.com/touched": "yes" } } });
    config_maps
        .patch(
            "db-1-config",
            &PatchParams::default(),
            &Patch::Merge(&touched),
        )
        .await?;

    // Then within ten seconds a MODIFIED answer holds the annotated ConfigMap
    let annotated = |answer: &PrimaryWithSecondaries| {
        answer.sec_res.items.iter().any(|o| {
            o.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.get("example.com/touched").is_some_and(|v| v == "yes"))
        })
    };
    let (kind, _) = loop {
        let (kind, answer) = next_event().await?;
        if annotated(&answer) {
            break (kind, answer);
        }
    };
    assert_eq!(kind, "MODIFIED");

    // When a new Secret labelled with the Database's uid appears
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "db-1-credentials", "labels": { "primary-all/primary-uid": uid } },
        "stringData": { "password": "not-a-real-password" }
    }))?;
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;

    // Then within ten seconds a MODIFIED answer holds it too
    let answer = loop {
        let (kind, answer) = next_event().await?;
        assert_eq!(kind, "MODIFIED");
        if answer.sec_res.items.len() == 2 {
            break answer;
        }
    };
    let mut names: Vec<&str> = answer
        .sec_res
        .items
        .iter()
        .filter_map(|o| o.metadata.name.as_deref())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["db-1-config", "db-1-credentials"]);

    namespace.delete().await?;
    Ok(())
}
