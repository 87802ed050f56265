# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# bench/run.sh --targets: the table of issue 9 ("the fastest POP3
# fetcher"), sourced by run.sh once dovecot runs and its functions
# (measure, setup_*, poll_*, bench_seed, median) are defined.
#
# Every row is measured in this run, REPS times (default 5; the median
# counts), and printed with its ratio and its target:
#
#   wire       bench/wire.c: login, LIST, every RETR pipelined with a
#              256 KiB window of replies in flight, bytes thrown away: the
#              least a client can do over the same TLS link
#   small      2000 x 4 KiB, first sync, Maildir and state on ext4 (the
#              temp dir) and on tmpfs (/dev/shm): popsyncd, mpop, wire
#   mixed      the 84 MiB mailbox of run.sh (2000 x 2-200 KiB), first
#              sync on ext4 and tmpfs, then a poll with nothing new
#   rss        max RSS of a first sync and an empty poll of 10 and of
#              100,000 messages (tmpfs), and of one 200 MiB message
#   big-none   a poll with nothing new of the 100,000-message mailbox
#   listing    bench/listing.c: popsyncd's own LIST+UIDL parser over a
#              1,000,000-message listing served from memory
#   accounts   500 mailboxes of 20 x 4 KiB in one daemon (max_parallel
#              8): its first round and a re-poll round (SIGUSR1), its RSS,
#              open descriptors and CPU; against bench/bare.c, which
#              polls the same 500 with 8 processes, each poll a full TLS
#              handshake, login, UIDL and QUIT.  Dovecot runs its login
#              processes in high-performance mode here, so sessions can
#              be resumed
#
# --quick divides the mailboxes by 10 (the 200 MiB message by 10 too) and
# runs each step once: a check that the script works, not a measurement.

TMPFS=$(mktemp -d /dev/shm/popsyncd-bench.XXXXXX) ||
    fail "mktemp in /dev/shm failed"
chmod 755 "$TMPFS"
[ "$(stat -f -c %T "$TMPFS")" = tmpfs ] || fail "/dev/shm is not a tmpfs"
[ "$(stat -f -c %T "$T_DIR")" = ext2/ext3 ] ||
    say "note: $T_DIR is on $(stat -f -c %T "$T_DIR"), not ext4"
TRASH=$T_DIR/trash
mkdir -p "$TRASH"
# targets_cleanup: the EXIT trap: remove the tmpfs dir, then lib.sh's.
targets_cleanup()
{
	local rc=$?
	[ -n "${ACCT_PID:-}" ] && kill -TERM "$ACCT_PID" 2>/dev/null
	rm -rf -- "$TMPFS"
	(exit "$rc")
	cleanup
}
trap targets_cleanup EXIT

if [ -n "$QUICK" ]; then
	N_SMALL=200 N_MIXED=200 N_BIG=10000 BIG_MIB=20 N_LISTING=100000
	N_ACCTS=50
else
	N_SMALL=2000 N_MIXED=2000 N_BIG=100000 BIG_MIB=200 N_LISTING=1000000
	N_ACCTS=500
fi
ACCT_MSGS=20 ACCT_PARALLEL=8
ROUND_RESULTS=$T_DIR/targets.results
: >"$ROUND_RESULTS"

# The two bench programs, built here against the OpenSSL (and, for
# listing, the libpopsync.a) that popsyncd uses.
WIRE=$T_DIR/wire
cc -O2 -o "$WIRE" "$top/bench/wire.c" -lssl -lcrypto ||
    fail "cannot build bench/wire.c"
BARE=$T_DIR/bare
cc -O2 -o "$BARE" "$top/bench/bare.c" -lssl -lcrypto ||
    fail "cannot build bench/bare.c"
LISTING=
if [ -f "$builddir/src/libpopsync.a" ]; then
	LISTING=$T_DIR/listing
	cc -O2 -I"$builddir" -I"$top/src" -o "$LISTING" \
	    "$top/bench/listing.c" "$builddir/src/libpopsync.a" \
	    -lssl -lcrypto -lconfig -lsqlite3 -lsystemd -lpthread ||
	    fail "cannot build bench/listing.c"
