# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Shared set-up for the integration tests, sourced by each t_*.sh (bash).
#
# It makes a private temp dir, a test CA with a server certificate for
# localhost/127.0.0.1 and a second CA that nobody trusts, and can run a
# throwaway dovecot POP3 server on free loopback ports, a scripted fault
# server (tests/fault/faultpop3d.c), and popsyncd or pop3cmd against them.
# Everything it starts is stopped, and the temp dir removed, on any exit.
#
# Exit codes follow automake's test driver: 0 pass, 1 fail, 77 skip.  A
# skip is only allowed outside CI ($CI unset): in CI a missing dovecot is
# a failure, because a skipped test proves nothing.

set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$LIB_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

POPSYNCD=${POPSYNCD:-$top_builddir/src/popsyncd}
POP3CMD=${POP3CMD:-$top_builddir/tests/pop3cmd}
FAULTPOP3D=${FAULTPOP3D:-$top_builddir/tests/faultpop3d}

# Every test user has this password; bob's differs to catch mix-ups.
ALICE_PASS='alice-Secret-1'
BOB_PASS='bob-Secret-2'
MAIL_UID=8
MAIL_GID=8

T_NAME=$(basename "$0" .sh)
T_DIR=
DOVECOT_CONF=
DOVECOT_PID=
FAULT_PID=
CHECKS=0

# --- reporting ------------------------------------------------------------

# say: a progress line, so the .log file tells what was checked.
say()
{
	printf '%s: %s\n' "$T_NAME" "$*"
}

# fail: report a failed check with whatever output explains it, exit 1.
fail()
{
	printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2
	for f in "$T_DIR/out" "$T_DIR/err"; do
		if [ -n "$T_DIR" ] && [ -s "$f" ]; then
			printf -- '--- %s\n' "${f##*/}" >&2
			head -c 4000 "$f" >&2
			echo >&2
		fi
	done
	exit 1
}

# skip: exit 77, but never in CI, where it is a failure instead.
skip()
{
	if [ -n "${CI:-}" ]; then
		fail "would skip in CI: $*"
	fi
	printf '%s: SKIP: %s\n' "$T_NAME" "$*"
	exit 77
}

# ok: count and print a passed check.
ok()
{
	CHECKS=$((CHECKS + 1))
	printf '%s: ok %d - %s\n' "$T_NAME" "$CHECKS" "$*"
}

# done_testing: the last line of every test.
done_testing()
{
	say "all $CHECKS checks passed"
	exit 0
}

# --- running things ---------------------------------------------------------

# run: run a command with a time limit, stdout to $T_DIR/out, stderr to
# $T_DIR/err; the exit status lands in $RC (never fails the shell).
run()
{
	RC=0
	timeout -k 5 "${RUN_TIMEOUT:-60}" "$@" >"$T_DIR/out" 2>"$T_DIR/err" ||
	    RC=$?
	return 0
}

# mk: VAR: the value make uses for VAR in the build tree.
mk()
{
	printf 'print-var:\n\t@echo $(%s)\n' "$1" |
	    make -s -C "$top_builddir" --no-print-directory -f Makefile -f - \
	    print-var
}

