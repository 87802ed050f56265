/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* One account's sync: list, diff against the ledger, fetch, delete, QUIT. */

#include "autoconf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "err.h"
#include "log.h"
#include "maildir.h"
#include "pop3.h"
#include "session.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

/* How many messages are marked "fetching" in one transaction before their
 * RETRs go out: it bounds how many rows a crash leaves to resolve. */
#define SYNC_BATCH	32

/* Everything one sync works with. */
struct sync_run {
	const struct account		*a;
	const struct sync_shared	*sh;
	struct sync_result		*r;
	struct maildir			*md;
	struct pop3			*p;
	/* The fetch in progress (the pop3_sink's state). */
	struct sync_item		*items;
	char				(*names)[MAILDIR_NAME_MAX];
	size_t				 nitems;
	size_t				 cur;
	struct maildir_msg		*msg;
	size_t				 total;	/* for progress */
	/* Items delivered in this sync, for keep = false. */
	struct sync_item		**fetched;
	size_t				 nfetched;
	/* Without UIDL: the items fetched points into, kept for the DELEs. */
	struct sync_item		*nouidl;
};

/* A listing entry with its position, to find repeated UIDLs. */
struct sync_key {
	const char	*uidl;
	size_t		 pos;
};

static void	sync_lock(const struct sync_shared *);
static void	sync_unlock(const struct sync_shared *);
static int	sync_key_cmp(const void *, const void *);
static char	**sync_keys(const struct pop3_listing *, bool *);
static void	sync_item_add(struct sync_item *, size_t *,
		    const struct pop3_msg *, const char *, bool);
static int	sync_resolve(struct sync_run *, struct store_entry *, size_t,
		    struct err *);
static void	sync_report(struct sync_run *);
static bool	sync_aborted(const struct sync_run *);
static int	sync_delivery_error(const struct sync_run *, int, struct err *);
static int	sync_sink_begin(void *, unsigned long, struct err *);
static int	sync_sink_write(void *, const char *, size_t, struct err *);
static int	sync_sink_end(void *, struct err *);
static int	sync_settle(struct sync_run *, struct err *);
static int	sync_fetch(struct sync_run *, struct sync_item *, size_t,
		    struct err *);
static int	sync_skip(struct sync_run *, const struct sync_plan *,
		    struct err *);
static int	sync_delete(struct sync_run *, const struct sync_plan *,
		    struct err *);
static int	sync_no_uidl(struct sync_run *, const struct pop3_listing *,
		    struct err *);

static const struct pop3_sink sync_sink = {
	sync_sink_begin, sync_sink_write, sync_sink_end
};

/* Take the shared store's mutex, when there is one. */
static void
sync_lock(const struct sync_shared *sh)
{
	if (sh->store_lock != NULL && pthread_mutex_lock(sh->store_lock) != 0)
		fatalx("%s: pthread_mutex_lock failed", __func__);
}

/* Release the shared store's mutex. */
static void
sync_unlock(const struct sync_shared *sh)
{
	if (sh->store_lock != NULL &&
	    pthread_mutex_unlock(sh->store_lock) != 0)
		fatalx("%s: pthread_mutex_unlock failed", __func__);
}

