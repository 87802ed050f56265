#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# OAuth2 built in (issue 12) against real parts: dovecot's oauth2 passdb
# checks every XOAUTH2 / OAUTHBEARER login by RFC 7662 introspection at a
# token server, tokenserver.py (HTTPS with the test CA), which also serves
# the device grant and refreshes and injects the faults.  Covered: the
# device flow (pending, slow_down, denied, expired), a sync with the fresh
# token, refresh before expiry (one login), a refused cached token (one
# refresh, one retry), rotation, a revoked refresh token (permanent,
# nothing fetched or deleted, shown by --status), the endpoint down or
# malformed (temporary), and no token in any output, file or process.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oauth2.sh"

need_programs "$POPSYNCD" "$top_builddir/tests/notifyrecv"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
TOKENSERVER=$top_srcdir/tests/integration/tokenserver.py
CLIENT_ID=popsyncd-test-client
CLIENT_SECRET=client-Secret-9

# --- the token server and dovecot --------------------------------------------

make_certs
python3 "$TOKENSERVER" serve "$T_DIR/ts.port" "$T_DIR/pki/server.crt" \
    "$T_DIR/pki/server.key" "$T_DIR/tokens.txt" "$CLIENT_ID" \
    "$CLIENT_SECRET" alice 2>"$T_DIR/tokenserver.log" &
TOKEN_SERVER_PID=$!
TS_PORT=$(wait_portfile "$T_DIR/ts.port")
TS_URL=https://localhost:$TS_PORT
say "token server on $TS_URL (pid $TOKEN_SERVER_PID)"
OAUTH2_TOKEN_URL=$TS_URL/token
OAUTH2_DEVICE_URL=$TS_URL/device
OAUTH2_SCOPE="mail popsyncd-test"
OAUTH2_INTROSPECT=https://127.0.0.1:$TS_PORT/introspect
OAUTH2_USER_ATTR=username

# ctl: ACTION [KEY=VALUE...]: tell the token server; its JSON on stdout.
ctl()
{
	python3 "$TOKENSERVER" ctl "$TS_PORT" "$T_DIR/ca.crt" "$@" ||
	    fail "token server control $* failed"
}

