package steps

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// BackendSpec describes a backend: the environment file section it reads and
// how it opens a connection from it.
type BackendSpec struct {
	// Name is the steps' prefix and the environment file's section: ad, entra.
	Name    string
	Summary string
	// Fields are the keys of the environment file's section.
	Fields []Param
	// Kinds are the environment kinds the backend takes part in (hybrid,
	// cloud). In any other kind it is not opened and its facts are absent.
	Kinds []string
	// Validate checks what the per-field specs cannot (a field required only
	// for one credential type); each string is one problem. Optional.
	Validate func(section Values) []string
	// Open connects using the environment's section. It must not block
	// longer than ctx allows.
	Open func(ctx context.Context, env *Env) (Conn, error)
	// Identify reads the identity of a subject from the facts this
	// backend's Resolve returned (or a facts file holds). Optional: a
	// backend without it takes no part in linking, protection by
	// identifier or the per-subject lock.
	Identify func(facts map[string]any) Identity
	// PermissionKinds are the kinds of grant the backend's steps name in
	// Spec.Permissions, in the order people read them.
	PermissionKinds []PermissionKind
	// Optional backends take part in their Kinds only in an environment
	// that has their section (a ticketing system one team has and another
	// has not): without it the environment is complete, the backend is not
	// opened, and a step of it fails as not connected.
	Optional bool
}

// PermissionKind returns the backend's kind called name, or nil.
func (b *BackendSpec) PermissionKind(name string) *PermissionKind {
	for i := range b.PermissionKinds {
		if b.PermissionKinds[i].Name == name {
			return &b.PermissionKinds[i]
		}
	}
	return nil
}

// Env is what a backend is opened with.
type Env struct {
	// Name and Kind are the environment file's.
	Name, Kind string
	// Section holds the validated fields of the backend's section, defaults
	// filled. A Secret field NAME appears only as its reference, NAME_env or
	// NAME_file (read the value with Secret).
	Section Values
	// Secret returns the value of a Secret field from its NAME_env variable
	// or NAME_file file. It errors with class Invalid when neither is set or
	// the reference cannot be read.
	Secret func(name string) (string, error)
	// Path resolves a file path from the section against the environment
	// file's folder.
	Path func(p string) string
	// Logger receives the backend's diagnostics. Never log a secret.
	Logger *slog.Logger
	// StateDir is the run's state directory (journals, subject locks),
	// which every revoke process using this environment shares: a backend
	// may keep small cross-process state under StateDir/<backend name>/,
	// such as a per-tenant rate limiter's next free slot. Empty when the
	// caller has none; such state then stays in the process.
	StateDir string
}

// Conn is an open backend connection.
type Conn interface {
	// Resolve finds the subject a reference names (UPN, object id,
	// sAMAccountName, DOMAIN\user) and returns its facts, the subject.<backend>
	// document of the policy input. A missing subject is an error of class
	// NotFound; an ambiguous one of class Invalid.
	Resolve(ctx context.Context, ref string) (map[string]any, error)
	// Close releases the connection.
	Close() error
}

// Subject is the person a run acts on, as the backends resolved them.
type Subject struct {
	// Ref is the reference the user gave.
	Ref string `json:"ref"`
	// Facts are keyed by backend name; a backend is absent when the subject
	// was not found there or the backend is not part of the environment.
	Facts map[string]map[string]any `json:"facts,omitempty"`
	// Identities are what each backend's record says about who the
	// subject is (BackendSpec.Identify), keyed like Facts.
	Identities map[string]Identity `json:"identities,omitempty"`
	// Gaps are the reasons containment cannot be reached whatever runs: a
	// record mastered in a backend that did not find the subject (a synced
	// user whose AD account is missing). A run with a gap is never
	// reported contained.
	Gaps []string `json:"gaps,omitempty"`
}

// Found reports whether the backend resolved the subject (false on a nil
// Subject).
func (s *Subject) Found(backend string) bool {
	if s == nil {
		return false
	}
	_, ok := s.Facts[backend]
	return ok
}

