//! Growing the cluster to one point of the matrix: K CRDs, M objects spread
//! over (at most ten of) them, and one primary that owns S secondaries.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

use crate::progress::{human, step};

/// The namespace the benchmark seeds.
pub(crate) const NAMESPACE: &str = "bench";
/// The API group of the benchmark's CRDs.
pub(crate) const GROUP: &str = "bench.primary-all.io";
/// Objects are spread over at most this many kinds; the others stay empty,
/// as in a cluster with many CRDs installed and few in use.
const POPULATED_KINDS: usize = 10;
/// Secondaries are spread over this many kinds.
pub(crate) const SECONDARY_KINDS: usize = 5;

/// One point of the benchmark matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Config {
    /// K: the benchmark's CRDs.
    pub(crate) kinds: usize,
    /// M: the objects spread over (at most 10 of) them.
    pub(crate) objects: usize,
    /// S: the secondaries the one primary owns.
    pub(crate) secondaries: usize,
}

impl Config {
    /// k: the kinds that hold the primary's secondaries.
    pub(crate) fn kinds_holding_secondaries(self) -> usize {
        SECONDARY_KINDS.min(self.kinds).min(self.secondaries)
    }
}

/// The name of the j-th secondary and the kind it is of.
pub(crate) fn secondary(config: Config, j: usize) -> (String, ApiResource) {
    (
        format!("sec-{j}"),
        bench_resource(j % SECONDARY_KINDS.min(config.kinds)),
    )
}

/// The i-th benchmark kind, `Bench<i>` of [`GROUP`].
pub(crate) fn bench_resource(i: usize) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, "v1", &format!("Bench{i}")),
        &format!("bench{i}s"),
    )
}

