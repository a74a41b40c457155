// Pins the CRD sets that real operators ship, which the cluster tests apply
// (tests/real_world_crds.rs): xtask downloads this module's requirements
// with `go mod download`, checked against go.sum, into the per-user Go
// module cache. Nothing here is built.
module github.com/primary-all/primary-all/tests/control-plane/crds

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
