package entraspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/revoke-dev/revoke/steps"
)

// Identify is the entra backend's Identify: a user's ids, the SID that
// links a synced user to their AD account (the anchor), where the record is
// mastered, and the roles that make the subject privileged.
func Identify(f map[string]any) steps.Identity {
	str := func(k string) string { s, _ := f[k].(string); return s }
	ids := map[string]string{}
	for kind, key := range map[string]string{
		steps.IDObjectID:    "id",
		steps.IDUPN:         "userPrincipalName",
		steps.IDSID:         "onPremisesSecurityIdentifier",
		steps.IDImmutableID: "onPremisesImmutableId",
		steps.IDSAM:         "onPremisesSamAccountName",
		steps.IDDN:          "onPremisesDistinguishedName",
	} {
		if v := str(key); v != "" {
			ids[kind] = v
		}
	}
	id := steps.Identity{IDs: ids, Anchors: []string{steps.IDSID}}
	if f["onPremisesSyncEnabled"] == true {
		// A synced user's sign-in block lasts only until the next sync
		// unless the AD account is disabled too.
		id.MasteredIn = "ad"
	}
	if r := names(f["privilegedRoles"]); r != "" {
		id.Privileged = append(id.Privileged, fmt.Sprintf("it holds privileged Entra roles (%s)", r))
	}
	if r := names(f["eligibleRoles"]); r != "" {
		// Someone who can activate an administrator role in a minute is an
		// administrator for this purpose.
		id.Privileged = append(id.Privileged, fmt.Sprintf("it may activate privileged Entra roles in Privileged Identity Management (%s)", r))
	}
	return id
}

// names joins a facts list of role names, sorted.
func names(v any) string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
