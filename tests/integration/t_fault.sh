#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Hostile and broken servers, played by tests/fault/faultpop3d: drops in
# the middle of a reply, stalls, garbage, a 20 MB line, and -ERR with each
# RFC 2449/3206 response code.  Every case must end in a clear error and
# exit 1, within the timeout, in bounded memory, without a crash.

. "$(dirname "$0")/lib.sh"

need_programs "$POP3CMD" "$FAULTPOP3D"

# script: NAME: write the fault script NAME from stdin.
script()
{
	cat >"$T_DIR/$1.script"
}

# The greeting and USER/PASS exchange that the -n runs start with.
LOGIN='S +OK fault server ready
R USER alice
S +OK
R PASS *
S +OK logged in'

# fault: NAME WANT_RC POP3CMD-ARGS...: run pop3cmd against script NAME.
fault()
{
	local name=$1 want=$2
	shift 2
	fault_start "$T_DIR/$name.script"
	fault_config "$name"
	expect_rc "$name" "$want" "$POP3CMD" -c "$CONF" -a "$name" "$@"
	fault_stop
}

# now_ms: wall clock in milliseconds.
now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

# --- drops -------------------------------------------------------------------

script drop-greeting <<<'DROP'
fault drop-greeting 1 -n
assert_err '^ERR connect: .*(clos|EOF|end of)' "says the server closed"
assert_err '^ERRCODE E_IO temporary$'
ok "connection closed before the greeting: E_IO, exit 1"

script drop-retr <<SCRIPT
$LOGIN
R RETR 1
S +OK 10000 octets
BODY 50 70
DROP
SCRIPT
fault drop-retr 1 -n user alice pass x retr 1 "$T_DIR/partial"
assert_err '^ERR retr: .*(clos|EOF|end of)' "says the server closed"
assert_err '^ERRCODE E_IO temporary$'
assert_not_in "$T_DIR/out" '^RETR '
ok "drop in the middle of a RETR body: E_IO, exit 1, no success reported"

script drop-list <<SCRIPT
$LOGIN
R LIST
S +OK 3 messages
S 1 100
DROP
SCRIPT
fault drop-list 1 -n user alice pass x list
assert_err '^ERR list: '
assert_not_in "$T_DIR/out" '^LIST '
ok "drop in the middle of a LIST listing: error, no partial listing"

script drop-status <<SCRIPT
$LOGIN
R STAT
RAW +OK 1
DROP
SCRIPT
fault drop-status 1 -n user alice pass x stat
assert_err '^ERRCODE E_IO '
ok "drop in the middle of a status line: E_IO"

# --- stalls ------------------------------------------------------------------

script stall-reply <<'SCRIPT'
S +OK fault server ready
R USER alice
SLEEP 8
SCRIPT
t0=$(now_ms)
fault stall-reply 1 -n user alice
t=$(($(now_ms) - t0))
assert_err '^ERR user: .*(time|Time)' "says it timed out"
assert_err '^ERRCODE E_TIMEOUT temporary$'
[ "$t" -ge 1800 ] && [ "$t" -le 4500 ] ||
    fail "timeout 2 s took $t ms"
ok "server stalls on a reply: E_TIMEOUT after $t ms (timeout 2 s)"

script stall-body <<SCRIPT
$LOGIN
R RETR 1
S +OK
BODY 20 60
SLEEP 8
SCRIPT
t0=$(now_ms)
fault stall-body 1 -n user alice pass x retr 1 "$T_DIR/partial"
t=$(($(now_ms) - t0))
assert_err '^ERRCODE E_TIMEOUT temporary$'
[ "$t" -ge 1800 ] && [ "$t" -le 4500 ] ||
    fail "timeout 2 s took $t ms"
ok "server stalls in the middle of a body: E_TIMEOUT after $t ms"

# A trickle of bytes is progress: lines 1 s apart outlast the 2 s timeout
# in total but never stall for 2 s.
script trickle <<SCRIPT
$LOGIN
R RETR 1
S +OK
S one
SLEEP 1
S two
SLEEP 1
S three
SLEEP 1
S .
SCRIPT
fault trickle 0 -n user alice pass x retr 1 "$T_DIR/trickle"
printf 'one\ntwo\nthree\n' | cmp -s - "$T_DIR/trickle" ||
    fail "trickled body differs"
ok "a slow but steady reply is not a timeout"

# --- garbage -----------------------------------------------------------------

script garbage <<'SCRIPT'
GARBAGE
SLEEP 3
SCRIPT
fault garbage 1 -n
assert_err '^ERRCODE E_PROTO '
# The junk holds an escape sequence and control bytes: none may reach the
# terminal or the log.
if LC_ALL=C grep -q '[[:cntrl:]]' "$T_DIR/err"; then
	fail "control bytes in the error message: $(od -c "$T_DIR/err" | head)"
fi
ok "binary garbage as greeting: E_PROTO, message sanitized"

script garbage-stat <<SCRIPT
$LOGIN
R STAT
S +OK lots of mail
SCRIPT
fault garbage-stat 1 -n user alice pass x stat
assert_err '^ERR stat: '
assert_err '^ERRCODE E_PROTO '
ok "malformed STAT reply: E_PROTO"

