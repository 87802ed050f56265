#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# TLS fails closed: implicit TLS and STLS verify against the CA file; an
# untrusted CA, a wrong host name and a wrong pin are refused before any
# credential is sent; tls = "starttls" without STLS never logs in.

. "$(dirname "$0")/lib.sh"

need_programs "$POP3CMD" "$FAULTPOP3D"
start_dovecot
seed_message alice generated 1

# login_count: how many logins dovecot has logged.
login_count()
{
	grep -c 'Login: user=' "$(dovecot_log)"
}

# refused: DESC: the last run failed with E_TLS and dovecot saw no login.
refused()
{
	assert_err '^ERRCODE E_TLS permanent$' "$1"
	assert_eq "$(login_count)" "$LOGINS" "logins after: $1"
}

for mode in implicit starttls; do
	dovecot_config "ok-$mode" "$mode"
	expect_rc "$mode with ca_file" 0 "$POP3CMD" -c "$CONF" -a "ok-$mode" \
	    stat quit
	assert_out '^TLS TLSv1\.[23] '
	assert_out '^STAT 1 '
	ok "$mode: verified against ca_file and logged in"
done

dovecot_config byip implicit host=127.0.0.1
expect_rc "by IP address" 0 "$POP3CMD" -c "$CONF" -a byip stat quit
ok "host = 127.0.0.1 matches the certificate's IP address entry"

dovecot_config tls13 implicit tls_min_version=1.3
expect_rc "TLS 1.3 minimum" 0 "$POP3CMD" -c "$CONF" -a tls13 stat quit
assert_out '^TLS TLSv1\.3 '
ok "tls_min_version = \"1.3\" negotiates TLS 1.3"

LOGINS=$(login_count)
for mode in implicit starttls; do
	dovecot_config "untrusted-$mode" "$mode" ca_file="$T_DIR/other-ca.crt"
	expect_rc "$mode, untrusted CA" 1 "$POP3CMD" -c "$CONF" \
	    -a "untrusted-$mode" stat
	assert_err "untrusted-$mode" "account named"
	assert_err '[Cc]ertificate|verif|issuer' "names the certificate problem"
	refused "$mode with an untrusted CA"
	ok "$mode: a certificate from an untrusted CA is refused, no login"

	# Without ca_file the system store is used, which lacks our CA.
	dovecot_config "system-$mode" "$mode" ca_file=
	expect_rc "$mode, system store" 1 "$POP3CMD" -c "$CONF" \
	    -a "system-$mode" stat
	refused "$mode against the system store"
	ok "$mode: the system store does not trust the test CA"
done

# Wrong host name: the certificate names localhost and 127.0.0.1 only;
# dovecot also listens on 127.0.0.2.
if [ -n "$DOVECOT_ALT_LISTEN" ]; then
	for mode in implicit starttls; do
		dovecot_config "wrongname-$mode" "$mode" host=127.0.0.2
		expect_rc "$mode, wrong host" 1 "$POP3CMD" -c "$CONF" \
		    -a "wrongname-$mode" stat
		assert_err '127\.0\.0\.2|mismatch|match' "says what did not match"
		refused "$mode with a wrong host name"
		ok "$mode: a certificate for another name is refused"
	done
elif [ -n "${CI:-}" ]; then
	fail "127.0.0.2 is not usable here; the hostname check cannot run"
else
	say "127.0.0.2 not usable: hostname mismatch not checked"
fi

# Certificate pinning.
lower=$(echo "$SERVER_FPR" | tr 'A-F' 'a-f' | tr -d :)
# The right fingerprint with its first digit changed.
if [ "${SERVER_FPR:0:1}" = 0 ]; then
	wrong=1${SERVER_FPR:1}
else
	wrong=0${SERVER_FPR:1}
fi
for pin in "sha256:$SERVER_FPR" "sha256:$lower"; do
	dovecot_config pin-ok implicit tls_fingerprint="$pin"
	expect_rc "right pin $pin" 0 "$POP3CMD" -c "$CONF" -a pin-ok stat quit
	ok "pin ${pin:0:20}...: accepted"
