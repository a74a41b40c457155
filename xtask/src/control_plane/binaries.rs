//! The control-plane binaries: built once per machine from the Go modules in
//! `tests/control-plane/`, cached per user outside the clone.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths;
use crate::progress::{self, step};

/// The Kubernetes release that `tests/control-plane/kubernetes/go.mod` pins.
pub const KUBERNETES_VERSION: &str = "v1.37.2";
/// The etcd release that `tests/control-plane/etcd/go.mod` pins.
pub const ETCD_VERSION: &str = "v3.6.16";

/// One binary of the control plane, and the Go package it is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// The file name of the binary.
    pub name: &'static str,
    /// The Go package of its `main`.
    pub package: &'static str,
    /// The module directory below `tests/control-plane/` that pins it.
    pub module: &'static str,
}

/// Everything the local control plane runs, in build order.
pub const COMPONENTS: [Component; 4] = [
    Component {
        name: "etcd",
        package: "go.etcd.io/etcd/server/v3",
        module: "etcd",
    },
    Component {
        name: "kube-apiserver",
        package: "k8s.io/kubernetes/cmd/kube-apiserver",
        module: "kubernetes",
    },
    Component {
        name: "kube-controller-manager",
        package: "k8s.io/kubernetes/cmd/kube-controller-manager",
        module: "kubernetes",
    },
    Component {
        name: "kubectl",
        package: "k8s.io/kubernetes/cmd/kubectl",
        module: "kubernetes",
    },
];

/// The directory that holds the binaries for the pinned versions. Changing a
/// pin changes the directory, so a stale binary is never used.
pub fn bin_dir() -> PathBuf {
    paths::user_cache_dir()
        .join("control-plane")
        .join(format!(
            "kubernetes-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}"
        ))
        .join("bin")
}

/// The path of one component's binary.
pub fn binary(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Makes sure every binary exists, building the missing ones from the Go
/// modules. A machine that built them once rebuilds nothing.
pub fn ensure_built() -> Result<PathBuf> {
    let dir = bin_dir();
    let missing: Vec<Component> = COMPONENTS
        .into_iter()
        .filter(|c| !dir.join(c.name).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(dir);
    }
    which_go()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    step(
        "Building",
        format!(
            "the control plane from Go modules (Kubernetes {KUBERNETES_VERSION}, etcd {ETCD_VERSION}): {}",
            missing
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    eprintln!(
        "             a cold build takes about 25 minutes on 2 cores; it is cached in {}",
        dir.display()
    );
    for module in ["etcd", "kubernetes"] {
        let packages: Vec<&Component> = missing.iter().filter(|c| c.module == module).collect();
        if packages.is_empty() {
            continue;
        }
        build_module(module, &packages, &dir)?;
    }
    Ok(dir)
}

fn which_go() -> Result<()> {
    match Command::new("go").arg("version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => bail!(
            "`go` was not found on PATH: it is needed once per machine to build the control plane \
             from tests/control-plane/ (install Go ≥ 1.26)"
        ),
    }
}

/// Builds the given packages of one module into a temporary directory and
/// moves them into place only when the whole build succeeded, so an
/// interrupted build leaves no half-written binary in the cache.
fn build_module(module: &str, packages: &[&Component], dir: &Path) -> Result<()> {
    let module_dir = paths::workspace_root()
        .join("tests/control-plane")
        .join(module);
    let staging = dir.join(format!(".building-{module}"));
    std::fs::create_dir_all(&staging)?;

    // Module downloads come first and are silent; the heartbeat covers them.
    step("Compiling", format!("{module}: {}", names(packages)));
    let mut build = Command::new("go");
    build
        .current_dir(&module_dir)
        .env("CGO_ENABLED", "0")
        .args([
            "build",
            "-v",
            "-trimpath",
            "-tags",
            "selinux,notest,grpcnotrace",
        ])
        .arg("-ldflags")
        .arg(ldflags(module))
        .arg("-o")
        .arg(format!("{}/", staging.display()))
        .args(packages.iter().map(|c| c.package));
    let took = progress::run_counting_lines(build, &format!("go build ({module})"), "packages")?;

    for component in packages {
        let built = staging.join(built_name(component));
        std::fs::rename(&built, dir.join(component.name))
            .with_context(|| format!("go build did not produce {}", built.display()))?;
    }
    std::fs::remove_dir_all(&staging).ok();
    step("Finished", format!("{module} in {}", progress::human(took)));
    Ok(())
}

/// `go build -o dir/` names a binary after its package path, leaving out a
/// major-version suffix: the etcd server's package `…/server/v3` becomes `server`.
fn built_name(component: &Component) -> &'static str {
    if component.name == "etcd" {
        "server"
    } else {
        component.name
    }
}

fn names(packages: &[&Component]) -> String {
    packages
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Version stamps, set the way the upstream release build sets them, so that
/// `/version` and `kubectl version` report the pinned release.
pub fn ldflags(module: &str) -> String {
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    match module {
        "kubernetes" => {
            let minor = KUBERNETES_VERSION.split('.').nth(1).unwrap_or_default();
            for pkg in [
                "k8s.io/component-base/version",
                "k8s.io/client-go/pkg/version",
            ] {
                flags.push(format!("-X {pkg}.gitVersion={KUBERNETES_VERSION}"));
                flags.push(format!("-X {pkg}.gitMajor=1"));
                flags.push(format!("-X {pkg}.gitMinor={minor}"));
                flags.push(format!("-X {pkg}.gitTreeState=clean"));
            }
        }
        _ => {
            flags.push("-X go.etcd.io/etcd/api/v3/version.GitSHA=release".to_string());
        }
    }
    flags.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions xtask believes in are the ones the Go modules pin: a bump
    /// in one place without the other would reuse a stale cache.
    #[test]
    fn pinned_versions_match_the_go_modules() {
        let root = paths::workspace_root().join("tests/control-plane");
        let kubernetes = std::fs::read_to_string(root.join("kubernetes/go.mod")).unwrap();
        assert!(
            kubernetes.contains(&format!("require k8s.io/kubernetes {KUBERNETES_VERSION}")),
            "tests/control-plane/kubernetes/go.mod does not pin {KUBERNETES_VERSION}"
        );
        let staging = KUBERNETES_VERSION.replacen("v1.", "v0.", 1);
        assert!(kubernetes.contains(&format!("k8s.io/api => k8s.io/api {staging}")));
        let etcd = std::fs::read_to_string(root.join("etcd/go.mod")).unwrap();
        assert!(
            etcd.contains(&format!("go.etcd.io/etcd/server/v3 {ETCD_VERSION}")),
            "tests/control-plane/etcd/go.mod does not pin {ETCD_VERSION}"
        );
    }

    #[test]
    fn kubernetes_ldflags_stamp_the_release() {
        let flags = ldflags("kubernetes");
        assert!(flags.contains("k8s.io/component-base/version.gitVersion=v1.37.2"));
        assert!(flags.contains("k8s.io/client-go/pkg/version.gitMinor=37"));
    }

    #[test]
    fn the_cache_is_keyed_by_both_versions() {
        let dir = bin_dir().display().to_string();
        assert!(
            dir.contains(KUBERNETES_VERSION) && dir.contains(ETCD_VERSION),
            "{dir}"
        );
    }
}
