// Package steps is the step plugin API: the specs steps and backends declare,
// the registry they join, the calls the engine makes, and the error classes
// that decide what the engine does when a call fails.
//
// A plugin package (steps/ad, steps/entra) registers its backend and steps in
// init; steps/builtin imports every plugin that ships. The engine depends on
// this package alone and never on a concrete plugin.
package steps

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ParamType is the type of a step parameter or a backend field.
type ParamType string

// Parameter types. The runbook decoder, the JSON Schema and the docs all read
// these, so a new type needs a case in each.
const (
	String     ParamType = "string"
	Int        ParamType = "int"
	Bool       ParamType = "bool"
	Duration   ParamType = "duration"
	StringList ParamType = "string_list"
	Enum       ParamType = "enum"
)

// Param describes one parameter of a step (`with`) or one field of a
// backend's environment section.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	Required    bool
	// Default is the value used when the parameter is absent, of the Go type
	// Value holds for Type (string, int, bool, time.Duration, []string).
	Default any
	// Enum lists the allowed values of an Enum parameter.
	Enum []string
	// Min and Max bound an Int parameter when set.
	Min, Max *int
	// Secret marks a backend field that may only be given by reference:
	// NAME_env (an environment variable) or NAME_file (a file). NAME itself
	// is refused so that no secret is ever written in a file by accident.
	Secret bool
	// Format refines a String: "url" values must parse as absolute URLs,
	// "file" values are paths resolved against the environment file's folder.
	Format string
	// Examples are shown in docs and the JSON Schema.
	Examples []any
	// Identity marks a backend field that says which directory the
	// environment is (a tenant id, a URL, a base DN): never a secret. The
	// journal records these fields, and a resume refuses an environment
	// whose identity fields differ.
	Identity bool
}

// Bounds returns a pointer to n, for Param.Min and Param.Max.
func Bounds(n int) *int { return &n }

// Permission is one kind of grant a step needs, in its backend's own
// vocabulary: an API's application permissions, directory roles, rights
// on directory objects, a ticketing system's roles. Kind is one of the
// backend's PermissionKinds.
type Permission struct {
	Kind  string
	Names []string
}

// PermissionKind is a kind of grant a backend's steps may need. Title is
// how people read it ("AD rights"); the catalog, the
// docs and `revoke steps` print it before the names.
type PermissionKind struct {
	Name, Title string
}

// GrantReporter is implemented by connections that can tell what their
// credential lacks for a step on a subject: the permissions the step
// needs that the credential does not hold, and the roles the directory
// asks of a caller changing this subject. The backend knows its
// vocabularies; the engine only asks and shows the answers. An error
// means the grants could not be read at all (no token).
type GrantReporter interface {
	MissingGrants(ctx context.Context, spec *Spec, subject *Subject) (permissions, roles []string, err error)
}

// Needs returns the names of the spec's permissions of one kind.
func (s *Spec) Needs(kind string) []string {
	var names []string
	for _, p := range s.Permissions {
		if p.Kind == kind {
			names = append(names, p.Names...)
		}
	}
	return names
}

// Spec describes a step: the single source for runbook validation, `revoke
// steps`, the JSON Schema and the generated step reference.
type Spec struct {
	// Name is backend.action in lower snake case: ad.disable_account.
	Name string
	// Summary is one line, no trailing period.
	Summary string
	// Description is a paragraph for the reference docs.
	Description string
	Params      []Param
	// Permissions are what the step needs from the system it changes, by
	// kind; every kind is one its backend declares.
	Permissions []Permission
	// Idempotent steps may be applied again with the same effect.
	Idempotent bool
	// Containment steps close a way in (disable, revoke): the run's time to
	// containment ends when the last of them ends.
	Containment bool
	// Budget is the rate limit the step's Apply calls draw on, when its
	// backend documents one (Graph's directory writes: 3,000 per 150 s per
	// app and tenant). Optional. A bulk run spends one request of it per
	// Apply before the call, and after a throttled answer releases the
	// waiting calls at its refill rate; specs naming the same Scope share
	// one budget.
	Budget *Budget
	// New returns the step's implementation. Nil while a step exists only as
	// a spec: the engine refuses to execute it rather than pretend.
	New func() Step
}

