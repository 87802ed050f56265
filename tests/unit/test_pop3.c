/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for pop3.c over a scripted transport. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "pop3.h"
#include "sasl.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The script: what the client must send (C, one whole line per write) and
 * what the server answers (S, raw bytes handed out in reads of at most
 * chunk bytes).  A read while the script expects the client to speak is a
 * deadlock in real life and fails the test; so does any unexpected write.
 */
enum step_kind { STEP_C, STEP_S };

struct step {
	enum step_kind	 kind;
	const char	*data;
	size_t		 len;		/* 0: strlen(data) */
};

#define C(line)		{ STEP_C, line "\r\n", 0 }
#define S(bytes)	{ STEP_S, bytes, 0 }

struct script {
	const struct step	*steps;
	size_t			 n;
	size_t			 pos;
	size_t			 off;		/* into the current S step */
	size_t			 chunk;		/* 0: whatever fits */
	size_t			 served;	/* S bytes handed out so far */
	int			 closed;
};

static size_t
step_len(const struct step *st)
{
	return st->len != 0 ? st->len : strlen(st->data);
}

static ssize_t
script_read(void *ctx, void *buf, size_t len, int timeout_ms, struct err *e)
{
	struct script		*s = ctx;
	const struct step	*st;
	size_t			 n;

	if (s->pos == s->n)
		return 0;	/* the server hung up */
	st = &s->steps[s->pos];
	if (st->kind != STEP_S)
		fail_msg("step %zu: client reads, but the script waits for "
		    "it to send \"%s\"", s->pos, st->data);
	n = step_len(st) - s->off;
	if (n > len)
		n = len;
	if (s->chunk != 0 && n > s->chunk)
		n = s->chunk;
	memcpy(buf, st->data + s->off, n);
	s->off += n;
	s->served += n;
	if (s->off == step_len(st)) {
		s->pos++;
		s->off = 0;
	}
	return (ssize_t)n;
}

static int
script_write(void *ctx, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	struct script		*s = ctx;
	const struct step	*st;

	if (s->pos == s->n)
		fail_msg("client sent \"%.*s\" after the end of the script",
		    (int)len, (const char *)buf);
	st = &s->steps[s->pos];
	if (st->kind != STEP_C || step_len(st) != len ||
	    memcmp(st->data, buf, len) != 0)
		fail_msg("step %zu: client sent \"%.*s\", script wants %s "
		    "\"%s\"", s->pos, (int)len, (const char *)buf,
		    st->kind == STEP_C ? "the client to send" :
		    "the server to send", st->data);
	s->pos++;
	return 0;
}

static void
script_close(void *ctx)
{
	struct script	*s = ctx;

	s->closed = 1;
}

static const struct conn_transport script_transport = {
	"script", script_read, script_write, script_close
};

/* Send the log, at trace level, to a new temporary file. */
static FILE *
trace_start(void)
{
	FILE	*log;

	log = tmpfile();
	assert_non_null(log);
	log_set_output(log);
	log_set_level(LOG_LVL_TRACE);
	return log;
}

/* Put the log back and return what went to log, NUL-terminated. */
static char *
trace_end(FILE *log)
{
	char	*buf;
	long	 size;

	log_set_output(NULL);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(fseek(log, 0, SEEK_END), 0);
	size = ftell(log);
	rewind(log);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, log), (size_t)size);
	fclose(log);
	return buf;
}

/* The connection's stop flag ("stop after this message"), clear at start. */
static atomic_int	stop_flag;

/* A client over steps, served in reads of at most chunk bytes. */
static struct pop3 *
start(struct script *s, const struct step *steps, size_t n, size_t chunk)
{
	struct conn_params	cp;
	struct pop3_params	pp = { "acct" };

	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->n = n;
	s->chunk = chunk;
	memset(&cp, 0, sizeof(cp));
	cp.timeout_ms = 1000;
	cp.stop_flag = &stop_flag;
	stop_flag = 0;
	return pop3_new(conn_new(&script_transport, s, &cp), &pp);
}

/* Every step was played, then free the client. */
static void
finish(struct script *s, struct pop3 *p)
{
	if (s->pos != s->n)
		fail_msg("script stopped at step %zu of %zu (\"%s\")", s->pos,
		    s->n, s->steps[s->pos].data);
	pop3_free(p);
	assert_int_equal(s->closed, 1);
}

#define START(s, steps, chunk)	start(s, steps, NELEM(steps), chunk)

#define GREETING	"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
#define LOGIN_STEPS	S(GREETING), C("USER bob"), S("+OK\r\n"), \
	C("PASS secret"), S("+OK maildrop ready\r\n")

/* Greeting, USER bob, PASS secret: into TRANSACTION. */
static void
login(struct pop3 *p)
{
	struct err	e;

	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "secret", &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
}

/* Put the steps login() plays at the start of steps; returns how many. */
static size_t
login_steps(struct step *steps)
{
	static const struct step st[] = { LOGIN_STEPS };

	memcpy(steps, st, sizeof(st));
	return NELEM(st);
}

/* A sink that collects bodies, and can be told to fail. */
struct collect {
	char		*data;
	size_t		 len;
	size_t		 maxwrite;
	size_t		 maxlag;	/* served - delivered at a write */
	struct script	*script;
	unsigned long	 nums[16];
	int		 begins;
	int		 ends;
	int		 writes;
	int		 fail_begin;	/* fail the begin of this message */
	int		 fail_write;	/* fail the n-th write (1-based) */
	size_t		 discard;	/* count only, keep no data */
};

static int
collect_begin(void *arg, unsigned long num, struct err *e)
{
	struct collect	*c = arg;

	if (c->fail_begin != 0 && (unsigned long)c->fail_begin == num)
		return err_set(e, E_DELIVERY, "begin %lu refused", num);
	c->nums[c->begins++ % 16] = num;
	return 0;
}

static int
collect_write(void *arg, const char *data, size_t len, struct err *e)
{
	struct collect	*c = arg;
	size_t		 lag;

	if (++c->writes == c->fail_write)
		return err_set(e, E_DELIVERY, "disk full");
	if (len > c->maxwrite)
		c->maxwrite = len;
	if (c->script != NULL) {
		lag = c->script->served - (c->len + len);
		if (lag > c->maxlag)
			c->maxlag = lag;
	}
	if (!c->discard) {
		c->data = realloc(c->data, c->len + len + 1);
		memcpy(c->data + c->len, data, len);
		c->data[c->len + len] = '\0';
	}
	c->len += len;
	return 0;
}

static int
collect_end(void *arg, struct err *e)
{
	struct collect	*c = arg;

	c->ends++;
	return 0;
}

static const struct pop3_sink collect_sink = {
	collect_begin, collect_write, collect_end, NULL
};

/* pop3_greeting, pop3_welcome, pop3_apop_timestamp */

static void
test_greeting(void **state)
{
	static const struct step ok[] = { S(GREETING) };
	static const struct step no_ts[] = { S("+OK ready\r\n") };
	static const struct step err[] = {
		S("-ERR [SYS/TEMP] too busy\r\n")
	};
	static const struct step junk[] = { S("* OK IMAP4rev1\r\n") };
	static const struct step evil[] = { S("+OK hi\x1b[2J there\r\n") };
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, ok, 5);
	assert_int_equal(pop3_state(p), POP3_ST_GREETING);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	assert_string_equal(pop3_apop_timestamp(p),
	    "<1896.697170952@dbc.mtview.ca.us>");
	assert_string_equal(pop3_welcome(p),
	    "POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
	/* Only once. */
	assert_int_equal(pop3_greeting(p, &e), E_PROTO);
	finish(&s, p);

	p = START(&s, no_ts, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_null(pop3_apop_timestamp(p));
	finish(&s, p);

	p = START(&s, err, 0);
	assert_int_equal(pop3_greeting(p, &e), E_SERVER);
	assert_true(e.temporary);
	assert_string_equal(e.msg, "greeting: -ERR [SYS/TEMP] too busy");
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);

	p = START(&s, junk, 0);
	assert_int_equal(pop3_greeting(p, &e), E_PROTO);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);

	p = START(&s, evil, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_string_equal(pop3_welcome(p), "hi?[2J there");
	finish(&s, p);

	/* No greeting at all: the server hung up. */
	p = start(&s, NULL, 0, 0);
	assert_int_equal(pop3_greeting(p, &e), E_IO);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);
	pop3_free(NULL);
}