# ts_stat: KEY: one counter of the token server.
ts_stat()
{
	ctl stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

start_dovecot

# daemon_error: NAME: run the daemon on $CONF, with notifyrecv playing
# systemd's notify socket, until it logs an error for NAME, then stop it;
# its stderr in $T_DIR/daemon.err (also scanned), what it told systemd in
# $T_DIR/notify.log.
daemon_error()
{
	local pid npid i
	rm -f "$T_DIR/notify.sock"
	: >"$T_DIR/notify.log"
	"$top_builddir/tests/notifyrecv" "$T_DIR/notify.sock" \
	    "$T_DIR/notify.log" &
	npid=$!
	for i in $(seq 1 50); do
		[ -S "$T_DIR/notify.sock" ] && break
		sleep 0.1
	done
	NOTIFY_SOCKET=$T_DIR/notify.sock timeout -k 5 60 "$POPSYNCD" \
	    -c "$CONF" >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.err" &
	pid=$!
	for i in $(seq 1 200); do
		grep -q "error: $1: " "$T_DIR/daemon.err" && break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" || true
	kill -TERM "$npid" 2>/dev/null
	wait "$npid" || true
	cat "$T_DIR/daemon.out" "$T_DIR/daemon.err" "$T_DIR/notify.log" >>"$ALL"
	grep -q "error: $1: " "$T_DIR/daemon.err" || fail "the daemon logged no error for $1"
}

# authorize: NAME [wait_polls=N] [action=approve|deny|expire] [slow=N]:
# run popsyncd --authorize NAME in the background, read the user code it
# prints, play the user once N polls were seen, wait for its exit in RC.
authorize()
{
	local name=$1 polls=0 action=approve slow=0 arg i
	shift
	for arg; do
		case $arg in
		wait_polls=*) polls=${arg#*=} ;;
		action=*) action=${arg#*=} ;;
		slow=*) slow=${arg#*=} ;;
		esac
	done
	ctl set slow_down="$slow" >/dev/null
	local base
	base=$(ts_stat token_device)
	authorize_start "$name"
	for i in $(seq 1 100); do
		[ "$(($(ts_stat token_device) - base))" -ge "$polls" ] && break
		sleep 0.1
	done
	ctl "$action" user_code="$AUTH_CODE" >/dev/null
	authorize_wait
}

# --- device authorization -------------------------------------------------------

oauth_config ox xoauth2 keep=false
authorize ox wait_polls=2 action=approve
[ "$RC" -eq 0 ] || fail "--authorize: exit $RC"
assert_out "^  https://127.0.0.1:$TS_PORT/activate\$" "verification URI"
assert_out "^  https://127.0.0.1:$TS_PORT/activate\\?code=$AUTH_CODE\$" "complete URI"
assert_out "Authorized: the tokens for account ox are in $TOKFILE_DIR/ox.oauth2"
assert_eq "$(stat -c %a "$TOKFILE_DIR/ox.oauth2")" 600 "token file mode"
[ -n "$(token_field ox refresh_token)" ] || fail "no refresh token stored"
# The polls before the approval were 1 s (the server's interval) apart.
gaps=$(ctl stats | python3 -c '
import json, sys
p = json.load(sys.stdin)["polls"]
print(" ".join("%.2f" % (b - a) for a, b in zip(p, p[1:])))')
for g in $gaps; do
	awk -v g="$g" 'BEGIN { exit !(g >= 0.95) }' ||
	    fail "polls $g s apart, interval is 1 s (gaps: $gaps)"
done
[ "$(ts_stat token_device)" -ge 3 ] || fail "expected 2 pending polls and the granting one"
ok "--authorize prints URI, code and complete URI at once, polls every interval through authorization_pending, stores the tokens (mode 600)"

# slow_down: five more seconds between polls from then on.
oauth_config slow xoauth2
ctl set slow_down=1 >/dev/null
before=$(ctl stats | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["polls"]))')
authorize slow slow=1 wait_polls=0
[ "$RC" -eq 0 ] || fail "--authorize after slow_down: exit $RC"
gap=$(ctl stats | python3 -c "
import json, sys
p = json.load(sys.stdin)['polls'][$before:]
print('%.2f' % (p[1] - p[0]))")
awk -v g="$gap" 'BEGIN { exit !(g >= 5.9) }' ||
    fail "after slow_down the next poll came $gap s later, not 6"
ok "slow_down adds 5 s to the polling interval ($gap s)"

authorize slow action=deny
[ "$RC" -eq 1 ] || fail "denied --authorize: exit $RC"
assert_err 'popsyncd: slow: oauth2: the authorization was denied \(access_denied\)'
authorize slow action=expire
[ "$RC" -eq 1 ] || fail "expired --authorize: exit $RC"
assert_err 'expired_token.*popsyncd --authorize slow'
ok "access_denied and expired_token end --authorize with exit 1 and say so"

# --- syncs --------------------------------------------------------------------

# libcurl is loaded only when an oauth2 account needs it (issue 9: it
# costs every other run 4.5 MiB); the syncs below prove it loads then.
if ldd "$POPSYNCD" | grep -q 'libcurl'; then
	fail "popsyncd links libcurl: $(ldd "$POPSYNCD" | grep libcurl)"
fi

CONF=$T_DIR/ox.conf
seed_message alice generated 3
refresh0=$(ts_stat token_refresh)
logins0=$(logins)
expect_rc "sync with the fresh token" 0 "$POPSYNCD" -c "$CONF" -vv --once ox
keep
CONF_OX=$CONF
[ "$(find "$T_DIR/dest/ox/new" -type f | wc -l)" -eq 3 ] || fail "expected 3 messages fetched"
assert_eq "$(mailbox_count alice)" 0 "server mailbox after keep = false"
assert_eq "$(ts_stat token_refresh)" "$refresh0" "refreshes with a fresh token"
assert_eq "$(($(logins) - logins0))" 1 "dovecot logins"
grep -q 'Login: user=<alice>, method=XOAUTH2' "$(dovecot_log)" ||
    fail "dovecot saw no XOAUTH2 login"
ok "a sync with the fresh token: one XOAUTH2 login checked by dovecot, 3 fetched, no refresh"

# auth = auto picks OAUTHBEARER, then XOAUTH2; oauthbearer by name too.
for auth in auto oauthbearer; do
	oauth_config "ob-$auth" "$auth"
	cp -p "$TOKFILE_DIR/ox.oauth2" "$TOKFILE_DIR/ob-$auth.oauth2"
	expect_rc "auth $auth" 0 "$POPSYNCD" -c "$CONF" -v --once "ob-$auth"
	keep
	tail -1 "$(dovecot_log)" | grep -q . || true
	grep 'Login: user=<alice>, method=' "$(dovecot_log)" | tail -1 |
	    grep -q 'method=OAUTHBEARER' || fail "auth $auth: last login was not OAUTHBEARER"
done
ok "auth = \"auto\" and \"oauthbearer\" log in with OAUTHBEARER"

# Shortly before expiry: refresh first, then exactly one login.
CONF=$CONF_OX
seed_message alice generated 1
expire_locally ox
ctl expire_access >/dev/null
old_access=$(token_field ox access_token)
refresh0=$(ts_stat token_refresh)
logins0=$(logins)
fails0=$(login_failures)
expect_rc "sync after expiry" 0 "$POPSYNCD" -c "$CONF" -vv --once ox
keep
assert_eq "$(ts_stat token_refresh)" "$((refresh0 + 1))" "refreshes"
assert_eq "$(($(logins) - logins0))" 1 "logins"
assert_eq "$(login_failures)" "$fails0" "failed logins"
[ "$(token_field ox access_token)" != "$old_access" ] || fail "access token not replaced"
[ "$(find "$T_DIR/dest/ox/new" -type f | wc -l)" -eq 4 ] || fail "expected 4 messages"
ok "an access token about to expire is refreshed before the login: one refresh, one login"

# The server refuses a token we think valid: one refresh, one retry.
seed_message alice generated 1
ctl expire_access >/dev/null
refresh0=$(ts_stat token_refresh)
logins0=$(logins)
fails0=$(login_failures)
expect_rc "sync with a refused cached token" 0 "$POPSYNCD" -c "$CONF" -v --once ox
keep
assert_err 'refused the stored access token; refreshing it'
assert_eq "$(ts_stat token_refresh)" "$((refresh0 + 1))" "refreshes"
assert_eq "$(($(logins) - logins0))" 1 "logins"
[ "$(find "$T_DIR/dest/ox/new" -type f | wc -l)" -eq 5 ] || fail "expected 5 messages"
ok "a cached token dovecot refuses: one refresh, one retry, mail fetched"

# Rotation: the new refresh token replaces the old, which is dead.
ctl set rotate=true >/dev/null
old_refresh=$(token_field ox refresh_token)
expire_locally ox
expect_rc "sync with rotation" 0 "$POPSYNCD" -c "$CONF" --once ox
keep
new_refresh=$(token_field ox refresh_token)
[ -n "$new_refresh" ] && [ "$new_refresh" != "$old_refresh" ] ||
    fail "the rotated refresh token was not stored"
assert_eq "$(stat -c %a "$TOKFILE_DIR/ox.oauth2")" 600 "token file mode after rotation"
ls "$TOKFILE_DIR" | grep -q 'ox.oauth2\.' && fail "a temp token file was left behind"
expire_locally ox
expect_rc "sync with the rotated refresh token" 0 "$POPSYNCD" -c "$CONF" --once ox
keep
ctl set rotate=false >/dev/null
ok "a rotated refresh token replaces the old one atomically and works"

# A token helper of one's own still works: password_command prints the
# access token, no oauth2 group.
token_field ox access_token >"$T_DIR/helper-token"
chmod 600 "$T_DIR/helper-token"
seed_message alice generated 1
CONF=$T_DIR/helper.conf
write_config "$CONF" helper port="$POP3S_PORT" auth=xoauth2 password= \
    password_command="cat $T_DIR/helper-token" keep=false
expect_rc "password_command token helper" 0 "$POPSYNCD" -c "$CONF" -v --once helper
keep
assert_eq "$(mailbox_count alice)" 0 "server mailbox after the helper's sync"
grep 'Login: user=<alice>, method=' "$(dovecot_log)" | tail -1 |
    grep -q 'method=XOAUTH2' || fail "the helper's login was not XOAUTH2"
CONF=$T_DIR/ox.conf
ok "password_command printing the token keeps working with auth = \"xoauth2\""

# The token endpoint down, malformed or silent: temporary, nothing lost.
seed_message alice generated 1
for mode in down malformed slow; do
	ctl set mode="$mode" >/dev/null
	expire_locally ox
	OAUTH_TIMEOUT=2 oauth_config ox xoauth2 keep=false
	expect_rc "endpoint $mode" 1 "$POPSYNCD" -c "$CONF" --once ox
	keep
	case $mode in
	down) assert_err 'ox: oauth2: .*/token: HTTP 500' ;;
	malformed) assert_err 'ox: oauth2: .*/token: HTTP 200 but the reply is not a JSON object' ;;
	slow) assert_err 'ox: oauth2: .*/token: .*([Tt]imeout|timed out)' ;;
	esac
	assert_eq "$(mailbox_count alice)" 1 "server mailbox with the endpoint $mode"
