package entra

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var removeInboxRules = implement(entraspec.RemoveInboxRules, func() steps.Step { return removeInboxRulesStep{} })

// removeInboxRulesStep implements entra.remove_inbox_rules.
type removeInboxRulesStep struct{}

var (
	_ steps.Step     = removeInboxRulesStep{}
	_ steps.Verifier = removeInboxRulesStep{}
)

var inboxRulesErrors = errorContext{permission: entraspec.PermMailbox}

// hiddenFolders are the display names (lower case) of the folders a rule
// moves mail to so that its owner does not see it: attackers hide replies
// to their fraud there. A localized mailbox names them otherwise and is
// not recognized; match all removes every rule.
var hiddenFolders = map[string]bool{
	"rss feeds": true, "rss subscriptions": true, "archive": true, "deleted items": true,
	"junk email": true, "conversation history": true,
}

// inboxRule is one rule of the inbox, described for a person.
type inboxRule struct {
	id, name string
	// disabled is a rule Graph lists with isEnabled false: the report
	// says so; it still matches, since anyone may enable it again.
	disabled bool
	// why are the reasons it is suspicious: "forwards to x@y", …
	why []string
	// conditions and actions are what Graph says the rule matches and
	// does, for the change's details: a responder needs to know where the
	// mail went.
	conditions, actions map[string]any
}

func (r inboxRule) label() string {
	s := "rule " + quote(r.name)
	if len(r.why) > 0 {
		s += " (" + strings.Join(r.why, "; ") + ")"
	}
	return s
}

func (r inboxRule) detail() map[string]any {
	return map[string]any{"id": r.id, "name": r.name, "conditions": r.conditions, "actions": r.actions}
}

// rulePlan is the rules to delete and how many stay.
type rulePlan struct {
	remove []inboxRule
	others int
	match  string
	// noMailbox is set when Graph says the user has no Exchange Online
	// mailbox it can reach.
	noMailbox bool
}

// noMailboxSummary says what a user without a reachable mailbox means:
// nothing was checked, and where to look instead.
const noMailboxSummary = "no Exchange Online mailbox Graph can reach (inactive, soft-deleted or hosted on-premises): " +
	"no inbox rule checked; check a mailbox hosted on-premises in Exchange"

func (p rulePlan) details() map[string]any {
	rules := make([]map[string]any, len(p.remove))
	for i, r := range p.remove {
		rules[i] = r.detail()
	}
	d := map[string]any{"rules": rules, "match": p.match}
	if p.noMailbox {
		d["mailbox"] = false
	}
	return d
}

// summary renders "2 rules: rule "x" (forwards to a@b), …; 3 other rules
// stay", verb before the count when done.
func (p rulePlan) summary(verb string) string {
	if p.noMailbox {
		return noMailboxSummary
	}
	var s string
	if len(p.remove) == 0 {
		s = "no suspicious inbox rule"
		if p.match == entraspec.MatchAll {
			s = "no inbox rule"
		}
	} else {
		labels := make([]string, len(p.remove))
		for i, r := range p.remove {
			labels[i] = r.label()
		}
		s = verb + count(len(p.remove), "inbox rule") + ": " + strings.Join(labels, ", ")
	}
	if p.others > 0 {
		s += fmt.Sprintf("; %s left alone", count(p.others, "other rule"))
	}
	return s
}

