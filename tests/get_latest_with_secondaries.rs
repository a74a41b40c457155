//! The kube-rs extension: `Api::get`, with the secondaries in the status.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # runs these with and without --features etcd-status
//! ```

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use kube_test_utils::fixtures::{Database, DatabaseSpec};
#[cfg(feature = "etcd-status")]
use kube_test_utils::fixtures::{GeneratedDatabase, GeneratedDatabaseSpec};
use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt, SecondaryParams};
#[cfg(feature = "etcd-status")]
use {
    k8s_openapi::api::rbac::v1::{Role, RoleBinding},
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    kube::api::{ApiResource, DynamicObject, Patch, PatchParams},
    kube::core::CustomResourceExt,
    kube::runtime::wait::{await_condition, conditions},
    primary_all::{SecondaryRefs, StatusParams, wire::SecondaryRef},
    serde_json::json,
    std::time::Duration,
};

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_database_comes_back_as_its_own_type_with_its_secondaries_in_its_status()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "extension").await?;
    let databases: Api<Database> = Api::namespaced(client.clone(), namespace.name());

    // Given a Database
    let database = Database::new(
        "db-1",
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: Some(1),
        },
    );
    let database = databases.create(&PostParams::default(), &database).await?;

    // And a ConfigMap and a Secret that its operator marked as secondaries
    let mut config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("db-1-config".to_string()),
            ..ObjectMeta::default()
        },
        data: Some([("max_connections".to_string(), "100".to_string())].into()),
        ..ConfigMap::default()
    };
    assert!(primary_all::mark_as_secondary(
        &database,
        &mut config_map.metadata
    ));
    Api::<ConfigMap>::namespaced(client.clone(), namespace.name())
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
    Api::<Secret>::namespaced(client.clone(), namespace.name())
        .create(&PostParams::default(), &secret)
        .await?;

    // When the operator reads it with get_latest_with_secondaries
    let db = databases.get_latest_with_secondaries("db-1").await?;

    // Then it is the operator's own type, the latest state of the Database
    assert_eq!(db.metadata.name.as_deref(), Some("db-1"));
    assert_eq!(db.metadata.uid, database.metadata.uid);
    assert_eq!(db.spec.engine, "postgres");

    // And its status holds both secondaries, as full objects with their kinds
    let secondaries = db.cache_secondary();
    assert_eq!(secondaries.len(), 2);
    let mut kinds: Vec<(String, String)> = secondaries
        .iter()
        .map(|s| {
            (
                s.types.clone().unwrap().kind,
                s.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("ConfigMap".to_string(), "db-1-config".to_string()),
            ("Secret".to_string(), "db-1-credentials".to_string()),
        ]
    );
    assert_eq!(db.status.as_ref().unwrap().secondaries.len(), 2);
    kube_test_utils::k8s_redactions()
        .bind_async(async { insta::assert_yaml_snapshot!(db.cache_secondary()) })
        .await;

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_database_without_status_gets_one_and_the_cache_is_never_absent() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "no-status").await?;
    let databases: Api<Database> = Api::namespaced(client.clone(), namespace.name());

    // Given a Database that no operator has given a status yet
    let database = Database::new(
        "db-2",
        DatabaseSpec {
            engine: "mysql".to_string(),
            replicas: None,
        },
    );
    let stored = databases.create(&PostParams::default(), &database).await?;
    assert!(stored.status.is_none());
    assert!(
        stored.cache_secondary().is_empty(),
        "cache_secondary is a value even without a status"
    );

    // When it is read with get_latest_with_secondaries, at depth 2
    let db = databases
        .get_latest_with_secondaries_with("db-2", &SecondaryParams::default().depth(2))
        .await?;

    // Then it has a status, and an empty cache
    assert!(db.status.is_some(), "initialize_status gave it one");
    assert!(db.cache_secondary().is_empty());

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_missing_database_is_not_found() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let databases: Api<Database> = Api::namespaced(client.clone(), "default");

    // When a Database that does not exist is read
    let err = databases
        .get_latest_with_secondaries("db-9")
        .await
        .unwrap_err();

    // Then the error says so, as kube's would
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"NotFound (404): databases.example.com "db-9" not found"#
    );

    // And the _opt twin answers None
    assert!(
        databases
            .get_latest_with_secondaries_opt("db-9")
            .await?
            .is_none()
    );
    Ok(())
}