/// Removes the bench namespace and CRDs, and waits until they are gone.
pub(crate) async fn reset(client: &kube::Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(NAMESPACE, &DeleteParams::default()).await;
    let selector = ListParams::default().labels("primary-all/bench=true");
    let _ = crds
        .delete_collection(&DeleteParams::default(), &selector)
        .await;
    // A namespace of 100,000 objects takes minutes to empty; a run that
    // started before it did would measure the leftovers.
    let started = Instant::now();
    let mut told = Instant::now();
    while namespaces.get_opt(NAMESPACE).await?.is_some()
        || !crds.list(&selector).await?.items.is_empty()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "the namespace {NAMESPACE} and the benchmark's CRDs were not gone within 15 minutes"
        );
        if told.elapsed() > Duration::from_secs(10) {
            step(
                "Waiting",
                format!(
                    "for the namespace {NAMESPACE} and the benchmark's CRDs to be deleted ({})",
                    human(started.elapsed())
                ),
            );
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Grows the cluster to `config`: CRDs, objects, and the primary's secondaries.
pub(crate) async fn seed(client: &kube::Client, config: Config) -> Result<()> {
    let started = Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(NAMESPACE).await?.is_none() {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }

    // CRDs: create the missing ones, delete the ones beyond K.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let existing: HashSet<String> = crds
        .list(&ListParams::default().labels("primary-all/bench=true"))
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    for name in existing.iter().filter(|n| {
        n.trim_start_matches("bench")
            .split('s')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i >= config.kinds)
    }) {
        crds.delete(name, &DeleteParams::default()).await?;
    }
    let missing: Vec<usize> = (0..config.kinds)
        .filter(|i| !existing.contains(&format!("bench{i}s.{GROUP}")))
        .collect();
    step(
        "Seeding",
        format!("{} CRDs (K = {})", missing.len(), config.kinds),
    );
    futures::stream::iter(missing.clone())
        .map(|i| {
            let crds = crds.clone();
            async move {
                let crd: CustomResourceDefinition = serde_json::from_value(json!({
                    "metadata": {"name": format!("bench{i}s.{GROUP}"), "labels": {"primary-all/bench": "true"}},
                    "spec": {
                        "group": GROUP,
                        "names": {"kind": format!("Bench{i}"), "plural": format!("bench{i}s"), "singular": format!("bench{i}")},
                        "scope": "Namespaced",
                        "versions": [{"name": "v1", "served": true, "storage": true,
                            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
                    }
                }))?;
                crds.create(&PostParams::default(), &crd).await?;
                let name = format!("bench{i}s.{GROUP}");
                let established = await_condition(crds, &name, conditions::is_crd_established());
                tokio::time::timeout(Duration::from_secs(60), established).await??;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    // Discovery must show every CRD before the server and the client see them.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Objects obj-0 … obj-(M-1), spread over the first kinds.
    let populated = config.kinds.min(POPULATED_KINDS);
    let primary_api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &bench_resource(0));
    let have: usize = {
        let mut total = 0;
        for i in 0..populated {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), NAMESPACE, &bench_resource(i));
            total += api
                .list(&ListParams::default().labels("primary-all/bench-object=true"))
                .await?
                .items
                .len();
        }
        total
    };
    if have < config.objects {
        step(
            "Seeding",
            format!("{} objects (M = {})", config.objects - have, config.objects),
        );
    }
    let created = std::sync::atomic::AtomicUsize::new(0);
    let last_report = std::sync::Mutex::new(Instant::now());
    futures::stream::iter(have..config.objects)
        .map(|n| {
            let client = client.clone();
            let created = &created;
            let last_report = &last_report;
            async move {
                let resource = bench_resource(n % populated);
                let api: Api<DynamicObject> = Api::namespaced_with(client, NAMESPACE, &resource);
                let mut object = DynamicObject::new(&format!("obj-{n}"), &resource);
                object.metadata.labels =
                    Some([("primary-all/bench-object".to_string(), "true".to_string())].into());
                object.data = json!({"spec": {"n": n}});
                match api.create(&PostParams::default(), &object).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(err) => return Err(err.into()),
                }
                let done = created.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let mut last = last_report.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() > Duration::from_secs(5) {
                    eprintln!(
                        "             … {done} objects created ({})",
                        human(started.elapsed())
                    );
                    *last = Instant::now();
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;

    // The primary, and S secondaries it owns, spread over a few kinds.
    let primary = match primary_api.get_opt("primary").await? {
        Some(primary) => primary,
        None => {
            let mut object = DynamicObject::new("primary", &bench_resource(0));
            object.data = json!({"spec": {"role": "primary"}});
            primary_api.create(&PostParams::default(), &object).await?
        }
    };
    let uid = primary
        .metadata
        .uid
        .clone()
        .context("the primary has no uid")?;
    // A point with fewer secondaries than the last one: the extra go.
    for i in 0..SECONDARY_KINDS.min(config.kinds) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), NAMESPACE, &bench_resource(i));
        let listed = api
            .list(&ListParams::default().labels("primary-all/bench-secondary=true"))
            .await?;
        for object in listed.items {
            let name = object.metadata.name.unwrap_or_default();
            let index = name.trim_start_matches("sec-").parse::<usize>().ok();
            if index.is_some_and(|j| j >= config.secondaries) {
                api.delete(&name, &DeleteParams::default()).await?;
            }
        }
    }
    for j in 0..config.secondaries {
        let (name, resource) = secondary(config, j);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
        if api.get_opt(&name).await?.is_some() {
            continue;
        }
        let mut object = DynamicObject::new(&name, &resource);
        object.metadata.labels = Some(
            [(
                "primary-all/bench-secondary".to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        object.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: format!("{GROUP}/v1"),
                kind: "Bench0".to_string(),
                name: "primary".to_string(),
                uid: uid.clone(),
                ..Default::default()
            },
        ]);
        api.create(&PostParams::default(), &object).await?;
    }
    step(
        "Seeded",
        format!(
            "K={} M={} S={} in {}",
            config.kinds,
            config.objects,
            config.secondaries,
            human(started.elapsed())
        ),
    );
    Ok(())
}
