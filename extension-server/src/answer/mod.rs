//! One module per route: what a caller asked for, answered.
//!
//! Each route takes the caller, what it asked for ([`PrimaryRef`] and
//! [`Params`], which the `http` layer parses) and a [`Context`]: the
//! few shared things an answer needs, not the whole server.

pub mod locate;
pub mod owners;
pub mod primary;
pub mod toplevel;

use std::sync::Arc;

use crate::auth::authz::Authorizer;
use crate::cluster::discovery::{DiscoveryCache, KindQuery};
use crate::find::rules::RuleStore;
use crate::find::{Consistency, Finder};

pub use primary::primary;

/// An answer, and the API calls it cost (for the server's metrics).
#[derive(Debug)]
pub struct Answered<T> {
    /// What the caller gets.
    pub body: T,
    /// The calls to kube-apiserver it took.
    pub api_calls: u32,
}

/// What every answer reads with.
#[derive(Clone)]
pub struct Context {
    /// The server's own client for kube-apiserver (read-only rights).
    pub client: kube::Client,
    /// The cached discovery catalog.
    pub discovery: Arc<DiscoveryCache>,
    /// The SubjectAccessReview authorizer.
    pub authorizer: Arc<Authorizer>,
    /// How secondaries are found.
    pub finder: Finder,
    /// The relationship rules in force.
    pub rules: Arc<RuleStore>,
}

impl Context {
    /// The context of a server that reads with `client` and finds
    /// secondaries with `finder`.
    pub fn new(client: kube::Client, finder: Finder) -> Self {
        Self {
            discovery: Arc::new(DiscoveryCache::new(client.clone())),
            authorizer: Arc::new(Authorizer::new(client.clone())),
            client,
            finder,
            rules: Arc::default(),
        }
    }
}

/// A primary, as named by a path, before discovery resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryRef {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version, when the path names one (the first shape); otherwise the
    /// most stable version that serves the kind is used.
    pub version: Option<String>,
    /// The kind (`Database`) or plural resource name (`databases`), in any case.
    pub kind: String,
    /// The namespace; `None` for a cluster-scoped primary.
    pub namespace: Option<String>,
    /// The primary's name.
    pub name: String,
}

impl PrimaryRef {
    /// The kind it names, for discovery to resolve.
    pub fn kind_query(&self) -> KindQuery<'_> {
        KindQuery {
            group: &self.group,
            version: self.version.as_deref(),
            kind: &self.kind,
        }
    }
}

/// How the answer is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// A flat `List` of secondaries (the default).
    #[default]
    List,
    /// Secondaries nested under their owners, for people.
    Tree,
}

/// The query parameters of a primary route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// How many levels of ownerReferences to follow (1 = direct children).
    pub depth: u32,
    /// The layout of the answer.
    pub view: View,
    /// The version to read the primary at, for the routes whose path names
    /// none (clients that decode into a typed version send it).
    pub version: Option<String>,
    /// How fresh the objects must be.
    pub consistency: Consistency,
    /// Whether to stream a new answer whenever it changes (`watch=true`).
    pub watch: bool,
    /// How long a watch lasts at most, in seconds (`timeoutSeconds`).
    pub timeout_seconds: Option<u32>,
    /// The name `fieldSelector=metadata.name=…` selects, for a path that
    /// names a kind but no object.
    pub name_selected: Option<String>,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            depth: primary_all::wire::DEFAULT_DEPTH,
            view: View::List,
            version: None,
            consistency: Consistency::Latest,
            watch: false,
            timeout_seconds: None,
            name_selected: None,
        }
    }
}