done
dovecot_config pin-only implicit tls_fingerprint="sha256:$SERVER_FPR" \
    tls_verify=false ca_file=
expect_rc "pin instead of chain" 0 "$POP3CMD" -c "$CONF" -a pin-only stat quit
ok "tls_verify = false with the right pin: accepted without a CA"
LOGINS=$(login_count)
for extra in "" "tls_verify=false ca_file="; do
	# shellcheck disable=SC2086
	dovecot_config pin-bad starttls tls_fingerprint="sha256:$wrong" $extra
	expect_rc "wrong pin" 1 "$POP3CMD" -c "$CONF" -a pin-bad stat
	assert_err '[Ff]ingerprint|pin' "says the pin did not match"
	refused "a wrong pin"
	ok "wrong pin refused${extra:+ ($extra)}"
done

# tls = "starttls" against a server that does not offer STLS: fail closed.
cat >"$T_DIR/nostls.script" <<'SCRIPT'
S +OK fault server ready
R CAPA
S +OK
S USER
S SASL PLAIN LOGIN CRAM-MD5
S .
SCRIPT
fault_start "$T_DIR/nostls.script"
fault_config nostls tls=starttls ca_file="$T_DIR/ca.crt" allow_plaintext_auth=
expect_rc "starttls without STLS" 1 "$POP3CMD" -c "$CONF" -a nostls stat
fault_wait
assert_err '^ERRCODE E_INSECURE permanent$'
assert_err 'nostls' "account named"
assert_err 'STLS' "says STLS is missing"
transcript_lacks 'USER' 'PASS' 'AUTH' 'APOP'
ok "starttls without STLS in CAPA: fails closed, no USER/PASS/AUTH sent"

# ... even with allow_plaintext_auth, which is about tls = "none" only.
fault_start "$T_DIR/nostls.script"
fault_config nostls2 tls=starttls ca_file="$T_DIR/ca.crt"
expect_rc "starttls without STLS, plaintext allowed" 1 "$POP3CMD" \
    -c "$CONF" -a nostls2 stat
fault_wait
transcript_lacks 'USER' 'PASS' 'AUTH' 'APOP'
ok "starttls without STLS fails closed despite allow_plaintext_auth"

# STLS offered but refused by the server: fail closed too.
cat >"$T_DIR/stlsrefused.script" <<'SCRIPT'
S +OK fault server ready
R CAPA
S +OK
S STLS
S USER
S .
R STLS
S -ERR [SYS/TEMP] TLS not available right now
SCRIPT
fault_start "$T_DIR/stlsrefused.script"
fault_config stlsrefused tls=starttls ca_file="$T_DIR/ca.crt"
expect_rc "STLS refused" 1 "$POP3CMD" -c "$CONF" -a stlsrefused stat
fault_wait
assert_err 'TLS not available' "the server's reply"
transcript_lacks 'USER' 'PASS' 'AUTH' 'APOP'
ok "STLS answered -ERR: fails closed, no credentials sent"

# Cleartext bytes injected after the STLS reply (CVE-2011-0411 class) are
# refused rather than read as if they had come over TLS.
cat >"$T_DIR/inject.script" <<'SCRIPT'
S +OK fault server ready
R CAPA
S +OK
S STLS
S USER
S .
R STLS
RAW +OK begin TLS\r\n+OK injected\r\n
SLEEP 1
SCRIPT
fault_start "$T_DIR/inject.script"
fault_config inject tls=starttls ca_file="$T_DIR/ca.crt"
expect_rc "injection after STLS" 1 "$POP3CMD" -c "$CONF" -a inject stat
fault_wait
assert_err '^ERRCODE E_PROTO '
assert_err 'unexpected|inject' "says why"
transcript_lacks 'USER' 'PASS' 'AUTH' 'APOP'
ok "bytes injected after +OK to STLS: refused, no credentials sent"

done_testing
