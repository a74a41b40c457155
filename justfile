# primary-all's menu. Every recipe is one line that calls `cargo xtask`, where
# the logic lives (in Rust, with tests).

[private]
default:
    @just --list --unsorted

# The main job: a local cluster, the example Database and what it made, the book
demo:
    cargo xtask demo

# Every suite: unit and doc tests, then the cluster tests against a fresh control plane
test:
    cargo xtask test

# Build the book into target/book and serve it on http://127.0.0.1:3000
book:
    cargo xtask book --serve

# Measure what one answer costs per strategy; writes target/bench/ and the book's figures
bench:
    cargo xtask bench

# Load the primary route at 1 to 32 concurrent clients; writes target/load/ and the book's figures
load:
    cargo xtask load

# Inject two faults and look for each by four routes as a viewer; writes target/case-study/ and the book's figures
case-study:
    cargo xtask case-study

# Fuzz the path, query and header parsers for 60 s per target (needs a nightly toolchain)
fuzz:
    cargo xtask fuzz

# Install primary-all on the cluster KUBECONFIG points at (serving certificate, manifests, APIService)
install:
    cargo xtask install

# Remove what `just install` made
uninstall:
    cargo xtask uninstall

# Install the kubectl plugin, so that `kubectl primary-all …` works
plugin:
    cargo install --locked --path kubectl-primary-all

# Review changed or new insta snapshots
review:
    cargo insta review

# Boot the local control plane (idempotent); writes target/control-plane/kubeconfig
cluster-up:
    cargo xtask cluster up

# Stop the local cluster; no process, mount, cgroup, bridge or netns is left behind
cluster-down:
    cargo xtask cluster down

# Create or reuse the kind cluster `primary-all` (needs kind and a Docker engine)
kind-up:
    cargo xtask cluster up --kind

# Install primary-all on the kind cluster, then run the cluster tests there
kind-test:
    cargo xtask test --cluster kind