# now_ms: set NOW to the wall clock in milliseconds, without a fork.
now_ms()
{
	local t=${EPOCHREALTIME//[!0-9]/}
	NOW=$((10#$t / 1000))
}

# expect_rc: DESC WANT CMD...: run CMD and require exit status WANT.
expect_rc()
{
	local desc=$1 want=$2
	shift 2
	run "$@"
	if [ "$RC" -ne "$want" ]; then
		fail "$desc: exit $RC, expected $want (command: $*)"
	fi
	# Under --enable-sanitizers a report may come with the expected 1.
	if grep -Eq 'Sanitizer|runtime error:' "$T_DIR/err"; then
		fail "$desc: sanitizer report"
	fi
}

# assert_out / assert_err: PATTERN (grep -E) must occur in stdout/stderr.
assert_out()
{
	grep -Eq -- "$1" "$T_DIR/out" ||
	    fail "stdout lacks /$1/${2:+ ($2)}"
}

assert_err()
{
	grep -Eq -- "$1" "$T_DIR/err" ||
	    fail "stderr lacks /$1/${2:+ ($2)}"
}

# assert_not_in: FILE PATTERN: PATTERN (grep -E) must not occur in FILE.
assert_not_in()
{
	if grep -Eq -- "$2" "$1"; then
		fail "${1##*/} contains /$2/: $(grep -E -- "$2" "$1" | head -3)"
	fi
}

# assert_eq: GOT WANT DESC.
assert_eq()
{
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# assert_same_file: A B DESC: byte-for-byte equal.
assert_same_file()
{
	cmp -s -- "$1" "$2" ||
	    fail "$3: $1 and $2 differ ($(cmp -- "$1" "$2" 2>&1 | head -1))"
}

# need_programs: the built binaries the test drives; missing ones mean the
# build is broken, which is a failure, not a skip.
need_programs()
{
	local p
	for p in "$@"; do
		[ -x "$p" ] || fail "$p not built (run make check)"
	done
}

# need_dovecot: skip (outside CI) or fail (in CI) without a usable dovecot.
need_dovecot()
{
	local p
	for p in dovecot doveadm doveconf openssl; do
		command -v "$p" >/dev/null 2>&1 ||
		    PATH=$PATH:/usr/sbin command -v "$p" >/dev/null 2>&1 ||
		    skip "$p not installed (apt-get install dovecot-core dovecot-pop3d openssl)"
	done
	PATH=$PATH:/usr/sbin
	# dovecot switches to the mail user for each login: that needs root.
	[ "$(id -u)" -eq 0 ] || skip "dovecot tests need root (mail_uid = mail)"
	getent passwd mail >/dev/null || skip "no 'mail' user"
}

# --- temp dir and cleanup ---------------------------------------------------

# cleanup: the EXIT trap: stop what we started, remove the temp dir.
cleanup()
{
	local rc=$?
	trap - EXIT INT TERM HUP
	fault_stop
	stop_dovecot
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "${KEEP_TMP:-}" ]; then
			echo "$T_NAME: keeping $T_DIR" >&2
		else
			rm -rf -- "$T_DIR"
		fi
	fi
	exit "$rc"
}

T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/popsyncd-$T_NAME.XXXXXX") ||
    { echo "$T_NAME: mktemp failed" >&2; exit 1; }
# dovecot's unprivileged processes must traverse it to reach the Maildirs.
chmod 755 "$T_DIR"
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- ports ------------------------------------------------------------------

# port_busy: whether something listens on 127.0.0.1:PORT.
port_busy()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: print a port in 20000-60000 that nothing listens on.  Another
# process may still take it before we bind; start_dovecot retries.
free_port()
{
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! port_busy "$p"; then
			echo "$p"
			return 0
		fi
	done
	fail "no free port found"
}

# wait_port: PORT [SECONDS]: wait until 127.0.0.1:PORT accepts.
wait_port()
{
	local i n=$((${2:-10} * 10))
	for i in $(seq 1 "$n"); do
		port_busy "$1" && return 0
		sleep 0.1
	done
	return 1
}

# --- certificates -----------------------------------------------------------

# make_certs: $T_DIR/ca.crt (trusted test CA), server.crt/key signed by it
# for DNS:localhost and IP:127.0.0.1, other-ca.crt (a CA nobody trusts).
make_certs()
{
	local d=$T_DIR/pki
	[ -f "$T_DIR/ca.crt" ] && return 0
	mkdir -p "$d"
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout ca.key -out ca.crt -days 30 \
		    -subj "/O=popsyncd tests/CN=popsyncd test CA" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout other-ca.key -out other-ca.crt -days 30 \
		    -subj "/O=popsyncd tests/CN=untrusted CA" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout server.key -out server.csr \
		    -subj "/O=popsyncd tests/CN=localhost"
		cat >server.ext <<-EOF
		basicConstraints = CA:FALSE
		keyUsage = critical, digitalSignature
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:localhost, IP:127.0.0.1
		EOF
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
		    -CAcreateserial -days 30 -extfile server.ext -out server.crt
	) >"$T_DIR/pki.log" 2>&1 || { cat "$T_DIR/pki.log" >&2; fail "openssl could not make the test certificates"; }
	cp "$d/ca.crt" "$d/other-ca.crt" "$d/server.crt" "$T_DIR/"
	# The SHA-256 fingerprint as openssl prints it: "AB:CD:...".
	SERVER_FPR=$(openssl x509 -in "$d/server.crt" -noout -fingerprint \
	    -sha256 | sed 's/^.*=//')
	export SERVER_FPR
}

# --- dovecot ----------------------------------------------------------------

# write_dovecot_conf: the config of our private instance on POP3_PORT and
# POP3S_PORT.  Both 127.0.0.1 and 127.0.0.2 listen: the certificate names
# only the first, so connecting to the second is a hostname mismatch.
write_dovecot_conf()
{
	local listen=127.0.0.1
	[ -n "${DOVECOT_ALT_LISTEN:-}" ] && listen="127.0.0.1, $DOVECOT_ALT_LISTEN"
	DOVECOT_CONF=$T_DIR/dovecot/dovecot.conf
	mkdir -p "$T_DIR/dovecot/run" "$T_DIR/dovecot/state" "$T_DIR/mail"
	chown "$MAIL_UID:$MAIL_GID" "$T_DIR/mail"
	cat >"$T_DIR/dovecot/passwd" <<-EOF
	alice:{PLAIN}$ALICE_PASS:$MAIL_UID:$MAIL_GID::$T_DIR/mail/alice::
	bob:{PLAIN}$BOB_PASS:$MAIL_UID:$MAIL_GID::$T_DIR/mail/bob::
	EOF
	cat >"$DOVECOT_CONF" <<-EOF
	# Generated by tests/integration/lib.sh for $T_NAME; throwaway.
	instance_name = popsyncd-test-$T_NAME-$$
	# The tag lets start_dovecot tell our listener from another test's.
	login_greeting = Dovecot ready (popsyncd-test-$T_NAME-$$)
	base_dir = $T_DIR/dovecot/run
	state_dir = $T_DIR/dovecot/state
	log_path = $T_DIR/dovecot/dovecot.log
	info_log_path = $T_DIR/dovecot/dovecot.log
	protocols = pop3
	listen = $listen
	ssl = yes
	ssl_cert = <$T_DIR/pki/server.crt
	ssl_key = <$T_DIR/pki/server.key
	disable_plaintext_auth = no
	auth_mechanisms = plain login cram-md5 apop
	auth_verbose = yes
	# A wrong password is answered at once, not after 2 s.
	auth_failure_delay = 0
	passdb {
	  driver = passwd-file
	  args = scheme=PLAIN $T_DIR/dovecot/passwd
	}
	userdb {
	  driver = passwd-file
	  args = $T_DIR/dovecot/passwd
	}
	mail_uid = $MAIL_UID
	mail_gid = $MAIL_GID
	first_valid_uid = $MAIL_UID
	first_valid_gid = $MAIL_GID
	mail_location = maildir:$T_DIR/mail/%u
	pop3_uidl_format = %08Xu%08Xv
	service pop3-login {
	  inet_listener pop3 {
	    port = $POP3_PORT
	  }
	  inet_listener pop3s {
	    port = $POP3S_PORT
	    ssl = yes
	  }
	}
	# No per-IP auth penalty (2 s, 4 s, ... after each failure): the
	# wrong-password tests would crawl.  auth cannot open this socket.
	service anvil {
	  unix_listener anvil-auth-penalty {
	    mode = 0
	  }
	}
	service imap-login {
	  inet_listener imap {
	    port = 0
	  }
	  inet_listener imaps {
	    port = 0
	  }
	}
	EOF
	# A test may change the config (t_oauth2.sh adds an oauth2 passdb).
	if declare -F dovecot_conf_hook >/dev/null; then
		dovecot_conf_hook "$DOVECOT_CONF"
	fi
}

# start_dovecot: check the config, start the instance, wait until both
# listeners accept.  Retries on fresh ports if a port was taken meanwhile.
start_dovecot()
{
	local try
	need_dovecot
	make_certs
	# 127.0.0.2 only when it can be bound here (all of 127/8 is local
	# on Linux, but a sandbox may differ).
	if [ -z "${DOVECOT_ALT_LISTEN+x}" ]; then
		DOVECOT_ALT_LISTEN=
		if timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.2/1' 2>&1 |
		    grep -q 'refused'; then
			DOVECOT_ALT_LISTEN=127.0.0.2
		fi
	fi
	for try in 1 2 3 4 5; do
		POP3_PORT=$(free_port)
		POP3S_PORT=$(free_port)
		[ "$POP3_PORT" = "$POP3S_PORT" ] && continue
		write_dovecot_conf
		doveconf -c "$DOVECOT_CONF" -n >"$T_DIR/dovecot/doveconf.out" 2>&1 ||
		    { cat "$T_DIR/dovecot/doveconf.out" >&2; fail "doveconf rejects the test config"; }
		: >"$T_DIR/dovecot/dovecot.log"
		if ! dovecot -c "$DOVECOT_CONF" 2>"$T_DIR/dovecot/start.err"; then
			# Another test took a port between free_port and here.
			cat "$T_DIR/dovecot/start.err" "$T_DIR/dovecot/dovecot.log" |
			    grep -q 'Address already in use' && continue
			cat "$T_DIR/dovecot/start.err" "$T_DIR/dovecot/dovecot.log" >&2
			fail "dovecot did not start"
		fi
		DOVECOT_PID=$(cat "$T_DIR/dovecot/run/master.pid" 2>/dev/null)
		if wait_port "$POP3_PORT" 10 && wait_port "$POP3S_PORT" 5 &&
		    dovecot_is_ours; then
			export POP3_PORT POP3S_PORT
			say "dovecot running (pid $DOVECOT_PID) on 127.0.0.1:$POP3_PORT (pop3), :$POP3S_PORT (pop3s)${DOVECOT_ALT_LISTEN:+, also on $DOVECOT_ALT_LISTEN}"
			return 0
		fi
		if grep -q 'Address already in use' "$T_DIR/dovecot/dovecot.log" ||
		    port_busy "$POP3_PORT"; then
			# A port was taken, or answered by someone else.
			stop_dovecot
			continue
		fi
		cat "$T_DIR/dovecot/dovecot.log" >&2
		fail "dovecot did not listen on $POP3_PORT/$POP3S_PORT"
	done
	fail "dovecot could not bind free ports"
}

# dovecot_is_ours: the greeting on $POP3_PORT carries our instance tag,
# so the tests are not talking to another test's server.
dovecot_is_ours()
{
	local line
	line=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; head -n 1 <&3' \
	    _ "$POP3_PORT" 2>/dev/null)
	case $line in
	*"popsyncd-test-$T_NAME-$$"*) return 0 ;;
	esac
	say "port $POP3_PORT answers '$line', not our dovecot; trying again"
	return 1
}

# stop_dovecot: stop our instance and wait until its master has gone.
stop_dovecot()
{
	local i
	[ -n "$DOVECOT_CONF" ] && [ -n "$DOVECOT_PID" ] || return 0
	doveadm -c "$DOVECOT_CONF" stop >/dev/null 2>&1 ||
	    kill "$DOVECOT_PID" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DOVECOT_PID" 2>/dev/null && kill -9 "$DOVECOT_PID" 2>/dev/null
	DOVECOT_PID=
	return 0
}

# dovecot_log: the instance's log file.
dovecot_log()
{
	echo "$T_DIR/dovecot/dovecot.log"
}

# --- mail -------------------------------------------------------------------

SEED_SEQ=0

# gen_message: SEQ LINES: print a test message with LF line endings.  It has
# lines that need dot-stuffing, an empty line in the body and a long line.
gen_message()
{
	local seq=$1 n=$2 i
	printf 'From: sender%d@example.org\n' "$seq"
	printf 'To: alice@example.org\n'
	printf 'Subject: test message %d\n' "$seq"
	printf 'Message-ID: <seed-%d@popsyncd.test>\n' "$seq"
	printf '\n'
	for i in $(seq 1 "$n"); do
		case $((i % 5)) in
		0) printf '.leading dot %d-%d\n' "$seq" "$i" ;;
		1) printf 'line %d of message %d\n' "$i" "$seq" ;;
		2) printf '\n' ;;
		3) printf '..two dots %d\n' "$i" ;;
		4) printf '%0200d\n' "$i" ;;
		esac
	done
	printf '.\n'
	printf 'end of message %d\n' "$seq"
}

