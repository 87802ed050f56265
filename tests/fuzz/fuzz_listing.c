/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz STAT, LIST and UIDL lines. */

#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop3_parse.h"

/*
 * Input: lines of a listing (as after dot-unstuffing); each line is tried
 * as a STAT reply text, a LIST line and a UIDL line.
 *
 * Invariants: accepted numbers are in range (message numbers 1..
 * POP3_MAX_MESSAGES, a STAT count 0..POP3_MAX_MESSAGES); an accepted
 * unique-id is valid by RFC 1939 and is the second word of the line; and
 * what was parsed, written out again, parses to the same values.
 */

static void	check_pair(const char *, int (*)(const char *,
		    unsigned long *, unsigned long long *), unsigned long,
		    const char *);
static void	check_uidl(const char *);

/*
 * A STAT text or LIST line (parsed by parse) round-trips, and its first
 * number is in min..POP3_MAX_MESSAGES.
 */
static void
check_pair(const char *line, int (*parse)(const char *, unsigned long *,
    unsigned long long *), unsigned long min, const char *what)
{
	unsigned long		num, num2;
	unsigned long long	size, size2;
	char			buf[64];

	if (parse(line, &num, &size) == -1)
		return;
	FUZZ_CHECK(num >= min && num <= POP3_MAX_MESSAGES, "%s number %lu",
	    what, num);
	snprintf(buf, sizeof(buf), "%lu %llu", num, size);
	FUZZ_CHECK(parse(buf, &num2, &size2) == 0 && num2 == num &&
	    size2 == size, "%s \"%s\" reparsed", what, buf);
}

/* A UIDL line round-trips, its uid is valid and is the line's own. */
static void
check_uidl(const char *line)
{
	unsigned long	 num, num2;
	char		 uid[POP3_UIDL_MAX + 1], uid2[POP3_UIDL_MAX + 1];
	char		 buf[128];
	const char	*p;

	memset(uid, 'x', sizeof(uid));
	if (pop3_parse_uidl(line, &num, uid) == -1)
		return;
	FUZZ_CHECK(num >= 1 && num <= POP3_MAX_MESSAGES, "UIDL number %lu",
	    num);
	FUZZ_CHECK(memchr(uid, '\0', sizeof(uid)) != NULL,
	    "uid not terminated");
	FUZZ_CHECK(pop3_uidl_valid(uid), "invalid uid \"%s\" accepted", uid);
	/* The second word: after the digits and the blanks. */
	p = line + strspn(line, "0123456789");
	p += strspn(p, " \t");
	FUZZ_CHECK(strncmp(p, uid, strlen(uid)) == 0 &&
	    strspn(p + strlen(uid), " \t") == strlen(p + strlen(uid)),
	    "uid \"%s\" is not the second word of \"%s\"", uid, line);
	snprintf(buf, sizeof(buf), "%lu %s", num, uid);
	FUZZ_CHECK(pop3_parse_uidl(buf, &num2, uid2) == 0 && num2 == num &&
	    strcmp(uid2, uid) == 0, "UIDL \"%s\" reparsed", buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*line;

	while ((line = fuzz_next_line(&data, &size)) != NULL) {
		check_pair(line, pop3_parse_stat, 0, "STAT");
		check_pair(line, pop3_parse_list, 1, "LIST");
		check_uidl(line);
		free(line);
	}
	return 0;
}
