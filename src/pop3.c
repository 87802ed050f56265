/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Synchronous POP3 client: one function per command over a struct conn. */

/*
 * RFC 1939  POP3: commands, states, dot-stuffing, APOP.
 * RFC 2449  CAPA, response codes, PIPELINING, the 255/512 octet limits.
 * RFC 2595  STLS: ask CAPA again after the handshake.
 * RFC 3206  SYS/TEMP, SYS/PERM and AUTH response codes.
 * RFC 5034  AUTH (SASL): initial response, "=" for an empty one, "*".
 * RFC 6856  UTF8.
 */

#include "autoconf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "pop3.h"
#include "pop3_parse.h"
#include "sasl.h"
#include "xmalloc.h"

/* RFC 2449 section 4: a command line, CRLF included, is 255 octets. */
#define POP3_CMD_MAX	255

/* How much of a server reply error messages and traces keep. */
#define POP3_REPLY_MAX	512

/* How much of one body line a trace shows. */
#define POP3_TRACE_BODY	200

/* Listing lines between two conn_busy() calls: parsing and merging a
 * listing of 200,000 lines is CPU-bound work, which must still show life
 * and hear a stop.  (A call costs a clock read.) */
#define POP3_BUSY_LINES	256

#define ST(s)		(1U << (s))

/* Secrets hidden at once: the secret, its base64, a few responses. */
#define POP3_HIDE_MAX	8

/* A listing entry's number and position, to look entries up by number. */
struct pop3_key {
	unsigned long	num;
	size_t		pos;
};

struct pop3 {
	struct conn		*conn;
	char			*name;
	enum pop3_state		 state;
	struct pop3_capa	 caps;
	bool			 utf8;
	bool			 user_ok;	/* USER got +OK: PASS may follow */
	bool			 has_ts;
	char			 apop_ts[POP3_REPLY_MAX];
	char			 welcome[POP3_REPLY_MAX];
	char			 reply[POP3_REPLY_MAX];	/* last status line,
							 * sanitized */
	char			*body;		/* CONN_CHUNK bytes of decoded
						 * body, reused */
	/* RETRs pop3_retr_many sent ahead, replies not read yet.  A command
	 * line is at least 8 bytes ("RETR 1\r\n"). */
	unsigned long		 ahead[POP3_PIPE_CMD_BYTES / 8];
	size_t			 nahead;
	/* pop3_list sent UIDL behind LIST; its reply is not read yet. */
	bool			 uidl_ahead;
	/* During a login, the secrets (as sent and in base64) to cut out
	 * of every server reply before it is traced or reported. */
	char			*hide[POP3_HIDE_MAX];
};

/* What a reply in flight is counted as besides the message: the status
 * line, the terminator, dot-stuffing. */
#define POP3_REPLY_OVERHEAD	64

static void	pop3_set_state(struct pop3 *, enum pop3_state);
static int	pop3_check(struct pop3 *, const char *, unsigned,
		    struct err *);
static int	pop3_broken(struct pop3 *, const char *, int, struct err *);
static int	pop3_write_line(struct pop3 *, const char *, const char *,
		    const char *, struct err *);
