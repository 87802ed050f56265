/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* One account's sync: list, diff against the ledger, fetch, delete, QUIT. */

#include "autoconf.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "err.h"
#include "import.h"
#include "log.h"
#include "maildir.h"
#include "pop3.h"
#include "session.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "xmalloc.h"

/* How many messages are marked "fetching" in one transaction before their
 * RETRs go out: it bounds how many rows a crash leaves to resolve. */
#define SYNC_BATCH	32

/* A message is cut off once it is this much larger than LIST said: a
 * server that never ends a RETR must not fill the disk. */
#define SYNC_SLACK	(1024ULL * 1024)

/* Sessions one sync may open: each cut-off message costs one. */
#define SYNC_SESSIONS	8

/* sync_session's result when a message was cut off and the link closed. */
#define SYNC_AGAIN	1

/*
 * The ledger, read by a thread of its own while the session connects,
 * logs in and lists: at 100,000 messages both take about 0.1 s, and an
 * empty poll needs both before it can plan (issue 9).
 */
struct sync_loader {
	pthread_t		 thread;
	bool			 running;	/* started, not joined yet */
	struct store		*store;
	const char		*account;
	void			(*idle)(void *);
	void			*idle_arg;
	struct store_entry	*ents;
	size_t			 nents;
	int			 rc;
	struct err		 e;
};

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
	/* Received whole, waiting in tmp/ for sync_settle; by index. */
	struct maildir_msg		**closed;
	unsigned long long		 msgbytes; /* of msg so far */
	bool				 cut;	/* a message was cut off */
	bool				 listed; /* a listing was noted */
	size_t				 total;	/* for progress */
	unsigned long long		 total_bytes; /* their LIST sizes */
	/* Items delivered in this session, for keep = false. */
	struct sync_item		**fetched;
	size_t				 nfetched;
	struct sync_loader		 loader;
};

static const char **sync_keys(const struct pop3_listing *, bool *,
		    struct sync_plan *);
static void	sync_item_add(struct sync_item *, size_t *,
		    const struct pop3_msg *, const char *, bool);
static bool	sync_too_big(const struct account *, unsigned long long,
		    const struct store_entry *);
static int	sync_resolve(struct sync_run *, struct store_entry *, size_t,
		    struct err *);
static void	sync_report(struct sync_run *);
static bool	sync_aborted(const struct sync_run *);
static int64_t	sync_now(const struct sync_run *);
static const char *sync_key_show(const char *, char *, size_t);
static int	sync_delivery_error(const struct sync_run *, int, struct err *);
static int	sync_sink_begin(void *, unsigned long, struct err *);
static int	sync_sink_write(void *, const char *, size_t, struct err *);
static int	sync_sink_end(void *, struct err *);
static int	sync_sink_refused(void *, unsigned long, const struct err *,
		    struct err *);
static int	sync_cut(struct sync_run *, struct err *);
static int	sync_settle(struct sync_run *, struct err *);
static int	sync_fetch(struct sync_run *, struct sync_item *, size_t,
		    struct err *);
static int	sync_skip(struct sync_run *, const struct sync_item *, size_t,
		    struct err *);
static int	sync_delete(struct sync_run *, const struct sync_item *,
		    size_t, struct err *);
static void	sync_warn_plan(const struct sync_run *,
		    const struct sync_plan *);
static int	sync_uidl_plan(struct sync_run *, const struct pop3_listing *,
		    struct store_entry *, size_t, struct sync_plan *,
		    struct err *);
static int	sync_no_uidl(struct sync_run *, const struct pop3_listing *,
		    struct sync_plan *, struct err *);
static int	sync_end_session(struct sync_run *, int, struct sync_plan *,
		    struct err *);
static int	sync_session(struct sync_run *, struct store_entry **, size_t *,
		    struct err *);
static int	sync_prepare(struct sync_run *, struct err *);
static void	*sync_load_thread(void *);
static int	sync_ledger(struct sync_run *, struct store_entry **, size_t *,
		    struct err *);
static int	sync_finish(struct sync_run *, int, struct err *);

static const struct pop3_sink sync_sink = {
	sync_sink_begin, sync_sink_write, sync_sink_end, sync_sink_refused
};

