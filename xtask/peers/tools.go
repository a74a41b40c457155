//go:build tools

// Package peers pins the peer tools' main packages, so that `go mod tidy`
// keeps what they need in go.sum.
package peers

import _ "github.com/tohjustin/kube-lineage/cmd/kube-lineage"
