#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Switching from another fetcher (issue 10): fetchmail, mpop, getmail6 and
# fdm each run for real against dovecot in keep mode and write their own
# state file; then the server's mailbox changes, popsyncd --import takes
# the state and a sync fetches exactly the messages the peer never saw,
# once (counted in the Maildir and as RETRs in dovecot's log).  UIDLs
# with '/', a quote, a leading '#', a case pair, 70, 75 and 141 octets
# (fetchmail keeps 128: two UIDLs alike up to there are both fetched),
# UTF-8 and dovecot's own; two mailboxes in one fetchmail and one mpop
# file; importing twice;
# a killed peer; a wrong format, an unknown account and a mailbox with no
# entry (exit 2, the database untouched); --mark-seen.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_peers.sh"

need_programs "$POPSYNCD"
need_peers
start_dovecot

CONF=$T_DIR/import.conf
DB=$T_DIR/state.db
DEST=$T_DIR/dest/alice
write_config_multi "$CONF" "alice" "bob user=bob password=$BOB_PASS" \
    "carol user=carol"
# The same mailbox with keep = false, in a config of its own (one account
# per mailbox).
write_config "$T_DIR/del.conf" alicedel keep=false

L70=$(printf 'S%.0s' $(seq 1 70))
# What each peer sees: 1..8 (8 with dovecot's own UIDL).  Then 1 goes and
# 9 (casex, the case pair of CaseX), 10 and 11 (dovecot's UIDL) come.
BEFORE=(1:plain1 2:a/b '3:q"uote' '4:#lead' 5:CaseX "6:$L70" "7:sp'x" 8:)
AFTER=(2:a/b '3:q"uote' '4:#lead' 5:CaseX "6:$L70" "7:sp'x" 8: 9:casex
    10:new/one 11:)
BOB=(20:bob-1 21:bob-2 22:bob-3)
# For fetchmail and getmail, which take them (mpop and fdm stop at a UIDL
# over 70 octets): 75 octets, 141 (fetchmail keeps 128), UTF-8.  After the
# peer ran, 15 comes, whose first 128 octets are those of 13.
M140=$(printf 'M%.0s' $(seq 1 140))
EXTRA=("12:$(printf 'L%.0s' $(seq 1 75))" "13:${M140}x" "14:utf8-Grüße")

# pop: popsyncd -c $CONF ARGS..., requiring exit status WANT.
pop()
{
	local want=$1
	shift
	expect_rc "popsyncd $*" "$want" "$POPSYNCD" -c "$CONF" "$@"
}

# fresh: [SEQ:UIDL...]: no database, no Maildir; the server as before the
# peer ran, with these messages too.
fresh()
{
	rm -rf -- "$DB" "$DB-wal" "$DB-shm" "$DB.lock" "$T_DIR/dest"
	make_mailbox alice "${BEFORE[@]}" "$@"
	make_mailbox bob "${BOB[@]}"
}

# sync_expect: WANT_RETR WANT_IDS: sync alice; dovecot counted WANT_RETR
# RETRs and alice's Maildir holds exactly WANT_IDS (seed numbers).
sync_expect()
{
	retr_mark
	pop 0 --once alice
	assert_eq "$(retr_since alice)" "$1" "RETRs of the sync"
	assert_eq "$(delivered_ids "$DEST")" "$2" "messages in the Maildir"
}

# import_ok: FORMAT FILE TOOK LEFT: the import takes TOOK, leaves LEFT.
import_ok()
{
	pop 0 --import "$1" "$2" alice
	assert_out "^alice: took $3 $1 entr(y|ies) for alice@localhost .*left $4 of other mailboxes$"
}

# --- refused imports change nothing ------------------------------------------

fresh "${EXTRA[@]}"
run_fetchmail "$T_DIR/fetchids" "$(fetchmail_poll alice "$ALICE_PASS")
$(fetchmail_poll bob "$BOB_PASS")"
[ "$(grep -c '^alice@localhost ' "$T_DIR/fetchids")" -eq 11 ] ||
    fail "fetchmail recorded $(cat "$T_DIR/fetchids")"
