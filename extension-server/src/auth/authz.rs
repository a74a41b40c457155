//! What the caller may see: SubjectAccessReviews as the caller.
//!
//! The server reads with its own (read-only) account, so it must never hand
//! a caller an object the caller could not read itself. Two questions are
//! asked, as kube-apiserver would ask them:
//!
//! * an object the caller **named** (the primary, an owner named by an
//!   ownerReference the caller can read) is shown when the caller may `get`
//!   it by that name;
//! * objects the caller did **not** name (secondaries, a namespace's top
//!   level) are a disclosure of names, which is what `list` guards: they
//!   are shown when the caller may `list` their kind in their namespace.
//!   Where `list` is denied, a Role that grants `get` by `resourceNames`
//!   still sees exactly the objects it names (one review per object,
//!   bounded by [`MAX_NAMED_CHECKS`]); a caller who may `get` any name but
//!   not `list` learns no names, since withholding `list` is how a cluster
//!   says "you must know the name".
//!
//! Decisions are cached for [`DECISION_TTL`], as Go's delegated authorizer
//! caches them; `system:masters` is always allowed, as in kube-apiserver.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use primary_all::wire::{LeftOut, LeftOutReason};

use crate::auth::authn::UserInfo;
use crate::cluster::discovery::Kind;

/// How long an allow or deny is reused.
pub const DECISION_TTL: Duration = Duration::from_secs(10);
/// The most objects of one kind in one namespace checked one by one when
/// `list` is denied: a bound on what one answer costs kube-apiserver. Objects
/// past it are not shown (and the kind is named as left out).
pub const MAX_NAMED_CHECKS: usize = 64;
/// How many SubjectAccessReviews one answer has in flight at once.
pub const CONCURRENT_REVIEWS: usize = 8;
/// The most decisions kept; expired ones go first when it is reached.
const CACHE_LIMIT: u64 = 10_000;

/// The verb a review asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Read one object by name.
    Get,
    /// Read a collection: learn names.
    List,
}

impl Verb {
    /// The verb as RBAC spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
        }
    }
}

/// The question asked: may `user` `verb` `kind` in `namespace` (by `name`)?
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Question {
    user: String,
    uid: Option<String>,
    groups: Vec<String>,
    extra: Vec<(String, Vec<String>)>,
    verb: Verb,
    group: String,
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
}

/// A decision, and how many API calls it cost (0 when cached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the caller may.
    pub allowed: bool,
    /// 1 when a SubjectAccessReview was sent, 0 when cached.
    pub api_calls: u32,
}

/// Which of some objects the caller did not name may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// All of them: the caller may `list` the kind there.
    All,
    /// Only these names (none at all, when empty).
    Only(BTreeSet<String>),
}

impl Shown {
    /// Whether the object named `name` may be shown.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.contains(name),
        }
    }
}

/// Asks kube-apiserver what callers may do, with a short-lived cache.
/// (Not `Debug`: kube's `Client` is not.)
pub struct Authorizer {
    client: kube::Client,
    /// Decisions for [`DECISION_TTL`], at most [`CACHE_LIMIT`] of them (the
    /// least used go first when it is full).
    cache: moka::sync::Cache<Question, bool>,
}

