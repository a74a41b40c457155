//! The router in-process: what is pure HTTP (routing, `Status` rendering,
//! the front-proxy check) is asked of `app()` with `tower::ServiceExt::oneshot`,
//! no socket and no cluster. Nothing here reaches kube-apiserver: the
//! server's client points at a port where nothing listens, and every request
//! below is answered before an API call would be made. Cluster behaviour is
//! tested in `tests/` against a real control plane.

use std::sync::Arc;

use axum::body::Body;
use extension_server::auth::authn::{PeerCertificates, RequestHeaderConfig};
use extension_server::find::Strategy;
use extension_server::server::{AppState, app};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::CertificateDer;
use tower::ServiceExt;

/// A client for a kube-apiserver that is not there: any API call would fail.
fn unreachable_client() -> kube::Client {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

/// The front proxy's CA, and a client certificate it signed for `front-proxy-client`.
fn front_proxy() -> (RequestHeaderConfig, CertificateDer<'static>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "front-proxy-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "front-proxy-client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

    let config = RequestHeaderConfig {
        client_cas: vec![ca.der().clone()],
        allowed_names: vec!["front-proxy-client".to_string()],
        username_headers: vec!["X-Remote-User".to_string()],
        uid_headers: vec!["X-Remote-Uid".to_string()],
        group_headers: vec!["X-Remote-Group".to_string()],
        extra_headers_prefixes: vec!["X-Remote-Extra-".to_string()],
    };
    (config, client_cert.der().clone())
}

async fn body_json(response: axum::response::Response) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn health_probes_answer_ok_without_a_certificate() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);

    for probe in ["/healthz", "/livez"] {
        let request = Request::get(probe).body(Body::empty()).unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();

        assert_eq!(response.status(), StatusCode::OK, "{probe}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"ok", "{probe}");
    }
}

#[tokio::test]
async fn readyz_names_what_is_missing() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);

    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(
        text,
        "not ready: request-header CA not loaded, discovery not loaded\n"
    );
}

#[tokio::test]
async fn an_unknown_path_is_a_404_status_that_names_primary_all() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);

    let request = Request::get("/apis/apps/v1").body(Body::empty()).unwrap();
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = body_json(response).await;
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "NotFound");
    assert_eq!(body["details"]["group"], "primary-all");
    assert_eq!(
        body["message"],
        r#"the server could not find the requested resource "/apis/apps/v1""#
    );
}

#[tokio::test]
async fn openapi_answers_404_so_the_aggregator_skips_it() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);

    for path in ["/openapi/v2", "/openapi/v3"] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn the_api_waits_for_the_request_header_ca_with_a_503() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);

    let request = Request::get("/apis/primary-all/v1")
        .body(Body::empty())
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = body_json(response).await;
    assert_eq!(body["reason"], "ServiceUnavailable");
}

#[tokio::test]
async fn without_the_front_proxys_certificate_the_headers_count_for_nothing() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);
    let (config, _certificate) = front_proxy();
    state.authenticator.set(config).await;

    let request = Request::get("/apis/primary-all/v1")
        .header("X-Remote-User", "system:admin")
        .header("X-Remote-Group", "system:masters")
        .body(Body::empty())
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = body_json(response).await;
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Unauthorized");
}

#[tokio::test]
async fn the_group_version_answers_its_resource_list_to_the_front_proxy() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);
    let (config, certificate) = front_proxy();
    state.authenticator.set(config).await;

    let mut request = Request::get("/apis/primary-all/v1")
        .header("X-Remote-User", "alice")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(PeerCertificates(Arc::new(vec![certificate])));
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(response).await;
    assert_eq!(body["kind"], "APIResourceList");
    assert_eq!(body["groupVersion"], "primary-all/v1");
    assert_eq!(body["resources"], serde_json::json!([]));
}

#[tokio::test]
async fn a_path_of_no_known_shape_is_a_400_before_any_api_call() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);
    let (config, certificate) = front_proxy();
    state.authenticator.set(config).await;

    let mut request = Request::get("/apis/primary-all/v1/a/b/c/d/e/f")
        .header("X-Remote-User", "alice")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(PeerCertificates(Arc::new(vec![certificate])));
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert_eq!(body["reason"], "BadRequest");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the path /apis/primary-all/v1/a/b/c/d/e/f names no primary"),
        "{body}"
    );
}

#[tokio::test]
async fn watch_is_refused_on_the_routes_that_do_not_stream() {
    let state = AppState::new(unreachable_client(), Strategy::Scan);
    let (config, certificate) = front_proxy();
    state.authenticator.set(config).await;

    let mut request = Request::get("/apis/primary-all/v1/namespaces/default/toplevel?watch=true")
        .header("X-Remote-User", "alice")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(PeerCertificates(Arc::new(vec![certificate])));
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert_eq!(
        body["message"],
        "watch=true is served on the primary routes only"
    );
}