# seed_message: USER FILE | USER generated N [LINES]: put messages into
# USER's Maildir new/ (LF endings, ,S= and ,W= sizes in the name, owned by
# the mail user).  A copy of each goes to $T_DIR/seeded/USER/<n>, numbered
# in seeding order, which is the POP3 order for a fresh mailbox.
seed_message()
{
	local user=$1 md=$T_DIR/mail/$1 src n i lines
	mkdir -p "$md/new" "$md/cur" "$md/tmp" "$T_DIR/seeded/$user"
	chown -R "$MAIL_UID:$MAIL_GID" "$md"
	if [ "$2" = generated ]; then
		n=$3
		lines=${4:-20}
		for i in $(seq 1 "$n"); do
			gen_message "$((SEED_SEQ + 1))" "$lines" >"$T_DIR/gen.tmp"
			seed_file "$user" "$T_DIR/gen.tmp"
		done
		rm -f "$T_DIR/gen.tmp"
	else
		src=$2
		seed_file "$user" "$src"
	fi
}

# seed_file: USER FILE: one message; names sort in seeding order.
seed_file()
{
	local user=$1 md=$T_DIR/mail/$1 size wsize name k
	SEED_SEQ=$((SEED_SEQ + 1))
	size=$(wc -c <"$2")
	wsize=$((size + $(wc -l <"$2")))
	name=$((1700000000 + SEED_SEQ)).M${SEED_SEQ}P$$.popsyncd-test,S=$size,W=$wsize
	cp -- "$2" "$md/tmp/$name"
	chown "$MAIL_UID:$MAIL_GID" "$md/tmp/$name"
	mv -- "$md/tmp/$name" "$md/new/$name"
	k=$(ls "$T_DIR/seeded/$user" | wc -l)
	cp -- "$2" "$T_DIR/seeded/$user/$((k + 1))"
}

