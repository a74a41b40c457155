//! A cluster that does not serve primary-all: the extension says so.
//!
//! This file takes the APIService away for the length of one test and puts
//! it back, so it is a test binary of its own: cargo runs test binaries one
//! after another, never beside the tests that need the APIService.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test
//! ```

use std::time::Duration;

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube_test_utils::fixtures::Database;
use primary_all::GetLatestWithSecondariesExt;

/// Puts the APIService back when dropped, even if the test panicked.
struct Restore {
    apiservice: APIService,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let mut apiservice = self.apiservice.clone();
        apiservice.metadata.resource_version = None;
        apiservice.metadata.uid = None;
        apiservice.metadata.creation_timestamp = None;
        apiservice.metadata.managed_fields = None;
        apiservice.status = None;
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = kube::Client::try_default().await.unwrap();
                let api: Api<APIService> = Api::all(client);
                let _ = api.create(&PostParams::default(), &apiservice).await;
                // Back in service before the next test binary starts.
                for _ in 0..120 {
                    let available = api
                        .get("v1.primary-all")
                        .await
                        .ok()
                        .and_then(|a| a.status)
                        .and_then(|s| s.conditions)
                        .is_some_and(|c| {
                            c.iter()
                                .any(|c| c.type_ == "Available" && c.status == "True")
                        });
                    if available {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        })
        .join();
    }
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn without_the_apiservice_the_extension_says_primary_all_is_not_installed()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let apiservices: Api<APIService> = Api::all(client.clone());
    let databases: Api<Database> = Api::namespaced(client.clone(), "default");

    // Given a cluster whose APIService v1.primary-all has been removed
    let apiservice = apiservices.get("v1.primary-all").await?;
    let _restore = Restore { apiservice };
    apiservices
        .delete("v1.primary-all", &DeleteParams::default())
        .await?;
    let gone = async {
        while apiservices.get_opt("v1.primary-all").await?.is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(30), gone).await??;

    // When an operator asks for a Database with its secondaries
    let err = loop {
        // kube-apiserver's discovery may still route the group for a moment.
        match databases.get_latest_with_secondaries("db-1").await {
            Err(err @ primary_all::Error::NotInstalled { .. }) => break err,
            other => {
                tracing::debug!(?other, "not yet: the group is still routed");
                tokio::time::sleep(Duration::from_millis(200)).await
            }
        }
    };

    // Then the error names the missing piece, not a bare 404
    assert!(!err.is_not_found());
    assert!(
        err.to_string().starts_with(
            "primary-all is not installed in this cluster: APIService v1.primary-all not found or not Available"
        ),
        "{err}"
    );
    Ok(())
}
