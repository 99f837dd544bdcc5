package sandbox

import (
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// apiRoles decodes an app's api_roles: a mapping from an API (its client
// id or one of its identifier URIs) to the app roles granted on it.
func (d *seedDecoder) apiRoles(n *yaml.Node) map[string][]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "api_roles must be a mapping from an API's client id or identifier URI to its app roles")
		return nil
	}
	out := map[string][]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := strings.ToLower(d.str(n.Content[i]))
		if _, dup := out[k]; dup {
			d.errorf(n.Content[i], "api_roles: %q given twice", n.Content[i].Value)
		}
		out[k] = d.strs(n.Content[i+1])
	}
	return out
}

// seedAPI finds the app an api_roles key names: by client id or
// identifier URI, among the apps that define app roles.
func seedAPI(apps []SeedApp, ref string) *SeedApp {
	for i, a := range apps {
		if len(a.AppRoles) == 0 {
			continue
		}
		if strings.EqualFold(a.ClientID, ref) || slices.ContainsFunc(a.IdentifierURIs, func(u string) bool { return strings.EqualFold(u, ref) }) {
			return &apps[i]
		}
	}
	return nil
}

// checkAPIs checks that every api_roles key names an API of the seed and
// every role is one it defines, and that no two apps share an identifier
// URI (Entra refuses that too: the URI picks the token's audience).
func (d *seedDecoder) checkAPIs(s *Seed) {
	uris := map[string]string{}
	for i, a := range s.Apps {
		n := d.appNodes[i]
		for _, u := range a.IdentifierURIs {
			if other, dup := uris[strings.ToLower(u)]; dup {
				d.errorf(n, "app %q: identifier URI %q is already app %q's", a.ClientID, u, other)
			}
			uris[strings.ToLower(u)] = a.ClientID
		}
		d.checkAPIRoles(s, n, "app", a.ClientID, a.APIRoles)
	}
	for i, m := range s.ManagedIdentities {
		d.checkAPIRoles(s, d.identityNodes[i], "managed identity", m.ClientID, m.APIRoles)
	}
}

// checkAPIRoles checks one caller's api_roles against the seed's APIs.
func (d *seedDecoder) checkAPIRoles(s *Seed, n *yaml.Node, kind, clientID string, roles map[string][]string) {
	for _, ref := range slices.Sorted(maps.Keys(roles)) {
		api := seedAPI(s.Apps, ref)
		if api == nil {
			d.errorf(n, "%s %q: api_roles names %q, which is no app's client id or identifier URI with app_roles", kind, clientID, ref)
			continue
		}
		for _, r := range roles[ref] {
			if !slices.Contains(api.AppRoles, r) {
				d.errorf(n, "%s %q: api %q defines no app role %q (it has %s)", kind, clientID, ref, r, strings.Join(api.AppRoles, ", "))
			}
		}
	}
}

// resolveAPIRoles keys an app's api_roles by the API's client id, as the
// token endpoint looks them up.
func resolveAPIRoles(apps []SeedApp, byRef map[string][]string) map[string][]string {
	if len(byRef) == 0 {
		return nil
	}
	out := map[string][]string{}
	for ref, roles := range byRef {
		if api := seedAPI(apps, ref); api != nil {
			out[api.ClientID] = append(out[api.ClientID], roles...)
		}
	}
	return out
}
