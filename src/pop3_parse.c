/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Pure POP3 parsers: status lines, response codes, listings, CAPA, bodies. */

#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "pop3_parse.h"

/*
 * Body decoder states.  The low byte is where the parser stands in the
 * line structure; BODY_HELD plus a byte in bits 16..23 is a decoded byte
 * owed to the caller (see body_emit).
 */
enum body_state {
	BODY_BOL,	/* at the start of a line */
	BODY_DOT,	/* a line began with '.' */
	BODY_DOTCR,	/* a line began with ".\r" */
	BODY_MID,	/* inside a line */
	BODY_CR,	/* inside a line, after a '\r' not yet known to end it */
	BODY_DONE	/* the terminator was consumed */
};
#define BODY_STMASK	0xff
#define BODY_HELD	0x100
#define BODY_HELDSHIFT	16

/* Where pop3_body_feed writes: the caller's buffer and its capacity. */
struct body_out {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 held;		/* the owed byte, or -1 */
};

/* RFC 4422 3.1 sasl-mech characters, lower case also taken. */
#define SASL_NAME_CHARS	\
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static int	parse_num(const char **, unsigned long long,
		    unsigned long long *);
static int	parse_pair(const char *, unsigned long long, unsigned long *,
		    unsigned long long *);
static const char *skip_blanks(const char *);
static bool	is_blank(char);
static bool	word_is(const char *, size_t, const char *);
static enum pop3_rcode rcode_lookup(const char *, size_t);
static const char *parse_rcode(const char *, enum pop3_rcode *);
static int	capa_sasl(struct pop3_capa *, const char *);
static int	capa_number(const char *, long *, bool);
static bool	capa_user_only(const char *);
static void	body_emit(struct body_out *, char);
static int	body_mid(struct body_out *, unsigned char,
		    unsigned long long *);
static size_t	body_run(const char *, size_t);

/* RFC 2449 section 8 names; hierarchical codes match on a level boundary. */
static const struct {
	const char	*name;
	enum pop3_rcode	 rc;
} rcode_table[] = {
	{ "IN-USE", POP3_RC_IN_USE },
	{ "LOGIN-DELAY", POP3_RC_LOGIN_DELAY },
	{ "SYS/TEMP", POP3_RC_SYS_TEMP },
	{ "SYS/PERM", POP3_RC_SYS_PERM },
	{ "AUTH", POP3_RC_AUTH },
	{ "UTF8", POP3_RC_UTF8 },
};

/* Capabilities without arguments, and their flags. */
static const struct {
	const char	*name;
	unsigned	 flag;
} capa_table[] = {
	{ "TOP", POP3_CAPA_TOP },
	{ "USER", POP3_CAPA_USER },
	{ "RESP-CODES", POP3_CAPA_RESP_CODES },
	{ "PIPELINING", POP3_CAPA_PIPELINING },
	{ "UIDL", POP3_CAPA_UIDL },
	{ "STLS", POP3_CAPA_STLS },
	{ "AUTH-RESP-CODE", POP3_CAPA_AUTH_RESP_CODE },
};

/* Commands whose +OK reply is multi-line; LIST and UIDL only bare. */
static const struct {
	const char	*name;
	bool		 only_without_arg;
} multiline_table[] = {
	{ "CAPA", false },
	{ "LIST", true },
	{ "UIDL", true },
	{ "RETR", false },
	{ "TOP", false },
};

/* Whether c separates words in a reply. */
static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Skip spaces and tabs. */
static const char *
skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/*
 * Parse a decimal number of at least one digit at *sp, no sign, at most
 * max; *sp moves past the digits.  Returns 0 or -1.
 */
static int
parse_num(const char **sp, unsigned long long max, unsigned long long *out)
{
	const char		*s = *sp;
	unsigned long long	 v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*sp = s;
	*out = v;
	return 0;
}

