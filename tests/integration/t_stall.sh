#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Every phase of a sync stalled in turn, with the daemon under a stand-in
# for systemd (notifyrecv on NOTIFY_SOCKET, WATCHDOG_USEC=2 s, so a ping
# is due every second): a server that accepts and never greets, a TLS
# handshake that never finishes, a password_command slower than the
# watchdog interval, a trickled listing, and a listing of 200,000 lines.
# In each the WATCHDOG=1 pings go on with no gap over 1.5 s, and SIGTERM
# ends the daemon within the account's timeout + 2 s, nothing in new/ or
# tmp/.  A stop while pipelined RETRs are in flight finishes the message
# being written and sends no further RETR, no DELE and no QUIT.  --once
# against a server that never greets ends within 2 s of the first of two
# Ctrl-C's, the ledger intact.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_daemon.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D" "$NOTIFYRECV"
command -v sqlite3 >/dev/null 2>&1 ||
    fail "sqlite3 not installed (scripts/deps.txt lists it)"

NOTIFY_SOCK=$T_DIR/notify.sock
NOTIFY_LOG=$T_DIR/notify.log
TIMEOUT=6
# The largest gap between two pings: they are due every second.
MAXGAP=1500

# login_script: what a server says up to a logged-in session (popsyncd
# asks CAPA again after login).
login_script()
{
	printf '%s\n' 'S +OK fault server ready' 'R CAPA' 'S +OK' 'S USER' \
	    'S UIDL' 'S PIPELINING' 'S .' 'R USER alice' 'S +OK' 'R PASS *' \
	    'S +OK logged in' 'R CAPA' 'S +OK' 'S USER' 'S UIDL' \
	    'S PIPELINING' 'S .'
}

# stall_conf: NAME [KEY=VALUE...]: $T_DIR/NAME.conf for the fault server
# NAME: cleartext USER/PASS, one poll (interval 3600), timeout $TIMEOUT.
stall_conf()
{
	local name=$1 port=${1}_PORT
	shift
	write_config "$T_DIR/$name.conf" "$name" host=127.0.0.1 \
	    port="${!port}" tls=none allow_plaintext_auth=true auth=user \
	    interval=3600 timeout="$TIMEOUT" "$@"
}

# stall_start: NAME: the daemon on NAME.conf, under the watchdog; waits
# for READY=1 and for the server's first connection (the first poll comes
# after a jitter of up to 5 s), then marks the notifications.
stall_start()
{
	notify_mark
	daemon_start "$T_DIR/$1.conf" WATCHDOG_USEC=2000000 WATCHDOG_PID=self
	wait_notify 'READY=1' 5
	wait_file "$T_DIR/$1.tr" '^--- connection 1' 10
	notify_mark
}

# stall_stop: NAME WHAT: SIGTERM, then check the stop time (timeout + 2 s),
# the pings from the mark to STOPPING=1, and that the Maildir holds nothing
# new or half-written.
stall_stop()
{
	local name=$1 what=$2
	kill -TERM "$DAEMON_PID"
	daemon_wait $((TIMEOUT + 2))
	assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM ($what)"
	wait_notify 'STOPPING=1' 1
	watchdog_gap "$MARK" "$NLINE"
	[ "$PINGS" -ge 2 ] || fail "$what: only $PINGS WATCHDOG=1 during the stall"
	[ "$GAP" -le "$MAXGAP" ] ||
	    fail "$what: no WATCHDOG=1 for $GAP ms (due every 1000 ms)"
	maildir_empty "$name"
	ok "$what: WATCHDOG=1 went on ($PINGS pings, largest gap $GAP ms); SIGTERM: exit 0 in $DAEMON_MS ms (bound $((TIMEOUT + 2)) s)"
	server_stop "$name"
}

# maildir_empty: NAME: nothing in the account's new/ or tmp/.
maildir_empty()
{
	local d
	for d in new tmp; do
		[ -z "$(ls -A "$T_DIR/dest/$1/$d" 2>/dev/null)" ] ||
		    fail "$1: left in $d/: $(ls "$T_DIR/dest/$1/$d")"
	done
}

notify_start

# --- 1. a server that accepts and never greets --------------------------------

echo 'SLEEP 30' >"$T_DIR/silent.script"
server_start silent "$T_DIR/silent.script"
stall_conf silent
stall_start silent
sleep 3
stall_stop silent "no greeting"

# --- 2. a TLS handshake that never finishes -----------------------------------

# The server takes the connection and never answers the ClientHello.
server_start hs "$T_DIR/silent.script"
write_config "$T_DIR/hs.conf" hs host=127.0.0.1 port="$hs_PORT" \
    tls=implicit interval=3600 timeout="$TIMEOUT"
