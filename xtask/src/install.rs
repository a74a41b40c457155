//! Installing primary-all on a cluster the way users install it: the
//! manifests of `extension-server/deploy/` (its `kustomization.yaml` says
//! which, in order), a serving certificate as a Secret, and the APIService's
//! `caBundle` filled in. One function for every cluster: the local control
//! plane, kind, or whatever `KUBECONFIG` points at; only the [`Options`]
//! differ.
//!
//! Objects are applied server-side with the field manager
//! `primary-all-install`, so a second install changes only what changed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::json;

use crate::paths;
use crate::progress::{self, step};

/// The namespace every namespaced object of the install lives in.
pub const NAMESPACE: &str = "primary-all";
/// The Secret the Deployment mounts its serving certificate from.
pub const SERVING_SECRET: &str = "primary-all-serving-cert";
/// The APIService that registers the group with the aggregation layer.
pub const API_SERVICE: &str = "v1.primary-all";
/// The names kube-apiserver may dial the Service by; a generated serving
/// certificate carries all of them.
pub const SERVICE_NAMES: [&str; 3] = [
    "primary-all.primary-all.svc",
    "primary-all.primary-all.svc.cluster.local",
    "primary-all.primary-all",
];

const FIELD_MANAGER: &str = "primary-all-install";

/// What differs between clusters.
#[derive(Debug, Clone)]
pub struct Options {
    /// The image the Deployment runs.
    pub image: String,
    /// Where the serving certificate comes from.
    pub serving: Serving,
    /// Where Pods reach kube-apiserver, when not at the `kubernetes`
    /// Service (the local control plane has no kube-proxy).
    pub api_server: Option<(String, u16)>,
}

/// The serving certificate, its key and the CA that signed it (PEM).
#[derive(Debug, Clone)]
pub enum Serving {
    /// Keep the Secret's certificate if there is one; otherwise make a CA of
    /// our own and a certificate for [`SERVICE_NAMES`].
    Generate,
    /// Use these (the local control plane's PKI, which the direct tests
    /// trust).
    Given {
        /// The serving certificate.
        cert: String,
        /// Its private key.
        key: String,
        /// The CA that signed it: the APIService's `caBundle`.
        ca: String,
    },
}

/// Installs primary-all on the cluster `kubeconfig` points at and waits
/// until both replicas are Ready and the APIService is Available.
pub fn install(kubeconfig: PathBuf, options: &Options) -> Result<()> {
    runtime()?.block_on(async {
        let client = client(kubeconfig).await?;
        install_with(&client, options).await
    })
}

/// Removes what [`install`] made.
pub fn uninstall(kubeconfig: PathBuf) -> Result<()> {
    runtime()?.block_on(async {
        let client = client(kubeconfig).await?;
        uninstall_with(&client).await
    })
}

/// Installs on the local control plane: the image made here and imported
/// into the node, the serving certificate of the local PKI (which the
/// direct tests trust), and kube-apiserver at the bridge's address.
pub fn local() -> Result<()> {
    let state = crate::control_plane::State::load().context("the control plane is not up")?;
    let built = crate::server_image::build()?;
    crate::server_image::import_into_node(&built)?;
    let pki = crate::control_plane::pki::Pki::at(paths::control_plane_dir().join("pki"));
    let read = |file: &str| {
        std::fs::read_to_string(pki.path(file))
            .with_context(|| format!("failed to read {}", pki.path(file).display()))
    };
    let options = Options {
        image: built.reference,
        serving: Serving::Given {
            cert: read("extension-serving.crt")?,
            key: read("extension-serving.key")?,
            ca: read("extension-ca.crt")?,
        },
        api_server: Some((
            crate::control_plane::node::pod_gateway(),
            state.apiserver_port,
        )),
    };
    install(paths::kubeconfig(), &options)
}

/// Installs on the kind cluster: the image made here, loaded with `kind
/// load`, and a serving certificate of its own.
pub fn kind() -> Result<()> {
    let built = crate::server_image::build()?;
    crate::server_image::load_into_kind(&built)?;
    let options = Options {
        image: built.reference,
        serving: Serving::Generate,
        api_server: None,
    };
    install(crate::kind::kubeconfig(), &options)
}

/// Installs on whatever `KUBECONFIG` points at, with `image` or the
/// published image of this version.
pub fn existing(image: Option<String>) -> Result<()> {
    let options = Options {
        image: image.unwrap_or_else(crate::server_image::published_reference),
        serving: Serving::Generate,
        api_server: None,
    };
    install(kubeconfig_from_env()?, &options)
}

