//! primary-all's aggregated API server.
//!
//! # Overview
//!
//! kube-apiserver proxies `/apis/primary-all/v1/…` here, with its front-proxy
//! client certificate and the caller's identity in `X-Remote-*` headers. The
//! server answers with a primary and every secondary the caller may read:
//!
//! 1. [`auth::authn`] verifies the front proxy and reads who the caller is;
//! 2. [`http::request`] parses and validates the path and query, and
//!    [`http::routes`] sends it to one of the [`answer`]s;
//! 3. [`cluster::discovery`] resolves the kind from a cached catalog;
//! 4. the primary is read with a consistent read ([`answer::locate`]);
//! 5. a [`find::Finder`] finds what it owns or labels, and the relationship
//!    rules what it points at;
//! 6. [`auth::authz`] keeps what the caller may `list` (or `get` by name),
//!    and names the rest as left out;
//! 7. [`graph`] puts what is left into a tree, and the `health` crate
//!    judges it.
//!
//! # Layers
//!
//! Each folder is one layer, and a layer uses only the layers below it:
//!
//! ```text
//! server    state, router, TLS serving, probes, metrics, background work
//!   │
//! http      the route table, request parsing, watch streaming
//!   │
//! answer    one module per route: primary, owners, toplevel
//!   │
//!   ├── find      the strategies that find secondaries, behind one Finder
//!   ├── auth      front-proxy authentication, SubjectAccessReviews
//!   └── cluster   discovery, the watch index, reads with the server's account
//!   │
//! graph     pure: the ownership walk, the tree, rule parsing (no client, no I/O)
//! ```
//!
//! `find` may use `auth` and `cluster` (rules read what the caller may
//! read); `auth` may use `cluster` (a review names a discovered kind);
//! [`error`], the `Status`-shaped error every layer answers with, and
//! [`percent`], strict percent-decoding, sit beside them all. The test `layers::the_arrows_run_one_way` reads the
//! sources and fails on an import against the arrows.
//!
//! [`server::app`] builds the router apart from `main`, so that tests need
//! no socket.

pub mod answer;
pub mod auth;
pub mod cluster;
pub mod error;
pub mod find;
pub mod graph;
pub mod http;
pub mod percent;
pub mod server;

pub use server::{AppState, app};

#[cfg(test)]
mod layers;
