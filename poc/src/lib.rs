//! A primary with all its secondaries, in one request: the kube-rs extension.
//!
#![doc = include_str!("../README.md")]
//!
//! # Where to start
//!
//! * [`GetLatestWithSecondariesExt`] gives [`kube::Api`] the calls; the
//!   `_detailed` ones return a [`WithSecondaries`] with
//!   [`left_out`](WithSecondaries::left_out);
//! * [`SecondaryParams`] and [`Consistency`] are their options;
//! * [`CacheSecondaries`] says where in the status the secondaries go
//!   ([`impl_cache_secondaries!`] writes it for the common case, and
//!   [`full_objects_schema`] gives the field a schema kube-apiserver keeps);
//! * [`SecondaryRefs`] says where references to them go, for the
//!   `etcd-status` feature ([`impl_secondary_refs!`]);
//! * [`mark_as_secondary`] labels and owns a child in one call, so that the
//!   server finds it;
//! * [`Error`] says what went wrong, and converts both ways with
//!   [`kube::Error`];
//! * [`wire`] holds the types server and clients share.

mod cache;
mod error;
mod ext;
mod owner;
#[cfg(feature = "etcd-status")]
mod status;
pub mod wire;

pub use cache::{CacheSecondaries, SecondaryRefs, full_objects_schema};
pub use error::{Error, Result};
pub use ext::{GetLatestWithSecondariesExt, SecondaryParams, WithSecondaries, route};
pub use owner::mark_as_secondary;
#[cfg(feature = "etcd-status")]
pub use status::{
    ETCD_REQUEST_LIMIT, StatusParams, store_secondaries_in_status, store_secondaries_in_status_with,
};
pub use wire::Consistency;

/// The label that marks an object as a secondary of the primary whose uid it
/// holds; the server finds such objects with a server-side label selector.
pub const PRIMARY_UID_LABEL: &str = "primary-all/primary-uid";
