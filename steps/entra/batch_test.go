package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// Graph throttles each request inside a batch on its own. With a write
// quota of one, the leaver's two group removals go in one $batch and come
// back 204 and 429 inside its 200: Sales is journaled, the step fails
// Retryable with the item's Retry-After and throttle scope, and the
// retried Apply sends Marketing alone, nothing else.
func TestSandboxBatchRetriesOnlyTheThrottledItem(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	step := removeGroupMemberships.New()
	ctx := context.Background()
	tn.SetWriteQuota(sandbox.WriteQuota{Writes: 1, Window: 30 * time.Second})
	tn.Log().Reset()
	call, progress := newCall(c, leaverID, steps.Values{})
	ch, err := step.Apply(ctx, call)
	var ge *graphError
	if steps.ClassOf(err) != steps.Retryable || !errors.As(err, &ge) || ge.status != http.StatusTooManyRequests {
		t.Fatalf("Apply: %v (%v), want the 429 of Marketing's removal, Retryable", err, steps.ClassOf(err))
	}
	if after := steps.RetryAfterOf(err); after < 29*time.Second || after > 30*time.Second {
		t.Errorf("Retry-After %v, want the quota's 30s window", after)
	}
	if want := "Tenant_Application/Write/" + appID + "/" + tn.TenantID(); ge.ThrottleScope() != want {
		t.Errorf("throttle scope %q, want %q", ge.ThrottleScope(), want)
	}
	if !strings.HasPrefix(err.Error(), "entra: remove "+leaverID+" from group 'Marketing' ("+marketingGroup+"): Graph 429 ") {
		t.Errorf("error %q", err)
	}
	if want := "removed from 1 group: 'Sales'"; !strings.HasPrefix(ch.Summary, want) {
		t.Errorf("summary %q, want it to start %q", ch.Summary, want)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+leaverID+memberOfGroups+" 200",
		"DELETE /v1.0/groups/"+salesGroup+"/members/"+leaverID+"/$ref 204",
		"DELETE /v1.0/groups/"+marketingGroup+"/members/"+leaverID+"/$ref 429",
		sentBatch)
	if len(*progress) != 1 || (*progress)[0].Details[progressRemoved] != salesGroup {
		t.Fatalf("progress %+v, want Sales alone", *progress)
	}

	// The engine waits Retry-After, then calls Apply again with what was
	// journaled; the quota has room again.
	tn.SetWriteQuota(sandbox.WriteQuota{})
	tn.Log().Reset()
	retry, more := newCall(c, leaverID, steps.Values{})
	retry.Prior = *progress
	if _, err := step.Apply(ctx, retry); err != nil {
		t.Fatal(err)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+leaverID+memberOfGroups+" 200",
		"DELETE /v1.0/groups/"+marketingGroup+"/members/"+leaverID+"/$ref 204")
	if len(*more) != 1 || (*more)[0].Details[progressRemoved] != marketingGroup {
		t.Errorf("retried progress %+v, want Marketing alone", *more)
	}
	if g := groupsOf(tn, leaverID); !reflect.DeepEqual(g, []string{"Marketing (everyone)"}) {
		t.Errorf("her groups %q, want only the dynamic one", g)
	}
}

// sendAll cuts calls into batches of the shape's size, at most its
// in-flight count at once, a last lone call sent alone; before each batch
// it spends that batch's requests, less the one Apply was charged.
func TestSendAllShapes(t *testing.T) {
	tests := []struct {
		name             string
		calls            int
		shape            batchShape
		batches, singles int
		spent            []int // sorted
	}{
		{"45 directory deletions", 45, directoryBatches, 3, 0, []int{5, 19, 20}},
		{"9 mailbox deletions", 9, mailboxBatches, 2, 1, []int{1, 3, 4}},
		{"one", 1, directoryBatches, 0, 1, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			inFlight, most := 0, 0
			f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodDelete {
					t.Errorf("unexpected %s %s", r.Method, r.URL)
				}
				w.WriteHeader(http.StatusNoContent)
			})
			f.onBatch = func(enter bool) {
				mu.Lock()
				defer mu.Unlock()
				if enter {
					inFlight++
					most = max(most, inFlight)
				} else {
					inFlight--
				}
			}
			c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermConsents}})})
			ctx := context.Background()
			calls := make([]batchCall, tt.calls)
			for i := range calls {
				req, err := c.graph.Oauth2PermissionGrants().ByOAuth2PermissionGrantId(fmt.Sprintf("g%02d", i)).ToDeleteRequestInformation(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				calls[i] = batchCall{op: "delete g", req: req}
			}
			var spent []int
			errs := c.sendAll(ctx, calls, tt.shape, func(_ context.Context, n int) error {
				mu.Lock()
				spent = append(spent, n)
				mu.Unlock()
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
			}
			batches, singles := 0, 0
			for _, r := range f.requests() {
				switch {
				case r.Method == "POST" && r.URI == "/v1.0/$batch":
					batches++
				case r.Auth != "" && r.Method == "DELETE" && !r.Batched:
					singles++
				}
			}
			slices.Sort(spent)
			if batches != tt.batches || singles != tt.singles || !slices.Equal(spent, tt.spent) || most > tt.shape.inFlight {
				t.Errorf("%d batches, %d sent alone, spent %v, at most %d batches at once; want %d, %d, %v, at most %d",
					batches, singles, spent, most, tt.batches, tt.singles, tt.spent, tt.shape.inFlight)
			}
		})
	}
}

