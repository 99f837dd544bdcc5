package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/revoke-dev/revoke/runbooks"
	"github.com/revoke-dev/revoke/steps"
)

// Workspace is everything loaded for a command: runbooks, environments,
// runbook tests and the compiled policies, built-in ones included.
type Workspace struct {
	// Runbooks maps a name to its runbook; a file given by the user
	// replaces a built-in runbook of the same name.
	Runbooks map[string]*Runbook
	// BuiltinRunbooks maps a name to the built-in runbook (or a user's
	// byte-identical copy), which the built-in runbook tests run against
	// even when a user's runbook of that name replaces it in Runbooks.
	BuiltinRunbooks map[string]*Runbook
	// Files lists every runbook decoded, built-ins first, for linting.
	Files        []*Runbook
	Environments []*Environment
	Tests        []RunbookTestCase
	// Seeds are sandbox seed files, which the engine does not read: the
	// caller that knows the sandbox checks them.
	Seeds  []PolicySource
	Policy *Policy
	// Counts holds how many files of each kind were read from the user's paths.
	Counts map[FileKind]int
}

// Load reads the built-in runbooks and policies (when builtins is true) and
// every runbook, environment, runbook test, policy, facts file (checked
// only) and sandbox seed (kept for the caller) under paths, then compiles
// all policies together. Every problem is a Lint; err is only for
// a path that cannot be read at all.
//
// A file whose bytes equal a built-in one (validating revoke's own tree)
// replaces the embedded copy instead of being loaded twice.
func Load(reg *steps.Registry, paths []string, builtins bool) (*Workspace, Lints, error) {
	files, empty, err := collectFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	var lints Lints
	for _, p := range empty {
		// A directory that holds nothing revoke reads is most likely the
		// wrong one: CI passing on it would check nothing.
		lints = append(lints, Lint{File: p, Level: Warning, Code: "empty",
			Message: "no runbooks, environments, policies or tests here (.yaml, .yml, .rego, .json)"})
	}
	type source struct {
		file string
		data []byte
		sum  string // digest(data)
	}
	var user []source
	userDigests := map[string]bool{}
	for _, f := range files {
		data, err := ReadFile(f)
		if err != nil {
			lints = append(lints, Lint{File: f, Level: Error, Code: "read", Message: err.Error()})
			continue
		}
		s := source{f, data, digest(data)}
		user = append(user, s)
		userDigests[s.sum] = true
	}

	ws := &Workspace{Runbooks: map[string]*Runbook{}, BuiltinRunbooks: map[string]*Runbook{}, Counts: map[FileKind]int{}}
	var policySrcs []PolicySource
	if builtins {
		for _, p := range BuiltinPolicies() {
			if !userDigests[digest(p.Data)] {
				policySrcs = append(policySrcs, p)
			}
		}
		for _, b := range builtinRunbookFiles() {
			if userDigests[digest(b.Data)] {
				continue
			}
			kind := Recognize(b.File, b.Data)
			if kind == KindRunbookTest {
				cases, ls := DecodeRunbookTests(b.File, b.Data)
				ws.Tests = append(ws.Tests, markBuiltin(cases)...)
				lints = append(lints, ls...)
				continue
			}
			rb, ls := DecodeRunbook(b.File, b.Data, reg)
			lints = append(lints, ls...)
			if ls.Errors() == 0 {
				ws.Runbooks[rb.Name] = rb
				ws.BuiltinRunbooks[rb.Name] = rb
			}
			ws.Files = append(ws.Files, rb)
		}
	}

	var userRunbooks []*Runbook
	for _, s := range user {
		kind := Recognize(s.file, s.data)
		ws.Counts[kind]++
		switch kind {
		case KindRunbook:
			rb, ls := DecodeRunbook(s.file, s.data, reg)
			lints = append(lints, ls...)
			if ls.Errors() == 0 && builtinRunbookDigests()[s.sum] {
				ws.BuiltinRunbooks[rb.Name] = rb
			}
			userRunbooks = append(userRunbooks, rb)
			ws.Files = append(ws.Files, rb)
		case KindEnvironment:
			env, ls := DecodeEnvironment(s.file, s.data, reg)
			lints = append(lints, ls...)
			ws.Environments = append(ws.Environments, env)
		case KindRunbookTest:
			cases, ls := DecodeRunbookTests(s.file, s.data)
			lints = append(lints, ls...)
			if builtinRunbookDigests()[s.sum] {
				cases = markBuiltin(cases)
			}
			ws.Tests = append(ws.Tests, cases...)
		case KindPolicy, KindPolicyTest:
			policySrcs = append(policySrcs, PolicySource{File: s.file, Data: s.data})
		case KindFacts:
			_, ls := DecodeFacts(s.file, s.data)
			lints = append(lints, ls...)
		case KindSandboxSeed:
			ws.Seeds = append(ws.Seeds, PolicySource{File: s.file, Data: s.data})
		default:
			if ls := SyntaxLints(s.file, s.data); len(ls) > 0 {
				// Unreadable, so its kind is unknown: an error whatever
				// it was meant to be.
				lints = append(lints, ls...)
				continue
			}
			if strings.HasSuffix(s.file, ".json") {
				// JSON beside runbooks is usually facts or data; only YAML of
				// no known shape is worth a warning.
				continue
			}
			lints = append(lints, Lint{File: s.file, Level: Warning, Code: "unrecognised",
				Message: "not a runbook (no top-level steps), environment (no top-level kind), facts file (no subject), sandbox seed or runbook test (*_test.yaml): ignored"})
		}
	}
	lints = append(lints, CheckRunbookNames(userRunbooks)...)
	for _, rb := range userRunbooks {
		if rb.Name != "" {
			ws.Runbooks[rb.Name] = rb
		}
	}

	pol, ls := CompilePolicies(policySrcs)
	lints = append(lints, ls...)
	ws.Policy = pol
	if pol != nil {
		pol.Registry = reg
	}
	lints.Sort()
	return ws, lints, nil
}

