package ad

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

var annotate = steps.Spec{
	Name:    "ad.annotate",
	Summary: "Note who, when, which run and ticket on the account (description or info)",
	Description: "Replaces the account's description (shown in Active Directory Users and Computers' " +
		"list) or info (the Telephones tab's Notes) with a text naming the run, its date, who requested " +
		"it, the ticket and the reason, so the next person to find the account knows why it is disabled. " +
		"The text's placeholders are {run} (the run id), {date} (the run's start, UTC, YYYY-MM-DD), " +
		"{requested_by}, {ticket} and {reason} (from the run's request; \"none\" when not given); any other " +
		"{name} is refused. Only the request and the run are written, never a secret.",
	Params: []steps.Param{
		{Name: paramAttribute, Type: steps.Enum, Enum: []string{attrInfo, attrDescription}, Default: attrInfo,
			Description: "The attribute to write: info (notes, up to 1024 characters) or description."},
		{Name: paramText, Type: steps.String, Default: defaultAnnotation,
			Description: "The text, with placeholders {run}, {date}, {requested_by}, {ticket}, {reason}.",
			Examples:    []any{"Leaver {date}, ticket {ticket} (revoke run {run})"}},
	},
	Permissions: []steps.Permission{{Kind: kindRight, Names: []string{rightWriteNote}}},
	Idempotent:  true,
	New:         func() steps.Step { return &annotateStep{} },
}

const (
	paramAttribute    = "attribute"
	paramText         = "text"
	attrInfo          = "info"
	attrDescription   = "description"
	rightWriteNote    = "Write description or info (whichever the step writes) on the user object"
	defaultAnnotation = "Disabled by revoke run {run} on {date} for {requested_by}; ticket {ticket}; reason: {reason}"
	// maxAnnotation is the shorter of the two attributes' upper bounds
	// (description and info both take 1024 characters).
	maxAnnotation = 1024
)

// annotateStep is one execution of ad.annotate.
type annotateStep struct{}

var (
	_ steps.Step     = (*annotateStep)(nil)
	_ steps.Verifier = (*annotateStep)(nil)
)

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// annotation renders the text parameter for this run.
func annotation(call *steps.Call) (string, error) {
	orNone := func(s string) string {
		if s = strings.TrimSpace(s); s == "" {
			return "none"
		}
		return s
	}
	values := map[string]string{
		"{run}":          orNone(call.RunID),
		"{date}":         orNone(dateOf(call)),
		"{requested_by}": orNone(call.RequestedBy),
		"{ticket}":       orNone(call.Ticket),
		"{reason}":       orNone(call.Reason),
	}
	text := call.With.String(paramText)
	var unknown []string
	out := placeholderRE.ReplaceAllStringFunc(text, func(p string) string {
		v, ok := values[p]
		if !ok {
			unknown = append(unknown, p)
			return p
		}
		return v
	})
	if len(unknown) > 0 {
		return "", steps.Errorf(steps.Invalid, "text has unknown placeholders %s: use {run}, {date}, {requested_by}, {ticket}, {reason}", strings.Join(unknown, ", "))
	}
	if out = strings.TrimSpace(out); out == "" {
		return "", steps.Errorf(steps.Invalid, "text is empty")
	}
	if n := len([]rune(out)); n > maxAnnotation {
		return "", steps.Errorf(steps.Invalid, "the annotation is %d characters: %s takes at most %d", n, call.With.String(paramAttribute), maxAnnotation)
	}
	return out, nil
}

func dateOf(call *steps.Call) string {
	if call.RunStarted.IsZero() {
		return ""
	}
	return call.RunStarted.UTC().Format("2006-01-02")
}

// annotatePlan is the text to write and what the attribute holds now.
type annotatePlan struct {
	conn      *Conn
	dn, attr  string
	text      string
	current   []string
	satisfied bool
}

func planAnnotate(ctx context.Context, call *steps.Call) (*annotatePlan, error) {
	c, _, err := target(call)
	if err != nil {
		return nil, err
	}
	text, err := annotation(call)
	if err != nil {
		return nil, err
	}
	// One read: the attribute of the account at the DN the run resolved.
	// Only an account that is not there any more (ad.move_to_ou moved it)
	// is looked up by objectGUID or objectSid and read where it is now.
	attr := call.With.String(paramAttribute)
	dn := call.Subject.FactString("ad", attrDN)
	cur, err := c.readAttr(ctx, dn, attr)
	if steps.ClassOf(err) == steps.NotFound {
		a, lerr := relocate(ctx, c, call, err)
		if lerr != nil {
			return nil, lerr
		}
		dn = a.DN
		cur, err = c.readAttr(ctx, dn, attr)
	}
	if err != nil {
		return nil, err
	}
	return &annotatePlan{conn: c, dn: dn, attr: attr, text: text, current: cur,
		satisfied: len(cur) == 1 && cur[0] == text}, nil
}

func (p *annotatePlan) change() steps.Change {
	if p.satisfied {
		return steps.Change{Satisfied: true, Summary: p.attr + " already holds the annotation",
			Details: map[string]any{"attribute": p.attr, "text": p.text}}
	}
	before := strings.Join(p.current, "; ")
	return steps.Change{
		Summary: fmt.Sprintf("%s: %q → %q", p.attr, before, p.text),
		Details: map[string]any{"attribute": p.attr, "before": before, "after": p.text},
	}
}

// Check says what the attribute would become, or that it holds the text.
func (*annotateStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planAnnotate(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return p.change(), nil
}

// Apply replaces the attribute's values with the text. Replacing twice
// with the same text is harmless: safe to resend.
func (*annotateStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planAnnotate(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if p.satisfied {
		return p.change(), nil
	}
	req := ldap.NewModifyRequest(p.dn, nil)
	req.Replace(p.attr, []string{p.text})
	if err := p.conn.modify(ctx, req, true); err != nil {
		return steps.Change{}, classify(fmt.Sprintf("write %s of %s", p.attr, p.dn), rightWriteNote, err)
	}
	return p.change(), nil
}

// Verify reads the attribute back: it must hold exactly the text.
func (*annotateStep) Verify(ctx context.Context, call *steps.Call) error {
	p, err := planAnnotate(ctx, call)
	if err != nil {
		return err
	}
	if !p.satisfied {
		return steps.Errorf(steps.Other, "%s of %s is %q after writing %q", p.attr, p.dn, strings.Join(p.current, "; "), p.text)
	}
	return nil
}

// readAttr reads one attribute of the entry at dn.
func (c *Conn) readAttr(ctx context.Context, dn, attr string) ([]string, error) {
	e, err := c.readUser(ctx, dn, "read "+attr+" of "+dn, []string{attr})
	if err != nil {
		return nil, err
	}
	return e.GetAttributeValues(attr), nil
}
