/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz status lines, RFC 2449 response codes and the multi-line table. */

#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "pop3_parse.h"

/*
 * Input: one status line as conn.c hands it over (without CRLF).
 *
 * Invariants: a line is accepted exactly when it starts with "+OK",
 * "-ERR" or "+" followed by a blank or the end (the kind says which);
 * the text points into the line, after the status word; a response code
 * is only found after +OK and -ERR, in brackets before the text, and a
 * known one names a prefix of what was in the brackets; the code's name
 * and class are defined for every code.
 */

/* Whether line starts with word followed by a blank or the end. */
static int
status_word(const char *line, const char *word)
{
	size_t	n = strlen(word);

	return strncmp(line, word, n) == 0 &&
	    (line[n] == '\0' || line[n] == ' ');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_status	 st;
	char			*line;
	const char		*name, *open;
	size_t			 len, n;
	int			 r, want;

	line = fuzz_cstr(data, size);
	len = strlen(line);
	r = pop3_parse_status(line, &st);
	want = status_word(line, "+OK") || status_word(line, "-ERR") ||
	    status_word(line, "+");
	FUZZ_CHECK((r == 0) == (want != 0), "accepted %d, expected %d", r,
	    want);
	if (r == 0) {
		FUZZ_CHECK(st.text >= line + 1 && st.text <= line + len,
		    "text outside the line");
		switch (st.kind) {
		case POP3_OK:
			FUZZ_CHECK(status_word(line, "+OK"), "not +OK");
			break;
		case POP3_ERR:
			FUZZ_CHECK(status_word(line, "-ERR"), "not -ERR");
			break;
		case POP3_CONT:
			FUZZ_CHECK(status_word(line, "+") &&
			    !status_word(line, "+OK"), "not a continuation");
			FUZZ_CHECK(st.rcode == POP3_RC_NONE,
			    "code in a continuation");
			break;
		default:
			FUZZ_CHECK(0, "bad kind %d", (int)st.kind);
		}
		FUZZ_CHECK(st.rcode >= POP3_RC_NONE &&
		    st.rcode <= POP3_RC_OTHER, "bad code %d", (int)st.rcode);
		name = pop3_rcode_name(st.rcode);
		FUZZ_CHECK(name != NULL, "code without a name");
		if (st.rcode != POP3_RC_NONE) {
			/* The brackets come before the text. */
			open = strchr(line, '[');
			FUZZ_CHECK(open != NULL && open < st.text &&
			    memchr(open, ']', (size_t)(st.text - open)) !=
			    NULL, "code outside brackets");
			n = strlen(name);
			if (st.rcode != POP3_RC_OTHER)
				FUZZ_CHECK(strncasecmp(open + 1, name, n) == 0 &&
				    (open[1 + n] == ']' || open[1 + n] == '/'),
				    "[%s] is no %s", open + 1, name);
		}
		/* Temporary codes are exactly the three of RFC 2449/3206. */
		FUZZ_CHECK(pop3_rcode_is_temporary(st.rcode) ==
		    (st.rcode == POP3_RC_IN_USE ||
		    st.rcode == POP3_RC_LOGIN_DELAY ||
		    st.rcode == POP3_RC_SYS_TEMP), "class of %s", name);
	}
	/* The same bytes as a command line must not upset the table. */
	(void)pop3_cmd_is_multiline(line);
	free(line);
	return 0;
}
