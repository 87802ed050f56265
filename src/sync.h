/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_SYNC_H
#define POPSYNC_SYNC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "account.h"
#include "err.h"
#include "pop3.h"
#include "store.h"

/*
 * One account's sync: connect, log in, list, diff the listing against the
 * ledger, fetch what is new into the Maildir, delete what the account's
 * policy says, QUIT.
 *
 * The exactly-once invariant, step by step (STYLE 12, store.h):
 *  1. Every message to fetch is recorded "fetching" with the Maildir file
 *     name it will get, and committed, before its RETR is sent.
 *  2. The message is written to tmp/, fsynced and linked into new/
 *     (maildir.h).  When its batch (up to 32 messages) is over, new/ is
 *     fsynced once and then the batch's messages are marked "delivered" in
 *     one commit, also when a later message of the batch failed.
 *  3. At the start of every sync, each row still "fetching" is resolved by
 *     looking for its file name in new/ and cur/ (a reader may have moved
 *     it and added ":2,..."): found means delivered, absent means fetch it
 *     again.  So a kill at any instant leaves at most a file the ledger has
 *     not caught up with, and the next run finds it instead of fetching a
 *     second copy.  (This replaces STYLE 12's name derived from account and
 *     UIDL: the planned name in the ledger does the same job and keeps
 *     maildir(5)'s unique-name format.)
 *  4. DELE is sent only for rows that are delivered (or whose DELE is
 *     already pending), and only after the commit of step 2.  Rows become
 *     "dele_sent" after the server's +OK and "expunged" only after +OK to
 *     QUIT; a pending deletion whose QUIT failed is sent again next time.
 *  5. Once one delivery fails, no DELE is sent in that session; if the
 *     server advertised EXPIRE 0 the connection is closed without QUIT, so
 *     the server does not expire the mail that was retrieved but not
 *     delivered.  What was delivered stays recorded.
 *  6. Only a message this session saw in the UIDL listing, whose ledger row
 *     says delivered (or delivered in this very session), is ever named in
 *     a DELE.
 *
 * One message never blocks the others:
 *  - A -ERR to its RETR records it "failed" with the reply; the sync goes
 *    on, and a later poll tries it again (store_mark_failed's delays).
 *  - A message that grows past sync_cutoff while it streams is cut off:
 *    its tmp/ file goes, it is recorded "skipped" with the size reached,
 *    and the link is closed (the server would go on sending); a new
 *    session goes on with the rest, up to SYNC_SESSIONS in one sync.
 *  - A message in only one of LIST and UIDL, or whose UIDL is unusable
 *    (pop3_parse_uidl), is neither recorded nor fetched nor deleted; one
 *    warning per sync counts them.
 *
 * Messages listed twice under one UIDL (a broken server) are kept apart by
 * the keys "UIDL", "UIDL\n#2", ... in listing order (a UIDL is one line of
 * the listing, so no later real UIDL can match a generated key), fetched
 * once each and never deleted, since a DELE could not be tied to the right
 * ledger row.
 */

/* What a sync reports while it runs (for the terminal progress line). */
struct sync_progress {
	const char		*account;
	size_t			 done;		/* messages delivered so far */
	size_t			 total;		/* messages to fetch */
	unsigned long long	 bytes;		/* bytes written so far */
	unsigned long long	 total_bytes;	/* LIST sizes of the messages to
						 * fetch (with CRLF, so a little
						 * more than bytes will reach) */
};

/* The state shared by every sync of one process. */
struct sync_shared {
	struct store		*store;		/* one writable handle, which
						 * threads may share */
	const atomic_int *abort_flag; /* stop after this message */
	void			(*progress)(void *arg,
				    const struct sync_progress *p);
	void			*progress_arg;
	void			(*idle)(void *arg); /* each second of a wait */
	void			*idle_arg;
	/* Set when stopping takes too long: every wait ends within a
	 * second, and a message being written is given up (it is fetched
	 * again next time). */
	const atomic_int *hard_abort;
	/* The clock a sync reads (first_seen, delete_after_days, the
	 * absence of UIDLs); NULL: time(NULL).  Tests set the time here
	 * instead of sleeping or editing the ledger. */
	time_t			(*wall)(void *arg);
	void			*wall_arg;
};

