//! primary-all's test harness: connect to a cluster, isolate each test in a
//! namespace of its own, trace every request at DEBUG, and redact what
//! changes from run to run in snapshots.
//!
//! # Overview
//!
//! Cluster tests are `#[ignore = "needs a cluster: cargo xtask test"]` and
//! read top to bottom as examples; this crate only removes what is the same
//! in every one of them, never what a test asserts:
//!
//! ```no_run
//! # async fn wrapper() -> anyhow::Result<()> {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Api;
//!
//! kube_test_utils::init_tracing();
//! let client = kube_test_utils::client().await?;
//! let namespace = kube_test_utils::TestNamespace::create(&client, "example").await?;
//! let config_maps: Api<ConfigMap> = Api::namespaced(client, namespace.name());
//! // … create, read, assert, snapshot with kube_test_utils::k8s_redactions() …
//! namespace.delete().await?;
//! # Ok(())
//! # }
//! ```

pub mod fixtures;
pub mod namespace;
pub mod redactions;

use anyhow::Context;

pub use fixtures::{IDLE_IMAGE, install_database_crd};
pub use namespace::TestNamespace;
pub use redactions::k8s_redactions;

/// A client for the cluster `KUBECONFIG` points at (as `cargo xtask test`
/// sets it), with an error that says how to get one.
///
/// # Errors
///
/// When no kubeconfig or in-cluster configuration can be loaded.
pub async fn client() -> anyhow::Result<kube::Client> {
    kube::Client::try_default().await.context(
        "no cluster to test against: run the cluster tests with `cargo xtask test` \
         (it boots one), or set KUBECONFIG",
    )
}

/// Installs a tracing subscriber at DEBUG (or `RUST_LOG`) that writes through
/// the test harness, so a failing test shows every request it made. Safe to
/// call from every test.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "debug,hyper_util=info,tower=info,rustls=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
