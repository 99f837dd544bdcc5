package entra

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var removeAuthMethods = implement(entraspec.RemoveAuthMethods, func() steps.Step { return removeAuthMethodsStep{} })

// removeAuthMethodsStep implements entra.remove_auth_methods.
type removeAuthMethodsStep struct{}

var (
	_ steps.Step     = removeAuthMethodsStep{}
	_ steps.Verifier = removeAuthMethodsStep{}
)

var authMethodsErrors = errorContext{permission: entraspec.PermAuthMethods}

// authMethod is one registered sign-in method.
type authMethod struct {
	id string
	// kind is the type as keep names it: phone, fido2, …
	kind string
	// name describes it for a person: "phone +1 5555550100 (mobile)".
	name string
	// mobile is a phone method of type mobile, which Graph refuses to
	// delete while an alternateMobile remains.
	mobile bool
}

// methodPlan is what the step would delete and what it leaves by keep.
type methodPlan struct {
	remove []authMethod
	kept   []authMethod
}

func (p methodPlan) details() map[string]any {
	d := map[string]any{"methods": methodList(p.remove)}
	if len(p.kept) > 0 {
		d["kept"] = methodList(p.kept)
	}
	return d
}

func methodList(ms []authMethod) []map[string]any {
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = map[string]any{"id": m.id, "type": m.kind, "name": m.name}
	}
	return out
}

// summary renders "3 methods: Microsoft Authenticator (SM-A515F, added
// 2026-11-30), …; keeping 1 method (fido2)", with verb before the count
// when done ("deleted 3 methods: …").
func (p methodPlan) summary(verb string) string {
	var s string
	if len(p.remove) == 0 {
		s = "no sign-in method but the password"
		if len(p.kept) > 0 {
			s += " and the kept ones"
		}
	} else {
		s = verb + count(len(p.remove), "method") + ": " + methodNames(p.remove)
	}
	if len(p.kept) > 0 {
		s += "; keeping " + count(len(p.kept), "method") + ": " + methodNames(p.kept)
	}
	return s
}

func methodNames(ms []authMethod) string {
	objs := make([]object, len(ms))
	for i, m := range ms {
		objs[i] = object{id: m.id, name: m.name}
	}
	return names(objs)
}

func (removeAuthMethodsStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planMethods(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Satisfied: len(p.remove) == 0, Summary: p.summary(""), Details: p.details()}, nil
}

