/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz the multi-line body decoder and the per-line dot-unstuffing. */

#include "autoconf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop3_parse.h"
#include "xmalloc.h"

/*
 * Input: byte 0..3 seed the fuzzer-chosen split points, the rest is what
 * the server sends after a RETR's +OK line.
 *
 * Invariants: pop3_body_feed gives the output of a slow, obviously right
 * decoder (reference_decode) whether the body comes in one piece, split
 * in two at every byte (see SPLIT_ALL_MAX), one byte at a time, or in
 * chunks (empty ones too) of seed-chosen sizes; it stops exactly after the
 * first terminator and counts the same lines; a call never writes more
 * than it was given room for (inlen bytes).  pop3_multiline_line agrees
 * with the same rules.
 */

/* A body of up to this many bytes is split in two at every byte; a longer
 * one at this many evenly spaced points (the seeded chunks still cut it
 * anywhere), to keep an input fast. */
#define SPLIT_ALL_MAX	256

struct decoded {
	char			*out;
	size_t			 outlen;
	size_t			 end;		/* bytes consumed */
	bool			 done;		/* terminator seen */
	unsigned long long	 lines;
};

static void	reference_decode(const uint8_t *, size_t, struct decoded *);
static bool	ref_line(const uint8_t *, size_t, bool, struct decoded *);
static void	feed_chunks(const uint8_t *, size_t, const size_t *, size_t,
		    struct decoded *);
static void	compare(const struct decoded *, const struct decoded *,
		    const char *, size_t);
static void	check_multiline_line(const uint8_t *, size_t);
static uint32_t	next_rand(uint32_t *);

/*
 * Decode one line (len bytes, without its '\n'; complete says whether
 * the '\n' followed) the RFC 1939 way.  Returns true at the terminator.
 */
static bool
ref_line(const uint8_t *p, size_t len, bool complete, struct decoded *d)
{
	if (complete && ((len == 1 && p[0] == '.') ||
	    (len == 2 && p[0] == '.' && p[1] == '\r')))
		return true;
	/* A line starting with '.' lost a stuffed dot. */
	if (len > 0 && p[0] == '.') {
		p++;
		len--;
	}
	/* CRLF ends a line as LF does; an unfinished line may still end in
	 * CRLF, so its last CR is not known to be data yet. */
	if (len > 0 && p[len - 1] == '\r')
		len--;
	memcpy(d->out + d->outlen, p, len);
	d->outlen += len;
	if (complete) {
		d->out[d->outlen++] = '\n';
		d->lines++;
	}
	return false;
}

/* The reference: cut into lines at '\n', decode each. */
static void
reference_decode(const uint8_t *in, size_t len, struct decoded *d)
{
	const uint8_t	*nl;
	size_t		 pos = 0, n;

	memset(d, 0, sizeof(*d));
	d->out = xmalloc(len + 1);
	while (pos < len) {
		nl = memchr(in + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (in + pos)) : len - pos;
		if (ref_line(in + pos, n, nl != NULL, d)) {
			d->done = true;
			d->end = pos + n + 1;
			return;
		}
		pos += nl != NULL ? n + 1 : n;
	}
	d->end = len;
}

/* Feed in to pop3_body_feed in chunks of the given sizes (cycled). */
static void
feed_chunks(const uint8_t *in, size_t len, const size_t *sizes,
    size_t nsizes, struct decoded *d)
{
	struct pop3_body	 b;
	char			*out;
	size_t			 pos = 0, i = 0, n, outlen, consumed;
	int			 done = 0;

	memset(d, 0, sizeof(*d));
	d->out = xmalloc(len + 1);
	pop3_body_init(&b);
	/* Stop at the end unless an empty chunk is pending: an empty feed
	 * at the end must be harmless too. */
	while (!done && (pos < len || sizes[i % nsizes] == 0) && i < 4 * len +
	    4) {
		n = sizes[i++ % nsizes];
		if (n > len - pos)
			n = len - pos;
		/* Exactly n bytes of room: the documented bound. */
		out = xmalloc(n > 0 ? n : 1);
		done = pop3_body_feed(&b, (const char *)in + pos, n, out,
		    &outlen, &consumed);
		FUZZ_CHECK(outlen <= n, "wrote %zu bytes for %zu in", outlen,
		    n);
		FUZZ_CHECK(consumed <= n, "consumed %zu of %zu", consumed, n);
		FUZZ_CHECK(done || consumed == n,
		    "stopped after %zu of %zu bytes without the terminator",
		    consumed, n);
		memcpy(d->out + d->outlen, out, outlen);
		d->outlen += outlen;
		pos += consumed;
		free(out);
	}
	d->done = done != 0;
	d->end = pos;
	d->lines = b.lines;
}

