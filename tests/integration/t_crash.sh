#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Crash safety (issue 3): kill -9 popsyncd at random points of a sync of
# 300 messages (a few of them 100-500 KiB), again and again, rerunning
# until a run completes.  After every kill: each file in new/ and cur/ is
# one seeded message byte for byte (nothing partial), none is there twice,
# and with keep = false every message gone from the server is in the
# Maildir.  After every completed run: every message exactly once, tmp/
# empty, --status agrees.  A reader that moves files from new/ to cur/
# (adding ":2,S") between runs must not cause a second fetch.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
start_dovecot

N=300
# Kills that must hit a running popsyncd, per variant.
KILLS=${CRASH_KILLS:-30}
# The server's Maildir, the sums of what was seeded, the copy of the
# server's Maildir to restore, popsyncd's Maildir.
SRV=$T_DIR/mail/alice
SEEDED=$T_DIR/seeded.sums
TEMPLATE=$T_DIR/server.template
DEST=$T_DIR/dest/crash
shopt -s nullglob

# sleep_ms: MS: sleep without a fork (sleep(1) costs a fork and an exec
# per call, and the polling loops call it hundreds of times a second): a
# read that times out on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
sleep_ms()
{
	local t
	[ "$1" -gt 0 ] || return 0
	printf -v t '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
	read -r -t "$t" -u "$SLEEP_FD" _ || :
}

# list3: up to 3 lines of stdin on one line, for a failure message.
list3()
{
	head -3 | tr '\n' ' '
}

