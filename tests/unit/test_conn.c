/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for conn.c over a scripted transport, net.c on loopback and
 * tls.c against a throwaway CA and "openssl s_server". */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "err.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The scripted transport: reads follow a list of steps, writes are
 * collected.  It records what the connection asked of it.
 */

enum step_kind {
	ST_DATA,	/* hand out data (in pieces of at most maxread) */
	ST_FILL,	/* hand out len bytes of 'x' */
	ST_TIMEOUT,	/* sleep min(sleep_ms, slice), E_TIMEOUT, next step */
	ST_STALL,	/* the same, but stay on this step for ever */
	ST_ERROR	/* E_TLS "scripted failure" */
};

struct step {
	enum step_kind	 kind;
	const char	*data;
	size_t		 len;
	int		 sleep_ms;
};

struct script {
	struct step	 steps[8];
	size_t		 nsteps;
	size_t		 pos;
	size_t		 off;
	size_t		 maxread;	/* 0: as much as the connection asks */
	int		 read_delay_ms;	/* before handing out data */
	size_t		 nread;		/* bytes handed out */
	int		 reads;
	int		 first_slice;
	int		 max_slice;

	char		*out;		/* bytes written */
	size_t		 outlen;
	int		 writes;
	size_t		 max_piece;
	int		 write_timeouts; /* E_TIMEOUT this often, then accept */
	int		 piece_timeouts; /* the same before every piece */
	bool		 write_stall;	/* E_TIMEOUT for ever */
	bool		 write_error;	/* E_IO */
	const void	*pend_buf;	/* the write that timed out */
	size_t		 pend_len;
	int		 resumed_same;	/* retries with the same bytes */
	int		 resumed_other;

	int		 closed;
};

static int				 idle_calls;
static int				 abort_at; /* idle call to set it */
static atomic_int		 abort_flag;

