//! Errors as Kubernetes `Status` objects, so that kubectl prints them cleanly.
//!
//! kube-apiserver proxies an aggregated server's answer unchanged, and
//! client-go replaces the body of many error codes with a fixed text unless
//! the body is a `Status` (`kind: Status`, `status: Failure`). Every error
//! this server returns is therefore a `Status` with the right code and a
//! message that carries the context chain a caller can act on.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The path or a query parameter is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No verified front-proxy client certificate (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not read the primary (403).
    #[error("{0}")]
    Forbidden(String),
    /// An unknown group, version or kind, or a missing primary (404).
    #[error("{0}")]
    NotFound(String),
    /// The server is not ready yet, or kube-apiserver cannot be reached (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bound on concurrent work was reached, the caller's own or the
    /// server's (429): try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// A bug: an error this server did not expect (500).
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

/// The result type of handlers.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// The HTTP status code.
    pub fn code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `reason` of the `Status`, as kube-apiserver spells it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BadRequest",
            Self::Unauthorized(_) => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound(_) => "NotFound",
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::TooManyRequests(_) => "TooManyRequests",
            Self::Internal(_) => "InternalError",
        }
    }

    /// Maps an error from kube-apiserver, met while doing `what`, to the
    /// answer a caller should see: a 404 stays a 404 and a 403 a 403 (with
    /// kube-apiserver's own message), a connection failure is a 503, and
    /// anything else is a 500 with the context chain.
    pub fn from_kube(what: impl std::fmt::Display, err: kube::Error) -> Self {
        match &err {
            kube::Error::Api(status) if status.is_not_found() => {
                Self::NotFound(status.message.clone())
            }
            kube::Error::Api(status) if status.is_forbidden() => {
                Self::Forbidden(status.message.clone())
            }
            kube::Error::Api(status) if status.code == 503 || status.code == 504 => {
                Self::Unavailable(format!("{what}: {}", status.message))
            }
            kube::Error::Api(_) => {
                Self::Internal(anyhow::Error::new(err).context(what.to_string()))
            }
            _ => Self::Unavailable(format!("{what}: the cluster cannot be reached: {err}")),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

/// A `meta.k8s.io/v1` `Status`. kube-core's `Status` has no `kind` and
/// `apiVersion`, which client-go needs to recognize the body, so the wire
/// form is spelled out here.
#[derive(Debug, Serialize)]
pub struct StatusBody {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: serde_json::Map<String, serde_json::Value>,
    status: &'static str,
    message: String,
    reason: &'static str,
    /// Says that primary-all's server wrote this `Status`, so that a client
    /// tells it apart from kube-apiserver's own answer for a group nobody
    /// serves without reading message text
    /// ([`primary_all::wire::is_not_installed`]).
    details: kube::core::response::StatusDetails,
    code: u16,
}

impl StatusBody {
    /// The `Status` for `err`.
    pub fn failure(err: &AppError) -> Self {
        Self {
            kind: "Status",
            api_version: "v1",
            metadata: serde_json::Map::new(),
            status: "Failure",
            message: err.to_string(),
            reason: err.reason(),
            details: primary_all::wire::status_details(),
            code: err.code().as_u16(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = StatusBody::failure(&self);
        let mut response = (self.code(), Json(body)).into_response();
        // The full error rides along for the logging middleware.
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(err: AppError) -> (StatusCode, serde_json::Value) {
        let response = err.into_response();
        let code = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn not_found_is_a_status_kubectl_understands() {
        let err = AppError::NotFound(r#"databases.example.com "db-9" not found"#.to_string());
        let (code, body) = render(err).await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        insta::assert_json_snapshot!(body, @r#"
        {
          "apiVersion": "v1",
          "code": 404,
          "details": {
            "group": "primary-all"
          },
          "kind": "Status",
          "message": "databases.example.com \"db-9\" not found",
          "metadata": {},
          "reason": "NotFound",
          "status": "Failure"
        }
        "#);
    }

    #[tokio::test]
    async fn internal_errors_carry_their_context_chain() {
        let err = anyhow::anyhow!("connection reset").context("failed to list secrets in ns-1");
        let (code, body) = render(AppError::Internal(err)).await;
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["reason"], "InternalError");
        assert_eq!(
            body["message"],
            "internal error: failed to list secrets in ns-1: connection reset"
        );
    }

    #[test]
    fn every_variant_has_a_distinct_code() {
        let codes = [
            AppError::BadRequest(String::new()).code(),
            AppError::Unauthorized(String::new()).code(),
            AppError::Forbidden(String::new()).code(),
            AppError::NotFound(String::new()).code(),
            AppError::Unavailable(String::new()).code(),
            AppError::TooManyRequests(String::new()).code(),
            AppError::Internal(anyhow::anyhow!("bug")).code(),
        ];
        let unique: std::collections::BTreeSet<u16> = codes.iter().map(|c| c.as_u16()).collect();
        assert_eq!(unique.len(), codes.len(), "{codes:?}");
    }
}