// A batch refused as a whole gives each of its requests that answer:
// throttled, each is Retryable after the batch's Retry-After, Graph's
// message kept; nothing is journaled.
func TestBatchRefusedAsAWhole(t *testing.T) {
	mb := seedMailbox()
	f := newFakeGraph(t, mb.handler(t))
	f.refuseBatch = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, http.StatusTooManyRequests, graphErrorBody("TooManyRequests", "Too many requests."))
	}
	c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermMailbox}})})
	call, progress := newCall(c, rulesUser, steps.Values{entraspec.ParamMatch: entraspec.MatchSuspicious})
	_, err := removeInboxRulesStep{}.Apply(context.Background(), call)
	want := `entra: delete inbox rule "invoices" (forwards to drop@evil.test; deletes mail) (r1) of ` + rulesUser +
		`: Graph 429 TooManyRequests: Too many requests.`
	if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Retryable || steps.RetryAfterOf(err) != 7*time.Second {
		t.Errorf("Apply: %v (%v after %v)\nwant %s (Retryable after 7s)", err, steps.ClassOf(err), steps.RetryAfterOf(err), want)
	}
	if len(*progress) != 0 || len(mb.rules) != 5 {
		t.Errorf("progress %+v, %d rules left; want none journaled, all 5 there", *progress, len(mb.rules))
	}
}

// An item's answer is classified as the same answer to a request sent
// alone would be; one whose outcome is not plain is Retryable, never done.
func TestItemError(t *testing.T) {
	odata := `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist."}}`
	tests := []struct {
		name  string
		item  *batchAnswer
		err   string
		class steps.Class
		after time.Duration
		scope string
	}{
		{name: "no content", item: &batchAnswer{status: 204}},
		{name: "created", item: &batchAnswer{status: 201, body: json.RawMessage(`{"id":"x"}`)}},
		{name: "not found", item: &batchAnswer{status: 404, headers: map[string]string{"Content-Type": "application/json"}, body: json.RawMessage(odata)},
			err: "entra: op: Graph 404 Request_ResourceNotFound: Resource 'x' does not exist.", class: steps.NotFound},
		{name: "throttled", item: &batchAnswer{status: 429, headers: map[string]string{"Retry-After": "3", "x-ms-throttle-scope": "Tenant_Application/Write/a/t"},
			body: json.RawMessage(`{"error":{"code":"TooManyRequests","message":"slow down"}}`)},
			err: "entra: op: Graph 429 TooManyRequests: slow down", class: steps.Retryable, after: 3 * time.Second, scope: "Tenant_Application/Write/a/t"},
		{name: "a body that is no OData error", item: &batchAnswer{status: 503, body: json.RawMessage(`{"oops":"1"}`)},
			err: "entra: op: Graph 503: Graph answered 503 Service Unavailable", class: steps.Retryable},
		{name: "a body that is base64", item: &batchAnswer{status: 400, body: json.RawMessage(`"aGVsbG8="`)},
			err: "entra: op: Graph 400: Graph answered 400 Bad Request", class: steps.Invalid},
		{name: "no body", item: &batchAnswer{status: 500},
			err: "entra: op: Graph 500: Graph answered 500 Internal Server Error", class: steps.Other},
		{name: "no answer for it", item: nil,
			err: "entra: op: the batch's answer from Graph has no response for it: whether it was done is unknown", class: steps.Retryable},
		{name: "a redirect", item: &batchAnswer{status: 302},
			err: "entra: op: graph answered 302 for it inside the batch: whether it was done is unknown", class: steps.Retryable},
		{name: "no status", item: &batchAnswer{status: 0},
			err: "entra: op: graph answered 0 for it inside the batch: whether it was done is unknown", class: steps.Retryable},
		{name: "a status past 599", item: &batchAnswer{status: 700},
			err: "entra: op: graph answered 700 for it inside the batch: whether it was done is unknown", class: steps.Retryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(context.Background(), "op", itemError(tt.item), errorContext{})
			if tt.err == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if err == nil || err.Error() != tt.err || steps.ClassOf(err) != tt.class || steps.RetryAfterOf(err) != tt.after {
				t.Fatalf("got %v (%v after %v)\nwant %s (%v after %v)", err, steps.ClassOf(err), steps.RetryAfterOf(err), tt.err, tt.class, tt.after)
			}
			var ge *graphError
			if errors.As(err, &ge) && ge.ThrottleScope() != tt.scope {
				t.Errorf("scope %q, want %q", ge.ThrottleScope(), tt.scope)
			}
		})
	}
}

