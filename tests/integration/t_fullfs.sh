#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# A full disk (issue 3): the Maildir lives on a 1 MiB tmpfs and the server
# holds about 2.4 MiB of mail.  The run must fail with exit 1 and an error that
# names the account and says "No space left on device", leave nothing in
# tmp/ and nothing partial in new/, record only what it delivered, and
# delete nothing on the server (keep = false).  After the file system
# grows, a rerun delivers the rest: every message exactly once, the
# server empty.  The same with a tmpfs that runs out of inodes, where the
# link into new/ fails (tmpfs counts each hard link as an inode), and
# with the state database on the full file system instead of the Maildir.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"

SMALL=$T_DIR/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$SMALL" 2>"$T_DIR/mount.err" ||
    skip "cannot mount a tmpfs (needs CAP_SYS_ADMIN): $(cat "$T_DIR/mount.err")"
# Unmount before lib.sh's cleanup removes the temp dir.
trap 'rc=$?; umount "$SMALL" 2>/dev/null || umount -l "$SMALL"; (exit $rc); cleanup' EXIT

start_dovecot

N=16
# make_message: SEQ: a message of 100-200 KiB (random base64 lines, some
# with leading dots) on stdout.
make_message()
{
	printf 'From: sender%d@example.org\nTo: alice@example.org\n' "$1"
	printf 'Subject: full disk test %d\nMessage-ID: <fullfs-%d@popsyncd.test>\n\n' "$1" "$1"
	head -c $(((100 + RANDOM % 100) * 768)) /dev/urandom | base64 -w 76 |
	    sed '0~7s/^/./'
	printf '.\nend of message %d\n' "$1"
}
for i in $(seq 1 "$N"); do
	make_message "$i" >"$T_DIR/msg"
	seed_message alice "$T_DIR/msg"
