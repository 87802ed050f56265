#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# OAuth2 against a real, certified OpenID provider: oidc-provider (npm,
# pinned by tests/integration/oidc/package-lock.json, installed with
# "npm ci" into the build tree once).  The test plays the user at the
# provider's own pages; dovecot's oauth2 passdb asks the provider's
# introspection endpoint about every token.  Covered: --authorize through
# the real device flow, a sync with the fresh token (XOAUTH2), OAUTHBEARER
# by auto, a refresh that the provider rotates (the old refresh token is
# then refused by the provider itself), a refresh token revoked at the
# provider's revocation endpoint (permanent error, nothing fetched or
# deleted), and no token in any output.  Faults a real provider will not
# produce on demand are t_oauth2.sh's.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oauth2.sh"

OIDC_SRC=$top_srcdir/tests/integration/oidc
OIDC_DIR=$top_builddir/tests/oidc
OIDC_VERSION=8.8.1
CLIENT_ID=popsyncd-oidc-client
CLIENT_SECRET=oidc-client-Secret-5
DOVECOT_SECRET=dovecot-introspect-Secret-7

need_programs "$POPSYNCD"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    skip "node and npm not installed (apt-get install nodejs npm)"

# --- the provider ---------------------------------------------------------------

# npm ci from the lock file, only when the build tree lacks that version.
installed=$(cd "$OIDC_DIR" 2>/dev/null &&
    node -p 'require("./node_modules/oidc-provider/package.json").version' 2>/dev/null)
if [ "$installed" != "$OIDC_VERSION" ] ||
    ! cmp -s "$OIDC_SRC/package-lock.json" "$OIDC_DIR/package-lock.json"; then
	mkdir -p "$OIDC_DIR"
	cp "$OIDC_SRC/package.json" "$OIDC_SRC/package-lock.json" "$OIDC_DIR/"
	say "installing oidc-provider $OIDC_VERSION into $OIDC_DIR"
	(cd "$OIDC_DIR" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) \
	    >"$T_DIR/npm.log" 2>&1 ||
	    { cat "$T_DIR/npm.log" >&2; fail "npm ci of oidc-provider failed"; }
fi
# node resolves the module from the script's directory.
cp "$OIDC_SRC/server.mjs" "$OIDC_DIR/server.mjs"

make_certs
node "$OIDC_DIR/server.mjs" "$T_DIR/op.port" "$T_DIR/pki/server.crt" \
    "$T_DIR/pki/server.key" "$CLIENT_ID" "$CLIENT_SECRET" dovecot \
    "$DOVECOT_SECRET" >"$T_DIR/op.log" 2>&1 &
TOKEN_SERVER_PID=$!
OP_PORT=$(wait_portfile "$T_DIR/op.port")
OP_URL=https://localhost:$OP_PORT
say "oidc-provider $OIDC_VERSION on $OP_URL (pid $TOKEN_SERVER_PID)"
OAUTH2_TOKEN_URL=$OP_URL/token
OAUTH2_DEVICE_URL=$OP_URL/device/auth
OAUTH2_SCOPE="openid offline_access"
OAUTH2_INTROSPECT=https://dovecot:$DOVECOT_SECRET@localhost:$OP_PORT/token/introspection
OAUTH2_USER_ATTR=sub
: >"$T_DIR/tokens.txt"

# collect: remember NAME's stored tokens for the final scan.
collect()
{
	token_field "$1" access_token >>"$T_DIR/tokens.txt"
	token_field "$1" refresh_token >>"$T_DIR/tokens.txt"
}

# op_refresh: TOKEN: the provider's error for a refresh with TOKEN, or
# "ok" (RFC 6749 section 6, as popsyncd sends it).
op_refresh()
{
	python3 - "$T_DIR/ca.crt" "$OAUTH2_TOKEN_URL" "$CLIENT_ID" \
	    "$CLIENT_SECRET" "$1" <<-'EOF2'
	import json, ssl, sys, urllib.error, urllib.parse, urllib.request
	ca, url, cid, secret, rt = sys.argv[1:]
	body = urllib.parse.urlencode({"grant_type": "refresh_token",
	    "refresh_token": rt, "client_id": cid,
	    "client_secret": secret}).encode()
	ctx = ssl.create_default_context(cafile=ca)
	try:
	    urllib.request.urlopen(url, body, context=ctx, timeout=10)
	    print("ok")
	except urllib.error.HTTPError as e:
	    print(json.load(e).get("error"))
	EOF2
}

# op_revoke: TOKEN: revoke it at the provider (RFC 7009).
op_revoke()
{
	python3 - "$T_DIR/ca.crt" "$OP_URL/token/revocation" "$CLIENT_ID" \
	    "$CLIENT_SECRET" "$1" <<-'EOF2'
	import ssl, sys, urllib.parse, urllib.request
	ca, url, cid, secret, token = sys.argv[1:]
	body = urllib.parse.urlencode({"token": token, "client_id": cid,
	    "client_secret": secret}).encode()
	ctx = ssl.create_default_context(cafile=ca)
	urllib.request.urlopen(url, body, context=ctx, timeout=10)
	EOF2
}

