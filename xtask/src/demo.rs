//! `cargo xtask demo`: the main job, from nothing to a primary and its
//! secondaries on screen, then the book.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::book;
use crate::control_plane;
use crate::paths;
use crate::progress::{self, step};

/// The example manifests the demo applies, in order.
pub const EXAMPLE: [&str; 2] = ["database-crd.yaml", "db-1.yaml"];

/// Boots the cluster, applies the example, prints what it made, and serves
/// the book unless `serve` is false (then the cluster stays up for kubectl).
pub fn run(serve: bool) -> Result<()> {
    control_plane::up()?;
    // primary-all as users run it: two replicas behind the APIService.
    crate::install::local()?;
    apply_example()?;
    operator()?;

    // What a person runs: the kubectl plugin, on PATH from this checkout.
    let path = plugin_path()?;
    for args in [
        &["get", "apiservice", "v1.primary-all"][..],
        &["get", "pods", "-n", "primary-all", "-o", "wide"][..],
        &["primary-all", "get", "database/db-1", "-n", "default"][..],
        &[
            "primary-all",
            "get",
            "certificate/demo-tls",
            "-n",
            "default",
        ][..],
        &["primary-all", "toplevel", "-n", "default"][..],
    ] {
        step("Running", format!("kubectl {}", args.join(" ")));
        println!();
        // Not `control_plane::kubectl()`: kubectl finds a plugin only when
        // its name comes before any flag, so the kubeconfig goes in the env.
        let mut plugin = Command::new(control_plane::binaries::binary("kubectl"));
        plugin
            .env("PATH", &path)
            .env("KUBECONFIG", paths::kubeconfig())
            .args(args);
        progress::run(plugin)?;
        println!();
    }

    println!("The cluster stays up. Try:");
    println!("  export KUBECONFIG={}", paths::kubeconfig().display());
    println!(
        "  export PATH={}:$PATH",
        std::env::split_paths(&path)
            .take(2)
            .map(|dir| dir.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    println!("  kubectl primary-all get database/db-1 -o wide --watch");
    println!("  kubectl primary-all owners configmap/db-1-config");
    println!(
        "  kubectl get --raw /apis/primary-all/v1/namespaces/default/databases.example.com/db-1"
    );
    println!("  cargo xtask cluster down    # when you are done");
    println!();

    if serve {
        book::serve()?;
    }
    Ok(())
}

/// Applies the example Database db-1 and what its operator would have
/// made, and waits until the Deployment's two Pods are Ready on the node.
pub fn apply_example() -> Result<()> {
    let example = paths::workspace_root().join("extension-server/deploy/example");

    step("Applying", "the Database CRD (example.com/v1)");
    let mut crd = control_plane::kubectl();
    crd.args(["apply", "--server-side", "-f"])
        .arg(example.join(EXAMPLE[0]));
    progress::run(crd)?;
    let mut established = control_plane::kubectl();
    established.args([
        "wait",
        "--for=condition=Established",
        "crd/databases.example.com",
        "--timeout=60s",
    ]);
    progress::run(established)?;

    step("Applying", "Database db-1");
    let mut db = control_plane::kubectl();
    db.args(["apply", "--server-side", "-f"])
        .arg(example.join(EXAMPLE[1]));
    progress::run(db)?;

    step(
        "Applying",
        "db-1's secondaries: a labelled Secret; an owned Service, ConfigMap and Deployment",
    );
    let mut uid = control_plane::kubectl();
    uid.args([
        "get",
        "databases.example.com",
        "db-1",
        "-n",
        "default",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let uid = progress::output(uid)?;
    let secondaries = paths::control_plane_dir().join("demo-secondaries.yaml");
    std::fs::write(&secondaries, secondaries_manifest(uid.trim()))?;
    let mut apply = control_plane::kubectl();
    apply
        .args(["apply", "--server-side", "-f"])
        .arg(&secondaries);
    progress::run(apply)?;
    step(
        "Waiting",
        "for the Deployment's Pods to run on the node and become Ready",
    );
    let mut available = control_plane::kubectl();
    available.args([
        "wait",
        "--for=condition=Available",
        "deployment/db-1-pooler",
        "-n",
        "default",
        "--timeout=90s",
    ]);
    progress::run(available)?;
    let mut ready = control_plane::kubectl();
    ready.args([
        "wait",
        "--for=jsonpath={.status.readyReplicas}=2",
        "deployment/db-1-pooler",
        "-n",
        "default",
        "--timeout=90s",
    ]);
    progress::run(ready)?;
    Ok(())
}

/// Builds the kubectl plugin and returns a PATH on which kubectl finds it:
/// the plugin's directory, then kubectl's, then the caller's PATH.
pub fn plugin_path() -> Result<std::ffi::OsString> {
    step("Building", "the kubectl plugin (kubectl-primary_all)");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.current_dir(paths::workspace_root()).args([
        "build",
        "--quiet",
        "--locked",
        "--package",
        "kubectl-primary-all",
    ]);
    progress::run(build)?;
    let bin = control_plane::extension::binary_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let kubectl_dir = control_plane::binaries::binary("kubectl")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok(std::env::join_paths([bin, kubectl_dir].into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?)
}

/// What db-1's operator would have made: one object linked by label, three
/// by ownerReference, one of them a Deployment whose ReplicaSet and Pods the
/// controllers make and the node runs. Its image is the node's own idle
/// image (there is no registry), so the Pods become Running and Ready.
fn secondaries_manifest(uid: &str) -> String {
    let image = control_plane::node::IDLE_IMAGE;
    let owner = format!(
        "  ownerReferences:\n  - {{apiVersion: example.com/v1, kind: Database, name: db-1, uid: {uid}, controller: true}}"
    );
    format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: db-1-credentials
  namespace: default
  labels: {{primary-all/primary-uid: {uid}}}
stringData: {{password: demo-only}}
---
apiVersion: v1
kind: Service
metadata:
  name: db-1
  namespace: default
{owner}
spec:
  selector: {{app: db-1}}
  ports: [{{port: 5432}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: db-1-config
  namespace: default
{owner}
data: {{postgresql.conf: max_connections = 100}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: db-1-pooler
  namespace: default
{owner}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: db-1-pooler}}}}
  template:
    metadata: {{labels: {{app: db-1-pooler}}}}
    spec:
      containers: [{{name: pgbouncer, image: \"{image}\", imagePullPolicy: Never}}]
"
    )
}

/// An operator no one here wrote: cert-manager (built once from its pinned
/// Go module), run as a host process for the `default` namespace, issues a
/// self-signed Certificate; `cluster down` stops it. A controller already
/// running (an earlier demo on the same cluster) is left as it is.
pub fn operator() -> Result<()> {
    let binary = crate::operators::ensure_controller()?;
    let crds = crate::operators::crds_folder()?;
    step(
        "Applying",
        format!(
            "cert-manager {}'s CRDs",
            crate::operators::CERT_MANAGER_VERSION
        ),
    );
    let mut apply = control_plane::kubectl();
    apply.args(["apply", "--server-side", "-f"]).arg(&crds);
    progress::output(apply)?;
    let mut established = control_plane::kubectl();
    established.args([
        "wait",
        "--for=condition=Established",
        "crd/certificates.cert-manager.io",
        "crd/certificaterequests.cert-manager.io",
        "crd/issuers.cert-manager.io",
        "--timeout=60s",
    ]);
    progress::output(established)?;

    let mut cmd = Command::new(&binary);
    cmd.arg(format!("--kubeconfig={}", paths::kubeconfig().display()))
        .arg("--namespace=default")
        // cert-manager's own option: the Certificate owns its Secret.
        .arg("--enable-certificate-owner-ref=true");
    let controller = control_plane::component("cert-manager");
    if controller.pid().is_none() {
        step(
            "Starting",
            "cert-manager's controller for namespace default (a host process)",
        );
        controller.start(cmd)?;
    }

    step(
        "Applying",
        "a self-signed Issuer and Certificate demo-tls (cert-manager makes a CertificateRequest and a Secret)",
    );
    let manifest = paths::control_plane_dir().join("demo-certificate.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: self-signed
  namespace: default
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: demo-tls
  namespace: default
spec:
  secretName: demo-tls
  commonName: demo.example.com
  dnsNames: [demo.example.com]
  issuerRef:
    name: self-signed
    kind: Issuer
",
    )?;
    let mut apply = control_plane::kubectl();
    apply.args(["apply", "--server-side", "-f"]).arg(&manifest);
    progress::output(apply)?;
    let mut ready = control_plane::kubectl();
    ready.args([
        "wait",
        "--for=condition=Ready",
        "certificate/demo-tls",
        "-n",
        "default",
        "--timeout=60s",
    ]);
    progress::output(ready)?;
    Ok(())
}
