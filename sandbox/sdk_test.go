package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	auth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/identityprotection"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// clientOptions point azidentity at the tenant's authority host with a
// transport that trusts the tenant's CA.
func clientOptions(tn *Tenant) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: tn.AuthorityHost()},
		Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: tn.ClientTLS()}},
	}
}

func secretCredential(t testing.TB, tn *Tenant, clientID, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tn.TenantID(), clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: clientOptions(tn), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	return cred
}

// newGraphClient builds msgraph-sdk-go against the tenant the way the
// production client must: its own request adapter with an http.Client that
// trusts the sandbox CA wrapped in the default middlewares, the base URL
// set, and 127.0.0.1 among the allowed hosts (or the SDK silently sends no
// token). retry false takes the retry handler out of the picture.
// newGraphClient builds an SDK client for the tenant. The SDK writes a
// process-wide global (store.BackingStoreFactoryInstance) every time a
// client is built and reads it whenever it decodes a model, so tests that
// build clients run one at a time: the race detector watches the sandbox,
// not the SDK's own start-up.
func newGraphClient(t testing.TB, tn *Tenant, cred azcore.TokenCredential, retry bool) *msgraphsdk.GraphServiceClient {
	t.Helper()
	authProvider, err := auth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	middlewares := msgraphgocore.GetDefaultMiddlewaresWithOptions(&opts)
	if !retry {
		for i, m := range middlewares {
			if _, ok := m.(*khttp.RetryHandler); ok {
				middlewares[i] = khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
					ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
				})
			}
		}
	}
	base := &http.Transport{TLSClientConfig: tn.ClientTLS(), MaxIdleConnsPerHost: 16}
	httpClient := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(base, middlewares...), Timeout: 30 * time.Second}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(authProvider, nil, nil, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(tn.GraphURL())
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// odata returns the status and error code of an SDK error.
func odata(err error) (int, string, string) {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		code, msg := "", ""
		if e := oe.GetErrorEscaped(); e != nil {
			if e.GetCode() != nil {
				code = *e.GetCode()
			}
			if e.GetMessage() != nil {
				msg = *e.GetMessage()
			}
		}
		return oe.ResponseStatusCode, code, msg
	}
	return 0, "", ""
}

func ptr[T any](v T) *T { return &v }

func TestSDKClientSecretGetsUser(t *testing.T) {
	tn := startTenant(t, Options{})
	cred := secretCredential(t, tn, revokeClientID, revokeSecret)
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if time.Until(tok.ExpiresOn) < 59*time.Minute {
		t.Errorf("token expires in %v, want about 1h", time.Until(tok.ExpiresOn))
	}
	client := newGraphClient(t, tn, cred, false)
	u, err := client.Users().ByUserId("adele@contoso.test").Get(context.Background(), &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "userPrincipalName", "accountEnabled", "onPremisesSyncEnabled", "signInSessionsValidFromDateTime"}},
	})
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	if *u.GetId() != adeleID || *u.GetUserPrincipalName() != "adele@contoso.test" || !*u.GetAccountEnabled() || !*u.GetOnPremisesSyncEnabled() || u.GetSignInSessionsValidFromDateTime() == nil {
		t.Errorf("user = %v %v %v %v", *u.GetId(), *u.GetUserPrincipalName(), *u.GetAccountEnabled(), u.GetOnPremisesSyncEnabled())
	}
	// Without $select, accountEnabled is not returned.
	u, err = client.Users().ByUserId(adeleID).Get(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.GetAccountEnabled() != nil || *u.GetDisplayName() != "Adele Vance" {
		t.Errorf("default properties: accountEnabled %v displayName %v", u.GetAccountEnabled(), *u.GetDisplayName())
	}
}

// newAppCertificate makes an RSA key and a self-signed certificate, PEM
// encoded as azidentity.ParseCertificates reads them.
func newAppCertificate(t testing.TB) (certPEM, bundle []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "revoke app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return certPEM, append(append([]byte(nil), certPEM...), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
}

