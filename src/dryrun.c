/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* --once --dry-run: list, plan and print what a sync would do. */

#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "config.h"
#include "dryrun.h"
#include "err.h"
#include "import.h"
#include "pop3.h"
#include "session.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "xmalloc.h"

/* One message the sync would act on, and why. */
struct dryrun_msg {
	unsigned long		 num;
	const char		*uidl;		/* the listing's; NULL: none */
	unsigned long long	 size;
	char			*reason;
};

/* The messages of one action (fetch, skip, delete). */
struct dryrun_list {
	struct dryrun_msg	*v;
	size_t			 n;
	unsigned long long	 octets;
};

/* What a sync of one account would do. */
struct dryrun_acct {
	const struct account	*a;
	char			*mailbox;	/* "user@host:port" */
	struct pop3_listing	 l;
	unsigned long long	 octets;	/* of the whole listing */
	struct dryrun_list	 fetch, skip, dele;
	size_t			 known;		/* already fetched */
	size_t			 imported;	/* of those, by an import */
	size_t			 uidl_only;	/* in UIDL, not in LIST: left
						 * alone and not in l */
	bool			 dropped;	/* the ledger is another
						 * mailbox's: dropped */
	struct err		 e;
	int			 rc;
};

/* A listing entry's place, found by its UIDL. */
struct dryrun_key {
	const char	*uidl;
	size_t		 idx;
};

/* A listing entry's place, found by message number. */
struct dryrun_pos {
	unsigned long	num;
	size_t		idx;
};

static int	dryrun_pos_cmp(const void *, const void *);
static int	dryrun_ent_cmp(const void *, const void *);
static size_t	dryrun_find(const struct dryrun_pos *, size_t, unsigned long);
static void	dryrun_add(struct dryrun_list *, const struct pop3_listing *,
		    const struct pop3_msg *, char *);
static int	dryrun_ledger(struct store *, const struct store_status *,
		    size_t, struct dryrun_acct *, int64_t,
		    struct store_entry **, size_t *, bool **);
static int	dryrun_key_cmp(const void *, const void *);
static bool	*dryrun_dups(const struct pop3_listing *);
static char	*dryrun_fetch_why(const struct sync_item *,
		    const struct store_entry *);
static char	*dryrun_left_why(const struct dryrun_acct *,
		    const struct sync_plan *, size_t, const struct store_entry *,
		    bool, int64_t);
static void	dryrun_plan(struct dryrun_acct *, struct store_entry *,
		    size_t, const bool *, int64_t);
static void	dryrun_no_uidl(struct dryrun_acct *);
static int	dryrun_account(struct store *, const struct store_status *,
		    size_t, struct dryrun_acct *);
static void	dryrun_text(FILE *, const struct dryrun_acct *);
static void	dryrun_text_list(FILE *, const char *,
		    const struct dryrun_list *);
static void	dryrun_json(FILE *, const struct dryrun_acct *, bool);
static void	dryrun_json_list(FILE *, const char *,
		    const struct dryrun_list *);
static void	dryrun_free(struct dryrun_acct *);
static const char *dryrun_error(const struct dryrun_acct *);

/* Order listing places by message number. */
static int
dryrun_pos_cmp(const void *x, const void *y)
{
	const struct dryrun_pos	*a = x, *b = y;

	return a->num < b->num ? -1 : a->num > b->num;
}

/* Order ledger entries by UIDL, as store_load does. */
static int
dryrun_ent_cmp(const void *x, const void *y)
{
	const struct store_entry	*a = x, *b = y;

	return strcmp(a->uidl, b->uidl);
}

/* The listing index of message num (it is there: the plan came from it). */
static size_t
dryrun_find(const struct dryrun_pos *pos, size_t n, unsigned long num)
{
	struct dryrun_pos	 key = { num, 0 }, *p;

	if ((p = bsearch(&key, pos, n, sizeof(*pos), dryrun_pos_cmp)) == NULL)
		fatalx("%s: message %lu not listed", __func__, num);
	return p->idx;
}

/* Append message m of listing l with reason (which the list takes). */
static void
dryrun_add(struct dryrun_list *dl, const struct pop3_listing *l,
    const struct pop3_msg *m, char *reason)
{
	struct dryrun_msg	*dm;

	dl->v = xreallocarray(dl->v, dl->n + 1, sizeof(*dl->v));
	dm = &dl->v[dl->n++];
	dm->num = m->num;
	dm->uidl = pop3_msg_uidl(l, m);
	dm->size = m->size;
	dm->reason = reason;
	dl->octets += m->size;
}

