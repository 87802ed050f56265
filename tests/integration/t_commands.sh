#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Every POP3 command of src/pop3.c against a real dovecot, over a cleartext
# link, STLS and implicit TLS: results parsed right, RETR/TOP bodies byte
# for byte, DELE committed by QUIT and undone by RSET.

. "$(dirname "$0")/lib.sh"

need_programs "$POP3CMD"
start_dovecot

# Three generated messages (dot-stuffed lines, a 200-byte line), then a
# big one: 20000 lines and a 100 kB line, so bodies cross many reads.
seed_message alice generated 3 30
{
	printf 'From: big@example.org\nSubject: big\n\n'
	seq 1 20000 | sed 's/^/big body line /'
	head -c 100000 /dev/zero | tr '\0' y
	printf '\n.\n..\n.x\nlast\n'
} >"$T_DIR/big.eml"
seed_message alice "$T_DIR/big.eml"
NMSG=4
WANT_OCTETS=0
for i in $(seq 1 $NMSG); do
	f=$(seeded alice "$i")
	WSIZE[$i]=$(($(wc -c <"$f") + $(wc -l <"$f")))
	WANT_OCTETS=$((WANT_OCTETS + WSIZE[i]))
done

for mode in none starttls implicit; do
	say "--- tls = $mode"
	dovecot_config "cmd-$mode" "$mode"
	out=$T_DIR/got-$mode
	mkdir -p "$out"
	expect_rc "all commands over $mode" 0 "$POP3CMD" -c "$CONF" \
	    -a "cmd-$mode" capa stat list list 2 uidl uidl 2 \
	    retr 1 "$out/1" retr 2 "$out/2" retr 3 "$out/3" retr 4 "$out/4" \
	    top 1 0 "$out/top0" top 4 3 "$out/top3" noop quit
	cp "$T_DIR/out" "$out/stdout"

	case $mode in
	none) assert_out '^TLS none$' "a cleartext link" ;;
	*) assert_out '^TLS TLSv1\.[23] ' "an encrypted link" ;;
	esac
	assert_out '^GREETING \+?(OK )?.*[Rr]eady' "greeting"
	ok "$mode: connected, link state reported"

	assert_out '^CAPA TOP$'
	assert_out '^CAPA UIDL$'
	assert_out '^CAPA PIPELINING$'
	assert_out '^OK capa$'
	ok "$mode: CAPA in TRANSACTION lists dovecot's capabilities"

	assert_out "^STAT $NMSG $WANT_OCTETS\$" "STAT count and octets"
	ok "$mode: STAT $NMSG $WANT_OCTETS"

	for i in $(seq 1 $NMSG); do
		assert_out "^LIST $i ${WSIZE[$i]}\$" "LIST line of message $i"
	done
	n=$(grep -c '^LIST ' "$T_DIR/out")
	# LIST gives NMSG lines, LIST 2 one more.
	assert_eq "$n" $((NMSG + 1)) "number of LIST lines"
	ok "$mode: LIST and LIST 2 give the CRLF sizes"

	grep '^UIDL ' "$T_DIR/out" >"$T_DIR/uidls"
	assert_eq "$(wc -l <"$T_DIR/uidls")" $((NMSG + 1)) "number of UIDL lines"
	bad=$(grep -Evc '^UIDL [0-9]+ [0-9a-fA-F]{16}$' "$T_DIR/uidls")
	assert_eq "$bad" 0 "UIDL lines in dovecot's %08Xu%08Xv format"
	u2=$(awk '$2 == 2' "$T_DIR/uidls" | sort -u | wc -l)
	assert_eq "$u2" 1 "UIDL 2 agrees with the UIDL listing"
	nu=$(awk '{print $3}' "$T_DIR/uidls" | sort -u | wc -l)
	assert_eq "$nu" "$NMSG" "distinct UIDLs"
	cp "$T_DIR/uidls" "$T_DIR/uidls-$mode"
	ok "$mode: UIDL and UIDL 2 agree and are unique"

	for i in $(seq 1 $NMSG); do
		assert_same_file "$out/$i" "$(seeded alice "$i")" "RETR $i"
		assert_out "^RETR $i $(wc -c <"$(seeded alice "$i")")\$"
	done
	ok "$mode: RETR 1..$NMSG byte for byte (dot-stuffing, long lines, 100 kB line)"

	sed '/^$/q' "$(seeded alice 1)" >"$T_DIR/want-top0"
	assert_same_file "$out/top0" "$T_DIR/want-top0" "TOP 1 0"
	sed -n '1,/^$/p' "$(seeded alice 4)" >"$T_DIR/want-top3"
	sed '1,/^$/d' "$(seeded alice 4)" | head -n 3 >>"$T_DIR/want-top3"
	assert_same_file "$out/top3" "$T_DIR/want-top3" "TOP 4 3"
	ok "$mode: TOP n 0 gives the header, TOP n 3 three body lines"

	assert_out '^OK noop$'
	assert_out '^OK quit$'
	ok "$mode: NOOP and QUIT"
