#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Local files are not trusted either (issue 7, section 5), with the real
# binary: a Maildir whose new/ or tmp/ became a symbolic link between runs,
# a planted world-writable, foreign, empty or open-directory state
# database, the same database reached through a symbolic and a hard link
# while a daemon holds it, a FIFO as password_file, 0600 modes under
# umask 000, a non-dumpable process, a server that quotes the OAuth token
# in its replies, and the config's small ones (bounds, @include).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_daemon.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D"
need_dovecot
command -v setpriv >/dev/null || fail "setpriv (util-linux) not installed"
start_dovecot
seed_message alice generated 2

DB=$T_DIR/state.db

# once: DESC WANT: popsyncd --once with $CONF, exit status WANT.
once()
{
	expect_rc "$1" "$2" "$POPSYNCD" -c "$CONF" --once
}

# newcount: the files in the account's new/ and cur/.
newcount()
{
	find "$T_DIR/dest/md/new/" "$T_DIR/dest/md/cur/" -type f | wc -l
}

# --- the Maildir ------------------------------------------------------------

dovecot_config md implicit
once "first sync" 0
assert_eq "$(newcount)" 2 "messages delivered"

# Between runs new/, then tmp/, becomes a link to a directory that others
# can read; the run is refused and nothing lands behind the link.
mkdir "$T_DIR/evil"
chmod 777 "$T_DIR/evil"
seed_message alice generated 1
for sub in new tmp; do
	mv "$T_DIR/dest/md/$sub" "$T_DIR/dest/md/$sub.real"
	ln -s "$T_DIR/evil" "$T_DIR/dest/md/$sub"
	once "$sub/ is a symbolic link" 1
	assert_err "dest/md: $sub is a symbolic link, not a directory; refusing to follow it"
	[ -z "$(ls -A "$T_DIR/evil")" ] || fail "a file landed behind $sub/: $(ls -A "$T_DIR/evil")"
	rm "$T_DIR/dest/md/$sub"
	mv "$T_DIR/dest/md/$sub.real" "$T_DIR/dest/md/$sub"
	ok "a symbolic link in place of $sub/ is refused, not followed"
done
once "directories back" 0
assert_eq "$(newcount)" 3 "after the links are gone: the new message once"
assert_same_file "$(ls "$T_DIR"/dest/md/new/* | sort | tail -1)" \
    "$(seeded alice 3)" "the third message"
ok "with real directories again the one new message is delivered once"

# --- the state database -------------------------------------------------------

sum_db() { sha256sum "$DB" | cut -d' ' -f1; }

# A database group or others could write: refused, named, with the fix;
# left as it was, and no mail fetched.
seed_message alice generated 1
before=$(sum_db)
# (660 in root's own group would be fine: a private group holds nobody
# else; in group nogroup it is not.)
chgrp 65534 "$DB"
for mode in 666 660; do
	chmod "$mode" "$DB"
	once "database mode $mode" 1
	assert_err "$DB: the state database is writable by group or others \\(mode 0$mode\\).*chmod 600 $DB"
	assert_eq "$(sum_db)" "$before" "database unchanged"
	assert_eq "$(newcount)" 3 "nothing fetched"
	ok "a state database of mode $mode is refused with its path and the fix"
done
chmod 600 "$DB"
chgrp 0 "$DB"

# Owned by someone else (we run as root: dovecot needs it).
chown 65534:65534 "$DB"
once "foreign database" 1
assert_err "$DB: the state database belongs to uid 65534, not to this user \\(uid 0\\)"
chown 0:0 "$DB"
ok "a state database of another user is refused"

# A -wal planted beside it.
printf 'planted' >"$DB-wal"
chmod 666 "$DB-wal"
once "planted -wal" 1
assert_err "$DB-wal: the wal is writable by group or others"
rm -f "$DB-wal"
assert_eq "$(sum_db)" "$before" "database unchanged"
ok "a planted -wal file others can write is refused"

# Its directory open to others, sticky or not: nothing is created there.
mkdir "$T_DIR/open"
for mode in 777 1777; do
	chmod "$mode" "$T_DIR/open"
	dovecot_config open implicit
	sed -i "s|^state_db = .*|state_db = \"$T_DIR/open/state.db\";|" "$CONF"
	once "database directory mode $mode" 1
	assert_err "$T_DIR/open: the directory of state database .* is writable by group or others \\(mode 0*$mode\\).*chmod go-w"
	[ -z "$(ls -A "$T_DIR/open")" ] || fail "created in the open directory: $(ls -A "$T_DIR/open")"
	ok "a state database directory of mode $mode is refused, nothing created in it"
done

