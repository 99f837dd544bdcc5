package entra

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// PIM's 400 RoleAssignmentDoesNotExist on adminRemove means the role is
// already gone (removed by a crashed attempt, or by someone else): done,
// journaled, not a failure. A group-held eligibility is only reported.
func TestRemoveRolesCountsAGoneEligibilityAsDone(t *testing.T) {
	const user = "0f1e2d3c-0000-4000-8000-000000000004"
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/roleEligibilityScheduleInstances"):
			writeJSON(w, 200, `{"value":[`+
				`{"id":"e1","principalId":"`+user+`","roleDefinitionId":"fe930be7-5e62-47db-91af-98c3a49a38b1","directoryScopeId":"/","memberType":"Direct","roleDefinition":{"id":"fe930be7-5e62-47db-91af-98c3a49a38b1","displayName":"User Administrator"}},`+
				`{"id":"e2","principalId":"`+user+`","roleDefinitionId":"729827e3-9c14-49f7-bb1b-9608f156bbb8","directoryScopeId":"/","memberType":"Group","roleDefinition":{"id":"729827e3-9c14-49f7-bb1b-9608f156bbb8","displayName":"Helpdesk Administrator"}}]}`)
		case r.Method == http.MethodGet:
			writeJSON(w, 200, `{"value":[]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests":
			writeJSON(w, 400, graphErrorBody("RoleAssignmentDoesNotExist", "The Role assignment does not exist."))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeJSON(w, 500, graphErrorBody("unexpected", "unexpected"))
		}
	})
	c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermRoles}})})
	call, progress := newCall(c, user, steps.Values{})
	ch, err := removeRolesStep{}.Apply(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	if len(*progress) != 1 || (*progress)[0].Message != "User Administrator (eligible in PIM) was already gone" ||
		(*progress)[0].Details[progressRemoved] != "eligible/fe930be7-5e62-47db-91af-98c3a49a38b1//" {
		t.Errorf("progress %+v", *progress)
	}
	want := "removed 1 directory role: User Administrator (eligible in PIM); held through a group, not removed (remove the user from the group): Helpdesk Administrator"
	if ch.Summary != want {
		t.Errorf("summary %q\nwant    %q", ch.Summary, want)
	}
}
