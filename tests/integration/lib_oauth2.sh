# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Helpers for the OAuth2 tests (t_oauth2.sh against the scripted token
# server, t_oauth2_oidc.sh against oidc-provider), sourced after lib.sh.
# Every popsyncd output they keep goes to $ALL, which the tests scan for
# tokens at the end.  The token server each test starts is in
# TOKEN_SERVER_PID and stopped on exit.

TOKFILE_DIR=$T_DIR/state
ALL=$T_DIR/all-output
: >"$ALL"
TOKEN_SERVER_PID=

# Stop the token server too, keeping the exit status for lib.sh's cleanup.
trap 'rc=$?; [ -n "$TOKEN_SERVER_PID" ] && kill "$TOKEN_SERVER_PID" 2>/dev/null; (exit $rc); cleanup' EXIT

# wait_portfile: FILE: wait until the token server wrote its port there;
# print it.
wait_portfile()
{
	local i
	for i in $(seq 1 300); do
		[ -s "$1" ] && break
		sleep 0.1
	done
	[ -s "$1" ] || fail "the token server did not start"
	cat "$1"
}

# dovecot_conf_hook: lib.sh's write_dovecot_conf calls it: XOAUTH2 and
# OAUTHBEARER through an oauth2 passdb, first, which asks OAUTH2_INTROSPECT
# (RFC 7662, POST) about every token and takes the user name from the
# OAUTH2_USER_ATTR of its answer.  No auth cache: a revoked token must fail
# at once.
dovecot_conf_hook()
{
	cat >"$T_DIR/dovecot/oauth2.conf" <<-EOF2
	introspection_url = $OAUTH2_INTROSPECT
	introspection_mode = post
	username_attribute = $OAUTH2_USER_ATTR
	active_attribute = active
	active_value = true
	tls_ca_cert_file = $T_DIR/ca.crt
	EOF2
	sed -i -e 's/^auth_mechanisms = .*/auth_mechanisms = plain xoauth2 oauthbearer\nauth_cache_size = 0/' \
	    -e "0,/^passdb {/s||passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = $T_DIR/dovecot/oauth2.conf\n}\npassdb {|" \
	    "$1"
}

# oauth_config: NAME AUTH [KEY=VALUE...]: $T_DIR/NAME.conf with one
# account on dovecot's pop3s port whose oauth2 group has the exact keys
# issue 12 names: CLIENT_ID, CLIENT_SECRET, OAUTH2_TOKEN_URL,
# OAUTH2_DEVICE_URL, OAUTH2_SCOPE.  Extra KEY=VALUE go into the account.
# OAUTH_TIMEOUT sets its timeout (default 10), SECRET_COMMAND makes the
# client secret come from client_secret_command.
oauth_config()
{
	local name=$1 auth=$2 kv
	shift 2
	CONF=$T_DIR/$name.conf
	{
		echo "state_db = \"$T_DIR/state/state.db\";"
		[ "$(id -u)" -eq 0 ] && echo "allow_root = true;"
		echo "accounts = ( {"
		conf_value name "$name"
		conf_value host localhost
		conf_value port "$POP3S_PORT"
		conf_value ca_file "$T_DIR/ca.crt"
		conf_value user alice
		conf_value auth "$auth"
		conf_value maildir "$T_DIR/dest/$name"
		conf_value timeout "${OAUTH_TIMEOUT:-10}"
		for kv in "$@"; do
			conf_value "${kv%%=*}" "${kv#*=}"
		done
		echo "    oauth2 = {"
		conf_value provider custom
		conf_value client_id "$CLIENT_ID"
		if [ -n "${SECRET_COMMAND:-}" ]; then
			conf_value client_secret_command "$SECRET_COMMAND"
		else
			conf_value client_secret "$CLIENT_SECRET"
		fi
		conf_value token_endpoint "$OAUTH2_TOKEN_URL"
		conf_value device_authorization_endpoint "$OAUTH2_DEVICE_URL"
		conf_value scope "$OAUTH2_SCOPE"
		echo "    };"
		echo "} );"
	} >"$CONF"
	chmod 600 "$CONF"
}

# keep: append the last run's stdout and stderr to the scanned output.
keep()
{
	cat "$T_DIR/out" "$T_DIR/err" >>"$ALL"
}

# logins: successful logins of alice in dovecot's log so far.
logins()
{
	grep -c 'pop3-login: Info: Login: user=<alice>' "$(dovecot_log)"
}

# login_failures: failed logins so far.
login_failures()
{
	grep -c 'pop3-login: .*auth failed' "$(dovecot_log)"
}

# token_field: NAME KEY: a field of NAME's token file.
token_field()
{
	python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ''))" \
	    "$TOKFILE_DIR/$1.oauth2" "$2"
}

# expire_locally: NAME: make NAME's stored access token expire within the
# refresh margin, as if an hour had passed.
expire_locally()
{
	python3 - "$TOKFILE_DIR/$1.oauth2" <<-'EOF2'
	import json, os, sys, time
	p = sys.argv[1]
	t = json.load(open(p))
	t["expires_at"] = int(time.time()) + 30
	open(p + ".new", "w").write(json.dumps(t))
	os.chmod(p + ".new", 0o600)
	os.rename(p + ".new", p)
	EOF2
}

# authorize_start: NAME: popsyncd --authorize NAME in the background
# (AUTH_PID), until it has printed the user code (AUTH_CODE) and the
# verification URI (AUTH_URI), flushed while it still waits for the user.
authorize_start()
{
	local i
	timeout -k 5 60 "$POPSYNCD" -c "$CONF" --authorize "$1" \
	    >"$T_DIR/out" 2>"$T_DIR/err" &
	AUTH_PID=$!
	AUTH_CODE=
	for i in $(seq 1 100); do
		AUTH_CODE=$(sed -n '/enter the code/{n;s/^ *//p}' "$T_DIR/out")
		[ -n "$AUTH_CODE" ] && break
		sleep 0.1
	done
	[ -n "$AUTH_CODE" ] || fail "--authorize printed no user code"
	AUTH_URI=$(sed -n '/^To authorize/{n;s/^ *//p}' "$T_DIR/out")
	kill -0 "$AUTH_PID" 2>/dev/null ||
	    fail "--authorize exited before the user acted"
}

# authorize_wait: the exit status of the --authorize run in RC.
authorize_wait()
{
	RC=0
	wait "$AUTH_PID" || RC=$?
	keep
}

# scan_tokens: LIST FILE...: no line of LIST (the tokens issued) may
# occur in any FILE.
scan_tokens()
{
	local list=$1 f
	shift
	sort -u "$list" | grep . >"$list.sorted"
	for f; do
		if grep -a -F -f "$list.sorted" "$f" >/dev/null; then
			fail "a token appears in ${f#$T_DIR/}"
		fi
	done
}