// Odd batch answers are read, never a panic: each item is judged on its
// own, and only an answer that is no batch answer at all fails as a whole.
func TestDecodeBatch(t *testing.T) {
	tests := []struct {
		name, body string
		want       map[string]batchAnswer
		err        string
	}{
		{"items", `{"responses":[{"id":"1","status":204},{"id":"2","status":429,"headers":{"Retry-After":"3"},"body":{"error":{}}}]}`,
			map[string]batchAnswer{"1": {status: 204, headers: map[string]string{}}, "2": {status: 429, headers: map[string]string{"Retry-After": "3"}, body: json.RawMessage(`{"error":{}}`)}}, ""},
		{"headers that are not strings are left out", `{"responses":[{"id":"1","status":204,"headers":{"Retry-After":3,"x":null,"y":true,"z":"ok"}}]}`,
			map[string]batchAnswer{"1": {status: 204, headers: map[string]string{"z": "ok"}}}, ""},
		{"a status that is not a whole number is 0", `{"responses":[{"id":"1","status":"204"},{"id":"2","status":204.5},{"id":"3"}]}`,
			map[string]batchAnswer{"1": {headers: map[string]string{}}, "2": {headers: map[string]string{}}, "3": {headers: map[string]string{}}}, ""},
		{"an item without an id has no one to answer", `{"responses":[{"status":204},{"id":"2","status":204}]}`,
			map[string]batchAnswer{"2": {status: 204, headers: map[string]string{}}}, ""},
		{"no responses", `{}`, map[string]batchAnswer{}, ""},
		{"empty", ``, nil, "the answer is empty"},
		{"not JSON", `<html>`, nil, "not a batch answer: invalid character '<' looking for beginning of value"},
		{"responses of the wrong type", `{"responses":{"id":"1"}}`, nil, "not a batch answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBatch([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("got %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			flat := map[string]batchAnswer{}
			for k, v := range got {
				flat[k] = *v
			}
			if !reflect.DeepEqual(flat, tt.want) {
				t.Errorf("got %+v\nwant %+v", flat, tt.want)
			}
		})
	}
}