#[cfg(feature = "etcd-status")]
#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn with_etcd_status_the_cache_is_stored_in_etcd() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "etcd-status").await?;
    let databases: Api<Database> = Api::namespaced(client.clone(), namespace.name());

    // Given a Database with one labelled ConfigMap
    let database = Database::new(
        "db-3",
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: None,
        },
    );
    let database = databases.create(&PostParams::default(), &database).await?;
    let mut config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("db-3-config".to_string()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    primary_all::mark_as_secondary(&database, &mut config_map.metadata);
    Api::<ConfigMap>::namespaced(client.clone(), namespace.name())
        .create(&PostParams::default(), &config_map)
        .await?;

    let config_map = Api::<ConfigMap>::namespaced(client.clone(), namespace.name())
        .get("db-3-config")
        .await?;

    // When the operator reads it with its secondaries and stores the cache
    let db = databases.get_latest_with_secondaries("db-3").await?;
    primary_all::store_secondaries_in_status(&databases, db).await?;

    // Then a plain Api::get sees a reference to the ConfigMap: it lives in etcd
    let plain = databases.get("db-3").await?;
    assert_eq!(
        plain.secondary_refs(),
        [SecondaryRef {
            api_version: "v1".to_string(),
            kind: "ConfigMap".to_string(),
            namespace: Some(namespace.name().to_string()),
            name: "db-3-config".to_string(),
            uid: config_map.metadata.uid.clone(),
            resource_version: config_map.metadata.resource_version.clone(),
            health: None,
        }]
    );

    // And no full object, since the operator listed no kind
    assert!(
        plain.cache_secondary().is_empty(),
        "{:?}",
        plain.cache_secondary()
    );

    namespace.delete().await?;
    Ok(())
}

#[cfg(feature = "etcd-status")]
#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn with_etcd_status_an_oversized_cache_is_refused_and_nothing_is_written()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "too-large").await?;
    let databases: Api<Database> = Api::namespaced(client.clone(), namespace.name());

    // Given a Database read with get_latest_with_secondaries
    let database = Database::new(
        "db-4",
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: None,
        },
    );
    databases.create(&PostParams::default(), &database).await?;
    let mut db = databases.get_latest_with_secondaries("db-4").await?;

    // And a cache grown past etcd's 1.5 MiB request limit (16 objects of 100 KiB)
    let config_maps = kube::api::ApiResource::erase::<ConfigMap>(&());
    for i in 0..16 {
        let mut big = kube::api::DynamicObject::new(&format!("big-{i}"), &config_maps);
        big.data = serde_json::json!({ "data": { "blob": "x".repeat(100 * 1024) } });
        db.cache_secondary_mut().push(big);
    }

    // When the operator tries to store it, ConfigMaps in full
    let params = StatusParams::default().full_objects::<ConfigMap>();
    let err = primary_all::store_secondaries_in_status_with(&databases, db, &params)
        .await
        .unwrap_err();

    // Then it is told the size and the limit
    let primary_all::Error::TooLarge { size, limit } = err else {
        panic!("expected TooLarge, got {err:?}")
    };
    assert_eq!(limit, 1_572_864);
    assert!(size > limit, "{size} > {limit}");

    // And nothing was written
    let plain = databases.get("db-4").await?;
    assert!(
        plain.status.is_none(),
        "the stored object is unchanged: {:?}",
        plain.status
    );

    namespace.delete().await?;
    Ok(())
}

