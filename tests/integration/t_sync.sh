#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# popsyncd --once against a real dovecot (issue 3, section 5): the first
# sync delivers every message exactly once, byte for byte; later syncs
# fetch only what is new; keep = false and delete_after_days delete
# exactly what they should and nothing is lost; two accounts sync at once;
# the summary lines, exit codes and --status (text and JSON) tell the
# truth, also about an account that failed.

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
command -v sqlite3 >/dev/null 2>&1 ||
    fail "sqlite3 not installed (scripts/deps.txt lists it)"
start_dovecot

CONF=$T_DIR/sync.conf
DB=$T_DIR/state.db
A_MD=$T_DIR/dest/a1
B_MD=$T_DIR/dest/b1
TIME_RE='\(([0-9.]+ [kMG]?B) in [0-9]+\.[0-9] s\)'

# sync_config: GLOBAL_LINES ACCOUNT...: write $CONF with the global
# settings (a string of libconfig lines) and one account per argument,
# each "NAME KEY=VALUE ..." for account_block (values without spaces).
sync_config()
{
	local globals=$1 acct first=1
	shift
	{
		echo "# popsyncd test config ($T_NAME)"
		echo "state_db = \"$DB\";"
		# The tests run as root in CI; popsyncd refuses root without it.
		[ "$(id -u)" -eq 0 ] && echo "allow_root = true;"
		[ -n "$globals" ] && printf '%s\n' "$globals"
		echo "accounts = ("
		for acct in "$@"; do
			[ "$first" ] || echo ","
			first=
			# shellcheck disable=SC2086 # split NAME KEY=VALUE...
			account_block $acct
		done
		echo
		echo ");"
	} >"$CONF"
	chmod 600 "$CONF"
}

# once: WANT_RC [ARGS...]: popsyncd -c $CONF -v --once ARGS, exit WANT_RC.
once()
{
	local want=$1
	shift
	expect_rc "popsyncd --once $*" "$want" "$POPSYNCD" -c "$CONF" -v \
	    --once "$@"
}

# summary: NAME NEW SKIPPED DELETED ERRORS: the last run's summary line of
# NAME must say exactly this (and appear exactly once).
summary()
{
	local want n
	want="$1: $2 new, $3 skipped, $4 deleted, $5 error"
	[ "$5" = 1 ] || want="${want}s"
	n=$(grep -c "^$1: " "$T_DIR/out")
	assert_eq "$n" 1 "summary lines for $1"
	grep -Eq "^$want $TIME_RE\$" "$T_DIR/out" ||
	    fail "summary of $1: got '$(grep "^$1: " "$T_DIR/out")', expected '$want (... in ... s)'"
}

# retr_count: how many RETR commands the last run's -v trace shows.
retr_count()
{
	grep -Ec '^popsyncd: debug: [a-z0-9]+: > RETR [0-9]+$' "$T_DIR/err"
}

# mail_files: DIR: the messages of Maildir DIR (new/ and cur/).
mail_files()
{
	find "$1/new" "$1/cur" -type f 2>/dev/null | sort
}

