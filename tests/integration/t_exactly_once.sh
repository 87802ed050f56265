#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Exactly once against odd servers and changed configs (issue 7): UIDLs
# beyond RFC 1939 from a real dovecot; the ledger follows the mailbox
# (host without case, user), not the account name, port or TLS mode; a
# message that never ends is cut off and the rest still arrives; a message
# in only one listing is left alone; an empty listing forgets nothing;
# UTF8 is sent when offered; CAPA is asked again after login.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D"
start_dovecot

# retrs: how many RETR commands the last run's -v trace shows.
retrs()
{
	grep -Ec ': > RETR [0-9]+$' "$T_DIR/err"
}

# files: the messages in Maildir DIR (new/ and cur/).
files()
{
	find "$1/new" "$1/cur" -type f | wc -l
}

# --- 1. UIDLs beyond RFC 1939, from dovecot's own uidlist ---------------------

# 78 octets (as mpopd's file names gave), UTF-8 with '/' and quotes, a
# leading '#', and a case pair: dovecot serves whatever the P field says.
seed_message alice generated 5
dovecot_config odd implicit
expect_rc "first listing" 0 "$POP3CMD" -c "$CONF" -a odd uidl quit
ul=$T_DIR/mail/alice/dovecot-uidlist
[ -s "$ul" ] || fail "dovecot wrote no uidlist"
long=$(printf 'x%.0s' $(seq 1 78))
awk -v l="$long" 'NR == 1 { print; next }
	{ split("1 2 3 4 5", _) }
	NR == 2 { sub(/^[0-9]+ /, "&P" l " ") }
	NR == 3 { sub(/^[0-9]+ /, "&Pcaf\xc3\xa9/\"q\" ") }
	NR == 4 { sub(/^[0-9]+ /, "&P#lead ") }
	NR == 5 { sub(/^[0-9]+ /, "&PCaseX ") }
	NR == 6 { sub(/^[0-9]+ /, "&Pcasex ") }
	{ print }' "$ul" >"$T_DIR/ul.new"
cp "$T_DIR/ul.new" "$ul"
chown "$MAIL_UID:$MAIL_GID" "$ul"
expect_rc "listing with odd UIDLs" 0 "$POP3CMD" -c "$CONF" -a odd uidl quit
assert_out "^UIDL 1 $long\$"
assert_out '^UIDL 2 café/"q"$'
expect_rc "sync of odd UIDLs" 0 "$POPSYNCD" -c "$CONF" --once -v
assert_eq "$(retrs)" 5 "RETRs of the first sync"
assert_eq "$(files "$T_DIR/dest/odd")" 5 "messages delivered"
expect_rc "second sync" 0 "$POPSYNCD" -c "$CONF" --once -v
assert_eq "$(retrs)" 0 "RETRs of the second sync"
ok "UIDLs of 78 octets, UTF-8, '/', quotes, '#', a case pair: all 5 fetched once, kept as sent"

# --- 2. the ledger belongs to the mailbox -------------------------------------

# Renamed, the host in capitals, STLS on 110 instead of TLS on 995, another
# login method: the same mailbox, nothing fetched again.  A separate
# state database and Maildir so that section 1 does not count.
export STATE_DB=$T_DIR/id.db
write_config "$T_DIR/id1.conf" before maildir="$T_DIR/dest/id"
expect_rc "sync as 'before'" 0 "$POPSYNCD" -c "$T_DIR/id1.conf" --once -v
assert_eq "$(retrs)" 5 "RETRs as 'before'"
write_config "$T_DIR/id2.conf" after host=LocalHost port="$POP3_PORT" \
    tls=starttls auth=plain maildir="$T_DIR/dest/id"
expect_rc "check of the renamed account" 0 "$POPSYNCD" -c "$T_DIR/id2.conf" \
    --check-config
expect_rc "sync as 'after'" 0 "$POPSYNCD" -c "$T_DIR/id2.conf" --once -v
assert_eq "$(retrs)" 0 "RETRs after rename, host case, port and TLS change"
assert_eq "$(files "$T_DIR/dest/id")" 5 "messages in the Maildir"
ok "renamed account, host in capitals, STLS on 110: 0 RETR, 5 messages once"

# Another host name is another mailbox: --check-config says so first.
write_config "$T_DIR/id3.conf" after host=127.0.0.1 maildir="$T_DIR/dest/id"
expect_rc "check of the moved account" 0 "$POPSYNCD" -c "$T_DIR/id3.conf" \
    --check-config