/*
 * The ledger the sync would plan with: the database's rows (none if the
 * account now points at another mailbox, since the sync drops them), plus
 * a delivered row for each listed message an import matches, as
 * import_apply would record.  imported[i] marks listing entry i so.
 */
static int
dryrun_ledger(struct store *st, const struct store_status *rows, size_t nrows,
    struct dryrun_acct *da, int64_t now, struct store_entry **ents,
    size_t *nents, bool **imported)
{
	const struct account	*a = da->a;
	struct store_import	*imp = NULL;
	struct store_entry	*v;
	const char		**uidls;
	char			*host;
	size_t			 nimp = 0, i, n;
	int			 rc;

	*ents = NULL;
	*nents = 0;
	*imported = xcalloc(da->l.count + 1, sizeof(**imported));
	if (st == NULL)
		return 0;
	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].account, a->name) == 0 &&
		    strcmp(rows[i].identity, da->mailbox) != 0)
			da->dropped = true;
	if (!da->dropped &&
	    (rc = store_load(st, a->name, ents, nents, &da->e)) < 0)
		return rc;
	host = import_host(a->host);
	rc = store_import_load(st, host, a->user, &imp, &nimp, &da->e);
	free(host);
	if (rc < 0 || nimp == 0) {
		store_import_free(imp, nimp);
		return rc;
	}
	uidls = import_uidls(&da->l);
	import_match(imp, nimp, uidls, da->l.count, *imported);
	n = *nents;
	v = xreallocarray(*ents, n + da->l.count + 1, sizeof(*v));
	for (i = 0; i < da->l.count; i++) {
		if (!(*imported)[i] || uidls[i][0] == '\0')
			continue;
		if (store_entry_find(v, *nents, uidls[i]) != NULL) {
			(*imported)[i] = false;
			continue;
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].uidl = xstrdup(uidls[i]);
		v[n].state = STORE_DELIVERED;
		v[n].size = (int64_t)da->l.msgs[i].size;
		v[n].first_seen = now;
		n++;
	}
	qsort(v, n, sizeof(*v), dryrun_ent_cmp);
	*ents = v;
	*nents = n;
	free(uidls);
	store_import_free(imp, nimp);
	return 0;
}

/* Order listing places by UIDL. */
static int
dryrun_key_cmp(const void *x, const void *y)
{
	const struct dryrun_key	*a = x, *b = y;

	return strcmp(a->uidl, b->uidl);
}

/* Which listing entries share their UIDL with another (n + 1 flags). */
static bool *
dryrun_dups(const struct pop3_listing *l)
{
	struct dryrun_key	*k;
	const char		**u;
	bool			 *dup;
	size_t			  i;

	dup = xcalloc(l->count + 1, sizeof(*dup));
	u = import_uidls(l);
	k = xcalloc(l->count + 1, sizeof(*k));
	for (i = 0; i < l->count; i++) {
		k[i].uidl = u[i];
		k[i].idx = i;
	}
	qsort(k, l->count, sizeof(*k), dryrun_key_cmp);
	for (i = 0; i + 1 < l->count; i++)
		if (k[i].uidl[0] != '\0' && strcmp(k[i].uidl,
		    k[i + 1].uidl) == 0)
			dup[k[i].idx] = dup[k[i + 1].idx] = true;
	free(k);
	free(u);
	return dup;
}

/* Why the plan fetches listing entry m (ledger row se, or NULL). */
static char *
dryrun_fetch_why(const struct sync_item *it, const struct store_entry *se)
{
	if (it->dup)
		return xstrdup("its UIDL is listed more than once: each copy "
		    "is fetched and none is deleted");
	if (se == NULL)
		return xstrdup("new");
	switch (se->state) {
	case STORE_FETCHING:
		return xstrdup("a run stopped while fetching it: fetched "
		    "again unless its file is in the Maildir");
	case STORE_SKIPPED:
		return xstrdup("skipped before, now within max_message_size");
	case STORE_FAILED:
		return xasprintf("failed %lld time(s) before (%s): tried again",
		    (long long)se->failures, se->reason != NULL ? se->reason :
		    "no reason recorded");
	default:
		return xstrdup("new");
	}
}