# An empty database is not a new one: say so, change nothing; removed,
# it starts afresh.
dovecot_config md implicit
cp -p "$DB" "$T_DIR/db.keep"
: >"$DB"
once "empty database" 1
assert_err "$DB: is empty \\(0 bytes\\), not a new database.*rm $DB"
[ ! -s "$DB" ] || fail "the empty database was written to"
assert_eq "$(newcount)" 3 "nothing fetched with an empty database"
mv "$T_DIR/db.keep" "$DB"
once "database back" 0
assert_eq "$(newcount)" 4 "the one new message"
ok "a 0-byte state database is refused, not taken for a new one"

# --- modes under umask 000, the lock through other names, non-dumpable ------

# A daemon started under umask 000 creates its database 0600, and while it
# holds it the -wal and -shm are 0600 too.  The sync goes to a fault server
# that never answers, so the daemon stays inside its first poll.
printf 'SLEEP 60\n' >"$T_DIR/stall.script"
fault_start "$T_DIR/stall.script"
mkdir -m 700 "$T_DIR/fresh"
FRESH=$T_DIR/fresh/state.db
fault_config stall timeout=60 interval=1
sed -i "s|^state_db = .*|state_db = \"$FRESH\";|" "$CONF"
old_umask=$(umask)
umask 000
daemon_start "$CONF"
umask "$old_umask"
for _ in $(seq 1 100); do
	[ -e "$FRESH-shm" ] && [ -e "$FRESH-wal" ] && break
	sleep 0.05
done
for f in "$FRESH" "$FRESH-wal" "$FRESH-shm"; do
	[ -e "$f" ] || fail "${f##*/} not there while the daemon runs"
	assert_eq "$(stat -c %a "$f")" 600 "mode of ${f##*/} under umask 000"
done
ok "under umask 000 the database, its -wal and its -shm are 0600"

# The same file through a symbolic and a hard link: in use, with the
# daemon's pid.
ln -s "$FRESH" "$T_DIR/fresh/sym.db"
ln "$FRESH" "$T_DIR/fresh/hard.db"
for alias in sym hard; do
	dovecot_config "alias-$alias" implicit
	sed -i "s|^state_db = .*|state_db = \"$T_DIR/fresh/$alias.db\";|" "$CONF"
	once "database through a $alias link" 1
	assert_err "$T_DIR/fresh/$alias.db is in use by another popsyncd \\(pid $DAEMON_PID\\)"
	ok "the database through a ${alias} link is in use by the daemon (pid $DAEMON_PID)"
done
# The server hangs up first: a stop during a wait is t_stall.sh's matter.
fault_stop
kill -TERM "$DAEMON_PID"
daemon_wait 10

# Non-dumpable: the kernel then gives the files in /proc/PID to root,
# whoever runs the process, and its user cannot read its memory or
# environment.  Shown
# against a plain process of the same user, which stays its own.
NB=$T_DIR/nobody
mkdir -m 700 "$NB"
fault_start "$T_DIR/stall.script"
fault_config nb timeout=60
sed -i -e "s|^state_db = .*|state_db = \"$NB/state.db\";|" \
    -e "s|maildir = .*|maildir = \"$NB/mail\";|" -e '/allow_root/d' "$CONF"
cp "$CONF" "$NB/conf"
chown -R 65534:65534 "$NB"
setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$POPSYNCD" -c "$NB/conf" --once >"$T_DIR/nb.out" 2>"$T_DIR/nb.err" &
NB_PID=$!
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 30 &
SLEEP_PID=$!
kill_at_exit NB_PID SLEEP_PID
for _ in $(seq 1 100); do
	grep -q '^--- connection' "$FAULT_TRANSCRIPT" 2>/dev/null && break
	sleep 0.05
done
grep -q '^--- connection' "$FAULT_TRANSCRIPT" ||
    fail "popsyncd as nobody never connected: $(cat "$T_DIR/nb.err")"
assert_eq "$(stat -c %u "/proc/$SLEEP_PID/status")" 65534 "owner of a dumpable process's /proc/PID/status"
assert_eq "$(stat -c %u "/proc/$NB_PID/status")" 0 "owner of popsyncd's /proc/PID/status"
if setpriv --reuid=65534 --regid=65534 --clear-groups \
    cat "/proc/$NB_PID/environ" >/dev/null 2>&1; then
	fail "its own user can read popsyncd's /proc/PID/environ"
fi
setpriv --reuid=65534 --regid=65534 --clear-groups \
    cat "/proc/$SLEEP_PID/environ" >/dev/null ||
    fail "the control process's environ is not readable by its user"
kill -KILL "$NB_PID" "$SLEEP_PID"
{ wait "$NB_PID" "$SLEEP_PID"; } 2>/dev/null
NB_PID= SLEEP_PID=
fault_stop
ok "popsyncd is non-dumpable: /proc/PID/* is root's and its user cannot read its environ"

# --- a server that quotes the secret ----------------------------------------

