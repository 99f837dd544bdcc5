package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var removeAppAssignments = implement(entraspec.RemoveAppAssignments, func() steps.Step { return removeAppAssignmentsStep{} })

// removeAppAssignmentsStep implements entra.remove_app_assignments.
type removeAppAssignmentsStep struct{}

var (
	_ steps.Step     = removeAppAssignmentsStep{}
	_ steps.Verifier = removeAppAssignmentsStep{}
)

var (
	appAssignErrors = errorContext{permission: entraspec.PermAppAssignments}
	syncErrors      = errorContext{permission: entraspec.PermSynchronization}
)

// Progress keys of the step besides progressRemoved (an assignment id):
// the app it was of, and for a provisioning job called on demand the job,
// its rule and what the app did.
const (
	progressResource    = "resourceId"
	progressApp         = "app"
	progressProvisioned = "provisioned" // the job id
	progressRule        = "ruleId"
	progressOutcome     = "outcome"
	// progressVerified is the job id Verify found the user gone from:
	// provision on demand allows 5 requests per 10 s, so a Verify that
	// is refused for the rate and retried does not ask again the apps it
	// already read (with more than five it could never end otherwise).
	progressVerified = "verified"
)

// Outcomes of provisioning one app on demand, as journaled.
const (
	// outcomeGone: the app disabled or deleted the user's account, or
	// holds no active one.
	outcomeGone = "deprovisioned"
	// outcomeKept: the user is still in the app's scope (assigned through
	// a group): the app keeps the account.
	outcomeKept = "kept"
	// outcomeFailed: the app answered something else.
	outcomeFailed = "failed"
)

// appWork is one app of the user's: their own assignments to it still to
// delete and, when it provisions, its jobs still to call on demand.
type appWork struct {
	resourceID, app string
	assignments     []string
	// jobs are the app's provisioning jobs (none: it takes no
	// provisioning); done those an earlier attempt already called.
	jobs []string
	done map[string]bool
}

// provisioned says whether the app has a provisioning job.
func (w *appWork) provisioned() bool { return len(w.jobs) > 0 }

// pending says whether the app has work left: an assignment, or a job
// not yet called since its assignments went.
func (w *appWork) pending() bool {
	if len(w.assignments) > 0 {
		return true
	}
	for _, j := range w.jobs {
		if !w.done[j] {
			return true
		}
	}
	return false
}

// provisionResult is what one provisionOnDemand answered for the user.
type provisionResult struct {
	app, resourceID, job, rule string
	// result is the key's result (Success, Skipped, Failure), action the
	// value's (Create, Update, Disable, Delete, Other), code and message
	// the key's error details.
	result, action, code, message string
	// inScope is the scoping step's IsEffectivelyEntitledForProvisioning:
	// the user is still assigned, directly or through a group.
	inScope bool
}

// outcome reads the answer: the app let the account go, kept it, or
// something else happened.
func (r provisionResult) outcome() string {
	switch {
	case strings.EqualFold(r.result, "Success") && (strings.EqualFold(r.action, "Disable") || strings.EqualFold(r.action, "Delete")):
		return outcomeGone
	case strings.EqualFold(r.result, "Skipped") && !r.inScope:
		return outcomeGone
	case strings.EqualFold(r.result, "Skipped"):
		return outcomeKept
	}
	return outcomeFailed
}

// text says what the app did, for a person: `"Slack" disabled the account`.
func (r provisionResult) text() string {
	app := quote(r.app)
	switch r.outcome() {
	case outcomeGone:
		switch {
		case strings.EqualFold(r.action, "Disable"):
			return app + " disabled the account"
		case strings.EqualFold(r.action, "Delete"):
			return app + " deleted the account"
		}
		return app + " holds no active account"
	case outcomeKept:
		return app + " keeps the account: the user is still assigned (through a group)"
	}
	s := app + " answered " + r.result
	if r.action != "" {
		s += " (" + r.action + ")"
	}
	if r.code != "" || r.message != "" {
		s += ": " + strings.TrimPrefix(r.code+": "+r.message, ": ")
	}
	return s
}

