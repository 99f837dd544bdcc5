package ad

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// classify turns an LDAP error into a classified one, prefixed with what
// was being done ("disable CN=…"). permission names the AD right a
// Forbidden caller lacks. An error already classified (a lost connection,
// an unencrypted connection refused) keeps its class.
func classify(op, permission string, err error) error {
	if err == nil {
		return nil
	}
	var se *steps.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var le *ldap.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("%s: %w", op, err)
	}
	wrapped := fmt.Errorf("%s: %s", op, describe(le))
	switch le.ResultCode {
	case ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultServerDown, ldap.LDAPResultTimeout, ldap.LDAPResultConnectError,
		ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded:
		return steps.Classify(steps.Retryable, wrapped)
	case ldap.LDAPResultNoSuchObject:
		return steps.Classify(steps.NotFound, wrapped)
	case ldap.LDAPResultInsufficientAccessRights:
		return steps.ForbiddenNeeding(wrapped, permission)
	case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultStrongAuthRequired,
		ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultInvalidDNSyntax,
		ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultObjectClassViolation,
		ldap.LDAPResultNamingViolation, ldap.LDAPResultFilterError,
		ldap.LDAPResultUndefinedAttributeType:
		return steps.Classify(steps.Invalid, wrapped)
	}
	// 80 (other) and the rest: AD uses them for too many unrelated
	// conditions to promise that a retry helps.
	return steps.Classify(steps.Other, wrapped)
}

// describe renders an LDAP error as "no such object (LDAP 32): 0000208D: …",
// shorter than go-ldap's own text and with the server's diagnostic kept.
func describe(err error) string {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err.Error()
	}
	name, ok := ldap.LDAPResultCodeMap[le.ResultCode]
	if !ok {
		name = "result"
	}
	s := fmt.Sprintf("%s (LDAP %d)", strings.ToLower(name), le.ResultCode)
	if le.Err != nil {
		if diag := strings.TrimRight(strings.TrimSpace(le.Err.Error()), "\x00"); diag != "" {
			s += ": " + diag
		}
	}
	return s
}

var adDataRE = regexp.MustCompile(`data ([0-9a-fA-F]+)`)

// adBindReasons are the sub-codes AD (and Samba) put in a failed bind's
// diagnostic ("…AcceptSecurityContext error, data 533, v1db1").
var adBindReasons = map[string]string{
	"525": "no such user",
	"52e": "wrong password",
	"530": "logon not permitted at this time",
	"531": "logon not permitted from this workstation",
	"532": "password expired",
	"533": "account disabled",
	"701": "account expired",
	"773": "password must be changed",
	"775": "account locked out",
}

// adBindReason names the AD sub-code of a failed bind, or "".
func adBindReason(diag string) string {
	m := adDataRE.FindStringSubmatch(diag)
	if m == nil {
		return ""
	}
	code := strings.ToLower(m[1])
	if why, ok := adBindReasons[code]; ok {
		return "data " + code + ": " + why
	}
	return "data " + code
}

func trimX509(s string) string { return strings.TrimPrefix(s, "x509: ") }