/*
 * The ledger key of each listing entry with a usable UIDL: the UIDL, or
 * "UIDL\n#n" for the n-th entry (in listing order) carrying a UIDL already
 * listed; NULL for the others.  A UIDL is one line of the listing and so
 * holds no line feed: no real UIDL can take a generated key.  dup[i] is set
 * for every entry of a repeated UIDL.  Linear in the listing's length: a
 * map from each UIDL to its first entry, whose copies are counted.
 */
static const char **
sync_keys(const struct pop3_listing *l, bool *dup, struct sync_plan *plan)
{
	struct util_strmap	  first;
	const char		**keys;
	const char		 *u;
	size_t			 *seen, *at, i;
	bool			  added;

	keys = xcalloc(l->count, sizeof(*keys));
	seen = xcalloc(l->count, sizeof(*seen));
	util_strmap_init(&first, l->count);
	for (i = 0; i < l->count; i++) {
		if ((l->msgs[i].flags & POP3_MSG_LISTED) == 0 ||
		    (u = pop3_msg_uidl(l, &l->msgs[i])) == NULL)
			continue;
		at = util_strmap_put(&first, u, &added);
		if (added) {
			*at = i;
			seen[i] = 1;
			keys[i] = u;
			continue;
		}
		dup[*at] = dup[i] = true;
		if (plan->nowned == 0)
			plan->owned = xcalloc(l->count, sizeof(*plan->owned));
		plan->owned[plan->nowned] = xasprintf("%s\n#%zu", u,
		    ++seen[*at]);
		keys[i] = plan->owned[plan->nowned++];
	}
	util_strmap_free(&first);
	free(seen);
	return keys;
}

/* Append an item for listing entry m under key. */
static void
sync_item_add(struct sync_item *items, size_t *n, const struct pop3_msg *m,
    const char *key, bool pending)
{
	struct sync_item	*it = &items[(*n)++];

	it->num = m->num;
	it->key = key != NULL ? xstrdup(key) : NULL;
	it->size = m->size;
	it->pending = pending;
}

/*
 * Where a message of listed size is cut off while it streams: past
 * max_message_size, or far past what LIST said.
 */
unsigned long long
sync_cutoff(const struct account *a, unsigned long long listed)
{
	unsigned long long	far = listed * 2 + SYNC_SLACK;

	if (listed > (ULLONG_MAX - SYNC_SLACK) / 2)
		far = ULLONG_MAX;
	if (a->max_message_size > 0 &&
	    (unsigned long long)a->max_message_size < far)
		return (unsigned long long)a->max_message_size;
	return far;
}

/* Whether a message is too big to fetch: LIST says so, or an earlier
 * fetch was cut off at the size it would still reach. */
static bool
sync_too_big(const struct account *a, unsigned long long listed,
    const struct store_entry *se)
{
	if (a->max_message_size > 0 &&
	    listed > (unsigned long long)a->max_message_size)
		return true;
	return se != NULL && se->state == STORE_SKIPPED && se->size >= 0 &&
	    (unsigned long long)se->size >= sync_cutoff(a, listed);
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
	plan->keys = sync_keys(l, dup, plan);
	for (i = 0; i < nents; i++)
		ents[i].listed = false;
	plan->nkeys = l->count;
	plan->uidl_only = l->uidl_only;

	for (i = 0; i < l->count; i++) {
		m = &l->msgs[i];
		if ((m->flags & POP3_MSG_LISTED) == 0) {
			plan->uidl_only++;
			continue;
		}
		if (m->flags & POP3_MSG_BADUIDL) {
			plan->bad_uidl++;
			continue;
		}
		if (plan->keys[i] == NULL) {
			plan->list_only++;
			continue;
		}
		/* Only the second and later copies count. */
		if (dup[i] && strchr(plan->keys[i], '\n') != NULL)
			plan->dup++;
		se = store_entry_find(ents, nents, plan->keys[i]);
		if (se != NULL)
			se->listed = true;
		big = sync_too_big(a, m->size, se);
		if (se != NULL && se->state == STORE_FAILED && se->waiting &&
		    !big) {
			plan->waiting++;
			continue;
		}
		if (se == NULL || se->state == STORE_FETCHING ||
		    se->state == STORE_SKIPPED || se->state == STORE_FAILED) {
			if (!big) {
				sync_item_add(plan->fetch, &plan->nfetch, m,
				    plan->keys[i], se != NULL);
				plan->fetch[plan->nfetch - 1].dup = dup[i];
			} else if (se == NULL || se->state != STORE_SKIPPED)
				sync_item_add(plan->skip, &plan->nskip, m,
				    plan->keys[i], false);
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
			    plan->keys[i], se->state != STORE_DELIVERED);
	}
	free(dup);
}