grep -q "^alice@localhost $(printf 'M%.0s' $(seq 1 128))\$" \
    "$T_DIR/fetchids" || fail "fetchmail did not cut a UIDL at 128 octets"
ok "fetchmail wrote 11 UIDs of alice and 3 of bob in one file"

pop 2 --import mpop "$T_DIR/fetchids" alice
assert_err "fetchids:1: not a line of this format"
pop 2 --import fetchmail "$T_DIR/fetchids" nobody
assert_err "no account named nobody"
pop 2 --import fetchmail "$T_DIR/fetchids" carol
assert_err "no fetchmail entry for carol@localhost \(14 for other mailboxes\)"
pop 2 --import thunderbird "$T_DIR/fetchids" alice
assert_err "unknown format thunderbird"
pop 2 --import fetchmail "$T_DIR/missing" alice
assert_err "missing: No such file"
[ -e "$DB" ] && fail "a refused import created $DB"
ok "wrong format, unknown account, no entry, missing file: exit 2, no database"

# --- fetchmail, imported twice before the sync --------------------------------

make_mailbox alice "${AFTER[@]}" "${EXTRA[@]}" "15:${M140}y"
import_ok fetchmail "$T_DIR/fetchids" 11 3
assert_out "\(11 new\)"
sum1=$(sha256sum <"$DB")
pop 2 --import fdm "$T_DIR/fetchids" alice
pop 2 --import fetchmail "$T_DIR/fetchids" carol
assert_eq "$(sha256sum <"$DB")" "$sum1" "database after refused imports"
ok "refused imports leave the database as it was"
import_ok fetchmail "$T_DIR/fetchids" 11 3
assert_out "\(0 new\)"
# 13 and 15 are one entry once cut at 128 octets: both are fetched.
sync_expect 5 "9 10 11 13 15"
ok "fetchmail: the 3 messages fetchmail never saw, and both of 13 and 15, once"
sync_expect 0 "9 10 11 13 15"
ok "fetchmail: the next sync fetches nothing"

# --- mpop: two accounts in one file, imported again after the sync -----------

fresh
mpop_conf "$T_DIR/mpoprc" "$T_DIR/mpop-uidls" \
    "a localhost alice $ALICE_PASS" "b LocalHost bob $BOB_PASS"
timeout -k 5 60 mpop -C "$T_DIR/mpoprc" a b >"$T_DIR/peer.out" 2>&1 ||
    { cat "$T_DIR/peer.out" >&2; fail "mpop failed"; }
grep -q '^ 8 localhost alice$' "$T_DIR/mpop-uidls" &&
    grep -q '^ 3 LocalHost bob$' "$T_DIR/mpop-uidls" ||
    fail "mpop wrote $(cat "$T_DIR/mpop-uidls")"
make_mailbox alice "${AFTER[@]}"
import_ok mpop "$T_DIR/mpop-uidls" 8 3
sync_expect 3 "9 10 11"
ok "mpop: only the 3 messages mpop never saw are fetched, once"
import_ok mpop "$T_DIR/mpop-uidls" 8 3
sync_expect 0 "9 10 11"
ok "mpop: importing again after the sync fetches nothing more"

# --- getmail: '/' written as '-' ---------------------------------------------

fresh "${EXTRA[@]}"
run_getmail "$T_DIR/getmail" alice "$ALICE_PASS"
GM=$T_DIR/getmail/oldmail-localhost-$POP3S_PORT-alice
[ -f "$GM" ] || fail "getmail wrote no $GM"
grep -aq '^a-b' "$GM" || fail "getmail kept a/b as it was"
# A new message a-b: getmail would file it and a/b under one name, so
# the imported entry could be either; both are fetched.
make_mailbox alice "${AFTER[@]}" "${EXTRA[@]}" 16:a-b
import_ok getmail "$GM" 11 0
sync_expect 5 "2 9 10 11 16"
ok "getmail: the unseen messages once each, and both of a/b and a-b"
cp "$GM" "$T_DIR/oldmail-localhost-1-alice"
pop 2 --import getmail "$T_DIR/oldmail-localhost-1-alice" alice
assert_err "another mailbox"
ok "getmail: a state file of another port is refused"