#[cfg(feature = "etcd-status")]
#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn with_etcd_status_a_user_denied_secrets_reads_no_secret_data_from_the_stored_primary()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "leak").await?;
    let ns = namespace.name();
    let databases: Api<Database> = Api::namespaced(client.clone(), ns);

    // Given a Database with a Secret that its operator marked as a secondary
    let database = Database::new(
        "db-5",
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: None,
        },
    );
    let database = databases.create(&PostParams::default(), &database).await?;
    let mut secret = Secret {
        metadata: ObjectMeta {
            name: Some("db-5-credentials".to_string()),
            ..ObjectMeta::default()
        },
        string_data: Some([("password".to_string(), "not-a-real-password".to_string())].into()),
        ..Secret::default()
    };
    assert!(primary_all::mark_as_secondary(
        &database,
        &mut secret.metadata
    ));
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;

    // And the operator stored the secondaries in the status
    let db = databases.get_latest_with_secondaries("db-5").await?;
    assert_eq!(db.cache_secondary().len(), 1, "the operator saw the Secret");
    primary_all::store_secondaries_in_status(&databases, db).await?;

    // And a user, erin, who may read Databases in this namespace but not Secrets
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "database-reader" },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "erin-reads-databases" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "database-reader" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "erin" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let mut erin_config = kube::Config::infer().await?;
    erin_config.auth_info.impersonate = Some("erin".to_string());
    let erin = kube::Client::try_from(erin_config)?;
    let kube::Error::Api(status) = Api::<Secret>::namespaced(erin.clone(), ns)
        .get("db-5-credentials")
        .await
        .unwrap_err()
    else {
        panic!("expected a Status")
    };
    assert_eq!(status.code, 403, "erin may not read the Secret itself");

    // When erin reads the Database with a plain Api::get, every field as served
    let database_resource = ApiResource::erase::<Database>(&());
    let seen = Api::<DynamicObject>::namespaced_with(erin, ns, &database_resource)
        .get("db-5")
        .await?;

    // Then nothing of the Secret's contents is anywhere in the object
    let served = serde_json::to_string(&seen)?;
    assert!(!served.contains("not-a-real-password"), "{served}");
    assert!(
        !served.contains("bm90LWEtcmVhbC1wYXNzd29yZA"),
        "base64: {served}"
    );
    assert!(!served.contains("password"), "not even the key: {served}");
    assert!(!served.contains("stringData"), "{served}");

    // And the Secret appears only as a reference, with nothing but its identity
    assert_eq!(
        seen.data["status"],
        json!({
            "secondaries": [],
            "secondaryRefs": [{
                "apiVersion": "v1",
                "kind": "Secret",
                "namespace": ns,
                "name": "db-5-credentials",
                "uid": secret.metadata.uid,
                "resourceVersion": secret.metadata.resource_version,
            }]
        })
    );

    namespace.delete().await?;
    Ok(())
}

#[cfg(feature = "etcd-status")]
#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn with_etcd_status_the_crd_that_kube_generates_from_the_type_keeps_the_stored_references()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "generated-crd").await?;
    let ns = namespace.name();

    // Given the CRD that kube generates from a Database type with the
    // fixture's DatabaseStatus, not the shipped YAML (in a group of its own,
    // generated.example.com, so the other tests' YAML cannot replace it)
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("primary-all-tests").force();
    crds.patch(
        "generateddatabases.generated.example.com",
        &params,
        &Patch::Apply(GeneratedDatabase::crd()),
    )
    .await?;
    let established = await_condition(
        crds.clone(),
        "generateddatabases.generated.example.com",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(30), established).await??;
    let crd = crds.get("generateddatabases.generated.example.com").await?;
    let schema = serde_json::to_value(&crd.spec.versions[0].schema)?;
    let status_schema = &schema["openAPIV3Schema"]["properties"]["status"];
    assert_eq!(
        status_schema["properties"]["secondaryRefs"]["type"], "array",
        "the generated CRD has a schema for the references: {status_schema}"
    );
    assert_eq!(
        status_schema.get("x-kubernetes-preserve-unknown-fields"),
        None
    );
    let databases: Api<GeneratedDatabase> = Api::namespaced(client.clone(), ns);

    // And a Database with a ConfigMap its operator marked as a secondary
    let database = GeneratedDatabase::new(
        "db-6",
        GeneratedDatabaseSpec {
            engine: "postgres".to_string(),
        },
    );
    let database = databases.create(&PostParams::default(), &database).await?;
    let mut config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("db-6-config".to_string()),
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

    // And kube-apiserver prunes under this CRD: a status field it does not declare is dropped
    let undeclared = json!({ "status": { "undeclared": "dropped" } });
    databases
        .patch_status("db-6", &PatchParams::default(), &Patch::Merge(&undeclared))
        .await?;
    let database_resource = ApiResource::erase::<GeneratedDatabase>(&());
    let served = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &database_resource)
        .get("db-6")
        .await?;
    assert_eq!(
        served.data["status"].get("undeclared"),
        None,
        "{}",
        served.data
    );

    // And the operator's cache holds the ConfigMap, as get_latest_with_secondaries
    // fills it (the server is not asked: it would first have to discover the new kind)
    let config_map = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::erase::<ConfigMap>(&()),
    )
    .get("db-6-config")
    .await?;
    let mut db = databases.get("db-6").await?;
    db.cache_secondary_mut().push(config_map.clone());

    // When the operator stores the secondaries in the status, ConfigMaps in full
    let params = StatusParams::default().full_objects::<ConfigMap>();
    primary_all::store_secondaries_in_status_with(&databases, db, &params).await?;

    // Then a plain Api::get reads the reference back: kube-apiserver did not prune it
    let plain = databases.get("db-6").await?;
    let references = plain.secondary_refs();
    assert_eq!(references.len(), 1, "{:?}", plain.status);
    assert_eq!(references[0].api_version, "v1");
    assert_eq!(references[0].kind, "ConfigMap");
    assert_eq!(references[0].namespace.as_deref(), Some(ns));
    assert_eq!(references[0].name, "db-6-config");
    assert_eq!(references[0].uid, config_map.metadata.uid);
    assert_eq!(
        references[0].resource_version,
        config_map.metadata.resource_version
    );

    // And the full ConfigMap too, under full_objects_schema's schema
    let full = plain.cache_secondary();
    assert_eq!(full.len(), 1, "{:?}", plain.status);
    assert_eq!(full[0].metadata.name.as_deref(), Some("db-6-config"));
    assert_eq!(full[0].metadata.uid, config_map.metadata.uid);
    assert_eq!(
        full[0].metadata.labels.as_ref().unwrap()["primary-all/primary-uid"],
        database.metadata.uid.clone().unwrap()
    );

    namespace.delete().await?;
    crds.delete(
        "generateddatabases.generated.example.com",
        &Default::default(),
    )
    .await?;
    Ok(())
}

