//! [`CacheSecondaries`]: where a primary keeps its secondaries, and
//! [`SecondaryRefs`]: where it keeps references to them.

use kube::api::DynamicObject;
use kube::core::object::HasStatus;
use schemars::{Schema, SchemaGenerator};

use crate::wire::SecondaryRef;

/// A primary that keeps a cache of its secondaries in its status.
///
/// Implement the two `*_status_dependent` methods (they say where the cache
/// lives once there is a status); the rest is provided. For the common case,
/// a `secondaries: Vec<DynamicObject>` field in the status,
/// [`impl_cache_secondaries!`](crate::impl_cache_secondaries) writes the
/// implementation. Give that field a schema with
/// `#[schemars(schema_with = "primary_all::full_objects_schema")]`
/// ([`full_objects_schema`]), so that a CRD generated from the type keeps
/// what is stored there.
///
/// The trait is restricted to [`HasStatus`] types: every kube `Object` and
/// every `CustomResource` derived with a status is one, and a status is
/// where Kubernetes keeps what a controller observed, which is what a cache
/// of secondaries is.
///
/// ```
/// use kube::api::DynamicObject;
/// use primary_all::CacheSecondaries;
///
/// #[derive(Default)]
/// struct DatabaseStatus { secondaries: Vec<DynamicObject> }
/// #[derive(Default)]
/// struct Database { status: Option<DatabaseStatus> }
///
/// impl kube::core::object::HasStatus for Database {
///     type Status = DatabaseStatus;
///     fn status(&self) -> Option<&DatabaseStatus> { self.status.as_ref() }
///     fn status_mut(&mut self) -> &mut Option<DatabaseStatus> { &mut self.status }
/// }
///
/// impl CacheSecondaries for Database {
///     fn cache_secondary_status_dependent(status: &DatabaseStatus) -> &Vec<DynamicObject> {
///         &status.secondaries
///     }
///     fn cache_secondary_status_dependent_mut(status: &mut DatabaseStatus) -> &mut Vec<DynamicObject> {
///         &mut status.secondaries
///     }
/// }
///
/// let mut db = Database::default();
/// assert!(db.cache_secondary().is_empty());        // never absent, even without a status
/// db.cache_secondary_mut().push(DynamicObject::new("x", &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&())));
/// assert_eq!(db.cache_secondary().len(), 1);
/// assert!(db.status.is_some());                     // the status was initialized
/// ```
pub trait CacheSecondaries: HasStatus<Status: Default> {
    /// Where in a status the cache lives.
    ///
    /// It takes the status, not the object, so that every object with a
    /// status has a cache: there is no "status but no cache" for an
    /// implementation to return by mistake, and nothing to panic about.
    fn cache_secondary_status_dependent(status: &Self::Status) -> &Vec<DynamicObject>;

    /// Where in a status the cache lives, mutably.
    fn cache_secondary_status_dependent_mut(status: &mut Self::Status) -> &mut Vec<DynamicObject>;

    /// Gives the object a default status when it has none, so that the cache
    /// has somewhere to live. An existing status is left as it is.
    fn initialize_status(&mut self) {
        if self.status().is_none() {
            *self.status_mut() = Some(Self::Status::default());
        }
    }

    /// The cached secondaries; empty when there is no status.
    fn cache_secondary(&self) -> &[DynamicObject] {
        self.status()
            .map(|status| Self::cache_secondary_status_dependent(status).as_slice())
            .unwrap_or_default()
    }

    /// The cached secondaries, mutably; initializes the status first when
    /// there is none, so there is always a cache to write to.
    fn cache_secondary_mut(&mut self) -> &mut Vec<DynamicObject> {
        self.initialize_status();
        // `get_or_insert_with` also covers an `initialize_status` that an
        // implementation overrode and that left the status empty.
        let status = self.status_mut().get_or_insert_with(Default::default);
        Self::cache_secondary_status_dependent_mut(status)
    }
}