# assert_mail: DIR USER N... DESC: Maildir DIR holds exactly the messages
# seeded for USER with numbers N..., each once, byte for byte, and
# nothing in tmp/.
assert_mail()
{
	local dir=$1 user=$2 desc=${!#} n h f
	local args=("${@:3:$#-3}") got=() want=() pairs=()
	local -A by_hash=()
	mapfile -t got < <(mail_files "$dir")
	# seeded USER N, without a subshell per message.
	for n in "${args[@]}"; do
		want+=("$T_DIR/seeded/$user/$n")
	done
	assert_eq "${#got[@]}" "${#want[@]}" "$desc: number of messages"
	[ "${#got[@]}" -eq 0 ] && return 0
	sha256sum -- "${got[@]}" >"$T_DIR/got.sum"
	sha256sum -- "${want[@]}" >"$T_DIR/want.sum"
	if ! diff <(cut -c1-64 "$T_DIR/want.sum" | sort) \
	    <(cut -c1-64 "$T_DIR/got.sum" | sort) >&2; then
		fail "$desc: the messages differ from those seeded for $user"
	fi
	# The same contents: pair them up by hash and compare byte for byte,
	# all pairs in one cmp (a fork per file makes this test crawl).
	while read -r h f; do
		by_hash[$h]=$f
	done <"$T_DIR/got.sum"
	while read -r h f; do
		pairs+=("${by_hash[$h]}")
	done <"$T_DIR/want.sum"
	cat -- "${want[@]}" >"$T_DIR/want.all"
	cat -- "${pairs[@]}" >"$T_DIR/got.all"
	assert_same_file "$T_DIR/got.all" "$T_DIR/want.all" "$desc"
	if [ -d "$dir/tmp" ] && [ -n "$(ls -A "$dir/tmp")" ]; then
		fail "$desc: files left in $dir/tmp: $(ls -A "$dir/tmp")"
	fi
}

# local_names: DIR USER N...: the file names in Maildir DIR of USER's
# seeded messages N..., quoted for SQL and joined with ", ".
local_names()
{
	local dir=$1 user=$2 n h f out=
	local -A by_hash=()
	shift 2
	while read -r h f; do
		# The ledger keeps the base name, without ",S=<size>".
		f=${f##*/}
		by_hash[$h]=${f%%,S=*}
	done < <(mail_files "$dir" | xargs -d '\n' sha256sum --)
	for n in "$@"; do
		h=$(sha256sum <"$T_DIR/seeded/$user/$n")
		h=${h%% *}
		[ -n "${by_hash[$h]:-}" ] ||
		    fail "seeded message $n of $user is not in $dir"
		out="$out${out:+, }'${by_hash[$h]}'"
	done
	echo "$out"
}

# sql: STATEMENT: run it on the state database, print the result.
sql()
{
	sqlite3 -batch -bail "$DB" "$1" ||
	    fail "sqlite3 failed: $1"
}

# --- 1. the first sync delivers every message exactly once ------------------

# 20 messages from 5 lines to 1500 (about 80 KiB).  gen_message puts lines
# that start with "." or ".." in each and a line that is only "."; POP3
# dot-stuffs them, popsyncd must undo it.
for lines in 0 1 2 3 4 5 6 7 9 12 16 20 25 30 40 60 100 200 400 1500; do
	seed_message alice generated 1 "$lines"
done
big=$(wc -c <"$(seeded alice 20)")
[ "$big" -gt 65536 ] || fail "message 20 has $big bytes, not more than 64 KiB"
grep -q '^\.$' "$(seeded alice 1)" || fail "message 1 lacks a '.' line"
grep -q '^\.\.' "$(seeded alice 20)" || fail "message 20 lacks a '..' line"

sync_config "" "a1"
once 0
summary a1 20 0 0 0
assert_eq "$(retr_count)" 20 "RETR commands in the -v trace of the first sync"
assert_mail "$A_MD" alice $(seq 1 20) "first sync"
assert_eq "$(mailbox_count alice)" 20 "messages left on the server (keep)"
ok "first sync: 20 messages (5 B to $big B, '.' lines) delivered once, byte for byte, 20 RETR"

# --- 2. a second sync downloads nothing -------------------------------------

once 0
summary a1 0 0 0 0
grep -q ': > UIDL$' "$T_DIR/err" || fail "no UIDL in the -v trace: is it a trace?"
assert_eq "$(retr_count)" 0 "RETR commands in the -v trace of the second sync"
assert_not_in "$T_DIR/err" 'RETR'
assert_mail "$A_MD" alice $(seq 1 20) "second sync"
ok "second sync: UIDL but no RETR in the trace, Maildir unchanged"

# --- 3. one new message is the only one fetched -----------------------------

seed_message alice generated 1 8
once 0
summary a1 1 0 0 0
assert_eq "$(retr_count)" 1 "RETR commands after one new message"
grep -q ': > RETR 21$' "$T_DIR/err" || fail "the RETR is not for message 21"
assert_mail "$A_MD" alice $(seq 1 21) "third sync"
ok "one new message: exactly one RETR (message 21), 21 files"

# --- 4. keep = false empties the server, nothing is lost --------------------

# One more new message: fetched and deleted in the same session.
seed_message alice generated 1 3
sync_config "" "a1 keep=false"
once 0
summary a1 1 0 22 0
assert_eq "$(retr_count)" 1 "RETR commands with keep = false"
assert_eq "$(grep -Ec ': > DELE [0-9]+$' "$T_DIR/err")" 22 "DELE commands"
assert_eq "$(mailbox_count alice)" 0 "messages left on the server"
assert_mail "$A_MD" alice $(seq 1 22) "keep = false"
ok "keep = false: 22 DELE, server mailbox empty, all 22 in the Maildir"

# --- 5. delete_after_days = 3 deletes only old messages ---------------------

seed_message alice generated 6 7		# alice 23..28
sync_config "" "a1 delete_after_days=3"
once 0
summary a1 6 0 0 0
assert_eq "$(mailbox_count alice)" 6 "messages on the server"
# Age 23, 25 and 27 to an hour past 3 days, 24 to an hour short of it
# (test_sync.c checks the exact boundary).
old=$(local_names "$A_MD" alice 23 25 27)
young=$(local_names "$A_MD" alice 24)
assert_eq "$(sql "UPDATE ledger SET first_seen = strftime('%s', 'now') - 3 * 86400 - 3600 WHERE mailbox = (SELECT mailbox FROM accounts WHERE name = 'a1') AND state = 'delivered' AND filename IN ($old); SELECT changes();")" 3 "rows aged past 3 days"
assert_eq "$(sql "UPDATE ledger SET first_seen = strftime('%s', 'now') - 3 * 86400 + 3600 WHERE mailbox = (SELECT mailbox FROM accounts WHERE name = 'a1') AND filename = $young; SELECT changes();")" 1 "row aged just under 3 days"
once 0
summary a1 0 0 3 0
assert_eq "$(retr_count)" 0 "RETR commands with delete_after_days"
assert_mail "$T_DIR/mail/alice" alice 24 26 28 "server after delete_after_days"
assert_mail "$A_MD" alice $(seq 1 28) "Maildir after delete_after_days"
assert_eq "$(sql "SELECT count(*) FROM ledger WHERE mailbox = (SELECT mailbox FROM accounts WHERE name = 'a1') AND state = 'expunged' AND filename IN ($old);")" 3 "expunged rows"
# The 22 deleted in section 4 are remembered, absent, not yet forgotten.
assert_eq "$(sql "SELECT count(*) FROM ledger WHERE mailbox = (SELECT mailbox FROM accounts WHERE name = 'a1') AND state = 'expunged' AND absent_polls > 0;")" 22 "absent rows still remembered"
once 0
summary a1 0 0 0 0
assert_mail "$T_DIR/mail/alice" alice 24 26 28 "server after one more sync"
ok "delete_after_days = 3: exactly the 3 messages aged past 3 days left the server, none of the Maildir"

# --- 6. two accounts at once -----------------------------------------------

# bob: 11 small messages and one of about 80 KiB that max_message_size
# skips; alice gets 2 more.
seed_message bob generated 5 10			# bob 1..5
seed_message bob generated 1 1500		# bob 6, too big
seed_message bob generated 6 4			# bob 7..12
seed_message alice generated 2 11		# alice 29, 30
ACCOUNTS=("a1 delete_after_days=3"
    "b1 user=bob password=$BOB_PASS max_message_size=50000")
sync_config "max_parallel = 2;" "${ACCOUNTS[@]}"
once 0
summary a1 2 0 0 0
summary b1 11 1 0 0
assert_eq "$(grep -c ': > RETR ' "$T_DIR/err")" 13 "RETR commands of both"
assert_mail "$A_MD" alice $(seq 1 30) "alice's Maildir, two accounts"
assert_mail "$B_MD" bob 1 2 3 4 5 7 8 9 10 11 12 "bob's Maildir"
assert_eq "$(mailbox_count bob)" 12 "bob's messages on the server"
ok "max_parallel = 2: alice's and bob's mail each in its own Maildir, bob's big one skipped"

once 0
summary a1 0 0 0 0
summary b1 0 0 0 0
assert_eq "$(retr_count)" 0 "RETR commands after both synced"
ok "both accounts again: nothing new, the skipped message is not skipped again"

# --- 7 and 8. --status, a failing account, exit codes ------------------------

# A deletion whose QUIT never came (as after a lost connection): the row
# of alice 26 is dele_sent; --status counts it, the next sync sends the
# DELE again and, after QUIT, the message has left the server.
pend=$(local_names "$A_MD" alice 26)
assert_eq "$(sql "UPDATE ledger SET state = 'dele_sent' WHERE mailbox = (SELECT mailbox FROM accounts WHERE name = 'a1') AND filename = $pend; SELECT changes();")" 1 "row made dele_sent"

# bad names alice on 127.0.0.1, another mailbox to popsyncd than
# alice@localhost (hosts are compared as names): one account per mailbox.
ACCOUNTS+=("bad host=127.0.0.1 password=wrong-$ALICE_PASS")
sync_config "max_parallel = 2;" "${ACCOUNTS[@]}"
expect_rc "--status" 0 "$POPSYNCD" -c "$CONF" --status
cat >"$T_DIR/want" <<-EOF
	a1: last sync DATE, ok in N s: 0 new, 0 skipped, 0 deleted
	  30 messages known, 30 delivered in all, 1 deletions pending
	b1: last sync DATE, ok in N s: 0 new, 0 skipped, 0 deleted
	  12 messages known, 11 delivered in all, 0 deletions pending
	bad: never synced
EOF
sed -E 's/sync [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},/sync DATE,/; s/ in [0-9]+ s:/ in N s:/' \
    "$T_DIR/out" >"$T_DIR/got"
diff -u "$T_DIR/want" "$T_DIR/got" >&2 || fail "--status before the failure"
ok "--status: known, delivered totals, a pending deletion, a never-synced account"

seed_message bob generated 1 2				# bob 13
once 1
summary a1 0 0 1 0
summary b1 1 0 0 0
summary bad 0 0 0 1
assert_err 'bad: .*Authentication failed' "the failure logged"
assert_mail "$T_DIR/mail/alice" alice 24 28 29 30 "server after the pending deletion"
assert_mail "$B_MD" bob 1 2 3 4 5 7 8 9 10 11 12 13 "bob's Maildir, one account failing"
ok "one account fails: exit 1, its summary says 1 error, the others still sync (pending DELE sent again, bob's new one fetched)"

expect_rc "--status" 0 "$POPSYNCD" -c "$CONF" --status
bad_err=$(sed -n 's/^  last error: //p' "$T_DIR/out")
case $bad_err in
bad:*'Authentication failed'*) ;;
*) fail "--status last error: '$bad_err'" ;;
esac
cat >"$T_DIR/want" <<-EOF
	a1: last sync DATE, ok in N s: 0 new, 0 skipped, 1 deleted
	  30 messages known, 30 delivered in all, 0 deletions pending
	b1: last sync DATE, ok in N s: 1 new, 0 skipped, 0 deleted
	  13 messages known, 12 delivered in all, 0 deletions pending
	bad: last sync DATE, error in N s: 0 new, 0 skipped, 0 deleted
	  0 messages known, 0 delivered in all, 0 deletions pending
	  last error: $bad_err
