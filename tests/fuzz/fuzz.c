/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Helpers every fuzz target links: invariant failures and C strings. */

#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmalloc.h"

/* Report a broken invariant and abort, so the input is kept. */
void
fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "FUZZ INVARIANT: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* A NUL-terminated copy of size bytes of data. */
char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char	*s;

	s = xmalloc(size + 1);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Split the next line off *data. */
char *
fuzz_next_line(const uint8_t **data, size_t *size, size_t *len)
{
	const uint8_t	*nl;
	char		*line;
	size_t		 skip;

	if (*size == 0)
		return NULL;
	if ((nl = memchr(*data, '\n', *size)) != NULL) {
		*len = (size_t)(nl - *data);
		skip = *len + 1;
	} else
		*len = skip = *size;
	if (*len > 0 && (*data)[*len - 1] == '\r')
		(*len)--;
	line = fuzz_cstr(*data, *len);
	*data += skip;
	*size -= skip;
	return line;
}
