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
	"time"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// fakeMethods is a user's sign-in methods behind a fake Graph that
// refuses as Graph does: the default method while others remain, a
// mobile phone while an alternateMobile remains.
type fakeMethods struct {
	mu sync.Mutex
	// methods are JSON objects in listing order.
	methods []map[string]any
	// dflt is the default method's id.
	dflt string
	// lagging are ids still listed after their deletion, for as many
	// listings as the count says.
	lagging map[string]int
	// vanish is an id that disappears as its DELETE arrives: 404.
	vanish string
}

func (f *fakeMethods) handler(t *testing.T, user string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		prefix := "/v1.0/users/" + user + "/authentication/"
		if r.Method == http.MethodGet && r.URL.Path == prefix+"methods" {
			list := slices.Clone(f.methods)
			for id, n := range f.lagging {
				if n > 0 {
					list = append(list, map[string]any{"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": id, "emailAddress": "late@example.test"})
					f.lagging[id] = n - 1
				}
			}
			b, _ := json.Marshal(map[string]any{"value": list})
			writeJSON(w, 200, string(b))
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || r.Method != http.MethodDelete {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeJSON(w, 500, graphErrorBody("unexpected", "unexpected request"))
			return
		}
		coll, id, _ := strings.Cut(rest, "/")
		if id == f.vanish {
			f.methods = slices.DeleteFunc(f.methods, func(m map[string]any) bool { return m["id"] == id })
		}
		i := slices.IndexFunc(f.methods, func(m map[string]any) bool { return m["id"] == id })
		if i < 0 {
			writeJSON(w, 404, graphErrorBody("itemNotFound", "The requested resource was not found."))
			return
		}
		m := f.methods[i]
		typ := strings.TrimSuffix(strings.TrimPrefix(m["@odata.type"].(string), "#microsoft.graph."), "AuthenticationMethod")
		if coll != typ+"Methods" {
			writeJSON(w, 400, graphErrorBody("badRequest", "wrong collection "+coll))
			return
		}
		others := 0
		alternate := false
		for _, o := range f.methods {
			if o["@odata.type"] != "#microsoft.graph.passwordAuthenticationMethod" && o["id"] != id {
				others++
			}
			if o["phoneType"] == "alternateMobile" {
				alternate = true
			}
		}
		if id == f.dflt && others > 0 {
			writeJSON(w, 400, graphErrorBody("badRequest", "Cannot delete default method with other methods configured."))
			return
		}
		if m["phoneType"] == "mobile" && alternate {
			writeJSON(w, 400, graphErrorBody("badRequest", "Cannot delete mobile phone method while alternate mobile phone method exists."))
			return
		}
		f.methods = slices.Delete(f.methods, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	}
}

const methodsUser = "0f1e2d3c-0000-4000-8000-000000000001"

func seedMethods() *fakeMethods {
	return &fakeMethods{dflt: "auth-1", lagging: map[string]int{}, methods: []map[string]any{
		{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"},
		{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "auth-1",
			"displayName": "SM-A515F", "deviceTag": "SoftwareTokenActivated", "createdDateTime": "2026-11-30T09:12:00Z"},
		{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7",
			"phoneNumber": "+1 5555550100", "phoneType": "mobile"},
		{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "b6332ec1-7057-4abe-9331-3d72feddfe41",
			"phoneNumber": "+1 5555550199", "phoneType": "alternateMobile"},
		{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "fido-1",
			"displayName": "Badge key", "model": "YubiKey 5 NFC", "createdDateTime": "2025-02-01T08:00:00Z"},
		{"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": "oath-1", "secretKey": "JBSWY3DPEHPK3PXP"},
		{"@odata.type": "#microsoft.graph.qrCodePinAuthenticationMethod", "id": "qr/1"},
	}}
}

// deletes are the DELETE requests the fake Graph received, as "path".
func deletes(f *fakeGraph) []string {
	var out []string
	for _, r := range f.requests() {
		if r.Method == http.MethodDelete {
			out = append(out, strings.TrimPrefix(r.URI, "/v1.0/users/"+methodsUser+"/authentication/"))
		}
	}
	return out
}

func methodsCall(t *testing.T, fm *fakeMethods, keep []string) (*fakeGraph, *steps.Call, *[]steps.Progress) {
	t.Helper()
	f := newFakeGraph(t, fm.handler(t, methodsUser))
	c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermAuthMethods}})})
	call, progress := newCall(c, methodsUser, steps.Values{entraspec.ParamKeep: keep})
	return f, call, progress
}