// Budget is a backend's documented rate limit: Requests per Per,
// refilled continuously (a token bucket, as Graph's are). Scope names it
// within its backend; every spec with the same backend and Scope shares
// it.
type Budget struct {
	Scope    string
	Requests int
	Per      time.Duration
}

// Backend is the part of Name before the dot.
func (s *Spec) Backend() string { b, _, _ := strings.Cut(s.Name, "."); return b }

// Param returns the parameter called name, or nil.
func (s *Spec) Param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// Step is a step's implementation. Check and Apply receive the validated
// parameters and the backend's connection through the Call.
type Step interface {
	// Check reads the current state, changes nothing, and says what Apply
	// would change, or that the subject is already in the wanted state.
	Check(ctx context.Context, call *Call) (Change, error)
	// Apply makes the change. It must be safe to call again after a crash.
	Apply(ctx context.Context, call *Call) (Change, error)
}

// Verifier is implemented by steps whose effect can be read back.
type Verifier interface {
	Verify(ctx context.Context, call *Call) error
}

// Call is one invocation of a step for one subject.
type Call struct {
	// StepID is the runbook's id for this step.
	StepID string
	// Subject is what the backends resolved the reference to.
	Subject *Subject
	// With holds every declared parameter, defaults filled, as Go values of
	// the parameter's type.
	With Values
	// Conn is the step's backend connection (the value its BackendSpec.Open
	// returned); the step asserts it to its own type.
	Conn Conn
	// RunStarted is when the run began; verification of time-stamped
	// effects (sign-in sessions) compares against it.
	RunStarted time.Time
	// RunID is the run's id (the journal's), the same on a resume: a step
	// that records who changed something names the run.
	RunID string
	// RequestedBy, Ticket and Reason are the run's request as the operator
	// gave it (never a secret), for steps that leave a note on the account.
	RequestedBy, Ticket, Reason string
	// Progress records a fact worth keeping mid-Apply (one password reset of
	// two done, a group removed). The engine journals it durably before it
	// returns. Never pass a secret.
	Progress func(message string, details map[string]any)
	// Resumed is true when an earlier attempt of this step started but never
	// ended (a crash); Apply may use the journaled progress in Prior.
	Resumed bool
	// Prior is the progress journaled by earlier attempts, oldest first.
	Prior []Progress
	// Spend, set by a bulk run for a step whose spec declares a Budget,
	// waits until the budget has room for more of Apply's requests: each
	// Apply is charged one request before it starts, so a step that sends
	// several writes spends the others before sending them (Charge), and
	// a bulk is paced by the requests it really makes. It returns ctx's
	// error if ctx ends first. A step calls it from one goroutine at a
	// time: while it waits, the step's hold on its backend's slots is let
	// go and taken again.
	Spend func(ctx context.Context, requests int) error
}

// Charge spends requests more of the step's budget (Spend), when a bulk
// run set one; nothing otherwise.
func (c *Call) Charge(ctx context.Context, requests int) error {
	if c == nil || c.Spend == nil || requests <= 0 {
		return nil
	}
	return c.Spend(ctx, requests)
}