func TestSDKClientCertificateCredential(t *testing.T) {
	certPEM, bundle := newAppCertificate(t)
	_, otherBundle := newAppCertificate(t)
	seed := DefaultSeed()
	seed.Apps[0].Certificate = string(certPEM)
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()

	for _, tc := range []struct {
		name    string
		bundle  []byte
		sendX5C bool
		wantErr string
	}{
		{name: "registered certificate", bundle: bundle},
		{name: "registered certificate with x5c", bundle: bundle, sendX5C: true},
		{name: "unregistered certificate", bundle: otherBundle, wantErr: "AADSTS700027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, key, err := azidentity.ParseCertificates(tc.bundle, nil)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := azidentity.NewClientCertificateCredential(tn.TenantID(), revokeClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
				ClientOptions: clientOptions(tn), DisableInstanceDiscovery: true, SendCertificateChain: tc.sendX5C,
			})
			if err != nil {
				t.Fatal(err)
			}
			client := newGraphClient(t, tn, cred, false)
			u, err := client.Users().ByUserId("o'brien@contoso.test").Get(context.Background(), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("get user: %v", err)
			}
			if *u.GetDisplayName() != "Patrick O'Brien" {
				t.Errorf("displayName = %q", *u.GetDisplayName())
			}
		})
	}
}