// Fact returns one fact of a backend, or nil (also on a nil Subject).
func (s *Subject) Fact(backend, key string) any {
	if s == nil {
		return nil
	}
	return s.Facts[backend][key]
}

// FactString returns a string fact, or "".
func (s *Subject) FactString(backend, key string) string {
	v, _ := s.Fact(backend, key).(string)
	return v
}

// Registry holds step and backend specs. Plugins register into Default from
// init; tests build their own with NewRegistry and a plugin's Register.
type Registry struct {
	mu       sync.RWMutex
	steps    map[string]*Spec
	backends map[string]*BackendSpec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{steps: map[string]*Spec{}, backends: map[string]*BackendSpec{}}
}

// Default is the registry plugins join when imported.
var Default = NewRegistry()

// Register adds a step spec. It panics on a malformed spec or a duplicate
// name: both are programming errors, found the first time the binary starts.
func (r *Registry) Register(spec Spec) {
	if err := spec.validate(); err != nil {
		panic("steps: " + err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.steps[spec.Name]; dup {
		panic("steps: step " + spec.Name + " registered twice")
	}
	be, ok := r.backends[spec.Backend()]
	if !ok {
		panic("steps: step " + spec.Name + " registered before its backend " + spec.Backend())
	}
	for _, p := range spec.Permissions {
		if be.PermissionKind(p.Kind) == nil {
			panic(fmt.Sprintf("steps: step %s needs a permission of kind %q, which backend %s does not declare", spec.Name, p.Kind, be.Name))
		}
	}
	r.steps[spec.Name] = &spec
}

// RegisterBackend adds a backend spec. It panics on a malformed spec or a
// duplicate name.
func (r *Registry) RegisterBackend(spec BackendSpec) {
	if !backendRE.MatchString(spec.Name) {
		panic(fmt.Sprintf("steps: backend name %q is not lower case letters and digits", spec.Name))
	}
	if spec.Open == nil || len(spec.Kinds) == 0 {
		panic("steps: backend " + spec.Name + " has no Open or no Kinds")
	}
	if err := validateParams("backend "+spec.Name, spec.Fields); err != nil {
		panic("steps: " + err.Error())
	}
	for _, k := range spec.PermissionKinds {
		if !paramRE.MatchString(k.Name) || k.Title == "" {
			panic(fmt.Sprintf("steps: backend %s: permission kind %q needs a lower snake case name and a title", spec.Name, k.Name))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.backends[spec.Name]; dup {
		panic("steps: backend " + spec.Name + " registered twice")
	}
	r.backends[spec.Name] = &spec
}

// PermissionTitle is how people read a kind of permission of a backend
// ("AD rights"); the kind itself when the backend
// does not declare it.
func (r *Registry) PermissionTitle(backend, kind string) string {
	if be, ok := r.Backend(backend); ok {
		if k := be.PermissionKind(kind); k != nil {
			return k.Title
		}
	}
	return kind
}

// Step returns the spec of a registered step.
func (r *Registry) Step(name string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.steps[name]
	return s, ok
}

// Steps returns every step spec, sorted by name.
func (r *Registry) Steps() []*Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Spec, 0, len(r.steps))
	for _, n := range sortedNames(r.steps) {
		out = append(out, r.steps[n])
	}
	return out
}

// Backend returns the spec of a registered backend.
func (r *Registry) Backend(name string) (*BackendSpec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, ok := r.backends[name]
	return b, ok
}

// Backends returns every backend spec, sorted by name.
func (r *Registry) Backends() []*BackendSpec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*BackendSpec, 0, len(r.backends))
	for _, n := range sortedNames(r.backends) {
		out = append(out, r.backends[n])
	}
	return out
}

// StepNames returns every registered step name, sorted.
func (r *Registry) StepNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := sortedNames(r.steps)
	sort.Strings(names)
	return names
}
