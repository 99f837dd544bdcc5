// Package ad is the Active Directory backend: steps that act on a subject's
// on-premises account over LDAP (LDAPS or StartTLS).
package ad

import (
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func init() { Register(steps.Default) }

// Register adds the ad backend and its steps to r.
func Register(r *steps.Registry) {
	r.RegisterBackend(Backend)
	for _, s := range Steps {
		r.Register(s)
	}
}

// Steps are the ad steps, in catalog order.
var Steps = []steps.Spec{disableAccount, resetPassword, removeGroupMemberships, annotate, moveToOU}

// Field names of the environment file's ad section.
const (
	fieldURL                = "url"
	fieldBaseDN             = "base_dn"
	fieldNetBIOS            = "netbios_domain"
	fieldBindDN             = "bind_dn"
	fieldBindPassword       = "bind_password"
	fieldStartTLS           = "start_tls"
	fieldLeaversOU          = "leavers_ou"
	fieldCAFile             = steps.FieldCAFile
	fieldInsecureSkipVerify = steps.FieldInsecureSkipVerify
	fieldTimeout            = steps.FieldTimeout
)

// kindRight is the one kind of permission ad steps need.
const kindRight = "right"

// Backend is the ad backend's spec.
var Backend = steps.BackendSpec{
	Name:    "ad",
	Summary: "On-premises Active Directory over LDAPS or LDAP with StartTLS",
	Kinds:   []string{"hybrid"},
	// Rights on directory objects, as AD's delegation wizard names them.
	PermissionKinds: []steps.PermissionKind{{Name: kindRight, Title: "AD rights"}},
	Fields: append([]steps.Param{
		{Name: fieldURL, Type: steps.String, Format: "url", Required: true, Identity: true,
			Description: "Domain controller: ldaps://host:636, or ldap://host:389 with start_tls.",
			Examples:    []any{"ldaps://dc01.contoso.com:636"}},
		{Name: fieldBaseDN, Type: steps.String, Required: true, Identity: true,
			Description: "Where subjects are searched (subtree).", Examples: []any{"DC=contoso,DC=com"}},
		{Name: fieldNetBIOS, Type: steps.String,
			Description: "The domain's NetBIOS name, which a DOMAIN\\user reference must name. Read from the directory (CN=Partitions) when absent.",
			Examples:    []any{"CONTOSO"}},
		{Name: fieldBindDN, Type: steps.String, Required: true,
			Description: "The service account revoke binds as."},
		{Name: fieldBindPassword, Type: steps.String, Secret: true, Required: true,
			Description: "The service account's password, by reference: bind_password_env or bind_password_file."},
		{Name: fieldStartTLS, Type: steps.Bool, Default: false,
			Description: "Upgrade an ldap:// connection with StartTLS before binding."},
		{Name: fieldLeaversOU, Type: steps.String,
			Description: "The OU leavers' accounts are moved into (ad.move_to_ou's ou, which the built-in leavers policy takes from here), under base_dn.",
			Examples:    []any{"OU=Leavers,DC=contoso,DC=com"}},
	}, steps.TLSFields("the domain controller", 10*time.Second, "Timeout of one LDAP operation, and of connecting (TCP, TLS, bind).")...),
	Validate: validate,
	Open:     open,
	Identify: identify,
}

func validate(s steps.Values) []string {
	var problems []string
	if u := s.String(fieldURL); u != "" && !s.Bool(fieldStartTLS) && !hasScheme(u, "ldaps") {
		problems = append(problems, "url "+u+" is not ldaps:// and start_tls is off: the bind password and password resets would cross the network in clear")
	}
	if ou := s.String(fieldLeaversOU); ou != "" {
		if _, err := underBase(ou, s.String(fieldBaseDN)); err != nil {
			problems = append(problems, fieldLeaversOU+": "+err.Error())
		}
	}
	return problems
}

func hasScheme(u, scheme string) bool {
	return len(u) > len(scheme)+3 && u[:len(scheme)+3] == scheme+"://"
}