void
sync_plan_free(struct sync_plan *plan)
{
	size_t	i;

	for (i = 0; i < plan->nfetch; i++) {
		free(plan->fetch[i].key);
		free(plan->fetch[i].refused);
	}
	for (i = 0; i < plan->nskip; i++)
		free(plan->skip[i].key);
	for (i = 0; i < plan->ndele; i++)
		free(plan->dele[i].key);
	for (i = 0; i < plan->nowned; i++)
		free(plan->owned[i]);
	free(plan->owned);
	free(plan->fetch);
	free(plan->skip);
	free(plan->dele);
	free(plan->keys);
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
	char	show[128];
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
		if ((rc = store_mark_delivered(run->sh->store, run->a->name,
		    ents[i].uidl, ents[i].filename, sync_now(run),
		    e)) < 0)
			return rc;
		ents[i].state = STORE_DELIVERED;
		run->r->recovered++;
		log_set_context(run->a->name, ents[i].uidl);
		log_info("%s: %s was delivered as %s by a run that stopped "
		    "before recording it", run->a->name,
		    sync_key_show(ents[i].uidl, show, sizeof(show)),
		    ents[i].filename);
		log_set_context(run->a->name, NULL);
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
	pr.total_bytes = run->total_bytes;
	run->sh->progress(run->sh->progress_arg, &pr);
}

/* A ledger key fit for a log line: "none" for NULL, control characters
 * and the line feed of a repeated UIDL's key shown safely. */
static const char *
sync_key_show(const char *key, char *buf, size_t len)
{
	if (key == NULL)
		return "none";
	err_sanitize(buf, len, key);
	return buf;
}

/* A Maildir error while delivering: say which message it was. */
static int
sync_delivery_error(const struct sync_run *run, int rc, struct err *e)
{
	const struct sync_item	*it = &run->items[run->cur];
	char			 show[128];

	err_prefix(e, "delivering message %lu (UIDL %s)", it->num,
	    sync_key_show(it->key, show, sizeof(show)));
	return rc;
}

/* The time: the shared clock's, or the system's. */
static int64_t
sync_now(const struct sync_run *run)
{
	if (run->sh->wall != NULL)
		return (int64_t)run->sh->wall(run->sh->wall_arg);
	return (int64_t)time(NULL);
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
	run->msgbytes = 0;
	return maildir_begin(run->md, run->names[run->cur], &run->msg, e);
}

/*
 * The message being written has grown past its cutoff: drop its tmp/ file,
 * record it skipped with the size reached, and end the session (E_ABORT:
 * pop3 reads no further; a message that never ends would fill the disk).
 */
static int
sync_cut(struct sync_run *run, struct err *e)
{
	struct sync_item	*it = &run->items[run->cur];
	unsigned long long	 cutoff = sync_cutoff(run->a, it->size);
	char			 reason[128], show[128];
	int			 rc = 0;

	maildir_abort(run->msg);
	run->msg = NULL;
	if (run->a->max_message_size > 0 &&
	    cutoff == (unsigned long long)run->a->max_message_size)
		snprintf(reason, sizeof(reason), "larger than "
		    "max_message_size (more than %llu octets)", cutoff);
	else
		snprintf(reason, sizeof(reason), "far larger than LIST said "
		    "(more than %llu octets, LIST said %llu)", cutoff,
		    it->size);
	log_warnx("%s: message %lu (%s) cut off: %s", run->a->name, it->num,
	    sync_key_show(it->key, show, sizeof(show)), reason);
	if (it->key != NULL && (rc = store_mark_skipped(run->sh->store,
	    run->a->name, it->key, (int64_t)run->msgbytes, reason,
	    sync_now(run), e)) < 0)
		return rc;
	run->r->skipped++;
	run->cut = true;
	return err_set(e, E_ABORT, "message %lu cut off: %s", it->num, reason);
}

