#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# TLS session resumption in the daemon, against the real dovecot: the
# first poll of an account makes a full handshake, every later one
# resumes the session the previous poll got (over implicit TLS and over
# STLS), and mail still arrives byte for byte.  A session is kept per
# account: after SIGHUP swaps in a config whose pin the server's
# certificate does not match, the next poll fails on the pin instead of
# resuming past it; and a CA file replaced before a SIGHUP is read again.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_daemon.sh"

need_programs "$POPSYNCD"
command -v openssl >/dev/null || fail "openssl (the command) is missing"
start_dovecot

# Dovecot starts a login process per connection by default, each with its
# own session cache and ticket key, so nothing can be resumed.  Its
# "high-performance mode" (login processes that serve many connections)
# resumes sessions; wait until openssl s_client sees that it does.
sed -i 's/^service pop3-login {/&\n  service_count = 0\n  process_min_avail = 1/' \
    "$DOVECOT_CONF"
doveadm -c "$DOVECOT_CONF" reload || fail "doveadm reload failed"
for i in $(seq 1 100); do
	echo QUIT | openssl s_client -connect "127.0.0.1:$POP3S_PORT" \
	    -CAfile "$T_DIR/ca.crt" -sess_out "$T_DIR/s.pem" -quiet \
	    >/dev/null 2>&1
	echo QUIT | openssl s_client -connect "127.0.0.1:$POP3S_PORT" \
	    -CAfile "$T_DIR/ca.crt" -sess_in "$T_DIR/s.pem" 2>/dev/null |
	    grep -q '^Reused,' && break
	[ "$i" -lt 100 ] || fail "dovecot resumes no session after the reload"
	sleep 0.1
done

# handshakes: NAME KIND: how many "KIND" handshake lines NAME logged
# (KIND: "session resumed" or "full handshake").
handshakes()
{
	grep -Ec "(^|: )$1: TLSv1\.[23], [^,]+, $2\$" "$DAEMON_ERR"
}

# daemon_start -v: lib_daemon's daemon_start knows no options.
daemon_start_v()
{
	: >"$DAEMON_ERR"
	"$POPSYNCD" -v -c "$1" >"$T_DIR/daemon.out" 2>"$DAEMON_ERR" &
	DAEMON_PID=$!
}

seed_message alice generated 2
seed_message bob generated 1
write_config_multi "$T_DIR/r.conf" "alice port=$POP3S_PORT interval=1" \
    "bob port=$POP3_PORT tls=starttls user=bob password=$BOB_PASS interval=1"
daemon_start_v "$T_DIR/r.conf"
wait_polls alice 3 15
wait_polls bob 3 15

[ "$(handshakes alice 'full handshake')" -eq 1 ] ||
    fail "alice: $(handshakes alice 'full handshake') full handshakes in $(polls alice) polls, expected 1 (the first)"
[ "$(handshakes alice 'session resumed')" -ge 2 ] ||
    fail "alice: $(handshakes alice 'session resumed') resumed in $(polls alice) polls, expected all but the first"
ok "implicit TLS: the first poll makes a full handshake, the next ones resume"

[ "$(handshakes bob 'full handshake')" -eq 1 ] &&
    [ "$(handshakes bob 'session resumed')" -ge 2 ] ||
    fail "bob (STLS): $(handshakes bob 'full handshake') full, $(handshakes bob 'session resumed') resumed in $(polls bob) polls"
ok "STLS: the first poll makes a full handshake, the next ones resume"

sums "$T_DIR/want.sums" "$T_DIR/seeded/alice"
sums "$T_DIR/got.sums" "$T_DIR/dest/alice/new" "$T_DIR/dest/alice/cur"
cmp -s "$T_DIR/want.sums.h" "$T_DIR/got.sums.h" ||
    fail "alice's Maildir does not hold the 2 seeded messages byte for byte"
ok "mail arrives byte for byte over resumed sessions"

# A pin that does not match: the session of the old config is not
# offered, so the pin is checked against the certificate again.
bad=sha256:$(printf '%064d' 0)
write_config_multi "$T_DIR/r.conf" \
    "alice port=$POP3S_PORT interval=1 tls_fingerprint=$bad"
p=$(grep -c 'fingerprint mismatch' "$DAEMON_ERR" || :)
kill -HUP "$DAEMON_PID"
for i in $(seq 1 200); do
	[ "$(grep -c 'fingerprint mismatch' "$DAEMON_ERR" || :)" -gt "$p" ] &&
	    break
	alive || fail "popsyncd exited after SIGHUP"
	sleep 0.05
done
grep -q 'alice: .*certificate fingerprint mismatch' "$DAEMON_ERR" ||
    fail "after SIGHUP with a wrong pin, no poll failed on the pin"
ok "a reloaded account with a wrong pin fails on the pin, not resumed"

# A CA file replaced before a SIGHUP is read again (the TLS context that
# keeps the account's session is built anew): with the untrusted CA in
# its place the next poll fails verification instead of resuming.
cp "$T_DIR/ca.crt" "$T_DIR/ca-copy.crt"
write_config_multi "$T_DIR/r.conf" \
    "alice port=$POP3S_PORT interval=1 ca_file=$T_DIR/ca-copy.crt"
n=$(polls alice)
kill -HUP "$DAEMON_PID"
# The pin failures above put alice in backoff: poll now.
sleep 0.5
kill -USR1 "$DAEMON_PID"
wait_polls alice $((n + 2)) 15
cp "$T_DIR/other-ca.crt" "$T_DIR/ca-copy.crt"
p=$(grep -Ec 'alice: .*([Cc]ertificate|verif|issuer)' "$DAEMON_ERR" || :)
kill -HUP "$DAEMON_PID"
for i in $(seq 1 200); do
	[ "$(grep -Ec 'alice: .*([Cc]ertificate|verif|issuer)' "$DAEMON_ERR" ||
	    :)" -gt "$p" ] && break
	alive || fail "popsyncd exited after SIGHUP"
	sleep 0.05
done
[ "$(grep -Ec 'alice: .*([Cc]ertificate|verif|issuer)' "$DAEMON_ERR" || :)" -gt "$p" ] ||
    fail "after SIGHUP with the CA file replaced, no poll failed verification"
ok "a CA file replaced before SIGHUP is read again, not resumed past"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "the daemon exited $? after SIGTERM"
DAEMON_PID=
done_testing
