#!/bin/sh
# ldap-tools-test.sh: drive an AD-like LDAP server with OpenLDAP's own
# clients (ldap-utils), the way an administrator would, to show that the
# sandbox speaks LDAP to more than go-ldap.
#
# Over StartTLS (-ZZ: fail unless TLS is established), verified against
# CA_FILE, bound as BIND_DN, it finds USER's DN by sAMAccountName, disables
# the account (userAccountControl 512 -> 514) and searches again to show 514.
#
# Environment (all required):
#   LDAP_URL  ldap://127.0.0.1:PORT
#   CA_FILE   PEM file of the CA that signed the server's certificate
#   BIND_DN   DN to bind as (needs write access to the user)
#   BIND_PW   its password (read from the environment, never echoed), or
#   BIND_PW_FILE  a file holding exactly the password, no trailing newline
#             (what `revoke sandbox --write-env DIR` writes as
#             DIR/ad-bind-password), passed to the tools with -y as it is
#   BASE_DN   search base, e.g. DC=contoso,DC=test
#   USER      sAMAccountName of the account to disable
#
# Exits non-zero on any failure.
set -eu

for v in LDAP_URL CA_FILE BIND_DN BASE_DN USER; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "ldap-tools-test: $v is not set" >&2
		exit 2
	fi
done
for tool in ldapsearch ldapmodify; do
	command -v "$tool" >/dev/null 2>&1 || { echo "ldap-tools-test: $tool not found (apt-get install ldap-utils)" >&2; exit 2; }
done
# USER goes into a filter: refuse the characters that would change it.
case "$USER" in
	*[\(\)\*\\]*) echo "ldap-tools-test: USER must be a plain sAMAccountName" >&2; exit 2 ;;
esac

# Trust exactly this CA; verify the server certificate (the default, made explicit).
LDAPTLS_CACERT=$CA_FILE
LDAPTLS_REQCERT=demand
export LDAPTLS_CACERT LDAPTLS_REQCERT
# The password goes through a file only this process can read, not argv:
# BIND_PW_FILE as given (ldapsearch -y sends every byte of it, so a
# trailing newline would be part of the password), else one made here.
umask 077
if [ -n "${BIND_PW_FILE:-}" ]; then
	pwfile=$BIND_PW_FILE
elif [ -n "${BIND_PW:-}" ]; then
	pwfile=$(mktemp)
	trap 'rm -f "$pwfile"' EXIT INT TERM
	printf '%s' "$BIND_PW" > "$pwfile"
else
	echo "ldap-tools-test: set BIND_PW or BIND_PW_FILE" >&2
	exit 2
fi

search() { # search ATTRIBUTE...: the user's entry as LDIF, unwrapped
	ldapsearch -LLL -o ldif-wrap=no -x -ZZ -H "$LDAP_URL" -D "$BIND_DN" -y "$pwfile" \
		-b "$BASE_DN" -s sub "(&(objectCategory=person)(objectClass=user)(sAMAccountName=$USER))" "$@"
}

before=$(search userAccountControl)
# The DN line as LDIF has it ("dn: …", or "dn:: base64" for non-ASCII),
# reused verbatim in the change below.
dnline=$(printf '%s\n' "$before" | grep '^dn::\{0,1\} ' || true)
dn=${dnline#dn*: }
uac=$(printf '%s\n' "$before" | sed -n 's/^userAccountControl: //p')
if [ -z "$dnline" ] || [ "$(printf '%s\n' "$dnline" | wc -l)" -ne 1 ]; then
	echo "ldap-tools-test: expected exactly one entry for sAMAccountName=$USER, got:" >&2
	printf '%s\n' "$before" >&2
	exit 1
fi
echo "found: $dn (userAccountControl: $uac)"
if [ "$uac" != 512 ]; then
	echo "ldap-tools-test: expected userAccountControl 512 before disabling, got '$uac'" >&2
	exit 1
fi

ldapmodify -x -ZZ -H "$LDAP_URL" -D "$BIND_DN" -y "$pwfile" <<LDIF
$dnline
changetype: modify
replace: userAccountControl
userAccountControl: 514
-
LDIF

after=$(search userAccountControl | sed -n 's/^userAccountControl: //p')
echo "after: $dn (userAccountControl: $after)"
if [ "$after" != 514 ]; then
	echo "ldap-tools-test: expected userAccountControl 514 after disabling, got '$after'" >&2
	exit 1
fi
echo "ok: $USER disabled"
