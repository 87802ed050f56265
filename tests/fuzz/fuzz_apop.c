/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz the APOP timestamp parser and the digest made from it. */

#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop3_parse.h"
#include "sasl.h"

/*
 * Input: byte 0 is the size of the caller's buffer, the rest a greeting
 * line.
 *
 * Invariants: an accepted timestamp is the greeting's first "<...>", with
 * printable non-blank bytes, one '@' at least with something on both
 * sides, and no '<' inside; it fits the buffer with its NUL; a small
 * buffer refuses what it cannot hold instead of cutting it; and its APOP
 * digest is 32 lower-case hex digits.
 */

#define TS_MAX	1024

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*greeting, ts[TS_MAX], small[256], digest[33];
	const char	*first, *at;
	size_t		 len, i, smalllen;
	int		 r, rsmall;

	if (size == 0)
		return 0;
	smalllen = data[0];
	greeting = fuzz_cstr(data + 1, size - 1);
	memset(ts, 'x', sizeof(ts));
	r = pop3_parse_apop_ts(greeting, ts, sizeof(ts));
	if (r == 0) {
		len = strlen(ts);
		FUZZ_CHECK(len >= 5 && len < sizeof(ts), "length %zu", len);
		first = strchr(greeting, '<');
		FUZZ_CHECK(first != NULL && strncmp(first, ts, len) == 0,
		    "not the first <...>");
		FUZZ_CHECK(ts[0] == '<' && ts[len - 1] == '>', "no brackets");
		for (i = 1; i < len - 1; i++)
			FUZZ_CHECK(ts[i] > 0x20 && ts[i] < 0x7f &&
			    ts[i] != '<' && ts[i] != '>', "byte 0x%02x",
			    (unsigned char)ts[i]);
		at = strchr(ts, '@');
		FUZZ_CHECK(at != NULL && at > ts + 1 && at < ts + len - 2,
		    "no user@host in %s", ts);
		sasl_apop_digest(ts, "secret", digest);
		FUZZ_CHECK(strlen(digest) == 32 &&
		    strspn(digest, "0123456789abcdef") == 32, "digest %s",
		    digest);
	}
	/* A buffer of any size takes the whole timestamp or nothing. */
	rsmall = pop3_parse_apop_ts(greeting, small, smalllen);
	if (rsmall == 0)
		FUZZ_CHECK(r == 0 && strcmp(small, ts) == 0 &&
		    strlen(small) < smalllen, "small buffer: %s", small);
	else if (r == 0)
		FUZZ_CHECK(strlen(ts) + 1 > smalllen,
		    "%s refused by %zu bytes", ts, smalllen);
	free(greeting);
	return 0;
}
