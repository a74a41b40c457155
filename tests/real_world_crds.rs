//! CRDs that a real operator ships, not ones we wrote: the Prometheus
//! Operator's `monitoring.coreos.com` set (pinned in
//! `tests/control-plane/crds/go.mod`), which serves most kinds in v1 and
//! some only in v1alpha1. A primary with a secondary of every kind in it
//! gets every one of them back.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # fetches the pinned CRDs and passes their folder
//! ```

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use primary_all::wire::PrimaryWithSecondaries;
use serde_json::json;

#[tokio::test]
#[ignore = "needs a cluster and the pinned CRDs: cargo xtask test"]
async fn every_kind_of_the_prometheus_operator_comes_back() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let folder = std::env::var("PRIMARY_ALL_PROMETHEUS_OPERATOR_CRDS").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_PROMETHEUS_OPERATOR_CRDS is not set: run through cargo xtask test"
        )
    })?;

    // Given the Prometheus Operator's CRDs, applied as its users apply them
    // (server-side: some are larger than client-side apply's annotation allows)
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut kinds = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&folder)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in &files {
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&std::fs::read_to_string(file)?)?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.patch(
            &name,
            &PatchParams::apply("primary-all-tests").force(),
            &Patch::Apply(&crd),
        )
        .await?;
        let established = await_condition(crds.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(60), established).await??;
        let version = crd
            .spec
            .versions
            .iter()
            .find(|v| v.served && v.storage)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        kinds.push((
            crd.spec.group.clone(),
            version,
            crd.spec.names.kind.clone(),
            crd.spec.names.plural.clone(),
        ));
    }
    assert_eq!(kinds.len(), 10, "{kinds:?}");
    assert!(
        kinds.iter().any(|(_, version, _, _)| version == "v1alpha1"),
        "{kinds:?}"
    );

    // And a Database that owns one object of every kind, each at the
    // version the CRD stores it in
    let namespace = kube_test_utils::TestNamespace::create(&client, "prometheus-operator").await?;
    let ns = namespace.name();
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
    let mut expected = Vec::new();
    for (group, version, kind, plural) in &kinds {
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            ns,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                plural,
            ),
        );
        let name = format!("db-1-{}", kind.to_lowercase());
        // `selector` and `endpoints` are what PodMonitor and ServiceMonitor
        // require; the other kinds' schemas prune them.
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": format!("{group}/{version}"), "kind": kind,
            "metadata": { "name": name, "ownerReferences": owner },
            "spec": { "selector": {}, "endpoints": [] }
        }))?;
        api.create(&PostParams::default(), &object).await?;
        expected.push(format!("{group}/{version}/{kind}/{name}"));
    }
    expected.sort();

    // When the Database is asked for (once the server watches the new kinds:
    // until then, an answer reads them directly or names them as syncing)
    let path = format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-1");
    let answer = async {
        loop {
            let request = http::Request::get(&path).body(Vec::new())?;
            let answer: PrimaryWithSecondaries = client.request(request).await?;
            if answer.sec_res.items.len() == expected.len() {
                return anyhow::Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), answer).await??;

    // Then every one comes back, at its own version, and nothing is left out
    let mut found: Vec<String> = answer
        .sec_res
        .items
        .iter()
        .map(|o| {
            let types = o.types.clone().unwrap_or_default();
            format!(
                "{}/{}/{}",
                types.api_version,
                types.kind,
                o.metadata.name.clone().unwrap_or_default()
            )
        })
        .collect();
    found.sort();
    assert_eq!(found, expected);
    assert!(answer.left_out.is_empty(), "{:?}", answer.left_out);

    namespace.delete().await?;
    for (group, _, _, plural) in &kinds {
        crds.delete(&format!("{plural}.{group}"), &Default::default())
            .await?;
    }
    Ok(())
}