/* pop3_capa */

static void
test_capa(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("CAPA"),
		S("+OK Capability list follows\r\nTOP\r\nUSER\r\n"
		    "SASL PLAIN cram-md5\r\nRESP-CODES\r\nLOGIN-DELAY abc\r\n"
		    "PIPELINING\r\nEXPIRE NEVER\r\nUIDL\r\n"
		    "IMPLEMENTATION Dovecot\r\nSTLS\r\n..X-DOTTED\r\n.\r\n"),
		C("CAPA"),
		S("-ERR unknown command\r\n"),
	};
	struct script			 s;
	struct pop3			*p;
	struct err			 e;
	const struct pop3_capa		*c;

	p = START(&s, steps, 7);
	assert_int_equal(pop3_capa(p, &e), E_PROTO);	/* before greeting */
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_capa(p, &e), 0);
	c = pop3_caps(p);
	assert_int_equal(c->flags, POP3_CAPA_TOP | POP3_CAPA_USER |
	    POP3_CAPA_SASL | POP3_CAPA_RESP_CODES | POP3_CAPA_PIPELINING |
	    POP3_CAPA_EXPIRE | POP3_CAPA_UIDL | POP3_CAPA_IMPLEMENTATION |
	    POP3_CAPA_STLS);
	assert_true(pop3_capa_has_sasl(c, "CRAM-MD5"));
	assert_int_equal(c->login_delay, -1);	/* malformed: ignored */
	assert_string_equal(c->implementation, "Dovecot");
	assert_int_equal(c->nlines, 11);
	assert_string_equal(c->lines[10], ".X-DOTTED");	/* unstuffed */

	/* An old server without CAPA: an empty set, no error. */
	assert_int_equal(pop3_capa(p, &e), 0);
	assert_int_equal(pop3_caps(p)->flags, 0);
	assert_int_equal(pop3_caps(p)->nlines, 0);
	finish(&s, p);
}

/* pop3_user, pop3_pass */

static void
test_user_pass(void **state)
{
	static const struct step ok[] = { LOGIN_STEPS };
	static const struct step refused[] = {
		S(GREETING), C("USER bob"), S("+OK\r\n"), C("PASS secret"),
		S("-ERR [AUTH] invalid login\r\n"),
		C("USER bob"), S("+OK\r\n"), C("PASS secret"),
		S("-ERR [IN-USE] mailbox locked\r\n"),
		C("USER nobody"), S("-ERR no such user\r\n"),
		C("USER bob"), S("+OK\r\n"), C("PASS secret"),
		S("-ERR [SYS/PERM] account disabled\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, ok, 1);
	login(p);
	/* Login commands are over once in TRANSACTION. */
	assert_int_equal(pop3_user(p, "bob", &e), E_PROTO);
	assert_string_equal(e.msg, "USER: not allowed in state TRANSACTION");
	finish(&s, p);

	p = START(&s, refused, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	/* PASS without an accepted USER sends nothing. */
	assert_int_equal(pop3_pass(p, "secret", &e), E_PROTO);

	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	assert_int_equal(pop3_pass(p, "secret", &e), E_AUTH);
	assert_false(e.temporary);
	assert_string_equal(e.msg, "PASS: -ERR [AUTH] invalid login");
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	/* A refused PASS needs a new USER. */
	assert_int_equal(pop3_pass(p, "secret", &e), E_PROTO);

	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "secret", &e), E_SERVER);
	assert_true(e.temporary);
	assert_string_equal(e.msg, "PASS: -ERR [IN-USE] mailbox locked");

	assert_int_equal(pop3_user(p, "nobody", &e), E_AUTH);
	assert_string_equal(e.msg, "USER: -ERR no such user");
	assert_int_equal(pop3_pass(p, "secret", &e), E_PROTO);

	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "secret", &e), E_AUTH);
	assert_false(e.temporary);

	/* A line break in an argument would inject a command. */
	assert_int_equal(pop3_user(p, "bob\r\nDELE 1", &e), E_AUTH);
	finish(&s, p);
}

/* pop3_apop: the RFC 1939 section 7 example. */

