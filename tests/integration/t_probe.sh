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

# A certificate that fails a check: the chain as sent, what failed, and
# the key that fixes it.
# chain_shown: the leaf of the test server, as the probe printed it.
chain_shown()
{
	local fpr
	fpr=$(echo "$SERVER_FPR" | tr 'a-f' 'A-F')
	assert_eq "$(field chain)" "1 certificate sent, the server's own first" "chain line"
	field 'cert 0' | grep -q '^subject CN=localhost,O=popsyncd tests$' ||
	    fail "cert 0 subject: $(field 'cert 0')"
	grep -q '^ *issuer  CN=popsyncd test CA,O=popsyncd tests$' "$T_DIR/out" ||
	    fail "no issuer line"
	grep -Eq '^ *valid   [A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} [0-9]{4} GMT to '"$want_exp"'$' \
	    "$T_DIR/out" || fail "no validity line"
	grep -q '^ *names   DNS:localhost, IP:127.0.0.1$' "$T_DIR/out" ||
	    fail "no names line"
	grep -q "^ *sha256  $fpr$" "$T_DIR/out" || fail "no fingerprint line"
}
for mode in implicit starttls; do
	dovecot_config "untrusted-$mode" "$mode" ca_file="$T_DIR/other-ca.crt"
	expect_rc "--probe, untrusted CA ($mode)" 1 "$POPSYNCD" -c "$CONF" \
	    --probe "untrusted-$mode"
	chain_shown
	field tls | grep -q '^failed: .*certificate verify failed: unable to get local issuer certificate' ||
	    fail "tls line: $(field tls)"
	field fix | grep -q "^the chain does not lead to a CA this account trusts (ca_file $T_DIR/other-ca.crt): set ca_file to the CA certificate that issued the last one above; or pin the server's certificate: tls_fingerprint = \"sha256:$SERVER_FPR\" with tls_verify = false$" ||
	    fail "fix line: $(field fix)"
	[ -z "$(field auth)" ] || fail "logged in over an untrusted link"
	ok "untrusted CA ($mode): the chain (subject, issuer, validity, names, SHA-256), what failed, ca_file or a pin"
done

if [ -n "$DOVECOT_ALT_LISTEN" ]; then
	dovecot_config mismatch implicit host="$DOVECOT_ALT_LISTEN"
	expect_rc "--probe, host name mismatch" 1 "$POPSYNCD" -c "$CONF" \
	    --probe mismatch
	chain_shown
	field fix | grep -q "^the certificate is for the names above, not for $DOVECOT_ALT_LISTEN: set host to one of them" ||
	    fail "fix line: $(field fix)"
	ok "host name mismatch: the chain, and host named as the fix"
fi

dovecot_config pinned implicit tls_fingerprint="sha256:$(printf '%064d' 0)"
expect_rc "--probe, wrong pin" 1 "$POPSYNCD" -c "$CONF" --probe pinned
chain_shown
field fix | grep -q "^the server's certificate is not the one tls_fingerprint pins; if it changed and you trust the new one, set tls_fingerprint = \"sha256:$SERVER_FPR\"$" ||
    fail "fix line: $(field fix)"
ok "a pin that does not match: the chain and the pin to set"

# The wrong TLS mode for a port names the tls key.
dovecot_config tls-on-plain implicit port="$POP3_PORT"
expect_rc "--probe, implicit TLS to a plain port" 1 "$POPSYNCD" -c "$CONF" \
    --probe tls-on-plain
assert_err 'the server does not speak TLS on this port'
field fix | grep -q "^127.0.0.1:$POP3_PORT answers in plain POP3, not TLS: for STLS on this port set tls = \"starttls\"" ||
    field fix | grep -q "^localhost:$POP3_PORT answers in plain POP3, not TLS: for STLS on this port set tls = \"starttls\"" ||
    fail "fix line: $(field fix)"
dovecot_config plain-on-tls none port="$POP3S_PORT" timeout=2
expect_rc "--probe, plain POP3 to a TLS port" 1 "$POPSYNCD" -c "$CONF" \
    --probe plain-on-tls
field fix | grep -q "^no greeting from localhost:$POP3S_PORT within 2 s; a port that expects TLS from the first byte (as 995 does) waits for the client to start it: set tls = \"implicit\"$" ||
    fail "fix line: $(field fix)"
ok "the wrong TLS mode for a port: a hint naming the tls key, both ways"

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
