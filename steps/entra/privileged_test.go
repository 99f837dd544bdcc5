package entra

import (
	"context"
	"reflect"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

func TestNeedForFollowsMicrosoftsTables(t *testing.T) {
	tests := []struct {
		name         string
		action       guardedAction
		held, caller []string
		want         roleNeed
		needs        bool
	}{
		{"a user without a role needs none", guardEnable, nil, nil, roleNeed{}, false},
		{"an unguarded change needs none", guardNone, []string{"Global Administrator"}, nil, roleNeed{}, false},
		{"a Global Administrator is disabled by a Privileged Authentication Administrator", guardEnable,
			[]string{"Global Administrator"}, []string{"User Administrator"},
			roleNeed{role: "Privileged Authentication Administrator", because: []string{"Global Administrator"}}, true},
		{"a role the tables do not list leaves the highest two", guardPassword,
			[]string{"Exchange Administrator"}, nil,
			roleNeed{role: "Privileged Authentication Administrator", because: []string{"Exchange Administrator"}}, true},
		{"a User Administrator acts on a Helpdesk Administrator", guardEnable,
			[]string{"Helpdesk Administrator"}, []string{"User Administrator"}, roleNeed{}, false},
		{"a Helpdesk Administrator resets another but may not disable them", guardEnable,
			[]string{"Helpdesk Administrator"}, []string{"Helpdesk Administrator"},
			roleNeed{role: "User Administrator", because: []string{"Helpdesk Administrator"}}, true},
		{"the least privileged role that covers every held role", guardPassword,
			[]string{"Helpdesk Administrator", "User Administrator"}, nil,
			roleNeed{role: "User Administrator", because: []string{"Helpdesk Administrator", "User Administrator"}}, true},
		{"only the roles the caller cannot act on are named", guardEnable,
			[]string{"User Administrator", "Security Administrator"}, []string{"User Administrator"},
			roleNeed{role: "Privileged Authentication Administrator", because: []string{"Security Administrator"}}, true},
		{"a Global Administrator acts on anyone", guardPassword,
			[]string{"Privileged Role Administrator", "Global Administrator"}, []string{"Global Administrator"}, roleNeed{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, needs := needFor(tt.action, tt.held, tt.caller)
			if needs != tt.needs || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("needFor = %+v, %v; want %+v, %v", got, needs, tt.want, tt.needs)
			}
		})
	}
}

func TestDecodeGrantsReadsWids(t *testing.T) {
	tests := []struct {
		name    string
		claims  map[string]any
		roles   []string
		hasWids bool
	}{
		{"the app's roles by template id; unknown ones ignored",
			map[string]any{"roles": []string{"User.Read.All"}, "wids": []string{"62E90394-69F5-4237-9190-012177145E10", "0997a1d0-0d1d-4acb-b408-d5ca73121e90"}},
			[]string{"Global Administrator"}, true},
		{"an empty claim", map[string]any{"wids": []string{}}, nil, true},
		{"no claim", map[string]any{"roles": []string{"User.Read.All"}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := decodeGrants(fakeToken(t, tt.claims))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.callerRoles(), tt.roles) || g.hasWids != tt.hasWids {
				t.Errorf("caller roles %q, hasWids %v", g.callerRoles(), g.hasWids)
			}
		})
	}
}

// heldBy is a subject as Resolve reports one: its object id and the
// directory roles it holds (privilegedRoles, a JSON list).
func heldBy(id string, roles ...string) *steps.Subject {
	held := []any{}
	for _, r := range roles {
		held = append(held, r)
	}
	return &steps.Subject{Ref: id, Facts: map[string]map[string]any{"entra": {"id": id, "privilegedRoles": held}}}
}

// The preflight foresees a refusal on a privileged subject from the
// token's wids and the subject's roles: the default seed's app holds User
// Administrator, which may act on a Helpdesk Administrator but not on a
// Global or Privileged Role Administrator.
func TestSandboxMissingGrantsNamesTheDirectoryRole(t *testing.T) {
	const johannaID = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e06" // Privileged Role Administrator
	tn := startTenant(t)
	app := openSandbox(t, tn, appID, appSecret)
	readonly := openSandbox(t, tn, readonlyID, readonlyKey)
	tests := []struct {
		name  string
		c     *Conn
		s     *steps.Subject
		spec  *steps.Spec
		perms []string
		roles []string
	}{
		{"a Global Administrator's disable needs Privileged Authentication Administrator", app, heldBy(glassID, "Global Administrator"), &entraspec.DisableUser,
			nil, []string{"Privileged Authentication Administrator (the target holds Global Administrator)"}},
		{"so does revoking their sessions", app, heldBy(glassID, "Global Administrator"), &entraspec.RevokeSessions,
			nil, []string{"Privileged Authentication Administrator (the target holds Global Administrator)"}},
		{"and a Privileged Role Administrator's password", app, heldBy(johannaID, "Privileged Role Administrator"), &entraspec.ResetPassword,
			nil, []string{"Privileged Authentication Administrator (the target holds Privileged Role Administrator)"}},
		{"a User Administrator may disable a Helpdesk Administrator", app, heldBy(nestorID, "Helpdesk Administrator"), &entraspec.DisableUser, nil, nil},
		{"a user without a role needs none", app, heldBy(meganID), &entraspec.DisableUser, nil, nil},
		{"a step Entra does not guard by roles", app, heldBy(glassID, "Global Administrator"), &entraspec.DisableDevices, nil, nil},
		{"a token without wids says so, beside the missing permission", readonly, heldBy(glassID, "Global Administrator"), &entraspec.DisableUser,
			[]string{"User.EnableDisableAccount.All"},
			[]string{"Privileged Authentication Administrator (the target holds Global Administrator; the token lists no directory roles)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			perms, roles, err := tt.c.MissingGrants(context.Background(), tt.spec, tt.s)
			if err != nil || !reflect.DeepEqual(perms, tt.perms) || !reflect.DeepEqual(roles, tt.roles) {
				t.Errorf("MissingGrants = %q, %q, %v; want %q, %q", perms, roles, err, tt.perms, tt.roles)
			}
		})
	}
}

