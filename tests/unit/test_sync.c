/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for sync_plan_make: what a sync fetches, skips and deletes. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "pop3.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

#define NOW		INT64_C(1700000000)
#define DAY		INT64_C(86400)

/* One line of a LIST + UIDL listing; uidl NULL: in LIST only, "": UIDL
 * gave it an unusable unique-id. */
struct lmsg {
	unsigned long		 num;
	unsigned long long	 size;
	const char		*uidl;
};

/* One ledger row. */
struct lrow {
	const char		*uidl;
	enum store_state	 state;
	int64_t			 first_seen;
};

/* One expected plan item; a list of them ends with key NULL. */
struct want {
	unsigned long		 num;
	const char		*key;
	bool			 pending;
};

/* The account policy a plan is made under. */
struct policy {
	bool			 keep;
	int			 delete_after_days;
	uint64_t		 max_message_size;
};

static const struct want NONE[] = { { 0, NULL, false } };

static const struct policy KEEP = { true, 0, 0 };
static const struct policy NOKEEP = { false, 0, 0 };

static int	 row_cmp(const void *, const void *);
static void	 make_plan(const struct policy *, const struct lmsg *, size_t,
		    const struct lrow *, size_t, int64_t, struct sync_plan *);
static void	 plan_ents(const struct policy *, const struct lmsg *, size_t,
		    struct store_entry *, size_t, int64_t, struct sync_plan *);
static void	 plan_free(struct sync_plan *);

/* The listings of the plans not yet freed (plan_ents, plan_free). */
static struct {
	struct sync_plan	*plan;
	struct pop3_listing	 l;
} listings[4];
static size_t	 nlistings;
static void	 test_one_listing(void **);
static void	 test_bad_uidl(void **);
static void	 test_failed_retry(void **);
static void	 test_cut_off_before(void **);
static void	 check_items(const char *, const struct sync_item *, size_t,
		    const struct want *);
static void	 check_live(const struct sync_plan *, const char *const *);
static size_t	 nlisted(const struct sync_plan *);
static void	 test_first_sync(void **);
static void	 test_second_sync(void **);
static void	 test_one_new(void **);
static void	 test_empty(void **);
static void	 test_pruned(void **);
static void	 test_fetching_again(void **);
static void	 test_too_large(void **);
static void	 test_keep_true(void **);
static void	 test_keep_false(void **);
static void	 test_pending_deletion(void **);
static void	 test_delete_after_days(void **);
static void	 test_delete_after_days_keep_false(void **);
static void	 test_dup_first(void **);
static void	 test_dup_delivered(void **);
static void	 test_dup_three(void **);
static void	 test_dup_hash_in_uidl(void **);

/* Order ledger rows by UIDL, as store_load returns them. */
static int
row_cmp(const void *x, const void *y)
{
	const struct store_entry	*a = x, *b = y;

	return strcmp(a->uidl, b->uidl);
}

/*
 * Build the listing and the (sorted) ledger, and make the plan for an
 * account with policy p at time now.
 */
static void
make_plan(const struct policy *p, const struct lmsg *msgs, size_t nmsgs,
    const struct lrow *rows, size_t nrows, int64_t now,
    struct sync_plan *plan)
{
	struct store_entry	*ents;
	size_t			 i;

	ents = xcalloc(nrows, sizeof(*ents));
	for (i = 0; i < nrows; i++) {
		ents[i].uidl = xstrdup(rows[i].uidl);
		ents[i].state = rows[i].state;
		ents[i].size = 100;
		ents[i].first_seen = rows[i].first_seen;
		ents[i].filename = xstrdup("1700000000.M1P1.host");
	}
	plan_ents(p, msgs, nmsgs, ents, nrows, now, plan);
	store_entries_free(ents, nrows);
}

/* make_plan with the ledger entries given (sorted here); the caller
 * frees them. */
static void
plan_ents(const struct policy *p, const struct lmsg *msgs, size_t nmsgs,
    struct store_entry *ents, size_t nents, int64_t now,
    struct sync_plan *plan)
{
	struct account		 a;
	struct pop3_listing	 l;
	size_t			 i, len;