TOKEN=ya29.A0localfiles-Secret-Token
TOKEN_B64=$(printf '%s' "$TOKEN" | base64 -w0)
XO_B64=$(printf 'user=alice\001auth=Bearer %s\001\001' "$TOKEN" | base64 -w0)
OB_B64=$(printf 'n,a=alice,\001auth=Bearer %s\001\001' "$TOKEN" | base64 -w0)
JSON_B64=$(printf '{"status":"invalid_token","token":"%s"}' "$TOKEN" | base64 -w0)
GREET='S +OK fault server ready
R CAPA
S +OK
S SASL XOAUTH2 OAUTHBEARER
S UIDL
S .'
printf '%s\nR AUTH XOAUTH2 *\nS -ERR [AUTH] bad token %s in %s (%s)\n' \
    "$GREET" "$TOKEN" "$XO_B64" "$TOKEN_B64" >"$T_DIR/xo.script"
printf '%s\nR AUTH OAUTHBEARER *\nS + %s\nR AQ==\nS -ERR [AUTH] no\n' \
    "$GREET" "$JSON_B64" >"$T_DIR/ob.script"
for mech in xo ob; do
	fault_start "$T_DIR/$mech.script"
	fault_config "$mech" password="$TOKEN" \
	    auth="$([ $mech = xo ] && echo xoauth2 || echo oauthbearer)"
	sed -i "s|^state_db = .*|state_db = \"$T_DIR/oauth.db\";|" "$CONF"
	expect_rc "$mech: token quoted by the server" 1 "$POPSYNCD" -c "$CONF" \
	    -vv --once
	fault_stop
	grep -q "$OB_B64\|$XO_B64" "$FAULT_TRANSCRIPT" ||
	    fail "$mech: the token was never sent (transcript)"
	cat "$T_DIR/out" "$T_DIR/err" >"$T_DIR/$mech.all"
	for opt in "" --json; do
		expect_rc "--status $opt" 0 "$POPSYNCD" -c "$CONF" --status $opt
		cat "$T_DIR/out" "$T_DIR/err" >>"$T_DIR/$mech.all"
	done
	grep -q '\*\*\*\*' "$T_DIR/$mech.all" || fail "$mech: no redaction shown"
	for f in "$T_DIR/$mech.all" "$T_DIR"/oauth.db*; do
		for s in "$TOKEN" "$TOKEN_B64" "$XO_B64" "$OB_B64" "A0localfiles"; do
			if grep -aqF -- "$s" "$f"; then
				fail "$mech: ${f##*/} holds the secret ($s)"
			fi
		done
	done
	ok "$mech: a reply quoting the token leaves it in no output, trace, --status or database"
done
assert_out 'invalid_token' "the OAuth reason, in --status"

# --- small ones -----------------------------------------------------------------

# A FIFO as password_file: refused at once (a hang would be the 10 s
# limit), for --check-config and for a sync.
mkfifo -m 600 "$T_DIR/pw.fifo"
dovecot_config fifo implicit password= password_file="$T_DIR/pw.fifo"
for mode in --check-config --once; do
	RUN_TIMEOUT=10 expect_rc "FIFO password_file ($mode)" 2 "$POPSYNCD" \
	    -c "$CONF" $mode
	assert_err "password_file: $T_DIR/pw.fifo: not a regular file"
done
ok "a FIFO as password_file is refused at once, naming it"

# Numbers are bounded where read: timeout * 1000 cannot overflow, and a
# number libconfig would wrap is read as written.
for v in 3000000 4294967297; do
	dovecot_config big implicit timeout="$v"
	expect_rc "timeout = $v" 2 "$POPSYNCD" -c "$CONF" --check-config
	assert_err "^popsyncd: error: $CONF:[0-9]+: timeout: expected an integer from 1 to 3600, got $v\$"
	ok "timeout = $v fails --check-config with FILE:LINE"
done

# A missing @include is named with its line and why.
dovecot_config inc implicit
printf '@include "absent.conf"\n' >>"$CONF"
expect_rc "missing @include" 2 "$POPSYNCD" -c "$CONF" --check-config
assert_err "$CONF:[0-9]+: cannot open include file $T_DIR/absent.conf: No such file or directory"
ok "a missing @include file is named with FILE:LINE"

# "~" with HOME unset is the passwd home, never a directory "~".
HOMETEST=popsyncd-home-test-$$
dovecot_config home implicit maildir="~/$HOMETEST"
sed -i "s|^state_db = .*|state_db = \"$T_DIR/home.db\";|" "$CONF"
HOMEDIR=$(getent passwd "$(id -u)" | cut -d: -f6)
rm -rf "$HOMEDIR/$HOMETEST"
( cd "$T_DIR" && env -u HOME "$POPSYNCD" -c "$CONF" --once \
    >"$T_DIR/out" 2>"$T_DIR/err" ) || fail "sync with HOME unset: exit $?"
[ ! -e "$T_DIR/~" ] || fail "a directory named ~ was created"
[ -d "$HOMEDIR/$HOMETEST/new" ] || fail "no Maildir under $HOMEDIR"
rm -rf "$HOMEDIR/$HOMETEST"
ok "with HOME unset, ~ is the passwd home directory"

done_testing
