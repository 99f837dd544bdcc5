package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/serve"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// serveAuthFlags are revoke serve's authentication flags (docs/serve.md,
// Authentication), registered by serveSecurityFlags.
type serveAuthFlags struct {
	audiences   []string
	tenant      string
	authority   string
	hookSecrets []string
}

func init() {
	serveSecurityFlags = func(s *serveCmd, fs *pflag.FlagSet) {
		serveAuth := &s.auth
		fs.StringArrayVar(&serveAuth.audiences, "api-audience", nil, "the API app's client id, which Entra ID tokens for revoke serve carry in aud (repeatable: its app id URI too)")
		fs.StringVar(&serveAuth.tenant, "api-tenant", "", "tenant whose tokens are accepted (default: the environment's entra tenant_id)")
		fs.StringVar(&serveAuth.authority, "api-authority", "", "Entra authority host (default: the environment's entra authority_host, else https://login.microsoftonline.com/)")
		fs.StringArrayVar(&serveAuth.hookSecrets, "hook-secret", nil, "a webhook's Standard Webhooks secret, NAME=env:VARIABLE or NAME=file:PATH (repeatable: two for one NAME while rolling)")
	}
	serveSecurity = buildServeSecurity
}

// buildServeSecurity makes revoke serve's Authenticator (Entra ID tokens
// for the API), Authorizer (the data.revoke.authz policy over the
// command's policies) and WebhookVerifier (Standard Webhooks, when a
// --hook has secrets). The authority is reached with the entra section's
// CA file, so a sandbox's environment works as it is.
func buildServeSecurity(ctx context.Context, c *cli, s *serveCmd, sess *session) (serve.Authenticator, serve.Authorizer, serve.WebhookVerifier, error) {
	f := &s.auth
	if len(f.audiences) == 0 {
		return nil, nil, nil, usageErrorf("serve needs --api-audience: the client id of the API app whose tokens it accepts")
	}
	entra := sess.env.Sections["entra"]
	tenant, authority := f.tenant, f.authority
	if tenant == "" {
		tenant = entra.String(entraspec.FieldTenantID)
	}
	if tenant == "" {
		return nil, nil, nil, usageErrorf("serve needs --api-tenant, or an entra section with tenant_id")
	}
	if authority == "" {
		authority = entra.String(entraspec.FieldAuthorityHost)
	}
	caFile := entra.String(steps.FieldCAFile)
	if caFile != "" && !filepath.IsAbs(caFile) {
		caFile = filepath.Join(sess.env.Dir, caFile)
	}
	roots, err := steps.RootCAs("entra", caFile)
	if err != nil {
		return nil, nil, nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
	authn, err := serve.NewEntraAuthenticator(ctx, serve.EntraConfig{TenantID: tenant, Audiences: f.audiences, Authority: authority, HTTPClient: client})
	if err != nil {
		return nil, nil, nil, err
	}
	ws, lints, err := loadWorkspace(c, s.runbookDirs, s.policyDirs)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := refuseErrors(c, lints); err != nil {
		return nil, nil, nil, err
	}
	authz, err := serve.NewPolicyAuthorizer(ctx, ws.Policy, sess.facts())
	if err != nil {
		return nil, nil, nil, err
	}
	secrets := map[string][]string{}
	for _, h := range f.hookSecrets {
		name, ref, ok := strings.Cut(h, "=")
		kind, where, ok2 := strings.Cut(ref, ":")
		var r serve.SecretRef
		switch {
		case !ok || !ok2 || name == "" || where == "":
			return nil, nil, nil, usageErrorf("--hook-secret %s: want NAME=env:VARIABLE or NAME=file:PATH", name)
		case kind == "env":
			r.Env = where
		case kind == "file":
			r.File = where
		default:
			return nil, nil, nil, usageErrorf("--hook-secret %s: want NAME=env:VARIABLE or NAME=file:PATH", name)
		}
		v, err := r.Read(".")
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--hook-secret %s: %w", name, err)
		}
		secrets[name] = append(secrets[name], v)
	}
	var hooks serve.WebhookVerifier
	if len(secrets) > 0 {
		for _, h := range s.hooks {
			if name, _, _ := strings.Cut(h, "="); len(secrets[name]) == 0 {
				return nil, nil, nil, usageErrorf("--hook %s has no --hook-secret: nobody could call it", name)
			}
		}
		w, err := serve.NewStandardWebhooks(secrets)
		if err != nil {
			return nil, nil, nil, usageErrorf("%v", err)
		}
		hooks = w
	} else if len(s.hooks) > 0 {
		return nil, nil, nil, usageErrorf("--hook needs --hook-secret NAME=env:VARIABLE (Standard Webhooks)")
	}
	return authn, authz, hooks, nil
}
