#!/bin/sh
# sandbox-curl.sh: drive the sandbox's Graph emulator with plain curl, the
# way someone would try the real Microsoft Graph: get an app-only token with
# the client-credentials grant, disable a user with PATCH, read it back.
#
# Environment (all required):
#   AUTHORITY           https://127.0.0.1:PORT/  (the sandbox's authority host)
#   GRAPH_URL           https://127.0.0.1:PORT/v1.0
#   TENANT_ID           the tenant id
#   CLIENT_ID           the app's client id
#   CLIENT_SECRET_FILE  a file holding the app's secret (never on a command line)
#   CA_FILE             PEM of the sandbox's CA (TLS is verified)
#   UPN                 the user to disable
#
# Exits non-zero on any failure. The token and secret are never printed.
set -eu

for v in AUTHORITY GRAPH_URL TENANT_ID CLIENT_ID CLIENT_SECRET_FILE CA_FILE UPN; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "sandbox-curl: $v is not set" >&2
		exit 2
	fi
done
command -v curl >/dev/null 2>&1 || { echo "sandbox-curl: curl not found" >&2; exit 2; }

# The secret goes in through a file (@FILE), so it never shows in ps.
form=$(mktemp)
trap 'rm -f "$form"' EXIT
chmod 600 "$form"
printf 'grant_type=client_credentials&client_id=%s&scope=https%%3A%%2F%%2Fgraph.microsoft.com%%2F.default&client_secret=' "$CLIENT_ID" > "$form"
tr -d '\n' < "$CLIENT_SECRET_FILE" >> "$form"

token=$(curl -sS --fail-with-body --cacert "$CA_FILE" --data-binary @"$form" \
	"${AUTHORITY}${TENANT_ID}/oauth2/v2.0/token" |
	sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "sandbox-curl: no access_token in the token response" >&2; exit 1; }
echo "token: ok"

# An apostrophe in a UPN must be percent-encoded in the path.
path=$(printf '%s' "$UPN" | sed "s/'/%27/g; s/@/%40/g")
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" -X PATCH \
	-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
	-d '{"accountEnabled":false}' "$GRAPH_URL/users/$path")
echo "PATCH /users/$UPN: $status"
[ "$status" = 204 ] || exit 1

enabled=$(curl -sS --fail-with-body --cacert "$CA_FILE" -H "Authorization: Bearer $token" \
	"$GRAPH_URL/users/$path?\$select=accountEnabled" |
	sed -n 's/.*"accountEnabled":\([a-z]*\).*/\1/p')
echo "accountEnabled: $enabled"
[ "$enabled" = false ]
