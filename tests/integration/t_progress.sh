#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# The --once progress display (issue 11, item 7) through a real pty
# (script(1)): one line per running account, redrawn in place and cut to
# the terminal's width, with the byte total and the time left; plain
# summary lines when stdout is not a terminal; nothing at all with -q
# (item 6).

. "$(dirname "$0")/lib.sh"

need_programs "$POPSYNCD"
# script(1) is util-linux's (bsdutils, essential on Debian).
command -v script >/dev/null 2>&1 || fail "script(1) not installed"
start_dovecot

CONF=$T_DIR/p.conf
OUT=$T_DIR/pty.out

# on_pty: COLS ARGS...: popsyncd -c $CONF ARGS on a pty COLS wide; what it
# wrote goes to $OUT, its exit status to $RC.
on_pty()
{
	local cols=$1
	shift
	RC=0
	script -qec "stty cols $cols rows 50; exec $POPSYNCD -c $CONF $*" \
	    /dev/null </dev/null >"$OUT" 2>&1 || RC=$?
}

# segments: the pieces of $OUT between carriage returns, newlines and
# cursor movements, escape sequences removed: what each draw left on one
# terminal row.
segments()
{
	LC_ALL=C sed 's/\x1b\[[0-9]*[AJK]/\n/g; s/\r/\n/g' "$OUT" | grep -v '^$'
}

# Two mailboxes big enough that both syncs run at the same time.
seed_bulk alice 300 mixed
seed_bulk bob 300 mixed
write_config_multi "$CONF" "alice" "bob user=bob password=$BOB_PASS"

# --- a wide terminal: totals and an estimate ---------------------------------
on_pty 200 --once alice
assert_eq "$RC" 0 "exit status of --once on a pty"
segments | grep -Eq '^alice  [0-9]+/300  [0-9.]+ [kMG]?B of [0-9.]+ [kMG]?B  [0-9.]+ [kMG]?B/s  [0-9]+:[0-5][0-9] left$' ||
    fail "no progress line with a byte total and the time left: $(segments | head -5)"
ok "the progress line shows messages, bytes of the total, the rate and the time left"
grep -q $'\x1b\\[J' "$OUT" || fail "the progress line is not redrawn in place"
# What is left on the screen once the block is erased: the summary.
tail -c 200 "$OUT" | LC_ALL=C sed 's/.*\x1b\[J//' |
    grep -Eq '^alice: 300 new, 0 skipped, 0 deleted, 0 errors' ||
    fail "the summary does not follow the erased progress: $(tail -c 200 "$OUT" | od -c | tail -5)"
ok "the progress is erased and the summary line printed in its place"

# --- a narrow terminal, two accounts at once ---------------------------------
seed_bulk alice 300 mixed
on_pty 30 --once
assert_eq "$RC" 0 "exit status of --once of two accounts on a pty"
# The summary lines at the end are plain lines; they may wrap.
long=$(segments | grep -Ev '^[a-z]+: [0-9]+ new, ' | awk 'length($0) > 29' |
    head -3)
[ -z "$long" ] || fail "lines wider than 29 columns on a 30-column terminal: $long"
ok "every progress line fits a 30-column terminal ($(segments | wc -l) rows drawn)"
grep -q $'\x1b\\[1A' "$OUT" ||
    fail "never two lines (alice and bob) redrawn together"
segments | grep -q '^alice  ' && segments | grep -q '^bob  ' ||
    fail "not one line per account"
ok "one line per running account, redrawn together"

# --- not a terminal: plain lines --------------------------------------------
seed_bulk bob 20
"$POPSYNCD" -c "$CONF" --once >"$T_DIR/plain.out" 2>"$T_DIR/plain.err" ||
    fail "--once to a file failed: $(cat "$T_DIR/plain.err")"
LC_ALL=C grep -q $'[\r\x1b]' "$T_DIR/plain.out" &&
    fail "escape sequences or carriage returns in output to a file"
assert_eq "$(grep -c '' "$T_DIR/plain.out")" 2 "summary lines in output to a file"
grep -Eq '^bob: 20 new, ' "$T_DIR/plain.out" || fail "no summary for bob"
ok "output to a file is the plain summary lines"

# --- -q: errors only -----------------------------------------------------
seed_bulk alice 5
on_pty 80 -q --once
assert_eq "$RC" 0 "exit status of -q --once"
[ -s "$OUT" ] && fail "-q --once wrote to the terminal: $(head -c 300 "$OUT")"
on_pty 80 -q --once
[ -s "$OUT" ] && fail "-q --once with nothing new wrote: $(head -c 300 "$OUT")"
ok "-q --once prints nothing, with or without new mail"
"$POPSYNCD" -c "$CONF" -q -v --once >/dev/null 2>"$T_DIR/qv.err" && fail "-q -v accepted"
grep -q 'exclude each other' "$T_DIR/qv.err" || fail "-q -v: $(cat "$T_DIR/qv.err")"
ok "-q and -v together are a usage error"
# An error still shows under -q.
write_config_multi "$T_DIR/bad.conf" "alice password=wrong-password"
expect_rc "-q --once with a wrong password" 1 "$POPSYNCD" -c "$T_DIR/bad.conf" -q --once
assert_err "alice"
ok "-q still shows errors"

done_testing
