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

    /// The server answered in a version of the wire format this crate
    /// does not read (see the crate's `# Compatibility`): upgrade the crate,
    /// or the server is not primary-all's.
    #[error(
        "the server answered a {kind:?} in {api_version:?}; this client reads \
         PrimaryWithSecondaries in primary-all/v1 (a newer server, or not primary-all's)"
    )]
    Incompatible {
        /// The answer's `apiVersion`.
        api_version: String,
        /// The answer's `kind`.
        kind: String,
    },

    /// A depth outside what the server follows; nothing was sent.
    #[error("depth {depth} is out of range: primary-all follows 1 to 10 levels of ownerReferences")]
    InvalidDepth {
        /// The depth asked for.
        depth: u32,
    },

    /// The `Api` was built for a URL that names no resource (kube's
    /// `Api::resource_url`), so there is no primary route to ask.
    #[error("cannot tell the group, version and resource from the Api's URL {url:?}")]
    UnknownResourceUrl {
        /// The `Api`'s URL.
        url: String,
    },

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
            kube::Error::Api(status) if crate::wire::is_not_installed(&status) => {
                Self::NotInstalled {
                    reason: format!("{} {}", status.code, status.message),
                }
            }
            kube::Error::Api(status) => Self::Api(status),
            kube::Error::SerdeError(err) => Self::Decode(err),
            other => Self::Kube(other),
        }
    }
}

/// Sorts the error as [`Error::from_kube`] does, so that `?` works on
/// kube's calls in code that returns this crate's [`Result`].
impl From<kube::Error> for Error {
    fn from(err: kube::Error) -> Self {
        Self::from_kube(err)
    }
}

/// Folds the error into kube's, for a controller whose reconciler returns
/// `kube::Result`: the server's `Status` stays itself, and the errors of
/// this crate become the `Status` kube-apiserver would have sent for them
/// (503 for a group nobody serves, 400 for a bad depth, 413 for a status
/// too large for etcd), so that `is_not_found()` and retry policies keyed
/// on `code` treat them alike.
///
/// ```
/// let err = primary_all::Error::InvalidDepth { depth: 11 };
/// let kube::Error::Api(status) = kube::Error::from(err) else { panic!() };
/// assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
/// ```
impl From<Error> for kube::Error {
    fn from(err: Error) -> Self {
        let status = |code: u16, reason: &str, err: &Error| {
            Self::Api(Box::new(
                Status::failure(&err.to_string(), reason).with_code(code),
            ))
        };
        match err {
            Error::Api(status) => Self::Api(status),
            Error::Kube(err) => err,
            Error::Decode(err) => Self::SerdeError(err),
            ref err @ Error::NotInstalled { .. } => status(503, "ServiceUnavailable", err),
            ref err @ Error::Incompatible { .. } => status(406, "NotAcceptable", err),
            ref err @ (Error::InvalidDepth { .. } | Error::UnknownResourceUrl { .. }) => {
                status(400, "BadRequest", err)
            }
            ref err @ Error::TooLarge { .. } => status(413, "RequestEntityTooLarge", err),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer of kube-apiserver's own.
    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, reason).with_code(code)))
    }

    /// An answer primary-all's server wrote: it names its group in `details`.
    fn servers_status(code: u16, reason: &str, message: &str) -> kube::Error {
        let status = Status::failure(message, reason)
            .with_code(code)
            .with_details(crate::wire::status_details());
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn a_missing_primary_is_not_found() {
        let err = Error::from_kube(servers_status(
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
    fn folded_into_kubes_error_a_status_stays_and_ours_get_a_code() {
        let missing = Error::from_kube(servers_status(404, "NotFound", "db-9 not found"));
        let kube::Error::Api(status) = kube::Error::from(missing) else {
            panic!("a Status stays a Status")
        };
        assert!(status.is_not_found());
        let not_installed = Error::NotInstalled {
            reason: "404 page not found".into(),
        };
        let kube::Error::Api(status) = kube::Error::from(not_installed) else {
            panic!("NotInstalled becomes a Status")
        };
        assert_eq!(status.code, 503);
        assert!(
            !status.is_not_found(),
            "a missing group is no missing primary"
        );
        assert!(status.message.starts_with("primary-all is not installed"));
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

    #[test]
    fn the_servers_own_not_found_is_not_mistaken_for_a_missing_group() {
        let err = Error::from_kube(servers_status(
            404,
            "NotFound",
            r#"the server could not find the requested resource "/apis/primary-all/v1/x""#,
        ));
        assert!(err.is_not_found(), "{err:?}");
    }
}
