//! A primary with all its secondaries, in one request.
//!
//! # Overview
//!
//! An operator's custom resource (the *primary*) creates many *secondary*
//! objects. primary-all's extension API server answers one request with the
//! primary and every secondary the caller may read; this crate holds the
//! types both sides of that request share, so that the server and its
//! clients cannot drift apart.
//!
//! ```
//! use primary_all::wire::{PrimaryWithSecondaries, path_for};
//!
//! let path = path_for("example.com", "v1", "Database", Some("default"), "db-1");
//! assert_eq!(path, "/apis/primary-all/v1/example.com/v1/Database/default/db-1");
//! # let _ = std::any::type_name::<PrimaryWithSecondaries>();
//! ```
//!
//! # Features
//!
//! None yet.

pub mod wire;

/// The label that marks an object as a secondary of the primary whose uid it
/// holds; the server finds such objects with a server-side label selector.
pub const PRIMARY_UID_LABEL: &str = "primary-all/primary-uid";