/// Implements [`CacheSecondaries`] for a type whose status has a
/// `Vec<DynamicObject>` field (by default `secondaries`).
///
/// ```
/// # use kube::api::DynamicObject;
/// # #[derive(Default)] struct DatabaseStatus { secondaries: Vec<DynamicObject> }
/// # #[derive(Default)] struct Database { status: Option<DatabaseStatus> }
/// # impl kube::core::object::HasStatus for Database {
/// #     type Status = DatabaseStatus;
/// #     fn status(&self) -> Option<&DatabaseStatus> { self.status.as_ref() }
/// #     fn status_mut(&mut self) -> &mut Option<DatabaseStatus> { &mut self.status }
/// # }
/// use primary_all::CacheSecondaries;
///
/// primary_all::impl_cache_secondaries!(Database);
/// // or, for another field name: primary_all::impl_cache_secondaries!(Database, children);
///
/// assert!(Database::default().cache_secondary().is_empty());
/// ```
#[macro_export]
macro_rules! impl_cache_secondaries {
    ($primary:ty) => {
        $crate::impl_cache_secondaries!($primary, secondaries);
    };
    ($primary:ty, $field:ident) => {
        impl $crate::CacheSecondaries for $primary {
            fn cache_secondary_status_dependent(
                status: &<$primary as ::kube::core::object::HasStatus>::Status,
            ) -> &::std::vec::Vec<::kube::api::DynamicObject> {
                &status.$field
            }

            fn cache_secondary_status_dependent_mut(
                status: &mut <$primary as ::kube::core::object::HasStatus>::Status,
            ) -> &mut ::std::vec::Vec<::kube::api::DynamicObject> {
                &mut status.$field
            }
        }
    };
}

