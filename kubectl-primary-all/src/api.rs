//! Talking to primary-all through kube-apiserver: the client from the
//! kubeconfig, the paths, the requests, and their failures in kubectl's words.
//!
//! No discovery happens here: the TYPE people type goes into the path as is,
//! and the server resolves it, so one request answers each command.

use futures::Stream;
use http::Request;
use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::core::{Status, WatchEvent};

use crate::cli::Connection;

/// The prefix of every path the plugin asks for.
use primary_all::wire::{PREFIX, object_path, path_segment};

/// Everything that can go wrong, each printed the way kubectl prints it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a `Status`: the object is missing, the user
    /// may not read it, the TYPE is unknown.
    #[error("Error from server ({}): {}", .0.reason, .0.message)]
    Server(Box<Status>),

    /// kube-apiserver does not serve the primary-all group.
    #[error(
        "error: primary-all is not installed in this cluster (the server {server} answered \
         {answer:?} for {PREFIX}).\n\
         Install it with `kubectl apply -f extension-server/deploy/` from \
         https://github.com/primary-all/primary-all, or ask your cluster administrator, \
         then check that `kubectl get apiservice v1.primary-all` says Available."
    )]
    NotInstalled {
        /// The cluster asked.
        server: String,
        /// What kube-apiserver answered.
        answer: String,
    },

    /// The connection was refused.
    #[error(
        "The connection to the server {server} was refused - did you specify the right host \
         or port?"
    )]
    Refused {
        /// `host:port` of the cluster.
        server: String,
    },

    /// The cluster could not be reached or its answer not read.
    #[error("Unable to connect to the server {server}: {cause}")]
    Unreachable {
        /// `host:port` of the cluster.
        server: String,
        /// The innermost cause, which is the one that says what happened
        /// (kube's outer errors only say "client error (Connect)").
        cause: String,
        /// The error itself.
        #[source]
        source: kube::Error,
    },

    /// No usable kubeconfig.
    #[error("error: {0}")]
    Config(String),

    /// The answer is not what the server should send.
    #[error("error: the answer of the server could not be read: {0}")]
    Decode(#[source] serde_json::Error),
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection to one cluster, as one user, in one namespace.
#[derive(Clone)]
pub struct Api {
    client: Client,
    namespace: String,
    server: String,
}

impl Api {
    /// Connects as kubectl would: `--kubeconfig`, else `KUBECONFIG`, else
    /// `~/.kube/config` (else the in-cluster service account); `--context`,
    /// else the current context; `-n`, else the context's namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no configuration can be loaded.
    pub async fn connect(connection: &Connection) -> Result<Self> {
        let options = KubeConfigOptions {
            context: connection.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match (&connection.kubeconfig, &connection.context) {
            (Some(path), _) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    Error::Config(format!("failed to read kubeconfig {}: {e}", path.display()))
                })?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| Error::Config(e.to_string()))?
            }
            (None, Some(_)) => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
            (None, None) => Config::infer()
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
        };
        Self::from_config(config, connection)
    }

    fn from_config(mut config: Config, connection: &Connection) -> Result<Self> {
        if let Some(user) = &connection.as_user {
            config.auth_info.impersonate = Some(user.clone());
        }
        if !connection.as_group.is_empty() {
            config.auth_info.impersonate_groups = Some(connection.as_group.clone());
        }
        let namespace = connection
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config
            .cluster_url
            .authority()
            .map_or_else(|| config.cluster_url.to_string(), ToString::to_string);
        let client = Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            client,
            namespace,
            server,
        })
    }

    /// The namespace commands look in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// GETs the primary route of `kind`/`name` with `query`, as JSON text.
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn primary(&self, kind: &str, name: &str, query: &str) -> Result<String> {
        self.get_namespaced_or_cluster(kind, name, "", query).await
    }

    /// GETs the owners route of `kind`/`name`, as JSON text.
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn owners(&self, kind: &str, name: &str) -> Result<String> {
        self.get_namespaced_or_cluster(kind, name, "/owners", "")
            .await
    }

    /// GETs the namespace's top-level route, as JSON text.
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn top_level(&self) -> Result<String> {
        let path = primary_all::wire::top_level_path(&self.namespace);
        self.get(&path).await
    }

    /// Watches the primary route: the server sends the answer, then again
    /// whenever it changed, until its time bound ends the stream.
    ///
    /// # Errors
    ///
    /// See [`Error`]; errors inside the stream are mapped the same way.
    pub async fn watch_primary(
        &self,
        kind: &str,
        name: &str,
        query: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<serde_json::Value>>> + use<>> {
        use futures::StreamExt;
        // The path names the kind and the field selector the object: the
        // shape kube-apiserver authorizes as `watch` and lets run for as
        // long as the server streams (a path naming the object is a `get`,
        // which it cuts after a minute).
        let query = format!(
            "{query}&watch=true&fieldSelector=metadata.name%3D{}",
            segment(name)
        );
        let path = with_query(
            format!(
                "{PREFIX}/namespaces/{}/{}",
                segment(&self.namespace),
                segment(kind)
            ),
            &query,
        );
        let events = match self.client.request_events(get_request(&path)).await {
            Err(kube::Error::Api(status)) if is_cluster_scoped(&status) => {
                let path = with_query(format!("{PREFIX}/{}", segment(kind)), &query);
                self.client.request_events(get_request(&path)).await
            }
            other => other,
        };
        let server = self.server.clone();
        let events = events.map_err(|e| self.map(e))?;
        Ok(events.map(move |event| event.map_err(|e| map_error(e, &server))))
    }

    /// Asks the namespaced route first, because most primaries are
    /// namespaced; the server answers 400 "… is cluster-scoped" when the
    /// TYPE is not, and then the cluster-scoped route is asked, once. The
    /// plugin does no discovery of its own, so this one retry is the price
    /// of knowing a kind's scope only on the server.
    async fn get_namespaced_or_cluster(
        &self,
        kind: &str,
        name: &str,
        suffix: &str,
        query: &str,
    ) -> Result<String> {
        let path = self.namespaced_path(kind, name, suffix, query);
        match self.client.request_text(get_request(&path)).await {
            Err(kube::Error::Api(status)) if is_cluster_scoped(&status) => {
                let path = cluster_path(kind, name, suffix, query);
                self.get(&path).await
            }
            other => other.map_err(|e| self.map(e)),
        }
    }

    async fn get(&self, path: &str) -> Result<String> {
        self.client
            .request_text(get_request(path))
            .await
            .map_err(|e| self.map(e))
    }

    fn namespaced_path(&self, kind: &str, name: &str, suffix: &str, query: &str) -> String {
        let path = object_path(Some(&self.namespace), kind, name);
        with_query(format!("{path}{suffix}"), query)
    }

    fn map(&self, err: kube::Error) -> Error {
        map_error(err, &self.server)
    }
}

