//! The extension server's container image, made here without a container
//! engine: the release binary, linked statically, as the only file of an
//! OCI archive that the local node's containerd (or `kind load
//! image-archive`) imports. `extension-server/Containerfile` makes the same
//! image with `docker build` or `podman build` on a laptop.
//!
//! The release build goes to a target directory in the per-user cache, so
//! a fresh clone compiles only primary-all's own crates, not every
//! dependency again.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::control_plane::image::{self, Image};
use crate::paths;
use crate::progress::{self, step};

/// The repository users push the Containerfile's image to; the Deployment
/// in `extension-server/deploy/` names it.
pub const PUBLISHED_REPOSITORY: &str = "ghcr.io/primary-all/extension-server";

/// The repository of images made here. Their tag carries the binary's
/// digest, so every change is a new image and a new rollout.
pub const LOCAL_REPOSITORY: &str = "localhost/primary-all/extension-server";

/// The user the server runs as: the conventional non-root uid of distroless
/// images. The Deployment's securityContext says the same.
pub const USER: &str = "65532:65532";

/// An image written to disk.
#[derive(Debug, Clone)]
pub struct Built {
    /// The OCI archive.
    pub archive: PathBuf,
    /// The reference it is imported under.
    pub reference: String,
}

/// The published image of this version, as the Deployment names it.
pub fn published_reference() -> String {
    format!("{PUBLISHED_REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}

/// Builds the release binary and writes its image archive into `target/`.
pub fn build() -> Result<Built> {
    let binary_path = build_release_binary()?;
    let binary = std::fs::read(&binary_path)
        .with_context(|| format!("failed to read {}", binary_path.display()))?;
    if has_interpreter(&binary) {
        bail!(
            "{} is dynamically linked; the image has no libc to load it with",
            binary_path.display()
        );
    }
    let digest = image::digest(&binary);
    let short = &digest.trim_start_matches("sha256:")[..12];
    let reference = format!("{LOCAL_REPOSITORY}:{}-{short}", env!("CARGO_PKG_VERSION"));
    let dir = paths::workspace_root().join("target").join("images");
    std::fs::create_dir_all(&dir)?;
    let archive = dir.join(format!("extension-server-{short}.oci.tar"));
    if !archive.is_file() {
        Image {
            binary: &binary,
            entrypoint: "extension-server",
            names: &[&reference],
            user: USER,
        }
        .write(&archive)?;
    }
    step(
        "Packed",
        format!(
            "{reference} ({:.1} MiB, one static binary, user {USER})",
            binary.len() as f64 / (1024.0 * 1024.0)
        ),
    );
    Ok(Built { archive, reference })
}

/// Imports the image into the local node's containerd, where the kubelet
/// finds it (the Deployment's `imagePullPolicy: IfNotPresent` never pulls a
/// tag that is present).
pub fn import_into_node(built: &Built) -> Result<()> {
    step("Importing", format!("{} into the node", built.reference));
    let mut import = crate::control_plane::node::ctr();
    import.args(["images", "import"]).arg(&built.archive);
    progress::output_with_stderr(import).context("failed to import the server's image")?;
    Ok(())
}

/// Loads the image into the kind cluster's nodes.
pub fn load_into_kind(built: &Built) -> Result<()> {
    step("Loading", format!("{} into kind", built.reference));
    let mut load = Command::new("kind");
    load.args(["load", "image-archive", "--name", crate::kind::CLUSTER])
        .arg(&built.archive);
    progress::run(load)
}

/// `cargo build --release` of the server for the host's target, linked
/// statically (`+crt-static`), into the per-user cache's target directory.
fn build_release_binary() -> Result<PathBuf> {
    let target = host_target()?;
    let target_dir = paths::user_cache_dir().join("image-target");
    step(
        "Building",
        format!(
            "extension-server (release, static, {target}; the first build on a machine \
             compiles every dependency: several minutes on 2 cores)"
        ),
    );
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(paths::workspace_root())
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--release",
            "--locked",
            "--package",
            "extension-server",
            "--target",
            &target,
        ]);
    progress::run(cmd)?;
    Ok(target_dir
        .join(&target)
        .join("release")
        .join("extension-server"))
}

/// The target triple rustc builds for by default (`rustc -vV`'s `host:`).
fn host_target() -> Result<String> {
    let mut cmd = Command::new("rustc");
    cmd.arg("-vV");
    let out = progress::output(cmd)?;
    out.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .context("`rustc -vV` named no host target")
}

/// Whether an ELF binary asks for a dynamic loader (a `PT_INTERP` program
/// header): such a binary cannot start in an image that holds only itself.
/// Anything that is not a 64-bit little-endian ELF counts as asking.
pub fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let is_elf64_le = elf.len() >= 64 && elf[..4] == *b"\x7fELF" && elf[4] == 2 && elf[5] == 1;
    if !is_elf64_le {
        return true;
    }
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&elf[0x20..0x28]);
    let phoff = u64::from_le_bytes(phoff) as usize;
    let (entry_size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff.saturating_add(i.saturating_mul(entry_size));
        // A header cut short counts as asking: the file is not whole.
        match elf.get(at..at.saturating_add(entry_size.max(4))) {
            Some(header) => {
                u32::from_le_bytes([header[0], header[1], header[2], header[3]]) == PT_INTERP
            }
            None => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with the given program header types.
    fn elf(program_headers: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2; // 64-bit
        bytes[5] = 1; // little-endian
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(program_headers.len() as u16).to_le_bytes());
        for p_type in program_headers {
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&p_type.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    #[test]
    fn a_binary_with_a_loader_is_dynamic_and_one_without_is_static() {
        // PT_PHDR, PT_INTERP, PT_LOAD: what a glibc-linked binary carries.
        assert!(has_interpreter(&elf(&[6, 3, 1])));
        // PT_LOAD, PT_DYNAMIC, PT_GNU_STACK: a static-pie binary.
        assert!(!has_interpreter(&elf(&[1, 2, 0x6474_e551])));
    }

    #[test]
    fn what_is_not_an_elf_binary_is_never_taken_for_a_static_one() {
        assert!(has_interpreter(b"#!/bin/sh\necho hi\n"));
        assert!(has_interpreter(&[]));
        let mut truncated = elf(&[1]);
        truncated.truncate(80);
        assert!(has_interpreter(&truncated));
    }
}
