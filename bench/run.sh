#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Speed and memory of popsyncd against fetchmail, mpop and getmail6, on
# one mailbox served by a throwaway dovecot on 127.0.0.1 over implicit TLS
# (pop3s, verified against a test CA).  For each tool, three steps:
#
#   full   the first sync of the whole mailbox into a fresh Maildir
#   none   a second poll with nothing new
#   new10  a poll after 10 new messages arrived: it fetches only those
#
# Each step runs under /usr/bin/time -v (wall clock, CPU, maximum RSS of
# the tool and the children it waited for) REPS times (fresh Maildir and
# state for every "full"); the table shows the median.  After each round
# the tool's Maildir must hold exactly the server's messages (same count,
# same Message-IDs); byte-for-byte equality is required of popsyncd and
# reported for the others.  The 10 new messages are removed from the
# server after each round, so every "full" fetches the same mailbox.
#
# Usage: bench/run.sh [--messages N] [--reps N] [--tools "popsyncd mpop ..."]
#                     [--builddir DIR | --popsyncd PATH]
#        bench/run.sh --targets [--quick] [--reps N] [--builddir DIR]
#                     [--only "small mixed rss big listing accounts"]
# --targets measures the table of issue 9 instead (see bench/targets.sh):
# popsyncd against mpop and the pipelined wire bound, median of 5; --only
# limits it to some of its sections (and the table to their rows).
# Run it as root (dovecot's mail processes switch to the mail user).  The
# competitors are Debian packages; missing ones are installed with apt-get
# (as root), else the apt-get line is printed and the script exits 2.
# Progress, then the table (markdown), every single run, the versions and
# the machine go to stdout; bench/README.md holds a copy of one run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
MESSAGES=2000
REPS=
TARGETS=
QUICK=
ONLY="small mixed rss big listing accounts"
TOOLS="popsyncd fetchmail mpop getmail6"
builddir=$top/build
popsyncd_bin=

# usage: [STATUS]: the usage lines, to stderr, then exit STATUS (2).
usage()
{
	sed -n '/^# Usage:/,/--targets \[/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--messages) MESSAGES=${2:?}; shift 2 ;;
	--reps) REPS=${2:?}; shift 2 ;;
	--tools) TOOLS=${2:?}; shift 2 ;;
	--builddir) builddir=${2:?}; shift 2 ;;
	--popsyncd) popsyncd_bin=${2:?}; shift 2 ;;
	--targets) TARGETS=1; shift ;;
	--quick) QUICK=1; shift ;;
	--only) ONLY=${2:?}; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
done
if [ -z "$REPS" ]; then
	REPS=3
	[ -n "$TARGETS" ] && REPS=5
	[ -n "$QUICK" ] && REPS=1
fi
[ -n "$TARGETS" ] && TOOLS="popsyncd mpop"
case $MESSAGES$REPS in
*[!0-9]*) echo "run.sh: --messages and --reps take a number" >&2; exit 2 ;;
esac
[ "$MESSAGES" -ge 1 ] && [ "$REPS" -ge 1 ] ||
    { echo "run.sh: --messages and --reps must be at least 1" >&2; exit 2; }
for t in $TOOLS; do
	case $t in
	popsyncd|fetchmail|mpop|getmail6) ;;
	*) echo "run.sh: unknown tool $t" >&2; exit 2 ;;
	esac
done

# --- packages -----------------------------------------------------------------

# The competitors, GNU time, safecat (fetchmail's Maildir MDA, see
# deliver_fetchmail) and the server.  Not in scripts/deps.txt: the tests
# and CI do not need them.
. "$top/scripts/lib-deps.sh"
deps_install fetchmail mpop getmail6 time safecat dovecot-core \
    dovecot-pop3d openssl
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: run it as root: dovecot switches to the mail user" \
	    "for each login" >&2
	exit 2
fi

: "${popsyncd_bin:=$builddir/src/popsyncd}"
if [ ! -x "$popsyncd_bin" ]; then
	echo "run.sh: $popsyncd_bin not built; build it first, e.g." >&2
	echo "  mkdir -p build && cd build && ../configure -q && make" >&2
	echo "or name it with --builddir DIR or --popsyncd PATH" >&2
	exit 2
fi
popsyncd_bin=$(cd "$(dirname "$popsyncd_bin")" && pwd)/$(basename "$popsyncd_bin")

# lib.sh (the integration tests' helper) makes the temp dir $T_DIR and the
# test CA, runs dovecot, and its EXIT trap stops dovecot and removes
# $T_DIR however this script ends (KEEP_TMP=1 keeps it after a failure).
top_srcdir=$top
top_builddir=$builddir
POPSYNCD=$popsyncd_bin
export POPSYNCD
. "$top/tests/integration/lib.sh"

