/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz STAT, LIST and UIDL lines. */

#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop3_parse.h"
#include "xmalloc.h"

/*
 * Input: lines of a listing (as after dot-unstuffing); each line is tried
 * as a STAT reply text, a LIST line and a UIDL line.
 *
 * Invariants: accepted numbers are in range (message numbers 1..
 * POP3_MAX_MESSAGES, a STAT count 0..POP3_MAX_MESSAGES); a unique-id is
 * the rest of the line after the number and its blanks, usable exactly
 * when it is 1..POP3_UIDL_MAX octets without a NUL; and what was parsed,
 * written out again, parses to the same values.
 */

static void	check_pair(const char *, int (*)(const char *,
		    unsigned long *, unsigned long long *), unsigned long,
		    const char *);
static void	check_uidl(const char *, size_t);

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

/*
 * A UIDL line: a usable uid is the octets after the number's blanks, less
 * trailing blanks, 1..POP3_UIDL_MAX of them without a NUL, and written out
 * again parses to the same; an unusable one is empty, too long or holds a
 * NUL; either way the number is in range.
 */
static void
check_uidl(const char *line, size_t len)
{
	unsigned long	 num, num2;
	const char	*uid, *uid2, *p;
	size_t		 uidlen, uidlen2;
	char		*buf;
	int		 rc;

	rc = pop3_parse_uidl(line, len, &num, &uid, &uidlen);
	FUZZ_CHECK(rc == -1 || rc == 0 || rc == POP3_UIDL_UNUSABLE,
	    "UIDL returned %d", rc);
	if (rc == -1)
		return;
	FUZZ_CHECK(num >= 1 && num <= POP3_MAX_MESSAGES, "UIDL number %lu",
	    num);
	/* The uid starts after the digits and the blanks. */
	p = line + strspn(line, "0123456789");
	while (p < line + len && (*p == ' ' || *p == '\t'))
		p++;
	FUZZ_CHECK(uid == p && uid + uidlen <= line + len,
	    "uid not where the line has it");
	FUZZ_CHECK(strspn(uid + uidlen, " \t") == len - (size_t)(uid +
	    uidlen - line), "uid cut before its end");
	if (rc == POP3_UIDL_UNUSABLE) {
		FUZZ_CHECK(uidlen == 0 || uidlen > POP3_UIDL_MAX ||
		    memchr(uid, '\0', uidlen) != NULL,
		    "a usable uid refused");
		return;
	}
	FUZZ_CHECK(uidlen >= 1 && uidlen <= POP3_UIDL_MAX &&
	    memchr(uid, '\0', uidlen) == NULL && uid[uidlen - 1] != ' ' &&
	    uid[uidlen - 1] != '\t', "uid of %zu octets", uidlen);
	buf = xasprintf("%lu %.*s", num, (int)uidlen, uid);
	FUZZ_CHECK(pop3_parse_uidl(buf, strlen(buf), &num2, &uid2,
	    &uidlen2) == 0 && num2 == num && uidlen2 == uidlen &&
	    memcmp(uid2, uid, uidlen) == 0, "UIDL \"%s\" reparsed", buf);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*line;
	size_t	 len;

	while ((line = fuzz_next_line(&data, &size, &len)) != NULL) {
		check_pair(line, pop3_parse_stat, 0, "STAT");
		check_pair(line, pop3_parse_list, 1, "LIST");
		check_uidl(line, len);
		free(line);
	}
	return 0;
}
