#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# --check-config checks offline what would fail at run time: no accounts,
# a missing or empty ca_file (with why under systemd's PrivateTmp), a
# password_file that is a directory, two accounts on one Maildir with
# different keep settings: each is "FILE:LINE: ..." and exit 2.  Relative
# paths are warnings.  A good config gets one summary line per account.
# No server is needed.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
make_certs
CONF=$T_DIR/check.conf

# check: WANT-RC ACCOUNT-BLOCK...: write $CONF with these accounts (each
# a "NAME KEY=VALUE ..." string, see write_config_multi) and run
# --check-config on it.
check()
{
	local want=$1
	shift
	write_config_multi "$CONF" "$@"
	expect_rc "--check-config" "$want" "$POPSYNCD" -c "$CONF" --check-config
}

# line_of: NAME: the line of $CONF where account NAME starts.
line_of()
{
	echo $(($(grep -n "name = \"$1\";" "$CONF" | cut -d: -f1) - 1))
}

write_accounts "$CONF" ""
expect_rc "no accounts" 2 "$POPSYNCD" -c "$CONF" --check-config
assert_err "^popsyncd: error: $CONF: no accounts: nothing to fetch"
assert_err "^popsyncd: error: $CONF: 1 error$"
ok "no accounts: exit 2"

check 2 "a ca_file=$T_DIR/no-such-ca.pem"
assert_err "^popsyncd: error: $CONF:$(line_of a): ca_file: $T_DIR/no-such-ca.pem: No such file or directory$"
ok "a missing ca_file: exit 2, FILE:LINE, the reason"

# ExecReload's --check-config under popsyncd@.service: systemd set
# INVOCATION_ID, and /tmp may be the unit's own.
write_config_multi "$CONF" "a ca_file=/tmp/popsyncd-no-such-$$/ca.pem"
expect_rc "--check-config under systemd" 2 env INVOCATION_ID=0123 \
    "$POPSYNCD" -c "$CONF" --check-config
assert_err "ca_file: /tmp/popsyncd-no-such-$$/ca.pem: No such file or directory \\(popsyncd runs under systemd here, and a unit with PrivateTmp=yes, as popsyncd@.service, has a /tmp of its own: move it out of /tmp\\)$"
ok "a missing ca_file under /tmp, under systemd: the PrivateTmp hint"

printf 'not a certificate\n' >"$T_DIR/junk.pem"
check 2 "a ca_file=$T_DIR/junk.pem"
assert_err "^popsyncd: error: $CONF:$(line_of a): ca_file: $T_DIR/junk.pem: cannot load it: .*no certificate"
check 2 "a ca_file=$T_DIR"
assert_err "ca_file: $T_DIR is not a regular file$"
# Not used without verification, or without TLS: not checked.
check 0 "a ca_file=$T_DIR/junk.pem tls=none allow_plaintext_auth=true"
ok "a ca_file without a certificate, or a directory: exit 2; unused: not checked"

mkdir -m 700 "$T_DIR/pwdir"
check 2 "a password= password_file=$T_DIR/pwdir"
assert_err "$CONF:$(line_of a): password_file: $T_DIR/pwdir: not a regular file"
ok "a password_file that is a directory: exit 2"

B="user=bob password=$BOB_PASS"
check 2 "a maildir=$T_DIR/md" "b maildir=$T_DIR//md/ keep=false $B"
assert_err "^popsyncd: error: $CONF:$(line_of b): maildir: $T_DIR//md/ is also the Maildir of account a \\($CONF:$(line_of a)\\) with keep, but this one has delete: "
check 2 "a maildir=$T_DIR/md delete_after_days=7" "b maildir=$T_DIR/md $B"
assert_err "Maildir of account a .* with keep, delete after 7 days, but this one has keep: "
check 0 "a maildir=$T_DIR/md keep=false" "b maildir=$T_DIR/md keep=false $B"
ok "two accounts on one Maildir: different keep settings exit 2, the same pass"

check 0 "a maildir=Mail/a"
assert_err "^popsyncd: warning: $CONF:$(line_of a): maildir: Mail/a is relative: it depends on the directory popsyncd starts in \\(under systemd: /\\)"
ok "a relative maildir: a warning, exit 0"

check 0 "a" "b user=bob password=$BOB_PASS keep=false interval=600 tls=starttls port=110"
[ -s "$T_DIR/err" ] && fail "a good config warned"
cat >"$T_DIR/want" <<-EOF
	$CONF: ok, 2 accounts
	  a: alice@localhost:995, tls implicit, auth auto, maildir $T_DIR/dest/a, keep, every 300 s, state $T_DIR/state.db
	  b: bob@localhost:110, tls starttls, auth auto, maildir $T_DIR/dest/b, delete, every 600 s, state $T_DIR/state.db
EOF
diff -u "$T_DIR/want" "$T_DIR/out" >&2 || fail "the summary"
ok "a good config: exit 0, one line per account: mailbox, Maildir, keep/delete, interval, state file"

done_testing
