#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# The sync engine when things go wrong, against tests/fault/faultpop3d:
# a link cut in the middle of a RETR, a QUIT that never gets its +OK, a
# failed delivery with and without EXPIRE 0, a server without UIDL, a
# UIDL listed twice, login refusals with RFC 2449/3206 response codes,
# and max_message_size.  Each case runs popsyncd --once and checks the
# exit code, the message, the Maildir byte for byte, what the fault server
# heard (its transcript) and what a second run does with the ledger.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D"

# --- scripts ------------------------------------------------------------------

# Six distinct messages with lines that need dot-stuffing, LF endings:
# $T_DIR/msg/1..6.  OCTETS: each one's size with CRLF line ends, for LIST.
# BODY: each one as the S lines of a multi-line reply, dot-stuffed, with
# the terminating ".".  (Made once: forks are what makes a test slow.)
mkdir -p "$T_DIR/msg"
declare -a OCTETS=() BODY=()
for i in 1 2 3 4 5 6; do
	gen_message "$i" $((10 + 5 * i)) >"$T_DIR/msg/$i"
	OCTETS[i]=$(($(wc -c <"$T_DIR/msg/$i") + $(wc -l <"$T_DIR/msg/$i")))
	BODY[i]=$(sed -e 's/^\./../' -e 's/^/S /' "$T_DIR/msg/$i"; echo 'S .')
done

# greet: CAPA-LINE...: the greeting, and CAPA answered with these lines.
greet()
{
	printf 'S +OK fault server ready\nR CAPA\nS +OK\n'
	printf 'S %s\n' "$@" .
}

# login: CAPA-LINE...: greeting, CAPA (USER and UIDL plus the lines
# given) and a USER/PASS login.
# After login popsyncd asks CAPA again (RFC 2449: it may change).
login()
{
	greet USER UIDL "$@"
	printf 'R USER alice\nS +OK\nR PASS *\nS +OK logged in\n'
	printf 'R CAPA\nS +OK\n'
	printf 'S %s\n' USER UIDL "$@" .
}

# listing: COMMAND VALUE...: COMMAND answered +OK with the lines
# "1 VALUE", "2 VALUE", ... and ".".
listing()
{
	local i=0 v
	printf 'R %s\nS +OK\n' "$1"
	shift
	for v in "$@"; do
		i=$((i + 1))
		printf 'S %d %s\n' "$i" "$v"
	done
	printf 'S .\n'
}

# list: N...: LIST answered with messages 1.. holding test messages N...
list()
{
	local n sizes=()
	for n in "$@"; do
		sizes+=("${OCTETS[n]}")
	done
	listing LIST "${sizes[@]}"
}

# uidl: UID...: UIDL answered with messages 1.. having these UIDLs.
uidl()
{
	listing UIDL "$@"
}

# body: N: test message N as a multi-line reply.
body()
{
	printf '%s\n' "${BODY[$1]}"
}

# retr: NUM N: RETR NUM answered with test message N.
retr()
{
	printf 'R RETR %d\nS +OK %d octets\n%s\n' "$1" "${OCTETS[$2]}" \
	    "${BODY[$2]}"
}

# dele: NUM...: DELE NUM answered +OK, for each.
dele()
{
	local n
	for n in "$@"; do
		printf 'R DELE %d\nS +OK deleted\n' "$n"
	done
}

# quit: QUIT answered +OK.
quit()
{
	printf 'R QUIT\nS +OK bye\n'
}

SCRIPT=$T_DIR/script
declare -A PORT_OF=()

# serve: NAME [CONFIG-KEY=VALUE...]: start the fault server on $SCRIPT
# and write the config of account NAME for it.  The ledger and the Maildir
# are per account name, and an account's server keeps its first port:
# popsyncd takes another port for another server and drops the ledger.
serve()
{
	local name=$1
	shift
	cp "$SCRIPT" "$T_DIR/$name.script"
	fault_start "$T_DIR/$name.script" ${PORT_OF[$name]:+-P "${PORT_OF[$name]}"}
	PORT_OF[$name]=$FAULT_PORT
	fault_config "$name" "$@"
}

# sync_once: DESC WANT-RC [OPTION...]: run popsyncd --once on $CONF, then
# wait for the fault server; keep its transcript and popsyncd's stderr
# as $T_DIR/DESC.tr and DESC.err (see KEEP_TMP in lib.sh).
sync_once()
{
	local desc=$1 want=$2
	shift 2
	expect_rc "$desc" "$want" "$POPSYNCD" -c "$CONF" "$@" --once
	fault_wait
	cp "$FAULT_TRANSCRIPT" "$T_DIR/${desc// /_}.tr"
	cp "$T_DIR/err" "$T_DIR/${desc// /_}.err"
}

