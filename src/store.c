/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The state store: the UIDL ledger and sync history in one SQLite file. */

#include "autoconf.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define XSTR(x)		STR(x)
#define STR(x)		#x

/* "PSYD" in PRAGMA application_id marks the file as ours. */
#define STORE_APP_ID	1347639620

/* SQLite runs this many virtual machine steps between two calls of the
 * thread's tick (store_set_tick): a few milliseconds of work. */
#define STORE_TICK_OPS	100000

/* The calling thread's sign of life during long statements. */
static _Thread_local void	(*store_tick_fn)(void *);
static _Thread_local void	*store_tick_arg;

/* SQLite waits this long for a reader's lock before giving up. */
#define STORE_BUSY_MS	5000

/*
 * The forward migrations: entry i takes the schema from version i to i + 1,
 * and user_version is the number applied.  Never edit an entry once it has
 * shipped; append a new one.
 */
static const char *const store_migrations[] = {
	/* 1: the initial schema. */
	"PRAGMA application_id = " XSTR(STORE_APP_ID) ";"
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  identity TEXT NOT NULL,"		/* user@host:port */
	"  last_start INTEGER,"
	"  last_end INTEGER,"
	"  last_result TEXT,"
	"  last_error TEXT,"
	"  count_new INTEGER NOT NULL DEFAULT 0,"
	"  count_skipped INTEGER NOT NULL DEFAULT 0,"
	"  count_deleted INTEGER NOT NULL DEFAULT 0,"
	"  count_errors INTEGER NOT NULL DEFAULT 0,"
	"  delivered_total INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE messages ("
	"  account TEXT NOT NULL"
	"    REFERENCES accounts(name) ON DELETE CASCADE,"
	"  uidl TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('fetching', 'delivered',"
	"    'skipped', 'dele_sent', 'expunged')),"
	"  size INTEGER,"
	"  first_seen INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  filename TEXT,"
	"  skip_reason TEXT,"
	"  PRIMARY KEY (account, uidl)"
	") WITHOUT ROWID;",
	/*
	 * 2: the ledger belongs to the mailbox (host compared without case,
	 * user), not to the account's name, so renaming an account or
	 * changing its port, TLS mode or login method keeps it.  Rows gain a
	 * failure count and a retry point (polls), and an absence count so
	 * that UIDLs are forgotten slowly.  The v1 rows wait in "legacy"
	 * until their account's next sync adopts them (store_account_bind),
	 * since only the config knows the user name apart from the host.
	 * Keys of repeated UIDLs change from "UIDL #n" to "UIDL\n#n": a
	 * UIDL may now hold a space, never a line feed.
	 */
	"CREATE TABLE mailboxes ("
	"  id INTEGER PRIMARY KEY,"
	"  host TEXT NOT NULL COLLATE NOCASE,"
	"  user TEXT NOT NULL,"
	"  polls INTEGER NOT NULL DEFAULT 0,"	/* complete listings seen */
	"  UNIQUE (host, user)"
	");"
	"ALTER TABLE accounts ADD COLUMN mailbox INTEGER"
	"  REFERENCES mailboxes(id);"
	"CREATE TABLE ledger ("
	"  mailbox INTEGER NOT NULL REFERENCES mailboxes(id),"
	"  uidl TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('fetching', 'delivered',"
	"    'skipped', 'failed', 'dele_sent', 'expunged')),"
	"  size INTEGER,"
	"  first_seen INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  filename TEXT,"
	"  reason TEXT,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  retry_poll INTEGER NOT NULL DEFAULT 0,"
	"  absent_since INTEGER,"
	"  absent_polls INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (mailbox, uidl)"
	") WITHOUT ROWID;"
	"CREATE TABLE legacy ("
	"  account TEXT NOT NULL,"
	"  uidl TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  size INTEGER,"
	"  first_seen INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  filename TEXT,"
	"  reason TEXT,"
	"  PRIMARY KEY (account, uidl)"
	") WITHOUT ROWID;"
	"INSERT INTO legacy SELECT account,"
	"  CASE WHEN instr(uidl, ' #') > 0"
	"  THEN substr(uidl, 1, instr(uidl, ' #') - 1) || char(10) ||"
	"    substr(uidl, instr(uidl, ' #') + 1)"
	"  ELSE uidl END,"
	"  state, size, first_seen, delivered_at, filename, skip_reason"
	"  FROM messages;"
	"DROP TABLE messages;",
	/* 3: UIDLs imported from another fetcher's state (--import). */
	"CREATE TABLE imported ("
	"  host TEXT NOT NULL,"			/* lower case */
	"  user TEXT NOT NULL,"
	"  format TEXT NOT NULL,"		/* fetchmail, mpop, ... */
	"  uidl TEXT NOT NULL,"			/* as the peer wrote it */
	"  PRIMARY KEY (host, user, format, uidl)"
	") WITHOUT ROWID;",
	/*
	 * 4: the ledger's CHECK without IN: SQLite builds a temporary
	 * b-tree for a list of six constants at every row it checks, which
	 * was a third of the instructions of a first sync (issue 9).  A
	 * CHECK cannot be altered: the table is copied.
	 */
	"CREATE TABLE ledger4 ("
	"  mailbox INTEGER NOT NULL REFERENCES mailboxes(id),"
	"  uidl TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state = 'fetching' OR"
	"    state = 'delivered' OR state = 'skipped' OR state = 'failed' OR"
	"    state = 'dele_sent' OR state = 'expunged'),"
	"  size INTEGER,"
	"  first_seen INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  filename TEXT,"
	"  reason TEXT,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  retry_poll INTEGER NOT NULL DEFAULT 0,"
	"  absent_since INTEGER,"
	"  absent_polls INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (mailbox, uidl)"
	") WITHOUT ROWID;"
	"INSERT INTO ledger4 SELECT mailbox, uidl, state, size, first_seen,"
	"  delivered_at, filename, reason, failures, retry_poll, absent_since,"
	"  absent_polls FROM ledger;"
	"DROP TABLE ledger;"
	"ALTER TABLE ledger4 RENAME TO ledger;",
};

/* The mailbox of account ?1, in the ledger statements. */
#define MB	"(SELECT mailbox FROM accounts WHERE name = ?1)"

/* The cached statements; each is prepared on first use. */
enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_ADD,
	ST_ACCOUNT_REBIND,
	ST_ACCOUNT_MAILBOX,
	ST_MAILBOX_GET,
	ST_MAILBOX_ADD,
	ST_LEGACY_ADOPT,
	ST_LEGACY_DROP,
	ST_SYNC_START,
	ST_SYNC_END,
	ST_LOAD,
	ST_STATE_GET,
	ST_FETCHING,
	ST_DELIVERED,
	ST_DELIVERED_TOTAL,
	ST_SKIPPED,
	ST_FAILED,
	ST_DELE_SENT,
	ST_EXPUNGED,
	ST_POLLED,
	ST_ABSENT,
	ST_PRESENT,
	ST_FORGET,
	ST_FIRST_SEEN,
	ST_STATUS,
	ST_FAILED_LIST,
	ST_IMPORT_ADD,
	ST_IMPORT_LOAD,
	ST_IMPORT_DROP,
	ST_SEEN,
	ST_COUNT
};