static void
sleep_ms(int ms)
{
	struct timespec	ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static ssize_t
script_read(void *ctx, void *buf, size_t len, int timeout_ms, struct err *e)
{
	struct script	*s = ctx;
	struct step	*st;
	size_t		 n;

	s->reads++;
	if (s->first_slice == 0)
		s->first_slice = timeout_ms;
	if (timeout_ms > s->max_slice)
		s->max_slice = timeout_ms;
	if (s->pos == s->nsteps)
		return 0;
	st = &s->steps[s->pos];
	switch (st->kind) {
	case ST_TIMEOUT:
	case ST_STALL:
		sleep_ms(st->sleep_ms < timeout_ms ? st->sleep_ms : timeout_ms);
		if (st->kind == ST_TIMEOUT)
			s->pos++;
		return E_TIMEOUT;
	case ST_ERROR:
		s->pos++;
		return err_set(e, E_TLS, "scripted failure");
	case ST_DATA:
	case ST_FILL:
		break;
	}
	if (s->read_delay_ms > 0)
		sleep_ms(s->read_delay_ms);
	n = st->len - s->off;
	if (n > len)
		n = len;
	if (s->maxread > 0 && n > s->maxread)
		n = s->maxread;
	if (st->kind == ST_DATA)
		memcpy(buf, st->data + s->off, n);
	else
		memset(buf, 'x', n);
	s->off += n;
	s->nread += n;
	if (s->off == st->len) {
		s->pos++;
		s->off = 0;
	}
	return (ssize_t)n;
}

static int
script_write(void *ctx, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	struct script	*s = ctx;

	s->writes++;
	if (len > s->max_piece)
		s->max_piece = len;
	if (s->write_error)
		return err_set(e, E_IO, "scripted write failure");
	if (s->write_stall || s->write_timeouts > 0) {
		if (s->write_timeouts > 0)
			s->write_timeouts--;
		s->pend_buf = buf;
		s->pend_len = len;
		sleep_ms(timeout_ms < 20 ? timeout_ms : 20);
		return E_TIMEOUT;
	}
	if (s->pend_buf != NULL) {
		if (s->pend_buf == buf && s->pend_len == len)
			s->resumed_same++;
		else
			s->resumed_other++;
		s->pend_buf = NULL;
	}
	s->write_timeouts = s->piece_timeouts;
	s->out = xreallocarray(s->out, s->outlen + len + 1, 1);
	memcpy(s->out + s->outlen, buf, len);
	s->outlen += len;
	s->out[s->outlen] = '\0';
	return 0;
}

static void
script_close(void *ctx)
{
	struct script	*s = ctx;

	s->closed++;
}

static const struct conn_transport script_transport = {
	"script", script_read, script_write, script_close
};

static void
test_idle(void *arg)
{
	int	*calls = arg;

	(*calls)++;
	if (abort_at > 0 && *calls >= abort_at)
		abort_flag = 1;
}

static struct conn *
script_conn(struct script *s, int timeout_ms)
{
	struct conn_params	p;

	memset(&p, 0, sizeof(p));
	p.timeout_ms = timeout_ms;
	p.idle = test_idle;
	p.idle_arg = &idle_calls;
	p.abort_flag = &abort_flag;
	return conn_new(&script_transport, s, &p);
}

static void
script_add(struct script *s, enum step_kind kind, const char *data,
    size_t len, int sleep)
{
	assert_true(s->nsteps < NELEM(s->steps));
	s->steps[s->nsteps].kind = kind;
	s->steps[s->nsteps].data = data;
	s->steps[s->nsteps].len = len;
	s->steps[s->nsteps].sleep_ms = sleep;
	s->nsteps++;
}

static int
reset(void **state)
{
	idle_calls = 0;
	abort_at = 0;
	abort_flag = 0;
	return 0;
}

/* Fail with the case name, the codes and the message. */
static void
check_rc(const char *name, int got, int want, const struct err *e,
    const char *msg)
{
	if (got != want)
		fail_msg("%s: got %s (%s), want %s", name, err_name(got),
		    got < 0 ? e->msg : "", err_name(want));
	if (want < 0 && msg != NULL && strstr(e->msg, msg) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", name, e->msg, msg);
}

/* conn_readline */

static const struct {
	const char	*name;
	const char	*in;
	const char	*lines[4];
	int		 end;		/* the readline after the last line */
} readline_cases[] = {
	{ "crlf", "+OK ready\r\n", { "+OK ready" }, E_IO },
	{ "bare lf", "+OK a\n-ERR b\n", { "+OK a", "-ERR b" }, E_IO },
	{ "mixed endings", "one\r\ntwo\nthree\r\n", { "one", "two", "three" },
	    E_IO },
	{ "empty lines", "\r\n\n", { "", "" }, E_IO },
	{ "lone cr kept", "a\rb\r\n", { "a\rb" }, E_IO },
	{ "cr cr lf", "x\r\r\n", { "x\r" }, E_IO },
	{ "eof mid-line", "+OK part", { NULL }, E_IO },
	{ "eof after a cr", "+OK\r", { NULL }, E_IO },
	{ "eof in second line", "+OK\r\n.", { "+OK" }, E_IO },
	{ "nothing", "", { NULL }, E_IO },
};

/* Read the case's lines from s and check them and the final result. */
static void
run_readline_case(size_t ci, struct script *s, const char *mode)
{
	struct conn	*c;
	struct err	 e;
	char		*line, name[128];
	size_t		 len, i;
	int		 rc;

	snprintf(name, sizeof(name), "%s (%s)", readline_cases[ci].name, mode);
	c = script_conn(s, 5000);
	for (i = 0; readline_cases[ci].lines[i] != NULL; i++) {
		rc = conn_readline(c, &line, &len, &e);
		check_rc(name, rc, 0, &e, NULL);
		if (strcmp(line, readline_cases[ci].lines[i]) != 0 ||
		    len != strlen(readline_cases[ci].lines[i]))
			fail_msg("%s: line %zu is \"%s\" (%zu)", name, i, line,
			    len);
	}
	rc = conn_readline(c, &line, &len, &e);
	check_rc(name, rc, readline_cases[ci].end, &e,
	    "connection closed by server");
	conn_free(c);
	assert_int_equal(s->closed, 1);
}

/* Each case in one read, or in reads of at most maxread bytes. */
static void
run_readline_table(size_t maxread, const char *mode)
{
	struct script	s;
	size_t		i;

	for (i = 0; i < NELEM(readline_cases); i++) {
		memset(&s, 0, sizeof(s));
		s.maxread = maxread;
		if (*readline_cases[i].in != '\0')
			script_add(&s, ST_DATA, readline_cases[i].in,
			    strlen(readline_cases[i].in), 0);
		run_readline_case(i, &s, mode);
	}
}

static void
test_readline_whole(void **state)
{
	run_readline_table(0, "whole");
}

static void
test_readline_split(void **state)
{
	struct script	s;
	const char	*in;
	size_t		i, k, len;
	char		mode[32];

	for (i = 0; i < NELEM(readline_cases); i++) {
		in = readline_cases[i].in;
		len = strlen(in);
		for (k = 1; k < len; k++) {
			memset(&s, 0, sizeof(s));
			script_add(&s, ST_DATA, in, k, 0);
			script_add(&s, ST_DATA, in + k, len - k, 0);
			snprintf(mode, sizeof(mode), "split at %zu", k);
			run_readline_case(i, &s, mode);
			assert_int_equal(s.nread, len);
		}
	}
}

static void
test_readline_bytewise(void **state)
{
	run_readline_table(1, "bytewise");
}

/* A NUL inside a line is passed on; the length tells. */
static void
test_readline_nul(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*line;
	size_t		 len;

	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, "a\0b\r\n", 5, 0);
	c = script_conn(&s, 5000);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(line, "a\0b", 4);
	conn_free(c);
}

static const struct {
	const char	*name;
	size_t		 body;		/* bytes of 'a' */
	const char	*ending;
	int		 rc;
} linemax_cases[] = {
	{ "exactly max, crlf", CONN_LINE_MAX, "\r\n", 0 },
	{ "exactly max, lf", CONN_LINE_MAX, "\n", 0 },
	{ "one over, crlf", CONN_LINE_MAX + 1, "\r\n", E_PROTO },
	{ "one over, lf", CONN_LINE_MAX + 1, "\n", E_PROTO },
	{ "one over, then eof", CONN_LINE_MAX + 1, "", E_PROTO },
	{ "one over and cr, then eof", CONN_LINE_MAX + 1, "\r", E_PROTO },
	{ "exactly max and cr, then eof", CONN_LINE_MAX, "\r", E_IO },
	{ "exactly max, then eof", CONN_LINE_MAX, "", E_IO },
};

static void
test_readline_max(void **state)
{
	static const size_t	 maxreads[] = { 0, 1, 1000, CONN_LINE_MAX };
	struct script		 s;
	struct conn		*c;
	struct err		 e;
	char			*in, *line, name[128];
	size_t			 i, m, len, inlen;
	int			 rc;

	for (i = 0; i < NELEM(linemax_cases); i++) {
		for (m = 0; m < NELEM(maxreads); m++) {
			snprintf(name, sizeof(name), "%s (maxread %zu)",
			    linemax_cases[i].name, maxreads[m]);
			inlen = linemax_cases[i].body +
			    strlen(linemax_cases[i].ending);
			in = xmalloc(inlen + 16);
			memset(in, 'a', linemax_cases[i].body);
			memcpy(in + linemax_cases[i].body,
			    linemax_cases[i].ending,
			    strlen(linemax_cases[i].ending));
			memcpy(in + inlen, "next\r\n", 6);
			memset(&s, 0, sizeof(s));
			s.maxread = maxreads[m];
			script_add(&s, ST_DATA, in,
			    inlen + (linemax_cases[i].rc == 0 ? 6 : 0), 0);
			c = script_conn(&s, 5000);
			rc = conn_readline(c, &line, &len, &e);
			check_rc(name, rc, linemax_cases[i].rc, &e,
			    linemax_cases[i].rc == E_PROTO ?
			    "line too long (more than 8192 bytes)" :
			    "connection closed by server");
			if (rc == 0) {
				assert_int_equal(len, CONN_LINE_MAX);
				assert_int_equal(strspn(line, "a"),
				    CONN_LINE_MAX);
				/* The line after it is intact. */
				assert_int_equal(conn_readline(c, &line, &len,
				    &e), 0);
				assert_string_equal(line, "next");
			}
			conn_free(c);
			free(in);
		}
	}
}

/* A hostile endless line fails once past the cap, not at 20 MB. */
static void
test_readline_endless(void **state)
{
	static const size_t	 maxreads[] = { 0, 1, 4096 };
	struct script		 s;
	struct conn		*c;
	struct err		 e;
	char			*line;
	size_t			 m, len;

	for (m = 0; m < NELEM(maxreads); m++) {
		memset(&s, 0, sizeof(s));
		s.maxread = maxreads[m];
		script_add(&s, ST_FILL, NULL, 20 * 1024 * 1024, 0);
		c = script_conn(&s, 5000);
		assert_int_equal(conn_readline(c, &line, &len, &e), E_PROTO);
		assert_string_equal(e.msg,
		    "line too long (more than 8192 bytes)");
		/* At most one read of buffer growth past the cap. */
		assert_true(s.nread > CONN_LINE_MAX);
		assert_true(s.nread <= CONN_LINE_MAX + 2 * CONN_CHUNK);
		conn_free(c);
	}
}

/* Timeouts, the idle hook and the abort flag, for readline. */

static void
test_readline_timeout(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*line;
	size_t		 len;
	int64_t		 t0, dt;

	memset(&s, 0, sizeof(s));
	script_add(&s, ST_STALL, NULL, 0, 5000);
	c = script_conn(&s, 1200);
	t0 = util_now_ms();
	assert_int_equal(conn_readline(c, &line, &len, &e), E_TIMEOUT);
	dt = util_now_ms() - t0;
	assert_int_equal(e.code, E_TIMEOUT);
	assert_non_null(strstr(e.msg, "timed out"));
	/* Waits are cut into slices of at most a second, with the idle
	 * hook run after each. */
	assert_int_equal(s.first_slice, 1000);
	assert_true(s.max_slice <= 1000);
	assert_true(s.reads >= 2);
	assert_int_equal(idle_calls, s.reads);
	assert_true(dt >= 1200 && dt < 2500);
	conn_free(c);
}

static void
test_readline_progress_resets_timeout(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*line;
	size_t		 len;

	/* 200 + 200 ms of silence, but data in between: no timeout. */
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_TIMEOUT, NULL, 0, 200);
	script_add(&s, ST_DATA, "+OK par", 7, 0);
	script_add(&s, ST_TIMEOUT, NULL, 0, 200);
	script_add(&s, ST_DATA, "tial\r\n", 6, 0);
	c = script_conn(&s, 300);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, "+OK partial");
	assert_int_equal(idle_calls, 2);
	conn_free(c);

	/* The same 400 ms without the data in between: timeout. */
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_TIMEOUT, NULL, 0, 200);
	script_add(&s, ST_TIMEOUT, NULL, 0, 200);
	script_add(&s, ST_DATA, "+OK\r\n", 5, 0);
	c = script_conn(&s, 300);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_TIMEOUT);
	assert_true(s.max_slice <= 300);
	conn_free(c);
}

