/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for util.c's string map, which the listings of a sync use. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "xmalloc.h"

/* Keys that differ in one octet, an empty key, and a long one. */
static void
test_strmap_put_get(void **state)
{
	struct util_strmap	 m;
	const char		*keys[] = { "a", "b", "", "ab", "ba",
				    "x\ny", "abcdefghijklmnopqrstuvwxyz0123456789" };
	size_t			 i, *v;
	bool			 added;

	(void)state;
	util_strmap_init(&m, 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_null(util_strmap_get(&m, keys[i]));
		v = util_strmap_put(&m, keys[i], &added);
		assert_true(added);
		assert_int_equal(*v, 0);
		*v = i + 100;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = util_strmap_put(&m, keys[i], &added);
		assert_false(added);
		assert_int_equal(*v, i + 100);
		assert_int_equal(*util_strmap_get(&m, keys[i]), i + 100);
	}
	assert_int_equal(m.n, sizeof(keys) / sizeof(keys[0]));
	assert_null(util_strmap_get(&m, "c"));
	assert_null(util_strmap_get(&m, "a "));
	util_strmap_free(&m);
	assert_null(m.keys);
}

/* Sized for 4, filled with 50,000: it grows and loses nothing. */
static void
test_strmap_grow(void **state)
{
	struct util_strmap	  m;
	char			**keys;
	size_t			  i, n = 50000;

	(void)state;
	keys = xcalloc(n, sizeof(*keys));
	util_strmap_init(&m, 4);
	for (i = 0; i < n; i++) {
		keys[i] = xasprintf("uidl-%zu", i);
		*util_strmap_put(&m, keys[i], NULL) = i;
	}
	assert_int_equal(m.n, n);
	assert_true(m.cap >= 2 * n);
	for (i = 0; i < n; i++)
		assert_int_equal(*util_strmap_get(&m, keys[i]), i);
	assert_null(util_strmap_get(&m, "uidl-50000"));
	util_strmap_free(&m);
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strmap_put_get),
		cmocka_unit_test(test_strmap_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