/* Each statement with what it does, for error messages. */
static const struct {
	const char	*what;
	const char	*sql;
} store_sql[ST_COUNT] = {
	[ST_BEGIN] = { "begin", "BEGIN IMMEDIATE" },
	[ST_COMMIT] = { "commit", "COMMIT" },
	[ST_ROLLBACK] = { "rollback", "ROLLBACK" },
	[ST_SAVEPOINT] = { "savepoint", "SAVEPOINT store" },
	[ST_RELEASE] = { "release", "RELEASE store" },
	[ST_ROLLBACK_TO] = { "rollback to", "ROLLBACK TO store" },
	[ST_ACCOUNT_GET] = { "read account",
	    "SELECT identity, mailbox FROM accounts WHERE name = ?1" },
	[ST_ACCOUNT_ADD] = { "add account",
	    "INSERT INTO accounts (name, identity, mailbox)"
	    " VALUES (?1, ?2, ?3)" },
	[ST_ACCOUNT_REBIND] = { "change identity",
	    "UPDATE accounts SET identity = ?2, mailbox = ?3 WHERE name = ?1" },
	[ST_ACCOUNT_MAILBOX] = { "read mailbox",
	    "SELECT m.host, m.user FROM accounts a JOIN mailboxes m"
	    " ON m.id = a.mailbox WHERE a.name = ?1" },
	[ST_MAILBOX_GET] = { "read mailbox",
	    "SELECT id FROM mailboxes WHERE host = ?1 AND user = ?2" },
	[ST_MAILBOX_ADD] = { "add mailbox",
	    "INSERT INTO mailboxes (host, user) VALUES (?1, ?2)" },
	[ST_LEGACY_ADOPT] = { "adopt ledger",
	    "INSERT OR IGNORE INTO ledger (mailbox, uidl, state, size,"
	    " first_seen, delivered_at, filename, reason)"
	    " SELECT ?2, uidl, state, size, first_seen, delivered_at,"
	    " filename, reason FROM legacy WHERE account = ?1" },
	[ST_LEGACY_DROP] = { "drop old ledger",
	    "DELETE FROM legacy WHERE account = ?1" },
	[ST_SYNC_START] = { "record sync start",
	    "UPDATE accounts SET last_start = ?2 WHERE name = ?1" },
	[ST_SYNC_END] = { "record sync end",
	    "UPDATE accounts SET last_end = ?2, last_result = ?3,"
	    " last_error = ?4, count_new = ?5, count_skipped = ?6,"
	    " count_deleted = ?7, count_errors = ?8 WHERE name = ?1" },
	[ST_LOAD] = { "load ledger",
	    "SELECT l.uidl, l.state, l.size, l.first_seen,"
	    " CASE l.state WHEN 'fetching' THEN l.filename END,"
	    " CASE l.state WHEN 'skipped' THEN l.reason"
	    " WHEN 'failed' THEN l.reason END,"
	    " l.failures, l.retry_poll > m.polls, l.absent_polls > 0"
	    " FROM ledger l JOIN mailboxes m ON m.id = l.mailbox"
	    " WHERE l.mailbox = " MB " ORDER BY l.uidl" },
	[ST_STATE_GET] = { "read state",
	    "SELECT state FROM ledger WHERE mailbox = " MB " AND uidl = ?2" },
	[ST_FETCHING] = { "mark fetching",
	    "INSERT INTO ledger (mailbox, uidl, state, size, first_seen,"
	    " filename) VALUES (" MB ", ?2, 'fetching', ?3, ?4, ?5)"
	    " ON CONFLICT (mailbox, uidl) DO UPDATE SET state = 'fetching',"
	    " size = excluded.size, filename = excluded.filename"
	    " WHERE state = 'fetching' OR state = 'skipped' OR state = 'failed'" },
	[ST_DELIVERED] = { "mark delivered",
	    "UPDATE ledger SET state = 'delivered', filename = ?3,"
	    " delivered_at = ?4, reason = NULL WHERE mailbox = " MB
	    " AND uidl = ?2 AND state = 'fetching'" },
	[ST_DELIVERED_TOTAL] = { "count delivery",
	    "UPDATE accounts SET delivered_total = delivered_total + 1"
	    " WHERE name = ?1" },
	[ST_SKIPPED] = { "mark skipped",
	    "INSERT INTO ledger (mailbox, uidl, state, size, first_seen,"
	    " reason) VALUES (" MB ", ?2, 'skipped', ?3, ?4, ?5)"
	    " ON CONFLICT (mailbox, uidl) DO UPDATE SET state = 'skipped',"
	    " size = excluded.size, filename = NULL,"
	    " reason = excluded.reason"
	    " WHERE state = 'fetching' OR state = 'skipped' OR state = 'failed'" },
	/* The n-th failure in a row waits 2^(n-1) - 1 polls, at most 63. */
	[ST_FAILED] = { "mark failed",
	    "UPDATE ledger SET state = 'failed', filename = NULL,"
	    " reason = ?3, failures = failures + 1,"
	    " retry_poll = (SELECT polls FROM mailboxes WHERE id = " MB ")"
	    " + (1 << min(failures, 6)) - 1"
	    " WHERE mailbox = " MB " AND uidl = ?2 AND state = 'fetching'" },
	[ST_DELE_SENT] = { "mark dele_sent",
	    "UPDATE ledger SET state = 'dele_sent' WHERE mailbox = " MB
	    " AND uidl = ?2 AND (state = 'delivered' OR state = 'dele_sent'"
	    " OR state = 'expunged')" },
	[ST_EXPUNGED] = { "mark expunged",
	    "UPDATE ledger SET state = 'expunged' WHERE mailbox = " MB
	    " AND state = 'dele_sent'" },
	[ST_POLLED] = { "count listing",
	    "UPDATE mailboxes SET polls = polls + 1 WHERE id = " MB },
	/* A dele_sent row the server no longer lists was deleted by a QUIT
	 * whose +OK never came: it is expunged. */
	[ST_ABSENT] = { "prune",
	    "UPDATE ledger SET absent_since = coalesce(absent_since, ?3),"
	    " absent_polls = absent_polls + 1,"
	    " state = CASE state WHEN 'dele_sent' THEN 'expunged'"
	    " ELSE state END WHERE mailbox = " MB " AND uidl = ?2" },
	[ST_PRESENT] = { "prune",
	    "UPDATE ledger SET absent_since = NULL, absent_polls = 0"
	    " WHERE mailbox = " MB " AND uidl = ?2" },
	[ST_FORGET] = { "prune",
	    "DELETE FROM ledger WHERE mailbox = " MB " AND uidl = ?2"
	    " AND absent_polls >= ?3 AND absent_since <= ?4" },
	[ST_FIRST_SEEN] = { "set first_seen",
	    "UPDATE ledger SET first_seen = ?3 WHERE mailbox = " MB
	    " AND uidl = ?2" },
	[ST_STATUS] = { "read status",
	    "SELECT a.name, a.identity, a.last_start, a.last_end,"
	    " a.last_result, a.last_error, a.count_new, a.count_skipped,"
	    " a.count_deleted, a.count_errors, a.delivered_total,"
	    " (SELECT count(*) FROM ledger l WHERE l.mailbox = a.mailbox),"
	    " (SELECT count(*) FROM ledger l WHERE l.mailbox = a.mailbox"
	    "  AND l.state = 'dele_sent'),"
	    " (SELECT count(*) FROM ledger l WHERE l.mailbox = a.mailbox"
	    "  AND l.state = 'failed')"
	    " FROM accounts a ORDER BY a.name" },
	[ST_FAILED_LIST] = { "read failures",
	    "SELECT uidl, reason, failures FROM ledger WHERE mailbox = " MB
	    " AND state = 'failed' ORDER BY uidl" },
	[ST_IMPORT_ADD] = { "import",
	    "INSERT OR IGNORE INTO imported (host, user, format, uidl)"
	    " VALUES (?1, ?2, ?3, ?4)" },
	[ST_IMPORT_LOAD] = { "load imported",
	    "SELECT format, uidl FROM imported WHERE host = ?1 AND user = ?2"
	    " ORDER BY format, uidl" },
	[ST_IMPORT_DROP] = { "drop imported",
	    "DELETE FROM imported WHERE host = ?1 AND user = ?2" },
	[ST_SEEN] = { "mark seen",
	    "INSERT INTO ledger (mailbox, uidl, state, size, first_seen)"
	    " VALUES (" MB ", ?2, 'delivered', ?3, ?4)"
	    " ON CONFLICT (mailbox, uidl) DO NOTHING" },
};

/* Indexed by enum store_state; the strings the CHECK constraint allows. */
static const char *const store_state_names[] = {
	[STORE_FETCHING] = "fetching",
	[STORE_DELIVERED] = "delivered",
	[STORE_SKIPPED] = "skipped",
	[STORE_FAILED] = "failed",
	[STORE_DELE_SENT] = "dele_sent",
	[STORE_EXPUNGED] = "expunged",
};

