/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Allocation wrappers that treat out of memory as fatal. */

#include "autoconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

void *
xmalloc(size_t size)
{
	void	*p;

	p = malloc(size == 0 ? 1 : size);
	if (p == NULL)
		fatal("malloc");
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		fatal("malloc");
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		fatalx("xreallocarray: %zu * %zu overflows", nmemb, size);
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = realloc(ptr, nmemb * size);
	if (p == NULL)
		fatal("malloc");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	p = strdup(s);
	if (p == NULL)
		fatal("malloc");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = strndup(s, n);
	if (p == NULL)
		fatal("malloc");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("malloc");
	return s;
}

void
freezero(void *ptr, size_t len)
{
	if (ptr == NULL)
		return;
	if (len == 0)
		len = strlen(ptr) + 1;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(ptr, len);
#else
	{
		volatile unsigned char *v = ptr;
		while (len-- > 0)
			*v++ = 0;
	}
#endif
	free(ptr);
}
