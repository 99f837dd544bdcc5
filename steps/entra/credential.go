package entra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// knownAuthorities are the Entra ID hosts MSAL trusts without asking. For
// any other authority (a sandbox, Azure Stack) instance discovery would ask
// login.microsoftonline.com about it, reaching the real service from a
// sandbox run: it is turned off instead.
var knownAuthorities = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
	"login.microsoftonline.us":         true,
	"login-us.microsoftonline.com":     true,
	"login.usgovcloudapi.net":          true,
	"login.chinacloudapi.cn":           true,
	"login.partner.microsoftonline.cn": true,
	"login.microsoftonline.de":         true,
}

// credentialSettings are the section's fields a credential is built from.
type credentialSettings struct {
	kind          string
	tenantID      string
	clientID      string
	authorityHost string
	// certificateFile is resolved against the environment file's folder.
	certificateFile string
	// secret returns the client secret; only called for client_secret.
	secret func() (string, error)
	// transport carries the token requests (TLS settings, timeout).
	transport *http.Client
	// prompt shows a device code message to the person running revoke.
	prompt func(context.Context, azidentity.DeviceCodeMessage) error
}

// newCredential builds the azidentity credential the section names.
func newCredential(s credentialSettings) (azcore.TokenCredential, error) {
	au, err := url.Parse(s.authorityHost)
	if err != nil || au.Scheme != "https" || au.Host == "" {
		return nil, steps.Errorf(steps.Invalid, "entra: authority_host %q is not an https URL", s.authorityHost)
	}
	disableDiscovery := !knownAuthorities[strings.ToLower(au.Hostname())]
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.authorityHost},
		Transport: s.transport,
		// One layer of retries: the engine's. A failed token request
		// surfaces as a classified error (see classify).
		Retry: policy.RetryOptions{MaxRetries: -1},
	}
	var cred azcore.TokenCredential
	switch s.kind {
	case entraspec.CredClientSecret:
		secret, serr := s.secret()
		if serr != nil {
			return nil, fmt.Errorf("entra: client secret: %w", serr)
		}
		cred, err = azidentity.NewClientSecretCredential(s.tenantID, s.clientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disableDiscovery})
	case entraspec.CredClientCertificate:
		pem, rerr := steps.ReadFile(s.certificateFile, steps.MaxFileSize)
		if rerr != nil {
			return nil, steps.Errorf(steps.Invalid, "entra: certificate_file: %w", rerr)
		}
		if !bytes.Contains(pem, []byte("-----BEGIN ")) {
			// ParseCertificates would try PKCS#12 next and say so in ASN.1.
			return nil, steps.Errorf(steps.Invalid, "entra: certificate_file %s is not PEM (want the certificate and its private key)", s.certificateFile)
		}
		certs, key, perr := azidentity.ParseCertificates(pem, nil)
		if perr != nil {
			return nil, steps.Errorf(steps.Invalid, "entra: certificate_file %s: %v", s.certificateFile, perr)
		}
		cred, err = azidentity.NewClientCertificateCredential(s.tenantID, s.clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disableDiscovery})
	case entraspec.CredManagedIdentity:
		// IMDS is flaky while a VM starts, and azidentity's managed identity
		// retry schedule is tuned for it: keep it.
		opts.Retry = policy.RetryOptions{}
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if s.clientID != "" {
			mo.ID = azidentity.ClientID(s.clientID) // a user-assigned identity
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	case entraspec.CredWorkloadIdentity:
		// The federated token file comes from AZURE_FEDERATED_TOKEN_FILE,
		// as the Kubernetes webhook sets it.
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, ClientID: s.clientID, TenantID: s.tenantID, DisableInstanceDiscovery: disableDiscovery})
	case entraspec.CredAzureCLI:
		// The CLI fetches tokens itself: authority and TLS are its own.
		var cli *azidentity.AzureCLICredential
		cli, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: s.tenantID})
		cred = cliCredential{cli}
	case entraspec.CredDeviceCode:
		cred, err = azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions: opts, ClientID: s.clientID, TenantID: s.tenantID,
			DisableInstanceDiscovery: disableDiscovery, UserPrompt: s.prompt})
	case entraspec.CredDefault:
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: opts, TenantID: s.tenantID, DisableInstanceDiscovery: disableDiscovery})
	default:
		return nil, steps.Errorf(steps.Invalid, "entra: unknown credential %q", s.kind)
	}
	if err != nil {
		return nil, steps.Errorf(steps.Invalid, "entra: %s credential: %v", s.kind, err)
	}
	return cred, nil
}

// stderrPrompt shows the device code instructions on stderr: stdout may be
// a JSON document, and the log may be collected somewhere the person
// signing in never looks.
func stderrPrompt(_ context.Context, m azidentity.DeviceCodeMessage) error {
	_, err := fmt.Fprintln(os.Stderr, m.Message)
	return err
}

// cliCredential is the Azure CLI credential with its failures classified.
// azidentity reports an az that ran and failed (not signed in, no access to
// the tenant, an expired sign-in) as an AuthenticationFailedError without a
// response, which classify takes for an authority that did not answer, and
// so retryable. But az did answer, and only a person running az login can
// change its answer: it is Invalid.
type cliCredential struct{ cred azcore.TokenCredential }

// GetToken runs az through azidentity, reclassifying its failures.
func (c cliCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.cred.GetToken(ctx, opts)
	var authErr *azidentity.AuthenticationFailedError
	if err != nil && ctx.Err() == nil && errors.As(err, &authErr) {
		// %v, not %w: classify must not find the AuthenticationFailedError.
		return tok, steps.Errorf(steps.Invalid, "authentication failed: %v", err)
	}
	return tok, err
}
