package entra

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// The default seed's leaver and her apps: Slack and Dropbox Business are
// provisioned (Slack disables a departed user's account, Dropbox deletes
// it), Contoso Expenses (legacy) takes no provisioning; she reaches
// Salesforce through the Sales group only.
const (
	miriamID   = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0c"
	slackSP    = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e05"
	dropboxSP  = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e06"
	expensesSP = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e07"
)

// leaverApps reads, from the tenant, miriam's assignment ids and the job
// ids of the provisioned apps, by service principal.
func leaverApps(t *testing.T, tn *sandbox.Tenant) (assignment, job map[string]string) {
	t.Helper()
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	assignment, job = map[string]string{}, map[string]string{}
	for _, a := range d.AppRoleAssignments {
		if a.PrincipalID == miriamID {
			assignment[a.ResourceID] = a.ID
		}
	}
	for _, j := range d.SyncJobs {
		job[j.ServicePrincipalID] = j.ID
	}
	if len(assignment) != 3 || len(job) != 2 {
		t.Fatalf("the seed's leaver: assignments %v, jobs %v", assignment, job)
	}
	return assignment, job
}

// account is the user's account in the provisioned app sp, nil for none.
func account(tn *sandbox.Tenant, sp, user string) *sandbox.ProvisionedAccount {
	for _, a := range tn.Directory().State().Apps {
		if a.ServicePrincipalID != sp {
			continue
		}
		for _, acct := range a.Accounts {
			if acct.UserID == user {
				return &acct
			}
		}
	}
	return nil
}

// Requests the step sends, by what they do.
func listAssignments() string { return "GET /v1.0/users/" + miriamID + "/appRoleAssignments 200" }
func listJobs(sp string) string {
	return "GET /v1.0/servicePrincipals/" + sp + "/synchronization/jobs 200"
}
func deleteAssignment(id string) string {
	return "DELETE /v1.0/users/" + miriamID + "/appRoleAssignments/" + id + " 204"
}
func readSchema(sp, job string) string {
	return "GET /v1.0/servicePrincipals/" + sp + "/synchronization/jobs/" + job + "/schema 200"
}

// sentBatch is the $batch that carried the requests logged before it.
const sentBatch = "POST /v1.0/$batch 200"

func provisionOnDemand(sp, job string, status int) string {
	return "POST /v1.0/servicePrincipals/" + sp + "/synchronization/jobs/" + job + "/provisionOnDemand " + map[int]string{200: "200", 429: "429"}[status]
}

const wantAppsApplied = `removed 3 app assignments: "Slack", "Dropbox Business", "Contoso Expenses (legacy)"; ` +
	`provisioned on demand: "Slack" disabled the account, "Dropbox Business" deleted the account; ` +
	`no provisioning, a person removes the account: "Contoso Expenses (legacy)"`

