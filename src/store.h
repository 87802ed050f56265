/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_STORE_H
#define POPSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * The state store: one SQLite file that remembers, per account, every UIDL
 * popsyncd has seen and what it did with it (the ledger), plus the outcome
 * of the last sync for --status.  store.c is the only user of SQLite.
 *
 * The ledger is what makes "never lost, never duplicated" hold (STYLE 12):
 * a message is delivered into the Maildir, then marked delivered and the
 * transaction committed, and only then may a DELE be sent.  Each row of an
 * account is in one state, and only these transitions are accepted (any
 * other is refused with E_STORE and changes nothing, because it means the
 * caller is about to fetch a message twice or delete one it never had):
 *
 *	(none), fetching, skipped,
 *	failed                      -> fetching	store_mark_fetching
 *	fetching                    -> delivered	store_mark_delivered
 *	(none), fetching, skipped,
 *	failed                      -> skipped	store_mark_skipped
 *	fetching                    -> failed	store_mark_failed
 *	delivered, dele_sent,
 *	expunged                    -> dele_sent	store_mark_dele_sent
 *	dele_sent                   -> expunged	store_mark_expunged,
 *						store_prune (not listed)
 *	any (UIDL absent a while)   -> (none)	store_prune
 *
 * fetching	RETR is about to start; filename is the Maildir file name the
 *		delivery will use.  A row still fetching at the next sync
 *		means the run died between the Maildir rename and the commit
 *		(or earlier): the sync looks for filename in the Maildir and
 *		marks the row delivered if it is there, else fetches again.
 * delivered	in the Maildir, still on the server.
 * skipped	not fetched on purpose (reason says why, e.g. too big);
 *		may be fetched later if the reason goes away.
 * failed	the server refused the RETR or the delivery failed (reason
 *		holds the error); the sync goes on with the other messages
 *		and tries this one again after a delay that grows with each
 *		failure in a row (store_mark_failed).
 * dele_sent	the server accepted DELE in a session that has not yet ended
 *		with a successful QUIT.  If that QUIT never succeeds the
 *		server keeps the message (RFC 1939 section 6), so a dele_sent
 *		row whose UIDL is still listed is a delivered message whose
 *		deletion is pending: the next sync sends DELE again.
 * expunged	QUIT succeeded after DELE, so the server has removed it.  The
 *		row is kept, not deleted, until store_prune sees the UIDL gone:
 *		if a server lists it again anyway, the row still stops a second
 *		fetch (a duplicate) and the sync may send DELE again.
 *
 * Times are unix seconds passed in by the caller (tests use fixed values);
 * 0 in a returned struct means "never".  A UIDL is the server's unique-id,
 * kept as the octets the server sent (RFC 1939: unique within one maildrop
 * only).
 *
 * The ledger belongs to a mailbox, not to an account: a mailbox is the
 * server's host, compared without regard to case, and the user name.  The
 * port, the TLS mode, the login method and the account's name may change
 * without one message being fetched again; another host or user is another
 * mailbox with a ledger of its own.  account is the name from the config,
 * which store_account_bind must have tied to its mailbox before any other
 * call names it (otherwise E_STORE).
 *
 * Transactions: each call that changes more than one row is atomic on its
 * own.  Between store_begin and store_commit the calls join the caller's
 * transaction instead, which is how the sync commits a delivery together
 * with its counters.  Nothing is durable before the commit returns 0.
 *
 * Threads and processes: a struct store may be shared by threads.  It owns a
 * mutex that every function holds while it runs, and store_begin holds it
 * until store_commit or store_rollback, so another thread's call waits
 * instead of landing inside the transaction; callers lock nothing.  Only
 * one writable handle may be open per database, in the whole system and
 * also within one process (the lock is per open file description, see
 * store_open), so a process that syncs several accounts at once shares that
 * one handle.  store_open_readonly gives further handles that only read, for
 * --status while the daemon runs.
 *
 * Every SQLite failure is E_STORE with a message that names the file, the
 * operation and SQLite's own message; E_STORE is permanent (err.h).
 */