	memset(&a, 0, sizeof(a));
	a.name = xstrdup("test");
	a.keep = p->keep;
	a.delete_after_days = p->delete_after_days;
	a.max_message_size = p->max_message_size;

	memset(&l, 0, sizeof(l));
	l.count = nmsgs;
	l.msgs = xcalloc(nmsgs, sizeof(*l.msgs));
	l.poolcap = 1;
	for (i = 0; i < nmsgs; i++)
		l.poolcap += msgs[i].uidl != NULL ? strlen(msgs[i].uidl) + 1 : 0;
	l.pool = xmalloc(l.poolcap);
	for (i = 0; i < nmsgs; i++) {
		l.msgs[i].num = msgs[i].num;
		l.msgs[i].size = msgs[i].size;
		l.msgs[i].flags = POP3_MSG_LISTED;
		if (msgs[i].uidl == NULL)
			continue;
		if (msgs[i].uidl[0] == '\0') {
			l.msgs[i].flags |= POP3_MSG_BADUIDL;
			continue;
		}
		len = strlen(msgs[i].uidl);
		memcpy(l.pool + l.poollen, msgs[i].uidl, len + 1);
		l.msgs[i].uidl = l.poollen + 1;
		l.msgs[i].flags |= POP3_MSG_UIDL;
		l.poollen += len + 1;
	}
	qsort(ents, nents, sizeof(*ents), row_cmp);

	sync_plan_make(&a, &l, ents, nents, now, plan);

	/* The plan's keys point into the listing: it lives until
	 * plan_free. */
	if (nlistings == NITEMS(listings))
		fail_msg("more than %zu plans at once", NITEMS(listings));
	listings[nlistings].plan = plan;
	listings[nlistings++].l = l;
	free(a.name);
}

/* Free a plan of plan_ents, then its listing. */
static void
plan_free(struct sync_plan *plan)
{
	size_t	i;

	sync_plan_free(plan);
	for (i = 0; i < nlistings; i++)
		if (listings[i].plan == plan)
			break;
	if (i == nlistings)
		fail_msg("plan_free: no listing for this plan");
	pop3_listing_free(&listings[i].l);
	listings[i] = listings[--nlistings];
}

/* The plan's items must be exactly want, in listing order. */
static void
check_items(const char *what, const struct sync_item *got, size_t n,
    const struct want *want)
{
	size_t	nwant, i;

	for (nwant = 0; want[nwant].key != NULL; nwant++)
		;
	if (n != nwant) {
		for (i = 0; i < n; i++)
			print_message("%s got: %lu %s%s\n", what, got[i].num,
			    got[i].key, got[i].pending ? " (pending)" : "");
		fail_msg("%s: %zu items, want %zu", what, n, nwant);
	}
	for (i = 0; i < n; i++) {
		if (got[i].num != want[i].num ||
		    strcmp(got[i].key, want[i].key) != 0 ||
		    got[i].pending != want[i].pending)
			fail_msg("%s[%zu]: got %lu \"%s\" pending=%d, want %lu "
			    "\"%s\" pending=%d", what, i, got[i].num,
			    got[i].key, got[i].pending, want[i].num,
			    want[i].key, want[i].pending);
	}
}

/* The keys the plan counts as listed (the non-NULL ones, in listing
 * order) must be exactly want (NULL-terminated). */
static void
check_live(const struct sync_plan *plan, const char *const *want)
{
	size_t	i, n = 0;

	for (i = 0; i < plan->nkeys; i++) {
		if (plan->keys[i] == NULL)
			continue;
		if (want[n] == NULL)
			fail_msg("listed key %zu \"%s\" not wanted", n,
			    plan->keys[i]);
		assert_string_equal(plan->keys[i], want[n]);
		n++;
	}
	if (want[n] != NULL)
		fail_msg("key \"%s\" not listed", want[n]);
}

/* The number of keys the plan counts as listed. */
static size_t
nlisted(const struct sync_plan *plan)
{
	size_t	i, n = 0;

	for (i = 0; i < plan->nkeys; i++)
		n += plan->keys[i] != NULL;
	return n;
}