# seeded: USER N: path of the N-th message seeded for USER.
seeded()
{
	echo "$T_DIR/seeded/$1/$2"
}

# mailbox_count: USER: messages in the Maildir (new/ + cur/).
mailbox_count()
{
	find "$T_DIR/mail/$1/new" "$T_DIR/mail/$1/cur" -type f | wc -l
}

# seed_bulk: USER N [PROFILE]: N more messages into USER's Maildir new/,
# named, owned and copied to $T_DIR/seeded/USER/ as seed_message does, but
# by one awk: seed_message forks a dozen processes per message.  Bodies
# have lines that need dot-stuffing (".", "..", ".x"), empty and long
# lines.  PROFILE "small" (the default): 1-3 KiB each.  "mixed": every
# 50th message, from the 25th, is 100-500 KiB, the rest 0.2-6 KiB, with
# 8-bit lines too.  Message k (counting all seeded for USER) has
# Message-ID <bulk-k@popsyncd.test>, so no two are equal, and its text
# depends on k, USER and PROFILE alone.
seed_bulk()
{
	local user=$1 n=$2 profile=${3:-small} md=$T_DIR/mail/$1 first
	case $profile in
	small|mixed) ;;
	*) fail "seed_bulk: unknown profile $profile" ;;
	esac
	mkdir -p "$md/new" "$md/cur" "$md/tmp" "$T_DIR/seeded/$user"
	first=$(($(ls "$T_DIR/seeded/$user" | wc -l) + 1))
	LC_ALL=C awk -v n="$n" -v first="$first" -v seq0="$SEED_SEQ" \
	    -v pid=$$ -v md="$md" -v sd="$T_DIR/seeded/$user" -v user="$user" \
	    -v mixed="$([ "$profile" = mixed ] && echo 1 || echo 0)" '
	function small_line(k, i,   t) {
		t = i % 4
		if (t == 0) return "."
		if (t == 1) return ".dot line " k "-" i
		if (t == 2) return sprintf("%0" (40 + (k * i) % 100) "d", i)
		return ""
	}
	function mixed_line(k, i,   t) {
		t = i % 9
		if (t == 0) return ".leading dot " k "-" i
		if (t == 1) return "line " i " of message " k
		if (t == 2) return ""
		if (t == 3) return "..two dots " i
		if (t == 4) return "."
		if (t == 5) return sprintf("%0" (60 + (k * i) % 940) "d", i)
		if (t == 6) return "Gr\303\274\303\237e aus K\303\266ln " i
		if (t == 7) return ". dot space " k
		return "From the middle of a line " i
	}
	BEGIN {
		for (j = 0; j < n; j++) {
			k = first + j
			seq = seq0 + j + 1
			m = 0
			L[++m] = "From: bulk" k "@example.org"
			L[++m] = "To: " user "@example.org"
			L[++m] = "Subject: bulk message " k
			L[++m] = "Message-ID: <bulk-" k "@popsyncd.test>"
			L[++m] = ""
			if (!mixed)
				target = 1000 + (k * 7919) % 2000
			else if (k % 50 == 25)
				target = (100 + (k * 7919) % 400) * 1024
			else
				target = 200 + (k * 7919) % 6000
			size = 0
			for (i = 1; i <= m; i++)
				size += length(L[i]) + 1
			for (i = 1; size < target; i++) {
				L[++m] = mixed ? mixed_line(k, i) : small_line(k, i)
				size += length(L[m]) + 1
			}
			L[++m] = "end of bulk message " k
			size += length(L[m]) + 1
			name = sprintf("%d.M%dP%d.popsyncd-test,S=%d,W=%d",
			    1700000000 + seq, seq, pid, size, size + m)
			f1 = sd "/" k
			f2 = md "/new/" name
			for (i = 1; i <= m; i++) {
				print L[i] > f1
				print L[i] > f2
			}
			close(f1)
			close(f2)
		}
	}' || fail "seed_bulk: awk failed"
	chown -R "$MAIL_UID:$MAIL_GID" "$md"
	SEED_SEQ=$((SEED_SEQ + n))
}