/*
 * A UIDL the server stops listing is forgotten only once it has been
 * missing from STORE_FORGET_POLLS complete listings in a row and for
 * STORE_FORGET_DAYS days (getmail keeps 30 days): one empty or glitched
 * listing must not make the next one fetch the whole mailbox again.
 */
/* Beside a database being created, until its schema is committed. */
#define STORE_CREATING_SUFFIX	".creating"

#define STORE_FORGET_POLLS	3
#define STORE_FORGET_DAYS	30

enum store_state {
	STORE_FETCHING,
	STORE_DELIVERED,
	STORE_SKIPPED,
	STORE_FAILED,
	STORE_DELE_SENT,
	STORE_EXPUNGED
};

/*
 * One ledger row, as store_load returns it; all strings are the caller's.
 * Only what a sync needs, in 56 bytes, so a ledger of 100,000 rows stays
 * small (issue 9): filename is the planned name of a fetching row and
 * reason that of a skipped or failed one, NULL otherwise.
 */
struct store_entry {
	char		*uidl;
	char		*filename;
	char		*reason;
	int64_t		 size;		/* octets as last recorded; -1: unknown */
	int64_t		 first_seen;	/* when the row was created */
	int64_t		 failures;	/* failed fetches in a row */
	enum store_state state;
	bool		 waiting;	/* failed, and its retry is not due
					 * at the next listing */
	bool		 absent;	/* marked absent by an earlier listing */
	bool		 listed;	/* the caller's: this listing has it
					 * (store_prune) */
};

/* A message whose fetch failed, for --status; strings are the caller's. */
struct store_failure {
	char		*uidl;
	char		*reason;
	int64_t		 failures;
};

/* What one sync did, for store_sync_end and --status. */
struct store_counts {
	int64_t		 new;		/* messages delivered */
	int64_t		 skipped;
	int64_t		 deleted;	/* DELE accepted and QUIT succeeded */
	int64_t		 errors;
};

/* One account's line of --status; all strings are the caller's. */
struct store_status {
	char		*account;
	char		*identity;	/* "user@host:port" */
	int64_t		 last_start;	/* 0: never synced */
	int64_t		 last_end;	/* < last_start: running or killed */
	char		*last_result;	/* NULL before the first store_sync_end */
	char		*last_error;	/* NULL when the last sync had none */
	struct store_counts last;	/* counts of the last finished sync */
	int64_t		 known;		/* ledger rows (UIDLs remembered) */
	int64_t		 delivered_total; /* every delivery ever recorded */
	int64_t		 pending_deletions; /* rows in dele_sent */
	int64_t		 failed;	/* rows in failed */
};

struct store;

/*
 * store_open: open the state database at path for reading and writing,
 * creating it, and any missing parent directory (mode 0700, as it holds
 * what the user's mail is), when absent.  On success *out is the handle.
 *
 * First it checks that nobody else can have written the file, because a
 * planted row saying "delivered" would make a keep = false sync delete
 * that mail from the server unfetched: the database (whichever link leads
 * to it), and its -wal and -shm when present, must be regular files owned
 * by this user and not writable by group or others; the directories above
 * it must belong to this user or root, the database's own directory must
 * not be writable by group or others, and the ones above it only if they
 * are sticky (as /tmp is).  A group is not "others" when it is the user's
 * private group (named after the user, the primary group, no other
 * members).  Each refusal is an E_STORE naming the path,
 * why, and the fix.  A missing database is created mode 0600 whatever the
 * umask (and so are its -wal and -shm, which SQLite gives the database's
 * mode).  An existing database of 0 bytes (with no -wal holding its pages)
 * is refused, not taken for a new one: its record of fetched mail is gone.
 * Removing the file is how a user starts afresh.  The one exception is a
 * creation cut short: "<path>.creating" is made before the file and
 * removed once the schema is committed, so an empty file beside it is ours
 * and is taken as new.
 *
 * The writer lock is an exclusive, non-blocking flock(2) of the database
 * file itself, so the same file reached through another name (a symbolic
 * or hard link) is the same lock.  When another process holds it the
 * error is "<path> is in use by another popsyncd (pid N); to make it poll
 * now: kill -USR1 N", N from /proc/locks ("...; SIGUSR1 makes it poll
 * now" when unknown).
 *
 * The database runs in WAL mode with synchronous=FULL: every commit is one
 * fsync of the log, so committing once per delivered message stays cheap,
 * a commit is on disk before a DELE may follow it, and readers (--status)
 * never block the writer.  WAL needs a local file system, which a state
 * directory under ~/.local/state or /var/lib is.
 *
 * The file is checked before anything is written to it: a file that is not
 * a SQLite database, or fails "PRAGMA quick_check", or is a SQLite database
 * of some other program (a foreign application_id, or tables in a file with
 * no schema version), is an E_STORE that names the file and says it was
 * left alone.  It is never recreated behind the user's back: it may be the
 * only record of which messages were already fetched.  A schema version
 * (PRAGMA user_version) newer than this build knows is refused the same
 * way; an older one is brought forward by the migrations, each in its own
 * transaction.
 * Errors: E_STORE.
 */