/* Body bytes, already dot-unstuffed and LF-terminated. */
static int
sync_sink_write(void *arg, const char *data, size_t len, struct err *e)
{
	struct sync_run	*run = arg;
	int		 rc;

	run->msgbytes += len;
	if (run->msgbytes > sync_cutoff(run->a, run->items[run->cur].size))
		return sync_cut(run, e);
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
	char			 show[128];
	int			 rc;

	/* Published, made durable and recorded with its whole batch in
	 * sync_settle. */
	rc = maildir_close(run->msg, e);
	if (rc < 0) {
		maildir_abort(run->msg);
		run->msg = NULL;
		log_set_context(run->a->name, NULL);
		return sync_delivery_error(run, rc, e);
	}
	log_debug("%s: message %lu (%s) received into tmp/%s", run->a->name,
	    it->num, sync_key_show(it->key, show, sizeof(show)),
	    run->names[run->cur]);
	log_set_context(run->a->name, NULL);
	run->closed[run->cur] = run->msg;
	run->msg = NULL;
	run->cur++;
	sync_report(run);
	return 0;
}

/*
 * The server answered -ERR to one RETR (expunged meanwhile, a damaged
 * file, [SYS/TEMP]): record the message failed with the reply, and go on
 * with the others.  It is tried again on a later poll (store.h).
 */
static int
sync_sink_refused(void *arg, unsigned long num, const struct err *reply,
    struct err *e)
{
	struct sync_run		*run = arg;
	struct sync_item	*it;
	char			 show[128];

	(void)e;
	if (run->cur >= run->nitems || run->items[run->cur].num != num)
		fatalx("%s: RETR %lu out of order", __func__, num);
	it = &run->items[run->cur];
	log_set_context(run->a->name, it->key);
	log_warnx("%s: message %lu (%s) not fetched: %s", run->a->name, num,
	    sync_key_show(it->key, show, sizeof(show)), reply->msg);
	log_set_context(run->a->name, NULL);
	/* Recorded with the batch's deliveries, in its one commit. */
	it->refused = xstrdup(reply->msg);
	run->r->failed++;
	run->cur++;
	return 0;
}

/*
 * Deliver the messages this batch received into tmp/, then record them
 * (and the ones the server refused): one syncfs, one fsync of new/ and one
 * transaction per batch (maildir_publish_batch), not an fsync per message.
 * Until then their rows stay "fetching" with the planned names, which
 * sync_resolve finds in new/ or cur/ after a crash (or not, and they are
 * fetched again), so no message is lost or fetched twice; and nothing is
 * deleted before it is recorded.
 */
static int
sync_settle(struct sync_run *run, struct err *e)
{
	struct sync_item	*it;
	struct err		 pe;
	int64_t			 now = sync_now(run);
	size_t			 i, n = 0, nref = 0, done = 0;
	char			 show[128];
	int			 rc, prc = 0;

	for (i = 0; i < run->cur; i++) {
		n += run->closed[i] != NULL;
		nref += run->items[i].refused != NULL;
	}
	if (n + nref == 0)
		return 0;
	if (n > 0)
		prc = maildir_publish_batch(run->md, run->closed, run->cur,
		    &done, &pe);
	for (i = 0; i < run->cur; i++) {
		if (i < done && run->closed[i] != NULL) {
			it = &run->items[i];
			log_debug("%s: message %lu (%s) delivered as %s",
			    run->a->name, it->num, sync_key_show(it->key, show,
			    sizeof(show)), run->names[i]);
			it->delivered = true;
			run->fetched[run->nfetched++] = it;
			run->r->fetched++;
		}
		maildir_abort(run->closed[i]);
		run->closed[i] = NULL;
	}
	/* Record what reached new/, even when the rest failed. */
	rc = store_begin(run->sh->store, e);
	for (i = 0; rc == 0 && i < run->cur; i++) {
		it = &run->items[i];
		if (it->key == NULL)
			continue;
		if (it->delivered)
			rc = store_mark_delivered(run->sh->store,
			    run->a->name, it->key, run->names[i], now, e);
		else if (it->refused != NULL)
			rc = store_mark_failed(run->sh->store, run->a->name,
			    it->key, it->refused, e);
	}
	if (rc == 0)
		rc = store_commit(run->sh->store, e);
	else
		store_rollback(run->sh->store, NULL);
	if (rc == 0 && prc < 0) {
		*e = pe;
		rc = prc;
	}
	return rc;
}

/*
 * Fetch items in batches: mark a batch "fetching" with planned names and
 * commit, then RETR it (pipelined when the server allows), then settle it.
 * The next batch's RETRs go out with this one's (pop3_retr_many's ahead),
 * so its messages arrive while this one is settled; they reach the disk
 * only once they are marked.  Returns SYNC_AGAIN when a message was cut
 * off (the link is gone).
 */
