//! Who is asking: kube-apiserver's front proxy, and the user it vouches for.
//!
//! The TLS layer asks for, but does not require, a client certificate (so
//! that health probes need none) and accepts any certificate whose owner
//! proves possession of its key. Here, for every `/apis/*` request, the
//! certificate chain is verified against the request-header CA bundle from
//! `kube-system/extension-apiserver-authentication` (clientAuth usage, CN in
//! the allowed names when that list is set). Only then are the `X-Remote-*`
//! headers read; otherwise the request gets 401 and its headers are ignored.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use tokio::sync::RwLock;

use crate::error::AppError;

/// The configmap kube-apiserver publishes for extension servers.
pub const CONFIGMAP_NAMESPACE: &str = "kube-system";
/// Its name.
pub const CONFIGMAP_NAME: &str = "extension-apiserver-authentication";

/// The peer's certificate chain, leaf first, as the TLS layer saw it.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// The user kube-apiserver authenticated, as its front proxy tells it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    /// `X-Remote-User`.
    pub name: String,
    /// `X-Remote-Uid`, when sent.
    pub uid: Option<String>,
    /// Every `X-Remote-Group` value, plus `system:authenticated` for an
    /// authenticated caller (never for `system:anonymous` or a member of
    /// `system:unauthenticated`).
    pub groups: Vec<String>,
    /// `X-Remote-Extra-<key>` values, keys unescaped and lowercased.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The request-header settings from the configmap.
#[derive(Debug, Clone, Default)]
pub struct RequestHeaderConfig {
    /// The CAs that may sign the front proxy's certificate.
    pub client_cas: Vec<CertificateDer<'static>>,
    /// The CNs the front proxy's certificate may carry; empty means any.
    pub allowed_names: Vec<String>,
    /// Headers that carry the user name.
    pub username_headers: Vec<String>,
    /// Headers that carry the uid.
    pub uid_headers: Vec<String>,
    /// Headers that carry groups.
    pub group_headers: Vec<String>,
    /// Prefixes of headers that carry extra attributes.
    pub extra_headers_prefixes: Vec<String>,
}

