/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_BUF_H
#define POPSYNC_BUF_H

#include <stddef.h>

/*
 * A growable byte buffer with an explicit read window: bytes in
 * [rpos, wpos) of base are unread, [wpos, size) is free space.  The struct
 * is transparent so it can be embedded; only the functions below touch it.
 */
struct buf {
	char	*base;
	size_t	 size;
	size_t	 rpos;
	size_t	 wpos;
};

/* buf_init: an empty buffer with room for at least size bytes. */
void	 buf_init(struct buf *b, size_t size);

/* buf_release: free the storage; the buffer may be buf_init'ed again. */
void	 buf_release(struct buf *b);

/* buf_len: number of unread bytes. */
size_t	 buf_len(const struct buf *b);

/* buf_data: pointer to the first unread byte (valid until the next write). */
char	*buf_data(const struct buf *b);

/* buf_append: copy len bytes in at the write end, growing as needed. */
void	 buf_append(struct buf *b, const void *data, size_t len);

/*
 * buf_space: make room for at least want bytes after wpos (compacting or
 * growing) and return a pointer to it; *avail gets the room there.  Follow
 * with buf_commit(b, n) for the n bytes actually written.
 */
char	*buf_space(struct buf *b, size_t want, size_t *avail);
void	 buf_commit(struct buf *b, size_t n);

/* buf_drop: discard the first n unread bytes (n <= buf_len). */
void	 buf_drop(struct buf *b, size_t n);

/* buf_reset: discard everything unread. */
void	 buf_reset(struct buf *b);

/*
 * buf_getline: take the next complete line (ending in LF, with or without a
 * CR before it) out of the buffer.  Returns a pointer to it inside the
 * buffer, NUL-terminated where the line ending was, and its length without
 * the ending in *len; returns NULL when no complete line is buffered.
 *
 * The pointer stays valid only until the next call that writes to or
 * compacts the buffer (buf_append, buf_space, buf_getline is safe).  Copy
 * the line before reading more.
 */
char	*buf_getline(struct buf *b, size_t *len);

/*
 * buf_findline: length up to and including the first LF among the unread
 * bytes, or 0 if none is buffered.  Does not consume anything.
 */
size_t	 buf_findline(const struct buf *b);

#endif
