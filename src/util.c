/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Small helpers: number parsing, the monotonic clock, paths. */

#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "xmalloc.h"

int
util_strtonum(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int64_t
util_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
util_expand_home(const char *path)
{
	const char	*home;
	struct passwd	*pw;

	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
		return xstrdup(path);
	/* Never "./~": without HOME, the password database says. */
	home = getenv("HOME");
	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || *home == '\0')
		return NULL;
	return xasprintf("%s%s", home, path + 1);
}

const char *
util_private_tmp_hint(const char *path)
{
	/* systemd sets INVOCATION_ID for what it starts (ExecReload too). */
	if ((strncmp(path, "/tmp/", 5) != 0 &&
	    strncmp(path, "/var/tmp/", 9) != 0) ||
	    getenv("INVOCATION_ID") == NULL)
		return "";
	return " (popsyncd runs under systemd here, and a unit with "
	    "PrivateTmp=yes, as popsyncd@.service, has a /tmp of its own: "
	    "move it out of /tmp)";
}

/* A JSON string, or null for NULL. */
void
util_json_str(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}