/// The file `KUBECONFIG` names (the first, when it lists several).
pub fn kubeconfig_from_env() -> Result<PathBuf> {
    let value = std::env::var_os("KUBECONFIG")
        .context("KUBECONFIG is not set: point it at the cluster to install on")?;
    std::env::split_paths(&value)
        .next()
        .context("KUBECONFIG is empty")
}

/// The address of one Ready Pod of the local install, for the tests that
/// call the server directly.
pub fn a_pod_address() -> Result<String> {
    runtime()?.block_on(async {
        let client = client(paths::kubeconfig()).await?;
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, NAMESPACE);
        let listed = pods
            .list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=primary-all"))
            .await?;
        listed
            .items
            .into_iter()
            .filter(|pod| {
                pod.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .find_map(|pod| pod.status.and_then(|s| s.pod_ip))
            .context("no Ready Pod of primary-all has an address")
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn client(kubeconfig: PathBuf) -> Result<kube::Client> {
    let options = kube::config::KubeConfigOptions::default();
    let kubeconfig = kube::config::Kubeconfig::read_from(&kubeconfig)
        .with_context(|| format!("failed to read {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
    Ok(kube::Client::try_from(config)?)
}

async fn install_with(client: &kube::Client, options: &Options) -> Result<()> {
    let started = Instant::now();
    let objects = manifests()?;
    let (namespace, rest): (Vec<_>, Vec<_>) =
        objects.into_iter().partition(|o| kind_of(o) == "Namespace");
    let rest: Vec<_> = rest
        .into_iter()
        .filter(|o| kind_of(o) != "APIService")
        .collect();

    for object in &namespace {
        apply(client, object).await?;
    }
    let ca = serving_secret(client, &options.serving).await?;
    for object in rest {
        let object = match kind_of(&object).as_str() {
            "Deployment" => with_image_and_api_server(object, options)?,
            _ => object,
        };
        apply(client, &object).await?;
    }
    wait_for_replicas(client).await?;
    register(client, &ca).await?;
    step(
        "Installed",
        format!(
            "primary-all ({}) in namespace {NAMESPACE}: 2 replicas Ready, APIService \
             {API_SERVICE} Available, {} in all",
            options.image,
            progress::human(started.elapsed())
        ),
    );
    Ok(())
}

/// Applies the APIService with `ca` as its `caBundle`, which points
/// kube-apiserver at the installed Pods' Service, and waits until it is
/// Available.
async fn register(client: &kube::Client, ca: &str) -> Result<()> {
    for mut object in manifests()?
        .into_iter()
        .filter(|o| kind_of(o) == "APIService")
    {
        object.data["spec"]["caBundle"] = json!(STANDARD.encode(ca));
        apply(client, &object).await?;
    }
    wait_for_available(client).await
}

/// Points the local control plane's APIService back at the installed Pods
/// (the fault tests had it at the host process), without installing again.
pub fn point_local_at_pods() -> Result<()> {
    let pki = crate::control_plane::pki::Pki::at(paths::control_plane_dir().join("pki"));
    let ca = std::fs::read_to_string(pki.path("extension-ca.crt"))
        .context("failed to read the local serving CA")?;
    runtime()?.block_on(async {
        let client = client(paths::kubeconfig()).await?;
        register(&client, &ca).await
    })
}

/// Every object of the kustomization's resources, in its order.
pub fn manifests() -> Result<Vec<DynamicObject>> {
    let deploy = paths::workspace_root().join("extension-server/deploy");
    let kustomization: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(deploy.join("kustomization.yaml"))
            .context("failed to read extension-server/deploy/kustomization.yaml")?,
    )?;
    let resources = kustomization["resources"]
        .as_array()
        .context("kustomization.yaml lists no resources")?;
    let mut objects = Vec::new();
    for resource in resources {
        let file = resource.as_str().context("a resource that is not a path")?;
        let text = std::fs::read_to_string(deploy.join(file))
            .with_context(|| format!("failed to read extension-server/deploy/{file}"))?;
        let documents: Vec<DynamicObject> = serde_saphyr::from_multiple(&text)
            .with_context(|| format!("extension-server/deploy/{file} is not valid YAML"))?;
        objects.extend(documents);
    }
    Ok(objects)
}

fn kind_of(object: &DynamicObject) -> String {
    object
        .types
        .as_ref()
        .map(|t| t.kind.clone())
        .unwrap_or_default()
}

/// The Deployment with `image`, and the address of kube-apiserver when the
/// cluster needs one given.
fn with_image_and_api_server(
    mut object: DynamicObject,
    options: &Options,
) -> Result<DynamicObject> {
    let container = &mut object.data["spec"]["template"]["spec"]["containers"][0];
    if !container.is_object() {
        bail!("the Deployment in extension-server/deploy/ has no container");
    }
    container["image"] = json!(options.image);
    if let Some((host, port)) = &options.api_server {
        container["env"] = json!([
            {"name": "KUBERNETES_SERVICE_HOST", "value": host},
            {"name": "KUBERNETES_SERVICE_PORT", "value": port.to_string()},
        ]);
    }
    Ok(object)
}

/// The `Api` that serves `object` (its kind found by discovery, in its
/// namespace or the install's), with its kind and name for messages.
async fn api_for(
    client: &kube::Client,
    object: &DynamicObject,
) -> Result<(Api<DynamicObject>, String, String)> {
    let types = object
        .types
        .as_ref()
        .context("an object without apiVersion/kind")?;
    let gvk = GroupVersionKind::try_from(types)?;
    let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("the cluster does not serve {}", types.kind))?;
    let name = object
        .metadata
        .name
        .clone()
        .context("an object without a name")?;
    let api = match capabilities.scope {
        kube::discovery::Scope::Namespaced => Api::namespaced_with(
            client.clone(),
            object.metadata.namespace.as_deref().unwrap_or(NAMESPACE),
            &resource,
        ),
        kube::discovery::Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    Ok((api, types.kind.clone(), name))
}

/// Server-side apply of one object, whatever its kind.
async fn apply(client: &kube::Client, object: &DynamicObject) -> Result<()> {
    let (api, kind, name) = api_for(client, object).await?;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .with_context(|| format!("failed to apply {kind} {name}"))?;
    step("Applied", format!("{kind} {name}"));
    Ok(())
}

/// Makes sure the serving Secret exists, and returns the CA (PEM) for the
/// APIService's `caBundle`.
async fn serving_secret(client: &kube::Client, serving: &Serving) -> Result<String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let (cert, key, ca) = match serving {
        Serving::Given { cert, key, ca } => (cert.clone(), key.clone(), ca.clone()),
        Serving::Generate => {
            if let Some(existing) = secrets.get_opt(SERVING_SECRET).await? {
                let field = |name: &str| {
                    existing
                        .data
                        .as_ref()
                        .and_then(|d| d.get(name))
                        .map(|b| String::from_utf8_lossy(&b.0).to_string())
                };
                if let (Some(_), Some(_), Some(ca)) =
                    (field("tls.crt"), field("tls.key"), field("ca.crt"))
                {
                    step(
                        "Keeping",
                        format!("Secret {SERVING_SECRET} (its certificate and CA)"),
                    );
                    return Ok(ca);
                }
            }
            generate_serving_certificate()?
        }
    };
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SERVING_SECRET, "namespace": NAMESPACE},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert, "tls.key": key, "ca.crt": ca},
    }))?;
    secrets
        .patch(
            SERVING_SECRET,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .context("failed to apply the serving Secret")?;
    step(
        "Applied",
        format!("Secret {SERVING_SECRET} (serving certificate)"),
    );
    Ok(ca)
}