done
# To the daemon it is a temporary failure, retried with backoff.
ctl set mode=down >/dev/null
oauth_config ox xoauth2 keep=false interval=1
daemon_error ox
grep -Eq 'error: ox: oauth2: .*HTTP 500 \(temporary; next poll in 1 s\)$' \
    "$T_DIR/daemon.err" || fail "the daemon's error line: $(grep 'error: ' "$T_DIR/daemon.err")"
ctl set mode=ok >/dev/null
oauth_config ox xoauth2 keep=false
expect_rc "endpoint back" 0 "$POPSYNCD" -c "$CONF" --once ox
keep
assert_eq "$(mailbox_count alice)" 0 "server mailbox after the endpoint is back"
ok "token endpoint down (500), malformed or too slow: a temporary error, nothing deleted; then it works again"

# A revoked refresh token: permanent, says what to do, nothing touched.
seed_message alice generated 1
ctl revoke_refresh >/dev/null
ctl expire_access >/dev/null
expire_locally ox
n_local=$(find "$T_DIR/dest/ox/new" -type f | wc -l)
expect_rc "revoked refresh token" 1 "$POPSYNCD" -c "$CONF" -vv --once ox
keep
assert_err 'ox: run `popsyncd --authorize ox`: the OAuth2 refresh token was refused \(invalid_grant'
assert_eq "$(find "$T_DIR/dest/ox/new" -type f | wc -l)" "$n_local" "local messages"
assert_eq "$(mailbox_count alice)" 1 "server mailbox"
expect_rc "--status" 0 "$POPSYNCD" -c "$CONF" --status
keep
assert_out 'last error: ox: run `popsyncd --authorize ox`: .*invalid_grant'
expect_rc "--status --json" 0 "$POPSYNCD" -c "$CONF" --status --json
keep
assert_out '"last_error": "ox: run `popsyncd --authorize ox`: .*invalid_grant'
daemon_error ox
grep -q 'error: ox: run `popsyncd --authorize ox`: the OAuth2 refresh token was refused (invalid_grant.*(permanent; ' \
    "$T_DIR/daemon.err" || fail "the daemon's error line: $(grep 'error: ' "$T_DIR/daemon.err")"
