/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_POP3_PARSE_H
#define POPSYNC_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Pure POP3 parsers: no I/O, no allocation.  Everything here can be tested
 * alone (tests/unit/test_pop3_parse.c links this file and err.c only).
 *
 * RFC 1939 (POP3), RFC 2449 (CAPA, response codes, line lengths),
 * RFC 3206 (SYS/TEMP, SYS/PERM, AUTH), RFC 6856 (UTF8), RFC 5034 (SASL).
 */

/*
 * RFC 1939 section 7 asks for a unique-id of 1 to 70 characters in
 * 0x21..0x7E, but real servers send longer ones, with spaces or UTF-8
 * (mpopd serves file names).  popsyncd keeps a unique-id as the octets the
 * server sent, up to POP3_UIDL_MAX of them; pop3_uidl_valid still says
 * whether one is RFC-clean.
 */
#define POP3_UIDL_MAX	512
#define POP3_UIDL_RFC_MAX	70

/* Message numbers and counts above this are refused before any allocation
 * (a hostile STAT cannot make us reserve gigabytes). */
#define POP3_MAX_MESSAGES	10000000UL

enum pop3_status_kind {
	POP3_OK,		/* +OK */
	POP3_ERR,		/* -ERR */
	POP3_CONT		/* "+ " SASL continuation (RFC 5034) */
};

/* RFC 2449 / 3206 / 6856 response codes; the first matching prefix wins,
 * so "SYS/TEMP" is POP3_RC_SYS_TEMP and "SYS/OTHER" is POP3_RC_OTHER. */
enum pop3_rcode {
	POP3_RC_NONE = 0,	/* no [CODE] */
	POP3_RC_IN_USE,
	POP3_RC_LOGIN_DELAY,
	POP3_RC_SYS_TEMP,
	POP3_RC_SYS_PERM,
	POP3_RC_AUTH,
	POP3_RC_UTF8,
	POP3_RC_OTHER		/* a bracketed code we do not know */
};

struct pop3_status {
	enum pop3_status_kind	 kind;
	enum pop3_rcode		 rcode;
	const char		*text;	/* after the status and any [CODE];
					 * points into the parsed line */
};

/*
 * pop3_parse_status: parse a status line ("+OK text", "-ERR [CODE] text",
 * "+ base64").  The status word must be followed by a space or the end of
 * the line.  Response codes are only recognised after -ERR and +OK.
 * Returns 0, or -1 for a line that is no status line.
 */
int	 pop3_parse_status(const char *line, struct pop3_status *st);

/* pop3_rcode_name: "IN-USE", "SYS/TEMP", ... ("" for none). */
const char *pop3_rcode_name(enum pop3_rcode rc);

/* pop3_rcode_is_temporary: IN-USE, LOGIN-DELAY and SYS/TEMP are. */
bool	 pop3_rcode_is_temporary(enum pop3_rcode rc);

/*
 * pop3_parse_stat: "+OK nn mm" text (after +OK) into count and octets.
 * Returns 0, or -1 when malformed or count > POP3_MAX_MESSAGES.
 */
int	 pop3_parse_stat(const char *text, unsigned long *count,
	    unsigned long long *octets);

/*
 * pop3_parse_list: a LIST line "num size" (a scan listing, also the text
 * after +OK for LIST n).  Extra words after the size are allowed.
 * Returns 0, or -1 when malformed or num is 0 or > POP3_MAX_MESSAGES.
 */
int	 pop3_parse_list(const char *line, unsigned long *num,
	    unsigned long long *size);

/*
 * pop3_parse_uidl: a UIDL line "num uid" of len octets (it may hold NULs;
 * line[len] must be a NUL, as buf_getline leaves it) into num and the uid, which is *uid .. *uid + *uidlen inside line: every
 * octet after the blanks that follow num, trailing blanks left out.
 * Returns 0 for a usable uid; POP3_UIDL_UNUSABLE when num is sound but the
 * uid cannot identify the message (empty, longer than POP3_UIDL_MAX, or
 * holding a NUL), so that only this message is passed over; -1 when the
 * line is malformed (no number, or num is 0 or > POP3_MAX_MESSAGES).
 */
#define POP3_UIDL_UNUSABLE	1
int	 pop3_parse_uidl(const char *line, size_t len, unsigned long *num,
	    const char **uid, size_t *uidlen);

