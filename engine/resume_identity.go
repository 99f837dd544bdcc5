package engine

import (
	"fmt"
	"strings"

	"github.com/revoke-dev/revoke/steps"
)

// EnvironmentIdentity collects the values of the fields each backend marks
// steps.Param.Identity (a tenant id, a URL, a base DN) from the
// environment's sections: backend → field → value, empty fields left out.
// None of them is a secret. The journal records it so that a resume acts
// only on the directories the run started on. A nil registry means
// steps.Default.
func EnvironmentIdentity(reg *steps.Registry, env *Environment) map[string]map[string]string {
	if env == nil {
		return nil
	}
	if reg == nil {
		reg = steps.Default
	}
	var out map[string]map[string]string
	for _, b := range reg.Backends() {
		section, ok := env.Sections[b.Name]
		if !ok {
			continue
		}
		for _, p := range b.Fields {
			if !p.Identity || p.Secret {
				continue
			}
			v := fmt.Sprint(section[p.Name])
			if section[p.Name] == nil || v == "" {
				continue
			}
			if out == nil {
				out = map[string]map[string]string{}
			}
			if out[b.Name] == nil {
				out[b.Name] = map[string]string{}
			}
			out[b.Name][p.Name] = v
		}
	}
	return out
}

// EnvironmentBackends returns the environment's sections for the policy
// input (EnvironmentFacts.Backends): each present backend's fields, defaults
// filled, as JSON values, leaving out every Secret field and its reference.
func EnvironmentBackends(reg *steps.Registry, env *Environment) map[string]map[string]any {
	if env == nil {
		return nil
	}
	if reg == nil {
		reg = steps.Default
	}
	out := map[string]map[string]any{}
	for _, b := range reg.Backends() {
		section, ok := env.Sections[b.Name]
		if !ok {
			continue
		}
		fields := map[string]any{}
		for _, p := range b.Fields {
			if v, ok := section[p.Name]; ok && !p.Secret {
				fields[p.Name] = ParamJSON(v)
			}
		}
		out[b.Name] = fields
	}
	return out
}

// SameEnvironment refuses to resume in an environment that is not the one
// the run started in: another name or kind, or (when the run recorded
// them) another directory — a backend's identity field (tenant id, URL,
// base DN) with another value, or a backend taking part on one side only.
// Values compare without regard to case, and a URL's trailing slash does
// not count. The error is Invalid and names every difference.
func SameEnvironment(runID string, journaled, now EnvironmentFacts) error {
	var diffs []string
	if journaled.Name != now.Name {
		diffs = append(diffs, fmt.Sprintf("environment %s, not %s", journaled.Name, now.Name))
	}
	if journaled.Kind != now.Kind {
		diffs = append(diffs, fmt.Sprintf("a %s environment, not %s", journaled.Kind, now.Kind))
	}
	// A run journaled before environments' identities were recorded has
	// none to compare; its journal carries no seal either, so resuming it
	// already takes --force.
	if journaled.Identity != nil {
		for _, b := range sortedKeys(unionKeys(journaled.Identity, now.Identity)) {
			was, is := journaled.Identity[b], now.Identity[b]
			switch {
			case was == nil:
				diffs = append(diffs, fmt.Sprintf("%s was not part of it (it is now)", b))
				continue
			case is == nil:
				diffs = append(diffs, fmt.Sprintf("%s was part of it (it is not now)", b))
				continue
			}
			for _, f := range sortedKeys(unionKeys(was, is)) {
				if !sameIdentityValue(was[f], is[f]) {
					diffs = append(diffs, fmt.Sprintf("%s %s %s, now %s", b, f, orNoneValue(was[f]), orNoneValue(is[f])))
				}
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return steps.Errorf(steps.Invalid, "run %s was against %s: resume acts only where the run started, with the environment file it used",
		runID, joinSemi(diffs))
}

// strongIDKinds are the identifier kinds that name one record for good:
// a rename changes a UPN or a sAMAccountName, never these.
var strongIDKinds = []string{steps.IDObjectID, steps.IDGUID, steps.IDSID}

// SameSubject refuses to resume on someone other than the person the run
// started on. journaled is the run's subject as recorded (its Identities
// filled from its facts when the journal holds none: see Identify); now is
// the subject's reference resolved again. For every backend that found
// the subject when the run started, now must find them too, with the same
// object id, objectGUID and SID wherever both sides have one. A backend
// that finds the subject only now is not a difference: the run's plan
// already decided what to do there. The error is Invalid and names every
// difference.
func SameSubject(journaled, now *steps.Subject) error {
	if journaled == nil || now == nil {
		return steps.Errorf(steps.Invalid, "resume needs the subject as journaled and as resolved now")
	}
	var diffs []string
	for _, b := range sortedKeys(journaled.Identities) {
		was := journaled.Identities[b]
		is, found := now.Identities[b]
		if !found {
			diffs = append(diffs, fmt.Sprintf("%s found %s when the run started and finds no one now", b, was))
			continue
		}
		for _, kind := range strongIDKinds {
			a, z := was.IDs[kind], is.IDs[kind]
			if a != "" && z != "" && !steps.EqualID(kind, a, z) {
				diffs = append(diffs, fmt.Sprintf("in %s the %s was %s and is now %s", b, kind, a, z))
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return steps.Errorf(steps.Invalid, "%s now resolves to someone else than when the run started: %s; resume acts only on whom the run started on",
		journaled.Ref, joinSemi(diffs))
}

// sameIdentityValue compares two identity field values as a directory
// would: case-insensitively, a trailing slash of a URL ignored.
func sameIdentityValue(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}

func orNoneValue(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// unionKeys is the set of keys of two maps.
func unionKeys[T any](a, b map[string]T) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