done

# CAPA before login (AUTH state) lists the login methods, and STLS on a
# cleartext link; after STLS, CAPA is asked again and STLS is gone.
dovecot_config capa-none none
expect_rc "CAPA in AUTH state" 0 "$POP3CMD" -c "$CONF" -a capa-none -n \
    capa stls capa user alice pass "$ALICE_PASS" stat quit
sed -n '1,/^OK capa$/p' "$T_DIR/out" >"$T_DIR/capa1"
sed '1,/^OK capa$/d' "$T_DIR/out" >"$T_DIR/capa2"
for c in USER 'SASL PLAIN LOGIN CRAM-MD5' STLS; do
	grep -qx "CAPA $c" "$T_DIR/capa1" || fail "CAPA before STLS lacks $c"
done
grep -Eq '^TLS TLSv1\.[23] ' "$T_DIR/capa2" || fail "no TLS after stls"
grep -qx 'CAPA USER' "$T_DIR/capa2" || fail "second CAPA lacks USER"
assert_not_in "$T_DIR/capa2" '^CAPA STLS$'
assert_out '^OK pass$'
assert_out "^STAT $NMSG "
ok "CAPA in AUTH: USER, SASL, STLS; STLS upgrades; CAPA again lacks STLS"

cmp -s "$T_DIR/uidls-none" "$T_DIR/uidls-implicit" ||
    fail "UIDLs differ between connections"
ok "UIDLs are stable across connections"

# UTF8 (RFC 6856) only when CAPA offers it; otherwise pop3_utf8 must
# refuse before sending anything.
dovecot_config utf "implicit"
if grep -q '^CAPA UTF8' "$T_DIR/got-implicit/stdout"; then
	expect_rc "UTF8 offered" 0 "$POP3CMD" -c "$CONF" -a utf -n capa utf8 \
	    user alice pass "$ALICE_PASS" stat quit
	assert_out '^OK utf8$'
	ok "UTF8 accepted where offered"
else
	expect_rc "UTF8 not offered" 1 "$POP3CMD" -c "$CONF" -a utf -n capa utf8
	assert_err '^ERR utf8: .*UTF8' "refusal names UTF8"
	ok "UTF8 refused locally: dovecot does not offer it"
fi

# LIST/UIDL/RETR of a message that does not exist: -ERR passed through.
dovecot_config miss implicit
expect_rc "RETR 99" 1 "$POP3CMD" -c "$CONF" -a miss retr 99 "$T_DIR/x"
assert_err '^ERR retr: .*99' "the error names the message"
assert_err '^ERRCODE E_SERVER '
ok "RETR of a missing message: -ERR reported, exit 1"
expect_rc "LIST 99" 1 "$POP3CMD" -c "$CONF" -a miss list 99
assert_err '^ERR list: '
ok "LIST 99: -ERR reported"

# DELE then RSET then QUIT keeps everything.
before=$(mailbox_count alice)
expect_rc "DELE RSET QUIT" 0 "$POP3CMD" -c "$CONF" -a miss dele 1 dele 2 \
    stat rset stat quit
assert_out "^STAT $((NMSG - 2)) " "STAT after two DELEs"
assert_out "^STAT $NMSG $WANT_OCTETS\$" "STAT after RSET"
assert_eq "$(mailbox_count alice)" "$before" "messages after DELE+RSET+QUIT"
ok "DELE + RSET + QUIT deletes nothing"

# DELE then no QUIT (connection just closed) deletes nothing either.
expect_rc "DELE without QUIT" 0 "$POP3CMD" -c "$CONF" -a miss dele 1
assert_eq "$(mailbox_count alice)" "$before" "messages after DELE without QUIT"
ok "DELE without QUIT deletes nothing"

# A deleted message cannot be retrieved in the same session.
expect_rc "RETR after DELE" 1 "$POP3CMD" -c "$CONF" -a miss dele 1 \
    retr 1 "$T_DIR/x"
assert_err '^ERR retr: '
ok "RETR of a message marked deleted: -ERR"

# DELE + QUIT really deletes, and the right message.
expect_rc "DELE QUIT" 0 "$POP3CMD" -c "$CONF" -a miss dele 1 quit
assert_eq "$(mailbox_count alice)" $((before - 1)) "messages after DELE+QUIT"
expect_rc "after delete" 0 "$POP3CMD" -c "$CONF" -a miss stat \
    retr 1 "$T_DIR/first" quit
assert_out "^STAT $((NMSG - 1)) $((WANT_OCTETS - WSIZE[1]))\$"
assert_same_file "$T_DIR/first" "$(seeded alice 2)" "new message 1"
ok "DELE + QUIT deletes message 1 only"

done_testing