/* A server that trickles a line every 200 ms never leaves a slice empty:
 * the abort still ends the reading about a slice after it was seen. */
static void
test_readline_abort_trickle(void **state)
{
	static const char	 lines[] = "l\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\n"
	    "l\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\nl\r\n";
	struct script		 s;
	struct conn		*c;
	struct err		 e;
	char			*line;
	size_t			 len;
	int			 n = 0, rc;

	(void)state;
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, lines, sizeof(lines) - 1, 0);
	s.maxread = 3;
	s.read_delay_ms = 200;
	c = script_conn(&s, 60000);
	abort_flag = 1;
	while ((rc = conn_readline(c, &line, &len, &e)) == 0)
		n++;
	assert_int_equal(rc, E_ABORT);
	assert_non_null(strstr(e.msg, "still sending"));
	/* About 1000 ms / 200 ms lines, not all 20. */
	if (n < 3 || n > 8)
		fail_msg("%d lines read before the abort took effect", n);
	conn_free(c);
}

static void
test_readline_abort(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*line;
	size_t		 len;

	/* Set before the wait: the first empty slice stops it. */
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_STALL, NULL, 0, 10);
	c = script_conn(&s, 60000);
	abort_flag = 1;
	assert_int_equal(conn_readline(c, &line, &len, &e), E_ABORT);
	assert_int_equal(s.reads, 1);
	conn_free(c);

	/* Set by a "signal" during the wait (here: the third idle call). */
	reset(NULL);
	abort_at = 3;
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_STALL, NULL, 0, 10);
	c = script_conn(&s, 60000);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_ABORT);
	assert_int_equal(e.code, E_ABORT);
	assert_int_equal(s.reads, 4);
	conn_free(c);

	/* It stops waits only: data that is there is still read. */
	reset(NULL);
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, "+OK\r\n", 5, 0);
	c = script_conn(&s, 60000);
	abort_flag = 1;
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, "+OK");
	conn_free(c);
}

static void
test_readline_transport_error(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*line;
	size_t		 len;

	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, "+OK pa", 6, 0);
	script_add(&s, ST_ERROR, NULL, 0, 0);
	c = script_conn(&s, 5000);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_TLS);
	assert_string_equal(e.msg, "scripted failure");
	conn_free(c);
}

/* conn_read_chunk, conn_consume */

static void
test_read_chunk_leftover(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	const char	*data;
	char		*line;
	size_t		 len;

	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, "+OK 11 octets\r\nhello world", 26, 0);
	script_add(&s, ST_DATA, "\r\n.\r\n", 5, 0);
	c = script_conn(&s, 5000);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, "+OK 11 octets");
	assert_int_equal(s.reads, 1);

	/* The rest of the first read comes out first, without a read. */
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), 0);
	assert_int_equal(s.reads, 1);
	assert_int_equal(len, 11);
	assert_memory_equal(data, "hello world", 11);
	conn_consume(c, 6);
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), 0);
	assert_int_equal(s.reads, 1);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "world", 5);

	/* Not consuming means getting the same bytes again. */
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), 0);
	assert_int_equal(len, 5);
	conn_consume(c, 5);

	/* Only an empty buffer reads more. */
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), 0);
	assert_int_equal(s.reads, 2);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "\r\n.\r\n", 5);
	conn_consume(c, 2);
	/* Lines and chunks share the buffer. */
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, ".");

	assert_int_equal(conn_read_chunk(c, &data, &len, &e), E_IO);
	assert_string_equal(e.msg, "connection closed by server");
	conn_free(c);
}