static int
sync_fetch(struct sync_run *run, struct sync_item *items, size_t n,
    struct err *e)
{
	unsigned long		*nums = NULL;
	unsigned long long	*sizes = NULL;
	struct err		 se;
	size_t			 off, i, cnt, ahead, done;
	int64_t			 now = sync_now(run);
	int			 rc = 0;

	/* Like total: what this sync wrote so far plus what is planned. */
	run->total_bytes = run->r->bytes;
	for (i = 0; i < n; i++)
		run->total_bytes += items[i].size;

	run->names = xcalloc(SYNC_BATCH, sizeof(*run->names));
	run->closed = xcalloc(SYNC_BATCH, sizeof(*run->closed));
	nums = xcalloc(2 * SYNC_BATCH, sizeof(*nums));
	sizes = xcalloc(2 * SYNC_BATCH, sizeof(*sizes));
	for (off = 0; off < n; off += cnt) {
		cnt = n - off < SYNC_BATCH ? n - off : SYNC_BATCH;
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
	free(run->closed);
	run->closed = NULL;
	return rc == E_ABORT && run->cut ? SYNC_AGAIN : rc;
}

/* Record the messages too large to fetch, logging each once; one commit
 * for all of them. */
static int
sync_skip(struct sync_run *run, const struct sync_item *items, size_t n,
    struct err *e)
{
	char	reason[96], show[128];
	size_t	i;
	int	rc;

	if (n == 0)
		return 0;
	if ((rc = store_begin(run->sh->store, e)) < 0)
		return rc;
	for (i = 0; rc == 0 && i < n; i++) {
		snprintf(reason, sizeof(reason), "larger than max_message_size "
		    "(%llu > %llu octets)", items[i].size,
		    (unsigned long long)run->a->max_message_size);
		log_warnx("%s: skipping message %lu (%s): %s", run->a->name,
		    items[i].num, sync_key_show(items[i].key, show,
		    sizeof(show)), reason);
		if (items[i].key != NULL)
			rc = store_mark_skipped(run->sh->store, run->a->name,
			    items[i].key, (int64_t)items[i].size, reason,
			    sync_now(run), e);
	}
	if (rc == 0)
		rc = store_commit(run->sh->store, e);
	if (rc < 0) {
		store_rollback(run->sh->store, NULL);
		return rc;
	}
	run->r->skipped += n;
	return 0;
}

/*
 * DELE the n items the plan deletes, plus, with keep = false, what this
 * session delivered; record each accepted DELE as dele_sent.  Only messages
 * this session saw in the UIDL listing with a ledger row (or, without UIDL,
 * delivered in this very session) are ever named.
 */
static int
sync_delete(struct sync_run *run, const struct sync_item *dele, size_t n,
    struct err *e)
{
	const struct sync_item	**del;
	unsigned long		 *nums;
	const char		**keys;
	size_t			  cnt = 0, i, done = 0;
	int			  rc, rc2;

	del = xcalloc(n + run->nfetched, sizeof(*del));
	for (i = 0; i < n; i++)
		del[cnt++] = &dele[i];
	for (i = 0; !run->a->keep && i < run->nfetched; i++)
		if (!run->fetched[i]->dup)
			del[cnt++] = run->fetched[i];
	nums = xcalloc(cnt, sizeof(*nums));
	keys = xcalloc(cnt, sizeof(*keys));
	for (i = 0; i < cnt; i++) {
		nums[i] = del[i]->num;
		keys[i] = del[i]->key;
	}
	rc = cnt == 0 ? 0 : pop3_dele_many(run->p, nums, cnt, &done, e);
	/* Record what the server accepted even if a later DELE failed. */
	if (done > 0 && keys[0] != NULL) {
		rc2 = store_mark_dele_sent(run->sh->store, run->a->name, keys,
		    done, rc < 0 ? NULL : e);
		if (rc == 0)
			rc = rc2;
	}
	free(keys);
	free(nums);
	free(del);
	return rc < 0 ? rc : (int)done;
}

/* One warning per sync for each kind of message this sync leaves alone. */
static void
sync_warn_plan(const struct sync_run *run, const struct sync_plan *plan)
{
	const char	*name = run->a->name;

	if (plan->dup > 0)
		log_warnx("%s: the server lists %zu message(s) under a UIDL "
		    "it already used; each is fetched once and none of them "
		    "is deleted", name, plan->dup);
	if (plan->list_only + plan->uidl_only > 0)
		log_warnx("%s: %zu message(s) appear in only one of LIST and "
		    "UIDL; they are left alone until both list them", name,
		    plan->list_only + plan->uidl_only);
	if (plan->bad_uidl > 0)
		log_warnx("%s: %zu message(s) have a UIDL popsyncd cannot use "
		    "(empty, over %d octets, holding a NUL, or given twice); "
		    "they are neither fetched nor deleted", name,
		    plan->bad_uidl, POP3_UIDL_MAX);
	if (plan->waiting > 0)
		log_info("%s: %zu message(s) that failed before wait for "
		    "a later poll (popsyncd --status lists them)", name,
		    plan->waiting);
}

/*
 * With a UIDL listing: plan against the ledger, note the listing (once per
 * sync: it counts as a poll), record what is too big, fetch what is new.
 */
static int
sync_uidl_plan(struct sync_run *run, const struct pop3_listing *l,
    struct store_entry *ents, size_t nents, struct sync_plan *plan,
    struct err *e)
{
	size_t	pruned = 0;
	int	rc;

