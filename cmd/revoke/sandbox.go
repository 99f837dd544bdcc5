package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// sandboxCmd serves a local tenant until interrupted, or (`sandbox state`)
// shows one person's state in a running one.
type sandboxCmd struct {
	seed      string
	writeEnv  string
	latency   time.Duration
	jitter    time.Duration
	throttle  string
	quota     string
	users     int
	syncEvery time.Duration
	logFile   string
	pageSize  int
	// state subcommand
	envFile string
	user    string
	output  string
}

func (*sandboxCmd) Name() string { return "sandbox" }
func (*sandboxCmd) Synopsis() string {
	return "serve a local tenant (Graph v1.0 + LDAP) on loopback; 'sandbox state' shows a user in one"
}
func (*sandboxCmd) Usage() string {
	return "[--seed FILE] [--write-env DIR] [--latency 50ms] [--throttle 3500/10s] [--write-quota 3000/150s] [--users N] [--sync-every 30s] [--page-size N]\n       revoke sandbox state --env DIR/environment.yaml --user REF"
}

func (s *sandboxCmd) SetFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.seed, "seed", "", "seed file (default: the embedded examples/sandbox/contoso.yaml)")
	fs.StringVar(&s.writeEnv, "write-env", "", "write environment.yaml and its secret files into DIR")
	fs.DurationVar(&s.latency, "latency", 0, "delay every Graph request and LDAP operation by this much")
	fs.DurationVar(&s.jitter, "jitter", 0, "add up to this much random delay")
	fs.StringVar(&s.throttle, "throttle", "", "throttle each app to RU/period of Graph resource units, e.g. 3500/10s")
	fs.StringVar(&s.quota, "write-quota", "", "allow each app WRITES/WINDOW Graph directory writes, e.g. 3000/150s as Graph does (0: none)")
	fs.IntVar(&s.users, "users", 0, fmt.Sprintf("add N synthetic users (user00001@DOMAIN…), half synced from AD, each with a device, up to %d", sandbox.MaxSyntheticUsers))
	fs.DurationVar(&s.syncEvery, "sync-every", 0, "run a directory sync (AD → Entra) this often (0: only POST /_sandbox/sync)")
	fs.IntVar(&s.pageSize, "page-size", 0, "items per Graph collection page without $top, 1 to 999 (0: the seed's, else Graph's 100)")
	fs.StringVar(&s.logFile, "log", "", "append every request as a JSON line to FILE (no password ever appears)")
	fs.StringVar(&s.envFile, "env", "", "state: the environment file a running sandbox wrote")
	fs.StringVarP(&s.user, "user", "u", "", "state: the user to show (UPN, id, sAMAccountName)")
	outputFlag(fs, &s.output)
}

