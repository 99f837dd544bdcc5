package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// The default seed's provisioned apps and the leaver's assignments to them.
const (
	slackSP    = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e05" // deprovision: disable
	dropboxSP  = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e06" // deprovision: delete
	expensesSP = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e07" // no provisioning
)

// syncJob reads the one job of sp and its rule id over raw HTTP.
func syncJob(t *testing.T, tn *Tenant, tok, sp string) (jobID, ruleID string) {
	t.Helper()
	status, _, body := do(t, tn, tok, "GET", "/servicePrincipals/"+sp+"/synchronization/jobs", "")
	jobs, _ := body["value"].([]any)
	if status != 200 || len(jobs) != 1 {
		t.Fatalf("jobs of %s: %d %v", sp, status, body)
	}
	jobID = jobs[0].(map[string]any)["id"].(string)
	status, _, body = do(t, tn, tok, "GET", "/servicePrincipals/"+sp+"/synchronization/jobs/"+jobID+"/schema", "")
	rules, _ := body["synchronizationRules"].([]any)
	if status != 200 || len(rules) != 1 {
		t.Fatalf("schema of %s: %d %v", jobID, status, body)
	}
	return jobID, rules[0].(map[string]any)["id"].(string)
}

func provisionBody(ruleID, objectID, typ string) string {
	return `{"parameters":[{"ruleId":"` + ruleID + `","subjects":[{"objectId":"` + objectID + `","objectTypeName":"` + typ + `"}]}]}`
}

// provisionResult is what a provisionOnDemand answer says: the key's
// result and errorCode, the value's action.
type provisionResult struct{ result, code, action string }

func readProvisionAnswer(t *testing.T, key, value string) provisionResult {
	t.Helper()
	var k struct {
		Result  string `json:"result"`
		Details struct {
			ErrorCode string `json:"errorCode"`
		} `json:"details"`
	}
	var v struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal([]byte(key), &k); err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		t.Fatalf("value %q: %v", value, err)
	}
	return provisionResult{k.Result, k.Details.ErrorCode, v.Action}
}

// accountIn is miriam's account in the app sp, from the sandbox's state.
func accountIn(t *testing.T, tn *Tenant, sp, user string) *ProvisionedAccount {
	t.Helper()
	for _, a := range tn.Directory().State().Apps {
		if a.ServicePrincipalID != sp {
			continue
		}
		for _, acct := range a.Accounts {
			if acct.UserID == user {
				return &acct
			}
		}
		return nil
	}
	t.Fatalf("no provisioned app %s in the state", sp)
	return nil
}

// The leaver's life in the provisioned apps over raw HTTP: assigned, she
// holds an account and provision on demand changes nothing, even once she
// is disabled (unassign first); unassigned, Slack disables her account
// and Dropbox deletes it; asked again, nothing is left to do.
func TestProvisionOnDemandDeprovisionsOnlyOnceUnassigned(t *testing.T) {
	tn := startTenant(t, Options{})
	tn.SetProvisionLimit(10, 10*time.Second) // the test makes 6 calls
	tok := token(t, tn, revokeClientID, revokeSecret)
	if a := accountIn(t, tn, slackSP, miriamID); a == nil || !a.Active {
		t.Fatalf("miriam's Slack account at start: %+v", a)
	}
	if status, _, body := do(t, tn, tok, "GET", "/servicePrincipals/"+expensesSP+"/synchronization/jobs", ""); status != 200 || len(body["value"].([]any)) != 0 {
		t.Errorf("jobs of the manual app: %d %v", status, body)
	}
	provision := func(sp string) provisionResult {
		t.Helper()
		job, rule := syncJob(t, tn, tok, sp)
		status, _, body := do(t, tn, tok, "POST", "/servicePrincipals/"+sp+"/synchronization/jobs/"+job+"/provisionOnDemand", provisionBody(rule, miriamID, "User"))
		if status != 200 || body["@odata.context"] != metadata+"microsoft.graph.stringKeyStringValuePair" {
			t.Fatalf("provisionOnDemand %s: %d %v", sp, status, body)
		}
		return readProvisionAnswer(t, body["key"].(string), body["value"].(string))
	}
	unchanged := provisionResult{"Skipped", "RedundantExport", "Other"}
	if got := provision(slackSP); got != unchanged {
		t.Errorf("assigned: %+v, want %+v", got, unchanged)
	}
	if status, _, body := do(t, tn, tok, "PATCH", "/users/"+miriamID, `{"accountEnabled":false}`); status != 204 {
		t.Fatalf("disable: %d %v", status, body)
	}
	if got := provision(slackSP); got != unchanged {
		t.Errorf("disabled but assigned: %+v, want %+v", got, unchanged)
	}
	if a := accountIn(t, tn, slackSP, miriamID); a == nil || !a.Active {
		t.Errorf("disabled but assigned, the Slack account: %+v, want active", a)
	}

	ids := map[string]string{}
	for _, v := range listedAssignments(t, tn, tok, "/users/"+miriamID+"/appRoleAssignments") {
		ids[v["resourceId"].(string)] = v["id"].(string)
	}
	if status, _, body := do(t, tn, tok, "DELETE", "/servicePrincipals/"+slackSP+"/appRoleAssignedTo/"+ids[slackSP], ""); status != 204 {
		t.Fatalf("unassign Slack: %d %v", status, body)
	}
	if got, want := provision(slackSP), (provisionResult{"Success", "", "Disable"}); got != want {
		t.Errorf("unassigned from Slack: %+v, want %+v", got, want)
	}
	if a := accountIn(t, tn, slackSP, miriamID); a == nil || a.Active {
		t.Errorf("the Slack account after: %+v, want disabled", a)
	}
	if status, _, body := do(t, tn, tok, "DELETE", "/users/"+miriamID+"/appRoleAssignments/"+ids[dropboxSP], ""); status != 204 {
		t.Fatalf("unassign Dropbox: %d %v", status, body)
	}
	if got, want := provision(dropboxSP), (provisionResult{"Success", "", "Delete"}); got != want {
		t.Errorf("unassigned from Dropbox: %+v, want %+v", got, want)
	}
	if a := accountIn(t, tn, dropboxSP, miriamID); a != nil {
		t.Errorf("the Dropbox account after: %+v, want none", a)
	}
	gone := provisionResult{"Skipped", "NotEffectivelyEntitled", "Other"}
	for _, sp := range []string{slackSP, dropboxSP} {
		if got := provision(sp); got != gone {
			t.Errorf("%s again: %+v, want %+v", sp, got, gone)
		}
	}
	// Others keep theirs: adele was never assigned to Slack, so has none.
	if a := accountIn(t, tn, slackSP, adeleID); a != nil {
		t.Errorf("adele in Slack: %+v", a)
	}
}

