package entra

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

func TestTokenPermissions(t *testing.T) {
	tests := []struct {
		name          string
		token         string
		roles, scopes []string
		err           string
	}{
		{name: "an app-only token lists its roles, sorted",
			token: fakeToken(t, map[string]any{"roles": []string{"User.Read.All", "Device.ReadWrite.All"}, "aud": "https://graph.microsoft.com"}),
			roles: []string{"Device.ReadWrite.All", "User.Read.All"}, scopes: []string{}},
		{name: "a delegated token lists its scopes, sorted",
			token: fakeToken(t, map[string]any{"scp": "User.Read.All  Directory.AccessAsUser.All openid"}),
			roles: []string{}, scopes: []string{"Directory.AccessAsUser.All", "User.Read.All", "openid"}},
		{name: "a padded payload is accepted",
			token: func() string {
				p := strings.Split(fakeToken(t, map[string]any{"roles": []string{"A"}}), ".")
				return p[0] + "." + p[1] + "==." + p[2]
			}(),
			roles: []string{"A"}, scopes: []string{}},
		{name: "a token that is not a JWT", token: "opaque-token", err: "the access token is not a JWT"},
		{name: "a payload that is not base64url", token: "a.!!!.c",
			err: "the access token's payload is not base64url: illegal base64 data at input byte 0"},
		{name: "a payload that is not JSON", token: "a.bm90IGpzb24.c",
			err: "the access token's payload: invalid character 'o' in literal null (expecting 'u')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roles, scopes, err := tokenPermissions(tt.token)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(roles, tt.roles) || !reflect.DeepEqual(scopes, tt.scopes) {
				t.Errorf("roles %q scopes %q, want %q %q", roles, scopes, tt.roles, tt.scopes)
			}
		})
	}
}

