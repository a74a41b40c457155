//! Relationship rules are declared in the ConfigMap
//! `primary-all/relationship-rules`, which the server watches: a rule added
//! there links objects in the next answer, with no restart. The shipped rule
//! `claim-binds-volume` links a PersistentVolumeClaim to its volume.
//!
//! The tests change the cluster-wide rules ConfigMap (adding one rule, then
//! restoring the shipped file), so they live in a test binary of their own
//! and take turns.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! ```

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
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

/// The tests share the rules ConfigMap, so they take turns.
static ONE_RULE_SET_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_rule_added_to_the_configmap_links_objects_in_the_next_answer() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let _turn = ONE_RULE_SET_AT_A_TIME.lock().await;
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

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn hostile_references_never_return_an_object_the_caller_could_not_read() -> anyhow::Result<()>
{
    kube_test_utils::init_tracing();
    let _turn = ONE_RULE_SET_AT_A_TIME.lock().await;
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let home = kube_test_utils::TestNamespace::create(&client, "hostile-home").await?;
    let away = kube_test_utils::TestNamespace::create(&client, "hostile-away").await?;
    let (ns, b) = (home.name(), away.name());

    // Given, in namespace B, a Secret with a password and a ConfigMap
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "db-password" }, "stringData": { "password": "hunter2" }
    }))?;
    Api::<Secret>::namespaced(client.clone(), b)
        .create(&PostParams::default(), &secret)
        .await?;
    let settings: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "settings" }, "data": { "region": "eu" }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), b)
        .create(&PostParams::default(), &settings)
        .await?;

    // And mallory, who may read Databases here and list ConfigMaps (never
    // Secrets) in B, and who writes the references of her Database's status
    for (namespace, rules) in [
        (
            ns,
            json!([
                { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
                { "apiGroups": ["primary-all"], "resources": ["*"], "verbs": ["get"] }
            ]),
        ),
        (
            b,
            json!([
                { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] }
            ]),
        ),
    ] {
        let role: Role = serde_json::from_value(json!({
            "metadata": { "name": "mallory" }, "rules": rules
        }))?;
        Api::<Role>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &role)
            .await?;
        let binding: RoleBinding = serde_json::from_value(json!({
            "metadata": { "name": "mallory" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mallory" },
            "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory" }]
        }))?;
        Api::<RoleBinding>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &binding)
            .await?;
    }
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
    let long = "x".repeat(300);
    let references = json!([
        // a path written into the namespace
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": format!("{b}/secrets/db-password#"), "name": "x" },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": format!("{b}/secrets"), "name": "db-password" },
        // a path, a query, a fragment or an escape written into the name
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "../secrets/db-password" },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "settings?fieldSelector=x" },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "settings#" },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "..%2Fsecrets%2Fdb-password" },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "settings,metadata.name=db-password" },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": ".." },
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": long },
        // a namespace mallory may not read
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": "kube-system", "name": "extension-apiserver-authentication" },
        // a kind that does not exist
        { "apiVersion": "v1", "kind": "Nonexistent", "namespace": b, "name": "settings" },
        // a cover kind that is not the real one: there is no ConfigMap db-password
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "db-password" },
        // the real kind, which mallory may not list in B
        { "apiVersion": "v1", "kind": "Secret", "namespace": b, "name": "db-password" },
        // and one honest reference
        { "apiVersion": "v1", "kind": "ConfigMap", "namespace": b, "name": "settings" }
    ]);
    databases
        .patch_status(
            "db-1",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "resourceRefs": references } })),
        )
        .await?;

    // When the rules follow those references
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

    // Then mallory's answer holds the honest reference's ConfigMap, once
    // the server has the rule, and nothing else
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate = Some("mallory".to_string());
    let mallory = kube::Client::try_from(config)?;
    let path = format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1");
    let answer = async {
        loop {
            let answer = get_raw(&mallory, &path).await?;
            let items = answer["sec_res"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !items.is_empty() {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), answer).await??;
    let shown: Vec<String> = answer["sec_res"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}/{}",
                o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]
            )
        })
        .collect();
    assert_eq!(shown, [format!("\"ConfigMap\"/\"{b}\"/\"settings\"")]);
    // (the primary's status holds mallory's own references; what the server
    // read and what it says it left out must name none of their targets)
    let read = format!("{} {}", answer["sec_res"], answer["leftOut"]);
    for never in [
        "hunter2",
        "aHVudGVyMg",
        "db-password",
        "requestheader",
        "kube-system",
        "Secret",
    ] {
        assert!(!read.contains(never), "{never} in {read}");
    }
    // And nothing is named as left out: a refused reference is not read, so
    // the answer is the same whether its target exists or not
    assert_eq!(answer["leftOut"], json!([]));

    // And the shipped rules are restored
    let shipped: ConfigMap = serde_saphyr::from_str(SHIPPED)?;
    config_maps
        .patch("relationship-rules", &apply, &Patch::Apply(&shipped))
        .await?;
    away.delete().await?;
    home.delete().await?;
    Ok(())
}