/* pop3_uidl_valid: whether s is an RFC 1939 unique-id (1..70 characters
 * in 0x21..0x7E); others are still used when pop3_parse_uidl accepts them. */
bool	 pop3_uidl_valid(const char *s);

/*
 * pop3_parse_apop_ts: find the APOP timestamp "<...@...>" in a greeting and
 * copy it, brackets included, into ts (size tslen).  Returns 0, or -1 when
 * the greeting has none, it is malformed (no '@', nested '<', control
 * characters) or does not fit.
 */
int	 pop3_parse_apop_ts(const char *greeting, char *ts, size_t tslen);

/* CAPA results (RFC 2449 section 6, RFC 6856, RFC 2595). */
enum pop3_capa_flag {
	POP3_CAPA_TOP = 1 << 0,
	POP3_CAPA_USER = 1 << 1,
	POP3_CAPA_SASL = 1 << 2,
	POP3_CAPA_RESP_CODES = 1 << 3,
	POP3_CAPA_LOGIN_DELAY = 1 << 4,
	POP3_CAPA_PIPELINING = 1 << 5,
	POP3_CAPA_EXPIRE = 1 << 6,
	POP3_CAPA_UIDL = 1 << 7,
	POP3_CAPA_IMPLEMENTATION = 1 << 8,
	POP3_CAPA_STLS = 1 << 9,
	POP3_CAPA_UTF8 = 1 << 10,
	POP3_CAPA_AUTH_RESP_CODE = 1 << 11
};

#define POP3_CAPA_SASL_MAX	16
#define POP3_CAPA_LINES_MAX	64

struct pop3_capa {
	unsigned	 flags;		/* enum pop3_capa_flag bits */
	char		 sasl[POP3_CAPA_SASL_MAX][32]; /* upper-cased names */
	size_t		 nsasl;
	long		 login_delay;	/* seconds; -1 when not advertised */
	long		 expire;	/* days; -1 NEVER or not advertised */
	char		 implementation[128];
	/* The raw lines, for --probe; lines beyond the cap are dropped. */
	char		 lines[POP3_CAPA_LINES_MAX][128];
	size_t		 nlines;
};

/* pop3_capa_init: empty set (no flags, delays -1). */
void	 pop3_capa_init(struct pop3_capa *c);

/*
 * pop3_capa_add: parse one CAPA line (after dot-unstuffing) into c.
 * Unknown capabilities are kept in lines only.  Returns 0, or -1 for a
 * malformed known capability (such as "LOGIN-DELAY abc").
 */
int	 pop3_capa_add(struct pop3_capa *c, const char *line);

/* pop3_capa_has_sasl: whether mechanism name (any case) was advertised. */
bool	 pop3_capa_has_sasl(const struct pop3_capa *c, const char *name);

/*
 * pop3_multiline_line: handle one line of a multi-line reply in place.
 * Returns 1 for the terminating ".", else 0 after removing a leading
 * byte-stuffed dot (RFC 1939 section 3) and updating *len.
 */
int	 pop3_multiline_line(char *line, size_t *len);

/*
 * A streaming decoder for message bodies: it finds the terminating
 * CRLF.CRLF (or LF.LF) wherever reads split it, removes dot-stuffing and
 * turns CRLF into LF.  A bare CR not followed by LF is kept.
 */
struct pop3_body {
	int		 state;		/* private */
	unsigned long long lines;	/* lines passed out so far */
};

/* pop3_body_init: start decoding at the first byte after the +OK line. */
void	 pop3_body_init(struct pop3_body *b);

/*
 * pop3_body_feed: decode up to inlen bytes of in into out (room for inlen
 * bytes always suffices).  *outlen gets the bytes written, *consumed the
 * bytes of in used.  Returns 1 when the terminator was consumed (bytes
 * after it are left unconsumed, they belong to the next reply), else 0
 * after consuming all of in.
 */
int	 pop3_body_feed(struct pop3_body *b, const char *in, size_t inlen,
	    char *out, size_t *outlen, size_t *consumed);

/*
 * pop3_cmd_is_multiline: whether a command's +OK reply is multi-line, from
 * a table (curl's pop3cmds[] idea).  cmd is the whole command line; LIST and
 * UIDL are multi-line only without an argument.
 */
bool	 pop3_cmd_is_multiline(const char *cmd);

#endif