start_dovecot
seed_message alice generated 2

# --- the device flow at a real provider ------------------------------------------

oauth_config op xoauth2 keep=false
authorize_start op
assert_out "^  $OP_URL/device\$" "verification URI"
python3 "$OIDC_SRC/user.py" "$T_DIR/ca.crt" "$AUTH_URI" "$AUTH_CODE" alice \
    >"$T_DIR/user.out" 2>&1 || { cat "$T_DIR/user.out" >&2; fail "approving the code at the provider failed"; }
authorize_wait
[ "$RC" -eq 0 ] || fail "--authorize: exit $RC"
assert_out "Authorized: the tokens for account op are in $TOKFILE_DIR/op.oauth2"
assert_eq "$(stat -c %a "$TOKFILE_DIR/op.oauth2")" 600 "token file mode"
[ -n "$(token_field op refresh_token)" ] || fail "no refresh token stored"
collect op
ok "--authorize through oidc-provider's device flow, approved at its own pages"

logins0=$(logins)
expect_rc "sync with the fresh token" 0 "$POPSYNCD" -c "$CONF" -vv --once op
keep
[ "$(find "$T_DIR/dest/op/new" -type f | wc -l)" -eq 2 ] || fail "expected 2 messages"
assert_eq "$(mailbox_count alice)" 0 "server mailbox after keep = false"
assert_eq "$(($(logins) - logins0))" 1 "dovecot logins"
grep 'Login: user=<alice>, method=' "$(dovecot_log)" | tail -1 |
    grep -q 'method=XOAUTH2' || fail "the login was not XOAUTH2"
ok "a sync with the provider's token: one XOAUTH2 login that dovecot checked by introspection"

oauth_config op-auto auto
cp -p "$TOKFILE_DIR/op.oauth2" "$TOKFILE_DIR/op-auto.oauth2"
expect_rc "auth auto" 0 "$POPSYNCD" -c "$CONF" -v --once op-auto
keep
grep 'Login: user=<alice>, method=' "$(dovecot_log)" | tail -1 |
    grep -q 'method=OAUTHBEARER' || fail "auto did not log in with OAUTHBEARER"
ok "auth = \"auto\" logs in with OAUTHBEARER"

# The provider rotates refresh tokens: the new one is stored, the old one
# is dead at the provider.
CONF=$T_DIR/op.conf
seed_message alice generated 1
old_refresh=$(token_field op refresh_token)
old_access=$(token_field op access_token)
expire_locally op
logins0=$(logins)
expect_rc "sync after expiry" 0 "$POPSYNCD" -c "$CONF" -vv --once op
keep
collect op
new_refresh=$(token_field op refresh_token)
[ "$(token_field op access_token)" != "$old_access" ] || fail "no new access token"
[ -n "$new_refresh" ] && [ "$new_refresh" != "$old_refresh" ] ||
    fail "the rotated refresh token was not stored"
assert_eq "$(($(logins) - logins0))" 1 "dovecot logins"
assert_eq "$(op_refresh "$old_refresh")" invalid_grant "the old refresh token at the provider"
[ "$(find "$T_DIR/dest/op/new" -type f | wc -l)" -eq 3 ] || fail "expected 3 messages"
ok "an expiring access token is refreshed; the provider's rotated refresh token replaces the old one"

# Revoked at the provider: a permanent error that says what to do.
seed_message alice generated 1
op_revoke "$(token_field op refresh_token)" ||
    fail "revocation at the provider failed"
expire_locally op
n_local=$(find "$T_DIR/dest/op/new" -type f | wc -l)
expect_rc "revoked refresh token" 1 "$POPSYNCD" -c "$CONF" -vv --once op
keep
assert_err 'op: run `popsyncd --authorize op`: the OAuth2 refresh token was refused \(invalid_grant'
assert_eq "$(find "$T_DIR/dest/op/new" -type f | wc -l)" "$n_local" "local messages"
assert_eq "$(mailbox_count alice)" 1 "server mailbox"
expect_rc "--status --json" 0 "$POPSYNCD" -c "$CONF" --status --json
keep
assert_out '"last_error": "op: run `popsyncd --authorize op`: .*invalid_grant'
ok "a refresh token revoked at the provider: permanent error naming --authorize, nothing fetched or deleted"

[ "$(sort -u "$T_DIR/tokens.txt" | grep -c .)" -ge 4 ] || fail "too few tokens to scan for"
scan_tokens "$T_DIR/tokens.txt" "$ALL" "$T_DIR/state/state.db" "$T_DIR"/*.conf
ok "no token of the provider's in any output at -vv, --status --json, the state database or the configs"

done_testing