# sums: OUT DIR...: "sha256 name" of every file under the DIRs, sorted by
# hash, in OUT, and the bare hashes in OUT.h (for comm and uniq -d).  The
# "\" sha256sum puts before a name with a backslash or newline is dropped.
sums()
{
	local out=$1
	shift
	find "$@" -type f -exec sha256sum -- {} + 2>/dev/null |
	    sed 's/^\\//' | sort >"$out"
	cut -d' ' -f1 "$out" >"$out.h"
}

# --- popsyncd config ----------------------------------------------------------

# conf_value: KEY VALUE: one libconfig setting; booleans and integers bare,
# everything else a quoted string.
conf_value()
{
	local k=$1 v=$2
	case $v in
	true|false) printf '    %s = %s;\n' "$k" "$v" ;;
	''|*[!0-9]*)
		v=${v//\\/\\\\}
		v=${v//\"/\\\"}
		printf '    %s = "%s";\n' "$k" "$v" ;;
	*) printf '    %s = %s;\n' "$k" "$v" ;;
	esac
}

# account_block: NAME [KEY=VALUE...]: one account group.  Defaults: alice
# on dovecot's implicit-TLS port, the test CA, a Maildir in the temp dir,
# timeout 10.  KEY= (empty) drops a default.
account_block()
{
	local name=$1 kv k v
	shift
	declare -A kv_map=(
		[host]=localhost [port]=${POP3S_PORT:-995} [tls]=implicit
		[ca_file]=$T_DIR/ca.crt [user]=alice [password]=$ALICE_PASS
		[maildir]=$T_DIR/dest/$name [timeout]=10
	)
	local order="host port tls ca_file user password maildir timeout"
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		case " $order " in
		*" $k "*) ;;
		*) order="$order $k" ;;
		esac
		kv_map[$k]=$v
	done
	printf '  {\n'
	conf_value name "$name"
	for k in $order; do
		[ -n "${kv_map[$k]}" ] && conf_value "$k" "${kv_map[$k]}"
	done
	printf '  }'
}