/*
 * mu serializes every use of db between threads (store.h): each public
 * function holds it for its whole run, and store_begin holds it until
 * store_commit or store_rollback ends the transaction, so no other thread's
 * statement can land inside it.  It is recursive because the functions a
 * transaction calls take it again.  in_tx is read and written only with mu
 * held.
 */
struct store {
	char		*path;
	sqlite3		*db;
	int		 lockfd;	/* the database file, flock'ed; -1 when
					 * read-only */
	pthread_mutex_t	 mu;
	bool		 in_tx;		/* store_begin's transaction is open */
	bool		 unclean;	/* a -wal with data was there: the
					 * last writer did not close it */
	sqlite3_stmt	*stmts[ST_COUNT];
};

static int	 store_open_common(const char *path, bool readonly,
		    struct store **out, struct err *e);
static int	 store_mkdirs(const char *path, struct err *e);
static int	 store_lock(struct store *s, struct err *e);
static int	 store_creating(struct store *s, bool make, struct err *e);
static int	 store_open_file(struct store *s, bool *created,
		    struct err *e);
static int	 store_trust(const char *path, const struct stat *st,
		    const char *what, struct err *e);
static int	 store_trust_dirs(const char *real, struct err *e);
static int	 store_trust_sidecars(const char *real, bool *wal_data,
		    struct err *e);
static int	 store_in_use(const char *path, long pid, struct err *e);
static long	 store_holder(const struct stat *st);
static bool	 store_open_to_others(const struct stat *st);
static int	 store_check(struct store *s, bool readonly, struct err *e);
static int	 store_migrate(struct store *s, int64_t from, struct err *e);
static int	 store_pragma(struct store *s, const char *sql, char *out,
		    size_t outlen, struct err *e);
static int	 store_pragma_int(struct store *s, const char *sql,
		    int64_t *out, struct err *e);
static int	 store_damaged(struct store *s, const char *detail,
		    struct err *e);
static int	 store_sqlerr(struct store *s, const char *what,
		    struct err *e);
static sqlite3_stmt *store_vstmt(struct store *s, enum store_stmt id,
		    struct err *e, const char *types, va_list ap);
static sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id,
		    struct err *e, const char *types, ...);
static int	 store_step(struct store *s, sqlite3_stmt *st,
		    enum store_stmt id, struct err *e);
static int	 store_run(struct store *s, enum store_stmt id, struct err *e,
		    const char *types, ...);
static int	 store_tx_end(struct store *s, int rc, struct err *e);
static int	 store_refuse(struct store *s, enum store_stmt id,
		    const char *account, const char *uidl, struct err *e);
static int	 store_upsert(struct store *s, enum store_stmt id,
		    const char *account, const char *uidl, int64_t size,
		    const char *text, int64_t now, struct err *e);
static char	*store_col_str(sqlite3_stmt *st, int col);
static int64_t	 store_col_int(sqlite3_stmt *st, int col, int64_t null);
static int	 store_entry_cmp(const void *key, const void *elem);
static bool	 store_legacy_same(const char *identity, const char *host,
		    const char *user);
static int	 store_mailbox_id(struct store *s, const char *host,
		    const char *user, int64_t *id, struct err *e);
static void	 store_enter(struct store *s);
static int	 store_leave(struct store *s, int rc);
static void	 store_mutex_init(pthread_mutex_t *mu);
static void	 store_tx_over(struct store *s);
static int	 store_tick(void *unused);

/* Open path for writing: the lock, the checks, the migrations. */
int
store_open(const char *path, struct store **out, struct err *e)
{
	return store_open_common(path, false, out, e);
}

/* Open an existing path for reading only, without the lock. */
int
store_open_readonly(const char *path, struct store **out, struct err *e)
{
	return store_open_common(path, true, out, e);
}

/* Read-only, when there is a database at all. */
int
store_open_existing(const char *path, struct store **out, struct err *e)
{
	struct stat	sb;

	*out = NULL;
	if (stat(path, &sb) == 0)
		return store_open_readonly(path, out, e);
	if (errno != ENOENT)
		return err_set(e, E_STORE, "%s: %s", path, strerror(errno));
	return 0;
}

/* The body of both opens; on failure nothing stays open. */
static int
store_open_common(const char *path, bool readonly, struct store **out,
    struct err *e)
{
	struct store	*s;
	struct stat	 st;
	char		*marker;
	int		 rc, flags;

	*out = NULL;
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->lockfd = -1;
	store_mutex_init(&s->mu);

	if (readonly) {
		flags = SQLITE_OPEN_READONLY;
		/* SQLite's open would wait for ever on a FIFO. */
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			rc = err_set(e, E_STORE, "%s: the state database is "
			    "not a regular file; left alone", path);
			goto out;
		}
	} else {
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
		/* The lock comes first, so two openers never both migrate. */
		if ((rc = store_mkdirs(path, e)) != 0 ||
		    (rc = store_lock(s, e)) != 0)
			goto out;
	}
	/* Our mutex (s->mu) serializes every use of the connection, so
	 * SQLite's own per-call locking is only cost: a tenth of an empty
	 * poll of 100,000 messages. */
	flags |= SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		if (s->db == NULL)
			fatalx("sqlite3_open_v2: out of memory");
		rc = store_sqlerr(s, "open", e);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	sqlite3_progress_handler(s->db, STORE_TICK_OPS, store_tick, NULL);
	if ((rc = store_check(s, readonly, e)) != 0)
		goto out;
	/* The schema is committed: a creation is over. */
	if (!readonly) {
		marker = xasprintf("%s%s", path, STORE_CREATING_SUFFIX);
		unlink(marker);
		free(marker);
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	store_close(s);
	return rc;
}