static void
test_read_chunk_cap(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	const char	*data;
	char		*in, *line;
	size_t		 len, total;

	/* A long first line makes the buffer grow, so that the next read
	 * brings in more than CONN_CHUNK of body. */
	in = xmalloc(8000 + 4 + 40000);
	memset(in, 'a', 8002);
	memcpy(in + 8002, "\r\n", 2);
	memset(in + 8004, 'b', 40000);
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, in, 8000, 0);
	script_add(&s, ST_DATA, in + 8000, 40004, 0);
	c = script_conn(&s, 5000);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_int_equal(len, 8002);
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), 0);
	assert_int_equal(s.reads, 2);
	assert_int_equal(len, CONN_CHUNK);
	total = 0;
	while (total < 40000) {
		assert_int_equal(conn_read_chunk(c, &data, &len, &e), 0);
		assert_true(len > 0 && len <= CONN_CHUNK);
		assert_int_equal(data[0], 'b');
		assert_int_equal(data[len - 1], 'b');
		total += len;
		conn_consume(c, len);
	}
	assert_int_equal(total, 40000);
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), E_IO);
	conn_free(c);
	free(in);
}

static void
test_read_chunk_timeout_abort(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	const char	*data;
	size_t		 len;

	memset(&s, 0, sizeof(s));
	script_add(&s, ST_STALL, NULL, 0, 100);
	c = script_conn(&s, 250);
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), E_TIMEOUT);
	assert_true(idle_calls >= 2);
	conn_free(c);

	reset(NULL);
	abort_at = 2;
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_STALL, NULL, 0, 10);
	c = script_conn(&s, 60000);
	assert_int_equal(conn_read_chunk(c, &data, &len, &e), E_ABORT);
	conn_free(c);
}

/* conn_write */

static void
test_write(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*big;
	size_t		 i;

	memset(&s, 0, sizeof(s));
	c = script_conn(&s, 5000);
	assert_int_equal(conn_write(c, "USER bob\r\n", 10, &e), 0);
	assert_int_equal(conn_write(c, "", 0, &e), 0);
	assert_int_equal(s.outlen, 10);
	assert_memory_equal(s.out, "USER bob\r\n", 10);

	/* Large writes go out in pieces, all of them, in order. */
	big = xmalloc(100000);
	for (i = 0; i < 100000; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(conn_write(c, big, 100000, &e), 0);
	assert_int_equal(s.outlen, 100010);
	assert_memory_equal(s.out + 10, big, 100000);
	assert_true(s.max_piece <= CONN_CHUNK);
	conn_free(c);
	free(big);
	free(s.out);
}

static void
test_write_timeouts(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	char		*big;

	/* A slow peer: retried with the same bytes, sent once. */
	memset(&s, 0, sizeof(s));
	s.write_timeouts = 2;
	c = script_conn(&s, 5000);
	assert_int_equal(conn_write(c, "RETR 1\r\n", 8, &e), 0);
	assert_int_equal(s.outlen, 8);
	assert_memory_equal(s.out, "RETR 1\r\n", 8);
	assert_int_equal(s.resumed_same, 1);
	assert_int_equal(s.resumed_other, 0);
	assert_int_equal(idle_calls, 2);
	conn_free(c);
	free(s.out);

	/* A slow peer that takes 60 ms a piece: 180 ms in all, past the
	 * timeout, but each piece is progress. */
	reset(NULL);
	memset(&s, 0, sizeof(s));
	s.write_timeouts = s.piece_timeouts = 3;
	big = xcalloc(3, CONN_CHUNK);
	c = script_conn(&s, 100);
	assert_int_equal(conn_write(c, big, 3 * CONN_CHUNK, &e), 0);
	assert_int_equal(s.outlen, 3 * CONN_CHUNK);
	assert_int_equal(s.resumed_same, 3);
	assert_int_equal(idle_calls, 9);
	conn_free(c);
	free(big);
	free(s.out);

	/* A stuck peer: timeout. */
	reset(NULL);
	memset(&s, 0, sizeof(s));
	s.write_stall = true;
	c = script_conn(&s, 200);
	assert_int_equal(conn_write(c, "QUIT\r\n", 6, &e), E_TIMEOUT);
	assert_int_equal(s.outlen, 0);
	assert_true(idle_calls >= 1);
	conn_free(c);

	/* A stuck peer and a signal. */
	reset(NULL);
	abort_at = 1;
	memset(&s, 0, sizeof(s));
	s.write_stall = true;
	c = script_conn(&s, 60000);
	assert_int_equal(conn_write(c, "QUIT\r\n", 6, &e), E_ABORT);
	assert_int_equal(s.writes, 2);
	conn_free(c);

	/* A transport error is passed on as it is. */
	reset(NULL);
	memset(&s, 0, sizeof(s));
	s.write_error = true;
	c = script_conn(&s, 5000);
	assert_int_equal(conn_write(c, "QUIT\r\n", 6, &e), E_IO);
	assert_string_equal(e.msg, "scripted write failure");
	assert_int_equal(s.writes, 1);
	conn_free(c);
}

/* conn_new, conn_set_timeout, conn_is_tls, conn_tls_info, conn_free */

static void
test_new_free(void **state)
{
	struct script	 s;
	struct conn	*c;
	struct err	 e;
	struct tls_info	 ti;
	char		*line;
	size_t		 len;

	conn_free(NULL);
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_STALL, NULL, 0, 1000);
	c = script_conn(&s, 60000);
	assert_false(conn_is_tls(c));
	assert_false(conn_tls_info(c, &ti));
	/* A shorter timeout takes effect on the next wait. */
	conn_set_timeout(c, 150);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_TIMEOUT);
	assert_int_equal(s.first_slice, 150);
	assert_int_equal(s.closed, 0);
	conn_free(c);
	assert_int_equal(s.closed, 1);
}

