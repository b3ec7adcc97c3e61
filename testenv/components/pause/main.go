// Command pause is the pod sandbox's process: it holds the pod's namespaces open until it is told
// to stop, and reaps orphans when it is PID 1 of a shared process namespace. Built static
// (CGO_ENABLED=0) by testenv/components/build.sh; the image testenv/nodes/images.ts assembles runs it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