#[cfg(feature = "etcd-status")]
#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn with_etcd_status_a_listed_kind_is_stored_in_full_and_a_secret_never_is_even_when_listed()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "listed").await?;
    let ns = namespace.name();
    let databases: Api<Database> = Api::namespaced(client.clone(), ns);

    // Given a Database with a ConfigMap and a Secret that its operator marked as secondaries
    let database = Database::new(
        "db-7",
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: None,
        },
    );
    let database = databases.create(&PostParams::default(), &database).await?;
    let mut config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("db-7-config".to_string()),
            ..ObjectMeta::default()
        },
        data: Some([("max_connections".to_string(), "100".to_string())].into()),
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
            name: Some("db-7-credentials".to_string()),
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

    // When the operator stores the secondaries with both ConfigMaps and Secrets listed
    let db = databases.get_latest_with_secondaries("db-7").await?;
    assert_eq!(db.cache_secondary().len(), 2);
    let params = StatusParams::default()
        .full_objects::<ConfigMap>()
        .full_objects::<Secret>();
    primary_all::store_secondaries_in_status_with(&databases, db, &params).await?;

    // Then a plain Api::get finds the ConfigMap in full, without managedFields
    let plain = databases.get("db-7").await?;
    let full: Vec<(String, Option<String>)> = plain
        .cache_secondary()
        .iter()
        .map(|s| (s.types.clone().unwrap().kind, s.metadata.name.clone()))
        .collect();
    assert_eq!(
        full,
        [("ConfigMap".to_string(), Some("db-7-config".to_string()))],
        "only the ConfigMap is stored in full"
    );
    assert_eq!(
        plain.cache_secondary()[0].data["data"],
        json!({ "max_connections": "100" })
    );
    assert!(plain.cache_secondary()[0].metadata.managed_fields.is_none());

    // And both as references, the Secret only so
    let mut references: Vec<(&str, &str)> = plain
        .secondary_refs()
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str()))
        .collect();
    references.sort();
    assert_eq!(
        references,
        [("ConfigMap", "db-7-config"), ("Secret", "db-7-credentials")]
    );

    // And the Secret's contents are nowhere in the object as served
    let database_resource = ApiResource::erase::<Database>(&());
    let served = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &database_resource)
        .get("db-7")
        .await?;
    let served = serde_json::to_string(&served)?;
    assert!(!served.contains("not-a-real-password"), "{served}");
    assert!(
        !served.contains("bm90LWEtcmVhbC1wYXNzd29yZA"),
        "base64: {served}"
    );
    assert!(!served.contains("password"), "{served}");

    namespace.delete().await?;
    Ok(())
}