// listedAssignments GETs app role assignments as JSON objects.
func listedAssignments(t *testing.T, tn *Tenant, tok, path string) []map[string]any {
	t.Helper()
	status, _, body := do(t, tn, tok, "GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, body)
	}
	var out []map[string]any
	for _, v := range body["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// Five calls in the window pass; the sixth is Graph's 429 with
// Retry-After; once the window has moved on, calls pass again. Another
// app has its own window.
func TestProvisionOnDemandIsRateLimited(t *testing.T) {
	tn := startTenant(t, Options{})
	tn.SetProvisionLimit(5, 2*time.Second)
	tok := token(t, tn, revokeClientID, revokeSecret)
	job, rule := syncJob(t, tn, tok, slackSP)
	path := "/servicePrincipals/" + slackSP + "/synchronization/jobs/" + job + "/provisionOnDemand"
	for i := range 5 {
		if status, _, body := do(t, tn, tok, "POST", path, provisionBody(rule, miriamID, "User")); status != 200 {
			t.Fatalf("call %d: %d %v", i+1, status, body)
		}
	}
	status, h, body := do(t, tn, tok, "POST", path, provisionBody(rule, miriamID, "User"))
	if status != 429 || errCode(body) != "TooManyRequests" || h.Get("Retry-After") != "2" {
		t.Fatalf("sixth call: %d Retry-After %q %v", status, h.Get("Retry-After"), body)
	}
	if inner, _ := body["error"].(map[string]any)["innerError"].(map[string]any); inner["request-id"] == "" || inner["date"] == "" {
		t.Errorf("429 body lacks Graph's innerError: %v", body)
	}
	time.Sleep(2 * time.Second)
	if status, _, body := do(t, tn, tok, "POST", path, provisionBody(rule, miriamID, "User")); status != 200 {
		t.Errorf("after the window: %d %v", status, body)
	}
	// Graph's own limit when none is set.
	tn.SetProvisionLimit(0, 0)
	d := tn.Directory()
	d.Lock()
	now := time.Now()
	var waits []time.Duration
	for range 6 {
		waits = append(waits, d.provisionWait("app", now))
	}
	d.Unlock()
	if waits[4] != 0 || waits[5] != 10*time.Second {
		t.Errorf("waits under Graph's limit: %v, want five 0s then 10s", waits)
	}
}

// What provisionOnDemand refuses, with Graph's statuses.
func TestProvisionOnDemandErrors(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	job, rule := syncJob(t, tn, tok, slackSP)
	path := "/servicePrincipals/" + slackSP + "/synchronization/jobs/" + job + "/provisionOnDemand"
	for _, tc := range []struct {
		name, path, body string
		status           int
		code, message    string
	}{
		{"another rule", path, provisionBody("0000", miriamID, "User"), 400, "BadRequest", "The rule '0000' is not a rule of the job's schema."},
		{"a group", path, provisionBody(rule, miriamID, "Group"), 400, "BadRequest", "The sandbox provisions users only, not 'Group'."},
		{"an unknown user", path, provisionBody(rule, "00000000-0000-0000-0000-000000000001", "User"), 400, "BadRequest",
			"The object '00000000-0000-0000-0000-000000000001' was not found in the source directory."},
		{"no subject", path, `{"parameters":[{"ruleId":"` + rule + `","subjects":[]}]}`, 400, "BadRequest", "The sandbox provisions one subject of one rule per request."},
		{"an unknown job", "/servicePrincipals/" + slackSP + "/synchronization/jobs/nojob/provisionOnDemand", provisionBody(rule, miriamID, "User"), 404, "Request_ResourceNotFound",
			"Resource 'nojob' does not exist or one of its queried reference-property objects are not present."},
		{"another app's job", "/servicePrincipals/" + dropboxSP + "/synchronization/jobs/" + job + "/provisionOnDemand", provisionBody(rule, miriamID, "User"), 404, "Request_ResourceNotFound",
			"Resource '" + job + "' does not exist or one of its queried reference-property objects are not present."},
		{"a GET", path, "", 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.body == "" {
				method = "GET"
			}
			status, _, body := do(t, tn, tok, method, tc.path, tc.body)
			if status != tc.status || errCode(body) != tc.code || errMessage(body) != tc.message {
				t.Errorf("%d %s %q, want %d %s %q", status, errCode(body), errMessage(body), tc.status, tc.code, tc.message)
			}
		})
	}
	// Without Synchronization.ReadWrite.All: 403.
	ro := token(t, tn, readonlyClientID, "sandbox-only-secret-readonly-4Kx8")
	if status, _, body := do(t, tn, ro, "POST", path, provisionBody(rule, miriamID, "User")); status != 403 || errCode(body) != "Authorization_RequestDenied" {
		t.Errorf("without the permission: %d %v", status, body)
	}
	if status, _, body := do(t, tn, ro, "GET", "/servicePrincipals/"+slackSP+"/synchronization/jobs", ""); status != 403 {
		t.Errorf("listing jobs without the permission: %d %v", status, body)
	}
}

// Object ids are GUIDs, matched whatever their case (the user lookup
// compared ids exactly, so an upper-case id was 404); an assignment id is
// base64url, where case matters, so it is matched exactly.
func TestAppRoleAssignmentDeleteIDCase(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	assignments := listedAssignments(t, tn, tok, "/users/"+strings.ToUpper(miriamID)+"/appRoleAssignments")
	if len(assignments) != 3 {
		t.Fatalf("miriam's assignments by an upper-case id: %v", assignments)
	}
	id := assignments[0]["id"].(string)
	swapped := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, id)
	if status, _, body := do(t, tn, tok, "DELETE", "/users/"+miriamID+"/appRoleAssignments/"+swapped, ""); status != 404 {
		t.Errorf("assignment id in another case: %d %v, want 404", status, body)
	}
	if status, _, body := do(t, tn, tok, "DELETE", "/users/"+strings.ToUpper(miriamID)+"/appRoleAssignments/"+id, ""); status != 204 {
		t.Errorf("user id in upper case: %d %v, want 204", status, body)
	}
	// The group's assignment is not the user's to delete, through either path.
	var salesOwn string
	for _, a := range listedAssignments(t, tn, tok, "/servicePrincipals/3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04/appRoleAssignedTo") {
		if a["principalType"] == "Group" {
			salesOwn = a["id"].(string)
		}
	}
	if status, _, _ := do(t, tn, tok, "DELETE", "/users/"+alexID+"/appRoleAssignments/"+salesOwn, ""); status != 404 {
		t.Errorf("a member deleting the group's assignment: %d, want 404", status)
	}
	if status, _, _ := do(t, tn, tok, "DELETE", "/servicePrincipals/"+slackSP+"/appRoleAssignedTo/"+salesOwn, ""); status != 404 {
		t.Errorf("another app's assignment through Slack: %d, want 404", status)
	}
}