# load_hashes: SEED_H (hash -> seeded file) from the seeded messages and
# SRV_H (server file name -> hash) from the server's Maildir as seeded.
load_hashes()
{
	local h f
	declare -gA SEED_H=() SRV_H=()
	while read -r h f; do
		SEED_H[$h]=$f
	done <"$SEEDED"
	while read -r h f; do
		SRV_H[${f##*/}]=$h
	done < <(sha256sum -- "$SRV/new"/* | sed 's/^\\//')
}

# check_instant: WHAT: the invariants that hold at every instant: every
# file in new/ and cur/ is a seeded message, none is there twice, and with
# keep = false every message gone from the server is in the Maildir.
# Files are hashed once, when first seen (by their base name, which stays
# when a reader moves them); check_complete hashes them all again.
check_instant()
{
	local what=$1 f b h files todo=()
	local -A seen=() server=()
	files=("$DEST"/new/* "$DEST"/cur/*)
	for f in "${files[@]}"; do
		b=${f##*/}
		[ -n "${NAME_H[${b%%:*}]:-}" ] || todo+=("$f")
	done
	if [ "${#todo[@]}" -gt 0 ]; then
		while read -r h f; do
			b=${f##*/}
			NAME_H[${b%%:*}]=$h
		done < <(sha256sum -- "${todo[@]}" | sed 's/^\\//')
	fi
	for f in "${files[@]}"; do
		b=${f##*/}
		h=${NAME_H[${b%%:*}]:-none}
		[ -n "${SEED_H[$h]:-}" ] ||
		    fail "$what: $f is no seeded message (partial?): $(wc -c <"$f") bytes"
		[ -z "${seen[$h]:-}" ] ||
		    fail "$what: ${SEED_H[$h]} is in the Maildir twice: ${seen[$h]} and $f"
		seen[$h]=$f
	done
	[ "$KEEP" = true ] && return 0
	files=("$SRV"/new/* "$SRV"/cur/*)
	for f in "${files[@]}"; do
		b=${f##*/}
		h=${SRV_H[${b%%:*}]:-}
		[ -n "$h" ] || fail "$what: an unknown file on the server: $f"
		server[$h]=1
	done
	for h in "${!SEED_H[@]}"; do
		[ -n "${server[$h]:-}" ] || [ -n "${seen[$h]:-}" ] ||
		    fail "$what: ${SEED_H[$h]} was deleted from the server but is not in the Maildir"
	done
	SERVER_LEFT=${#files[@]}
	return 0
}

# status_field: TEXT: the number before TEXT in the last --status output.
status_field()
{
	sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p" "$T_DIR/out" | head -1
}

# check_complete: WHAT: after a run that completed: every message exactly
# once, tmp/ empty, the server empty (keep = false), --status agrees.
check_complete()
{
	local what=$1 tmp
	check_instant "$what"
	sums "$T_DIR/dest.sums" "$DEST/new" "$DEST/cur"
	cmp -s "$T_DIR/dest.sums.h" "$SEEDED.h" ||
	    fail "$what: $(wc -l <"$T_DIR/dest.sums.h") of $N messages in the Maildir; missing: $(comm -13 "$T_DIR/dest.sums.h" "$SEEDED.h" | grep -F -f - "$SEEDED" | list3)"
	tmp=("$DEST"/tmp/*)
	[ "${#tmp[@]}" -eq 0 ] ||
	    fail "$what: ${#tmp[@]} file(s) left in tmp/: ${tmp[*]:0:3}"
	[ "$KEEP" = true ] || [ "$SERVER_LEFT" -eq 0 ] ||
	    fail "$what: keep = false but $SERVER_LEFT message(s) still on the server"
	expect_rc "$what: --status" 0 "$POPSYNCD" -c "$CONF" --status
	assert_out '^crash: last sync .*, ok in ' "$what: last sync ok"
	assert_eq "$(status_field 'delivered in all')" "$N" \
	    "$what: --status delivered in all"
	assert_eq "$(status_field 'deletions pending')" 0 \
	    "$what: --status deletions pending"
	[ "$KEEP" = true ] &&
	    assert_eq "$(status_field 'messages known')" "$N" \
	    "$what: --status messages known"
	return 0
}

# sessions_done: wait until every POP3 session dovecot logged in has
# ended: the session of a killed run may still be expunging after its QUIT.
sessions_done()
{
	local i in=0 out=0 log
	log=$(dovecot_log)
	for i in $(seq 1 500); do
		in=$(grep -c 'pop3-login: .*Login: user=<alice>' "$log")
		out=$(grep -c 'pop3(alice).*Disconnected' "$log")
		[ "$in" -le "$out" ] && return 0
		# No pop3 process of our dovecot left: every session is over,
		# whatever its log says.
		pgrep -x -P "$DOVECOT_PID" pop3 >/dev/null || return 0
		sleep_ms 60
	done
	ps -o pid,etimes,args --ppid "$DOVECOT_PID" >"$T_DIR/ps" 2>&1
	# Name the sessions that logged in and never out.
	sed -n 's/.*pop3-login: .*Login: user=<alice>.*session=<\([^>]*\)>.*/\1/p' \
	    "$log" | while read -r i; do
		grep -qF "<$i>: Info: Disconnected" "$log" || grep -F "$i" "$log"
	done >"$T_DIR/sessions"
	# Every client is gone by now (each run was waited for): a session
	# still open is dovecot's (seen about once in 20 runs, its pop3
	# process lingering with no pop3-login left), not a client's.  Our
	# part is that no popsyncd of this test still runs; then end those
	# processes so that the Maildir can be replaced.
	if pgrep -f -- "$POPSYNCD -c $CONF" >/dev/null; then
		fail "a popsyncd run is still alive, and dovecot still runs $((in - out)) session(s) of alice after 30 s: $(cat "$T_DIR/sessions"); its processes: $(cat "$T_DIR/ps")"
	fi
	say "dovecot kept $((in - out)) session(s) of alice open 30 s after every client had gone; ending them: $(cat "$T_DIR/sessions" | head -2)"
	pkill -KILL -x -P "$DOVECOT_PID" pop3
	for i in $(seq 1 50); do
		pgrep -x -P "$DOVECOT_PID" pop3 >/dev/null || return 0
		sleep_ms 100
	done
	fail "dovecot's lingering pop3 session(s) did not end when killed: $(cat "$T_DIR/ps")"
}

# reset: a fresh round: empty Maildir and ledger; with keep = false the
# server gets all N messages back (once no session of a killed run can
# still write into its Maildir).
reset()
{
	declare -gA NAME_H=()
	rm -rf -- "$DEST" "$T_DIR"/state.db*
	if [ "$KEEP" = false ]; then
		sessions_done
		rm -rf -- "$SRV"
		cp -a -- "$TEMPLATE" "$SRV"
	fi
}

# reader_moves: move the 5 newest files of new/ to cur/ with ":2,S", as a
# mail reader does; the newest are the likeliest to be delivered but not
# yet recorded.
reader_moves()
{
	local f
	for f in $(ls -t "$DEST/new" 2>/dev/null | head -5); do
		mv -- "$DEST/new/$f" "$DEST/cur/$f:2,S" || fail "mv $f"
		MOVED=$((MOVED + 1))
	done
}

# alive: PID: whether PID runs (a zombie, killed or done, does not).
alive()
{
	local st=
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat"
	[ -n "$st" ] && [ "$st" != Z ]
}

# count_files: set FILES to the messages in new/ + cur/.
count_files()
{
	local f
	f=("$DEST"/new/* "$DEST"/cur/*)
	FILES=${#f[@]}
}

# trace_read: take the complete lines popsyncd -v has added to its trace
# (on fd TRACE_FD) and note the POP3 commands seen in SEEN.
trace_read()
{
	local line
	while IFS= read -r -u "$TRACE_FD" line; do
		line=$TRACE_PART$line
		TRACE_PART=
		case $line in
		*": > CAPA"*) SEEN+=" CAPA" ;;
		*": > AUTH "*) SEEN+=" AUTH" ;;
		*": > LIST"*) SEEN+=" LIST" ;;
		*": > UIDL"*) SEEN+=" UIDL" ;;
		*": > RETR "*) SEEN+=" RETR" ;;
		*": > DELE "*) SEEN+=" DELE" ;;
		*": > QUIT"*) SEEN+=" QUIT" ;;
		*" by a run that stopped before recording it")
			recovered "$line" ;;
		*Sanitizer*|*"runtime error:"*)
			fail "run $RUNS: sanitizer report: $line" ;;
		esac
	done
	# A line still being written: keep its start for the next call.
	TRACE_PART+=$line
}

# wait_for: PID WHAT ARG: poll every 2 ms until the process ended or
# WHAT happened: "files" (ARG files in new/ + cur/), "cmd" (popsyncd sent
# POP3 command ARG), "time" (ARG ms passed).
wait_for()
{
	local pid=$1 start
	now_ms
	start=$NOW
	while alive "$pid"; do
		case $2 in
		files)
			count_files
			[ "$FILES" -ge "$3" ] && return 0
			;;
		cmd)
			trace_read
			case "$SEEN " in *" $3 "*) return 0 ;; esac
			;;
		time)
			now_ms
			[ $((NOW - start)) -ge "$3" ] && return 0
			;;
		esac
		sleep_ms 2
	done
}

# attempt: run popsyncd -v --once in the background and kill -9 it at a
# point chosen at random from five kinds.  Each waits for an event, not a
# time, so the kills land where they should whatever the machine's speed:
#   login	0-40 ms after the start, or 0-3 ms after a random one of CAPA,
#		AUTH, LIST, UIDL and the first RETR was sent;
#   progress	0-3 ms after a random number of further files appeared in
#		new/: just after a link, before or during its record;
#   big		0-40 ms after the message before the next 100-500 KiB one was
#		delivered: often in the middle of writing a big one;
#   dele	0-30 ms after the first DELE was sent (keep = false);
#   quit	0-5 ms after QUIT was sent: the server may expunge, the
#		ledger not yet record it.
# Sets LANDED to 1 when the kill hit a live process, else checks that the
# run completed.  popsyncd -v traces each POP3 command on stderr, which
# is how the test sees the commands.
attempt()
{
	local pid rc d kind r what arg cmds=(CAPA AUTH LIST UIDL RETR)
	count_files
	r=$((RANDOM % 20))
	# keep = true sends no DELE: its share goes to progress and big.
	[ "$KEEP" = true ] && [ "$r" -ge 12 ] && [ "$r" -lt 16 ] &&
	    r=$((r - 8))
	# The kill between a batch's renames into new/ and its commit has a
	# window of a few milliseconds, which got shorter as the commit got
	# faster: once the other phases are hit, every other kill aims at it.
	[ "$RECOVERED_CUR" -eq 0 ] && [ "$landed" -ge "$KILLS" ] &&
	    [ $((RANDOM % 2)) -eq 0 ] && r=3
	if [ "$r" -lt 3 ]; then
		kind=login
		what=cmd
		arg=${cmds[RANDOM % 6]:-}
		d=$((RANDOM % 4))
		if [ -z "$arg" ]; then
			what=time
			arg=$((RANDOM % 41))
			d=0
		fi
	elif [ "$r" -lt 9 ]; then
		kind=progress
		what=files
		arg=$((FILES + 1 + RANDOM % (N - FILES + 1)))
		d=$((RANDOM % 4))
		[ "$r" -eq 3 ] && d=$((RANDOM % 2))
	elif [ "$r" -lt 12 ]; then
		kind=big
		what=files
		# The big ones are numbers 25, 75, 125, ... and messages are
		# delivered in order, so FILES are the first FILES.
		arg=$(((FILES + 25) / 50 * 50 + 24))
		[ "$arg" -lt "$N" ] || arg=$N
		d=$((RANDOM % 41))
	elif [ "$r" -lt 16 ]; then
		kind=dele
		what=cmd
		arg=DELE
		d=$((RANDOM % 31))
	else
		kind=quit
		what=cmd
		arg=QUIT
		d=$((RANDOM % 6))
	fi
	: >"$T_DIR/err"
	"$POPSYNCD" -c "$CONF" -v --once >"$T_DIR/out" 2>>"$T_DIR/err" &
	pid=$!
	exec {TRACE_FD}<"$T_DIR/err"
	TRACE_PART=
	SEEN=
	RUNS=$((RUNS + 1))
	wait_for "$pid" "$what" "$arg"
	sleep_ms "$d"
	kill -9 "$pid" 2>/dev/null
	rc=0
	# (Braces: the shell's "Killed" notice goes to /dev/null.)
	{ wait "$pid" || rc=$?; } 2>/dev/null
	trace_read
	exec {TRACE_FD}<&-
	LANDED=0
	if [ "$rc" -eq 137 ]; then
		LANDED=1
		KINDS[$kind]=$((${KINDS[$kind]:-0} + 1))
	else
		[ "$rc" -eq 0 ] || fail "run $RUNS: exit $rc"
		MISSED[$kind]=$((${MISSED[$kind]:-0} + 1))
	fi
	return 0
}

# complete: run popsyncd --once to its end.
complete()
{
	local line
	RUNS=$((RUNS + 1))
	expect_rc "keep=$KEEP, round $ROUND: the run to completion" 0 \
	    "$POPSYNCD" -c "$CONF" --once
	while IFS= read -r line; do
		case $line in
		*" by a run that stopped before recording it")
			recovered "$line" ;;
		esac
	done <"$T_DIR/err"
}

# recovered: LINE: a run found a message delivered but not recorded (a
# "fetching" row): count it, and whether a reader had moved it to cur/.
recovered()
{
	local name=${1##* was delivered as }
	name=${name%% *}
	RECOVERED=$((RECOVERED + 1))
	# In new/ it was "$name,S=<size>"; the reader added ":2,S".
	compgen -G "$DEST/cur/$name,S=*:2,S" >/dev/null &&
	    RECOVERED_CUR=$((RECOVERED_CUR + 1))
	return 0
}

# where: count the phase a kill hit (login, list, fetch, dele, quit: from
# the commands the run sent) and what it left (a file in tmp/; with keep =
# false, deletions recorded and not known to be expunged).
where()
{
	local f phase=login
	case "$SEEN " in
	*" QUIT "*) phase=quit ;;
	*" DELE "*) phase=dele ;;
	*" RETR "*) phase=fetch ;;
	*" LIST "*|*" UIDL "*) phase=list ;;
	esac
	AT[$phase]=$((${AT[$phase]:-0} + 1))
	f=("$DEST"/tmp/*)
	[ "${#f[@]}" -gt 0 ] && AT[tmp]=$((${AT[tmp]:-0} + 1))
	if [ "$KEEP" = false ]; then
		run "$POPSYNCD" -c "$CONF" --status
		[ "$(status_field 'deletions pending')" != 0 ] &&
		    AT[pending]=$((${AT[pending]:-0} + 1))
	fi
	return 0
}

# covered: whether the kills so far hit every phase that must be hit.
covered()
{
	[ "$landed" -ge "$KILLS" ] &&
	    [ $((${AT[login]:-0} + ${AT[list]:-0})) -gt 0 ] &&
	    [ "${AT[fetch]:-0}" -gt 0 ] && [ "${AT[tmp]:-0}" -gt 0 ] &&
	    [ "$RECOVERED_CUR" -gt 0 ] &&
	    { [ "$KEEP" = true ] ||
	    { [ "${AT[dele]:-0}" -gt 0 ] && [ "${AT[quit]:-0}" -gt 0 ]; }; }
}

# tally: the kills so far, for the log and for failure messages.
tally()
{
	printf 'phases: login %d, list %d, fetch %d, dele %d, quit %d; a file in tmp/ %d, deletions pending %d; recovered %d, of them from cur/ %d' \
	    "${AT[login]:-0}" "${AT[list]:-0}" "${AT[fetch]:-0}" \
	    "${AT[dele]:-0}" "${AT[quit]:-0}" "${AT[tmp]:-0}" \
	    "${AT[pending]:-0}" "$RECOVERED" "$RECOVERED_CUR"
}

# variant: KEEP: the whole test for keep = KEEP.
variant()
{
	KEEP=$1
	dovecot_config crash implicit keep="$KEEP"
	reset
	# One sync without a kill.
	now_ms
	t0=$NOW
	expect_rc "keep=$KEEP: a sync without a kill" 0 "$POPSYNCD" -c "$CONF" \
	    --once
	now_ms
	check_complete "keep=$KEEP, uninterrupted"
	ok "keep=$KEEP: an uninterrupted sync delivers all $N once ($((NOW - t0)) ms)"

	declare -A KINDS=() MISSED=() AT=()
	landed=0
	ROUND=0
	RUNS=0
	MOVED=0
	RECOVERED=0
	RECOVERED_CUR=0
	now_ms
	t_start=$NOW
	# Rounds of up to 8 kills, each from a fresh start, then a run to
	# completion; until enough kills hit every phase.  A round ends early
	# when only QUIT is left (keep = true: all N files are there) or
	# nothing (keep = false: the server is empty).
	until covered; do
		[ "$landed" -lt $((KILLS * 3)) ] ||
		    fail "keep=$KEEP: $landed kills, and still a phase not hit: $(tally)"
		reset
		SERVER_LEFT=$N
		ROUND=$((ROUND + 1))
		inround=0
		LANDED=1
		while [ "$inround" -lt 8 ] && [ "$LANDED" -eq 1 ]; do
			# Nothing left but QUIT (keep = true) or nothing at
			# all (keep = false): the next run completes.
			count_files
			[ "$KEEP" = true ] && [ "$FILES" -ge "$N" ] && break
			[ "$KEEP" = false ] && [ "$SERVER_LEFT" -eq 0 ] && break
			attempt
			[ "$LANDED" -eq 1 ] || break
			landed=$((landed + 1))
			inround=$((inround + 1))
			check_instant "keep=$KEEP, round $ROUND, kill $inround"
			where
			# A reader moves the newest files to cur/.
			reader_moves
		done
		[ "$LANDED" -eq 1 ] && complete
		check_complete "keep=$KEEP, round $ROUND, after $inround kills"
	done
	now_ms
	say "keep=$KEEP: kills login ${KINDS[login]:-0}, progress ${KINDS[progress]:-0}, big ${KINDS[big]:-0}, dele ${KINDS[dele]:-0}, quit ${KINDS[quit]:-0}; ran to the end before the kill: login ${MISSED[login]:-0}, progress ${MISSED[progress]:-0}, big ${MISSED[big]:-0}, dele ${MISSED[dele]:-0}, quit ${MISSED[quit]:-0}"
	say "keep=$KEEP: $(tally)"
	extra=
	[ "$KEEP" = false ] &&
	    extra=", nothing gone from the server that is not in the Maildir"
	ok "keep=$KEEP: $landed kill -9 in $ROUND rounds, $RUNS runs ($((NOW - t_start)) ms): after each kill nothing partial in new/ or cur/, nothing twice$extra"
	ok "keep=$KEEP: each round completed with all $N messages exactly once, tmp/ empty, --status: $N delivered in all, 0 deletions pending"
	extra=
	[ "$KEEP" = false ] &&
	    extra=", during DELE (${AT[dele]:-0}), after QUIT was sent (${AT[quit]:-0})"
	ok "keep=$KEEP: kills hit login or listing ($((${AT[login]:-0} + ${AT[list]:-0}))), the fetch (${AT[fetch]:-0}; ${AT[tmp]:-0} left a file in tmp/)$extra"
	ok "keep=$KEEP: $RECOVERED message(s) delivered but not recorded were found again, $RECOVERED_CUR of them after a reader moved them to cur/ ($MOVED moves), none fetched twice"

	# A run after completion changes nothing.
	expect_rc "keep=$KEEP: rerun" 0 "$POPSYNCD" -c "$CONF" --once
	assert_out '^crash: 0 new, 0 skipped, 0 deleted, 0 errors' "rerun"
	check_complete "keep=$KEEP, rerun"
	ok "keep=$KEEP: a further run fetches nothing"
}

seed_bulk alice "$N" mixed
cp -a -- "$SRV" "$TEMPLATE"
sums "$SEEDED" "$T_DIR/seeded/alice"
[ "$(uniq -d "$SEEDED.h" | wc -l)" -eq 0 ] ||
    fail "two seeded messages are equal"
load_hashes
say "seeded $N messages, $(du -sk "$T_DIR/seeded/alice" | cut -f1) KiB"

variant true
variant false

done_testing
