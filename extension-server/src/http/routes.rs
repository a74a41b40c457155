//! The route table below `/apis/primary-all/v1`, as the book lists it:
//!
//! | path (below the prefix)                                   | answer |
//! |-----------------------------------------------------------|--------|
//! | `{group}/{version}/{kind}/{namespace}/{name}`             | [`answer::primary()`] (the thesis's shape) |
//! | `{group}/{version}/{kind}/{name}`                         | the same, cluster-scoped primary |
//! | `namespaces/{namespace}/{resource}.{group}/{name}`        | the same, grantable per namespace |
//! | `{resource}.{group}/{name}`                               | the same, cluster-scoped primary |
//! | any of these `+ /owners`                                  | [`owners::answer`] |
//! | `namespaces/{namespace}/toplevel`                         | [`toplevel::answer`] |
//! | a kind path `+ ?watch=true&fieldSelector=metadata.name=…` | [`watch::stream`] |
//!
//! `{group}/{version}/{kind}/{x}/owners` is either; the kind's scope
//! decides. [`crate::http::request::parse_route`] reads the path.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use primary_all::wire::{PREFIX, PrimaryWithSecondaries};
use tokio_util::sync::CancellationToken;

use crate::answer::{self, Answered, Context, owners, toplevel};
use crate::auth::authn::UserInfo;
use crate::error::AppError;
use crate::http::request::{self, Route};
use crate::http::watch::{self, WatchLimits};

/// What the primary routes need.
#[derive(Clone)]
pub struct Routes {
    /// What every answer reads with.
    pub context: Context,
    /// Cancelled once SIGTERM arrived: watches end, `/readyz` fails.
    pub shutdown: CancellationToken,
    /// How long a primary request may take before it is answered 503.
    pub request_timeout: Duration,
    /// The open `?watch=true` streams, bounded per caller and in total.
    pub watches: Arc<WatchLimits>,
}

/// The API calls an answer cost, handed to the server's metrics with the
/// response.
#[derive(Debug, Clone, Copy)]
pub struct ApiCalls(pub u32);

/// `GET /apis/primary-all/v1/{…}`, bounded by the request timeout: a
/// request that takes longer (etcd unreachable, kube-apiserver stuck) is
/// answered 503 instead of hanging. No `Retry-After` is sent: client-go
/// retries a 5xx that carries one up to ten times, which would turn a
/// ten-second answer into minutes of waiting for the person at kubectl.
/// A watch is bounded until its first answer; the stream after it is not.
pub async fn primary(
    State(state): State<Routes>,
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
async fn route(state: Routes, user: UserInfo, uri: Uri) -> Result<Response, AppError> {
    let rest = uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .trim_start_matches('/');
    let params = request::parse_params(uri.query())?;
    let route = request::parse_route(rest, params.name_selected.as_deref())?;
    if params.watch && !matches!(route, Route::Primary(_)) {
        return Err(AppError::BadRequest(
            "watch=true is served on the primary routes only".to_string(),
        ));
    }
    match route {
        Route::Primary(wanted) if params.watch => watch::stream(&state, user, wanted, params).await,
        Route::Primary(wanted) => {
            let answered = answer::primary(&state.context, &user, &wanted, &params).await?;
            Ok(with_api_calls(answered))
        }
        Route::Owners(object) => {
            let chain = owners::answer(&state.context, &user, &object, &params).await?;
            Ok(Json(chain).into_response())
        }
        Route::PrimaryOrOwners { primary, owners_of } => {
            // The scope of the kind decides: owners of a cluster-scoped
            // object, or a namespaced primary named `owners`.
            if owners::is_cluster_scoped(&state.context, &owners_of).await? {
                let chain = owners::answer(&state.context, &user, &owners_of, &params).await?;
                Ok(Json(chain).into_response())
            } else {
                let answered = answer::primary(&state.context, &user, &primary, &params).await?;
                Ok(with_api_calls(answered))
            }
        }
        Route::TopLevel { namespace } => {
            let list = toplevel::answer(&state.context, &user, &namespace).await?;
            Ok(Json(list).into_response())
        }
    }
}

/// The answer as JSON, with its cost for the metrics.
fn with_api_calls(answered: Answered<PrimaryWithSecondaries>) -> Response {
    let mut response = Json(answered.body).into_response();
    response
        .extensions_mut()
        .insert(ApiCalls(answered.api_calls));
    response
}
