// The sandbox (pause) process of primary-all's local node, and the process
// of its test images: a static binary of our own, since the node pulls no
// image from any registry.
module github.com/primary-all/primary-all/tests/control-plane/pause

go 1.26.0
