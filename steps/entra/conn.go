package entra

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// defaultTimeout bounds one Graph request when the section sets no timeout.
const defaultTimeout = 30 * time.Second

// Conn is an open connection to one tenant's Microsoft Graph: the entra
// backend's steps.Conn, which entra steps receive in Call.Conn.
//
// Besides Resolve and Close it offers MissingGrants, so a preflight can
// compare what the token grants with what each step of a plan needs.
type Conn struct {
	cred  azcore.TokenCredential
	scope string
	graph *msgraphsdk.GraphServiceClient
	// baseURL is graph_url without a trailing slash, for the few URLs
	// built by hand.
	baseURL string
	base    *http.Transport
	// risk paces Identity Protection calls (about one a second per tenant
	// is all it takes before answering 429 without a Retry-After) and
	// gathers confirmations into shared requests: gate.go.
	risk *confirmer
	// cloudOnly is set in a cloud environment: no directory but this one
	// can check an on-premises reference (DOMAIN\user, a DN).
	cloudOnly bool
	// warm, when set, is closed once the token open started fetching has
	// come back; warmErr is its failure, handed to the first caller of
	// token that waited for it (later ones ask the credential again).
	warm    chan struct{}
	warmMu  sync.Mutex
	warmErr error
	// listed holds, by user id, the device listings disable_user's batch
	// made right after the disable, until disable_devices takes them
	// (devices_listed.go).
	listedMu sync.Mutex
	listed   map[string]deviceListing
}

var _ steps.Conn = (*Conn)(nil)

// open is Backend.Open: it builds the credential and the Graph client the
// section describes, and starts fetching the token in the background
// (warmToken), so that the token's round trips (the authority's discovery
// document, then the token) overlap the other backends' connecting (an
// LDAPS handshake and bind) instead of following them.
func open(ctx context.Context, env *steps.Env) (steps.Conn, error) {
	s := env.Section
	path := func(p string) string {
		if p == "" || env.Path == nil {
			return p
		}
		return env.Path(p)
	}
	graphURL, err := parseGraphURL(s.String(entraspec.FieldGraphURL))
	if err != nil {
		return nil, err
	}
	insecure := s.Bool(entraspec.FieldInsecureSkipVerify)
	if insecure && env.Logger != nil {
		env.Logger.Warn("entra: TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read revoke's tokens",
			"environment", env.Name)
	}
	tc, err := steps.TLSConfig("entra", path(s.String(entraspec.FieldCAFile)), insecure)
	if err != nil {
		return nil, err
	}
	timeout := s.Duration(entraspec.FieldTimeout)
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	base := baseTransport(tc)
	cred, err := newCredential(credentialSettings{
		kind:            s.String(entraspec.FieldCredential),
		tenantID:        s.String(entraspec.FieldTenantID),
		clientID:        s.String(entraspec.FieldClientID),
		authorityHost:   s.String(entraspec.FieldAuthorityHost),
		certificateFile: path(s.String(entraspec.FieldCertificateFile)),
		secret: func() (string, error) {
			if env.Secret == nil {
				return "", steps.Errorf(steps.Invalid, "entra: no secret source for client_secret")
			}
			return env.Secret(entraspec.FieldClientSecret)
		},
		transport: &http.Client{Transport: base, Timeout: timeout},
		prompt:    stderrPrompt,
	})
	if err != nil {
		base.CloseIdleConnections()
		return nil, err
	}
	c, err := newConn(cred, graphURL, base, timeout)
	if err != nil {
		return nil, err
	}
	c.cloudOnly = env.Kind == "cloud"
	// Every connection to the tenant, in this process or another using
	// the state directory, shares Identity Protection's one request a
	// second.
	c.risk = riskConfirmerFor(env.StateDir, c.baseURL, s.String(entraspec.FieldTenantID), s.String(entraspec.FieldClientID))
	c.warmToken(ctx)
	return c, nil
}

// warmToken fetches the credential's token in the background. Every
// request needs it and resolution's first ones would otherwise wait for it
// after Connect returned, that is after the slowest backend opened: in a
// hybrid environment the token's two round trips followed the LDAP bind.
// token waits for it, so that it is fetched once, not by several requests
// at once.
func (c *Conn) warmToken(ctx context.Context) {
	c.warm = make(chan struct{})
	go func() {
		defer close(c.warm)
		_, err := c.cred.GetToken(ctx, c.tokenOptions())
		if ctx.Err() != nil {
			// Cut short by open's context, not refused (the
			// credential's error does not always wrap ctx.Err()).
			err = nil
		}
		c.warmMu.Lock()
		c.warmErr = err
		c.warmMu.Unlock()
	}()
}

// awaitWarm waits for the token warmToken is fetching, if any, and
// returns its failure once: the caller reports it (classified, in its own
// words) rather than asking the credential again at once. A fetch cut
// short because open's context ended is not the credential's failure: the
// caller, whose context is still live, fetches the token itself.
func (c *Conn) awaitWarm(ctx context.Context) error {
	if c.warm == nil {
		return nil
	}
	select {
	case <-c.warm:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.warmMu.Lock()
	defer c.warmMu.Unlock()
	err := c.warmErr
	c.warmErr = nil
	return err
}

// newConn assembles a Conn from a credential; tests call it with a fake
// credential and a test server's URL.
func newConn(cred azcore.TokenCredential, graphURL *url.URL, base *http.Transport, timeout time.Duration) (*Conn, error) {
	client, err := newGraphClient(cred, graphURL, base, timeout)
	if err != nil {
		base.CloseIdleConnections()
		return nil, err
	}
	return &Conn{
		cred:    cred,
		scope:   graphScope(graphURL),
		graph:   client,
		baseURL: strings.TrimRight(graphURL.String(), "/"),
		base:    base,
		risk:    newConfirmer(newGate(riskEvery, "")),
	}, nil
}

// Close releases the connection's idle HTTP connections. Requests still in
// flight finish; the Conn must not be used afterwards.
func (c *Conn) Close() error {
	c.base.CloseIdleConnections()
	return nil
}

// connOf returns the Conn of an entra step's call.
func connOf(call *steps.Call) (*Conn, error) {
	c, ok := call.Conn.(*Conn)
	if !ok || c == nil {
		return nil, steps.Errorf(steps.Invalid, "entra: step %s was given a %T, not an entra connection", call.StepID, call.Conn)
	}
	return c, nil
}

// subjectID returns the Entra object id the backend resolved the subject
// to; a subject not found in Entra ID is NotFound.
func subjectID(call *steps.Call) (string, error) {
	if id := call.Subject.FactString("entra", "id"); id != "" {
		return id, nil
	}
	ref := ""
	if call.Subject != nil {
		ref = call.Subject.Ref
	}
	return "", steps.Classify(steps.NotFound, errors.New("entra: subject "+quote(ref)+" was not found in Entra ID"))
}

// target is what an entra step acts with: its connection and the
// subject's object id.
func target(call *steps.Call) (*Conn, string, error) {
	c, err := connOf(call)
	if err != nil {
		return nil, "", err
	}
	id, err := subjectID(call)
	if err != nil {
		return nil, "", err
	}
	return c, id, nil
}