// TestInstanceDiscovery lets MSAL run instance discovery, which it sends to
// login.microsoftonline.com for hosts it does not know: a transport routes
// that host to the tenant, which serves the discovery document.
func TestInstanceDiscovery(t *testing.T) {
	tn := startTenant(t, Options{})
	host := strings.TrimSuffix(strings.TrimPrefix(tn.AuthorityHost(), "https://"), "/")
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "login.microsoftonline.com" {
			r = r.Clone(r.Context())
			r.URL.Host, r.Host = host, host
		}
		return (&http.Transport{TLSClientConfig: tn.ClientTLS()}).RoundTrip(r)
	})
	cred, err := azidentity.NewClientSecretCredential(tn.TenantID(), revokeClientID, revokeSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: tn.AuthorityHost()}, Transport: &http.Client{Transport: rt}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	found := false
	for _, e := range tn.Log().Entries() {
		if strings.HasPrefix(e.Path, "/common/discovery/instance?") && e.Status == 200 {
			found = true
		}
	}
	if !found {
		t.Errorf("no instance discovery request in %+v", tn.Log().Entries())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSDKOperations drives every operation revoke's steps use through
// msgraph-sdk-go, asserting the outcome and the state it leaves.
func TestSDKOperations(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// app is the client id (default: revoke).
		app string
		run func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error
		// wantStatus and wantCode are the expected OData error; 0 for success.
		wantStatus int
		wantCode   string
		check      func(t *testing.T, tn *Tenant)
	}{
		{
			name: "disable a synced user",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				u := models.NewUser()
				u.SetAccountEnabled(ptr(false))
				_, err := c.Users().ByUserId(adeleID).Patch(ctx, u, nil)
				return err
			},
			check: func(t *testing.T, tn *Tenant) {
				if userState(t, tn, adeleID).Entra.AccountEnabled {
					t.Error("adele still enabled")
				}
			},
		},
		{
			name: "reset a synced user's cloud password is refused",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				u := models.NewUser()
				p := models.NewPasswordProfile()
				p.SetPassword(ptr("Xy7!kdl20-aZ93&qq"))
				p.SetForceChangePasswordNextSignIn(ptr(true))
				u.SetPasswordProfile(p)
				_, err := c.Users().ByUserId("adele@contoso.test").Patch(ctx, u, nil)
				return err
			},
			wantStatus: 400, wantCode: "Request_BadRequest",
		},
		{
			name: "reset a cloud-only user's password",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				u := models.NewUser()
				p := models.NewPasswordProfile()
				p.SetPassword(ptr("Xy7!kdl20-aZ93&qq"))
				p.SetForceChangePasswordNextSignIn(ptr(true))
				u.SetPasswordProfile(p)
				_, err := c.Users().ByUserId(diegoID).Patch(ctx, u, nil)
				return err
			},
			check: func(t *testing.T, tn *Tenant) {
				if e := userState(t, tn, diegoID).Entra; e.CloudPasswordSetAt == nil || !e.ForceChangePasswordNextSignIn {
					t.Errorf("password not recorded: %+v", e)
				}
			},
		},
		{
			name: "disable the break-glass Global Administrator needs a higher role",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				u := models.NewUser()
				u.SetAccountEnabled(ptr(false))
				_, err := c.Users().ByUserId(breakglassID).Patch(ctx, u, nil)
				return err
			},
			wantStatus: 403, wantCode: "Authorization_RequestDenied",
		},
		{
			name: "read-only app may not disable",
			app:  readonlyClientID,
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				u := models.NewUser()
				u.SetAccountEnabled(ptr(false))
				_, err := c.Users().ByUserId(adeleID).Patch(ctx, u, nil)
				return err
			},
			wantStatus: 403, wantCode: "Authorization_RequestDenied",
		},
		{
			name: "unknown user is 404",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				_, err := c.Users().ByUserId("nobody@contoso.test").Get(ctx, nil)
				return err
			},
			wantStatus: 404, wantCode: "Request_ResourceNotFound",
		},
		{
			name: "AD-only account is not in Entra",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				_, err := c.Users().ByUserId("lynne@contoso.test").Get(ctx, nil)
				return err
			},
			wantStatus: 404, wantCode: "Request_ResourceNotFound",
		},
		{
			name: "revoke sessions",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.Users().ByUserId("o'brien@contoso.test").RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
				if err == nil && (r.GetValue() == nil || !*r.GetValue()) {
					t.Errorf("value = %v", r.GetValue())
				}
				return err
			},
			check: func(t *testing.T, tn *Tenant) {
				if e := userState(t, tn, "o'brien@contoso.test").Entra; time.Since(e.SignInSessionsValidFromDateTime) > time.Minute {
					t.Errorf("signInSessionsValidFrom = %v", e.SignInSessionsValidFromDateTime)
				}
			},
		},
		{
			name: "find a user by UPN with an apostrophe",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
					Filter: ptr("userPrincipalName eq 'o''brien@contoso.test'"), Select: []string{"id", "onPremisesSamAccountName"},
				}})
				if err == nil && (len(r.GetValue()) != 1 || *r.GetValue()[0].GetOnPremisesSamAccountName() != "obrien") {
					t.Errorf("value = %v", r.GetValue())
				}
				return err
			},
		},
		{
			name: "registered devices are device directoryObjects; disable one",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.Users().ByUserId(alexID).RegisteredDevices().Get(ctx, nil)
				if err != nil {
					return err
				}
				if len(r.GetValue()) != 2 {
					t.Fatalf("%d devices", len(r.GetValue()))
				}
				dev, ok := r.GetValue()[0].(models.Deviceable)
				if !ok {
					t.Fatalf("%T is not a device", r.GetValue()[0])
				}
				d := models.NewDevice()
				d.SetAccountEnabled(ptr(false))
				_, err = c.Devices().ByDeviceId(*dev.GetId()).Patch(ctx, d, nil)
				return err
			},
			check: func(t *testing.T, tn *Tenant) {
				if st := tn.Directory().State(); st.Devices[0].AccountEnabled {
					t.Error("ALEX-LAPTOP still enabled")
				}
			},
		},
		{
			name: "managed devices: wipe and retire",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.Users().ByUserId(alexID).ManagedDevices().Get(ctx, nil)
				if err != nil {
					return err
				}
				if len(r.GetValue()) != 2 {
					t.Fatalf("%d managed devices", len(r.GetValue()))
				}
				wipe := devicemanagement.NewManagedDevicesItemWipePostRequestBody()
				wipe.SetKeepEnrollmentData(ptr(false))
				wipe.SetKeepUserData(ptr(false))
				if err := c.DeviceManagement().ManagedDevices().ByManagedDeviceId(*r.GetValue()[0].GetId()).Wipe().Post(ctx, wipe, nil); err != nil {
					return err
				}
				return c.DeviceManagement().ManagedDevices().ByManagedDeviceId(*r.GetValue()[1].GetId()).Retire().Post(ctx, nil)
			},
			check: func(t *testing.T, tn *Tenant) {
				st := tn.Directory().State()
				if st.ManagedDevices[0].State != "wipePending" || st.ManagedDevices[1].State != "retirePending" {
					t.Errorf("states %q %q", st.ManagedDevices[0].State, st.ManagedDevices[1].State)
				}
			},
		},
		{
			name: "memberOf lists groups and roles; the directoryRole cast only roles",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.Users().ByUserId(breakglassID).MemberOf().Get(ctx, nil)
				if err != nil {
					return err
				}
				if len(r.GetValue()) != 2 {
					t.Errorf("memberOf: %d objects", len(r.GetValue()))
				}
				roles, err := c.Users().ByUserId(breakglassID).MemberOf().GraphDirectoryRole().Get(ctx, nil)
				if err != nil {
					return err
				}
				if len(roles.GetValue()) != 1 || *roles.GetValue()[0].GetDisplayName() != "Global Administrator" || *roles.GetValue()[0].GetRoleTemplateId() != "62e90394-69f5-4237-9190-012177145e10" {
					t.Errorf("roles = %v", roles.GetValue())
				}
				return nil
			},
		},
		{
			name: "role assignments by principalId",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.RoleManagement().Directory().RoleAssignments().Get(ctx, &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
					QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{Filter: ptr("principalId eq '" + breakglassID + "'"), Expand: []string{"roleDefinition"}},
				})
				if err != nil {
					return err
				}
				if len(r.GetValue()) != 1 || *r.GetValue()[0].GetRoleDefinition().GetDisplayName() != "Global Administrator" {
					t.Errorf("assignments = %v", r.GetValue())
				}
				return nil
			},
		},
		{
			name: "remove a group member with $ref",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				return c.Groups().ByGroupId("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01").Members().ByDirectoryObjectId(adeleID).Ref().Delete(ctx, nil)
			},
			check: func(t *testing.T, tn *Tenant) {
				// All Staff, VPN Users and Sales Announcements remain.
				if g := userState(t, tn, adeleID).Entra.Groups; len(g) != 3 {
					t.Errorf("adele still in %v", g)
				}
			},
		},
		{
			name: "a dynamic group refuses member removal",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				return c.Groups().ByGroupId("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d02").Members().ByDirectoryObjectId(adeleID).Ref().Delete(ctx, nil)
			},
			wantStatus: 400, wantCode: "Request_BadRequest",
		},
		{
			name: "a role-assignable group needs RoleManagement.ReadWrite.Directory",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				// The default app holds it (its cleanup steps take roles
				// away): without it, GroupMember.ReadWrite.All is not enough.
				d := tn.Directory()
				d.Lock()
				app := d.Apps[revokeClientID]
				var kept []string
				for _, p := range app.Permissions {
					if p != "RoleManagement.ReadWrite.Directory" {
						kept = append(kept, p)
					}
				}
				app.Permissions = kept
				d.Unlock()
				return c.Groups().ByGroupId("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d03").Members().ByDirectoryObjectId(breakglassID).Ref().Delete(ctx, nil)
			},
			wantStatus: 403, wantCode: "Authorization_RequestDenied",
		},
		{
			name: "remove licenses",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				body := users.NewItemAssignLicensePostRequestBody()
				body.SetAddLicenses([]models.AssignedLicenseable{})
				body.SetRemoveLicenses([]uuid.UUID{uuid.MustParse("6fd2c87f-b296-42f0-b197-1e91e994b900"), uuid.MustParse("b05e124f-c7cc-45a0-a6aa-8cf78c946968")})
				u, err := c.Users().ByUserId(alexID).AssignLicense().Post(ctx, body, nil)
				if err == nil && *u.GetId() != alexID {
					t.Errorf("id = %v", *u.GetId())
				}
				return err
			},
			check: func(t *testing.T, tn *Tenant) {
				if l := userState(t, tn, alexID).Entra.Licenses; len(l) != 0 {
					t.Errorf("licenses left: %v", l)
				}
			},
		},
		{
			name: "list and delete authentication methods",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				r, err := c.Users().ByUserId(adeleID).Authentication().Methods().Get(ctx, nil)
				if err != nil {
					return err
				}
				if len(r.GetValue()) != 3 {
					t.Fatalf("%d methods", len(r.GetValue()))
				}
				if _, ok := r.GetValue()[1].(models.MicrosoftAuthenticatorAuthenticationMethodable); !ok {
					t.Errorf("%T is not a microsoftAuthenticator method", r.GetValue()[1])
				}
				if err := c.Users().ByUserId(adeleID).Authentication().MicrosoftAuthenticatorMethods().ByMicrosoftAuthenticatorAuthenticationMethodId(*r.GetValue()[1].GetId()).Delete(ctx, nil); err != nil {
					return err
				}
				return c.Users().ByUserId(adeleID).Authentication().PhoneMethods().ByPhoneAuthenticationMethodId(*r.GetValue()[2].GetId()).Delete(ctx, nil)
			},
			check: func(t *testing.T, tn *Tenant) {
				if m := userState(t, tn, adeleID).Entra.AuthMethods; len(m) != 1 || !strings.HasPrefix(m[0], "password:") {
					t.Errorf("methods left: %v", m)
				}
			},
		},
		{
			name: "confirm compromised, then read the risky user",
			run: func(t *testing.T, c *msgraphsdk.GraphServiceClient, tn *Tenant) error {
				body := identityprotection.NewRiskyUsersConfirmCompromisedPostRequestBody()
				body.SetUserIds([]string{diegoID})
				if err := c.IdentityProtection().RiskyUsers().ConfirmCompromised().Post(ctx, body, nil); err != nil {
					return err
				}
				// The read counts against Identity Protection's one
				// request a second too.
				time.Sleep(1100 * time.Millisecond)
				r, err := c.IdentityProtection().RiskyUsers().ByRiskyUserId(diegoID).Get(ctx, nil)
				if err == nil && (r.GetRiskState().String() != "confirmedCompromised" || r.GetRiskLevel().String() != "high") {
					t.Errorf("risk %v %v", r.GetRiskState(), r.GetRiskLevel())
				}
				return err
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := startTenant(t, Options{})
			app, secret := revokeClientID, revokeSecret
			if tc.app == readonlyClientID {
				app, secret = readonlyClientID, readonlySecret
			}
			c := newGraphClient(t, tn, secretCredential(t, tn, app, secret), false)
			err := tc.run(t, c, tn)
			status, code, msg := odata(err)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("err = %v (%d %s %s)", err, status, code, msg)
				}
			} else if status != tc.wantStatus || code != tc.wantCode {
				t.Fatalf("err = %v: got %d %s %q, want %d %s", err, status, code, msg, tc.wantStatus, tc.wantCode)
			}
			if tc.check != nil {
				tc.check(t, tn)
			}
		})
	}
}

