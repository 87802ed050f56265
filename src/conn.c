/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Buffered connection over a transport, with sliced timeouts and STARTTLS. */

#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "waiter.h"
#include "xmalloc.h"

/* The context of the built-in socket transports (plain and TLS). */
struct conn_sock {
	int		 fd;
	struct tls	*tls;		/* NULL until STARTTLS */
	size_t		 woff;		/* sent of a write that timed out */
};

struct conn {
	const struct conn_transport	*t;
	void				*ctx;
	struct conn_sock		*sock;	/* ctx if built in */
	struct waiter			 w;	/* every wait goes through it */
	struct buf			 in;
};

static ssize_t	conn_plain_read(void *ctx, void *buf, size_t len,
		    int timeout_ms, struct err *e);
static int	conn_plain_write(void *ctx, const void *buf, size_t len,
		    int timeout_ms, struct err *e);
static void	conn_plain_close(void *ctx);
static ssize_t	conn_tls_read(void *ctx, void *buf, size_t len,
		    int timeout_ms, struct err *e);
static int	conn_tls_write(void *ctx, const void *buf, size_t len,
		    int timeout_ms, struct err *e);
static void	conn_tls_close(void *ctx);
static void	conn_waiter_init(struct waiter *w,
		    const struct conn_params *params);
static int	conn_progress(struct conn *c, struct err *e);
static int	conn_empty(struct conn *c, int64_t since, struct err *e);
static int	conn_fill(struct conn *c, struct err *e);

static const struct conn_transport conn_plain_transport = {
	"plain", conn_plain_read, conn_plain_write, conn_plain_close
};

static const struct conn_transport conn_tls_transport = {
	"tls", conn_tls_read, conn_tls_write, conn_tls_close
};

/* Read what the socket has, waiting at most once for it to become ready. */
static ssize_t
conn_plain_read(void *ctx, void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	struct conn_sock	*s = ctx;
	ssize_t			 n;
	int			 r;

	for (r = 0;; r = 1) {
		if ((n = read(s->fd, buf, len)) >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, E_IO, "read: %s", strerror(errno));
		/* A signal, or nothing even after one wait, counts as a
		 * timed-out slice: the caller loops and checks its flags. */
		if (errno == EINTR || r == 1)
			return E_TIMEOUT;
		if ((r = net_wait(s->fd, 0, timeout_ms, e)) < 0)
			return r;
		if (r == 0)
			return E_TIMEOUT;
	}
}

/*
 * Send all of buf.  After E_TIMEOUT the connection calls again with the same
 * arguments, so the part already sent is remembered in woff.
 */
static int
conn_plain_write(void *ctx, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	struct conn_sock	*s = ctx;
	const char		*p = buf;
	ssize_t			 n;
	int			 r;

	while (s->woff < len) {
		/* MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE. */
		n = send(s->fd, p + s->woff, len - s->woff, MSG_NOSIGNAL);
		if (n >= 0) {
			s->woff += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			s->woff = 0;
			return err_set(e, E_IO, "write: %s", strerror(errno));
		}
		if ((r = net_wait(s->fd, 1, timeout_ms, e)) < 0) {
			s->woff = 0;
			return r;
		}
		if (r == 0)
			return E_TIMEOUT;
	}
	s->woff = 0;
	return 0;
}

static void
conn_plain_close(void *ctx)
{
	struct conn_sock	*s = ctx;

	close(s->fd);
	free(s);
}

/*
 * TLS read.  Bytes OpenSSL has already decrypted (tls_pending) are not
 * visible to poll(); tls_read tries SSL_read before it polls, so they are
 * returned at once rather than waiting on a quiet socket.
 */
static ssize_t
conn_tls_read(void *ctx, void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	struct conn_sock	*s = ctx;

	return tls_read(s->tls, buf, len, timeout_ms, e);
}

