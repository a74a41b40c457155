//! Who asks: a person who may read the benchmark's namespace, not the
//! cluster's admin.
//!
//! The admin is in `system:masters`, for whom kube-apiserver's authorizer
//! says yes before RBAC is asked and for whom the extension server's
//! SubjectAccessReviews would be the only reviews of the answer; a user
//! bound to a role is what an answer costs in a real cluster. Users are
//! minted as client certificates of the local cluster CA (its key is on
//! disk, as kubeadm keeps it): CN is the user, O the group, which the
//! benchmark's ClusterRoleBinding binds.
//!
//! A *warm* caller is one user and one client for a whole run: after the
//! first answer, the server's SubjectAccessReview cache holds every
//! decision. A *cold* caller is a new user for every request, so every
//! review goes to kube-apiserver, as for the first request of each person
//! in a ten-second window.

use std::path::PathBuf;

use anyhow::{Context, Result};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, Patch, PatchParams};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::json;

use super::seed::GROUP;
use crate::control_plane::pki;
use crate::paths;

/// The group every benchmark user is in; the ClusterRoleBinding binds it.
pub const VIEWERS: &str = "primary-all-bench-viewers";

/// The ClusterRole the viewers are bound to, besides the built-in `view`.
const READER_ROLE: &str = "primary-all-bench:reader";

const FIELD_MANAGER: &str = "primary-all-bench";

/// Binds [`VIEWERS`] to the built-in `view` ClusterRole (which aggregates
/// `primary-all:viewer`, the primary-all routes) and to a ClusterRole that
/// reads the benchmark's kinds, everywhere: what a person who may look at
/// the workloads has. The peer tools list every kind of the cluster, so the
/// reader role also lets them list what `view` leaves out (cluster-scoped
/// kinds); it grants no Secrets.
pub async fn bind_viewers(admin: &kube::Client) -> Result<()> {
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let role: ClusterRole = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": READER_ROLE, "labels": {"primary-all/bench": "true"}},
        "rules": [
            {"apiGroups": [GROUP], "resources": ["*"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes", "namespaces", "persistentvolumes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apiextensions.k8s.io", "apiregistration.k8s.io", "rbac.authorization.k8s.io",
                           "storage.k8s.io", "scheduling.k8s.io", "node.k8s.io", "admissionregistration.k8s.io",
                           "flowcontrol.apiserver.k8s.io", "certificates.k8s.io", "networking.k8s.io"],
             "resources": ["*"], "verbs": ["get", "list", "watch"]}
        ]
    }))?;
    roles
        .patch(
            READER_ROLE,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&role),
        )
        .await
        .context("failed to apply the benchmark's reader ClusterRole")?;
    let bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    for (name, role) in [
        ("primary-all-bench:view", "view"),
        ("primary-all-bench:reader", READER_ROLE),
    ] {
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"primary-all/bench": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": VIEWERS}]
        }))?;
        bindings
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&binding),
            )
            .await
            .with_context(|| format!("failed to apply the ClusterRoleBinding {name}"))?;
    }
    Ok(())
}

/// Mints users of the local cluster CA.
pub struct Minter {
    issuer: Issuer<'static, KeyPair>,
    admin: kube::Config,
}

impl Minter {
    /// Reads the cluster CA's key; `admin` is the configuration the users'
    /// configurations are made from (the server's URL and CA).
    pub fn new(admin: kube::Config) -> Result<Self> {
        let pki = pki::Pki::at(paths::control_plane_dir().join("pki"));
        let key = std::fs::read_to_string(pki.path("ca.key"))
            .context("failed to read the cluster CA's key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "primary-all-cluster-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ok(Self {
            issuer: Issuer::new(params, KeyPair::from_pem(&key)?),
            admin,
        })
    }

    /// The client configuration of `user`, in [`VIEWERS`].
    pub fn config(&self, user: &str) -> Result<kube::Config> {
        let (cert, key) = self.certificate(user)?;
        let mut config = self.admin.clone();
        config.auth_info = Default::default();
        config.auth_info.client_certificate_data = Some(base64_of(&cert));
        config.auth_info.client_key_data = Some(base64_of(&key).into());
        Ok(config)
    }

    /// A client of a new connection for `user`.
    pub fn client(&self, user: &str) -> Result<kube::Client> {
        Ok(kube::Client::try_from(self.config(user)?)?)
    }

    /// A kubeconfig file for `user`, for the peer tools run as processes.
    pub fn kubeconfig(&self, user: &str, dir: &std::path::Path) -> Result<PathBuf> {
        let (cert, key) = self.certificate(user)?;
        std::fs::create_dir_all(dir)?;
        let ca = pki::Pki::at(paths::control_plane_dir().join("pki")).path("ca.crt");
        let file = dir.join(format!("{user}.kubeconfig"));
        let text = serde_json::to_string_pretty(&json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {
                "server": self.admin.cluster_url.to_string().trim_end_matches('/'),
                "certificate-authority": ca.display().to_string()}}],
            "users": [{"name": user, "user": {
                "client-certificate-data": base64_of(&cert),
                "client-key-data": base64_of(&key)}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            "current-context": "local"
        }))?;
        std::fs::write(&file, text)?;
        Ok(file)
    }

    /// A client certificate and key (PEM) for `user` in [`VIEWERS`].
    fn certificate(&self, user: &str) -> Result<(String, String)> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        params
            .distinguished_name
            .push(DnType::OrganizationName, VIEWERS);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn base64_of(pem: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(pem)
}
