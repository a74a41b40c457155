//! A primary with all its secondaries, in one request.
//!
//! # Overview
//!
//! An operator's custom resource (the *primary*) creates many *secondary*
//! objects. primary-all's extension API server answers one request with the
//! primary and every secondary the caller may read. This crate is what an
//! operator author adds to `Cargo.toml`:
//!
//! * [`GetLatestWithSecondariesExt`] gives [`kube::Api`] a
//!   `get_latest_with_secondaries` that works like `Api::get` and returns
//!   the author's own type with the secondaries in its status;
//! * [`CacheSecondaries`] says where in the status they go
//!   ([`impl_cache_secondaries!`] writes it for the common case);
//! * [`mark_as_secondary`] labels and owns a child in one call, so that the
//!   server finds it;
//! * [`wire`] holds the types server and clients share.
//!
//! ```no_run
//! # async fn wrapper() -> Result<(), Box<dyn std::error::Error>> {
//! use kube::api::DynamicObject;
//! use primary_all::{CacheSecondaries, GetLatestWithSecondariesExt};
//!
//! #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
//! struct DatabaseStatus {
//!     #[serde(default)]
//!     #[schemars(skip)]
//!     secondaries: Vec<DynamicObject>,
//! }
//!
//! #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
//! #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
//! struct DatabaseSpec {
//!     engine: String,
//! }
//!
//! primary_all::impl_cache_secondaries!(Database);
//!
//! let client = kube::Client::try_default().await?;
//! let databases: kube::Api<Database> = kube::Api::namespaced(client, "default");
//! let db = databases.get_latest_with_secondaries("db-1").await?;
//! println!("db-1 has {} secondaries", db.cache_secondary().len());
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! * `etcd-status` (off by default): [`store_secondaries_in_status`] writes
//!   the cache into the primary's status subresource, so it lives in etcd.

mod cache;
mod error;
mod ext;
mod owner;
#[cfg(feature = "etcd-status")]
mod status;
pub mod wire;

pub use cache::CacheSecondaries;
pub use error::{Error, Result};
pub use ext::{GetLatestWithSecondariesExt, SecondaryParams, into_primary, route};
pub use owner::mark_as_secondary;
#[cfg(feature = "etcd-status")]
pub use status::{ETCD_REQUEST_LIMIT, store_secondaries_in_status};

/// The label that marks an object as a secondary of the primary whose uid it
/// holds; the server finds such objects with a server-side label selector.
pub const PRIMARY_UID_LABEL: &str = "primary-all/primary-uid";