// msgraph-sdk-go reads the jobs and the schema and provisions on demand
// with its own request and answer types.
func TestSDKProvisionsOnDemand(t *testing.T) {
	tn := startTenant(t, Options{})
	c := newGraphClient(t, tn, secretCredential(t, tn, revokeClientID, revokeSecret), false)
	ctx := context.Background()
	sp := c.ServicePrincipals().ByServicePrincipalId(slackSP)
	jobs, err := sp.Synchronization().Jobs().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.GetValue()) != 1 || *jobs.GetValue()[0].GetTemplateId() != "slack" ||
		*jobs.GetValue()[0].GetSchedule().GetState() != models.ACTIVE_SYNCHRONIZATIONSCHEDULESTATE ||
		*jobs.GetValue()[0].GetStatus().GetCode() != models.ACTIVE_SYNCHRONIZATIONSTATUSCODE {
		t.Fatalf("jobs: %+v", jobs.GetValue())
	}
	job := sp.Synchronization().Jobs().BySynchronizationJobId(*jobs.GetValue()[0].GetId())
	schema, err := job.Schema().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rules := schema.GetSynchronizationRules()
	if len(rules) != 1 || *rules[0].GetSourceDirectoryName() != "Azure Active Directory" {
		t.Fatalf("rules: %+v", rules)
	}
	if err := sp.AppRoleAssignedTo().ByAppRoleAssignmentId(firstAssignment(t, tn, slackSP)).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	subject := models.NewSynchronizationJobSubject()
	subject.SetObjectId(ptr(miriamID))
	subject.SetObjectTypeName(ptr("User"))
	params := models.NewSynchronizationJobApplicationParameters()
	params.SetRuleId(rules[0].GetId())
	params.SetSubjects([]models.SynchronizationJobSubjectable{subject})
	body := serviceprincipals.NewItemSynchronizationJobsItemProvisionOnDemandPostRequestBody()
	body.SetParameters([]models.SynchronizationJobApplicationParametersable{params})
	got, err := job.ProvisionOnDemand().Post(ctx, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := readProvisionAnswer(t, *got.GetKey(), *got.GetValue()); r != (provisionResult{"Success", "", "Disable"}) {
		t.Errorf("provisionOnDemand: %+v", r)
	}
}

