// Command revoke cuts off a person's access across Microsoft Entra ID and
// on-premises Active Directory, as a runbook says and policies allow.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// interruptGrace is how long the first SIGINT or SIGTERM waits for the
// command to wind down (a run journals run_interrupted and prints how to
// resume) before the process ends anyway.
const interruptGrace = 5 * time.Second

// runMain runs one command line with the process's signal handling: the
// first SIGINT or SIGTERM cancels the command's context (a run stops
// cleanly: journal closed, resumable); a second one kills the process the
// usual way.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return interruptible(ctx, stop, interruptGrace, stderr, func(ctx context.Context) int {
		return newCLI(stdin, stdout, stderr).Main(ctx, args)
	})
}

// interruptible runs main and returns its exit code; once ctx is cancelled
// (the first signal) it restores the default signal handling with stop and
// waits at most grace for main to return. Every wait in revoke honours the
// context, so main returns at once; the grace is the backstop for one that
// does not (a library call without a context): ending the process then is
// what a crash does, which the journal is built to survive.
func interruptible(ctx context.Context, stop func(), grace time.Duration, stderr io.Writer, main func(context.Context) int) int {
	done := make(chan int, 1)
	go func() { done <- main(ctx) }()
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
	}
	stop()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case code := <-done:
		return code
	case <-timer.C:
		fmt.Fprintf(stderr, "revoke: %v, and still busy %s later: exiting anyway (a run stays resumable: revoke runs lists it)\n",
			context.Cause(ctx), grace)
		return exitFailure
	}
}
