//! Certificates for the local control plane, generated with rcgen.
//!
//! Three independent authorities, as in a kubeadm cluster:
//! * the cluster CA signs the serving certificates of the API server, the
//!   kubelet and kube-scheduler, and the client certificates of the admin,
//!   kube-controller-manager, kube-scheduler, the kubelet
//!   (`system:node:<name>`) and kube-apiserver's calls to the kubelet; its
//!   key is kept on disk, as kubeadm keeps it, so that kube-controller-manager
//!   can sign CertificateSigningRequests and tests can mint identities;
//! * the front-proxy CA signs only the client certificate with which
//!   kube-apiserver proxies to aggregated API servers, so that an extension
//!   server trusts exactly that one caller for its `X-Remote-*` headers;
//! * the service-account key signs and verifies ServiceAccount tokens.

use std::path::{Path, PathBuf};

use super::node::NODE_NAME;
use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The CN the front-proxy client certificate carries; kube-apiserver lists it
/// in `--requestheader-allowed-names`, and extension servers check it.
pub const FRONT_PROXY_CLIENT_CN: &str = "front-proxy-client";

/// The name kube-apiserver dials for the APIService's Service; the
/// extension server's serving certificate must carry it.
pub const EXTENSION_SERVICE_DNS: &str = crate::install::SERVICE_NAMES[0];

/// The name kube-apiserver dials while the APIService points at the server
/// as a host process (the fault tests): a Service of its own, whose
/// EndpointSlice names the process on the node's bridge address.
pub const EXTENSION_HOST_SERVICE_DNS: &str = "primary-all-host.primary-all.svc";

/// The user the extension server authenticates as: its ServiceAccount's name.
pub const EXTENSION_SERVER_USER: &str = "system:serviceaccount:primary-all:primary-all";