/* Whether the len bytes at s are word, ignoring case. */
static bool
word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* The known code that code (len bytes) is, or is below in the hierarchy. */
static enum pop3_rcode
rcode_lookup(const char *code, size_t len)
{
	size_t	i, n;

	for (i = 0; i < sizeof(rcode_table) / sizeof(rcode_table[0]); i++) {
		n = strlen(rcode_table[i].name);
		if (len >= n && strncasecmp(code, rcode_table[i].name, n) == 0 &&
		    (len == n || code[n] == '/'))
			return rcode_table[i].rc;
	}
	return POP3_RC_OTHER;
}

/*
 * Parse "[CODE]" at s.  Returns the text after it (and its blanks) and
 * sets *rc; for something that is no well-formed code (RFC 2449 resp-code:
 * levels of 0x21..0x7F without '/' or ']', joined by '/') returns s with
 * POP3_RC_NONE, so the bracket stays part of the text.
 */
static const char *
parse_rcode(const char *s, enum pop3_rcode *rc)
{
	const char	*p;
	bool		 level_empty = true;

	*rc = POP3_RC_NONE;
	if (*s != '[')
		return s;
	for (p = s + 1; *p != ']'; p++) {
		if (*p == '/') {
			if (level_empty)
				return s;
			level_empty = true;
		} else if ((unsigned char)*p > 0x20 &&
		    (unsigned char)*p < 0x7f) {
			level_empty = false;
		} else
			return s;	/* blank, control, NUL: unterminated */
	}
	if (level_empty)
		return s;
	*rc = rcode_lookup(s + 1, (size_t)(p - s - 1));
	return skip_blanks(p + 1);
}

int
pop3_parse_status(const char *line, struct pop3_status *st)
{
	const char	*p;

	if (strncmp(line, "+OK", 3) == 0) {
		st->kind = POP3_OK;
		p = line + 3;
	} else if (strncmp(line, "-ERR", 4) == 0) {
		st->kind = POP3_ERR;
		p = line + 4;
	} else if (line[0] == '+') {
		st->kind = POP3_CONT;
		p = line + 1;
	} else
		return -1;
	if (*p != ' ' && *p != '\0')
		return -1;
	p = skip_blanks(p);
	st->rcode = POP3_RC_NONE;
	if (st->kind != POP3_CONT)
		p = parse_rcode(p, &st->rcode);
	st->text = p;
	return 0;
}

const char *
pop3_rcode_name(enum pop3_rcode rc)
{
	size_t	i;

	if (rc == POP3_RC_OTHER)
		return "OTHER";
	for (i = 0; i < sizeof(rcode_table) / sizeof(rcode_table[0]); i++)
		if (rcode_table[i].rc == rc)
			return rcode_table[i].name;
	return "";
}

bool
pop3_rcode_is_temporary(enum pop3_rcode rc)
{
	return rc == POP3_RC_IN_USE || rc == POP3_RC_LOGIN_DELAY ||
	    rc == POP3_RC_SYS_TEMP;
}

/*
 * Parse "num size [more]" as STAT and LIST lines have it; num must be at
 * least min_num.  Returns 0 or -1.
 */
static int
parse_pair(const char *s, unsigned long long min_num, unsigned long *num,
    unsigned long long *size)
{
	unsigned long long	n, sz;

	if (parse_num(&s, POP3_MAX_MESSAGES, &n) == -1 || n < min_num ||
	    !is_blank(*s))
		return -1;
	s = skip_blanks(s);
	if (parse_num(&s, ~0ULL, &sz) == -1)
		return -1;
	/* RFC 1939 allows more information after the size. */
	if (*s != '\0' && !is_blank(*s))
		return -1;
	*num = (unsigned long)n;
	*size = sz;
	return 0;
}

int
pop3_parse_stat(const char *text, unsigned long *count,
    unsigned long long *octets)
{
	return parse_pair(text, 0, count, octets);
}

