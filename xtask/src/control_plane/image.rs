//! OCI image archives of our own, written without a container engine: the
//! node pulls from no registry, so every image it runs is imported from here.
//!
//! An archive is the OCI image layout in one tar: `oci-layout`, `index.json`
//! and `blobs/sha256/<digest>` for one uncompressed layer, the image config
//! and the manifest. The layer holds a single static binary at `/<name>`:
//! the node's pause and idle images, and the extension server's image.
//! Every timestamp is zero, so the same binary always gives the same digests.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// One image to write: a static binary as its entrypoint, under one or more
/// names (each a full reference such as `localhost/primary-all/pause:1`).
#[derive(Debug, Clone)]
pub struct Image<'a> {
    /// The binary's contents.
    pub binary: &'a [u8],
    /// Its file name at the root of the image: the entrypoint is `/<name>`.
    pub entrypoint: &'a str,
    /// The references this image is imported under.
    pub names: &'a [&'a str],
    /// The numeric `uid:gid` it runs as: never root, and numeric because
    /// the image has no `/etc/passwd` to look a name up in.
    pub user: &'a str,
}

/// The OCI architecture name of the machine xtask runs on.
pub fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

impl Image<'_> {
    /// The archive's bytes.
    ///
    /// # Errors
    ///
    /// Only when writing to memory fails, which it does not.
    pub fn archive(&self) -> Result<Vec<u8>> {
        let layer = self.layer()?;
        let layer_digest = digest(&layer);
        let config = serde_json::to_vec(&json!({
            "architecture": architecture(),
            "os": "linux",
            "config": {
                "Entrypoint": [format!("/{}", self.entrypoint)],
                "User": self.user,
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created_by": "cargo xtask (primary-all): one static binary"}],
        }))?;
        let config_digest = digest(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": layer.len(),
            }],
        }))?;
        let manifest_digest = digest(&manifest);
        // One descriptor per name, all of the same manifest: containerd
        // imports each as an image of that name.
        let manifests: Vec<_> = self
            .names
            .iter()
            .map(|name| {
                json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": manifest.len(),
                    "platform": {"architecture": architecture(), "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name,
                    },
                })
            })
            .collect();
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))?;

        let mut archive = tar::Builder::new(Vec::new());
        append(
            &mut archive,
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#,
            0o644,
        )?;
        append(&mut archive, "index.json", &index, 0o644)?;
        for blob in [&layer, &config, &manifest] {
            let hex = digest(blob).trim_start_matches("sha256:").to_string();
            append(&mut archive, &format!("blobs/sha256/{hex}"), blob, 0o644)?;
        }
        Ok(archive.into_inner()?)
    }

    /// The single layer: the binary at the root, executable by everyone.
    fn layer(&self) -> Result<Vec<u8>> {
        let mut layer = tar::Builder::new(Vec::new());
        append(&mut layer, self.entrypoint, self.binary, 0o755)?;
        Ok(layer.into_inner()?)
    }

    /// Writes the archive to `path`, through a temporary file so that an
    /// interrupted write leaves nothing half-written.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        let staging = path.with_extension("partial");
        let mut file = std::fs::File::create(&staging)
            .with_context(|| format!("failed to create {}", staging.display()))?;
        file.write_all(&self.archive()?)?;
        file.sync_all()?;
        std::fs::rename(&staging, path)
            .with_context(|| format!("failed to write {}", path.display()))?;
        Ok(())
    }
}

fn append(archive: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    archive
        .append_data(&mut header, path, data)
        .with_context(|| format!("failed to add {path} to an image archive"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut reader = tar::Archive::new(archive);
        reader
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().display().to_string();
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                (path, data)
            })
            .collect()
    }

    #[test]
    fn an_archive_is_an_oci_layout_whose_digests_match_its_blobs() {
        let image = Image {
            binary: b"#!not really a binary",
            entrypoint: "pause",
            names: &[
                "localhost/primary-all/pause:1",
                "localhost/primary-all/idle:1",
            ],
            user: "65535:65535",
        };
        let archive = image.archive().unwrap();
        let files = entries(&archive);
        let file = |name: &str| -> &[u8] {
            &files
                .iter()
                .find(|(path, _)| path == name)
                .unwrap_or_else(|| panic!("{name} is missing"))
                .1
        };
        assert_eq!(file("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#);
        for (path, data) in files.iter().filter(|(p, _)| p.starts_with("blobs/")) {
            assert_eq!(
                path.trim_start_matches("blobs/sha256/"),
                digest(data).trim_start_matches("sha256:"),
                "{path} is not named by its digest"
            );
        }

        let index: serde_json::Value = serde_json::from_slice(file("index.json")).unwrap();
        let names: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["annotations"]["io.containerd.image.name"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, image.names);

        let manifest_blob = index["manifests"][0]["digest"].as_str().unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(file(&format!(
            "blobs/sha256/{}",
            manifest_blob.trim_start_matches("sha256:")
        )))
        .unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        let layer = file(&format!(
            "blobs/sha256/{}",
            layer.trim_start_matches("sha256:")
        ));
        let inside = entries(layer);
        assert_eq!(inside.len(), 1);
        assert_eq!(inside[0].0, "pause");
        assert_eq!(inside[0].1, image.binary);
    }

    #[test]
    fn the_same_binary_gives_the_same_archive() {
        let image = Image {
            binary: b"same",
            entrypoint: "pause",
            names: &["localhost/x:1"],
            user: "65535:65535",
        };
        assert_eq!(
            digest(&image.archive().unwrap()),
            digest(&image.archive().unwrap())
        );
    }
}