	sync_plan_make(run->a, l, ents, nents, sync_now(run), plan);
	if (!run->listed) {
		sync_warn_plan(run, plan);
		if ((rc = store_prune(run->sh->store, run->a->name, ents,
		    nents, sync_now(run), &pruned, e)) < 0)
			return rc;
		run->r->pruned += pruned;
		run->listed = true;
	}
	if ((rc = sync_skip(run, plan->skip, plan->nskip, e)) < 0)
		return rc;
	run->total = run->r->fetched + plan->nfetch;
	return plan->nfetch > 0 ?
	    sync_fetch(run, plan->fetch, plan->nfetch, e) : 0;
}

/*
 * A server without UIDL, with keep = false: fetch everything that fits and
 * delete it.  Nothing identifies a message across sessions, so there is no
 * ledger; a run killed between a delivery and the QUIT fetches that message
 * again.  The items go into plan->fetch so the caller frees them.
 */
static int
sync_no_uidl(struct sync_run *run, const struct pop3_listing *l,
    struct sync_plan *plan, struct err *e)
{
	size_t	i;
	int	rc;

	if (!run->listed)
		log_warnx("%s: the server has no UIDL: fetching and deleting "
		    "every message (keep = false)", run->a->name);
	run->listed = true;
	memset(plan, 0, sizeof(*plan));
	plan->fetch = xcalloc(l->count, sizeof(*plan->fetch));
	plan->skip = xcalloc(l->count, sizeof(*plan->skip));
	for (i = 0; i < l->count; i++) {
		if (sync_too_big(run->a, l->msgs[i].size, NULL))
			sync_item_add(plan->skip, &plan->nskip, &l->msgs[i],
			    NULL, false);
		else
			sync_item_add(plan->fetch, &plan->nfetch, &l->msgs[i],
			    NULL, false);
	}
	if ((rc = sync_skip(run, plan->skip, plan->nskip, e)) < 0)
		return rc;
	run->total = run->r->fetched + plan->nfetch;
	rc = sync_fetch(run, plan->fetch, plan->nfetch, e);
	/* Without a ledger a cut-off message would be fetched again at
	 * once: leave it for the next poll. */
	return rc == SYNC_AGAIN ? 0 : rc;
}

/*
 * End a session after the fetch (rc its result): DELE and QUIT when all
 * went well; otherwise QUIT without DELE, and on a failed delivery no QUIT
 * at all under EXPIRE 0, so the server does not expire what it handed out.
 */
static int
sync_end_session(struct sync_run *run, int rc, struct sync_plan *plan,
    struct err *e)
{
	const struct pop3_capa	*caps;
	struct err		 qe;
	bool			 expire0;
	int			 ndel;

