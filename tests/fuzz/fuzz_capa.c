/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz the CAPA reply parser. */

#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop3_parse.h"

/*
 * Input: the lines of a CAPA reply after "+OK", up to and without the
 * terminating "." (a "." line ends the reply early, as in pop3.c).
 *
 * Invariants: only known flags are set; numbers are in range (LOGIN-DELAY
 * 0..2^31-1 when advertised, else -1; EXPIRE -1..2^31-1) and written
 * out again parse to the same value; SASL names are unique upper-case
 * RFC 4422 names, fit their slots and are found by pop3_capa_has_sasl; the
 * kept lines and IMPLEMENTATION are terminated and hold no control bytes.
 */

#define CAPA_ALL_FLAGS	((unsigned)POP3_CAPA_AUTH_RESP_CODE * 2 - 1)

static void	check_text(const char *, size_t, const char *);
static void	check_capa(const struct pop3_capa *);

/* A sanitized buffer: terminated, printable ASCII only. */
static void
check_text(const char *s, size_t cap, const char *what)
{
	size_t	i;

	FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "%s not terminated", what);
	for (i = 0; s[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f, "%s holds byte 0x%02x", what,
		    (unsigned char)s[i]);
}

/* Every invariant of a parsed capability set. */
static void
check_capa(const struct pop3_capa *c)
{
	struct pop3_capa	 again;
	char			 buf[64];
	size_t			 i, j, k;

	FUZZ_CHECK((c->flags & ~CAPA_ALL_FLAGS) == 0, "flags %#x", c->flags);
	FUZZ_CHECK(c->nsasl <= POP3_CAPA_SASL_MAX, "%zu SASL names",
	    c->nsasl);
	FUZZ_CHECK(c->nsasl == 0 || (c->flags & POP3_CAPA_SASL),
	    "SASL names without the SASL flag");
	for (i = 0; i < c->nsasl; i++) {
		check_text(c->sasl[i], sizeof(c->sasl[i]), "SASL name");
		FUZZ_CHECK(c->sasl[i][0] != '\0', "empty SASL name");
		k = strspn(c->sasl[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_");
		FUZZ_CHECK(c->sasl[i][k] == '\0',
		    "SASL name \"%s\" is no upper-case RFC 4422 name",
		    c->sasl[i]);
		FUZZ_CHECK(pop3_capa_has_sasl(c, c->sasl[i]),
		    "%s not found", c->sasl[i]);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(c->sasl[i], c->sasl[j]) != 0,
			    "%s twice", c->sasl[i]);
	}
	if (c->flags & POP3_CAPA_LOGIN_DELAY) {
		FUZZ_CHECK(c->login_delay >= 0 && c->login_delay <= 0x7fffffff,
		    "LOGIN-DELAY %ld", c->login_delay);
		pop3_capa_init(&again);
		snprintf(buf, sizeof(buf), "LOGIN-DELAY %ld", c->login_delay);
		FUZZ_CHECK(pop3_capa_add(&again, buf) == 0 &&
		    again.login_delay == c->login_delay, "%s reparsed", buf);
	} else
		FUZZ_CHECK(c->login_delay == -1, "LOGIN-DELAY %ld unflagged",
		    c->login_delay);
	FUZZ_CHECK(c->expire >= -1 && c->expire <= 0x7fffffff, "EXPIRE %ld",
	    c->expire);
	if (c->flags & POP3_CAPA_EXPIRE) {
		pop3_capa_init(&again);
		if (c->expire == -1)
			snprintf(buf, sizeof(buf), "EXPIRE NEVER");
		else
			snprintf(buf, sizeof(buf), "EXPIRE %ld", c->expire);
		FUZZ_CHECK(pop3_capa_add(&again, buf) == 0 &&
		    again.expire == c->expire, "%s reparsed", buf);
	}
	FUZZ_CHECK(c->nlines <= POP3_CAPA_LINES_MAX, "%zu lines", c->nlines);
	for (i = 0; i < c->nlines; i++)
		check_text(c->lines[i], sizeof(c->lines[i]), "CAPA line");
	check_text(c->implementation, sizeof(c->implementation),
	    "IMPLEMENTATION");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_capa	 c;
	char			*line;
	size_t			 len;

	pop3_capa_init(&c);
	while ((line = fuzz_next_line(&data, &size, &len)) != NULL) {
		if (pop3_multiline_line(line, &len) == 1) {
			free(line);
			break;
		}
		/* pop3.c gives up on a malformed line; carry on to see
		 * that the set stays sane after one. */
		(void)pop3_capa_add(&c, line);
		free(line);
		check_capa(&c);
	}
	return 0;
}
