package ad

import (
	"context"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// The ad backend reads what a subject still holds for `revoke inventory`
// and the report after a run.
var _ steps.Inventorier = (*Conn)(nil)

// kerberosTickets is always listed: a disabled account gets no new
// tickets, but the domain controller does not recall those it issued.
var kerberosTickets = steps.Residual{Backend: "ad", Kind: steps.ResidualToken,
	What:  "Kerberos tickets already issued stay valid",
	Until: "until they expire (10 hours under the default domain policy)"}

// sessionsUnchecked is always listed: LDAP cannot see where the user is
// signed in, and saying nothing would read as "signed in nowhere".
var sessionsUnchecked = steps.Residual{Backend: "ad", Kind: steps.ResidualUnchecked,
	What:  "sessions open on domain computers and credentials cached on them for offline logon",
	Until: "sessions until signed out; cached credentials while the computer stays off the network",
	Why:   "cannot be read through LDAP: sign the user out of those computers, or take them back"}

// Inventory lists what the subject's AD account still holds, read afresh
// (one read-only search of the account): the account itself if still
// enabled, the Kerberos tickets already issued, each group in memberOf (the
// primary group, usually Domain Users, is not in memberOf and not listed),
// and what LDAP cannot see (open sessions, cached credentials). A subject
// not found in AD holds nothing here; failing to read the account is an
// error.
func (c *Conn) Inventory(ctx context.Context, subject *steps.Subject) ([]steps.Residual, error) {
	if !subject.Found("ad") {
		return nil, nil
	}
	// Where the account is now: ad.move_to_ou may have moved it since the
	// subject was resolved, so it is found again by objectGUID or SID.
	a, err := locate(ctx, c, &steps.Call{Conn: c, Subject: subject})
	if err != nil {
		return nil, err
	}
	var out []steps.Residual
	if !a.disabled() {
		out = append(out, steps.Residual{Backend: "ad", Kind: steps.ResidualAccount,
			What: "the account " + a.SAM + " is still enabled", Until: "until disabled", ID: a.DN})
	}
	out = append(out, kerberosTickets)
	for _, g := range a.MemberOf {
		out = append(out, steps.Residual{Backend: "ad", Kind: steps.ResidualGroup,
			What: "member of group '" + groupName(g) + "'", Until: "until removed", ID: g})
	}
	return append(out, sessionsUnchecked), nil
}

// groupName is the value of a group DN's first RDN (CN=Sales,OU=… →
// Sales), or the DN when it does not parse.
func groupName(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return dn
	}
	return d.RDNs[0].Attributes[0].Value
}
