#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# popsyncd --probe against a real dovecot: what it prints (greeting, TLS,
# certificate, CAPA, login method, STAT) and its exit codes.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
start_dovecot
seed_message alice generated 3

# field: NAME: the values of the "NAME:  value" lines of the last probe.
field()
{
	sed -n "s/^$1: *//p" "$T_DIR/out"
}

for mode in implicit starttls; do
	dovecot_config "probe-$mode" "$mode"
	expect_rc "--probe over $mode" 0 "$POPSYNCD" -c "$CONF" \
	    --probe "probe-$mode"
	assert_eq "$(field account)" "probe-$mode" "account line"
	field greeting | grep -q 'Dovecot.*ready' ||
	    fail "no dovecot greeting: $(field greeting)"
	ok "$mode: greeting shown"

	field tls | grep -Eq '^TLSv1\.[23], [A-Z0-9_-]+' ||
	    fail "tls line: $(field tls)"
	field subject | grep -q 'CN *= *localhost' ||
	    fail "subject: $(field subject)"
	field issuer | grep -q 'popsyncd test CA' ||
	    fail "issuer: $(field issuer)"
	# The certificate runs 30 days from today.
	want_exp=$(openssl x509 -in "$T_DIR/server.crt" -noout -enddate |
	    sed 's/^notAfter=//')
	assert_eq "$(field expires)" "$want_exp" "expiry"
	got_fpr=$(field fingerprint | tr 'a-z' 'A-Z')
	assert_eq "$got_fpr" "SHA256:$SERVER_FPR" \
	    "fingerprint (openssl x509 -fingerprint -sha256)"
	ok "$mode: TLS version, cipher, subject, issuer, expiry, SHA-256 fingerprint"

	field capa >"$T_DIR/capa"
	for c in TOP UIDL USER 'SASL PLAIN LOGIN CRAM-MD5' PIPELINING \
	    RESP-CODES; do
		grep -qx "$c" "$T_DIR/capa" || fail "CAPA lacks $c: $(cat "$T_DIR/capa")"
	done
	# After STLS the CAPA shown is the one asked again over TLS.
	assert_not_in "$T_DIR/capa" '^STLS$'
	ok "$mode: CAPA lines, without STLS once encrypted"

	field auth | grep -q '^PLAIN (logged in as alice)' ||
	    fail "auth line: $(field auth)"
	assert_eq "$(field stat)" "3 messages, $(($(cat "$T_DIR"/seeded/alice/* | wc -c) + $(cat "$T_DIR"/seeded/alice/* | wc -l))) octets" "stat line"
	assert_eq "$(field quit)" ok "quit line"
	ok "$mode: login method, STAT and QUIT"
done

# Plain link: CRAM-MD5 is chosen, STLS is listed, no certificate lines.
dovecot_config probe-none none allow_plaintext_auth=
expect_rc "--probe in clear" 0 "$POPSYNCD" -c "$CONF" --probe probe-none
field tls | grep -q '^none' || fail "tls line: $(field tls)"
[ -z "$(field fingerprint)" ] || fail "a fingerprint on a cleartext link"
field capa | grep -qx STLS || fail "CAPA lacks STLS"
field auth | grep -q '^CRAM-MD5 ' || fail "auth line: $(field auth)"
ok "cleartext probe: no TLS details, STLS listed, CRAM-MD5 chosen"

# A bad password: exit 1; stderr names the account, the command and the
# server's reply.
for auth in plain user; do
	dovecot_config "badpw-$auth" implicit auth="$auth" password=wrong-one
	expect_rc "--probe with a bad password ($auth)" 1 "$POPSYNCD" \
	    -c "$CONF" --probe "badpw-$auth"
	assert_err "badpw-$auth" "the account"
	case $auth in
	plain) assert_err 'AUTH' "the command" ;;
	user) assert_err 'PASS' "the command" ;;
	esac
	assert_err 'Authentication failed' "dovecot's reply"
	assert_not_in "$T_DIR/err" 'wrong-one'
	assert_not_in "$T_DIR/out" 'wrong-one'
	ok "bad password ($auth): exit 1, account, command and reply on stderr"
done

# Unknown account: exit 2.
dovecot_config probe-implicit implicit
expect_rc "--probe of an unknown account" 2 "$POPSYNCD" -c "$CONF" \
    --probe no-such-account
assert_err 'no-such-account'
ok "unknown account name: exit 2"

# Unreachable server: exit 1, not 2.
dovecot_config probe-down implicit port="$(free_port)"
expect_rc "--probe of a closed port" 1 "$POPSYNCD" -c "$CONF" --probe probe-down
assert_err 'probe-down'
ok "connection refused: exit 1 with the account named"

done_testing