/* TLS write; OpenSSL itself resumes a write retried with the same bytes. */
static int
conn_tls_write(void *ctx, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	struct conn_sock	*s = ctx;

	return tls_write(s->tls, buf, len, timeout_ms, e);
}

static void
conn_tls_close(void *ctx)
{
	struct conn_sock	*s = ctx;

	tls_free(s->tls);
	s->tls = NULL;
	conn_plain_close(s);
}

struct conn *
conn_new(const struct conn_transport *t, void *ctx,
    const struct conn_params *params)
{
	struct conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->t = t;
	c->ctx = ctx;
	conn_waiter_init(&c->w, params);
	buf_init(&c->in, CONN_CHUNK);
	return c;
}

/* A waiter with the hook, flags and timeout of params (may be NULL). */
static void
conn_waiter_init(struct waiter *w, const struct conn_params *params)
{
	memset(w, 0, sizeof(*w));
	if (params != NULL) {
		w->timeout_ms = params->timeout_ms;
		w->idle = params->idle;
		w->idle_arg = params->idle_arg;
		w->stop = params->stop_flag;
		w->abort = params->abort_flag;
	}
	w->timeout_ms = waiter_timeout(w);
	w->idle_ms = util_now_ms();
}

int
conn_connect(const char *host, int port, const struct conn_params *params,
    struct conn **out, struct err *e)
{
	struct conn_sock	*s;
	struct waiter		 w;
	int			 fd;

	*out = NULL;
	conn_waiter_init(&w, params);
	if ((fd = net_connect(host, port, &w, e)) < 0)
		return fd;
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	*out = conn_new(&conn_plain_transport, s, params);
	(*out)->sock = s;
	return 0;
}

int
conn_starttls(struct conn *c, const struct tls_params *tp, struct err *e)
{
	int	rc;

	/* Anything buffered now came before the handshake, in cleartext, and
	 * would later be read as if the TLS session had carried it. */
	if (buf_len(&c->in) > 0)
		return err_set(e, E_PROTO, "server sent %zu unexpected bytes "
		    "before the TLS handshake (possible command injection)",
		    buf_len(&c->in));
	if (c->sock == NULL || c->sock->tls != NULL)
		return err_set(e, E_TLS, "cannot start TLS on a %s "
		    "connection", c->t->name);
	if ((rc = tls_start(c->sock->fd, tp, &c->w, &c->sock->tls, e)) < 0)
		return rc;
	c->t = &conn_tls_transport;
	return 0;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->sock != NULL && c->sock->tls != NULL;
}

bool
conn_tls_info(const struct conn *c, struct tls_info *info)
{
	if (!conn_is_tls(c))
		return false;
	tls_get_info(c->sock->tls, info);
	return true;
}

/*
 * After data moved: feed the idle hook, and end the work a slice after a
 * stop was first seen even while data keeps coming (a server trickling a
 * line a second never leaves a slice empty).
 */
static int
conn_progress(struct conn *c, struct err *e)
{
	int	rc;

	if ((rc = waiter_progress(&c->w, e)) < 0)
		return err_set(e, rc, "interrupted while the server was still "
		    "sending");
	return 0;
}

/* After a slice without progress since since: the waiter's checks, with
 * this module's words. */
static int
conn_empty(struct conn *c, int64_t since, struct err *e)
{
	int	ms = c->w.timeout_ms, rc;

	if ((rc = waiter_empty(&c->w, since, e)) == E_ABORT)
		return err_set(e, E_ABORT, "interrupted while waiting for "
		    "the server");
	if (rc != E_TIMEOUT)
		return rc;
	if (ms % 1000 == 0)
		return err_set(e, E_TIMEOUT, "timed out: no response from "
		    "the server for %d s", ms / 1000);
	return err_set(e, E_TIMEOUT, "timed out: no response from the "
	    "server for %d ms", ms);
}

/* Read once into the input buffer.  Returns 1, 0 at end of stream, or a
 * negative code. */
