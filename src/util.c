/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Small helpers: number parsing, the monotonic clock, paths, a string map. */

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

/* FNV-1a: short keys, no adversary that gains from collisions here (a
 * server that sends colliding UIDLs only slows its own account). */
static size_t
util_strmap_hash(const char *key)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

void
util_strmap_init(struct util_strmap *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2)
		m->cap *= 2;
	m->keys = xcalloc(m->cap, sizeof(*m->keys));
	m->vals = xcalloc(m->cap, sizeof(*m->vals));
	m->n = 0;
}

/* The slot of key, or of the empty slot where it would go. */
static size_t
util_strmap_slot(const struct util_strmap *m, const char *key)
{
	size_t	i = util_strmap_hash(key) & (m->cap - 1);

	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

size_t *
util_strmap_get(const struct util_strmap *m, const char *key)
{
	size_t	i = util_strmap_slot(m, key);

	return m->keys[i] != NULL ? &m->vals[i] : NULL;
}

size_t *
util_strmap_put(struct util_strmap *m, const char *key, bool *added)
{
	struct util_strmap	bigger;
	size_t			i;

	if (added != NULL)
		*added = false;
	i = util_strmap_slot(m, key);
	if (m->keys[i] != NULL)
		return &m->vals[i];
	/* At most half full, so probes stay short. */
	if ((m->n + 1) * 2 > m->cap) {
		util_strmap_init(&bigger, m->cap);
		for (i = 0; i < m->cap; i++)
			if (m->keys[i] != NULL)
				*util_strmap_put(&bigger, m->keys[i], NULL) =
				    m->vals[i];
		util_strmap_free(m);
		*m = bigger;
		i = util_strmap_slot(m, key);
	}
	if (added != NULL)
		*added = true;
	m->keys[i] = key;
	m->vals[i] = 0;
	m->n++;
	return &m->vals[i];
}

void
util_strmap_free(struct util_strmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}