/* First sync: an empty ledger, every listed message is new. */
static void
test_first_sync(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 120, "u1" }, { 2, 70000, "u2" }, { 3, 5, "u3" },
	};
	static const struct want fetch[] = {
		{ 1, "u1", false }, { 2, "u2", false }, { 3, "u3", false },
		{ 0, NULL, false }
	};
	static const char *const live[] = { "u1", "u2", "u3", NULL };
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), NULL, 0, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	assert_int_equal(plan.dup, 0);
	plan_free(&plan);

	/* keep = false deletes what this sync fetches, not the plan. */
	make_plan(&NOKEEP, msgs, NITEMS(msgs), NULL, 0, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, NONE);
	plan_free(&plan);
}

/* Second sync: everything is delivered, nothing to do. */
static void
test_second_sync(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 120, "u1" }, { 2, 70000, "u2" }, { 3, 5, "u3" },
	};
	static const struct lrow rows[] = {
		{ "u1", STORE_DELIVERED, NOW - 60 },
		{ "u2", STORE_DELIVERED, NOW - 60 },
		{ "u3", STORE_DELIVERED, NOW - 60 },
	};
	static const char *const live[] = { "u1", "u2", "u3", NULL };
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	assert_int_equal(plan.dup, 0);
	plan_free(&plan);
}

/* One message arrived since the last sync (and the numbers moved). */
static void
test_one_new(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "a" }, { 2, 20, "new" }, { 3, 30, "c" },
	};
	static const struct lrow rows[] = {
		{ "c", STORE_DELIVERED, NOW - 60 },
		{ "a", STORE_DELIVERED, NOW - 60 },
	};
	static const struct want fetch[] = {
		{ 2, "new", false }, { 0, NULL, false }
	};
	static const char *const live[] = { "a", "new", "c", NULL };
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	plan_free(&plan);
}

/* An empty mailbox: no work, and no live key (the whole ledger goes). */
static void
test_empty(void **state)
{
	static const struct lrow rows[] = {
		{ "a", STORE_DELIVERED, NOW - 60 },
		{ "b", STORE_DELE_SENT, NOW - 60 },
	};
	static const char *const live[] = { NULL };
	struct sync_plan	 plan;

	make_plan(&NOKEEP, NULL, 0, rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	assert_int_equal(plan.dup, 0);
	plan_free(&plan);
}

/* Ledger rows the server no longer lists are not live, whatever state. */
static void
test_pruned(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "keep1" }, { 2, 20, "keep2" },
	};
	static const struct lrow rows[] = {
		{ "gone-delivered", STORE_DELIVERED, NOW - 99 * DAY },
		{ "gone-dele", STORE_DELE_SENT, NOW - 60 },
		{ "gone-fetching", STORE_FETCHING, NOW - 60 },
		{ "gone-skipped", STORE_SKIPPED, NOW - 60 },
		{ "gone-expunged", STORE_EXPUNGED, NOW - 60 },
		{ "keep1", STORE_DELIVERED, NOW - 60 },
		{ "keep2", STORE_DELIVERED, NOW - 60 },
	};
	static const struct want dele[] = {
		{ 1, "keep1", false }, { 2, "keep2", false }, { 0, NULL, false }
	};
	static const char *const live[] = { "keep1", "keep2", NULL };
	struct sync_plan	 plan;

	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	check_live(&plan, live);
	plan_free(&plan);
}

/* A row left "fetching" (its file was not found) is fetched again. */
static void
test_fetching_again(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "done" }, { 2, 20, "half" }, { 3, 30, "fresh" },
	};
	static const struct lrow rows[] = {
		{ "done", STORE_DELIVERED, NOW - 60 },
		{ "half", STORE_FETCHING, NOW - 60 },
	};
	static const struct want fetch[] = {
		{ 2, "half", true }, { 3, "fresh", false }, { 0, NULL, false }
	};
	static const struct want dele[] = {
		{ 1, "done", false }, { 0, NULL, false }
	};
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, NONE);
	plan_free(&plan);

	/* keep = false: the half-fetched one is not deleted. */
	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);
}

