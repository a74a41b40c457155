//! The installed server's two replicas are real: one may go while requests
//! keep coming, and a drain respects the PodDisruptionBudget.
//!
//! These tests disturb the installed Pods, so `cargo xtask test` runs this
//! file after every other suite that talks to them.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and installs the server
//! ```

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{DeleteParams, ListParams};

const NAMESPACE: &str = "primary-all";
const SELECTOR: &str = "app.kubernetes.io/name=primary-all";

/// The names of the server's Pods that are Ready and not being deleted.
async fn ready_pods(pods: &Api<Pod>) -> anyhow::Result<Vec<String>> {
    let listed = pods.list(&ListParams::default().labels(SELECTOR)).await?;
    Ok(listed
        .items
        .into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter(|pod| {
            pod.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|pod| pod.metadata.name)
        .collect())
}

/// Waits until two Pods are Ready, and says how long that took.
async fn until_two_ready(pods: &Api<Pod>, bound: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if ready_pods(pods).await?.len() == 2 {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < bound,
            "fewer than two Ready replicas after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
#[ignore = "needs primary-all installed as a Deployment: cargo xtask test"]
async fn requests_keep_being_answered_while_a_replica_is_deleted_and_a_drain_respects_the_budget()
-> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("primary-all")
        .await?;
    assert_eq!(deployment.spec.replicas, Some(2));
    until_two_ready(&pods, Duration::from_secs(60)).await?;

    // Given a stream of requests through kube-apiserver, 4 at a time,
    // bounded to 400 requests and 60 s, from a client that does not retry
    // (kube's default client retries a 503, which would hide it)
    let mut config = kube::Config::infer().await?;
    config.default_retry = false;
    let no_retry = kube::Client::try_from(config)?;
    let path = "/apis/primary-all/v1/core/v1/Namespace/kube-system";
    let load = {
        let client = no_retry.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut answered = 0u32;
            let mut failed = Vec::new();
            let mut sent = 0u32;
            while sent < 400 && started.elapsed() < Duration::from_secs(60) {
                let batch: Vec<_> = (0..4)
                    .map(|_| {
                        let client = client.clone();
                        async move {
                            let request = http::Request::get(path).body(Vec::new()).unwrap();
                            client.request::<serde_json::Value>(request).await
                        }
                    })
                    .collect();
                for result in futures::future::join_all(batch).await {
                    sent += 1;
                    match result {
                        Ok(_) => answered += 1,
                        Err(err) => failed.push(err.to_string()),
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (answered, failed, started.elapsed())
        })
    };

    // When one replica is deleted a moment into it
    tokio::time::sleep(Duration::from_secs(2)).await;
    let victim = ready_pods(&pods).await?.remove(0);
    pods.delete(&victim, &DeleteParams::default()).await?;

    // Then the Deployment has two Ready replicas again, and the requests
    // were answered (kube-apiserver sends none to a Pod being deleted: its
    // endpoint stops being Ready before its listener closes)
    let back = until_two_ready(&pods, Duration::from_secs(90)).await?;
    let (answered, failed, took) = load.await?;
    eprintln!(
        "measured: {answered} answered, {} failed of {} requests in {:.1}s while {victim} \
         was deleted; two replicas Ready again {:.1}s after the delete (first errors: {:?})",
        failed.len(),
        answered as usize + failed.len(),
        took.as_secs_f64(),
        back.as_secs_f64(),
        failed.iter().take(3).collect::<Vec<_>>()
    );
    assert!(answered >= 100, "only {answered} requests answered");
    assert!(
        failed.len() * 100 <= (answered as usize + failed.len()),
        "more than 1% of the requests failed: {failed:?}"
    );

    // Given both replicas have been Ready for 10 s and the deleted one is
    // gone (a drain meets a settled Deployment), and the PodDisruptionBudget (minAvailable: 1) allows one
    // disruption
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NAMESPACE);
    let started = Instant::now();
    loop {
        let listed = pods.list(&ListParams::default().labels(SELECTOR)).await?;
        let settled = listed
            .items
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .filter(|pod| {
                pod.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| {
                        c.iter().any(|c| {
                            c.type_ == "Ready"
                                && c.status == "True"
                                && c.last_transition_time.as_ref().is_some_and(|t| {
                                    t.0.as_second() + 10
                                        < k8s_openapi::jiff::Timestamp::now().as_second()
                                })
                        })
                    })
            })
            .count();
        let status = budgets.get("primary-all").await?.status.unwrap_or_default();
        // The deleted replica gone for good, not only terminating.
        if settled == 2
            && listed.items.len() == 2
            && status.disruptions_allowed == Some(1)
            && status.current_healthy == Some(2)
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the replicas never settled or the budget never allowed a disruption: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // When a drain evicts both replicas, one after the other, with the
    // Eviction `kubectl drain` sends (from the client that does not retry: a
    // retried 429 would succeed once the replacement is Ready)
    let ready = ready_pods(&pods).await?;
    let evict = |name: String| {
        let client = no_retry.clone();
        async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": { "name": name, "namespace": NAMESPACE }
            }))?;
            let request = http::Request::post(format!(
                "/api/v1/namespaces/{NAMESPACE}/pods/{name}/eviction"
            ))
            .header("Content-Type", "application/json")
            .body(body)?;
            anyhow::Ok(client.request::<serde_json::Value>(request).await)
        }
    };
    evict(ready[0].clone()).await??;
    let after_first = budgets.get("primary-all").await?.status;
    let refused = evict(ready[1].clone()).await?;

    // Then the first goes, and the second is refused with 429 while the
    // first's replacement is not Ready: one replica always serves
    let Err(kube::Error::Api(status)) = refused else {
        panic!("the second eviction was not refused: {refused:?}; {ready:?}; {after_first:?}");
    };
    assert_eq!(status.code, 429, "{status:?}");
    let back = until_two_ready(&pods, Duration::from_secs(90)).await?;
    eprintln!(
        "measured: after an eviction, two replicas Ready again in {:.1}s",
        back.as_secs_f64()
    );
    Ok(())
}
