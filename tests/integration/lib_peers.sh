# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
#
# Helpers for the tests that run other fetchers (fetchmail, mpop, getmail6,
# fdm) against the test dovecot, sourced after lib.sh: a mailbox whose
# POP3 UIDLs the test chooses, each peer run in keep mode so that it
# writes its own state file, and counts of what popsyncd fetched.

# need_peers: the peer programs, from scripts/deps.txt.
need_peers()
{
	local p
	for p in fetchmail mpop getmail fdm; do
		command -v "$p" >/dev/null 2>&1 ||
		    skip "$p not installed (scripts/deps.txt lists it)"
	done
}

# make_mailbox: USER SEQ:UIDL...: replace USER's Maildir by one message per
# argument, gen_message SEQ (Message-ID <seed-SEQ@popsyncd.test>), in that
# POP3 order, served under UIDL through dovecot-uidlist's P field; an empty
# UIDL leaves dovecot's own (pop3_uidl_format, from the IMAP UID, which is
# SEQ, and a fixed UIDVALIDITY, so it is the same in every mailbox made
# here).  Only between sessions: dovecot re-reads the whole mailbox.
make_mailbox()
{
	local user=$1 md=$T_DIR/mail/$1 arg seq uidl max=0 name
	shift
	rm -rf -- "$md"
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	for arg; do
		seq=${arg%%:*}
		[ "$seq" -gt "$max" ] && max=$seq
	done
	{
		printf '3 V1700000000 N%d G0123456789abcdef0123456789abcdef\n' \
		    "$((max + 1))"
		for arg; do
			seq=${arg%%:*}
			uidl=${arg#*:}
			name=$((1700000000 + seq)).M${seq}P$$.popsyncd-test
			gen_message "$seq" 3 >"$md/cur/$name:2,"
			if [ -n "$uidl" ]; then
				printf '%d P%s :%s:2,\n' "$seq" "$uidl" "$name"
			else
				printf '%d :%s:2,\n' "$seq" "$name"
			fi
		done
	} >"$md/dovecot-uidlist"
	chown -R "$MAIL_UID:$MAIL_GID" "$md"
}

# kill_peer_when: PID TEST-ARGUMENTS...: wait (up to 10 s) until
# "test TEST-ARGUMENTS" holds, then kill -9 the process group PID leads
# (a peer started with setsid, and its delivery commands) and reap it.
# Fails the test when the condition never held.
kill_peer_when()
{
	local pid=$1 i
	shift
	for i in $(seq 1 100); do
		test "$@" && break
		sleep 0.1
	done
	kill -9 -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	test "$@" ||
	    { cat "$T_DIR/peer.out" >&2; fail "the peer never got to: test $*"; }
}

# retr_mark: remember where dovecot's log ends; retr_since then sums the
# RETRs (retr=N in each "Logged out" line) of USER's sessions since.
retr_mark()
{
	RETR_MARK=$(wc -l <"$(dovecot_log)")
}

retr_since()
{
	local user=$1 i
	# dovecot writes the line as the session ends, just after our QUIT.
	for i in $(seq 1 50); do
		[ "$(tail -n +"$((RETR_MARK + 1))" "$(dovecot_log)" |
		    grep -c "pop3($user)")" -gt 0 ] && break
		sleep 0.1
	done
	tail -n +"$((RETR_MARK + 1))" "$(dovecot_log)" |
	    grep "pop3($user).*Logged out" |
	    sed -n 's/.* retr=\([0-9]*\)\/.*/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }'
}

# delivered_ids: DIR: the seed numbers of the messages in Maildir DIR,
# sorted, one per line, repeated when delivered more than once.
delivered_ids()
{
	find "$1/new" "$1/cur" -type f -exec grep -h '^Message-ID: <seed-' {} + \
	    2>/dev/null | sed 's/^Message-ID: <seed-\([0-9]*\)@.*/\1/' | sort -n |
	    tr '\n' ' ' | sed 's/ $//'
}

# run_fetchmail: IDFILE RCLINES: fetchmail in keep mode with rc lines
# ("poll ..." entries), every message to /dev/null, state in IDFILE.
run_fetchmail()
{
	local rc=$T_DIR/fetchmailrc
	printf '%s\n' "$2" >"$rc"
	chmod 600 "$rc"
	# FETCHMAILHOME: as root fetchmail would lock /var/run/fetchmail.pid,
	# which another test run on the machine may hold.
	HOME=$T_DIR FETCHMAILHOME=$T_DIR timeout -k 5 60 fetchmail -f "$rc" \
	    --idfile "$1" \
	    --nodetach >"$T_DIR/peer.out" 2>&1
	case $? in
	0|1) ;;	# 1: no mail for some account
	*) cat "$T_DIR/peer.out" >&2; fail "fetchmail failed" ;;
	esac
}