/*
 * max_message_size: a larger new message is skipped, one exactly that size
 * is fetched, an already skipped one is not skipped again, a skipped one
 * that fits now is fetched, a fetching one that is too large is skipped.
 */
static void
test_too_large(void **state)
{
	static const struct policy p = { true, 0, 1000 };
	static const struct lmsg msgs[] = {
		{ 1, 1001, "big-new" },
		{ 2, 1000, "limit" },
		{ 3, 5000, "big-skipped" },
		{ 4, 999, "now-fits" },
		{ 5, 2000, "big-fetching" },
		{ 6, 1, "small" },
		{ 7, 9999, "big-delivered" },
	};
	static const struct lrow rows[] = {
		{ "big-skipped", STORE_SKIPPED, NOW - 60 },
		{ "now-fits", STORE_SKIPPED, NOW - 60 },
		{ "big-fetching", STORE_FETCHING, NOW - 60 },
		{ "big-delivered", STORE_DELIVERED, NOW - 60 },
	};
	static const struct want fetch[] = {
		{ 2, "limit", false }, { 4, "now-fits", true },
		{ 6, "small", false }, { 0, NULL, false }
	};
	static const struct want skip[] = {
		{ 1, "big-new", false }, { 5, "big-fetching", false },
		{ 0, NULL, false }
	};
	static const struct want dele[] = {
		{ 7, "big-delivered", false }, { 0, NULL, false }
	};
	static const struct policy pk = { false, 0, 1000 };
	struct sync_plan	 plan;

	make_plan(&p, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, skip);
	check_items("dele", plan.dele, plan.ndele, NONE);
	assert_int_equal(nlisted(&plan), NITEMS(msgs));
	plan_free(&plan);

	/* keep = false never deletes a skipped message. */
	make_plan(&pk, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, skip);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);
}

/* keep = true (and no delete_after_days): no delivered message goes. */
static void
test_keep_true(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "old" }, { 2, 20, "young" }, { 3, 30, "new" },
	};
	static const struct lrow rows[] = {
		{ "old", STORE_DELIVERED, NOW - 3650 * DAY },
		{ "young", STORE_DELIVERED, NOW },
	};
	static const struct want fetch[] = {
		{ 3, "new", false }, { 0, NULL, false }
	};
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, NONE);
	plan_free(&plan);
}

/*
 * keep = false: every delivered message and every pending deletion, never
 * a new, fetching or skipped one.  An expunged message listed again is
 * not fetched again.
 */
static void
test_keep_false(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "new" },
		{ 2, 20, "delivered1" },
		{ 3, 30, "fetching" },
		{ 4, 40, "dele-sent" },
		{ 5, 50, "skipped" },
		{ 6, 60, "delivered2" },
		{ 7, 70, "expunged" },
	};
	static const struct lrow rows[] = {
		{ "delivered1", STORE_DELIVERED, NOW - 60 },
		{ "fetching", STORE_FETCHING, NOW - 60 },
		{ "dele-sent", STORE_DELE_SENT, NOW - 60 },
		{ "skipped", STORE_SKIPPED, NOW - 60 },
		{ "delivered2", STORE_DELIVERED, NOW },
		{ "expunged", STORE_EXPUNGED, NOW - 60 },
	};
	static const struct want fetch[] = {
		{ 1, "new", false }, { 3, "fetching", true },
		{ 5, "skipped", true }, { 0, NULL, false }
	};
	static const struct want dele[] = {
		{ 2, "delivered1", false }, { 4, "dele-sent", true },
		{ 6, "delivered2", false }, { 7, "expunged", true },
		{ 0, NULL, false }
	};
	struct sync_plan	 plan;

	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);
}

/* A deletion whose QUIT failed is sent again even with keep = true. */
static void
test_pending_deletion(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "delivered" }, { 2, 20, "dele-sent" },
	};
	static const struct lrow rows[] = {
		{ "delivered", STORE_DELIVERED, NOW - 60 },
		{ "dele-sent", STORE_DELE_SENT, NOW - 60 },
	};
	static const struct want dele[] = {
		{ 2, "dele-sent", true }, { 0, NULL, false }
	};
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);
}