impl RequestHeaderConfig {
    /// Reads the configmap's data. The list-valued keys hold JSON string
    /// arrays stored as strings, as kube-apiserver writes them.
    ///
    /// # Errors
    ///
    /// When the CA bundle is missing or holds no certificate.
    pub fn from_configmap_data(data: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let bundle = data.get("requestheader-client-ca-file").ok_or_else(|| {
            anyhow::anyhow!(
                "requestheader-client-ca-file is missing: the aggregation layer is not configured"
            )
        })?;
        let client_cas: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(bundle.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    anyhow::anyhow!("requestheader-client-ca-file is not a PEM bundle: {e:?}")
                })?;
        if client_cas.is_empty() {
            anyhow::bail!("requestheader-client-ca-file holds no certificate");
        }
        let list = |key: &str| -> Vec<String> {
            data.get(key)
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default()
        };
        Ok(Self {
            client_cas,
            allowed_names: list("requestheader-allowed-names"),
            username_headers: list("requestheader-username-headers"),
            uid_headers: list("requestheader-uid-headers"),
            group_headers: list("requestheader-group-headers"),
            extra_headers_prefixes: list("requestheader-extra-headers-prefix"),
        })
    }

    /// Verifies the front proxy's chain and returns the user it vouches for.
    ///
    /// # Errors
    ///
    /// `401 Unauthorized` when there is no certificate, its chain does not
    /// verify for client authentication against any CA of the bundle, its CN
    /// is not allowed, or no user name header is present.
    pub fn authenticate(
        &self,
        peer: &[CertificateDer<'_>],
        headers: &HeaderMap,
    ) -> Result<UserInfo, AppError> {
        // ANCHOR: authenticate
        let Some((leaf, intermediates)) = peer.split_first() else {
            return Err(AppError::Unauthorized(
                "no client certificate: only kube-apiserver's front proxy may call this API"
                    .to_string(),
            ));
        };
        self.verify_chain(leaf, intermediates)?;
        if !self.allowed_names.is_empty() {
            let cn = common_name(leaf).unwrap_or_default();
            if !self.allowed_names.contains(&cn) {
                return Err(AppError::Unauthorized(format!(
                    "client certificate CN {cn:?} is not an allowed front-proxy name"
                )));
            }
        }
        self.user_from_headers(headers)
        // ANCHOR_END: authenticate
    }

    fn verify_chain(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), AppError> {
        let unauthorized =
            |why: String| AppError::Unauthorized(format!("client certificate rejected: {why}"));
        let anchors: Vec<_> = self
            .client_cas
            .iter()
            .filter_map(|ca| webpki::anchor_from_trusted_cert(ca).ok())
            .collect();
        let cert =
            webpki::EndEntityCert::try_from(leaf).map_err(|e| unauthorized(format!("{e}")))?;
        let intermediates: Vec<CertificateDer<'_>> = intermediates.to_vec();
        cert.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            UnixTime::now(),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| {
            unauthorized(format!(
                "{e} (not signed by the request-header CA for client authentication)"
            ))
        })
    }

    /// Reads the user from the `X-Remote-*` headers (the configured names),
    /// as kube-apiserver's front proxy sets them. Call it only after the
    /// front proxy's certificate was verified: [`Self::authenticate`] does
    /// both. Public so that the fuzz target `request_headers` can reach it.
    ///
    /// # Errors
    ///
    /// `401 Unauthorized` when no user name header is present.
    pub fn user_from_headers(&self, headers: &HeaderMap) -> Result<UserInfo, AppError> {
        // Values are UTF-8, not only visible ASCII: kube-apiserver forwards
        // user and group names as they are. Empty values count as absent.
        fn text(v: &axum::http::HeaderValue) -> Option<&str> {
            std::str::from_utf8(v.as_bytes()).ok()
        }
        let first = |names: &[String]| -> Option<String> {
            names.iter().find_map(|n| {
                headers
                    .get(n.as_str())
                    .and_then(text)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            })
        };
        let name = first(&self.username_headers)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized("the front proxy sent no user name".to_string())
            })?;
        let mut groups: Vec<String> = self
            .group_headers
            .iter()
            .flat_map(|n| headers.get_all(n.as_str()).iter())
            .filter_map(text)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        if is_authenticated(&name, &groups) && !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_string());
        }
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (header, value) in headers {
            for prefix in &self.extra_headers_prefixes {
                let lower_prefix = prefix.to_ascii_lowercase();
                if let Some(key) = header.as_str().strip_prefix(&lower_prefix)
                    && let Some(value) = text(value)
                {
                    extra
                        .entry(unescape(&key.to_ascii_lowercase()))
                        .or_default()
                        .push(value.to_string());
                }
            }
        }
        Ok(UserInfo {
            name,
            uid: first(&self.uid_headers),
            groups,
            extra,
        })
    }
}

/// The group of every authenticated caller.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group kube-apiserver gives callers it could not authenticate.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user name kube-apiserver gives anonymous callers.
pub const ANONYMOUS: &str = "system:anonymous";

/// Whether the front proxy vouches for an authenticated caller: kube-apiserver
/// adds `system:authenticated` to everyone but `system:anonymous` and members
/// of `system:unauthenticated` (its `AuthenticatedGroupAdder`), and so does
/// this server, so an anonymous caller never gains what RBAC grants to every
/// authenticated one.
pub fn is_authenticated(name: &str, groups: &[String]) -> bool {
    name != ANONYMOUS && !groups.iter().any(|g| g == UNAUTHENTICATED)
}

/// Percent-unescapes an extra key, as client-go escapes it, and keeps it
/// whole when an escape is malformed, as kube-apiserver does
/// (`unescapeExtraKey` in k8s.io/apiserver).
fn unescape(key: &str) -> String {
    match crate::percent::decode(key) {
        Ok(decoded) => decoded,
        Err(crate::percent::Malformed::Escape(_)) => key.to_string(),
        // Go keeps the bytes; a Rust string takes them as UTF-8, lossily.
        Err(crate::percent::Malformed::NotUtf8) => crate::percent::decode_lossy(key),
    }
}

/// The leaf's subject CN.
fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    parsed
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()
        .map(str::to_string)
}

