package entra

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

const rulesUser = "0f1e2d3c-0000-4000-8000-000000000002"

// fakeMailbox serves a user's inbox rules and mail folders.
type fakeMailbox struct {
	mu      sync.Mutex
	rules   []map[string]any
	folders map[string]string // id → displayName
	// vanish empties the inbox's rules as a DELETE arrives: someone else
	// deleted them first.
	vanish bool
	// none is a user without a mailbox Graph can reach.
	none bool
}

func (f *fakeMailbox) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		rulesPath := "/v1.0/users/" + rulesUser + "/mailFolders/inbox/messageRules"
		switch {
		case f.none:
			writeJSON(w, 404, graphErrorBody("MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise."))
		case r.Method == http.MethodGet && r.URL.Path == rulesPath:
			b, _ := json.Marshal(map[string]any{"value": f.rules})
			writeJSON(w, 200, string(b))
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, rulesPath+"/"):
			id := strings.TrimPrefix(r.URL.Path, rulesPath+"/")
			if f.vanish {
				f.rules = nil
			}
			i := slices.IndexFunc(f.rules, func(m map[string]any) bool { return m["id"] == id })
			if i < 0 {
				writeJSON(w, 404, graphErrorBody("ErrorItemNotFound", "The specified object was not found in the store."))
				return
			}
			f.rules = slices.Delete(f.rules, i, i+1)
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1.0/users/"+rulesUser+"/mailFolders/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1.0/users/"+rulesUser+"/mailFolders/")
			name, ok := f.folders[id]
			if !ok {
				writeJSON(w, 404, graphErrorBody("ErrorItemNotFound", "The specified object was not found in the store."))
				return
			}
			b, _ := json.Marshal(map[string]any{"id": id, "displayName": name})
			writeJSON(w, 200, string(b))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeJSON(w, 500, graphErrorBody("unexpected", "unexpected request"))
		}
	}
}

func seedMailbox() *fakeMailbox {
	to := func(a string) []map[string]any {
		return []map[string]any{{"emailAddress": map[string]any{"name": a, "address": a}}}
	}
	return &fakeMailbox{
		folders: map[string]string{"AAMkRSS=": "RSS Feeds", "AAMkProj=": "Projects"},
		rules: []map[string]any{
			{"id": "r1", "displayName": "invoices", "sequence": 1, "isEnabled": true,
				"conditions": map[string]any{"subjectContains": []string{"invoice", "payment"}},
				"actions":    map[string]any{"forwardTo": to("drop@evil.test"), "delete": true}},
			{"id": "r2", "displayName": "projects", "sequence": 2, "isEnabled": true,
				"conditions": map[string]any{"fromAddresses": to("pm@contoso.test")},
				"actions":    map[string]any{"moveToFolder": "AAMkProj="}},
			{"id": "r3", "displayName": ".", "sequence": 3, "isEnabled": true,
				"conditions": map[string]any{"bodyOrSubjectContains": []string{"wire"}},
				"actions":    map[string]any{"moveToFolder": "AAMkRSS=", "markAsRead": true}},
			{"id": "r4", "displayName": "boss", "sequence": 4, "isEnabled": true,
				"actions": map[string]any{"redirectTo": to("x@evil.test"), "forwardAsAttachmentTo": to("y@evil.test")}},
			{"id": "r5", "displayName": "old folder", "sequence": 5, "isEnabled": true,
				"actions": map[string]any{"moveToFolder": "AAMkGone="}},
		},
	}
}

func rulesCall(t *testing.T, mb *fakeMailbox, match string) (*fakeGraph, *steps.Call, *[]steps.Progress) {
	t.Helper()
	f := newFakeGraph(t, mb.handler(t))
	c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermMailbox}})})
	call, progress := newCall(c, rulesUser, steps.Values{entraspec.ParamMatch: match})
	return f, call, progress
}

func requestLines(f *fakeGraph) []string {
	var out []string
	for _, r := range f.requests() {
		out = append(out, r.Method+" "+strings.TrimPrefix(r.URI, "/v1.0/users/"+rulesUser))
	}
	return out
}