func (s *sandboxCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(s.output); err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "state" {
		return s.state(ctx, c, args[1:])
	}
	if len(args) > 0 {
		return usageErrorf("sandbox takes no arguments but 'state' (got %q)", args[0])
	}
	seed := sandbox.DefaultSeed()
	if s.seed != "" {
		data, err := engine.ReadFile(s.seed)
		if err != nil {
			return usageErrorf("--seed: %v", err)
		}
		if seed, err = sandbox.ParseSeed(s.seed, data); err != nil {
			return err
		}
	}
	if s.users < 0 || s.users > sandbox.MaxSyntheticUsers {
		return usageErrorf("--users: want 0 to %d, got %d", sandbox.MaxSyntheticUsers, s.users)
	}
	if err := seed.AddSyntheticUsers(s.users); err != nil {
		return usageErrorf("--users: %v", err)
	}
	if s.pageSize < 0 || s.pageSize > 999 {
		return usageErrorf("--page-size: want 1 to 999 (0: the default), got %d", s.pageSize)
	}
	opts := sandbox.Options{Latency: s.latency, Jitter: s.jitter, SyncEvery: s.syncEvery, PageSize: s.pageSize}
	if s.throttle != "" {
		cfg, err := sandbox.ParseThrottle(s.throttle)
		if err != nil {
			return usageErrorf("--throttle: %v", err)
		}
		opts.Throttle = &cfg
	}
	if s.quota != "" {
		q, err := sandbox.ParseWriteQuota(s.quota)
		if err != nil {
			return usageErrorf("--write-quota %v", err)
		}
		opts.WriteQuota = q
	}
	if s.logFile != "" {
		f, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return usageErrorf("--log: %v", err)
		}
		defer f.Close()
		opts.LogWriter = f
	}
	t, err := sandbox.Start(ctx, seed, opts)
	if err != nil {
		return err
	}
	defer t.Close()
	w := c.stdout
	fmt.Fprintf(w, "Sandbox tenant %s is up (nothing real lives here)\n", t.TenantID())
	fmt.Fprintf(w, "  Graph        %s\n  Authority    %s\n  LDAP         %s (StartTLS)\n  LDAPS        %s\n",
		t.GraphURL(), t.AuthorityHost(), t.LDAPURL(), t.LDAPSURL())
	if q := t.Quota().WriteQuota; q != nil {
		fmt.Fprintf(w, "  Write quota  %d directory writes per %s per app (use: %s_sandbox/throttle)\n", q.Budget, q.Window, t.AuthorityHost())
	}
	if s.users > 0 {
		last := fmt.Sprintf("user%05d@%s", s.users, seed.Tenant.Domains[0])
		fmt.Fprintf(w, "  Users        %d synthetic, user00001@%s to %s (odd ones synced, in %s)\n", s.users, seed.Tenant.Domains[0], last, sandbox.SyntheticOU+","+seed.AD.BaseDN)
	}
	if u := t.ServiceNowURL(); u != "" {
		fmt.Fprintf(w, "  ServiceNow   %s (state: %s/_sandbox/servicenow)\n", u, u)
	}
	if s.writeEnv != "" {
		dir, err := filepath.Abs(s.writeEnv)
		if err != nil {
			return err
		}
		path, err := writeSandboxEnv(dir, t, seed, filepath.Join(dir, "state"))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\nEnvironment file: %s (secrets in files beside it, mode 0600)\n", path)
		fmt.Fprintf(w, "  revoke plan compromised --user adele@contoso.test --env %s\n", path)
		fmt.Fprintf(w, "  revoke run compromised --user adele@contoso.test --env %s\n", path)
		fmt.Fprintf(w, "  revoke sandbox state --env %s --user adele@contoso.test\n", path)
		// The CA is a file only when --write-env wrote one: name that file,
		// or say how to get it, never a placeholder that looks like a path.
		fmt.Fprintf(w, "  state:       curl --cacert %s %s_sandbox/state\n", filepath.Join(dir, "ca.pem"), t.AuthorityHost())
	} else {
		fmt.Fprintf(w, "  state:       %s_sandbox/state (--write-env DIR writes the CA file, DIR/ca.pem, that curl --cacert needs)\n", t.AuthorityHost())
	}
	fmt.Fprintf(w, "\nServing until interrupted (Ctrl-C).\n")
	<-ctx.Done()
	fmt.Fprintln(w, "Sandbox stopped.")
	return nil
}

func (s *sandboxCmd) state(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		return usageErrorf("sandbox state takes no arguments: use --env and --user")
	}
	if s.envFile == "" || s.user == "" {
		return usageErrorf("sandbox state needs --env FILE (written by revoke sandbox --write-env) and --user REF")
	}
	data, err := engine.ReadFile(s.envFile)
	if err != nil {
		return usageErrorf("--env: %v", err)
	}
	env, lints := engine.DecodeEnvironment(s.envFile, data, c.reg)
	if lints.Errors() > 0 {
		return fmt.Errorf("%s: %s", s.envFile, plural(lints.Errors(), "error"))
	}
	us, err := sandboxUserState(ctx, env, s.user)
	if err != nil {
		return err
	}
	if s.output == "json" {
		return writeJSON(c.stdout, us)
	}
	writeUserState(c.stdout, us)
	return nil
}