// markBuiltin marks runbook test cases as built-in ones.
func markBuiltin(cases []RunbookTestCase) []RunbookTestCase {
	for i := range cases {
		cases[i].Builtin = true
	}
	return cases
}

// RunRunbookTests runs every runbook test case: the built-in ones against
// the built-in runbooks and policies alone (Policy.Defaults), the user's
// against every runbook and policy loaded. A team's own policy (a deny for
// runs without a ticket) changes what the built-in cases expect, and the
// team cannot edit those; its own cases pin its behaviour instead.
func (ws *Workspace) RunRunbookTests(ctx context.Context) Lints {
	if ws.Policy == nil {
		return nil
	}
	var builtin, user []RunbookTestCase
	for _, c := range ws.Tests {
		if c.Builtin {
			builtin = append(builtin, c)
		} else {
			user = append(user, c)
		}
	}
	lints := RunRunbookTests(ctx, builtin, ws.BuiltinRunbooks, ws.Policy.Defaults())
	lints = append(lints, RunRunbookTests(ctx, user, ws.Runbooks, ws.Policy)...)
	lints.Sort()
	return lints
}

// Runbook finds a runbook by name, or loads it from a file path.
func (ws *Workspace) Runbook(reg *steps.Registry, ref string) (*Runbook, Lints, error) {
	if rb, ok := ws.Runbooks[ref]; ok {
		return rb, nil, nil
	}
	if info, err := os.Stat(ref); err == nil && !info.IsDir() {
		data, err := ReadFile(ref)
		if err != nil {
			return nil, nil, err
		}
		rb, lints := DecodeRunbook(ref, data, reg)
		return rb, lints, nil
	}
	return nil, nil, fmt.Errorf("no runbook %q: not a loaded runbook (%s) nor a file", ref, strings.Join(sortedKeys(ws.Runbooks), ", "))
}

// ReadFile reads a runbook, policy, environment, facts file or sandbox
// seed with steps.ReadFile and the limit every decoder applies: a regular
// file of at most MaxFileSize bytes, or an error naming the file and the
// limit. A pipe or device is refused without being opened, so a path
// pointing at one neither blocks nor fills memory.
func ReadFile(path string) ([]byte, error) {
	return steps.ReadFile(path, MaxFileSize)
}

// builtinRunbookFiles returns the embedded runbooks and their tests.
func builtinRunbookFiles() []PolicySource {
	return embeddedFiles(runbooks.FS, "runbooks", "runbook", ".yaml")
}

// builtinRunbookDigests are the digests of the embedded runbook and
// runbook test files' texts.
var builtinRunbookDigests = sync.OnceValue(func() map[string]bool { return digestSet(builtinRunbookFiles()) })

// digestSet is the set of the digests of srcs' texts.
func digestSet(srcs []PolicySource) map[string]bool {
	out := make(map[string]bool, len(srcs))
	for _, s := range srcs {
		out[digest(s.Data)] = true
	}
	return out
}

// digest is the hex SHA-256 of data: a runbook's Digest, a journal line's
// hash in the chain, and how Load tells a built-in file from a user's copy.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
