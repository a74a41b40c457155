//! primary-all's orchestration, run as `cargo xtask <command>`.
//!
//! Builds and boots a real Kubernetes control plane on loopback, runs every
//! suite against it, and serves the book. The justfile is only a menu over
//! these commands; the logic lives here, in Rust, with tests.

mod bench;
mod book;
mod case_study;
mod control_plane;
mod demo;
mod fixtures;
mod fuzz;
mod install;
mod kind;
mod load;
mod operators;
mod paths;
mod plot;
mod progress;
mod server_image;
mod suites;
mod tools;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "primary-all's orchestration")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Build, boot, inspect or stop the local control plane (or a kind cluster).
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Run every suite: unit and doc tests, then the cluster tests against a
    /// cluster booted for the run.
    Test {
        /// Which cluster the cluster tests run against.
        #[arg(long, value_enum, default_value = "local")]
        cluster: suites::Cluster,
    },
    /// The main job: a cluster, the example Database, what it made, the book.
    Demo {
        /// Stop after printing, leaving the cluster up for kubectl.
        #[arg(long)]
        no_serve: bool,
    },
    /// Measure what one answer costs, per strategy, as the cluster grows.
    Bench {
        /// The small version CI runs: the reference point K=10, M=1,000, S=5,
        /// every case, 5 series of 10 requests.
        #[arg(long)]
        quick: bool,
        /// Only redraw the book's plots from its CSV of the last full run.
        #[arg(long, conflicts_with = "quick")]
        replot: bool,
        /// The seed of the series' shuffled order (the same seed repeats a
        /// run's order exactly).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Load the primary route by two paths at rising concurrency, bounded in
    /// count and time: throughput, p50/p99, errors, the server's RSS.
    Load {
        /// The small version CI runs: N = 2, 4, 8 and 200 requests per level.
        #[arg(long)]
        quick: bool,
    },
    /// Inject two faults under two primaries and look for each by four
    /// routes (kubectl knowing the kinds, kubectl knowing none,
    /// kube-lineage, kubectl primary-all) as a viewer: what each typed,
    /// read and cost kube-apiserver; fails when primary-all misses one.
    CaseStudy,
    /// Run the extension server's fuzz targets, each for a bounded time
    /// (needs a nightly toolchain; installs a pinned cargo-fuzz).
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (default: every target).
        #[arg(long)]
        target: Option<String>,
    },
    /// Install primary-all on a cluster: the serving certificate (a CA of
    /// its own), the manifests of extension-server/deploy/, the APIService's
    /// caBundle; waits until both replicas are Ready and the APIService is
    /// Available.
    Install {
        /// Which cluster: `existing` is whatever KUBECONFIG points at, and
        /// runs the published image (push the Containerfile's image first).
        #[arg(long, value_enum, default_value = "existing")]
        cluster: suites::Cluster,
        /// The image to run on an existing cluster.
        #[arg(long)]
        image: Option<String>,
    },
    /// Remove what `install` made.
    Uninstall {
        /// Which cluster.
        #[arg(long, value_enum, default_value = "existing")]
        cluster: suites::Cluster,
    },
    /// Build the operators the cluster tests run (cert-manager) into the
    /// per-user cache, if missing, and print the environment the tests read
    /// as `export` lines, for running one test file by hand.
    Operators,
    /// Build the book into target/book, or serve it.
    Book {
        /// Serve on http://127.0.0.1:3000 and rebuild on change.
        #[arg(long)]
        serve: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterAction {
    /// Boot the cluster (idempotent) and write target/control-plane/kubeconfig.
    Up {
        /// Create or reuse a kind cluster instead (needs kind and Docker).
        #[arg(long)]
        kind: bool,
    },
    /// Stop every process and remove the cluster's state.
    Down {
        /// Delete the kind cluster instead.
        #[arg(long)]
        kind: bool,
    },
    /// Show what runs and whether kube-apiserver is ready.
    Status,
    /// Build the control-plane binaries into the per-user cache, if missing.
    Build,
    /// Stop one component, leaving the rest running: a fault to inject.
    Stop {
        /// Which one.
        #[arg(value_enum)]
        component: control_plane::Component,
        /// SIGKILL instead of SIGTERM: a crash, with no chance to drain.
        #[arg(long)]
        kill: bool,
    },
    /// Start one stopped component again (same ports) and wait until it is ready.
    Start {
        /// Which one.
        #[arg(value_enum)]
        component: control_plane::Component,
        /// The extension server's --strategy (its default when left out).
        #[arg(long)]
        strategy: Option<String>,
    },
    /// Stop one component and start it again, then wait until it is ready.
    Restart {
        /// Which one.
        #[arg(value_enum)]
        component: control_plane::Component,
        /// SIGKILL instead of SIGTERM.
        #[arg(long)]
        kill: bool,
        /// The extension server's --strategy (its default when left out).
        #[arg(long)]
        strategy: Option<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Commands::Cluster { action } => match action {
            ClusterAction::Up { kind: true } => kind::up(),
            ClusterAction::Up { kind: false } => control_plane::up(),
            ClusterAction::Down { kind: true } => kind::down(),
            ClusterAction::Down { kind: false } => control_plane::down(),
            ClusterAction::Status => control_plane::status(),
            ClusterAction::Build => control_plane::binaries::ensure_built().map(drop),
            ClusterAction::Stop { component, kill } => control_plane::stop(component, kill),
            ClusterAction::Start {
                component,
                strategy,
            } => control_plane::start(component, strategy.as_deref()),
            ClusterAction::Restart {
                component,
                kill,
                strategy,
            } => control_plane::restart(component, kill, strategy.as_deref()),
        },
        Commands::Test { cluster } => suites::run(cluster),
        Commands::Demo { no_serve } => demo::run(!no_serve),
        Commands::Bench { replot: true, .. } => bench::replot(),
        Commands::Bench {
            quick,
            replot: false,
            seed,
        } => bench::run(quick, seed),
        Commands::Load { quick } => load::run(quick),
        Commands::CaseStudy => case_study::run(),
        Commands::Fuzz { seconds, target } => fuzz::run(seconds, target.as_deref()),
        Commands::Install { cluster, image } => match cluster {
            suites::Cluster::Local => install::local(),
            suites::Cluster::Kind => install::kind(),
            suites::Cluster::Existing => install::existing(image),
        },
        Commands::Uninstall { cluster } => install::uninstall(match cluster {
            suites::Cluster::Local => paths::kubeconfig(),
            suites::Cluster::Kind => kind::kubeconfig(),
            suites::Cluster::Existing => install::kubeconfig_from_env()?,
        }),
        Commands::Operators => operators::print_env(),
        Commands::Book { serve: true } => book::serve(),
        Commands::Book { serve: false } => book::build(),
    }
}
