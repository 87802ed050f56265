#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# popsyncd --once --dry-run [--json] (issue 10, section 3) against dovecot:
# it prints what a sync would fetch (new), skip (too large) and delete
# (keep = false), with counts, sizes and reasons, counts what an imported
# state vouches for, and changes nothing: not the server's mailbox (no
# RETR, no DELE), not the Maildir, not the database file.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_peers.sh"

need_programs "$POPSYNCD" "$FAULTPOP3D"
command -v python3 >/dev/null 2>&1 ||
    fail "python3 not installed (getmail6 in scripts/deps.txt brings it)"
start_dovecot

CONF=$T_DIR/dryrun.conf
DB=$T_DIR/state.db
DEST=$T_DIR/dest/alice
write_config_multi "$CONF" "alice max_message_size=3000" \
    "bobdel user=bob password=$BOB_PASS keep=false"

# pop: popsyncd -c $CONF ARGS..., requiring exit status WANT.
pop()
{
	local want=$1
	shift
	expect_rc "popsyncd $*" "$want" "$POPSYNCD" -c "$CONF" "$@"
}

# snapshot: FILE: what must not change: the database file, the Maildir's
# file names and contents, the server's message files.
snapshot()
{
	{
		[ -e "$DB" ] && sha256sum <"$DB" || echo "no database"
		find "$T_DIR/dest" "$T_DIR/mail/alice/cur" "$T_DIR/mail/alice/new" \
		    "$T_DIR/mail/bob/cur" "$T_DIR/mail/bob/new" -type f \
		    -exec sha256sum {} + 2>/dev/null | sort
	} >"$1"
}

# dry: ARGS...: a dry run that must leave everything as it was, send no
# RETR and no DELE, and exit 0.
dry()
{
	snapshot "$T_DIR/before"
	retr_mark
	pop 0 --once --dry-run "$@"
	assert_eq "$(retr_since alice)" 0 "RETRs of a dry run"
	if tail -n +"$((RETR_MARK + 1))" "$(dovecot_log)" |
	    grep 'Logged out' | grep -vq ' del=0/'; then
		fail "a dry run deleted: $(tail -n +"$((RETR_MARK + 1))" "$(dovecot_log)")"
	fi
	snapshot "$T_DIR/after"
	assert_same_file "$T_DIR/before" "$T_DIR/after" "state after a dry run"
}

make_mailbox alice 1:u-one 2:u-two 3:u-three
make_mailbox bob 20:b-one 21:b-two

# No database yet: everything is new, and none is created.
dry alice
assert_out "^alice: would fetch 3 \([0-9]+ octets\), skip 0 \(0 octets\), delete 0 \(0 octets\); 3 listed"
assert_out "^  fetch  message 1 \(UIDL u-one, [0-9]+ octets\): new$"
[ -e "$DB" ] && fail "a dry run created $DB"
[ -e "$DEST" ] && fail "a dry run created $DEST"
ok "no database: 3 to fetch, nothing written"

pop 0 --once alice
assert_eq "$(delivered_ids "$DEST")" "1 2 3" "first sync"

# A new message, a large one, one an imported fetchmail state vouches for.
make_mailbox alice 1:u-one 2:u-two 3:u-three 4:u-new 5:u-big 6:u-seen
gen_message 5 200 >"$T_DIR/mail/alice/cur/$(ls "$T_DIR/mail/alice/cur" |
    grep "^1700000005\.")"
chown -R "$MAIL_UID:$MAIL_GID" "$T_DIR/mail/alice"
printf 'alice@LOCALHOST u-seen\nalice@localhost u-gone\n' >"$T_DIR/fetchids"
pop 0 --import fetchmail "$T_DIR/fetchids" alice

dry alice
assert_out "^alice: would fetch 1 \([0-9]+ octets\), skip 1 \([0-9]+ octets\), delete 0 \(0 octets\); 6 listed \([0-9]+ octets\), 4 already fetched \(1 by an imported state\)$"
assert_out "^  fetch  message 4 \(UIDL u-new, [0-9]+ octets\): new$"
assert_out "^  skip   message 5 \(UIDL u-big, [0-9]+ octets\): larger than max_message_size \([0-9]+ > 3000 octets\)$"
ok "text: fetch the new one, skip the large one, 1 known by the import"

