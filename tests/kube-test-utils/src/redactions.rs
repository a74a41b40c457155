//! The one insta redaction setting for Kubernetes objects.

use insta::internals::Content;

/// Settings that mask what differs between runs of the same test, wherever a
/// Kubernetes object appears in a snapshot (top level, in `.items[]`, or
/// nested in an answer): uid, resourceVersion, creationTimestamp,
/// managedFields, generation-independent controller stamps, the test
/// namespace, owner uids, and generated name suffixes.
///
/// Use it with `bind_async` in async tests, because insta settings are
/// thread-local:
///
/// ```no_run
/// # async fn wrapper(config_map: k8s_openapi::api::core::v1::ConfigMap) {
/// kube_test_utils::k8s_redactions()
///     .bind_async(async { insta::assert_yaml_snapshot!(config_map) })
///     .await;
/// # }
/// ```
pub fn k8s_redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(true);
    settings.add_redaction(".**.metadata.uid", "[uid]");
    settings.add_redaction(".**.metadata.resourceVersion", "[resourceVersion]");
    settings.add_redaction(".**.metadata.creationTimestamp", "[timestamp]");
    settings.add_redaction(".**.metadata.deletionTimestamp", "[timestamp]");
    settings.add_redaction(".**.metadata.managedFields", "[managedFields]");
    settings.add_redaction(".**.metadata.namespace", "[namespace]");
    settings.add_redaction(".**.ownerReferences[].uid", "[uid]");
    settings.add_redaction(".**.labels[\"primary-all/primary-uid\"]", "[uid]");
    settings.add_redaction(".**.labels[\"pod-template-hash\"]", "[hash]");
    settings.add_redaction(".**.metadata.selfLink", "[selfLink]");
    settings.add_dynamic_redaction(".**.metadata.name", redact_generated_suffix);
    settings.add_dynamic_redaction(".**.ownerReferences[].name", redact_generated_suffix);
    settings
}

/// `web-7d9f8c6b5` → `web-[hash]`. kube-apiserver's `generateName`, the
/// deployment controller's pod-template-hash and the test namespaces all
/// draw suffixes from an alphabet without vowels (`bcdfghjklmnpqrstvwxz`
/// and `2456789`, so that no word is spelled by chance); a last segment of
/// five to ten such characters is taken as generated. Hand-written names
/// such as `db-1` or `db-1-config` stay as they are.
fn redact_generated_suffix(value: Content, _path: insta::internals::ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(name) => Content::from(redact_name(name)),
        None => value,
    }
}

/// The characters of generated name suffixes (apimachinery's `rand.String`).
const GENERATED_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

fn redact_name(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((stem, suffix))
            if !stem.is_empty()
                && (5..=10).contains(&suffix.len())
                && suffix.chars().all(|c| GENERATED_ALPHABET.contains(c)) =>
        {
            format!("{stem}-[hash]")
        }
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_suffixes_are_redacted_and_chosen_names_kept() {
        assert_eq!(redact_name("web-7d9f8c6b5"), "web-[hash]");
        assert_eq!(redact_name("configmap-x7k2p"), "configmap-[hash]");
        assert_eq!(redact_name("db-1"), "db-1");
        assert_eq!(redact_name("db-1-config"), "db-1-config");
        assert_eq!(redact_name("db-1-replica"), "db-1-replica");
        assert_eq!(redact_name("web"), "web");
        assert_eq!(redact_name("kube-root-ca.crt"), "kube-root-ca.crt");
    }

    #[test]
    fn redacts_objects_at_any_depth() {
        let answer = serde_json::json!({
            "metadata": {"name": "db-1", "uid": "1234", "namespace": "t-x7k2p"},
            "items": [{"metadata": {
                "name": "web-7d9f8c6b5",
                "resourceVersion": "42",
                "labels": {"primary-all/primary-uid": "1234", "app": "web"},
                "ownerReferences": [{"name": "web", "uid": "5678"}]
            }}]
        });
        k8s_redactions().bind(|| {
            insta::assert_json_snapshot!(answer, @r#"
            {
              "items": [
                {
                  "metadata": {
                    "labels": {
                      "app": "web",
                      "primary-all/primary-uid": "[uid]"
                    },
                    "name": "web-[hash]",
                    "ownerReferences": [
                      {
                        "name": "web",
                        "uid": "[uid]"
                      }
                    ],
                    "resourceVersion": "[resourceVersion]"
                  }
                }
              ],
              "metadata": {
                "name": "db-1",
                "namespace": "[namespace]",
                "uid": "[uid]"
              }
            }
            "#);
        });
    }
}