/* conn_starttls over the scripted transport */

static void
test_starttls_refused(void **state)
{
	struct script		 s;
	struct conn		*c;
	struct err		 e;
	struct tls_params	 tp;
	char			*line;
	size_t			 len;

	memset(&tp, 0, sizeof(tp));
	tp.host = "mail.example.test";
	tp.verify = true;

	/* A reply and an injected command in the same cleartext read. */
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, "+OK Begin TLS\r\nCAPA\r\n", 21, 0);
	c = script_conn(&s, 5000);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, "+OK Begin TLS");
	assert_int_equal(conn_starttls(c, &tp, &e), E_PROTO);
	assert_non_null(strstr(e.msg, "6 unexpected bytes"));
	assert_false(conn_is_tls(c));
	conn_free(c);

	/* Nothing buffered, but no socket to run TLS on. */
	memset(&s, 0, sizeof(s));
	script_add(&s, ST_DATA, "+OK Begin TLS\r\n", 15, 0);
	c = script_conn(&s, 5000);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_int_equal(conn_starttls(c, &tp, &e), E_TLS);
	assert_false(conn_is_tls(c));
	conn_free(c);
}

/*
 * Real sockets on loopback.
 */

/* A listening socket on 127.0.0.1 with an ephemeral port. */
static int
listen_local(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof(sin);
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Start a non-blocking connect of fd to 127.0.0.1:port. */
static void
connect_local(int fd, int port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		assert_int_equal(errno, EINPROGRESS);
}

/* net_connect, net_wait */

static void
test_net_connect(void **state)
{
	struct waiter	w = { .timeout_ms = 2000 };
	struct err	e;
	char		buf[8];
	int		lfd, fd, sfd, port, flags;

	lfd = listen_local(&port);
	fd = net_connect("127.0.0.1", port, &w, &e);
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	assert_true(flags & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);

	/* Nothing to read yet; writing is possible. */
	assert_int_equal(net_wait(fd, 0, 50, &e), 0);
	assert_int_equal(net_wait(fd, 1, 50, &e), 1);
	assert_int_equal(write(sfd, "+OK\r\n", 5), 5);
	assert_int_equal(net_wait(fd, 0, 1000, &e), 1);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	/* The peer's close counts as readable (read then sees EOF). */
	close(sfd);
	assert_int_equal(net_wait(fd, 0, 1000, &e), 1);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* A name that may resolve to ::1 first still reaches 127.0.0.1. */
	fd = net_connect("localhost", port, &w, &e);
	if (fd < 0)
		fail_msg("localhost: %s", e.msg);
	close(fd);
	close(lfd);
}

static const struct {
	const char	*name;
	const char	*host;
	int		 port;		/* -1: a closed port on loopback */
	const char	*msg[2];
} connect_fail_cases[] = {
	{ "refused", "127.0.0.1", -1, { "connect to 127.0.0.1:",
	    "Connection refused" } },
	{ "refused v6 literal", "::1", -1, { "connect to [::1]:", NULL } },
	{ "unresolvable", "no-such-host.invalid", 110,
	    { "connect to no-such-host.invalid:110", NULL } },
	{ "port zero", "127.0.0.1", 0, { "127.0.0.1:0: invalid port",
	    NULL } },
	{ "port too big", "127.0.0.1", 65536, { "invalid port", NULL } },
};

static void
test_net_connect_fail(void **state)
{
	struct waiter	w = { .timeout_ms = 2000 };
	struct err	e;
	size_t		i, j;
	int		lfd, port, closed_port, rc;

	/* A port that was just free: nothing listens there. */
	lfd = listen_local(&closed_port);
	close(lfd);
	for (i = 0; i < NELEM(connect_fail_cases); i++) {
		port = connect_fail_cases[i].port;
		if (port == -1)
			port = closed_port;
		rc = net_connect(connect_fail_cases[i].host, port, &w, &e);
		check_rc(connect_fail_cases[i].name, rc, E_IO, &e, NULL);
		for (j = 0; j < 2 && connect_fail_cases[i].msg[j]; j++)
			check_rc(connect_fail_cases[i].name, rc, E_IO, &e,
			    connect_fail_cases[i].msg[j]);
	}
}

/*
 * A connect that never completes: the listener's accept queue is full, so
 * the kernel drops our SYN.  The wait is sliced (the idle hook runs), ends
 * at the timeout, and ends within a slice when the abort flag is set.
 */
static void
test_net_connect_stall(void **state)
{
	struct waiter	w;
	struct err	e;
	int64_t		t0, ms;
	int		lfd, port, fill[3], i;

	lfd = listen_local(&port);
	assert_int_equal(listen(lfd, 0), 0);
	for (i = 0; i < 3; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		assert_true(fill[i] >= 0);
		connect_local(fill[i], port);
	}
	sleep_ms(100);

	memset(&w, 0, sizeof(w));
	w.timeout_ms = 1200;
	w.idle = test_idle;
	w.idle_arg = &idle_calls;
	w.abort = &abort_flag;
	t0 = util_now_ms();
	assert_int_equal(net_connect("127.0.0.1", port, &w, &e), E_TIMEOUT);
	ms = util_now_ms() - t0;
	assert_non_null(strstr(e.msg, "timed out after 1200 ms"));
	assert_true(ms >= 1200 && ms < 2500);
	assert_int_equal(idle_calls, 2);

	reset(NULL);
	w.timeout_ms = 60000;
	abort_at = 1;
	t0 = util_now_ms();
	assert_int_equal(net_connect("127.0.0.1", port, &w, &e), E_ABORT);
	assert_true(util_now_ms() - t0 < 2500);
	assert_non_null(strstr(e.msg, "interrupted by a signal"));
	for (i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
}

/* conn_connect, and conn_starttls refusing injected cleartext. */
static void
test_conn_connect_socket(void **state)
{
	struct conn_params	 p;
	struct tls_params	 tp;
	struct conn		*c;
	struct err		 e;
	char			*line, buf[32];
	size_t			 len;
	int			 lfd, sfd, port;

	memset(&p, 0, sizeof(p));
	p.timeout_ms = 2000;
	memset(&tp, 0, sizeof(tp));
	tp.host = "localhost";
	tp.verify = true;
	lfd = listen_local(&port);
	assert_int_equal(conn_connect("127.0.0.1", port, &p, &c, &e), 0);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	assert_false(conn_is_tls(c));

	assert_int_equal(write(sfd, "+OK POP3\r\n", 10), 10);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, "+OK POP3");
	assert_int_equal(conn_write(c, "STLS\r\n", 6, &e), 0);
	assert_int_equal(read(sfd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "STLS\r\n", 6);

	/* The reply and an injected line arrive together. */
	assert_int_equal(write(sfd, "+OK go\r\nUSER x\r\n", 16), 16);
	assert_int_equal(conn_readline(c, &line, &len, &e), 0);
	assert_string_equal(line, "+OK go");
	assert_int_equal(conn_starttls(c, &tp, &e), E_PROTO);
	assert_false(conn_is_tls(c));

	/* The peer's close. */
	conn_consume(c, 8);
	close(sfd);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_IO);
	assert_string_equal(e.msg, "connection closed by server");
	conn_free(c);

	/* A quiet server: timeout through the plain transport. */
	p.timeout_ms = 300;
	p.idle = test_idle;
	p.idle_arg = &idle_calls;
	assert_int_equal(conn_connect("127.0.0.1", port, &p, &c, &e), 0);
	sfd = accept(lfd, NULL, NULL);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_TIMEOUT);
	assert_int_equal(idle_calls, 1);
	conn_free(c);
	close(sfd);
	close(lfd);
}