func TestRemoveInboxRulesCheck(t *testing.T) {
	tests := []struct {
		match, summary string
	}{
		{entraspec.MatchSuspicious, `3 inbox rules: rule "invoices" (forwards to drop@evil.test; deletes mail), ` +
			`rule "." (moves mail to RSS Feeds), ` +
			`rule "boss" (forwards as attachment to y@evil.test; redirects to x@evil.test); 2 other rules left alone`},
		{entraspec.MatchAll, `5 inbox rules: rule "invoices" (forwards to drop@evil.test; deletes mail), rule "projects", ` +
			`rule "." (moves mail to RSS Feeds), ` +
			`rule "boss" (forwards as attachment to y@evil.test; redirects to x@evil.test), rule "old folder"`},
	}
	for _, tt := range tests {
		t.Run(tt.match, func(t *testing.T) {
			f, call, _ := rulesCall(t, seedMailbox(), tt.match)
			ch, err := removeInboxRulesStep{}.Check(context.Background(), call)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Satisfied || ch.Summary != tt.summary {
				t.Errorf("summary %q\nwant    %q", ch.Summary, tt.summary)
			}
			// Each folder is read once, by id, escaped.
			want := []string{"GET /mailFolders/inbox/messageRules", "GET /mailFolders/AAMkProj%3D?$select=id,displayName",
				"GET /mailFolders/AAMkRSS%3D?$select=id,displayName", "GET /mailFolders/AAMkGone%3D?$select=id,displayName"}
			if got := requestLines(f); !reflect.DeepEqual(got, want) {
				t.Errorf("requests:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// The details say where the mail went, rule by rule.
func TestRemoveInboxRulesApplyJournalsWhereTheMailWent(t *testing.T) {
	mb := seedMailbox()
	f, call, progress := rulesCall(t, mb, entraspec.MatchSuspicious)
	// An earlier attempt deleted r1, which a fresh listing still shows.
	call.Prior = []steps.Progress{{Message: "deleted inbox rule \"invoices\"", Details: map[string]any{progressRemoved: "r1"}}}
	mb.rules = slices.DeleteFunc(mb.rules, func(m map[string]any) bool { return m["id"] == "r1" })
	mb.rules = append(mb.rules, map[string]any{"id": "r1", "displayName": "invoices",
		"actions": map[string]any{"delete": true}}) // still listed after its deletion
	ch, err := removeInboxRulesStep{}.Apply(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	var dels []string
	for _, l := range requestLines(f) {
		if strings.HasPrefix(l, "DELETE") {
			dels = append(dels, l)
		}
	}
	if want := []string{"DELETE /mailFolders/inbox/messageRules/r3", "DELETE /mailFolders/inbox/messageRules/r4"}; !reflect.DeepEqual(dels, want) {
		t.Errorf("DELETEs %q, want %q", dels, want)
	}
	if len(*progress) != 2 || (*progress)[0].Message != `deleted inbox rule "." (moves mail to RSS Feeds)` {
		t.Fatalf("progress %+v", *progress)
	}
	b, _ := json.Marshal(ch.Details)
	want := `{"match":"suspicious","rules":[` +
		`{"actions":{"markAsRead":true,"moveToFolder":{"displayName":"RSS Feeds","id":"AAMkRSS="}},"conditions":{"bodyOrSubjectContains":["wire"]},"id":"r3","name":"."},` +
		`{"actions":{"forwardAsAttachmentTo":["y@evil.test"],"redirectTo":["x@evil.test"]},"conditions":{},"id":"r4","name":"boss"}]}`
	if string(b) != want {
		t.Errorf("details\n got %s\nwant %s", b, want)
	}
	if ch.Summary != `deleted 2 inbox rules: rule "." (moves mail to RSS Feeds), rule "boss" (forwards as attachment to y@evil.test; redirects to x@evil.test); 2 other rules left alone` {
		t.Errorf("summary %q", ch.Summary)
	}
}

func TestRemoveInboxRulesApplyCountsAGoneRuleAsDone(t *testing.T) {
	mb := &fakeMailbox{rules: []map[string]any{{"id": "r9", "displayName": "fw", "actions": map[string]any{"delete": true}}}}
	mb.vanish = true // gone between the listing and the DELETE
	_, call, progress := rulesCall(t, mb, entraspec.MatchSuspicious)
	if _, err := (removeInboxRulesStep{}).Apply(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if len(*progress) != 1 || (*progress)[0].Message != `inbox rule "fw" (deletes mail) was already gone` {
		t.Errorf("progress %+v", *progress)
	}
	if err := (removeInboxRulesStep{}).Verify(context.Background(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestRemoveInboxRulesNothingToDo(t *testing.T) {
	mb := &fakeMailbox{rules: []map[string]any{{"id": "r1", "displayName": "newsletters",
		"conditions": map[string]any{"senderContains": []string{"news"}}, "actions": map[string]any{"markAsRead": true}}}}
	_, call, _ := rulesCall(t, mb, entraspec.MatchSuspicious)
	ch, err := removeInboxRulesStep{}.Check(context.Background(), call)
	if err != nil || !ch.Satisfied || ch.Summary != "no suspicious inbox rule; 1 other rule left alone" {
		t.Errorf("Check: %+v %v", ch, err)
	}
}

// A user without a mailbox Graph reaches has nothing to delete, and the
// change says nothing was checked.
func TestRemoveInboxRulesWithoutAMailbox(t *testing.T) {
	_, call, _ := rulesCall(t, &fakeMailbox{none: true}, entraspec.MatchSuspicious)
	want := "no Exchange Online mailbox Graph can reach (inactive, soft-deleted or hosted on-premises): " +
		"no inbox rule checked; check a mailbox hosted on-premises in Exchange"
	ch, err := removeInboxRulesStep{}.Check(context.Background(), call)
	// Nothing to do, and nothing known: unchecked, never "already done".
	if err != nil || !ch.Satisfied || !ch.Unchecked || ch.Summary != want || ch.Details["mailbox"] != false {
		t.Errorf("Check: %+v %v", ch, err)
	}
	ch, err = removeInboxRulesStep{}.Apply(context.Background(), call)
	if err != nil || ch.Summary != want {
		t.Errorf("Apply: %+v %v", ch, err)
	}
	if err := (removeInboxRulesStep{}).Verify(context.Background(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