int
pop3_parse_list(const char *line, unsigned long *num,
    unsigned long long *size)
{
	/* Message numbers start at 1. */
	return parse_pair(line, 1, num, size);
}

int
pop3_parse_uidl(const char *line, size_t len, unsigned long *num,
    const char **uid, size_t *uidlen)
{
	unsigned long long	 n;
	const char		*p = line, *end = line + len;

	if (parse_num(&p, POP3_MAX_MESSAGES, &n) == -1 || n == 0 ||
	    p == end || !is_blank(*p))
		return -1;
	*num = (unsigned long)n;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	*uid = p;
	*uidlen = (size_t)(end - p);
	if (*uidlen == 0 || *uidlen > POP3_UIDL_MAX ||
	    memchr(p, '\0', *uidlen) != NULL)
		return POP3_UIDL_UNUSABLE;
	return 0;
}

bool
pop3_uidl_valid(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= POP3_UIDL_RFC_MAX || (unsigned char)s[i] < 0x21 ||
		    (unsigned char)s[i] > 0x7e)
			return false;
	return i > 0;
}

int
pop3_parse_apop_ts(const char *greeting, char *ts, size_t tslen)
{
	const char	*start, *p, *at = NULL;
	size_t		 len;

	if ((start = strchr(greeting, '<')) == NULL)
		return -1;
	for (p = start + 1; *p != '>'; p++) {
		if (*p == '<' || (unsigned char)*p < 0x21 ||
		    (unsigned char)*p > 0x7e)
			return -1;	/* nested, blank, control or end */
		if (*p == '@' && at == NULL)
			at = p;
	}
	/* RFC 1939 wants a msg-id: something on both sides of the '@'. */
	if (at == NULL || at == start + 1 || at + 1 == p)
		return -1;
	len = (size_t)(p - start) + 1;
	if (len >= tslen)
		return -1;
	memcpy(ts, start, len);
	ts[len] = '\0';
	return 0;
}

void
pop3_capa_init(struct pop3_capa *c)
{
	memset(c, 0, sizeof(*c));
	c->login_delay = -1;
	c->expire = -1;
}

/* Add the mechanisms after "SASL", upper-cased and without duplicates. */
static int
capa_sasl(struct pop3_capa *c, const char *p)
{
	const char	*end;
	size_t		 len, i;

	c->flags |= POP3_CAPA_SASL;
	for (p = skip_blanks(p); *p != '\0'; p = skip_blanks(end)) {
		for (end = p; *end != '\0' && !is_blank(*end); end++)
			;
		len = (size_t)(end - p);
		/* A name that does not fit, or is no RFC 4422 name (so may
		 * hold bytes unfit for a log), is none we implement. */
		if (len >= sizeof(c->sasl[0]) ||
		    c->nsasl == POP3_CAPA_SASL_MAX ||
		    strspn(p, SASL_NAME_CHARS) < len)
			continue;
		for (i = 0; i < c->nsasl; i++)
			if (word_is(p, len, c->sasl[i]))
				break;
		if (i < c->nsasl)
			continue;
		for (i = 0; i < len; i++) {
			c->sasl[c->nsasl][i] = p[i];
			if (p[i] >= 'a' && p[i] <= 'z')
				c->sasl[c->nsasl][i] = (char)(p[i] - 'a' + 'A');
		}
		c->sasl[c->nsasl][len] = '\0';
		c->nsasl++;
	}
	return 0;
}

/*
 * Parse the argument of LOGIN-DELAY or EXPIRE: a number (or "NEVER" when
 * never_ok, giving -1), optionally followed by "USER" (RFC 2449: the value
 * differs per user).  Returns 0 or -1.
 */