func TestRemoveAuthMethodsCheckSaysWhatWouldGo(t *testing.T) {
	_, call, _ := methodsCall(t, seedMethods(), []string{"fido2"})
	ch, err := removeAuthMethodsStep{}.Check(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	want := "5 methods: Microsoft Authenticator (SM-A515F, added 2026-11-30), phone +1 5555550100 (mobile), " +
		"phone +1 5555550199 (alternateMobile), software OATH token, qrCodePin method qr/1; " +
		"keeping 1 method: FIDO2 key (Badge key YubiKey 5 NFC, added 2025-02-01)"
	if ch.Satisfied || ch.Summary != want {
		t.Errorf("Check: satisfied %v, %q\nwant %q", ch.Satisfied, ch.Summary, want)
	}
	if b, _ := json.Marshal(ch.Details); strings.Contains(string(b), "JBSWY3DPEHPK3PXP") {
		t.Errorf("the OATH secret reached the details: %s", b)
	}
}

// Every method but the password goes: mobile phones after the others, the
// default (refused while others remain) again at the end, one already gone
// counted as done; the kept type stays.
func TestRemoveAuthMethodsApplyOrdersAndRetriesTheDefault(t *testing.T) {
	fm := seedMethods()
	fm.methods = append(fm.methods, map[string]any{"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "gone-1", "emailAddress": "a@example.test"})
	fm.vanish = "gone-1" // deleted by someone else between the listing and its DELETE
	f, call, progress := methodsCall(t, fm, nil)
	ch, err := removeAuthMethodsStep{}.Apply(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	wantDeletes := []string{
		"microsoftAuthenticatorMethods/auth-1", // refused: the default
		"phoneMethods/b6332ec1-7057-4abe-9331-3d72feddfe41",
		"fido2Methods/fido-1",
		"softwareOathMethods/oath-1",
		"qrCodePinMethods/qr%2F1",                           // a type the SDK does not know, its id escaped
		"emailMethods/gone-1",                               // 404: already gone
		"phoneMethods/3179e48a-750b-4051-897c-87b9720928f7", // mobile, after the alternate
		"microsoftAuthenticatorMethods/auth-1",              // the default, last
	}
	if got := deletes(f); !reflect.DeepEqual(got, wantDeletes) {
		t.Errorf("DELETEs:\n got %q\nwant %q", got, wantDeletes)
	}
	var msgs []string
	for _, p := range *progress {
		msgs = append(msgs, p.Message+" "+p.Details[progressRemoved].(string))
	}
	wantMsgs := []string{
		"deleted phone +1 5555550199 (alternateMobile) b6332ec1-7057-4abe-9331-3d72feddfe41",
		"deleted FIDO2 key (Badge key YubiKey 5 NFC, added 2025-02-01) fido-1",
		"deleted software OATH token oath-1",
		"deleted qrCodePin method qr/1 qr/1",
		"email a@example.test was already gone gone-1",
		"deleted phone +1 5555550100 (mobile) 3179e48a-750b-4051-897c-87b9720928f7",
		"deleted Microsoft Authenticator (SM-A515F, added 2026-11-30) auth-1",
	}
	if !reflect.DeepEqual(msgs, wantMsgs) {
		t.Errorf("progress:\n got %q\nwant %q", msgs, wantMsgs)
	}
	if want := "deleted 7 methods: phone +1 5555550199 (alternateMobile), FIDO2 key (Badge key YubiKey 5 NFC, added 2025-02-01), " +
		"software OATH token, qrCodePin method qr/1, email a@example.test, …"; ch.Summary != want {
		t.Errorf("summary %q", ch.Summary)
	}
	if left := len(fm.methods); left != 1 {
		t.Errorf("%d methods left, want the password alone", left)
	}
	if err := (removeAuthMethodsStep{}).Verify(context.Background(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	ch, err = removeAuthMethodsStep{}.Check(context.Background(), call)
	if err != nil || !ch.Satisfied || ch.Summary != "no sign-in method but the password" {
		t.Errorf("Check after Apply: %+v %v", ch, err)
	}
}

// A method refused in every pass fails the step with Graph's refusal: the
// default method while a kept one remains.
func TestRemoveAuthMethodsApplyFailsOnARefusalThatStays(t *testing.T) {
	fm := &fakeMethods{dflt: "auth-1", lagging: map[string]int{}, methods: []map[string]any{
		{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "auth-1", "displayName": "Pixel 8"},
		{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "fido-1", "displayName": "Badge key"},
	}}
	f, call, _ := methodsCall(t, fm, []string{"fido2"})
	_, err := removeAuthMethodsStep{}.Apply(context.Background(), call)
	want := "entra: delete Microsoft Authenticator (Pixel 8) (auth-1) of " + methodsUser +
		": Graph 400 badRequest: Cannot delete default method with other methods configured." +
		" (refused while other methods remain: probably the default method, which cannot go while the kept ones stay;" +
		" make a kept method the default, or keep none)"
	if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
		t.Errorf("got %v (%v)\nwant %s", err, steps.ClassOf(err), want)
	}
	if got := deletes(f); !reflect.DeepEqual(got, []string{"microsoftAuthenticatorMethods/auth-1"}) {
		t.Errorf("DELETEs %q", got)
	}
}

// A retry or resume skips what earlier attempts journaled, even when a
// fresh listing still shows it.
func TestRemoveAuthMethodsApplySkipsWhatPriorAttemptsDeleted(t *testing.T) {
	fm := &fakeMethods{lagging: map[string]int{"mail-1": 5}}
	f, call, _ := methodsCall(t, fm, nil)
	call.Resumed = true
	call.Prior = []steps.Progress{{Message: "deleted email late@example.test", Details: map[string]any{progressRemoved: "mail-1"}}}
	if _, err := (removeAuthMethodsStep{}).Apply(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if got := deletes(f); len(got) != 0 {
		t.Errorf("DELETEs %q, want none", got)
	}
}

func TestRemoveAuthMethodsVerifyWaitsForTheListingToCatchUp(t *testing.T) {
	defer func(w []time.Duration) { verifyWaits = w }(verifyWaits)
	verifyWaits = []time.Duration{0, time.Millisecond, time.Millisecond}
	tests := []struct {
		name   string
		lagged int
		err    string
	}{
		{"gone on the third listing", 2, ""},
		{"still listed after the last", 3, "entra: still listed after the deletions: 1 sign-in method: email late@example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, call, _ := methodsCall(t, &fakeMethods{lagging: map[string]int{"mail-1": tt.lagged}}, nil)
			err := removeAuthMethodsStep{}.Verify(context.Background(), call)
			if tt.err == "" {
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.err || steps.ClassOf(err) != steps.Retryable {
				t.Errorf("Verify: %v (%v), want Retryable %q", err, steps.ClassOf(err), tt.err)
			}
		})
	}
}

func TestRemoveAuthMethodsRefusesAnUnknownKeep(t *testing.T) {
	f, call, _ := methodsCall(t, seedMethods(), []string{"fido"})
	_, err := removeAuthMethodsStep{}.Check(context.Background(), call)
	want := `entra: test: keep names "fido", not a sign-in method type (email, fido2, microsoftAuthenticator, phone, platformCredential, softwareOath, temporaryAccessPass, windowsHelloForBusiness)`
	if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
		t.Errorf("got %v, want %s", err, want)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests before refusing", n)
	}
}

// Windows Hello and platform credentials share their properties: each is
// named for what it is.
func TestDescribeMethodTellsWindowsHelloFromAPlatformCredential(t *testing.T) {
	created := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	method := func(odataType string) *graphAuthMethod {
		name, id := "MacBook", "m1"
		return &graphAuthMethod{odataType: &odataType, id: &id, displayName: &name, createdDateTime: &created}
	}
	for m, want := range map[*graphAuthMethod]string{
		method("#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"): "Windows Hello for Business (MacBook, added 2026-10-01)",
		method("#microsoft.graph.platformCredentialAuthenticationMethod"):      "platform credential (MacBook, added 2026-10-01)",
	} {
		got, err := describeMethod(m)
		if err != nil || got.name != want {
			t.Errorf("%s: %q %v, want %q", deref(m.odataType), got.name, err, want)
		}
	}
}
