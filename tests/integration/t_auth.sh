#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Every login method against a real dovecot; a wrong password named with
# the account and the server's reply; plaintext passwords never sent on a
# cleartext link unless allow_plaintext_auth says so.

. "$(dirname "$0")/lib.sh"

need_programs "$POP3CMD" "$FAULTPOP3D"
start_dovecot
seed_message alice generated 2
seed_message bob generated 1

# The dovecot log line of the last login, e.g. "method=CRAM-MD5".
last_login_method()
{
	grep -o 'Login: user=<[a-z]*>, method=[A-Z0-9-]*' "$(dovecot_log)" |
	    tail -1 | sed 's/.*method=//'
}

# Each method by name, over implicit TLS and where it keeps the password
# off the wire also over a cleartext link without allow_plaintext_auth.
# dovecot logs USER/PASS as method=PLAIN.
for spec in user:USER:PLAIN apop:APOP:APOP plain:PLAIN:PLAIN \
    login:LOGIN:LOGIN cram-md5:CRAM-MD5:CRAM-MD5; do
	IFS=: read -r auth name logged <<<"$spec"
	dovecot_config "a-$auth" implicit auth="$auth"
	expect_rc "auth $auth over TLS" 0 "$POP3CMD" -c "$CONF" -a "a-$auth" \
	    stat quit
	assert_out "^LOGIN $name\$" "method used"
	assert_out '^STAT 2 '
	assert_eq "$(last_login_method)" "$logged" "method dovecot saw"
	ok "auth = \"$auth\" logs in over implicit TLS (dovecot: $logged)"
done
for spec in apop:APOP cram-md5:CRAM-MD5; do
	IFS=: read -r auth name <<<"$spec"
	dovecot_config "c-$auth" none auth="$auth" allow_plaintext_auth=
	expect_rc "auth $auth in clear" 0 "$POP3CMD" -c "$CONF" -a "c-$auth" \
	    stat quit
	assert_out "^LOGIN $name\$"
	assert_out '^TLS none$'
	ok "auth = \"$auth\" logs in on a cleartext link without allow_plaintext_auth"
done

# The right mailbox for the right user.
dovecot_config bob starttls auth=user user=bob password="$BOB_PASS"
expect_rc "bob" 0 "$POP3CMD" -c "$CONF" -a bob stat quit
assert_out '^STAT 1 '
ok "bob sees his own mailbox over STLS"

# auto: PLAIN first on an encrypted link, CRAM-MD5 first in clear.
dovecot_config auto-tls implicit auth=auto
expect_rc "auto over TLS" 0 "$POP3CMD" -c "$CONF" -a auto-tls stat quit
assert_out '^LOGIN PLAIN$'
ok "auth = \"auto\" picks PLAIN over TLS"
dovecot_config auto-clear none auth=auto allow_plaintext_auth=
expect_rc "auto in clear" 0 "$POP3CMD" -c "$CONF" -a auto-clear stat quit
assert_out '^LOGIN CRAM-MD5$'
ok "auth = \"auto\" picks CRAM-MD5 on a cleartext link"

# A wrong password: exit 1, the message names the account and carries
# dovecot's reply; never the password itself.
for auth in user plain login cram-md5 apop; do
	dovecot_config "wrongpw-$auth" implicit auth="$auth" password=not-the-password
	expect_rc "wrong password ($auth)" 1 "$POP3CMD" -c "$CONF" \
	    -a "wrongpw-$auth" stat
	assert_err "wrongpw-$auth" "the account name"
	assert_err 'Authentication failed' "dovecot's reply"
	assert_err '^ERRCODE E_AUTH permanent$'
	assert_not_in "$T_DIR/err" 'not-the-password'
	ok "wrong password with $auth: exit 1, account and reply named, E_AUTH"
done

# Plaintext methods on a cleartext link without allow_plaintext_auth are
# refused before a password is sent.  dovecot confirms nobody tried.
for auth in user plain login; do
	: >"$(dovecot_log)"
	dovecot_config "clear-$auth" none auth="$auth" allow_plaintext_auth=
	expect_rc "plaintext $auth refused" 1 "$POP3CMD" -c "$CONF" \
	    -a "clear-$auth" stat
	assert_err '^ERRCODE E_INSECURE permanent$'
	assert_err "clear-$auth" "the account name"
	assert_err 'allow_plaintext_auth' "the way out"
	sleep 0.2
	grep -q 'no auth attempts' "$(dovecot_log)" ||
	    fail "dovecot saw an auth attempt: $(cat "$(dovecot_log)")"
	assert_not_in "$(dovecot_log)" 'auth failed|Login:'
	ok "auth = \"$auth\" in clear refused (E_INSECURE), dovecot saw no attempt"
done

# The same against the fault server, whose transcript shows every line.
cat >"$T_DIR/plain-only.script" <<'SCRIPT'
S +OK fault server ready
R CAPA
S +OK
S USER
S SASL PLAIN LOGIN
S .
SCRIPT
for auth in user plain login auto; do
	fault_start "$T_DIR/plain-only.script"
	fault_config "fclear-$auth" auth="$auth" allow_plaintext_auth=
	expect_rc "plaintext $auth refused (fault server)" 1 "$POP3CMD" \
	    -c "$CONF" -a "fclear-$auth" stat
	fault_wait
	assert_err '^ERRCODE E_INSECURE '
	transcript_lacks 'PASS' 'USER' 'AUTH' 'APOP'
	ok "auth = \"$auth\" in clear: no USER, PASS or AUTH on the wire"
done

# With allow_plaintext_auth the same server gets the password.
cat >"$T_DIR/userpass.script" <<SCRIPT
S +OK fault server ready
R CAPA
S +OK
S USER
S .
R USER alice
S +OK
R PASS $ALICE_PASS
S +OK logged in
R CAPA
S +OK
S USER
S .
R STAT
S +OK 0 0
R QUIT
S +OK bye
SCRIPT
fault_start "$T_DIR/userpass.script"
fault_config fallow auth=user
expect_rc "allow_plaintext_auth" 0 "$POP3CMD" -c "$CONF" -a fallow stat quit
fault_wait
assert_eq "$FAULT_RC" 0 "fault server script"
assert_out '^STAT 0 0$'
ok "allow_plaintext_auth = true: USER/PASS sent in clear as configured"

done_testing