static void
test_apop(void **state)
{
	static const struct step ok[] = {
		S(GREETING),
		C("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
		S("+OK maildrop has 1 message (369 octets)\r\n"),
	};
	static const struct step no_ts[] = { S("+OK ready\r\n") };
	static const struct step refused[] = {
		S(GREETING),
		C("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
		S("-ERR [SYS/TEMP] try later\r\n"),
		C("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
		S("-ERR permission denied\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, ok, 3);
	assert_int_equal(pop3_apop(p, "mrose", "tanstaaf", &e), E_PROTO);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_apop(p, "mrose", "tanstaaf", &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	finish(&s, p);

	p = START(&s, no_ts, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_apop(p, "mrose", "tanstaaf", &e), E_AUTH);
	assert_non_null(strstr(e.msg, "server offers no APOP"));
	finish(&s, p);

	p = START(&s, refused, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_apop(p, "mrose", "tanstaaf", &e), E_SERVER);
	assert_true(e.temporary);
	assert_int_equal(pop3_apop(p, "mrose", "tanstaaf", &e), E_AUTH);
	assert_string_equal(e.msg, "APOP: -ERR permission denied");
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	finish(&s, p);
}

/* sasl_auth: the exchange over pop3_auth_begin/next/send/cancel */

static void
test_auth_plain(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("AUTH PLAIN AGJvYgBzZWNyZXQ="),
		S("-ERR [AUTH] bad credentials\r\n"),
		C("AUTH PLAIN AGJvYgBzZWNyZXQ="),
		S("-ERR [SYS/TEMP] backend down\r\n"),
		C("AUTH PLAIN AGJvYgBzZWNyZXQ="),
		S("+OK logged in\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, steps, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	/* Unknown mechanisms are refused before anything is sent. */
	assert_int_equal(sasl_auth(p, "X-NONE", "bob", "secret", &e), E_AUTH);
	assert_int_equal(sasl_auth(p, "plain", "bob", "secret", &e), E_AUTH);
	assert_false(e.temporary);
	assert_string_equal(e.msg, "AUTH PLAIN: -ERR [AUTH] bad credentials");
	assert_int_equal(sasl_auth(p, "PLAIN", "bob", "secret", &e),
	    E_SERVER);
	assert_true(e.temporary);
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	assert_int_equal(sasl_auth(p, "PLAIN", "bob", "secret", &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	assert_int_equal(sasl_auth(p, "PLAIN", "bob", "secret", &e), E_PROTO);
	finish(&s, p);
}

/*
 * XOAUTH2 with a token of toklen bytes: "AUTH XOAUTH2 " (13) + base64 +
 * CRLF fits 255 octets up to 240 base64 characters, 180 raw bytes, which
 * is a token of 157.  One more and the response waits for "+ ".
 */
static void
test_auth_long_token(void **state)
{
	static const struct {
		size_t	toklen;
		bool	one_line;
	} cases[] = {
		{ 6, true }, { 157, true }, { 158, false }, { 3000, false },
	};
	struct step	 steps[6];
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	char		*tok, *raw, *b64, *authline, *respline;
	size_t		 i, n;

	for (i = 0; i < NELEM(cases); i++) {
		tok = malloc(cases[i].toklen + 1);
		memset(tok, 'T', cases[i].toklen);
		tok[cases[i].toklen] = '\0';
		assert_true(asprintf(&raw, "user=bob\001auth=Bearer %s\001\001",
		    tok) > 0);
		b64 = crypto_base64_encode(raw, strlen(raw));
		assert_true(asprintf(&authline, "AUTH XOAUTH2 %s\r\n", b64) > 0);
		assert_true(asprintf(&respline, "%s\r\n", b64) > 0);
		assert_int_equal(strlen(authline) <= 255, cases[i].one_line);
		n = 0;
		steps[n++] = (struct step)S(GREETING);
		if (cases[i].one_line)
			steps[n++] = (struct step){ STEP_C, authline, 0 };
		else {
			steps[n++] = (struct step)C("AUTH XOAUTH2");
			steps[n++] = (struct step)S("+ \r\n");
			steps[n++] = (struct step){ STEP_C, respline, 0 };
		}
		steps[n++] = (struct step)S("+OK\r\n");
		p = start(&s, steps, n, 0);
		assert_int_equal(pop3_greeting(p, &e), 0);
		assert_int_equal(sasl_auth(p, "XOAUTH2", "bob", tok, &e), 0);
		assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
		finish(&s, p);
		free(tok);
		free(raw);
		free(b64);
		free(authline);
		free(respline);
	}
}

/* XOAUTH2's error challenge is answered with an empty line. */
static void
test_auth_xoauth2_error(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("AUTH XOAUTH2 dXNlcj1ib2IBYXV0aD1CZWFyZXIgdG9rMTIzAQE="),
		S("+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n"),
		C(""),
		S("-ERR authentication failed\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, steps, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(sasl_auth(p, "XOAUTH2", "bob", "tok123", &e), E_AUTH);
	assert_false(e.temporary);
	assert_non_null(strstr(e.msg,
	    "AUTH XOAUTH2: -ERR authentication failed"));
	/* The server's reason is kept for the user. */
	assert_non_null(strstr(e.msg, "\"status\":\"401\""));
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	finish(&s, p);
}

/* CRAM-MD5 with the RFC 2195 example. */
static void
test_auth_cram_md5(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("AUTH CRAM-MD5"),
		S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
		    "\r\n"),
		C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
		S("+OK CRAM authentication successful\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, steps, 4);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(sasl_auth(p, "CRAM-MD5", "tim", "tanstaaftanstaaf",
	    &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	finish(&s, p);
}

/* Exchanges the client cannot go on with are cancelled with "*". */
static void
test_auth_cancel(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		/* Not base64. */
		C("AUTH CRAM-MD5"), S("+ !!not base64!!\r\n"),
		C("*"), S("-ERR AUTH cancelled\r\n"),
		/* A challenge the mechanism cannot answer. */
		C("AUTH CRAM-MD5"), S("+ \r\n"),
		C("*"), S("-ERR AUTH cancelled\r\n"),
		/* LOGIN asked a third time. */
		C("AUTH LOGIN"), S("+ VXNlcm5hbWU6\r\n"), C("Ym9i"),
		S("+ UGFzc3dvcmQ6\r\n"), C("c2VjcmV0"), S("+ \r\n"),
		C("*"), S("-ERR AUTH cancelled\r\n"),
		/* The same LOGIN, accepted. */
		C("AUTH LOGIN"), S("+ VXNlcm5hbWU6\r\n"), C("Ym9i"),
		S("+ UGFzc3dvcmQ6\r\n"), C("c2VjcmV0"), S("+OK\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, steps, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(sasl_auth(p, "CRAM-MD5", "tim", "x", &e), E_AUTH);
	assert_string_equal(e.msg, "AUTH CRAM-MD5: malformed challenge");
	assert_int_equal(sasl_auth(p, "CRAM-MD5", "tim", "x", &e), E_AUTH);
	assert_non_null(strstr(e.msg, "AUTH CRAM-MD5: "));
	assert_int_equal(sasl_auth(p, "LOGIN", "bob", "secret", &e), E_AUTH);
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	assert_int_equal(sasl_auth(p, "LOGIN", "bob", "secret", &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	finish(&s, p);
}

/* pop3_stls: the script transport cannot do TLS, which shows the order. */
static void
test_stls(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("CAPA"), S("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		C("STLS"), S("-ERR [SYS/TEMP] not now\r\n"),
		C("STLS"), S("+OK Begin TLS negotiation\r\n"),
	};
	struct tls_params	 tp = { "pop.example.org", NULL, true, NULL, 12,
	    NULL };
	struct script		 s;
	struct pop3		*p;
	struct err		 e;

	p = START(&s, steps, 0);
	assert_int_equal(pop3_stls(p, &tp, &e), E_PROTO);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_capa(p, &e), 0);
	assert_int_equal(pop3_stls(p, &tp, &e), E_SERVER);
	assert_true(e.temporary);
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	/* +OK, then the handshake is attempted and fails here. */
	assert_int_equal(pop3_stls(p, &tp, &e), E_TLS);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	assert_false(conn_is_tls(pop3_conn(p)));
	finish(&s, p);
}

/* pop3_utf8, pop3_is_utf8 */
static void
test_utf8(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("CAPA"), S("+OK\r\nUSER\r\n.\r\n"),
		C("CAPA"), S("+OK\r\nUTF8 USER\r\n.\r\n"),
		C("UTF8"), S("+OK UTF8 enabled\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, steps, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_capa(p, &e), 0);
	assert_int_equal(pop3_utf8(p, &e), E_PROTO);
	assert_string_equal(e.msg, "server does not support UTF8");
	assert_false(pop3_is_utf8(p));
	assert_int_equal(pop3_capa(p, &e), 0);
	assert_int_equal(pop3_utf8(p, &e), 0);
	assert_true(pop3_is_utf8(p));
	finish(&s, p);
}

/* pop3_stat, pop3_list, pop3_list_one, pop3_uidl, pop3_uidl_one */

static void
test_listings(void **state)
{
	static const struct step steps[] = {
		LOGIN_STEPS,
		C("STAT"), S("+OK 3 1200\r\n"),
		C("LIST"), S("+OK 3 messages\r\n1 120\r\n2 200\r\n5 880\r\n"
		    ".\r\n"),
		/* UIDL in another order, plus one LIST did not show. */
		C("UIDL"), S("+OK\r\n2 QhdPYR:00WBw1Ph7x7\r\n"
		    "1 whqtswO00WBw418f9t5JxYwZ\r\n5 u5\r\n7 u7\r\n.\r\n"),
		C("LIST 2"), S("+OK 2 200\r\n"),
		C("UIDL 5"), S("+OK 5 u5\r\n"),
		C("LIST 9"), S("-ERR no such message\r\n"),
		C("LIST 2"), S("+OK 3 200\r\n"),
		C("STAT"), S("+OK three\r\n"),
		C("UIDL"), S("+OK\r\n1 ok\r\nx2 bad\r\n3 ok3\r\n.\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	struct pop3_listing	 l;
	struct script		 s;
	struct pop3		*p;
	struct err		 e;
	unsigned long		 count;
	unsigned long long	 octets, size;
	char			 uid[POP3_UIDL_MAX + 1];

	memset(&l, 0, sizeof(l));
	p = START(&s, steps, 3);
	login(p);
	assert_int_equal(pop3_stat(p, &count, &octets, &e), 0);
	assert_int_equal(count, 3);
	assert_int_equal(octets, 1200);

	assert_int_equal(pop3_list(p, &l, &e), 0);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.msgs[2].num, 5);
	assert_int_equal(l.msgs[2].size, 880);
	assert_null(pop3_msg_uidl(&l, &l.msgs[2]));

	/* UIDL merges by number; 7 is not in LIST and is only counted. */
	assert_int_equal(pop3_uidl(p, &l, &e), 0);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.uidl_only, 1);
	assert_int_equal(l.msgs[0].num, 1);
	assert_int_equal(l.msgs[0].size, 120);
	assert_string_equal(pop3_msg_uidl(&l, &l.msgs[0]),
	    "whqtswO00WBw418f9t5JxYwZ");
	assert_int_equal(l.msgs[1].num, 2);
	assert_int_equal(l.msgs[1].size, 200);
	assert_string_equal(pop3_msg_uidl(&l, &l.msgs[1]),
	    "QhdPYR:00WBw1Ph7x7");
	assert_string_equal(pop3_msg_uidl(&l, &l.msgs[2]), "u5");
	assert_int_equal(l.msgs[2].flags, POP3_MSG_LISTED | POP3_MSG_UIDL);
	pop3_listing_free(&l);
	assert_null(l.msgs);
	assert_int_equal(l.count, 0);

	assert_int_equal(pop3_list_one(p, 2, &size, &e), 0);
	assert_int_equal(size, 200);
	assert_int_equal(pop3_uidl_one(p, 5, uid, &e), 0);
	assert_string_equal(uid, "u5");
	assert_int_equal(pop3_list_one(p, 9, &size, &e), E_SERVER);
	assert_string_equal(e.msg, "LIST 9: -ERR no such message");
	/* The answer is about another message. */
	assert_int_equal(pop3_list_one(p, 2, &size, &e), E_PROTO);
	assert_int_equal(pop3_stat(p, &count, &octets, &e), E_PROTO);
	assert_string_equal(e.msg, "STAT: bad reply \"+OK three\"");

	/* A bad line is reported once the reply is over: still in step. */
	assert_int_equal(pop3_uidl(p, &l, &e), E_PROTO);
	assert_string_equal(e.msg, "UIDL: bad line \"x2 bad\"");
	pop3_listing_free(&l);
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
}

/* Listings grow with the lines that come, across reallocations. */
static void
test_listing_growth(void **state)
{
	struct step		 steps[4 + 5];
	struct pop3_listing	 l = { 0 };
	struct script		 s;
	struct pop3		*p;
	struct err		 e;
	char			*list, *uidl;
	size_t			 i, n, off;
	const size_t		 nmsg = 1000;

	list = malloc(nmsg * 24 + 16);
	uidl = malloc(nmsg * 24 + 16);
	off = (size_t)sprintf(list, "+OK\r\n");
	for (i = 1; i <= nmsg; i++)
		off += (size_t)sprintf(list + off, "%zu %zu\r\n", i, i * 10);
	sprintf(list + off, ".\r\n");
	/* UIDL lists backwards, so every lookup misses the hint. */
	off = (size_t)sprintf(uidl, "+OK\r\n");
	for (i = nmsg; i >= 1; i--)
		off += (size_t)sprintf(uidl + off, "%zu uid-%zu\r\n", i, i);
	sprintf(uidl + off, ".\r\n");
	n = login_steps(steps);
	steps[n++] = (struct step)C("LIST");
	steps[n++] = (struct step){ STEP_S, list, 0 };
	steps[n++] = (struct step)C("UIDL");
	steps[n++] = (struct step){ STEP_S, uidl, 0 };
	p = start(&s, steps, n, 0);
	login(p);
	assert_int_equal(pop3_list(p, &l, &e), 0);
	assert_int_equal(pop3_uidl(p, &l, &e), 0);
	assert_int_equal(l.count, nmsg);
	for (i = 0; i < nmsg; i++) {
		char want[32];

		assert_int_equal(l.msgs[i].num, i + 1);
		assert_int_equal(l.msgs[i].size, (i + 1) * 10);
		snprintf(want, sizeof(want), "uid-%zu", i + 1);
		assert_string_equal(pop3_msg_uidl(&l, &l.msgs[i]), want);
	}
	pop3_listing_free(&l);
	finish(&s, p);
	free(list);
	free(uidl);
}

/*
 * Listings that real servers get wrong: a unique-id beyond RFC 1939 is
 * kept as sent; an unusable one or two for one number cost only that
 * message; a number LIST gives twice breaks the listing; out-of-order
 * lines still merge.
 */
static void
test_listing_odd(void **state)
{
	static const struct step steps[] = {
		LOGIN_STEPS,
		C("LIST"), S("+OK\r\n3 30\r\n1 10\r\n2 20\r\n4 40\r\n"
		    ".\r\n"),
		C("UIDL"), S("+OK\r\n2 a file name.eml\r\n1 \xc3\xa9t\xc3\xa9"
		    "\r\n3 \r\n4 x\r\n4 y\r\n.\r\n"),
		C("LIST"), S("+OK\r\n1 10\r\n2 20\r\n1 10\r\n.\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	struct pop3_listing	 l = { 0 };
	struct script		 s;
	struct pop3		*p;
	struct err		 e;

	(void)state;
	p = START(&s, steps, 3);
	login(p);
	assert_int_equal(pop3_list(p, &l, &e), 0);
	assert_int_equal(pop3_uidl(p, &l, &e), 0);
	assert_int_equal(l.count, 4);
	assert_int_equal(l.msgs[0].num, 3);
	assert_int_equal(l.msgs[0].flags, POP3_MSG_LISTED | POP3_MSG_BADUIDL);
	assert_null(pop3_msg_uidl(&l, &l.msgs[0]));
	assert_string_equal(pop3_msg_uidl(&l, &l.msgs[1]), "\xc3\xa9t\xc3\xa9");
	assert_string_equal(pop3_msg_uidl(&l, &l.msgs[2]), "a file name.eml");
	assert_int_equal(l.msgs[3].flags, POP3_MSG_LISTED | POP3_MSG_BADUIDL);
	pop3_listing_free(&l);
	assert_int_equal(pop3_list(p, &l, &e), E_PROTO);
	assert_string_equal(e.msg, "LIST: message 1 listed twice");
	pop3_listing_free(&l);
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
}

/* pop3_retr, pop3_top */

static void
test_retr_top(void **state)
{
	static const struct step steps[] = {
		LOGIN_STEPS,
		C("RETR 1"),
		S("+OK 120 octets\r\nSubject: hi\r\n\r\n..dotted\r\nlone\rcr\r\n"
		    "bare lf\n.\r\n"),
		C("TOP 1 0"),
		S("+OK\r\nSubject: hi\r\n\r\n.\r\n"),
		C("RETR 9"),
		S("-ERR no such message\r\n"),
		C("RETR 2"),
		S("+OK\r\n.\r\n"),
	};
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 7, 64 };
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	size_t		 i;

	for (i = 0; i < NELEM(chunks); i++) {
		memset(&c, 0, sizeof(c));
		p = START(&s, steps, chunks[i]);
		login(p);
		assert_int_equal(pop3_retr(p, 1, &collect_sink, &c, &e), 0);
		assert_string_equal(c.data,
		    "Subject: hi\n\n.dotted\nlone\rcr\nbare lf\n");
		assert_int_equal(c.begins, 1);
		assert_int_equal(c.nums[0], 1);
		assert_int_equal(c.ends, 1);

		free(c.data);
		memset(&c, 0, sizeof(c));
		assert_int_equal(pop3_top(p, 1, 0, &collect_sink, &c, &e), 0);
		assert_string_equal(c.data, "Subject: hi\n\n");

		/* A refused RETR never opens the sink. */
		free(c.data);
		memset(&c, 0, sizeof(c));
		assert_int_equal(pop3_retr(p, 9, &collect_sink, &c, &e),
		    E_SERVER);
		assert_string_equal(e.msg, "RETR 9: -ERR no such message");
		assert_int_equal(c.begins, 0);

		/* An empty message: begin and end, no write. */
		assert_int_equal(pop3_retr(p, 2, &collect_sink, &c, &e), 0);
		assert_int_equal(c.begins, 1);
		assert_int_equal(c.writes, 0);
		assert_int_equal(c.ends, 1);
		finish(&s, p);
	}
}

/* A 20 MB line streams through in bounded pieces. */
static void
test_retr_huge_line(void **state)
{
	const size_t	 big = 20 * 1024 * 1024;
	struct step	 steps[7];
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	char		*reply;
	size_t		 n;

	reply = malloc(big + 32);
	memcpy(reply, "+OK\r\n", 5);
	memset(reply + 5, 'x', big);
	memcpy(reply + 5 + big, "\r\n.\r\n", 6);
	n = login_steps(steps);
	steps[n++] = (struct step)C("RETR 1");
	steps[n++] = (struct step){ STEP_S, reply, 0 };
	memset(&c, 0, sizeof(c));
	c.discard = 1;
	p = start(&s, steps, n, 0);
	c.script = &s;
	login(p);
	assert_int_equal(pop3_retr(p, 1, &collect_sink, &c, &e), 0);
	assert_int_equal(c.len, big + 1);
	/* Written as it arrives: never much more than a chunk behind. */
	assert_true(c.maxwrite <= CONN_CHUNK);
	assert_true(c.maxlag <= 2 * CONN_CHUNK);
	assert_true(c.writes > 1000);
	finish(&s, p);
	free(reply);
}

/* A sink that fails: the rest is read, the session goes on. */
static void
test_sink_failure(void **state)
{
	static const struct step steps[] = {
		LOGIN_STEPS,
		C("RETR 1"),
		S("+OK\r\nline 1\r\nline 2\r\nline 3\r\n.\r\n"),
		C("NOOP"), S("+OK\r\n"),
		C("RETR 2"),
		S("+OK\r\nline 1\r\n.\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;

	memset(&c, 0, sizeof(c));
	c.fail_write = 2;
	p = START(&s, steps, 8);	/* several writes per message */
	login(p);
	assert_int_equal(pop3_retr(p, 1, &collect_sink, &c, &e), E_DELIVERY);
	assert_string_equal(e.msg, "disk full");
	assert_int_equal(c.ends, 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	assert_int_equal(pop3_noop(p, &e), 0);

	free(c.data);
	memset(&c, 0, sizeof(c));
	c.fail_begin = 2;
	assert_int_equal(pop3_retr(p, 2, &collect_sink, &c, &e), E_DELIVERY);
	assert_string_equal(e.msg, "begin 2 refused");
	assert_int_equal(c.writes, 0);
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
	free(c.data);
}

/* pop3_dele, pop3_rset, pop3_noop, pop3_quit */

static void
test_simple_commands(void **state)
{
	static const struct step steps[] = {
		LOGIN_STEPS,
		C("DELE 1"), S("+OK message 1 deleted\r\n"),
		C("RSET"), S("+OK\r\n"),
		C("NOOP"), S("+OK\r\n"),
		C("QUIT"), S("+OK dewey POP3 server signing off\r\n"),
	};
	static const struct step quit_err[] = {
		LOGIN_STEPS,
		C("QUIT"), S("-ERR some deleted messages not removed\r\n"),
	};
	static const struct step quit_auth[] = {
		S(GREETING), C("QUIT"), S("+OK bye\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	FILE		*log;
	char		 buf[4096];
	size_t		 n;

	log = tmpfile();
	log_set_output(log);
	log_set_level(LOG_LVL_DEBUG);
	p = START(&s, steps, 0);
	login(p);
	assert_int_equal(pop3_dele(p, 1, &e), 0);
	assert_int_equal(pop3_rset(p, &e), 0);
	assert_int_equal(pop3_noop(p, &e), 0);
	assert_int_equal(pop3_quit(p, &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	assert_int_equal(pop3_noop(p, &e), E_PROTO);
	assert_string_equal(e.msg, "NOOP: not allowed in state CLOSED");
	finish(&s, p);
	log_set_output(NULL);
	log_set_level(LOG_LVL_INFO);
	rewind(log);
	n = fread(buf, 1, sizeof(buf) - 1, log);
	buf[n] = '\0';
	fclose(log);
	/* Every phase change is traced, QUIT passing through UPDATE. */
	assert_non_null(strstr(buf, "acct: state GREETING -> AUTH"));
	assert_non_null(strstr(buf, "acct: state AUTH -> TRANSACTION"));
	assert_non_null(strstr(buf, "acct: state TRANSACTION -> UPDATE"));
	assert_non_null(strstr(buf, "acct: state UPDATE -> CLOSED"));
	assert_non_null(strstr(buf, "acct: > DELE 1"));
	assert_non_null(strstr(buf, "acct: < +OK message 1 deleted"));

	p = START(&s, quit_err, 0);
	login(p);
	assert_int_equal(pop3_quit(p, &e), E_SERVER);
	assert_string_equal(e.msg,
	    "QUIT: -ERR some deleted messages not removed");
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);

	p = START(&s, quit_auth, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_quit(p, &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);

	/* QUIT before the greeting: refused, and closed all the same. */
	p = start(&s, NULL, 0, 0);
	assert_int_equal(pop3_quit(p, &e), E_PROTO);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);
}

/* Commands in the wrong phase are refused before anything is sent. */
static void
test_phase_checks(void **state)
{
	static const struct step steps[] = { S(GREETING) };
	struct collect	 c;
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	unsigned long	 count, nums[2] = { 1, 2 };
	unsigned long long octets;
	struct pop3_listing l = { 0 };
	char		 uid[POP3_UIDL_MAX + 1];
	size_t		 done;

	memset(&c, 0, sizeof(c));
	p = START(&s, steps, 0);
	assert_int_equal(pop3_user(p, "bob", &e), E_PROTO);
	assert_string_equal(e.msg, "USER: not allowed in state GREETING");
	assert_int_equal(pop3_greeting(p, &e), 0);
	/* The script has nothing more: any write would fail the test. */
	assert_int_equal(pop3_retr(p, 1, &collect_sink, &c, &e), E_PROTO);
	assert_string_equal(e.msg, "RETR 1: not allowed in state AUTH");
	assert_int_equal(pop3_top(p, 1, 5, &collect_sink, &c, &e), E_PROTO);
	assert_int_equal(pop3_stat(p, &count, &octets, &e), E_PROTO);
	assert_int_equal(pop3_list(p, &l, &e), E_PROTO);
	assert_int_equal(pop3_uidl(p, &l, &e), E_PROTO);
	assert_int_equal(pop3_list_one(p, 1, &octets, &e), E_PROTO);
	assert_int_equal(pop3_uidl_one(p, 1, uid, &e), E_PROTO);
	assert_int_equal(pop3_dele(p, 1, &e), E_PROTO);
	assert_int_equal(pop3_rset(p, &e), E_PROTO);
	assert_int_equal(pop3_noop(p, &e), E_PROTO);
	assert_int_equal(pop3_retr_many(p, nums, NULL, 2, 0, &collect_sink, &c,
	    &done,
	    &e), E_PROTO);
	assert_int_equal(done, 0);
	assert_int_equal(pop3_dele_many(p, nums, 2, &done, &e), E_PROTO);
	assert_int_equal(pop3_rpop(p, "bob", &e), E_PROTO);	/* no USER */
	assert_int_equal(c.begins, 0);
	assert_int_equal(pop3_state(p), POP3_ST_AUTH);
	assert_null(l.msgs);
	finish(&s, p);
}

/* -ERR replies: E_SERVER, the class from the response code. */
static void
test_server_errors(void **state)
{
	static const struct {
		const char	*reply;
		bool		 temporary;
	} cases[] = {
		{ "-ERR [SYS/TEMP] disk trouble", true },
		{ "-ERR [SYS/TEMP/QUOTA] later", true },
		{ "-ERR [IN-USE] locked", true },
		{ "-ERR [LOGIN-DELAY] wait", true },
		{ "-ERR [SYS/PERM] gone for good", false },
		{ "-ERR [X-VENDOR] whatever", false },
		{ "-ERR plain refusal", false },
		{ "-ERR", false },
	};
	struct step	 steps[5 + 4];
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	char		 reply[128], want[160];
	size_t		 i, n;

	for (i = 0; i < NELEM(cases); i++) {
		snprintf(reply, sizeof(reply), "%s\r\n", cases[i].reply);
		n = login_steps(steps);
		steps[n++] = (struct step)C("RETR 3");
		steps[n++] = (struct step){ STEP_S, reply, 0 };
		steps[n++] = (struct step)C("NOOP");
		steps[n++] = (struct step)S("+OK\r\n");
		memset(&c, 0, sizeof(c));
		p = start(&s, steps, n, 0);
		login(p);
		assert_int_equal(pop3_retr(p, 3, &collect_sink, &c, &e),
		    E_SERVER);
		snprintf(want, sizeof(want), "RETR 3: %s", cases[i].reply);
		assert_string_equal(e.msg, want);
		if (e.temporary != cases[i].temporary)
			fail_msg("\"%s\": temporary %d", cases[i].reply,
			    e.temporary);
		/* The session goes on. */
		assert_int_equal(pop3_noop(p, &e), 0);
		finish(&s, p);
	}
}

/* The server's text is sanitized in messages. */
static void
test_error_sanitized(void **state)
{
	static const struct step steps[] = {
		LOGIN_STEPS,
		C("DELE 4"), S("-ERR \x1b]0;pwned\x07 no\r\n"),
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;

	p = START(&s, steps, 0);
	login(p);
	assert_int_equal(pop3_dele(p, 4, &e), E_SERVER);
	assert_string_equal(e.msg, "DELE 4: -ERR ?]0;pwned? no");
	finish(&s, p);
}

/* Connection trouble: the session is over. */
static void
test_broken_link(void **state)
{
	static const struct step cut[] = {
		LOGIN_STEPS,
		C("RETR 1"), S("+OK\r\nhalf a mess"),
	};
	static const struct step junk[] = {
		LOGIN_STEPS,
		C("NOOP"), S("OK?\r\n"),
	};
	static const struct step cont[] = {
		LOGIN_STEPS,
		C("NOOP"), S("+ what\r\n"),
	};
	struct step	 steps[7];
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	unsigned long	 count;
	unsigned long long octets;
	char		*longline;
	size_t		 n;

	memset(&c, 0, sizeof(c));
	p = START(&s, cut, 4);
	login(p);
	assert_int_equal(pop3_retr(p, 1, &collect_sink, &c, &e), E_IO);
	assert_string_equal(e.msg, "RETR 1: connection closed by server");
	assert_int_equal(c.ends, 0);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);
	free(c.data);

	p = START(&s, junk, 0);
	login(p);
	assert_int_equal(pop3_noop(p, &e), E_PROTO);
	assert_string_equal(e.msg, "NOOP: bad reply \"OK?\"");
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);

	p = START(&s, cont, 0);
	login(p);
	assert_int_equal(pop3_noop(p, &e), E_PROTO);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);

	/* A status line longer than CONN_LINE_MAX. */
	longline = malloc(3 * CONN_LINE_MAX);
	memcpy(longline, "+OK ", 4);
	memset(longline + 4, '7', 3 * CONN_LINE_MAX - 7);
	memcpy(longline + 3 * CONN_LINE_MAX - 3, "\r\n", 3);
	n = login_steps(steps);
	steps[n++] = (struct step)C("STAT");
	steps[n++] = (struct step){ STEP_S, longline, 0 };
	p = start(&s, steps, n, 1000);
	login(p);
	assert_int_equal(pop3_stat(p, &count, &octets, &e), E_PROTO);
	assert_non_null(strstr(e.msg, "STAT: line too long"));
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	/* The rest of the line is never read: the script is left over. */
	assert_true(s.pos < s.n);
	s.pos = s.n;
	finish(&s, p);
	free(longline);
}

/* pop3_retr_many, pop3_dele_many */

#define CAPA_PIPE	C("CAPA"), S("+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n")
#define CAPA_NOPIPE	C("CAPA"), S("+OK\r\nUIDL\r\n.\r\n")
#define BODY(n)		"+OK\r\nmessage " #n "\r\n.\r\n"

static void
pipe_login(struct pop3 *p)
{
	struct err	e;

	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_capa(p, &e), 0);
	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "secret", &e), 0);
}

static void
test_pipelined(void **state)
{
	/* With PIPELINING, all three go out in one write, before the first
	 * reply. */
	static const struct step pipe[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1\r\nRETR 2\r\nRETR 3"),
		S(BODY(1)), S(BODY(2)), S(BODY(3)),
		C("DELE 1\r\nDELE 2\r\nDELE 3"),
		S("+OK\r\n+OK\r\n+OK\r\n"),
	};
	/* Without, strictly one at a time. */
	static const struct step nopipe[] = {
		S(GREETING), CAPA_NOPIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1"), S(BODY(1)),
		C("RETR 2"), S(BODY(2)),
		C("RETR 3"), S(BODY(3)),
		C("DELE 1"), S("+OK\r\n"),
		C("DELE 2"), S("+OK\r\n"),
		C("DELE 3"), S("+OK\r\n"),
	};
	static const unsigned long nums[] = { 1, 2, 3 };
	static const size_t chunks[] = { 0, 1, 4 };
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	size_t		 i, done;

	for (i = 0; i < NELEM(chunks) * 2; i++) {
		memset(&c, 0, sizeof(c));
		p = i % 2 == 0 ? START(&s, pipe, chunks[i / 2]) :
		    START(&s, nopipe, chunks[i / 2]);
		pipe_login(p);
		assert_int_equal(pop3_retr_many(p, nums, NULL, 3, 0,
		    &collect_sink, &c, &done, &e), 0);
		assert_int_equal(done, 3);
		assert_string_equal(c.data, "message 1\nmessage 2\nmessage 3\n");
		assert_int_equal(c.begins, 3);
		assert_int_equal(c.nums[2], 3);
		assert_int_equal(c.ends, 3);
		assert_int_equal(pop3_dele_many(p, nums, 3, &done, &e), 0);
		assert_int_equal(done, 3);
		finish(&s, p);
		free(c.data);
	}
}

/*
 * With PIPELINING, LIST and UIDL go out in one write; pop3_uidl reads the
 * second reply.  A UIDL nobody reads (LIST refused, or the caller moves
 * on) is read and dropped before the next command, -ERR or +OK.
 */
static void
test_list_uidl_pipelined(void **state)
{
	static const struct step both[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("LIST\r\nUIDL"),
		S("+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n"
		    "+OK\r\n1 u1\r\n2 u2\r\n.\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	static const struct step refused[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("LIST\r\nUIDL"), S("-ERR [SYS/TEMP] busy\r\n-ERR busy\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	static const struct step unread[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("LIST\r\nUIDL"),
		S("+OK\r\n1 10\r\n.\r\n+OK\r\n1 u1\r\n.\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	struct pop3_listing	 l;
	struct script		 s;
	struct pop3		*p;
	struct err		 e;

	memset(&l, 0, sizeof(l));
	p = START(&s, both, 5);
	pipe_login(p);
	assert_int_equal(pop3_list(p, &l, &e), 0);
	assert_int_equal(pop3_uidl(p, &l, &e), 0);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.msgs[1].size, 20);
	assert_string_equal(pop3_msg_uidl(&l, &l.msgs[1]), "u2");
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
	pop3_listing_free(&l);

	p = START(&s, refused, 0);
	pipe_login(p);
	assert_int_equal(pop3_list(p, &l, &e), E_SERVER);
	assert_non_null(strstr(e.msg, "busy"));
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
	pop3_listing_free(&l);

	p = START(&s, unread, 1);
	pipe_login(p);
	assert_int_equal(pop3_list(p, &l, &e), 0);
	assert_int_equal(pop3_noop(p, &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	finish(&s, p);
	pop3_listing_free(&l);
}

/*
 * The window in bytes: replies of 100 KiB, so two fit in POP3_PIPE_BYTES;
 * it is topped up once half of it is free.  The next batch's first RETR
 * goes out ahead, and the next call starts with it in flight; a command
 * other than RETR reads a reply sent ahead first.
 */
static void
test_pipe_window(void **state)
{
	static const struct step steps[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1\r\nRETR 2"), S(BODY(1)),
		C("RETR 3"), S(BODY(2)),
		/* The second call: 3 is in flight already; 5 goes ahead. */
		C("RETR 4"), S(BODY(3)),
		C("RETR 5"), S(BODY(4)),
		/* NOOP reads the reply to 5 first. */
		S(BODY(5)), C("NOOP"), S("+OK\r\n"),
	};
	static const unsigned long nums[] = { 1, 2, 3, 4, 5 };
	static const unsigned long long sizes[] = {
		100 * 1024, 100 * 1024, 100 * 1024, 100 * 1024, 100 * 1024
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	size_t		 done;

	assert_int_equal(POP3_PIPE_BYTES, 256 * 1024);
	memset(&c, 0, sizeof(c));
	p = START(&s, steps, 0);
	pipe_login(p);
	assert_int_equal(pop3_retr_many(p, nums, sizes, 2, 2, &collect_sink,
	    &c, &done, &e), 0);
	assert_int_equal(done, 2);
	assert_int_equal(pop3_retr_many(p, nums + 2, sizes + 2, 2, 1,
	    &collect_sink, &c, &done, &e), 0);
	assert_int_equal(done, 2);
	assert_string_equal(c.data,
	    "message 1\nmessage 2\nmessage 3\nmessage 4\n");
	/* 5 went ahead of a batch that never came. */
	assert_int_equal(pop3_noop(p, &e), 0);
	assert_int_equal(c.begins, 4);
	finish(&s, p);
	free(c.data);
}

/*
 * The command lines in flight stay within POP3_PIPE_CMD_BYTES: of 60 DELEs
 * (8 and 9 bytes), 1-55 go out (486 bytes: one more of the longest kind
 * would pass 512), then, once 27 are answered and half of the 512 bytes
 * is free, 56-60.
 */
static void
test_pipe_cmd_bytes(void **state)
{
	struct step	 steps[7 + 4];
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	unsigned long	 nums[60];
	char		 first[600], second[100], ok1[200], ok2[240];
	size_t		 i, n, off, done;

	assert_int_equal(POP3_PIPE_CMD_BYTES, 512);
	for (i = 0; i < 60; i++)
		nums[i] = i + 1;
	off = 0;
	for (i = 1; i <= 55; i++)
		off += (size_t)sprintf(first + off, "DELE %zu\r\n", i);
	off = 0;
	for (i = 56; i <= 60; i++)
		off += (size_t)sprintf(second + off, "DELE %zu\r\n", i);
	ok1[0] = ok2[0] = '\0';
	for (i = 0; i < 27; i++)
		strcat(ok1, "+OK\r\n");
	for (i = 27; i < 60; i++)
		strcat(ok2, "+OK\r\n");
	n = 0;
	steps[n++] = (struct step)S(GREETING);
	steps[n++] = (struct step){ STEP_C, "CAPA\r\n", 0 };
	steps[n++] = (struct step)S("+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n");
	steps[n++] = (struct step)C("USER bob");
	steps[n++] = (struct step)S("+OK\r\n");
	steps[n++] = (struct step)C("PASS secret");
	steps[n++] = (struct step)S("+OK\r\n");
	steps[n++] = (struct step){ STEP_C, first, 0 };
	steps[n++] = (struct step){ STEP_S, ok1, 0 };
	steps[n++] = (struct step){ STEP_C, second, 0 };
	steps[n++] = (struct step){ STEP_S, ok2, 0 };
	assert_true(n <= NELEM(steps));
	p = start(&s, steps, n, 0);
	pipe_login(p);
	assert_int_equal(pop3_dele_many(p, nums, 60, &done, &e), 0);
	assert_int_equal(done, 60);
	finish(&s, p);
}

/* A sink whose first write comes with a stop request (a SIGTERM while
 * message 1 is being written). */
static int
stop_write(void *arg, const char *data, size_t len, struct err *e)
{
	stop_flag = 1;
	return collect_write(arg, data, len, e);
}

static const struct pop3_sink stop_sink = {
	collect_begin, stop_write, collect_end, NULL
};

/*
 * A stop during a pipelined batch: the message being written is finished,
 * no further RETR is sent, and the replies in flight are not read: the
 * link is closed, so no QUIT (and no deletion) can follow.  A stop before
 * the batch sends nothing and leaves the session usable.
 */
static void
test_pipe_stop(void **state)
{
	static const struct step inflight[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nRETR 5\r\n"
		    "RETR 6\r\nRETR 7\r\nRETR 8\r\nRETR 9\r\nRETR 10"),
		S("+OK\r\nmessage 1\r\n"), S("more of 1\r\n.\r\n"),
		S(BODY(2)),
	};
	static const struct step before[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("QUIT"), S("+OK\r\n"),
	};
	static const unsigned long nums[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	size_t		 done;

	memset(&c, 0, sizeof(c));
	p = START(&s, inflight, 0);
	pipe_login(p);
	assert_int_equal(pop3_retr_many(p, nums, NULL, 10, 0, &stop_sink, &c,
	    &done, &e), E_ABORT);
	assert_int_equal(done, 1);
	assert_int_equal(c.ends, 1);
	assert_string_equal(c.data, "message 1\nmore of 1\n");
	assert_non_null(strstr(e.msg, "9 replies in flight"));
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	/* Message 2's reply was never read. */
	assert_int_equal(s.pos, NELEM(inflight) - 1);
	pop3_free(p);
	free(c.data);

	memset(&c, 0, sizeof(c));
	p = START(&s, before, 0);
	pipe_login(p);
	stop_flag = 1;
	assert_int_equal(pop3_retr_many(p, nums, NULL, 10, 0, &collect_sink,
	    &c, &done, &e), E_ABORT);
	assert_int_equal(done, 0);
	assert_int_equal(c.begins, 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	assert_int_equal(pop3_quit(p, &e), 0);
	finish(&s, p);
}

/* A failure in a batch: replies in flight are read, the session goes on. */
static void
test_pipe_failure(void **state)
{
	static const struct step retr[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4"),
		S(BODY(1)), S("-ERR [SYS/TEMP] disk trouble\r\n"), S(BODY(3)),
		S(BODY(4)),
		C("NOOP"), S("+OK\r\n"),
	};
	static const struct step sink[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1\r\nRETR 2\r\nRETR 3"),
		S(BODY(1)), S(BODY(2)), S(BODY(3)),
		C("NOOP"), S("+OK\r\n"),
	};
	static const struct step dele[] = {
		S(GREETING), CAPA_NOPIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("DELE 1"), S("+OK\r\n"),
		C("DELE 2"), S("-ERR message 2 already deleted\r\n"),
		C("NOOP"), S("+OK\r\n"),
	};
	static const struct step cut[] = {
		S(GREETING), CAPA_PIPE, C("USER bob"), S("+OK\r\n"),
		C("PASS secret"), S("+OK\r\n"),
		C("RETR 1\r\nRETR 2\r\nRETR 3"),
		S(BODY(1)), S("-ERR no\r\n+OK\r\nmess"),
	};
	static const unsigned long nums[] = { 1, 2, 3, 4 };
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	size_t		 done;

	memset(&c, 0, sizeof(c));
	p = START(&s, retr, 3);
	pipe_login(p);
	assert_int_equal(pop3_retr_many(p, nums, NULL, 4, 0, &collect_sink, &c,
	    &done, &e), E_SERVER);
	assert_int_equal(done, 1);
	assert_true(e.temporary);
	assert_string_equal(e.msg, "RETR 2: -ERR [SYS/TEMP] disk trouble");
	/* Only message 1 reached the sink; 3 and 4 were drained. */
	assert_string_equal(c.data, "message 1\n");
	assert_int_equal(c.begins, 1);
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
	free(c.data);

	memset(&c, 0, sizeof(c));
	c.fail_write = 2;
	p = START(&s, sink, 0);
	pipe_login(p);
	assert_int_equal(pop3_retr_many(p, nums, NULL, 3, 0, &collect_sink, &c,
	    &done, &e), E_DELIVERY);
	assert_int_equal(done, 1);
	assert_string_equal(e.msg, "disk full");
	assert_int_equal(c.begins, 2);
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);
	free(c.data);

	p = START(&s, dele, 0);
	pipe_login(p);
	assert_int_equal(pop3_dele_many(p, nums, 3, &done, &e), E_SERVER);
	assert_int_equal(done, 1);
	assert_string_equal(e.msg, "DELE 2: -ERR message 2 already deleted");
	assert_int_equal(pop3_noop(p, &e), 0);
	finish(&s, p);

	/* The link fails while draining: that error wins, session over. */
	memset(&c, 0, sizeof(c));
	p = START(&s, cut, 0);
	pipe_login(p);
	assert_int_equal(pop3_retr_many(p, nums, NULL, 3, 0, &collect_sink, &c,
	    &done, &e), E_IO);
	assert_int_equal(done, 1);
	assert_int_equal(pop3_state(p), POP3_ST_CLOSED);
	finish(&s, p);
	free(c.data);
}

/* Secrets never reach the trace, even at its most verbose. */
static void
test_trace_secrets(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("USER bob"), S("+OK\r\n"),
		C("PASS hunter2pass"), S("-ERR [AUTH] no\r\n"),
		C("APOP bob 1f93fe80ea8c9f9a0a2831f7926d7be1"),
		S("-ERR [AUTH] no\r\n"),
		C("AUTH PLAIN AGJvYgBodW50ZXIycGFzcw=="), S("-ERR no\r\n"),
		C("AUTH LOGIN"), S("+ VXNlcm5hbWU6\r\n"), C("Ym9i"),
		S("+ UGFzc3dvcmQ6\r\n"), C("aHVudGVyMnBhc3M="),
		S("-ERR no\r\n"),
		C("AUTH XOAUTH2 dXNlcj1ib2IBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXR0b2tlbgEB"),
		S("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"), C(""),
		S("-ERR no\r\n"),
		C("USER bob"), S("+OK\r\n"),
		C("PASS hunter2pass"), S("+OK\r\n"),
		C("RETR 1"), S("+OK\r\nSubject: visible body\r\n.\r\n"),
	};
	static const char *const secrets[] = {
		"hunter2pass",
		"1f93fe80ea8c9f9a0a2831f7926d7be1",	/* APOP digest */
		"AGJvYgBodW50ZXIycGFzcw",		/* PLAIN response */
		"aHVudGVyMnBhc3M",			/* LOGIN password */
		"ya29.secrettoken",
		"dXNlcj1ib2IBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXR0b2tlbgEB",
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	struct collect	 c;
	FILE		*log;
	char		*buf;
	size_t		 i;

	log = trace_start();
	memset(&c, 0, sizeof(c));
	p = START(&s, steps, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "hunter2pass", &e), E_AUTH);
	assert_int_equal(pop3_apop(p, "bob", "hunter2pass", &e), E_AUTH);
	assert_int_equal(sasl_auth(p, "PLAIN", "bob", "hunter2pass", &e),
	    E_AUTH);
	assert_int_equal(sasl_auth(p, "LOGIN", "bob", "hunter2pass", &e),
	    E_AUTH);
	assert_int_equal(sasl_auth(p, "XOAUTH2", "bob", "ya29.secrettoken",
	    &e), E_AUTH);
	assert_null(strstr(e.msg, "ya29"));
	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "hunter2pass", &e), 0);
	assert_int_equal(pop3_retr(p, 1, &collect_sink, &c, &e), 0);
	finish(&s, p);
	free(c.data);
	buf = trace_end(log);
	for (i = 0; i < NELEM(secrets); i++)
		if (strstr(buf, secrets[i]) != NULL)
			fail_msg("secret \"%s\" in the trace:\n%s", secrets[i],
			    buf);
	/* The trace is there, with the secrets masked. */
	assert_non_null(strstr(buf, "acct: > PASS ****"));
	assert_non_null(strstr(buf, "acct: > APOP bob ****"));
	assert_non_null(strstr(buf, "acct: > AUTH PLAIN ****"));
	assert_non_null(strstr(buf, "acct: > AUTH LOGIN\n"));
	assert_non_null(strstr(buf, "acct: > ****"));
	assert_non_null(strstr(buf, "acct: < + ****"));
	assert_non_null(strstr(buf, "acct: > USER bob"));
	/* Multi-line replies at trace level. */
	assert_non_null(strstr(buf, "acct: < Subject: visible body"));
	free(buf);
}

/*
 * A server that quotes what the client sent, in its -ERR or in its OAuth
 * error challenge: the secret, raw or in base64, reaches neither the
 * error message (and so not the journal, the state database or
 * --status) nor the trace.  A secret that is also a status word does not
 * unmake the reply.
 */
static void
test_auth_echoed_secret(void **state)
{
	static const struct step steps[] = {
		S(GREETING),
		C("USER bob"), S("+OK\r\n"),
		C("PASS hunter2pass"),
		S("-ERR [AUTH] bad password hunter2pass for bob\r\n"),
		C("AUTH PLAIN AGJvYgBodW50ZXIycGFzcw=="),
		S("-ERR you sent AGJvYgBodW50ZXIycGFzcw== (aHVudGVyMnBhc3M=)\r\n"),
		C("AUTH XOAUTH2 dXNlcj1ib2IBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXR0b2tlbgEB"),
		S("+ eyJzdGF0dXMiOiI0MDEiLCJ0b2tlbiI6InlhMjkuc2VjcmV0dG9rZW4ifQ==\r\n"),
		C(""),
		S("-ERR token ya29.secrettoken in dXNlcj1ib2IBYXV0aD1CZWFyZXIgeWEy"
		    "OS5zZWNyZXR0b2tlbgEB refused\r\n"),
		C("AUTH OAUTHBEARER bixhPWJvYiwBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXR0b2tlbgEB"),
		S("-ERR [AUTH] eWEyOS5zZWNyZXR0b2tlbg== is not valid\r\n"),
		C("USER bob"), S("+OK\r\n"),
		C("PASS OK"), S("+OK OK\r\n"),
	};
	static const char *const secrets[] = {
		"hunter2pass", "aHVudGVyMnBhc3M", "AGJvYgBodW50ZXIycGFzcw",
		"ya29.secrettoken", "eWEyOS5zZWNyZXR0b2tlbg",
		"dXNlcj1ib2IBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXR0b2tlbgEB",
		"bixhPWJvYiwBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXR0b2tlbgEB",
	};
	struct script	 s;
	struct pop3	*p;
	struct err	 e;
	FILE		*log;
	char		*buf, msgs[4 * ERR_MSGLEN] = "";
	size_t		 i;

	log = trace_start();
	p = START(&s, steps, 0);
	assert_int_equal(pop3_greeting(p, &e), 0);
	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "hunter2pass", &e), E_AUTH);
	assert_string_equal(e.msg, "PASS: -ERR [AUTH] bad password **** for "
	    "bob");
	strcat(msgs, e.msg);
	assert_int_equal(sasl_auth(p, "PLAIN", "bob", "hunter2pass", &e),
	    E_AUTH);
	assert_string_equal(e.msg, "AUTH PLAIN: -ERR you sent **** (****)");
	strcat(msgs, e.msg);
	assert_int_equal(sasl_auth(p, "XOAUTH2", "bob", "ya29.secrettoken",
	    &e), E_AUTH);
	/* The reason survives, the token inside it does not. */
	assert_non_null(strstr(e.msg, "\"status\":\"401\""));
	assert_non_null(strstr(e.msg, "token **** in **** refused"));
	strcat(msgs, e.msg);
	assert_int_equal(sasl_auth(p, "OAUTHBEARER", "bob",
	    "ya29.secrettoken", &e), E_AUTH);
	assert_string_equal(e.msg, "AUTH OAUTHBEARER: -ERR [AUTH] **** is not "
	    "valid");
	strcat(msgs, e.msg);
	/* Nothing is hidden once the login is over. */
	assert_int_equal(pop3_user(p, "bob", &e), 0);
	assert_int_equal(pop3_pass(p, "OK", &e), 0);
	assert_int_equal(pop3_state(p), POP3_ST_TRANSACTION);
	finish(&s, p);
	buf = trace_end(log);
	for (i = 0; i < NELEM(secrets); i++) {
		if (strstr(buf, secrets[i]) != NULL ||
		    strstr(msgs, secrets[i]) != NULL)
			fail_msg("%s leaked:\n%s\n%s", secrets[i], buf, msgs);
	}
	/* The trace still shows the replies, redacted. */
	assert_non_null(strstr(buf, "bad password **** for bob"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_capa),
		cmocka_unit_test(test_user_pass),
		cmocka_unit_test(test_apop),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_long_token),
		cmocka_unit_test(test_auth_xoauth2_error),
		cmocka_unit_test(test_auth_cram_md5),
		cmocka_unit_test(test_auth_cancel),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_listings),
		cmocka_unit_test(test_listing_growth),
		cmocka_unit_test(test_listing_odd),
		cmocka_unit_test(test_retr_top),
		cmocka_unit_test(test_retr_huge_line),
		cmocka_unit_test(test_sink_failure),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_phase_checks),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_error_sanitized),
		cmocka_unit_test(test_broken_link),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_list_uidl_pipelined),
		cmocka_unit_test(test_pipe_window),
		cmocka_unit_test(test_pipe_cmd_bytes),
		cmocka_unit_test(test_pipe_failure),
		cmocka_unit_test(test_pipe_stop),
		cmocka_unit_test(test_trace_secrets),
		cmocka_unit_test(test_auth_echoed_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