done
total=$(cat "$T_DIR"/seeded/alice/* | wc -c)
[ "$total" -gt $((3 * 1024 * 1024 / 2)) ] || fail "seeded only $total bytes"
say "seeded $N messages, $total bytes, for a 1 MiB file system"

SRV=$T_DIR/mail/alice
cp -a -- "$SRV" "$T_DIR/server.template"
sums "$T_DIR/seeded.sums" "$T_DIR/seeded/alice"

# check_maildir: WHAT MD: every file in new/ and cur/ is one seeded message,
# none twice, tmp/ empty; sets GOT to the number of messages.
check_maildir()
{
	local what=$1 md=$2
	sums "$T_DIR/got.sums" "$md/new" "$md/cur"
	GOT=$(wc -l <"$T_DIR/got.sums.h")
	[ -z "$(uniq -d "$T_DIR/got.sums.h")" ] ||
	    fail "$what: a message is in the Maildir twice"
	[ -z "$(comm -23 "$T_DIR/got.sums.h" "$T_DIR/seeded.sums.h")" ] ||
	    fail "$what: a file in new/ is no seeded message (partial?): $(ls -l "$md/new" | tail -3)"
	[ -z "$(ls -A "$md/tmp")" ] ||
	    fail "$what: left in tmp/: $(ls -l "$md/tmp")"
}

# server_count: messages on the server.
server_count()
{
	find "$SRV/new" "$SRV/cur" -type f | wc -l
}

# status_field: TEXT: the number before TEXT in the --status output.
status_field()
{
	sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p" "$T_DIR/out" | head -1
}

# full_disk: NAME WHAT OP: the failed run, whose error must come from OP
# (a grep -E pattern such as "write tmp"), then the rerun after a remount.
full_disk()
{
	local name=$1 what=$2 op=$3 md=$SMALL/$1 delivered
	dovecot_config "$name" implicit keep=false maildir="$md"
	rm -f "$T_DIR"/state.db*

	expect_rc "$what: the run that fills the disk" 1 "$POPSYNCD" \
	    -c "$CONF" --once
	assert_err "$name: .*maildir $md: ($op)/[^:]*: No space left on device" \
	    "the error names the account, the file and the cause"
	assert_out "^$name: [0-9]+ new, 0 skipped, 0 deleted, 1 error " \
	    "the summary line"
	ok "$what: exit 1, \"$(grep -Eo "maildir [^:]*: ($op)/" "$T_DIR/err" | head -1 | sed "s|$md|MD|")...: No space left on device\" names the account"

	check_maildir "$what" "$md"
	delivered=$GOT
	[ "$delivered" -gt 0 ] && [ "$delivered" -lt "$N" ] ||
	    fail "$what: $delivered of $N delivered; the disk should fill part way"
	assert_out "^$name: $delivered new," "the summary counts what is in new/"
	ok "$what: $delivered of $N messages in new/, each whole; tmp/ empty"

	assert_eq "$(server_count)" "$N" "$what: messages left on the server"
	ok "$what: keep = false, yet all $N messages are still on the server"

	expect_rc "$what: --status" 0 "$POPSYNCD" -c "$CONF" --status
	assert_out "^$name: last sync .*, error in " "the status says error"
	assert_out "last error: .*No space left on device" "the status error"
	assert_eq "$(status_field 'delivered in all')" "$delivered" \
	    "$what: --status delivered in all"
	assert_eq "$(status_field 'deletions pending')" 0 \
	    "$what: --status deletions pending"
	ok "$what: --status records the $delivered deliveries and the error, no deletion"

	mount -o remount,size=64m,nr_inodes=100000 "$SMALL" ||
	    fail "remount $SMALL bigger"
	expect_rc "$what: the rerun with space" 0 "$POPSYNCD" -c "$CONF" --once
	assert_out "^$name: $((N - delivered)) new, 0 skipped, $N deleted, 0 errors" \
	    "the rerun's summary"
	check_maildir "$what, rerun" "$md"
	cmp -s "$T_DIR/got.sums.h" "$T_DIR/seeded.sums.h" ||
	    fail "$what: after the rerun $GOT of $N messages in the Maildir"
	assert_eq "$(server_count)" 0 "$what: messages left on the server"
	expect_rc "$what: --status" 0 "$POPSYNCD" -c "$CONF" --status
	assert_eq "$(status_field 'delivered in all')" "$N" \
	    "$what: --status delivered in all after the rerun"
	ok "$what: the rerun with space delivers the other $((N - delivered)): all $N exactly once, the server empty"
}

# Out of blocks: a write into tmp/ fails.
full_disk fullfs "out of space" "write tmp"

# Out of inodes.  The file system holds its root, the Maildir and tmp/,
# new/, cur/, and each message needs 2 more inodes while it is linked
# from tmp/ and new/ (tmpfs counts hard links), 1 once delivered: the
# link of the fourth message fails (a kernel that did not count links
# would fail the open of the fifth's tmp/ file instead).
rm -rf -- "${SMALL:?}"/* "$SRV"
cp -a -- "$T_DIR/server.template" "$SRV"
mount -o remount,size=64m,nr_inodes=9 "$SMALL" || fail "remount for inodes"
full_disk fullino "out of inodes" "link new|open tmp"

# The state database's file system fills instead (the Maildir has room):
# a commit fails mid-sync.  A message may then be in new/ without its
# record; the rerun must find it there, not fetch it again.
rm -rf -- "${SMALL:?}"/* "$SRV"
cp -a -- "$T_DIR/server.template" "$SRV"
# Small messages too: popsyncd records deliveries a batch of 32 at a time,
# so it takes several batches for the database to fill part way.
seed_bulk alice 150
N=$((N + 150))
sums "$T_DIR/seeded.sums" "$T_DIR/seeded/alice"
mount -o remount,size=1m,nr_inodes=100000 "$SMALL" || fail "remount for the database"
avail=$(df -k --output=avail "$SMALL" | tail -1)
head -c $(((avail - ${DB_ROOM:-128}) * 1024)) /dev/zero >"$SMALL/filler"
md=$T_DIR/dest/fulldb
dovecot_config fulldb implicit keep=false maildir="$md"
sed -i "s|^state_db = .*|state_db = \"$SMALL/state.db\";|" "$CONF"
expect_rc "state database full: the run" 1 "$POPSYNCD" -c "$CONF" --once
assert_err "fulldb: $SMALL/state.db: [a-z ]*: database or disk is full" \
    "the error names the account, the database and the cause"
check_maildir "state database full" "$md"
delivered=$GOT
[ "$delivered" -gt 0 ] && [ "$delivered" -lt "$N" ] ||
    fail "state database full: $delivered of $N delivered; the database should fill part way"
assert_eq "$(server_count)" "$N" "state database full: messages on the server"
ok "state database full: exit 1, \"$(grep -o 'state.db: [a-z ]*: database or disk is full' "$T_DIR/err" | head -1)\"; $delivered of $N in new/, each whole; all $N still on the server"

rm -f "$SMALL/filler"
mount -o remount,size=64m "$SMALL" || fail "remount bigger"
expect_rc "state database full: the rerun" 0 "$POPSYNCD" -c "$CONF" --once
check_maildir "state database full, rerun" "$md"
cmp -s "$T_DIR/got.sums.h" "$T_DIR/seeded.sums.h" ||
    fail "state database full: after the rerun $GOT of $N messages in the Maildir"
assert_eq "$(server_count)" 0 "state database full: messages left on the server"
expect_rc "state database full: --status" 0 "$POPSYNCD" -c "$CONF" --status
assert_eq "$(status_field 'delivered in all')" "$N" \
    "state database full: --status delivered in all after the rerun"
ok "state database full: the rerun with space completes: all $N exactly once ($(grep -c 'by a run that stopped before recording it' "$T_DIR/err") found delivered but unrecorded), the server empty"

done_testing
