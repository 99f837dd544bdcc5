package entra

// End-to-end tests of the credentials that get their tokens somewhere other
// than the token endpoint with a secret or certificate: managed identity
// (App Service's protocol, served by the sandbox), workload identity (a
// federated token file) and the Azure CLI (a stand-in az on PATH). Each
// goes through the real azidentity code and the path an environment file
// takes in revoke: engine.DecodeEnvironment, then engine.Connect.
//
// azidentity reads its sources from the process environment, so these
// tests set it with t.Setenv and cannot run in parallel.

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// The default seed's managed identities and federated credential.
const (
	hostIdentityID     = "44444444-4444-4444-4444-444444444444" // system-assigned
	userIdentityID     = "55555555-5555-5555-5555-555555555555"
	readonlyIdentityID = "66666666-6666-6666-6666-666666666666"
	federatedIssuer    = "https://oidc.sandbox.test/aks-contoso/"
	federatedSubject   = "system:serviceaccount:revoke:revoke"
)

// identityRoles are the permissions the seed grants the identities revoke
// acts as, sorted.
var identityRoles = []string{"RoleManagement.Read.Directory", "User.EnableDisableAccount.All", "User.Read.All", "User.RevokeSessions.All"}

// credentialEnv lists every variable azidentity's credentials read, so a
// test starts from none of them set (a developer's shell may have some).
var credentialEnv = []string{
	"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
	"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
	"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
	"AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS", "AZURE_ADDITIONALLY_ALLOWED_TENANTS",
}

// clearCredentialEnv unsets credentialEnv for the test; t.Setenv restores
// the values afterwards.
func clearCredentialEnv(t *testing.T) {
	t.Helper()
	for _, k := range credentialEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// connectEnv writes an environment file for the tenant whose entra section
// ends with lines (credential, client_id…) and opens the entra backend
// from it as revoke does. The CA file is given relative to the file.
func connectEnv(t *testing.T, tn *sandbox.Tenant, lines ...string) (*Conn, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sandbox-ca.pem"), tn.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf("version: 1\nname: sandbox\nkind: cloud\nentra:\n  tenant_id: %s\n  graph_url: %s\n  authority_host: %s\n"+
		"  ca_file: sandbox-ca.pem\n  timeout: 10s\n  %s\n", tn.TenantID(), tn.GraphURL(), tn.AuthorityHost(), strings.Join(lines, "\n  "))
	file := filepath.Join(dir, "sandbox.yaml")
	reg := steps.NewRegistry()
	Register(reg)
	env, lints := engine.DecodeEnvironment(file, []byte(data), reg)
	if lints.Errors() > 0 {
		t.Fatalf("environment file:\n%s\n%v", data, lints)
	}
	conns, err := engine.Connect(context.Background(), reg, env, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conns.Close() })
	return conns["entra"].(*Conn), nil
}

// mustConnect is connectEnv for a connection that must open.
func mustConnect(t *testing.T, tn *sandbox.Tenant, lines ...string) *Conn {
	t.Helper()
	c, err := connectEnv(t, tn, lines...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// disableThroughConn resolves the user and disables them with
// entra.disable_user, checking the token carried roles and the tenant
// changed.
func disableThroughConn(t *testing.T, tn *sandbox.Tenant, c *Conn, upn, id string, roles []string) {
	t.Helper()
	ctx := context.Background()
	facts, err := c.Resolve(ctx, upn)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if facts["id"] != id {
		t.Fatalf("Resolve(%s): id %v, want %s", upn, facts["id"], id)
	}
	got, _, err := c.Granted(ctx)
	if slices.Sort(got); err != nil || !slices.Equal(got, roles) {
		t.Errorf("Granted: %v, %v; want roles %v", got, err, roles)
	}
	call, _ := newCall(c, id, steps.Values{})
	ch, err := disableUser.New().Apply(ctx, call)
	if err != nil || ch.Summary != "accountEnabled: true → false" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	if userState(t, tn, id).AccountEnabled {
		t.Errorf("the tenant still has %s enabled", upn)
	}
}

// wantFailure checks a classified error and its message's beginning.
func wantFailure(t *testing.T, err error, class steps.Class, prefix string, contains ...string) {
	t.Helper()
	if steps.ClassOf(err) != class || err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("got  %v (%v)\nwant %s… (%v)", err, steps.ClassOf(err), prefix, class)
		return
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%v\ndoes not say %q", err, s)
		}
	}
}

// managedIdentityTested is set once TestManagedIdentityCredential has run
// in this process.
var managedIdentityTested bool