/* Check that one way of feeding decoded what the reference did. */
static void
compare(const struct decoded *ref, const struct decoded *got,
    const char *how, size_t arg)
{
	FUZZ_CHECK(got->done == ref->done, "%s %zu: terminator %s", how, arg,
	    ref->done ? "missed" : "invented");
	FUZZ_CHECK(got->end == ref->end, "%s %zu: ended at %zu, not %zu", how,
	    arg, got->end, ref->end);
	FUZZ_CHECK(got->lines == ref->lines, "%s %zu: %llu lines, not %llu",
	    how, arg, got->lines, ref->lines);
	if (ref->done) {
		FUZZ_CHECK(got->outlen == ref->outlen &&
		    memcmp(got->out, ref->out, ref->outlen) == 0,
		    "%s %zu: output differs", how, arg);
		return;
	}
	/* Without the terminator one decoded byte may still be owed. */
	FUZZ_CHECK(got->outlen <= ref->outlen &&
	    got->outlen + 1 >= ref->outlen &&
	    memcmp(got->out, ref->out, got->outlen) == 0,
	    "%s %zu: output is no prefix of the reference", how, arg);
}

/* pop3_multiline_line on each line (NULs and all), against RFC 1939 3. */
static void
check_multiline_line(const uint8_t *in, size_t len)
{
	char	*line, *orig;
	size_t	 n, olen;
	int	 r;

	while ((line = fuzz_next_line(&in, &len, &olen)) != NULL) {
		n = olen;
		orig = fuzz_cstr((const uint8_t *)line, olen);
		r = pop3_multiline_line(line, &n);
		if (olen == 1 && orig[0] == '.')
			FUZZ_CHECK(r == 1, "\".\" is no terminator");
		else if (olen > 0 && orig[0] == '.')
			FUZZ_CHECK(r == 0 && n == olen - 1 &&
			    memcmp(line, orig + 1, n) == 0 && line[n] == '\0',
			    "a stuffed dot was not removed");
		else
			FUZZ_CHECK(r == 0 && n == olen &&
			    memcmp(line, orig, n) == 0 && line[n] == '\0',
			    "a plain line changed");
		free(orig);
		free(line);
	}
}

/* xorshift32: split sizes from the input's seed. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decoded	 ref, got;
	size_t		 sizes[16], whole, k, step, i;
	uint32_t	 seed = 0x9e3779b9;

	if (size >= 4) {
		seed ^= (uint32_t)data[0] | (uint32_t)data[1] << 8 |
		    (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
		data += 4;
		size -= 4;
	}
	if (seed == 0)
		seed = 1;
	reference_decode(data, size, &ref);

	whole = size;
	feed_chunks(data, size, &whole, 1, &got);
	compare(&ref, &got, "whole", size);
	free(got.out);

	step = size > SPLIT_ALL_MAX ? size / SPLIT_ALL_MAX : 1;
	for (k = 0; k <= size; k += step) {
		sizes[0] = k;
		sizes[1] = size - k;
		feed_chunks(data, size, sizes, 2, &got);
		compare(&ref, &got, "split at", k);
		free(got.out);
	}

	sizes[0] = 1;
	feed_chunks(data, size, sizes, 1, &got);
	compare(&ref, &got, "bytewise", 1);
	free(got.out);

	/* Chunks of 0..16 bytes, so empty feeds come between full ones. */
	for (i = 0; i < 16; i++)
		sizes[i] = next_rand(&seed) % 17;
	sizes[0] = sizes[0] == 0 ? 1 : sizes[0];
	feed_chunks(data, size, sizes, 16, &got);
	compare(&ref, &got, "chunks from seed", (size_t)seed);
	free(got.out);

	check_multiline_line(data, size);
	free(ref.out);
	return 0;
}
