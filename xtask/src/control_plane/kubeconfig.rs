//! Kubeconfig files for the admin and for kube-controller-manager.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::pki::Pki;

/// The cluster, context and user names in every kubeconfig written here.
pub const CONTEXT: &str = "primary-all";

/// Renders a kubeconfig for the API server at `server` that authenticates
/// with the client certificate `<stem>.crt`/`<stem>.key` of `pki`. The
/// certificates are embedded, so the file works when copied elsewhere.
pub fn render(server: &str, pki: &Pki, user: &str, stem: &str) -> Result<String> {
    let read = |file: String| -> Result<String> {
        let path = pki.path(&file);
        let bytes =
            std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        Ok(STANDARD.encode(bytes))
    };
    let ca = read("ca.crt".to_string())?;
    let cert = read(format!("{stem}.crt"))?;
    let key = read(format!("{stem}.key"))?;
    Ok(format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {user}
    namespace: default
current-context: {CONTEXT}
"
    ))
}

/// Writes a rendered kubeconfig with owner-only permissions: it holds a key.
pub fn write(path: &Path, contents: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents)
        .with_context(|| format!("failed to write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_the_certificates_and_selects_the_context() {
        let dir = std::env::temp_dir().join(format!("primary-all-kc-{}", std::process::id()));
        let pki = Pki::at(&dir);
        pki.generate().unwrap();
        let text = render("https://127.0.0.1:6443", &pki, "admin", "admin").unwrap();
        assert!(text.contains("server: https://127.0.0.1:6443"));
        assert!(text.contains("current-context: primary-all"));
        let ca = STANDARD.encode(std::fs::read(pki.path("ca.crt")).unwrap());
        assert!(text.contains(&format!("certificate-authority-data: {ca}")));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
