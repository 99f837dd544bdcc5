package servicenow

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/revoke-dev/revoke/steps"
)

const paramApps = "apps"

// openTicket is the spec of servicenow.open_ticket.
var openTicket = steps.Spec{
	Name:    "servicenow.open_ticket",
	Summary: "Open one ticket per run for the apps a person must deprovision by hand",
	Description: "Opens a ticket in the section's table (assigned to its assignment_group) naming the " +
		"person (display name and UPN), the apps to deprovision by hand, the run and the request. " +
		"The apps are the apps parameter when given; otherwise the section's manual_apps that the " +
		"subject is assigned to, as any backend published them (fact app_assignments); when no backend " +
		"published assignments, every manual app is listed and the ticket says so. No app, no ticket. " +
		"The ticket's correlation_id is revoke:RUN:STEP, so a resumed run, or an Apply retried after " +
		"a lost answer, finds the ticket it opened instead of opening a second. Verify reads it back by sys_id.",
	Params: []steps.Param{
		{Name: paramApps, Type: steps.StringList,
			Description: "The apps to list, instead of the environment's manual_apps the subject is assigned to.",
			Examples:    []any{[]any{"Contoso Expenses (legacy)"}}},
	},
	Permissions: []steps.Permission{{Kind: KindRole, Names: []string{"itil"}}},
	Idempotent:  true,
	New:         func() steps.Step { return ticketStep{} },
}

type ticketStep struct{}

var (
	_ steps.Step     = ticketStep{}
	_ steps.Verifier = ticketStep{}
)

// maxCorrelationID is the length of a task's correlation_id field: a
// longer value would be cut on insert and never found again.
const maxCorrelationID = 100

// ticketFields are what revoke reads of a ticket.
const ticketFields = "sys_id,number,correlation_id,state"

// correlationID is the run's ticket's key: revoke:RUN:STEP.
func correlationID(call *steps.Call) (string, error) {
	id := "revoke:" + call.RunID + ":" + call.StepID
	if call.RunID == "" || len(id) > maxCorrelationID || strings.ContainsAny(id, "^=\n\r") {
		// ^ joins and = compares in an encoded query: such an id could
		// not be looked up exactly.
		return "", steps.Errorf(steps.Invalid, "servicenow: correlation id %q is empty, longer than %d characters or holds ^, = or a line break", id, maxCorrelationID)
	}
	return id, nil
}

// apps returns the apps the ticket lists and, when no backend published
// app assignments, a note saying every manual app is listed.
func apps(call *steps.Call, c *Conn) (list []string, note string) {
	if given := call.With.Strings(paramApps); len(given) > 0 {
		return given, ""
	}
	assigned, published := steps.AssignedApps(call.Subject)
	if !published {
		return c.manualApps, "no backend reported the person's app assignments: every manual app is listed, check each"
	}
	for _, a := range c.manualApps {
		if slices.ContainsFunc(assigned, func(b string) bool { return strings.EqualFold(a, b) }) {
			list = append(list, a)
		}
	}
	return list, ""
}

func conn(call *steps.Call) (*Conn, error) {
	c, ok := call.Conn.(*Conn)
	if !ok {
		return nil, steps.Errorf(steps.Invalid, "servicenow: step %s got a %T connection", call.StepID, call.Conn)
	}
	return c, nil
}

// find returns the run's ticket, or nil. The instance's filter is not
// trusted alone: an instance ignores a condition on a field it does not
// know and would answer every ticket, so each is checked.
func (c *Conn) find(ctx context.Context, corr string) (record, error) {
	q := url.Values{
		"sysparm_query":                  {"correlation_id=" + corr},
		"sysparm_fields":                 {ticketFields},
		"sysparm_limit":                  {"10"},
		"sysparm_exclude_reference_link": {"true"},
	}
	var recs []record
	if err := c.do(ctx, "GET", "/api/now/table/"+c.table, q, nil, 200, &recs); err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.get("correlation_id") == corr && r.get("sys_id") != "" {
			return r, nil
		}
	}
	return nil, nil
}

func appsText(list []string) string {
	return steps.Count(len(list), "app") + ": " + strings.Join(list, ", ")
}

func details(r record, table string, list []string) map[string]any {
	return map[string]any{"number": r.get("number"), "sys_id": r.get("sys_id"), "table": table,
		"correlation_id": r.get("correlation_id"), "apps": list}
}

// ticketPlan is what Check and Apply start from.
type ticketPlan struct {
	conn *Conn
	// apps are the apps the ticket lists (none: no ticket is wanted, and
	// the instance was not asked), note says why all manual apps are.
	apps []string
	note string
	// corr is the run's correlation id; found its ticket, nil when none
	// is open.
	corr  string
	found record
}

// planTicket reads the apps to list and, when there are some, looks for
// the run's ticket: an earlier attempt may have opened it and lost the
// answer (a timeout, a crash before the journal line).
func planTicket(ctx context.Context, call *steps.Call) (*ticketPlan, error) {
	c, err := conn(call)
	if err != nil {
		return nil, err
	}
	p := &ticketPlan{conn: c}
	if p.apps, p.note = apps(call, c); len(p.apps) == 0 {
		return p, nil
	}
	if p.corr, err = correlationID(call); err != nil {
		return nil, err
	}
	if p.found, err = c.find(ctx, p.corr); err != nil {
		return nil, err
	}
	return p, nil
}