int	 store_open(const char *path, struct store **out, struct err *e);

/*
 * store_open_readonly: open an existing database only to read it (for
 * --status), without the writer lock, so it works while a daemon holds it.
 * The same checks of the contents as store_open apply, except
 * quick_check, and the schema must be exactly this build's version (no
 * migration can run here).  Of the ownership checks only one applies (a
 * reader deletes nothing, and may be another user reading a copy): a
 * path that is not a regular file is refused before SQLite opens it, since
 * a FIFO would block the open.  Every call that writes fails with E_STORE.
 * Errors: E_STORE (also when path does not exist).
 */
int	 store_open_readonly(const char *path, struct store **out,
	    struct err *e);

/*
 * store_open_existing: store_open_readonly, except that no file at path is
 * no error: *out is then NULL (nothing was ever synced, so every ledger is
 * empty).
 * Errors: E_STORE.
 */
int	 store_open_existing(const char *path, struct store **out,
	    struct err *e);

/*
 * store_close: roll back an open transaction, finalize the statements,
 * close the database and release the lock; accepts NULL.
 */
void	 store_close(struct store *s);

/* store_schema_version: the schema version this build writes. */
int	 store_schema_version(void);

/*
 * store_begin / store_commit / store_rollback: one explicit transaction.
 * store_begin takes the write lock at once (BEGIN IMMEDIATE), so a write in
 * the middle cannot fail for a lock.  Transactions do not nest.
 * store_rollback does nothing when no transaction is open, so an error path
 * may call it unconditionally; it reports failure only through its return.
 * Errors: E_STORE (also store_begin inside a transaction, and store_commit
 * outside one).
 */
int	 store_begin(struct store *s, struct err *e);
int	 store_commit(struct store *s, struct err *e);
int	 store_rollback(struct store *s, struct err *e);

/*
 * store_account_bind: tie account name to the mailbox (host, user) and
 * record identity ("user@host:port", which the caller builds, shown by
 * --status).  Call it at the start of every sync, before the ledger is read.
 *
 * *changed is set to 1 when the account was tied to another mailbox before
 * (its host or user changed), else 0.  The ledger of the old mailbox is
 * kept for it, not moved: UIDLs are unique within one maildrop only, so an
 * old row whose UIDL happens to equal one on the new server (small counters
 * are common) would make the sync skip a message it never fetched (mail
 * lost) or DELE one it never delivered.  The caller should log the change.
 * A ledger written by schema 1 (keyed by account and "user@host:port") is
 * adopted when its user and host name this mailbox, whatever the port and
 * the host's case, and dropped (*changed = 1) otherwise.
 * Errors: E_STORE.
 */
int	 store_account_bind(struct store *s, const char *name,
	    const char *host, const char *user, const char *identity,
	    int *changed, struct err *e);

/*
 * store_account_mailbox: the host and user of the mailbox account name was
 * last bound to, in *host and *user (the caller frees them).  Returns 1,
 * or 0 (both NULL) when none is recorded.
 * Errors: E_STORE.
 */
int	 store_account_mailbox(struct store *s, const char *name,
	    char **host, char **user, struct err *e);

/*
 * store_sync_start: record that a sync of account began at now.
 * store_sync_end: record its end at now with result (a short word the
 * caller chooses, e.g. "ok", "error"), error (the message, or NULL) and the
 * counts (NULL: all zero).  A start later than the last end in --status
 * means a sync is running or died.
 * Errors: E_STORE (also when the account was never bound).
 */
