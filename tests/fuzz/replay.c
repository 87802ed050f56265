/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Run a fuzz target over its corpus once, as an ordinary test. */

#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmalloc.h"

/*
 * Usage: fuzz_TARGET [FILE|DIR]...  Without arguments the target's
 * committed corpus is replayed: FUZZ_CORPUS_DIR/TARGET, the directory set
 * by tests/Makefile.am and the program's name without "fuzz_".
 * Every file is fed to LLVMFuzzerTestOneInput once; an invariant that
 * breaks aborts.  An empty corpus fails: a replay of nothing tests nothing.
 */

static int	replay_path(const char *, size_t *);
static int	replay_file(const char *);
static int	replay_dir(const char *, size_t *);
static int	name_cmp(const void *, const void *);

/* Feed one file to the target. */
static int
replay_file(const char *path)
{
	FILE		*fp;
	uint8_t		*data = NULL, *exact;
	size_t		 len = 0, cap = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			data = xreallocarray(data, cap, 1);
		}
		n = fread(data + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	if (ferror(fp)) {
		fprintf(stderr, "%s: read error\n", path);
		fclose(fp);
		free(data);
		return -1;
	}
	fclose(fp);
	/* A buffer of exactly len bytes, so ASan sees a read past the end. */
	exact = xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

/* Sort names so that every run replays in the same order. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feed every regular file in dir to the target. */
static int
replay_dir(const char *dir, size_t *count)
{
	DIR		 *d;
	struct dirent	 *de;
	char		**names = NULL, *path;
	size_t		  n = 0, i;
	int		  rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		path = xasprintf("%s/%s", dir, names[i]);
		if (replay_path(path, count) == -1)
			rc = -1;
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Replay a file, or every file below a directory. */
static int
replay_path(const char *path, size_t *count)
{
	struct stat	sb;

	if (stat(path, &sb) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(sb.st_mode))
		return replay_dir(path, count);
	if (replay_file(path) == -1)
		return -1;
	(*count)++;
	return 0;
}

int
main(int argc, char **argv)
{
	char	*self, *name, *corpus;
	size_t	 count = 0;
	int	 i, rc = 0;

	if (argc < 2) {
		self = xstrdup(argv[0]);
		name = basename(self);
		if (strncmp(name, "fuzz_", 5) == 0)
			name += 5;
		corpus = xasprintf("%s/%s", FUZZ_CORPUS_DIR, name);
		rc = replay_path(corpus, &count);
		free(corpus);
		free(self);
	}
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) == -1)
			rc = -1;
	if (rc == -1)
		return 1;
	if (count == 0) {
		fprintf(stderr, "no input to replay\n");
		return 1;
	}
	printf("%s: %zu inputs replayed, every invariant held\n", argv[0],
	    count);
	return 0;
}