func TestManagedIdentityCredential(t *testing.T) {
	// MSAL caches managed identity tokens process-wide, by identity and
	// resource, whichever endpoint gave them: every subtest uses this one
	// tenant, and the failures come before a token for their identity is
	// cached. A second run in one process (-count 2) would meet the first
	// run's tokens, signed by a tenant that is gone.
	if managedIdentityTested {
		t.Skip("MSAL keeps managed identity tokens for the whole process: this test runs once per process")
	}
	managedIdentityTested = true
	clearCredentialEnv(t)
	tn := startTenant(t)
	t.Setenv("IDENTITY_ENDPOINT", tn.IdentityEndpoint())
	ctx := context.Background()

	t.Run("a wrong IDENTITY_HEADER", func(t *testing.T) {
		t.Setenv("IDENTITY_HEADER", "not-"+tn.IdentityHeader())
		c := mustConnect(t, tn, "credential: managed_identity")
		_, err := c.Resolve(ctx, "megan@contoso.test")
		wantFailure(t, err, steps.Invalid,
			`entra: resolve "megan@contoso.test": authentication failed: ManagedIdentityCredential authentication failed. `,
			"The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
	})
	t.Setenv("IDENTITY_HEADER", tn.IdentityHeader())
	t.Run("an identity the resource does not have", func(t *testing.T) {
		c := mustConnect(t, tn, "credential: managed_identity", "client_id: 99999999-9999-9999-9999-999999999999")
		_, err := c.Resolve(ctx, "megan@contoso.test")
		wantFailure(t, err, steps.Invalid,
			`entra: resolve "megan@contoso.test": authentication failed: ManagedIdentityCredential authentication failed. `,
			"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
	})
	t.Run("the system-assigned identity", func(t *testing.T) {
		c := mustConnect(t, tn, "credential: managed_identity")
		tn.Log().Reset()
		disableThroughConn(t, tn, c, "megan@contoso.test", meganID, identityRoles)
		// One token, from the identity endpoint, for the machine's identity.
		var tokens []string
		for _, e := range tn.Log().Entries() {
			if !strings.HasPrefix(e.Path, "/v1.0/") {
				tokens = append(tokens, e.Client+" "+e.Method+" "+e.Path)
			}
		}
		want := hostIdentityID + " GET /msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com"
		if len(tokens) != 1 || tokens[0] != want {
			t.Errorf("token requests %q, want [%s]", tokens, want)
		}
	})
	t.Run("a user-assigned identity", func(t *testing.T) {
		c := mustConnect(t, tn, "credential: managed_identity", "client_id: "+userIdentityID)
		disableThroughConn(t, tn, c, "adele@contoso.test", adeleID, identityRoles)
	})
	t.Run("an identity lacking a permission", func(t *testing.T) {
		c := mustConnect(t, tn, "credential: managed_identity", "client_id: "+readonlyIdentityID)
		call, _ := newCall(c, alexID, steps.Values{})
		_, err := disableUser.New().Apply(ctx, call)
		wantFailure(t, err, steps.Forbidden, "entra: disable user "+alexID+": Graph 403 Authorization_RequestDenied: ",
			" (needs User.EnableDisableAccount.All)")
		if p := steps.PermissionOf(err); p != "User.EnableDisableAccount.All" {
			t.Errorf("PermissionOf = %q", p)
		}
		if !userState(t, tn, alexID).AccountEnabled {
			t.Error("alex was disabled")
		}
	})
}

// federatedToken signs a token as the default seed's federated issuer,
// whose key the seed gives.
func federatedToken(t *testing.T, subject string) string {
	t.Helper()
	b, _ := pem.Decode([]byte(sandbox.DefaultSeed().Apps[0].FederatedCredentials[0].IssuerKey))
	if b == nil {
		t.Fatal("the default seed's issuer_key is not PEM")
	}
	key, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": federatedIssuer, "sub": subject, "aud": []string{"api://AzureADTokenExchange"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenFile writes a federated token file as the Kubernetes webhook
// projects it and points AZURE_FEDERATED_TOKEN_FILE at it.
func tokenFile(t *testing.T, token string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(p, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", p)
}

func TestWorkloadIdentityCredential(t *testing.T) {
	clearCredentialEnv(t)
	tn := startTenant(t)
	ctx := context.Background()
	t.Run("the service account's token", func(t *testing.T) {
		tokenFile(t, federatedToken(t, federatedSubject))
		c := mustConnect(t, tn, "credential: workload_identity", "client_id: "+appID)
		disableThroughConn(t, tn, c, "megan@contoso.test", meganID, appRoles(t, tn))
	})
	t.Run("a token for another subject", func(t *testing.T) {
		tokenFile(t, federatedToken(t, "system:serviceaccount:default:default"))
		c := mustConnect(t, tn, "credential: workload_identity", "client_id: "+appID)
		_, err := c.Resolve(ctx, "adele@contoso.test")
		wantFailure(t, err, steps.Invalid,
			`entra: resolve "adele@contoso.test": authentication failed: WorkloadIdentityCredential authentication failed. `,
			"AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:default:default'.")
		if !userState(t, tn, adeleID).AccountEnabled {
			t.Error("adele was disabled")
		}
	})
	t.Run("no token file", func(t *testing.T) {
		_, err := connectEnv(t, tn, "credential: workload_identity", "client_id: "+appID)
		wantFailure(t, err, steps.Invalid,
			"open entra: entra: workload_identity credential: no token file specified. Check pod configuration or set TokenFilePath in the options")
	})
}

// appRoles are the revoke app's permissions in the tenant, sorted.
func appRoles(t *testing.T, tn *sandbox.Tenant) []string {
	t.Helper()
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	return slices.Sorted(slices.Values(d.Apps[appID].Permissions))
}

// mintToken gets the revoke app's token with its secret, as `az login
// --service-principal` would have.
func mintToken(t *testing.T, tn *sandbox.Tenant) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tn.ClientTLS()}}
	resp, err := client.PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {appSecret},
		"scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// fakeAz puts an az first on PATH: a shell script that checks it was run
// exactly as azidentity runs the Azure CLI for the tenant, then runs body.
func fakeAz(t *testing.T, tn *sandbox.Tenant, body string) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n" +
		"if [ \"$*\" != 'account get-access-token -o json --resource https://graph.microsoft.com --tenant " + tn.TenantID() + "' ]; then\n" +
		"  echo \"ERROR: unexpected arguments: $*\" >&2\n  exit 2\nfi\n" + body
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestAzureCLICredential(t *testing.T) {
	clearCredentialEnv(t)
	tn := startTenant(t)
	ctx := context.Background()
	t.Run("a signed-in az", func(t *testing.T) {
		expires := time.Now().Add(time.Hour)
		out, err := json.Marshal(map[string]any{
			"accessToken": mintToken(t, tn), "expiresOn": expires.Format("2006-01-02 15:04:05.000000"), "expires_on": expires.Unix(),
			"subscription": "00000000-0000-0000-0000-000000000000", "tenant": tn.TenantID(), "tokenType": "Bearer",
		})
		if err != nil {
			t.Fatal(err)
		}
		fakeAz(t, tn, "cat <<'EOF'\n"+string(out)+"\nEOF\n")
		c := mustConnect(t, tn, "credential: azure_cli")
		disableThroughConn(t, tn, c, "megan@contoso.test", meganID, appRoles(t, tn))
	})
	t.Run("an az that is not signed in", func(t *testing.T) {
		fakeAz(t, tn, "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
		c := mustConnect(t, tn, "credential: azure_cli")
		_, err := c.Resolve(ctx, "adele@contoso.test")
		wantFailure(t, err, steps.Invalid,
			`entra: resolve "adele@contoso.test": authentication failed: AzureCLICredential: ERROR: Please run 'az login' to setup account.`)
	})
	t.Run("no az on PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		c := mustConnect(t, tn, "credential: azure_cli")
		_, err := c.Resolve(ctx, "adele@contoso.test")
		wantFailure(t, err, steps.Invalid, `entra: resolve "adele@contoso.test": AzureCLICredential: executable not found on path`)
	})
}

// default tries, in order, the environment's secret or certificate,
// workload identity, managed identity and the CLIs: with only a federated
// token file (as the Kubernetes webhook leaves a pod) it takes workload
// identity. Managed identity and az through the chain are the credentials
// tested above; a chain that reaches IMDS would probe 169.254.169.254, off
// loopback, so it is not run.
func TestDefaultCredentialTakesTheWorkloadIdentity(t *testing.T) {
	clearCredentialEnv(t)
	tn := startTenant(t)
	tokenFile(t, federatedToken(t, federatedSubject))
	t.Setenv("AZURE_CLIENT_ID", appID) // the webhook sets it; default takes no client_id
	c := mustConnect(t, tn, "credential: default")
	tn.Log().Reset()
	disableThroughConn(t, tn, c, "megan@contoso.test", meganID, appRoles(t, tn))
	// MSAL reads the tenant's discovery document, then posts the
	// federated token as the app's assertion.
	var got []string
	for _, e := range tn.Log().Entries() {
		if !strings.HasPrefix(e.Path, "/v1.0/") {
			got = append(got, e.Method+" "+strings.TrimSuffix(e.Path, "?"))
			if e.Method == "POST" && e.Client != appID {
				t.Errorf("the token request came from %s, want the app %s", e.Client, appID)
			}
		}
	}
	want := []string{"GET /" + tn.TenantID() + "/v2.0/.well-known/openid-configuration", "POST /" + tn.TenantID() + "/oauth2/v2.0/token"}
	if !slices.Equal(got, want) {
		t.Errorf("token requests %q, want %q", got, want)
	}
}