/* Why the plan leaves listing entry i alone, or NULL: already fetched. */
static char *
dryrun_left_why(const struct dryrun_acct *da, const struct sync_plan *plan,
    size_t i, const struct store_entry *se, bool dup, int64_t now)
{
	const struct account	*a = da->a;
	const struct pop3_msg	*m = &da->l.msgs[i];

	if ((m->flags & POP3_MSG_LISTED) == 0)
		return xstrdup("in the UIDL listing but not in LIST "
		    "(incomplete listing): left alone");
	if (m->flags & POP3_MSG_BADUIDL)
		return xstrdup("its UIDL is unusable (empty, too long, with a "
		    "NUL, or given twice): left alone");
	if (plan->keys[i] == NULL)
		return xstrdup("in LIST but not in the UIDL listing "
		    "(incomplete listing): left alone");
	if (se == NULL)
		return NULL;
	if (se->state == STORE_FAILED)
		return xasprintf("failed %lld time(s) (%s): tried again on a "
		    "later poll", (long long)se->failures, se->reason != NULL ?
		    se->reason : "no reason recorded");
	if (se->state == STORE_SKIPPED)
		return xasprintf("skipped before: %s", se->reason != NULL ?
		    se->reason : "larger than max_message_size");
	/* The policy would delete it, but a repeated UIDL cannot be tied to
	 * one message (sync.h). */
	if (dup && se->state == STORE_DELIVERED && (!a->keep ||
	    (a->delete_after_days > 0 && se->first_seen <
	    now - (int64_t)a->delete_after_days * 86400)))
		return xstrdup("its UIDL is listed more than once: not "
		    "deleted");
	return NULL;
}

/* Sort the plan's messages into fetch, skip and delete, with reasons. */
static void
dryrun_plan(struct dryrun_acct *da, struct store_entry *ents, size_t nents,
    const bool *imported, int64_t now)
{
	const struct account	*a = da->a;
	const struct pop3_msg	*m;
	struct store_entry	*se;
	struct sync_plan	 plan;
	struct dryrun_pos	*pos;
	bool			*acted, *dup;
	size_t			 i, k;
	char			*why;

	sync_plan_make(a, &da->l, ents, nents, now, &plan);
	da->uidl_only = da->l.uidl_only;
	pos = xcalloc(da->l.count + 1, sizeof(*pos));
	acted = xcalloc(da->l.count + 1, sizeof(*acted));
	for (i = 0; i < da->l.count; i++) {
		pos[i].num = da->l.msgs[i].num;
		pos[i].idx = i;
	}
	qsort(pos, da->l.count, sizeof(*pos), dryrun_pos_cmp);
	dup = dryrun_dups(&da->l);

	for (i = 0; i < plan.nfetch; i++) {
		k = dryrun_find(pos, da->l.count, plan.fetch[i].num);
		acted[k] = true;
		dryrun_add(&da->fetch, &da->l, &da->l.msgs[k],
		    dryrun_fetch_why(&plan.fetch[i], store_entry_find(ents,
		    nents, plan.fetch[i].key)));
	}
	for (i = 0; i < plan.nskip; i++) {
		k = dryrun_find(pos, da->l.count, plan.skip[i].num);
		acted[k] = true;
		dryrun_add(&da->skip, &da->l, &da->l.msgs[k], xasprintf(
		    "larger than max_message_size (%llu > %llu octets)",
		    da->l.msgs[k].size,
		    (unsigned long long)a->max_message_size));
	}
	for (i = 0; i < plan.ndele; i++) {
		k = dryrun_find(pos, da->l.count, plan.dele[i].num);
		se = store_entry_find(ents, nents, plan.dele[i].key);
		if (se != NULL && se->state != STORE_DELIVERED)
			why = xstrdup("a deletion still pending from an "
			    "earlier sync");
		else if (!a->keep)
			why = xstrdup(imported[k] ? "keep = false (fetched "
			    "before, by an imported fetcher's state)" :
			    "keep = false");
		else
			why = xasprintf("first seen %lld day(s) ago, "
			    "delete_after_days = %d", se == NULL ? 0LL :
			    (long long)((now - se->first_seen) / 86400),
			    a->delete_after_days);
		dryrun_add(&da->dele, &da->l, &da->l.msgs[k], why);
	}
	for (i = 0; i < da->l.count; i++) {
		if (acted[i])
			continue;
		m = &da->l.msgs[i];
		se = plan.keys[i] == NULL ? NULL : store_entry_find(ents, nents,
		    plan.keys[i]);
		if ((why = dryrun_left_why(da, &plan, i, se, dup[i], now)) !=
		    NULL) {
			dryrun_add(&da->skip, &da->l, m, why);
			continue;
		}
		da->known++;
		if (imported[i])
			da->imported++;
	}
	/* keep = false also deletes what this sync fetches. */
	for (i = 0; !a->keep && i < plan.nfetch; i++)
		if (!plan.fetch[i].dup)
			dryrun_add(&da->dele, &da->l, &da->l.msgs[dryrun_find(
			    pos, da->l.count, plan.fetch[i].num)],
			    xstrdup("keep = false, once fetched"));
	free(dup);
	free(acted);
	free(pos);
	sync_plan_free(&plan);
}