	if (rc < 0) {
		caps = pop3_caps(run->p);
		expire0 = (caps->flags & POP3_CAPA_EXPIRE) && caps->expire == 0;
		if (!expire0 && pop3_state(run->p) == POP3_ST_TRANSACTION)
			pop3_quit(run->p, &qe);
		return rc;
	}
	if (sync_aborted(run) && (plan->ndele > 0 ||
	    (!run->a->keep && run->nfetched > 0))) {
		/* Stopping: what was delivered is recorded; no new DELE. */
		pop3_quit(run->p, &qe);
		return err_set(e, E_ABORT, "stopped by a signal before "
		    "deleting");
	}
	if ((ndel = sync_delete(run, plan->dele, plan->ndele, e)) < 0) {
		if (pop3_state(run->p) == POP3_ST_TRANSACTION)
			pop3_quit(run->p, &qe);
		return ndel;
	}
	if ((rc = pop3_quit(run->p, e)) < 0)
		return rc;
	run->r->deleted += (size_t)ndel;
	/* Without UIDL (no keys) nothing was marked dele_sent. */
	if (ndel > 0 && plan->keys != NULL)
		rc = store_mark_expunged(run->sh->store, run->a->name, e);
	return rc;
}

/*
 * One session: connect, log in, list, plan, fetch, delete, QUIT.  Returns
 * 0, SYNC_AGAIN when a message was cut off and the rest needs a new
 * session, or an error.
 */
static int
sync_session(struct sync_run *run, struct store_entry **ents, size_t *nents,
    struct err *e)
{
	const struct account	*a = run->a;
	struct session_hooks	 hooks;
	struct pop3_listing	 l;
	struct sync_plan	 plan;
	struct err		 qe;
	int			 rc, rc2;

	memset(&l, 0, sizeof(l));
	memset(&plan, 0, sizeof(plan));
	run->cut = false;
	run->nfetched = 0;
	hooks.idle = run->sh->idle;
	hooks.idle_arg = run->sh->idle_arg;
	hooks.abort_flag = run->sh->hard_abort;
	hooks.stop_flag = run->sh->abort_flag;
	if ((rc = session_open(a, &hooks, &run->p, NULL, e)) < 0)
		return rc;
	run->r->login_delay = pop3_caps(run->p)->login_delay;
	if ((rc = pop3_list(run->p, &l, e)) < 0)
		goto out;
	if ((rc = pop3_uidl(run->p, &l, e)) == E_SERVER && a->keep) {
		/* Not e->msg itself: err_set writes there. */
		qe = *e;
		rc = err_set(e, E_SERVER, "the server does not support UIDL "
		    "(%s), so popsyncd cannot tell new mail from old while "
		    "leaving it on the server; set keep = false to fetch and "
		    "delete everything", qe.msg);
		pop3_quit(run->p, &qe);
		goto out;
	}
	run->r->listed = l.count;
	run->fetched = xreallocarray(run->fetched, l.count + 1,
	    sizeof(*run->fetched));
	/* The ledger the loader read meanwhile, resolved. */
	if ((rc == 0 || rc == E_SERVER) &&
	    (rc2 = sync_ledger(run, ents, nents, e)) < 0) {
		rc = rc2;
		pop3_quit(run->p, &qe);
		goto out;
	}
	/* Another fetcher's imported state (import.h), before the plan. */
	if (rc == 0 && !run->listed)
		rc = import_apply(run->sh->store, a, &l, ents, nents, NULL, e);
	if (rc == E_SERVER)
		rc = sync_no_uidl(run, &l, &plan, e);
	else if (rc == 0)
		rc = sync_uidl_plan(run, &l, *ents, *nents, &plan, e);
	if (rc != SYNC_AGAIN)
		rc = sync_end_session(run, rc, &plan, e);
out:
	pop3_free(run->p);
	run->p = NULL;
	sync_plan_free(&plan);
	pop3_listing_free(&l);
	return rc;
}

/* The loader: store_load, showing life as the sync's own thread would. */
static void *
sync_load_thread(void *arg)
{
	struct sync_loader	*ld = arg;

	store_set_tick(ld->idle, ld->idle_arg);
	ld->rc = store_load(ld->store, ld->account, &ld->ents, &ld->nents,
	    &ld->e);
	store_set_tick(NULL, NULL);
	return NULL;
}

/* Bind the account to its mailbox, open the Maildir and start reading the
 * ledger (sync_ledger takes it). */
static int
sync_prepare(struct sync_run *run, struct err *e)
{
	const struct account	*a = run->a;
	struct sync_loader	*ld = &run->loader;
	char			*identity;
	int			 rc, changed = 0;

	identity = xasprintf("%s@%s:%d", a->user, a->host, a->port);
	rc = store_account_bind(run->sh->store, a->name, a->host, a->user,
	    identity, &changed, e);
	if (rc == 0)
		rc = store_sync_start(run->sh->store, a->name,
		    sync_now(run), e);
	if (rc == 0 && changed)
		log_warnx("%s: the account now names the mailbox %s@%s, not "
		    "the one it named before, so mail left on this server "
		    "is fetched (the old mailbox's ledger is kept)", a->name,
		    a->user, a->host);
	free(identity);
	if (rc < 0)
		return rc;
	if ((rc = maildir_open(a->maildir, &run->md, e)) < 0)
		return rc;
	ld->store = run->sh->store;
	ld->account = a->name;
	ld->idle = run->sh->idle;
	ld->idle_arg = run->sh->idle_arg;
	/* No thread to be had: read it when it is needed. */
	ld->running = pthread_create(&ld->thread, NULL, sync_load_thread,
	    ld) == 0;
	return 0;
}

/*
 * The ledger for the first session: the loader's (waited for), or read
 * here; then resolve what a killed run left.  Later sessions have theirs.
 */
static int
sync_ledger(struct sync_run *run, struct store_entry **ents, size_t *nents,
    struct err *e)
{
	struct sync_loader	*ld = &run->loader;
	int			 rc;