fn cluster_path(kind: &str, name: &str, suffix: &str, query: &str) -> String {
    let path = object_path(None, kind, name);
    with_query(format!("{path}{suffix}"), query)
}

fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

fn get_request(path: &str) -> Request<Vec<u8>> {
    Request::get(path)
        .body(Vec::new())
        .expect("a path built from percent-encoded segments is a valid URI")
}

/// One path segment, percent-encoded.
fn segment(text: &str) -> String {
    path_segment(text)
}

/// The server's answer when the namespaced route names a cluster-scoped kind.
fn is_cluster_scoped(status: &Status) -> bool {
    status.code == 400 && status.message.contains("is cluster-scoped")
}

/// Sorts a failure: the server's own `Status`, the group not served at
/// all, or no cluster to talk to.
fn map_error(err: kube::Error, server: &str) -> Error {
    match err {
        kube::Error::Api(status) if primary_all::wire::is_not_installed(&status) => {
            Error::NotInstalled {
                server: server.to_string(),
                // kube-apiserver's plain text already starts with the code.
                answer: if status.message.starts_with(&status.code.to_string()) {
                    status.message.clone()
                } else {
                    format!("{} {}", status.code, status.message)
                },
            }
        }
        kube::Error::Api(status) => Error::Server(status),
        kube::Error::SerdeError(e) => Error::Decode(e),
        other if is_refused(&other) => Error::Refused {
            server: server.to_string(),
        },
        other => Error::Unreachable {
            server: server.to_string(),
            cause: innermost(&other),
            source: other,
        },
    }
}

/// The message of the last error in the chain of sources.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}

fn is_refused(err: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        if e.to_string().contains("Connection refused") {
            return true;
        }
        source = e.source();
    }
    false
}

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
            .with_details(primary_all::wire::status_details());
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn a_status_reads_like_kubectls_error() {
        let err = map_error(
            servers_status(404, "NotFound", r#"databases.example.com "db-9" not found"#),
            "127.0.0.1:6443",
        );
        assert_eq!(
            err.to_string(),
            r#"Error from server (NotFound): databases.example.com "db-9" not found"#
        );
    }

    #[test]
    fn a_group_nobody_serves_is_not_installed() {
        for (code, reason, message) in [
            (404, "Failed to parse error data", "404 page not found"),
            (
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
            (503, "ServiceUnavailable", "service unavailable"),
        ] {
            let err = map_error(status(code, reason, message), "127.0.0.1:6443");
            assert!(matches!(err, Error::NotInstalled { .. }), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with("error: primary-all is not installed in this cluster"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_servers_own_not_found_is_not_mistaken_for_a_missing_group() {
        let err = map_error(
            servers_status(
                404,
                "NotFound",
                r#"the server could not find the requested resource "/apis/primary-all/v1/x""#,
            ),
            "127.0.0.1:6443",
        );
        assert!(matches!(err, Error::Server(_)), "{err:?}");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("databases.example.com"), "databases.example.com");
        assert_eq!(segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
    }

    #[test]
    fn only_the_cluster_scoped_answer_triggers_the_retry() {
        let yes =
            Status::failure("namespaces is cluster-scoped; use …", "BadRequest").with_code(400);
        let no = Status::failure("invalid name", "BadRequest").with_code(400);
        assert!(is_cluster_scoped(&yes));
        assert!(!is_cluster_scoped(&no));
    }
}
