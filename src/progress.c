/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The --once progress line and the per-account summary line. */

#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "progress.h"
#include "xmalloc.h"

/* Redraw the progress line at most this often. */
#define PROGRESS_MS	200

/* One account's slot. */
struct progress_slot {
	const char		*name;
	bool			 running;
	int64_t			 start_ms;
	struct sync_progress	 pr;
};

struct progress {
	FILE			*fp;
	struct progress_slot	*slots;
	size_t			 nslots;
	int64_t			 drawn_ms;
};

static void	 progress_draw(struct progress *, int64_t, bool);

struct progress *
progress_new(FILE *fp, size_t naccounts)
{
	struct progress	*p;

	p = xcalloc(1, sizeof(*p));
	p->fp = fp;
	p->nslots = naccounts;
	p->slots = xcalloc(naccounts == 0 ? 1 : naccounts, sizeof(*p->slots));
	return p;
}

void
progress_free(struct progress *p)
{
	if (p == NULL)
		return;
	fputs("\r\033[K", p->fp);
	fflush(p->fp);
	free(p->slots);
	free(p);
}

void
progress_start(struct progress *p, size_t slot, const char *name,
    int64_t now_ms)
{
	p->slots[slot].name = name;
	p->slots[slot].running = true;
	p->slots[slot].start_ms = now_ms;
}

void
progress_update(struct progress *p, size_t slot,
    const struct sync_progress *pr, int64_t now_ms)
{
	p->slots[slot].pr = *pr;
	progress_draw(p, now_ms, false);
}

void
progress_end(struct progress *p, size_t slot, int64_t now_ms)
{
	p->slots[slot].running = false;
	progress_draw(p, now_ms, true);
}

void
progress_bytes(char *buf, size_t len, double b)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	size_t			 u = 0;

	while (b >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		b /= 1000;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

void
progress_summary(char *buf, size_t len, const char *name,
    const struct sync_result *r, int64_t ms)
{
	char	b[32];

	progress_bytes(b, sizeof(b), (double)r->bytes);
	snprintf(buf, len, "%s: %zu new, %zu skipped, %zu deleted, %zu error%s "
	    "(%s in %.1f s)", name, r->fetched + r->recovered, r->skipped,
	    r->deleted, r->errors, r->errors == 1 ? "" : "s", b,
	    (double)ms / 1000);
}

/* Redraw the progress line, at most every PROGRESS_MS unless forced. */
static void
progress_draw(struct progress *p, int64_t now, bool force)
{
	struct progress_slot	*s;
	char			 b[32], rate[32];
	size_t			 i;
	bool			 any = false;

	if (!force && now - p->drawn_ms < PROGRESS_MS)
		return;
	p->drawn_ms = now;
	fputs("\r\033[K", p->fp);
	for (i = 0; i < p->nslots; i++) {
		s = &p->slots[i];
		if (!s->running)
			continue;
		progress_bytes(b, sizeof(b), (double)s->pr.bytes);
		progress_bytes(rate, sizeof(rate), now > s->start_ms ?
		    (double)s->pr.bytes * 1000 / (double)(now - s->start_ms) :
		    0);
		fprintf(p->fp, "%s%s %zu/%zu %s %s/s", any ? " | " : "",
		    s->name, s->pr.done, s->pr.total, b, rate);
		any = true;
	}
	fflush(p->fp);
}
