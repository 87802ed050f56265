/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The --once progress line and the per-account summary line. */

#include "autoconf.h"

#include <sys/ioctl.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "progress.h"
#include "xmalloc.h"

/* Redraw at most this often. */
#define PROGRESS_MS	200
/* The width when the terminal does not say. */
#define PROGRESS_COLS	80

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
	size_t			 drawn;		/* lines on the screen */
};

static void	 progress_draw(struct progress *, int64_t, bool);
static void	 progress_erase(struct progress *);
static int	 progress_cols(FILE *);
static void	 progress_line(char *, size_t, const struct progress_slot *,
		    int64_t);

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
	progress_erase(p);
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

/* The terminal's width in columns (TIOCGWINSZ), asked at each redraw. */
static int
progress_cols(FILE *fp)
{
	struct winsize	ws;

	if (ioctl(fileno(fp), TIOCGWINSZ, &ws) == -1 || ws.ws_col == 0)
		return PROGRESS_COLS;
	return ws.ws_col;
}

/*
 * One account's line: "work  12/40  3.4 MB of 9.1 MB  1.2 MB/s  0:05 left".
 * The byte total and the estimate need the LIST sizes.
 */
static void
progress_line(char *buf, size_t len, const struct progress_slot *s,
    int64_t now)
{
	char		b[32], tot[32], rate[32];
	double		bps, left;
	long		eta;
	int		n;

	if (s->pr.total == 0) {
		snprintf(buf, len, "%s  connecting", s->name);
		return;
	}
	progress_bytes(b, sizeof(b), (double)s->pr.bytes);
	bps = now > s->start_ms ?
	    (double)s->pr.bytes * 1000 / (double)(now - s->start_ms) : 0;
	progress_bytes(rate, sizeof(rate), bps);
	if (s->pr.total_bytes == 0) {
		snprintf(buf, len, "%s  %zu/%zu  %s  %s/s", s->name,
		    s->pr.done, s->pr.total, b, rate);
		return;
	}
	progress_bytes(tot, sizeof(tot), (double)s->pr.total_bytes);
	n = snprintf(buf, len, "%s  %zu/%zu  %s of %s  %s/s", s->name,
	    s->pr.done, s->pr.total, b, tot, rate);
	if (n < 0 || (size_t)n >= len || bps <= 0)
		return;
	/* LIST sizes count CRLF, the bytes written LF: never below 0. */
	left = s->pr.total_bytes > s->pr.bytes ?
	    (double)(s->pr.total_bytes - s->pr.bytes) : 0;
	eta = (long)(left / bps + 0.5);
	if (eta >= 3600)
		snprintf(buf + n, len - (size_t)n, "  %ld:%02ld:%02ld left",
		    eta / 3600, eta / 60 % 60, eta % 60);
	else
		snprintf(buf + n, len - (size_t)n, "  %ld:%02ld left", eta / 60,
		    eta % 60);
}

/* Take what was drawn off the screen, leaving the cursor where it began. */
static void
progress_erase(struct progress *p)
{
	if (p->drawn > 1)
		fprintf(p->fp, "\033[%zuA", p->drawn - 1);
	if (p->drawn > 0)
		fputs("\r\033[J", p->fp);
	p->drawn = 0;
}

/*
 * Redraw one line per running account in place, each cut to the width so
 * that none wraps (a wrapped line would leave a stale one behind); at most
 * every PROGRESS_MS unless forced.
 */
static void
progress_draw(struct progress *p, int64_t now, bool force)
{
	char	line[512];
	size_t	i, cols;

	if (!force && now - p->drawn_ms < PROGRESS_MS)
		return;
	p->drawn_ms = now;
	cols = (size_t)progress_cols(p->fp);
	/* The last column stays empty: writing it may wrap at once. */
	if (cols > sizeof(line))
		cols = sizeof(line);
	progress_erase(p);
	for (i = 0; i < p->nslots; i++) {
		if (!p->slots[i].running)
			continue;
		progress_line(line, cols, &p->slots[i], now);
		fprintf(p->fp, "%s%s", p->drawn > 0 ? "\n" : "", line);
		p->drawn++;
	}
	fflush(p->fp);
}