/// A CA of our own and a serving certificate for [`SERVICE_NAMES`], valid
/// for rcgen's default span: (certificate, key, CA), PEM.
pub fn generate_serving_certificate() -> Result<(String, String, String)> {
    use crate::control_plane::pki;
    let ca = pki::new_ca("primary-all serving CA")?;
    let (params, key) = pki::leaf(
        SERVICE_NAMES[0],
        &[],
        &SERVICE_NAMES,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let cert = params.signed_by(&key, &ca)?;
    Ok((cert.pem(), key.serialize_pem(), ca.pem()))
}

/// Waits until the Deployment's Pods of its current template are all Ready.
async fn wait_for_replicas(client: &kube::Client) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let started = Instant::now();
    let mut told = Instant::now();
    step(
        "Waiting",
        "for the Deployment primary-all's replicas to be Ready",
    );
    loop {
        let deployment = deployments.get("primary-all").await?;
        let wanted = deployment.spec.replicas.unwrap_or(1);
        let status = deployment.status.unwrap_or_default();
        let current = deployment.metadata.generation <= status.observed_generation;
        let updated = status.updated_replicas.unwrap_or(0);
        let ready = status.ready_replicas.unwrap_or(0);
        let total = status.replicas.unwrap_or(0);
        if current && updated == wanted && ready == wanted && total == wanted {
            step(
                "Ready",
                format!(
                    "{ready}/{wanted} replicas after {}",
                    progress::human(started.elapsed())
                ),
            );
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(180) {
            bail!(
                "the Deployment primary-all has {ready}/{wanted} Ready replicas ({updated} \
                 updated) after 3 minutes; see `kubectl -n {NAMESPACE} describe pods`"
            );
        }
        if told.elapsed() > Duration::from_secs(5) {
            step(
                "Waiting",
                format!("{ready}/{wanted} Ready, {updated} updated"),
            );
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until kube-apiserver reports the APIService Available.
async fn wait_for_available(client: &kube::Client) -> Result<()> {
    let api_services: Api<APIService> = Api::all(client.clone());
    let started = Instant::now();
    loop {
        let available = api_services
            .get(API_SERVICE)
            .await?
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Available");
        if available.as_ref().is_some_and(|c| c.status == "True") {
            step(
                "Ready",
                format!(
                    "APIService {API_SERVICE} Available after {}",
                    progress::human(started.elapsed())
                ),
            );
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            let why = available
                .and_then(|c| c.message)
                .unwrap_or_else(|| "no Available condition".to_string());
            bail!("APIService {API_SERVICE} is not Available after 60s: {why}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn uninstall_with(client: &kube::Client) -> Result<()> {
    // The APIService first, so that kube-apiserver stops proxying before
    // the Pods go; then every other object, the namespace last.
    let mut objects = manifests()?;
    objects.sort_by_key(|o| match kind_of(o).as_str() {
        "APIService" => 0,
        "Namespace" => 2,
        _ => 1,
    });
    for object in objects {
        // A kind the cluster no longer serves holds nothing to delete.
        let Ok((api, kind, name)) = api_for(client, &object).await else {
            continue;
        };
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => step("Deleted", format!("{kind} {name}")),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => {
                return Err(err).with_context(|| format!("failed to delete {kind} {name}"));
            }
        }
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let started = Instant::now();
    while namespaces.get_opt(NAMESPACE).await?.is_some() {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("namespace {NAMESPACE} is still there after 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    step("Uninstalled", "primary-all");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kustomization_lists_every_manifest_a_cluster_needs() {
        let objects = manifests().unwrap();
        let kinds: Vec<String> = objects.iter().map(kind_of).collect();
        for kind in [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
            "APIService",
        ] {
            assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
        }
        // The namespace comes first, so that everything else has one.
        assert_eq!(kinds[0], "Namespace");
    }

    #[test]
    fn the_deployment_gets_the_image_and_where_kube_apiserver_is() {
        let deployment = manifests()
            .unwrap()
            .into_iter()
            .find(|o| kind_of(o) == "Deployment")
            .unwrap();
        let options = Options {
            image: "localhost/primary-all/extension-server:0.1.0-abc".to_string(),
            serving: Serving::Generate,
            api_server: Some(("10.88.1.1".to_string(), 6443)),
        };
        let changed = with_image_and_api_server(deployment, &options).unwrap();
        let container = &changed.data["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], options.image);
        assert_eq!(
            container["env"],
            json!([
                {"name": "KUBERNETES_SERVICE_HOST", "value": "10.88.1.1"},
                {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
            ])
        );
    }

    #[test]
    fn a_generated_certificate_is_trusted_by_its_ca_for_the_service_and_nothing_else() {
        use rustls::client::danger::ServerCertVerifier as _;
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

        let (cert, _key, ca) = generate_serving_certificate().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let leaf = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        let verify = |name: &'static str| {
            verifier.verify_server_cert(
                &leaf,
                &[],
                &ServerName::try_from(name).unwrap(),
                &[],
                UnixTime::now(),
            )
        };

        // What kube-apiserver dials: the Service's name in its namespace.
        for name in SERVICE_NAMES {
            assert!(verify(name).is_ok(), "{name} is not trusted");
        }
        assert!(verify("kubernetes.default.svc").is_err());
    }
}
