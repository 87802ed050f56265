/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for pop3_parse.c: status lines, listings, CAPA, bodies. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_parse.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* pop3_parse_status */

static const struct {
	const char		*line;
	int			 ret;
	enum pop3_status_kind	 kind;
	enum pop3_rcode		 rc;
	const char		*text;
} status_cases[] = {
	{ "+OK", 0, POP3_OK, POP3_RC_NONE, "" },
	{ "+OK POP3 ready", 0, POP3_OK, POP3_RC_NONE, "POP3 ready" },
	{ "+OK  two blanks", 0, POP3_OK, POP3_RC_NONE, "two blanks" },
	{ "-ERR", 0, POP3_ERR, POP3_RC_NONE, "" },
	{ "-ERR no such message", 0, POP3_ERR, POP3_RC_NONE,
	    "no such message" },
	{ "+ ", 0, POP3_CONT, POP3_RC_NONE, "" },
	{ "+", 0, POP3_CONT, POP3_RC_NONE, "" },
	{ "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+", 0, POP3_CONT,
	    POP3_RC_NONE, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+" },
	/* A continuation carries no response code. */
	{ "+ [SYS/TEMP] x", 0, POP3_CONT, POP3_RC_NONE, "[SYS/TEMP] x" },
	{ "-ERR [IN-USE] mailbox locked", 0, POP3_ERR, POP3_RC_IN_USE,
	    "mailbox locked" },
	{ "-ERR [LOGIN-DELAY] wait", 0, POP3_ERR, POP3_RC_LOGIN_DELAY,
	    "wait" },
	{ "-ERR [SYS/TEMP] disk trouble", 0, POP3_ERR, POP3_RC_SYS_TEMP,
	    "disk trouble" },
	{ "-ERR [SYS/PERM] gone", 0, POP3_ERR, POP3_RC_SYS_PERM, "gone" },
	{ "-ERR [AUTH] bad password", 0, POP3_ERR, POP3_RC_AUTH,
	    "bad password" },
	{ "-ERR [UTF8] need UTF8", 0, POP3_ERR, POP3_RC_UTF8, "need UTF8" },
	{ "+OK [IN-USE] odd but legal", 0, POP3_OK, POP3_RC_IN_USE,
	    "odd but legal" },
	{ "-ERR [sys/temp] lower case", 0, POP3_ERR, POP3_RC_SYS_TEMP,
	    "lower case" },
	/* Hierarchy: a sub-level of a known code is that code. */
	{ "-ERR [SYS/TEMP/DISK] x", 0, POP3_ERR, POP3_RC_SYS_TEMP, "x" },
	{ "-ERR [AUTH/EXPIRED] x", 0, POP3_ERR, POP3_RC_AUTH, "x" },
	{ "-ERR [SYS/OTHER] x", 0, POP3_ERR, POP3_RC_OTHER, "x" },
	{ "-ERR [SYS] x", 0, POP3_ERR, POP3_RC_OTHER, "x" },
	{ "-ERR [SYS/TEMPO] x", 0, POP3_ERR, POP3_RC_OTHER, "x" },
	{ "-ERR [AUTHX] x", 0, POP3_ERR, POP3_RC_OTHER, "x" },
	{ "-ERR [X-VENDOR] x", 0, POP3_ERR, POP3_RC_OTHER, "x" },
	{ "-ERR [IN-USE]", 0, POP3_ERR, POP3_RC_IN_USE, "" },
	{ "-ERR [IN-USE]text", 0, POP3_ERR, POP3_RC_IN_USE, "text" },
	/* Malformed codes stay text. */
	{ "-ERR [] x", 0, POP3_ERR, POP3_RC_NONE, "[] x" },
	{ "-ERR [SYS/TEMP x", 0, POP3_ERR, POP3_RC_NONE, "[SYS/TEMP x" },
	{ "-ERR [SYS TEMP] x", 0, POP3_ERR, POP3_RC_NONE, "[SYS TEMP] x" },
	{ "-ERR [SYS//TEMP] x", 0, POP3_ERR, POP3_RC_NONE, "[SYS//TEMP] x" },
	{ "-ERR [/SYS] x", 0, POP3_ERR, POP3_RC_NONE, "[/SYS] x" },
	{ "-ERR [SYS/] x", 0, POP3_ERR, POP3_RC_NONE, "[SYS/] x" },
	{ "-ERR [IN\x01USE] x", 0, POP3_ERR, POP3_RC_NONE, "[IN\x01USE] x" },
	{ "-ERR x [IN-USE]", 0, POP3_ERR, POP3_RC_NONE, "x [IN-USE]" },
	/* No status lines at all. */
	{ "", -1, 0, 0, NULL },
	{ "OK", -1, 0, 0, NULL },
	{ "+OKAY", -1, 0, 0, NULL },
	{ "+ok lower", -1, 0, 0, NULL },
	{ "-ERROR", -1, 0, 0, NULL },
	{ "-err x", -1, 0, 0, NULL },
	{ "-", -1, 0, 0, NULL },
	{ "+OK\tx", -1, 0, 0, NULL },
	{ "+x", -1, 0, 0, NULL },
	{ " +OK", -1, 0, 0, NULL },
	{ "* OK imap", -1, 0, 0, NULL },
};

static void
test_parse_status(void **state)
{
	struct pop3_status	st;
	size_t			i;
	int			ret;

	for (i = 0; i < NELEM(status_cases); i++) {
		memset(&st, 0xa5, sizeof(st));
		ret = pop3_parse_status(status_cases[i].line, &st);
		if (ret != status_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i,
			    status_cases[i].line, ret);
		if (ret != 0)
			continue;
		assert_int_equal(st.kind, status_cases[i].kind);
		if (st.rcode != status_cases[i].rc)
			fail_msg("row %zu \"%s\": rcode %d", i,
			    status_cases[i].line, st.rcode);
		assert_string_equal(st.text, status_cases[i].text);
		/* text points into the line, not at a copy. */
		assert_true(st.text >= status_cases[i].line && st.text <=
		    status_cases[i].line + strlen(status_cases[i].line));
	}
}

/* pop3_rcode_name, pop3_rcode_is_temporary */

static const struct {
	enum pop3_rcode	 rc;
	const char	*name;
	bool		 temporary;
} rcode_cases[] = {
	{ POP3_RC_NONE, "", false },
	{ POP3_RC_IN_USE, "IN-USE", true },
	{ POP3_RC_LOGIN_DELAY, "LOGIN-DELAY", true },
	{ POP3_RC_SYS_TEMP, "SYS/TEMP", true },
	{ POP3_RC_SYS_PERM, "SYS/PERM", false },
	{ POP3_RC_AUTH, "AUTH", false },
	{ POP3_RC_UTF8, "UTF8", false },
	{ POP3_RC_OTHER, "OTHER", false },
};

static void
test_rcode(void **state)
{
	size_t	i;

	for (i = 0; i < NELEM(rcode_cases); i++) {
		assert_string_equal(pop3_rcode_name(rcode_cases[i].rc),
		    rcode_cases[i].name);
		assert_int_equal(pop3_rcode_is_temporary(rcode_cases[i].rc),
		    rcode_cases[i].temporary);
	}
}

/* pop3_parse_stat */

static const struct {
	const char		*text;
	int			 ret;
	unsigned long		 count;
	unsigned long long	 octets;
} stat_cases[] = {
	{ "2 320", 0, 2, 320 },
	{ "0 0", 0, 0, 0 },
	{ "10000000 1", 0, 10000000, 1 },
	{ "3 18446744073709551615", 0, 3, 18446744073709551615ULL },
	{ "2 320 extra words", 0, 2, 320 },
	{ "2  320", 0, 2, 320 },
	{ "2 320 ", 0, 2, 320 },
	{ "10000001 1", -1, 0, 0 },		/* too many messages */
	{ "99999999999999999999 1", -1, 0, 0 },
	{ "3 18446744073709551616", -1, 0, 0 },	/* octets overflow */
	{ "", -1, 0, 0 },
	{ "2", -1, 0, 0 },
	{ "2 ", -1, 0, 0 },
	{ " 2 320", -1, 0, 0 },
	{ "-2 320", -1, 0, 0 },
	{ "+2 320", -1, 0, 0 },
	{ "2 -320", -1, 0, 0 },
	{ "2x 320", -1, 0, 0 },
	{ "2 320x", -1, 0, 0 },
	{ "two 320", -1, 0, 0 },
	{ "2,320", -1, 0, 0 },
};

static void
test_parse_stat(void **state)
{
	unsigned long		count;
	unsigned long long	octets;
	size_t			i;
	int			ret;

	for (i = 0; i < NELEM(stat_cases); i++) {
		count = 77;
		octets = 77;
		ret = pop3_parse_stat(stat_cases[i].text, &count, &octets);
		if (ret != stat_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i,
			    stat_cases[i].text, ret);
		if (ret != 0) {
			/* Outputs are left alone on failure. */
			assert_int_equal(count, 77);
			continue;
		}
		assert_int_equal(count, stat_cases[i].count);
		assert_true(octets == stat_cases[i].octets);
	}
}

/* pop3_parse_list */

static const struct {
	const char		*line;
	int			 ret;
	unsigned long		 num;
	unsigned long long	 size;
} list_cases[] = {
	{ "1 120", 0, 1, 120 },
	{ "2 0", 0, 2, 0 },
	{ "10000000 5", 0, 10000000, 5 },
	{ "1 120 extra", 0, 1, 120 },
	{ "1\t120", 0, 1, 120 },
	{ "7 18446744073709551615", 0, 7, 18446744073709551615ULL },
	{ "0 120", -1, 0, 0 },			/* message 0 does not exist */
	{ "10000001 5", -1, 0, 0 },
	{ "1 18446744073709551616", -1, 0, 0 },
	{ "", -1, 0, 0 },
	{ "1", -1, 0, 0 },
	{ "1 ", -1, 0, 0 },
	{ "a 120", -1, 0, 0 },
	{ "1 abc", -1, 0, 0 },
	{ "1 12a", -1, 0, 0 },
	{ "1a 12", -1, 0, 0 },
	{ ".", -1, 0, 0 },
	{ "-1 12", -1, 0, 0 },
	{ " 1 12", -1, 0, 0 },
};

static void
test_parse_list(void **state)
{
	unsigned long		num;
	unsigned long long	size;
	size_t			i;
	int			ret;

	for (i = 0; i < NELEM(list_cases); i++) {
		ret = pop3_parse_list(list_cases[i].line, &num, &size);
		if (ret != list_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i,
			    list_cases[i].line, ret);
		if (ret != 0)
			continue;
		assert_int_equal(num, list_cases[i].num);
		assert_true(size == list_cases[i].size);
	}
}

/* pop3_parse_uidl, pop3_uidl_valid */

#define UID70 "0123456789012345678901234567890123456789" \
	"012345678901234567890123456789"
#define UID71 UID70 "x"

#define UID512 UID70 UID70 UID70 UID70 UID70 UID70 UID70 \
	"0123456789012345678901"
#define UID513 UID512 "x"

static const struct {
	const char	*line;
	size_t		 len;		/* 0: strlen(line) */
	int		 ret;
	unsigned long	 num;
	const char	*uid;
} uidl_cases[] = {
	{ "1 whqtswO00WBw418f9t5JxYwZ", 0, 0, 1, "whqtswO00WBw418f9t5JxYwZ" },
	{ "2 QhdPYR:00WBw1Ph7x7", 0, 0, 2, "QhdPYR:00WBw1Ph7x7" },
	{ "3 !", 0, 0, 3, "!" },
	{ "4 ~~~", 0, 0, 4, "~~~" },
	{ "5 " UID70, 0, 0, 5, UID70 },
	{ "6 abc  ", 0, 0, 6, "abc" },
	{ "7\tabc", 0, 0, 7, "abc" },
	{ "10000000 x", 0, 0, 10000000, "x" },
	/* Beyond RFC 1939, as real servers send them: kept as octets. */
	{ "5 " UID71, 0, 0, 5, UID71 },
	{ "5 " UID512, 0, 0, 5, UID512 },
	{ "1 abc def", 0, 0, 1, "abc def" },
	{ "1 ab\x01" "c", 0, 0, 1, "ab\x01" "c" },
	{ "1 ab\x7f" "c", 0, 0, 1, "ab\x7f" "c" },
	{ "1 ab\xc3\xa9", 0, 0, 1, "ab\xc3\xa9" },
	{ "1 abc\r", 0, 0, 1, "abc\r" },
	{ "1 #x/\"y\"", 0, 0, 1, "#x/\"y\"" },
	/* Unusable: only this message is passed over. */
	{ "5 " UID513, 0, POP3_UIDL_UNUSABLE, 5, NULL },
	{ "1 ", 0, POP3_UIDL_UNUSABLE, 1, NULL },
	{ "1 \t ", 0, POP3_UIDL_UNUSABLE, 1, NULL },
	{ "1 ab\0cd", 7, POP3_UIDL_UNUSABLE, 1, NULL },
	/* Malformed: the listing is broken. */
	{ "0 abc", 0, -1, 0, NULL },
	{ "10000001 abc", 0, -1, 0, NULL },
	{ "1", 0, -1, 0, NULL },
	{ "", 0, -1, 0, NULL },
	{ "abc", 0, -1, 0, NULL },
	{ "x1 abc", 0, -1, 0, NULL },
	{ "1x abc", 0, -1, 0, NULL },
	{ "1\0 abc", 6, -1, 0, NULL },
};

static void
test_parse_uidl(void **state)
{
	const char	*uid;
	unsigned long	 num;
	size_t		 i, len, uidlen;
	int		 ret;

	for (i = 0; i < NELEM(uidl_cases); i++) {
		len = uidl_cases[i].len != 0 ? uidl_cases[i].len :
		    strlen(uidl_cases[i].line);
		ret = pop3_parse_uidl(uidl_cases[i].line, len, &num, &uid,
		    &uidlen);
		if (ret != uidl_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i,
			    uidl_cases[i].line, ret);
		if (ret == -1)
			continue;
		assert_int_equal(num, uidl_cases[i].num);
		if (ret != 0)
			continue;
		assert_int_equal(uidlen, strlen(uidl_cases[i].uid));
		assert_memory_equal(uid, uidl_cases[i].uid, uidlen);
	}
}

static const struct {
	const char	*s;
	bool		 valid;
} uidl_valid_cases[] = {
	{ "a", true },
	{ "!~", true },
	{ UID70, true },
	{ UID71, false },
	{ "", false },
	{ "a b", false },
	{ "a\tb", false },
	{ "a\x1f", false },
	{ "\x7f", false },
	{ "\x80", false },
};

static void
test_uidl_valid(void **state)
{
	size_t	i;

	for (i = 0; i < NELEM(uidl_valid_cases); i++)
		if (pop3_uidl_valid(uidl_valid_cases[i].s) !=
		    uidl_valid_cases[i].valid)
			fail_msg("row %zu \"%s\"", i, uidl_valid_cases[i].s);
}

/* pop3_parse_apop_ts */

static const struct {
	const char	*greeting;
	size_t		 tslen;
	int		 ret;
	const char	*ts;
} apop_cases[] = {
	/* RFC 1939 section 7. */
	{ "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", 64, 0,
	    "<1896.697170952@dbc.mtview.ca.us>" },
	{ "POP3 server ready <1896.697170952@dbc.mtview.ca.us>", 64, 0,
	    "<1896.697170952@dbc.mtview.ca.us>" },
	{ "+OK <a@b> trailing text", 64, 0, "<a@b>" },
	{ "+OK <a@b@c>", 64, 0, "<a@b@c>" },
	/* Exactly fits: 5 characters plus NUL. */
	{ "+OK <a@b>", 6, 0, "<a@b>" },
	{ "+OK <a@b>", 5, -1, NULL },
	{ "+OK POP3 server ready", 64, -1, NULL },
	{ "", 64, -1, NULL },
	{ "+OK <1896.697170952.dbc.mtview.ca.us>", 64, -1, NULL },
	{ "+OK <1896.697170952@dbc.mtview.ca.us", 64, -1, NULL },
	{ "+OK <a<b@c>", 64, -1, NULL },
	{ "+OK <a@b c>", 64, -1, NULL },
	{ "+OK <a@\x01" "b>", 64, -1, NULL },
	{ "+OK <a@\xc3\xa9>", 64, -1, NULL },
	{ "+OK <>", 64, -1, NULL },
	{ "+OK <@b>", 64, -1, NULL },
	{ "+OK <a@>", 64, -1, NULL },
	{ "+OK a@b>", 64, -1, NULL },
};

static void
test_parse_apop_ts(void **state)
{
	char	ts[65];		/* one guard byte past the largest tslen */
	size_t	i;
	int	ret;

	for (i = 0; i < NELEM(apop_cases); i++) {
		memset(ts, 'Z', sizeof(ts));
		ret = pop3_parse_apop_ts(apop_cases[i].greeting, ts,
		    apop_cases[i].tslen);
		if (ret != apop_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i,
			    apop_cases[i].greeting, ret);
		if (ret == 0)
			assert_string_equal(ts, apop_cases[i].ts);
		/* Nothing is written beyond tslen. */
		assert_int_equal(ts[apop_cases[i].tslen], 'Z');
	}
}

/* pop3_capa_init, pop3_capa_add, pop3_capa_has_sasl */

static const struct {
	const char	*line;
	int		 ret;
	unsigned	 flags;		/* flags set afterwards */
	long		 login_delay;
	long		 expire;
} capa_cases[] = {
	{ "TOP", 0, POP3_CAPA_TOP, -1, -1 },
	{ "top", 0, POP3_CAPA_TOP, -1, -1 },
	{ "USER", 0, POP3_CAPA_USER, -1, -1 },
	{ "SASL", 0, POP3_CAPA_SASL, -1, -1 },
	{ "RESP-CODES", 0, POP3_CAPA_RESP_CODES, -1, -1 },
	{ "PIPELINING", 0, POP3_CAPA_PIPELINING, -1, -1 },
	{ "UIDL", 0, POP3_CAPA_UIDL, -1, -1 },
	{ "STLS", 0, POP3_CAPA_STLS, -1, -1 },
	{ "AUTH-RESP-CODE", 0, POP3_CAPA_AUTH_RESP_CODE, -1, -1 },
	{ "UTF8", 0, POP3_CAPA_UTF8, -1, -1 },
	{ "UTF8 USER", 0, POP3_CAPA_UTF8, -1, -1 },
	{ "UTF8 whatever", -1, 0, -1, -1 },
	{ "UTF8 USER x", -1, 0, -1, -1 },
	{ "LOGIN-DELAY 900", 0, POP3_CAPA_LOGIN_DELAY, 900, -1 },
	{ "LOGIN-DELAY 0", 0, POP3_CAPA_LOGIN_DELAY, 0, -1 },
	{ "LOGIN-DELAY 900 USER", 0, POP3_CAPA_LOGIN_DELAY, 900, -1 },
	{ "LOGIN-DELAY", -1, 0, -1, -1 },
	{ "LOGIN-DELAY abc", -1, 0, -1, -1 },
	{ "LOGIN-DELAY 9x", -1, 0, -1, -1 },
	{ "LOGIN-DELAY -5", -1, 0, -1, -1 },
	{ "LOGIN-DELAY 900 GROUP", -1, 0, -1, -1 },
	{ "LOGIN-DELAY 99999999999", -1, 0, -1, -1 },
	{ "EXPIRE 31", 0, POP3_CAPA_EXPIRE, -1, 31 },
	{ "EXPIRE 0", 0, POP3_CAPA_EXPIRE, -1, 0 },
	{ "EXPIRE NEVER", 0, POP3_CAPA_EXPIRE, -1, -1 },
	{ "EXPIRE never", 0, POP3_CAPA_EXPIRE, -1, -1 },
	{ "EXPIRE 31 USER", 0, POP3_CAPA_EXPIRE, -1, 31 },
	{ "EXPIRE", -1, 0, -1, -1 },
	{ "EXPIRE soon", -1, 0, -1, -1 },
	{ "EXPIRE NEVERMORE", -1, 0, -1, -1 },
	{ "IMPLEMENTATION Shlemazle-Plotz-v302", 0, POP3_CAPA_IMPLEMENTATION,
	    -1, -1 },
	{ "X-UNKNOWN-CAPA 1 2", 0, 0, -1, -1 },
	{ "TOPS", 0, 0, -1, -1 },
	{ "", 0, 0, -1, -1 },
};

static void
test_capa_add(void **state)
{
	struct pop3_capa	c;
	size_t			i;
	int			ret;

	for (i = 0; i < NELEM(capa_cases); i++) {
		pop3_capa_init(&c);
		ret = pop3_capa_add(&c, capa_cases[i].line);
		if (ret != capa_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i,
			    capa_cases[i].line, ret);
		if (c.flags != capa_cases[i].flags)
			fail_msg("row %zu \"%s\": flags %#x", i,
			    capa_cases[i].line, c.flags);
		assert_int_equal(c.login_delay, capa_cases[i].login_delay);
		assert_int_equal(c.expire, capa_cases[i].expire);
		/* Every non-empty line is kept for --probe, even bad ones. */
		assert_int_equal(c.nlines, capa_cases[i].line[0] != '\0');
		if (c.nlines == 1)
			assert_string_equal(c.lines[0], capa_cases[i].line);
	}
}

static void
test_capa_init(void **state)
{
	struct pop3_capa	c;

	memset(&c, 0xff, sizeof(c));
	pop3_capa_init(&c);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.nsasl, 0);
	assert_int_equal(c.nlines, 0);
	assert_int_equal(c.login_delay, -1);
	assert_int_equal(c.expire, -1);
	assert_string_equal(c.implementation, "");
}