dry --json alice bobdel
python3 - "$T_DIR/out" <<'EOF' || fail "JSON: $(cat "$T_DIR/out")"
import json, sys
d = json.load(open(sys.argv[1]))
a, b = d["accounts"]
assert a["name"] == "alice" and a["listed"] == 6 and a["known"] == 4, a
assert a["imported"] == 1 and a["error"] is None, a
assert [m["uidl"] for m in a["fetch"]["messages"]] == ["u-new"], a
assert a["fetch"]["count"] == 1 and a["fetch"]["octets"] > 0, a
assert a["skip"]["messages"][0]["uidl"] == "u-big", a
assert a["skip"]["messages"][0]["reason"].startswith("larger than"), a
assert a["delete"]["count"] == 0, a
assert b["name"] == "bobdel" and b["fetch"]["count"] == 2, b
assert b["delete"]["count"] == 2, b
assert all(m["reason"] == "keep = false, once fetched"
    for m in b["delete"]["messages"]), b
EOF
ok "JSON: the same plan; keep = false deletes what it fetches"

pop 2 --once --dry-run nobody
assert_err "no account named nobody"
pop 2 --dry-run alice
assert_err "--dry-run goes with --once"
ok "an unknown account or --dry-run without --once: exit 2"

# The real sync does what the dry run said.
retr_mark
pop 0 --once alice
assert_eq "$(retr_since alice)" 1 "RETRs of the sync after the dry runs"
assert_eq "$(delivered_ids "$DEST")" "1 2 3 4" "Maildir after the sync"
ok "the sync then fetches exactly the one message the dry run named"

dry alice
assert_out "^alice: would fetch 0 \(0 octets\), skip 1 \([0-9]+ octets\), delete 0 \(0 octets\); 6 listed \([0-9]+ octets\), 5 already fetched \(0 by an imported state\)$"
assert_out "^  skip   message 5 \(UIDL u-big, [0-9]+ octets\): skipped before: larger than max_message_size \([0-9]+ > 3000 octets\)$"
ok "after the sync: nothing to fetch, the large one skipped before"

# keep = false, two messages under one UIDL: fetched, but never deleted.
make_mailbox bob 20:b-dup 21:b-dup 22:b-one
pop 0 --once bobdel
assert_eq "$(mailbox_count bob)" 2 "bob's mailbox after the keep = false sync"
dry bobdel
assert_out "^bobdel: would fetch 0 \(0 octets\), skip 2 \([0-9]+ octets\), delete 0 \(0 octets\); 2 listed"
assert_out "^  skip   message 2 \(UIDL b-dup, [0-9]+ octets\): its UIDL is listed more than once: not deleted$"
ok "keep = false: a repeated UIDL shows as skipped, not deleted"

# An incomplete listing (the fault server): message 2 is in LIST only,
# message 4 in UIDL only; message 3's UIDL is given twice.  The dry run
# names each as left alone, and sends LIST, UIDL and QUIT only.
{
	printf 'S +OK fault server ready\nR CAPA\nS +OK\nS USER\nS UIDL\nS .\n'
	printf 'R USER alice\nS +OK\nR PASS *\nS +OK logged in\n'
	printf 'R CAPA\nS +OK\nS USER\nS UIDL\nS .\n'
	printf 'R LIST\nS +OK\nS 1 100\nS 2 200\nS 3 300\nS .\n'
	printf 'R UIDL\nS +OK\nS 1 f-one\nS 3 f-three\nS 3 f-three-again\n'
	printf 'S 4 f-four\nS .\nR QUIT\nS +OK bye\n'
} >"$T_DIR/fault.script"
fault_start "$T_DIR/fault.script"
fault_config faulty
expect_rc "dry run against the fault server" 0 "$POPSYNCD" -c "$CONF" \
    --once --dry-run faulty
fault_wait
assert_out "^faulty: would fetch 1 \(100 octets\), skip 2 \(500 octets\), delete 0 \(0 octets\); 3 listed"
assert_out "^  fetch  message 1 \(UIDL f-one, 100 octets\): new$"
assert_out "^  skip   message 2 \(UIDL none, 200 octets\): in LIST but not in the UIDL listing \(incomplete listing\): left alone$"
assert_out "^  skip   message 3 \(UIDL none, 300 octets\): its UIDL is unusable"
assert_out "^  \(1 message\(s\) in the UIDL listing but not in LIST \(incomplete listing\): left alone\)$"
transcript_lacks 'RETR' 'DELE' 'TOP'
ok "an incomplete listing: what is in only one of LIST and UIDL is left alone"

done_testing