// Progress is one journaled progress record of a step.
type Progress struct {
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Report calls Progress when it is set.
func (c *Call) Report(message string, details map[string]any) {
	if c.Progress != nil {
		c.Progress(message, details)
	}
}

// Change is what a step would change (Check) or changed (Apply).
type Change struct {
	// Satisfied means the subject is already in the wanted state: nothing to do.
	Satisfied bool `json:"satisfied,omitempty"`
	// Unchecked, with Satisfied, means Check could not read the state (a
	// mailbox the backend cannot reach): nothing is done and nothing is known.
	// The engine ends the step "unchecked", never "satisfied", so no report
	// says it was already done.
	Unchecked bool `json:"unchecked,omitempty"`
	// Summary is one human line: "accountEnabled: true → false",
	// "already disabled", "3 devices: …".
	Summary string `json:"summary"`
	// Details are structured facts for the journal and JSON output (groups
	// removed, device ids). Never a secret.
	Details map[string]any `json:"details,omitempty"`
}

// Values holds validated parameters.
type Values map[string]any

// String returns the string parameter name, or "".
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Int returns the int parameter name, or 0.
func (v Values) Int(name string) int { n, _ := v[name].(int); return n }

// Bool returns the bool parameter name, or false.
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// Duration returns the duration parameter name, or 0.
func (v Values) Duration(name string) time.Duration { d, _ := v[name].(time.Duration); return d }

// Strings returns the string-list parameter name, or nil.
func (v Values) Strings(name string) []string { s, _ := v[name].([]string); return s }

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9]*\.[a-z][a-z0-9_]*$`)
	backendRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	paramRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// validate reports a malformed spec: a programming error.
func (s *Spec) validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("step name %q is not backend.action in lower snake case", s.Name)
	}
	if s.Summary == "" {
		return fmt.Errorf("step %s: no summary", s.Name)
	}
	return validateParams("step "+s.Name, s.Params)
}

func validateParams(owner string, params []Param) error {
	seen := map[string]bool{}
	for _, p := range params {
		if !paramRE.MatchString(p.Name) {
			return fmt.Errorf("%s: parameter name %q is not lower snake case", owner, p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("%s: parameter %q declared twice", owner, p.Name)
		}
		seen[p.Name] = true
		switch p.Type {
		case String, Int, Bool, Duration, StringList:
		case Enum:
			if len(p.Enum) == 0 {
				return fmt.Errorf("%s: enum parameter %q lists no values", owner, p.Name)
			}
		default:
			return fmt.Errorf("%s: parameter %q has unknown type %q", owner, p.Name, p.Type)
		}
		if p.Description == "" {
			return fmt.Errorf("%s: parameter %q has no description", owner, p.Name)
		}
		if p.Default != nil {
			if err := p.Check(p.Default); err != nil {
				return fmt.Errorf("%s: default of %q: %v", owner, p.Name, err)
			}
		}
	}
	return nil
}

// Check reports whether v, a Go value, is acceptable for the parameter:
// the right type, in the enum, within range.
func (p *Param) Check(v any) error {
	switch p.Type {
	case String:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
	case Enum:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want one of %s, got %T", strings.Join(p.Enum, ", "), v)
		}
		for _, e := range p.Enum {
			if e == s {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", s, strings.Join(p.Enum, ", "))
	case Int:
		n, ok := v.(int)
		if !ok {
			return fmt.Errorf("want an integer, got %T", v)
		}
		if p.Min != nil && n < *p.Min || p.Max != nil && n > *p.Max {
			return fmt.Errorf("%d is out of range %s", n, p.RangeText())
		}
	case Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want true or false, got %T", v)
		}
	case Duration:
		if _, ok := v.(time.Duration); !ok {
			return fmt.Errorf("want a duration, got %T", v)
		}
	case StringList:
		if _, ok := v.([]string); !ok {
			return fmt.Errorf("want a list of strings, got %T", v)
		}
	}
	return nil
}

// RangeText renders an Int parameter's bounds: "1–5", "≥ 16", "".
func (p *Param) RangeText() string {
	switch {
	case p.Min != nil && p.Max != nil:
		return fmt.Sprintf("%d–%d", *p.Min, *p.Max)
	case p.Min != nil:
		return fmt.Sprintf("≥ %d", *p.Min)
	case p.Max != nil:
		return fmt.Sprintf("≤ %d", *p.Max)
	}
	return ""
}

// sortedNames returns the keys of m in order.
func sortedNames[T any](m map[string]T) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
