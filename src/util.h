/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_UTIL_H
#define POPSYNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * util_strtonum: parse a decimal integer in [min, max] from all of s.
 * Returns 0, or -1 when s is empty, has trailing junk or is out of range.
 */
int	 util_strtonum(const char *s, long long min, long long max,
	    long long *out);

/* util_now_ms: monotonic clock in milliseconds. */
int64_t	 util_now_ms(void);

/*
 * util_expand_home: a copy of path with a leading "~/" (or a lone "~")
 * replaced by $HOME, or when HOME is unset or empty by the home directory
 * the password database gives the real uid; caller frees.  Other paths
 * are copied as they are.  NULL when "~" cannot be expanded (no HOME and
 * no home directory): never a relative "./~".
 */
char	*util_expand_home(const char *path);

/*
 * util_private_tmp_hint: for a message about a path that was not found:
 * when it lies under /tmp or /var/tmp and systemd started us, why we may
 * not see it (PrivateTmp=yes, as in popsyncd@.service, gives a service a
 * /tmp of its own), starting with a space; else "".  Static text.
 */
const char *util_private_tmp_hint(const char *path);

/*
 * util_json_str: write s to out as a JSON string (quotes, backslashes and
 * control characters escaped; other octets as they are), or null for NULL.
 */
void	 util_json_str(FILE *out, const char *s);

/*
 * A set of strings with a size_t each, for the listings of a sync: linear
 * in their length where sorting 100,000 UIDLs cost more than the rest of
 * an empty poll (issue 9).  Keys are borrowed, not copied: they must
 * outlive the map.  Open addressing; it grows as needed.
 */
struct util_strmap {
	const char	**keys;
	size_t		 *vals;
	size_t		  cap;		/* a power of two */
	size_t		  n;
};

/* util_strmap_init: an empty map sized for about n keys. */
void	 util_strmap_init(struct util_strmap *m, size_t n);

/* util_strmap_get: the value of key, or NULL when it is not in the map. */
size_t	*util_strmap_get(const struct util_strmap *m, const char *key);

/*
 * util_strmap_put: the value of key, added with value 0 when missing;
 * *added (if not NULL) says whether it was.  The pointer is valid until
 * the next put.
 */
size_t	*util_strmap_put(struct util_strmap *m, const char *key, bool *added);

/* util_strmap_free: free the table (not the keys). */
void	 util_strmap_free(struct util_strmap *m);

#endif