static void
test_capa_sasl(void **state)
{
	struct pop3_capa	c;
	char			line[1024];
	size_t			i;

	pop3_capa_init(&c);
	assert_int_equal(pop3_capa_add(&c,
	    "SASL plain CRAM-MD5  xoauth2 PLAIN\tSCRAM-SHA-256"), 0);
	assert_int_equal(c.nsasl, 4);	/* PLAIN only once */
	assert_string_equal(c.sasl[0], "PLAIN");
	assert_string_equal(c.sasl[1], "CRAM-MD5");
	assert_string_equal(c.sasl[2], "XOAUTH2");
	assert_string_equal(c.sasl[3], "SCRAM-SHA-256");
	assert_true(pop3_capa_has_sasl(&c, "plain"));
	assert_true(pop3_capa_has_sasl(&c, "XOAuth2"));
	assert_false(pop3_capa_has_sasl(&c, "LOGIN"));
	assert_false(pop3_capa_has_sasl(&c, "CRAM"));
	assert_false(pop3_capa_has_sasl(&c, ""));

	/* A second SASL line adds to the set. */
	assert_int_equal(pop3_capa_add(&c, "SASL LOGIN"), 0);
	assert_true(pop3_capa_has_sasl(&c, "LOGIN"));
	assert_int_equal(c.nsasl, 5);

	/* More than the cap, and a name too long to store, are dropped. */
	pop3_capa_init(&c);
	strcpy(line, "SASL AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	for (i = 0; i < POP3_CAPA_SASL_MAX + 4; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    " M%zu", i);
	assert_int_equal(pop3_capa_add(&c, line), 0);
	assert_int_equal(c.nsasl, POP3_CAPA_SASL_MAX);
	assert_string_equal(c.sasl[0], "M0");
	assert_false(pop3_capa_has_sasl(&c, "M16"));
}

static void
test_capa_lines(void **state)
{
	struct pop3_capa	c;
	char			line[300];
	size_t			i;

	pop3_capa_init(&c);
	assert_int_equal(pop3_capa_add(&c, "IMPLEMENTATION evil\x1b[2Jserver"),
	    0);
	/* Terminal escapes are neutralised in what --probe shows. */
	assert_string_equal(c.implementation, "evil?[2Jserver");
	assert_string_equal(c.lines[0], "IMPLEMENTATION evil?[2Jserver");

	/* Long lines are cut to fit; lines beyond the cap are dropped. */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(pop3_capa_add(&c, line), 0);
	assert_int_equal(strlen(c.lines[1]), sizeof(c.lines[1]) - 1);
	for (i = 0; i < POP3_CAPA_LINES_MAX + 5; i++)
		assert_int_equal(pop3_capa_add(&c, "X-FILLER"), 0);
	assert_int_equal(c.nlines, POP3_CAPA_LINES_MAX);
	/* Known capabilities still count after the cap. */
	assert_int_equal(pop3_capa_add(&c, "PIPELINING"), 0);
	assert_true(c.flags & POP3_CAPA_PIPELINING);
}

/* pop3_multiline_line */

static const struct {
	const char	*in;
	int		 ret;
	const char	*out;
} ml_cases[] = {
	{ ".", 1, NULL },
	{ "..", 0, "." },
	{ "...", 0, ".." },
	{ ".abc", 0, "abc" },
	{ "abc", 0, "abc" },
	{ "", 0, "" },
	{ "a.", 0, "a." },
	{ " .", 0, " ." },
};

static void
test_multiline_line(void **state)
{
	char	line[32];
	size_t	i, len;
	int	ret;

	for (i = 0; i < NELEM(ml_cases); i++) {
		strcpy(line, ml_cases[i].in);
		len = strlen(line);
		ret = pop3_multiline_line(line, &len);
		if (ret != ml_cases[i].ret)
			fail_msg("row %zu \"%s\": got %d", i, ml_cases[i].in,
			    ret);
		if (ret == 1)
			continue;
		assert_int_equal(len, strlen(ml_cases[i].out));
		assert_string_equal(line, ml_cases[i].out);
	}
}

/* pop3_body_init, pop3_body_feed */

/*
 * Wire bytes, the decoded body, the lines counted, and how many bytes at
 * the end of wire follow the terminator (they must stay unconsumed).
 * wirelen and bodylen are 0 for strlen.
 */
static const struct {
	const char		*wire;
	size_t			 wirelen;
	const char		*body;
	size_t			 bodylen;
	unsigned long long	 lines;
	size_t			 rest;
} body_cases[] = {
	{ ".\r\n", 0, "", 0, 0, 0 },
	{ ".\n", 0, "", 0, 0, 0 },
	{ "Subject: x\r\n\r\nhello\r\n.\r\n", 0, "Subject: x\n\nhello\n", 0,
	    3, 0 },
	{ "Subject: x\n\nhello\n.\n", 0, "Subject: x\n\nhello\n", 0, 3, 0 },
	{ "a\r\nb\n.\r\n", 0, "a\nb\n", 0, 2, 0 },
	{ "a\nb\r\n.\n", 0, "a\nb\n", 0, 2, 0 },
	/* Dot-stuffing (RFC 1939 section 3). */
	{ "..\r\n.\r\n", 0, ".\n", 0, 1, 0 },
	{ "...\r\n.\r\n", 0, "..\n", 0, 1, 0 },
	{ "..hidden\r\n.\r\n", 0, ".hidden\n", 0, 1, 0 },
	{ ".unstuffed\r\n.\r\n", 0, "unstuffed\n", 0, 1, 0 },
	{ "a.\r\n.b\r\n..\r\n.\r\n", 0, "a.\nb\n.\n", 0, 3, 0 },
	{ "x\r\n..\n.\n", 0, "x\n.\n", 0, 2, 0 },
	/* Lone CRs are data; CRLF becomes LF. */
	{ "a\rb\r\n.\r\n", 0, "a\rb\n", 0, 1, 0 },
	{ "a\r\r\n.\r\n", 0, "a\r\n", 0, 1, 0 },
	{ "\r\r\r\n.\r\n", 0, "\r\r\n", 0, 1, 0 },
	{ "\rx\r\n.\r\n", 0, "\rx\n", 0, 1, 0 },
	{ ".\rx\r\n.\r\n", 0, "\rx\n", 0, 1, 0 },
	{ ".\r.\r\n.\r\n", 0, "\r.\n", 0, 1, 0 },
	{ ".\r\r\n.\r\n", 0, "\r\n", 0, 1, 0 },
	{ "ab\r.\r\n.\r\n", 0, "ab\r.\n", 0, 1, 0 },
	/* A terminator-like sequence inside a line is data. */
	{ "a.\r\n.x\r\n\r.\r\n.\r\n", 0, "a.\nx\n\r.\n", 0, 3, 0 },
	{ "a\r\n .\r\n.\r\n", 0, "a\n .\n", 0, 2, 0 },
	/* NUL bytes pass through. */
	{ "a\0b\r\n.\r\n", 8, "a\0b\n", 4, 1, 0 },
	/* Bytes after the terminator belong to the next reply. */
	{ "x\r\n.\r\n+OK next\r\n", 0, "x\n", 0, 1, 10 },
	{ "x\n.\n+OK next\n", 0, "x\n", 0, 1, 9 },
	{ "..\r\n.\r\n.\r\n", 0, ".\n", 0, 1, 3 },
	{ "a\r\n.\r\n\r\n", 0, "a\n", 0, 1, 2 },
	{ ".\r\n.\r\n", 0, "", 0, 0, 3 },
	{ ".\n\n", 0, "", 0, 0, 1 },
};

/*
 * Feed wire to a fresh decoder in pieces of the given sizes (cycled), each
 * into an output buffer of exactly the piece's size (so ASan catches any
 * overrun), and check the decoded body and where it stopped.
 */
static void
body_run(size_t ci, const char *wire, size_t wirelen, const char *body,
    size_t bodylen, unsigned long long lines, size_t stop,
    const size_t *sizes, size_t nsizes)
{
	struct pop3_body	 b;
	char			*got, *out;
	size_t			 pos = 0, glen = 0, piece, outlen, used, k = 0;
	int			 ret = 0;

	got = malloc(wirelen + 1);
	pop3_body_init(&b);
	while (pos < wirelen) {
		piece = sizes[k++ % nsizes];
		if (piece > wirelen - pos)
			piece = wirelen - pos;
		out = malloc(piece == 0 ? 1 : piece);
		ret = pop3_body_feed(&b, wire + pos, piece, out, &outlen,
		    &used);
		assert_true(outlen <= piece);
		memcpy(got + glen, out, outlen);
		glen += outlen;
		free(out);
		pos += used;
		if (ret == 1)
			break;
		/* Without the terminator everything is consumed. */
		if (used != piece)
			fail_msg("case %zu: consumed %zu of %zu", ci, used,
			    piece);
	}
	if (ret != 1)
		fail_msg("case %zu: no terminator found", ci);
	if (pos != stop)
		fail_msg("case %zu: stopped at %zu, want %zu", ci, pos, stop);
	if (glen != bodylen || memcmp(got, body, bodylen) != 0)
		fail_msg("case %zu: body differs (%zu vs %zu bytes)", ci,
		    glen, bodylen);
	assert_true(b.lines == lines);
	free(got);
}

static void
test_body_splits(void **state)
{
	size_t		 i, split, wirelen, bodylen, stop, sizes[2];
	const size_t	 one = 1, odd[] = { 3, 1, 7, 2 };

	for (i = 0; i < NELEM(body_cases); i++) {
		wirelen = body_cases[i].wirelen ? body_cases[i].wirelen :
		    strlen(body_cases[i].wire);
		bodylen = body_cases[i].wirelen ? body_cases[i].bodylen :
		    strlen(body_cases[i].body);
		stop = wirelen - body_cases[i].rest;
		/* Whole (split 0), then split once at every position. */
		for (split = 0; split <= wirelen; split++) {
			sizes[0] = split == 0 ? wirelen : split;
			sizes[1] = wirelen;
			body_run(i, body_cases[i].wire, wirelen,
			    body_cases[i].body, bodylen, body_cases[i].lines,
			    stop, sizes, 2);
		}
		body_run(i, body_cases[i].wire, wirelen, body_cases[i].body,
		    bodylen, body_cases[i].lines, stop, &one, 1);
		body_run(i, body_cases[i].wire, wirelen, body_cases[i].body,
		    bodylen, body_cases[i].lines, stop, odd, NELEM(odd));
	}
}

/* Every pair of split points, for the cases most likely to go wrong. */
static void
test_body_double_splits(void **state)
{
	static const struct {
		const char	*wire;
		const char	*body;
	} cases[] = {
		{ "a\rb\r\n..\r\n.\rc\r\n.\r\n", "a\rb\n.\n\rc\n" },
		{ "\r\r\r\r\n.\n", "\r\r\r\n" },
		{ ".\r.\r\r\n..\n.\r\n", "\r.\r\n.\n" },
	};
	struct pop3_body	 b;
	size_t			 i, s1, s2, wl, outlen, used, glen, pos;
	size_t			 cut[3];
	char			 got[64], *out;
	int			 ret, k;

	for (i = 0; i < NELEM(cases); i++) {
		wl = strlen(cases[i].wire);
		for (s1 = 0; s1 <= wl; s1++) {
			for (s2 = s1; s2 <= wl; s2++) {
				cut[0] = s1;
				cut[1] = s2;
				cut[2] = wl;
				pop3_body_init(&b);
				pos = glen = 0;
				ret = 0;
				for (k = 0; k < 3 && ret == 0; k++) {
					out = malloc(cut[k] - pos + 1);
					ret = pop3_body_feed(&b,
					    cases[i].wire + pos, cut[k] - pos,
					    out, &outlen, &used);
					assert_true(outlen <= cut[k] - pos);
					memcpy(got + glen, out, outlen);
					glen += outlen;
					pos += used;
					free(out);
				}
				assert_int_equal(ret, 1);
				assert_int_equal(pos, wl);
				assert_int_equal(glen, strlen(cases[i].body));
				assert_memory_equal(got, cases[i].body, glen);
			}
		}
	}
}

static void
test_body_after_end(void **state)
{
	struct pop3_body	b;
	char			out[16];
	size_t			outlen, used;

	pop3_body_init(&b);
	assert_int_equal(pop3_body_feed(&b, "x\r\n.\r\n", 6, out, &outlen,
	    &used), 1);
	assert_int_equal(used, 6);
	/* Once ended, nothing more is taken. */
	assert_int_equal(pop3_body_feed(&b, "+OK\r\n", 5, out, &outlen,
	    &used), 1);
	assert_int_equal(used, 0);
	assert_int_equal(outlen, 0);

	/* An empty feed consumes nothing and finishes nothing. */
	pop3_body_init(&b);
	assert_int_equal(pop3_body_feed(&b, "", 0, out, &outlen, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(outlen, 0);

	/* pop3_body_init resets a used decoder. */
	pop3_body_init(&b);
	assert_int_equal(pop3_body_feed(&b, "a\r", 2, out, &outlen, &used), 0);
	pop3_body_init(&b);
	assert_int_equal(b.lines, 0);
	assert_int_equal(pop3_body_feed(&b, ".\r\n", 3, out, &outlen, &used),
	    1);
	assert_int_equal(outlen, 0);
}

/* A long body line passes through in bounded pieces. */
static void
test_body_long_line(void **state)
{
	struct pop3_body	 b;
	char			 in[4096], out[4096];
	size_t			 outlen, used, total = 0, i;

	memset(in, 'x', sizeof(in));
	pop3_body_init(&b);
	for (i = 0; i < 1024; i++) {
		assert_int_equal(pop3_body_feed(&b, in, sizeof(in), out,
		    &outlen, &used), 0);
		assert_int_equal(used, sizeof(in));
		total += outlen;
	}
	assert_int_equal(pop3_body_feed(&b, "\r\n.\r\n", 5, out, &outlen,
	    &used), 1);
	assert_int_equal(outlen, 1);
	assert_int_equal(out[0], '\n');
	assert_int_equal(total, sizeof(in) * 1024);
	assert_int_equal(b.lines, 1);
}

/* pop3_cmd_is_multiline */

static const struct {
	const char	*cmd;
	bool		 multi;
} cmd_cases[] = {
	{ "CAPA", true },
	{ "capa", true },
	{ "LIST", true },
	{ "LIST\r\n", true },
	{ "LIST ", true },
	{ "LIST 3", false },
	{ "UIDL", true },
	{ "UIDL 1\r\n", false },
	{ "RETR 1", true },
	{ "TOP 1 10", true },
	{ "STAT", false },
	{ "DELE 1", false },
	{ "NOOP", false },
	{ "RSET", false },
	{ "QUIT", false },
	{ "USER bob", false },
	{ "PASS secret", false },
	{ "APOP bob c4c9334bac560ecc979e58001b3e22fb", false },
	{ "AUTH PLAIN", false },
	{ "STLS", false },
	{ "UTF8", false },
	{ "LISTX", false },
	{ "RETRIEVE 1", false },
	{ "TO", false },
	{ "", false },
};

static void
test_cmd_is_multiline(void **state)
{
	size_t	i;

	for (i = 0; i < NELEM(cmd_cases); i++)
		if (pop3_cmd_is_multiline(cmd_cases[i].cmd) !=
		    cmd_cases[i].multi)
			fail_msg("row %zu \"%s\"", i, cmd_cases[i].cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_rcode),
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_uidl),
		cmocka_unit_test(test_uidl_valid),
		cmocka_unit_test(test_parse_apop_ts),
		cmocka_unit_test(test_capa_init),
		cmocka_unit_test(test_capa_add),
		cmocka_unit_test(test_capa_sasl),
		cmocka_unit_test(test_capa_lines),
		cmocka_unit_test(test_multiline_line),
		cmocka_unit_test(test_body_splits),
		cmocka_unit_test(test_body_double_splits),
		cmocka_unit_test(test_body_after_end),
		cmocka_unit_test(test_body_long_line),
		cmocka_unit_test(test_cmd_is_multiline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
