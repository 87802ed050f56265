#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# The command line against bad configs: --check-config exits 0 or 2 and
# names FILE:LINE; a password file readable by others is refused; usage
# errors exit 2; the default config path follows $XDG_CONFIG_HOME.
# No server is needed: nothing here may touch the network.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"

# good: a valid config with one account, mode 600.
good()
{
	cat >"$1" <<-EOF
	allow_root = true;
	state_db = "$T_DIR/state.db";
	accounts = (
	  {
	    name = "work";
	    host = "pop.example.com";
	    user = "alice";
	    password = "s3cret-Pw";
	    maildir = "$T_DIR/Mail";
	  }
	);
	EOF
	chmod 600 "$1"
}

good "$T_DIR/good.conf"
expect_rc "--check-config on a good file" 0 "$POPSYNCD" -c "$T_DIR/good.conf" \
    --check-config
assert_out "good.conf: ok, 1 account"
assert_out "work: alice@pop.example.com:995, tls implicit"
assert_not_in "$T_DIR/out" 's3cret-Pw'
ok "good config: exit 0, summary printed, no password shown"

# An unknown key on line 6: FILE:LINE, exit 2, for every mode.
good "$T_DIR/typo.conf"
sed -i 's/^    user = /    usr = /' "$T_DIR/typo.conf"
for mode in --check-config --once --status "--probe work"; do
	# shellcheck disable=SC2086
	expect_rc "$mode with an unknown key" 2 "$POPSYNCD" \
	    -c "$T_DIR/typo.conf" $mode
	assert_err "typo.conf:7: usr: unknown key"
done
[ ! -e "$T_DIR/state.db" ] || fail "a config error still created the database"
ok "unknown key: FILE:LINE and exit 2 from --check-config, --once, --status, --probe"

# A libconfig syntax error names its line too.
good "$T_DIR/syntax.conf"
sed -i 's/^    host = "pop.example.com";/    host = pop.example.com;/' \
    "$T_DIR/syntax.conf"
expect_rc "syntax error" 2 "$POPSYNCD" -c "$T_DIR/syntax.conf" -n
assert_err "syntax.conf:6: syntax error"
ok "syntax error: FILE:LINE and exit 2"

# A wrong type and a bad value.
good "$T_DIR/type.conf"
sed -i 's/^    user = "alice";/    user = "alice";\n    port = "pop3s";/' \
    "$T_DIR/type.conf"
expect_rc "port as a string" 2 "$POPSYNCD" -c "$T_DIR/type.conf" -n
assert_err "type.conf:8: port"
good "$T_DIR/tls.conf"
sed -i 's/^    user = "alice";/    user = "alice";\n    tls = "maybe";/' \
    "$T_DIR/tls.conf"
expect_rc "tls = maybe" 2 "$POPSYNCD" -c "$T_DIR/tls.conf" -n
assert_err "tls.conf:8: tls"
ok "wrong type and bad value: FILE:LINE and exit 2"

# Two password sources.
good "$T_DIR/two.conf"
sed -i "s|^    maildir = |    password_file = \"$T_DIR/pw\";\n    maildir = |" \
    "$T_DIR/two.conf"
expect_rc "password and password_file" 2 "$POPSYNCD" -c "$T_DIR/two.conf" -n
assert_err "two.conf:[0-9]+: password"
ok "two password sources: refused with FILE:LINE"

# A config that holds a password and is readable by others is refused.
good "$T_DIR/open.conf"
chmod 644 "$T_DIR/open.conf"
expect_rc "world-readable config with a password" 2 "$POPSYNCD" \
    -c "$T_DIR/open.conf" -n
assert_err "open.conf: holds a password but is readable by group or others"
assert_err "chmod 600"
ok "world-readable config holding a password: exit 2, saying why"

# A password_file readable by the group is refused as well.
printf 'pw-from-file\n' >"$T_DIR/pw"
chmod 640 "$T_DIR/pw"
good "$T_DIR/pwfile.conf"
sed -i "s|^    password = .*|    password_file = \"$T_DIR/pw\";|" \
    "$T_DIR/pwfile.conf"
chmod 644 "$T_DIR/pwfile.conf"
expect_rc "group-readable password_file" 2 "$POPSYNCD" \
    -c "$T_DIR/pwfile.conf" -n
assert_err "pw: holds a password but is readable by group or others"
chmod 600 "$T_DIR/pw"
expect_rc "password_file mode 600, config 644" 0 "$POPSYNCD" \
    -c "$T_DIR/pwfile.conf" -n
ok "password_file: refused at 640, accepted at 600 (config without a secret may be 644)"

# A missing file.
expect_rc "missing config" 2 "$POPSYNCD" -c "$T_DIR/nope.conf" -n
assert_err "nope.conf"
ok "missing config file: exit 2, file named"

# Usage errors.
expect_rc "unknown option" 2 "$POPSYNCD" --frobnicate
expect_rc "--json without --status" 2 "$POPSYNCD" -c "$T_DIR/good.conf" \
    --once --json
expect_rc "operand without --once" 2 "$POPSYNCD" -c "$T_DIR/good.conf" \
    --status work
expect_rc "--once of an unknown account" 2 "$POPSYNCD" \
    -c "$T_DIR/good.conf" --once nosuch
assert_err "nosuch"
ok "usage errors exit 2"

expect_rc "--help" 0 "$POPSYNCD" --help
assert_out "--check-config"
assert_out "--once"
expect_rc "--version" 0 "$POPSYNCD" --version
assert_out "^popsyncd [0-9]+\.[0-9]+"
ok "--help and --version exit 0"

# As root, the daemon and --once need allow_root = true; the read-only
# modes do not.
if [ "$(id -u)" -eq 0 ]; then
	good "$T_DIR/root.conf"
	sed -i '/^allow_root = true;$/d' "$T_DIR/root.conf"
	for mode in --once ""; do
		# shellcheck disable=SC2086
		expect_rc "root without allow_root ($mode)" 2 "$POPSYNCD" \
		    -c "$T_DIR/root.conf" $mode
		assert_err "refusing to run as root: mail belongs to a user"
		assert_err "run it as that user \\(systemctl --user enable --now popsyncd\\), or from root as the system service popsyncd@USER .*; only if it must run as root, set allow_root = true in .*root.conf"
	done
	expect_rc "--check-config as root" 0 "$POPSYNCD" -c "$T_DIR/root.conf" -n
	[ ! -e "$T_DIR/state.db" ] || fail "the refused run opened the database"
	ok "root: daemon and --once refused without allow_root, exit 2"
fi

# Default path: $XDG_CONFIG_HOME/popsyncd/config, then ~/.config.
mkdir -p "$T_DIR/xdg/popsyncd" "$T_DIR/home/.config/popsyncd"
good "$T_DIR/xdg/popsyncd/config"
expect_rc "config from XDG_CONFIG_HOME" 0 env XDG_CONFIG_HOME="$T_DIR/xdg" \
    "$POPSYNCD" -n
assert_out "$T_DIR/xdg/popsyncd/config: ok"
good "$T_DIR/home/.config/popsyncd/config"
expect_rc "config from ~/.config" 0 env -u XDG_CONFIG_HOME HOME="$T_DIR/home" \
    "$POPSYNCD" -n
assert_out "$T_DIR/home/.config/popsyncd/config: ok"
ok "default config path: XDG_CONFIG_HOME, then ~/.config"

done_testing
