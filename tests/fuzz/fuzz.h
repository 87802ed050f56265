/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_FUZZ_H
#define POPSYNC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/*
 * What every fuzz target shares.  A target is one file defining
 * LLVMFuzzerTestOneInput; it is linked either with libFuzzer
 * (configure --enable-fuzzing, scripts/fuzz.sh) or with replay.c, which
 * runs it over its committed corpus as an ordinary test.
 *
 * A target checks invariants, not only that nothing crashed: a broken
 * invariant calls fuzz_fail, which aborts, so libFuzzer saves the input
 * and the replay test fails.
 */

/* LLVMFuzzerTestOneInput: libFuzzer's entry point; always returns 0. */
int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * fuzz_fail: print "FUZZ INVARIANT: file:line: message" to stderr and
 * abort.  Use through FUZZ_CHECK.
 */
void	 fuzz_fail(const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);		\
} while (0)

/*
 * fuzz_cstr: a NUL-terminated copy of data (the parsers read C strings, as
 * conn.c hands them lines); the caller frees it.
 */
char	*fuzz_cstr(const uint8_t *data, size_t size);

/*
 * fuzz_next_line: the next '\n'-terminated line of *data (without "\n"
 * and one "\r" before it) as a new NUL-terminated string of *len octets
 * (NULs inside kept, as buf_getline keeps them), moving *data and *size
 * past it; NULL when nothing is left.  The caller frees the line.
 */
char	*fuzz_next_line(const uint8_t **data, size_t *size, size_t *len);

#endif