# fetchmail_poll: USER PASSWORD: an rc entry for USER on our pop3s port.
fetchmail_poll()
{
	printf 'poll localhost protocol pop3 port %s uidl user %s there ' \
	    "$POP3S_PORT" "$1"
	printf 'password "%s" keep ssl sslcertck sslcertfile "%s" ' "$2" \
	    "$T_DIR/ca.crt"
	printf 'mda "cat >/dev/null"\n'
}

# mpop_conf: FILE UIDLS ACCOUNT... : an mpoprc, each ACCOUNT "NAME HOST
# USER PASSWORD", keep on, delivery to a scratch Maildir, state in UIDLS.
mpop_conf()
{
	local file=$1 uidls=$2 acct
	shift 2
	mkdir -p "$T_DIR/peer-md/new" "$T_DIR/peer-md/cur" "$T_DIR/peer-md/tmp"
	{
		echo "defaults"
		echo "port $POP3S_PORT"
		echo "tls on"
		echo "tls_starttls off"
		echo "tls_trust_file $T_DIR/ca.crt"
		echo "keep on"
		echo "delivery ${MPOP_DELIVERY:-maildir $T_DIR/peer-md}"
		echo "uidls_file $uidls"
		for acct; do
			set -- $acct
			printf 'account %s\nhost %s\nuser %s\npassword %s\n' \
			    "$1" "$2" "$3" "$4"
		done
	} >"$file"
	chmod 600 "$file"
}

# run_getmail: DIR USER PASSWORD: getmail6 in keep mode (delete = false,
# read_all = false) for USER on our pop3s port, state in DIR.
run_getmail()
{
	mkdir -p "$1"
	cat >"$1/getmailrc" <<-EOF
	[retriever]
	type = SimplePOP3SSLRetriever
	server = localhost
	port = $POP3S_PORT
	username = $2
	password = $3
	ca_certs = $T_DIR/ca.crt
	[destination]
	type = MDA_external
	path = /bin/sh
	arguments = ("-c", "cat >/dev/null")
	allow_root_commands = true
	[options]
	delete = false
	read_all = false
	EOF
	# Once seen under a load of 19: getmail stalled mid-listing until the
	# timeout.  The peer is not what is tested: one more try, afresh.
	if ! timeout -k 5 60 getmail --getmaildir="$1" --rcfile=getmailrc \
	    >"$T_DIR/peer.out" 2>&1; then
		say "getmail failed once ($(tail -n 1 "$T_DIR/peer.out")); again"
		rm -f "$1"/oldmail-*
		timeout -k 5 60 getmail --getmaildir="$1" --rcfile=getmailrc \
		    >"$T_DIR/peer.out" 2>&1 ||
		    { cat "$T_DIR/peer.out" >&2; fail "getmail failed"; }
	fi
}

# run_fdm: CACHE USER PASSWORD: fdm in keep mode with "new-only cache
# CACHE" for USER on our pop3s port.  fdm fetches as an unprivileged user
# when run as root, so the cache's directory is world-writable.
run_fdm()
{
	local conf=$T_DIR/fdm.conf
	mkdir -p "$(dirname "$1")"
	chmod 1777 "$(dirname "$1")"
	cat >"$conf" <<-EOF
	set lock-file "$T_DIR/fdm.lock"
	action "drop" drop
	account "a" pop3s server "localhost" port $POP3S_PORT user "$2" pass "$3" new-only cache "$1" no-verify keep
	match all action "drop"
	EOF
	chmod 600 "$conf"
	timeout -k 5 60 fdm -f "$conf" fetch >"$T_DIR/peer.out" 2>&1 ||
	    { cat "$T_DIR/peer.out" >&2; fail "fdm failed"; }
}
