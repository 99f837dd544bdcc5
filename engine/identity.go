package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/revoke-dev/revoke/steps"
)

// Identify fills subject.Identities from its facts with each backend's
// Identify (kept when already filled): what linking, protection, the
// per-subject lock and resume read. A nil registry means steps.Default.
func Identify(reg *steps.Registry, subject *steps.Subject) {
	if subject == nil {
		return
	}
	if reg == nil {
		reg = steps.Default
	}
	if subject.Identities == nil {
		subject.Identities = map[string]steps.Identity{}
	}
	for name, facts := range subject.Facts {
		if _, done := subject.Identities[name]; done || facts == nil {
			continue
		}
		if b, ok := reg.Backend(name); reg != nil && ok && b.Identify != nil {
			subject.Identities[name] = b.Identify(facts)
		}
	}
}

// Resolve finds the person ref names in every backend and links the
// backends' records of them. Every backend is asked at once; one that does
// not know the reference (an Entra object id in AD, DOMAIN\user in Entra
// ID) is then asked by the identifiers another backend's record publishes
// (the SID a synced user carries both sides), so any form of reference
// names the same person on every side. Records that disagree on an anchor
// (two SIDs) are two people, and the reference is refused. A record
// mastered in a backend that did not find the subject (a synced user
// without their AD account, or an environment that does not reach AD)
// becomes a Gap: the run may go on but is never reported contained.
//
// A malformed reference is Invalid; found nowhere is NotFound; any other
// failure of a backend fails resolution, since deciding on half the facts
// could skip a step that matters.
func (cs Conns) Resolve(ctx context.Context, reg *steps.Registry, ref string) (*steps.Subject, error) {
	r, err := steps.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	subject := &steps.Subject{Ref: r.Text, Facts: map[string]map[string]any{}}
	err = cs.each(func(name string, c steps.Conn) (map[string]any, error) {
		facts, err := c.Resolve(ctx, r.Text)
		if err != nil {
			return nil, fmt.Errorf("resolve %s in %s: %w", r.Text, name, err)
		}
		return facts, nil
	}, subject)
	if err != nil {
		return nil, err
	}
	Identify(reg, subject)
	if err := agree(subject); err != nil {
		return nil, err
	}
	if len(subject.Facts) == 0 {
		return nil, steps.Errorf(steps.NotFound, "%s was not found in %s: check the reference (UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID)",
			r.Text, strings.Join(cs.directories(reg), " or "))
	}
	if err := cs.link(ctx, reg, subject); err != nil {
		return nil, err
	}
	subject.Gaps = Gaps(subject, func(b string) bool { _, ok := cs[b]; return ok })
	return subject, nil
}