int	 store_sync_start(struct store *s, const char *account, int64_t now,
	    struct err *e);
int	 store_sync_end(struct store *s, const char *account, int64_t now,
	    const char *result, const char *error,
	    const struct store_counts *counts, struct err *e);

/*
 * store_load: every ledger row of account, sorted by UIDL in strcmp()
 * order (so store_entry_find can bsearch them), in *entries (NULL when
 * *n is 0).  The sync diffs the server's UIDL listing against them in
 * memory.  Free with store_entries_free.
 * Errors: E_STORE.
 */
int	 store_load(struct store *s, const char *account,
	    struct store_entry **entries, size_t *n, struct err *e);

/* store_entry_find: the entry for uidl in a store_load result, or NULL. */
struct store_entry *store_entry_find(struct store_entry *entries, size_t n,
	    const char *uidl);

/* store_entries_free: free a store_load result; accepts NULL. */
void	 store_entries_free(struct store_entry *entries, size_t n);

/*
 * store_mark_fetching: about to RETR uidl (size octets as LIST said, -1 if
 * unknown) into the Maildir file filename.  Creates the row with
 * first_seen = now, or moves an existing fetching or skipped row back to
 * fetching (keeping its first_seen, clearing the skip reason).  Commit
 * before the RETR, so a crash leaves the file name to look for.
 * Errors: E_STORE (also when the row is delivered, dele_sent or expunged).
 */
int	 store_mark_fetching(struct store *s, const char *account,
	    const char *uidl, int64_t size, const char *filename, int64_t now,
	    struct err *e);

/*
 * store_mark_delivered: the message is in the Maildir as filename (the
 * final name, which may differ from the planned one); delivered_at = now
 * and the account's delivered_total grows by one.  The row must be
 * fetching.
 * Errors: E_STORE.
 */
int	 store_mark_delivered(struct store *s, const char *account,
	    const char *uidl, const char *filename, int64_t now,
	    struct err *e);

/*
 * store_mark_skipped: the message is not fetched, for reason (e.g. "larger
 * than max_message_size").  Creates the row (first_seen = now) or moves a
 * fetching, skipped or failed row to skipped; the file name is cleared.
 * Errors: E_STORE (also when the row is delivered, dele_sent or expunged).
 */
int	 store_mark_skipped(struct store *s, const char *account,
	    const char *uidl, int64_t size, const char *reason, int64_t now,
	    struct err *e);

/*
 * store_mark_failed: fetching uidl failed for reason (the server's reply, or
 * the delivery error).  The row must be fetching; it becomes failed, its
 * failure count grows, and the n-th failure in a row is not tried again
 * until 2^(n-1) - 1 further listings have passed (the next one after the
 * first failure, then 1, 3, 7, ... up to 63 skipped).  A delivery resets
 * nothing but the reason; the count only matters while the row is failed.
 * Errors: E_STORE.
 */
int	 store_mark_failed(struct store *s, const char *account,
	    const char *uidl, const char *reason, struct err *e);

/*
 * store_mark_dele_sent: the server accepted DELE for each of the n UIDLs.
 * Each row must be delivered, dele_sent or expunged: only delivered mail
 * may be deleted.  All or nothing.
 * Errors: E_STORE.
 */
int	 store_mark_dele_sent(struct store *s, const char *account,
	    const char *const *uidls, size_t n, struct err *e);

/*
 * store_mark_expunged: QUIT succeeded, so every dele_sent row of account
 * becomes expunged (kept until store_prune, see above).  Call it only after
 * the +OK to QUIT; after a failed QUIT leave the rows dele_sent.
 * Errors: E_STORE.
 */
int	 store_mark_expunged(struct store *s, const char *account,
	    struct err *e);

