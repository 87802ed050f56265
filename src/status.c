/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* --status: what the state database says, as a table or as JSON. */

#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "status.h"
#include "store.h"
#include "util.h"

static const struct store_status *status_find(const struct store_status *,
		    size_t, const char *);
static void	status_time(char *, size_t, int64_t);
static void	status_json_time(FILE *, int64_t);
static void	status_table(FILE *, const struct account *,
		    const struct store_status *, const struct store_failure *,
		    size_t);
static void	status_json(FILE *, const struct account *,
		    const struct store_status *, const struct store_failure *,
		    size_t, bool);

/* The status row of account name, or NULL if it never synced. */
static const struct store_status *
status_find(const struct store_status *rows, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].account, name) == 0)
			return &rows[i];
	return NULL;
}

/* A unix time as local "YYYY-MM-DD HH:MM:SS", or "never". */
static void
status_time(char *buf, size_t len, int64_t t)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* A unix time as an RFC 3339 UTC string, or null for never. */
static void
status_json_time(FILE *out, int64_t t)
{
	struct tm	tm;
	time_t		tt = (time_t)t;
	char		buf[32];

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		fputs("null", out);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(out, "\"%s\"", buf);
}

/* One account as a few lines of text; f: its n failed messages. */
static void
status_table(FILE *out, const struct account *a, const struct store_status *s,
    const struct store_failure *f, size_t n)
{
	char	start[32], safe[128];
	size_t	i;

	if (s == NULL || s->last_start == 0) {
		fprintf(out, "%s: never synced\n", a->name);
		return;
	}
	status_time(start, sizeof(start), s->last_start);
	if (s->last_result == NULL || s->last_end < s->last_start)
		fprintf(out, "%s: last sync %s (running, or stopped before it "
		    "finished)\n", a->name, start);
	else
		fprintf(out, "%s: last sync %s, %s in %lld s: %lld new, %lld "
		    "skipped, %lld deleted\n", a->name, start, s->last_result,
		    (long long)(s->last_end - s->last_start),
		    (long long)s->last.new, (long long)s->last.skipped,
		    (long long)s->last.deleted);
	fprintf(out, "  %lld messages known, %lld delivered in all, %lld "
	    "deletions pending\n", (long long)s->known,
	    (long long)s->delivered_total, (long long)s->pending_deletions);
	if (s->last_error != NULL)
		fprintf(out, "  last error: %s\n", s->last_error);
	if (n > 0)
		fprintf(out, "  %zu message(s) failed, tried again on a later "
		    "poll:\n", n);
	for (i = 0; i < n; i++) {
		err_sanitize(safe, sizeof(safe), f[i].uidl);
		fprintf(out, "    UIDL %s, %lld time(s): %s\n", safe,
		    (long long)f[i].failures,
		    f[i].reason != NULL ? f[i].reason : "");
	}
}

/* One account as a JSON object; f: its n failed messages. */
static void
status_json(FILE *out, const struct account *a, const struct store_status *s,
    const struct store_failure *f, size_t n, bool first)
{
	size_t	i;

	fprintf(out, "%s\n    {\"name\": ", first ? "" : ",");
	util_json_str(out, a->name);
	fputs(", \"last_start\": ", out);
	status_json_time(out, s != NULL ? s->last_start : 0);
	fputs(", \"last_end\": ", out);
	status_json_time(out, s != NULL && s->last_result != NULL ?
	    s->last_end : 0);
	fputs(", \"result\": ", out);
	util_json_str(out, s != NULL ? s->last_result : NULL);
	fprintf(out, ", \"known\": %lld, \"delivered_total\": %lld, "
	    "\"pending_deletions\": %lld",
	    s != NULL ? (long long)s->known : 0LL,
	    s != NULL ? (long long)s->delivered_total : 0LL,
	    s != NULL ? (long long)s->pending_deletions : 0LL);
	fprintf(out, ", \"last_new\": %lld, \"last_skipped\": %lld, "
	    "\"last_deleted\": %lld, \"last_error\": ",
	    s != NULL ? (long long)s->last.new : 0LL,
	    s != NULL ? (long long)s->last.skipped : 0LL,
	    s != NULL ? (long long)s->last.deleted : 0LL);
	util_json_str(out, s != NULL ? s->last_error : NULL);
	fputs(", \"failed\": [", out);
	for (i = 0; i < n; i++) {
		fputs(i == 0 ? "{\"uidl\": " : ", {\"uidl\": ", out);
		util_json_str(out, f[i].uidl);
		fprintf(out, ", \"failures\": %lld, \"reason\": ",
		    (long long)f[i].failures);
		util_json_str(out, f[i].reason);
		fputc('}', out);
	}
	fputs("]}", out);
}

int
status_print(const struct config *cfg, FILE *out, bool json, struct err *e)
{
	const struct account	*a;
	const struct store_status *row;
	struct store		*st = NULL;
	struct store_status	*rows = NULL;
	struct store_failure	*f = NULL;
	size_t			 n = 0, nf = 0;
	bool			 first = true;
	int			 rc = 0;

	/* No database yet: nothing ever synced, which is no error. */
	if ((rc = store_open_existing(cfg->state_db, &st, e)) < 0 ||
	    (st != NULL && (rc = store_status(st, &rows, &n, e)) < 0))
		goto out;

	/* Say which file was read: a daemon run with another config, or
	 * under another user, keeps its state elsewhere. */
	if (json) {
		fprintf(out, "{\"version\": %d, \"state_db\": ",
		    STATUS_JSON_VERSION);
		util_json_str(out, cfg->state_db);
		fputs(", \"accounts\": [", out);
	} else
		fprintf(out, "state database: %s%s\n", cfg->state_db,
		    st == NULL ? " (not created yet)" : "");
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		row = status_find(rows, n, a->name);
		if (row != NULL && row->failed > 0 &&
		    (rc = store_failures(st, a->name, &f, &nf, e)) < 0)
			goto out;
		if (json)
			status_json(out, a, row, f, nf, first);
		else
			status_table(out, a, row, f, nf);
		store_failures_free(f, nf);
		f = NULL;
		nf = 0;
		first = false;
	}
	if (json)
		fputs("\n]}\n", out);
out:
	store_status_free(rows, n);
	store_close(st);
	return rc;
}

int
status_mailbox_changes(const struct config *cfg, FILE *out)
{
	const struct account	*a;
	struct store		*st = NULL;
	struct err		 e;
	char			*host, *user;
	int			 n = 0;

	/* No database (or an unreadable one): nothing was seen before. */
	if (store_open_existing(cfg->state_db, &st, &e) < 0 || st == NULL)
		return 0;
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		if (store_account_mailbox(st, a->name, &host, &user, &e) != 1)
			continue;
		if (strcasecmp(host, a->host) != 0 ||
		    strcmp(user, a->user) != 0) {
			fprintf(out, "popsyncd: warning: %s: now names the "
			    "mailbox %s@%s, not %s@%s as before: mail left on "
			    "that server counts as new and is fetched\n",
			    a->name, a->user, a->host, user, host);
			n++;
		}
		free(host);
		free(user);
	}
	store_close(st);
	return n;
}
