//! Relationship rules are declared in the ConfigMap
//! `primary-all/relationship-rules`, which the server watches: a rule added
//! there links objects in the next answer, with no restart. The shipped rule
//! `claim-binds-volume` links a PersistentVolumeClaim to its volume.
//!
//! It changes the cluster-wide rules ConfigMap (adding one rule, then
//! restoring the shipped file), so it lives in a test binary of its own.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! ```

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use primary_all::wire::PrimaryWithSecondaries;
use serde_json::json;

/// GETs `path` through kube-apiserver and decodes the answer.
async fn get_raw(client: &kube::Client, path: &str) -> Result<serde_json::Value, kube::Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .expect("a valid request");
    client.request::<serde_json::Value>(request).await
}

/// The shipped rules ConfigMap, as `cargo xtask cluster up` applies it.
const SHIPPED: &str = include_str!("../extension-server/deploy/relationship-rules.yaml");

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_rule_added_to_the_configmap_links_objects_in_the_next_answer() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "rules-cm").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &database_resource);

    // Given a Database whose status names a ConfigMap it uses but does not
    // own, Crossplane-style, in a list of references
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-1" }, "spec": { "engine": "postgres" }
    }))?;
    let database = databases.create(&PostParams::default(), &database).await?;
    let uid = database.metadata.uid.clone().unwrap();
    databases
        .patch_status(
            "db-1",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "resourceRefs": [
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "shared-settings" }
            ] } })),
        )
        .await?;
    let shared: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "shared-settings" }, "data": { "region": "eu" }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &shared)
        .await?;

    // And a claim the Database owns, bound by name to a volume
    let volume_name = format!("{ns}-data");
    let volume: PersistentVolume = serde_json::from_value(json!({
        "metadata": { "name": volume_name },
        "spec": {
            "capacity": { "storage": "1Gi" },
            "accessModes": ["ReadWriteOnce"],
            "hostPath": { "path": "/tmp/primary-all-test" }
        }
    }))?;
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    volumes.create(&PostParams::default(), &volume).await?;
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {
            "name": "db-1-data",
            "ownerReferences": [{
                "apiVersion": "example.com/v1", "kind": "Database", "name": "db-1",
                "uid": uid, "controller": true
            }]
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": "1Gi" } },
            "volumeName": volume_name
        }
    }))?;
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &claim)
        .await?;

    // When the rules ConfigMap gains a rule that follows those references
    let mut rules: ConfigMap = serde_saphyr::from_str(SHIPPED)?;
    let data = rules.data.get_or_insert_with(Default::default);
    let shipped_rules = data["rules.yaml"].clone();
    data.insert(
        "rules.yaml".to_string(),
        shipped_rules.replacen(
            "rules:\n",
            "rules:\n  - name: database-resource-refs\n    from: {group: example.com, kind: Database}\n    refs: /status/resourceRefs\n",
            1,
        ),
    );
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "primary-all");
    let apply = PatchParams::apply("primary-all-tests").force();
    config_maps
        .patch("relationship-rules", &apply, &Patch::Apply(&rules))
        .await?;

    // Then the next answers (once the server has seen the new rule) hang the
    // ConfigMap below the Database and the volume below its claim, each
    // linked by the rule that found it
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let found = async {
        loop {
            let answer: PrimaryWithSecondaries = serde_json::from_value(
                get_raw(&client, &format!("{path}?view=tree&depth=2")).await?,
            )?;
            let tree = answer.tree.expect("view=tree answers with a tree");
            let has_config_map = tree.children.iter().any(|c| c.kind == "ConfigMap");
            let claim_has_volume = tree
                .children
                .iter()
                .any(|c| c.kind == "PersistentVolumeClaim" && !c.children.is_empty());
            if has_config_map && claim_has_volume {
                return anyhow::Ok(tree);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let tree = tokio::time::timeout(Duration::from_secs(30), found).await??;
    // (each line: an object, its link, and one indent per level)
    let mut shown = Vec::new();
    for child in &tree.children {
        shown.push(format!(
            "{}/{} {}",
            child.kind,
            child.name,
            child.link.as_deref().unwrap_or("-")
        ));
        for grandchild in &child.children {
            shown.push(format!(
                "  {}/{} {}",
                grandchild.kind,
                grandchild.name,
                grandchild.link.as_deref().unwrap_or("-")
            ));
        }
    }
    assert_eq!(
        shown,
        [
            "ConfigMap/shared-settings rule:database-resource-refs".to_string(),
            "PersistentVolumeClaim/db-1-data ownerReference".to_string(),
            format!("  PersistentVolume/{volume_name} rule:claim-binds-volume"),
        ]
    );

    // When the shipped rules are restored
    let shipped: ConfigMap = serde_saphyr::from_str(SHIPPED)?;
    config_maps
        .patch("relationship-rules", &apply, &Patch::Apply(&shipped))
        .await?;

    // Then the ConfigMap is no longer linked; the shipped volume rule still is
    let unlinked = async {
        loop {
            let answer: PrimaryWithSecondaries = serde_json::from_value(
                get_raw(&client, &format!("{path}?view=tree&depth=2")).await?,
            )?;
            let tree = answer.tree.expect("view=tree answers with a tree");
            if tree.children.iter().all(|c| c.kind != "ConfigMap") {
                return anyhow::Ok(tree);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let tree = tokio::time::timeout(Duration::from_secs(30), unlinked).await??;
    let kinds: Vec<(&str, usize)> = tree
        .children
        .iter()
        .map(|c| (c.kind.as_str(), c.children.len()))
        .collect();
    assert_eq!(kinds, [("PersistentVolumeClaim", 1)]);

    volumes.delete(&volume_name, &Default::default()).await?;
    namespace.delete().await?;
    Ok(())
}