func (r provisionResult) detail() map[string]any {
	d := map[string]any{"app": r.app, "resourceId": r.resourceID, "job": r.job, "result": r.result, "action": r.action, "outcome": r.outcome()}
	if r.code != "" {
		d["errorCode"] = r.code
	}
	return d
}

// appChange is what the step did (or would do) to the user's apps.
type appChange struct {
	removed []*appWork // apps whose assignments Apply deleted
	results []provisionResult
}

// appList names the apps, each quoted and followed by note's word.
func appList(ws []*appWork, note func(w *appWork) string) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = quote(w.app) + note(w)
	}
	return strings.Join(s, ", ")
}

// planSummary: `3 app assignments: "Slack" (provisioned), …`.
func planSummary(ws []*appWork) string {
	if len(ws) == 0 {
		return "no app assignment of the user's own"
	}
	n := 0
	var own, waiting []*appWork
	for _, w := range ws {
		if len(w.assignments) == 0 {
			waiting = append(waiting, w)
			continue
		}
		n += len(w.assignments)
		own = append(own, w)
	}
	var parts []string
	if n > 0 {
		parts = append(parts, steps.Count(n, "app assignment")+": "+appList(own, func(w *appWork) string {
			if w.provisioned() {
				return " (provisioned)"
			}
			return " (no provisioning)"
		}))
	}
	if len(waiting) > 0 {
		parts = append(parts, "provision on demand still to ask of "+appList(waiting, func(*appWork) string { return "" }))
	}
	return strings.Join(parts, "; ")
}

func (ch appChange) summary() string {
	var parts []string
	n := 0
	for _, w := range ch.removed {
		n += len(w.assignments)
	}
	if n > 0 {
		parts = append(parts, "removed "+steps.Count(n, "app assignment")+": "+appList(ch.removed, func(*appWork) string { return "" }))
	}
	if len(ch.results) > 0 {
		s := make([]string, len(ch.results))
		for i, r := range ch.results {
			s[i] = r.text()
		}
		parts = append(parts, "provisioned on demand: "+strings.Join(s, ", "))
	}
	var manual []*appWork
	for _, w := range ch.removed {
		if !w.provisioned() {
			manual = append(manual, w)
		}
	}
	if len(manual) > 0 {
		parts = append(parts, "no provisioning, a person removes the account: "+appList(manual, func(*appWork) string { return "" }))
	}
	if len(parts) == 0 {
		return "no app assignment of the user's own"
	}
	return strings.Join(parts, "; ")
}

func workDetail(w *appWork) map[string]any {
	return map[string]any{"app": w.app, "resourceId": w.resourceID, "assignments": slices.Clone(w.assignments),
		"provisioning": w.provisioned(), "jobs": slices.Clone(w.jobs)}
}

func (ch appChange) details() map[string]any {
	apps := make([]map[string]any, len(ch.removed))
	for i, w := range ch.removed {
		apps[i] = workDetail(w)
	}
	results := make([]map[string]any, len(ch.results))
	for i, r := range ch.results {
		results[i] = r.detail()
	}
	return map[string]any{"apps": apps, "provisioning": results}
}

func planDetails(ws []*appWork) map[string]any {
	apps := make([]map[string]any, len(ws))
	for i, w := range ws {
		apps[i] = workDetail(w)
	}
	return map[string]any{"apps": apps}
}

func (removeAppAssignmentsStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	ws, err := planApps(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Satisfied: len(ws) == 0, Summary: planSummary(ws), Details: planDetails(ws)}, nil
}

