package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
)

// printSandboxState shows a sandbox subject's two faces, so a person trying
// revoke sees what the run changed.
func printSandboxState(ctx context.Context, w io.Writer, sess *session, when, ref string) {
	us, err := sandboxUserState(ctx, sess.env.Environment, ref)
	if err != nil {
		fmt.Fprintf(w, "\n%s: sandbox state unavailable: %v\n", when, err)
		return
	}
	fmt.Fprintf(w, "\n%s (sandbox state of %s)\n", when, ref)
	writeUserState(w, us)
}

// writeUserState prints a person's Entra and AD faces, one line each.
func writeUserState(w io.Writer, us *sandbox.UserState) {
	if e := us.Entra; e != nil {
		fmt.Fprintf(w, "  Entra ID  %s: accountEnabled %t, sessions valid from %s, risk %s, cloud password set %s\n",
			e.UserPrincipalName, e.AccountEnabled, stamp(e.SignInSessionsValidFromDateTime),
			orNone(e.RiskState), stampPtr(e.CloudPasswordSetAt))
	} else {
		fmt.Fprintln(w, "  Entra ID  not synced to the cloud")
	}
	if a := us.AD; a != nil {
		fmt.Fprintf(w, "  AD        %s: userAccountControl %d (%s), pwdLastSet %s, member of %d group(s)%s\n",
			a.SAMAccountName, a.UserAccountControl, map[bool]string{true: "disabled", false: "enabled"}[a.Disabled],
			stamp(a.PwdLastSet), len(a.MemberOf), groupNames(a.MemberOf))
	} else {
		fmt.Fprintln(w, "  AD        no on-premises account")
	}
}

func groupNames(dns []string) string {
	if len(dns) == 0 {
		return ""
	}
	names := make([]string, len(dns))
	for i, dn := range dns {
		cn, _, _ := strings.Cut(dn, ",")
		names[i] = strings.TrimPrefix(strings.TrimPrefix(cn, "CN="), "cn=")
	}
	return ": " + strings.Join(names, ", ")
}

// stamp shows a moment with its date, in UTC to the millisecond: a
// before/after view that dropped the day would read the same across
// midnight, and one that dropped milliseconds could not show a revocation
// made in the second the sessions had started.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return stamp(*t)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
