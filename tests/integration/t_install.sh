#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# make install into a DESTDIR: the binary, both man pages, the example
# config and both systemd units land where they belong; the units name the
# installed binary, pass "systemd-analyze verify" without a single warning
# and keep their hardening score; make uninstall removes every file again.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
command -v systemd-analyze >/dev/null ||
    skip "systemd-analyze not installed (Debian package systemd)"
DEST=$T_DIR/dest

bindir=$(mk bindir)
sysunitdir=$(mk systemdsystemunitdir)
userunitdir=$(mk systemduserunitdir)
mandir=$(mk mandir)
docdir=$(mk docdir)
[ -n "$bindir" ] && [ -n "$sysunitdir" ] && [ -n "$userunitdir" ] ||
    fail "cannot read the install directories from the Makefile"
# Units go under the prefix unless configure was told otherwise: a plain
# "make install" must not write into directories a package owns.
case $(grep -E '^ *\$ \S*configure' "$top_builddir/config.log" | head -1) in
*--with-systemd*) ;;
*)	prefix=$(mk prefix)
	assert_eq "$sysunitdir" "$prefix/lib/systemd/system" "system unit dir"
	assert_eq "$userunitdir" "$prefix/lib/systemd/user" "user unit dir"
	ok "units under the prefix by default ($prefix/lib/systemd/...)" ;;
esac

expect_rc "make install" 0 make -C "$top_builddir" install DESTDIR="$DEST"
for f in "$bindir/popsyncd" "$mandir/man1/popsyncd.1" \
    "$mandir/man5/popsyncd.conf.5" "$docdir/examples/popsyncd.conf.example" \
    "$sysunitdir/popsyncd@.service" "$userunitdir/popsyncd.service"; do
	[ -f "$DEST$f" ] || fail "make install did not install $f"
done
[ -x "$DEST$bindir/popsyncd" ] || fail "the installed popsyncd is not executable"
expect_rc "the installed binary" 0 "$DEST$bindir/popsyncd" --version
assert_out '^popsyncd [0-9]'
ok "make install: binary, popsyncd(1), popsyncd.conf(5), example, both units"

# The example config is a valid config (only its password may not be
# readable by others, so check a copy with mode 600).
install -m 600 "$DEST$docdir/examples/popsyncd.conf.example" "$T_DIR/example.conf"
expect_rc "--check-config on the example" 0 "$POPSYNCD" -c "$T_DIR/example.conf" -n
ok "the installed example config passes --check-config"

for unit in "$sysunitdir/popsyncd@.service" "$userunitdir/popsyncd.service"; do
	u=$DEST$unit
	assert_eq "$(sed -n 's/^ExecStart=//p' "$u" | cut -d' ' -f1)" \
	    "$bindir/popsyncd" "ExecStart of ${unit##*/}"
	grep -q '@[a-z]*@' "$u" && fail "${unit##*/} has an unsubstituted @var@"
	for key in 'Type=notify' 'WatchdogSec=' 'ExecReload=' \
	    'RestartPreventExitStatus=2' 'NoNewPrivileges=yes' \
	    'SystemCallFilter=@system-service' 'MemoryDenyWriteExecute=yes' \
	    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
		grep -q "^$key" "$u" || fail "${unit##*/} lacks $key"
	done
	# "systemctl reload" checks the config before it sends SIGHUP.
	assert_eq "$(sed -n 's/^ExecReload=//p' "$u" | tr '\n' ';')" \
	    "$bindir/popsyncd --check-config;/bin/kill -HUP \$MAINPID;" \
	    "ExecReload of ${unit##*/}"
	# verify checks the commands' binary: point them at the installed one.
	sed "s|^\(Exec[A-Za-z]*=\)$bindir/popsyncd|\1$DEST$bindir/popsyncd|" \
	    "$u" >"$T_DIR/${unit##*/}"
	expect_rc "systemd-analyze verify ${unit##*/}" 0 \
	    systemd-analyze verify --man=no "$T_DIR/${unit##*/}"
	# verify exits 0 on an unknown key; its warning is what tells.
	[ ! -s "$T_DIR/out" ] && [ ! -s "$T_DIR/err" ] ||
	    fail "systemd-analyze verify ${unit##*/} warned"
done
ok "both units: installed binary in ExecStart, ExecReload checks the config, Type=notify, hardening, systemd-analyze verify silent"

# The exposure scores README.md records; a unit that loses hardening fails.
score()
{
	systemd-analyze security --offline=true "$1" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
s_sys=$(score "$T_DIR/popsyncd@.service")
s_user=$(score "$T_DIR/popsyncd.service")
[ -n "$s_sys" ] && [ -n "$s_user" ] || fail "no exposure score from systemd-analyze security"
awk -v s="$s_sys" 'BEGIN { exit !(s <= 1.5) }' ||
    fail "popsyncd@.service exposure $s_sys, README.md says 1.3"
awk -v s="$s_user" 'BEGIN { exit !(s <= 6.5) }' ||
    fail "popsyncd.service exposure $s_user, README.md says 6.2"
grep -q "popsyncd@.service\` \*\*$s_sys " "$top_srcdir/README.md" ||
    fail "README.md does not record popsyncd@.service's score $s_sys"
ok "systemd-analyze security: popsyncd@.service $s_sys, popsyncd.service $s_user (as README.md says)"

expect_rc "make uninstall" 0 make -C "$top_builddir" uninstall DESTDIR="$DEST"
left=$(find "$DEST" -type f | head -5)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall removes every installed file"

done_testing