EOF
sed -E 's/sync [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},/sync DATE,/; s/ in [0-9]+ s:/ in N s:/' \
    "$T_DIR/out" >"$T_DIR/got"
diff -u "$T_DIR/want" "$T_DIR/got" >&2 || fail "--status after the failure"
ok "--status: results, counts, no deletion pending, the failed account's last error"

# The JSON, whole and exact except for the times (RFC 3339 UTC, checked
# for form) and the error text, which must be the one --status showed.
expect_rc "--status --json" 0 "$POPSYNCD" -c "$CONF" --status --json
json_err=$(printf '%s' "$bad_err" | sed 's/\\/\\\\/g; s/"/\\"/g')
T='"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"'
cat >"$T_DIR/want" <<-EOF
	{"accounts": [
	    {"name": "a1", "last_start": T, "last_end": T, "result": "ok", "known": 30, "delivered_total": 30, "pending_deletions": 0, "last_new": 0, "last_skipped": 0, "last_deleted": 1, "last_error": null, "failed": []},
	    {"name": "b1", "last_start": T, "last_end": T, "result": "ok", "known": 13, "delivered_total": 12, "pending_deletions": 0, "last_new": 1, "last_skipped": 0, "last_deleted": 0, "last_error": null, "failed": []},
	    {"name": "bad", "last_start": T, "last_end": T, "result": "error", "known": 0, "delivered_total": 0, "pending_deletions": 0, "last_new": 0, "last_skipped": 0, "last_deleted": 0, "last_error": "$json_err", "failed": []}
	]}
EOF
sed -E "s/$T/T/g" "$T_DIR/out" >"$T_DIR/got"
diff -u "$T_DIR/want" "$T_DIR/got" >&2 || fail "--status --json"
assert_eq "$(grep -Eo "$T" "$T_DIR/out" | wc -l)" 6 "RFC 3339 times in the JSON"
ok "--status --json: the same truth, exact JSON"

# Only the good accounts: exit 0 again.
once 0 a1 b1
summary a1 0 0 0 0
summary b1 0 0 0 0
assert_eq "$(grep -c ': ' "$T_DIR/out")" 2 "summary lines for two named accounts"
ok "exit 0 when every account named succeeds"

done_testing
