// Package servicenow is a ticketing backend: it opens a ServiceNow ticket
// (through the Table API) for what a person must do by hand, such as
// deprovisioning a leaver from apps that take no automatic provisioning.
//
// It keeps no people, so it resolves nobody and takes no part in linking;
// it is Optional, so an environment without a servicenow section is
// complete and a run without it never opens the backend. Open does no
// network I/O: a ticketing outage must not stop a run from containing
// anyone, so the first request (and the OAuth token) waits for the first
// servicenow step.
package servicenow

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func init() { Register(steps.Default) }

// Register adds the servicenow backend and its steps to r.
func Register(r *steps.Registry) {
	r.RegisterBackend(Backend)
	for _, s := range Steps {
		r.Register(s)
	}
}

// Steps are the servicenow steps, in catalog order.
var Steps = []steps.Spec{openTicket}

// Field names of the environment file's servicenow section.
const (
	fieldInstanceURL        = "instance_url"
	fieldTable              = "table"
	fieldAssignmentGroup    = "assignment_group"
	fieldCredential         = "credential"
	fieldUsername           = "username"
	fieldPassword           = "password"
	fieldClientID           = "client_id"
	fieldClientSecret       = "client_secret"
	fieldCAFile             = steps.FieldCAFile
	fieldInsecureSkipVerify = steps.FieldInsecureSkipVerify
	fieldTimeout            = steps.FieldTimeout
	fieldManualApps         = "manual_apps"
)

// Credential types.
const (
	credBasic = "basic"
	credOAuth = "oauth_client_credentials"
)

// KindRole is the servicenow permission kind: ServiceNow roles the
// integration user holds (itil for incidents and catalog tasks).
const KindRole = "role"

// Backend is the servicenow backend's spec.
var Backend = steps.BackendSpec{
	Name:     "servicenow",
	Summary:  "ServiceNow tickets through the Table API, for what a person must do by hand",
	Kinds:    []string{"hybrid", "cloud"},
	Optional: true,
	Fields: append([]steps.Param{
		{Name: fieldInstanceURL, Type: steps.String, Format: "url", Required: true, Identity: true,
			Description: "The instance, https only.", Examples: []any{"https://contoso.service-now.com"}},
		{Name: fieldTable, Type: steps.String, Default: "incident",
			Description: "The task table tickets go into: incident, or sc_task for catalog tasks.",
			Examples:    []any{"incident", "sc_task"}},
		{Name: fieldAssignmentGroup, Type: steps.String,
			Description: "The group tickets are assigned to, by name or sys_id. Unassigned when absent.",
			Examples:    []any{"Service Desk"}},
		{Name: fieldCredential, Type: steps.Enum, Enum: []string{credBasic, credOAuth}, Required: true,
			Description: "basic: username and password; oauth_client_credentials: client_id and client_secret against the instance's /oauth_token.do."},
		{Name: fieldUsername, Type: steps.String,
			Description: "The integration user, for basic.", Examples: []any{"svc-revoke"}},
		{Name: fieldPassword, Type: steps.String, Secret: true,
			Description: "The integration user's password, by reference: password_env or password_file."},
		{Name: fieldClientID, Type: steps.String,
			Description: "The OAuth application's client id, for oauth_client_credentials."},
		{Name: fieldClientSecret, Type: steps.String, Secret: true,
			Description: "The OAuth application's secret, by reference: client_secret_env or client_secret_file."},
		{Name: fieldManualApps, Type: steps.StringList,
			Description: "Apps deprovisioned by hand (no automatic provisioning), by display name: servicenow.open_ticket lists those the subject is assigned to.",
			Examples:    []any{[]any{"Contoso Expenses (legacy)"}}},
	}, steps.TLSFields("the instance", 30*time.Second, "Timeout of one request to the instance.")...),
	Validate:        validate,
	Open:            open,
	PermissionKinds: []steps.PermissionKind{{Name: KindRole, Title: "ServiceNow roles"}},
}

func validate(s steps.Values) []string {
	var problems []string
	if u, err := url.Parse(s.String(fieldInstanceURL)); s.String(fieldInstanceURL) != "" && (err != nil || u.Scheme != "https") {
		problems = append(problems, "instance_url "+s.String(fieldInstanceURL)+" is not https: the credential would cross the network in clear")
	}
	if t := s.String(fieldTable); t != "" && !tableRE(t) {
		problems = append(problems, "table "+t+" is not a table name (lower case letters, digits and _)")
	}
	switch s.String(fieldCredential) {
	case credBasic:
		if s.String(fieldUsername) == "" {
			problems = append(problems, "credential basic needs username")
		}
		if s.String(fieldPassword+"_env") == "" && s.String(fieldPassword+"_file") == "" {
			problems = append(problems, "credential basic needs password_env or password_file")
		}
	case credOAuth:
		if s.String(fieldClientID) == "" {
			problems = append(problems, "credential oauth_client_credentials needs client_id")
		}
		if s.String(fieldClientSecret+"_env") == "" && s.String(fieldClientSecret+"_file") == "" {
			problems = append(problems, "credential oauth_client_credentials needs client_secret_env or client_secret_file")
		}
	}
	return problems
}

// tableRE reports whether t is a table name: it goes into a URL path.
func tableRE(t string) bool {
	for i, c := range t {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return t != ""
}

// open checks the section and reads the secret; it sends nothing.
func open(_ context.Context, env *steps.Env) (steps.Conn, error) {
	s := env.Section
	base, err := url.Parse(s.String(fieldInstanceURL))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, steps.Errorf(steps.Invalid, "servicenow: instance_url %q is not an https URL", s.String(fieldInstanceURL))
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawQuery, base.Fragment = "", ""
	c := &Conn{
		base: base, table: s.String(fieldTable), group: s.String(fieldAssignmentGroup),
		credential: s.String(fieldCredential), manualApps: s.Strings(fieldManualApps),
	}
	switch c.credential {
	case credBasic:
		c.username = s.String(fieldUsername)
		if c.password, err = env.Secret(fieldPassword); err != nil {
			return nil, err
		}
	case credOAuth:
		c.clientID = s.String(fieldClientID)
		if c.clientSecret, err = env.Secret(fieldClientSecret); err != nil {
			return nil, err
		}
	default:
		return nil, steps.Errorf(steps.Invalid, "servicenow: unknown credential %q", c.credential)
	}
	caFile := s.String(fieldCAFile)
	if caFile != "" && env.Path != nil {
		caFile = env.Path(caFile)
	}
	tc, err := steps.TLSConfig("servicenow", caFile, s.Bool(fieldInsecureSkipVerify))
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	c.http = &http.Client{
		Transport: t,
		Timeout:   s.Duration(fieldTimeout),
		// A redirect would carry the credential to wherever it points: an
		// instance answers the Table API directly, so one is an error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}
