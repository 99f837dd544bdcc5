package entra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/revoke-dev/revoke/steps"
)

// graphError is a Graph call that failed with an HTTP status: what was
// attempted and what Graph answered. It wraps the SDK's error.
type graphError struct {
	op      string // "disable user 5f1…", without the "entra: " every message starts with
	status  int
	code    string // Graph's error.code, when the body had one
	message string // Graph's error.message, or the SDK's description
	err     error
	// throttleScope is a 429's x-ms-throttle-scope (the budget it met,
	// such as Tenant_Application/Write/APP/TENANT), "" otherwise.
	throttleScope string
}

// ThrottleScope names the budget a 429 met, for a bulk run to pause every
// step that shares it (engine.ThrottleScoper).
func (e *graphError) ThrottleScope() string { return e.throttleScope }

func (e *graphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "entra: %s: Graph %d", e.op, e.status)
	if e.code != "" {
		b.WriteString(" " + e.code)
	}
	if e.message != "" {
		b.WriteString(": " + e.message)
	}
	return b.String()
}

func (e *graphError) Unwrap() error { return e.err }

// provisioningLimit marks a failure of provisioning on demand: a 429
// there met that API's own limit (5 requests per 10 s), not the directory
// write budget its step declares, so a bulk run leaves that budget as it
// is (engine.BudgetScoper).
type provisioningLimit struct{ err error }

func (e provisioningLimit) Error() string { return e.err.Error() }
func (e provisioningLimit) Unwrap() error { return e.err }

// BudgetScope names the limit the failure met: none the step declares.
func (provisioningLimit) BudgetScope() string { return "provisioning_on_demand" }

// graphCode is the Graph error code (error.code) err carries, or "".
func graphCode(err error) string {
	var ge *graphError
	if errors.As(err, &ge) {
		return ge.code
	}
	return ""
}

// errorContext says how to classify one call's failure.
type errorContext struct {
	// permission is what a 403 means the caller lacks.
	permission string
	// throttleWait is the wait to ask for on a 429 that names none
	// (Identity Protection's never do); 0 leaves backoff to the engine.
	throttleWait time.Duration
	// guard is how Entra guards the call's change by the target's roles
	// (privileged.go); held and grants, which Conn.onTarget fills on the
	// error path, are the target's roles and what the token holds, so a
	// 403 can name the directory role it means.
	guard  guardedAction
	held   []string
	grants *tokenGrants
}

// onTarget returns ec completed for a failed change to the call's subject:
// the roles the subject holds and what the token grants (from the
// credential's cache; left nil when it cannot be had).
func (c *Conn) onTarget(ctx context.Context, call *steps.Call, ec errorContext) errorContext {
	ec.held = heldRoles(call.Subject)
	if ec.guard != guardNone && len(ec.held) > 0 {
		if g, err := c.grants(ctx); err == nil {
			ec.grants = g
		}
	}
	return ec
}

// roleNeeded is what a 403 on a guarded change to a target holding
// directory roles means the caller lacks: "the Entra role Privileged
// Authentication Administrator for the app's service principal: the target
// holds Global Administrator". It is "" when the change is not guarded,
// the target holds no role, the token lacks the permission itself (which
// is then what the 403 means), or the token's roles already cover the
// target (the refusal is something else, and revoke does not guess).
func (ec errorContext) roleNeeded() string {
	if ec.guard == guardNone || len(ec.held) == 0 {
		return ""
	}
	var caller []string
	delegated := false
	if g := ec.grants; g != nil {
		perms := g.roles
		if g.delegated() {
			perms = g.scopes
		}
		if ec.permission != "" && !holds(perms, ec.permission) {
			return ""
		}
		caller, delegated = g.callerRoles(), g.delegated()
	}
	need, ok := needFor(ec.guard, ec.held, caller)
	if !ok {
		return ""
	}
	return need.text(delegated)
}

