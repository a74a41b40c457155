//! primary-all's aggregated API server.
//!
//! # Overview
//!
//! kube-apiserver proxies `/apis/primary-all/v1/…` here, with its front-proxy
//! client certificate and the caller's identity in `X-Remote-*` headers. The
//! server answers with a primary and every secondary the caller may read:
//!
//! 1. [`authn`] verifies the front proxy and reads who the caller is;
//! 2. [`request`] parses and validates the path and query;
//! 3. [`discovery`] resolves the kind from a cached catalog;
//! 4. the primary is read with a quorum read;
//! 5. [`secondaries`] finds what it owns or labels;
//! 6. [`authz`] keeps what the caller may `list` (or `get` by name), and
//!    names the rest as left out.
//!
//! [`app`] builds the router apart from `main`, so that tests need no socket.

pub mod answer;
pub mod authn;
pub mod authz;
pub mod discovery;
pub mod error;
pub mod health;
pub mod index;
pub mod indexed;
pub mod metrics;
pub mod owners;
pub mod read;
pub mod request;
pub mod rules;
pub mod secondaries;
pub mod tls;
pub mod toplevel;
pub mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use tower_http::trace::TraceLayer;

use crate::authn::{Authenticator, UserInfo};
use crate::authz::Authorizer;
use crate::discovery::DiscoveryCache;
use crate::error::AppError;
use crate::metrics::{Metrics, RequestLabels};

/// How the server finds secondaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Strategy {
    /// Cached discovery, then one LIST per listable kind per request.
    Scan,
    /// The seed's strategy: discovery and one LIST per listable kind, both
    /// for every request. Kept as the baseline the benchmark compares against.
    ListAll,
    /// A metadata-only watch of every kind indexes owners and labels; a
    /// request reads only the kinds that hold secondaries (the default).
    #[default]
    Indexed,
}

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The server's own client for kube-apiserver (read-only rights).
    pub client: kube::Client,
    /// The cached discovery catalog.
    pub discovery: Arc<DiscoveryCache>,
    /// The front-proxy authenticator.
    pub authenticator: Arc<Authenticator>,
    /// The SubjectAccessReview authorizer.
    pub authorizer: Arc<Authorizer>,
    /// How secondaries are found.
    pub strategy: Strategy,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// False once SIGTERM arrived: `/readyz` fails first, then the server drains.
    pub serving: Arc<AtomicBool>,
    /// The metadata index, with `--strategy=indexed`.
    pub index: Option<Arc<index::MetaIndex>>,
    /// The relationship rules in force.
    pub rules: Arc<rules::RuleStore>,
    /// How long a primary request may take before it is answered 503.
    pub request_timeout: Duration,
    /// The open `?watch=true` streams, bounded per caller and in total.
    pub watches: Arc<watch::WatchLimits>,
}

impl AppState {
    /// State for a server that talks to kube-apiserver with `client`.
    pub fn new(client: kube::Client, strategy: Strategy) -> Self {
        Self {
            discovery: Arc::new(DiscoveryCache::new(client.clone())),
            authenticator: Arc::new(Authenticator::new()),
            authorizer: Arc::new(Authorizer::new(client.clone())),
            index: (strategy == Strategy::Indexed)
                .then(|| Arc::new(index::MetaIndex::new(client.clone()))),
            client,
            strategy,
            metrics: Arc::new(Metrics::default()),
            serving: Arc::new(AtomicBool::new(true)),
            rules: Arc::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            watches: Arc::default(),
        }
    }
}

/// How long a primary request may take by default. With etcd away,
/// kube-apiserver holds a quorum read for up to a minute; the caller learns
/// sooner that it should try again.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The path prefix of the group version this server serves.
pub const PREFIX: &str = "/apis/primary-all/v1";

/// The router: health probes and metrics (no client certificate needed),
/// discovery and the primary routes (front proxy only).
// ANCHOR: app
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route(PREFIX, get(api_resource_list))
        .route(&format!("{PREFIX}/{{*rest}}"), get(primary))
        .route_layer(middleware::from_fn_with_state(
            state.authenticator.clone(),
            authn::require_front_proxy,
        ));
    Router::new()
        .merge(api)
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi/v2", get(not_found))
        .route("/openapi/v3", get(not_found))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let matched = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str);
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    matched,
                    user = tracing::field::Empty,
                    primary = tracing::field::Empty,
                    secondaries = tracing::field::Empty,
                    api_calls = tracing::field::Empty,
                )
            }),
        )
        .with_state(state)
}
// ANCHOR_END: app

/// Health probes answer `ok` without authentication, like kube-apiserver's.
async fn ok() -> &'static str {
    "ok"
}

