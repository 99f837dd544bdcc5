// Command revoke cuts off a person's access across Microsoft Entra ID and
// on-premises Active Directory, as a runbook says and policies allow.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT/SIGTERM cancels the run cleanly (journal closed,
	// resumable); a second one kills the process the usual way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := newCLI(os.Stdin, os.Stdout, os.Stderr).Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