stall_start hs
sleep 3
stall_stop hs "TLS handshake never answered"

# --- 3. a password_command slower than the watchdog interval ------------------

# 4 s, twice WATCHDOG_USEC: the sync waits it out and logs in.
{
	printf '%s\n' 'S +OK fault server ready' 'R CAPA' 'S +OK' 'S USER' \
	    'S UIDL' 'S .' 'R USER alice' 'S +OK' 'R PASS slow-secret' \
	    'S +OK logged in' 'R CAPA' 'S +OK' 'S USER' 'S UIDL' 'S .' \
	    'R LIST' 'S +OK' 'S .' 'R UIDL' 'S +OK' 'S .' \
	    'R QUIT' 'S +OK bye'
} >"$T_DIR/pw.script"
server_start pw "$T_DIR/pw.script"
stall_conf pw password= password_command="sleep 4; echo slow-secret"
stall_start pw
wait_notify 'STATUS=.*last: pw ok' 15
watchdog_gap "$MARK" "$NLINE"
[ "$GAP" -le "$MAXGAP" ] ||
    fail "slow password_command: no WATCHDOG=1 for $GAP ms"
grep -q '^C: PASS slow-secret' "$T_DIR/pw.tr" ||
    fail "the secret never reached the server: $(tail -3 "$T_DIR/pw.tr")"
ok "password_command of 4 s (watchdog 2 s): the login succeeds, WATCHDOG=1 went on ($PINGS pings, largest gap $GAP ms)"
kill -TERM "$DAEMON_PID"
daemon_wait 3
server_stop pw

# SIGTERM while the command runs: the daemon stops at once and the
# command's whole process group (here a grandchild sleep) is killed.
server_start pw2 "$T_DIR/pw.script"
stall_conf pw2 password= \
    password_command="sleep 30 & echo \$! >$T_DIR/pw2.pid; wait; echo x"
stall_start pw2
sleep 2
stall_stop pw2 "slow password_command"
pid=$(cat "$T_DIR/pw2.pid")
[ -n "$pid" ] || fail "the password_command wrote no pid"
for i in $(seq 1 40); do
	alive "$pid" || break
	sleep 0.05
done
alive "$pid" && fail "password_command's child $pid still runs after SIGTERM"
grep -q 'password_command stopped' "$DAEMON_ERR" ||
    fail "no 'password_command stopped' in the log: $(tail -3 "$DAEMON_ERR")"
ok "SIGTERM during password_command: its process group is gone"

# --- 4. a trickled listing ----------------------------------------------------

# A LIST line every 0.4 s: never a timeout (3 s), never an empty slice.
{
	login_script
	printf '%s\n' 'R LIST' 'S +OK'
	for i in $(seq 1 40); do
		printf 'S %d 100\nSLEEP 0.4\n' "$i"
	done
	printf '%s\n' 'S .'
} >"$T_DIR/trickle.script"
server_start trickle "$T_DIR/trickle.script"
TIMEOUT=3 stall_conf trickle
stall_start trickle
wait_file "$T_DIR/trickle.tr" '^S: 8 100$' 10
TIMEOUT=3 stall_stop trickle "trickled listing"

# --- 5. a listing of 200,000 lines --------------------------------------------

# LIST and UIDL of 200,000 messages each, parsed and merged as they come;
# the UIDL listing then stalls and the server hangs up, so the sync ends
# there: the point is the listing (planning and the ledger come after it).
# The daemon must show life all through.
{
	login_script
	printf '%s\n' 'R LIST' 'S +OK' 'LISTING 200000 LIST' 'R UIDL' 'S +OK' \
	    'LISTING 200000 UIDL open' 'SLEEP 2' 'DROP'
} >"$T_DIR/big.script"
server_start big "$T_DIR/big.script"
stall_conf big
stall_start big
now_ms
t0=$NOW
wait_notify 'STATUS=.*(last: big|failing [(]big)' 120
now_ms
watchdog_gap "$MARK" "$NLINE"
say "200,000-line listing: sync done in $((NOW - t0)) ms, $PINGS pings, largest gap $GAP ms"
grep -q '^S: <200000 UIDL lines>' "$T_DIR/big.tr" ||
    fail "the server did not send the listing: $(tail -3 "$T_DIR/big.tr")"
[ "$GAP" -le "$MAXGAP" ] ||
    fail "200,000-line listing: no WATCHDOG=1 for $GAP ms"
ok "200,000-line listing: WATCHDOG=1 went on ($PINGS pings, largest gap $GAP ms)"
kill -TERM "$DAEMON_PID"
daemon_wait 5
server_stop big

# --- 6. a stop while pipelined RETRs are in flight ----------------------------

