//! A fresh namespace per test, deleted afterwards.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

/// The label every test namespace carries, so that leftovers can be found
/// with `kubectl get namespaces -l primary-all/test`.
pub const TEST_LABEL: &str = "primary-all/test";

/// A namespace that exists for one test.
///
/// Delete it with [`TestNamespace::delete`] at the end of the test; if the
/// test panics first, dropping it deletes the namespace in the background.
pub struct TestNamespace {
    name: String,
    client: kube::Client,
    deleted: bool,
}

impl TestNamespace {
    /// Creates a namespace named `{prefix}-{suffix}` with a suffix unique to
    /// this run, labelled [`TEST_LABEL`]`={prefix}`.
    ///
    /// # Errors
    ///
    /// When the namespace cannot be created.
    pub async fn create(client: &kube::Client, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}-{}", unique_suffix());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_LABEL.to_string(), prefix.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let api: Api<Namespace> = Api::all(client.clone());
        api.create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("failed to create test namespace {name}"))?;
        tracing::debug!(namespace = %name, "created test namespace");
        Ok(Self {
            name,
            client: client.clone(),
            deleted: false,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace (the namespace controller removes its contents).
    ///
    /// # Errors
    ///
    /// When the delete request fails for another reason than 404.
    pub async fn delete(mut self) -> anyhow::Result<()> {
        self.deleted = true;
        delete(self.client.clone(), self.name.clone()).await
    }
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // A test that panicked never reached `delete`. Drop cannot await, so
        // a thread with its own runtime sends the request, with a client of
        // its own: the test's client runs on the test's runtime, which is
        // blocked right here.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(async move {
                    let client = kube::Client::try_default().await?;
                    delete(client, name).await
                });
            }
        })
        .join();
    }
}

async fn delete(client: kube::Client, name: String) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client);
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(err) => Err(err).with_context(|| format!("failed to delete test namespace {name}")),
    }
}

/// Five lowercase alphanumerics from the clock, the pid and a counter: unique
/// within a run and across runs, and a valid DNS-1123 label suffix.
fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mut seed = u64::from(nanos)
        ^ (u64::from(std::process::id()) << 20)
        ^ u64::from(COUNTER.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9E37_79B9);
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| {
            let c = ALPHABET[(seed % ALPHABET.len() as u64) as usize];
            seed /= ALPHABET.len() as u64;
            c as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_dns_labels_and_differ() {
        let a = unique_suffix();
        let b = unique_suffix();
        assert_eq!(a.len(), 5);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
