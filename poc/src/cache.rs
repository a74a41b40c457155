//! [`CacheSecondaries`]: where a primary keeps its secondaries.

use kube::api::DynamicObject;
use kube::core::object::HasStatus;

/// A primary that keeps a cache of its secondaries in its status.
///
/// Implement the two `*_status_dependent` methods (they say where the cache
/// lives once there is a status); the rest is provided. For the common case,
/// a `secondaries: Vec<DynamicObject>` field in the status,
/// [`impl_cache_secondaries!`](crate::impl_cache_secondaries) writes the
/// implementation.
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
///     fn cache_secondary_status_dependent(&self) -> Option<&Vec<DynamicObject>> {
///         self.status.as_ref().map(|s| &s.secondaries)
///     }
///     fn cache_secondary_status_dependent_mut(&mut self) -> Option<&mut Vec<DynamicObject>> {
///         self.status.as_mut().map(|s| &mut s.secondaries)
///     }
/// }
///
/// let mut db = Database::default();
/// assert!(db.cache_secondary().is_empty());        // never absent, even without a status
/// db.cache_secondary_mut().push(DynamicObject::new("x", &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&())));
/// assert_eq!(db.cache_secondary().len(), 1);
/// assert!(db.status.is_some());                     // the status was initialized
/// ```
pub trait CacheSecondaries: HasStatus
where
    Self::Status: Default,
{
    /// The cache, if there is a status to hold it.
    fn cache_secondary_status_dependent(&self) -> Option<&Vec<DynamicObject>>;

    /// The cache, mutably, if there is a status to hold it.
    fn cache_secondary_status_dependent_mut(&mut self) -> Option<&mut Vec<DynamicObject>>;

    /// Gives the object a default status when it has none, so that the cache
    /// has somewhere to live. An existing status is left as it is.
    fn initialize_status(&mut self) {
        if self.status().is_none() {
            *self.status_mut() = Some(Self::Status::default());
        }
    }

    /// The cached secondaries; empty when there is no status.
    fn cache_secondary(&self) -> &[DynamicObject] {
        self.cache_secondary_status_dependent()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The cached secondaries, mutably; initializes the status first when
    /// there is none, so there is always a cache to write to.
    fn cache_secondary_mut(&mut self) -> &mut Vec<DynamicObject> {
        self.initialize_status();
        self.cache_secondary_status_dependent_mut()
            .expect("initialize_status gives every object a status whose cache exists")
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
                &self,
            ) -> ::std::option::Option<&::std::vec::Vec<::kube::api::DynamicObject>> {
                ::kube::core::object::HasStatus::status(self).map(|status| &status.$field)
            }

            fn cache_secondary_status_dependent_mut(
                &mut self,
            ) -> ::std::option::Option<&mut ::std::vec::Vec<::kube::api::DynamicObject>> {
                ::kube::core::object::HasStatus::status_mut(self)
                    .as_mut()
                    .map(|status| &mut status.$field)
            }
        }
    };
}