func TestGrantedDecodesTheCredentialsToken(t *testing.T) {
	cred := &staticCred{token: fakeToken(t, map[string]any{"roles": []string{"User.Read.All"}})}
	f := newFakeGraph(t, nil)
	c := f.conn(t, cred)
	roles, scopes, err := c.Granted(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(roles, []string{"User.Read.All"}) || len(scopes) != 0 {
		t.Errorf("roles %q scopes %q", roles, scopes)
	}
	if !reflect.DeepEqual(cred.scopes, [][]string{{"https://graph.microsoft.com/.default"}}) {
		t.Errorf("scopes asked for %v", cred.scopes)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("Granted sent %d Graph requests", n)
	}
}

func TestGeneratePassword(t *testing.T) {
	classes := []string{lowerChars, upperChars, digitChars, symbolChars}
	seen := map[string]bool{}
	for _, n := range []int{4, 16, 32, 256} {
		for i := 0; i < 50; i++ {
			pw, err := generatePassword(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(pw) != n {
				t.Fatalf("length %d, want %d", len(pw), n)
			}
			for _, cl := range classes {
				if !strings.ContainsAny(pw, cl) {
					t.Fatalf("%q has none of %q", pw, cl)
				}
			}
			for _, r := range pw {
				if !strings.ContainsRune(lowerChars+upperChars+digitChars+symbolChars, r) {
					t.Fatalf("%q holds %q, outside the alphabet", pw, r)
				}
			}
			if n >= 16 {
				if seen[pw] {
					t.Fatalf("%q generated twice", pw)
				}
				seen[pw] = true
			}
		}
	}
	for _, n := range []int{-1, 0, 3, 257} {
		if _, err := generatePassword(n); err == nil || err.Error() != "password length "+strconv.Itoa(n)+" is outside 4–256" {
			t.Errorf("generatePassword(%d): %v", n, err)
		}
	}
}

// The guaranteed characters land anywhere, not always first.
func TestGeneratePasswordShufflesTheGuaranteedCharacters(t *testing.T) {
	firstIsLower := 0
	for i := 0; i < 200; i++ {
		pw, err := generatePassword(16)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsRune(lowerChars, rune(pw[0])) {
			firstIsLower++
		}
	}
	// Without the shuffle every first character is lower case.
	if firstIsLower == 200 {
		t.Error("the first character is always lower case: not shuffled")
	}
}

func TestODataString(t *testing.T) {
	if got := odataString("o'brien''s"); got != "'o''brien''''s'" {
		t.Errorf("odataString: %s", got)
	}
}

func TestGraphScope(t *testing.T) {
	tests := map[string]string{
		"https://graph.microsoft.com/v1.0":              "https://graph.microsoft.com/.default",
		"https://127.0.0.1:8443/v1.0":                   "https://graph.microsoft.com/.default",
		"https://graph-proxy.contoso.test/v1.0":         "https://graph.microsoft.com/.default",
		"https://graph.microsoft.us/v1.0":               "https://graph.microsoft.us/.default",
		"https://DOD-GRAPH.microsoft.us/v1.0":           "https://dod-graph.microsoft.us/.default",
		"https://microsoftgraph.chinacloudapi.cn/v1.0":  "https://microsoftgraph.chinacloudapi.cn/.default",
		"https://microsoftgraph.chinacloudapi.cn:443/x": "https://microsoftgraph.chinacloudapi.cn/.default",
	}
	for raw, want := range tests {
		u, _ := url.Parse(raw)
		if got := graphScope(u); got != want {
			t.Errorf("graphScope(%s) = %s, want %s", raw, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	tests := []struct {
		name   string
		values []string
		def    time.Duration
		want   time.Duration
	}{
		{"seconds", []string{"10"}, 0, 10 * time.Second},
		{"fractional seconds", []string{"1.5"}, 0, 1500 * time.Millisecond},
		{"none takes the default", nil, time.Second, time.Second},
		{"garbage takes the default", []string{"soon"}, 2 * time.Second, 2 * time.Second},
		{"a negative number takes the default", []string{"-3"}, 0, 0},
		{"a past date is no wait", []string{"Mon, 02 Jan 2006 15:04:05 GMT"}, time.Second, 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.values, tt.def); got != tt.want {
			t.Errorf("%s: retryAfter(%q) = %v, want %v", tt.name, tt.values, got, tt.want)
		}
	}
	if got := retryAfter([]string{future}, 0); got < 85*time.Second || got > 91*time.Second {
		t.Errorf("retryAfter(date 90s ahead) = %v", got)
	}
}

// Open refuses a section it cannot build a connection from, before any
// network call.
func TestOpenRefusesBadSections(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func(kv ...any) steps.Values {
		v := steps.Values{entraspec.FieldTenantID: "t", entraspec.FieldClientID: "c", entraspec.FieldCredential: entraspec.CredClientSecret,
			entraspec.FieldClientSecret + "_env": "X", entraspec.FieldGraphURL: "https://graph.microsoft.com/v1.0",
			entraspec.FieldAuthorityHost: "https://login.microsoftonline.com/", entraspec.FieldTimeout: 30 * time.Second}
		for i := 0; i < len(kv); i += 2 {
			v[kv[i].(string)] = kv[i+1]
		}
		return v
	}
	secret := func(string) (string, error) { return "s3cret", nil }
	noSecret := func(string) (string, error) {
		return "", steps.Errorf(steps.Invalid, "client_secret_env: X is not set")
	}
	tests := []struct {
		name    string
		section steps.Values
		secret  func(string) (string, error)
		msg     string
	}{
		{"plain HTTP graph_url", base(entraspec.FieldGraphURL, "http://graph.example/v1.0"), secret,
			`entra: graph_url "http://graph.example/v1.0" is not an https URL`},
		{"plain HTTP authority", base(entraspec.FieldAuthorityHost, "http://login.example/"), secret,
			`entra: authority_host "http://login.example/" is not an https URL`},
		{"unknown credential", base(entraspec.FieldCredential, "kerberos"), secret, `entra: unknown credential "kerberos"`},
		{"a secret that cannot be read", base(), noSecret, "entra: client secret: client_secret_env: X is not set"},
		{"a missing certificate file", base(entraspec.FieldCredential, entraspec.CredClientCertificate, entraspec.FieldCertificateFile, filepath.Join(dir, "nope.pem")), secret,
			"entra: certificate_file: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"a certificate file without a certificate", base(entraspec.FieldCredential, entraspec.CredClientCertificate, entraspec.FieldCertificateFile, notPEM), secret,
			"entra: certificate_file " + notPEM + " is not PEM (want the certificate and its private key)"},
		{"a CA file without a certificate", base(entraspec.FieldCAFile, notPEM), secret,
			"entra ca_file " + notPEM + " holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Backend.Open(context.Background(), &steps.Env{Name: "test", Kind: "cloud", Section: tt.section, Secret: tt.secret})
			if steps.ClassOf(err) != steps.Invalid || err.Error() != tt.msg {
				t.Errorf("got %v (%v)\nwant %s", err, steps.ClassOf(err), tt.msg)
			}
		})
	}
}

type selfLinkedPage struct{}

func (selfLinkedPage) nextLink() string { return "https://graph.test/v1.0/users?$skiptoken=same" }

// A server that links a page to itself cannot hold a step forever.
func TestEachPageStopsAtMaxPages(t *testing.T) {
	calls := 0
	err := eachPage(context.Background(), "list things", errorContext{},
		func(string) (selfLinkedPage, error) { calls++; return selfLinkedPage{}, nil },
		func(selfLinkedPage) {})
	if calls != maxPages || steps.ClassOf(err) != steps.Invalid ||
		err.Error() != "entra: list things: more than 100 pages: the listing does not end" {
		t.Errorf("%d calls, %v (%v)", calls, err, steps.ClassOf(err))
	}
}