assert_err "after: .*alice@127.0.0.1.*alice@localhost|after: .*alice@localhost.*alice@127.0.0.1" \
    "--check-config names the old and the new mailbox"
unset STATE_DB
ok "a changed host: --check-config warns before the run"

# --- 3. a message that never ends is cut off --------------------------------

mkdir -p "$T_DIR/msg"
for i in 1 2 3; do
	gen_message "$i" 5 >"$T_DIR/msg/$i"
done
octets()
{
	echo $(($(wc -c <"$T_DIR/msg/$1") + $(wc -l <"$T_DIR/msg/$1")))
}
body()
{
	sed -e 's/^\./../' -e 's/^/S /' "$T_DIR/msg/$1"
	echo 'S .'
}
greet()
{
	printf 'S +OK fault server ready\nR CAPA\nS +OK\n'
	printf 'S %s\n' USER UIDL "$@" .
	printf 'R USER alice\nS +OK\nR PASS *\nS +OK logged in\n'
	printf 'R CAPA\nS +OK\n'
	printf 'S %s\n' USER UIDL "$@" .
}
SCRIPT=$T_DIR/cut.script
{
	greet
	printf 'R LIST\nS +OK\nS 1 %d\nS 2 %d\nS 3 %d\nS .\n' "$(octets 1)" \
	    "$(octets 2)" "$(octets 3)"
	printf 'R UIDL\nS +OK\nS 1 c1\nS 2 c2\nS 3 c3\nS .\n'
	printf 'R RETR 1\nS +OK\n'
	body 1
	# 2 says it is small and then never ends: 8 MiB, no terminator.
	printf 'R RETR 2\nS +OK\nBODY 40000 200\n'
} >"$SCRIPT"
{
	greet
	printf 'R LIST\nS +OK\nS 1 %d\nS 2 %d\nS 3 %d\nS .\n' "$(octets 1)" \
	    "$(octets 2)" "$(octets 3)"
	printf 'R UIDL\nS +OK\nS 1 c1\nS 2 c2\nS 3 c3\nS .\n'
	printf 'R RETR 3\nS +OK\n'
	body 3
	printf 'R QUIT\nS +OK bye\n'
} >"$SCRIPT.2"
# The first connection runs the script that never ends message 2, the
# second the rest of the sync.
fault_start "$SCRIPT" -s "$SCRIPT.2" -n 2 -w 1
fault_config cut timeout=10
expect_rc "sync with a never-ending message" 0 "$POPSYNCD" -c "$CONF" --once -v
fault_wait
grep -q '^--- connection 2' "$FAULT_TRANSCRIPT" ||
    fail "no second session: $(tail -3 "$FAULT_TRANSCRIPT")"
sed -n '/^--- connection 2/,$p' "$FAULT_TRANSCRIPT" | grep -q '^C: QUIT' ||
    fail "the second session did not end with QUIT"
D=$T_DIR/dest/cut
assert_eq "$(files "$D")" 2 "messages delivered (1 and 3)"
[ -z "$(ls -A "$D/tmp")" ] || fail "tmp/ holds $(ls "$D/tmp")"
grep -q 'message 2 (c2) cut off: far larger than LIST said' "$T_DIR/err" ||
    fail "no cut-off warning: $(grep -i cut "$T_DIR/err")"
"$POPSYNCD" -c "$CONF" --status >"$T_DIR/out" 2>&1
grep -q '1 skipped' "$T_DIR/out" || fail "--status: $(cat "$T_DIR/out")"
ok "a RETR that never ends is cut off at 2 x LIST + 1 MiB, nothing in tmp/, a new session fetches 3"

# listing: LIST or UIDL (the command), then its lines.
listing()
{
	printf 'R %s\nS +OK\n' "$1"
	shift
	printf 'S %s\n' "$@" .
}

# --- 4. a message in only one listing is left alone -------------------------