static int	pop3_sendf(struct pop3 *, const char *, const char *,
		    struct err *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
static int	pop3_read_status(struct pop3 *, const char *, bool,
		    struct pop3_status *, struct err *);
static int	pop3_expect_ok(struct pop3 *, const char *,
		    struct pop3_status *, struct err *);
static int	pop3_server_err(struct pop3 *, const char *,
		    const struct pop3_status *, struct err *);
static int	pop3_login_err(struct pop3 *, const char *,
		    const struct pop3_status *, struct err *);
static int	pop3_simple(struct pop3 *, unsigned, struct pop3_status *,
		    struct err *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
static int	pop3_ml_line(struct pop3 *, const char *, char **, size_t *,
		    struct err *);
static void	pop3_trace_body(const struct pop3 *, const char *, size_t);
static struct pop3_msg *pop3_listing_add(struct pop3_listing *,
		    unsigned long);
static int	pop3_key_cmp(const void *, const void *);
static struct pop3_key *pop3_listing_index(const struct pop3_listing *);
static struct pop3_msg *pop3_listing_find(struct pop3_listing *,
		    const struct pop3_key *, unsigned long, size_t);
static void	pop3_listing_setuid(struct pop3_listing *, struct pop3_msg *,
		    int, const char *, size_t);
static int	pop3_listing_dups(struct pop3_listing *, const char *,
		    struct err *);
static int	pop3_listing(struct pop3 *, const char *, bool,
		    struct pop3_listing *, struct err *);
static int	pop3_one(struct pop3 *, const char *, unsigned long,
		    unsigned long long *, char *, struct err *);
static int	pop3_login_reply(struct pop3 *, const char *, enum pop3_state,
		    struct err *);
static int	pop3_after_user(struct pop3 *, const char *, const char *,
		    const char *, struct err *);
static int	pop3_body_reply(struct pop3 *, const char *, unsigned long,
		    const struct pop3_sink *, void *, struct err *);
static int	pop3_retr_reply(struct pop3 *, unsigned long,
		    const struct pop3_sink *, void *, struct err *);
static int	pop3_dele_reply(struct pop3 *, unsigned long,
		    const struct pop3_sink *, void *, struct err *);
static int	pop3_pipe(struct pop3 *, const char *, const unsigned long *,
		    const unsigned long long *, size_t, size_t,
		    int (*)(struct pop3 *, unsigned long,
		    const struct pop3_sink *, void *, struct err *),
		    const struct pop3_sink *, void *, bool, size_t *,
		    struct err *);
static int	pop3_pipe_send(struct pop3 *, const char *,
		    const unsigned long *, size_t, struct err *);
static size_t	pop3_ahead_take(struct pop3 *, const char *,
		    const unsigned long *, size_t);
static int	pop3_ahead_discard(struct pop3 *, struct err *);
static int	pop3_uidl_discard(struct pop3 *, struct err *);
static int	pop3_stopped(struct pop3 *, const char *, size_t,
		    struct err *);

static void	pop3_hide(struct pop3 *, const char *);
static void	pop3_hide_b64(struct pop3 *, const void *, size_t);
static void	pop3_unhide(struct pop3 *);
static void	pop3_redact(const struct pop3 *, char *);

static const char *const pop3_state_names[] = {
	"GREETING", "AUTH", "TRANSACTION", "UPDATE", "CLOSED"
};

struct pop3 *
pop3_new(struct conn *conn, const struct pop3_params *params)
{
	struct pop3	*p;

	p = xcalloc(1, sizeof(*p));
	p->conn = conn;
	p->name = xstrdup(params != NULL && params->name != NULL ?
	    params->name : "pop3");
	p->state = POP3_ST_GREETING;
	p->body = xmalloc(CONN_CHUNK);
	pop3_capa_init(&p->caps);
	return p;
}

void
pop3_free(struct pop3 *p)
{
	if (p == NULL)
		return;
	conn_free(p->conn);
	pop3_unhide(p);
	free(p->name);
	free(p->body);
	free(p);
}

enum pop3_state
pop3_state(const struct pop3 *p)
{
	return p->state;
}

const char *
pop3_state_name(enum pop3_state st)
{
	if ((unsigned)st >= sizeof(pop3_state_names) /
	    sizeof(pop3_state_names[0]))
		return "UNKNOWN";
	return pop3_state_names[st];
}

struct conn *
pop3_conn(struct pop3 *p)
{
	return p->conn;
}

const char *
pop3_welcome(const struct pop3 *p)
{
	return p->welcome;
}

const char *
pop3_apop_timestamp(const struct pop3 *p)
{
	return p->has_ts ? p->apop_ts : NULL;
}

const struct pop3_capa *
pop3_caps(const struct pop3 *p)
{
	return &p->caps;
}

bool
pop3_is_utf8(const struct pop3 *p)
{
	return p->utf8;
}

/* The only place the session phase changes, so every change is traced. */
static void
pop3_set_state(struct pop3 *p, enum pop3_state st)
{
	if (p->state == st)
		return;
	log_debug("%s: state %s -> %s", p->name, pop3_state_name(p->state),
	    pop3_state_name(st));
	p->state = st;
}

/* Refuse a command outside the phases (a mask of ST()) it is legal in. */
static int
pop3_check(struct pop3 *p, const char *cmd, unsigned states, struct err *e)
{
	int	rc;

	if ((states & ST(p->state)) == 0)
		return err_set(e, E_PROTO, "%s: not allowed in state %s", cmd,
		    pop3_state_name(p->state));
	/* Replies to commands sent ahead come first. */
	if (p->uidl_ahead && strcmp(cmd, "UIDL") != 0 &&
	    (rc = pop3_uidl_discard(p, e)) < 0)
		return rc;
	return p->nahead > 0 ? pop3_ahead_discard(p, e) : 0;
}

/*
 * After a connection error or a reply out of step, nothing more can be
 * said on this link: name the command in the message and close.
 */
static int
pop3_broken(struct pop3 *p, const char *label, int rc, struct err *e)
{
	err_prefix(e, "%s", label);
	pop3_set_state(p, POP3_ST_CLOSED);
	return rc;
}

/*
 * Send line plus CRLF in one write.  trace, when not NULL, is what the log
 * shows instead of the line (it carries a secret).  A CR or LF inside
 * would smuggle a second command onto the wire, so it is refused.
 */
static int
pop3_write_line(struct pop3 *p, const char *label, const char *line,
    const char *trace, struct err *e)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	len = strlen(line);
	if (strpbrk(line, "\r\n") != NULL)
		return err_set(e, E_AUTH, "%s: refusing an argument with a "
		    "line break", label);
	buf = xmalloc(len + 2);
	memcpy(buf, line, len);
	memcpy(buf + len, "\r\n", 2);
	log_debug("%s: > %s", p->name, trace != NULL ? trace : line);
	rc = conn_write(p->conn, buf, len + 2, e);
	freezero(buf, len + 2);
	if (rc < 0)
		return pop3_broken(p, label, rc, e);
	return 0;
}

/* Format a command and send it; see pop3_write_line for trace. */
static int
pop3_sendf(struct pop3 *p, const char *label, const char *trace,
    struct err *e, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("%s: vsnprintf", __func__);
	line = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(line, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = pop3_write_line(p, label, line, trace, e);
	freezero(line, (size_t)n + 1);
	return rc;
}

/*
 * Read one status line into st (its text points into the connection
 * buffer until the next read) and keep a sanitized copy in p->reply.
 * Continuation lines carry SASL data and are traced as "****"; outside
 * an AUTH exchange (cont false) they put the session out of step.
 */
static int
pop3_read_status(struct pop3 *p, const char *label, bool cont,
    struct pop3_status *st, struct err *e)
{
	char	*line;
	int	 rc, parsed;

	if ((rc = conn_readline(p->conn, &line, NULL, e)) < 0)
		return pop3_broken(p, label, rc, e);
	parsed = pop3_parse_status(line, st);
	/* Only the text: a secret "OK" must not unmake "+OK", and a
	 * challenge is never shown, only decoded. */
	if (parsed == -1)
		pop3_redact(p, line);
	else if (st->kind != POP3_CONT)
		pop3_redact(p, line + (st->text - line));
	if (parsed == 0 && st->kind == POP3_CONT) {
		log_debug("%s: < + ****", p->name);
		snprintf(p->reply, sizeof(p->reply), "+ ****");
		if (cont)
			return 0;
		err_set(e, E_PROTO, "unexpected continuation line");
		return pop3_broken(p, label, E_PROTO, e);
	}
	err_sanitize(p->reply, sizeof(p->reply), line);
	log_debug("%s: < %s", p->name, p->reply);
	if (parsed == -1) {
		err_set(e, E_PROTO, "bad reply \"%s\"", p->reply);
		return pop3_broken(p, label, E_PROTO, e);
	}
	return 0;
}

/* Read a status line that must be +OK. */
static int
pop3_expect_ok(struct pop3 *p, const char *label, struct pop3_status *st,
    struct err *e)
{
	int	rc;

	if ((rc = pop3_read_status(p, label, false, st, e)) < 0)
		return rc;
	if (st->kind == POP3_ERR)
		return pop3_server_err(p, label, st, e);
	return 0;
}

/* A -ERR: E_SERVER, temporary when the response code says so. */
static int
pop3_server_err(struct pop3 *p, const char *label,
    const struct pop3_status *st, struct err *e)
{
	err_set(e, E_SERVER, "%s: %s", label, p->reply);
	if (e != NULL)
		e->temporary = pop3_rcode_is_temporary(st->rcode);
	return E_SERVER;
}

/*
 * A refused login: E_AUTH (needs a person) unless the response code says
 * try again later (RFC 2449 IN-USE, LOGIN-DELAY; RFC 3206 SYS/TEMP).
 */
static int
pop3_login_err(struct pop3 *p, const char *label,
    const struct pop3_status *st, struct err *e)
{
	if (pop3_rcode_is_temporary(st->rcode))
		return pop3_server_err(p, label, st, e);
	return err_set(e, E_AUTH, "%s: %s", label, p->reply);
}

/*
 * A command without secrets and with a one-line reply, legal in states:
 * check, send, expect +OK.  The command line is its own error label.
 */
static int
pop3_simple(struct pop3 *p, unsigned states, struct pop3_status *st,
    struct err *e, const char *fmt, ...)
{
	va_list	ap;
	char	line[POP3_CMD_MAX];
	int	rc;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((rc = pop3_check(p, line, states, e)) < 0)
		return rc;
	if ((rc = pop3_write_line(p, line, line, NULL, e)) < 0)
		return rc;
	return pop3_expect_ok(p, line, st, e);
}

/*
 * The next line of a multi-line reply, dot-unstuffed, and its length (it
 * may hold NULs).  Returns 1 at the terminating ".", 0 with *line, or a
 * negative code.
 */
static int
pop3_ml_line(struct pop3 *p, const char *label, char **line, size_t *len,
    struct err *e)
{
	char	 safe[POP3_REPLY_MAX];
	int	 rc;

	if ((rc = conn_readline(p->conn, line, len, e)) < 0)
		return pop3_broken(p, label, rc, e);
	if (log_enabled(LOG_LVL_TRACE)) {
		err_sanitize(safe, sizeof(safe), *line);
		log_trace("%s: < %s", p->name, safe);
	}
	return pop3_multiline_line(*line, len);
}

/* Trace decoded body data line by line, each cut short and sanitized. */
static void
pop3_trace_body(const struct pop3 *p, const char *data, size_t len)
{
	char		 safe[POP3_TRACE_BODY + 1];
	const char	*nl;
	size_t		 n, i;

	if (!log_enabled(LOG_LVL_TRACE))
		return;
	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) : len;
		for (i = 0; i < n && i < POP3_TRACE_BODY; i++)
			safe[i] = (unsigned char)data[i] < 0x20 ||
			    (unsigned char)data[i] > 0x7e ? '?' : data[i];
		safe[i] = '\0';
		log_trace("%s: < %s%s", p->name, safe,
		    n > POP3_TRACE_BODY ? "..." : "");
		if (nl == NULL)
			break;
		data = nl + 1;
		len -= n + 1;
	}
}