// Apply deletes every method of the plan, mobile phones last. Graph
// refuses the default method while others remain (and a mobile phone while
// an alternate one does), and v1.0 cannot say which is default: a method
// refused with 400 is tried again after the others, pass after pass while
// each pass deletes something. Each deletion is journaled, so a retry or a
// resume skips what a fresh listing may still show.
func (removeAuthMethodsStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	p, err := planMethods(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	done := priorRemoved(call)
	var pending []authMethod
	for _, m := range p.remove {
		if !done[m.id] {
			pending = append(pending, m)
		}
	}
	// Mobile phones after the others; otherwise the listing's order.
	slices.SortStableFunc(pending, func(a, b authMethod) int {
		switch {
		case a.mobile == b.mobile:
			return 0
		case b.mobile:
			return -1
		}
		return 1
	})
	var deleted []authMethod
	sent := 0
	for len(pending) > 0 {
		var refused []authMethod
		var refusal error
		for _, m := range pending {
			// Apply was charged its first deletion; the others spend
			// their own.
			if sent++; sent > 1 {
				if err := call.Charge(ctx, 1); err != nil {
					return methodPlan{remove: deleted, kept: p.kept}.change(), err
				}
			}
			err := c.deleteMethod(ctx, id, m)
			switch {
			case err == nil:
				call.Report("deleted "+m.name, map[string]any{progressRemoved: m.id, "type": m.kind})
			case gone(err):
				call.Report(m.name+" was already gone", map[string]any{progressRemoved: m.id, "type": m.kind})
			case badRequest(err):
				refused, refusal = append(refused, m), err
				continue
			default:
				return methodPlan{remove: deleted, kept: p.kept}.change(), err
			}
			deleted = append(deleted, m)
		}
		if len(refused) == len(pending) {
			// Nothing went in this pass: waiting for the others is not
			// what holds these back.
			if len(p.kept) > 0 {
				refusal = fmt.Errorf("%w (refused while other methods remain: probably the default method, which "+
					"cannot go while the kept ones stay; make a kept method the default, or keep none)", refusal)
			}
			return methodPlan{remove: deleted, kept: p.kept}.change(), refusal
		}
		pending = refused
	}
	return methodPlan{remove: deleted, kept: p.kept}.change(), nil
}

// change is what Apply did: the methods deleted by this attempt.
func (p methodPlan) change() steps.Change {
	return steps.Change{Summary: p.summary("deleted "), Details: p.details()}
}

// Verify lists the methods again: none but the password and the kept ones
// may remain, allowing a few seconds for the deletions to show.
func (removeAuthMethodsStep) Verify(ctx context.Context, call *steps.Call) error {
	return verifyGone(ctx, func(ctx context.Context) (string, error) {
		p, err := planMethods(ctx, call)
		if err != nil || len(p.remove) == 0 {
			return "", err
		}
		return count(len(p.remove), "sign-in method") + ": " + methodNames(p.remove), nil
	})
}

// planMethods lists the subject's methods and splits them by keep; the
// password is neither.
func planMethods(ctx context.Context, call *steps.Call) (methodPlan, error) {
	c, id, err := target(call)
	if err != nil {
		return methodPlan{}, err
	}
	keep := call.With.Strings(entraspec.ParamKeep)
	for _, k := range keep {
		if !slices.Contains(entraspec.MethodTypes, k) {
			return methodPlan{}, steps.Errorf(steps.Invalid, "entra: %s: %s names %s, not a sign-in method type (%s)",
				call.StepID, entraspec.ParamKeep, quote(k), strings.Join(entraspec.MethodTypes, ", "))
		}
	}
	methods, err := c.authMethods(ctx, id)
	if err != nil {
		return methodPlan{}, err
	}
	var p methodPlan
	for _, m := range methods {
		switch {
		case m.kind == "password":
		case slices.Contains(keep, m.kind):
			p.kept = append(p.kept, m)
		default:
			p.remove = append(p.remove, m)
		}
	}
	return p, nil
}

// authMethods lists the user's sign-in methods, the password among them.
func (c *Conn) authMethods(ctx context.Context, id string) ([]authMethod, error) {
	listed, err := c.listMethods(ctx, id, authMethodsErrors)
	if err != nil {
		return nil, err
	}
	out := make([]authMethod, 0, len(listed))
	for _, m := range listed {
		am, err := describeMethod(m)
		if err != nil {
			return nil, fmt.Errorf("entra: list sign-in methods of %s: %w", id, err)
		}
		out = append(out, am)
	}
	return out, nil
}

// listMethods reads every page of the user's sign-in methods, for the
// step and the inventory alike; ec names the permission a 403 lacks.
func (c *Conn) listMethods(ctx context.Context, id string, ec errorContext) ([]*graphAuthMethod, error) {
	b := c.graph.Users().ByUserId(id).Authentication().Methods()
	var out []*graphAuthMethod
	err := eachPage(ctx, "list sign-in methods of "+id, ec,
		func(next string) (*collection[graphAuthMethod, *graphAuthMethod], error) {
			if next != "" {
				return sendPage[graphAuthMethod](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphAuthMethod](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphAuthMethod, *graphAuthMethod]) { out = append(out, p.value...) })
	return out, err
}

// describeMethod reads a listed method's type from its @odata.type and
// names it for a person. Secrets a method may carry (an OATH secret key, a
// Temporary Access Pass) are never read.
func describeMethod(m *graphAuthMethod) (authMethod, error) {
	id := deref(m.id)
	t := deref(m.odataType)
	kind, ok := strings.CutPrefix(t, "#microsoft.graph.")
	if ok {
		kind, ok = strings.CutSuffix(kind, "AuthenticationMethod")
	}
	if !ok || kind == "" || id == "" {
		// An empty id would drop the path segment and aim the DELETE at
		// the collection.
		return authMethod{}, steps.Errorf(steps.Invalid, "a method with id %s and type %s cannot be deleted by type", quote(id), quote(t))
	}
	am := authMethod{id: id, kind: kind}
	added := func(name string) string {
		var extra []string
		if name != "" {
			extra = append(extra, name)
		}
		if t := m.createdDateTime; t != nil {
			extra = append(extra, "added "+t.UTC().Format(time.DateOnly))
		}
		if len(extra) == 0 {
			return ""
		}
		return " (" + strings.Join(extra, ", ") + ")"
	}
	// The kinds are the types the SDK's discriminator knows by the same
	// exact @odata.type; any other is named by its kind.
	switch kind {
	case "microsoftAuthenticator":
		am.name = "Microsoft Authenticator" + added(deref(m.displayName))
	case "phone":
		am.name = "phone " + deref(m.phoneNumber)
		if pt := m.phoneType; pt != nil {
			am.name += " (" + *pt + ")"
			am.mobile = *pt == "mobile"
		}
	case "fido2":
		name := deref(m.displayName)
		if model := deref(m.model); model != "" && model != name {
			name = strings.TrimSpace(name + " " + model)
		}
		am.name = "FIDO2 key" + added(name)
	case "email":
		am.name = "email " + deref(m.emailAddress)
	case "softwareOath":
		am.name = "software OATH token"
	case "temporaryAccessPass":
		// Whether it still signs in matters more than when it was made.
		usable := ""
		if deref(m.isUsable) {
			usable = "usable"
		}
		am.name = "Temporary Access Pass" + added(usable)
	case "platformCredential":
		am.name = "platform credential" + added(deref(m.displayName))
	case "windowsHelloForBusiness":
		am.name = "Windows Hello for Business" + added(deref(m.displayName))
	default:
		am.name = kind + " method " + id
	}
	return am, nil
}

// deleteMethod deletes one method from its type's collection, through the
// SDK's builder for the types it knows. A type it does not know (one Graph
// added since) is deleted at the same place by convention,
// /authentication/{type}Methods/{id}, with both segments escaped.
func (c *Conn) deleteMethod(ctx context.Context, user string, m authMethod) error {
	a := c.graph.Users().ByUserId(user).Authentication()
	var err error
	switch m.kind {
	case "email":
		err = a.EmailMethods().ByEmailAuthenticationMethodId(m.id).Delete(ctx, nil)
	case "fido2":
		err = a.Fido2Methods().ByFido2AuthenticationMethodId(m.id).Delete(ctx, nil)
	case "microsoftAuthenticator":
		err = a.MicrosoftAuthenticatorMethods().ByMicrosoftAuthenticatorAuthenticationMethodId(m.id).Delete(ctx, nil)
	case "phone":
		err = a.PhoneMethods().ByPhoneAuthenticationMethodId(m.id).Delete(ctx, nil)
	case "platformCredential":
		err = a.PlatformCredentialMethods().ByPlatformCredentialAuthenticationMethodId(m.id).Delete(ctx, nil)
	case "softwareOath":
		err = a.SoftwareOathMethods().BySoftwareOathAuthenticationMethodId(m.id).Delete(ctx, nil)
	case "temporaryAccessPass":
		err = a.TemporaryAccessPassMethods().ByTemporaryAccessPassAuthenticationMethodId(m.id).Delete(ctx, nil)
	case "windowsHelloForBusiness":
		err = a.WindowsHelloForBusinessMethods().ByWindowsHelloForBusinessAuthenticationMethodId(m.id).Delete(ctx, nil)
	default:
		// Any item builder's Delete sends DELETE to the URL it is given.
		err = users.NewItemAuthenticationEmailMethodsEmailAuthenticationMethodItemRequestBuilder(
			c.baseURL+"/users/"+pathSegment(user)+"/authentication/"+pathSegment(m.kind+"Methods")+"/"+pathSegment(m.id),
			c.graph.RequestAdapter).Delete(ctx, nil)
	}
	return classify(ctx, "delete "+m.name+" ("+m.id+") of "+user, err, authMethodsErrors)
}
