#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# The shipped units under a real systemd 252: systemd-nspawn boots an
# overlay of this machine's own root (PID 1 here need not be systemd; the
# overlay keeps every write in memory), with the "make install" tree bound
# in.  The system template runs for a test user, then the user unit under
# that user's lingering service manager.  Checked: readiness (Type=notify),
# the status line with a failing account, "systemctl reload" with a good
# and a broken config, the daemon's own rejected reload in the status
# line, the journal fields (ACCOUNT=, UIDL=, PRIORITY=) through
# "journalctl -o json", the watchdog through a stalled but live RETR, and
# stop.  The container shares the host's network, so it reaches the test
# dovecot and fault server on 127.0.0.1; every service this machine
# enables itself is masked in it, so none takes a port of the host.  A
# container that cannot start is a failure with nspawn's reason.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D"
[ "$(id -u)" -eq 0 ] || skip "systemd-nspawn needs root"
for p in systemd-nspawn nsenter; do
	command -v "$p" >/dev/null ||
	    skip "$p not installed (apt-get install systemd-container util-linux)"
done
start_dovecot
seed_message alice generated 2

NS_ROOT=$T_DIR/root
NS_LOG=$T_DIR/nspawn.log
NS_PID=
NS_LEADER=
TU=psync		# the test user in the container
TU_HOME=/home/$TU
TU_CONF=$TU_HOME/.config/popsyncd/config
SVC=popsyncd@$TU.service

# fail: lib.sh's, plus the tail of what the container printed.
eval "lib_$(declare -f fail)"
fail()
{
	if [ -s "$NS_LOG" ]; then
		printf -- '--- nspawn.log (last 30 lines)\n' >&2
		tail -n 30 "$NS_LOG" | sed 's/\x1b\[[0-9;]*m//g' >&2
	fi
	if [ -n "$NS_LEADER" ]; then
		printf -- '--- journal of the container (last 30 lines)\n' >&2
		in_ns journalctl -q --no-pager -n 30 2>&1 >&2
	fi
	lib_fail "$@"
}

# ns_stop: end the container (all of it dies with its PID 1), unmount.
ns_stop()
{
	if [ -n "$NS_LEADER" ]; then
		kill -KILL "$NS_LEADER" 2>/dev/null
		NS_LEADER=
	fi
	if [ -n "$NS_PID" ]; then
		{ wait "$NS_PID"; } 2>/dev/null
		NS_PID=
	fi
	mountpoint -q "$NS_ROOT" && umount -l "$NS_ROOT"
	return 0
}
trap 'rc=$?; ns_stop; (exit "$rc"); cleanup' EXIT

# NS: the command prefix that runs a command inside the container as
# root; AS_TU: as the test user, with the XDG_RUNTIME_DIR where
# "systemctl --user" finds the user manager's socket (arrays, so that run and expect_rc
# take them).  in_ns and as_tu: the same as functions.
NS=()
AS_TU=()
in_ns()
{
	"${NS[@]}" "$@"
}
as_tu()
{
	"${AS_TU[@]}" "$@"
}