int
pop3_greeting(struct pop3 *p, struct err *e)
{
	struct pop3_status	st;
	int			rc;

	if ((rc = pop3_check(p, "greeting", ST(POP3_ST_GREETING), e)) < 0)
		return rc;
	if ((rc = pop3_read_status(p, "greeting", false, &st, e)) < 0)
		return rc;
	if (st.kind == POP3_ERR) {
		pop3_server_err(p, "greeting", &st, e);
		pop3_set_state(p, POP3_ST_CLOSED);
		return E_SERVER;
	}
	err_sanitize(p->welcome, sizeof(p->welcome), st.text);
	p->has_ts = pop3_parse_apop_ts(st.text, p->apop_ts,
	    sizeof(p->apop_ts)) == 0;
	pop3_set_state(p, POP3_ST_AUTH);
	return 0;
}

int
pop3_capa(struct pop3 *p, struct err *e)
{
	struct pop3_status	 st;
	char			*line;
	size_t			 len;
	int			 rc;

	if ((rc = pop3_check(p, "CAPA", ST(POP3_ST_AUTH) |
	    ST(POP3_ST_TRANSACTION), e)) < 0)
		return rc;
	pop3_capa_init(&p->caps);
	if ((rc = pop3_write_line(p, "CAPA", "CAPA", NULL, e)) < 0)
		return rc;
	if ((rc = pop3_read_status(p, "CAPA", false, &st, e)) < 0)
		return rc;
	/* Servers older than RFC 2449 do not know CAPA. */
	if (st.kind == POP3_ERR)
		return 0;
	while ((rc = pop3_ml_line(p, "CAPA", &line, &len, e)) == 0)
		if (pop3_capa_add(&p->caps, line) == -1)
			log_debug("%s: ignoring malformed capability",
			    p->name);
	return rc < 0 ? rc : 0;
}

int
pop3_stls(struct pop3 *p, const struct tls_params *tp, struct err *e)
{
	struct pop3_status	st;
	int			rc;

	if ((rc = pop3_simple(p, ST(POP3_ST_AUTH), &st, e, "STLS")) < 0)
		return rc;
	if ((rc = conn_starttls(p->conn, tp, e)) < 0)
		return pop3_broken(p, "STLS", rc, e);
	/* RFC 2595 section 4: forget what was learned in the clear. */
	pop3_capa_init(&p->caps);
	return 0;
}

int
pop3_utf8(struct pop3 *p, struct err *e)
{
	struct pop3_status	st;
	int			rc;

	if ((rc = pop3_check(p, "UTF8", ST(POP3_ST_AUTH), e)) < 0)
		return rc;
	if ((p->caps.flags & POP3_CAPA_UTF8) == 0)
		return err_set(e, E_PROTO, "server does not support UTF8");
	if ((rc = pop3_simple(p, ST(POP3_ST_AUTH), &st, e, "UTF8")) < 0)
		return rc;
	p->utf8 = true;
	return 0;
}

/* Read the reply to a login command; +OK moves to state next. */
static int
pop3_login_reply(struct pop3 *p, const char *label, enum pop3_state next,
    struct err *e)
{
	struct pop3_status	st;
	int			rc;

	if ((rc = pop3_read_status(p, label, false, &st, e)) < 0)
		return rc;
	if (st.kind == POP3_ERR)
		return pop3_login_err(p, label, &st, e);
	pop3_set_state(p, next);
	return 0;
}

void
pop3_secret_hide(struct pop3 *p, const char *secret)
{
	pop3_hide(p, secret);
	if (secret != NULL)
		pop3_hide_b64(p, secret, strlen(secret));
}

void
pop3_secret_unhide(struct pop3 *p)
{
	pop3_unhide(p);
}

void
pop3_secret_redact(const struct pop3 *p, char *text)
{
	pop3_redact(p, text);
}

/* Cut s, from now until pop3_unhide, out of every server reply. */
static void
pop3_hide(struct pop3 *p, const char *s)
{
	size_t	i;

	if (s == NULL || *s == '\0')
		return;
	for (i = 0; i < POP3_HIDE_MAX && p->hide[i] != NULL; i++) {
		if (strcmp(p->hide[i], s) == 0)
			return;
	}
	/* Full only if a server keeps asking; the answers then repeat. */
	if (i < POP3_HIDE_MAX)
		p->hide[i] = xstrdup(s);
}