assert_eq "$(mailbox_count alice)" 1 "server mailbox after the daemon"
grep -q 'STATUS=.*(ox: run `popsyncd --authorize ox`: ' \
    "$T_DIR/notify.log" || fail "the systemd status line: $(grep STATUS= "$T_DIR/notify.log" | tail -1)"
ok "a revoked refresh token: permanent error naming popsyncd --authorize, nothing fetched or deleted, shown by --status and the systemd status line"

# --- no token anywhere -------------------------------------------------------------

# Re-authorize, then a daemon whose client secret comes from a command
# that records its own and its parent's command line and environment.
SECRET_COMMAND="cat /proc/\$\$/cmdline /proc/\$\$/environ /proc/\$PPID/cmdline /proc/\$PPID/environ >>$T_DIR/proc-child; echo $CLIENT_SECRET"
oauth_config ox xoauth2 keep=false interval=3600
authorize ox
[ "$RC" -eq 0 ] || fail "--authorize again: exit $RC"
expire_locally ox
timeout -k 5 60 "$POPSYNCD" -c "$CONF" -vv >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.err" &
dpid=$!
for i in $(seq 1 100); do
	[ "$(mailbox_count alice)" -eq 0 ] && break
	sleep 0.1
done
assert_eq "$(mailbox_count alice)" 0 "server mailbox after the daemon's sync"
cat "/proc/$dpid/cmdline" "/proc/$dpid/environ" >"$T_DIR/proc-daemon" ||
    fail "could not read the daemon's /proc entries"
kill -TERM "$dpid"
wait "$dpid" || true
[ -s "$T_DIR/proc-child" ] || fail "client_secret_command did not run"
cat "$T_DIR/daemon.out" "$T_DIR/daemon.err" >>"$ALL"
grep -q 'AUTH XOAUTH2 \*\*\*\*' "$ALL" || fail "the -vv trace shows no AUTH line"
[ "$(sort -u "$T_DIR/tokens.txt" | wc -l)" -ge 10 ] || fail "too few tokens issued to scan for"
scan_tokens "$T_DIR/tokens.txt" "$ALL" "$T_DIR/proc-daemon" \
    "$T_DIR/proc-child" "$T_DIR/state/state.db" "$T_DIR"/*.conf
# The token file itself does hold them (so the scan could find one).
grep -q -F -f "$T_DIR/tokens.txt.sorted" "$TOKFILE_DIR/ox.oauth2" ||
    fail "the scan list does not match the stored tokens"
ok "no token in any output at -vv, --status (--json), the state database, configs, or /proc cmdline/environ of popsyncd and its child"

done_testing
