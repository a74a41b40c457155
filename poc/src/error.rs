//! Errors of the kube-rs extension.

use kube::core::Status;

/// Everything that can go wrong in [`GetLatestWithSecondariesExt`](crate::GetLatestWithSecondariesExt).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a Kubernetes `Status`: a missing primary, a
    /// forbidden one, a bad request. [`Error::is_not_found`] works as on
    /// kube's errors.
    #[error("{} ({}): {}", .0.reason, .0.code, .0.message)]
    Api(Box<Status>),

    /// primary-all's extension API server is not registered, or not serving.
    #[error(
        "primary-all is not installed in this cluster: APIService v1.primary-all not found or not \
         Available ({reason})"
    )]
    NotInstalled {
        /// What kube-apiserver answered.
        reason: String,
    },

    /// The request could not be sent or its answer not read.
    #[error("failed to reach kube-apiserver: {0}")]
    Kube(#[source] kube::Error),

    /// The answer is not a `PrimaryWithSecondaries`, or its primary does not
    /// fit the caller's type.
    #[error("failed to decode the answer: {0}")]
    Decode(#[source] serde_json::Error),

    /// Writing the cache into the primary's status was refused, because the
    /// object would exceed what etcd stores in one request.
    #[error(
        "the secondaries cache makes the object {size} bytes, over etcd's request limit of {limit} \
         bytes; nothing was written"
    )]
    TooLarge {
        /// The size of the object with its cache, in bytes.
        size: usize,
        /// The limit it exceeds, in bytes.
        limit: usize,
    },
}

impl Error {
    /// Whether the primary does not exist (the server answered 404 `NotFound`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api(status) if status.is_not_found())
    }

    /// Whether the caller may not read the primary (403).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Api(status) if status.is_forbidden())
    }

    /// Sorts an error from kube-apiserver: answers of primary-all's server
    /// are `Status` objects with a reason; a bare 404 or a 503 with
    /// kube-apiserver's generic text means the group is not served at all.
    pub fn from_kube(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) if is_group_missing(&status) => Self::NotInstalled {
                reason: format!("{} {}", status.code, status.message),
            },
            kube::Error::Api(status) => Self::Api(status),
            kube::Error::SerdeError(err) => Self::Decode(err),
            other => Self::Kube(other),
        }
    }
}

/// kube-apiserver's own answers for a group nobody serves: a plain-text
/// `404 page not found` (no APIService; kube reports a body that is not a
/// `Status` with the reason below), a `Status` saying "the server could not
/// find the requested resource", or a 503 "service unavailable" (APIService
/// not Available). primary-all's server always answers with a `Status` of
/// its own words.
fn is_group_missing(status: &Status) -> bool {
    const NOT_A_STATUS: &str = "Failed to parse error data";
    match status.code {
        404 => {
            status.reason == NOT_A_STATUS
                || status
                    .message
                    .contains("the server could not find the requested resource")
        }
        503 => status.reason == NOT_A_STATUS || status.message.contains("service unavailable"),
        _ => false,
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, reason).with_code(code)))
    }

    #[test]
    fn a_missing_primary_is_not_found() {
        let err = Error::from_kube(status(
            404,
            "NotFound",
            r#"databases.example.com "db-9" not found"#,
        ));
        assert!(err.is_not_found());
        assert_eq!(
            err.to_string(),
            r#"NotFound (404): databases.example.com "db-9" not found"#
        );
    }

    #[test]
    fn a_group_nobody_serves_is_not_installed() {
        let err = Error::from_kube(status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
        assert!(matches!(err, Error::NotInstalled { .. }), "{err:?}");
        assert!(!err.is_not_found());
        assert!(
            err.to_string()
                .starts_with("primary-all is not installed in this cluster")
        );
        let unavailable =
            Error::from_kube(status(503, "ServiceUnavailable", "service unavailable"));
        assert!(
            matches!(unavailable, Error::NotInstalled { .. }),
            "{unavailable:?}"
        );
    }
}