# write_accounts: FILE ACCOUNTS: a popsyncd config (mode 600): the
# settings every test config has (state_db: $STATE_DB, by default
# $T_DIR/state.db), then "accounts = (" ACCOUNTS ");" where
# ACCOUNTS is account_block output (blocks separated by ",\n").
write_accounts()
{
	{
		echo "# popsyncd test config ($T_NAME)"
		echo "state_db = \"${STATE_DB:-$T_DIR/state.db}\";"
		# The tests run as root in CI; popsyncd refuses root without it.
		[ "$(id -u)" -eq 0 ] && echo "allow_root = true;"
		echo "accounts = ("
		printf '%s\n' "$2"
		echo ");"
	} >"$1"
	chmod 600 "$1"
}

# write_config: FILE NAME [KEY=VALUE...]: a popsyncd config (mode 600) with
# one account; see account_block.  Extra accounts: write_config_multi.
write_config()
{
	local file=$1
	shift
	write_accounts "$file" "$(account_block "$@")"
}

# write_config_multi: FILE BLOCK...: like write_config, with one account
# per BLOCK, a string "NAME KEY=VALUE ..." split on blanks (so no value
# in it may hold a blank or a glob character).
write_config_multi()
{
	local file=$1 b text='' sep=''
	shift
	for b; do
		# shellcheck disable=SC2086
		text=$text$sep$(account_block $b)
		sep=$',\n'
	done
	write_accounts "$file" "$text"
}

