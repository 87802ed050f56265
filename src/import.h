/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_IMPORT_H
#define POPSYNC_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "account.h"
#include "err.h"
#include "pop3.h"
#include "store.h"

/*
 * Switching from another fetcher without fetching anything twice: read the
 * state file in which fetchmail, mpop, getmail6 or fdm remembers the UIDLs
 * it has seen (--import), keep the entries of the account's mailbox in the
 * store (store_import_add), and at the next sync count a server UIDL as
 * already fetched when it matches one of them unambiguously (import_apply).
 *
 * What each peer writes, as checked against the Debian 12 packages
 * (fetchmail 6.4.37, mpop 1.4.18, getmail6 6.18.11, fdm 1.9) run against
 * dovecot:
 *
 * fetchmail	~/.fetchids: one line "user@host UID" per message, for every
 *		server in the rc file; host is the poll name (or "via"), no
 *		port; user and host are matched case-insensitively.  The
 *		user may hold '@' and blanks, so the host is what follows
 *		the last '@' before the blank that ends "user@host".
 *		fetchmail keeps a UID up to its first blank and at most 128
 *		octets.  It deletes the file when no message is left.
 * mpop		the uidls file: '#' comment lines at the top only (a UID may
 *		start with '#'), then per mailbox a line " N host user" and
 *		its N UIDs in strcmp() order (the host as configured, matched
 *		case-sensitively by mpop).  Newer mpop (1.4.23) writes a time
 *		after each UID (not checked here: Debian 12 has 1.4.18); a
 *		trailing " DIGITS" is dropped.  mpop 1.4.18 refuses a whole
 *		listing holding a 75-octet and a UTF-8 UIDL, and records
 *		nothing for that mailbox then.
 * getmail	oldmail-SERVER-PORT-USER in the getmail directory: lines
 *		"UID NUL unixtime"; getmail writes '/' in a UIDL as '-' (and
 *		refuses a mailbox where two UIDLs then collide).  The
 *		mailbox is the file name (each run of / \ : ; < > | in it
 *		written as one '-').
 * fdm		the POP3 "cache" file of one account (new-only cache PATH):
 *		lines "LENGTH UID", sorted; no host or user in it, so every
 *		entry is the account's.  fdm stops at a UIDL over 70 octets
 *		("UID too big") without writing the cache.
 *
 * A peer killed mid-run (kill -9, checked with each): fetchmail writes its
 * file at the end of a run (also on SIGTERM, with what it finished), mpop
 * and getmail when a mailbox is done, so a killed one leaves nothing of
 * that run; fdm writes its cache as deliveries finish (not in order), so
 * it may leave some, or none.  The import takes what is there, or with
 * nothing for the mailbox refuses (exit 2); what the peer fetched but did
 * not record is fetched again: a duplicate is better than a loss.
 */

enum import_format {
	IMPORT_FETCHMAIL,
	IMPORT_MPOP,
	IMPORT_GETMAIL,
	IMPORT_FDM
};

/* fetchmail keeps at most this many octets of a UID. */
#define IMPORT_FETCHMAIL_IDLEN	128

/* Longer lines are not a peer's state file. */
#define IMPORT_LINE_MAX		1024

/* The mailbox whose entries an import picks. */
struct import_mailbox {
	const char	*host;
	int		 port;
	const char	*user;
};

/* The entries picked from one file; every string is the set's. */
struct import_set {
	char		**uidls;	/* as the peer wrote them */
	size_t		 n;
	size_t		 others;	/* entries of other mailboxes */
};

/*
 * import_format_parse: "fetchmail", "mpop", "getmail" or "fdm" into *f.
 * Returns 0, or -1 for any other name.
 */
int	 import_format_parse(const char *name, enum import_format *f);

/* import_format_name: the name import_format_parse accepts. */
const char *import_format_name(enum import_format f);

/*
 * import_parse: parse text (len octets, the whole state file named path;
 * for getmail the file name is the mailbox) in format f and pick the
 * entries of mailbox mb into *out (freed with import_set_free, also on
 * error).  Pure: no I/O.  A file that is not in format f is refused at its
 * first bad line ("PATH:LINE: ..."); so is a file with no entry for mb,
 * naming how many it has for other mailboxes.
 * Errors: E_USAGE.
 */
int	 import_parse(enum import_format f, const char *path, const char *text,
	    size_t len, const struct import_mailbox *mb, struct import_set *out,
	    struct err *e);

/* import_set_free: free an import_parse result's contents. */
void	 import_set_free(struct import_set *set);

/*
 * import_read: read the file at path (at most 64 MiB) and import_parse it
 * for account a.
 * Errors: E_USAGE (also when the file cannot be read).
 */
int	 import_read(enum import_format f, const char *path,
	    const struct account *a, struct import_set *out, struct err *e);

/*
 * import_peer_form: the form in which peer f records the server UIDL
 * uidl (fetchmail: cut at the first blank and at 128 octets; getmail: '/'
 * as '-'; mpop, fdm: as it is).  Returns a string the caller frees.
 */
char	*import_peer_form(enum import_format f, const char *uidl);

/*
 * import_match: which of the n server UIDLs a peer had seen, by imp (nimp
 * entries sorted by format, then UIDL, as store_import_load returns them):
 * matched[i] is set when the peer form of uidls[i] is an imported entry of
 * that format and no other UIDL of the listing has the same peer form.  An
 * entry that could stand for two messages (two UIDLs cut to one, a/b and
 * a-b for getmail, a UIDL listed twice) matches neither: both are fetched,
 * since a duplicate is better than a loss.  Pure.
 */
void	 import_match(const struct store_import *imp, size_t nimp,
	    const char *const *uidls, size_t n, bool *matched);

/*
 * import_uidls: each message's UIDL in listing l, in listing order, ""
 * for one without a usable UIDL (pop3_msg_uidl).  The strings are l's; the
 * caller frees the array (of l->count + 1 entries).
 */
const char **import_uidls(const struct pop3_listing *l);

/*
 * import_apply: at a sync, after a complete listing l (with UIDLs) and
 * before planning: every listed message the imported state of a's mailbox
 * matches (import_match), and which the ledger *ents does not hold yet,
 * is recorded as delivered (store_mark_seen); then all imported entries
 * of the mailbox are dropped, matched or not, in the same transaction.
 * *ents and *nents are reloaded when anything changed; *taken (unless
 * NULL) is how many messages were recorded.  Does nothing when nothing was imported.
 * Errors: E_STORE.
 */
int	 import_apply(struct store *s, const struct account *a,
	    const struct pop3_listing *l, struct store_entry **ents,
	    size_t *nents, size_t *taken, struct err *e);

/*
 * import_host: the mailbox's host as the store keys imported entries
 * (lower case); the caller frees it.
 */
char	*import_host(const char *host);

/*
 * import_mark_seen: --mark-seen: log in to a's server, list the UIDLs and
 * record each message not in the ledger as delivered without fetching it;
 * never DELE.  *listed is how many messages the server lists, *added how
 * many were recorded.  A UIDL the server lists twice is left out (those
 * messages are fetched).  The caller has bound a (store_account_bind).
 * Errors: those of session_open and pop3, E_SERVER when the server has no
 * UIDL, E_STORE.
 */
int	 import_mark_seen(struct store *s, const struct account *a,
	    size_t *listed, size_t *added, struct err *e);

#endif
