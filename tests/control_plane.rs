//! The control plane is real: kube-apiserver stores, kube-controller-manager
//! reconciles, the garbage collector collects, and the node runs Pods.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test                      # boots the local control plane
//! KUBECONFIG=… cargo test -p primary-all-tests --test control_plane -- --ignored
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::Api;
use kube::api::{DeleteParams, ListParams, LogParams, ObjectMeta, PostParams};
use kube::runtime::wait::{await_condition, conditions};

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_config_map_is_stored_and_read_back() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "configmap").await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace.name());

    // Given a ConfigMap with one key
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".to_string()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "greeting".to_string(),
            "hello".to_string(),
        )])),
        ..ConfigMap::default()
    };

    // When it is created and read back
    config_maps
        .create(&PostParams::default(), &config_map)
        .await?;
    let stored = config_maps.get("settings").await?;

    // Then kube-apiserver kept the data and filled in the metadata
    assert_eq!(stored.data.as_ref().unwrap()["greeting"], "hello");
    assert!(
        stored.metadata.uid.is_some(),
        "kube-apiserver assigns a uid"
    );
    assert!(
        stored.metadata.resource_version.is_some(),
        "and a resourceVersion"
    );
    kube_test_utils::k8s_redactions()
        .bind_async(async { insta::assert_yaml_snapshot!(stored) })
        .await;

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_deployment_gets_a_replica_set_that_it_owns() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "deployment").await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace.name());
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace.name());

    // Given a Deployment of one replica
    let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some("web".to_string()),
            ..ObjectMeta::default()
        },
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "web".to_string(),
                        image: Some(kube_test_utils::IDLE_IMAGE.to_string()),
                        image_pull_policy: Some("Never".to_string()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };

    // When it is created
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let deployment_uid = created.metadata.uid.clone().unwrap();

    // Then kube-controller-manager's deployment controller makes a ReplicaSet
    let wait = async {
        loop {
            let list = replica_sets
                .list(&ListParams::default().labels("app=web"))
                .await?;
            if let Some(replica_set) = list.items.into_iter().next() {
                return anyhow::Ok(replica_set);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let replica_set = tokio::time::timeout(Duration::from_secs(60), wait).await??;

    // And the ReplicaSet names the Deployment as its controlling owner
    let owners: Vec<OwnerReference> = replica_set.metadata.owner_references.clone().unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "Deployment");
    assert_eq!(owners[0].name, "web");
    assert_eq!(owners[0].uid, deployment_uid);
    assert_eq!(owners[0].controller, Some(true));
    kube_test_utils::k8s_redactions()
        .bind_async(async { insta::assert_yaml_snapshot!(owners) })
        .await;

    // And the node runs its Pod: kube-scheduler places it, the kubelet
    // starts it, and the Deployment becomes Available
    let available = await_condition(deployments.clone(), "web", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.available_replicas == Some(1) && s.ready_replicas == Some(1))
    });
    tokio::time::timeout(Duration::from_secs(90), available).await??;

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn the_garbage_collector_deletes_an_owned_object_with_its_owner() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "gc").await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace.name());

    // Given an owner ConfigMap
    let owner = ConfigMap {
        metadata: ObjectMeta {
            name: Some("owner".to_string()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let owner = config_maps.create(&PostParams::default(), &owner).await?;

    // And a child ConfigMap with an ownerReference to it
    let child = ConfigMap {
        metadata: ObjectMeta {
            name: Some("child".to_string()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".to_string(),
                kind: "ConfigMap".to_string(),
                name: "owner".to_string(),
                uid: owner.metadata.uid.clone().unwrap(),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let child = config_maps.create(&PostParams::default(), &child).await?;
    let child_uid = child.metadata.uid.clone().unwrap();

    // ANCHOR: garbage_collector
    // When the owner is deleted (the garbage collector deletes dependents in the background)
    config_maps
        .delete("owner", &DeleteParams::background())
        .await?;

    // Then the garbage collector deletes the child too
    let child_deleted = await_condition(
        config_maps.clone(),
        "child",
        conditions::is_deleted(&child_uid),
    );
    tokio::time::timeout(Duration::from_secs(60), child_deleted).await??;
    assert!(config_maps.get_opt("child").await?.is_none());
    // ANCHOR_END: garbage_collector

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_pod_runs_on_the_node_in_a_network_namespace_of_its_own() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "node").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace.name());

    // Given a Pod of the node's idle image, which it never pulls
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("idle".to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "idle".to_string(),
                image: Some(kube_test_utils::IDLE_IMAGE.to_string()),
                image_pull_policy: Some("Never".to_string()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };

    // When it is created
    pods.create(&PostParams::default(), &pod).await?;

    // Then it becomes Running and Ready on the node
    let running = await_condition(pods.clone(), "idle", conditions::is_pod_running());
    tokio::time::timeout(Duration::from_secs(60), running).await??;
    let ready = await_condition(pods.clone(), "idle", |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref()?.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    });
    tokio::time::timeout(Duration::from_secs(60), ready).await??;
    let pod = pods.get("idle").await?;
    assert_eq!(
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some("primary-all-node")
    );

    // And the node's address is loopback, while the Pod has an address of
    // its own on the Pod network (a /24 of 10.88.0.0/16), not the node's
    let status = pod.status.expect("a running Pod has a status");
    assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
    let pod_ip = status.pod_ip.expect("a running Pod has an IP");
    assert!(pod_ip.starts_with("10.88."), "{pod_ip}");

    // And its log, read through kube-apiserver from the kubelet, is the
    // line the process wrote
    let log = pods.logs("idle", &LogParams::default()).await?;
    assert!(log.contains("holding the sandbox"), "{log}");

    namespace.delete().await?;
    Ok(())
}
