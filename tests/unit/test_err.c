/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for err.c: codes, classes, exit codes, messages. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Every code: its name, its class and its exit code. */
static const struct {
	int		 code;
	const char	*name;
	bool		 temporary;
	int		 exitcode;
} code_cases[] = {
	{ E_OK, "E_OK", false, 0 },
	{ E_IO, "E_IO", true, 1 },
	{ E_TIMEOUT, "E_TIMEOUT", true, 1 },
	{ E_PROTO, "E_PROTO", true, 1 },
	{ E_AUTH, "E_AUTH", false, 1 },
	{ E_TLS, "E_TLS", false, 1 },
	{ E_SERVER, "E_SERVER", false, 1 },
	{ E_INSECURE, "E_INSECURE", false, 1 },
	{ E_DELIVERY, "E_DELIVERY", true, 1 },
	{ E_STORE, "E_STORE", false, 1 },
	{ E_CONFIG, "E_CONFIG", false, 2 },
	{ E_ABORT, "E_ABORT", true, 1 },
	{ E_USAGE, "E_USAGE", false, 2 },
	{ -99, "E_UNKNOWN", false, 1 },
};

/* err_name, err_code_is_temporary, err_exitcode */

static void
test_codes(void **state)
{
	size_t	i;

	for (i = 0; i < NELEM(code_cases); i++) {
		assert_string_equal(err_name(code_cases[i].code),
		    code_cases[i].name);
		if (err_code_is_temporary(code_cases[i].code) !=
		    code_cases[i].temporary)
			fail_msg("%s: wrong class", code_cases[i].name);
		assert_int_equal(err_exitcode(code_cases[i].code),
		    code_cases[i].exitcode);
	}
}

/* err_set, err_is_temporary, err_clear */

static void
test_set(void **state)
{
	struct err	e;
	size_t		i;

	for (i = 0; i < NELEM(code_cases); i++) {
		memset(&e, 0x5a, sizeof(e));
		assert_int_equal(err_set(&e, code_cases[i].code, "%s %d",
		    "reply", 3), code_cases[i].code);
		assert_int_equal(e.code, code_cases[i].code);
		assert_string_equal(e.msg, "reply 3");
		assert_int_equal(err_is_temporary(&e),
		    code_cases[i].temporary);
	}

	/* A NULL err still returns the code. */
	assert_int_equal(err_set(NULL, E_IO, "x"), E_IO);

	/* The class can be overridden after err_set (a -ERR [SYS/TEMP]). */
	err_set(&e, E_SERVER, "RETR 1: -ERR [SYS/TEMP] busy");
	assert_false(err_is_temporary(&e));
	e.temporary = true;
	assert_true(err_is_temporary(&e));
	/* ...and err_set resets it to the code's default. */
	err_set(&e, E_SERVER, "again");
	assert_false(err_is_temporary(&e));

	/* Long messages are cut, never overflow. */
	err_set(&e, E_IO, "%2000s", "x");
	assert_int_equal(strlen(e.msg), ERR_MSGLEN - 1);

	err_clear(&e);
	assert_int_equal(e.code, E_OK);
	assert_false(e.temporary);
	assert_string_equal(e.msg, "");
}

/* err_prefix */

static void
test_prefix(void **state)
{
	struct err	e;
	char		big[ERR_MSGLEN + 10];

	err_set(&e, E_AUTH, "PASS: -ERR bad login");
	err_prefix(&e, "%s", "acct1");
	assert_string_equal(e.msg, "acct1: PASS: -ERR bad login");
	assert_int_equal(e.code, E_AUTH);
	err_prefix(&e, "sync %d", 2);
	assert_string_equal(e.msg, "sync 2: acct1: PASS: -ERR bad login");

	/* What follows a prefix, only when it is one ("name: "). */
	assert_string_equal(err_after_prefix(&e, "sync 2"),
	    "acct1: PASS: -ERR bad login");
	assert_null(err_after_prefix(&e, "sync"));
	assert_null(err_after_prefix(&e, "acct1"));
	assert_null(err_after_prefix(&e, "sync 2: acct1: PASS: -ERR bad login"));

	/* The old message is truncated to fit, still NUL-terminated. */
	memset(big, 'y', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	err_set(&e, E_IO, "%s", big);
	err_prefix(&e, "p");
	assert_int_equal(strlen(e.msg), ERR_MSGLEN - 1);
	assert_memory_equal(e.msg, "p: yyy", 6);

	/* A prefix that fills the message leaves no room for ": old". */
	err_set(&e, E_IO, "old");
	err_prefix(&e, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSGLEN - 1);
	assert_null(strstr(e.msg, "old"));

	/* NULL is accepted. */
	err_prefix(NULL, "x");
}

/* err_sanitize */

static const struct {
	const char	*src;
	size_t		 dstlen;
	const char	*dst;
} sanitize_cases[] = {
	{ "-ERR plain text", 64, "-ERR plain text" },
	{ "", 64, "" },
	{ "evil\r\nforged line", 64, "evil??forged line" },
	{ "\x1b[31mred", 64, "?[31mred" },
	{ "tab\there", 64, "tab?here" },
	{ "del\x7f", 64, "del?" },
	{ "caf\xc3\xa9", 64, "caf??" },
	{ "~ and space ok", 64, "~ and space ok" },
	{ "truncated", 5, "trun" },
	{ "x", 1, "" },
};

static void
test_sanitize(void **state)
{
	char	dst[64];
	size_t	i;

	for (i = 0; i < NELEM(sanitize_cases); i++) {
		memset(dst, 'Z', sizeof(dst));
		err_sanitize(dst, sanitize_cases[i].dstlen,
		    sanitize_cases[i].src);
		assert_string_equal(dst, sanitize_cases[i].dst);
		if (sanitize_cases[i].dstlen < sizeof(dst))
			assert_int_equal(dst[sanitize_cases[i].dstlen], 'Z');
	}
	/* A zero-sized destination is left untouched. */
	dst[0] = 'Z';
	err_sanitize(dst, 0, "abc");
	assert_int_equal(dst[0], 'Z');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