# --- fault server -----------------------------------------------------------

# fault_spawn: NAME SCRIPT TRANSCRIPT [OPTION...]: run faultpop3d with
# SCRIPT (a file) and the options given (-n CONNS, -P PORT, ...) in the
# background, recording to TRANSCRIPT, its port to $T_DIR/NAME.port and
# its stderr to $T_DIR/NAME.err, and wait for the port.  Sets SPAWN_PID
# and SPAWN_PORT; the caller owns the process.
fault_spawn()
{
	local name=$1 script=$2 tr=$3 i
	shift 3
	need_programs "$FAULTPOP3D"
	rm -f "$T_DIR/$name.port" "$tr"
	"$FAULTPOP3D" -p "$T_DIR/$name.port" -s "$script" -t "$tr" "$@" \
	    2>"$T_DIR/$name.err" &
	SPAWN_PID=$!
	for i in $(seq 1 100); do
		[ -s "$T_DIR/$name.port" ] && break
		sleep 0.05
	done
	if ! [ -s "$T_DIR/$name.port" ]; then
		kill "$SPAWN_PID" 2>/dev/null
		wait "$SPAWN_PID" 2>/dev/null
		fail "faultpop3d $name wrote no port"
	fi
	SPAWN_PORT=$(cat "$T_DIR/$name.port")
}

# fault_start: SCRIPT [OPTION...]: the test's fault server: fault_spawn
# with the transcript in $T_DIR/transcript; sets FAULT_PORT and
# FAULT_TRANSCRIPT.  fault_wait or fault_stop ends it.
fault_start()
{
	local script=$1
	shift
	fault_stop
	FAULT_TRANSCRIPT=$T_DIR/transcript
	fault_spawn fault "$script" "$FAULT_TRANSCRIPT" "$@"
	FAULT_PID=$SPAWN_PID
	FAULT_PORT=$SPAWN_PORT
}

# fault_wait: wait for the fault server to end; its status in FAULT_RC.
fault_wait()
{
	FAULT_RC=0
	[ -n "$FAULT_PID" ] || return 0
	wait "$FAULT_PID" || FAULT_RC=$?
	FAULT_PID=
}

# fault_stop: kill a fault server that is still running.
fault_stop()
{
	[ -n "$FAULT_PID" ] || return 0
	kill "$FAULT_PID" 2>/dev/null
	wait "$FAULT_PID" 2>/dev/null
	FAULT_PID=
}

# dovecot_config: NAME MODE [KEY=VALUE...]: write $T_DIR/NAME.conf for an
# account NAME on our dovecot with tls MODE (implicit, starttls or none;
# none allows plaintext auth unless told otherwise) and set CONF to it.
dovecot_config()
{
	local name=$1 mode=$2
	shift 2
	CONF=$T_DIR/$name.conf
	case $mode in
	implicit) write_config "$CONF" "$name" port="$POP3S_PORT" tls=implicit "$@" ;;
	starttls) write_config "$CONF" "$name" port="$POP3_PORT" tls=starttls "$@" ;;
	none) write_config "$CONF" "$name" port="$POP3_PORT" tls=none \
	    allow_plaintext_auth=true "$@" ;;
	*) fail "dovecot_config: bad mode $mode" ;;
	esac
}

# fault_config: NAME [KEY=VALUE...]: $T_DIR/NAME.conf for an account on
# the running fault server (cleartext, plaintext auth allowed, timeout 2),
# in CONF.  The scripts all log in as alice@127.0.0.1, one mailbox to
# popsyncd (the ledger belongs to host and user, not to the port), so each
# account name gets a state database of its own.
fault_config()
{
	local name=$1
	shift
	CONF=$T_DIR/$name.conf
	STATE_DB=$T_DIR/$name.state.db write_config "$CONF" "$name" \
	    host=127.0.0.1 port="$FAULT_PORT" tls=none \
	    allow_plaintext_auth=true timeout=2 "$@"
}

# transcript_lacks: PATTERN...: none of the client lines the fault server
# recorded may match (grep -E, anchored after "C: ").
transcript_lacks()
{
	local p
	for p in "$@"; do
		assert_not_in "$FAULT_TRANSCRIPT" "^C: ($p)"
	done
}
