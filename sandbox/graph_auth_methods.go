package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// A user's sign-in methods: listed, read and deleted under
// /users/{id}/authentication, with the rules that make deleting them an
// ordered job in Entra: the password is never deletable, the default
// method goes last, a mobile phone only after the alternate one, and a
// deletion takes a while to leave the listings.

var authMethodODataTypes = map[string]string{}

func init() {
	for _, t := range authMethodTypes {
		authMethodODataTypes[t] = "#microsoft.graph." + t + "AuthenticationMethod"
	}
}

// longAgo is the createdDateTime of a method the seed gives no date.
const longAgo = "2024-01-15T09:00:00Z"

// deletedMethod is a method deleted while its deletion has not yet
// reached every replica: listings still show it until gone.
type deletedMethod struct {
	AuthMethod
	gone time.Time
}

// authMethodJSON renders a method with the properties its type has in
// Graph's v1.0 metadata, and no other: a software OATH token or a
// Temporary Access Pass has no displayName.
func authMethodJSON(m AuthMethod) map[string]any {
	created := any(longAgo)
	if !m.Created.IsZero() {
		created = graphTime(m.Created)
	}
	j := map[string]any{"@odata.type": authMethodODataTypes[m.Type], "id": m.ID, "createdDateTime": created}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	switch m.Type {
	case "phone":
		j["phoneNumber"], j["phoneType"], j["smsSignInState"] = or(m.PhoneNumber, "+1 5555550100"), or(m.PhoneType, "mobile"), "notSupported"
	case "email":
		j["emailAddress"] = "someone@example.test"
	case "password":
		j["password"] = nil
	case "softwareOath":
		j["secretKey"] = nil // never returned
	case "temporaryAccessPass":
		j["startDateTime"], j["lifetimeInMinutes"] = created, 60
		j["isUsableOnce"], j["isUsable"], j["methodUsabilityReason"], j["temporaryAccessPass"] = false, true, "EnabledByPolicy", nil
	case "microsoftAuthenticator":
		j["displayName"], j["deviceTag"], j["phoneAppVersion"] = or(m.DisplayName, m.Type), or(m.DeviceTag, "SoftwareTokenActivated"), or(m.PhoneAppVersion, "6.2401.0119")
	case "fido2":
		j["displayName"], j["model"] = or(m.DisplayName, m.Type), or(m.Model, "YubiKey 5 NFC")
	default: // windowsHelloForBusiness
		j["displayName"] = or(m.DisplayName, m.Type)
	}
	return j
}

func listAuthMethods(c *call) *response {
	only := authMethodSegment(c.segs[3])
	return c.withUser(func(d *Directory, u *User) *response {
		out := []map[string]any{}
		for _, m := range u.listedMethods(c.now) {
			if only == "" || m.Type == only {
				out = append(out, authMethodJSON(m))
			}
		}
		set := "users('" + u.ID + "')/authentication/methods"
		props := authMethodProps
		if only != "" {
			set = "users('" + u.ID + "')/authentication/" + only + "Methods"
			typed := *authMethodProps
			typed.typeName = "microsoft.graph." + only + "AuthenticationMethod"
			props = &typed
		}
		return c.pageSelected(set, props, out)
	})
}

// listedMethods are the methods a listing shows at now: the user's, and
// those deleted too recently to have left every replica (forgotten once
// they have). Callers hold the lock.
func (u *User) listedMethods(now time.Time) []AuthMethod {
	out := append([]AuthMethod(nil), u.AuthMethods...)
	kept := u.DeletedMethods[:0]
	for _, m := range u.DeletedMethods {
		if now.Before(m.gone) {
			out = append(out, m.AuthMethod)
			kept = append(kept, m)
		}
	}
	u.DeletedMethods = kept
	return out
}

func (c *call) authMethod(u *User) int {
	t := authMethodSegment(c.segs[3])
	for i, m := range u.AuthMethods {
		if m.Type == t && strings.EqualFold(m.ID, c.segs[4]) {
			return i
		}
	}
	return -1
}

func getAuthMethod(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		i := c.authMethod(u)
		if i < 0 {
			return c.notFound(c.segs[4])
		}
		m := u.AuthMethods[i]
		j := authMethodJSON(m)
		j["@odata.context"] = metadata + "users('" + u.ID + "')/authentication/" + m.Type + "Methods/$entity"
		return jsonResp(http.StatusOK, j)
	})
}

// deleteAuthMethod deletes a method, refusing what Entra refuses (the
// password has no DELETE at all: the route answers 405). A method
// already deleted is 404 at once, even while listings still show it: a
// client must take 404 as done.
func deleteAuthMethod(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		i := c.authMethod(u)
		if i < 0 {
			return c.notFound(c.segs[4])
		}
		m := u.AuthMethods[i]
		for j, o := range u.AuthMethods {
			if j == i || o.Type == "password" {
				continue
			}
			if m.Default {
				// Graph's words (seen in microsoft-graph-docs-contrib#1888).
				return c.err(http.StatusBadRequest, "badRequest", fmt.Sprintf("The requested authentication method id of [%s] matches the user's current default authentication method, and cannot be deleted until the default authentication method is changed", m.ID))
			}
			if m.Type == "phone" && o.Type == "phone" && phoneType(m) == "mobile" && phoneType(o) == "alternateMobile" {
				return c.err(http.StatusBadRequest, "badRequest", "The mobile phone method cannot be deleted while an alternateMobile phone method exists; delete the alternateMobile method first.")
			}
		}
		u.AuthMethods = append(u.AuthMethods[:i:i], u.AuthMethods[i+1:]...)
		if d.DeletionDelay > 0 {
			u.DeletedMethods = append(u.DeletedMethods, deletedMethod{AuthMethod: m, gone: c.now.Add(d.DeletionDelay)})
		}
		r := noContent()
		r.detail = "delete " + m.Type + " method"
		return r
	})
}

func phoneType(m AuthMethod) string {
	if m.PhoneType == "" {
		return "mobile"
	}
	return m.PhoneType
}