# --- the mailbox ----------------------------------------------------------------

SERVER_MD=$T_DIR/mail/alice

# bench_seed: FIRST N TAG: N messages, numbered FIRST.., into alice's
# Maildir new/, named *.TAG,S=..,W=.. so a round's extra ones can be found
# again.  Not lib.sh's seed_bulk: its profiles average 2 KiB ("small")
# and 9 KiB ("mixed": 0.2-6 KiB, and 100-500 KiB for one in 50), and it
# keeps a second copy of each message.  These are 2-200 KiB, log-uniform
# (half are under 20 KiB; about 43 KiB on average, so 2000 come to 84
# MiB), text with lines that need dot-stuffing, empty lines, long lines
# and 8-bit lines.  Message k has Message-ID <bench-k@popsyncd.test> and
# its text depends on k alone.
bench_seed()
{
	local first=$1 n=$2 tag=$3
	mkdir -p "$SERVER_MD/new" "$SERVER_MD/cur" "$SERVER_MD/tmp"
	LC_ALL=C awk -v first="$first" -v n="$n" -v tag="$tag" -v pid=$$ \
	    -v md="$SERVER_MD" '
	function line(k, i,   t) {
		t = i % 11
		if (t == 0) return ".leading dot " k "-" i
		if (t == 1) return "line " i " of message " k ": the quick brown fox jumps over the lazy dog"
		if (t == 2) return ""
		if (t == 3) return "..two dots " i
		if (t == 4) return "."
		if (t == 5) return sprintf("%0" (60 + (k * i) % 900) "d", i)
		if (t == 6) return "Gr\303\274\303\237e aus K\303\266ln " i
		if (t == 7) return "Lorem ipsum dolor sit amet, consectetur adipiscing elit " k
		if (t == 8) return sprintf("%072d", k * 1000 + i)
		if (t == 9) return "From the middle of a line " i
		return "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua " i
	}
	BEGIN {
		for (j = 0; j < n; j++) {
			k = first + j
			m = 0
			L[++m] = "From: sender" k "@example.org"
			L[++m] = "To: alice@example.org"
			L[++m] = "Subject: benchmark message " k
			L[++m] = "Message-ID: <bench-" k "@popsyncd.test>"
			L[++m] = "Date: Tue, 14 Nov 2023 22:13:20 +0000"
			L[++m] = ""
			# 2 KiB * 100^r, r spread over [0, 1) by k.
			r = ((k * 7919) % 1000 + 0.5) / 1000
			target = int(2048 * exp(r * log(100)))
			size = 0
			for (i = 1; i <= m; i++)
				size += length(L[i]) + 1
			for (i = 1; size < target; i++) {
				L[++m] = line(k, i)
				size += length(L[m]) + 1
			}
			L[++m] = "end of message " k
			size += length(L[m]) + 1
			f = sprintf("%s/new/%d.M%dP%d.%s,S=%d,W=%d", md,
			    1700000000 + k, k, pid, tag, size, size + m)
			for (i = 1; i <= m; i++)
				print L[i] > f
			close(f)
		}
	}' || fail "bench_seed: awk failed"
	chown -R "$MAIL_UID:$MAIL_GID" "$SERVER_MD"
}

# server_files: the message files in alice's Maildir on the server.
server_files()
{
	find "$SERVER_MD/new" "$SERVER_MD/cur" -type f
}

# --- measuring ----------------------------------------------------------------

# Every tool runs as nobody: getmail6 refuses to deliver as root, and
# mail tools are meant to run as the mail's owner anyway.
BENCH_USER=nobody
BENCH_GROUP=nogroup
RESULTS=$T_DIR/results	# lines "tool step rep wall cpu maxrss_kib"
ROUND_RESULTS=$T_DIR/round.results	# the same, of the round running
: >"$RESULTS"
: >"$T_DIR/retries"

