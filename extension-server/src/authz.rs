//! What the caller may see: a SubjectAccessReview per kind, as the caller.
//!
//! The server lists with its own (read-only) account, so it must never hand
//! a caller an object the caller could not `get` itself. Each kind in an
//! answer is checked with a SubjectAccessReview for the caller's user,
//! groups, uid and extra; the decision is cached for [`DECISION_TTL`], as Go's
//! delegated authorizer does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use primary_all::wire::{LeftOut, LeftOutReason};

use crate::authn::UserInfo;
use crate::discovery::Kind;

/// How long an allow or deny is reused.
pub const DECISION_TTL: Duration = Duration::from_secs(10);

/// The question asked: may `user` `get` `kind` in `namespace`?
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Question {
    user: String,
    uid: Option<String>,
    groups: Vec<String>,
    extra: Vec<(String, Vec<String>)>,
    group: String,
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
}

/// A decision, and how many API calls it cost (0 when cached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the caller may `get`.
    pub allowed: bool,
    /// kube-apiserver's reason, if it gave one.
    pub reason: String,
    /// 1 when a SubjectAccessReview was sent, 0 when cached.
    pub api_calls: u32,
}

/// Asks kube-apiserver whether callers may `get`, with a short-lived cache.
/// (Not `Debug`: kube's `Client` is not.)
pub struct Authorizer {
    client: kube::Client,
    cache: Mutex<HashMap<Question, (bool, String, Instant)>>,
}

impl Authorizer {
    /// An authorizer that sends SubjectAccessReviews with `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// May `user` `get` objects of `kind` in `namespace` (named `name`, when
    /// given)? `system:masters` is always allowed, as in kube-apiserver.
    ///
    /// # Errors
    ///
    /// When the SubjectAccessReview cannot be created.
    pub async fn can_get(
        &self,
        user: &UserInfo,
        kind: &Kind,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Decision, kube::Error> {
        if user.groups.iter().any(|g| g == "system:masters") {
            return Ok(Decision {
                allowed: true,
                reason: "system:masters".to_string(),
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
            group: kind.resource.group.clone(),
            resource: kind.resource.plural.clone(),
            namespace: namespace
                .filter(|_| kind.is_namespaced())
                .map(str::to_string),
            name: name.map(str::to_string),
        };
        if let Some((allowed, reason)) = self.cached(&question) {
            return Ok(Decision {
                allowed,
                reason,
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
                    verb: Some("get".to_string()),
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
        let reason = status.reason.unwrap_or_default();
        self.remember(question, allowed, reason.clone());
        Ok(Decision {
            allowed,
            reason,
            api_calls: 1,
        })
    }

    fn cached(&self, question: &Question) -> Option<(bool, String)> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(question)
            .filter(|(_, _, at)| at.elapsed() < DECISION_TTL)
            .map(|(allowed, reason, _)| (*allowed, reason.clone()))
    }

    fn remember(&self, question: Question, allowed: bool, reason: String) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        // Expired entries go when the cache grows, so it stays bounded by
        // the number of distinct questions in one TTL.
        if cache.len() > 10_000 {
            cache.retain(|_, (_, _, at)| at.elapsed() < DECISION_TTL);
        }
        cache.insert(question, (allowed, reason, Instant::now()));
    }
}

/// The entry of `leftOut` for a kind `user` may not `get` in `namespace`,
/// in kube-apiserver's words; it names the kind, never an object.
pub fn forbidden_left_out(user: &UserInfo, kind: &Kind, namespace: Option<&str>) -> LeftOut {
    LeftOut {
        group: kind.resource.group.clone(),
        version: kind.resource.version.clone(),
        kind: kind.resource.kind.clone(),
        resource: kind.resource.plural.clone(),
        namespace: namespace.map(str::to_string),
        reason: LeftOutReason::Forbidden,
        message: format!(
            "User \"{}\" cannot get resource \"{}\" in API group \"{}\"",
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
    use crate::discovery::tests::kind;

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