# keep = false: LIST shows 1-3, UIDL lacks 2.  1 and 3 are fetched and
# deleted; 2 is neither fetched nor deleted, with one warning.  Once both
# listings carry it, it is handled as any other.
SCRIPT=$T_DIR/one.script
{
	greet
	listing LIST "1 $(octets 1)" "2 $(octets 2)" "3 $(octets 3)"
	listing UIDL "1 o1" "3 o3"
	printf 'R RETR 1\nS +OK\n'; body 1
	printf 'R RETR 3\nS +OK\n'; body 3
	printf 'R DELE 1\nS +OK\nR DELE 3\nS +OK\nR QUIT\nS +OK bye\n'
} >"$SCRIPT"
{
	greet
	listing LIST "1 $(octets 2)"
	listing UIDL "1 o2"
	printf 'R RETR 1\nS +OK\n'; body 2
	printf 'R DELE 1\nS +OK\nR QUIT\nS +OK bye\n'
} >"$SCRIPT.2"
fault_start "$SCRIPT" -s "$SCRIPT.2" -n 2
fault_config one keep=false
expect_rc "sync, 2 not in UIDL" 0 "$POPSYNCD" -c "$CONF" --once -v
assert_err 'one: 1 message\(s\) appear in only one of LIST and UIDL'
assert_eq "$(files "$T_DIR/dest/one")" 2 "messages after the first sync"
expect_rc "sync, 2 in both" 0 "$POPSYNCD" -c "$CONF" --once -v
fault_wait
[ "$FAULT_RC" -eq 0 ] || fail "one, again: $(grep -E 'MISMATCH|EOF|TIMEOUT' "$FAULT_TRANSCRIPT" | head -3)"
assert_eq "$(files "$T_DIR/dest/one")" 3 "messages after the second sync"
ok "a message LIST shows and UIDL lacks: not fetched, not deleted, one warning; fetched once both list it"

# --- 5. an empty listing forgets nothing ------------------------------------

# A maintenance window lists nothing; the next normal listing must not
# fetch the mailbox again.
{
	greet
	listing LIST "1 $(octets 1)" "2 $(octets 2)"
	listing UIDL "1 g1" "2 g2"
	printf 'R RETR 1\nS +OK\n'; body 1
	printf 'R RETR 2\nS +OK\n'; body 2
	printf 'R QUIT\nS +OK bye\n'
} >"$T_DIR/glitch.1"
{
	greet
	listing LIST
	listing UIDL
	printf 'R QUIT\nS +OK bye\n'
} >"$T_DIR/glitch.2"
{
	greet
	listing LIST "1 $(octets 1)" "2 $(octets 2)"
	listing UIDL "1 g1" "2 g2"
	printf 'R QUIT\nS +OK bye\n'
} >"$T_DIR/glitch.3"
fault_start "$T_DIR/glitch.1" -s "$T_DIR/glitch.2" -s "$T_DIR/glitch.2" \
    -s "$T_DIR/glitch.2" -s "$T_DIR/glitch.3" -n 5
fault_config glitch
for run in 1 2 3 4 5; do
	expect_rc "glitch run $run" 0 "$POPSYNCD" -c "$CONF" --once
done
fault_wait
[ "$FAULT_RC" -eq 0 ] || fail "glitch: $(grep -E 'MISMATCH|EOF|TIMEOUT' "$FAULT_TRANSCRIPT" | head -3)"
assert_eq "$(grep -c '^C: RETR' "$FAULT_TRANSCRIPT")" 2 "RETRs over 5 runs"
assert_eq "$(files "$T_DIR/dest/glitch")" 2 "messages delivered"
ok "three empty listings in a row forget nothing: the next listing fetches nothing again"

# --- 6. UTF8 when offered, CAPA again after login ----------------------------

# UTF8 goes out whenever CAPA offers it, ASCII user or not.  PIPELINING
# shows only after login (a proxy's first list is its own): the two RETRs
# are read together, which a lock-step client would never send.
{
	printf 'S +OK proxy ready\nR CAPA\nS +OK\nS USER\nS UIDL\nS UTF8\nS .\n'
	printf 'R UTF8\nS +OK UTF8 enabled\n'
	printf 'R USER alice\nS +OK\nR PASS *\nS +OK logged in\n'
	printf 'R CAPA\nS +OK\nS USER\nS UIDL\nS UTF8\nS PIPELINING\nS .\n'
	listing LIST "1 $(octets 1)" "2 $(octets 2)"
	listing UIDL "1 p1" "2 p2"
	printf 'R RETR 1\nR RETR 2\nS +OK\n'; body 1
	printf 'S +OK\n'; body 2
	printf 'R QUIT\nS +OK bye\n'
} >"$T_DIR/proxy.script"
fault_start "$T_DIR/proxy.script"
fault_config proxy
expect_rc "sync behind a proxy" 0 "$POPSYNCD" -c "$CONF" --once
fault_wait
[ "$FAULT_RC" -eq 0 ] || fail "proxy: $(grep -E 'MISMATCH|EOF|TIMEOUT' "$FAULT_TRANSCRIPT" | head -3)"
assert_eq "$(files "$T_DIR/dest/proxy")" 2 "messages delivered"
ok "UTF8 sent when offered; CAPA asked again after login; PIPELINING seen only then is used"

done_testing
