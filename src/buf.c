/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Growable byte buffer with a read window and line extraction. */

#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

void
buf_init(struct buf *b, size_t size)
{
	b->size = size == 0 ? 64 : size;
	b->base = xmalloc(b->size);
	b->rpos = b->wpos = 0;
}

void
buf_release(struct buf *b)
{
	free(b->base);
	b->base = NULL;
	b->size = b->rpos = b->wpos = 0;
}

size_t
buf_len(const struct buf *b)
{
	return b->wpos - b->rpos;
}

char *
buf_data(const struct buf *b)
{
	return b->base + b->rpos;
}

char *
buf_space(struct buf *b, size_t want, size_t *avail)
{
	size_t	len = buf_len(b), nsize;

	if (b->size - b->wpos < want) {
		/* Slide unread bytes to the front before growing. */
		if (b->rpos > 0) {
			memmove(b->base, b->base + b->rpos, len);
			b->rpos = 0;
			b->wpos = len;
		}
		if (b->size - b->wpos < want) {
			nsize = b->size;
			while (nsize - b->wpos < want)
				nsize *= 2;
			b->base = xreallocarray(b->base, nsize, 1);
			b->size = nsize;
		}
	}
	if (avail != NULL)
		*avail = b->size - b->wpos;
	return b->base + b->wpos;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->wpos += n;
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
	memcpy(buf_space(b, len, NULL), data, len);
	buf_commit(b, len);
}

void
buf_drop(struct buf *b, size_t n)
{
	if (n > buf_len(b))
		n = buf_len(b);
	b->rpos += n;
	if (b->rpos == b->wpos)
		b->rpos = b->wpos = 0;
}

void
buf_reset(struct buf *b)
{
	b->rpos = b->wpos = 0;
}

size_t
buf_findline(const struct buf *b)
{
	const char	*lf;

	lf = memchr(b->base + b->rpos, '\n', buf_len(b));
	return lf == NULL ? 0 : (size_t)(lf - (b->base + b->rpos)) + 1;
}

char *
buf_getline(struct buf *b, size_t *len)
{
	char	*line;
	size_t	 n;

	if ((n = buf_findline(b)) == 0)
		return NULL;
	line = b->base + b->rpos;
	/* Advance the window directly: buf_drop may rewind it to 0, but the
	 * returned line must stay where it is until the next write. */
	b->rpos += n;
	n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	if (len != NULL)
		*len = n;
	return line;
}