/*
 * tls.c against "openssl s_server" with a throwaway CA.
 */

struct pki {
	char	dir[64];
	char	ca[PATH_MAX];		/* signed the server certificate */
	char	other_ca[PATH_MAX];	/* did not */
	char	crt[PATH_MAX];
	char	key[PATH_MAX];
	char	fp[7 + 95 + 1];		/* "sha256:AB:..." of crt */
	char	fp_plain[7 + 64 + 1];	/* "sha256:ab..." without colons */
};

static struct pki	pki;

static int
pki_setup(void **state)
{
	char	 cmd[4096], line[256], *p, *q;
	FILE	*fp;

	snprintf(pki.dir, sizeof(pki.dir), "/tmp/test_conn.XXXXXX");
	if (mkdtemp(pki.dir) == NULL)
		return -1;
	snprintf(pki.ca, sizeof(pki.ca), "%s/ca.crt", pki.dir);
	snprintf(pki.other_ca, sizeof(pki.other_ca), "%s/other.crt", pki.dir);
	snprintf(pki.crt, sizeof(pki.crt), "%s/srv.crt", pki.dir);
	snprintf(pki.key, sizeof(pki.key), "%s/srv.key", pki.dir);
	snprintf(cmd, sizeof(cmd), "(cd %s && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca.key -out ca.crt -subj /CN=popsync-test-ca "
	    "-days 2 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout other.key -out other.crt -subj /CN=other-ca "
	    "-days 2 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout srv.key -out srv.crt "
	    "-subj /O=Popsync\\ Test/CN=mail.example.test -days 2 "
	    "-CA ca.crt -CAkey ca.key "
	    "-addext subjectAltName=DNS:mail.example.test,IP:192.0.2.7 "
	    "-addext basicConstraints=CA:FALSE && "
	    "openssl x509 -in srv.crt -noout -fingerprint -sha256 > fp.txt"
	    ") 2>/dev/null", pki.dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/fp.txt", pki.dir);
	if ((fp = fopen(cmd, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), fp);
	fclose(fp);
	if (p == NULL || (p = strchr(line, '=')) == NULL)
		return -1;
	p++;
	p[strcspn(p, "\r\n")] = '\0';
	snprintf(pki.fp, sizeof(pki.fp), "sha256:%s", p);
	q = pki.fp_plain + snprintf(pki.fp_plain, sizeof(pki.fp_plain),
	    "sha256:");
	for (; *p != '\0'; p++)
		if (*p != ':')
			*q++ = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
	*q = '\0';
	return 0;
}

static int
pki_teardown(void **state)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki.dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct server {
	pid_t	pid;
	int	port;
	char	log[PATH_MAX];
};

/* Start "openssl s_server -rev" on 127.0.0.1 and learn its port. */
static void
server_start(struct server *sv, const char *extra)
{
	const char	*argv[24];
	char		 buf[4096], *p;
	FILE		*fp;
	size_t		 n;
	int		 i, fd, argc = 0;

	snprintf(sv->log, sizeof(sv->log), "%s/server.log", pki.dir);
	argv[argc++] = "openssl";
	argv[argc++] = "s_server";
	argv[argc++] = "-accept";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "-naccept";
	argv[argc++] = "1";
	argv[argc++] = "-cert";
	argv[argc++] = pki.crt;
	argv[argc++] = "-key";
	argv[argc++] = pki.key;
	argv[argc++] = "-rev";
	argv[argc++] = "-tlsextdebug";
	if (extra != NULL)
		argv[argc++] = extra;
	argv[argc] = NULL;

	sv->port = 0;
	/* The previous server's log names its port: gone before we look. */
	unlink(sv->log);
	sv->pid = fork();
	assert_true(sv->pid >= 0);
	if (sv->pid == 0) {
		fd = open(sv->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp("openssl", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (i = 0; i < 500 && sv->port == 0; i++) {
		sleep_ms(10);
		if ((fp = fopen(sv->log, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		if ((p = strstr(buf, "ACCEPT 127.0.0.1:")) != NULL &&
		    strchr(p, '\n') != NULL)
			sv->port = atoi(p + 17);
	}
	if (sv->port == 0) {
		kill(sv->pid, SIGTERM);
		waitpid(sv->pid, NULL, 0);
		fail_msg("openssl s_server did not start");
	}
}

/* Stop the server (it may have exited already) and return its log. */
static void
server_stop(struct server *sv, char *log, size_t loglen)
{
	FILE	*fp;
	size_t	 n = 0;

	kill(sv->pid, SIGTERM);
	waitpid(sv->pid, NULL, 0);
	if ((fp = fopen(sv->log, "r")) != NULL) {
		n = fread(log, 1, loglen - 1, fp);
		fclose(fp);
	}
	log[n] = '\0';
}

enum ca_choice { CA_GOOD, CA_OTHER, CA_SYSTEM, CA_MISSING };
enum pin_choice { PIN_NONE, PIN_GOOD, PIN_GOOD_PLAIN, PIN_BAD, PIN_MALFORMED };

static const struct {
	const char	*name;
	const char	*host;
	enum ca_choice	 ca;
	bool		 verify;
	enum pin_choice	 pin;
	int		 min_version;
	const char	*server_arg;
	int		 rc;
	const char	*msg;
} tls_cases[] = {
	{ "dns name", "mail.example.test", CA_GOOD, true, PIN_NONE, 12, NULL,
	    0, NULL },
	{ "ip literal", "192.0.2.7", CA_GOOD, true, PIN_NONE, 0, NULL, 0,
	    NULL },
	{ "name in other case", "MAIL.Example.TEST", CA_GOOD, true, PIN_NONE,
	    12, NULL, 0, NULL },
	{ "tls 1.2 server", "mail.example.test", CA_GOOD, true, PIN_NONE, 12,
	    "-tls1_2", 0, NULL },
	{ "wrong name", "other.example.test", CA_GOOD, true, PIN_NONE, 12,
	    NULL, E_TLS, "hostname mismatch: certificate is not valid for "
	    "other.example.test" },
	{ "parent domain", "example.test", CA_GOOD, true, PIN_NONE, 12,
	    NULL, E_TLS, "hostname mismatch: certificate is not valid for "
	    "example.test" },
	{ "wrong ip", "192.0.2.8", CA_GOOD, true, PIN_NONE, 12, NULL, E_TLS,
	    "hostname mismatch: certificate is not valid for 192.0.2.8" },
	{ "wrong ca", "mail.example.test", CA_OTHER, true, PIN_NONE, 12, NULL,
	    E_TLS, "certificate verify failed: unable to get local issuer "
	    "certificate" },
	{ "system store", "mail.example.test", CA_SYSTEM, true, PIN_NONE, 12,
	    NULL, E_TLS, "certificate verify failed: unable to get local "
	    "issuer certificate" },
	{ "missing ca file", "mail.example.test", CA_MISSING, true, PIN_NONE,
	    12, NULL, E_TLS, "cannot load CA file" },
	{ "no verify, no pin", "other.example.test", CA_OTHER, false,
	    PIN_NONE, 12, NULL, 0, NULL },
	{ "no verify, pin", "other.example.test", CA_OTHER, false, PIN_GOOD,
	    12, NULL, 0, NULL },
	{ "no verify, plain pin", "192.0.2.99", CA_SYSTEM, false,
	    PIN_GOOD_PLAIN, 12, NULL, 0, NULL },
	{ "no verify, wrong pin", "mail.example.test", CA_GOOD, false,
	    PIN_BAD, 12, NULL, E_TLS, "certificate fingerprint mismatch" },
	{ "verify and pin", "mail.example.test", CA_GOOD, true, PIN_GOOD, 13,
	    NULL, 0, NULL },
	{ "verify, wrong pin", "mail.example.test", CA_GOOD, true, PIN_BAD,
	    12, NULL, E_TLS, "certificate fingerprint mismatch" },
	{ "malformed pin", "mail.example.test", CA_GOOD, true, PIN_MALFORMED,
	    12, NULL, E_TLS, "invalid fingerprint pin" },
	{ "tls 1.3 required", "mail.example.test", CA_GOOD, true, PIN_NONE,
	    13, "-tls1_2", E_TLS, "protocol version" },
	{ "bad min version", "mail.example.test", CA_GOOD, true, PIN_NONE, 11,
	    NULL, E_TLS, "unsupported minimum TLS version 11" },
};

#define BAD_PIN	"sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
	"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"

static void
test_tls(void **state)
{
	struct conn_params	 p;
	struct tls_params	 tp;
	struct tls_info		 ti;
	struct server		 sv;
	struct conn		*c;
	struct err		 e;
	char			 missing[PATH_MAX], log[16384], *line;
	size_t			 i, len;
	int			 rc;
	bool			 sni;

	memset(&p, 0, sizeof(p));
	p.timeout_ms = 5000;
	snprintf(missing, sizeof(missing), "%s/nonexistent.crt", pki.dir);
	for (i = 0; i < NELEM(tls_cases); i++) {
		memset(&tp, 0, sizeof(tp));
		tp.host = tls_cases[i].host;
		tp.verify = tls_cases[i].verify;
		tp.min_version = tls_cases[i].min_version;
		switch (tls_cases[i].ca) {
		case CA_GOOD:
			tp.ca_file = pki.ca;
			break;
		case CA_OTHER:
			tp.ca_file = pki.other_ca;
			break;
		case CA_MISSING:
			tp.ca_file = missing;
			break;
		case CA_SYSTEM:
			break;
		}
		switch (tls_cases[i].pin) {
		case PIN_NONE:
			break;
		case PIN_GOOD:
			tp.fingerprint = pki.fp;
			break;
		case PIN_GOOD_PLAIN:
			tp.fingerprint = pki.fp_plain;
			break;
		case PIN_BAD:
			tp.fingerprint = BAD_PIN;
			break;
		case PIN_MALFORMED:
			tp.fingerprint = "sha256:zz";
			break;
		}

		server_start(&sv, tls_cases[i].server_arg);
		rc = conn_connect("127.0.0.1", sv.port, &p, &c, &e);
		check_rc(tls_cases[i].name, rc, 0, &e, NULL);
		rc = conn_starttls(c, &tp, &e);
		check_rc(tls_cases[i].name, rc, tls_cases[i].rc, &e,
		    tls_cases[i].msg);
		assert_true(conn_is_tls(c) == (rc == 0));
		if (rc == 0) {
			assert_true(conn_tls_info(c, &ti));
			assert_string_equal(ti.version,
			    tls_cases[i].server_arg != NULL ? "TLSv1.2" :
			    "TLSv1.3");
			assert_true(ti.cipher[0] != '\0');
			assert_string_equal(ti.subject,
			    "CN=mail.example.test,O=Popsync Test");
			assert_string_equal(ti.issuer, "CN=popsync-test-ca");
			assert_non_null(strstr(ti.not_after, " GMT"));
			assert_string_equal(ti.fingerprint, pki.fp);
			/* Data both ways over the TLS transport. */
			assert_int_equal(conn_write(c, "hello\n", 6, &e), 0);
			rc = conn_readline(c, &line, &len, &e);
			check_rc(tls_cases[i].name, rc, 0, &e, NULL);
			assert_string_equal(line, "olleh");
		}
		conn_free(c);
		server_stop(&sv, log, sizeof(log));
		/* SNI goes out for names, never for address literals. */
		sni = strstr(log, "\"server name\"") != NULL;
		if (tls_cases[i].rc == 0 &&
		    sni == (strspn(tls_cases[i].host, "0123456789.") ==
		    strlen(tls_cases[i].host)))
			fail_msg("%s: SNI %s", tls_cases[i].name,
			    sni ? "sent" : "absent");
	}
}

/* tls_read at the end of the stream, and a server that never answers. */
static void
test_tls_eof_timeout(void **state)
{
	struct conn_params	 p;
	struct tls_params	 tp;
	struct server		 sv;
	struct conn		*c;
	struct err		 e;
	char			 log[16384], *line;
	size_t			 len;
	int			 lfd, sfd, port;
	int64_t			 t0;

	memset(&p, 0, sizeof(p));
	p.timeout_ms = 5000;
	memset(&tp, 0, sizeof(tp));
	tp.host = "mail.example.test";
	tp.ca_file = pki.ca;
	tp.verify = true;

	/* The server goes away after the handshake: a clean E_IO. */
	server_start(&sv, NULL);
	assert_int_equal(conn_connect("127.0.0.1", sv.port, &p, &c, &e), 0);
	assert_int_equal(conn_starttls(c, &tp, &e), 0);
	/* Let the server read our Finished first: unread data would make
	 * its kernel answer with a reset instead of a FIN. */
	sleep_ms(200);
	kill(sv.pid, SIGTERM);
	waitpid(sv.pid, NULL, 0);
	assert_int_equal(conn_readline(c, &line, &len, &e), E_IO);
	assert_string_equal(e.msg, "connection closed by server");
	conn_free(c);
	server_stop(&sv, log, sizeof(log));

	/* A TCP peer that never starts the handshake. */
	p.timeout_ms = 300;
	lfd = listen_local(&port);
	assert_int_equal(conn_connect("127.0.0.1", port, &p, &c, &e), 0);
	sfd = accept(lfd, NULL, NULL);
	t0 = util_now_ms();
	assert_int_equal(conn_starttls(c, &tp, &e), E_TIMEOUT);
	assert_true(util_now_ms() - t0 >= 300);
	assert_non_null(strstr(e.msg, "TLS handshake with mail.example.test "
	    "timed out"));
	conn_free(c);
	close(sfd);

	/* The same peer and a stop request: E_ABORT within a slice. */
	p.timeout_ms = 60000;
	p.stop_flag = &abort_flag;
	assert_int_equal(conn_connect("127.0.0.1", port, &p, &c, &e), 0);
	sfd = accept(lfd, NULL, NULL);
	abort_flag = 1;
	t0 = util_now_ms();
	assert_int_equal(conn_starttls(c, &tp, &e), E_ABORT);
	assert_true(util_now_ms() - t0 < 1500);
	assert_non_null(strstr(e.msg, "TLS handshake with mail.example.test "
	    "interrupted"));
	conn_free(c);
	abort_flag = 0;
	p.stop_flag = NULL;

	/* A peer that closes instead of answering. */
	p.timeout_ms = 5000;
	assert_int_equal(conn_connect("127.0.0.1", port, &p, &c, &e), 0);
	close(sfd);
	sfd = accept(lfd, NULL, NULL);
	close(sfd);
	assert_true(conn_starttls(c, &tp, &e) < 0);
	assert_false(conn_is_tls(c));
	conn_free(c);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest conn_tests[] = {
		cmocka_unit_test_setup(test_readline_whole, reset),
		cmocka_unit_test_setup(test_readline_split, reset),
		cmocka_unit_test_setup(test_readline_bytewise, reset),
		cmocka_unit_test_setup(test_readline_nul, reset),
		cmocka_unit_test_setup(test_readline_max, reset),
		cmocka_unit_test_setup(test_readline_endless, reset),
		cmocka_unit_test_setup(test_readline_timeout, reset),
		cmocka_unit_test_setup(test_readline_progress_resets_timeout,
		    reset),
		cmocka_unit_test_setup(test_readline_abort, reset),
		cmocka_unit_test_setup(test_readline_abort_trickle, reset),
		cmocka_unit_test_setup(test_readline_transport_error, reset),
		cmocka_unit_test_setup(test_read_chunk_leftover, reset),
		cmocka_unit_test_setup(test_read_chunk_cap, reset),
		cmocka_unit_test_setup(test_read_chunk_timeout_abort, reset),
		cmocka_unit_test_setup(test_write, reset),
		cmocka_unit_test_setup(test_write_timeouts, reset),
		cmocka_unit_test_setup(test_new_free, reset),
		cmocka_unit_test_setup(test_starttls_refused, reset),
		cmocka_unit_test_setup(test_net_connect, reset),
		cmocka_unit_test_setup(test_net_connect_fail, reset),
		cmocka_unit_test_setup(test_net_connect_stall, reset),
		cmocka_unit_test_setup(test_conn_connect_socket, reset),
	};
	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test_setup(test_tls, reset),
		cmocka_unit_test_setup(test_tls_eof_timeout, reset),
	};
	int	failed;

	/* As in main.c: a closed peer is an error, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests_name("conn", conn_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("tls", tls_tests, pki_setup,
	    pki_teardown);
	return failed;
}