/* pop3_hide of data's base64 form, as it went over the wire. */
static void
pop3_hide_b64(struct pop3 *p, const void *data, size_t len)
{
	char	*b64;

	b64 = crypto_base64_encode(data, len);
	pop3_hide(p, b64);
	freezero(b64, 0);
}

/* The login is over: forget (and wipe) what was hidden. */
static void
pop3_unhide(struct pop3 *p)
{
	size_t	i;

	for (i = 0; i < POP3_HIDE_MAX && p->hide[i] != NULL; i++) {
		freezero(p->hide[i], 0);
		p->hide[i] = NULL;
	}
}

/*
 * Replace each hidden secret in line with "****", in place (the line only
 * shrinks).  A server may quote what the client sent in its -ERR or its
 * OAuth error challenge; from there it would reach the trace, the error
 * message, the journal, the state database and --status.
 */
static void
pop3_redact(const struct pop3 *p, char *line)
{
	char	*at;
	size_t	 i, len, mask;

	for (i = 0; i < POP3_HIDE_MAX && p->hide[i] != NULL; i++) {
		len = strlen(p->hide[i]);
		mask = len < 4 ? len : 4;
		while ((at = strstr(line, p->hide[i])) != NULL) {
			memset(at, '*', mask);
			memmove(at + mask, at + len, strlen(at + len) + 1);
		}
	}
}

/* PASS or RPOP (RFC 1081): only after USER got +OK. */
static int
pop3_after_user(struct pop3 *p, const char *cmd, const char *arg,
    const char *trace, struct err *e)
{
	int	rc;

	if ((rc = pop3_check(p, cmd, ST(POP3_ST_AUTH), e)) < 0)
		return rc;
	if (!p->user_ok)
		return err_set(e, E_PROTO, "%s: no accepted USER before", cmd);
	p->user_ok = false;
	/* RPOP's argument is a user name; PASS's is the secret. */
	if (trace != NULL) {
		pop3_hide(p, arg);
		pop3_hide_b64(p, arg, strlen(arg));
	}
	if ((rc = pop3_sendf(p, cmd, trace, e, "%s %s", cmd, arg)) == 0)
		rc = pop3_login_reply(p, cmd, POP3_ST_TRANSACTION, e);
	pop3_unhide(p);
	return rc;
}

int
pop3_user(struct pop3 *p, const char *user, struct err *e)
{
	int	rc;

	if ((rc = pop3_check(p, "USER", ST(POP3_ST_AUTH), e)) < 0)
		return rc;
	p->user_ok = false;
	if ((rc = pop3_sendf(p, "USER", NULL, e, "USER %s", user)) < 0 ||
	    (rc = pop3_login_reply(p, "USER", POP3_ST_AUTH, e)) < 0)
		return rc;
	p->user_ok = true;
	return 0;
}

int
pop3_pass(struct pop3 *p, const char *pass, struct err *e)
{
	return pop3_after_user(p, "PASS", pass, "PASS ****", e);
}

int
pop3_rpop(struct pop3 *p, const char *user, struct err *e)
{
	return pop3_after_user(p, "RPOP", user, NULL, e);
}

int
pop3_apop(struct pop3 *p, const char *user, const char *secret,
    struct err *e)
{
	char	*digest, trace[POP3_CMD_MAX];
	int	 rc;

	if ((rc = pop3_check(p, "APOP", ST(POP3_ST_AUTH), e)) < 0)
		return rc;
	if (!p->has_ts)
		return err_set(e, E_AUTH, "APOP: server offers no APOP "
		    "(no timestamp in the greeting)");
	/* On the heap so freezero can wipe it: it proves the secret. */
	digest = xmalloc(33);
	sasl_apop_digest(p->apop_ts, secret, digest);
	snprintf(trace, sizeof(trace), "APOP %s ****", user);
	rc = pop3_sendf(p, "APOP", trace, e, "APOP %s %s", user, digest);
	freezero(digest, 33);
	if (rc < 0)
		return rc;
	return pop3_login_reply(p, "APOP", POP3_ST_TRANSACTION, e);
}

int
pop3_auth_begin(struct pop3 *p, const char *mech, const unsigned char *initial,
    size_t len, struct err *e)
{
	char	*b64 = NULL, label[64], trace[96];
	int	 rc;

	snprintf(label, sizeof(label), "AUTH %s", mech);
	if ((rc = pop3_check(p, label, ST(POP3_ST_AUTH), e)) < 0)
		return rc;
	if (initial != NULL) {
		b64 = crypto_base64_encode(initial, len);
		pop3_hide(p, b64);
		/* RFC 5034 section 4: the initial response rides on the
		 * AUTH line only if the line stays within 255 octets. */
		if (strlen(label) + 1 + (len == 0 ? 1 : strlen(b64)) + 2 <=
		    POP3_CMD_MAX) {
			snprintf(trace, sizeof(trace), "%s ****", label);
			rc = pop3_sendf(p, label, trace, e, "%s %s", label,
			    len == 0 ? "=" : b64);
			freezero(b64, 0);
			return rc < 0 ? rc : 1;
		}
		freezero(b64, 0);
	}
	rc = pop3_write_line(p, label, label, NULL, e);
	return rc < 0 ? rc : 0;
}

int
pop3_auth_next(struct pop3 *p, const char *mech, unsigned char **chal,
    size_t *challen, struct err *e)
{
	struct pop3_status	st;
	char			label[64];
	int			rc;

	*chal = NULL;
	*challen = 0;
	snprintf(label, sizeof(label), "AUTH %s", mech);
	if ((rc = pop3_read_status(p, label, true, &st, e)) < 0)
		return rc;
	if (st.kind == POP3_OK) {
		pop3_set_state(p, POP3_ST_TRANSACTION);
		return 0;
	}
	if (st.kind == POP3_ERR)
		return pop3_login_err(p, label, &st, e);
	if ((*chal = crypto_base64_decode(st.text, challen)) == NULL) {
		*challen = 0;
		err_set(e, E_AUTH, "%s: malformed challenge", label);
		return pop3_auth_cancel(p, mech, E_AUTH, e);
	}
	return 1;
}

int
pop3_auth_send(struct pop3 *p, const char *mech, const unsigned char *resp,
    size_t len, struct err *e)
{
	char	*b64, label[64];
	int	 rc;

	snprintf(label, sizeof(label), "AUTH %s", mech);
	b64 = crypto_base64_encode(resp, len);
	pop3_hide(p, b64);
	rc = pop3_write_line(p, label, b64, "****", e);
	freezero(b64, 0);
	return rc;
}

