//! What the server knows of the cluster, and how it reads it.
//!
//! * [`discovery`]: the kinds the cluster serves, cached and refreshed;
//! * [`index`]: one metadata-only watch per kind, indexing owners and
//!   labels (the `indexed` strategy);
//! * [`read`]: reads with the server's own account, in the only shapes its
//!   role allows.

pub mod discovery;
pub mod index;
pub mod read;