// firstAssignment is the id of miriam's assignment to sp, read from the
// directory.
func firstAssignment(t *testing.T, tn *Tenant, sp string) string {
	t.Helper()
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	for _, a := range d.AppRoleAssignments {
		if a.ResourceID == sp && a.PrincipalID == miriamID {
			return a.ID
		}
	}
	t.Fatalf("miriam has no assignment to %s", sp)
	return ""
}

// The answers of the provisioning routes are Graph's types.
func TestProvisioningAnswersMatchTheMetadata(t *testing.T) {
	model := loadCSDL(t)
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	for _, sp := range []string{slackSP, dropboxSP} {
		base := "/servicePrincipals/" + sp
		_, body := mustGet(t, tn, tok, base+"/synchronization/jobs")
		model.check(body["value"], "Collection(microsoft.graph.synchronizationJob)", "jobs of "+sp, func(s string) { t.Error(s) })
		_, body = mustGet(t, tn, tok, base+"/synchronization/jobs?$select="+strings.Join(syncJobProps.names, ","))
		model.check(body["value"], "Collection(microsoft.graph.synchronizationJob)", "jobs of "+sp+" selected", func(s string) { t.Error(s) })
		_, body = mustGet(t, tn, tok, base+"/appRoleAssignedTo")
		model.check(body["value"], "Collection(microsoft.graph.appRoleAssignment)", "appRoleAssignedTo of "+sp, func(s string) { t.Error(s) })
		job, rule := syncJob(t, tn, tok, sp)
		_, body = mustGet(t, tn, tok, base+"/synchronization/jobs/"+job)
		model.check(body, "microsoft.graph.synchronizationJob", "job "+job, func(s string) { t.Error(s) })
		_, body = mustGet(t, tn, tok, base+"/synchronization/jobs/"+job+"/schema")
		model.check(body, "microsoft.graph.synchronizationSchema", "schema of "+job, func(s string) { t.Error(s) })
		status, _, body := do(t, tn, tok, "POST", base+"/synchronization/jobs/"+job+"/provisionOnDemand", provisionBody(rule, miriamID, "User"))
		if status != http.StatusOK {
			t.Fatalf("provisionOnDemand: %d %v", status, body)
		}
		model.check(body, "microsoft.graph.stringKeyStringValuePair", "provisionOnDemand", func(s string) { t.Error(s) })
	}
}

func mustGet(t *testing.T, tn *Tenant, tok, path string) (http.Header, map[string]any) {
	t.Helper()
	status, h, body := do(t, tn, tok, "GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, body)
	}
	if ctx, _ := body["@odata.context"].(string); !strings.HasPrefix(ctx, metadata) {
		t.Errorf("GET %s: @odata.context %q", path, ctx)
	}
	return h, body
}