/*
 * delete_after_days = 3: delivered messages first seen more than 3 days
 * before now go; exactly 3 days is not more, one second earlier is.
 * Fetching and skipped rows are never deleted, however old.
 */
static void
test_delete_after_days(void **state)
{
	static const struct policy p = { true, 3, 0 };
	static const struct lmsg msgs[] = {
		{ 1, 10, "ten-days" },
		{ 2, 10, "3d+1s" },
		{ 3, 10, "3d" },
		{ 4, 10, "3d-1s" },
		{ 5, 10, "today" },
		{ 6, 10, "old-fetching" },
		{ 7, 10, "old-skipped" },
		{ 8, 10, "new" },
		{ 9, 10, "young-dele-sent" },
	};
	static const struct lrow rows[] = {
		{ "ten-days", STORE_DELIVERED, NOW - 10 * DAY },
		{ "3d+1s", STORE_DELIVERED, NOW - 3 * DAY - 1 },
		{ "3d", STORE_DELIVERED, NOW - 3 * DAY },
		{ "3d-1s", STORE_DELIVERED, NOW - 3 * DAY + 1 },
		{ "today", STORE_DELIVERED, NOW },
		{ "old-fetching", STORE_FETCHING, NOW - 10 * DAY },
		{ "old-skipped", STORE_SKIPPED, NOW - 10 * DAY },
		{ "young-dele-sent", STORE_DELE_SENT, NOW },
	};
	static const struct want fetch[] = {
		{ 6, "old-fetching", true }, { 7, "old-skipped", true },
		{ 8, "new", false }, { 0, NULL, false }
	};
	static const struct want dele[] = {
		{ 1, "ten-days", false }, { 2, "3d+1s", false },
		{ 9, "young-dele-sent", true }, { 0, NULL, false }
	};
	static const struct want dele_later[] = {
		{ 1, "ten-days", false }, { 2, "3d+1s", false },
		{ 3, "3d", false }, { 9, "young-dele-sent", true },
		{ 0, NULL, false }
	};
	struct sync_plan	 plan;

	make_plan(&p, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);

	/* One second later, "3d" is more than 3 days old. */
	make_plan(&p, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW + 1, &plan);
	check_items("dele", plan.dele, plan.ndele, dele_later);
	plan_free(&plan);
}

/* keep = false wins over delete_after_days: every delivered one goes. */
static void
test_delete_after_days_keep_false(void **state)
{
	static const struct policy p = { false, 3, 0 };
	static const struct lmsg msgs[] = {
		{ 1, 10, "old" }, { 2, 10, "today" },
	};
	static const struct lrow rows[] = {
		{ "old", STORE_DELIVERED, NOW - 10 * DAY },
		{ "today", STORE_DELIVERED, NOW },
	};
	static const struct want dele[] = {
		{ 1, "old", false }, { 2, "today", false }, { 0, NULL, false }
	};
	struct sync_plan	 plan;

	make_plan(&p, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);
}

/* A UIDL listed twice: both fetched, under "X" and "X\n#2". */
static void
test_dup_first(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "X" }, { 2, 20, "A" }, { 3, 30, "X" },
	};
	static const struct want fetch[] = {
		{ 1, "X", false }, { 2, "A", false }, { 3, "X\n#2", false },
		{ 0, NULL, false }
	};
	static const char *const live[] = { "X", "A", "X\n#2", NULL };
	struct sync_plan	 plan;

	make_plan(&NOKEEP, msgs, NITEMS(msgs), NULL, 0, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	assert_int_equal(plan.dup, 1);
	plan_free(&plan);
}

/* Once delivered, neither copy of a repeated UIDL is ever deleted. */
static void
test_dup_delivered(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "X" }, { 2, 20, "A" }, { 3, 30, "X" },
	};
	static const struct lrow rows[] = {
		{ "X", STORE_DELIVERED, NOW - 10 * DAY },
		{ "A", STORE_DELIVERED, NOW - 10 * DAY },
		{ "X\n#2", STORE_DELIVERED, NOW - 10 * DAY },
	};
	static const struct want dele[] = {
		{ 2, "A", false }, { 0, NULL, false }
	};
	static const struct policy old = { true, 3, 0 };
	struct sync_plan	 plan;

	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	assert_int_equal(plan.dup, 1);
	plan_free(&plan);

	make_plan(&old, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, NONE);
	check_items("dele", plan.dele, plan.ndele, dele);
	plan_free(&plan);
}

