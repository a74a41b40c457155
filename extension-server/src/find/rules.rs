//! Relationship rules: links between objects that ownerReferences do not
//! record, declared in a ConfigMap rather than written into the server.
//!
//! A Service owns none of the Pods it sends traffic to, and a
//! PersistentVolumeClaim owns not the volume it is bound to; yet a person
//! asking "what does my Database consist of" wants both. Each rule names a
//! `from` kind, a `to` kind, and where in a `from` object the link is
//! written: a label `selector`, a `name`, or a list of `refs`. The server
//! applies the rules to the objects of an answer, reads what they point at
//! (one LIST per selector, one LIST by name per reference), and hangs it below its source
//! with the link `rule:<name>`. What it finds passes the same per-kind
//! authorization as every other secondary.
//!
//! The rules live in the ConfigMap `primary-all/relationship-rules` (key
//! `rules.yaml`), watched like the request-header ConfigMap; without it the
//! server uses the rules shipped in `deploy/relationship-rules.yaml`, which
//! it embeds, so a cluster without the ConfigMap behaves as one with it.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::Selector;

use crate::cluster::discovery::{Catalog, Kind};
use crate::find::{Link, Secondary};
use crate::graph::rules::{CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, Rule, RuleSet};

/// The most reads one answer makes by rules, and the most objects one
/// selector read returns: a bound on what a rule set (or a Service
/// selecting thousands of Pods) can cost one request.
pub const MAX_RULE_READS: usize = 64;

/// The rules in force, swapped whole when the ConfigMap changes.
#[derive(Debug)]
pub struct RuleStore {
    current: RwLock<Arc<RuleSet>>,
}

impl Default for RuleStore {
    fn default() -> Self {
        Self {
            current: RwLock::new(Arc::new(RuleSet::shipped())),
        }
    }
}

impl RuleStore {
    /// The rules in force.
    pub fn get(&self) -> Arc<RuleSet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `rules` in force.
    pub fn set(&self, rules: RuleSet) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
    }
}

/// Follows the rules ConfigMap until the process ends: a valid new version
/// replaces the rules, an invalid one is logged and ignored (the old rules
/// stay), a deleted ConfigMap brings back the shipped rules.
pub async fn watch_configmap(client: kube::Client, store: Arc<RuleStore>) {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::WatchStreamExt;
    use kube::runtime::watcher::{self, Event};

    let api: Api<ConfigMap> = Api::namespaced(client, CONFIGMAP_NAMESPACE);
    let config = watcher::Config::default().fields(&format!("metadata.name={CONFIGMAP_NAME}"));
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        let configmap = match event {
            Ok(Event::Apply(cm) | Event::InitApply(cm)) => cm,
            Ok(Event::Delete(_)) => {
                tracing::info!("{CONFIGMAP_NAME} deleted; the shipped rules apply");
                store.set(RuleSet::shipped());
                continue;
            }
            Ok(Event::Init | Event::InitDone) => continue,
            Err(err) => {
                tracing::debug!(error = %err, "watch on {CONFIGMAP_NAME} failed; retrying");
                continue;
            }
        };
        match RuleSet::from_configmap_data(&configmap.data.unwrap_or_default()) {
            Ok(rules) => {
                tracing::info!(
                    rules = rules.rules.len(),
                    hidden = rules.hidden.len(),
                    "relationship rules loaded"
                );
                store.set(rules);
            }
            Err(err) => {
                tracing::error!(error = %err, "relationship rules unusable; keeping the old ones")
            }
        }
    }
}

/// What applying the rules to an answer found.
#[derive(Debug, Default)]
pub struct Found {
    /// Objects the rules point at, each below the object that points.
    pub secondaries: Vec<Secondary>,
    /// How many API calls were made.
    pub api_calls: u32,
    /// Kinds that reads were planned for but not made, because the answer's
    /// budget of [`MAX_RULE_READS`] was spent.
    pub truncated: Vec<Kind>,
    /// Kinds whose rule reads failed (the cause is logged, not returned).
    pub failed: Vec<Kind>,
    /// References refused before any read: a namespace or name that no
    /// object can have, or a kind the cluster does not serve.
    pub refused: u32,
}

/// One read a rule asks for, planned before any is made.
#[derive(Debug, Clone)]
struct Plan {
    /// The rule that asks.
    rule: Arc<str>,
    /// The object that points, and its level.
    source_uid: String,
    level: u32,
    /// The kind read.
    kind: Kind,
    /// Where.
    namespace: Option<String>,
    /// What: objects a label selector selects, or one object by name.
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    Selected(Selector),
    Named(String),
}

