package entra

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	azauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/revoke-dev/revoke/steps"
)

// globalGraphScope is the token audience of the worldwide Graph service.
const globalGraphScope = "https://graph.microsoft.com/.default"

// nationalGraphHosts are the Graph endpoints whose tokens carry their own
// audience. Any other host (a sandbox on loopback, a reverse proxy) fronts
// the worldwide service, so its tokens are for graph.microsoft.com.
var nationalGraphHosts = map[string]bool{
	"graph.microsoft.us":              true, // US Government L4 (GCC High)
	"dod-graph.microsoft.us":          true, // US Government L5 (DoD)
	"microsoftgraph.chinacloudapi.cn": true, // operated by 21Vianet
}

// graphScope returns the scope revoke asks tokens for: the graph_url's own
// origin for a national cloud, the worldwide Graph's otherwise.
func graphScope(u *url.URL) string {
	if nationalGraphHosts[strings.ToLower(u.Hostname())] {
		return "https://" + strings.ToLower(u.Hostname()) + "/.default"
	}
	return globalGraphScope
}

// parseGraphURL checks the graph_url field: an absolute https URL (the SDK
// refuses to send a token over plain HTTP except to localhost, and revoke
// does not want that either).
func parseGraphURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, steps.Errorf(steps.Invalid, "entra: graph_url %q: %v", raw, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, steps.Errorf(steps.Invalid, "entra: graph_url %q is not an https URL", raw)
	}
	return u, nil
}

// baseTransport is the HTTP transport under both the Graph middleware
// pipeline and the credential: proxies from the environment, as
// net/http's default, with revoke's TLS settings.
func baseTransport(tc *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return t
}

// graphMiddlewares returns the SDK's default middleware pipeline with its
// retry handler replaced by one that never retries: the engine retries
// Retryable errors itself, honouring Retry-After, so that attempts are
// counted once and journaled. (MaxRetries < 1 silently means 3, so
// ShouldRetry is the only off switch.) The other middlewares — redirects,
// request compression, telemetry, headers inspection, the /me rewrite —
// stay.
func graphMiddlewares() []khttp.Middleware {
	opts := msgraphsdk.GetDefaultClientOptions()
	mws := msgraphgocore.GetDefaultMiddlewaresWithOptions(&opts)
	noRetry := khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
	})
	for i, m := range mws {
		switch m.(type) {
		case *khttp.RetryHandler, khttp.RetryHandler:
			mws[i] = noRetry
		}
	}
	return mws
}

// newGraphClient builds the Graph service client over transport: the
// middleware pipeline, a bearer-token provider limited to graphURL's host,
// and the base URL.
func newGraphClient(cred azcore.TokenCredential, graphURL *url.URL, transport http.RoundTripper, timeout time.Duration) (*msgraphsdk.GraphServiceClient, error) {
	// The provider matches hosts by name alone (no port) and silently omits
	// the Authorization header for any other host: list graph_url's.
	auth, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		cred, []string{graphScope(graphURL)}, []string{graphURL.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("entra: token provider: %w", err)
	}
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(transport, graphMiddlewares()...),
		Timeout:   timeout,
		// The redirect middleware follows Graph's redirects; net/http must
		// not follow them a second time.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("entra: request adapter: %w", err)
	}
	adapter.SetBaseUrl(strings.TrimRight(graphURL.String(), "/"))
	// NewGraphServiceClient passes the default backing store factory on,
	// and the adapter then writes it into a process-wide variable that
	// every model constructor reads: a data race whenever one client is
	// built while another decodes a response. With nil the adapter still
	// enables its backing store and the default factory stays as it is.
	return &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *msgraphsdk.NewGraphBaseServiceClient(adapter, nil)}, nil
}