int
pop3_auth_cancel(struct pop3 *p, const char *mech, int rc, struct err *e)
{
	struct pop3_status	st;
	struct err		e2;
	char			label[64];
	int			rc2;

	snprintf(label, sizeof(label), "AUTH %s", mech);
	log_debug("%s: cancelling %s: %s", p->name, label,
	    e != NULL ? e->msg : "");
	if ((rc2 = pop3_write_line(p, label, "*", NULL, &e2)) < 0 ||
	    (rc2 = pop3_read_status(p, label, true, &st, &e2)) < 0) {
		if (e != NULL)
			*e = e2;
		return rc2;
	}
	return rc;
}

int
pop3_stat(struct pop3 *p, unsigned long *count, unsigned long long *octets,
    struct err *e)
{
	struct pop3_status	st;
	int			rc;

	if ((rc = pop3_simple(p, ST(POP3_ST_TRANSACTION), &st, e,
	    "STAT")) < 0)
		return rc;
	if (pop3_parse_stat(st.text, count, octets) == -1)
		return err_set(e, E_PROTO, "STAT: bad reply \"%s\"", p->reply);
	return 0;
}

/*
 * A new entry for num at the end of l.  The array grows in powers of two
 * from 16 as lines arrive (struct pop3_listing has no capacity field),
 * never from a count the server claims.
 */
static struct pop3_msg *
pop3_listing_add(struct pop3_listing *l, unsigned long num)
{
	struct pop3_msg	*m;

	if (l->count == 0 || (l->count >= 16 &&
	    (l->count & (l->count - 1)) == 0))
		l->msgs = xreallocarray(l->msgs, l->count < 16 ? 16 :
		    l->count * 2, sizeof(*l->msgs));
	m = &l->msgs[l->count++];
	memset(m, 0, sizeof(*m));
	m->num = num;
	return m;
}

