/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz a whole POP3 session: the client against a server's bytes. */

#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "err.h"
#include "fuzz.h"
#include "log.h"
#include "pop3.h"
#include "sasl.h"
#include "xmalloc.h"

/*
 * Input: byte 0 sets the size of the transport's reads (1..256), the rest
 * is everything the server sends, replies to every command in one stream.
 * The client runs the commands of a sync in order (greeting, CAPA, APOP,
 * AUTH with each SASL mechanism, USER/PASS, STAT, LIST, UIDL, RETR, DELE,
 * QUIT), each whatever the last one gave, traced at the most verbose log
 * level.
 *
 * Invariants: every failure is one of the documented codes with a message
 * of printable bytes; every log line is printable too (a hostile reply
 * cannot forge lines or send terminal escapes); a message body reaches the
 * sink only between begin and end, never more bytes than the server sent;
 * listings hold sound entries (see check_listing); and the password reaches neither an error
 * message nor the log unless the server itself sent it.
 */

#define SESSION_USER	"fuzz-user"
#define SESSION_PASS	"fuzz-s3cret-pw"
/* AUTH PLAIN's response, base64("\0" SESSION_USER "\0" SESSION_PASS). */
#define PLAIN_B64	"AGZ1enotdXNlcgBmdXp6LXMzY3JldC1wdw=="

struct server {
	const uint8_t	*data;
	size_t		 len;
	size_t		 pos;
	size_t		 chunk;
};

struct sink_state {
	bool		 open;
	bool		 secret_sent;
	size_t		 bytes;
	size_t		 limit;
};

static ssize_t	server_read(void *, void *, size_t, int, struct err *);
static int	server_write(void *, const void *, size_t, int, struct err *);
static void	server_close(void *);
static int	sink_begin(void *, unsigned long, struct err *);
static int	sink_write(void *, const char *, size_t, struct err *);
static int	sink_end(void *, struct err *);
static int	sink_refused(void *, unsigned long, const struct err *,
		    struct err *);
static void	check_err(int, const struct err *, bool);
static void	check_listing(const struct pop3_listing *, bool);
static void	check_log(const char *, size_t, bool);

static const struct conn_transport server_transport = {
	"fuzz", server_read, server_write, server_close
};

static const struct pop3_sink fuzz_sink = {
	sink_begin, sink_write, sink_end, sink_refused
};

