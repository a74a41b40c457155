//! The server: its state, its router, TLS serving, probes and metrics, and
//! the background work that keeps its caches current.

pub mod background;
pub mod metrics;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use primary_all::wire::PREFIX;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::answer::Context;
use crate::auth::authn::{self, Authenticator};
use crate::error::AppError;
use crate::find::{Finder, Strategy};
use crate::http::routes::{self, ApiCalls, Routes};
use crate::http::watch::WatchLimits;
use metrics::{Metrics, RequestLabels};

/// Everything the server shares between requests.
#[derive(Clone)]
pub struct AppState {
    /// What the primary routes need (the answers' context among it).
    pub routes: Routes,
    /// The front-proxy authenticator.
    pub authenticator: Arc<Authenticator>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State for a server that talks to kube-apiserver with `client`.
    pub fn new(client: kube::Client, strategy: Strategy) -> Self {
        let finder = Finder::new(&client, strategy);
        Self {
            routes: Routes {
                context: Context::new(client, finder),
                shutdown: CancellationToken::new(),
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                watches: Arc::new(WatchLimits::default()),
            },
            authenticator: Arc::new(Authenticator::new()),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The answers' context.
    pub fn context(&self) -> &Context {
        &self.routes.context
    }
}

/// The primary routes' handlers take only their part of the state.
impl FromRef<AppState> for Routes {
    fn from_ref(state: &AppState) -> Self {
        state.routes.clone()
    }
}

/// How long a primary request may take by default. With etcd away,
/// kube-apiserver holds a consistent read for up to a minute; the caller
/// learns sooner that it should try again.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The router: health probes and metrics (no client certificate needed),
/// discovery and the primary routes (front proxy only).
// ANCHOR: app
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route(PREFIX, get(api_resource_list))
        .route(&format!("{PREFIX}/{{*rest}}"), get(routes::primary))
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
    if state.routes.shutdown.is_cancelled() {
        missing.push("shutting down");
    }
    if !state.authenticator.is_loaded().await {
        missing.push("request-header CA not loaded");
    }
    if state.context().discovery.get().await.is_none() {
        missing.push("discovery not loaded");
    }
    // Ready once every watch has tried to list its kind: a kind that never
    // syncs is named in answers, and does not hold the server back.
    if state
        .context()
        .finder
        .index()
        .is_some_and(|index| !index.is_ready())
    {
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
    if let Some(index) = state.context().finder.index() {
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
    if let Some(ApiCalls(calls)) = response.extensions().get::<ApiCalls>() {
        state.metrics.api_calls.observe(f64::from(*calls));
        state.metrics.api_calls_total.inc_by(u64::from(*calls));
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