/// The schema of a status field that holds full objects of any kind, for
/// `#[schemars(schema_with = "primary_all::full_objects_schema")]` on the
/// cache field: an array of objects whose fields kube-apiserver keeps as
/// they are (`x-kubernetes-preserve-unknown-fields`).
///
/// Without it the field has no schema worth the name: `DynamicObject` has
/// no `JsonSchema`, and a field marked `#[schemars(skip)]` is missing from
/// the CRD that kube's `CustomResourceExt::crd()` generates, so
/// kube-apiserver prunes whatever is written there (structural schema
/// pruning) and a stored cache silently vanishes.
///
/// ```
/// use kube::CustomResourceExt;
/// use kube::api::DynamicObject;
/// use primary_all::wire::SecondaryRef;
///
/// #[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
/// #[serde(rename_all = "camelCase")]
/// struct DatabaseStatus {
///     #[serde(default)]
///     #[schemars(schema_with = "primary_all::full_objects_schema")]
///     secondaries: Vec<DynamicObject>,
///     #[serde(default)]
///     secondary_refs: Vec<SecondaryRef>,
/// }
///
/// #[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, kube::CustomResource)]
/// #[kube(group = "example.com", version = "v1", kind = "Database", namespaced, status = "DatabaseStatus")]
/// struct DatabaseSpec { engine: String }
///
/// let crd = serde_json::to_value(Database::crd()).unwrap();
/// let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
/// let secondaries = &status["properties"]["secondaries"];
/// assert_eq!(secondaries["type"], "array");
/// assert_eq!(
///     secondaries["items"],
///     serde_json::json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
/// );
/// assert_eq!(status["properties"]["secondaryRefs"]["items"]["properties"]["kind"]["type"], "string");
/// ```
pub fn full_objects_schema(_generator: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// A primary that keeps references to its secondaries in its status: where
/// the `etcd-status` feature writes one [`SecondaryRef`] per secondary.
///
/// Like [`CacheSecondaries`], implement the two `*_status_dependent`
/// methods and the rest is provided; for a `secondary_refs:
/// Vec<SecondaryRef>` field in the status,
/// [`impl_secondary_refs!`](crate::impl_secondary_refs) writes them.
/// Serialize the field even when it is empty (`#[serde(default)]`, no
/// `skip_serializing_if`), so that storing an empty list clears the old one.
///
/// ```
/// use kube::api::DynamicObject;
/// use primary_all::SecondaryRefs;
/// use primary_all::wire::SecondaryRef;
///
/// #[derive(Default)]
/// struct DatabaseStatus { secondaries: Vec<DynamicObject>, secondary_refs: Vec<SecondaryRef> }
/// #[derive(Default)]
/// struct Database { status: Option<DatabaseStatus> }
///
/// impl kube::core::object::HasStatus for Database {
///     type Status = DatabaseStatus;
///     fn status(&self) -> Option<&DatabaseStatus> { self.status.as_ref() }
///     fn status_mut(&mut self) -> &mut Option<DatabaseStatus> { &mut self.status }
/// }
/// primary_all::impl_cache_secondaries!(Database);
///
/// impl SecondaryRefs for Database {
///     fn secondary_refs_status_dependent(status: &DatabaseStatus) -> &Vec<SecondaryRef> {
///         &status.secondary_refs
///     }
///     fn secondary_refs_status_dependent_mut(status: &mut DatabaseStatus) -> &mut Vec<SecondaryRef> {
///         &mut status.secondary_refs
///     }
/// }
///
/// let mut db = Database::default();
/// assert!(db.secondary_refs().is_empty());         // never absent, even without a status
/// db.secondary_refs_mut().push(SecondaryRef::default());
/// assert_eq!(db.secondary_refs().len(), 1);
/// ```
pub trait SecondaryRefs: CacheSecondaries {
    /// Where in a status the references live (see
    /// [`CacheSecondaries::cache_secondary_status_dependent`] for why it
    /// takes the status).
    fn secondary_refs_status_dependent(status: &Self::Status) -> &Vec<SecondaryRef>;

    /// Where in a status the references live, mutably.
    fn secondary_refs_status_dependent_mut(status: &mut Self::Status) -> &mut Vec<SecondaryRef>;

    /// The references; empty when there is no status.
    fn secondary_refs(&self) -> &[SecondaryRef] {
        self.status()
            .map(|status| Self::secondary_refs_status_dependent(status).as_slice())
            .unwrap_or_default()
    }

    /// The references, mutably; initializes the status first when there is
    /// none, so there is always a list to write to.
    fn secondary_refs_mut(&mut self) -> &mut Vec<SecondaryRef> {
        self.initialize_status();
        let status = self.status_mut().get_or_insert_with(Default::default);
        Self::secondary_refs_status_dependent_mut(status)
    }
}

/// Implements [`SecondaryRefs`] for a type whose status has a
/// `Vec<SecondaryRef>` field (by default `secondary_refs`).
///
/// ```
/// # use kube::api::DynamicObject;
/// # use primary_all::wire::SecondaryRef;
/// # #[derive(Default)] struct DatabaseStatus { secondaries: Vec<DynamicObject>, secondary_refs: Vec<SecondaryRef> }
/// # #[derive(Default)] struct Database { status: Option<DatabaseStatus> }
/// # impl kube::core::object::HasStatus for Database {
/// #     type Status = DatabaseStatus;
/// #     fn status(&self) -> Option<&DatabaseStatus> { self.status.as_ref() }
/// #     fn status_mut(&mut self) -> &mut Option<DatabaseStatus> { &mut self.status }
/// # }
/// use primary_all::SecondaryRefs;
///
/// primary_all::impl_cache_secondaries!(Database);
/// primary_all::impl_secondary_refs!(Database);
/// // or, for another field name: primary_all::impl_secondary_refs!(Database, children);
///
/// assert!(Database::default().secondary_refs().is_empty());
/// ```
#[macro_export]
macro_rules! impl_secondary_refs {
    ($primary:ty) => {
        $crate::impl_secondary_refs!($primary, secondary_refs);
    };
    ($primary:ty, $field:ident) => {
        impl $crate::SecondaryRefs for $primary {
            fn secondary_refs_status_dependent(
                status: &<$primary as ::kube::core::object::HasStatus>::Status,
            ) -> &::std::vec::Vec<$crate::wire::SecondaryRef> {
                &status.$field
            }

            fn secondary_refs_status_dependent_mut(
                status: &mut <$primary as ::kube::core::object::HasStatus>::Status,
            ) -> &mut ::std::vec::Vec<$crate::wire::SecondaryRef> {
                &mut status.$field
            }
        }
    };
}
