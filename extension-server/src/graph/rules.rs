//! The relationship rules file: what it may say, parsed and checked.
//!
//! A rule names a `from` kind, a `to` kind, and where in a `from` object
//! the link is written (the `find` layer applies them, and reads what they
//! point at). The file also lists what the namespace overview hides.

use serde::Deserialize;

/// The namespace of the rules ConfigMap.
pub const CONFIGMAP_NAMESPACE: &str = "primary-all";
/// The name of the rules ConfigMap.
pub const CONFIGMAP_NAME: &str = "relationship-rules";
/// The key of the rules in the ConfigMap.
pub const CONFIGMAP_KEY: &str = "rules.yaml";
/// The shipped rules, as applied by `kubectl apply`.
pub const SHIPPED: &str = include_str!("../../deploy/relationship-rules.yaml");
/// A kind, by group and kind: rules name no version (the preferred one is read).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GroupKind {
    /// The API group; `""` for the core group.
    #[serde(default)]
    pub group: String,
    /// The kind.
    pub kind: String,
}

/// One rule: objects of `from` point at objects of `to`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for people, shown as the link `rule:<name>`.
    pub name: String,
    /// The kind whose objects hold the reference.
    pub from: GroupKind,
    /// The kind referenced (not needed for `refs`, which name their kinds).
    #[serde(default)]
    pub to: Option<GroupKind>,
    /// JSON pointer to a map of labels that selects `to` objects in the
    /// same namespace (`/spec/selector` of a Service).
    #[serde(default)]
    pub selector: Option<String>,
    /// JSON pointer to the name of one `to` object, in the same namespace
    /// or cluster-scoped (`/spec/volumeName` of a claim).
    #[serde(default, rename = "nameRef")]
    pub name_ref: Option<String>,
    /// JSON pointer to a list of `{apiVersion, kind, name, namespace}`.
    #[serde(default)]
    pub refs: Option<String>,
}

/// Objects the namespace overview leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hidden {
    /// The API group; `""` for the core group.
    #[serde(default)]
    pub group: String,
    /// The kind.
    pub kind: String,
    /// Only the object of this name, or every object of the kind.
    #[serde(default)]
    pub name: Option<String>,
}

/// The rules and the hidden objects, as one ConfigMap declares them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// The relationship rules.
    pub rules: Vec<Rule>,
    /// What `toplevel` leaves out.
    pub hidden: Vec<Hidden>,
}

/// The YAML shape of `rules.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    hidden: Vec<Hidden>,
}

impl RuleSet {
    /// Parses `rules.yaml`.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong: bad YAML, an unknown field, a rule
    /// with not exactly one of `selector`, `nameRef`, `refs`, a pointer that
    /// does not start with `/`, a `selector` or `nameRef` rule without `to`.
    pub fn parse(yaml: &str) -> Result<Self, String> {
        let file: RulesFile =
            serde_saphyr::from_str(yaml).map_err(|e| format!("{CONFIGMAP_KEY}: {e}"))?;
        let mut rules = Vec::new();
        for rule in file.rules {
            let pointers = [&rule.selector, &rule.name_ref, &rule.refs];
            if pointers.iter().filter(|p| p.is_some()).count() != 1 {
                return Err(format!(
                    "rule {:?}: give exactly one of selector, nameRef, refs",
                    rule.name
                ));
            }
            if let Some(pointer) = pointers.into_iter().flatten().find(|p| !p.starts_with('/')) {
                return Err(format!(
                    "rule {:?}: {pointer:?} is not a JSON pointer (it starts with /)",
                    rule.name
                ));
            }
            if rule.refs.is_none() && rule.to.is_none() {
                return Err(format!(
                    "rule {:?}: selector and nameRef rules name the kind they point `to`",
                    rule.name
                ));
            }
            rules.push(rule);
        }
        Ok(Self {
            rules,
            hidden: file.hidden,
        })
    }

    /// Reads the rules out of a ConfigMap's `data`.
    ///
    /// # Errors
    ///
    /// When the key is missing or [`RuleSet::parse`] fails.
    pub fn from_configmap_data(
        data: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let yaml = data
            .get(CONFIGMAP_KEY)
            .ok_or_else(|| format!("the ConfigMap has no key {CONFIGMAP_KEY:?}"))?;
        Self::parse(yaml)
    }

    /// The rules shipped with the server (`deploy/relationship-rules.yaml`).
    pub fn shipped() -> Self {
        let configmap: k8s_openapi::api::core::v1::ConfigMap =
            serde_saphyr::from_str(SHIPPED).unwrap_or_default();
        Self::from_configmap_data(&configmap.data.unwrap_or_default()).unwrap_or_default()
    }

    /// Whether the namespace overview leaves this object out.
    pub fn is_hidden(&self, group: &str, kind: &str, name: &str) -> bool {
        self.hidden.iter().any(|h| {
            h.group == group && h.kind == kind && h.name.as_deref().is_none_or(|n| n == name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_parse() {
        let rules = RuleSet::shipped();
        let names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["service-selects-pods", "claim-binds-volume"]);
        assert_eq!(rules.rules[1].name_ref.as_deref(), Some("/spec/volumeName"));
        assert!(rules.is_hidden("", "ConfigMap", "kube-root-ca.crt"));
        assert!(rules.is_hidden("events.k8s.io", "Event", "anything"));
        assert!(!rules.is_hidden("", "ConfigMap", "settings"));
    }

    #[test]
    fn a_refs_rule_needs_no_to() {
        let rules = RuleSet::parse(
            "rules:\n  - name: composite\n    from: {group: example.org, kind: XDatabase}\n    refs: /spec/resourceRefs\n",
        )
        .unwrap();
        assert_eq!(rules.rules[0].refs.as_deref(), Some("/spec/resourceRefs"));
        assert!(rules.hidden.is_empty());
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (yaml, expected) in [
            (
                "rules:\n  - name: two\n    from: {kind: Service}\n    to: {kind: Pod}\n    selector: /a\n    nameRef: /b\n",
                "exactly one of selector, nameRef, refs",
            ),
            (
                "rules:\n  - name: none\n    from: {kind: Service}\n    to: {kind: Pod}\n",
                "exactly one of selector, nameRef, refs",
            ),
            (
                "rules:\n  - name: rel\n    from: {kind: Service}\n    to: {kind: Pod}\n    selector: spec.selector\n",
                "is not a JSON pointer",
            ),
            (
                "rules:\n  - name: noto\n    from: {kind: Service}\n    selector: /spec/selector\n",
                "point `to`",
            ),
            (
                "rules:\n  - name: x\n    from: {kind: A}\n    refs: /r\n    extra: 1\n",
                "extra",
            ),
            ("rules: [", "rules.yaml"),
        ] {
            let err = RuleSet::parse(yaml).unwrap_err();
            assert!(err.contains(expected), "{yaml:?}: {err}");
        }
    }
}