/// Paths of every PEM file the control plane reads, below one directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The PKI below `dir` (see [`Pki::generate`]).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// A file below the PKI directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Generates every certificate and key the control plane needs.
    pub fn generate(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("failed to create {}", self.dir.display()))?;

        let cluster_key = KeyPair::generate()?;
        write(&self.dir, "ca.key", &cluster_key.serialize_pem())?;
        let cluster_ca = new_ca_with_key("primary-all-cluster-ca", cluster_key)?;
        write(&self.dir, "ca.crt", &cluster_ca.pem())?;

        // Pods reach kube-apiserver at the bridge's address: with no
        // kube-proxy, the `kubernetes` Service's ClusterIP leads nowhere.
        let gateway = super::node::pod_gateway();
        let serving = leaf(
            "kube-apiserver",
            &[],
            &[
                "localhost",
                "127.0.0.1",
                &gateway,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        write_signed(&self.dir, "apiserver", serving, &cluster_ca)?;

        let admin = leaf(
            "admin",
            &["system:masters"],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(&self.dir, "admin", admin, &cluster_ca)?;

        let controller_manager = leaf(
            "system:kube-controller-manager",
            &["system:masters"],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(
            &self.dir,
            "controller-manager",
            controller_manager,
            &cluster_ca,
        )?;

        let scheduler = leaf(
            "system:kube-scheduler",
            &[],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(&self.dir, "scheduler", scheduler, &cluster_ca)?;
        // Its health port, which `up` asks whether it is ready.
        let scheduler_serving = leaf(
            "kube-scheduler",
            &[],
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        write_signed(
            &self.dir,
            "scheduler-serving",
            scheduler_serving,
            &cluster_ca,
        )?;

        // The node: the kubelet's identity, which the Node authorizer
        // recognises by its name and group; its serving certificate, which
        // kube-apiserver checks when it proxies logs, exec and port-forward;
        // and the client certificate kube-apiserver presents to it.
        let kubelet = leaf(
            &format!("system:node:{NODE_NAME}"),
            &["system:nodes"],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(&self.dir, "kubelet", kubelet, &cluster_ca)?;
        let kubelet_serving = leaf(
            NODE_NAME,
            &[],
            &[NODE_NAME, "localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        write_signed(&self.dir, "kubelet-serving", kubelet_serving, &cluster_ca)?;
        let apiserver_kubelet_client = leaf(
            "kube-apiserver-kubelet-client",
            &["system:masters"],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(
            &self.dir,
            "apiserver-kubelet-client",
            apiserver_kubelet_client,
            &cluster_ca,
        )?;

        // Its key is kept (as kubeadm keeps it) so that the security tests can
        // mint a certificate from the right CA with a name that is not allowed.
        let front_proxy_key = KeyPair::generate()?;
        write(
            &self.dir,
            "front-proxy-ca.key",
            &front_proxy_key.serialize_pem(),
        )?;
        let front_proxy_ca = new_ca_with_key("primary-all-front-proxy-ca", front_proxy_key)?;
        write(&self.dir, "front-proxy-ca.crt", &front_proxy_ca.pem())?;
        let front_proxy_client = leaf(
            FRONT_PROXY_CLIENT_CN,
            &[],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(
            &self.dir,
            "front-proxy-client",
            front_proxy_client,
            &front_proxy_ca,
        )?;

        // The extension server: its own serving CA (the APIService's
        // caBundle) and a client identity as its ServiceAccount's user name,
        // so that the RBAC in extension-server/deploy/ applies unchanged.
        let extension_ca = new_ca("primary-all-extension-serving-ca")?;
        write(&self.dir, "extension-ca.crt", &extension_ca.pem())?;
        let extension_serving = leaf(
            "primary-all",
            &[],
            &[
                EXTENSION_SERVICE_DNS,
                EXTENSION_HOST_SERVICE_DNS,
                "localhost",
                "127.0.0.1",
                &gateway,
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        write_signed(
            &self.dir,
            "extension-serving",
            extension_serving,
            &extension_ca,
        )?;
        let extension_client = leaf(
            EXTENSION_SERVER_USER,
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:primary-all",
            ],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        write_signed(&self.dir, "extension-client", extension_client, &cluster_ca)?;

        let service_accounts = KeyPair::generate()?;
        write(&self.dir, "sa.key", &service_accounts.serialize_pem())?;
        write(&self.dir, "sa.pub", &service_accounts.public_key_pem())?;
        Ok(())
    }
}

/// A self-signed certificate authority with a fresh key.
/// A self-signed CA of its own key.
pub fn new_ca(common_name: &str) -> Result<CertifiedIssuer<'static, KeyPair>> {
    new_ca_with_key(common_name, KeyPair::generate()?)
}

/// A self-signed certificate authority with the given key.
fn new_ca_with_key(common_name: &str, key: KeyPair) -> Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(CertifiedIssuer::self_signed(params, key)?)
}

/// A leaf certificate's parameters and key: CN is the Kubernetes user name,
/// each O a group, SANs are DNS names or IP addresses.
pub fn leaf(
    common_name: &str,
    organizations: &[&str],
    subject_alt_names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Result<(CertificateParams, KeyPair)> {
    let sans: Vec<String> = subject_alt_names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    for org in organizations {
        params
            .distinguished_name
            .push(DnType::OrganizationName, *org);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    Ok((params, KeyPair::generate()?))
}

fn write_signed(
    dir: &Path,
    stem: &str,
    (params, key): (CertificateParams, KeyPair),
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Result<()> {
    let cert = params.signed_by(&key, issuer)?;
    write(dir, &format!("{stem}.crt"), &cert.pem())?;
    write(dir, &format!("{stem}.key"), &key.serialize_pem())
}

fn write(dir: &Path, file: &str, contents: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, contents).with_context(|| format!("failed to write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_every_file_once() {
        let dir = std::env::temp_dir().join(format!("primary-all-pki-{}", std::process::id()));
        let pki = Pki::at(&dir);
        pki.generate().unwrap();
        for file in [
            "ca.crt",
            "ca.key",
            "kubelet.crt",
            "kubelet-serving.key",
            "apiserver-kubelet-client.crt",
            "scheduler.key",
            "apiserver.key",
            "admin.crt",
            "front-proxy-client.key",
            "sa.pub",
        ] {
            assert!(pki.path(file).is_file(), "{file} was not written");
        }
        let ca = std::fs::read_to_string(pki.path("front-proxy-ca.crt")).unwrap();
        let cluster_ca = std::fs::read_to_string(pki.path("ca.crt")).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(ca, cluster_ca, "the front proxy must have its own CA");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
