/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/*
 * The listing row of bench/run.sh --targets: how long popsyncd's own
 * pop3_list and pop3_uidl take to read and parse the LIST and UIDL
 * replies of a mailbox of N messages, and what the listing costs in
 * memory.  The replies come from memory through a conn transport, so
 * only the parsing is timed, not a server.  Links libpopsync.a.
 *
 * Usage: listing N
 * Prints "listing: N messages, LIST+UIDL parsed in S s, listing B bytes".
 */

#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "err.h"
#include "pop3.h"
#include "util.h"
#include "xmalloc.h"

struct script {
	char	*data;
	size_t	 len, pos;
};

static ssize_t	listing_read(void *, void *, size_t, int, struct err *);
static int	listing_write(void *, const void *, size_t, int, struct err *);
static void	listing_close(void *);

static const struct conn_transport listing_transport = {
	"listing", listing_read, listing_write, listing_close
};

static ssize_t
listing_read(void *ctx, void *buf, size_t len, int timeout_ms, struct err *e)
{
	struct script	*s = ctx;

	(void)timeout_ms;
	(void)e;
	if (len > s->len - s->pos)
		len = s->len - s->pos;
	memcpy(buf, s->data + s->pos, len);
	s->pos += len;
	return (ssize_t)len;
}

static int
listing_write(void *ctx, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	(void)ctx;
	(void)buf;
	(void)len;
	(void)timeout_ms;
	(void)e;
	return 0;
}

static void
listing_close(void *ctx)
{
	struct script	*s = ctx;

	free(s->data);
	free(s);
}

int
main(int argc, char **argv)
{
	struct script		*s;
	struct conn_params	 cp;
	struct pop3_params	 pp;
	struct pop3_listing	 l;
	struct pop3		*p;
	struct err		 e;
	struct timespec		 t0, t1;
	unsigned long		 i, n;
	size_t			 cap, off;

	if (argc != 2 || (n = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: listing N\n");
		return 2;
	}
	/* Dovecot's replies: UIDL as its %08Xu%08Xv format makes them. */
	s = xcalloc(1, sizeof(*s));
	cap = 64 + n * 48;
	s->data = xmalloc(cap);
	off = (size_t)snprintf(s->data, cap, "+OK ready\r\n+OK\r\n+OK\r\n"
	    "+OK %lu messages:\r\n", n);
	for (i = 1; i <= n; i++)
		off += (size_t)snprintf(s->data + off, cap - off,
		    "%lu %lu\r\n", i, 2048 + i % 4096);
	off += (size_t)snprintf(s->data + off, cap - off, ".\r\n+OK\r\n");
	for (i = 1; i <= n; i++)
		off += (size_t)snprintf(s->data + off, cap - off,
		    "%lu %08lX%08X\r\n", i, i, 0x6560c6d0U);
	off += (size_t)snprintf(s->data + off, cap - off, ".\r\n");
	s->len = off;

	memset(&cp, 0, sizeof(cp));
	cp.timeout_ms = 1000;
	memset(&pp, 0, sizeof(pp));
	pp.name = "bench";
	p = pop3_new(conn_new(&listing_transport, s, &cp), &pp);
	memset(&l, 0, sizeof(l));
	if (pop3_greeting(p, &e) < 0 || pop3_user(p, "u", &e) < 0 ||
	    pop3_pass(p, "p", &e) < 0) {
		fprintf(stderr, "listing: %s\n", e.msg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pop3_list(p, &l, &e) < 0 || pop3_uidl(p, &l, &e) < 0) {
		fprintf(stderr, "listing: %s\n", e.msg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (l.count != n) {
		fprintf(stderr, "listing: %zu messages parsed, not %lu\n",
		    l.count, n);
		return 1;
	}
	printf("listing: %lu messages, LIST+UIDL parsed in %.3f s, "
	    "listing %zu bytes\n", n, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    l.count * sizeof(*l.msgs));
	pop3_listing_free(&l);
	pop3_free(p);
	return 0;
}
