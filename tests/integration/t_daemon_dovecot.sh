#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# The daemon against a real dovecot: mail added while it runs (interval
# 2) is delivered within an interval; SIGHUP adding an account (bob) and
# raising alice's interval to 3600 takes effect; SIGUSR1 then polls at
# once; a broken config on SIGHUP is rejected with FILE:LINE and the old
# one keeps delivering.  Meanwhile a second daemon polls a server that
# hangs up on every connection (interval 1): its attempts back off
# (1, 2, 4, 8 s: ~4 in 12 s, not hundreds) and the identical error is
# logged once.  Last, SIGTERM in the middle of a 300-message sync with
# keep = false: prompt exit 0, nothing twice, nothing deleted that was
# not delivered, and a --once rerun completes it byte for byte.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_daemon.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D"
start_dovecot

DOWN_PID=
KILLER_PID=
kill_at_exit DOWN_PID KILLER_PID
shopt -s nullglob

# --- helpers ------------------------------------------------------------------

# dest_count: NAME: files delivered to NAME's Maildir.
dest_count()
{
	local f=("$T_DIR/dest/$1"/new/* "$T_DIR/dest/$1"/cur/*)
	echo "${#f[@]}"
}

# wait_dest: NAME N SECS: until NAME's Maildir holds N files; the time it
# took in WAITED_MS.
wait_dest()
{
	local start
	now_ms
	start=$NOW
	while [ "$(dest_count "$1")" -lt "$2" ]; do
		now_ms
		[ $((NOW - start)) -lt $(($3 * 1000)) ] ||
		    fail "$1's Maildir holds $(dest_count "$1") files after $3 s, expected $2"
		sleep 0.05
	done
	now_ms
	WAITED_MS=$((NOW - start))
}

# same_set: DEST-DIR USER DESC: DEST-DIR's new/ + cur/ hold exactly USER's
# seeded messages, each once, byte for byte.
same_set()
{
	sums "$T_DIR/want.sums" "$T_DIR/seeded/$2"
	sums "$T_DIR/got.sums" "$1/new" "$1/cur"
	cmp -s "$T_DIR/want.sums.h" "$T_DIR/got.sums.h" ||
	    fail "$3: the Maildir holds $(wc -l <"$T_DIR/got.sums.h") files, not the $(wc -l <"$T_DIR/want.sums.h") seeded ones ($(comm -3 "$T_DIR/want.sums.h" "$T_DIR/got.sums.h" | wc -l) differ)"
}

# --- backoff, in a second daemon that runs alongside ---------------------------

# A server that accepts and hangs up at once: a temporary failure (E_IO)
# on every poll.  faultpop3d -n serves the connections one by one and
# marks each in its transcript.
echo DROP >"$T_DIR/drop.script"
server_start drop "$T_DIR/drop.script" -n 200
write_config_multi "$T_DIR/down.conf" "down host=127.0.0.1 port=$drop_PORT tls=none allow_plaintext_auth=true auth=user interval=1 timeout=2"
sed -i "s|^state_db = .*|state_db = \"$T_DIR/down.db\";|" "$T_DIR/down.conf"
"$POPSYNCD" -c "$T_DIR/down.conf" >"$T_DIR/down.out" 2>"$T_DIR/down.err" &
DOWN_PID=$!
# SIGTERM after 12 s, whatever the rest of the test is doing then.
(sleep 12; kill -TERM "$DOWN_PID") &
KILLER_PID=$!

# --- mail added while the daemon runs ----------------------------------------

seed_message alice generated 1
write_config_multi "$T_DIR/d.conf" "alice port=$POP3S_PORT interval=2"
daemon_start "$T_DIR/d.conf"
# The first poll: at once (jitter min(2/10, 5) s rounds to 0).
wait_polls alice 1 5
grep -Eq '(^|: )alice: 1 new, 0 skipped, 0 deleted, 0 errors \([^)]* in [0-9.]+ s\)' "$DAEMON_ERR" ||
    fail "no summary line 'alice: 1 new, 0 skipped, 0 deleted, 0 errors (... in ... s)'"
same_set "$T_DIR/dest/alice" alice "first poll"
ok "the first poll comes at once and logs 'alice: 1 new, ...'"

# Right after a poll is the worst case: the next is interval (2 s) + a
# jitter of 0..interval/10 (0 s) away; 1.5 s of slack for the sync
# itself and a slow machine.
p=$(polls alice)
wait_polls alice $((p + 1)) 5
seed_message alice generated 1
wait_dest alice 2 6
[ "$WAITED_MS" -le 3500 ] ||
    fail "mail added while the daemon ran took $WAITED_MS ms to arrive (interval 2 s)"
same_set "$T_DIR/dest/alice" alice "mail added while running"
ok "mail added while the daemon runs is delivered within the interval (${WAITED_MS} ms, interval 2 s)"

# --- SIGHUP: bob added, alice's interval raised -------------------------------

seed_message bob generated 2
write_config_multi "$T_DIR/d.conf" "alice port=$POP3S_PORT interval=3600" \
    "bob port=$POP3S_PORT user=bob password=$BOB_PASS interval=3600"
kill -HUP "$DAEMON_PID"
# Polled at once, within a jitter of min(3600/10, 5) s.
wait_polls bob 1 8
wait_dest bob 2 2
same_set "$T_DIR/dest/bob" bob "bob after SIGHUP"
ok "SIGHUP adding bob: bob is polled and his Maildir fills"

# From alice's next poll on, 3600 s: give any poll still due under the
# old 2 s schedule time to pass, then none may follow.
sleep 2.5
p=$(polls alice)
seed_message alice generated 1
sleep 3
[ "$(polls alice)" -eq "$p" ] ||
    fail "alice was polled $(($(polls alice) - p)) more times in 3 s after SIGHUP set interval = 3600"
[ "$(dest_count alice)" -eq 2 ] || fail "alice's new mail arrived without a poll"
ok "the reloaded interval (3600) holds: no poll of alice for 3 s"

pb=$(polls bob)
now_ms
t_usr1=$NOW
kill -USR1 "$DAEMON_PID"
wait_polls alice $((p + 1)) 3
wait_dest alice 3 2
now_ms
same_set "$T_DIR/dest/alice" alice "after SIGUSR1"
wait_polls bob $((pb + 1)) 3
ok "SIGUSR1 polls every account at once: alice's mail in $((NOW - t_usr1)) ms"

# --- SIGHUP with a broken config ---------------------------------------------

# A port out of range in alice's block: a semantic error, with its line.
write_config_multi "$T_DIR/d.conf" "alice port=70000 interval=3600" \
    "bob port=$POP3S_PORT user=bob password=$BOB_PASS interval=3600"
line=$(grep -n 'port = 70000;' "$T_DIR/d.conf" | cut -d: -f1)
kill -HUP "$DAEMON_PID"
wait_log "error: reload: $T_DIR/d.conf:$line: .*port.*; keeping the old config" 3
ok "a broken config on SIGHUP: 'error: reload: FILE:$line: ...; keeping the old config'"

seed_message alice generated 1
p=$(polls alice)
kill -USR1 "$DAEMON_PID"
wait_polls alice $((p + 1)) 3
wait_dest alice 4 2
same_set "$T_DIR/dest/alice" alice "after the rejected reload"
ok "the old config keeps running: mail still delivered after the rejected reload"

kill -TERM "$DAEMON_PID"
daemon_wait 12
assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM"
ok "SIGTERM: exit 0 in $DAEMON_MS ms"

# --- backoff -----------------------------------------------------------------

wait "$KILLER_PID" 2>/dev/null
KILLER_PID=
rc=0
wait "$DOWN_PID" || rc=$?
DOWN_PID=
server_stop drop
no_sanitizer "$T_DIR/down.err"
assert_eq "$rc" 0 "the backoff daemon's exit status after SIGTERM"
attempts=$(grep -c '^--- connection' "$T_DIR/drop.tr")
errors=$(grep -c 'error: .*down' "$T_DIR/down.err")
say "backoff: $attempts connections before the SIGTERM at 12 s, $errors error line(s)"
# Polls at 0, 1, 3, 7 (then 15) s: 4 in 12 s.  Without backoff (every
# 1 s) it would be 12, a busy loop hundreds, a permanent failure 1.
[ "$attempts" -ge 3 ] && [ "$attempts" -le 6 ] ||
    fail "$attempts connections in 12 s with interval 1; backoff 1, 2, 4, 8 s gives 4"
ok "temporary failures back off: $attempts attempts in 12 s (interval 1: 1, 2, 4, 8 s)"
[ "$errors" -eq 1 ] ||
    fail "the same failure logged at error level $errors times: $(grep 'error: ' "$T_DIR/down.err" | head -3)"
grep -Eq 'error: down: .*\(temporary; next poll in 1 s\)$' "$T_DIR/down.err" ||
    fail "the error line does not say temporary and when: $(grep 'error: ' "$T_DIR/down.err" | head -1)"
ok "the identical repeated failure is logged at error level once, as temporary, with the next poll"

# --- SIGTERM in the middle of a big sync --------------------------------------

seed_bulk alice 300
n_all=$(ls "$T_DIR/seeded/alice" | wc -l)
sums "$T_DIR/seeded.sums" "$T_DIR/seeded/alice"
[ -z "$(uniq -d "$T_DIR/seeded.sums.h")" ] || fail "two seeded messages are equal"
# A state database of its own: bulk names the mailbox alice@localhost,
# whose ledger the earlier accounts filled (the ledger follows the mailbox).
STATE_DB=$T_DIR/bulk.db write_config_multi "$T_DIR/bulk.conf" \
    "bulk port=$POP3S_PORT interval=3600 keep=false"
daemon_start "$T_DIR/bulk.conf"
while [ "$(dest_count bulk)" -lt 20 ]; do
	alive || fail "popsyncd exited during the bulk sync"
	sleep 0.01
done
kill -TERM "$DAEMON_PID"
# The bound: the account's timeout (10 s) + 2 s.
daemon_wait 12
assert_eq "$DAEMON_RC" 0 "exit status after SIGTERM mid-sync"
got=$(dest_count bulk)
say "SIGTERM after 20 deliveries: $got of $n_all delivered, exit in $DAEMON_MS ms"
[ "$got" -lt "$n_all" ] ||
    fail "the sync of $n_all messages ended before SIGTERM took effect; nothing was interrupted"
ok "SIGTERM mid-sync ($got of $n_all delivered): exit 0 in $DAEMON_MS ms"

sums "$T_DIR/dest.sums" "$T_DIR/dest/bulk/new" "$T_DIR/dest/bulk/cur"
[ -z "$(uniq -d "$T_DIR/dest.sums.h")" ] || fail "a message was delivered twice"
[ -z "$(comm -23 "$T_DIR/dest.sums.h" "$T_DIR/seeded.sums.h")" ] ||
    fail "a delivered file is no seeded message (partial?)"
sums "$T_DIR/server.sums" "$T_DIR/mail/alice/new" "$T_DIR/mail/alice/cur"
lost=$(comm -23 "$T_DIR/seeded.sums.h" "$T_DIR/server.sums.h" |
    comm -23 - "$T_DIR/dest.sums.h" | wc -l)
[ "$lost" -eq 0 ] ||
    fail "$lost message(s) deleted from the server but not delivered"
ok "after the SIGTERM: nothing partial, nothing twice, nothing deleted that was not delivered ($(wc -l <"$T_DIR/server.sums.h") left on the server)"

expect_rc "--once after the interrupted sync" 0 "$POPSYNCD" -c "$T_DIR/bulk.conf" --once
same_set "$T_DIR/dest/bulk" alice "after the --once rerun"
left=("$T_DIR"/mail/alice/new/* "$T_DIR"/mail/alice/cur/*)
[ "${#left[@]}" -eq 0 ] || fail "keep = false, yet ${#left[@]} message(s) left on the server"
tmp=("$T_DIR"/dest/bulk/tmp/*)
[ "${#tmp[@]}" -eq 0 ] || fail "${#tmp[@]} file(s) left in tmp/"
ok "a --once rerun completes: all $n_all messages exactly once, byte for byte; the server empty"

done_testing
