# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Helpers for the tests that run popsyncd as a daemon in the background
# (t_daemon.sh, t_daemon_dovecot.sh, t_longrun.sh), sourced after lib.sh.
#
# One daemon at a time: its pid in DAEMON_PID, its stderr in $DAEMON_ERR.
# A failed check also prints the tail of $DAEMON_ERR and of $NOTIFY_LOG
# (where a test sets it).  On any exit the daemon, the fault servers of
# server_start and whatever the variables named to kill_at_exit hold are
# killed and reaped before lib.sh's cleanup runs.

DAEMON_ERR=$T_DIR/daemon.err
DAEMON_PID=
# The socket daemon_start names in NOTIFY_SOCKET, and the log to show
# with a failure: for a test that plays systemd.
NOTIFY_SOCK=
NOTIFY_LOG=
SERVER_PIDS=
EXIT_PID_VARS="DAEMON_PID SERVER_PIDS"

# fail: lib.sh's, plus the daemon's stderr and what it notified.
declare -F lib_fail >/dev/null || eval "lib_$(declare -f fail)"
fail()
{
	local f
	for f in "$DAEMON_ERR" "$NOTIFY_LOG"; do
		if [ -s "$f" ]; then
			printf -- '--- %s (last 40 lines)\n' "${f##*/}" >&2
			tail -n 40 "$f" >&2
		fi
	done
	lib_fail "$@"
}

# kill_at_exit: VAR...: at exit, also kill the pids these variables hold
# then (a blank-separated list each).  Empty a variable once its process
# has been reaped, so that a reused pid is never killed.
kill_at_exit()
{
	EXIT_PID_VARS="$EXIT_PID_VARS $*"
}

# daemon_cleanup: the EXIT trap: what this test started, then lib.sh's.
daemon_cleanup()
{
	local rc=$? v p
	for v in $EXIT_PID_VARS; do
		for p in ${!v:-}; do
			kill -KILL "$p" 2>/dev/null
			# (Braces: the shell's "Killed" notice goes to /dev/null.)
			{ wait "$p"; } 2>/dev/null
		done
	done
	(exit "$rc")
	cleanup
}
trap daemon_cleanup EXIT

# daemon_start: CONF [VAR=VALUE...]: popsyncd -c CONF in the background,
# the VARs (and NOTIFY_SOCKET=$NOTIFY_SOCK, if set) in its environment,
# stderr to $DAEMON_ERR (emptied first).  WATCHDOG_PID=self becomes the
# daemon's own pid (the subshell execs it).
daemon_start()
{
	local conf=$1 v
	shift
	: >"$DAEMON_ERR"
	(
		[ -n "$NOTIFY_SOCK" ] && export NOTIFY_SOCKET=$NOTIFY_SOCK
		for v; do
			case $v in
			WATCHDOG_PID=self) export WATCHDOG_PID=$BASHPID ;;
			*) export "${v?}" ;;
			esac
		done
		# -v: polls() counts summary lines, and those of empty
		# polls are debug lines.
		exec "$POPSYNCD" -v -c "$conf"
	) >"$T_DIR/daemon.out" 2>"$DAEMON_ERR" &
	DAEMON_PID=$!
}

# alive: [PID]: whether PID (default: the daemon) runs; a zombie does not
# count.
# shellcheck disable=SC2120
alive()
{
	local st
	{ read -r _ _ st _ <"/proc/${1:-$DAEMON_PID}/stat"; } 2>/dev/null ||
	    return 1
	[ "$st" != Z ]
}

# no_sanitizer: FILE: fail on an ASan/UBSan report in FILE.
no_sanitizer()
{
	if grep -Eq 'Sanitizer|runtime error:' "$1"; then
		fail "sanitizer report in ${1##*/}: $(grep -E -m1 'Sanitizer|runtime error:' "$1")"
	fi
}

# daemon_wait: SECS: wait up to SECS for the daemon to exit; its status in
# DAEMON_RC, the time it took in DAEMON_MS.  Fails if it is still running
# then, or on a sanitizer report (a leak shows at exit).
daemon_wait()
{
	local start
	now_ms
	start=$NOW
	while alive; do
		now_ms
		[ $((NOW - start)) -lt $(($1 * 1000)) ] ||
		    fail "popsyncd (pid $DAEMON_PID) still runs $1 s after the signal"
		sleep 0.05
	done
	now_ms
	DAEMON_MS=$((NOW - start))
	DAEMON_RC=0
	wait "$DAEMON_PID" || DAEMON_RC=$?
	DAEMON_PID=
	no_sanitizer "$DAEMON_ERR"
}

# wait_log: ERE SECS: wait until the daemon's stderr has a line matching.
wait_log()
{
	local i
	for i in $(seq 1 $(($2 * 20))); do
		grep -Eq -- "$1" "$DAEMON_ERR" && return 0
		alive || fail "popsyncd exited while waiting for /$1/ in its log"
		sleep 0.05
	done
	fail "popsyncd logged no /$1/ within $2 s"
}

