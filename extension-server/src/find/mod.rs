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

/// How fresh the objects in an answer must be (`?consistency=`), stated
/// the way kube-apiserver states its `resourceVersion` semantics.
///
/// | | the primary | each secondary | *which* objects are secondaries |
/// |---|---|---|---|
/// | `latest` | a consistent read made after the request arrived | a consistent read made after the request arrived | the index's view when the request arrived |
/// | `cached` | the index's copy, if its resourceVersion is the one the watch last saw; else as `latest` | the same, per object | the same |
///
/// A consistent read is a LIST without `resourceVersion`: kube-apiserver
/// answers it as of etcd's current revision (from its watch cache once that
/// has caught up, else from etcd), so `latest` returns no object older than
/// the request, exactly as a `kubectl get` sent at that moment would. Which
/// objects are read comes from the watch index, which lags kube-apiserver
/// by the watch's delivery delay (milliseconds on one machine): a
/// secondary created in that window may be missing, one deleted in it is
/// dropped (its read finds nothing). Objects of kinds the index has not
/// synced are listed directly, so they follow `latest` too.
///
/// `cached` makes no read for an object whose copy the index confirms: the
/// copy is as fresh as the watch, that is, at most the watch's delay behind
/// etcd, and answers cost no API call but the reviews. Neither mode reads
/// all objects at one revision: each read is consistent on its own, as
/// kubectl's reads of several kinds are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Every object read from kube-apiserver for this request.
    #[default]
    Latest,
    /// Objects the watch index confirms served from memory (needs
    /// `--strategy=indexed`).
    Cached,
}

impl Consistency {
    /// The word the answer's `consistency` field carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Cached => "cached",
        }
    }
}