// classify turns an SDK or transport error of the call op into a
// classified steps error. ctx is the call's context: when it is done the
// caller gave up (cancelled, or the step's timeout) and nothing is retried.
func classify(ctx context.Context, op string, err error, ec errorContext) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("entra: %s: %w", op, ctx.Err())
	}
	var apiErr abs.ApiErrorable
	if errors.As(err, &apiErr) && apiErr.GetStatusCode() >= 400 {
		return classifyStatus(op, err, apiErr, ec)
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		if tlsErr := certificateProblem(err); tlsErr != "" {
			return steps.Errorf(steps.Invalid, "entra: %s: authenticate: %s", op, tlsErr)
		}
		r := authErr.RawResponse
		switch {
		case r == nil:
			// No answer at all: the authority was unreachable or slow.
			// (MSAL flattens the transport error into text, so its type
			// is lost; a certificate problem was caught above.)
			return steps.RetryableAfter(fmt.Errorf("entra: %s: authenticate: %w", op, err), 0)
		case retryableStatus(r.StatusCode):
			return steps.RetryableAfter(fmt.Errorf("entra: %s: authenticate: %w", op, err), retryAfter(r.Header.Values("Retry-After"), 0))
		}
		return steps.Errorf(steps.Invalid, "entra: %s: authentication failed: %w", op, err)
	}
	if tlsErr := certificateProblem(err); tlsErr != "" {
		return steps.Errorf(steps.Invalid, "entra: %s: %s", op, tlsErr)
	}
	var unavailable interface{ NonRetriable() }
	if errors.As(err, &unavailable) {
		// azidentity's credentialUnavailableError: no managed identity
		// endpoint, no az CLI, no workload identity token file…
		return steps.Errorf(steps.Invalid, "entra: %s: %w", op, err)
	}
	if networkError(err) {
		return steps.RetryableAfter(fmt.Errorf("entra: %s: %w", op, err), 0)
	}
	return fmt.Errorf("entra: %s: %w", op, err)
}

// classifyStatus classifies an HTTP error answer from Graph.
func classifyStatus(op string, err error, apiErr abs.ApiErrorable, ec errorContext) error {
	ge := &graphError{op: op, status: apiErr.GetStatusCode(), err: err}
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		// ODataError.Error dereferences the message without a nil check:
		// read the fields instead.
		if main := odata.GetErrorEscaped(); main != nil {
			ge.code = deref(main.GetCode())
			ge.message = deref(main.GetMessage())
		}
	} else if a, ok := apiErr.(*abs.ApiError); ok {
		ge.message = a.Message
	}
	var headers, scope []string
	if h := apiErr.GetResponseHeaders(); h != nil {
		headers = h.Get("Retry-After") // kiota lower-cases header names
		scope = h.Get("x-ms-throttle-scope")
	}
	switch status := ge.status; {
	case status == http.StatusTooManyRequests:
		if len(scope) > 0 {
			ge.throttleScope = scope[0]
		}
		return steps.RetryableAfter(ge, retryAfter(headers, ec.throttleWait))
	case retryableStatus(status):
		return steps.RetryableAfter(ge, retryAfter(headers, 0))
	case status == http.StatusNotFound:
		return steps.Classify(steps.NotFound, ge)
	case status == http.StatusForbidden:
		if role := ec.roleNeeded(); role != "" {
			return steps.ForbiddenNeeding(ge, role)
		}
		return steps.ForbiddenNeeding(ge, ec.permission)
	case status == http.StatusUnauthorized:
		if ge.message == "" {
			ge.message = "token rejected"
		} else {
			ge.message = "token rejected: " + ge.message
		}
		return steps.Classify(steps.Invalid, ge)
	case status == http.StatusBadRequest:
		return steps.Classify(steps.Invalid, ge)
	}
	return ge
}

// retryableStatus reports the statuses that mean "later": throttling and
// an overloaded or timed-out service.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

// retryAfter is steps.RetryAfterHeader.
func retryAfter(values []string, def time.Duration) time.Duration {
	return steps.RetryAfterHeader(values, def)
}

// certificateProblem describes err when a server certificate did not
// verify, or returns "".
func certificateProblem(err error) string {
	switch {
	case steps.CertificateUntrusted(err):
	case strings.Contains(err.Error(), "x509: "):
		// MSAL flattens transport errors into text.
	default:
		return ""
	}
	return "server certificate not trusted (" + x509Text(err) + "): set ca_file to the CA that signed it " +
		"(a sandbox's, a TLS-inspecting proxy's)"
}

// x509Text picks the x509 reason out of a long wrapped message.
func x509Text(err error) string {
	s := err.Error()
	if i := strings.Index(s, "x509: "); i >= 0 {
		s = s[i:]
		// Go's unknown-authority text goes on with a quoted detail
		// ("possibly because of …") that would be cut mid-way below.
		if j := strings.Index(s, " (possibly because of"); j >= 0 {
			s = s[:j]
		}
		// It ends at the line's end, a JSON quote, or the ". To
		// troubleshoot…" azidentity appends.
		if j := strings.IndexAny(s, "\n\"}"); j >= 0 {
			s = s[:j]
		}
		if j := strings.Index(s, ". "); j >= 0 {
			s = s[:j]
		}
	}
	return strings.TrimSpace(s)
}

// networkError reports a transport failure worth retrying: a refused or
// reset connection, a timed-out request, a truncated answer.
func networkError(err error) bool {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
