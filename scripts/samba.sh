#!/usr/bin/env bash
# samba.sh sets up a throwaway Samba AD domain controller on loopback for the
# ad backend's tests (steps/ad). It needs root: samba binds 389/636 and
# provisioning writes files owned by root.
#
#   scripts/samba.sh install      install the Debian packages (idempotent)
#   scripts/samba.sh start DIR    provision CONTOSO.TEST in DIR and start samba
#   scripts/samba.sh stop DIR     stop the samba started in DIR
#
# `start` writes DIR/samba.json and DIR/env.sh with the connection details;
# the tests read the JSON through REVOKE_SAMBA=DIR/samba.json. A DIR already
# provisioned is started again as it is, so stop/start keeps the domain.
set -euo pipefail

REALM=CONTOSO.TEST
DOMAIN=CONTOSO
BASE_DN=DC=contoso,DC=test
BIND_DN=CN=Administrator,CN=Users,$BASE_DN
PACKAGES=(samba samba-ad-dc samba-ad-provision winbind krb5-user ldap-utils)
READY_TIMEOUT=${SAMBA_READY_TIMEOUT:-60}

die() { echo "samba.sh: $*" >&2; exit 1; }

usage() {
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
}

installed() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || return 1
	done
	command -v samba >/dev/null && command -v samba-tool >/dev/null && command -v openssl >/dev/null
}

cmd_install() {
	if installed; then
		echo "samba.sh: samba already installed"
		return
	fi
	[ "$(id -u)" = 0 ] || die "install needs root"
	export DEBIAN_FRONTEND=noninteractive
	# Update the package lists only when they do not know samba-ad-dc (a fresh
	# container has none), so a warm machine installs without touching the network
	# more than it must.
	if ! apt-cache show samba-ad-dc >/dev/null 2>&1; then
		apt-get update
	fi
	if ! apt-get install -y --no-install-recommends "${PACKAGES[@]}" openssl; then
		# Stale lists name package versions the mirror no longer has: refresh once.
		apt-get update
		apt-get install -y --no-install-recommends "${PACKAGES[@]}" openssl
	fi
	installed || die "packages installed but samba or samba-tool is missing"
}