# polls: NAME: how many syncs of NAME the daemon has reported, by the
# summary line "NAME: N new, N skipped, N deleted, N errors (...)".
polls()
{
	grep -Ec "(^|: )$1: [0-9]+ new, [0-9]+ skipped, " "$DAEMON_ERR"
}

# wait_polls: NAME N SECS: until NAME has been reported N times.
wait_polls()
{
	local i
	for i in $(seq 1 $(($3 * 20))); do
		[ "$(polls "$1")" -ge "$2" ] && return 0
		alive || fail "popsyncd exited while waiting for poll $2 of $1"
		sleep 0.05
	done
	fail "$1 was polled $(polls "$1") times after $3 s, expected $2"
}

# --- a stand-in for systemd: for tests that set NOTIFY_SOCK and NOTIFY_LOG ---

NOTIFYRECV=${NOTIFYRECV:-$top_builddir/tests/notifyrecv}
NOTIFY_PID=
kill_at_exit NOTIFY_PID

# notify_start: notifyrecv on $NOTIFY_SOCK, logging to $NOTIFY_LOG.
notify_start()
{
	local i
	"$NOTIFYRECV" "$NOTIFY_SOCK" "$NOTIFY_LOG" 2>"$T_DIR/notifyrecv.err" &
	NOTIFY_PID=$!
	for i in $(seq 1 100); do
		[ -S "$NOTIFY_SOCK" ] && return 0
		sleep 0.05
	done
	fail "notifyrecv did not bind $NOTIFY_SOCK: $(cat "$T_DIR/notifyrecv.err")"
}

# notify_mark: remember how many notifications have come so far.
notify_mark()
{
	MARK=$(wc -l <"$NOTIFY_LOG")
}

# wait_notify: ERE SECS [AFTER]: wait until a notification line after line
# AFTER (default $MARK) is "<ms> " + a match of ERE (anchored at the start
# of the assignment); its line number in NLINE, its time in NTIME.
wait_notify()
{
	local re=$1 secs=$2 after=${3:-$MARK} deadline hit dead=
	now_ms
	deadline=$((NOW + secs * 1000))
	for (( ; ; )); do
		hit=$(awk -v a="$after" -v re="^[0-9]+ ($re)" \
		    'NR > a && $0 ~ re { print NR, $1; exit }' "$NOTIFY_LOG")
		if [ -n "$hit" ]; then
			read -r NLINE NTIME <<<"$hit"
			return 0
		fi
		# A datagram sent just before the exit may still be on its way.
		if [ -n "$DAEMON_PID" ] && ! alive; then
			[ -n "$dead" ] && fail "popsyncd exited while waiting for /$re/"
			dead=1
		fi
		now_ms
		[ "$NOW" -lt "$deadline" ] ||
		    fail "no notification /$re/ within $secs s (after line $after)"
		sleep 0.05
	done
}

# wait_file: FILE ERE SECS: wait until FILE has a line matching ERE.
wait_file()
{
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "${1##*/} has no /$2/ after $3 s"
}

# watchdog_gap: FROM TO: the WATCHDOG=1 pings around notification lines
# FROM..TO: from the last ping at or before line FROM to line TO (an event
# such as STOPPING=1, whose time ends the window).  The largest gap in ms
# between two of them, or between the last one and line TO, in GAP; the
# pings after FROM in PINGS.
watchdog_gap()
{
	read -r PINGS GAP < <(awk -v a="$1" -v b="$2" '
		NR == b { if (prev != "" && $1 - prev > max) max = $1 - prev
			  exit }
		$2 != "WATCHDOG=1" { next }
		NR > a { n++; if (prev != "" && $1 - prev > max) max = $1 - prev }
		{ prev = $1 }
		END { print n + 0, max + 0 }' "$NOTIFY_LOG")
}

# server_start: NAME SCRIPT-FILE [OPTION...]: a faultpop3d of our own
# besides lib.sh's (fault_spawn NAME, transcript $T_DIR/NAME.tr); its port
# in ${NAME}_PORT, its pid in ${NAME}_PID.  Killed at exit if still there.
server_start()
{
	local name=$1 script=$2
	shift 2
	fault_spawn "$name" "$script" "$T_DIR/$name.tr" "$@"
	SERVER_PIDS="$SERVER_PIDS $SPAWN_PID"
	printf -v "${name}_PID" '%s' "$SPAWN_PID"
	printf -v "${name}_PORT" '%s' "$SPAWN_PORT"
}

# server_stop: NAME: end the server NAME (SIGTERM) and reap it.
server_stop()
{
	local v=${1}_PID p rest=
	for p in $SERVER_PIDS; do
		[ "$p" = "${!v}" ] || rest="$rest $p"
	done
	SERVER_PIDS=$rest
	kill "${!v}" 2>/dev/null
	wait "${!v}" 2>/dev/null
	printf -v "$v" '%s' ''
}
