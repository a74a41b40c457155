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
//!   ([`impl_cache_secondaries!`] writes it for the common case, and
//!   [`full_objects_schema`] gives the field a schema kube-apiserver keeps);
//! * [`SecondaryRefs`] says where references to them go, for the
//!   `etcd-status` feature ([`impl_secondary_refs!`]);
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
//!     #[schemars(schema_with = "primary_all::full_objects_schema")]
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
//! * `etcd-status` (off by default): `store_secondaries_in_status` writes
//!   the cache into the primary's status subresource, so it lives in etcd:
//!   a reference ([`wire::SecondaryRef`]) for every secondary, and full
//!   objects only of the kinds the operator lists, never of Secrets, so
//!   that a reader of the primary learns no contents it could not read
//!   itself.

mod cache;
mod error;
mod ext;
mod owner;
#[cfg(feature = "etcd-status")]
mod status;
pub mod wire;

pub use cache::{CacheSecondaries, SecondaryRefs, full_objects_schema};
pub use error::{Error, Result};
pub use ext::{Consistency, GetLatestWithSecondariesExt, SecondaryParams, WithSecondaries, route};
pub use owner::mark_as_secondary;
#[cfg(feature = "etcd-status")]
pub use status::{
    ETCD_REQUEST_LIMIT, StatusParams, store_secondaries_in_status, store_secondaries_in_status_with,
};

/// The label that marks an object as a secondary of the primary whose uid it
/// holds; the server finds such objects with a server-side label selector.
pub const PRIMARY_UID_LABEL: &str = "primary-all/primary-uid";