/* Three copies: "X", "X\n#2", "X\n#3"; two of them count as duplicates. */
static void
test_dup_three(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "X" }, { 2, 20, "X" }, { 3, 30, "Y" }, { 4, 40, "X" },
	};
	static const struct lrow rows[] = {
		{ "X", STORE_DELIVERED, NOW - 60 },
	};
	static const struct want fetch[] = {
		{ 2, "X\n#2", false }, { 3, "Y", false }, { 4, "X\n#3", false },
		{ 0, NULL, false }
	};
	static const char *const live[] = { "X", "X\n#2", "Y", "X\n#3", NULL };
	struct sync_plan	 plan;

	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	assert_int_equal(plan.dup, 2);
	plan_free(&plan);
}

/* A UIDL that itself holds '#' counts once when repeated, not twice;
 * alone it is no duplicate at all. */
static void
test_dup_hash_in_uidl(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "a#b" }, { 2, 20, "c#1" }, { 3, 30, "a#b" },
	};
	static const struct want fetch[] = {
		{ 1, "a#b", false }, { 2, "c#1", false },
		{ 3, "a#b\n#2", false }, { 0, NULL, false }
	};
	static const char *const live[] = { "a#b", "c#1", "a#b\n#2", NULL };
	struct sync_plan	 plan;

	make_plan(&KEEP, msgs, NITEMS(msgs), NULL, 0, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_live(&plan, live);
	assert_int_equal(plan.dup, 1);
	plan_free(&plan);
}

/* A real UIDL "X#2" next to a repeated "X" keeps its own ledger row: a
 * delivered duplicate "X\n#2" neither hides it nor gets it deleted. */
static void
test_dup_no_collision(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "X" }, { 2, 20, "X" }, { 3, 30, "X #2" },
	};
	static const struct lrow rows[] = {
		{ "X", STORE_DELIVERED, NOW - 10 * DAY },
		{ "X\n#2", STORE_DELIVERED, NOW - 10 * DAY },
	};
	static const struct want fetch[] = {
		{ 3, "X #2", false }, { 0, NULL, false }
	};
	static const struct want none[] = { { 0, NULL, false } };
	struct sync_plan	 plan;

	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, none);
	plan_free(&plan);
}

/*
 * A message LIST shows and UIDL does not: never fetched, recorded, matched
 * or deleted, even with keep = false and a ledger row that another
 * message's missing UIDL could have matched in the old code.
 */
static void
test_one_listing(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "A" }, { 2, 20, NULL }, { 3, 30, "B" },
	};
	static const struct lrow rows[] = {
		{ "A", STORE_DELIVERED, NOW - DAY },
		{ "", STORE_DELIVERED, NOW - DAY },
	};
	static const struct want fetch[] = {
		{ 3, "B", false }, { 0, NULL, false }
	};
	static const struct want dele[] = {
		{ 1, "A", false }, { 0, NULL, false }
	};
	static const char *const live[] = { "A", "B", NULL };
	struct sync_plan	 plan;

	(void)state;
	make_plan(&NOKEEP, msgs, NITEMS(msgs), rows, NITEMS(rows), NOW,
	    &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, dele);
	check_live(&plan, live);
	assert_int_equal(plan.list_only, 1);
	plan_free(&plan);
}

/* An unusable UIDL costs only its own message. */
static void
test_bad_uidl(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "" }, { 2, 20, "a UIDL with spaces, \xc3\xa9" },
	};
	static const struct want fetch[] = {
		{ 2, "a UIDL with spaces, \xc3\xa9", false }, { 0, NULL, false }
	};
	struct sync_plan	 plan;

	(void)state;
	make_plan(&NOKEEP, msgs, NITEMS(msgs), NULL, 0, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, NONE);
	assert_int_equal(plan.bad_uidl, 1);
	assert_int_equal(nlisted(&plan), 1);
	plan_free(&plan);
}

