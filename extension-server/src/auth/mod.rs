//! Who the caller is, and what the caller may see.
//!
//! * [`authn`]: the front proxy's client certificate and the `X-Remote-*`
//!   headers it sets, checked as kube-apiserver checks them;
//! * [`authz`]: SubjectAccessReviews as the caller, cached briefly.

pub mod authn;
pub mod authz;