script huge-stat <<SCRIPT
$LOGIN
R STAT
S +OK 99999999999 5
SCRIPT
fault huge-stat 1 -n user alice pass x stat
assert_err '^ERRCODE E_PROTO '
ok "STAT claiming 10^11 messages: E_PROTO"

script bad-list <<SCRIPT
$LOGIN
R LIST
S +OK
S 1 100
S two 200
S .
SCRIPT
fault bad-list 1 -n user alice pass x list
assert_err '^ERRCODE E_PROTO '
ok "malformed LIST line: E_PROTO"

# UIDLs beyond RFC 1939 (mpopd serves 78-octet file names) are kept as
# sent; one too long to use costs only its own message.
script long-uidl <<SCRIPT
$LOGIN
R UIDL
S +OK
S 1 $(head -c 80 /dev/zero | tr '\0' u)
S 2 a name with spaces.eml
S 3 $(head -c 600 /dev/zero | tr '\0' v)
S .
SCRIPT
fault long-uidl 0 -n user alice pass x uidl
assert_out "^UIDL 1 $(head -c 80 /dev/zero | tr '\0' u)\$"
assert_out '^UIDL 2 a name with spaces.eml$'
assert_out '^UIDL 3 \(unusable\)$'
ok "UIDL over 70 characters kept, over 512 unusable, listing not failed"

# --- oversized lines and memory ----------------------------------------------

script baseline <<SCRIPT
$LOGIN
R RETR 1
S +OK
S Subject: small
S
S body
S .
SCRIPT
fault baseline 0 -n --rusage user alice pass x retr 1 "$T_DIR/small"
base=$(sed -n 's/^MAXRSS //p' "$T_DIR/out")
[ -n "$base" ] || fail "no MAXRSS line"
say "baseline peak RSS $base kB"

script bigline <<'SCRIPT'
BIGLINE 20000000
SLEEP 1
SCRIPT
fault bigline 1 -n --rusage
assert_err 'line too long'
assert_err '^ERRCODE E_PROTO '
rss=$(sed -n 's/^MAXRSS //p' "$T_DIR/out")
[ "$rss" -le $((base + 8192)) ] ||
    fail "20 MB greeting line: peak RSS $rss kB, baseline $base kB"
ok "20 MB status line: \"line too long\", peak RSS $rss kB (baseline $base kB)"

# Body lines have no limit: a 20 MB line inside a message is delivered, in
# chunks, without holding it in memory.
script bigbody <<SCRIPT
$LOGIN
R RETR 1
S +OK
BIGLINE 20000000
S
S .
R QUIT
S +OK
SCRIPT
fault bigbody 0 -n --rusage user alice pass x retr 1 "$T_DIR/big" quit
assert_out '^RETR 1 20000001$'
assert_eq "$(wc -c <"$T_DIR/big")" 20000001 "size of the delivered body"
rss=$(sed -n 's/^MAXRSS //p' "$T_DIR/out")
[ "$rss" -le $((base + 8192)) ] ||
    fail "20 MB body line: peak RSS $rss kB, baseline $base kB"
ok "20 MB body line delivered whole, peak RSS $rss kB"

# --- -ERR response codes -----------------------------------------------------

# Through session_open (USER/PASS over a cleartext link the config allows),
# so the message carries the account name too.
for spec in IN-USE:E_SERVER:temporary LOGIN-DELAY:E_SERVER:temporary \
    SYS/TEMP:E_SERVER:temporary SYS/PERM:E_AUTH:permanent \
    AUTH:E_AUTH:permanent; do
	IFS=: read -r code ecode class <<<"$spec"
	name=rc-${code//\//-}
	script "$name" <<SCRIPT
S +OK fault server ready
R CAPA
S +OK
S USER
S RESP-CODES
S AUTH-RESP-CODE
S .
R USER alice
S +OK
R PASS *
S -ERR [$code] reply text for $code
SCRIPT
	fault_start "$T_DIR/$name.script"
	fault_config "$name" auth=user
	expect_rc "$name" 1 "$POP3CMD" -c "$CONF" -a "$name" stat
	fault_stop
	assert_err "$name" "the account"
	assert_err "$code.*reply text for $code" "the server's reply"
	assert_err "^ERRCODE $ecode $class\$"
	ok "-ERR [$code] at PASS: $ecode ($class), reply passed through"
done

# On a transaction command -ERR [SYS/TEMP] is temporary, a plain -ERR
# permanent.
for spec in 'SYS/TEMP:temporary' ':permanent'; do
	code=${spec%:*}
	class=${spec#*:}
	script rc-retr <<SCRIPT
$LOGIN
R RETR 1
S -ERR ${code:+[$code] }message gone
SCRIPT
	fault rc-retr 1 -n user alice pass x retr 1 "$T_DIR/x"
	assert_err "^ERR retr: .*${code}.*message gone"
	assert_err "^ERRCODE E_SERVER $class\$"
	ok "RETR answered -ERR ${code:+[$code]}: E_SERVER, $class"
done

script err-greeting <<'SCRIPT'
S -ERR [SYS/TEMP] too busy, come back later
SCRIPT
fault err-greeting 1 -n
assert_err 'too busy'
assert_err '^ERRCODE E_SERVER temporary$'
ok "-ERR [SYS/TEMP] greeting: E_SERVER, temporary"

done_testing