/* Order by UIDL, then by position in the listing. */
static int
sync_key_cmp(const void *x, const void *y)
{
	const struct sync_key	*a = x, *b = y;
	int			 c;

	if ((c = strcmp(a->uidl, b->uidl)) != 0)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/*
 * The ledger key of each listing entry: its UIDL, or "UIDL #n" for the n-th
 * entry (in listing order) carrying a UIDL already listed.  A UIDL holds no
 * space (0x21..0x7E), so no real UIDL can take a generated key.  dup[i] is
 * set for every entry of a repeated UIDL.
 */
static char **
sync_keys(const struct pop3_listing *l, bool *dup)
{
	struct sync_key	*k;
	char		**keys;
	size_t		 i, j, g;

	keys = xcalloc(l->count, sizeof(*keys));
	k = xcalloc(l->count, sizeof(*k));
	for (i = 0; i < l->count; i++) {
		k[i].uidl = l->msgs[i].uidl;
		k[i].pos = i;
	}
	qsort(k, l->count, sizeof(*k), sync_key_cmp);
	for (i = 0; i < l->count; i = g) {
		for (g = i + 1; g < l->count &&
		    strcmp(k[g].uidl, k[i].uidl) == 0; g++)
			;
		for (j = i; j < g; j++) {
			dup[k[j].pos] = g - i > 1;
			keys[k[j].pos] = j == i ? xstrdup(k[j].uidl) :
			    xasprintf("%s #%zu", k[j].uidl, j - i + 1);
		}
	}
	free(k);
	return keys;
}

/* Append an item for listing entry m under key. */
static void
sync_item_add(struct sync_item *items, size_t *n, const struct pop3_msg *m,
    const char *key, bool pending)
{
	struct sync_item	*it = &items[(*n)++];

	it->num = m->num;
	it->key = xstrdup(key);
	it->size = m->size;
	it->pending = pending;
}

void
sync_plan_make(const struct account *a, const struct pop3_listing *l,
    struct store_entry *ents, size_t nents, int64_t now,
    struct sync_plan *plan)
{
	const struct pop3_msg	*m;
	struct store_entry	*se;
	bool			*dup, big, old;
	size_t			 i;

	memset(plan, 0, sizeof(*plan));
	plan->fetch = xcalloc(l->count, sizeof(*plan->fetch));
	plan->skip = xcalloc(l->count, sizeof(*plan->skip));
	plan->dele = xcalloc(l->count, sizeof(*plan->dele));
	dup = xcalloc(l->count, sizeof(*dup));
	plan->live = sync_keys(l, dup);
	plan->nlive = l->count;

	for (i = 0; i < l->count; i++) {
		m = &l->msgs[i];
		/* Only the second and later copies: a UIDL may hold '#'. */
		if (dup[i] && strcmp(plan->live[i], m->uidl) != 0)
			plan->dup++;
		se = store_entry_find(ents, nents, plan->live[i]);
		big = a->max_message_size > 0 && m->size > a->max_message_size;
		if (se == NULL || se->state == STORE_FETCHING ||
		    se->state == STORE_SKIPPED) {
			if (!big) {
				sync_item_add(plan->fetch, &plan->nfetch, m,
				    plan->live[i], se != NULL);
				plan->fetch[plan->nfetch - 1].dup = dup[i];
			} else if (se == NULL || se->state != STORE_SKIPPED)
				sync_item_add(plan->skip, &plan->nskip, m,
				    plan->live[i], false);
			continue;
		}
		/* Delivered, or its deletion is pending or was committed
		 * (but the server lists it again). */
		if (dup[i])
			continue;
		/* "More than N days ago" (popsyncd.conf(5)): N days is not. */
		old = a->delete_after_days > 0 && se->first_seen <
		    now - (int64_t)a->delete_after_days * 86400;
		if (se->state != STORE_DELIVERED || !a->keep || old)
			sync_item_add(plan->dele, &plan->ndele, m,
			    plan->live[i], se->state != STORE_DELIVERED);
	}
	free(dup);
}

void
sync_plan_free(struct sync_plan *plan)
{
	size_t	i;

	for (i = 0; i < plan->nfetch; i++)
		free(plan->fetch[i].key);
	for (i = 0; i < plan->nskip; i++)
		free(plan->skip[i].key);
	for (i = 0; i < plan->ndele; i++)
		free(plan->dele[i].key);
	for (i = 0; i < plan->nlive; i++)
		free(plan->live[i]);
	free(plan->fetch);
	free(plan->skip);
	free(plan->dele);
	free(plan->live);
	memset(plan, 0, sizeof(*plan));
}

/*
 * Resolve the rows a killed run left "fetching": the planned file in new/
 * or cur/ means the message was delivered; no file means fetch it again
 * (under a new name).  Either way a tmp/ file of the planned name is a
 * leftover of the killed run and goes.
 */
static int
sync_resolve(struct sync_run *run, struct store_entry *ents, size_t n,
    struct err *e)
{
	size_t	i;
	int	rc;

	for (i = 0; i < n; i++) {
		if (ents[i].state != STORE_FETCHING || ents[i].filename == NULL)
			continue;
		if ((rc = maildir_find(run->md, ents[i].filename, e)) < 0)
			return rc;
		maildir_clean_tmp(run->md, ents[i].filename);
		if (rc == 0)
			continue;
		sync_lock(run->sh);
		rc = store_mark_delivered(run->sh->store, run->a->name,
		    ents[i].uidl, ents[i].filename, (int64_t)time(NULL), e);
		sync_unlock(run->sh);
		if (rc < 0)
			return rc;
		ents[i].state = STORE_DELIVERED;
		run->r->recovered++;
		log_info("%s: %s was delivered as %s by a run that stopped "
		    "before recording it", run->a->name, ents[i].uidl,
		    ents[i].filename);
	}
	return 0;
}

/* Tell the progress callback, if any, how far the fetch is. */
static void
sync_report(struct sync_run *run)
{
	struct sync_progress	pr;

	if (run->sh->progress == NULL)
		return;
	pr.account = run->a->name;
	pr.done = run->r->fetched;
	pr.total = run->total;
	pr.bytes = run->r->bytes;
	run->sh->progress(run->sh->progress_arg, &pr);
}

/* A Maildir error while delivering: say which message it was. */
static int
sync_delivery_error(const struct sync_run *run, int rc, struct err *e)
{
	const struct sync_item	*it = &run->items[run->cur];

	err_prefix(e, "delivering message %lu (UIDL %s)", it->num,
	    it->key != NULL ? it->key : "none");
	return rc;
}

/* Whether a signal asked us to stop (after the current message). */
static bool
sync_aborted(const struct sync_run *run)
{
	return run->sh->abort_flag != NULL && *run->sh->abort_flag != 0;
}

/* RETR's reply starts: open the planned tmp/ file. */
static int
sync_sink_begin(void *arg, unsigned long num, struct err *e)
{
	struct sync_run	*run = arg;

	if (sync_aborted(run))
		return err_set(e, E_ABORT, "stopped by a signal");
	if (run->cur >= run->nitems || run->items[run->cur].num != num)
		fatalx("%s: RETR %lu out of order", __func__, num);
	log_set_context(run->a->name, run->items[run->cur].key);
	return maildir_begin(run->md, run->names[run->cur], &run->msg, e);
}

/* Body bytes, already dot-unstuffed and LF-terminated. */
static int
sync_sink_write(void *arg, const char *data, size_t len, struct err *e)
{
	struct sync_run	*run = arg;
	int		 rc;

	if ((rc = maildir_write(run->msg, data, len, e)) < 0)
		return sync_delivery_error(run, rc, e);
	run->r->bytes += len;
	sync_report(run);
	return 0;
}

/* The message is complete: publish it, then record it. */
static int
sync_sink_end(void *arg, struct err *e)
{
	struct sync_run		*run = arg;
	struct sync_item	*it = &run->items[run->cur];
	int			 rc;

	/* Durable and recorded for the whole batch in sync_settle. */
	rc = maildir_link(run->msg, e);
	run->msg = NULL;
	log_set_context(run->a->name, NULL);
	if (rc < 0)
		return sync_delivery_error(run, rc, e);
	log_debug("%s: message %lu (%s) delivered as %s", run->a->name,
	    it->num, it->key != NULL ? it->key : "no UIDL",
	    run->names[run->cur]);
	run->fetched[run->nfetched++] = it;
	run->r->fetched++;
	run->cur++;
	sync_report(run);
	return 0;
}

/*
 * Make the messages this batch delivered (items[0..cur)) durable, then
 * record them: one fsync of new/ and one transaction per batch, not one
 * each per message.  Until then their rows stay "fetching" with the
 * planned names, which sync_resolve finds in new/ or cur/ after a crash,
 * so no message is lost or fetched twice; and nothing is deleted before
 * it is recorded.
 */
static int
sync_settle(struct sync_run *run, struct err *e)
{
	int64_t	now = (int64_t)time(NULL);
	size_t	i;
	int	rc;

	if (run->cur == 0)
		return 0;
	if ((rc = maildir_sync(run->md, e)) < 0)
		return rc;
	sync_lock(run->sh);
	rc = store_begin(run->sh->store, e);
	for (i = 0; rc == 0 && i < run->cur; i++)
		if (run->items[i].key != NULL)
			rc = store_mark_delivered(run->sh->store,
			    run->a->name, run->items[i].key, run->names[i],
			    now, e);
	if (rc == 0)
		rc = store_commit(run->sh->store, e);
	else
		store_rollback(run->sh->store, NULL);
	sync_unlock(run->sh);
	return rc;
}

/*
 * Fetch items in batches: mark a batch "fetching" with planned names and
 * commit, then RETR it (pipelined when the server allows), then settle it.
 * The next batch's RETRs go out with this one's (pop3_retr_many's ahead),
 * so its messages arrive while this one is settled; they reach the disk
 * only once they are marked.
 */
static int
sync_fetch(struct sync_run *run, struct sync_item *items, size_t n,
    struct err *e)
{
	unsigned long		*nums = NULL;
	unsigned long long	*sizes = NULL;
	struct err		 se;
	size_t			 off, i, cnt, ahead, done;
	int64_t			 now = (int64_t)time(NULL);
	int			 rc = 0;

	run->names = xcalloc(SYNC_BATCH, sizeof(*run->names));
	nums = xcalloc(2 * SYNC_BATCH, sizeof(*nums));
	sizes = xcalloc(2 * SYNC_BATCH, sizeof(*sizes));
	for (off = 0; off < n; off += cnt) {
		cnt = n - off < SYNC_BATCH ? n - off : SYNC_BATCH;
		sync_lock(run->sh);
		rc = store_begin(run->sh->store, e);
		for (i = 0; rc == 0 && i < cnt; i++) {
			maildir_plan_name(run->md, run->names[i],
			    sizeof(run->names[i]));
			if (items[off + i].key != NULL)
				rc = store_mark_fetching(run->sh->store,
				    run->a->name, items[off + i].key,
				    (int64_t)items[off + i].size,
				    run->names[i], now, e);
		}
		if (rc == 0)
			rc = store_commit(run->sh->store, e);
		else
			store_rollback(run->sh->store, NULL);
		sync_unlock(run->sh);
		if (rc < 0)
			break;

		run->items = items + off;
		run->nitems = cnt;
		run->cur = 0;
		ahead = n - off - cnt < SYNC_BATCH ? n - off - cnt : SYNC_BATCH;
		for (i = 0; i < cnt + ahead; i++) {
			nums[i] = items[off + i].num;
			sizes[i] = items[off + i].size;
		}
		rc = pop3_retr_many(run->p, nums, sizes, cnt, ahead, &sync_sink,
		    run, &done, e);
		/* A failed sink or a dropped link leaves a tmp/ file open. */
		maildir_abort(run->msg);
		run->msg = NULL;
		/* Record what the batch delivered, even if it failed later. */
		if (rc == 0)
			rc = sync_settle(run, e);
		else if (sync_settle(run, &se) < 0)
			log_error("%s: %s", run->a->name, se.msg);
		if (rc < 0)
			break;
	}
	free(nums);
	free(sizes);
	free(run->names);
	run->names = NULL;
	return rc;
}

/* Record the messages too large to fetch, logging each once. */
static int
sync_skip(struct sync_run *run, const struct sync_plan *plan, struct err *e)
{
	char	reason[96];
	size_t	i;
	int	rc = 0;

	for (i = 0; rc == 0 && i < plan->nskip; i++) {
		snprintf(reason, sizeof(reason), "larger than max_message_size "
		    "(%llu > %llu octets)", plan->skip[i].size,
		    (unsigned long long)run->a->max_message_size);
		log_warnx("%s: skipping message %lu (%s): %s", run->a->name,
		    plan->skip[i].num, plan->skip[i].key, reason);
		sync_lock(run->sh);
		rc = store_mark_skipped(run->sh->store, run->a->name,
		    plan->skip[i].key, (int64_t)plan->skip[i].size, reason,
		    (int64_t)time(NULL), e);
		sync_unlock(run->sh);
		if (rc == 0)
			run->r->skipped++;
	}
	return rc;
}

/*
 * DELE what the plan deletes, plus, with keep = false, what this sync
 * delivered; record each accepted DELE as dele_sent.
 */
static int
sync_delete(struct sync_run *run, const struct sync_plan *plan,
    struct err *e)
{
	const struct sync_item	**del;
	unsigned long		 *nums;
	const char		**keys;
	size_t			  n = 0, i, done = 0;
	int			  rc, rc2;

	del = xcalloc(plan->ndele + run->nfetched, sizeof(*del));
	for (i = 0; i < plan->ndele; i++)
		del[n++] = &plan->dele[i];
	for (i = 0; !run->a->keep && i < run->nfetched; i++)
		if (!run->fetched[i]->dup)
			del[n++] = run->fetched[i];
	nums = xcalloc(n, sizeof(*nums));
	keys = xcalloc(n, sizeof(*keys));
	for (i = 0; i < n; i++) {
		nums[i] = del[i]->num;
		keys[i] = del[i]->key;
	}
	rc = n == 0 ? 0 : pop3_dele_many(run->p, nums, n, &done, e);
	/* Record what the server accepted even if a later DELE failed. */
	if (done > 0 && keys[0] != NULL) {
		sync_lock(run->sh);
		rc2 = store_mark_dele_sent(run->sh->store, run->a->name, keys,
		    done, rc < 0 ? NULL : e);
		sync_unlock(run->sh);
		if (rc == 0)
			rc = rc2;
	}
	free(keys);
	free(nums);
	free(del);
	return rc < 0 ? rc : (int)done;
}

/*
 * A server without UIDL, with keep = false: fetch everything and delete
 * it.  Nothing identifies a message across sessions, so there is no ledger;
 * a run killed between a delivery and the QUIT fetches that message again.
 */
static int
sync_no_uidl(struct sync_run *run, const struct pop3_listing *l,
    struct err *e)
{
	struct sync_item	*items;
	size_t			 i;

	log_warnx("%s: the server has no UIDL: fetching and deleting every "
	    "message (keep = false)", run->a->name);
	items = run->nouidl = xcalloc(l->count, sizeof(*items));
	for (i = 0; i < l->count; i++) {
		items[i].num = l->msgs[i].num;
		items[i].size = l->msgs[i].size;
	}
	run->total = l->count;
	return sync_fetch(run, items, l->count, e);
}

int
sync_account(const struct account *a, const struct sync_shared *sh,
    struct sync_result *r, struct err *e)
{
	struct sync_run		 run;
	struct sync_plan	 plan;
	struct pop3_listing	 l = { NULL, 0 };
	struct store_entry	*ents = NULL;
	struct store_counts	 counts;
	struct err		 qe;
	struct session_hooks	 hooks;
	const struct pop3_capa	*caps;
	char			*identity;
	size_t			 nents = 0;
	int			 rc, rc2, changed = 0, ndel = 0;
	bool			 uidl = true, expire0;

	memset(r, 0, sizeof(*r));
	r->login_delay = -1;
	memset(&run, 0, sizeof(run));
	log_set_context(a->name, NULL);
	memset(&plan, 0, sizeof(plan));
	run.a = a;
	run.sh = sh;
	run.r = r;
	identity = xasprintf("%s@%s:%d", a->user, a->host, a->port);

	sync_lock(sh);
	rc = store_account_bind(sh->store, a->name, identity, &changed, e);
	if (rc == 0)
		rc = store_sync_start(sh->store, a->name, (int64_t)time(NULL),
		    e);
	if (rc == 0)
		rc = store_load(sh->store, a->name, &ents, &nents, e);
	sync_unlock(sh);
	if (rc < 0)
		goto out;
	if (changed)
		log_warnx("%s: the account now points at %s; the ledger of "
		    "its old server was dropped, so mail left on this server "
		    "is fetched again", a->name, identity);
	if ((rc = maildir_open(a->maildir, &run.md, e)) < 0 ||
	    (rc = sync_resolve(&run, ents, nents, e)) < 0)
		goto out;

	hooks.idle = sh->idle;
	hooks.idle_arg = sh->idle_arg;
	hooks.abort_flag = sh->hard_abort;
	if ((rc = session_open(a, &hooks, &run.p, NULL, e)) < 0)
		goto out;
	r->login_delay = pop3_caps(run.p)->login_delay;
	if ((rc = pop3_list(run.p, &l, e)) < 0)
		goto out;
	if ((rc = pop3_uidl(run.p, &l, e)) == E_SERVER) {
		if (a->keep) {
			/* Not e->msg itself: err_set writes there. */
			qe = *e;
			rc = err_set(e, E_SERVER, "the server does not "
			    "support UIDL (%s), so popsyncd cannot tell new "
			    "mail from old while leaving it on the server; "
			    "set keep = false to fetch and delete everything",
			    qe.msg);
			pop3_quit(run.p, &qe);
			goto out;
		}
		uidl = false;
		rc = 0;
	}
	if (rc < 0)
		goto out;
	r->listed = l.count;
	run.fetched = xcalloc(l.count, sizeof(*run.fetched));

	if (!uidl) {
		rc = sync_no_uidl(&run, &l, e);
	} else {
		sync_plan_make(a, &l, ents, nents, (int64_t)time(NULL), &plan);
		if (plan.dup > 0)
			log_warnx("%s: the server lists %zu message(s) under a "
			    "UIDL it already used; each is fetched once and "
			    "none of them is deleted", a->name, plan.dup);
		sync_lock(sh);
		rc = store_prune(sh->store, a->name,
		    (const char *const *)plan.live, plan.nlive, &r->pruned, e);
		sync_unlock(sh);
		if (rc == 0)
			rc = sync_skip(&run, &plan, e);
		run.total = plan.nfetch;
		if (rc == 0 && plan.nfetch > 0)
			rc = sync_fetch(&run, plan.fetch, plan.nfetch, e);
	}
	if (rc < 0) {
		/* A failed delivery: nothing more is deleted, and a server
		 * that expires retrieved mail at QUIT gets no QUIT. */
		caps = pop3_caps(run.p);
		expire0 = (caps->flags & POP3_CAPA_EXPIRE) && caps->expire == 0;
		if (!expire0 && pop3_state(run.p) == POP3_ST_TRANSACTION)
			pop3_quit(run.p, &qe);
		goto out;
	}

	if (sync_aborted(&run) && ((uidl && plan.ndele > 0) ||
	    (!a->keep && run.nfetched > 0))) {
		/* Stopping: what was delivered is recorded; no new DELE. */
		rc = err_set(e, E_ABORT, "stopped by a signal before deleting");
		pop3_quit(run.p, &qe);
		goto out;
	}
	if (uidl)
		ndel = sync_delete(&run, &plan, e);
	else
		ndel = sync_delete(&run, &(struct sync_plan){ 0 }, e);
	if (ndel < 0) {
		rc = ndel;
		if (pop3_state(run.p) == POP3_ST_TRANSACTION)
			pop3_quit(run.p, &qe);
		goto out;
	}
	if ((rc = pop3_quit(run.p, e)) < 0)
		goto out;
	r->deleted = (size_t)ndel;
	if (ndel > 0 && uidl) {
		sync_lock(sh);
		rc = store_mark_expunged(sh->store, a->name, e);
		sync_unlock(sh);
	}

out:
	if (rc < 0) {
		r->errors = 1;
		if (err_after_prefix(e, a->name) == NULL)
			err_prefix(e, "%s", a->name);
	}
	memset(&counts, 0, sizeof(counts));
	counts.new = (int64_t)r->fetched;
	counts.skipped = (int64_t)r->skipped;
	counts.deleted = (int64_t)r->deleted;
	counts.errors = (int64_t)r->errors;
	sync_lock(sh);
	/* A failure to record the status must not hide the sync's error. */
	rc2 = store_sync_end(sh->store, a->name, (int64_t)time(NULL),
	    rc < 0 ? "error" : "ok", rc < 0 ? e->msg : NULL, &counts,
	    rc < 0 ? &qe : e);
	sync_unlock(sh);
	if (rc == 0)
		rc = rc2;
	pop3_free(run.p);
	maildir_free(run.md);
	free(run.fetched);
	free(run.nouidl);
	pop3_listing_free(&l);
	sync_plan_free(&plan);
	store_entries_free(ents, nents);
	free(identity);
	log_set_context(NULL, NULL);
	return rc;
}
