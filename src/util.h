/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_UTIL_H
#define POPSYNC_UTIL_H

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

#endif