// Apply deletes the user's assignments to every app at once (removeAll:
// a $batch), each journaled; then each provisioning app whose
// assignments are all gone is asked to provision the user on demand (each
// job journaled too), never one whose assignment is still there. A
// refusal for the rate (429) ends Apply with a Retryable error carrying
// Retry-After; the retried Apply skips what is journaled.
func (removeAppAssignmentsStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	ws, err := planApps(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	var rs []removal
	var owner []*appWork // owner[i] is the app of rs[i]
	for _, w := range ws {
		for _, aid := range w.assignments {
			req, err := c.graph.Users().ByUserId(id).AppRoleAssignments().ByAppRoleAssignmentId(aid).ToDeleteRequestInformation(ctx, nil)
			if err != nil {
				return steps.Change{}, fmt.Errorf("entra: delete the assignment %s of %s: %w", aid, id, err)
			}
			rs = append(rs, removal{id: aid,
				call:    batchCall{op: "delete the assignment to app " + quote(w.app) + " (" + aid + ") of " + id, req: req, ec: appAssignErrors},
				done:    "removed the assignment to app " + quote(w.app),
				gone:    "the assignment to app " + quote(w.app) + " was already gone",
				details: map[string]any{progressResource: w.resourceID, progressApp: w.app}})
			owner = append(owner, w)
		}
	}
	removed, failure := c.removeAll(ctx, call, rs, directoryBatches)
	// An app is provisioned on demand only once none of its assignments
	// is left: each went now or in an earlier attempt.
	went := priorRemoved(call)
	deleted := map[*appWork][]string{}
	for _, i := range removed {
		went[rs[i].id] = true
		deleted[owner[i]] = append(deleted[owner[i]], rs[i].id)
	}
	left := map[*appWork]bool{}
	for i, r := range rs {
		left[owner[i]] = left[owner[i]] || !went[r.id]
	}
	var ch appChange
	var failed []string
	for _, w := range ws {
		if ids := deleted[w]; len(ids) > 0 {
			ch.removed = append(ch.removed, &appWork{resourceID: w.resourceID, app: w.app, jobs: w.jobs, assignments: ids})
		}
		if left[w] {
			continue
		}
		for _, job := range w.jobs {
			if w.done[job] {
				continue
			}
			r, err := c.provisionOnDemand(ctx, w, job, id)
			if err != nil {
				return steps.Change{Summary: ch.summary(), Details: ch.details()}, graver(failure, provisioningLimit{err})
			}
			call.Report("provisioned on demand: "+r.text(), map[string]any{progressProvisioned: job, progressResource: w.resourceID,
				progressApp: w.app, progressRule: r.rule, progressOutcome: r.outcome(), "result": r.result, "action": r.action})
			ch.results = append(ch.results, r)
			if r.outcome() == outcomeFailed {
				failed = append(failed, r.text())
			}
		}
	}
	if failure != nil {
		return steps.Change{Summary: ch.summary(), Details: ch.details()}, failure
	}
	if len(failed) > 0 {
		return steps.Change{Summary: ch.summary(), Details: ch.details()},
			fmt.Errorf("entra: provisioning on demand did not deprovision the user: %s", strings.Join(failed, "; "))
	}
	return steps.Change{Summary: ch.summary(), Details: ch.details()}, nil
}

// Verify lists the assignments again (none of the user's own may remain)
// and provisions on demand once more each app Apply deprovisioned the
// user from: the app must find no account to act on. Each app read so is
// journaled, and a retried Verify (after a 429) skips it. An app that kept
// the account (the user is still in its scope through a group) was
// reported so and is not asked again.
func (removeAppAssignmentsStep) Verify(ctx context.Context, call *steps.Call) error {
	c, id, err := target(call)
	if err != nil {
		return err
	}
	err = verifyGone(ctx, func(ctx context.Context) (string, error) {
		as, err := c.ownAssignments(ctx, id)
		if err != nil || len(as) == 0 {
			return "", err
		}
		apps := make([]string, len(as))
		for i, a := range as {
			apps[i] = quote(a.app)
		}
		return "app assignments to " + strings.Join(apps, ", "), nil
	})
	if err != nil {
		return err
	}
	checked := map[string]bool{}
	for _, p := range call.Prior {
		if job, _ := p.Details[progressVerified].(string); job != "" {
			checked[job] = true
		}
	}
	for _, p := range call.Prior {
		job, _ := p.Details[progressProvisioned].(string)
		sp, _ := p.Details[progressResource].(string)
		if job == "" || sp == "" || checked[job] || p.Details[progressOutcome] != outcomeGone {
			continue
		}
		checked[job] = true
		w := &appWork{resourceID: sp}
		w.app, _ = p.Details[progressApp].(string)
		rule, _ := p.Details[progressRule].(string)
		r, err := c.provisionWithRule(ctx, w, job, rule, id)
		if err != nil {
			return err
		}
		if r.outcome() != outcomeGone {
			// The app may not have caught up with the unassignment yet:
			// the engine reads again.
			return steps.RetryableAfter(fmt.Errorf("entra: after provisioning on demand, %s", r.text()), 5*time.Second)
		}
		call.Report("provisioned on demand again: "+r.text(), map[string]any{progressVerified: job, progressApp: w.app})
	}
	return nil
}

// ownAssignment is one app role assignment the user holds directly.
type ownAssignment struct{ id, resourceID, app string }

// ownAssignments lists the user's own app role assignments: those held
// through a group are the group's (principalType Group) and are not
// listed under the user in Graph; any that were are skipped.
func (c *Conn) ownAssignments(ctx context.Context, id string) ([]ownAssignment, error) {
	var out []ownAssignment
	err := c.eachAppRoleAssignment(ctx, id, appAssignErrors, func(a *graphAppRoleAssignment) {
		aid := deref(a.id)
		principal := ""
		if pid := a.principalId; pid != nil {
			principal = pid.String()
		}
		// An empty id would aim the DELETE at the collection.
		if aid == "" || !strings.EqualFold(deref(a.principalType), "User") || !strings.EqualFold(principal, id) {
			return
		}
		o := ownAssignment{id: aid, app: deref(a.resourceDisplayName)}
		if r := a.resourceId; r != nil {
			o.resourceID = r.String()
		}
		out = append(out, o)
	})
	return out, err
}

// eachAppRoleAssignment visits every app role assignment listed under the
// user named by idOrUPN, page by page; a failed read is classified with ec.
func (c *Conn) eachAppRoleAssignment(ctx context.Context, idOrUPN string, ec errorContext, visit func(*graphAppRoleAssignment)) error {
	b := c.graph.Users().ByUserId(idOrUPN).AppRoleAssignments()
	return eachPage(ctx, "list app role assignments of "+idOrUPN, ec,
		func(next string) (*collection[graphAppRoleAssignment, *graphAppRoleAssignment], error) {
			if next != "" {
				return sendPage[graphAppRoleAssignment](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphAppRoleAssignment](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphAppRoleAssignment, *graphAppRoleAssignment]) {
			for _, a := range p.value {
				visit(a)
			}
		})
}

// planApps is the work left on the user's apps: the apps of their own
// assignments, and those whose assignments an earlier attempt removed
// without asking the app to provision on demand yet (a crash between the
// two), each with its provisioning jobs.
func planApps(ctx context.Context, call *steps.Call) ([]*appWork, error) {
	c, id, err := target(call)
	if err != nil {
		return nil, err
	}
	own, err := c.ownAssignments(ctx, id)
	if err != nil {
		return nil, err
	}
	// The apps an earlier attempt worked on come first, in the order it
	// did: their assignments went first, so their provisioning is due
	// first.
	var ws []*appWork
	byResource := map[string]*appWork{}
	add := func(resourceID, app string) *appWork {
		key := strings.ToLower(resourceID)
		if w := byResource[key]; w != nil {
			return w
		}
		w := &appWork{resourceID: resourceID, app: app, done: map[string]bool{}}
		byResource[key] = w
		ws = append(ws, w)
		return w
	}
	for _, p := range call.Prior {
		sp, _ := p.Details[progressResource].(string)
		if sp == "" {
			continue
		}
		app, _ := p.Details[progressApp].(string)
		w := add(sp, app)
		// A job whose answer was not a deprovisioning or a kept account
		// (outcomeFailed) is asked again.
		if job, _ := p.Details[progressProvisioned].(string); job != "" && p.Details[progressOutcome] != outcomeFailed {
			w.done[job] = true
		}
	}
	for _, a := range own {
		w := add(a.resourceID, a.app)
		w.assignments = append(w.assignments, a.id)
	}
	names := map[string]string{}
	var out []*appWork
	for _, w := range ws {
		if w.app == "" {
			if w.app, err = c.appName(ctx, w.resourceID, names); err != nil {
				return nil, err
			}
		}
		if w.resourceID != "" {
			if w.jobs, err = c.syncJobs(ctx, w.resourceID); err != nil {
				return nil, err
			}
		}
		if w.pending() {
			out = append(out, w)
		}
	}
	return out, nil
}

// syncJobs lists the ids of a service principal's provisioning jobs.
func (c *Conn) syncJobs(ctx context.Context, sp string) ([]string, error) {
	b := c.graph.ServicePrincipals().ByServicePrincipalId(sp).Synchronization().Jobs()
	var ids []string
	err := eachPage(ctx, "list the provisioning jobs of app "+sp, syncErrors,
		func(next string) (*collection[graphObject, *graphObject], error) {
			if next != "" {
				return sendPage[graphObject](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphObject](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphObject, *graphObject]) {
			for _, j := range p.value {
				if id := deref(j.id); id != "" {
					ids = append(ids, id)
				}
			}
		})
	return ids, err
}

// provisionOnDemand reads the job's rule for users of Entra ID and asks
// the job to provision the user now.
func (c *Conn) provisionOnDemand(ctx context.Context, w *appWork, job, user string) (provisionResult, error) {
	schema, err := send[graphSyncSchema](ctx, c, req(c.graph.ServicePrincipals().ByServicePrincipalId(w.resourceID).Synchronization().Jobs().
		BySynchronizationJobId(job).Schema().ToGetRequestInformation(ctx, nil)))
	if err != nil {
		return provisionResult{}, classify(ctx, "read the provisioning schema of app "+quote(w.app), err, syncErrors)
	}
	// The rule that provisions Entra ID's users into the app; the first
	// rule when none names its source so.
	rule := ""
	for _, r := range schema.synchronizationRules {
		src := strings.ToLower(deref(r.sourceDirectoryName))
		if id := deref(r.id); id != "" && (strings.Contains(src, "azure active directory") || strings.Contains(src, "entra")) {
			rule = id
			break
		} else if rule == "" {
			rule = id
		}
	}
	if rule == "" {
		return provisionResult{}, fmt.Errorf("entra: the provisioning job %s of app %s has no rule to provision users by", job, quote(w.app))
	}
	return c.provisionWithRule(ctx, w, job, rule, user)
}

// provisionWithRule posts provisionOnDemand for the user under rule and
// reads the answer: the key's result and error details, the value's
// action and scoping.
func (c *Conn) provisionWithRule(ctx context.Context, w *appWork, job, rule, user string) (provisionResult, error) {
	b := c.graph.ServicePrincipals().ByServicePrincipalId(w.resourceID).Synchronization().Jobs().
		BySynchronizationJobId(job).ProvisionOnDemand()
	ans, err := send[graphKeyValue](ctx, c, c.withBody(ctx, abs.POST, &b.BaseRequestBuilder, &provisionOnDemandBody{ruleID: rule, userID: user}))
	if err != nil {
		return provisionResult{}, classify(ctx, "provision "+user+" on demand in app "+quote(w.app), err, syncErrors)
	}
	r := provisionResult{app: w.app, resourceID: w.resourceID, job: job, rule: rule}
	if ans == nil {
		r.result = "no answer"
		return r, nil
	}
	var key struct {
		Result  string `json:"result"`
		Details struct {
			ErrorCode    string `json:"errorCode"`
			ErrorMessage string `json:"errorMessage"`
		} `json:"details"`
	}
	var value struct {
		Action string `json:"action"`
		Steps  []struct {
			Type    string         `json:"type"`
			Details map[string]any `json:"details"`
		} `json:"provisioningSteps"`
	}
	if err := json.Unmarshal([]byte(deref(ans.key)), &key); err != nil {
		r.result = "an unreadable result"
		return r, nil
	}
	_ = json.Unmarshal([]byte(deref(ans.value)), &value) // the action is a detail
	r.result, r.code, r.message, r.action = key.Result, key.Details.ErrorCode, key.Details.ErrorMessage, value.Action
	r.inScope = r.code != "NotEffectivelyEntitled"
	for _, s := range value.Steps {
		if strings.EqualFold(s.Type, "Scoping") {
			if v, ok := s.Details["IsEffectivelyEntitledForProvisioning"].(string); ok {
				r.inScope = strings.EqualFold(v, "True")
			}
		}
	}
	return r, nil
}
