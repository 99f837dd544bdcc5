package ad

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// identify is the ad backend's Identify: what an account's facts say about
// who the subject is. The SID is the anchor: Entra ID publishes it for a
// synced user as onPremisesSecurityIdentifier, and no two accounts share it.
func identify(f map[string]any) steps.Identity {
	str := func(k string) string { s, _ := f[k].(string); return s }
	ids := map[string]string{}
	put := func(kind, v string) {
		if v != "" {
			ids[kind] = v
		}
	}
	put(steps.IDSID, str(attrObjectSid))
	put(steps.IDGUID, str(attrObjectGUID))
	if raw, ok := parseGUID(str(attrObjectGUID)); ok {
		// Entra Connect's default sync anchor: objectGUID's bytes in base64.
		put(steps.IDImmutableID, base64.StdEncoding.EncodeToString(raw))
	}
	put(steps.IDUPN, str(attrUPN))
	put(steps.IDSAM, str(attrSAM))
	put(steps.IDDN, str(attrDN))
	if d := str(factNetBIOS); d != "" && str(attrSAM) != "" {
		put(steps.IDDomainUser, d+`\`+str(attrSAM))
	}
	id := steps.Identity{IDs: ids, Anchors: []string{steps.IDSID}}
	if n, _ := f[attrAdminCount].(int); n == 1 || f[attrAdminCount] == float64(1) {
		id.Privileged = append(id.Privileged, "its on-premises account has adminCount=1 (it is or was in a protected AD group)")
	}
	if f[factServiceAccount] == true {
		id.Privileged = append(id.Privileged, "it is the account revoke itself binds to AD as (bind_dn): disabling it stops every run and resume")
	}
	return id
}

// ResolveIDs finds the account another backend's record of the subject
// points at: by SID (onPremisesSecurityIdentifier), else by the sync anchor
// (onPremisesImmutableId, objectGUID in base64), else by distinguished name.
// A UPN alone does not link: an on-premises UPN may differ from the cloud
// one, and a match on it could be someone else.
func (c *Conn) ResolveIDs(ctx context.Context, ids map[string]string) (map[string]any, error) {
	var filter, what string
	switch {
	case ids[steps.IDSID] != "":
		sid, err := encodeSID(ids[steps.IDSID])
		if err != nil {
			return nil, err
		}
		filter, what = "(objectSid="+escapeBytes(sid)+")", "objectSid "+ids[steps.IDSID]
	case ids[steps.IDImmutableID] != "":
		raw, err := base64.StdEncoding.DecodeString(ids[steps.IDImmutableID])
		if err != nil || len(raw) != 16 {
			// A ms-DS-ConsistencyGuid anchor of another shape, or none:
			// nothing to search by.
			return nil, steps.Errorf(steps.NotFound, "immutable id %q is not an objectGUID", ids[steps.IDImmutableID])
		}
		filter, what = "(objectGUID="+escapeBytes(raw)+")", "sync anchor "+ids[steps.IDImmutableID]
	case ids[steps.IDDN] != "":
		return c.resolveDN(ctx, ids[steps.IDDN])
	default:
		return nil, steps.Errorf(steps.NotFound, "no identifier AD can search by")
	}
	a, err := c.search(ctx, what, userFilter(filter))
	if err != nil {
		return nil, err
	}
	return c.factsOf(ctx, a, false)
}

// userFilter restricts a filter to user accounts.
func userFilter(f string) string {
	return "(&(objectCategory=person)(objectClass=user)" + f + ")"
}

// netbios returns the domain's NetBIOS name: the section's netbios_domain,
// else the directory's own answer (the crossRef of the default naming
// context under CN=Partitions of the configuration), read once.
func (c *Conn) netbios(ctx context.Context) (string, error) {
	if c.cfg.netbios != "" {
		return c.cfg.netbios, nil
	}
	c.nbMu.Lock()
	defer c.nbMu.Unlock()
	if c.nbName != "" {
		return c.nbName, nil
	}
	root := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"configurationNamingContext", "defaultNamingContext"}, nil)
	var res *ldap.SearchResult
	err := c.do(ctx, true, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(root)
		return err
	})
	if err != nil || len(res.Entries) != 1 {
		return "", c.noNetBIOS(err)
	}
	config := res.Entries[0].GetAttributeValue("configurationNamingContext")
	nc := res.Entries[0].GetAttributeValue("defaultNamingContext")
	if config == "" || nc == "" {
		return "", c.noNetBIOS(nil)
	}
	req := ldap.NewSearchRequest("CN=Partitions,"+config, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=crossRef)(nCName="+ldap.EscapeFilter(nc)+"))", []string{"nETBIOSName"}, nil)
	err = c.do(ctx, true, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(req)
		return err
	})
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("nETBIOSName") == "" {
		return "", c.noNetBIOS(err)
	}
	c.nbName = res.Entries[0].GetAttributeValue("nETBIOSName")
	return c.nbName, nil
}

func (c *Conn) noNetBIOS(err error) error {
	if err != nil && steps.ClassOf(classify("", "", err)) == steps.Retryable {
		return classify("read the domain's NetBIOS name", "Read on CN=Partitions", err)
	}
	return steps.Errorf(steps.Invalid, `ad: cannot tell the NetBIOS name of %s from the directory, so a DOMAIN\user reference cannot be checked: set netbios_domain in the ad section, or use the UPN`, c.cfg.baseDN)
}

// decodeSID renders objectSid's binary form as S-1-5-21-….
func decodeSID(b []byte) (string, bool) {
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return "", false
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-1-%d", auth)
	for i := 0; i < int(b[1]); i++ {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return sb.String(), true
}

// encodeSID is decodeSID's inverse, for a search filter.
func encodeSID(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	bad := steps.Errorf(steps.Invalid, "%q is not a security identifier (S-1-5-21-…)", s)
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") || parts[1] != "1" || len(parts)-3 > 15 {
		return nil, bad
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return nil, bad
	}
	b := []byte{1, byte(len(parts) - 3), 0, 0, 0, 0, 0, 0}
	for i := 0; i < 6; i++ {
		b[7-i] = byte(auth >> (8 * i))
	}
	for _, p := range parts[3:] {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, bad
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	return b, nil
}

// formatGUID renders objectGUID's bytes in the string form (the first
// three groups little-endian), lower case.
func formatGUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:16])
}