// The leaver's run through the real SDK: her assignments go together, in
// one $batch, and only then is each provisioned app asked to provision
// her on demand (the request log's order); Slack disables her account,
// Dropbox deletes it, the manual app is named for a person; Sales' group
// assignment stays. Verify reads the assignments and the apps again.
func TestSandboxRemoveAppAssignments(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	assignment, job := leaverApps(t, tn)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, miriamID, steps.Values{})
	ctx := context.Background()
	step := removeAppAssignments.New()

	ch, err := step.Check(ctx, call)
	want := `3 app assignments: "Slack" (provisioned), "Dropbox Business" (provisioned), "Contoso Expenses (legacy)" (no provisioning)`
	if err != nil || ch.Satisfied || ch.Summary != want {
		t.Fatalf("Check: %+v %v\nwant %q", ch, err, want)
	}
	tn.Log().Reset()
	ch, err = step.Apply(ctx, call)
	if err != nil || ch.Summary != wantAppsApplied {
		t.Fatalf("Apply: %q %v\nwant %q", ch.Summary, err, wantAppsApplied)
	}
	wantLog(t, tn,
		listAssignments(), listJobs(slackSP), listJobs(dropboxSP), listJobs(expensesSP),
		deleteAssignment(assignment[slackSP]), deleteAssignment(assignment[dropboxSP]), deleteAssignment(assignment[expensesSP]), sentBatch,
		readSchema(slackSP, job[slackSP]), provisionOnDemand(slackSP, job[slackSP], 200),
		readSchema(dropboxSP, job[dropboxSP]), provisionOnDemand(dropboxSP, job[dropboxSP], 200))
	var messages []string
	for _, p := range *progress {
		messages = append(messages, p.Message)
	}
	wantMessages := []string{`removed the assignment to app "Slack"`, `removed the assignment to app "Dropbox Business"`,
		`removed the assignment to app "Contoso Expenses (legacy)"`,
		`provisioned on demand: "Slack" disabled the account`, `provisioned on demand: "Dropbox Business" deleted the account`}
	if strings.Join(messages, "\n") != strings.Join(wantMessages, "\n") {
		t.Errorf("progress:\n got %s\nwant %s", strings.Join(messages, "\n     "), strings.Join(wantMessages, "\n     "))
	}
	if a := account(tn, slackSP, miriamID); a == nil || a.Active {
		t.Errorf("her Slack account: %+v, want disabled", a)
	}
	if a := account(tn, dropboxSP, miriamID); a != nil {
		t.Errorf("her Dropbox account: %+v, want none", a)
	}
	d := tn.Directory()
	d.Lock()
	var left []string
	for _, a := range d.AppRoleAssignments {
		left = append(left, a.PrincipalDisplayName+" → "+a.ResourceID)
	}
	d.Unlock()
	if got := strings.Join(left, ", "); got != "Lidia Holloway → 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04, Sales → 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04" {
		t.Errorf("assignments left: %s, want lidia's and the Sales group's", got)
	}

	// The engine hands Verify the progress Apply recorded.
	call.Prior = *progress
	tn.Log().Reset()
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	wantLog(t, tn, listAssignments(), provisionOnDemand(slackSP, job[slackSP], 200), provisionOnDemand(dropboxSP, job[dropboxSP], 200))
	ch, err = step.Check(ctx, call)
	if err != nil || !ch.Satisfied || ch.Summary != "no app assignment of the user's own" {
		t.Errorf("Check after: %+v %v", ch, err)
	}
}

// Verify fails, for the engine to read again, when an app still holds an
// active account after all: here the user is assigned again behind the
// step's back, as a stale replica could show.
func TestSandboxRemoveAppAssignmentsVerifyReadsTheApps(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, miriamID, steps.Values{})
	ctx := context.Background()
	step := removeAppAssignments.New()
	if _, err := step.Apply(ctx, call); err != nil {
		t.Fatal(err)
	}
	call.Prior = *progress
	// Give her Slack account back, active, and put her in Sales' reach of
	// Slack: the app keeps the account now.
	d := tn.Directory()
	d.Lock()
	d.Provisioned[slackSP][miriamID].Active = true
	for _, a := range d.AppRoleAssignments {
		if a.PrincipalType == "Group" {
			cp := *a
			cp.ID, cp.ResourceID = "regranted", slackSP
			d.AppRoleAssignments = append(d.AppRoleAssignments, &cp)
			break
		}
	}
	d.Unlock()
	err := step.(steps.Verifier).Verify(ctx, call)
	want := `entra: after provisioning on demand, "Slack" keeps the account: the user is still assigned (through a group)`
	if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Retryable {
		t.Errorf("Verify: %v (%v)\nwant %s (retryable)", err, steps.ClassOf(err), want)
	}
}