// When the token holds the permission and Graph still refuses a change to
// a privileged user, the error names the directory role, as Forbidden; an
// app that lacks the permission is told the permission; an app holding
// the role makes the change.
func TestSandboxRefusalOnAPrivilegedUserNamesTheRole(t *testing.T) {
	seed := sandbox.DefaultSeed()
	const paaID, paaSecret = "33333333-3333-4333-8333-333333333333", "sandbox-only-secret-paa-9Zr4"
	seed.Apps = append(seed.Apps, sandbox.SeedApp{Name: "revoke-paa", ClientID: paaID, Secret: paaSecret,
		Permissions: seed.Apps[0].Permissions, DirectoryRoles: []string{"Privileged Authentication Administrator"}})
	tn, err := sandbox.Start(context.Background(), seed, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	app := openSandbox(t, tn, appID, appSecret)
	glass := heldBy(glassID, "Global Administrator")
	call := func(c *Conn) *steps.Call {
		return &steps.Call{StepID: "test", Subject: glass, With: steps.Values{entraspec.ParamTimes: 1, entraspec.ParamLength: 32}, Conn: c}
	}
	const refused = "Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the operation."
	const role = "the Entra role Privileged Authentication Administrator for the app's service principal: the target holds Global Administrator"
	tests := []struct {
		name, op string
		step     steps.Step
	}{
		{"disable", "disable user " + glassID, disableUser.New()},
		{"revoke sessions", "revoke sign-in sessions of " + glassID, revokeSessions.New()},
		{"reset password", "reset password of " + glassID + " (1 of 1)", resetPassword.New()},
	}
	for _, tt := range tests {
		t.Run(tt.name+" names the role", func(t *testing.T) {
			_, err := tt.step.Apply(context.Background(), call(app))
			want := "entra: " + tt.op + ": " + refused + " (needs " + role + ")"
			if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Forbidden || steps.PermissionOf(err) != role {
				t.Errorf("got  %v (%v, %q)\nwant %s", err, steps.ClassOf(err), steps.PermissionOf(err), want)
			}
		})
	}
	t.Run("an app without the permission is told the permission", func(t *testing.T) {
		_, err := disableUser.New().Apply(context.Background(), call(openSandbox(t, tn, readonlyID, readonlyKey)))
		want := "entra: disable user " + glassID + ": " + refused + " (needs User.EnableDisableAccount.All)"
		if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Forbidden {
			t.Errorf("got  %v\nwant %s", err, want)
		}
	})
	t.Run("an app holding the role disables the Global Administrator", func(t *testing.T) {
		paa := openSandbox(t, tn, paaID, paaSecret)
		if _, err := disableUser.New().Apply(context.Background(), call(paa)); err != nil {
			t.Fatal(err)
		}
		if perms, roles, err := paa.MissingGrants(context.Background(), &entraspec.DisableUser, glass); err != nil || perms != nil || roles != nil {
			t.Errorf("MissingGrants = %q, %q, %v", perms, roles, err)
		}
		if u := userState(t, tn, glassID); u.AccountEnabled {
			t.Error("still enabled")
		}
	})
}

// The permission half of the preflight, which the engine used to do: a
// broader permission covers a narrower one, and a delegated token is
// compared with the delegated permissions.
func TestMissingPermissions(t *testing.T) {
	tests := []struct {
		name string
		g    tokenGrants
		spec *steps.Spec
		want []string
	}{
		{"User.ReadWrite.All covers the disable and the read", tokenGrants{roles: []string{"User.ReadWrite.All"}}, &entraspec.DisableUser, nil},
		{"and the session revocation", tokenGrants{roles: []string{"User.ReadWrite.All"}}, &entraspec.RevokeSessions, nil},
		{"Directory.Read.All covers only the read", tokenGrants{roles: []string{"Directory.Read.All"}}, &entraspec.DisableUser, []string{"User.EnableDisableAccount.All"}},
		{"an app-only token with nothing", tokenGrants{}, &entraspec.RevokeSessions, []string{"User.RevokeSessions.All", "User.Read.All"}},
		{"a delegated token's scopes", tokenGrants{scopes: []string{"User.Read.All"}}, &entraspec.DisableUser, []string{"User.EnableDisableAccount.All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.missingPermissions(tt.spec); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("missing %q, want %q", got, tt.want)
			}
		})
	}
}