// TestSDKRetriesInjected503 shows the SDK's retry handler recovering from
// one injected 503 with Retry-After, and the log recording both attempts.
func TestSDKRetriesInjected503(t *testing.T) {
	tn := startTenant(t, Options{Faults: []FaultRule{{Path: "/v1.0/users/", Method: "GET", Nth: 1, Status: 503, RetryAfter: time.Second}}})
	c := newGraphClient(t, tn, secretCredential(t, tn, revokeClientID, revokeSecret), true)
	if _, err := c.Users().ByUserId(adeleID).Get(context.Background(), nil); err != nil {
		t.Fatalf("get user: %v", err)
	}
	var statuses []int
	for _, e := range tn.Log().Entries() {
		if strings.HasPrefix(e.Path, "/v1.0/users/") {
			statuses = append(statuses, e.Status)
		}
	}
	if len(statuses) != 2 || statuses[0] != 503 || statuses[1] != 200 {
		t.Errorf("statuses = %v, want [503 200]", statuses)
	}
}

// TestSDKBatch sends a $batch through msgraph-sdk-go-core.
func TestSDKBatch(t *testing.T) {
	tn := startTenant(t, Options{})
	c := newGraphClient(t, tn, secretCredential(t, tn, revokeClientID, revokeSecret), false)
	ctx := context.Background()
	batch := msgraphgocore.NewBatchRequest(c.GetAdapter())
	u := models.NewUser()
	u.SetAccountEnabled(ptr(false))
	patch, err := c.Users().ByUserId(megan()).ToPatchRequestInformation(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	step1, err := batch.AddBatchRequestStep(*patch)
	if err != nil {
		t.Fatal(err)
	}
	revoke, err := c.Users().ByUserId(megan()).RevokeSignInSessions().ToPostRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	step2, err := batch.AddBatchRequestStep(*revoke)
	if err != nil {
		t.Fatal(err)
	}
	step2.DependsOnItem(step1)
	resp, err := batch.Send(ctx, c.GetAdapter())
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	statuses := map[string]int32{}
	for _, r := range resp.GetResponses() {
		statuses[*r.GetId()] = *r.GetStatus()
	}
	if statuses[*step1.GetId()] != 204 || statuses[*step2.GetId()] != 200 {
		t.Errorf("statuses = %v", statuses)
	}
	if e := userState(t, tn, megan()).Entra; e.AccountEnabled {
		t.Error("megan still enabled")
	}
	for i := 0; i < 20; i++ {
		if _, err := batch.AddBatchRequestStep(*revoke); err != nil {
			return // the SDK refuses the 21st step itself
		}
	}
	t.Error("the SDK accepted 21 batch steps")
}

func megan() string { return url.PathEscape("megan@contoso.test") }