/// Ready when the request-header CA and discovery are loaded, every watch
/// has tried once, and not shutting down.
async fn readyz(State(state): State<AppState>) -> Response {
    let mut missing = Vec::new();
    if !state.serving.load(Ordering::SeqCst) {
        missing.push("shutting down");
    }
    if !state.authenticator.is_loaded().await {
        missing.push("request-header CA not loaded");
    }
    if state.discovery.get().await.is_none() {
        missing.push("discovery not loaded");
    }
    // Ready once every watch has tried to list its kind: a kind that never
    // syncs is named in answers, and does not hold the server back.
    if state.index.as_ref().is_some_and(|index| !index.is_ready()) {
        missing.push("watch cache not started");
    }
    if missing.is_empty() {
        "ok".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", missing.join(", ")),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(index) = &state.index {
        state
            .metrics
            .indexed_objects
            .set(index.graph().len() as i64);
        state
            .metrics
            .unsynced_kinds
            .set(index.unsynced_kinds() as i64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found(uri: Uri) -> AppError {
    let path: String = uri.path().chars().take(120).collect();
    AppError::NotFound(format!(
        "the server could not find the requested resource {path:?}"
    ))
}

/// The group version's discovery document. kube-apiserver marks the
/// APIService Available only when this answers.
async fn api_resource_list() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": primary_all::wire::API_VERSION,
        "resources": [],
    }))
}

/// `GET /apis/primary-all/v1/{…}`, bounded by the request timeout: a
/// request that takes longer (etcd unreachable, kube-apiserver stuck) is
/// answered 503 instead of hanging. No `Retry-After` is sent: client-go
/// retries a 5xx that carries one up to ten times, which would turn a
/// ten-second answer into minutes of waiting for the person at kubectl.
/// A watch is bounded until its first answer; the stream after it is not.
async fn primary(
    State(state): State<AppState>,
    Extension(user): Extension<UserInfo>,
    uri: Uri,
) -> Response {
    let timeout = state.request_timeout;
    match tokio::time::timeout(timeout, route(state, user, uri)).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(),
        Err(_elapsed) => AppError::Unavailable(format!(
            "kube-apiserver did not answer within {}s; try again",
            timeout.as_secs_f64()
        ))
        .into_response(),
    }
}

/// A primary and its secondaries (or a watch of them), the owners of an
/// object, or a namespace's top level.
async fn route(state: AppState, user: UserInfo, uri: Uri) -> Result<Response, AppError> {
    let rest = uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .trim_start_matches('/');
    let params = request::parse_params(uri.query())?;
    let route = request::parse_route(rest, params.name_selected.as_deref())?;
    if params.watch && !matches!(route, request::Route::Primary(_)) {
        return Err(AppError::BadRequest(
            "watch=true is served on the primary routes only".to_string(),
        ));
    }
    match route {
        request::Route::Primary(wanted) if params.watch => {
            watch::stream(state, user, wanted, params).await
        }
        request::Route::Primary(wanted) => {
            let answer = answer::primary(&state, &user, &wanted, &params).await?;
            Ok(Json(answer).into_response())
        }
        request::Route::Owners(object) => {
            let chain = owners::answer(&state, &user, &object, &params).await?;
            Ok(Json(chain).into_response())
        }
        request::Route::PrimaryOrOwners { primary, owners_of } => {
            // The scope of the kind decides: owners of a cluster-scoped
            // object, or a namespaced primary named `owners`.
            if owners::is_cluster_scoped(&state, &owners_of).await? {
                let chain = owners::answer(&state, &user, &owners_of, &params).await?;
                Ok(Json(chain).into_response())
            } else {
                let answer = answer::primary(&state, &user, &primary, &params).await?;
                Ok(Json(answer).into_response())
            }
        }
        request::Route::TopLevel { namespace } => {
            let list = toplevel::answer(&state, &user, &namespace).await?;
            Ok(Json(list).into_response())
        }
    }
}

/// Counts and times the primary routes, and logs every error with its chain.
async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let on_primary_route = request.uri().path().starts_with(&format!("{PREFIX}/"));
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(err) = response.extensions().get::<Arc<AppError>>() {
        match **err {
            AppError::Internal(_) => tracing::error!(error = %err, "request failed"),
            _ => {
                tracing::debug!(error = %err, code = response.status().as_u16(), "request refused")
            }
        }
    }
    if on_primary_route {
        state
            .metrics
            .requests
            .get_or_create(&RequestLabels {
                code: response.status().as_u16(),
            })
            .inc();
        state
            .metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
    }
    response
}