/* No UIDL and keep = false: the sync fetches and deletes everything. */
static void
dryrun_no_uidl(struct dryrun_acct *da)
{
	size_t	i;

	for (i = 0; i < da->l.count; i++) {
		dryrun_add(&da->fetch, &da->l, &da->l.msgs[i], xstrdup("the server "
		    "has no UIDL: every message"));
		dryrun_add(&da->dele, &da->l, &da->l.msgs[i], xstrdup("the server "
		    "has no UIDL, keep = false: every message, once fetched"));
	}
}

/* Log in, list, QUIT, and plan one account. */
static int
dryrun_account(struct store *st, const struct store_status *rows,
    size_t nrows, struct dryrun_acct *da)
{
	const struct account	*a = da->a;
	struct pop3		*p = NULL;
	struct store_entry	*ents = NULL;
	struct err		 qe;
	bool			*imported = NULL;
	size_t			 nents = 0, i;
	int64_t			 now = (int64_t)time(NULL);
	int			 rc;
	bool			 uidl = true;

	da->mailbox = xasprintf("%s@%s:%d", a->user, a->host, a->port);
	if ((rc = session_open(a, NULL, &p, NULL, &da->e)) < 0)
		goto out;
	if ((rc = pop3_list(p, &da->l, &da->e)) < 0)
		goto quit;
	if ((rc = pop3_uidl(p, &da->l, &da->e)) == E_SERVER && !a->keep) {
		uidl = false;
		rc = 0;
	} else if (rc == E_SERVER) {
		qe = da->e;
		rc = err_set(&da->e, E_SERVER, "the server does not support "
		    "UIDL (%s): a sync with keep = true would stop here",
		    qe.msg);
	}
quit:
	if (rc < 0)
		pop3_quit(p, &qe);
	else
		rc = pop3_quit(p, &da->e);
	if (rc < 0)
		goto out;
	for (i = 0; i < da->l.count; i++)
		da->octets += da->l.msgs[i].size;
	if (!uidl) {
		dryrun_no_uidl(da);
		goto out;
	}
	if ((rc = dryrun_ledger(st, rows, nrows, da, now, &ents, &nents,
	    &imported)) < 0)
		goto out;
	dryrun_plan(da, ents, nents, imported, now);
out:
	if (rc < 0 && err_after_prefix(&da->e, a->name) == NULL)
		err_prefix(&da->e, "%s", a->name);
	da->rc = rc;
	store_entries_free(ents, nents);
	free(imported);
	pop3_free(p);
	return rc;
}

/* The account's error without its "NAME: " prefix. */
static const char *
dryrun_error(const struct dryrun_acct *da)
{
	const char	*msg;

	if ((msg = err_after_prefix(&da->e, da->a->name)) == NULL)
		msg = da->e.msg;
	return msg;
}

/* One action's messages, as text. */
static void
dryrun_text_list(FILE *out, const char *verb, const struct dryrun_list *dl)
{
	char	safe[POP3_UIDL_MAX + 1];
	size_t	i;

	for (i = 0; i < dl->n; i++) {
		/* A UIDL is the server's text: no escapes reach a terminal. */
		err_sanitize(safe, sizeof(safe), dl->v[i].uidl != NULL ?
		    dl->v[i].uidl : "none");
		fprintf(out, "  %-6s message %lu (UIDL %s, %llu octets): %s\n",
		    verb, dl->v[i].num, safe, dl->v[i].size, dl->v[i].reason);
	}
}