/// Applies `rules` to `sources` (the primary and its secondaries, each with
/// its level): reads what each rule points at and returns it as new
/// secondaries one level below their source. Objects already in `known`
/// (by uid) are not repeated.
///
/// Every reference is checked before it is read (a namespace must be a DNS
/// label, a name an object name, the kind one the cluster serves), every
/// read is checked after (the object must be the one asked for), reads run
/// [`CONCURRENT_RULE_READS`] at a time, and one answer makes at most
/// [`MAX_RULE_READS`] of them: what the budget cut is named in
/// [`Found::truncated`].
pub async fn apply(
    client: &kube::Client,
    reader: Reader<'_>,
    catalog: &Catalog,
    rules: &RuleSet,
    sources: &[(&DynamicObject, u32)],
    known: &mut HashSet<String>,
) -> Found {
    use futures::{FutureExt, StreamExt};

    let mut found = Found::default();
    let mut plans = Vec::new();
    for (source, level) in sources {
        let Some(types) = &source.types else {
            continue;
        };
        let group = primary_all::wire::group_of(&types.api_version);
        for rule in rules
            .rules
            .iter()
            .filter(|r| r.from.group == group && r.from.kind == types.kind)
        {
            plan(
                catalog,
                rule,
                source,
                *level,
                &mut plans,
                &mut found.refused,
            );
        }
    }
    if found.refused > 0 {
        tracing::debug!(
            refused = found.refused,
            "rule references refused before reading"
        );
    }
    let over_budget = plans.split_off(plans.len().min(MAX_RULE_READS));
    for plan in over_budget {
        if !found
            .truncated
            .iter()
            .any(|k| k.is_same_resource(&plan.kind))
        {
            found.truncated.push(plan.kind);
        }
    }
    let reads = futures::stream::iter(plans)
        .map(|plan| {
            async move {
                let read = read(client, reader, &plan).await;
                (plan, read)
            }
            .boxed()
        })
        .buffered(CONCURRENT_RULE_READS)
        .collect::<Vec<_>>()
        .await;
    for (plan, read) in reads {
        let (objects, api_calls) = match read {
            Ok(Read::Refused { api_calls }) => {
                found.refused += 1;
                found.api_calls += api_calls;
                continue;
            }
            Ok(Read::Found { objects, api_calls }) => (objects, api_calls),
            Err(err) => {
                tracing::warn!(rule = %plan.rule, kind = %plan.kind.qualified_resource(), error = %err, "a rule read failed");
                if !found.failed.iter().any(|k| k.is_same_resource(&plan.kind)) {
                    found.failed.push(plan.kind.clone());
                }
                found.api_calls += 1;
                continue;
            }
        };
        found.api_calls += api_calls;
        for object in objects {
            let Some(uid) = object.metadata.uid.clone() else {
                continue;
            };
            if !known.insert(uid) {
                continue;
            }
            found.secondaries.push(Secondary {
                kind: plan.kind.clone(),
                object,
                parent_uid: plan.source_uid.clone(),
                link: Link::Rule(plan.rule.clone()),
                level: plan.level + 1,
            });
        }
    }
    found
}

/// How many rule reads of one answer are in flight at once.
pub const CONCURRENT_RULE_READS: usize = 8;

/// The reads one rule asks for from `source`. A reference that cannot name
/// an object (no such kind, a malformed namespace or name) is refused and
/// counted; a rule never fails an answer.
fn plan(
    catalog: &Catalog,
    rule: &Rule,
    source: &DynamicObject,
    level: u32,
    plans: &mut Vec<Plan>,
    refused: &mut u32,
) {
    let namespace = source.metadata.namespace.clone();
    let base = |kind: Kind, namespace: Option<String>, target: Target| Plan {
        rule: Arc::from(rule.name.as_str()),
        source_uid: source.metadata.uid.clone().unwrap_or_default(),
        level,
        kind,
        namespace,
        target,
    };
    let to = rule
        .to
        .as_ref()
        .and_then(|to| catalog.by_group_kind(&to.group, &to.kind));
    if let (Some(pointer), Some(to)) = (&rule.selector, &to) {
        if let Some(selector) = label_selector(source.data.pointer(pointer)) {
            plans.push(base(to.clone(), namespace, Target::Selected(selector)));
        }
        return;
    }
    if let (Some(pointer), Some(to)) = (&rule.name_ref, &to) {
        if let Some(name) = source.data.pointer(pointer).and_then(|v| v.as_str()) {
            match checked(to, namespace.as_deref(), name) {
                Some(namespace) => {
                    plans.push(base(to.clone(), namespace, Target::Named(name.to_string())))
                }
                None => *refused += 1,
            }
        }
        return;
    }
    let Some(pointer) = &rule.refs else {
        return;
    };
    let Some(references) = source.data.pointer(pointer).and_then(|v| v.as_array()) else {
        return;
    };
    for reference in references {
        let field = |f: &str| reference.get(f).and_then(|v| v.as_str());
        let (Some(api_version), Some(kind), Some(name)) =
            (field("apiVersion"), field("kind"), field("name"))
        else {
            *refused += 1;
            continue;
        };
        let Some(kind) = catalog.by_api_version(api_version, kind) else {
            *refused += 1;
            continue;
        };
        let namespace = field("namespace").or(namespace.as_deref());
        match checked(&kind, namespace, name) {
            Some(namespace) => plans.push(base(kind, namespace, Target::Named(name.to_string()))),
            None => *refused += 1,
        }
    }
}

