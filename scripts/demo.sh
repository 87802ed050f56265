#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# A guided tour of popsyncd against a throwaway dovecot on 127.0.0.1:
# build, probe the server, sync, show the status, then add a message and
# sync again to show that only the new one is fetched.  Nothing outside a
# temp dir is touched, and dovecot is stopped on any exit.
#
# Run it as root: dovecot's mail processes switch to the "mail" user.
# Missing Debian packages are installed first (scripts/deps.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
. scripts/lib-deps.sh

# step: a narration line.
step()
{
	printf '\n== %s\n' "$*"
}

step "installing missing packages (scripts/deps.txt)"
deps_install
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run it as root: dovecot switches to the mail user" \
	    "for each login" >&2
	exit 2
fi

step "building in build/"
if [ ! -x configure ]; then
	autoreconf -fi
fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure -q; } &&
    make -s -j"$(nproc 2>/dev/null || echo 2)")
POPSYNCD=$top/build/src/popsyncd
"$POPSYNCD" --version

# lib.sh is the integration tests' helper: it makes the temp dir, the
# test CA and the dovecot config, and its EXIT trap stops dovecot and
# removes the temp dir however this script ends.
top_srcdir=$top
top_builddir=$top/build
export POPSYNCD
. tests/integration/lib.sh

step "starting a throwaway dovecot on 127.0.0.1 (config in $T_DIR/dovecot)"
start_dovecot

step "seeding 3 messages into alice's mailbox on the server"
seed_message alice generated 3 5
ls "$T_DIR/mail/alice/new"

step "writing a popsyncd config (mode 600)"
CONF=$T_DIR/popsyncd.conf
MAILDIR=$T_DIR/Maildir
write_config "$CONF" demo port="$POP3S_PORT" maildir="$MAILDIR" interval=60
# popsyncd refuses to sync as root unless the config allows it.
if [ "$(id -u)" -eq 0 ] && ! grep -q '^allow_root' "$CONF"; then
	sed -i '1a allow_root = true;' "$CONF"
fi
cat "$CONF"

# Run popsyncd with the command shown; stop the demo if it fails.
popsyncd()
{
	printf '$ popsyncd %s\n' "$*"
	"$POPSYNCD" -c "$CONF" "$@"
}

step "checking the config"
popsyncd --check-config

step "probing the server: TLS, certificate, capabilities, login"
popsyncd --probe demo

step "first sync: every message is new"
popsyncd --once

step "what was delivered to $MAILDIR"
ls -l "$MAILDIR/new"
echo "--- the first message:"
head -n 5 "$(find "$MAILDIR/new" -type f | sort | head -n 1)"

step "the state database, read without touching the network"
popsyncd --status

step "a new message arrives on the server"
seed_message alice generated 1 5

step "second sync, with -v: only the new message is fetched (one RETR)"
echo '$ popsyncd -v --once demo   (showing UIDL, RETR, QUIT and the summary)'
"$POPSYNCD" -c "$CONF" -v --once demo >"$T_DIR/second.log" 2>&1 || {
	cat "$T_DIR/second.log" >&2
	exit 1
}
grep -E '> (UIDL|RETR|QUIT)|new,' "$T_DIR/second.log" || true
retr=$(grep -c '> RETR' "$T_DIR/second.log" || true)
echo "RETR commands sent: $retr"
if [ "$retr" -ne 1 ] || ! grep -q ' 1 new' "$T_DIR/second.log"; then
	echo "demo: expected exactly one message fetched; the full log:" >&2
	cat "$T_DIR/second.log" >&2
	exit 1
fi
echo "messages in $MAILDIR/new: $(find "$MAILDIR/new" -type f | wc -l)"

step "status after the second sync"
popsyncd --status

step "done; stopping dovecot and removing $T_DIR"