# port_open reports whether something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
	local pid
	[ -f "$1/samba.pid" ] || return 1
	pid=$(cat "$1/samba.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

make_certs() {
	local tls=$1
	mkdir -p "$tls"
	chmod 700 "$tls"
	(
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
			-subj "/CN=revoke test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
			-keyout "$tls/key.pem" -out "$tls/server.csr" 2>/dev/null
		cat >"$tls/server.ext" <<-EOF
			basicConstraints=CA:FALSE
			keyUsage=critical,digitalSignature,keyEncipherment
			extendedKeyUsage=serverAuth
			subjectAltName=IP:127.0.0.1,DNS:localhost
		EOF
		openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
			-CAcreateserial -days 30 -sha256 -extfile "$tls/server.ext" \
			-out "$tls/cert.pem" 2>/dev/null
	)
	# samba refuses a private key readable by others; the CA and the
	# certificate are public.
	chmod 600 "$tls/key.pem" "$tls/ca.key"
	chmod 644 "$tls/ca.pem" "$tls/cert.pem"
	rm -f "$tls/server.csr" "$tls/server.ext" "$tls/ca.srl"
}

# new_password prints a random password that meets AD's complexity rules:
# the fixed prefix guarantees upper, lower, digit and symbol.
new_password() {
	printf 'Rv9-%s' "$(openssl rand -base64 30 | tr -d '/+=\n')"
}

cmd_start() {
	local dir=$1
	[ "$(id -u)" = 0 ] || die "start needs root"
	command -v samba >/dev/null || die "samba is not installed: run $0 install"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if running "$dir"; then
		die "samba is already running in $dir (pid $(cat "$dir/samba.pid"))"
	fi
	local port
	for port in 389 636; do
		if port_open "$port"; then
			die "127.0.0.1:$port is in use; stop whatever listens there first"
		fi
	done

	if [ ! -f "$dir/etc/smb.conf" ]; then
		make_certs "$dir/tls"
		(umask 077 && new_password >"$dir/admin.password")
		echo "samba.sh: provisioning $REALM in $dir"
		samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" \
			--server-role=dc --dns-backend=NONE \
			--adminpass="$(cat "$dir/admin.password")" \
			--targetdir="$dir" \
			--option="interfaces=lo" --option="bind interfaces only=yes" \
			--option="tls enabled=yes" \
			--option="tls keyfile=$dir/tls/key.pem" \
			--option="tls certfile=$dir/tls/cert.pem" \
			--option="tls cafile=$dir/tls/ca.pem" \
			>"$dir/provision.log" 2>&1 || {
			tail -n 30 "$dir/provision.log" >&2
			die "provisioning failed (log: $dir/provision.log)"
		}
	fi

	# -i keeps samba in the foreground, logging to stdout, but it also makes
	# samba exit when its stdin reaches end of file; a background job's stdin
	# is /dev/null, so feed it a pipe that stays open: the writer is a sleep
	# that samba outlives only if someone kills the sleep. setsid detaches it
	# from the caller's process group so a ^C in the caller does not stop it.
	: >"$dir/samba.log"
	setsid bash -c 'exec samba -s "$1/etc/smb.conf" -i -M single --debug-stdout \
		< <(exec sleep infinity) >>"$1/samba.log" 2>&1' _ "$dir" &
	echo $! >"$dir/samba.pid"

	echo "samba.sh: waiting for LDAPS on 127.0.0.1:636"
	local deadline=$((SECONDS + READY_TIMEOUT))
	until timeout 5 openssl s_client -connect 127.0.0.1:636 -CAfile "$dir/tls/ca.pem" \
		-verify_return_error -brief </dev/null >/dev/null 2>&1; do
		if ! running "$dir"; then
			tail -n 40 "$dir/samba.log" >&2
			die "samba exited before LDAPS was ready (log: $dir/samba.log)"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			tail -n 40 "$dir/samba.log" >&2
			cmd_stop "$dir" || true
			die "LDAPS on 127.0.0.1:636 not ready after ${READY_TIMEOUT}s (log: $dir/samba.log)"
		fi
		sleep 1
	done

	cat >"$dir/samba.json" <<-EOF
		{
		  "ldaps_url": "ldaps://127.0.0.1:636",
		  "ldap_url": "ldap://127.0.0.1:389",
		  "base_dn": "$BASE_DN",
		  "bind_dn": "$BIND_DN",
		  "bind_password_file": "$dir/admin.password",
		  "ca_file": "$dir/tls/ca.pem",
		  "realm": "$REALM",
		  "domain": "$DOMAIN"
		}
	EOF
	cat >"$dir/env.sh" <<-EOF
		# Connection details of the Samba AD DC started by scripts/samba.sh.
		export SAMBA_LDAPS_URL=ldaps://127.0.0.1:636
		export SAMBA_LDAP_URL=ldap://127.0.0.1:389
		export SAMBA_BASE_DN='$BASE_DN'
		export SAMBA_BIND_DN='$BIND_DN'
		export SAMBA_BIND_PASSWORD_FILE='$dir/admin.password'
		export SAMBA_CA_FILE='$dir/tls/ca.pem'
		export REVOKE_SAMBA='$dir/samba.json'
	EOF
	echo "samba.sh: ready (pid $(cat "$dir/samba.pid")); export REVOKE_SAMBA=$dir/samba.json"
}

cmd_stop() {
	local dir=$1 pid i
	if ! running "$dir"; then
		rm -f "$dir/samba.pid"
		echo "samba.sh: samba is not running in $dir"
		return
	fi
	pid=$(cat "$dir/samba.pid")
	# The process group holds samba and the sleep feeding its stdin.
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "samba.sh: samba (pid $pid) ignored SIGTERM for 20s; killing it" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
		sleep 0.5
	fi
	rm -f "$dir/samba.pid"
	echo "samba.sh: stopped samba (pid $pid)"
}

case "${1:-}" in
install) [ $# -eq 1 ] || usage; cmd_install ;;
start) [ $# -eq 2 ] || usage; cmd_start "$2" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
*) usage ;;
esac