/* The server's next bytes, at most one chunk; 0 once all are read. */
static ssize_t
server_read(void *ctx, void *buf, size_t len, int timeout_ms, struct err *e)
{
	struct server	*s = ctx;
	size_t		 n;

	n = s->len - s->pos;
	if (n > s->chunk)
		n = s->chunk;
	if (n > len)
		n = len;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* The server takes every command. */
static int
server_write(void *ctx, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	return 0;
}

/* The connection owns the server state. */
static void
server_close(void *ctx)
{
	free(ctx);
}

/* RETR's reply starts. */
static int
sink_begin(void *arg, unsigned long num, struct err *e)
{
	struct sink_state	*s = arg;

	FUZZ_CHECK(!s->open, "begin twice");
	s->open = true;
	return 0;
}

/* Body bytes: only inside a reply, never more than the server sent. */
static int
sink_write(void *arg, const char *data, size_t len, struct err *e)
{
	struct sink_state	*s = arg;

	FUZZ_CHECK(s->open, "body bytes outside a reply");
	s->bytes += len;
	FUZZ_CHECK(s->bytes <= s->limit, "%zu body bytes from %zu sent",
	    s->bytes, s->limit);
	return 0;
}

/* RETR's reply ended. */
static int
sink_end(void *arg, struct err *e)
{
	struct sink_state	*s = arg;

	FUZZ_CHECK(s->open, "end without begin");
	s->open = false;
	return 0;
}

/* A -ERR to one RETR: go on with the next message, as sync.c does. */
static int
sink_refused(void *arg, unsigned long num, const struct err *reply,
    struct err *e)
{
	struct sink_state	*s = arg;

	FUZZ_CHECK(!s->open, "refused inside a reply");
	check_err(reply->code, reply, s->secret_sent);
	return 0;
}

/* A failure: a known code and a printable message. */
static void
check_err(int rc, const struct err *e, bool secret_sent)
{
	size_t	i;

	if (rc == 0)
		return;
	FUZZ_CHECK(rc < 0 && rc >= E_USAGE && e->code == rc,
	    "return %d, code %d", rc, e->code);
	FUZZ_CHECK(e->msg[0] != '\0', "error %s without a message",
	    err_name(rc));
	for (i = 0; e->msg[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)e->msg[i] >= 0x20 &&
		    (unsigned char)e->msg[i] < 0x7f,
		    "byte 0x%02x in \"%s\"", (unsigned char)e->msg[i], e->msg);
	FUZZ_CHECK(secret_sent || strstr(e->msg, SESSION_PASS) == NULL,
	    "the password in an error: %s", e->msg);
}

/*
 * A listing: numbers in range; a message flagged with a usable unique-id
 * has one of 1..POP3_UIDL_MAX octets, others have none; after a
 * successful LIST and UIDL, numbers and usable unique-ids are unique.
 */
static void
check_listing(const struct pop3_listing *l, bool complete)
{
	const char	*uid, *other;
	size_t		 i, j, n;

	for (i = 0; i < l->count; i++) {
		FUZZ_CHECK(l->msgs[i].num >= 1 &&
		    l->msgs[i].num <= POP3_MAX_MESSAGES, "message %lu",
		    l->msgs[i].num);
		uid = pop3_msg_uidl(l, &l->msgs[i]);
		if ((l->msgs[i].flags & POP3_MSG_UIDL) == 0 ||
		    (l->msgs[i].flags & POP3_MSG_BADUIDL) != 0)
			continue;
		FUZZ_CHECK(uid != NULL, "message %lu: no unique-id",
		    l->msgs[i].num);
		n = strlen(uid);
		FUZZ_CHECK(n >= 1 && n <= POP3_UIDL_MAX,
		    "message %lu: unique-id of %zu octets", l->msgs[i].num, n);
		if (!complete)
			continue;
		for (j = 0; j < i; j++) {
			FUZZ_CHECK(l->msgs[j].num != l->msgs[i].num,
			    "message %lu listed twice", l->msgs[i].num);
			other = pop3_msg_uidl(l, &l->msgs[j]);
			FUZZ_CHECK((l->msgs[j].flags & POP3_MSG_BADUIDL) ||
			    other == NULL || strcmp(other, uid) != 0,
			    "unique-id %s used twice", uid);
		}
	}
}

/* The log: printable lines, no password. */
static void
check_log(const char *log, size_t len, bool secret_sent)
{
	size_t	i;

	for (i = 0; i < len; i++)
		FUZZ_CHECK(log[i] == '\n' || ((unsigned char)log[i] >= 0x20 &&
		    (unsigned char)log[i] < 0x7f), "byte 0x%02x in the log",
		    (unsigned char)log[i]);
	FUZZ_CHECK(secret_sent || (memmem(log, len, SESSION_PASS,
	    strlen(SESSION_PASS)) == NULL && memmem(log, len, PLAIN_B64,
	    strlen(PLAIN_B64)) == NULL), "the password in the log");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned long nums[] = { 1, 2, 3 };
	static const char *const mechs[] = {
		"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"
	};
	struct server		*srv;
	struct sink_state	 sink;
	struct conn_params	 cp;
	struct pop3_params	 pp = { "fuzzacct" };
	struct pop3_listing	 l;
	struct pop3		*p;
	struct err		 e;
	unsigned long		 count;
	unsigned long long	 octets;
	char			*logbuf = NULL;
	size_t			 loglen = 0, done = 0, i;
	FILE			*logfp;
	bool			 secret_sent, listed;
	int			 rc;

	if (size == 0)
		return 0;
	srv = xcalloc(1, sizeof(*srv));
	srv->chunk = (size_t)data[0] + 1;
	srv->data = data + 1;
	srv->len = size - 1;
	/* The fuzzer learns the strings checked for and may send them. */
	secret_sent = memmem(data, size, SESSION_PASS,
	    strlen(SESSION_PASS)) != NULL || memmem(data, size, PLAIN_B64,
	    strlen(PLAIN_B64)) != NULL;
	memset(&sink, 0, sizeof(sink));
	sink.limit = srv->len;
	sink.secret_sent = secret_sent;
	if ((logfp = open_memstream(&logbuf, &loglen)) == NULL)
		fuzz_fail(__FILE__, __LINE__, "open_memstream");
	log_set_output(logfp);
	log_set_level(LOG_LVL_TRACE);

	memset(&cp, 0, sizeof(cp));
	cp.timeout_ms = 1000;
	p = pop3_new(conn_new(&server_transport, srv, &cp), &pp);
	/* Each command runs whatever the last one gave: a client in the
	 * wrong phase must refuse cleanly, not misbehave. */
	rc = pop3_greeting(p, &e);
	check_err(rc, &e, secret_sent);
	rc = pop3_capa(p, &e);
	check_err(rc, &e, secret_sent);
	/* The logins in turn, each refused in the wrong phase: so the
	 * server's bytes decide which one logs in (the SASL loop's
	 * challenges included). */
	rc = pop3_apop(p, SESSION_USER, SESSION_PASS, &e);
	check_err(rc, &e, secret_sent);
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		rc = sasl_auth(p, mechs[i], SESSION_USER, SESSION_PASS, &e);
		check_err(rc, &e, secret_sent);
	}
	rc = pop3_user(p, SESSION_USER, &e);
	check_err(rc, &e, secret_sent);
	rc = pop3_pass(p, SESSION_PASS, &e);
	check_err(rc, &e, secret_sent);
	rc = pop3_stat(p, &count, &octets, &e);
	check_err(rc, &e, secret_sent);
	/* As a sync lists: LIST, then UIDL merged into its entries. */
	memset(&l, 0, sizeof(l));
	rc = pop3_list(p, &l, &e);
	check_err(rc, &e, secret_sent);
	listed = rc == 0;
	check_listing(&l, false);
	rc = pop3_uidl(p, &l, &e);
	check_err(rc, &e, secret_sent);
	check_listing(&l, listed && rc == 0);
	pop3_listing_free(&l);
	rc = pop3_retr_many(p, nums, NULL, 3, 0, &fuzz_sink, &sink, &done, &e);
	check_err(rc, &e, secret_sent);
	FUZZ_CHECK(done <= 3, "%zu of 3 delivered", done);
	FUZZ_CHECK(rc != 0 || !sink.open, "a reply left open");
	rc = pop3_dele(p, 1, &e);
	check_err(rc, &e, secret_sent);
	rc = pop3_quit(p, &e);
	check_err(rc, &e, secret_sent);
	pop3_free(p);

	log_set_output(NULL);
	fclose(logfp);
	check_log(logbuf, loglen, secret_sent);
	free(logbuf);
	return 0;
}
