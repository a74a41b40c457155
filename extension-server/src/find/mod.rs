//! Finding a primary's secondaries: three strategies behind one [`Finder`].
//!
//! * [`scan`] lists every listable kind and walks ownership in memory;
//! * [`indexed`] walks the watch index and reads only the kinds that hold
//!   secondaries;
//! * [`rules`] follows the relationship rules from what the others found.
//!
//! The strategy is chosen once, at start: [`Finder`] carries what its
//! strategy needs, so no answer can ask an index that was never built.

pub mod indexed;
pub mod rules;
pub mod scan;

use std::sync::Arc;

use kube::api::DynamicObject;

use crate::cluster::discovery::Catalog;
use crate::cluster::index::MetaIndex;

pub use scan::{Link, Scan, Secondary};

/// How the server finds secondaries (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Strategy {
    /// Cached discovery, then one LIST per listable kind per request.
    Scan,
    /// The seed's strategy: discovery and one LIST per listable kind, both
    /// for every request. Kept as the baseline the benchmark compares against.
    ListAll,
    /// A metadata-only watch of every kind indexes owners and labels; a
    /// request reads only the kinds that hold secondaries (the default).
    #[default]
    Indexed,
}

/// A [`Strategy`] with what it needs.
#[derive(Clone)]
pub enum Finder {
    /// See [`Strategy::Scan`].
    Scan,
    /// See [`Strategy::ListAll`]: discovery too is made for every request.
    ListAll,
    /// See [`Strategy::Indexed`], with its index.
    Indexed(Arc<MetaIndex>),
}

impl Finder {
    /// The finder of `strategy`; `indexed` starts no watch until the index
    /// is given a catalog to follow.
    pub fn new(client: &kube::Client, strategy: Strategy) -> Self {
        match strategy {
            Strategy::Scan => Self::Scan,
            Strategy::ListAll => Self::ListAll,
            Strategy::Indexed => Self::Indexed(Arc::new(MetaIndex::new(client.clone()))),
        }
    }

    /// The strategy this finder follows.
    pub fn strategy(&self) -> Strategy {
        match self {
            Self::Scan => Strategy::Scan,
            Self::ListAll => Strategy::ListAll,
            Self::Indexed(_) => Strategy::Indexed,
        }
    }

    /// The watch index, with `indexed`.
    pub fn index(&self) -> Option<&Arc<MetaIndex>> {
        match self {
            Self::Indexed(index) => Some(index),
            Self::Scan | Self::ListAll => None,
        }
    }

    /// Whether discovery is made afresh for every request (the seed's way).
    pub fn discovers_per_request(&self) -> bool {
        matches!(self, Self::ListAll)
    }

    /// The secondaries of `primary` down to `depth`: from the index, or by
    /// listing every kind of `catalog`.
    pub async fn secondaries(
        &self,
        client: &kube::Client,
        catalog: &Catalog,
        primary: &DynamicObject,
        depth: u32,
        consistency: Consistency,
    ) -> Scan {
        match self {
            Self::Indexed(index) => indexed::secondaries(index, primary, depth, consistency).await,
            Self::Scan | Self::ListAll => scan::scan(client, catalog, primary, depth).await,
        }
    }
}

pub use primary_all::wire::Consistency;
