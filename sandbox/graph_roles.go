package sandbox

import "sort"

// directoryRoles maps the built-in Entra role names the sandbox knows to
// their role template ids (the same in every tenant).
var directoryRoles = map[string]string{
	"Global Administrator":                    "62e90394-69f5-4237-9190-012177145e10",
	"Privileged Role Administrator":           "e8611ab8-c189-46e8-94e1-60213ab1f814",
	"Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
	"User Administrator":                      "fe930be7-5e62-47db-91af-98c3a49a38b1",
	"Helpdesk Administrator":                  "729827e3-9c14-49f7-bb1b-9608f156bbb8",
	"Authentication Administrator":            "c4e39bd9-1100-46d3-8c65-fb160da0071f",
	"Security Administrator":                  "194ae4cb-b126-40b2-bd5b-6091b380977d",
	"Cloud Device Administrator":              "7698a772-787b-4ac8-901f-60d6b08affd2",
	"Intune Administrator":                    "3a2c62db-5318-420d-8d74-23affee5d9d5",
	"Exchange Administrator":                  "29232cdf-9323-42fd-ade2-1d097af3e4de",
	"Global Reader":                           "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
}

// privilegedRoles are the roles whose holders only a Privileged
// Authentication Administrator or Global Administrator may disable or
// reset: an app with User Administrator gets 403 on them, as in Entra.
var privilegedRoles = map[string]bool{
	"Global Administrator":                    true,
	"Privileged Role Administrator":           true,
	"Privileged Authentication Administrator": true,
	"Security Administrator":                  true,
	"Intune Administrator":                    true,
	"Exchange Administrator":                  true,
	"User Administrator":                      true,
	"Authentication Administrator":            true,
	"Helpdesk Administrator":                  true,
	"Cloud Device Administrator":              true,
}

func roleTemplateID(name string) string { return directoryRoles[name] }

func knownRoleNames() []string {
	out := make([]string, 0, len(directoryRoles))
	for n := range directoryRoles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// hasAnyRole reports whether roles holds one of want.
func hasAnyRole(roles []string, want ...string) bool {
	for _, r := range roles {
		for _, w := range want {
			if r == w {
				return true
			}
		}
	}
	return false
}