/// The current request-header settings, replaced when the configmap changes.
#[derive(Debug, Default)]
pub struct Authenticator {
    config: RwLock<Option<Arc<RequestHeaderConfig>>>,
}

impl Authenticator {
    /// An authenticator that rejects everyone until [`Authenticator::set`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs new settings (from a fresh read of the configmap).
    pub async fn set(&self, config: RequestHeaderConfig) {
        *self.config.write().await = Some(Arc::new(config));
    }

    /// Whether settings have been loaded: `/readyz` waits for this.
    pub async fn is_loaded(&self) -> bool {
        self.config.read().await.is_some()
    }

    /// The current settings.
    pub async fn current(&self) -> Option<Arc<RequestHeaderConfig>> {
        self.config.read().await.clone()
    }
}

/// Middleware for `/apis/*`: authenticates the front proxy, puts the
/// [`UserInfo`] into the request, and answers 401 otherwise.
pub async fn require_front_proxy(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(config) = authenticator.current().await else {
        return AppError::Unavailable(
            "the request-header CA has not been loaded yet; try again shortly".to_string(),
        )
        .into_response();
    };
    let peer = request
        .extensions()
        .get::<PeerCertificates>()
        .cloned()
        .unwrap_or_default();
    match config.authenticate(&peer.0, request.headers()) {
        Ok(user) => {
            tracing::Span::current().record("user", user.name.as_str());
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// Keeps the [`Authenticator`] in step with the configmap: a watch, so a
/// rotated front-proxy CA is picked up within moments.
pub async fn watch_configmap(client: kube::Client, authenticator: Arc<Authenticator>) {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::{WatchStreamExt, watcher};

    let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, CONFIGMAP_NAMESPACE);
    let config = watcher::Config::default().fields(&format!("metadata.name={CONFIGMAP_NAME}"));
    let mut stream = watcher(api, config)
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(configmap) => {
                match RequestHeaderConfig::from_configmap_data(&configmap.data.unwrap_or_default())
                {
                    Ok(config) => {
                        tracing::info!(cas = config.client_cas.len(), allowed = ?config.allowed_names, "request-header CA loaded");
                        authenticator.set(config).await;
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "request-header settings unusable; keeping the old ones")
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "watch on {CONFIGMAP_NAME} failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };

    fn ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    fn client_cert(
        cn: &str,
        issuer: &CertifiedIssuer<'static, KeyPair>,
        usage: ExtendedKeyUsagePurpose,
    ) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        params.signed_by(&key, issuer).unwrap().der().clone()
    }

    fn config(
        front_proxy_ca: &CertifiedIssuer<'static, KeyPair>,
        allowed: &[&str],
    ) -> RequestHeaderConfig {
        RequestHeaderConfig {
            client_cas: vec![front_proxy_ca.der().clone()],
            allowed_names: allowed.iter().map(|s| s.to_string()).collect(),
            username_headers: vec!["X-Remote-User".to_string()],
            uid_headers: vec!["X-Remote-Uid".to_string()],
            group_headers: vec!["X-Remote-Group".to_string()],
            extra_headers_prefixes: vec!["X-Remote-Extra-".to_string()],
        }
    }

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-remote-user", HeaderValue::from_static("alice"));
        headers.append("x-remote-group", HeaderValue::from_static("devs"));
        headers.append("x-remote-group", HeaderValue::from_static("ops"));
        headers.insert("x-remote-uid", HeaderValue::from_static("1234"));
        headers.insert(
            "x-remote-extra-acme.com%2Fproject",
            HeaderValue::from_static("alpha"),
        );
        headers
    }

    #[test]
    fn anonymous_and_unauthenticated_callers_are_not_made_authenticated() {
        let front_proxy_ca = ca("front-proxy-ca");
        let config = config(&front_proxy_ca, &["front-proxy-client"]);

        let mut anonymous = HeaderMap::new();
        anonymous.insert(
            "x-remote-user",
            HeaderValue::from_static("system:anonymous"),
        );
        anonymous.append(
            "x-remote-group",
            HeaderValue::from_static("system:unauthenticated"),
        );
        let user = config.user_from_headers(&anonymous).unwrap();
        assert_eq!(user.groups, vec!["system:unauthenticated"]);

        let mut unauthenticated = HeaderMap::new();
        unauthenticated.insert("x-remote-user", HeaderValue::from_static("someone"));
        unauthenticated.append(
            "x-remote-group",
            HeaderValue::from_static("system:unauthenticated"),
        );
        let user = config.user_from_headers(&unauthenticated).unwrap();
        assert_eq!(user.groups, vec!["system:unauthenticated"]);

        let mut anonymous_without_groups = HeaderMap::new();
        anonymous_without_groups.insert(
            "x-remote-user",
            HeaderValue::from_static("system:anonymous"),
        );
        let user = config.user_from_headers(&anonymous_without_groups).unwrap();
        assert!(user.groups.is_empty(), "{:?}", user.groups);
    }

    #[test]
    fn the_front_proxy_is_trusted_for_the_user_it_names() {
        let front_proxy_ca = ca("front-proxy-ca");
        let cert = client_cert(
            "front-proxy-client",
            &front_proxy_ca,
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let user = config(&front_proxy_ca, &["front-proxy-client"])
            .authenticate(&[cert], &headers())
            .unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.uid.as_deref(), Some("1234"));
        assert_eq!(user.groups, vec!["devs", "ops", "system:authenticated"]);
        assert_eq!(user.extra["acme.com/project"], vec!["alpha"]);
    }

    #[test]
    fn no_certificate_is_401_whatever_the_headers_say() {
        let front_proxy_ca = ca("front-proxy-ca");
        let err = config(&front_proxy_ca, &[])
            .authenticate(&[], &headers())
            .unwrap_err();
        assert!(matches!(err, AppError::Unauthorized(_)), "{err:?}");
    }

    #[test]
    fn a_certificate_from_another_ca_is_401() {
        let front_proxy_ca = ca("front-proxy-ca");
        let other_ca = ca("someone-else");
        let cert = client_cert(
            "front-proxy-client",
            &other_ca,
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let err = config(&front_proxy_ca, &[])
            .authenticate(&[cert], &headers())
            .unwrap_err();
        assert!(
            err.to_string().contains("client certificate rejected"),
            "{err}"
        );
    }

    #[test]
    fn a_cn_outside_the_allowed_names_is_401() {
        let front_proxy_ca = ca("front-proxy-ca");
        let cert = client_cert(
            "mallory",
            &front_proxy_ca,
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let err = config(&front_proxy_ca, &["front-proxy-client"])
            .authenticate(&[cert], &headers())
            .unwrap_err();
        assert!(err.to_string().contains("\"mallory\""), "{err}");
    }

    #[test]
    fn a_server_certificate_is_not_a_client_certificate() {
        let front_proxy_ca = ca("front-proxy-ca");
        let cert = client_cert(
            "front-proxy-client",
            &front_proxy_ca,
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let err = config(&front_proxy_ca, &[])
            .authenticate(&[cert], &headers())
            .unwrap_err();
        assert!(matches!(err, AppError::Unauthorized(_)), "{err:?}");
    }

    #[test]
    fn the_configmap_lists_are_json_strings() {
        let front_proxy_ca = ca("front-proxy-ca");
        let data = BTreeMap::from([
            (
                "requestheader-client-ca-file".to_string(),
                front_proxy_ca.pem(),
            ),
            (
                "requestheader-allowed-names".to_string(),
                r#"["front-proxy-client"]"#.to_string(),
            ),
            (
                "requestheader-username-headers".to_string(),
                r#"["X-Remote-User"]"#.to_string(),
            ),
            (
                "requestheader-group-headers".to_string(),
                r#"["X-Remote-Group"]"#.to_string(),
            ),
            (
                "requestheader-extra-headers-prefix".to_string(),
                r#"["X-Remote-Extra-"]"#.to_string(),
            ),
        ]);
        let config = RequestHeaderConfig::from_configmap_data(&data).unwrap();
        assert_eq!(config.client_cas.len(), 1);
        assert_eq!(config.allowed_names, vec!["front-proxy-client"]);
        assert!(config.uid_headers.is_empty());
    }

    #[test]
    fn a_configmap_without_the_bundle_is_an_error() {
        let err = RequestHeaderConfig::from_configmap_data(&BTreeMap::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("requestheader-client-ca-file is missing")
        );
    }
}
