#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# The daemon under a stand-in for systemd (tests/integration/notifyrecv on
# NOTIFY_SOCKET) and scripted fault servers: READY=1 with STATUS= before
# the first poll; a STATUS= naming the account after each sync, ok or
# failed; WATCHDOG=1 only when WATCHDOG_USEC is meant for us, every
# WATCHDOG_USEC/2 even while a slow server stalls a RETR body;
# RELOADING=1 then READY=1 on SIGHUP, for a rejected config as for a good
# one; an account added by SIGHUP is polled; STOPPING=1 first on SIGTERM,
# and a sync stalled mid-message finishes that message, sends no DELE,
# QUITs, and the daemon exits 0 within the account's timeout + 2 s; a
# CAPA LOGIN-DELAY spaces the polls more than the interval does.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_daemon.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D" "$NOTIFYRECV"

NOTIFY_SOCK=$T_DIR/notify.sock
NOTIFY_LOG=$T_DIR/notify.log

# --- helpers: fault scripts --------------------------------------------------

# slow_script: UIDL STALL: a session with one message (UIDL) whose RETR
# body stops for STALL seconds half-way; then only QUIT is accepted, so a
# DELE shows up as a MISMATCH in the transcript.  The message as it
# should land in the Maildir goes to $T_DIR/UIDL.want.
slow_script()
{
	local uidl=$1 stall=$2 l size=0
	local -a body=("From: fault@example.org" "Subject: stalled $uidl"
	    "Message-ID: <$uidl@popsyncd.test>" "" "first half of $uidl")
	local -a rest=("second half of $uidl" "end")
	for l in "${body[@]}" "${rest[@]}"; do
		size=$((size + ${#l} + 2))
	done
	printf '%s\n' "${body[@]}" "${rest[@]}" >"$T_DIR/$uidl.want"
	{
		printf '%s\n' 'S +OK fault server ready' 'R CAPA' 'S +OK' \
		    'S USER' 'S UIDL' 'S .' 'R USER alice' 'S +OK' 'R PASS *' \
		    'S +OK logged in' 'R CAPA' 'S +OK' 'S USER' 'S UIDL' 'S .' \
		    'R LIST' 'S +OK 1 message' "S 1 $size" \
		    'S .' 'R UIDL' 'S +OK' "S 1 $uidl" 'S .' 'R RETR 1' \
		    "S +OK $size octets"
		for l in "${body[@]}"; do
			printf 'S %s\n' "$l"
		done
		printf 'SLEEP %s\n' "$stall"
		for l in "${rest[@]}"; do
			printf 'S %s\n' "$l"
		done
		printf '%s\n' 'S .' 'R QUIT' 'S +OK bye'
	} >"$T_DIR/$uidl.script"
}

# only_file: DIR: the one file in DIR/new, or fail.
only_file()
{
	local f n
	n=$(find "$1/new" -type f 2>/dev/null | wc -l)
	[ "$n" -eq 1 ] || fail "$1/new holds $n files, expected 1"
	f=$(find "$1/new" -type f)
	echo "$f"
}

notify_start

# --- 1. watchdog not meant for us; a failed sync's STATUS ---------------------

# An account on a closed port: the first poll fails (connection refused).
DOWN_PORT=$(free_port)
write_config "$T_DIR/down.conf" down host=127.0.0.1 port="$DOWN_PORT" \
    tls=none allow_plaintext_auth=true auth=user interval=10 timeout=2
MARK=0
daemon_start "$T_DIR/down.conf" WATCHDOG_USEC=2000000 WATCHDOG_PID=1
wait_notify 'READY=1' 5
ready=$NLINE
# READY=1 and STATUS= travel in one datagram: same time stamp, adjacent.
awk -v r="$ready" 'NR == r - 1 || NR == r + 1' "$NOTIFY_LOG" |
    grep -Eq "^$NTIME STATUS=." ||
    fail "READY=1 came without a STATUS= in the same message"
ok "READY=1 with a STATUS= once the config is loaded"

# Polled within min(interval/10, 5) = 1 s of the start.
wait_notify 'STATUS=1 account, 1 failing [(]down: connect to 127[.]0[.]0[.]1:[0-9]+ failed.*[)]; next poll [0-2][0-9]:[0-5][0-9]$' 5
ok "STATUS= after a failed sync counts and names the failing account: $(sed -n "${NLINE}p" "$NOTIFY_LOG" | cut -d' ' -f2-)"
awk -v r="$ready" 'NR < r && / STATUS=.*(failing|last: [^n])/' "$NOTIFY_LOG" | grep -q . &&
    fail "a sync was reported before READY=1"
ok "READY=1 precedes the first sync"

sleep 2.5
grep -q ' WATCHDOG=1$' "$NOTIFY_LOG" &&
    fail "WATCHDOG=1 sent although WATCHDOG_PID names another process"
ok "no WATCHDOG=1 when WATCHDOG_PID is not our pid"

notify_mark
kill -TERM "$DAEMON_PID"
daemon_wait 5
assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM (idle daemon)"
wait_notify 'STOPPING=1' 1
ok "idle daemon: SIGTERM gives STOPPING=1 and exit 0 in $DAEMON_MS ms"

# --- 2. watchdog pings while a RETR stalls ------------------------------------

# A 5 s stall in the body, below the 10 s timeout: the sync must wait it
# out and succeed, and the watchdog must keep being fed meanwhile.
slow_script slow-1 5
server_start slow "$T_DIR/slow-1.script"
write_config "$T_DIR/main.conf" slow host=127.0.0.1 port="$slow_PORT" \
    tls=none allow_plaintext_auth=true auth=user interval=30 timeout=10
cp "$T_DIR/main.conf" "$T_DIR/main-1.conf"
notify_mark
start_line=$MARK
daemon_start "$T_DIR/main.conf" WATCHDOG_USEC=2000000 WATCHDOG_PID=self
wait_notify 'READY=1' 5
t_ready=$NTIME
# Jitter up to 3 s, a 5 s stall: 8 s and change.
wait_notify 'STATUS=1 account; syncing slow$' 5
ok "STATUS= says which account is syncing while it runs"
wait_notify 'STATUS=.*last: slow' 15
t_synced=$NTIME
sed -n "${NLINE}p" "$NOTIFY_LOG" |
    grep -Eq ' STATUS=1 accounts?; last: slow ok, 1 new; next poll [0-2][0-9]:[0-5][0-9]$' ||
    fail "STATUS= after the sync: $(sed -n "${NLINE}p" "$NOTIFY_LOG")"
ok "STATUS= after a sync names the account, its new mail and the next poll"
grep -q '^SLEEP 5' "$T_DIR/slow.tr" || fail "the server never stalled"
assert_same_file "$(only_file "$T_DIR/dest/slow")" "$T_DIR/slow-1.want" \
    "the stalled message"
ok "the message stalled for 5 s (timeout 10) is delivered whole"

# From READY=1 to the end of the sync (at least the 5 s stall), WATCHDOG=1
# every ~1 s: WATCHDOG_USEC=2000000 / 2.  The band: no gap over 2 s
# (counting from READY=1 and up to the end), at least window/1 s - 2
# pings and at least 4, and at most two per second (no busy loop).
awk -v a="$start_line" -v t0="$t_ready" -v t1="$t_synced" '
	NR > a && $2 == "WATCHDOG=1" && $1 >= t0 && $1 <= t1 { print $1 }
' "$NOTIFY_LOG" >"$T_DIR/pings"
npings=$(wc -l <"$T_DIR/pings")
window=$((t_synced - t_ready))
[ "$window" -ge 5000 ] || fail "READY to sync end took $window ms, the stall alone is 5000"
maxgap=$(awk -v t0="$t_ready" -v t1="$t_synced" '
	{ if ($1 - p > g) g = $1 - p; p = $1 }
	BEGIN { p = t0; g = 0 }
	END { if (t1 - p > g) g = t1 - p; print g }' "$T_DIR/pings")
say "watchdog: $npings pings in $window ms, largest gap $maxgap ms"
[ "$npings" -ge 4 ] && [ "$npings" -ge $((window / 1000 - 2)) ] ||
    fail "only $npings WATCHDOG=1 in $window ms (WATCHDOG_USEC=2000000)"
[ "$npings" -le $((window / 500 + 2)) ] ||
    fail "$npings WATCHDOG=1 in $window ms: more than twice the rate asked"
[ "$maxgap" -le 2000 ] ||
    fail "no WATCHDOG=1 for $maxgap ms (WATCHDOG_USEC=2000000)"
ok "WATCHDOG=1 every ~1 s while a RETR stalls: $npings in $window ms, largest gap $maxgap ms"

# --- 3. SIGHUP: rejected and accepted reloads -----------------------------------

# A syntax error on line 3: rejected, logged with FILE:LINE, and systemd
# still hears RELOADING=1 then READY=1.
{
	echo "# broken on purpose"
	echo "state_db = \"$T_DIR/state.db\";"
	echo "interval = = 5;"
} >"$T_DIR/main.conf"
chmod 600 "$T_DIR/main.conf"
notify_mark
kill -HUP "$DAEMON_PID"
wait_notify 'READY=1' 5
wait_notify 'RELOADING=1' 0
[ "$NLINE" -lt "$(awk -v a="$MARK" 'NR > a && $2 == "READY=1" { print NR; exit }' "$NOTIFY_LOG")" ] ||
    fail "READY=1 came before RELOADING=1"
wait_log "reload: $T_DIR/main.conf:3: .*keeping the old config" 2
ok "rejected reload: RELOADING=1 then READY=1, error with FILE:LINE logged"

# Now a good config that adds an account on a second server whose RETR
# stalls for 8 s; keep = false, so a DELE would be due after delivery.
slow_script term-1 8
server_start term "$T_DIR/term-1.script"
{
	sed '/^);$/d' "$T_DIR/main-1.conf"
	echo ","
	# localhost, not 127.0.0.1: one account per mailbox (host, user).
	account_block term host=localhost port="$term_PORT" tls=none \
	    allow_plaintext_auth=true auth=user interval=30 timeout=10 keep=false
	echo
	echo ");"
} >"$T_DIR/main.conf"
chmod 600 "$T_DIR/main.conf"
"$POPSYNCD" -c "$T_DIR/main.conf" --check-config >"$T_DIR/out" 2>"$T_DIR/err" ||
    fail "the two-account config does not check"
notify_mark
kill -HUP "$DAEMON_PID"
wait_notify 'READY=1' 5
ready=$NLINE
wait_notify 'RELOADING=1' 0
[ "$NLINE" -lt "$ready" ] || fail "READY=1 came before RELOADING=1"
ok "accepted reload: RELOADING=1 then READY=1"

# --- 4. SIGTERM in the middle of a stalled message ---------------------------

# The added account is polled at once (jitter <= 3 s) and stalls.
wait_file "$T_DIR/term.tr" '^SLEEP 8' 6
ok "the account added by SIGHUP is polled"
sleep 0.5
notify_mark
kill -TERM "$DAEMON_PID"
# The spec's bound: the account's timeout (10 s) + 2 s.
daemon_wait 12
assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM during a stalled RETR"
wait_notify 'STOPPING=1' 1
first=$(awk -v a="$MARK" 'NR > a && $2 != "WATCHDOG=1" { print $2; exit }' "$NOTIFY_LOG")
assert_eq "$first" STOPPING=1 "first notification after SIGTERM"
ok "SIGTERM during a stalled RETR: STOPPING=1 first, exit 0 after $DAEMON_MS ms (bound 12000)"

grep -q '^C: QUIT' "$T_DIR/term.tr" || fail "no QUIT after SIGTERM: $(tail -5 "$T_DIR/term.tr")"
assert_not_in "$T_DIR/term.tr" '^C: DELE'
assert_not_in "$T_DIR/term.tr" '^MISMATCH'
assert_same_file "$(only_file "$T_DIR/dest/term")" "$T_DIR/term-1.want" \
    "the message being written at SIGTERM"
ok "the message being written is finished, no DELE sent, the session ends with QUIT"

# --- 5. LOGIN-DELAY from CAPA sets the pace --------------------------------

# interval = 1, but the server says LOGIN-DELAY 4: in 6 s two logins (at 0
# and at 4 s), where interval alone would give six.
printf '%s\n' 'S +OK fault server ready' 'R CAPA' 'S +OK' 'S USER' \
    'S UIDL' 'S LOGIN-DELAY 4' 'S .' 'R USER alice' 'S +OK' 'R PASS *' \
    'S +OK logged in' 'R CAPA' 'S +OK' 'S USER' 'S UIDL' \
    'S LOGIN-DELAY 4' 'S .' 'R LIST' 'S +OK 0 messages' 'S .' 'R UIDL' 'S +OK' \
    'S .' 'R QUIT' 'S +OK bye' >"$T_DIR/delay.script"
server_start delay "$T_DIR/delay.script" -n 20
write_config "$T_DIR/delay.conf" delay host=127.0.0.1 port="$delay_PORT" \
    tls=none allow_plaintext_auth=true auth=user interval=1 timeout=5
daemon_start "$T_DIR/delay.conf"
wait_file "$T_DIR/delay.tr" '^--- connection 1' 5
sleep 6
kill -TERM "$DAEMON_PID"
daemon_wait 5
logins=$(grep -c '^C: PASS' "$T_DIR/delay.tr")
[ "$logins" -eq 2 ] ||
    fail "$logins logins in 6 s under LOGIN-DELAY 4 with interval 1, expected 2"
grep -q '^MISMATCH' "$T_DIR/delay.tr" && fail "delay transcript: $(grep -B3 MISMATCH "$T_DIR/delay.tr")"
ok "CAPA LOGIN-DELAY 4 beats interval 1: $logins logins in 6 s"

# --- 6. SIGTERM while a server trickles a message --------------------------

# One line a second, timeout 3: no wait ever times out and the message
# would take 40 s.  The daemon must give up on it once the account's
# timeout has passed after SIGTERM, and exit 0; nothing reaches new/.
{
	printf '%s\n' 'S +OK fault server ready' 'R CAPA' 'S +OK' 'S USER' \
	    'S UIDL' 'S .' 'R USER alice' 'S +OK' 'R PASS *' 'S +OK logged in' \
	    'R CAPA' 'S +OK' 'S USER' 'S UIDL' 'S .' \
	    'R LIST' 'S +OK 1 message' 'S 1 2000' 'S .' 'R UIDL' 'S +OK' \
	    'S 1 trickle-1' 'S .' 'R RETR 1' 'S +OK 2000 octets' \
	    'S Subject: trickle' 'S '
	for i in $(seq 1 40); do
		printf 'S line %d\nSLEEP 1\n' "$i"
	done
	printf '%s\n' 'S .' 'R QUIT' 'S +OK bye'
} >"$T_DIR/trickle.script"
server_start trickle "$T_DIR/trickle.script"
write_config "$T_DIR/trickle.conf" trickle host=127.0.0.1 \
    port="$trickle_PORT" tls=none allow_plaintext_auth=true auth=user \
    interval=60 timeout=3 keep=false
daemon_start "$T_DIR/trickle.conf"
wait_file "$T_DIR/trickle.tr" '^S: line 3$' 10
kill -TERM "$DAEMON_PID"
# timeout (3 s) to notice, up to a second each to break off and for the
# connection to see it, a little slack.
daemon_wait 7
assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM during a trickle"
grep -q 'stopping: syncs still running after the timeout; breaking off' \
    "$DAEMON_ERR" || fail "no break-off logged: $(tail -3 "$DAEMON_ERR")"
[ -z "$(ls -A "$T_DIR/dest/trickle/new" 2>/dev/null)" ] ||
    fail "a cut message reached new/: $(ls "$T_DIR/dest/trickle/new")"
[ -z "$(ls -A "$T_DIR/dest/trickle/tmp" 2>/dev/null)" ] ||
    fail "left in tmp/: $(ls "$T_DIR/dest/trickle/tmp")"
assert_not_in "$T_DIR/trickle.tr" '^C: DELE'
ok "SIGTERM during a trickling RETR: broken off after the timeout, exit 0 in $DAEMON_MS ms, nothing in new/ or tmp/, no DELE"
server_stop trickle

kill -TERM $NOTIFY_PID
wait $NOTIFY_PID 2>/dev/null
NOTIFY_PID=
[ -s "$T_DIR/slow.err" ] && fail "faultpop3d slow: $(cat "$T_DIR/slow.err")"
grep -q '^MISMATCH' "$T_DIR/slow.tr" && fail "slow transcript: $(grep -B3 MISMATCH "$T_DIR/slow.tr")"
no_sanitizer "$DAEMON_ERR"

done_testing