/* One account, as text. */
static void
dryrun_text(FILE *out, const struct dryrun_acct *da)
{
	if (da->rc < 0) {
		fprintf(out, "%s: dry run failed: %s\n", da->a->name,
		    dryrun_error(da));
		return;
	}
	fprintf(out, "%s: would fetch %zu (%llu octets), skip %zu (%llu "
	    "octets), delete %zu (%llu octets); %zu listed (%llu octets), %zu "
	    "already fetched (%zu by an imported state)\n", da->a->name,
	    da->fetch.n, da->fetch.octets, da->skip.n, da->skip.octets,
	    da->dele.n, da->dele.octets, da->l.count, da->octets, da->known,
	    da->imported);
	if (da->dropped)
		fprintf(out, "  (the account now points at %s: the sync drops "
		    "the ledger of its old server)\n", da->mailbox);
	if (da->uidl_only > 0)
		fprintf(out, "  (%zu message(s) in the UIDL listing but not in "
		    "LIST (incomplete listing): left alone)\n", da->uidl_only);
	dryrun_text_list(out, "fetch", &da->fetch);
	dryrun_text_list(out, "skip", &da->skip);
	dryrun_text_list(out, "delete", &da->dele);
}

/* One action, as a JSON member. */
static void
dryrun_json_list(FILE *out, const char *name, const struct dryrun_list *dl)
{
	size_t	i;

	fprintf(out, ", \"%s\": {\"count\": %zu, \"octets\": %llu, "
	    "\"messages\": [", name, dl->n, dl->octets);
	for (i = 0; i < dl->n; i++) {
		fprintf(out, "%s{\"num\": %lu, \"uidl\": ", i > 0 ? ", " : "",
		    dl->v[i].num);
		util_json_str(out, dl->v[i].uidl);
		fprintf(out, ", \"size\": %llu, \"reason\": ", dl->v[i].size);
		util_json_str(out, dl->v[i].reason);
		fputc('}', out);
	}
	fputs("]}", out);
}

/* One account, as a JSON object. */
static void
dryrun_json(FILE *out, const struct dryrun_acct *da, bool first)
{
	fprintf(out, "%s\n  {\"name\": ", first ? "" : ",");
	util_json_str(out, da->a->name);
	fputs(", \"mailbox\": ", out);
	util_json_str(out, da->mailbox);
	fprintf(out, ", \"listed\": %zu, \"octets\": %llu, \"known\": %zu, "
	    "\"imported\": %zu, \"uidl_only\": %zu, \"ledger_dropped\": %s",
	    da->l.count, da->octets, da->known, da->imported, da->uidl_only,
	    da->dropped ? "true" : "false");
	dryrun_json_list(out, "fetch", &da->fetch);
	dryrun_json_list(out, "skip", &da->skip);
	dryrun_json_list(out, "delete", &da->dele);
	fputs(", \"error\": ", out);
	util_json_str(out, da->rc < 0 ? dryrun_error(da) : NULL);
	fputc('}', out);
}

/* Free what one account's dry run holds. */
static void
dryrun_free(struct dryrun_acct *da)
{
	struct dryrun_list	*lists[] = { &da->fetch, &da->skip, &da->dele };
	size_t			 i, j;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (j = 0; j < lists[i]->n; j++)
			free(lists[i]->v[j].reason);
		free(lists[i]->v);
	}
	free(da->mailbox);
	pop3_listing_free(&da->l);
}

int
dryrun_run(const struct config *cfg, char *const *names, size_t n, FILE *out,
    bool json, struct err *e)
{
	const struct account	*a;
	struct store		*st = NULL;
	struct store_status	*rows = NULL;
	struct dryrun_acct	 da;
	size_t			 nrows = 0, i;
	bool			 first = true;
	int			 rc = 0;

	for (i = 0; i < n; i++)
		if (config_find(cfg, names[i]) == NULL)
			return err_set(e, E_USAGE, "%s: no account named %s",
			    cfg->path, names[i]);
	/* No database yet: an empty ledger, which is no error. */
	if ((rc = store_open_existing(cfg->state_db, &st, e)) < 0 ||
	    (st != NULL && (rc = store_status(st, &rows, &nrows, e)) < 0))
		goto out;
	if (json)
		fputs("{\"accounts\": [", out);
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		for (i = 0; i < n && strcmp(names[i], a->name) != 0; i++)
			;
		if (n > 0 && i == n)
			continue;
		memset(&da, 0, sizeof(da));
		da.a = a;
		if (dryrun_account(st, rows, nrows, &da) < 0) {
			fprintf(stderr, "popsyncd: %s\n", da.e.msg);
			if (rc == 0)
				rc = da.rc;
		}
		if (json)
			dryrun_json(out, &da, first);
		else
			dryrun_text(out, &da);
		first = false;
		dryrun_free(&da);
	}
	if (json)
		fputs("\n]}\n", out);
out:
	store_status_free(rows, nrows);
	store_close(st);
	return rc;
}