# measure: TOOL STEP REP OKRCS CMD...: run CMD as $BENCH_USER (setpriv
# execs it: no extra process) under /usr/bin/time -v; returns 3 if
# getmail6 hit its known race (see poll_getmail6), for the round to be
# run again;
# its exit status must be one of OKRCS (a blank-separated list).  Appends
# to $RESULTS; the tool's output goes to $T_DIR/TOOL.log.
measure()
{
	local tool=$1 step=$2 rep=$3 okrcs=$4 tv=$T_DIR/time.out rc=0
	local out=$T_DIR/step.out wall user sys rss st
	shift 4
	timeout -k 5 900 /usr/bin/time -v -o "$tv" \
	    setpriv --reuid="$BENCH_USER" --regid="$BENCH_GROUP" --clear-groups "$@" \
	    >"$out" 2>&1 || rc=$?
	{
		echo "=== $step round $rep: $* (exit $rc)"
		cat "$out"
	} >>"$T_DIR/$tool.log"
	case " $okrcs " in
	*" $rc "*) ;;
	*)
		if [ "$tool" = getmail6 ] &&
		    grep -q 'waiting child pid [0-9]* timed out' "$out"; then
			say "$tool $step round $rep: getmail6 lost its child (exit $rc: $(grep -m1 'waiting child' "$out")); the round starts again"
			echo "$tool $step $rep" >>"$T_DIR/retries"
			return 3
		fi
		tail -n 30 "$T_DIR/$tool.log" >&2
		fail "$tool, $step, round $rep: exit $rc (expected $okrcs)"
		;;
	esac
	# "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34"
	wall=$(sed -n 's/^.*Elapsed (wall clock).*: //p' "$tv" |
	    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
	user=$(sed -n 's/^.*User time (seconds): //p' "$tv")
	sys=$(sed -n 's/^.*System time (seconds): //p' "$tv")
	rss=$(sed -n 's/^.*Maximum resident set size (kbytes): //p' "$tv")
	[ -n "$wall" ] && [ -n "$user" ] && [ -n "$sys" ] && [ -n "$rss" ] ||
	    fail "cannot read /usr/bin/time -v output: $(cat "$tv")"
	st=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	echo "$tool $step $rep $wall $st $rss" >>"$ROUND_RESULTS"
	say "$tool $step round $rep: ${wall} s wall, ${st} s CPU, $((rss / 1024)) MiB max RSS"
}

