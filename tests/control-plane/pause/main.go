// Command pause holds a Pod's namespaces for as long as the Pod lives. It
// reaps every child that is reparented to it (it is PID 1 of its sandbox),
// and exits 0 on SIGTERM or SIGINT.
//
// The same binary is the process of the node's test images: it writes one
// line on start, so that `kubectl logs` has something to show, and
// `pause -version` prints its version and exits, so that `kubectl exec` has
// something to run.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version names this program in logs and in `-version`.
const version = "primary-all-pause 1"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-version", "--version":
			fmt.Println(version)
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [-version]\n", os.Args[0])
			os.Exit(2)
		}
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	fmt.Printf("%s: holding the sandbox (pid %d)\n", version, os.Getpid())
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Printf("%s: %v, exiting\n", version, sig)
		reap()
		os.Exit(0)
	}
}

// reap collects every child that has exited, without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