func (removeInboxRulesStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planRules(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	// No mailbox to read is not "no rule to delete": the step ends
	// unchecked, and the residual report names what Graph cannot read.
	return steps.Change{Satisfied: len(p.remove) == 0, Unchecked: p.noMailbox, Summary: p.summary(""), Details: p.details()}, nil
}

// Apply deletes the matching rules, all at once (removeAll: a $batch),
// each journaled with what it did, so a resume skips it and the journal
// keeps where the mail went even if the run ends before its report.
func (removeInboxRulesStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	p, err := planRules(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	rules := c.graph.Users().ByUserId(id).MailFolders().ByMailFolderId("inbox").MessageRules()
	rs := make([]removal, len(p.remove))
	for i, r := range p.remove {
		req, err := rules.ByMessageRuleId(r.id).ToDeleteRequestInformation(ctx, nil)
		if err != nil {
			return steps.Change{}, fmt.Errorf("entra: delete inbox rule %s of %s: %w", r.id, id, err)
		}
		rs[i] = removal{id: r.id,
			call:    batchCall{op: "delete inbox " + r.label() + " (" + r.id + ") of " + id, req: req, ec: inboxRulesErrors},
			done:    "deleted inbox " + r.label(),
			gone:    "inbox " + r.label() + " was already gone",
			details: map[string]any{"rule": r.detail()}}
	}
	removed, err := c.removeAll(ctx, call, rs, mailboxBatches)
	done := rulePlan{remove: pick(p.remove, removed), others: p.others, match: p.match, noMailbox: p.noMailbox}
	return steps.Change{Summary: done.summary("deleted "), Details: done.details()}, err
}

// Verify lists the rules again: none that match may remain.
func (removeInboxRulesStep) Verify(ctx context.Context, call *steps.Call) error {
	return verifyGone(ctx, func(ctx context.Context) (string, error) {
		p, err := planRules(ctx, call)
		if err != nil || len(p.remove) == 0 {
			return "", err
		}
		return p.summary(""), nil
	})
}

// planRules lists the inbox's rules and picks those match selects.
func planRules(ctx context.Context, call *steps.Call) (rulePlan, error) {
	c, id, err := target(call)
	if err != nil {
		return rulePlan{}, err
	}
	p := rulePlan{match: call.With.String(entraspec.ParamMatch)}
	if p.match == "" {
		p.match = entraspec.MatchSuspicious
	}
	listed, err := c.listRules(ctx, id, inboxRulesErrors)
	if graphCode(err) == "MailboxNotEnabledForRESTAPI" {
		// A user without a mailbox licence has no rules; one whose
		// mailbox is on-premises has them out of Graph's reach, which
		// the summary says.
		p.noMailbox = true
		return p, nil
	}
	if err != nil {
		return rulePlan{}, err
	}
	rules, err := c.describeRules(ctx, id, listed)
	if err != nil {
		return rulePlan{}, err
	}
	for _, r := range rules {
		if len(r.why) > 0 || p.match == entraspec.MatchAll {
			p.remove = append(p.remove, r)
		} else {
			p.others++
		}
	}
	return p, nil
}

// listRules reads every page of the rules of the user's inbox, for the
// step and the inventory alike; ec names the permission a 403 lacks.
func (c *Conn) listRules(ctx context.Context, id string, ec errorContext) ([]*graphMessageRule, error) {
	b := c.graph.Users().ByUserId(id).MailFolders().ByMailFolderId("inbox").MessageRules()
	var out []*graphMessageRule
	err := eachPage(ctx, "list inbox rules of "+id, ec,
		func(next string) (*collection[graphMessageRule, *graphMessageRule], error) {
			if next != "" {
				return sendPage[graphMessageRule](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphMessageRule](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(page *collection[graphMessageRule, *graphMessageRule]) { out = append(out, page.value...) })
	return out, err
}

// describeRules describes the listed rules (describeRule), reading each
// folder they move mail to once. A rule without an id is left out: an
// empty id would drop the path segment, and there is nothing to delete
// or report by.
func (c *Conn) describeRules(ctx context.Context, user string, listed []*graphMessageRule) ([]inboxRule, error) {
	folders := map[string]string{} // id → display name, read once each
	var out []inboxRule
	for _, m := range listed {
		if deref(m.id) == "" {
			continue
		}
		r, err := c.describeRule(ctx, user, m, folders)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// describeRule reads a rule's conditions and actions, and says why it is
// suspicious: it forwards or redirects mail, deletes it, or moves it to a
// folder people do not look at. The folder a rule moves to is read by id
// (its display name), once per folder.
func (c *Conn) describeRule(ctx context.Context, user string, m *graphMessageRule, folders map[string]string) (inboxRule, error) {
	r := inboxRule{id: deref(m.id), name: deref(m.displayName), disabled: m.isEnabled != nil && !*m.isEnabled,
		conditions: map[string]any{}, actions: map[string]any{}}
	if cond := m.conditions; cond != nil {
		addList(r.conditions, "fromAddresses", addresses(cond.fromAddresses))
		addList(r.conditions, "sentToAddresses", addresses(cond.sentToAddresses))
		addList(r.conditions, "senderContains", cond.senderContains)
		addList(r.conditions, "recipientContains", cond.recipientContains)
		addList(r.conditions, "subjectContains", cond.subjectContains)
		addList(r.conditions, "bodyContains", cond.bodyContains)
		addList(r.conditions, "bodyOrSubjectContains", cond.bodyOrSubjectContains)
		addList(r.conditions, "headerContains", cond.headerContains)
		addList(r.conditions, "categories", cond.categories)
		if v := cond.hasAttachments; v != nil {
			r.conditions["hasAttachments"] = *v
		}
	}
	a := m.actions
	if a == nil {
		return r, nil
	}
	for _, fw := range []struct {
		key, verb string
		to        []string
	}{
		{"forwardTo", "forwards to ", addresses(a.forwardTo)},
		{"forwardAsAttachmentTo", "forwards as attachment to ", addresses(a.forwardAsAttachmentTo)},
		{"redirectTo", "redirects to ", addresses(a.redirectTo)},
	} {
		if addList(r.actions, fw.key, fw.to) {
			r.why = append(r.why, fw.verb+strings.Join(fw.to, ", "))
		}
	}
	if deref(a.delete) {
		r.actions["delete"] = true
		r.why = append(r.why, "deletes mail")
	}
	if deref(a.permanentDelete) {
		r.actions["permanentDelete"] = true
		r.why = append(r.why, "permanently deletes mail")
	}
	if f := deref(a.moveToFolder); f != "" {
		name, err := c.folderName(ctx, user, f, folders)
		if err != nil {
			return inboxRule{}, err
		}
		r.actions["moveToFolder"] = map[string]any{"id": f, "displayName": name}
		if hiddenFolders[strings.ToLower(name)] {
			r.why = append(r.why, "moves mail to "+name)
		}
	}
	if f := deref(a.copyToFolder); f != "" {
		r.actions["copyToFolder"] = f
	}
	if deref(a.markAsRead) {
		r.actions["markAsRead"] = true
	}
	if deref(a.stopProcessingRules) {
		r.actions["stopProcessingRules"] = true
	}
	return r, nil
}

// folderName reads a mail folder's display name. A folder that is gone
// (404) is named by its id: a rule moving mail nowhere is not one to keep
// guessing about, but it is not called hidden either.
func (c *Conn) folderName(ctx context.Context, user, folder string, cache map[string]string) (string, error) {
	if name, ok := cache[folder]; ok {
		return name, nil
	}
	f, err := send[graphObject](ctx, c, req(c.graph.Users().ByUserId(user).MailFolders().ByMailFolderId(folder).ToGetRequestInformation(ctx, &users.ItemMailFoldersMailFolderItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMailFoldersMailFolderItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
	})))
	err = classify(ctx, "read mail folder "+folder+" of "+user, err, inboxRulesErrors)
	name := folder
	switch {
	case gone(err):
	case err != nil:
		return "", err
	case f != nil && deref(f.displayName) != "":
		name = deref(f.displayName)
	}
	cache[folder] = name
	return name, nil
}

// addresses are the email addresses of recipients.
func addresses(rs []*graphRecipient) []string {
	var out []string
	for _, r := range rs {
		if e := r.emailAddress; e != nil {
			if a := deref(e.address); a != "" {
				out = append(out, a)
			} else if n := deref(e.name); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// addList sets m[key] to list when it holds anything, and says so.
func addList(m map[string]any, key string, list []string) bool {
	if len(list) == 0 {
		return false
	}
	m[key] = list
	return true
}
