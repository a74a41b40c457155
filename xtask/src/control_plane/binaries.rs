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
/// The containerd release that `tests/control-plane/containerd/go.mod` pins.
pub const CONTAINERD_VERSION: &str = "v2.2.9";
/// The CNI plugins release that `tests/control-plane/cni/go.mod` pins.
pub const CNI_PLUGINS_VERSION: &str = "v1.9.1";

/// A Go module below `tests/control-plane/` that pins some of the binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    /// etcd, in `etcd/`.
    Etcd,
    /// The Kubernetes components, in `kubernetes/`.
    Kubernetes,
    /// containerd, ctr and the runc shim, in `containerd/`.
    Containerd,
    /// The CNI plugins, in `cni/`.
    Cni,
    /// Our own sandbox process, in `pause/`.
    Pause,
}

impl Module {
    /// Every module, in build order.
    pub const ALL: [Module; 5] = [
        Self::Etcd,
        Self::Kubernetes,
        Self::Containerd,
        Self::Cni,
        Self::Pause,
    ];

    /// Its directory below `tests/control-plane/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::Kubernetes => "kubernetes",
            Self::Containerd => "containerd",
            Self::Cni => "cni",
            Self::Pause => "pause",
        }
    }

    /// The directory that holds its binaries. Changing a pin changes the
    /// directory, so a stale binary is never used. etcd and Kubernetes share
    /// the directory they always had, so that adding the node rebuilt
    /// nothing; each node module has its own.
    pub fn bin_dir(self) -> PathBuf {
        let root = paths::user_cache_dir().join("control-plane");
        let versioned = match self {
            Self::Etcd | Self::Kubernetes => {
                format!("kubernetes-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}")
            }
            Self::Containerd => format!("containerd-{CONTAINERD_VERSION}"),
            Self::Cni => format!("cni-plugins-{CNI_PLUGINS_VERSION}"),
            // Our own code has no release: its content names it.
            Self::Pause => format!("pause-{}", pause_source_digest()),
        };
        root.join(versioned).join("bin")
    }

    /// Build tags, as the upstream release build sets them.
    fn tags(self) -> &'static str {
        match self {
            Self::Etcd | Self::Kubernetes => "selinux,notest,grpcnotrace",
            Self::Containerd | Self::Cni | Self::Pause => "",
        }
    }

    /// What a cold build of the module costs, for the progress line.
    fn cold_build(self) -> &'static str {
        match self {
            Self::Etcd => "about a minute",
            Self::Kubernetes => {
                "10 to 13 minutes on 2 cores (kubelet and kube-scheduler alone: 2–3 minutes)"
            }
            Self::Containerd => "2 to 6 minutes",
            Self::Cni => "about 15 seconds",
            Self::Pause => "a few seconds",
        }
    }
}

/// One binary of the local cluster, and the Go package it is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// The file name of the binary.
    pub name: &'static str,
    /// The Go package of its `main`.
    pub package: &'static str,
    /// The module below `tests/control-plane/` that pins it.
    pub module: Module,
}

const fn component(name: &'static str, package: &'static str, module: Module) -> Component {
    Component {
        name,
        package,
        module,
    }
}

/// Everything the local cluster runs, in build order.
pub const COMPONENTS: [Component; 13] = [
    component("etcd", "go.etcd.io/etcd/server/v3", Module::Etcd),
    component(
        "kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-apiserver",
        Module::Kubernetes,
    ),
    component(
        "kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        Module::Kubernetes,
    ),
    component(
        "kubectl",
        "k8s.io/kubernetes/cmd/kubectl",
        Module::Kubernetes,
    ),
    component(
        "kube-scheduler",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        Module::Kubernetes,
    ),
    component(
        "kubelet",
        "k8s.io/kubernetes/cmd/kubelet",
        Module::Kubernetes,
    ),
    component(
        "containerd",
        "github.com/containerd/containerd/v2/cmd/containerd",
        Module::Containerd,
    ),
    component(
        "ctr",
        "github.com/containerd/containerd/v2/cmd/ctr",
        Module::Containerd,
    ),
    component(
        "containerd-shim-runc-v2",
        "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
        Module::Containerd,
    ),
    component(
        "loopback",
        "github.com/containernetworking/plugins/plugins/main/loopback",
        Module::Cni,
    ),
    component(
        "bridge",
        "github.com/containernetworking/plugins/plugins/main/bridge",
        Module::Cni,
    ),
    component(
        "host-local",
        "github.com/containernetworking/plugins/plugins/ipam/host-local",
        Module::Cni,
    ),
    component(
        "pause",
        "github.com/primary-all/primary-all/tests/control-plane/pause",
        Module::Pause,
    ),
];

/// The path of one component's binary, in its module's cache directory.
///
/// # Panics
///
/// When `name` is not one of [`COMPONENTS`]: a typo in xtask itself.
pub fn binary(name: &str) -> PathBuf {
    let component = COMPONENTS
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is not a component of the local cluster"));
    component.module.bin_dir().join(name)
}

