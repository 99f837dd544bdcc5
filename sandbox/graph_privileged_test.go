package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// privilegedSeed has cloud-only users holding roles (one through a
// role-assignable group) and one app per role an app may hold, each with
// every permission the guarded writes need.
const privilegedSeed = `tenant: {id: 0f0e0d0c-0b0a-4908-8706-050403020101}
apps:
  - {name: none, client_id: 00000000-0000-4000-a000-000000000001, secret: s3cret-for-tests-only, permissions: [` + privilegedPerms + `]}
  - {name: ua, client_id: 00000000-0000-4000-a000-000000000002, secret: s3cret-for-tests-only, permissions: [` + privilegedPerms + `], directory_roles: [User Administrator]}
  - {name: helpdesk, client_id: 00000000-0000-4000-a000-000000000003, secret: s3cret-for-tests-only, permissions: [` + privilegedPerms + `], directory_roles: [Helpdesk Administrator]}
  - {name: paa, client_id: 00000000-0000-4000-a000-000000000004, secret: s3cret-for-tests-only, permissions: [` + privilegedPerms + `], directory_roles: [Privileged Authentication Administrator]}
  - {name: ga, client_id: 00000000-0000-4000-a000-000000000005, secret: s3cret-for-tests-only, permissions: [` + privilegedPerms + `], directory_roles: [Global Administrator, User Administrator]}
users:
  - {userPrincipalName: plain@priv.test}
  - {userPrincipalName: ga@priv.test}
  - {userPrincipalName: pra@priv.test}
  - {userPrincipalName: helpdesk@priv.test}
  - {userPrincipalName: useradmin@priv.test}
  - {userPrincipalName: mixed@priv.test}
  - {userPrincipalName: grouped@priv.test}
groups:
  - {displayName: Tier0, role_assignable: true, members: [grouped@priv.test]}
role_assignments:
  - {user: ga@priv.test, roles: [Global Administrator]}
  - {user: pra@priv.test, roles: [Privileged Role Administrator]}
  - {user: helpdesk@priv.test, roles: [Helpdesk Administrator]}
  - {user: useradmin@priv.test, roles: [User Administrator]}
  - {user: mixed@priv.test, roles: [Helpdesk Administrator, Exchange Administrator]}
  - {group: Tier0, roles: [Global Administrator]}
`

const privilegedPerms = "User.Read.All, User.EnableDisableAccount.All, User-PasswordProfile.ReadWrite.All, User.RevokeSessions.All"

// Graph refuses to disable, reset or sign out a user holding a directory
// role unless the app's service principal holds a role that may act on
// every role the user holds (Microsoft's "who can reset passwords" and
// "who can perform sensitive actions" tables); a user with no role needs
// the permission alone (and, for a reset, a password-admin role).
func TestPrivilegedTargetsNeedARoleThatOutranksThem(t *testing.T) {
	seed, err := ParseSeed("priv.yaml", []byte(privilegedSeed))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	tokens := map[string]string{}
	for _, a := range seed.Apps {
		tokens[a.Name] = token(t, tn, a.ClientID, a.Secret)
	}
	type write struct{ method, suffix, body string }
	disable := write{"PATCH", "", `{"accountEnabled":false}`}
	reset := write{"PATCH", "", `{"passwordProfile":{"password":"Xy7!kdl20-aZ93&qq"}}`}
	revoke := write{"POST", "/revokeSignInSessions", ""}
	for _, tc := range []struct {
		name, app, target string
		w                 write
		want              int
	}{
		{"an app without a role disables a user without one", "none", "plain", disable, 204},
		{"an app without a role cannot disable a Helpdesk Administrator", "none", "helpdesk", disable, 403},
		{"an app without a role revokes a plain user's sessions", "none", "plain", revoke, 200},
		{"a User Administrator disables a Helpdesk Administrator", "ua", "helpdesk", disable, 204},
		{"a User Administrator disables another User Administrator", "ua", "useradmin", disable, 204},
		{"a User Administrator cannot disable a Global Administrator", "ua", "ga", disable, 403},
		{"a User Administrator cannot reset a Global Administrator", "ua", "ga", reset, 403},
		{"a User Administrator cannot revoke a Global Administrator's sessions", "ua", "ga", revoke, 403},
		{"a User Administrator cannot disable a Privileged Role Administrator", "ua", "pra", disable, 403},
		{"a role held through a group guards its member", "ua", "grouped", disable, 403},
		{"every role held must be outranked", "ua", "mixed", disable, 403},
		{"a Helpdesk Administrator resets another", "helpdesk", "helpdesk", reset, 204},
		{"a Helpdesk Administrator cannot disable another (no sensitive actions)", "helpdesk", "helpdesk", disable, 403},
		{"a Helpdesk Administrator cannot reset a User Administrator", "helpdesk", "useradmin", reset, 403},
		{"a Privileged Authentication Administrator disables a Global Administrator", "paa", "ga", disable, 204},
		{"a Privileged Authentication Administrator resets a Global Administrator", "paa", "ga", reset, 204},
		{"a Privileged Authentication Administrator revokes a group-held Global Administrator", "paa", "grouped", revoke, 200},
		{"a Global Administrator acts on anyone", "ga", "mixed", disable, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := do(t, tn, tokens[tc.app], tc.w.method, "/users/"+tc.target+"@priv.test"+tc.w.suffix, tc.w.body)
			if status != tc.want {
				t.Fatalf("%d %v, want %d", status, body, tc.want)
			}
			if status == 403 && (errCode(body) != "Authorization_RequestDenied" || errMessage(body) != "Insufficient privileges to complete the operation.") {
				t.Errorf("refusal %v", body)
			}
		})
	}
	// A refusal changed nothing.
	if u := userState(t, tn, "pra@priv.test"); u.Entra == nil || !u.Entra.AccountEnabled {
		t.Errorf("pra was disabled: %+v", u)
	}
}

// An app's access token lists its service principal's directory roles as
// role template ids in wids, as Entra's do; an app without roles has none.
func TestTokensCarryTheAppsRolesAsWids(t *testing.T) {
	seed, err := ParseSeed("priv.yaml", []byte(privilegedSeed))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	for _, tc := range []struct {
		client string
		want   []string
	}{
		{"00000000-0000-4000-a000-000000000005", []string{"62e90394-69f5-4237-9190-012177145e10", "fe930be7-5e62-47db-91af-98c3a49a38b1"}},
		{"00000000-0000-4000-a000-000000000004", []string{"7be44c8a-adaf-4e2a-84d6-ab2649e08a13"}},
		{"00000000-0000-4000-a000-000000000001", nil},
	} {
		claims := tokenClaims(t, token(t, tn, tc.client, "s3cret-for-tests-only"))
		var got []string
		if w, ok := claims["wids"]; ok {
			for _, v := range w.([]any) {
				got = append(got, fmt.Sprint(v))
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: wids %v, want %v", tc.client, got, tc.want)
		}
	}
}

// tokenClaims decodes a JWT's payload without verifying it.
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