/* Create each missing parent directory of path with mode 0700. */
static int
store_mkdirs(const char *path, struct err *e)
{
	char	*dir, *p;
	int	 rc = 0;

	dir = xstrdup(path);
	/* Skip a leading '/', and leave the last component (the file) out. */
	for (p = strchr(dir + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			rc = err_set(e, E_STORE, "%s: cannot create directory "
			    "%s: %s", path, dir, strerror(errno));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

/*
 * Take the writer lock: an flock of the database file itself, so that the
 * same file reached through a symbolic or hard link is the same lock.
 * Before it the file, its directories and its -wal and -shm are checked
 * (store.h says what is refused and why); after it, an empty file.
 */
static int
store_lock(struct store *s, struct err *e)
{
	struct stat	 st, named;
	char		*real = NULL;
	bool		 created = false, wal_data = false;
	int		 rc;

	/* Nothing is created in a directory others could plant in. */
	if ((rc = store_trust_dirs(s->path, e)) != 0 ||
	    (rc = store_open_file(s, &created, e)) != 0)
		goto out;
	if (fstat(s->lockfd, &st) == -1 ||
	    (real = realpath(s->path, NULL)) == NULL) {
		rc = err_set(e, E_STORE, "%s: %s", s->path, strerror(errno));
		goto out;
	}
	if ((rc = store_trust(s->path, &st, "state database", e)) != 0 ||
	    (rc = store_trust_dirs(real, e)) != 0)
		goto out;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			rc = err_set(e, E_STORE, "%s: flock: %s", s->path,
			    strerror(errno));
		else
			rc = store_in_use(s->path, store_holder(&st), e);
		goto out;
	}
	/* Locked: no other popsyncd is half way through creating it. */
	if ((rc = store_trust_sidecars(real, &wal_data, e)) != 0)
		goto out;
	s->unclean = wal_data;
	if (fstat(s->lockfd, &st) == -1 || stat(s->path, &named) == -1) {
		rc = err_set(e, E_STORE, "%s: %s", s->path, strerror(errno));
		goto out;
	}
	if (st.st_dev != named.st_dev || st.st_ino != named.st_ino) {
		rc = err_set(e, E_STORE, "%s: replaced while being opened; "
		    "left alone", s->path);
		goto out;
	}
	/* SQLite would take an empty file for a new database, and the
	 * ledger's loss for "nothing fetched yet", unless our own creation
	 * was cut short (its marker is still there). */
	if (!created && st.st_size == 0 && !wal_data &&
	    store_creating(s, false, NULL) == 0)
		rc = err_set(e, E_STORE, "%s: is empty (0 bytes), not a new "
		    "database: its record of fetched mail is gone, so every "
		    "message on the server would be fetched again; to start "
		    "afresh, remove it (rm %s)", s->path, s->path);
out:
	free(real);
	return rc;
}

/*
 * The marker "<path>.creating" of a database being created: made (make)
 * before the file, removed once the schema is committed (store_open).
 * Without make: 1 when it exists, else 0.
 */
static int
store_creating(struct store *s, bool make, struct err *e)
{
	char	*marker;
	int	 fd, rc = 0;

	marker = xasprintf("%s%s", s->path, STORE_CREATING_SUFFIX);
	if (!make)
		rc = access(marker, F_OK) == 0;
	else if ((fd = open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		rc = err_set(e, E_STORE, "%s: %s", marker, strerror(errno));
	else
		close(fd);
	free(marker);
	return rc;
}

/*
 * Open the database file, or create it 0600 whatever the umask (its -wal
 * and -shm then get the same mode from SQLite).  O_NONBLOCK: a FIFO
 * planted in its place must not hang the open.
 */
static int
store_open_file(struct store *s, bool *created, struct err *e)
{
	int	tries, rc;

	for (tries = 0; tries < 2; tries++) {
		s->lockfd = open(s->path, O_RDWR | O_NONBLOCK | O_NOCTTY |
		    O_CLOEXEC);
		if (s->lockfd != -1 || errno != ENOENT)
			break;
		/* The marker first: a kill before the schema is written
		 * leaves an empty file that is ours, not a lost ledger. */
		if ((rc = store_creating(s, true, e)) != 0)
			return rc;
		s->lockfd = open(s->path, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (s->lockfd != -1) {
			*created = true;
			if (fchmod(s->lockfd, 0600) == -1)
				return err_set(e, E_STORE, "%s: chmod: %s",
				    s->path, strerror(errno));
			return 0;
		}
		/* Another opener created it first: open that one. */
		if (errno != EEXIST)
			break;
	}
	if (s->lockfd == -1)
		return err_set(e, E_STORE, "%s: %s", s->path, strerror(errno));
	return 0;
}

/*
 * Whether a state file (st) is one only we can have written: a regular
 * file of ours that group and others cannot write.  Anyone else who could
 * write it could plant rows saying "delivered", and with keep = false
 * popsyncd would delete that mail from the server unfetched.
 */
static int
store_trust(const char *path, const struct stat *st, const char *what,
    struct err *e)
{
	if (!S_ISREG(st->st_mode))
		return err_set(e, E_STORE, "%s: the %s is not a regular file; "
		    "left alone", path, what);
	if (st->st_uid != geteuid())
		return err_set(e, E_STORE, "%s: the %s belongs to uid %ld, not "
		    "to this user (uid %ld), so it cannot be trusted; move it "
		    "away, or chown it if it is yours", path, what,
		    (long)st->st_uid, (long)geteuid());
	if (store_open_to_others(st))
		return err_set(e, E_STORE, "%s: the %s is writable by group or "
		    "others (mode %04o), so it cannot be trusted; chmod 600 %s "
		    "if nobody else wrote to it", path, what,
		    (unsigned)(st->st_mode & 07777), path);
	return 0;
}

/*
 * Whether the directories above the database file path keep others out.
 * Each (after resolving links) must be ours or root's.  The database's own
 * directory must not be writable by group or others at all, sticky or
 * not: they could plant a -wal file there before us.  Above it, a sticky
 * directory (/tmp) is enough, since others cannot rename what is ours in
 * it.  Called for the configured name and again for the file a link
 * leads to.
 */
static int
store_trust_dirs(const char *path, struct err *e)
{
	struct stat	 st;
	char		*copy, *dir, *slash;
	bool		 parent = true;
	int		 rc = 0;

	copy = xstrdup(path);
	if ((dir = realpath(dirname(copy), NULL)) == NULL) {
		rc = err_set(e, E_STORE, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (stat(dir, &st) == -1) {
			rc = err_set(e, E_STORE, "%s: %s", dir,
			    strerror(errno));
			break;
		}
		if (st.st_uid != geteuid() && st.st_uid != 0) {
			rc = err_set(e, E_STORE, "%s: the directory of state "
			    "database %s belongs to uid %ld, who could replace "
			    "the database; set state_db to a directory of "
			    "yours", dir, path, (long)st.st_uid);
			break;
		}
		if (store_open_to_others(&st) &&
		    (parent || (st.st_mode & S_ISVTX) == 0)) {
			rc = err_set(e, E_STORE, "%s: the directory of state "
			    "database %s is writable by group or others (mode "
			    "%04o), who could plant a database in it; chmod "
			    "go-w %s, or set state_db to a private directory",
			    dir, path, (unsigned)(st.st_mode & 07777), dir);
			break;
		}
		parent = false;
		if ((slash = strrchr(dir, '/')) == NULL || dir[1] == '\0')
			break;
		slash[slash == dir ? 1 : 0] = '\0';
	}
out:
	free(dir);
	free(copy);
	return rc;
}

/*
 * Whether someone else may write what st describes: others, or a group
 * that is not the user's own.  A user private group (named after the
 * user, the user's primary group, no other members; with umask 002 as on
 * Fedora) holds nobody else, so its write bit is harmless.
 */
static bool
store_open_to_others(const struct stat *st)
{
	struct passwd	 *pw;
	struct group	 *gr;
	char		**m;

	if ((st->st_mode & S_IWOTH) != 0)
		return true;
	if ((st->st_mode & S_IWGRP) == 0)
		return false;
	if (st->st_gid != getegid() || (pw = getpwuid(geteuid())) == NULL ||
	    pw->pw_gid != st->st_gid || (gr = getgrgid(st->st_gid)) == NULL ||
	    strcmp(gr->gr_name, pw->pw_name) != 0)
		return true;
	for (m = gr->gr_mem; *m != NULL; m++) {
		if (strcmp(*m, pw->pw_name) != 0)
			return true;
	}
	return false;
}

/*
 * The -wal and -shm beside the database, if any, must be as trustworthy
 * as the database: SQLite replays a -wal into it.  *wal_data tells
 * whether the -wal holds anything (then an empty database is fine: its
 * pages are all still in the log).
 */
static int
store_trust_sidecars(const char *real, bool *wal_data, struct err *e)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	struct stat	 st;
	char		*path;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; rc == 0 && i < NITEMS(suffix); i++) {
		path = xasprintf("%s%s", real, suffix[i]);
		if (lstat(path, &st) == -1) {
			if (errno != ENOENT)
				rc = err_set(e, E_STORE, "%s: %s", path,
				    strerror(errno));
		} else if ((rc = store_trust(path, &st, suffix[i] + 1,
		    e)) == 0 && i == 0)
			*wal_data = st.st_size > 0;
		free(path);
	}
	return rc;
}

/*
 * The error for a database another popsyncd holds (pid, or 0 if unknown).
 * Who starts a second one usually wants mail now: say how to get it from
 * the first.
 */
static int
store_in_use(const char *path, long pid, struct err *e)
{
	if (pid > 0)
		return err_set(e, E_STORE, "%s is in use by another popsyncd "
		    "(pid %ld); to make it poll now: kill -USR1 %ld", path, pid,
		    pid);
	return err_set(e, E_STORE, "%s is in use by another popsyncd; "
	    "SIGUSR1 makes it poll now", path);
}

/*
 * The pid holding the flock on the file st describes, from /proc/locks
 * (which lists every lock by device and inode, so any name of the file
 * finds it); 0 when unknown.
 */
static long
store_holder(const struct stat *st)
{
	FILE		*fp;
	char		 line[256], type[16];
	unsigned	 maj, min;
	unsigned long	 ino;
	long		 pid, any = 0;

	if ((fp = fopen("/proc/locks", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* "1: FLOCK  ADVISORY  WRITE 123 fe:00:4567 0 EOF"; a
		 * waiter's line has "->" where the type is. */
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", type, &pid,
		    &maj, &min, &ino) != 5 || strcmp(type, "FLOCK") != 0 ||
		    ino != (unsigned long)st->st_ino)
			continue;
		/* Some file systems (btrfs) show another device here. */
		any = pid;
		if (maj == major(st->st_dev) && min == minor(st->st_dev))
			break;
	}
	fclose(fp);
	return any;
}

/*
 * Make sure the file is a sound popsyncd database of a version we know,
 * before anything writes to it, then set it up and bring it forward.
 */
static int
store_check(struct store *s, bool readonly, struct err *e)
{
	char	 result[256];
	int64_t	 version, appid, tables;
	int	 rc;

	/*
	 * quick_check reads every page, so a file that is not a database or
	 * is damaged shows here (as a failure or as rows of complaints).  It
	 * runs when the last writer did not close the file (killed, or the
	 * machine went down): at 100,000 messages it costs 0.3 s, more than
	 * the rest of an empty poll (issue 9).  Otherwise a damaged page
	 * shows when a statement reads it (SQLITE_CORRUPT, the same error),
	 * before anything is written from what it holds.  A read-only open
	 * skips it: --status should stay fast, and it changes nothing that a
	 * damaged page could hurt.
	 */
	if (!readonly && s->unclean) {
		if ((rc = store_pragma(s, "PRAGMA quick_check", result,
		    sizeof(result), e)) != 0)
			return rc;
		if (strcmp(result, "ok") != 0)
			return store_damaged(s, result, e);
	}
	if ((rc = store_pragma_int(s, "PRAGMA user_version", &version,
	    e)) != 0 ||
	    (rc = store_pragma_int(s, "PRAGMA application_id", &appid,
	    e)) != 0 ||
	    (rc = store_pragma_int(s, "SELECT count(*) FROM sqlite_master",
	    &tables, e)) != 0)
		return rc;
	if (appid != STORE_APP_ID && (appid != 0 || version != 0 ||
	    tables != 0))
		return err_set(e, E_STORE, "%s: not a popsyncd state database "
		    "(a SQLite file of another program); left untouched",
		    s->path);
	if (version > (int64_t)NITEMS(store_migrations))
		return err_set(e, E_STORE, "%s: schema version %lld is newer "
		    "than this popsyncd knows (%zu); refusing to touch it",
		    s->path, (long long)version, NITEMS(store_migrations));
	if (readonly) {
		if (version != (int64_t)NITEMS(store_migrations))
			return err_set(e, E_STORE, "%s: schema version %lld, "
			    "this popsyncd needs %zu; open it for writing "
			    "(run a sync) to bring it forward", s->path,
			    (long long)version, NITEMS(store_migrations));
		return 0;
	}

	if ((rc = store_pragma(s, "PRAGMA journal_mode = WAL", result,
	    sizeof(result), e)) != 0)
		return rc;
	/* Still durable in the old mode; only slower and blocking readers. */
	if (strcmp(result, "wal") != 0)
		log_warnx("%s: cannot use WAL mode, journal mode is %s",
		    s->path, result);
	if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlerr(s, "set up", e);
	return store_migrate(s, version, e);
}

/* Apply the migrations after version from, each in its own transaction. */
static int
store_migrate(struct store *s, int64_t from, struct err *e)
{
	char	*sql, *what;
	size_t	 v;
	int	 rc = 0;

	for (v = (size_t)from; v < NITEMS(store_migrations); v++) {
		sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version = %zu;"
		    " COMMIT", store_migrations[v], v + 1);
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			what = xasprintf("migration to schema version %zu",
			    v + 1);
			rc = store_sqlerr(s, what, e);
			free(what);
			if (!sqlite3_get_autocommit(s->db))
				sqlite3_exec(s->db, "ROLLBACK", NULL, NULL,
				    NULL);
		}
		free(sql);
		if (rc != 0)
			break;
	}
	return rc;
}

/*
 * Run a one-off statement and copy the first column of its first row (""
 * when none) into out.  Failures of a file that is not a database or is
 * corrupt are reported as damage.
 */
static int
store_pragma(struct store *s, const char *sql, char *out, size_t outlen,
    struct err *e)
{
	sqlite3_stmt	*st = NULL;
	const char	*text;
	int		 rc;

	out[0] = '\0';
	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) ==
	    SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    (text = (const char *)sqlite3_column_text(st, 0)) != NULL)
		snprintf(out, outlen, "%s", text);
	switch (rc & 0xff) {
	case SQLITE_ROW:
	case SQLITE_DONE:
		rc = 0;
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		rc = store_damaged(s, sqlite3_errmsg(s->db), e);
		break;
	default:
		rc = store_sqlerr(s, sql, e);
		break;
	}
	sqlite3_finalize(st);
	return rc;
}

