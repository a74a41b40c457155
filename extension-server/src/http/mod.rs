//! HTTP: which route a path names, what its query asks, and how answers go out.
//!
//! * [`routes`]: the route table below `/apis/primary-all/v1`;
//! * [`request`]: the path and query, parsed and validated before any API
//!   call;
//! * [`watch`]: `?watch=true`, a stream of answers.

pub mod request;
pub mod routes;
pub mod watch;
