//! The work the server does between requests, supervised.
//!
//! Three loops keep the caches current: the request-header CA (who may
//! call), the relationship rules, and discovery (which also tells the watch
//! index which kinds to watch). Each runs for the life of the process, so
//! one that ends, by a panic or otherwise, is a bug: [`Background::failed`]
//! reports it, and `main` stops the server, so that Kubernetes restarts the
//! Pod instead of leaving it serving with a cache that no longer follows
//! the cluster.

use std::time::Duration;

use kube::runtime::watcher::DefaultBackoff;
use tokio::task::JoinSet;

use crate::answer::Context;
use crate::auth::authn::{self, Authenticator};
use crate::cluster::discovery::{self, DiscoveryCache};
use crate::cluster::index::MetaIndex;
use crate::find::rules;

/// How long one discovery in the background may take: kube-apiserver
/// answers in milliseconds, so a minute means it is stuck, and the next
/// try should start afresh.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The background loops, running.
pub struct Background {
    tasks: JoinSet<&'static str>,
}

impl Background {
    /// Starts every loop for a server with `context` and `authenticator`.
    pub fn start(context: &Context, authenticator: &std::sync::Arc<Authenticator>) -> Self {
        let mut tasks = JoinSet::new();
        let client = context.client.clone();
        let authenticator = authenticator.clone();
        tasks.spawn(async move {
            authn::watch_configmap(client, authenticator).await;
            "request-header CA watch"
        });
        let client = context.client.clone();
        let store = context.rules.clone();
        tasks.spawn(async move {
            rules::watch_configmap(client, store).await;
            "relationship rules watch"
        });
        let discovery = context.discovery.clone();
        let index = context.finder.index().cloned();
        tasks.spawn(async move {
            refresh_discovery(&discovery, index.as_deref()).await;
            "discovery refresh"
        });
        Self { tasks }
    }

    /// Waits until a loop ends, and says which and how: a panic, or a
    /// return that should never happen.
    pub async fn failed(&mut self) -> String {
        match self.tasks.join_next().await {
            Some(Ok(name)) => format!("the {name} ended"),
            Some(Err(err)) if err.is_panic() => format!("a background task panicked: {err}"),
            Some(Err(err)) => format!("a background task was cancelled: {err}"),
            None => std::future::pending().await,
        }
    }
}

/// Discovery first (retried with kube-runtime's backoff, as its watchers
/// are), then every
/// [`discovery::REFRESH_EVERY`], or sooner when a watch finds its kind gone
/// or a CRD or APIService changes (then again at each of
/// [`discovery::FOLLOW_UPS`], because kube-apiserver's own discovery
/// follows an APIService through a work queue). The watch index, when
/// there is one, follows each new catalog.
async fn refresh_discovery(discovery: &DiscoveryCache, index: Option<&MetaIndex>) {
    let mut backoff = DefaultBackoff::default();
    let mut follow_ups: &[Duration] = &[];
    loop {
        let refreshed = tokio::time::Instant::now();
        let pause = match tokio::time::timeout(DISCOVERY_TIMEOUT, discovery.refresh()).await {
            Ok(Ok(catalog)) => {
                if let Some(index) = index {
                    index.follow(&catalog);
                }
                backoff = DefaultBackoff::default();
                match follow_ups.split_first() {
                    Some((next, rest)) => {
                        follow_ups = rest;
                        *next
                    }
                    None => discovery::REFRESH_EVERY,
                }
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "discovery failed; retrying");
                backoff.next().unwrap_or(discovery::REFRESH_EVERY)
            }
            Err(_elapsed) => {
                tracing::warn!(timeout = ?DISCOVERY_TIMEOUT, "discovery timed out; retrying");
                backoff.next().unwrap_or(discovery::REFRESH_EVERY)
            }
        };
        let kinds_changed = async {
            match index {
                Some(index) => index.kinds_changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = kinds_changed => {
                follow_ups = &discovery::FOLLOW_UPS;
                // Rate-limited like a refresh forced by a request.
                tokio::time::sleep_until(refreshed + discovery::MIN_FORCED_REFRESH).await;
            }
        }
    }
}