/* store_pragma for a statement whose answer is an integer. */
static int
store_pragma_int(struct store *s, const char *sql, int64_t *out,
    struct err *e)
{
	char		 buf[32];
	long long	 v;
	int		 rc;

	if ((rc = store_pragma(s, sql, buf, sizeof(buf), e)) != 0)
		return rc;
	if (util_strtonum(buf, INT64_MIN, INT64_MAX, &v) == -1)
		return err_set(e, E_STORE, "%s: %s: not a number: %s", s->path,
		    sql, buf);
	*out = v;
	return 0;
}

/* The error for a file that fails the checks; it says the file was kept. */
static int
store_damaged(struct store *s, const char *detail, struct err *e)
{
	return err_set(e, E_STORE, "%s: damaged state database (%s); left "
	    "untouched: restore it from a backup, or move it aside to start "
	    "afresh (mail left on the server is then fetched again)", s->path,
	    detail);
}

/* E_STORE with the file, the operation and SQLite's message; a damaged
 * page met by any statement is reported as store_damaged does. */
static int
store_sqlerr(struct store *s, const char *what, struct err *e)
{
	char	detail[256];

	switch (sqlite3_errcode(s->db) & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		snprintf(detail, sizeof(detail), "%s: %s", what,
		    sqlite3_errmsg(s->db));
		return store_damaged(s, detail, e);
	default:
		return err_set(e, E_STORE, "%s: %s: %s", s->path, what,
		    sqlite3_errmsg(s->db));
	}
}

void
store_set_tick(void (*fn)(void *), void *arg)
{
	store_tick_fn = fn;
	store_tick_arg = arg;
}

/* sqlite3_progress_handler's callback: show life; never interrupt. */
static int
store_tick(void *unused)
{
	(void)unused;
	if (store_tick_fn != NULL)
		store_tick_fn(store_tick_arg);
	return 0;
}

/* A recursive mutex; failing to make one is an impossible state. */
static void
store_mutex_init(pthread_mutex_t *mu)
{
	pthread_mutexattr_t	attr;

	if (pthread_mutexattr_init(&attr) != 0 ||
	    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) != 0 ||
	    pthread_mutex_init(mu, &attr) != 0)
		fatalx("%s: cannot make a mutex", __func__);
	pthread_mutexattr_destroy(&attr);
}

/* Take the store's mutex (store.h: one thread at a time). */
static void
store_enter(struct store *s)
{
	if (pthread_mutex_lock(&s->mu) != 0)
		fatalx("%s: pthread_mutex_lock failed", __func__);
}

/* Release what store_enter took; returns rc so a caller can end with it. */
static int
store_leave(struct store *s, int rc)
{
	if (pthread_mutex_unlock(&s->mu) != 0)
		fatalx("%s: pthread_mutex_unlock failed", __func__);
	return rc;
}

/* Close everything store_open_common set up; accepts NULL. */
void
store_close(struct store *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	if (s->db != NULL) {
		/* Uncommitted work is dropped; the ledger stays as committed. */
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(s->db);
	}
	/* Closing the descriptor releases the flock. */
	if (s->lockfd != -1)
		close(s->lockfd);
	/* An open transaction still holds store_begin's lock: destroying a
	 * locked mutex is undefined (ThreadSanitizer saw it). */
	if (s->in_tx)
		store_tx_over(s);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}

/* The number of migrations is the version they lead to. */
int
store_schema_version(void)
{
	return (int)NITEMS(store_migrations);
}

/*
 * The cached statement id, reset and bound to the arguments: types has one
 * letter per parameter, 's' a string (NULL binds NULL) and 'i' an int64_t.
 * The strings are not copied, so they must outlive the statement's use.
 */