/* Order index entries by message number, then by position. */
static int
pop3_key_cmp(const void *x, const void *y)
{
	const struct pop3_key	*a = x, *b = y;

	if (a->num != b->num)
		return a->num < b->num ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* l's entries sorted by number (n log n, once per listing). */
static struct pop3_key *
pop3_listing_index(const struct pop3_listing *l)
{
	struct pop3_key	*idx;
	size_t		 i;

	idx = xreallocarray(NULL, l->count, sizeof(*idx));
	for (i = 0; i < l->count; i++) {
		idx[i].num = l->msgs[i].num;
		idx[i].pos = i;
	}
	qsort(idx, l->count, sizeof(*idx), pop3_key_cmp);
	return idx;
}

/* The entry for num: index hint first (LIST and UIDL usually agree on the
 * order), then a binary search, in msgs or through idx; NULL if absent. */
static struct pop3_msg *
pop3_listing_find(struct pop3_listing *l, const struct pop3_key *idx,
    unsigned long num, size_t hint)
{
	size_t		lo = 0, hi = l->count, mid;
	unsigned long	got;

	if (hint < l->count && l->msgs[hint].num == num)
		return &l->msgs[hint];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		got = idx != NULL ? idx[mid].num : l->msgs[mid].num;
		if (got == num)
			return &l->msgs[idx != NULL ? idx[mid].pos : mid];
		if (got < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Give m the unique-id uid (len octets), or mark it unusable. */
static void
pop3_listing_setuid(struct pop3_listing *l, struct pop3_msg *m, int parsed,
    const char *uid, size_t len)
{
	size_t	cap;

	if ((m->flags & (POP3_MSG_UIDL | POP3_MSG_BADUIDL)) != 0 ||
	    parsed == POP3_UIDL_UNUSABLE) {
		/* Listed twice: neither id can be trusted for it. */
		m->flags = (m->flags & ~POP3_MSG_UIDL) | POP3_MSG_BADUIDL;
		m->uidl = 0;
		return;
	}
	if (l->poolcap - l->poollen < len + 1) {
		for (cap = l->poolcap == 0 ? 4096 : l->poolcap;
		    cap - l->poollen < len + 1; cap *= 2)
			;
		l->pool = xreallocarray(l->pool, cap, 1);
		l->poolcap = cap;
	}
	memcpy(l->pool + l->poollen, uid, len);
	l->pool[l->poollen + len] = '\0';
	m->uidl = l->poollen + 1;
	m->flags |= POP3_MSG_UIDL;
	l->poollen += len + 1;
}

/* After a listing that came out of order: a number listed twice is a
 * protocol error for LIST, and leaves both entries without a usable id
 * for UIDL. */
static int
pop3_listing_dups(struct pop3_listing *l, const char *cmd, struct err *e)
{
	struct pop3_key	*idx;
	struct pop3_msg	*m;
	size_t		 i, j;
	int		 rc = 0;

	idx = pop3_listing_index(l);
	for (i = 1; i < l->count; i++) {
		if (idx[i].num != idx[i - 1].num)
			continue;
		if (strcmp(cmd, "LIST") == 0) {
			rc = err_set(e, E_PROTO, "LIST: message %lu listed "
			    "twice", idx[i].num);
			break;
		}
		for (j = i - 1; j <= i; j++) {
			m = &l->msgs[idx[j].pos];
			m->flags = (m->flags & ~POP3_MSG_UIDL) |
			    POP3_MSG_BADUIDL;
			m->uidl = 0;
		}
	}
	free(idx);
	return rc;
}

/*
 * LIST or UIDL (cmd) without argument into l (see pop3.h).  Linear: each
 * line is appended, or found by the hint or a binary search.
 */
static int
pop3_listing(struct pop3 *p, const char *cmd, bool sent,
    struct pop3_listing *l, struct err *e)
{
	struct pop3_status	 st;
	struct pop3_msg		*m;
	unsigned long long	 size;
	unsigned long		 num, last = 0;
	const char		*uid;
	char			*line, bad[128];
	struct pop3_key		*idx = NULL;
	size_t			 n = 0, len, uidlen, lines = 0;
	bool			 is_list = strcmp(cmd, "LIST") == 0;
	bool			 merge = !is_list && l->count > 0;
	bool			 sorted = true;
	int			 rc, bad_rc = 0, parsed;

	if (sent)
		rc = pop3_expect_ok(p, cmd, &st, e);
	else
		rc = pop3_simple(p, ST(POP3_ST_TRANSACTION), &st, e, "%s",
		    cmd);
	if (rc < 0)
		return rc;
	if (merge) {
		for (n = 1; n < l->count && sorted; n++)
			sorted = l->msgs[n - 1].num < l->msgs[n].num;
		if (!sorted)
			idx = pop3_listing_index(l);
		n = 0;
	}
	/* A bad line is reported after the terminator, so the session
	 * stays in step. */
	while ((rc = pop3_ml_line(p, cmd, &line, &len, e)) == 0) {
		if (++lines % POP3_BUSY_LINES == 0 &&
		    (rc = conn_busy(p->conn, e)) < 0) {
			pop3_broken(p, cmd, rc, e);
			break;
		}
		if (bad_rc != 0)
			continue;
		if (n == POP3_MAX_MESSAGES) {
			bad_rc = err_set(e, E_PROTO, "%s: more than %lu "
			    "messages", cmd, POP3_MAX_MESSAGES);
			continue;
		}
		parsed = is_list ? pop3_parse_list(line, &num, &size) :
		    pop3_parse_uidl(line, len, &num, &uid, &uidlen);
		if (parsed == -1) {
			err_sanitize(bad, sizeof(bad), line);
			bad_rc = err_set(e, E_PROTO, "%s: bad line \"%s\"",
			    cmd, bad);
			continue;
		}
		if (merge) {
			if ((m = pop3_listing_find(l, idx, num, n++)) == NULL) {
				l->uidl_only++;
				continue;
			}
		} else {
			n++;
			if (num <= last)
				sorted = false;
			last = num;
			m = pop3_listing_add(l, num);
		}
		if (is_list) {
			m->size = size;
			m->flags |= POP3_MSG_LISTED;
		} else
			pop3_listing_setuid(l, m, parsed, uid, uidlen);
	}
	free(idx);
	if (rc < 0)
		return rc;
	if (bad_rc == 0 && !merge && !sorted)
		bad_rc = pop3_listing_dups(l, cmd, e);
	return bad_rc;
}

/*
 * With PIPELINING, UIDL goes out in the same write as LIST: the server
 * builds the second listing while the first is parsed (a tenth of an
 * empty poll of 100,000 messages, issue 9).  pop3_uidl reads its reply;
 * any other command first reads and drops it (pop3_check).
 */
int
pop3_list(struct pop3 *p, struct pop3_listing *l, struct err *e)
{
	int	rc;

	if ((p->caps.flags & POP3_CAPA_PIPELINING) == 0 ||
	    p->state != POP3_ST_TRANSACTION)
		return pop3_listing(p, "LIST", false, l, e);
	if ((rc = pop3_check(p, "LIST", ST(POP3_ST_TRANSACTION), e)) < 0)
		return rc;
	log_debug("%s: > LIST", p->name);
	log_debug("%s: > UIDL", p->name);
	if ((rc = conn_write(p->conn, "LIST\r\nUIDL\r\n", 12, e)) < 0)
		return pop3_broken(p, "LIST", rc, e);
	p->uidl_ahead = true;
	return pop3_listing(p, "LIST", true, l, e);
}

int
pop3_uidl(struct pop3 *p, struct pop3_listing *l, struct err *e)
{
	bool	sent = p->uidl_ahead;

	p->uidl_ahead = false;
	return pop3_listing(p, "UIDL", sent, l, e);
}

/* Read and drop the reply to a UIDL pop3_list sent that nobody asked
 * for; an -ERR is no error here. */
static int
pop3_uidl_discard(struct pop3 *p, struct err *e)
{
	struct pop3_status	 st;
	char			*line;
	size_t			 len;
	int			 rc;

	p->uidl_ahead = false;
	if ((rc = pop3_read_status(p, "UIDL", false, &st, e)) < 0)
		return rc;
	if (st.kind == POP3_ERR)
		return 0;
	while ((rc = pop3_ml_line(p, "UIDL", &line, &len, e)) == 0)
		;
	return rc < 0 ? rc : 0;
}

/* LIST n (size set) or UIDL n (uid set): the reply must name message num. */
static int
pop3_one(struct pop3 *p, const char *cmd, unsigned long num,
    unsigned long long *size, char *uid, struct err *e)
{
	struct pop3_status	 st;
	unsigned long		 got;
	const char		*u;
	size_t			 ulen;
	int			 rc;

	if ((rc = pop3_simple(p, ST(POP3_ST_TRANSACTION), &st, e, "%s %lu",
	    cmd, num)) < 0)
		return rc;
	if ((size != NULL ? pop3_parse_list(st.text, &got, size) :
	    pop3_parse_uidl(st.text, strlen(st.text), &got, &u, &ulen)) != 0 ||
	    got != num)
		return err_set(e, E_PROTO, "%s %lu: bad reply \"%s\"", cmd,
		    num, p->reply);
	if (uid != NULL) {
		memcpy(uid, u, ulen);
		uid[ulen] = '\0';
	}
	return 0;
}

int
pop3_list_one(struct pop3 *p, unsigned long num, unsigned long long *size,
    struct err *e)
{
	return pop3_one(p, "LIST", num, size, NULL, e);
}

int
pop3_uidl_one(struct pop3 *p, unsigned long num, char uid[POP3_UIDL_MAX + 1],
    struct err *e)
{
	return pop3_one(p, "UIDL", num, NULL, uid, e);
}

const char *
pop3_msg_uidl(const struct pop3_listing *l, const struct pop3_msg *m)
{
	if ((m->flags & POP3_MSG_UIDL) == 0 || m->uidl == 0)
		return NULL;
	return l->pool + m->uidl - 1;
}

void
pop3_listing_free(struct pop3_listing *l)
{
	free(l->msgs);
	free(l->pool);
	memset(l, 0, sizeof(*l));
}

/*
 * Read the reply to RETR or TOP of message num and stream its body into
 * sink (NULL: discard).  Once the sink fails the rest is still read, so
 * the session stays usable, and the sink's error is returned.
 */
static int
pop3_body_reply(struct pop3 *p, const char *label, unsigned long num,
    const struct pop3_sink *sink, void *arg, struct err *e)
{
	struct pop3_status	 st;
	struct pop3_body	 body;
	struct err		 se;
	const char		*data;
	size_t			 len, outlen, used;
	int			 rc, done, sink_rc = 0;

	if ((rc = pop3_expect_ok(p, label, &st, e)) < 0) {
		if (rc == E_SERVER && sink != NULL && sink->refused != NULL) {
			se = *e;
			return sink->refused(arg, num, &se, e);
		}
		return rc;
	}
	err_clear(&se);
	if (sink != NULL && sink->begin != NULL &&
	    (sink_rc = sink->begin(arg, num, &se)) < 0)
		sink = NULL;
	/* A message being written is finished before a stop takes effect:
	 * it is complete in new/ or not there at all. */
	conn_hold(p->conn, sink != NULL);
	pop3_body_init(&body);
	do {
		/* The sink gave up on the session: read nothing more. */
		if (sink_rc == E_ABORT) {
			conn_hold(p->conn, false);
			if (e != NULL)
				*e = se;
			return pop3_broken(p, label, E_ABORT, NULL);
		}
		if ((rc = conn_read_chunk(p->conn, &data, &len, e)) < 0) {
			conn_hold(p->conn, false);
			return pop3_broken(p, label, rc, e);
		}
		done = pop3_body_feed(&body, data, len, p->body, &outlen,
		    &used);
		conn_consume(p->conn, used);
		pop3_trace_body(p, p->body, outlen);
		if (sink != NULL && outlen > 0 &&
		    (sink_rc = sink->write(arg, p->body, outlen, &se)) < 0)
			sink = NULL;
	} while (!done);
	conn_hold(p->conn, false);
	log_debug("%s: %s: %llu lines", p->name, label, body.lines);
	if (sink != NULL && sink->end != NULL)
		sink_rc = sink->end(arg, &se);
	if (sink_rc < 0) {
		if (se.code == E_OK)
			err_set(&se, sink_rc, "%s: delivery failed", label);
		if (e != NULL)
			*e = se;
		return sink_rc;
	}
	return 0;
}

int
pop3_retr(struct pop3 *p, unsigned long num, const struct pop3_sink *sink,
    void *arg, struct err *e)
{
	char	label[64];
	int	rc;

	snprintf(label, sizeof(label), "RETR %lu", num);
	if ((rc = pop3_check(p, label, ST(POP3_ST_TRANSACTION), e)) < 0)
		return rc;
	if ((rc = pop3_write_line(p, label, label, NULL, e)) < 0)
		return rc;
	return pop3_body_reply(p, label, num, sink, arg, e);
}

int
pop3_top(struct pop3 *p, unsigned long num, unsigned long lines,
    const struct pop3_sink *sink, void *arg, struct err *e)
{
	char	label[64];
	int	rc;

	snprintf(label, sizeof(label), "TOP %lu %lu", num, lines);
	if ((rc = pop3_check(p, label, ST(POP3_ST_TRANSACTION), e)) < 0)
		return rc;
	if ((rc = pop3_write_line(p, label, label, NULL, e)) < 0)
		return rc;
	return pop3_body_reply(p, label, num, sink, arg, e);
}

/* Read a RETR reply in a batch; sink NULL discards. */
static int
pop3_retr_reply(struct pop3 *p, unsigned long num,
    const struct pop3_sink *sink, void *arg, struct err *e)
{
	char	label[64];

	snprintf(label, sizeof(label), "RETR %lu", num);
	return pop3_body_reply(p, label, num, sink, arg, e);
}

/* Read a DELE reply in a batch. */
static int
pop3_dele_reply(struct pop3 *p, unsigned long num,
    const struct pop3_sink *sink, void *arg, struct err *e)
{
	struct pop3_status	st;
	char			label[64];

	snprintf(label, sizeof(label), "DELE %lu", num);
	return pop3_expect_ok(p, label, &st, e);
}

/*
 * Send "cmd num" for each of nums[0..n) and read each reply with fn;
 * nums[n..n+ahead) may be sent too, and are left in p->ahead.  With
 * PIPELINING (RFC 2449 section 6.6) commands go out together in one write
 * while the replies in flight stay within POP3_PIPE_BYTES (sizes, when
 * known, estimate them) and the command lines within POP3_PIPE_CMD_BYTES:
 * a server reads a command line into a small buffer (RFC 2449 allows 255
 * octets; dovecot's holds 2048), so the queue we build there stays well
 * under it, and a write of commands can never block while the server is
 * itself blocked writing replies.  The window is topped up only once half
 * of it is free, so commands go out in groups, not one per reply.
 * Without PIPELINING, strictly one at a time.  At the first failure the
 * replies still in flight are read and discarded, unless the link itself
 * failed.
 *
 * With stoppable set, a stop request (conn_stop_requested) ends the batch
 * between two replies: no further command is sent, and replies still in
 * flight are not read (each would be a whole message, fetched only to be
 * thrown away): the link is closed instead, which also leaves any QUIT,
 * and so any deletion, unsent.
 */
static int
pop3_pipe(struct pop3 *p, const char *cmd, const unsigned long *nums,
    const unsigned long long *sizes, size_t n, size_t ahead,
    int (*fn)(struct pop3 *, unsigned long, const struct pop3_sink *,
    void *, struct err *),
    const struct pop3_sink *sink, void *arg, bool stoppable, size_t *done,
    struct err *e)
{
	struct err		e2;
	unsigned long long	inflight = 0, max_bytes;
	size_t			sent, recv = 0, total = n + ahead, cmds = 0;
	size_t			max_cmds, i, first;
	char			line[64];
	int			rc = 0, rc2;

	*done = 0;
	sent = pop3_ahead_take(p, cmd, nums, total);
	if ((rc = pop3_check(p, cmd, ST(POP3_ST_TRANSACTION), e)) < 0)
		return rc;
	if (p->caps.flags & POP3_CAPA_PIPELINING) {
		max_bytes = POP3_PIPE_BYTES;
		max_cmds = POP3_PIPE_CMD_BYTES;
	} else
		max_bytes = max_cmds = 0;
	for (i = 0; i < sent; i++) {
		inflight += (sizes != NULL ? sizes[i] : 0) +
		    POP3_REPLY_OVERHEAD;
		cmds += (size_t)snprintf(line, sizeof(line), "%s %lu\r\n", cmd,
		    nums[i]);
	}
	while (recv < n) {
		if (stoppable && conn_stop_requested(p->conn))
			return pop3_stopped(p, cmd, sent - recv, e);
		if (sent == recv || (sent < total &&
		    inflight <= max_bytes / 2 && cmds <= max_cmds / 2)) {
			/* Top up: always one command, then whatever fits. */
			first = sent;
			do {
				inflight += (sizes != NULL ? sizes[sent] : 0) +
				    POP3_REPLY_OVERHEAD;
				cmds += (size_t)snprintf(line, sizeof(line),
				    "%s %lu\r\n", cmd, nums[sent]);
				sent++;
			} while (sent < total &&
			    inflight + (sizes != NULL ? sizes[sent] : 0) +
			    POP3_REPLY_OVERHEAD <= max_bytes &&
			    cmds + sizeof("RETR 18446744073709551615\r\n") <=
			    max_cmds);
			if ((rc = pop3_pipe_send(p, cmd, nums + first,
			    sent - first, e)) < 0)
				return rc;
		}
		rc = fn(p, nums[recv], sink, arg, e);
		inflight -= (sizes != NULL ? sizes[recv] : 0) +
		    POP3_REPLY_OVERHEAD;
		cmds -= (size_t)snprintf(line, sizeof(line), "%s %lu\r\n", cmd,
		    nums[recv]);
		if (rc < 0)
			break;
		recv++;
		(*done)++;
	}
	if (rc == 0) {
		/* Sent ahead for the next call. */
		for (i = n; i < sent; i++)
			p->ahead[p->nahead++] = nums[i];
		return 0;
	}
	if (p->state == POP3_ST_CLOSED)
		return rc;
	if (stoppable && conn_stop_requested(p->conn))
		return pop3_stopped(p, cmd, sent - recv - 1, e);
	/* The failed reply was read whole; drain the others in flight. */
	for (recv++; recv < sent; recv++) {
		if ((rc2 = fn(p, nums[recv], NULL, NULL, &e2)) < 0 &&
		    p->state == POP3_ST_CLOSED) {
			if (e != NULL)
				*e = e2;
			return rc2;
		}
	}
	return rc;
}

/* Send "cmd num" for each of nums, in one write. */
static int
pop3_pipe_send(struct pop3 *p, const char *cmd, const unsigned long *nums,
    size_t n, struct err *e)
{
	char	buf[POP3_PIPE_CMD_BYTES + 64];
	size_t	i, len = 0;
	int	k, rc;

	for (i = 0; i < n; i++) {
		k = snprintf(buf + len, sizeof(buf) - len, "%s %lu\r\n", cmd,
		    nums[i]);
		if (k < 0 || (size_t)k >= sizeof(buf) - len)
			fatalx("%s: %zu commands do not fit", __func__, n);
		log_debug("%s: > %.*s", p->name, k - 2, buf + len);
		len += (size_t)k;
	}
	if ((rc = conn_write(p->conn, buf, len, e)) < 0) {
		snprintf(buf, sizeof(buf), "%s %lu", cmd, nums[0]);
		return pop3_broken(p, buf, rc, e);
	}
	return 0;
}

/*
 * The RETRs sent ahead that nums (a RETR batch) starts with: they are in
 * flight already.  Returns their count; any others are left for
 * pop3_check to discard.
 */
static size_t
pop3_ahead_take(struct pop3 *p, const char *cmd, const unsigned long *nums,
    size_t n)
{
	size_t	k = p->nahead;

	if (k == 0 || strcmp(cmd, "RETR") != 0 || k > n ||
	    memcmp(p->ahead, nums, k * sizeof(*nums)) != 0)
		return 0;
	p->nahead = 0;
	return k;
}

/*
 * Read and discard the replies to the RETRs sent ahead; after a stop
 * request, close the link instead (pop3_stopped).
 */
static int
pop3_ahead_discard(struct pop3 *p, struct err *e)
{
	size_t	i, n = p->nahead;
	int	rc;

	p->nahead = 0;
	if (conn_stop_requested(p->conn))
		return pop3_stopped(p, "RETR", n, e);
	for (i = 0; i < n; i++)
		if ((rc = pop3_retr_reply(p, p->ahead[i], NULL, NULL, e)) < 0 &&
		    p->state == POP3_ST_CLOSED)
			return rc;
	return 0;
}

/*
 * A stop request between two replies of a batch: with none in flight the
 * session stays usable (for QUIT); otherwise the link is given up.
 */
static int
pop3_stopped(struct pop3 *p, const char *cmd, size_t inflight,
    struct err *e)
{
	if (inflight == 0)
		return err_set(e, E_ABORT, "%s: stopped by a signal", cmd);
	log_debug("%s: stopping with %zu %s replies in flight: closing the "
	    "link", p->name, inflight, cmd);
	pop3_set_state(p, POP3_ST_CLOSED);
	return err_set(e, E_ABORT, "%s: stopped by a signal with %zu "
	    "replies in flight; link closed", cmd, inflight);
}

int
pop3_retr_many(struct pop3 *p, const unsigned long *nums,
    const unsigned long long *sizes, size_t n, size_t ahead,
    const struct pop3_sink *sink, void *arg, size_t *done, struct err *e)
{
	return pop3_pipe(p, "RETR", nums, sizes, n, ahead, pop3_retr_reply,
	    sink, arg, true, done, e);
}

int
pop3_dele(struct pop3 *p, unsigned long num, struct err *e)
{
	struct pop3_status	st;

	return pop3_simple(p, ST(POP3_ST_TRANSACTION), &st, e, "DELE %lu",
	    num);
}

int
pop3_dele_many(struct pop3 *p, const unsigned long *nums, size_t n,
    size_t *done, struct err *e)
{
	return pop3_pipe(p, "DELE", nums, NULL, n, 0, pop3_dele_reply, NULL,
	    NULL, false, done, e);
}

int
pop3_rset(struct pop3 *p, struct err *e)
{
	struct pop3_status	st;

	return pop3_simple(p, ST(POP3_ST_TRANSACTION), &st, e, "RSET");
}

int
pop3_noop(struct pop3 *p, struct err *e)
{
	struct pop3_status	st;

	return pop3_simple(p, ST(POP3_ST_TRANSACTION), &st, e, "NOOP");
}

int
pop3_quit(struct pop3 *p, struct err *e)
{
	struct pop3_status	st;
	int			rc;

	if ((rc = pop3_check(p, "QUIT", ST(POP3_ST_AUTH) |
	    ST(POP3_ST_TRANSACTION), e)) < 0) {
		pop3_set_state(p, POP3_ST_CLOSED);
		return rc;
	}
	if ((rc = pop3_write_line(p, "QUIT", "QUIT", NULL, e)) == 0) {
		/* RFC 1939 section 6: QUIT in TRANSACTION commits the
		 * deletions; only its +OK says they happened. */
		if (p->state == POP3_ST_TRANSACTION)
			pop3_set_state(p, POP3_ST_UPDATE);
		rc = pop3_expect_ok(p, "QUIT", &st, e);
	}
	pop3_set_state(p, POP3_ST_CLOSED);
	return rc;
}