// A crash right after Slack was provisioned, before Dropbox was asked
// to: the resumed Check is not satisfied although she holds no assignment
// any more, and the resumed Apply deletes nothing twice and asks Dropbox
// (and only Dropbox) to provision her.
func TestSandboxRemoveAppAssignmentsResumesAfterACrash(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	_, job := leaverApps(t, tn)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, miriamID, steps.Values{})
	ctx, crash := context.WithCancel(context.Background())
	report := call.Progress
	call.Progress = func(m string, d map[string]any) {
		report(m, d)
		if len(*progress) == 4 {
			crash() // the process dies after the fourth journal line
		}
	}
	step := removeAppAssignments.New()
	if _, err := step.Apply(ctx, call); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply cut short: %v", err)
	}
	if a := account(tn, dropboxSP, miriamID); a == nil || !a.Active {
		t.Fatalf("Dropbox was asked before the crash: %+v", a)
	}

	ctx = context.Background()
	call, resumed := newCall(c, miriamID, steps.Values{})
	call.Prior, call.Resumed = *progress, true
	ch, err := step.Check(ctx, call)
	want := `provision on demand still to ask of "Dropbox Business"`
	if err != nil || ch.Satisfied || ch.Summary != want {
		t.Fatalf("resumed Check: %+v %v\nwant %q", ch, err, want)
	}
	tn.Log().Reset()
	ch, err = step.Apply(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	// Slack's jobs are read again: all were asked already, so nothing more.
	wantLog(t, tn, listAssignments(), listJobs(slackSP), listJobs(dropboxSP), listJobs(expensesSP),
		readSchema(dropboxSP, job[dropboxSP]), provisionOnDemand(dropboxSP, job[dropboxSP], 200))
	wantSummary := `provisioned on demand: "Dropbox Business" deleted the account`
	if ch.Summary != wantSummary {
		t.Errorf("resumed Apply: %q\nwant %q", ch.Summary, wantSummary)
	}
	if len(*resumed) != 1 {
		t.Errorf("resumed progress: %+v", *resumed)
	}
	if a := account(tn, dropboxSP, miriamID); a != nil {
		t.Errorf("her Dropbox account: %+v, want none", a)
	}
	call.Prior = append(call.Prior, *resumed...)
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// Graph's 5 per 10 s, here 1 per 2 s: Dropbox's provisioning is refused
// with 429; Apply ends with a Retryable error carrying Retry-After, and
// the retried Apply (after that wait, as the engine does) deletes nothing
// twice and provisions Dropbox.
func TestSandboxRemoveAppAssignmentsWaitsOutTheProvisioningRate(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	tn.SetProvisionLimit(1, 2*time.Second)
	assignment, job := leaverApps(t, tn)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, miriamID, steps.Values{})
	ctx := context.Background()
	step := removeAppAssignments.New()
	tn.Log().Reset()
	_, err := step.Apply(ctx, call)
	if steps.ClassOf(err) != steps.Retryable || steps.RetryAfterOf(err) != 2*time.Second {
		t.Fatalf("Apply: %v (%v, after %v), want Retryable after 2s", err, steps.ClassOf(err), steps.RetryAfterOf(err))
	}
	// Provisioning's own limit, not the directory write budget: a bulk
	// does not empty that budget for it.
	var bs interface{ BudgetScope() string }
	if !errors.As(err, &bs) || bs.BudgetScope() != "provisioning_on_demand" {
		t.Errorf("the 429 names no budget of its own: %#v", err)
	}
	wantLog(t, tn, listAssignments(), listJobs(slackSP), listJobs(dropboxSP), listJobs(expensesSP),
		deleteAssignment(assignment[slackSP]), deleteAssignment(assignment[dropboxSP]), deleteAssignment(assignment[expensesSP]), sentBatch,
		readSchema(slackSP, job[slackSP]), provisionOnDemand(slackSP, job[slackSP], 200),
		readSchema(dropboxSP, job[dropboxSP]), provisionOnDemand(dropboxSP, job[dropboxSP], 429))

	time.Sleep(steps.RetryAfterOf(err))
	call.Prior = *progress
	tn.Log().Reset()
	ch, err := step.Apply(ctx, call)
	if err != nil {
		t.Fatalf("Apply after the wait: %v", err)
	}
	wantLog(t, tn, listAssignments(), listJobs(slackSP), listJobs(dropboxSP), listJobs(expensesSP),
		readSchema(dropboxSP, job[dropboxSP]), provisionOnDemand(dropboxSP, job[dropboxSP], 200))
	if !strings.Contains(ch.Summary, `"Dropbox Business" deleted the account`) {
		t.Errorf("Apply after the wait: %q", ch.Summary)
	}
	if a := account(tn, dropboxSP, miriamID); a != nil {
		t.Errorf("her Dropbox account: %+v, want none", a)
	}
}