static int
conn_fill(struct conn *c, struct err *e)
{
	int64_t	 since = util_now_ms();
	ssize_t	 n;
	size_t	 avail;
	char	*p;
	int	 rc;

	for (;;) {
		if ((rc = conn_progress(c, e)) < 0)
			return rc;
		p = buf_space(&c->in, CONN_CHUNK, &avail);
		n = c->t->read(c->ctx, p, avail, waiter_slice(&c->w, since), e);
		if (n > 0) {
			buf_commit(&c->in, (size_t)n);
			return 1;
		}
		if (n == 0)
			return 0;
		if (n != E_TIMEOUT)
			return (int)n;
		if ((rc = conn_empty(c, since, e)) < 0)
			return rc;
	}
}

int
conn_readline(struct conn *c, char **line, size_t *len, struct err *e)
{
	const char	*data;
	size_t		 n;
	char		*l;
	int		 rc;

	for (;;) {
		if ((l = buf_getline(&c->in, &n)) != NULL) {
			if (n > CONN_LINE_MAX)
				break;
			*line = l;
			if (len != NULL)
				*len = n;
			return 0;
		}
		/* No LF yet: stop as soon as the line cannot fit, rather than
		 * buffering whatever a hostile server keeps sending.  One more
		 * byte than the cap is fine if it is the CR of a CRLF. */
		n = buf_len(&c->in);
		data = buf_data(&c->in);
		if (n > CONN_LINE_MAX + 1 ||
		    (n == CONN_LINE_MAX + 1 && data[n - 1] != '\r'))
			break;
		if ((rc = conn_fill(c, e)) < 0)
			return rc;
		if (rc == 0)
			return err_set(e, E_IO, "connection closed by server");
	}
	return err_set(e, E_PROTO, "line too long (more than %d bytes)",
	    CONN_LINE_MAX);
}

int
conn_read_chunk(struct conn *c, const char **data, size_t *len,
    struct err *e)
{
	size_t	n;
	int	rc;

	if (buf_len(&c->in) == 0) {
		if ((rc = conn_fill(c, e)) < 0)
			return rc;
		if (rc == 0)
			return err_set(e, E_IO, "connection closed by server");
	}
	n = buf_len(&c->in);
	*data = buf_data(&c->in);
	*len = n > CONN_CHUNK ? CONN_CHUNK : n;
	return 0;
}

void
conn_consume(struct conn *c, size_t n)
{
	buf_drop(&c->in, n);
}

int
conn_write(struct conn *c, const void *data, size_t len, struct err *e)
{
	const char	*p = data;
	int64_t		 since = util_now_ms();
	size_t		 off = 0, piece;
	int		 rc;

	/* In pieces, so that each finished piece counts as progress. */
	while (off < len) {
		if ((rc = conn_progress(c, e)) < 0)
			return rc;
		piece = len - off > CONN_CHUNK ? CONN_CHUNK : len - off;
		rc = c->t->write(c->ctx, p + off, piece,
		    waiter_slice(&c->w, since), e);
		if (rc == 0) {
			off += piece;
			since = util_now_ms();
			continue;
		}
		if (rc != E_TIMEOUT)
			return rc;
		if ((rc = conn_empty(c, since, e)) < 0)
			return rc;
	}
	return 0;
}

void
conn_set_timeout(struct conn *c, int timeout_ms)
{
	c->w.timeout_ms = timeout_ms;
	c->w.timeout_ms = waiter_timeout(&c->w);
}

void
conn_hold(struct conn *c, bool hold)
{
	c->w.hold = hold;
}

bool
conn_stop_requested(const struct conn *c)
{
	return (c->w.stop != NULL && *c->w.stop) ||
	    (c->w.abort != NULL && *c->w.abort);
}

int
conn_busy(struct conn *c, struct err *e)
{
	return waiter_progress(&c->w, e);
}

struct waiter *
conn_waiter(struct conn *c)
{
	return &c->w;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->t->close != NULL)
		c->t->close(c->ctx);
	buf_release(&c->in);
	free(c);
}