/*
 * store_prune: note one complete UIDL listing of account's mailbox at time
 * now.  ents are the mailbox's rows as store_load returned them at the
 * start of this sync, each with listed set when the listing has its key.
 * Rows the listing lacks are marked absent (since now, if not already),
 * and a dele_sent one among them becomes expunged (a QUIT whose +OK never
 * came did delete it); rows it has lose the mark; a row absent from
 * STORE_FORGET_POLLS listings in a row and for at least STORE_FORGET_DAYS
 * days is forgotten, whatever its state, and *pruned (if not NULL) counts
 * those.  Only rows whose mark changes are written.  The listing also
 * counts as a poll for the retry delays of store_mark_failed.  Pass only
 * a complete listing from a successful command.  All or nothing.
 * Errors: E_STORE.
 */
int	 store_prune(struct store *s, const char *account,
	    const struct store_entry *ents, size_t n, int64_t now,
	    size_t *pruned, struct err *e);

/*
 * store_set_first_seen: set when uidl was first seen, so tests can age a
 * message past delete_after_days.
 * Errors: E_STORE (also when there is no such row).
 */
int	 store_set_first_seen(struct store *s, const char *account,
	    const char *uidl, int64_t when, struct err *e);

/*
 * store_status: one row per recorded account, sorted by name, for
 * --status.  Free with store_status_free.
 * Errors: E_STORE.
 */
int	 store_status(struct store *s, struct store_status **rows, size_t *n,
	    struct err *e);

/* store_status_free: free a store_status result; accepts NULL. */
void	 store_status_free(struct store_status *rows, size_t n);

/*
 * store_failures: account's failed messages, sorted by UIDL, for --status.
 * Free with store_failures_free.
 * Errors: E_STORE.
 */
int	 store_failures(struct store *s, const char *account,
	    struct store_failure **rows, size_t *n, struct err *e);

/* store_failures_free: free a store_failures result; accepts NULL. */
void	 store_failures_free(struct store_failure *rows, size_t n);

/*
 * Imported state (--import): the UIDLs another fetcher (fetchmail, mpop,
 * getmail, fdm) had seen in one mailbox, as that fetcher wrote them, kept
 * apart from the ledger until a sync matches them against a listing
 * (import.h).  A mailbox is its host in lower case and its user, so that
 * every account on it shares them; format is the fetcher's name.
 */
struct store_import {
	char		*format;
	char		*uidl;
};

/*
 * store_import_add: record the n UIDLs of format for the mailbox host
 * (lower case) and user; *added says how many were not there already, so
 * importing the same file twice adds nothing.  All or nothing.
 * Errors: E_STORE.
 */
int	 store_import_add(struct store *s, const char *host, const char *user,
	    const char *format, const char *const *uidls, size_t n,
	    size_t *added, struct err *e);

/*
 * store_import_load: the imported UIDLs of the mailbox, sorted by format,
 * then by UIDL in strcmp() order.  Free with store_import_free.
 * Errors: E_STORE.
 */
int	 store_import_load(struct store *s, const char *host,
	    const char *user, struct store_import **entries, size_t *n,
	    struct err *e);

/* store_import_free: free a store_import_load result; accepts NULL. */
void	 store_import_free(struct store_import *entries, size_t n);

/*
 * store_import_drop: forget every imported UIDL of the mailbox.
 * Errors: E_STORE.
 */
int	 store_import_drop(struct store *s, const char *host,
	    const char *user, struct err *e);

/*
 * store_mark_seen: uidl (size octets, -1 if unknown) was fetched by other
 * means (an imported peer state, --mark-seen): create it as delivered with
 * no file and first_seen = now, without counting a delivery.  A UIDL
 * already in the ledger keeps its row, whatever its state; *added (when
 * not NULL) is 1 if a row was created, else 0.
 * Errors: E_STORE.
 */
int	 store_mark_seen(struct store *s, const char *account,
	    const char *uidl, int64_t size, int64_t now, int *added,
	    struct err *e);

/*
 * store_set_tick: fn(arg) is called from the calling thread every few
 * milliseconds while a store call of that thread works (loading or noting
 * a listing of 200,000 UIDLs takes seconds), so a watchdog sees life; NULL
 * turns it off.  Per thread: each sync sets its own.
 */
void	 store_set_tick(void (*fn)(void *), void *arg);

/* store_state_name: "fetching", "delivered", ... as stored in the file. */
const char *store_state_name(enum store_state st);

#endif