static sqlite3_stmt *
store_vstmt(struct store *s, enum store_stmt id, struct err *e,
    const char *types, va_list ap)
{
	sqlite3_stmt	*st;
	const char	*str;
	int		 i, rc = SQLITE_OK;

	if (s->stmts[id] == NULL && sqlite3_prepare_v3(s->db,
	    store_sql[id].sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
	    NULL) != SQLITE_OK) {
		store_sqlerr(s, store_sql[id].what, e);
		return NULL;
	}
	st = s->stmts[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 's':
			str = va_arg(ap, const char *);
			rc = str == NULL ? sqlite3_bind_null(st, i + 1) :
			    sqlite3_bind_text(st, i + 1, str, -1,
			    SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		default:
			fatalx("%s: bad type '%c'", __func__, types[i]);
		}
	}
	if (rc != SQLITE_OK) {
		store_sqlerr(s, store_sql[id].what, e);
		return NULL;
	}
	return st;
}

/* store_vstmt with the arguments inline. */
static sqlite3_stmt *
store_stmt(struct store *s, enum store_stmt id, struct err *e,
    const char *types, ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;

	va_start(ap, types);
	st = store_vstmt(s, id, e, types, ap);
	va_end(ap);
	return st;
}

/*
 * Step st (the statement id): 1 with a row to read, 0 when done, or
 * E_STORE.  Done or failed, the statement is reset so it holds no lock.
 */
static int
store_step(struct store *s, sqlite3_stmt *st, enum store_stmt id,
    struct err *e)
{
	int	rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		store_sqlerr(s, store_sql[id].what, e);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : E_STORE;
}

/*
 * Run the statement id, which returns no rows, with arguments as for
 * store_vstmt.  Returns how many rows it changed, or E_STORE.
 */
static int
store_run(struct store *s, enum store_stmt id, struct err *e,
    const char *types, ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;
	int		 rc;

	va_start(ap, types);
	st = store_vstmt(s, id, e, types, ap);
	va_end(ap);
	if (st == NULL)
		return E_STORE;
	if ((rc = store_step(s, st, id, e)) < 0)
		return rc;
	if (rc == 1)
		fatalx("%s: %s returned a row", __func__, store_sql[id].what);
	return sqlite3_changes(s->db);
}

/*
 * End the savepoint an internal multi-statement change opened: release it
 * when rc is 0, else undo it.  Returns rc, or E_STORE if the release fails.
 */
static int
store_tx_end(struct store *s, int rc, struct err *e)
{
	struct err	ignored;

	if (rc == 0 && store_run(s, ST_RELEASE, e, "") >= 0)
		return 0;
	/* Some errors (full disk, I/O) already rolled everything back. */
	if (!sqlite3_get_autocommit(s->db)) {
		store_run(s, ST_ROLLBACK_TO, &ignored, "");
		store_run(s, ST_RELEASE, &ignored, "");
	}
	return rc != 0 ? rc : E_STORE;
}

/* The error for a transition the row's state does not allow. */
static int
store_refuse(struct store *s, enum store_stmt id, const char *account,
    const char *uidl, struct err *e)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_stmt(s, ST_STATE_GET, e, "ss", account, uidl)) ==
	    NULL || (rc = store_step(s, st, ST_STATE_GET, e)) < 0)
		return E_STORE;
	if (rc == 1)
		err_set(e, E_STORE, "%s: %s: refused, %s/%s is %s", s->path,
		    store_sql[id].what, account, uidl,
		    (const char *)sqlite3_column_text(st, 0));
	else
		err_set(e, E_STORE, "%s: %s: no such message %s/%s", s->path,
		    store_sql[id].what, account, uidl);
	sqlite3_reset(st);
	return E_STORE;
}

/* A copy of a text column, NULL for NULL. */
static char *
store_col_str(sqlite3_stmt *st, int col)
{
	const unsigned char	*text;

	if ((text = sqlite3_column_text(st, col)) == NULL)
		return NULL;
	return xstrdup((const char *)text);
}

/* An integer column, null for NULL. */
static int64_t
store_col_int(sqlite3_stmt *st, int col, int64_t null)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return null;
	return sqlite3_column_int64(st, col);
}

/*
 * Open the caller's transaction.  The mutex taken here stays held until
 * store_commit or store_rollback ends it.
 */
int
store_begin(struct store *s, struct err *e)
{
	store_enter(s);
	if (s->in_tx)
		return store_leave(s, err_set(e, E_STORE, "%s: begin: "
		    "within a transaction", s->path));
	if (store_run(s, ST_BEGIN, e, "") < 0)
		return store_leave(s, E_STORE);
	s->in_tx = true;
	return 0;
}

/* The transaction is over: give back store_begin's hold on the mutex. */
static void
store_tx_over(struct store *s)
{
	s->in_tx = false;
	store_leave(s, 0);
}

/*
 * Commit the caller's transaction.  When the commit fails but SQLite keeps
 * the transaction open, the caller still owns it and must roll it back.
 */
int
store_commit(struct store *s, struct err *e)
{
	int	rc;

	store_enter(s);
	if (!s->in_tx)
		return store_leave(s, err_set(e, E_STORE, "%s: commit: no "
		    "transaction is open", s->path));
	rc = store_run(s, ST_COMMIT, e, "") < 0 ? E_STORE : 0;
	if (sqlite3_get_autocommit(s->db))
		store_tx_over(s);
	return store_leave(s, rc);
}

/* Roll back the caller's transaction, if one is open. */
int
store_rollback(struct store *s, struct err *e)
{
	int	rc = 0;

	store_enter(s);
	if (!s->in_tx)
		return store_leave(s, 0);
	if (!sqlite3_get_autocommit(s->db))
		rc = store_run(s, ST_ROLLBACK, e, "") < 0 ? E_STORE : 0;
	store_tx_over(s);
	return store_leave(s, rc);
}

/*
 * Whether a v1 identity "user@host:port" names the mailbox (host, user):
 * the port is no part of a mailbox, and the host is compared without case.
 */
static bool
store_legacy_same(const char *identity, const char *host, const char *user)
{
	const char	*h, *colon;
	size_t		 ulen = strlen(user);

	if (strncmp(identity, user, ulen) != 0 || identity[ulen] != '@')
		return false;
	h = identity + ulen + 1;
	if ((colon = strrchr(h, ':')) == NULL)
		return false;
	return (size_t)(colon - h) == strlen(host) &&
	    strncasecmp(h, host, strlen(host)) == 0;
}