fi

# seed_fixed: N SIZE: N messages of SIZE bytes (LF endings) into alice's
# empty Maildir, each with its own Message-ID; one awk, no fork each.
seed_fixed()
{
	local n=$1 size=$2
	mkdir -p "$SERVER_MD/new" "$SERVER_MD/cur" "$SERVER_MD/tmp"
	LC_ALL=C awk -v n="$n" -v size="$size" -v md="$SERVER_MD" '
	BEGIN {
		pad = sprintf("%075d", 0)
		for (k = 1; k <= n; k++) {
			h = "From: sender" k "@example.org\nTo: alice@example.org\n" \
			    "Subject: message " k "\nMessage-ID: <fixed-" k \
			    "@popsyncd.test>\n\n"
			body = ""
			while (length(h) + length(body) + 76 <= size)
				body = body pad "\n"
			rest = size - length(h) - length(body)
			if (rest > 0)
				body = body substr(pad, 1, rest - 1) "\n"
			msg = h body
			lines = gsub(/\n/, "\n", msg)
			f = sprintf("%s/new/%d.M%d.fixed,S=%d,W=%d", md,
			    1700000000 + k, k, length(msg), length(msg) + lines)
			printf "%s", msg > f
			close(f)
		}
	}' || fail "seed_fixed: awk failed"
	chown -R "$MAIL_UID:$MAIL_GID" "$SERVER_MD"
}

# seed_huge: MIB: one message of MIB MiB of 69-byte lines.
seed_huge()
{
	local mib=$1 f
	mkdir -p "$SERVER_MD/new" "$SERVER_MD/cur" "$SERVER_MD/tmp"
	f=$SERVER_MD/new/1700000001.M1.huge
	{
		printf 'From: sender@example.org\nTo: alice@example.org\n'
		printf 'Subject: huge\nMessage-ID: <huge-1@popsyncd.test>\n\n'
		yes 'line of a huge message: the quick brown fox jumps over the lazy dog' |
		    head -n $((mib * 1048576 / 69)) || :	# yes dies of SIGPIPE
	} >"$f"
	chown -R "$MAIL_UID:$MAIL_GID" "$SERVER_MD"
}

# new_mailbox: empty alice's mailbox, dovecot's index files too.  Every
# session of the previous step has ended (each tool waits for QUIT's
# +OK), so no pop3 process holds the old one.
new_mailbox()
{
	rm -rf -- "$SERVER_MD"
}

# run_tool: TOOL FS STEP REP: a fresh Maildir and state for TOOL on FS
# (ext4: the temp dir; tmpfs), its first sync ("STEP"), then a poll with
# nothing new ("STEP-none"), then the check against the server.
run_tool()
{
	local tool=$1 fs=$2 step=$3 rep=$4
	BASE=$T_DIR
	[ "$fs" = tmpfs ] && BASE=$TMPFS
	"setup_$tool"
	"poll_$tool" "$step-$fs" "$rep"
	"poll_$tool" "$step-$fs-none" "$rep"
	check_maildir "$tool" "$BASE/$tool/Maildir" "$step-$fs-$rep" \
	    >/dev/null
	# On ext4 the files are kept until the end: ext4 skips inodes freed
	# in the last seconds when it allocates new ones, so a tool that ran
	# just after the previous one's 2000 files were removed paid for
	# that removal (its first syncs 0.4 s, later ones 1.6 s, mpop alike).
	if [ "$fs" = ext4 ]; then
		mv -- "$BASE/$tool" "$TRASH/$tool.$step.$rep"
	else
		rm -rf -- "${BASE:?}/$tool"
	fi
	BASE=$T_DIR
}

# run_wire: STEP REP: the wire bound over the mailbox as it is.
run_wire()
{
	local out
	measure wire "$1" "$2" 0 "$WIRE" localhost "$POP3S_PORT" \
	    "$T_DIR/ca.crt" alice "$ALICE_PASS"
	out=$(grep -c . "$T_DIR/wire.log")
	[ "$out" -gt 0 ] || fail "wire: no output"
}