/* A failed message is fetched again once its retry is due, not before. */
static void
test_failed_retry(void **state)
{
	static const struct lmsg msgs[] = {
		{ 1, 10, "due" }, { 2, 20, "wait" }, { 3, 30, "new" },
	};
	static const struct want fetch[] = {
		{ 1, "due", true }, { 3, "new", false }, { 0, NULL, false }
	};
	static const char *const live[] = { "due", "wait", "new", NULL };
	struct store_entry	*ents;
	struct sync_plan	 plan;

	(void)state;
	ents = xcalloc(2, sizeof(*ents));
	ents[0].uidl = xstrdup("due");
	ents[0].state = STORE_FAILED;
	ents[0].failures = 1;
	ents[1].uidl = xstrdup("wait");
	ents[1].state = STORE_FAILED;
	ents[1].failures = 3;
	ents[1].waiting = true;
	plan_ents(&NOKEEP, msgs, NITEMS(msgs), ents, 2, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("dele", plan.dele, plan.ndele, NONE);
	check_live(&plan, live);
	assert_int_equal(plan.waiting, 1);
	plan_free(&plan);
	store_entries_free(ents, 2);
}

/*
 * A message cut off while it streamed (recorded skipped with the size it
 * reached) is not fetched again while it would reach its cutoff again;
 * one skipped for LIST's size is fetched once max_message_size allows it.
 */
static void
test_cut_off_before(void **state)
{
	static const struct policy big = { true, 0, 1000000 };
	static const struct lmsg msgs[] = {
		{ 1, 100, "liar" }, { 2, 100, "capped" }, { 3, 900000, "fits" },
	};
	static const struct want fetch[] = {
		{ 3, "fits", true }, { 0, NULL, false }
	};
	struct store_entry	*ents;
	struct sync_plan	 plan;
	struct account		 a;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(sync_cutoff(&a, 100), 200 + 1024 * 1024);
	a.max_message_size = 5000;
	assert_int_equal(sync_cutoff(&a, 100), 5000);
	assert_int_equal(sync_cutoff(&a, ULLONG_MAX), 5000);
	a.max_message_size = 0;
	assert_int_equal(sync_cutoff(&a, ULLONG_MAX), ULLONG_MAX);

	ents = xcalloc(3, sizeof(*ents));
	ents[0].uidl = xstrdup("liar");
	ents[0].state = STORE_SKIPPED;
	ents[0].size = 200 + 1024 * 1024 + 1;
	ents[1].uidl = xstrdup("capped");
	ents[1].state = STORE_SKIPPED;
	ents[1].size = 1000001;
	ents[2].uidl = xstrdup("fits");
	ents[2].state = STORE_SKIPPED;
	ents[2].size = 900000;
	plan_ents(&big, msgs, NITEMS(msgs), ents, 3, NOW, &plan);
	check_items("fetch", plan.fetch, plan.nfetch, fetch);
	check_items("skip", plan.skip, plan.nskip, NONE);
	plan_free(&plan);
	store_entries_free(ents, 3);
}

int
main(void)
{
	const struct CMUnitTest plan_tests[] = {
		cmocka_unit_test(test_first_sync),
		cmocka_unit_test(test_second_sync),
		cmocka_unit_test(test_one_new),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_pruned),
		cmocka_unit_test(test_fetching_again),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_keep_true),
		cmocka_unit_test(test_keep_false),
		cmocka_unit_test(test_pending_deletion),
		cmocka_unit_test(test_delete_after_days),
		cmocka_unit_test(test_delete_after_days_keep_false),
		cmocka_unit_test(test_dup_first),
		cmocka_unit_test(test_dup_delivered),
		cmocka_unit_test(test_dup_three),
		cmocka_unit_test(test_dup_hash_in_uidl),
		cmocka_unit_test(test_dup_no_collision),
		cmocka_unit_test(test_one_listing),
		cmocka_unit_test(test_bad_uidl),
		cmocka_unit_test(test_failed_retry),
		cmocka_unit_test(test_cut_off_before),
	};

	return cmocka_run_group_tests_name("sync_plan_make", plan_tests, NULL,
	    NULL);
}