/* What one sync did. */
struct sync_result {
	size_t			 listed;	/* messages on the server */
	size_t			 fetched;	/* delivered in this sync */
	size_t			 recovered;	/* found delivered by a run that
						 * died before recording it */
	size_t			 skipped;	/* newly skipped (too large) */
	size_t			 failed;	/* refused by the server */
	size_t			 deleted;	/* DELE committed by QUIT */
	size_t			 pruned;	/* ledger rows forgotten */
	unsigned long long	 bytes;
	size_t			 errors;	/* 0 or 1: the sync failed */
	long			 login_delay;	/* CAPA LOGIN-DELAY seconds,
						 * -1 when not advertised */
};

/*
 * sync_account: run one sync of account a.  Returns 0, or the first error
 * (its message names the account, and for server errors the command and the
 * reply).  *r is filled in either case; the ledger and the account's status
 * row (store_sync_end) are written in either case too.
 * Errors: those of session_open, pop3, maildir (E_DELIVERY), store
 * (E_STORE), E_SERVER "server does not support UIDL" with keep = true,
 * E_ABORT.
 */
int	 sync_account(const struct account *a, const struct sync_shared *sh,
	    struct sync_result *r, struct err *e);

/* One message the plan acts on. */
struct sync_item {
	unsigned long		 num;		/* message number this session */
	char			*key;		/* ledger key: UIDL or "UIDL #n" */
	unsigned long long	 size;		/* from LIST */
	bool			 pending;	/* fetch: a "fetching" row exists;
						 * skip: already skipped */
	bool			 dup;		/* its UIDL is listed twice: never
						 * deleted */
	bool			 delivered;	/* in new/ (this session) */
	char			*refused;	/* the server's -ERR to its
						 * RETR, until recorded */
};

/*
 * The plan made from a listing and the ledger.  fetch: new messages (and
 * unresolved "fetching" rows, skipped ones that now fit, failed ones whose
 * retry is due); skip: new messages over max_message_size; dele: delivered
 * messages the policy deletes (keep = false: all; delete_after_days: first
 * seen that long ago) and those with a deletion pending.  keys[i] is the
 * ledger key of listing entry i (NULL when it has none): the listing "has"
 * exactly these keys (store_prune).  A key is the UIDL in the listing's
 * own pool, so a plan must be freed before its listing; only the keys of
 * repeated UIDLs are made, and kept in owned.  The counts say what is left
 * alone: dup, entries whose UIDL was already listed (fetched, never
 * deleted); list_only and uidl_only, messages in one listing only;
 * bad_uidl, unusable UIDLs; waiting, failed messages not due yet.
 */
struct sync_plan {
	struct sync_item	*fetch;
	size_t			 nfetch;
	struct sync_item	*skip;
	size_t			 nskip;
	struct sync_item	*dele;
	size_t			 ndele;
	const char		**keys;
	size_t			 nkeys;
	char			**owned;
	size_t			 nowned;
	size_t			 dup;
	size_t			 list_only;
	size_t			 uidl_only;
	size_t			 bad_uidl;
	size_t			 waiting;
};

/*
 * sync_plan_make: the plan for account a (keep, delete_after_days,
 * max_message_size) from listing l (with UIDLs) and the ledger entries (as
 * store_load returns them, fetching rows already resolved) at time now.
 * It sets listed on each entry whose key the listing has, for store_prune,
 * and changes nothing else.  No I/O; n log n in the listing's length.  Free
 * with sync_plan_free.
 */
void	 sync_plan_make(const struct account *a, const struct pop3_listing *l,
	    struct store_entry *ents, size_t nents, int64_t now,
	    struct sync_plan *plan);

/* sync_plan_free: free a plan's arrays and keys. */
void	 sync_plan_free(struct sync_plan *plan);

/*
 * sync_cutoff: how many octets a message that LIST gave as listed may reach
 * while it streams before it is cut off: max_message_size when set, and in
 * any case no more than twice what LIST said plus 1 MiB.
 */
unsigned long long sync_cutoff(const struct account *a,
	    unsigned long long listed);

#endif