/* The id of mailbox (host, user), created when new. */
static int
store_mailbox_id(struct store *s, const char *host, const char *user,
    int64_t *id, struct err *e)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_stmt(s, ST_MAILBOX_GET, e, "ss", host, user)) == NULL)
		return E_STORE;
	if ((rc = store_step(s, st, ST_MAILBOX_GET, e)) < 0)
		return rc;
	if (rc == 1) {
		*id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return 0;
	}
	if ((rc = store_run(s, ST_MAILBOX_ADD, e, "ss", host, user)) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* Bind the account to its mailbox; adopt or drop a v1 ledger. */
int
store_account_bind(struct store *s, const char *name, const char *host,
    const char *user, const char *identity, int *changed, struct err *e)
{
	sqlite3_stmt	*st;
	char		*old = NULL;
	int64_t		 id, oldid = -1;
	bool		 known = false;
	int		 rc;

	*changed = 0;
	store_enter(s);
	if ((rc = store_run(s, ST_SAVEPOINT, e, "")) < 0)
		return store_leave(s, rc);
	if ((rc = store_mailbox_id(s, host, user, &id, e)) < 0)
		goto out;
	if ((st = store_stmt(s, ST_ACCOUNT_GET, e, "s", name)) == NULL) {
		rc = E_STORE;
		goto out;
	}
	if ((rc = store_step(s, st, ST_ACCOUNT_GET, e)) < 0)
		goto out;
	if (rc == 1) {
		known = true;
		old = store_col_str(st, 0);
		oldid = store_col_int(st, 1, -1);
		sqlite3_reset(st);
	}
	if (!known)
		rc = store_run(s, ST_ACCOUNT_ADD, e, "ssi", name, identity, id);
	else
		rc = store_run(s, ST_ACCOUNT_REBIND, e, "ssi", name, identity,
		    id);
	if (rc < 0)
		goto out;
	if (known && oldid == -1) {
		/* Written by schema 1: its rows wait in legacy. */
		if (store_legacy_same(old, host, user))
			rc = store_run(s, ST_LEGACY_ADOPT, e, "si", name, id);
		else
			*changed = 1;
		if (rc >= 0)
			rc = store_run(s, ST_LEGACY_DROP, e, "s", name);
	} else if (known && oldid != id)
		*changed = 1;
	rc = rc < 0 ? rc : 0;
out:
	free(old);
	if ((rc = store_tx_end(s, rc, e)) != 0)
		*changed = 0;
	return store_leave(s, rc);
}

/* The mailbox an account was last bound to. */
int
store_account_mailbox(struct store *s, const char *name, char **host,
    char **user, struct err *e)
{
	sqlite3_stmt	*st;
	int		 rc;

	*host = *user = NULL;
	store_enter(s);
	if ((st = store_stmt(s, ST_ACCOUNT_MAILBOX, e, "s", name)) == NULL)
		return store_leave(s, E_STORE);
	if ((rc = store_step(s, st, ST_ACCOUNT_MAILBOX, e)) == 1) {
		*host = store_col_str(st, 0);
		*user = store_col_str(st, 1);
		sqlite3_reset(st);
	}
	return store_leave(s, rc);
}

/* Record the start of a sync. */
int
store_sync_start(struct store *s, const char *account, int64_t now,
    struct err *e)
{
	int	n;

	store_enter(s);
	if ((n = store_run(s, ST_SYNC_START, e, "si", account, now)) == 0)
		n = err_set(e, E_STORE, "%s: %s: no such account %s",
		    s->path, store_sql[ST_SYNC_START].what, account);
	return store_leave(s, n < 0 ? n : 0);
}

/* Record the end of a sync with its result and counts. */
int
store_sync_end(struct store *s, const char *account, int64_t now,
    const char *result, const char *error,
    const struct store_counts *counts, struct err *e)
{
	static const struct store_counts zero;
	int	n;

	if (counts == NULL)
		counts = &zero;
	store_enter(s);
	if ((n = store_run(s, ST_SYNC_END, e, "sissiiii", account, now,
	    result, error, counts->new, counts->skipped, counts->deleted,
	    counts->errors)) == 0)
		n = err_set(e, E_STORE, "%s: %s: no such account %s",
		    s->path, store_sql[ST_SYNC_END].what, account);
	return store_leave(s, n < 0 ? n : 0);
}

/* Every ledger row of the account, sorted by UIDL. */
int
store_load(struct store *s, const char *account,
    struct store_entry **entries, size_t *n, struct err *e)
{
	sqlite3_stmt		*st;
	struct store_entry	*v = NULL, *en;
	const char		*state;
	size_t			 len = 0, cap = 0, i;
	int			 rc;

	*entries = NULL;
	*n = 0;
	store_enter(s);
	if ((st = store_stmt(s, ST_LOAD, e, "s", account)) == NULL)
		return store_leave(s, E_STORE);
	while ((rc = store_step(s, st, ST_LOAD, e)) == 1) {
		if (len % 4096 == 4095)
			store_tick(NULL);
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		en = &v[len++];
		en->uidl = store_col_str(st, 0);
		en->size = store_col_int(st, 2, -1);
		en->first_seen = store_col_int(st, 3, 0);
		en->filename = store_col_str(st, 4);
		en->reason = store_col_str(st, 5);
		en->failures = store_col_int(st, 6, 0);
		en->waiting = store_col_int(st, 7, 0) != 0;
		en->absent = store_col_int(st, 8, 0) != 0;
		en->listed = false;
		/* The CHECK constraint keeps other strings out. */
		state = (const char *)sqlite3_column_text(st, 1);
		for (i = 0; i < NITEMS(store_state_names); i++)
			if (state != NULL &&
			    strcmp(state, store_state_names[i]) == 0)
				break;
		if (i == NITEMS(store_state_names)) {
			rc = err_set(e, E_STORE, "%s: %s: %s/%s has an unknown "
			    "state", s->path, store_sql[ST_LOAD].what,
			    account, en->uidl);
			sqlite3_reset(st);
			break;
		}
		en->state = (enum store_state)i;
	}
	if (rc < 0) {
		store_entries_free(v, len);
		return store_leave(s, rc);
	}
	*entries = v;
	*n = len;
	return store_leave(s, 0);
}

/* Compare a UIDL with an entry's, for bsearch. */
static int
store_entry_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct store_entry *)elem)->uidl);
}

/* Binary search in a store_load result. */
struct store_entry *
store_entry_find(struct store_entry *entries, size_t n, const char *uidl)
{
	if (n == 0)
		return NULL;
	return bsearch(uidl, entries, n, sizeof(*entries), store_entry_cmp);
}

/* Free a store_load result. */
void
store_entries_free(struct store_entry *entries, size_t n)
{
	size_t	i;

	if (entries == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(entries[i].uidl);
		free(entries[i].filename);
		free(entries[i].reason);
	}
	free(entries);
}

/*
 * Run ST_FETCHING or ST_SKIPPED, which create the row or update it only in
 * a state the transition allows; text is the file name or the reason.
 */
static int
store_upsert(struct store *s, enum store_stmt id, const char *account,
    const char *uidl, int64_t size, const char *text, int64_t now,
    struct err *e)
{
	int	n;

	store_enter(s);
	if ((n = store_run(s, id, e, "ssiis", account, uidl, size, now,
	    text)) == 0)
		n = store_refuse(s, id, account, uidl, e);
	return store_leave(s, n < 0 ? n : 0);
}

/* Record that a RETR into filename is about to start. */
int
store_mark_fetching(struct store *s, const char *account, const char *uidl,
    int64_t size, const char *filename, int64_t now, struct err *e)
{
	return store_upsert(s, ST_FETCHING, account, uidl, size, filename, now,
	    e);
}

/* Record a delivery and count it. */
int
store_mark_delivered(struct store *s, const char *account, const char *uidl,
    const char *filename, int64_t now, struct err *e)
{
	int	rc;

	store_enter(s);
	if ((rc = store_run(s, ST_SAVEPOINT, e, "")) < 0)
		return store_leave(s, rc);
	if ((rc = store_run(s, ST_DELIVERED, e, "sssi", account, uidl,
	    filename, now)) == 0)
		rc = store_refuse(s, ST_DELIVERED, account, uidl, e);
	else if (rc > 0)
		rc = store_run(s, ST_DELIVERED_TOTAL, e, "s", account);
	return store_leave(s, store_tx_end(s, rc < 0 ? rc : 0, e));
}

/* Record that a message is not fetched, and why. */
int
store_mark_skipped(struct store *s, const char *account, const char *uidl,
    int64_t size, const char *reason, int64_t now, struct err *e)
{
	return store_upsert(s, ST_SKIPPED, account, uidl, size, reason, now, e);
}

/* Record that fetching a message failed, and when to try again. */
int
store_mark_failed(struct store *s, const char *account, const char *uidl,
    const char *reason, struct err *e)
{
	int	n;

	store_enter(s);
	if ((n = store_run(s, ST_FAILED, e, "sss", account, uidl,
	    reason)) == 0)
		n = store_refuse(s, ST_FAILED, account, uidl, e);
	return store_leave(s, n < 0 ? n : 0);
}

/* Record the DELEs the server accepted, all or none. */
int
store_mark_dele_sent(struct store *s, const char *account,
    const char *const *uidls, size_t n, struct err *e)
{
	size_t	i;
	int	rc;

	store_enter(s);
	if ((rc = store_run(s, ST_SAVEPOINT, e, "")) < 0)
		return store_leave(s, rc);
	for (i = 0; i < n && rc >= 0; i++)
		if ((rc = store_run(s, ST_DELE_SENT, e, "ss", account,
		    uidls[i])) == 0)
			rc = store_refuse(s, ST_DELE_SENT, account, uidls[i],
			    e);
	return store_leave(s, store_tx_end(s, rc < 0 ? rc : 0, e));
}