# col: TOOL STEP FIELD (4 wall, 5 cpu, 6 rss KiB): the median.
col()
{
	awk -v t="$1" -v s="$2" -v f="$3" '$1 == t && $2 == s { print $f }' \
	    "$ROUND_RESULTS" | median
}

# colmax: TOOL STEP-PATTERN: the largest RSS (KiB) of matching steps.
colmax()
{
	awk -v t="$1" -v p="$2" '$1 == t && $2 ~ p && $6 > m { m = $6 }
	    END { print m + 0 }' "$ROUND_RESULTS"
}

# ratio: A B: A / B to two places.
ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# verdict: VALUE OP LIMIT: "met" or "NOT met".
verdict()
{
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		ok = (op == "<=") ? v <= l : (op == "<") ? v < l : 0
		print ok ? "met" : "NOT met"
	}'
}

# want: SECTION: is it one --only asked for?
want()
{
	case " $ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

say "targets: ${QUICK:+quick mode, }$REPS rounds per row; sections: $ONLY"

# first_syncs: STEP: REPS rounds over the mailbox as it is: the wire bound,
# then popsyncd and mpop on ext4 and on tmpfs.
first_syncs()
{
	local rep fs
	for rep in $(seq 1 "$REPS"); do
		run_wire "$1" "$rep"
		for fs in ext4 tmpfs; do
			run_tool popsyncd "$fs" "$1" "$rep"
			run_tool mpop "$fs" "$1" "$rep"
		done
	done
}

# --- 2000 x 4 KiB --------------------------------------------------------------
if want small; then
new_mailbox
seed_fixed "$N_SMALL" 4096
say "small: $N_SMALL x 4 KiB"
first_syncs small
fi

# --- the 84 MiB mixed mailbox -------------------------------------------------
if want mixed; then
new_mailbox
bench_seed 1 "$N_MIXED" bench
say "mixed: $N_MIXED x 2-200 KiB, $(server_files | xargs -d '\n' cat | wc -c) bytes"
first_syncs mixed
fi

# --- memory: 10 messages, N_BIG messages, one huge one -----------------------
if want rss; then
new_mailbox
seed_fixed 10 4096
for rep in $(seq 1 "$REPS"); do
	run_tool popsyncd tmpfs ten "$rep"
done
new_mailbox
seed_huge "$BIG_MIB"
say "huge: one message of $BIG_MIB MiB"
run_tool popsyncd tmpfs huge 1
fi
if want big; then
new_mailbox
seed_fixed "$N_BIG" 1024
say "big: $N_BIG x 1 KiB"
# The wire client first, untimed for the table: dovecot builds its index
# of the new mailbox and moves every message read from new/ to cur/ at
# its QUIT.  Whoever came first paid for that (popsyncd: 1.9 s empty
# polls where later ones took 0.9 s), and mpop never did.
run_wire big 1
# One first sync (it takes a while), then REPS polls with nothing new.
BASE=$TMPFS
setup_popsyncd
poll_popsyncd big-tmpfs 1
for rep in $(seq 1 "$REPS"); do
	poll_popsyncd big-tmpfs-none "$rep"
done
setup_mpop
poll_mpop big-tmpfs 1
for rep in $(seq 1 "$REPS"); do
	poll_mpop big-tmpfs-none "$rep"
done
rm -rf -- "${TMPFS:?}/popsyncd" "${TMPFS:?}/mpop"
BASE=$T_DIR
fi

# --- 500 accounts in one daemon -------------------------------------------------

# acct_seed: N users u001.. with dovecot's test password and ACCT_MSGS
# messages of 4 KiB each; dovecot rereads its passwd file when it changes.
acct_seed()
{
	local n=$1 i u
	for i in $(seq 1 "$n"); do
		u=$(printf 'u%03d' "$i")
		echo "$u:{PLAIN}$ALICE_PASS:$MAIL_UID:$MAIL_GID::$T_DIR/mail/$u::"
	done >>"$T_DIR/dovecot/passwd"
	LC_ALL=C awk -v n="$n" -v m="$ACCT_MSGS" -v top="$T_DIR/mail" '
	BEGIN {
		body = ""
		for (l = 0; l < 50; l++)
			body = body sprintf("%079d", l) "\n"
		for (i = 1; i <= n; i++) {
			u = sprintf("u%03d", i)
			system("mkdir -p " top "/" u "/new " top "/" u "/cur " \
			    top "/" u "/tmp")
			for (k = 1; k <= m; k++) {
				f = sprintf("%s/%s/new/%d.M%d.acct", top, u,
				    1700000000 + k, k)
				printf "From: s@example.org\nTo: %s@example.org\n" \
				    "Message-ID: <%s-%d@popsyncd.test>\n\n%s", \
				    u, u, k, body > f
				close(f)
			}
		}
	}' || fail "acct_seed: awk failed"
	chown -R "$MAIL_UID:$MAIL_GID" "$T_DIR/mail"
}

# acct_config: FILE: one daemon config with N_ACCTS accounts on tmpfs.
acct_config()
{
	local i u
	{
		echo "state_db = \"$TMPFS/accts/state.db\";"
		echo "max_parallel = $ACCT_PARALLEL;"
		echo "accounts = ("
		for i in $(seq 1 "$N_ACCTS"); do
			u=$(printf 'u%03d' "$i")
			[ "$i" -gt 1 ] && echo ","
			printf '{ name = "%s"; host = "localhost"; port = %s;' \
			    "$u" "$POP3S_PORT"
			printf ' tls = "implicit"; ca_file = "%s"; user = "%s";' \
			    "$T_DIR/ca.crt" "$u"
			printf ' password = "%s"; maildir = "%s"; interval = 3600; }' \
			    "$ALICE_PASS" "$TMPFS/accts/$u"
		done
		echo ");"
	} >"$1"
}

# acct_wait: COUNT: until dovecot's log holds COUNT more logins of the
# users u001.. than at the start of the round ($ACCT_BASE) and the daemon
# is back to its one thread (each sync runs on a thread of its own), 5
# min at most; prints the seconds it took.  Not popsyncd's log: an empty
# poll is logged at debug level only, and -v logs every command; not
# dovecot's "Disconnected" lines: now and then a pop3 process logs none.
acct_sessions()
{
	grep -c 'pop3-login: Info: Login: user=<u[0-9]*>' "$(dovecot_log)" || :
}
acct_wait()
{
	local want=$1 t0 n
	now_ms
	t0=$NOW
	while :; do
		n=$(($(acct_sessions) - ACCT_BASE))
		[ "$n" -ge "$want" ] &&
		    [ "$(find "/proc/$ACCT_PID/task" -mindepth 1 -maxdepth 1 |
		    wc -l)" -eq 1 ] && break
		now_ms
		[ $((NOW - t0)) -gt 300000 ] &&
		    fail "accounts: $n of $want syncs after 5 minutes"
		kill -0 "$ACCT_PID" 2>/dev/null ||
		    { tail -n 20 "$T_DIR/accts.log" >&2
		      fail "accounts: the daemon died"; }
		sleep 0.02
	done
	now_ms
	awk -v a="$t0" -v b="$NOW" 'BEGIN { printf "%.2f", (b - a) / 1000 }'
}

# acct_cpu: the daemon's CPU seconds so far.
acct_cpu()
{
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
	    "/proc/$ACCT_PID/stat"
}

if want accounts; then
acct_seed "$N_ACCTS"
# Dovecot's default starts a login process per connection, each with its
# own session cache, so no TLS session can be resumed; its documented
# high-performance mode (login processes serving many connections)
# resumes them, as a busy server would.  bench/bare.c does a full
# handshake either way.
sed -i 's/^service pop3-login {/&\n  service_count = 0\n  process_min_avail = 1/' \
    "$DOVECOT_CONF"
doveadm -c "$DOVECOT_CONF" reload || fail "doveadm reload failed"
sleep 1
say "accounts: $N_ACCTS x $ACCT_MSGS x 4 KiB, max_parallel $ACCT_PARALLEL"
for rep in $(seq 1 "$REPS"); do
	rm -rf -- "${TMPFS:?}/accts"
	mkdir -p "$TMPFS/accts"
	chmod 700 "$TMPFS/accts"
	acct_config "$TMPFS/accts/config"
	chmod 600 "$TMPFS/accts/config"
	chown -R "$BENCH_USER:$BENCH_GROUP" "$TMPFS/accts"
	log=$T_DIR/accts.log
	: >"$log"
	chmod 666 "$log"
	# Counted from before the start: a first poll may begin (after its
	# jitter) before the SIGUSR1 below, and is not made again by it.
	ACCT_BASE=$(acct_sessions)
	setpriv --reuid="$BENCH_USER" --regid="$BENCH_GROUP" --clear-groups \
	    "$POPSYNCD" -c "$TMPFS/accts/config" 2>>"$log" &
	ACCT_PID=$!
	# Its first polls are spread over up to 5 s; SIGUSR1 once it is up
	# makes them all due at once, so the round is timed from there.
	for i in $(seq 1 500); do
		grep -q 'started with' "$log" && break
		sleep 0.01
	done
	kill -USR1 "$ACCT_PID"
	first=$(acct_wait "$N_ACCTS")
	cpu1=$(acct_cpu)
	ACCT_BASE=$(acct_sessions)
	kill -USR1 "$ACCT_PID"
	again=$(acct_wait "$N_ACCTS")
	cpu2=$(acct_cpu)
	rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$ACCT_PID/status")
	fds=$(find "/proc/$ACCT_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	kill -TERM "$ACCT_PID"
	wait "$ACCT_PID" || fail "accounts: the daemon did not stop cleanly"
	ACCT_PID=
	got=$(find "$TMPFS/accts" -path '*/new/*' -type f | wc -l)
	[ "$got" -eq $((N_ACCTS * ACCT_MSGS)) ] ||
	    fail "accounts: $got messages delivered, not $((N_ACCTS * ACCT_MSGS))"
	echo "popsyncd accts-first $rep $first $cpu1 $rss" >>"$ROUND_RESULTS"
	echo "popsyncd accts-again $rep $again $(awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { printf "%.2f", b - a }') $rss" >>"$ROUND_RESULTS"
	echo "popsyncd accts-fds $rep $fds 0 0" >>"$ROUND_RESULTS"
	measure bare accts "$rep" 0 "$BARE" localhost "$POP3S_PORT" \
	    "$T_DIR/ca.crt" u "$ALICE_PASS" "$N_ACCTS" "$ACCT_PARALLEL"
done
rm -rf -- "${TMPFS:?}/accts"
fi

# --- the listing parser ---------------------------------------------------------
listing_out="not built (no $builddir/src/libpopsync.a)"
if [ -n "$LISTING" ] && want listing; then
	for rep in $(seq 1 "$REPS"); do
		measure listing parse "$rep" 0 "$LISTING" "$N_LISTING"
	done
	listing_out=$(grep -o 'parsed in [0-9.]* s' "$T_DIR/listing.log" |
	    awk '{ print $3 }' | median)
fi

# --- the table --------------------------------------------------------------------
w_small=$(col wire small 4)
w_mixed=$(col wire mixed 4)
row()
{
	# row: WHAT VALUE RATIO-TEXT TARGET VERDICT
	printf '| %s | %s | %s | %s | %s |\n' "$@"
}
echo
echo "issue 9 targets: medians of $REPS; wall seconds; load average at the start $LOAD_START, now $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| what | popsyncd | ratio | target | verdict |"
echo "| --- | ---: | --- | --- | --- |"
if want small; then
p=$(col popsyncd small-ext4 4)
m=$(col mpop small-ext4 4)
r=$(ratio "$p" "$m")
row "first sync, $N_SMALL x 4 KiB, ext4" "$p s" "$r x mpop ($m s)" \
    "<= 0.5 x mpop" "$(verdict "$r" '<=' 0.5)"
p=$(col popsyncd small-tmpfs 4)
m=$(col mpop small-tmpfs 4)
r=$(ratio "$p" "$m")
rw=$(ratio "$p" "$w_small")
row "first sync, $N_SMALL x 4 KiB, tmpfs" "$p s" \
    "$rw x wire ($w_small s); $r x mpop ($m s)" "<= 1.5 x wire, < mpop" \
    "$(verdict "$rw" '<=' 1.5) / $(verdict "$r" '<' 1)"
fi
if want mixed; then
for fs in ext4 tmpfs; do
	p=$(col popsyncd "mixed-$fs" 4)
	m=$(col mpop "mixed-$fs" 4)
	r=$(ratio "$p" "$m")
	row "first sync, mixed $N_MIXED, $fs" "$p s" \
	    "$r x mpop ($m s); $(ratio "$p" "$w_mixed") x wire ($w_mixed s)" \
	    "<= 0.7 x mpop" "$(verdict "$r" '<=' 0.7)"
done
p=$(col popsyncd mixed-ext4-none 4)
m=$(col mpop mixed-ext4-none 4)
r=$(ratio "$p" "$m")
row "poll, nothing new ($N_MIXED)" "$p s" "$r x mpop ($m s)" "<= mpop" \
    "$(verdict "$r" '<=' 1)"
fi
rss=$(colmax popsyncd .)
row "max RSS, every popsyncd run" "$(ratio "$rss" 1024) MiB" \
    "mpop $(ratio "$(colmax mpop .)" 1024) MiB" "<= 8 MiB" \
    "$(verdict "$rss" '<=' 8192)"
if want rss; then
r10=$(colmax popsyncd '^ten')
rbig=$(colmax popsyncd '^big')
want big &&
    row "max RSS, 10 vs $N_BIG messages" \
    "$(ratio "$r10" 1024) / $(ratio "$rbig" 1024) MiB" \
    "$(ratio "$rbig" "$r10") x" "the same, <= 8 MiB" \
    "$(verdict "$rbig" '<=' 8192)"
rh=$(colmax popsyncd '^huge')
row "max RSS, one $BIG_MIB MiB message" "$(ratio "$rh" 1024) MiB" "-" \
    "<= 8 MiB" "$(verdict "$rh" '<=' 8192)"
fi
if want big; then
p=$(col popsyncd big-tmpfs-none 4)
row "poll, nothing new, $N_BIG messages" "$p s" \
    "mpop $(col mpop big-tmpfs-none 4) s" "< 0.5 s" "$(verdict "$p" '<' 0.5)"
fi
if want accounts; then
	b=$(col bare accts 4)
	p=$(col popsyncd accts-again 4)
	r=$(ratio "$p" "$b")
	row "$N_ACCTS accounts x $ACCT_MSGS, first round" \
	    "$(col popsyncd accts-first 4) s" \
	    "CPU $(col popsyncd accts-first 5) s" "(reported)" "-"
	row "$N_ACCTS accounts, re-poll round (SIGUSR1)" "$p s" \
	    "$r x bare client ($b s); CPU $(col popsyncd accts-again 5) s" \
	    "<= 0.8 x bare" "$(verdict "$r" '<=' 0.8)"
	rss=$(colmax popsyncd '^accts-(first|again)')
	row "$N_ACCTS accounts, daemon max RSS" "$(ratio "$rss" 1024) MiB" \
	    "open fds $(col popsyncd accts-fds 4)" "<= 10 MiB" \
	    "$(verdict "$rss" '<=' 10240)"
fi
want listing &&
    row "LIST+UIDL parse, $N_LISTING messages" "$listing_out s" "-" "(reported)" "-"
echo
echo "every run (tool step round wall_s cpu_s maxrss_KiB):"
cat "$ROUND_RESULTS"