# wait_for: SECS DESC CMD...: retry CMD every 0.2 s until it succeeds.
wait_for()
{
	local secs=$1 desc=$2 i
	shift 2
	for i in $(seq 1 $((secs * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "$desc: not within $secs s"
}

# files_in: MAILDIR N: MAILDIR/new in the container holds N files.
files_in()
{
	[ "$(in_ns find "$1/new" -type f 2>/dev/null | wc -l)" -eq "$2" ]
}

# --- the install tree and the container -------------------------------------

prefix=$(mk prefix)
sysunitdir=$(mk systemdsystemunitdir)
userunitdir=$(mk systemduserunitdir)
DEST=$T_DIR/dest
expect_rc "make install" 0 make -C "$top_builddir" install DESTDIR="$DEST"

# Services this machine enables would start in the container too, on the
# shared network: mask them all (dovecot, postgresql, ssh, ...), and the
# SysV scripts that have no unit of their own (fetchmail, ...).
masks=()
for f in /etc/systemd/system/*.target.wants/*.service /etc/init.d/*; do
	[ -e "$f" ] || continue
	u=${f##*/}
	case $f in
	/etc/init.d/*)
		[ -e "/lib/systemd/system/$u.service" ] && continue
		u=$u.service ;;
	esac
	case $u in getty@*) continue ;; esac
	masks+=("systemd.mask=$u")
done

mkdir -p "$NS_ROOT"
mount --bind / "$NS_ROOT" || fail "cannot bind / to $NS_ROOT"
# With the default prefix the units sit where systemd looks
# (/usr/local/lib/systemd/...); with another one they are linked below.
now_ms
boot_start=$NOW
systemd-nspawn -D "$NS_ROOT" --volatile=overlay -M "popsyncd-t$$" \
    --register=no --keep-unit --console=passive \
    --bind-ro="$DEST$prefix:$prefix" -b -- "${masks[@]}" \
    >"$NS_LOG" 2>&1 </dev/null &
NS_PID=$!
for i in $(seq 1 100); do
	NS_LEADER=$(pgrep -P "$NS_PID" -x systemd | head -n 1)
	[ -n "$NS_LEADER" ] && break
	kill -0 "$NS_PID" 2>/dev/null ||
	    fail "systemd-nspawn could not start the container (see nspawn.log)"
	sleep 0.1
done
[ -n "$NS_LEADER" ] || fail "no systemd came up in the container within 10 s"
NS=(nsenter -t "$NS_LEADER" -a --)
# "degraded" is fine: a unit of this machine may fail in a container.
for i in $(seq 1 300); do
	state=$(in_ns systemctl is-system-running 2>/dev/null)
	case $state in running|degraded) break ;; esac
	kill -0 "$NS_PID" 2>/dev/null ||
	    fail "the container stopped while booting (see nspawn.log)"
	sleep 0.2
done
case $state in
running|degraded) ;;
*) fail "systemd in the container did not finish booting in 60 s: $state" ;;
esac
now_ms
ok "systemd $(in_ns systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') booted in the container in $(( (NOW - boot_start) / 1000 )) s ($state)"

if [ "$prefix" != /usr/local ] && [ "$prefix" != /usr ]; then
	in_ns systemctl link "$sysunitdir/popsyncd@.service" >/dev/null ||
	    fail "systemctl link popsyncd@.service"
	in_ns systemctl --global link "$userunitdir/popsyncd.service" \
	    >/dev/null 2>&1 ||
	    in_ns ln -s "$userunitdir/popsyncd.service" /etc/systemd/user/ ||
	    fail "cannot link the user unit"
fi
# A sanitizer build: LeakSanitizer needs ptrace, which the units'
# SystemCallFilter= refuses, so it would fail every exit; the rest of
# ASan and UBSan stays on, and the journal is searched for their reports
# at the end.
if [ -n "$(mk SAN_CFLAGS)" ]; then
	for d in "/etc/systemd/system/$SVC.d" /etc/systemd/user/popsyncd.service.d; do
		in_ns mkdir -p "$d"
		printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' |
		    in_ns tee "$d/sanitizer.conf" >/dev/null
	done
fi
in_ns systemctl daemon-reload
run "${NS[@]}" systemctl cat "$SVC"
grep -q "^# $sysunitdir/popsyncd@.service" "$T_DIR/out" ||
    fail "systemd does not read popsyncd@.service from $sysunitdir"

# --- the test user, its config, a stalling server -----------------------------

in_ns useradd -m -s /bin/bash "$TU" || fail "useradd $TU in the container"
TU_UID=$(in_ns id -u "$TU")
AS_TU=("${NS[@]}" runuser -u "$TU" -- env XDG_RUNTIME_DIR="/run/user/$TU_UID")
in_ns install -d -o "$TU" -g "$TU" -m 700 "$TU_HOME/.config" \
    "$TU_HOME/.config/popsyncd"
in_ns install -o "$TU" -g "$TU" -m 644 /dev/stdin "$TU_HOME/ca.crt" \
    <"$T_DIR/ca.crt"

# put_conf: NAME...: the test user's config, at log level debug, with
# these accounts, each polled hourly: "good" (alice, 2 messages), "bad"
# (bob, wrong password), "slow" (the fault server, which must be running).
put_conf()
{
	local n sep=''
	{
		echo 'log_level = "debug";'
		echo 'accounts = ('
		for n; do
			printf '%s' "$sep"
			sep=$',\n'
			case $n in
			good) account_block good port="$POP3S_PORT" \
			    ca_file="$TU_HOME/ca.crt" interval=3600 \
			    maildir="$TU_HOME/Mail/good" ;;
			bad) account_block bad port="$POP3S_PORT" \
			    ca_file="$TU_HOME/ca.crt" interval=3600 \
			    user=bob password=wrong maildir="$TU_HOME/Mail/bad" ;;
			slow) account_block slow host=127.0.0.1 \
			    port="$FAULT_PORT" tls=none ca_file= \
			    allow_plaintext_auth=true interval=3600 \
			    maildir="$TU_HOME/Mail/slow" ;;
			esac
		done
		printf '\n);\n'
	} | in_ns install -o "$TU" -g "$TU" -m 600 /dev/stdin "$TU_CONF" ||
	    fail "cannot write $TU_CONF"
}

# A RETR that stops for 8 s half-way: longer than the watchdog interval
# the drop-in below sets, so only popsyncd's pings while it waits on the
# live socket keep it alive.
msg=("From: fault@example.org" "Subject: stalled" "" "first half" "second half")
size=0
for l in "${msg[@]}"; do size=$((size + ${#l} + 2)); done
{
	printf '%s\n' 'S +OK fault server ready' 'R CAPA' 'S +OK' 'S USER' \
	    'S UIDL' 'S .' 'R USER alice' 'S +OK' 'R PASS *' 'S +OK in' \
	    'R CAPA' 'S +OK' 'S USER' 'S UIDL' 'S .' \
	    'R LIST' 'S +OK' "S 1 $size" 'S .' 'R UIDL' 'S +OK' \
	    'S 1 stall-1' 'S .' 'R RETR 1' "S +OK $size octets"
	printf 'S %s\n' "${msg[@]:0:4}"
	printf '%s\n' 'SLEEP 8' "S ${msg[4]}" 'S .' 'R QUIT' 'S +OK bye'
} >"$T_DIR/slow.script"

# --- the system template ------------------------------------------------------

# The shipped unit, with one drop-in: a watchdog of 3 s instead of 60, so
# that the stall above outlasts it.
in_ns mkdir -p "/etc/systemd/system/$SVC.d"
printf '[Service]\nWatchdogSec=3\n' |
    in_ns tee "/etc/systemd/system/$SVC.d/watchdog.conf" >/dev/null
in_ns systemctl daemon-reload

# prop: UNIT PROPERTY: a property's value (system manager).
prop()
{
	in_ns systemctl show -P "$2" "$1"
}

# journal_has: MATCH ERE: a journal message of MATCH (journalctl's
# arguments: "-u UNIT" or "FIELD=VALUE") matches.
journal_has()
{
	local ere=${*: -1}
	in_ns journalctl -q -o cat --no-pager "${@:1:$#-1}" | grep -Eq -- "$ere"
}

# status_has: UNIT ERE: the unit's STATUS= matches.
status_has()
{
	prop "$1" StatusText | grep -Eq -- "$2"
}

put_conf good
expect_rc "systemctl start $SVC" 0 "${NS[@]}" systemctl start "$SVC"
assert_eq "$(prop "$SVC" ActiveState)" active "$SVC after start"
assert_eq "$(prop "$SVC" Type)" notify "$SVC type"
pid=$(prop "$SVC" MainPID)
ok "$SVC: start returns once popsyncd is ready (Type=notify), pid $pid"
wait_for 30 "good's mail" files_in "$TU_HOME/Mail/good" 2
wait_for 10 "good's summary line" journal_has -u "$SVC" '^good: 2 new, '

# A good reload adds "bad", which is polled at once and fails.
put_conf good bad
expect_rc "systemctl reload with a good config" 0 \
    "${NS[@]}" systemctl reload "$SVC"
assert_eq "$(prop "$SVC" MainPID)" "$pid" "MainPID after a reload"
wait_for 30 "the failing account in the status line" status_has "$SVC" \
    '^2 accounts, 1 failing \(bad: AUTH PLAIN: -ERR \[AUTH\] Authentication failed\.\); next poll [0-2][0-9]:[0-5][0-9]$'
ok "systemctl reload (good config): exit 0; status line with the failing account: '$(prop "$SVC" StatusText)'"

# Every field through journalctl -o json, as a user would query it.
in_ns journalctl -q -u "$SVC" -o json --no-pager >"$T_DIR/journal.json"
grep '"PRIORITY":"3"' "$T_DIR/journal.json" | grep '"ACCOUNT":"bad"' |
    grep -q '"MESSAGE":"bad: AUTH PLAIN: -ERR \[AUTH\] Authentication failed' ||
    fail "no ACCOUNT=bad PRIORITY=3 entry with the command and the server's reply"
grep '"ACCOUNT":"good"' "$T_DIR/journal.json" | grep -q '"UIDL":"' ||
    fail "no ACCOUNT=good entry with a UIDL="
grep '"SYSLOG_IDENTIFIER":"popsyncd"' "$T_DIR/journal.json" |
    grep -q '"PRIORITY":"6"' || fail "no info entry from popsyncd"
ok "journalctl -o json: bad's failure with ACCOUNT=bad at PRIORITY=3 naming command and reply, ACCOUNT=good with UIDL=, info at 6"

# A CA file under /tmp exists for root, but the template's PrivateTmp=yes
# hides it: the reload fails, and says why.
in_ns install -m 644 /dev/stdin /tmp/popsyncd-ca.crt <"$T_DIR/ca.crt"
put_conf good bad
in_ns sed -i "s|$TU_HOME/ca.crt|/tmp/popsyncd-ca.crt|" "$TU_CONF"
run "${NS[@]}" systemctl reload "$SVC"
[ "$RC" -ne 0 ] || fail "systemctl reload with a ca_file in /tmp succeeded"
in_ns journalctl -q -u "$SVC" -o cat --no-pager >"$T_DIR/journal.txt"
grep -q 'ca_file: /tmp/popsyncd-ca.crt: No such file or directory (popsyncd runs under systemd here, and a unit with PrivateTmp=yes' \
    "$T_DIR/journal.txt" || fail "no PrivateTmp hint for a ca_file in /tmp"
ok "a ca_file under /tmp: the template's reload fails and names PrivateTmp"

# A broken config: the reload's --check-config fails it, no SIGHUP is sent.
in_ns sh -c "printf 'accounts = (\n  { name = \"x\"; oops }\n);\n' >>$TU_CONF"
run "${NS[@]}" systemctl reload "$SVC"
[ "$RC" -ne 0 ] || fail "systemctl reload with a broken config succeeded"
assert_eq "$(prop "$SVC" ActiveState)" active "$SVC after a failed reload"
assert_eq "$(prop "$SVC" MainPID)" "$pid" "MainPID after a failed reload"
in_ns journalctl -q -u "$SVC" -o cat --no-pager >"$T_DIR/journal.txt"
grep -Eq "$TU_CONF:[0-9]+: " "$T_DIR/journal.txt" ||
    fail "the failed reload does not name FILE:LINE in the journal"
assert_eq "$(grep -c '^reloading' "$T_DIR/journal.txt")" 1 \
    "reloads the daemon saw"
ok "systemctl reload with a broken config: fails (exit $RC), FILE:LINE in the journal, the daemon untouched"

# SIGHUP past the check (an edit between check and signal): the daemon
# keeps its config and says so in the status line until a reload works.
in_ns systemctl kill -s HUP --kill-who=main "$SVC"
wait_for 10 "the rejected reload in the status line" \
    status_has "$SVC" "^reload failed, old config running: $TU_CONF:[0-9]+: "
ok "the daemon's own rejected reload shows in the status line"

fault_start "$T_DIR/slow.script"
put_conf good bad slow
now_ms
t0=$NOW
expect_rc "systemctl reload with a good config" 0 \
    "${NS[@]}" systemctl reload "$SVC"
wait_for 10 "the status line after a good reload" \
    eval "! status_has '$SVC' '^reload failed'"
ok "a good reload clears the rejected one from the status line"

# While the added account's sync runs (and stalls), the status says so.
wait_for 10 "the running sync in the status line" status_has "$SVC" \
    '^3 accounts, 1 failing \(bad: .*\); syncing slow; next poll '
ok "the status line while a sync runs: '$(prop "$SVC" StatusText)'"

# The added account polls at once and stalls 8 s in its RETR.
fault_wait
now_ms
[ "$FAULT_RC" -eq 0 ] || fail "the stalled session did not end cleanly ($FAULT_RC)"
[ $((NOW - t0)) -ge 8000 ] || fail "the server did not stall ($((NOW - t0)) ms)"
assert_eq "$(prop "$SVC" MainPID)" "$pid" "MainPID after the stall"
assert_eq "$(prop "$SVC" NRestarts)" 0 "restarts after the stall"
assert_eq "$(prop "$SVC" WatchdogUSec)" 3s "the watchdog interval"
wait_for 10 "the stalled message" files_in "$TU_HOME/Mail/slow" 1
ok "watchdog: an 8 s stall under WatchdogSec=3 did not restart popsyncd; the message arrived"

expect_rc "systemctl stop $SVC" 0 "${NS[@]}" systemctl stop "$SVC"
assert_eq "$(prop "$SVC" ActiveState)" inactive "$SVC after stop"
assert_eq "$(prop "$SVC" Result)" success "$SVC result"
in_ns journalctl -q -u "$SVC" -o cat --no-pager >"$T_DIR/journal.txt"
grep -q '^stopped$' "$T_DIR/journal.txt" || fail "no 'stopped' in the journal"
ok "systemctl stop: inactive, result success, 'stopped' logged"

# The watchdog is enforced here: a popsyncd that stops pinging (SIGSTOP)
# is killed by systemd within WatchdogSec.
expect_rc "systemctl start $SVC again" 0 "${NS[@]}" systemctl start "$SVC"
pid=$(prop "$SVC" MainPID)
in_ns kill -STOP "$pid"
wait_for 15 "the watchdog's verdict" eval '[ "$(prop "$SVC" Result)" = watchdog ]'
expect_rc "systemctl stop $SVC after the watchdog" 0 \
    "${NS[@]}" systemctl stop "$SVC"
ok "watchdog: a stopped popsyncd is killed by systemd (result watchdog)"

# --- the user unit under a lingering user manager ---------------------------

put_conf good
expect_rc "loginctl enable-linger" 0 "${NS[@]}" loginctl enable-linger "$TU"
wait_for 30 "user@$TU_UID.service" in_ns systemctl is-active -q \
    "user@$TU_UID.service"
# uprop: PROPERTY: a property of the user unit.
uprop()
{
	as_tu systemctl --user show -P "$1" popsyncd.service
}
# ustatus: ERE: the user unit's STATUS= matches.
ustatus()
{
	uprop StatusText | grep -Eq -- "$1"
}
expect_rc "systemctl --user start popsyncd" 0 \
    "${AS_TU[@]}" systemctl --user start popsyncd.service
assert_eq "$(uprop ActiveState)" active "the user unit after start"
upid=$(uprop MainPID)
wait_for 30 "the user unit's first poll" \
    journal_has _SYSTEMD_USER_UNIT=popsyncd.service '^good: 0 new, '
ok "user unit under the lingering user manager: ready, '$(uprop StatusText)'"

in_ns sh -c "echo 'oops' >>$TU_CONF"
run "${AS_TU[@]}" systemctl --user reload popsyncd.service
[ "$RC" -ne 0 ] || fail "systemctl --user reload with a broken config succeeded"
assert_eq "$(uprop MainPID)" "$upid" "user unit MainPID after a failed reload"
put_conf good bad
expect_rc "systemctl --user reload, good config" 0 \
    "${AS_TU[@]}" systemctl --user reload popsyncd.service
wait_for 30 "the user unit's status line" ustatus '^2 accounts, 1 failing \(bad: '
ok "systemctl --user reload: a broken config fails, a good one adds bad: '$(uprop StatusText)'"

in_ns journalctl -q _SYSTEMD_USER_UNIT=popsyncd.service -o json \
    --no-pager >"$T_DIR/journal.json"
grep '"ACCOUNT":"bad"' "$T_DIR/journal.json" | grep '"PRIORITY":"3"' |
    grep -q '"MESSAGE":"bad: ' ||
    fail "the user unit's journal has no ACCOUNT=bad PRIORITY=3 entry"
ok "the user unit's entries carry ACCOUNT= and PRIORITY="

expect_rc "systemctl --user stop" 0 "${AS_TU[@]}" systemctl --user stop popsyncd.service
assert_eq "$(uprop ActiveState)" inactive "the user unit after stop"
assert_eq "$(uprop Result)" success "the user unit's result"
ok "systemctl --user stop: inactive, result success"

in_ns journalctl -q -o cat --no-pager >"$T_DIR/journal.txt"
if grep -Eq 'Sanitizer|runtime error:' "$T_DIR/journal.txt"; then
	fail "sanitizer report in the journal: $(grep -E -m1 'Sanitizer|runtime error:' "$T_DIR/journal.txt")"
fi

done_testing