/// The pause program's source, which names its cache directory.
fn pause_source_digest() -> String {
    use sha2::{Digest, Sha256};
    let dir = paths::workspace_root().join("tests/control-plane/pause");
    let mut hasher = Sha256::new();
    for file in ["go.mod", "main.go"] {
        hasher.update(std::fs::read(dir.join(file)).unwrap_or_default());
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes sure every binary exists, building the missing ones from the Go
/// modules. A machine that built them once rebuilds nothing.
pub fn ensure_built() -> Result<()> {
    let missing: Vec<Component> = COMPONENTS
        .into_iter()
        .filter(|c| !binary(c.name).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    which_go()?;
    step(
        "Building",
        format!(
            "the local cluster from Go modules (Kubernetes {KUBERNETES_VERSION}, etcd {ETCD_VERSION}, \
             containerd {CONTAINERD_VERSION}, CNI plugins {CNI_PLUGINS_VERSION}): {}",
            names(&missing.iter().collect::<Vec<_>>())
        ),
    );
    for module in Module::ALL {
        let packages: Vec<&Component> = missing.iter().filter(|c| c.module == module).collect();
        if packages.is_empty() {
            continue;
        }
        let dir = module.bin_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        eprintln!(
            "             {}: a cold build takes {}; it is cached in {}",
            module.dir_name(),
            module.cold_build(),
            dir.display()
        );
        build_module(module, &packages, &dir)?;
    }
    Ok(())
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
fn build_module(module: Module, packages: &[&Component], dir: &Path) -> Result<()> {
    let name = module.dir_name();
    let module_dir = paths::workspace_root()
        .join("tests/control-plane")
        .join(name);
    let staging = dir.join(format!(".building-{name}"));
    std::fs::create_dir_all(&staging)?;

    // Module downloads come first and are silent; the heartbeat covers them.
    step("Compiling", format!("{name}: {}", names(packages)));
    let mut build = Command::new("go");
    build
        .current_dir(&module_dir)
        .env("CGO_ENABLED", "0")
        .args(["build", "-v", "-trimpath"]);
    if !module.tags().is_empty() {
        build.args(["-tags", module.tags()]);
    }
    build
        .arg("-ldflags")
        .arg(ldflags(module))
        .arg("-o")
        .arg(format!("{}/", staging.display()))
        .args(packages.iter().map(|c| c.package));
    let built = progress::run_counting_lines(build, &format!("go build ({name})"), "packages")?;

    for component in packages {
        let built = staging.join(built_name(component));
        std::fs::rename(&built, dir.join(component.name))
            .with_context(|| format!("go build did not produce {}", built.display()))?;
    }
    std::fs::remove_dir_all(&staging).ok();
    step(
        "Finished",
        format!(
            "{name} in {} ({} packages)",
            progress::human(built.took),
            built.lines
        ),
    );
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

/// Version stamps, set the way the upstream release builds set them, so that
/// `/version`, `kubectl version`, `containerd --version` and the CNI
/// plugins' `VERSION` report the pinned release.
pub fn ldflags(module: Module) -> String {
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    match module {
        Module::Kubernetes => {
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
        Module::Etcd => {
            flags.push("-X go.etcd.io/etcd/api/v3/version.GitSHA=release".to_string());
        }
        Module::Containerd => {
            let version = CONTAINERD_VERSION.trim_start_matches('v');
            flags.push(format!(
                "-X github.com/containerd/containerd/v2/version.Version={version}"
            ));
        }
        Module::Cni => {
            flags.push(format!(
                "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={CNI_PLUGINS_VERSION}"
            ));
        }
        Module::Pause => {}
    }
    flags.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin_dir() -> PathBuf {
        Module::Kubernetes.bin_dir()
    }

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
        let containerd = std::fs::read_to_string(root.join("containerd/go.mod")).unwrap();
        assert!(
            containerd.contains(&format!(
                "github.com/containerd/containerd/v2 {CONTAINERD_VERSION}"
            )),
            "tests/control-plane/containerd/go.mod does not pin {CONTAINERD_VERSION}"
        );
        let cni = std::fs::read_to_string(root.join("cni/go.mod")).unwrap();
        assert!(
            cni.contains(&format!(
                "github.com/containernetworking/plugins {CNI_PLUGINS_VERSION}"
            )),
            "tests/control-plane/cni/go.mod does not pin {CNI_PLUGINS_VERSION}"
        );
    }

    #[test]
    fn kubernetes_ldflags_stamp_the_release() {
        let flags = ldflags(Module::Kubernetes);
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
        // The node's binaries join the control plane's: kubelet and
        // kube-scheduler come from the same module, so the same directory.
        assert_eq!(binary("kubelet").parent(), Some(bin_dir().as_path()));
        let containerd = binary("containerd").display().to_string();
        assert!(containerd.contains(CONTAINERD_VERSION), "{containerd}");
        let bridge = binary("bridge").display().to_string();
        assert!(bridge.contains(CNI_PLUGINS_VERSION), "{bridge}");
    }

    /// Every Go package that xtask builds is a `tool` of the module that
    /// pins it, so that `go mod tidy` keeps its requirements.
    #[test]
    fn every_component_is_a_tool_of_its_module() {
        let root = paths::workspace_root().join("tests/control-plane");
        for component in COMPONENTS {
            if component.module == Module::Pause {
                continue;
            }
            let go_mod =
                std::fs::read_to_string(root.join(component.module.dir_name()).join("go.mod"))
                    .unwrap();
            assert!(
                go_mod.contains(&format!("\t{}\n", component.package))
                    || go_mod.contains(&format!("tool {}\n", component.package)),
                "{} is not a tool of tests/control-plane/{}/go.mod",
                component.package,
                component.module.dir_name()
            );
        }
    }
}