// Check says what Apply would open, or that the run's ticket exists.
func (ticketStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planTicket(ctx, call)
	switch {
	case err != nil:
		return steps.Change{}, err
	case len(p.apps) == 0:
		return steps.Change{Satisfied: true, Summary: "no app needs a person"}, nil
	case p.found != nil:
		return steps.Change{Satisfied: true, Summary: p.found.get("number") + " already opened by this run", Details: details(p.found, p.conn.table, p.apps)}, nil
	}
	ch := steps.Change{Summary: "would open a ticket for " + appsText(p.apps), Details: map[string]any{"table": p.conn.table, "apps": p.apps}}
	if p.note != "" {
		ch.Details["note"] = p.note
	}
	return ch, nil
}

// Apply opens the run's ticket unless an earlier attempt did.
func (ticketStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planTicket(ctx, call)
	switch {
	case err != nil:
		return steps.Change{}, err
	case len(p.apps) == 0:
		return steps.Change{Satisfied: true, Summary: "no app needs a person"}, nil
	case p.found != nil:
		return steps.Change{Summary: "found " + p.found.get("number") + ", opened earlier by this run, for " + appsText(p.apps),
			Details: details(p.found, p.conn.table, p.apps)}, nil
	}
	c := p.conn
	body := ticket(call, c, p.corr, p.apps, p.note)
	q := url.Values{"sysparm_fields": {ticketFields}, "sysparm_exclude_reference_link": {"true"}}
	r := record{}
	if err := c.do(ctx, "POST", "/api/now/table/"+c.table, q, body, 201, &r); err != nil {
		return steps.Change{}, err
	}
	if r.get("sys_id") == "" || r.get("number") == "" {
		return steps.Change{}, steps.Errorf(steps.Other, "servicenow: POST /api/now/table/%s: 201 without sys_id or number", c.table)
	}
	call.Report("opened "+r.get("number"), map[string]any{"number": r.get("number"), "sys_id": r.get("sys_id")})
	return steps.Change{Summary: "opened " + r.get("number") + " for " + appsText(p.apps), Details: details(r, c.table, p.apps)}, nil
}

// ticket is the new record's fields.
func ticket(call *steps.Call, c *Conn, corr string, list []string, note string) map[string]string {
	name, upn := steps.DisplayName(call.Subject), steps.UPN(call.Subject)
	ref := ""
	if call.Subject != nil {
		ref = call.Subject.Ref
	}
	who := name
	switch {
	case who == "" && upn == "":
		who = orNone(ref)
	case who == "":
		who = upn
	case upn != "":
		who += " (" + upn + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "revoke is deprovisioning %s.\n\n", who)
	heading := "this app"
	if len(list) > 1 {
		heading = "these apps"
	}
	fmt.Fprintf(&b, "Remove their access by hand from %s:\n", heading)
	for _, a := range list {
		fmt.Fprintf(&b, "- %s\n", a)
	}
	if note != "" {
		fmt.Fprintf(&b, "\nNote: %s.\n", note)
	}
	fmt.Fprintf(&b, "\nPerson: %s\n", orNone(name))
	fmt.Fprintf(&b, "UPN: %s\n", orNone(upn))
	fmt.Fprintf(&b, "Reference: %s\n", orNone(ref))
	fmt.Fprintf(&b, "Requested by: %s\n", orNone(call.RequestedBy))
	fmt.Fprintf(&b, "Request ticket: %s\n", orNone(call.Ticket))
	fmt.Fprintf(&b, "Reason: %s\n", orNone(call.Reason))
	fmt.Fprintf(&b, "revoke run: %s (step %s)\n", call.RunID, call.StepID)
	fields := map[string]string{
		"short_description":   fmt.Sprintf("Deprovision %s from %s by hand", who, appsText(list)),
		"description":         b.String(),
		"correlation_id":      corr,
		"correlation_display": "revoke",
	}
	if c.group != "" {
		fields["assignment_group"] = c.group
	}
	return fields
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Verify reads the run's ticket back by its sys_id: the one Apply
// reported, or the one the correlation id finds.
func (ticketStep) Verify(ctx context.Context, call *steps.Call) error {
	c, err := conn(call)
	if err != nil {
		return err
	}
	if list, _ := apps(call, c); len(list) == 0 {
		return nil // no ticket was wanted
	}
	corr, err := correlationID(call)
	if err != nil {
		return err
	}
	sysID := ""
	for _, p := range call.Prior {
		if s, ok := p.Details["sys_id"].(string); ok && s != "" {
			sysID = s
		}
	}
	if sysID == "" {
		r, err := c.find(ctx, corr)
		if err != nil {
			return err
		}
		if r == nil {
			return steps.Errorf(steps.NotFound, "servicenow: no ticket in %s has correlation_id %s", c.table, corr)
		}
		sysID = r.get("sys_id")
	}
	if !sysIDOK(sysID) {
		return steps.Errorf(steps.Invalid, "servicenow: sys_id %q is not 32 hexadecimal digits", sysID)
	}
	var r record
	q := url.Values{"sysparm_fields": {ticketFields}, "sysparm_exclude_reference_link": {"true"}}
	if err := c.do(ctx, "GET", "/api/now/table/"+c.table+"/"+sysID, q, nil, 200, &r); err != nil {
		return err
	}
	if r.get("correlation_id") != corr {
		return steps.Errorf(steps.Other, "servicenow: ticket %s (%s) has correlation_id %q, not this run's %s", r.get("number"), sysID, r.get("correlation_id"), corr)
	}
	return nil
}

// sysIDOK reports whether s is a sys_id: it goes into a URL path.
func sysIDOK(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
