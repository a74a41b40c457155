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
use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt, SecondaryParams};

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

    // When the operator reads it with its secondaries and stores the cache
    let db = databases.get_latest_with_secondaries("db-3").await?;
    primary_all::store_secondaries_in_status(&databases, db).await?;

    // Then a plain Api::get sees the cache: it lives in etcd
    let plain = databases.get("db-3").await?;
    let cached = &plain.status.as_ref().unwrap().secondaries;
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].metadata.name.as_deref(), Some("db-3-config"));
    assert!(
        cached[0].metadata.managed_fields.is_none(),
        "managedFields are stripped"
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

    // When the operator tries to store it
    let err = primary_all::store_secondaries_in_status(&databases, db)
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
