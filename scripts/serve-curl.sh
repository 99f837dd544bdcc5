#!/bin/sh
# serve-curl.sh: ask revoke serve for a run with plain curl, as a SOAR
# playbook or an HR system would: POST /v1/runs with an Idempotency-Key,
# retry it (the same run comes back), then poll GET /v1/runs/{id} until
# the run ends and say whether the subject is contained.
#
# Environment (all required but RUNBOOK):
#   BASE              https://HOST:PORT of revoke serve
#   CA_FILE           PEM of the CA that signed its certificate (TLS is verified)
#   AUTH_HEADER_FILE  a file holding the line "Authorization: Bearer <token>"
#                     (never on a command line, so never in ps)
#   UPN               the subject
#   KEY               the Idempotency-Key
#   RUNBOOK           default compromised
#
# Prints "accepted <id>", "retried: same run", then "contained" and exits 0;
# exits non-zero on anything else. The token is never printed.
set -eu

for v in BASE CA_FILE AUTH_HEADER_FILE UPN KEY; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "serve-curl: $v is not set" >&2
		exit 2
	fi
done
RUNBOOK=${RUNBOOK:-compromised}
command -v curl >/dev/null 2>&1 || { echo "serve-curl: curl not found" >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
body=$(printf '{"runbook":"%s","user":"%s","reason":"serve-curl.sh","ticket":"%s"}' "$RUNBOOK" "$UPN" "$KEY")

post() {
	curl -sS --proto =https --cacert "$CA_FILE" -H @"$AUTH_HEADER_FILE" \
		-H 'Content-Type: application/json' -H "Idempotency-Key: $KEY" \
		-o "$out" -w '%{http_code}' --data-binary "$body" "$BASE/v1/runs"
}
# The first "name":"value" in the answer: the run's own, not a step's.
field() { grep -o "\"$1\":\"[^\"]*\"" "$out" | head -n 1 | cut -d '"' -f 4; }

code=$(post)
if [ "$code" != 202 ]; then
	echo "serve-curl: POST /v1/runs: $code $(cat "$out")" >&2
	exit 1
fi
id=$(field id)
echo "accepted $id"

code=$(post)
again=$(field id)
if [ "$code" != 202 ] || [ "$again" != "$id" ]; then
	echo "serve-curl: the retried request got $code run $again, not run $id" >&2
	exit 1
fi
echo "retried: same run"

i=0
while :; do
	code=$(curl -sS --proto =https --cacert "$CA_FILE" -H @"$AUTH_HEADER_FILE" -o "$out" -w '%{http_code}' "$BASE/v1/runs/$id")
	if [ "$code" != 200 ]; then
		echo "serve-curl: GET /v1/runs/$id: $code $(cat "$out")" >&2
		exit 1
	fi
	status=$(field status)
	case $status in
	queued | scheduled | running) ;;
	*) break ;;
	esac
	i=$((i + 1))
	if [ "$i" -ge 120 ]; then
		echo "serve-curl: run $id still $status after 60 s" >&2
		exit 1
	fi
	sleep 0.5
done
if grep -q '"contained":true' "$out"; then
	echo contained
	exit 0
fi
echo "serve-curl: run $id ended $status, not contained: $(cat "$out")" >&2
exit 1