# script_done: the fault server ran its whole script: nothing the client
# sent differed from what the script expected.
script_done()
{
	[ "$FAULT_RC" -eq 0 ] ||
	    fail "fault server exit $FAULT_RC: $(grep -E 'MISMATCH|EOF|TIMEOUT' "$FAULT_TRANSCRIPT" | head -3)"
}

# assert_maildir: DIR N...: DIR's new/ and cur/ hold exactly test messages
# N..., each once and byte for byte, and tmp/ is empty.
assert_maildir()
{
	local dir=$1 n f k files tmp
	shift
	files=$(shopt -s nullglob; echo "$dir"/new/* "$dir"/cur/*)
	tmp=$(shopt -s nullglob; echo "$dir"/tmp/*)
	[ -z "$tmp" ] || fail "$dir/tmp holds files: $tmp"
	k=$(wc -w <<<"$files")
	[ "$k" -eq $# ] || fail "$dir holds $k messages, expected $#"
	for n in "$@"; do
		k=0
		for f in $files; do
			cmp -s "$f" "$T_DIR/msg/$n" && k=$((k + 1))
		done
		[ "$k" -eq 1 ] ||
		    fail "message $n is in $dir $k times, expected once"
	done
}

# assert_status: BRE [WHEN]: --status on $CONF succeeds and its "N
# messages known, ..." line matches BRE (grep).
assert_status()
{
	"$POPSYNCD" -c "$CONF" --status >"$T_DIR/status.out" 2>&1 ||
	    fail "--status failed: $(cat "$T_DIR/status.out")"
	grep -E "^  [0-9]+ messages known" "$T_DIR/status.out" | grep -q -- "$1" ||
	    fail "--status${2:+ $2}: $(cat "$T_DIR/status.out")"
}

# sent_after: PATTERN: the client lines the transcript shows after the
# first client line matching PATTERN (grep -E, anchored after "C: ").
sent_after()
{
	sed -n "/^C: $1/,\$p" "$FAULT_TRANSCRIPT" | sed 1d | grep '^C: '
}

# --- 1. the link drops in the middle of a RETR ------------------------------

D=$T_DIR/dest/drop
{
	login
	list 1 2 3 4
	uidl u1 u2 u3 u4
	retr 1 1
	retr 2 2
	printf 'R RETR 3\nS +OK %d octets\n' "${OCTETS[3]}"
	body 3 | head -n 12
	printf 'DROP\n'
} >"$SCRIPT"
serve drop keep=false
# -v: every command popsyncd tries to send is logged, even one the closed
# link would swallow before the server could record it.
sync_once "drop mid-RETR" 1 -v
script_done
assert_err 'drop: RETR 3: ' "names the account and the command"
assert_err 'RETR 3: .*(clos|EOF|end of)' "says the server closed"
ok "drop in the middle of RETR 3: exit 1, message names account and RETR 3"

assert_maildir "$D" 1 2
ok "messages 1 and 2 delivered byte for byte, no part of 3 in new/, tmp/ empty"

assert_not_in "$T_DIR/err" '> (DELE|QUIT)'
transcript_lacks 'DELE' 'QUIT'
ok "no DELE and no QUIT attempted after the failure (keep = false)"

assert_status '^  [0-9]* messages known, 2 delivered in all, 0 deletions pending$' \
    "after the drop"
ok "the ledger records the 2 delivered messages"

# The rerun: a server that serves everything.  Only 3 and 4 may be
# fetched; all four are deleted (1 and 2 from the ledger).
{
	login
	list 1 2 3 4
	uidl u1 u2 u3 u4
	retr 3 3
	retr 4 4
	dele 1 2 3 4
	quit
} >"$SCRIPT"
serve drop keep=false
sync_once "drop rerun" 0
script_done
transcript_lacks 'RETR [12]$'
assert_out '^drop: 2 new, 0 skipped, 4 deleted, 0 errors'
assert_maildir "$D" 1 2 3 4
ok "rerun fetches only 3 and 4 (no RETR 1 or 2); every message once, byte for byte"

# The same cut with PIPELINING: every RETR is sent at once, the link drops
# in the second reply.  Message 1 is recorded, nothing else is delivered.
D=$T_DIR/dest/pipe
{
	login PIPELINING
	list 1 2 3
	uidl p1 p2 p3
	printf 'R RETR 1\nR RETR 2\nR RETR 3\n'
	printf 'S +OK\n'
	body 1
	printf 'S +OK\n'
	body 2 | head -n 5
	printf 'DROP\n'
} >"$SCRIPT"
serve pipe keep=false
sync_once "pipelined drop" 1 -v
script_done
assert_err 'pipe: RETR 2: '
assert_not_in "$T_DIR/err" '> (DELE|QUIT)'
assert_maildir "$D" 1
{
	login PIPELINING
	list 1 2 3
	uidl p1 p2 p3
	printf 'R RETR 2\nR RETR 3\n'
	printf 'S +OK\n'
	body 2
	printf 'S +OK\n'
	body 3
	printf 'R DELE 1\nR DELE 2\nR DELE 3\n'
	printf 'S +OK\nS +OK\nS +OK\n'
	quit
} >"$SCRIPT"
serve pipe keep=false
sync_once "pipelined rerun" 0
script_done
assert_maildir "$D" 1 2 3
ok "pipelined: drop in RETR 2 keeps 1, no DELE/QUIT; rerun fetches 2 and 3 only"

# --- 2. the link drops after DELE, before QUIT's +OK --------------------------

D=$T_DIR/dest/nquit
{
	login
	list 1 2 3
	uidl q1 q2 q3
	retr 1 1
	retr 2 2
	retr 3 3
	dele 1 2 3
	printf 'R QUIT\nDROP\n'
} >"$SCRIPT"
serve nquit keep=false
sync_once "drop at QUIT" 1
script_done
assert_err 'nquit: QUIT: '
assert_maildir "$D" 1 2 3
assert_status '^  3 messages known, 3 delivered in all, 3 deletions pending$' \
    "after the lost QUIT"
ok "QUIT unanswered: exit 1, 3 delivered, 3 deletions pending"

# The server kept all three (no QUIT, no UPDATE state): DELE them again,
# fetch nothing.
{
	login
	list 1 2 3
	uidl q1 q2 q3
	dele 1 2 3
	quit
} >"$SCRIPT"
serve nquit keep=false
sync_once "resend DELE" 0
script_done
transcript_lacks 'RETR'
assert_out '^nquit: 0 new, 0 skipped, 3 deleted, 0 errors'
assert_maildir "$D" 1 2 3
assert_status '^  3 messages known, 3 delivered in all, 0 deletions pending$' \
    "after the second QUIT"
ok "next run sends DELE 1-3 again without RETR, QUIT +OK: 0 deletions pending"

# The drop comes after the second DELE's +OK: DELE 1 and 2 are pending,
# 3 is delivered; keep = false deletes all three the next time.
D=$T_DIR/dest/ndele
{
	login
	list 1 2 3
	uidl r1 r2 r3
	retr 1 1
	retr 2 2
	retr 3 3
	dele 1 2
	printf 'R DELE 3\nDROP\n'
} >"$SCRIPT"
serve ndele keep=false
sync_once "drop at DELE 3" 1 -v
script_done
assert_err 'ndele: DELE 3: '
assert_not_in "$T_DIR/err" '> QUIT'
assert_status '^  3 messages known, 3 delivered in all, 2 deletions pending$' \
    "after the drop at DELE 3"
{
	login
	list 1 2 3
	uidl r1 r2 r3
	dele 1 2 3
	quit
} >"$SCRIPT"
serve ndele keep=false
sync_once "drop at DELE rerun" 0
script_done
transcript_lacks 'RETR'
assert_maildir "$D" 1 2 3
assert_status ' 0 deletions pending$'
ok "drop at DELE 3: no QUIT, 2 pending; rerun deletes all 3 without RETR"

# --- 3. a failed delivery, with and without EXPIRE 0 ---------------------------

# wait_heard: LINE: wait (up to 5 s) until the fault server has read LINE.
wait_heard()
{
	local i
	for i in $(seq 1 100); do
		grep -qx "C: $1" "$FAULT_TRANSCRIPT" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "the fault server never heard $1"
}

# The server refuses the second message (-ERR): that message is recorded
# failed and the others go on, with or without EXPIRE 0 (a refused RETR
# hands nothing out); keep = false deletes what was delivered.  The next
# poll tries it again.
for expire in 0 none; do
	name=refused-$expire
	D=$T_DIR/dest/$name
	caps=()
	[ "$expire" = 0 ] && caps=('EXPIRE 0')
	{
		login "${caps[@]}"
		list 1 2 3
		uidl "$name-1" "$name-2" "$name-3"
		retr 1 1
		printf 'R RETR 2\nS -ERR [SYS/PERM] message 2 is corrupt\n'
		retr 3 3
		dele 1 3
		quit
	} >"$SCRIPT"
	serve "$name" keep=false
	sync_once "$name" 0 -v
	script_done
	assert_err "$name: message 2 \($name-2\) not fetched: RETR 2: .*message 2 is corrupt"
	assert_out "^$name: 2 new, 0 skipped, 2 deleted, 1 not fetched, 0 errors "
	assert_maildir "$D" 1 3
	assert_status '^  [0-9]* messages known, 2 delivered in all, 0 deletions pending$'
	grep -q "UIDL $name-2, 1 time(s): RETR 2: -ERR \[SYS/PERM\] message 2 is corrupt" \
	    "$T_DIR/status.out" || fail "$name: --status lacks the failed message: $(cat "$T_DIR/status.out")"
	# The next poll: the server lists what is left, 2 as message 1.
	{
		login "${caps[@]}"
		list 2
		uidl "$name-2"
		retr 1 2
		dele 1
		quit
	} >"$SCRIPT"
	serve "$name" keep=false
	sync_once "$name again" 0
	script_done
	assert_maildir "$D" 1 2 3
	assert_status '^  [0-9]* messages known, 3 delivered in all, 0 deletions pending$'
	grep -q 'failed' "$T_DIR/status.out" &&
	    fail "$name: --status still lists a failure: $(cat "$T_DIR/status.out")"
	ok "RETR refused (EXPIRE $expire): recorded failed with the reply, 3 fetched and both deleted, --status shows it; next poll fetches it"
done

# A delivery that fails stops the session: as root no permission stops
# us, so tmp/ is removed while the server sits on RETR 2: popsyncd holds
# tmp/ open, and a file cannot be created in a removed directory (ENOENT).
# Message 1 waits in tmp/ for its batch to be published, so it goes with
# tmp/: nothing is delivered, and the next poll fetches it again.
for expire in 0 none; do
	name=fail-delivery-$expire
	D=$T_DIR/dest/$name
	caps=()
	[ "$expire" = 0 ] && caps=('EXPIRE 0')
	{
		login "${caps[@]}"
		list 1 2 3
		uidl "$name-1" "$name-2" "$name-3"
		retr 1 1
		printf 'R RETR 2\nSLEEP 0.8\nS +OK\n'
		body 2
	} >"$SCRIPT"
	serve "$name" keep=false
	(wait_heard 'RETR 2' && rm -rf "$D/tmp") &
	watcher=$!
	sync_once "$name" 1 -v
	script_done
	wait "$watcher" || fail "$name: tmp/ was not removed"
	mkdir "$D/tmp"
	assert_err "$name: .*tmp/.*No such file"
	assert_maildir "$D"
	transcript_lacks 'DELE' 'RETR 3'
	if [ "$expire" = 0 ]; then
		transcript_lacks 'QUIT'
		assert_not_in "$T_DIR/err" '> QUIT'
		ok "delivery failure, EXPIRE 0: no DELE, closed without QUIT"
	else
		grep -qx 'C: QUIT' "$FAULT_TRANSCRIPT" ||
		    fail "$name: no QUIT after the failure"
		[ -z "$(sent_after 'RETR 2' | grep -v '^C: QUIT$')" ] ||
		    fail "$name: sent after RETR 2: $(sent_after 'RETR 2')"
		ok "delivery failure, no EXPIRE 0: QUIT, no DELE after the failure"
	fi
	assert_status '^  [0-9]* messages known, 0 delivered in all, 0 deletions pending$'
done

# --- 4. a server without UIDL ----------------------------------------------------

{
	login
	list 1 2
	printf 'R UIDL\nS -ERR unknown command\n'
	quit
} >"$SCRIPT"
serve nouidl-keep
sync_once "no UIDL, keep" 1
script_done
assert_err 'nouidl-keep: .*does not support UIDL.*unknown command'
assert_err 'set keep = false'
transcript_lacks 'RETR' 'DELE'
assert_maildir "$T_DIR/dest/nouidl-keep"
ok "no UIDL with keep = true: exit 1, says why and to set keep = false, fetches nothing"

D=$T_DIR/dest/nouidl
{
	login
	list 4 5
	printf 'R UIDL\nS -ERR unknown command\n'
	retr 1 4
	retr 2 5
	dele 1 2
	quit
} >"$SCRIPT"
serve nouidl keep=false
sync_once "no UIDL, keep false" 0
script_done
assert_err 'nouidl: .*no UIDL'
assert_out '^nouidl: 2 new, 0 skipped, 2 deleted, 0 errors'
assert_maildir "$D" 4 5
ok "no UIDL with keep = false: both fetched byte for byte and deleted, warning logged"

# --- 5. one UIDL listed twice --------------------------------------------------

D=$T_DIR/dest/dup
{
	login
	list 1 2 3 4
	uidl d1 same d3 same
	retr 1 1
	retr 2 2
	retr 3 3
	retr 4 4
	dele 1 3
	quit
} >"$SCRIPT"
serve dup keep=false
sync_once "duplicate UIDL" 0
script_done
assert_err 'dup: the server lists 1 message.* UIDL it already used'
transcript_lacks 'DELE [24]'
assert_maildir "$D" 1 2 3 4
ok "UIDL listed twice: both copies delivered, neither deleted, a warning"

# Next time nothing is fetched again and the two stay on the server.
{
	login
	list 2 4
	uidl same same
	quit
} >"$SCRIPT"
serve dup keep=false
sync_once "duplicate UIDL rerun" 0
script_done
transcript_lacks 'RETR' 'DELE'
assert_maildir "$D" 1 2 3 4
ok "duplicate UIDL rerun: no RETR, no DELE"

# --- 6. login refused with a response code --------------------------------------

# AUTH PLAIN sends its initial response on the AUTH line (RFC 5034).
for method in user plain; do
	for code in IN-USE LOGIN-DELAY SYS/TEMP AUTH SYS/PERM; do
		name=rc-$method-${code//\//-}
		{
			greet USER 'SASL PLAIN' RESP-CODES AUTH-RESP-CODE UIDL
			if [ "$method" = user ]; then
				printf 'R USER alice\nS +OK\nR PASS *\n'
			else
				printf 'R AUTH PLAIN *\n'
			fi
			printf 'S -ERR [%s] refused: %s\n' "$code" "$code"
		} >"$SCRIPT"
		serve "$name" auth="$method"
		sync_once "$name" 1
		script_done
		cmd=PASS
		[ "$method" = plain ] && cmd='AUTH PLAIN'
		assert_err "$name: $cmd: -ERR \\[$code\\] refused: $code" \
		    "account, command and reply"
		transcript_lacks 'LIST' 'UIDL' 'RETR'
		"$POPSYNCD" -c "$CONF" --status >"$T_DIR/status.out" 2>&1
		grep -q "^  last error: $name: $cmd: -ERR \\[$code\\] refused" \
		    "$T_DIR/status.out" ||
		    fail "--status: $(cat "$T_DIR/status.out")"
		ok "-ERR [$code] at $cmd: exit 1, account, command and reply, also in --status"
	done
done

# --- 7. max_message_size ------------------------------------------------------------

D=$T_DIR/dest/big
big=${OCTETS[6]}
limit=$((big - 1))
{
	login
	list 1 6 2
	uidl b1 b6 b2
	retr 1 1
	retr 3 2
	dele 1 3
	quit
} >"$SCRIPT"
serve big keep=false max_message_size=$limit
[ "${OCTETS[1]}" -le "$limit" ] && [ "${OCTETS[2]}" -le "$limit" ] ||
    fail "test messages 1 and 2 are not smaller than message 6"
sync_once "too big" 0
script_done
transcript_lacks 'RETR 2' 'DELE 2'
[ "$(grep -c 'skipping message 2' "$T_DIR/err")" -eq 1 ] ||
    fail "skip not logged once: $(cat "$T_DIR/err")"
assert_err "big: skipping message 2 \\(b6\\): larger than max_message_size \\($big > $limit octets\\)"
assert_out '^big: 2 new, 1 skipped, 2 deleted, 0 errors'
assert_maildir "$D" 1 2
"$POPSYNCD" -c "$CONF" --status >"$T_DIR/status.out" 2>&1
grep -q 'big: last sync .*: 2 new, 1 skipped, 2 deleted' "$T_DIR/status.out" ||
    fail "--status: $(cat "$T_DIR/status.out")"
ok "message over max_message_size: not fetched or deleted, logged once, --status counts it"

{
	login
	list 6
	uidl b6
	quit
} >"$SCRIPT"
serve big keep=false max_message_size=$limit
sync_once "too big again" 0
script_done
transcript_lacks 'RETR' 'DELE'
assert_not_in "$T_DIR/err" 'skipping'
assert_out '^big: 0 new, 0 skipped, 0 deleted, 0 errors'
ok "second run: no RETR, no second log line"

# Once the limit allows it, the message is fetched.
{
	login
	list 6
	uidl b6
	retr 1 6
	dele 1
	quit
} >"$SCRIPT"
serve big keep=false max_message_size=100000
sync_once "limit raised" 0
script_done
assert_maildir "$D" 1 2 6
ok "limit raised: the skipped message is fetched then"

done_testing
