//! An operator that no one here wrote: cert-manager's controllers (pinned in
//! `tests/control-plane/cert-manager/go.mod`), run as a host process against
//! the cluster, issue a self-signed `Certificate`. One request for the
//! Certificate brings back what cert-manager made for it, with a health
//! taken from cert-manager's own conditions, and only what the caller may
//! read.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # builds the controller once, passes it and the CRDs
//! ```

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use primary_all::wire::{HealthStatus, LeftOutReason, PrimaryWithSecondaries};
use serde_json::json;

/// cert-manager's controller, a child of the test. Dropping it kills the
/// process, so a test that fails half-way leaves no controller behind to
/// reconcile the next run's objects.
struct Controller {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("cert-manager's log: {}", self.log.display());
    }
}

#[tokio::test]
#[ignore = "needs a cluster and cert-manager's controller: cargo xtask test"]
async fn a_certificate_comes_back_with_what_cert_manager_made_for_it() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let binary = std::env::var("PRIMARY_ALL_CERT_MANAGER_CONTROLLER").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_CERT_MANAGER_CONTROLLER is not set: run through cargo xtask test, \
             or eval \"$(cargo xtask operators)\" first"
        )
    })?;
    let crd_folder = std::env::var("PRIMARY_ALL_CERT_MANAGER_CRDS").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_CERT_MANAGER_CRDS is not set: run through cargo xtask test, \
             or eval \"$(cargo xtask operators)\" first"
        )
    })?;
    let kubeconfig = std::env::var("KUBECONFIG")
        .map_err(|_| anyhow::anyhow!("KUBECONFIG is not set: run through cargo xtask test"))?;

    // Given cert-manager's CRDs, applied server-side as its users apply them
    // (the Certificate CRD is larger than client-side apply's annotation allows)
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut files: Vec<_> = std::fs::read_dir(&crd_folder)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut crd_names = Vec::new();
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
        crd_names.push(name);
    }
    assert_eq!(
        crd_names,
        [
            "challenges.acme.cert-manager.io",
            "orders.acme.cert-manager.io",
            "certificaterequests.cert-manager.io",
            "certificates.cert-manager.io",
            "clusterissuers.cert-manager.io",
            "issuers.cert-manager.io",
        ]
    );

    // And cert-manager's controller, running on this machine against the
    // cluster, for this test's namespace only
    let namespace = kube_test_utils::TestNamespace::create(&client, "cert-manager").await?;
    let ns = namespace.name();
    let log = std::env::temp_dir().join(format!("{ns}-controller.log"));
    let child = Command::new(&binary)
        .arg(format!("--kubeconfig={kubeconfig}"))
        // Only this namespace: other tests' namespaces, and whatever else
        // the cluster holds, are none of its business.
        .arg(format!("--namespace={ns}"))
        // cert-manager's own documented option (off by default): the
        // Certificate becomes an owner of the Secret it writes, so the Secret
        // is a secondary by ownerReference and goes when the Certificate goes.
        .arg("--enable-certificate-owner-ref=true")
        // The control loops a self-signed Certificate needs, by cert-manager's
        // names. Left out: ACME (it solves challenges through Pods, Services
        // and Ingresses on the internet), the Vault, Venafi and CA signers,
        // the Ingress and Gateway shims, and ClusterIssuers (a namespaced
        // controller may not own cluster-scoped objects).
        .arg(
            "--controllers=certificates-trigger,certificates-key-manager,\
             certificates-request-manager,certificates-issuing,certificates-readiness,\
             certificates-revision-manager,certificaterequests-approver,\
             certificaterequests-issuer-selfsigned,issuers",
        )
        // Enough of its log to see each sync if the test fails.
        .arg("--v=2")
        // No --leader-elect=false: the wiring in tests/control-plane/cert-manager
        // runs no leader election at all (one controller, one test).
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .map_err(|e| anyhow::anyhow!("failed to start {binary}: {e}"))?;
    let controller = Controller { child, log };

    // And a self-signed Issuer and a Certificate it issues
    let issuers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cert-manager.io", "v1", "Issuer"),
            "issuers",
        ),
    );
    let issuer: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
        "metadata": { "name": "self-signed" },
        "spec": { "selfSigned": {} }
    }))?;
    issuers
        .patch(
            "self-signed",
            &PatchParams::apply("primary-all-tests"),
            &Patch::Apply(&issuer),
        )
        .await?;
    let certificates: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate"),
            "certificates",
        ),
    );
    let certificate: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": { "name": "web" },
        "spec": {
            "secretName": "web-tls",
            "dnsNames": ["web.example.test"],
            "issuerRef": { "name": "self-signed", "kind": "Issuer", "group": "cert-manager.io" }
        }
    }))?;
    certificates
        .patch(
            "web",
            &PatchParams::apply("primary-all-tests"),
            &Patch::Apply(&certificate),
        )
        .await?;

    // And cert-manager has issued it: its Ready condition is True
    let is_ready = |certificate: Option<&DynamicObject>| {
        certificate
            .and_then(|c| c.data["status"]["conditions"].as_array())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    };
    let issued = await_condition(certificates.clone(), "web", is_ready);
    if tokio::time::timeout(Duration::from_secs(60), issued)
        .await
        .is_err()
    {
        let last = certificates.get("web").await?;
        anyhow::bail!(
            "cert-manager did not make the Certificate Ready within 60 s; its status: {}; \
             the controller's log is in {}",
            last.data["status"],
            controller.log.display()
        );
    }
    let certificate = certificates.get("web").await?;
    let uid = certificate.metadata.uid.clone().unwrap_or_default();

    // And what a person reads without primary-all: the Certificate, then
    // every kind cert-manager may have made for it, filtered by owner
    let requests: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cert-manager.io", "v1", "CertificateRequest"),
            "certificaterequests",
        ),
    );
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Secret"), "secrets"),
    );
    let owned_by_certificate = |o: &DynamicObject| {
        o.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == uid)
    };
    // cert-manager deletes the private key it kept for the next issuance
    // (a Secret the Certificate owns) once the issuance is done: wait until
    // only the Secret named by spec.secretName is left.
    let settled = async {
        loop {
            let owned_requests: Vec<String> = requests
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .filter(|o| owned_by_certificate(o))
                .map(|o| format!("CertificateRequest/{}", o.metadata.name.clone().unwrap()))
                .collect();
            let owned_secrets: Vec<String> = secrets
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .filter(|o| owned_by_certificate(o))
                .map(|o| format!("Secret/{}", o.metadata.name.clone().unwrap()))
                .collect();
            if owned_secrets == ["Secret/web-tls"] {
                return anyhow::Ok([owned_requests, owned_secrets].concat());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let mut made = tokio::time::timeout(Duration::from_secs(30), settled).await??;
    made.sort();
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(made[0].starts_with("CertificateRequest/web-"), "{made:?}");
    assert_eq!(made[1], "Secret/web-tls");
    // Without primary-all, a person who knows what cert-manager makes sends
    // one GET for the Certificate and one LIST per kind it makes; one who
    // does not lists every namespaced kind the cluster serves.
    // (Discovery can fail while another test's aggregated API is down; the
    // count is then only not printed.)
    let namespaced_listable = match kube::Discovery::new(client.clone()).run().await {
        Ok(discovery) => discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .filter(|(resource, capabilities)| {
                capabilities.scope == kube::discovery::Scope::Namespaced
                    && capabilities.supports_operation(kube::discovery::verbs::LIST)
                    && resource.group != "primary-all"
            })
            .count()
            .to_string(),
        Err(e) => format!("(discovery failed: {e})"),
    };
    eprintln!(
        "measured: a Certificate and what cert-manager made for it: {} objects of 3 kinds \
         (Certificate/web, {}); without primary-all: 3 requests \
         (GET certificates/web, LIST certificaterequests, LIST secrets, then a filter by \
         ownerReference uid) when one knows which kinds cert-manager makes, or 1 + {} LISTs \
         when one does not (every namespaced kind this cluster serves); with primary-all: 1 request",
        made.len() + 1,
        made.join(", "),
        namespaced_listable,
    );

    // When the Certificate is asked for as a tree (once the server's watch
    // index has seen what cert-manager made)
    let path = format!("/apis/primary-all/v1/cert-manager.io/v1/Certificate/{ns}/web?view=tree");
    let secondaries = |answer: &PrimaryWithSecondaries| {
        let mut found: Vec<String> = answer
            .sec_res
            .items
            .iter()
            .map(|o| {
                let kind = o.types.clone().unwrap_or_default().kind;
                format!("{kind}/{}", o.metadata.name.clone().unwrap_or_default())
            })
            .collect();
        found.sort();
        found
    };
    let mut last = None;
    let found = async {
        loop {
            let request = http::Request::get(&path).body(Vec::new())?;
            let answer: PrimaryWithSecondaries = client.request(request).await?;
            if secondaries(&answer) == made {
                return anyhow::Ok(answer);
            }
            last = Some(answer);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let answered = tokio::time::timeout(Duration::from_secs(30), found).await;
    let answer = match answered {
        Ok(answer) => answer?,
        Err(_) => anyhow::bail!(
            "primary-all did not answer with {made:?} within 30 s; its last answer: {}",
            serde_json::to_string(&last)?
        ),
    };

    // Then the CertificateRequest and the Secret come back, nothing left out
    assert_eq!(secondaries(&answer), made);
    assert!(answer.left_out.is_empty(), "{:?}", answer.left_out);
    // And the tree holds both below the Certificate, by ownerReference
    let tree = answer.tree.clone().expect("view=tree answers with a tree");
    assert_eq!(
        (tree.kind.as_str(), tree.name.as_str()),
        ("Certificate", "web")
    );
    let mut children: Vec<(String, Option<String>)> = tree
        .children
        .iter()
        .map(|c| (format!("{}/{}", c.kind, c.name), c.link.clone()))
        .collect();
    children.sort();
    assert_eq!(
        children,
        [
            (made[0].clone(), Some("ownerReference".to_string())),
            (made[1].clone(), Some("ownerReference".to_string())),
        ]
    );
    // And each one's health comes from what cert-manager says of it: the
    // Certificate's and the CertificateRequest's Ready conditions are True
    // (the request is Approved too), and a Secret has no status to wait for
    let request = requests
        .get(made[0].trim_start_matches("CertificateRequest/"))
        .await?;
    let condition = |object: &DynamicObject, type_: &str| {
        object.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_)
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(condition(&certificate, "Ready").as_deref(), Some("True"));
    assert_eq!(condition(&request, "Ready").as_deref(), Some("True"));
    assert_eq!(condition(&request, "Approved").as_deref(), Some("True"));
    let own_health = |name: &str| {
        if name == "Certificate/web" {
            return tree.health.clone().map(|h| h.status);
        }
        tree.children
            .iter()
            .find(|c| format!("{}/{}", c.kind, c.name) == name)
            .and_then(|c| c.health.clone())
            .map(|h| h.status)
    };
    assert_eq!(own_health("Certificate/web"), Some(HealthStatus::Ready));
    assert_eq!(own_health(&made[0]), Some(HealthStatus::Ready));
    assert_eq!(own_health(&made[1]), Some(HealthStatus::Ready));
    // And so the answer's rolled-up health is Ready
    let health = answer.health.clone().expect("every answer has a health");
    assert_eq!(health.status, HealthStatus::Ready, "{health:?}");

    // Given a user, olivia, who may read Certificates and CertificateRequests
    // here and use the primary-all routes, but not Secrets (which hold the
    // private key)
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "certificates-but-no-secrets" },
        "rules": [
            { "apiGroups": ["cert-manager.io"], "resources": ["certificates", "certificaterequests"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["*"], "verbs": ["get", "list", "watch"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&Default::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "olivia-reads-certificates" },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
            "name": "certificates-but-no-secrets"
        },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "olivia" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&Default::default(), &binding)
        .await?;
    let mut olivia_config = kube::Config::infer().await?;
    olivia_config.auth_info.impersonate = Some("olivia".to_string());
    let olivia = kube::Client::try_from(olivia_config)?;

    // When olivia asks for the Certificate, by the namespaced path: to
    // kube-apiserver the group/version/Kind path is a cluster-scoped
    // resource of the primary-all group, which her Role cannot grant
    let path =
        format!("/apis/primary-all/v1/namespaces/{ns}/certificates.cert-manager.io/web?view=tree");
    let request = http::Request::get(&path).body(Vec::new())?;
    let olivias: serde_json::Value = olivia.request(request).await?;

    // Then she sees the CertificateRequest, and not the Secret
    let typed: PrimaryWithSecondaries = serde_json::from_value(olivias.clone())?;
    assert_eq!(secondaries(&typed), [made[0].clone()]);
    // And the Secret's kind is named as left out, as Forbidden, in this namespace
    let left: Vec<(String, String, LeftOutReason, Option<String>)> = typed
        .left_out
        .iter()
        .map(|l| {
            (
                l.group.clone(),
                l.kind.clone(),
                l.reason,
                l.namespace.clone(),
            )
        })
        .collect();
    assert_eq!(
        left,
        [(
            String::new(),
            "Secret".to_string(),
            LeftOutReason::Forbidden,
            Some(ns.to_string())
        )]
    );
    // And no object in her answer is the Secret, and nothing carries its
    // certificate or key (the Certificate she may read names it in
    // spec.secretName: that much is hers to know)
    let tree = typed.tree.clone().expect("view=tree answers with a tree");
    let shown: Vec<String> = tree
        .children
        .iter()
        .map(|c| format!("{}/{}", c.kind, c.name))
        .collect();
    assert_eq!(shown, [made[0].clone()]);
    let text = olivias.to_string();
    assert!(!text.contains("tls.key"), "{text}");
    assert!(!text.contains("tls.crt"), "{text}");
    // And what she may see is Ready
    let health = typed.health.clone().expect("every answer has a health");
    assert_eq!(health.status, HealthStatus::Ready, "{health:?}");

    drop(controller);
    namespace.delete().await?;
    for name in &crd_names {
        crds.delete(name, &Default::default()).await?;
    }
    Ok(())
}