/// The namespace to read `name` of `kind` in, when both can name an object:
/// `None` inside for a cluster-scoped kind; `None` outside when refused.
fn checked(kind: &Kind, namespace: Option<&str>, name: &str) -> Option<Option<String>> {
    crate::cluster::read::check_name(name).ok()?;
    if !kind.is_namespaced() {
        return Some(None);
    }
    let namespace = namespace?;
    crate::cluster::read::check_namespace(namespace).ok()?;
    Some(Some(namespace.to_string()))
}

/// Who reads: the caller, whose rights decide what a reference may read.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    /// The SubjectAccessReview authorizer.
    pub authorizer: &'a crate::auth::authz::Authorizer,
    /// The caller.
    pub user: &'a crate::auth::authn::UserInfo,
}

/// What one planned read gave.
enum Read {
    /// The objects found, and the API calls it took.
    Found {
        objects: Vec<DynamicObject>,
        api_calls: u32,
    },
    /// The caller may not `get` the object a reference names: it was not
    /// read, so the answer is the same whether it exists or not.
    Refused { api_calls: u32 },
}

/// Makes one planned read. A reference names its object, so the caller must
/// be allowed to `get` that object by name *before* it is read: a reference
/// anyone can write (a status field) must not become an oracle that tells
/// whether a Secret of that name exists.
async fn read(client: &kube::Client, reader: Reader<'_>, plan: &Plan) -> Result<Read, kube::Error> {
    match &plan.target {
        Target::Selected(selector) => {
            let params = ListParams::default().labels_from(selector);
            let listed = crate::cluster::read::list(
                client,
                &plan.kind,
                plan.namespace.as_deref(),
                &params,
                MAX_RULE_READS,
            )
            .await?;
            Ok(Read::Found {
                objects: listed.items,
                api_calls: listed.api_calls,
            })
        }
        Target::Named(name) => {
            let decision = reader
                .authorizer
                .can_get(reader.user, &plan.kind, plan.namespace.as_deref(), name)
                .await?;
            if !decision.allowed {
                return Ok(Read::Refused {
                    api_calls: decision.api_calls,
                });
            }
            let api_calls = decision.api_calls + 1;
            match crate::cluster::read::one(client, &plan.kind, plan.namespace.as_deref(), name)
                .await
            {
                Ok(object) => Ok(Read::Found {
                    objects: object.into_iter().collect(),
                    api_calls,
                }),
                Err(crate::cluster::read::ReadError::Kube(err)) => Err(err),
                // Checked while planning; nothing was sent.
                Err(crate::cluster::read::ReadError::Invalid(_)) => Ok(Read::Found {
                    objects: Vec::new(),
                    api_calls: decision.api_calls,
                }),
            }
        }
    }
}

/// `{"app": "db", "tier": "data"}` → the selector `app=db,tier=data`. An
/// empty or malformed map selects nothing (`None`), as an empty Service
/// selector does; so does a key or value that is no label (a `,` or `=` in
/// a field anyone can write must not add terms to the selector).
fn label_selector(value: Option<&serde_json::Value>) -> Option<Selector> {
    let map = value?.as_object()?;
    let mut labels = std::collections::BTreeMap::new();
    for (key, value) in map {
        let value = value.as_str()?;
        if !is_label_key(key) || !is_label_value(value) {
            return None;
        }
        labels.insert(key.clone(), value.to_string());
    }
    (!labels.is_empty()).then(|| labels.into_iter().collect())
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 characters (letters, digits, `-`, `_`, `.`, alphanumeric at both ends).
fn is_label_key(key: &str) -> bool {
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 253
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A label value: at most 63 letters, digits, `-`, `_` and `.`, beginning
/// and ending alphanumeric (or empty).
fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_is_a_map_of_strings() {
        let value = serde_json::json!({"app": "db", "tier": "data"});
        assert_eq!(
            label_selector(Some(&value))
                .map(|s| s.to_string())
                .as_deref(),
            Some("app=db,tier=data")
        );
        for hostile in [
            serde_json::json!({"app": "db,tier=x"}),
            serde_json::json!({"app=db,x": "y"}),
            serde_json::json!({"app": "db", "": "x"}),
        ] {
            assert!(label_selector(Some(&hostile)).is_none(), "{hostile}");
        }
        assert_eq!(label_selector(Some(&serde_json::json!({}))), None);
        assert_eq!(label_selector(Some(&serde_json::json!({"a": 1}))), None);
        assert_eq!(label_selector(Some(&serde_json::json!(["a"]))), None);
        assert_eq!(label_selector(None), None);
    }
}
