/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_CONN_H
#define POPSYNC_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <signal.h>

#include "err.h"
#include "tls.h"
#include "waiter.h"

/*
 * A buffered connection over a pluggable transport (plain socket, TLS, or a
 * test script), with every read and write under a timeout.
 *
 * Every wait, from name resolution and connect to the last read, goes
 * through one struct waiter (waiter.h): slices of at most one second,
 * between which the idle hook runs, so a long RETR keeps feeding the
 * systemd watchdog, and the stop flags are checked.  The hook also runs
 * while data moves.  The total timeout counts from the last byte of
 * progress, not from the call (from the start for connect and handshake).
 *
 * The connection does not log protocol lines: pop3.c does, because only it
 * knows which ones carry secrets.
 */

/* Command and status lines are capped: RFC 2449 allows 512 octets for a
 * response line and 255 for a command; 8 KiB leaves room for long SASL
 * challenges and rude servers while bounding memory. */
#define CONN_LINE_MAX	8192

/* How much body data one conn_read_chunk() hands out at most. */
#define CONN_CHUNK	16384

/*
 * A transport.  read returns the count (> 0), 0 at end of stream, E_TIMEOUT
 * when nothing came within timeout_ms (or a signal cut the wait short), or
 * another negative code; write sends everything or fails.  After a write's
 * E_TIMEOUT the connection calls write again with the same bytes and
 * length, so a transport that sent part of them must resume (OpenSSL's
 * SSL_write rule).  timeout_ms is one slice of at most a second.  close
 * releases ctx (and the fd it owns).
 */
struct conn_transport {
	const char	*name;
	ssize_t		(*read)(void *ctx, void *buf, size_t len,
			    int timeout_ms, struct err *e);
	int		(*write)(void *ctx, const void *buf, size_t len,
			    int timeout_ms, struct err *e);
	void		(*close)(void *ctx);
};

struct conn_params {
	int	  timeout_ms;		/* per wait without progress */
	void	(*idle)(void *arg);	/* called between wait slices */
	void	 *idle_arg;
	/* Set by a signal handler to give up now: a wait returns E_ABORT
	 * after its next empty slice, and any read or write once the flag
	 * has been seen for a slice (a trickling server cannot hold us). */
	const atomic_int *abort_flag;
	/* Set by a signal handler to stop after the current message: the
	 * same as abort_flag, except while conn_hold is on. */
	const atomic_int *stop_flag;
};

struct conn;

/*
 * conn_new: a connection over transport t with context ctx, which the
 * connection then owns (t->close runs in conn_free).
 */
struct conn *conn_new(const struct conn_transport *t, void *ctx,
	    const struct conn_params *params);

/*
 * conn_connect: a plain TCP connection to host:port (see net_connect).
 * Errors: E_IO, E_TIMEOUT.
 */
int	 conn_connect(const char *host, int port,
	    const struct conn_params *params, struct conn **out, struct err *e);

/*
 * conn_starttls: switch a plain connection to TLS.  Refused with E_PROTO if
 * the server already sent bytes we have not read (they arrived in cleartext
 * and could be injected: CVE-2011-0411 class).  Only for connections made
 * by conn_connect.  Errors: E_PROTO, E_TLS, E_TIMEOUT, E_IO.
 */
int	 conn_starttls(struct conn *c, const struct tls_params *tp,
	    struct err *e);

/* conn_is_tls: whether the link is encrypted now. */
bool	 conn_is_tls(const struct conn *c);

/* conn_tls_info: TLS details for --probe; false on a plain link. */
bool	 conn_tls_info(const struct conn *c, struct tls_info *info);

/*
 * conn_readline: the next line, without its CRLF or LF, NUL-terminated.
 * The pointer is valid until the next conn_read* call.  A line longer than
 * CONN_LINE_MAX is E_PROTO "line too long"; end of stream before a full line
 * is E_IO "connection closed by server".
 * Errors: E_PROTO, E_IO, E_TIMEOUT, E_TLS, E_ABORT.
 */
int	 conn_readline(struct conn *c, char **line, size_t *len, struct err *e);

/*
 * conn_read_chunk: the buffered raw bytes (reading once if none are
 * buffered), at most CONN_CHUNK; they stay buffered until conn_consume().
 * For message bodies, whose lines have no length limit.
 * Errors: as conn_readline, minus "line too long".
 */
int	 conn_read_chunk(struct conn *c, const char **data, size_t *len,
	    struct err *e);

/* conn_consume: drop n bytes returned by conn_read_chunk. */
void	 conn_consume(struct conn *c, size_t n);

/*
 * conn_write: send len bytes.  After an error the stream may hold part of
 * them: only conn_free is left to do.
 * Errors: E_IO, E_TIMEOUT, E_TLS, E_ABORT.
 */
int	 conn_write(struct conn *c, const void *data, size_t len,
	    struct err *e);

/* conn_set_timeout: change the per-wait timeout. */
void	 conn_set_timeout(struct conn *c, int timeout_ms);

/*
 * conn_hold: while on, the stop flag does not end waits (a message is
 * being written and is finished first); the abort flag still does.
 */
void	 conn_hold(struct conn *c, bool hold);

/* conn_stop_requested: whether the stop or the abort flag is set. */
bool	 conn_stop_requested(const struct conn *c);

/*
 * conn_busy: call every so often during CPU-bound work on what was read
 * (a long listing): feeds the idle hook at most every WAITER_BEAT_MS and
 * ends the work a slice after a flag was seen (as conn_hold allows).
 * Errors: E_ABORT.
 */
int	 conn_busy(struct conn *c, struct err *e);

/*
 * conn_waiter: the connection's waiter, for a step that is not I/O on the
 * connection but belongs to its session (password_command): it then waits
 * with the same hook, flags and timeout.  Valid until conn_free.
 */
struct waiter *conn_waiter(struct conn *c);

/* conn_free: close the transport and free everything; accepts NULL. */
void	 conn_free(struct conn *c);

#endif
