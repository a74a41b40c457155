//! Where things live: the workspace, its `target/` state, and the per-user cache.

use std::path::PathBuf;

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let xtask_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Run-time state of the local control plane: certificates, etcd data, pids,
/// logs and the admin kubeconfig. Always under the workspace's own `target/`,
/// so that every clone has its own cluster.
pub fn control_plane_dir() -> PathBuf {
    workspace_root().join("target").join("control-plane")
}

/// The admin kubeconfig that `cargo xtask cluster up` writes.
pub fn kubeconfig() -> PathBuf {
    control_plane_dir().join("kubeconfig")
}

/// The per-user cache that survives fresh clones: control-plane binaries and
/// cargo-installed tools, which take minutes to build and never change for a
/// given version.
pub fn user_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PRIMARY_ALL_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("primary-all")
}