impl Authorizer {
    /// An authorizer that sends SubjectAccessReviews with `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_LIMIT)
                .time_to_live(DECISION_TTL)
                .build(),
        }
    }

    /// May `user` `get` the object of `kind` named `name` in `namespace`?
    ///
    /// # Errors
    ///
    /// When the SubjectAccessReview cannot be created.
    pub async fn can_get(
        &self,
        user: &UserInfo,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Decision, kube::Error> {
        self.allows(user, Verb::Get, kind, namespace, Some(name))
            .await
    }

    /// May `user` `list` objects of `kind` in `namespace` (cluster-wide for
    /// a cluster-scoped kind)?
    ///
    /// # Errors
    ///
    /// When the SubjectAccessReview cannot be created.
    pub async fn can_list(
        &self,
        user: &UserInfo,
        kind: &Kind,
        namespace: Option<&str>,
    ) -> Result<Decision, kube::Error> {
        self.allows(user, Verb::List, kind, namespace, None).await
    }

    /// Which of `names` (objects of `kind` in `namespace` that the caller
    /// did not name) may be shown to `user`, and the API calls it cost: all
    /// when `list` is allowed; else none when `get` is allowed for any name;
    /// else those `get` allows by name, checked one by one up to
    /// [`MAX_NAMED_CHECKS`].
    ///
    /// # Errors
    ///
    /// When a SubjectAccessReview cannot be created.
    pub async fn shown(
        &self,
        user: &UserInfo,
        kind: &Kind,
        namespace: Option<&str>,
        names: &BTreeSet<String>,
    ) -> Result<(Shown, u32), kube::Error> {
        let list = self.can_list(user, kind, namespace).await?;
        let mut api_calls = list.api_calls;
        if list.allowed {
            return Ok((Shown::All, api_calls));
        }
        let any_name = self.allows(user, Verb::Get, kind, namespace, None).await?;
        api_calls += any_name.api_calls;
        if any_name.allowed {
            return Ok((Shown::Only(BTreeSet::new()), api_calls));
        }
        let names: Vec<&String> = names.iter().take(MAX_NAMED_CHECKS).collect();
        let mut checked = Vec::with_capacity(names.len());
        for chunk in names.chunks(CONCURRENT_REVIEWS) {
            let reviews = chunk
                .iter()
                .map(|name| self.can_get(user, kind, namespace, name));
            let decisions = futures::future::join_all(reviews).await;
            checked.extend(chunk.iter().copied().zip(decisions));
        }
        let mut allowed = BTreeSet::new();
        for (name, decision) in checked {
            let decision = decision?;
            api_calls += decision.api_calls;
            if decision.allowed {
                allowed.insert(name.clone());
            }
        }
        Ok((Shown::Only(allowed), api_calls))
    }

    /// May `user` `verb` `kind` in `namespace` (the object `name`, when
    /// given)? `system:masters` is always allowed, as in kube-apiserver.
    ///
    /// # Errors
    ///
    /// When the SubjectAccessReview cannot be created.
    pub async fn allows(
        &self,
        user: &UserInfo,
        verb: Verb,
        kind: &Kind,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Decision, kube::Error> {
        if user.groups.iter().any(|g| g == "system:masters") {
            return Ok(Decision {
                allowed: true,
                api_calls: 0,
            });
        }
        let question = Question {
            user: user.name.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            verb,
            group: kind.resource.group.clone(),
            resource: kind.resource.plural.clone(),
            namespace: namespace
                .filter(|_| kind.is_namespaced())
                .map(str::to_string),
            name: name.map(str::to_string),
        };
        if let Some(allowed) = self.cache.get(&question) {
            return Ok(Decision {
                allowed,
                api_calls: 0,
            });
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(question.user.clone()),
                uid: question.uid.clone(),
                groups: Some(question.groups.clone()),
                extra: Some(user.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.as_str().to_string()),
                    group: Some(question.group.clone()),
                    resource: Some(question.resource.clone()),
                    namespace: question.namespace.clone(),
                    name: question.name.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = api.create(&PostParams::default(), &review).await?;
        let status = answer.status.unwrap_or_default();
        let allowed = status.allowed && !status.denied.unwrap_or(false);
        self.cache.insert(question, allowed);
        Ok(Decision {
            allowed,
            api_calls: 1,
        })
    }
}

/// The entry of `leftOut` for objects of a kind the caller may not `list`
/// in `namespace` (`None`: cluster-scoped, or a namespace the caller did not
/// name, which is not disclosed). Written by the server, it names the kind,
/// never an object; the namespace is in its own field, not in the message.
pub fn forbidden_left_out(user: &UserInfo, kind: &Kind, namespace: Option<&str>) -> LeftOut {
    LeftOut {
        group: kind.resource.group.clone(),
        version: kind.resource.version.clone(),
        kind: kind.resource.kind.clone(),
        resource: kind.resource.plural.clone(),
        namespace: namespace.map(str::to_string),
        reason: LeftOutReason::Forbidden,
        message: format!(
            "User \"{}\" cannot list resource \"{}\" in API group \"{}\"",
            user.name, kind.resource.plural, kind.resource.group
        ),
    }
}

/// The message kube-apiserver gives for a forbidden `get`, so that kubectl
/// users read what they are used to.
pub fn forbidden_message(
    user: &UserInfo,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
) -> String {
    let scope = match namespace.filter(|_| kind.is_namespaced()) {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    format!(
        "{} \"{name}\" is forbidden: User \"{}\" cannot get resource \"{}\" in API group \"{}\"{scope}",
        kind.qualified_resource(),
        user.name,
        kind.resource.plural,
        kind.resource.group,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::discovery::tests::kind;

    #[test]
    fn forbidden_reads_like_kube_apiserver() {
        let user = UserInfo {
            name: "bob".to_string(),
            ..UserInfo::default()
        };
        let databases = kind("example.com", "v1", "Database", "databases", true);
        assert_eq!(
            forbidden_message(&user, &databases, Some("team-a"), "db-1"),
            "databases.example.com \"db-1\" is forbidden: User \"bob\" cannot get resource \
             \"databases\" in API group \"example.com\" in the namespace \"team-a\""
        );
    }
}
