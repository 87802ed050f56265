/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for buf.c: the read window, growth and line extraction. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* buf_init, buf_len, buf_data, buf_release */

static void
test_init_release(void **state)
{
	struct buf	b;

	buf_init(&b, 0);
	assert_non_null(b.base);
	assert_true(b.size > 0);
	assert_int_equal(buf_len(&b), 0);
	buf_release(&b);
	assert_null(b.base);
	assert_int_equal(b.size, 0);
	assert_int_equal(buf_len(&b), 0);

	buf_init(&b, 100);
	assert_true(b.size >= 100);
	assert_true(buf_data(&b) == b.base);
	buf_release(&b);
}

/* buf_append, buf_space, buf_commit: growth keeps the unread bytes. */

static void
test_append_growth(void **state)
{
	struct buf	b;
	char		chunk[37];
	size_t		i, j;

	buf_init(&b, 8);
	for (i = 0; i < 200; i++) {
		for (j = 0; j < sizeof(chunk); j++)
			chunk[j] = (char)('a' + (i + j) % 26);
		buf_append(&b, chunk, sizeof(chunk));
	}
	assert_int_equal(buf_len(&b), 200 * sizeof(chunk));
	assert_true(b.size >= buf_len(&b));
	for (i = 0; i < 200; i++)
		for (j = 0; j < sizeof(chunk); j++)
			assert_int_equal(buf_data(&b)[i * sizeof(chunk) + j],
			    'a' + (i + j) % 26);
	buf_release(&b);
}

static void
test_space_commit(void **state)
{
	struct buf	 b;
	char		*p;
	size_t		 avail, oldsize;

	buf_init(&b, 16);
	p = buf_space(&b, 4, &avail);
	assert_true(avail >= 4);
	memcpy(p, "abcdefgh", 8);
	/* Only committed bytes become readable. */
	buf_commit(&b, 3);
	assert_int_equal(buf_len(&b), 3);
	assert_memory_equal(buf_data(&b), "abc", 3);

	/* Space after a drop compacts instead of growing. */
	buf_append(&b, "0123456789ab", 12);	/* 15 of 16 used */
	buf_drop(&b, 10);
	oldsize = b.size;
	p = buf_space(&b, 10, &avail);
	assert_int_equal(b.size, oldsize);
	assert_true(avail >= 10);
	assert_int_equal(b.rpos, 0);
	assert_memory_equal(buf_data(&b), "789ab", 5);
	memcpy(p, "XY", 2);
	buf_commit(&b, 2);
	assert_memory_equal(buf_data(&b), "789abXY", 7);

	/* A request beyond the size grows and keeps the data. */
	p = buf_space(&b, 1000, &avail);
	assert_true(avail >= 1000);
	assert_true(b.size >= 1007);
	assert_memory_equal(buf_data(&b), "789abXY", 7);
	assert_true(p == buf_data(&b) + 7);
	buf_release(&b);
}

/* buf_drop, buf_reset */

static void
test_drop_reset(void **state)
{
	struct buf	b;

	buf_init(&b, 16);
	buf_append(&b, "hello world", 11);
	buf_drop(&b, 6);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_data(&b), "world", 5);
	/* Dropping more than is there empties the buffer. */
	buf_drop(&b, 100);
	assert_int_equal(buf_len(&b), 0);
	/* An emptied window starts over at the front. */
	assert_int_equal(b.rpos, 0);
	assert_int_equal(b.wpos, 0);

	buf_append(&b, "abc", 3);
	buf_drop(&b, 0);
	assert_int_equal(buf_len(&b), 3);
	buf_reset(&b);
	assert_int_equal(buf_len(&b), 0);
	buf_append(&b, "z", 1);
	assert_memory_equal(buf_data(&b), "z", 1);
	buf_release(&b);
}

/* buf_findline */

static const struct {
	const char	*data;
	size_t		 len;
} findline_cases[] = {
	{ "", 0 },
	{ "abc", 0 },
	{ "abc\r", 0 },
	{ "\n", 1 },
	{ "abc\n", 4 },
	{ "abc\r\ndef\n", 5 },
	{ "a\rb\nc", 4 },
};

static void
test_findline(void **state)
{
	struct buf	b;
	size_t		i, before;

	for (i = 0; i < NELEM(findline_cases); i++) {
		buf_init(&b, 4);
		buf_append(&b, findline_cases[i].data,
		    strlen(findline_cases[i].data));
		before = buf_len(&b);
		assert_int_equal(buf_findline(&b), findline_cases[i].len);
		/* Nothing is consumed. */
		assert_int_equal(buf_len(&b), before);
		buf_release(&b);
	}
}

