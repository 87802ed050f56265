/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_XMALLOC_H
#define POPSYNC_XMALLOC_H

#include <stddef.h>

/*
 * Allocation that cannot fail: out of memory is fatal (STYLE 6), so callers
 * never test for NULL.  Every function here ends in fatal("malloc") when the
 * allocator refuses, and the sizes are overflow-checked.
 */

/* xmalloc: malloc(size); size 0 is treated as 1. */
void	*xmalloc(size_t size);

/* xcalloc: zeroed array of nmemb * size bytes, overflow-checked. */
void	*xcalloc(size_t nmemb, size_t size);

/* xreallocarray: resize ptr to nmemb * size bytes, overflow-checked. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);

/* xstrdup: copy of a NUL-terminated string. */
char	*xstrdup(const char *s);

/* xstrndup: copy of at most n bytes of s, always NUL-terminated. */
char	*xstrndup(const char *s, size_t n);

/* xasprintf: newly allocated formatted string; caller frees. */
char	*xasprintf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * freezero: wipe a secret's bytes (all of strlen(s) + 1 when len is 0) before
 * freeing it; accepts NULL.  Use it for every password, token and response
 * that carries one.
 */
void	 freezero(void *ptr, size_t len);

#endif