static int
capa_number(const char *p, long *out, bool never_ok)
{
	unsigned long long	 v;
	const char		*end;
	long			 val;

	p = skip_blanks(p);
	for (end = p; *end != '\0' && !is_blank(*end); end++)
		;
	if (never_ok && word_is(p, (size_t)(end - p), "NEVER"))
		val = -1;
	else if (parse_num(&p, 0x7fffffffUL, &v) == -1 || p != end)
		return -1;
	else
		val = (long)v;
	if (!capa_user_only(end))
		return -1;
	*out = val;
	return 0;
}

/* Whether p holds nothing but an optional "USER" (RFC 2449, RFC 6856). */
static bool
capa_user_only(const char *p)
{
	const char	*end;

	p = skip_blanks(p);
	for (end = p; *end != '\0' && !is_blank(*end); end++)
		;
	if (end != p && !word_is(p, (size_t)(end - p), "USER"))
		return false;
	return *skip_blanks(end) == '\0';
}

int
pop3_capa_add(struct pop3_capa *c, const char *line)
{
	const char	*end, *args;
	size_t		 len, i;
	long		 v;

	line = skip_blanks(line);
	if (*line == '\0')
		return 0;
	if (c->nlines < POP3_CAPA_LINES_MAX)
		err_sanitize(c->lines[c->nlines++], sizeof(c->lines[0]), line);
	for (end = line; *end != '\0' && !is_blank(*end); end++)
		;
	len = (size_t)(end - line);
	args = skip_blanks(end);

	if (word_is(line, len, "SASL"))
		return capa_sasl(c, args);
	if (word_is(line, len, "LOGIN-DELAY")) {
		if (capa_number(args, &v, false) == -1)
			return -1;
		c->login_delay = v;
		c->flags |= POP3_CAPA_LOGIN_DELAY;
		return 0;
	}
	if (word_is(line, len, "EXPIRE")) {
		if (capa_number(args, &v, true) == -1)
			return -1;
		c->expire = v;
		c->flags |= POP3_CAPA_EXPIRE;
		return 0;
	}
	if (word_is(line, len, "IMPLEMENTATION")) {
		err_sanitize(c->implementation, sizeof(c->implementation),
		    args);
		c->flags |= POP3_CAPA_IMPLEMENTATION;
		return 0;
	}
	if (word_is(line, len, "UTF8")) {
		if (!capa_user_only(args))
			return -1;
		c->flags |= POP3_CAPA_UTF8;
		return 0;
	}
	for (i = 0; i < sizeof(capa_table) / sizeof(capa_table[0]); i++)
		if (word_is(line, len, capa_table[i].name))
			c->flags |= capa_table[i].flag;
	return 0;
}

bool
pop3_capa_has_sasl(const struct pop3_capa *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nsasl; i++)
		if (strcasecmp(c->sasl[i], name) == 0)
			return true;
	return false;
}

int
pop3_multiline_line(char *line, size_t *len)
{
	if (*len == 0 || line[0] != '.')
		return 0;
	if (*len == 1)
		return 1;
	memmove(line, line + 1, *len - 1);
	(*len)--;
	line[*len] = '\0';
	return 0;
}

void
pop3_body_init(struct pop3_body *b)
{
	b->state = BODY_BOL;
	b->lines = 0;
}

/*
 * Write one decoded byte.  A byte that was consumed in an earlier call but
 * only decoded now (the '\r' of "abc\r" | "x") makes a call write one byte
 * more than it consumed; to keep within the caller's inlen bytes the last
 * such byte is held and written first in the next call.  At most one byte
 * is ever owed: each consumed byte yields at most one decoded byte.
 */
static void
body_emit(struct body_out *o, char c)
{
	if (o->len < o->cap) {
		o->buf[o->len++] = c;
		return;
	}
	if (o->held != -1)
		fatalx("%s: two bytes owed", __func__);
	o->held = (unsigned char)c;
}

/* Decode byte c inside a line; returns the next state. */
static int
body_mid(struct body_out *o, unsigned char c, unsigned long long *lines)
{
	if (c == '\r')
		return BODY_CR;
	body_emit(o, (char)c);
	if (c == '\n') {
		(*lines)++;
		return BODY_BOL;
	}
	return BODY_MID;
}