# --- fdm -------------------------------------------------------------------------

fresh
run_fdm "$T_DIR/fdm/cache" alice "$ALICE_PASS"
[ "$(wc -l <"$T_DIR/fdm/cache")" -eq 8 ] ||
    fail "fdm wrote $(cat "$T_DIR/fdm/cache")"
make_mailbox alice "${AFTER[@]}"
import_ok fdm "$T_DIR/fdm/cache" 8 0
sync_expect 3 "9 10 11"
ok "fdm: only the 3 messages fdm never saw are fetched, once"

# --- a killed peer ---------------------------------------------------------------

fresh
MPOP_DELIVERY="mda \"/bin/sh -c 'cat >>$T_DIR/killed.mbox; sleep 60'\"" \
    mpop_conf "$T_DIR/mpoprc" "$T_DIR/killed-uidls" \
    "a localhost alice $ALICE_PASS"
# Its own process group, so the kill takes the delivery's shell too.
setsid mpop -C "$T_DIR/mpoprc" a >"$T_DIR/peer.out" 2>&1 &
kill_peer_when $! -s "$T_DIR/killed.mbox"
pop 2 --import mpop "$T_DIR/killed-uidls" alice
assert_err "no mpop entry for alice@localhost"
[ -e "$DB" ] && fail "a refused import created $DB"
ok "mpop killed after its first message recorded nothing: refused, exit 2"

# fdm killed while it delivers message 2: whatever it recorded by then
# (it writes its cache as deliveries finish, but when is its own affair)
# is taken, and a sync fetches every other message once (2 again, if
# fdm's delivery got that far: a duplicate, never a loss).  With nothing
# recorded the import is refused.
fresh
make_mailbox alice 1:k1 2:k2 3:k3
FK=$T_DIR/fdmk
mkdir -p "$FK"
chmod 1777 "$FK"
printf '%s\n' "#!/bin/sh" \
    "grep -q '^Subject: test message 2\$' && { : >$FK/in2; sleep 60; }" \
    "exit 0" >"$FK/slow"
chmod 755 "$FK/slow"
{
	echo "set lock-file \"$FK/lock\""
	echo "action \"slow\" pipe \"$FK/slow\""
	echo "account \"a\" pop3s server \"localhost\" port $POP3S_PORT user \"alice\" pass \"$ALICE_PASS\" new-only cache \"$FK/cache\" no-verify keep"
	echo "match all action \"slow\""
} >"$FK/conf"
chmod 600 "$FK/conf"
setsid fdm -f "$FK/conf" fetch >"$T_DIR/peer.out" 2>&1 &
kill_peer_when $! -e "$FK/in2"
grep -q '^2 k2$' "$FK/cache" 2>/dev/null &&
    fail "fdm recorded k2, which it never finished"
want=
for k in 1 2 3; do
	grep -q "^2 k$k\$" "$FK/cache" 2>/dev/null || want="$want $k"
done
want=${want# }
if [ -s "$FK/cache" ]; then
	import_ok fdm "$FK/cache" "$(wc -l <"$FK/cache")" 0
	say "the killed fdm recorded $(tr '\n' ' ' <"$FK/cache")"
else
	pop 2 --import fdm "$FK/cache" alice
	say "the killed fdm recorded nothing; the import was refused"
fi
sync_expect "$(echo "$want" | wc -w)" "$want"
ok "fdm killed mid-delivery: what it did not record comes, once"

# --- --mark-seen ---------------------------------------------------------------

fresh
retr_mark
expect_rc "--mark-seen alicedel" 0 "$POPSYNCD" -c "$T_DIR/del.conf" \
    --mark-seen alicedel
assert_out "^alicedel: 8 messages on the server, 8 newly marked as fetched, 0 already known"
assert_eq "$(retr_since alice)" 0 "RETRs of --mark-seen"
assert_eq "$(mailbox_count alice)" 8 "messages on the server"
ok "--mark-seen records 8, fetches and deletes nothing (keep = false)"
pop 0 --mark-seen alice
make_mailbox alice "${BEFORE[@]}" 9:casex
sync_expect 1 "9"
ok "--mark-seen: the next sync fetches only the new message"

done_testing