# median: the middle one of the numbers on stdin (the lower of the two
# middle ones for an even count).
median()
{
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# msgids: DIR...: the sorted Message-IDs of the message files under DIRs.
msgids()
{
	find "$@" -type f -exec grep -h -m1 -i '^Message-ID:' {} + |
	    tr -d '\r' | sed 's/^[^:]*: *//' | sort
}

# check_maildir: TOOL DIR ROUND: DIR holds exactly the server's messages
# (count and Message-IDs); byte-for-byte required of popsyncd only.
check_maildir()
{
	local tool=$1 dir=$2 round=$3 want got same
	want=$(server_files | wc -l)
	got=$(find "$dir/new" "$dir/cur" -type f | wc -l)
	assert_eq "$got" "$want" "$tool round $round: messages in its Maildir"
	msgids "$SERVER_MD/new" "$SERVER_MD/cur" >"$T_DIR/ids.server"
	msgids "$dir/new" "$dir/cur" >"$T_DIR/ids.$tool"
	cmp -s "$T_DIR/ids.server" "$T_DIR/ids.$tool" ||
	    fail "$tool round $round: Message-IDs differ from the server's: $(diff "$T_DIR/ids.server" "$T_DIR/ids.$tool" | head -5)"
	sums "$T_DIR/sums.server" "$SERVER_MD/new" "$SERVER_MD/cur"
	sums "$T_DIR/sums.$tool" "$dir/new" "$dir/cur"
	same=$(comm -12 "$T_DIR/sums.server.h" "$T_DIR/sums.$tool.h" | wc -l)
	if [ "$tool" = popsyncd ] && [ "$same" -ne "$want" ]; then
		fail "popsyncd round $round: only $same of $want messages are byte-for-byte the server's"
	fi
	echo "$tool $round $got $same" >>"$T_DIR/checks"
	# What differs, shown on message 1 (first round only).
	if [ "$same" -ne "$want" ] && [ "$round" = 1 ]; then
		{
			echo "$tool: message 1, diff server-copy $tool-copy:"
			diff "$(grep -l -m1 '^Message-ID: <bench-1@' "$SERVER_MD"/new/* "$SERVER_MD"/cur/* 2>/dev/null | head -n 1)" \
			    "$(grep -l -m1 -i '^Message-ID: <bench-1@' "$dir"/new/* "$dir"/cur/* 2>/dev/null | head -n 1)" |
			    head -n 12 | cat -A | cut -c1-100 || :
		} >>"$T_DIR/diffs"
	fi
	say "$tool round $round: $got messages, Message-IDs match, $same of $want byte-for-byte"
}

# fresh_dir: TOOL: an empty $BASE/TOOL with an empty Maildir in it
# (mpop and getmail need it to exist); set D to it.  BASE is $T_DIR
# but while --targets measures on tmpfs.
BASE=
fresh_dir()
{
	D=${BASE:-$T_DIR}/$1
	rm -rf -- "$D"
	mkdir -p "$D/Maildir/new" "$D/Maildir/cur" "$D/Maildir/tmp"
}

# own: give $D and all in it to the bench user.
own()
{
	chown -R "$BENCH_USER:$BENCH_GROUP" "$D"
}

# --- the tools: set up (fresh state) and run one poll ---------------------------

# Each tool gets $T_DIR/TOOL/ for its config and state, and its Maildir in
# $T_DIR/TOOL/Maildir.  Every one keeps mail on the server, fetches only
# UIDLs it has not seen, verifies the server certificate against the test
# CA, and adds no header where it can be told not to.

setup_popsyncd()
{
	fresh_dir popsyncd
	# write_config: implicit TLS, ca_file = the test CA, keep = true
	# (the default); the state database goes into $D.
	write_config "$D/config" bench port="$POP3S_PORT" \
	    maildir="$D/Maildir" timeout=60
	# It runs as nobody: no allow_root.
	sed -i -e "s|^state_db = .*|state_db = \"$D/state.db\";|" \
	    -e '/^allow_root/d' "$D/config"
	own
}
poll_popsyncd()
{
	measure popsyncd "$@" 0 "$POPSYNCD" -c "${BASE:-$T_DIR}/popsyncd/config" \
	    --once
}

# fetchmail has no Maildir delivery: it forwards to an SMTP server or pipes
# each message into an MDA.  safecat (a small C program that writes stdin
# to tmp/ and renames it into new/, Maildir-style) is the cheapest MDA
# that delivers to a Maildir; fetchmail runs it through /bin/sh once per
# message.  fetchmail always adds a Received: header.  Exit 1 means "no
# new mail", the normal outcome of the "none" step.
setup_fetchmail()
{
	local d
	fresh_dir fetchmail
	d=$D
	cat >"$d/fetchmailrc" <<-EOF
	set no syslog
	set idfile "$d/fetchids"
	poll localhost service $POP3S_PORT proto pop3 uidl timeout 60
	  user "alice" there with password "$ALICE_PASS" is "$BENCH_USER" here
	  ssl sslcertck sslcertfile "$T_DIR/ca.crt"
	  keep
	  mda "safecat $d/Maildir/tmp $d/Maildir/new"
	EOF
	chmod 600 "$d/fetchmailrc"
	own
}
poll_fetchmail()
{
	local d=$T_DIR/fetchmail ok=0
	[ "$1" = none ] && ok="0 1"
	HOME=$d measure fetchmail "$@" "$ok" \
	    fetchmail -f "$d/fetchmailrc" --pidfile "$d/pid" --nodetach
}

setup_mpop()
{
	local d
	fresh_dir mpop
	d=$D
	cat >"$d/mpoprc" <<-EOF
	account bench
	host localhost
	port $POP3S_PORT
	tls on
	tls_starttls off
	tls_trust_file $T_DIR/ca.crt
	user alice
	password $ALICE_PASS
	keep on
	only_new on
	received_header off
	timeout 60
	uidls_file $d/uidls
	delivery maildir $d/Maildir
	EOF
	chmod 600 "$d/mpoprc"
	own
}
poll_mpop()
{
	HOME=${BASE:-$T_DIR}/mpop measure mpop "$@" 0 \
	    mpop -C "${BASE:-$T_DIR}/mpop/mpoprc" -q bench
}

setup_getmail6()
{
	local d
	fresh_dir getmail6
	d=$D
	cat >"$d/getmailrc" <<-EOF
	[retriever]
	type = SimplePOP3SSLRetriever
	server = localhost
	port = $POP3S_PORT
	username = alice
	password = $ALICE_PASS
	ca_certs = $T_DIR/ca.crt
	timeout = 10

	[destination]
	type = Maildir
	path = $d/Maildir/

	[options]
	verbose = 0
	read_all = false
	delete = false
	delivered_to = false
	received = false
	EOF
	chmod 600 "$d/getmailrc"
	own
}
# getmail6 6.18 forks a child for every Maildir delivery and waits for
# its SIGCHLD on a condition variable; when the child exits before the
# parent waits, the wake-up is lost and getmail gives up after its
# timeout with "waiting child pid N timed out" (getmail6 issue #226, a
# parent/child race).  measure() then has the round run again, and the
# report says how often.  timeout = 10 keeps such a stall short; no
# step waits that long for the server here.
poll_getmail6()
{
	HOME=$T_DIR/getmail6 measure getmail6 "$@" 0 \
	    getmail --getmaildir "$T_DIR/getmail6" --rcfile "$T_DIR/getmail6/getmailrc"
}

# --- the run ------------------------------------------------------------------

versions()
{
	echo "popsyncd: $("$POPSYNCD" --version 2>&1 | head -n 1)"
	echo "fetchmail: $(fetchmail --version 2>/dev/null | grep -m1 'release' | sed 's/^This is fetchmail release //; s/\.$//')"
	echo "mpop: $(mpop --version | head -n 1)"
	echo "getmail6: $(getmail --version 2>&1 | head -n 1)"
	echo "safecat: $(dpkg-query -W -f='${Version}' safecat)"
	echo "dovecot: $(dovecot --version)"
	echo "OpenSSL: $(openssl version)"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
start_dovecot
PATH=$PATH:/usr/sbin
if [ -n "$TARGETS" ]; then
	. "$top/bench/targets.sh"
	exit 0
fi
say "seeding $MESSAGES messages"
bench_seed 1 "$MESSAGES" bench
NEXT=$((MESSAGES + 1))
total=$(server_files | xargs -d '\n' cat | wc -c)
say "mailbox: $MESSAGES messages, $total bytes"

# one_round: TOOL ROUND: the three steps from a fresh Maildir and state,
# then the check.  Returns 3 when the round must be run again.
one_round()
{
	local tool=$1 round=$2 rc=0
	: >"$ROUND_RESULTS"
	"setup_$tool"
	"poll_$tool" full "$round" || return
	"poll_$tool" none "$round" || return
	bench_seed "$NEXT" 10 bench-new
	NEXT=$((NEXT + 10))
	"poll_$tool" new10 "$round" || rc=$?
	[ "$rc" -eq 0 ] && check_maildir "$tool" "$T_DIR/$tool/Maildir" "$round"
	# Back to the first MESSAGES, for the next "full".
	find "$SERVER_MD/new" "$SERVER_MD/cur" -type f \
	    -name '*.bench-new,*' -delete
	[ "$rc" -eq 0 ] && cat "$ROUND_RESULTS" >>"$RESULTS"
	return "$rc"
}

for round in $(seq 1 "$REPS"); do
	for tool in $TOOLS; do
		for attempt in 1 2 3 4; do
			rc=0
			one_round "$tool" "$round" || rc=$?
			[ "$rc" -eq 0 ] && break
			[ "$rc" -eq 3 ] && [ "$attempt" -lt 4 ] ||
			    fail "$tool round $round: no clean run in $attempt attempts"
		done
	done
done

echo
echo "mailbox: $MESSAGES messages, $total bytes ($((total / 1048576)) MiB); $REPS rounds, medians"
echo
echo "| tool | step | wall s | CPU s | max RSS MiB |"
echo "| --- | --- | ---: | ---: | ---: |"
for tool in $TOOLS; do
	for step in full none new10; do
		w=$(awk -v t="$tool" -v s="$step" '$1 == t && $2 == s { print $4 }' "$RESULTS" | median)
		c=$(awk -v t="$tool" -v s="$step" '$1 == t && $2 == s { print $5 }' "$RESULTS" | median)
		m=$(awk -v t="$tool" -v s="$step" '$1 == t && $2 == s { print $6 }' "$RESULTS" | median)
		printf '| %s | %s | %s | %s | %.1f |\n' "$tool" "$step" "$w" "$c" \
		    "$(awk -v k="$m" 'BEGIN { print k / 1024 }')"
	done
done
echo
echo "byte-for-byte equal to the server's copy, after each round:"
for tool in $TOOLS; do
	awk -v t="$tool" '$1 == t { printf "%s round %s: %s of %s\n", t, $2, $4, $3 }' \
	    "$T_DIR/checks"
done
[ -s "$T_DIR/diffs" ] && cat "$T_DIR/diffs"
if [ -s "$T_DIR/retries" ]; then
	echo
	echo "rounds run again after getmail6 lost its child (tool step round):"
	cat "$T_DIR/retries"
fi
echo
echo "every run (tool step round wall_s cpu_s maxrss_KiB):"
cat "$RESULTS"
echo
versions
echo "machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: //'), $(free -m | awk '/^Mem:/ { print $2 }') MiB RAM, $(uname -sr)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bench/run.sh --messages $MESSAGES --reps $REPS --tools \"$TOOLS\" (popsyncd: $POPSYNCD)"