/* buf_getline: lines in the order they come, without their endings. */

static const struct {
	const char	*data;
	const char	*lines[4];	/* NULL-ended */
	const char	*rest;		/* unread afterwards */
} getline_cases[] = {
	{ "", { NULL }, "" },
	{ "partial", { NULL }, "partial" },
	{ "one\r\n", { "one", NULL }, "" },
	{ "one\n", { "one", NULL }, "" },
	{ "one\r\ntwo\nthr", { "one", "two", NULL }, "thr" },
	{ "\r\n\n", { "", "", NULL }, "" },
	{ "a\rb\r\n", { "a\rb", NULL }, "" },		/* inner CR stays */
	{ "a\r\r\n", { "a\r", NULL }, "" },		/* only one CR goes */
	{ "+OK\r\nbody\r", { "+OK", NULL }, "body\r" },
};

static void
test_getline(void **state)
{
	struct buf	 b;
	char		*line;
	size_t		 i, k, len;

	for (i = 0; i < NELEM(getline_cases); i++) {
		buf_init(&b, 4);
		buf_append(&b, getline_cases[i].data,
		    strlen(getline_cases[i].data));
		for (k = 0; getline_cases[i].lines[k] != NULL; k++) {
			line = buf_getline(&b, &len);
			assert_non_null(line);
			assert_string_equal(line, getline_cases[i].lines[k]);
			assert_int_equal(len, strlen(line));
		}
		assert_null(buf_getline(&b, &len));
		assert_int_equal(buf_len(&b), strlen(getline_cases[i].rest));
		assert_memory_equal(buf_data(&b), getline_cases[i].rest,
		    buf_len(&b));
		buf_release(&b);
	}
}

/* A line that arrives in pieces comes out once it is complete. */
static void
test_getline_partial(void **state)
{
	static const char *const pieces[] = { "+O", "K hel", "lo\r", "\n" };
	struct buf	 b;
	char		*line;
	size_t		 i, len = 99;

	buf_init(&b, 2);
	for (i = 0; i < NELEM(pieces) - 1; i++) {
		buf_append(&b, pieces[i], strlen(pieces[i]));
		assert_null(buf_getline(&b, &len));
	}
	buf_append(&b, pieces[i], strlen(pieces[i]));
	line = buf_getline(&b, &len);
	assert_non_null(line);
	assert_string_equal(line, "+OK hello");
	assert_int_equal(len, 9);
	assert_int_equal(buf_len(&b), 0);
	/* len may be NULL. */
	buf_append(&b, "x\n", 2);
	assert_string_equal(buf_getline(&b, NULL), "x");
	buf_release(&b);
}

/* A returned line stays valid across further buf_getline calls. */
static void
test_getline_validity(void **state)
{
	struct buf	 b;
	char		*first, *second;

	buf_init(&b, 64);
	buf_append(&b, "first\nsecond\n", 13);
	first = buf_getline(&b, NULL);
	second = buf_getline(&b, NULL);
	assert_string_equal(first, "first");
	assert_string_equal(second, "second");
	/* The window is empty, yet the line has not moved. */
	assert_int_equal(buf_len(&b), 0);
	assert_string_equal(second, "second");
	buf_release(&b);
}

/* A long line grows the buffer until it is complete. */
static void
test_getline_long(void **state)
{
	struct buf	 b;
	char		 chunk[1000], *line;
	size_t		 i, len;

	memset(chunk, 'q', sizeof(chunk));
	buf_init(&b, 16);
	for (i = 0; i < 100; i++) {
		buf_append(&b, chunk, sizeof(chunk));
		assert_null(buf_getline(&b, &len));
	}
	buf_append(&b, "\r\n", 2);
	line = buf_getline(&b, &len);
	assert_non_null(line);
	assert_int_equal(len, 100 * sizeof(chunk));
	assert_int_equal(line[0], 'q');
	assert_int_equal(line[len - 1], 'q');
	assert_int_equal(line[len], '\0');
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_release),
		cmocka_unit_test(test_append_growth),
		cmocka_unit_test(test_space_commit),
		cmocka_unit_test(test_drop_reset),
		cmocka_unit_test(test_findline),
		cmocka_unit_test(test_getline),
		cmocka_unit_test(test_getline_partial),
		cmocka_unit_test(test_getline_validity),
		cmocka_unit_test(test_getline_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