// Without Synchronization.ReadWrite.All nothing is deleted: the jobs are
// read first, and the 403 names the permission.
func TestSandboxRemoveAppAssignmentsNeedsSynchronization(t *testing.T) {
	seed := sandbox.DefaultSeed()
	for i := range seed.Apps {
		var kept []string
		for _, p := range seed.Apps[i].Permissions {
			if p != "Synchronization.ReadWrite.All" {
				kept = append(kept, p)
			}
		}
		seed.Apps[i].Permissions = kept
	}
	tn, err := sandbox.Start(context.Background(), seed, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	c := openSandbox(t, tn, appID, appSecret)
	call, _ := newCall(c, miriamID, steps.Values{})
	_, err = removeAppAssignments.New().Apply(context.Background(), call)
	if steps.ClassOf(err) != steps.Forbidden || steps.PermissionOf(err) != "Synchronization.ReadWrite.All" {
		t.Errorf("Apply: %v (%v, %q)", err, steps.ClassOf(err), steps.PermissionOf(err))
	}
	if n := len(tn.Directory().State().Apps); n != 2 {
		t.Fatalf("apps: %d", n)
	}
	if a := account(tn, slackSP, miriamID); a == nil || !a.Active {
		t.Errorf("her Slack account: %+v, want untouched", a)
	}
}

// Resolution publishes the apps a user holds directly; when they cannot
// be read (403 here) it goes on without the fact, which says nobody
// looked, rather than failing the run or publishing an empty list.
func TestResolveLeavesAppAssignmentsOutWhenUnread(t *testing.T) {
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/appRoleAssignments"):
			writeJSON(w, 403, `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}`)
		case strings.HasSuffix(r.URL.Path, "/roleEligibilityScheduleInstances"), strings.HasSuffix(r.URL.Path, "/microsoft.graph.directoryRole"):
			writeJSON(w, 200, `{"value":[]}`)
		default:
			writeJSON(w, 200, `{"id":"5f1c","userPrincipalName":"pat@contoso.test","displayName":"Pat","accountEnabled":true}`)
		}
	})
	c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{"User.Read.All"}})})
	facts, err := c.Resolve(context.Background(), "pat@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := facts[steps.FactAppAssignments]; ok {
		t.Errorf("app_assignments %#v published though unread", v)
	}
	if facts["id"] != "5f1c" {
		t.Errorf("facts %#v", facts)
	}
}

// The leaver's apps in the inventory, before and after the step: her own
// three (the provisioned ones until their next cycle, the manual one until
// someone acts), then only Salesforce, which she reaches through Sales
// and which the step leaves to the group.
func TestSandboxInventoryOfTheLeaversApps(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	apps := func() []string {
		t.Helper()
		items, err := c.Inventory(ctx, &steps.Subject{Ref: miriamID, Facts: map[string]map[string]any{"entra": {"id": miriamID}}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range items {
			if it.Kind == steps.ResidualAppAssignment {
				out = append(out, it.What+" | "+it.Until+" | "+it.Why)
			}
		}
		return out
	}
	want := []string{
		"assigned to app 'Contoso Expenses (legacy)' | " + untilSomeoneActs + " | ",
		"assigned to app 'Dropbox Business' | " + untilProvisioned + " | ",
		"assigned to app 'Salesforce' through group 'Sales' | until removed | through a group: removing the membership removes it",
		"assigned to app 'Slack' | " + untilProvisioned + " | ",
	}
	if got := apps(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("before:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	call, _ := newCall(c, miriamID, steps.Values{})
	if _, err := removeAppAssignments.New().Apply(ctx, call); err != nil {
		t.Fatal(err)
	}
	if got := apps(); strings.Join(got, "\n") != want[2] {
		t.Errorf("after:\n got %s\nwant %s", strings.Join(got, "\n     "), want[2])
	}
}

// An app whose provisioning answered neither a deprovisioning nor a kept
// account failed the step; a resumed run asks it again rather than count
// it done.
func TestSandboxRemoveAppAssignmentsAsksAFailedAppAgain(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	assignment, job := leaverApps(t, tn)
	c := openSandbox(t, tn, appID, appSecret)
	call, _ := newCall(c, miriamID, steps.Values{})
	ctx := context.Background()
	step := removeAppAssignments.New()
	if err := c.graph.Users().ByUserId(miriamID).AppRoleAssignments().ByAppRoleAssignmentId(assignment[slackSP]).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	call.Prior, call.Resumed = []steps.Progress{
		{Message: `removed the assignment to app "Slack"`, Details: map[string]any{progressRemoved: assignment[slackSP], progressResource: slackSP, progressApp: "Slack"}},
		{Message: `provisioned on demand: "Slack" answered Failure`, Details: map[string]any{progressProvisioned: job[slackSP], progressResource: slackSP,
			progressApp: "Slack", progressOutcome: outcomeFailed, "result": "Failure"}},
	}, true
	ch, err := step.Check(ctx, call)
	want := `2 app assignments: "Dropbox Business" (provisioned), "Contoso Expenses (legacy)" (no provisioning); provision on demand still to ask of "Slack"`
	if err != nil || ch.Satisfied || ch.Summary != want {
		t.Errorf("Check: %+v %v\nwant %q", ch, err, want)
	}
}
