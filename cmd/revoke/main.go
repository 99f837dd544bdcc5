// Command revoke cuts off a person's access across Microsoft Entra ID and
// on-premises Active Directory, as a runbook says and policies allow.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// runMain runs one command line with the process's signal handling: the
// first SIGINT or SIGTERM cancels the run cleanly (journal closed,
// resumable); a second one kills the process the usual way.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	return newCLI(stdin, stdout, stderr).Main(ctx, args)
}