# 12 messages; the client has RETR 1-8 in flight when message 1 stalls.
# SIGTERM then: message 1 is finished; RETR 9 and later are never sent,
# and the replies in flight are not read: the link is closed, no QUIT.
{
	login_script
	printf '%s\n' 'R LIST' 'S +OK'
	for i in $(seq 1 12); do printf 'S %d 60\n' "$i"; done
	printf '%s\n' 'S .' 'R UIDL' 'S +OK'
	for i in $(seq 1 12); do printf 'S %d pipe-%d\n' "$i" "$i"; done
	printf '%s\n' 'S .'
	for i in $(seq 1 8); do printf 'R RETR %d\n' "$i"; done
	printf '%s\n' 'S +OK 60 octets' 'S Subject: pipe 1' 'S ' 'S first' \
	    'SLEEP 3' 'S second' 'S .' 'S +OK 60 octets' 'S Subject: pipe 2' \
	    'S ' 'S body' 'S .' 'SLEEP 5'
} >"$T_DIR/pipe.script"
server_start pipe "$T_DIR/pipe.script"
stall_conf pipe keep=false
notify_mark
daemon_start "$T_DIR/pipe.conf" WATCHDOG_USEC=2000000 WATCHDOG_PID=self
wait_file "$T_DIR/pipe.tr" '^SLEEP 3' 15
# Message 1 is being written once its file is in tmp/.
for i in $(seq 1 100); do
	[ -n "$(ls -A "$T_DIR/dest/pipe/tmp" 2>/dev/null)" ] && break
	sleep 0.02
done
[ -n "$(ls -A "$T_DIR/dest/pipe/tmp" 2>/dev/null)" ] ||
    fail "message 1 never reached tmp/"
kill -TERM "$DAEMON_PID"
daemon_wait $((TIMEOUT + 2))
assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM with RETRs in flight"
n=$(find "$T_DIR/dest/pipe/new" -type f | wc -l)
assert_eq "$n" 1 "messages in new/ after the stop"
grep -q '^second$' "$(find "$T_DIR/dest/pipe/new" -type f)" ||
    fail "message 1 was not finished: $(cat "$(find "$T_DIR/dest/pipe/new" -type f)")"
[ -z "$(ls -A "$T_DIR/dest/pipe/tmp")" ] || fail "left in tmp/"
sleep 1
for c in 'RETR 9' DELE QUIT; do
	assert_not_in "$T_DIR/pipe.tr" "^C: $c"
done
expect_rc "--status after the stop" 0 "$POPSYNCD" -c "$T_DIR/pipe.conf" \
    --status
assert_eq "$(sed -n 's/.* \([0-9][0-9]*\) delivered in all.*/\1/p' "$T_DIR/out")" 1 \
    "messages the ledger has delivered"
ok "SIGTERM with 8 RETRs in flight: message 1 finished and recorded, no RETR 9, no DELE, no QUIT; exit in $DAEMON_MS ms"
server_stop pipe

# --- 7. --once and two Ctrl-C's against a server that never greets -----------

server_start once "$T_DIR/silent.script"
TIMEOUT=60 stall_conf once
"$POPSYNCD" -c "$T_DIR/once.conf" --once >"$T_DIR/once.out" \
    2>"$T_DIR/once.err" &
ONCE_PID=$!
kill_at_exit ONCE_PID
wait_file "$T_DIR/once.tr" '^--- connection 1' 10
sleep 0.3
now_ms
t0=$NOW
kill -INT "$ONCE_PID"
sleep 0.2
kill -INT "$ONCE_PID"
for i in $(seq 1 100); do
	alive "$ONCE_PID" || break
	sleep 0.02
done
now_ms
alive "$ONCE_PID" && fail "--once still runs $((NOW - t0)) ms after two SIGINTs"
rc=0
wait "$ONCE_PID" || rc=$?
ONCE_PID=
assert_eq "$rc" 1 "--once exit status after two SIGINTs"
[ $((NOW - t0)) -lt 2000 ] || fail "--once took $((NOW - t0)) ms to stop"
no_sanitizer "$T_DIR/once.err"
assert_eq "$(sqlite3 "$T_DIR/state.db" 'PRAGMA integrity_check;')" ok \
    "state database integrity"
expect_rc "--status after the abort" 0 "$POPSYNCD" -c "$T_DIR/once.conf" --status
maildir_empty once
ok "--once, two SIGINTs, no greeting (timeout 60): exit 1 within $((NOW - t0)) ms, ledger intact, Maildir empty"
server_stop once

kill -TERM $NOTIFY_PID
wait $NOTIFY_PID 2>/dev/null
NOTIFY_PID=

done_testing