/*
 * How many bytes at s are neither CR nor LF: they decode to themselves
 * inside a line.  memchr, not a byte loop: a body is mostly such runs, and
 * this was a third of a sync's instructions (issue 9).
 */
static size_t
body_run(const char *s, size_t n)
{
	const char	*lf, *cr;

	if ((lf = memchr(s, '\n', n)) != NULL)
		n = (size_t)(lf - s);
	if ((cr = memchr(s, '\r', n)) != NULL)
		n = (size_t)(cr - s);
	return n;
}

int
pop3_body_feed(struct pop3_body *b, const char *in, size_t inlen,
    char *out, size_t *outlen, size_t *consumed)
{
	struct body_out	 o = { out, 0, inlen, -1 };
	int		 st = b->state & BODY_STMASK, done = 0;
	size_t		 i, run;
	unsigned char	 c;

	if (b->state & BODY_HELD)
		o.held = (b->state >> BODY_HELDSHIFT) & 0xff;
	if (o.held != -1 && inlen > 0) {
		c = (unsigned char)o.held;
		o.held = -1;
		body_emit(&o, (char)c);
	}
	for (i = 0; i < inlen && st != BODY_DONE; i++) {
		c = (unsigned char)in[i];
		switch (st) {
		case BODY_BOL:
			if (c == '.')
				st = BODY_DOT;
			else
				st = body_mid(&o, c, &b->lines);
			break;
		case BODY_DOT:
			if (c == '\r')
				st = BODY_DOTCR;
			else if (c == '\n')
				st = BODY_DONE;
			else	/* RFC 1939 3: drop the stuffed dot */
				st = body_mid(&o, c, &b->lines);
			break;
		case BODY_DOTCR:
			if (c == '\n') {
				st = BODY_DONE;
				break;
			}
			body_emit(&o, '\r');
			st = body_mid(&o, c, &b->lines);
			break;
		case BODY_CR:
			if (c == '\n') {
				body_emit(&o, '\n');
				b->lines++;
				st = BODY_BOL;
				break;
			}
			body_emit(&o, '\r');	/* a lone CR is data */
			st = body_mid(&o, c, &b->lines);
			break;
		case BODY_MID:
			/* The rest of the line up to its CR or LF at once,
			 * when it fits without a byte owed. */
			run = body_run(in + i, inlen - i);
			if (run > 1 && o.held == -1 && run <= o.cap - o.len) {
				memcpy(o.buf + o.len, in + i, run);
				o.len += run;
				i += run - 1;
				break;
			}
			st = body_mid(&o, c, &b->lines);
			break;
		default:
			fatalx("%s: bad state %d", __func__, st);
		}
	}
	if (st == BODY_DONE) {
		done = 1;
		/* The terminator decodes to nothing, so no byte is owed. */
		if (o.held != -1)
			fatalx("%s: byte owed at the end", __func__);
	}
	b->state = st;
	if (o.held != -1)
		b->state |= BODY_HELD | (o.held << BODY_HELDSHIFT);
	*outlen = o.len;
	*consumed = i;
	return done;
}

bool
pop3_cmd_is_multiline(const char *cmd)
{
	const char	*end;
	size_t		 i, len;

	for (end = cmd; *end != '\0' && *end != ' ' && *end != '\r' &&
	    *end != '\n'; end++)
		;
	len = (size_t)(end - cmd);
	for (i = 0; i < sizeof(multiline_table) / sizeof(multiline_table[0]);
	    i++) {
		if (!word_is(cmd, len, multiline_table[i].name))
			continue;
		if (!multiline_table[i].only_without_arg)
			return true;
		while (*end == ' ')
			end++;
		return *end == '\0' || *end == '\r' || *end == '\n';
	}
	return false;
}