// directories names the connected backends that keep people (they say
// what a record's facts mean: Identify), for a message about where a
// reference was looked for; a ticketing backend is not one. Every
// connected backend when none declares it.
func (cs Conns) directories(reg *steps.Registry) []string {
	var names []string
	for _, name := range sortedKeys(cs) {
		if reg == nil {
			break
		}
		if b, ok := reg.Backend(name); ok && b.Identify != nil {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return sortedKeys(cs)
	}
	return names
}

// each calls fn for every connection whose backend has no facts yet, at
// once, and stores what they find; NotFound leaves a backend out.
func (cs Conns) each(fn func(name string, c steps.Conn) (map[string]any, error), subject *steps.Subject) error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	// Which backends to ask is settled before any answer is written:
	// the goroutines write subject.Facts.
	pending := Conns{}
	for name, c := range cs {
		if _, ok := subject.Facts[name]; !ok {
			pending[name] = c
		}
	}
	for name, c := range pending {
		wg.Go(func() {
			facts, err := fn(name, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case steps.ClassOf(err) == steps.NotFound:
			case err != nil:
				errs = append(errs, err)
			default:
				subject.Facts[name] = facts
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// link asks the backends that did not find the subject by the reference
// for the record the others' identifiers point at.
func (cs Conns) link(ctx context.Context, reg *steps.Registry, subject *steps.Subject) error {
	ids := map[string]string{}
	for _, name := range sortedKeys(subject.Identities) {
		for kind, v := range subject.Identities[name].IDs {
			if _, ok := ids[kind]; !ok {
				ids[kind] = v
			}
		}
	}
	linkers := Conns{}
	for name, c := range cs {
		if _, found := subject.Facts[name]; !found {
			if _, ok := c.(steps.Linker); ok {
				linkers[name] = c
			}
		}
	}
	if len(linkers) == 0 || len(ids) == 0 {
		return nil
	}
	err := linkers.each(func(name string, c steps.Conn) (map[string]any, error) {
		facts, err := c.(steps.Linker).ResolveIDs(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("find %s in %s by %s: %w", subject.Ref, name, linkIDs(ids), err)
		}
		return facts, nil
	}, subject)
	if err != nil {
		return err
	}
	Identify(reg, subject)
	return agree(subject)
}

// linkIDs renders the identifiers a link searches by, for messages.
func linkIDs(ids map[string]string) string {
	for _, k := range []string{steps.IDSID, steps.IDImmutableID, steps.IDDN} {
		if v := ids[k]; v != "" {
			return k + " " + v
		}
	}
	return "its identifiers"
}

// agree refuses a subject whose backends' records disagree on an anchor
// both publish: the reference named two different people.
func agree(subject *steps.Subject) error {
	names := sortedKeys(subject.Identities)
	for i, a := range names {
		for _, b := range names[i+1:] {
			ia, ib := subject.Identities[a], subject.Identities[b]
			for _, kind := range ia.Anchors {
				va, vb := ia.IDs[kind], ib.IDs[kind]
				if va == "" || vb == "" || !slices.Contains(ib.Anchors, kind) || steps.EqualID(kind, va, vb) {
					continue
				}
				return steps.Errorf(steps.Invalid, "%s names two different people: in %s it is %s, in %s %s (%s %s against %s): name the person by a reference both directories agree on, such as the object id",
					subject.Ref, a, ia.String(), b, ib.String(), kind, va, vb)
			}
		}
	}
	return nil
}

// Gaps lists the records mastered in a backend that did not find the
// subject, whether it takes part here and found nothing or the environment
// does not reach it at all: no step can close those, so the run is never
// reported contained.
func Gaps(subject *steps.Subject, takesPart func(backend string) bool) []string {
	out := []string{} // not nil: "no gap" is an answer, nil is "not asked yet"
	for _, name := range sortedKeys(subject.Identities) {
		id := subject.Identities[name]
		if id.MasteredIn == "" || subject.Found(id.MasteredIn) {
			continue
		}
		where, act := "but "+id.MasteredIn+" has no such account", "find the "+id.MasteredIn+" account and disable it there"
		if !takesPart(id.MasteredIn) {
			// A cloud-only environment file for a tenant that syncs: the
			// block lasts until the next sync all the same.
			where, act = "which this environment does not reach", "disable the "+id.MasteredIn+" account too"
		}
		out = append(out, fmt.Sprintf("the %s account of %s is synced from %s (%s), %s: a change made in %s alone is undone by the next directory sync; %s",
			name, subject.Ref, id.MasteredIn, linkIDs(id.IDs), where, name, act))
	}
	return out
}

// Protection says why the subject is protected: the environment lists one
// of their identifiers (in any reference form, case-insensitively), or a
// backend counts them as privileged (adminCount=1, a privileged role held
// or eligible). Policies may add denials but cannot remove these: Plan
// denies a protected subject unless the request allows it and names who
// approved.
func Protection(env EnvironmentFacts, subject *steps.Subject) []string {
	if subject == nil {
		return nil
	}
	var reasons []string
	for _, entry := range env.Protected {
		if listedAs(entry, subject) {
			reasons = append(reasons, fmt.Sprintf("environment %s lists %s as protected", env.Name, entry))
		}
	}
	for _, name := range sortedKeys(subject.Identities) {
		reasons = append(reasons, subject.Identities[name].Privileged...)
	}
	return slices.Compact(reasons)
}

// protectedKinds are the identifier kinds a protected entry of each
// reference form is matched against.
var protectedKinds = map[steps.RefKind][]string{
	steps.RefUPN:        {steps.IDUPN},
	steps.RefGUID:       {steps.IDObjectID, steps.IDGUID},
	steps.RefSAM:        {steps.IDSAM},
	steps.RefDomainUser: {steps.IDDomainUser},
	steps.RefDN:         {steps.IDDN},
	steps.RefSID:        {steps.IDSID},
}

// listedAs reports whether a protected entry names the subject: the
// reference as typed, or any identifier of the entry's form in any
// backend's record. DOMAIN\user also matches the sAMAccountName when no
// backend knows the NetBIOS domain: protecting too much is safe, and a
// reference in another domain is refused at resolution anyway.
func listedAs(entry string, subject *steps.Subject) bool {
	r, err := steps.ParseRef(entry)
	if err != nil {
		return false
	}
	if strings.EqualFold(r.Text, subject.Ref) {
		return true
	}
	domainKnown := false
	for _, id := range subject.Identities {
		for _, kind := range protectedKinds[r.Kind] {
			if v := id.IDs[kind]; v != "" && steps.EqualID(kind, v, protectedValue(r)) {
				return true
			}
		}
		domainKnown = domainKnown || id.IDs[steps.IDDomainUser] != ""
	}
	if r.Kind == steps.RefDomainUser && !domainKnown {
		for _, id := range subject.Identities {
			if v := id.IDs[steps.IDSAM]; v != "" && strings.EqualFold(v, r.Name) {
				return true
			}
		}
	}
	return false
}

// protectedValue is what an entry's identifier is compared with.
func protectedValue(r steps.Ref) string {
	if r.Kind == steps.RefDomainUser {
		return r.Domain + `\` + r.Name
	}
	return r.Name
}