	if (ld->store == NULL)
		return 0;
	if (ld->running) {
		if ((rc = pthread_join(ld->thread, NULL)) != 0)
			fatalx("%s: pthread_join: %s", __func__,
			    strerror(rc));
		ld->running = false;
	} else
		ld->rc = store_load(ld->store, ld->account, &ld->ents,
		    &ld->nents, &ld->e);
	ld->store = NULL;
	*ents = ld->ents;
	*nents = ld->nents;
	ld->ents = NULL;
	if (ld->rc < 0) {
		*e = ld->e;
		return ld->rc;
	}
	return sync_resolve(run, *ents, *nents, e);
}

/* Record the sync's end and counts; rc is its result so far. */
static int
sync_finish(struct sync_run *run, int rc, struct err *e)
{
	struct store_counts	counts;
	struct err		qe;
	struct sync_result	*r = run->r;
	int			rc2;

	if (rc < 0) {
		r->errors = 1;
		if (err_after_prefix(e, run->a->name) == NULL)
			err_prefix(e, "%s", run->a->name);
	}
	memset(&counts, 0, sizeof(counts));
	counts.new = (int64_t)r->fetched;
	counts.skipped = (int64_t)r->skipped;
	counts.deleted = (int64_t)r->deleted;
	counts.errors = (int64_t)r->errors;
	/* A failure to record the status must not hide the sync's error. */
	rc2 = store_sync_end(run->sh->store, run->a->name, sync_now(run),
	    rc < 0 ? "error" : "ok", rc < 0 ? e->msg : NULL, &counts,
	    rc < 0 ? &qe : e);
	return rc == 0 ? rc2 : rc;
}

int
sync_account(const struct account *a, const struct sync_shared *sh,
    struct sync_result *r, struct err *e)
{
	struct sync_run		 run;
	struct store_entry	*ents = NULL;
	size_t			 nents = 0, n;
	int			 rc;

	memset(r, 0, sizeof(*r));
	r->login_delay = -1;
	memset(&run, 0, sizeof(run));
	run.a = a;
	run.sh = sh;
	run.r = r;
	log_set_context(a->name, NULL);
	/* Long ledger work (a listing of 200,000) shows life too. */
	store_set_tick(sh->idle, sh->idle_arg);

	rc = sync_prepare(&run, e);
	/* A cut-off message was recorded skipped: a new session with a
	 * fresh ledger goes on with the rest. */
	for (n = 1; rc == 0; n++) {
		if ((rc = sync_session(&run, &ents, &nents, e)) != SYNC_AGAIN)
			break;
		rc = 0;
		if (n == SYNC_SESSIONS || sync_aborted(&run))
			break;
		store_entries_free(ents, nents);
		ents = NULL;
		rc = store_load(sh->store, a->name, &ents, &nents, e);
	}
	/* A session that failed before its listing left the ledger unread
	 * or unclaimed. */
	if (run.loader.running)
		pthread_join(run.loader.thread, NULL);
	store_entries_free(run.loader.ents, run.loader.nents);
	rc = sync_finish(&run, rc, e);
	maildir_free(run.md);
	free(run.fetched);
	store_entries_free(ents, nents);
	store_set_tick(NULL, NULL);
	log_set_context(NULL, NULL);
	return rc;
}