func TestGraver(t *testing.T) {
	forbidden := steps.Errorf(steps.Forbidden, "forbidden")
	soon := steps.RetryableAfter(errors.New("soon"), time.Second)
	later := steps.RetryableAfter(errors.New("later"), time.Minute)
	other := errors.New("other")
	tests := []struct {
		a, b, want error
	}{
		{nil, soon, soon},
		{soon, forbidden, forbidden},
		{forbidden, soon, forbidden},
		{soon, later, later},
		{later, soon, later},
		{soon, other, other},
		{forbidden, other, forbidden},
	}
	for _, tt := range tests {
		if got := graver(tt.a, tt.b); got != tt.want {
			t.Errorf("graver(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// A bulk run charges each Apply one request of its budget; a step that
// sends more writes spends the others (Call.Charge) before sending them,
// so the bulk is paced by the writes really made.
func TestSandboxApplySpendsItsOtherWrites(t *testing.T) {
	tests := []struct {
		name   string
		step   steps.Step
		id     string
		with   steps.Values
		writes int // the directory writes Apply sent
		spent  []int
	}{
		{"two group removals in one batch", removeGroupMemberships.New(), leaverID, steps.Values{}, 2, []int{1}},
		{"two password resets", resetPassword.New(), diegoID, steps.Values{entraspec.ParamTimes: 2, entraspec.ParamLength: 20}, 2, []int{1}},
		{"two devices", disableDevices.New(), alexID, steps.Values{entraspec.ParamManagedAction: entraspec.ManagedNone}, 2, []int{1}},
		{"two sign-in methods", removeAuthMethods.New(), lidiaID, steps.Values{entraspec.ParamKeep: []string{}}, 2, []int{1}},
		{"one password reset spends nothing more", resetPassword.New(), diegoID, steps.Values{entraspec.ParamTimes: 1, entraspec.ParamLength: 20}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := startCleanupTenant(t, 0)
			c := openSandbox(t, tn, appID, appSecret)
			call, _ := newCall(c, tt.id, tt.with)
			var spent []int
			call.Spend = func(_ context.Context, n int) error { spent = append(spent, n); return nil }
			tn.Log().Reset()
			if _, err := tt.step.Apply(context.Background(), call); err != nil {
				t.Fatal(err)
			}
			writes := 0
			for _, e := range tn.Log().Entries() {
				if e.Protocol == "graph" && strings.HasPrefix(e.Path, "/v1.0/") && e.Method != "GET" && e.Status < 300 && !strings.HasSuffix(e.Path, "/$batch") {
					writes++
				}
			}
			if writes != tt.writes || !reflect.DeepEqual(spent, tt.spent) {
				t.Errorf("%d writes, spent %v; want %d, %v", writes, spent, tt.writes, tt.spent)
			}
		})
	}
	// A bulk that cannot wait for the budget any longer stops the step
	// before it sends anything more.
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, leaverID, steps.Values{})
	call.Spend = func(ctx context.Context, n int) error {
		return steps.Errorf(steps.Retryable, "waiting for entra.remove_group_memberships's budget: %w", context.DeadlineExceeded)
	}
	tn.Log().Reset()
	if _, err := removeGroupMemberships.New().Apply(context.Background(), call); steps.ClassOf(err) != steps.Retryable {
		t.Errorf("Apply: %v, want the budget's Retryable error", err)
	}
	wantLog(t, tn, "GET /v1.0/users/"+leaverID+memberOfGroups+" 200")
	if len(*progress) != 0 {
		t.Errorf("progress %+v", *progress)
	}
}

// disableBatch is the log of disable_user's Apply on user id: its PATCH
// and, after it, the device listings for disable_devices, in one $batch.
func disableBatch(id string) []string {
	return []string{"PATCH /v1.0/users/" + id + " 204", "GET /v1.0/users/" + id + "/registeredDevices 200",
		"GET /v1.0/users/" + id + "/ownedDevices 200", sentBatch}
}

// disable_user lists the devices after the disable, in the same round
// trip, and disable_devices starts from that listing: its Check asks
// Graph nothing, its Apply disables both devices, its Verify lists again.
// The listing is taken once: a second Check lists afresh.
func TestSandboxDisableThenListDevices(t *testing.T) {
	tn, c, step, call, _ := alexDevices(t)
	ctx := context.Background()
	ucall, _ := newCall(c, alexID, steps.Values{})
	ucall.RunID, call.RunID = "run-a", "run-a"
	tn.Log().Reset()
	if _, err := disableUser.New().Apply(ctx, ucall); err != nil {
		t.Fatal(err)
	}
	wantLog(t, tn, disableBatch(alexID)...)
	tn.Log().Reset()
	ch, err := step.Check(ctx, call)
	if err != nil || ch.Summary != "2 devices: ALEX-LAPTOP, Alex's iPhone" {
		t.Fatalf("Check: %+v %v", ch, err)
	}
	wantLog(t, tn) // from the listing made after the disable
	if _, err := step.Apply(ctx, call); err != nil {
		t.Fatal(err)
	}
	tn.Log().Reset()
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Fatal(err)
	}
	lists := []string{"GET /v1.0/users/" + alexID + "/registeredDevices 200", "GET /v1.0/users/" + alexID + "/ownedDevices 200"}
	wantLogAnyOrder(t, tn, lists...)
	tn.Log().Reset()
	if _, err := disableDevices.New().Check(ctx, call); err != nil {
		t.Fatal(err)
	}
	wantLogAnyOrder(t, tn, lists...)

	// Another run for the same user never takes this run's listing.
	if _, err := disableUser.New().Apply(ctx, ucall); err != nil {
		t.Fatal(err)
	}
	other, _ := newCall(c, alexID, steps.Values{entraspec.ParamManagedAction: entraspec.ManagedNone})
	other.RunID = "run-b"
	tn.Log().Reset()
	if _, err := disableDevices.New().Check(ctx, other); err != nil {
		t.Fatal(err)
	}
	wantLogAnyOrder(t, tn, lists...)
	if _, ok := c.takeListing("run-a", alexID); !ok {
		t.Error("run-a's listing was taken by another run")
	}

	// A disable Graph refuses keeps no listing: the dependent reads are
	// not run, and the Check lists itself.
	if err := tn.SetFaults(sandbox.FaultRule{Path: "/v1.0/users/" + alexID, Method: "PATCH", Status: 429, RetryAfter: time.Second}); err != nil {
		t.Fatal(err)
	}
	defer tn.SetFaults()
	if _, err := disableUser.New().Apply(ctx, ucall); steps.ClassOf(err) != steps.Retryable {
		t.Fatalf("Apply under a 429: %v", err)
	}
	if _, ok := c.takeListing(ucall.RunID, alexID); ok {
		t.Error("a listing was kept although the disable was refused")
	}
}