/* After a successful QUIT: dele_sent rows become expunged. */
int
store_mark_expunged(struct store *s, const char *account, struct err *e)
{
	int	rc;

	store_enter(s);
	rc = store_run(s, ST_EXPUNGED, e, "s", account);
	return store_leave(s, rc < 0 ? rc : 0);
}

/*
 * Note a complete listing: count it, mark the rows it lacks absent (from
 * now, if not already), clear the mark of those it has, and forget the
 * rows absent long enough.  The caller matched the rows against the
 * listing (listed); only the rows whose mark changes are written, so a
 * poll of 100,000 messages with nothing gone writes one row here.
 */
int
store_prune(struct store *s, const char *account,
    const struct store_entry *ents, size_t n, int64_t now, size_t *pruned,
    struct err *e)
{
	size_t	i;
	int	rc, forgot = 0;

	if (pruned != NULL)
		*pruned = 0;
	store_enter(s);
	if ((rc = store_run(s, ST_SAVEPOINT, e, "")) < 0)
		return store_leave(s, rc);
	rc = store_run(s, ST_POLLED, e, "s", account);
	for (i = 0; rc >= 0 && i < n; i++) {
		if (i % 4096 == 4095)
			store_tick(NULL);
		if (ents[i].listed) {
			if (ents[i].absent)
				rc = store_run(s, ST_PRESENT, e, "ss", account,
				    ents[i].uidl);
			continue;
		}
		if ((rc = store_run(s, ST_ABSENT, e, "ssi", account,
		    ents[i].uidl, now)) >= 0 && (rc = store_run(s, ST_FORGET,
		    e, "ssii", account, ents[i].uidl,
		    (int64_t)STORE_FORGET_POLLS,
		    now - (int64_t)STORE_FORGET_DAYS * 86400)) > 0)
			forgot += rc;
	}
	if ((rc = store_tx_end(s, rc < 0 ? rc : 0, e)) == 0 && pruned != NULL)
		*pruned = (size_t)forgot;
	return store_leave(s, rc);
}

/* Age a message, for tests. */
int
store_set_first_seen(struct store *s, const char *account, const char *uidl,
    int64_t when, struct err *e)
{
	int	n;

	store_enter(s);
	if ((n = store_run(s, ST_FIRST_SEEN, e, "ssi", account, uidl,
	    when)) == 0)
		n = store_refuse(s, ST_FIRST_SEEN, account, uidl, e);
	return store_leave(s, n < 0 ? n : 0);
}

/* One status row per account, for --status. */
int
store_status(struct store *s, struct store_status **rows, size_t *n,
    struct err *e)
{
	sqlite3_stmt		*st;
	struct store_status	*v = NULL, *r;
	size_t			 len = 0, cap = 0;
	int			 rc;

	*rows = NULL;
	*n = 0;
	store_enter(s);
	if ((st = store_stmt(s, ST_STATUS, e, "")) == NULL)
		return store_leave(s, E_STORE);
	while ((rc = store_step(s, st, ST_STATUS, e)) == 1) {
		if (len == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		r = &v[len++];
		r->account = store_col_str(st, 0);
		r->identity = store_col_str(st, 1);
		r->last_start = store_col_int(st, 2, 0);
		r->last_end = store_col_int(st, 3, 0);
		r->last_result = store_col_str(st, 4);
		r->last_error = store_col_str(st, 5);
		r->last.new = store_col_int(st, 6, 0);
		r->last.skipped = store_col_int(st, 7, 0);
		r->last.deleted = store_col_int(st, 8, 0);
		r->last.errors = store_col_int(st, 9, 0);
		r->delivered_total = store_col_int(st, 10, 0);
		r->known = store_col_int(st, 11, 0);
		r->pending_deletions = store_col_int(st, 12, 0);
		r->failed = store_col_int(st, 13, 0);
	}
	if (rc < 0) {
		store_status_free(v, len);
		return store_leave(s, rc);
	}
	*rows = v;
	*n = len;
	return store_leave(s, 0);
}

/* The messages of account whose fetch failed, for --status. */
int
store_failures(struct store *s, const char *account,
    struct store_failure **rows, size_t *n, struct err *e)
{
	sqlite3_stmt		*st;
	struct store_failure	*v = NULL, *f;
	size_t			 len = 0, cap = 0;
	int			 rc;

	*rows = NULL;
	*n = 0;
	store_enter(s);
	if ((st = store_stmt(s, ST_FAILED_LIST, e, "s", account)) == NULL)
		return store_leave(s, E_STORE);
	while ((rc = store_step(s, st, ST_FAILED_LIST, e)) == 1) {
		if (len == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		f = &v[len++];
		f->uidl = store_col_str(st, 0);
		f->reason = store_col_str(st, 1);
		f->failures = store_col_int(st, 2, 0);
	}
	if (rc < 0) {
		store_failures_free(v, len);
		return store_leave(s, rc);
	}
	*rows = v;
	*n = len;
	return store_leave(s, 0);
}

/* Free a store_failures result. */
void
store_failures_free(struct store_failure *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].uidl);
		free(rows[i].reason);
	}
	free(rows);
}

/* Free a store_status result. */
void
store_status_free(struct store_status *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].account);
		free(rows[i].identity);
		free(rows[i].last_result);
		free(rows[i].last_error);
	}
	free(rows);
}

/* The stored name of a state. */
const char *
store_state_name(enum store_state st)
{
	if ((size_t)st >= NITEMS(store_state_names))
		return "unknown";
	return store_state_names[st];
}

/* Record a peer's UIDLs for one mailbox, all or none. */
int
store_import_add(struct store *s, const char *host, const char *user,
    const char *format, const char *const *uidls, size_t n, size_t *added,
    struct err *e)
{
	size_t	i;
	int	rc;

	*added = 0;
	store_enter(s);
	if ((rc = store_run(s, ST_SAVEPOINT, e, "")) < 0)
		return store_leave(s, rc);
	for (i = 0; i < n && rc >= 0; i++)
		if ((rc = store_run(s, ST_IMPORT_ADD, e, "ssss", host, user,
		    format, uidls[i])) > 0)
			(*added)++;
	if ((rc = store_tx_end(s, rc < 0 ? rc : 0, e)) < 0)
		*added = 0;
	return store_leave(s, rc);
}

/* The imported UIDLs of one mailbox, ordered by format, then UIDL. */
int
store_import_load(struct store *s, const char *host, const char *user,
    struct store_import **entries, size_t *n, struct err *e)
{
	sqlite3_stmt		*st;
	struct store_import	*v = NULL;
	size_t			 len = 0, cap = 0;
	int			 rc;

	*entries = NULL;
	*n = 0;
	store_enter(s);
	if ((st = store_stmt(s, ST_IMPORT_LOAD, e, "ss", host, user)) == NULL)
		return store_leave(s, E_STORE);
	while ((rc = store_step(s, st, ST_IMPORT_LOAD, e)) == 1) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[len].format = store_col_str(st, 0);
		v[len].uidl = store_col_str(st, 1);
		len++;
	}
	if (rc < 0) {
		store_import_free(v, len);
		return store_leave(s, rc);
	}
	*entries = v;
	*n = len;
	return store_leave(s, 0);
}

/* Free a store_import_load result. */
void
store_import_free(struct store_import *entries, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(entries[i].format);
		free(entries[i].uidl);
	}
	free(entries);
}

/* Forget every imported UIDL of one mailbox. */
int
store_import_drop(struct store *s, const char *host, const char *user,
    struct err *e)
{
	int	rc;

	store_enter(s);
	rc = store_run(s, ST_IMPORT_DROP, e, "ss", host, user);
	return store_leave(s, rc < 0 ? E_STORE : 0);
}

/* A message fetched by other means: delivered, with no file. */
int
store_mark_seen(struct store *s, const char *account, const char *uidl,
    int64_t size, int64_t now, int *added, struct err *e)
{
	int	n;

	store_enter(s);
	if ((n = store_run(s, ST_SEEN, e, "ssii", account, uidl, size,
	    now)) < 0)
		return store_leave(s, n);
	if (added != NULL)
		*added = n > 0;
	return store_leave(s, 0);
}
