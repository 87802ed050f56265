/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_TLS_H
#define POPSYNC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "waiter.h"

/*
 * TLS client sessions over a connected non-blocking socket.  This module is
 * the only user of OpenSSL's TLS API (crypto.c holds the digests).
 *
 * Verification is on by default: the chain is checked against ca_file or
 * the system store, and the certificate must match host (DNS name or IP
 * address).  SNI is sent for DNS names.  A fingerprint pin, when set, must
 * match the SHA-256 of the leaf certificate in addition to (or, with
 * verify = false, instead of) the chain check.
 */

struct tls_params {
	const char	*host;		/* for SNI and the hostname check */
	const char	*ca_file;	/* NULL: the system store */
	bool		 verify;	/* chain + hostname (default true) */
	const char	*fingerprint;	/* "sha256:HEX" (colons allowed) or NULL */
	int		 min_version;	/* 12 for TLS 1.2 (default), 13 */
};

/* What --probe prints about a session. */
struct tls_info {
	char	 version[16];		/* "TLSv1.3" */
	char	 cipher[64];
	char	 subject[256];
	char	 issuer[256];
	char	 not_after[64];		/* "Nov 23 09:00:00 2027 GMT" */
	char	 fingerprint[7 + 95 + 1]; /* "sha256:AB:CD:..." */
};

struct tls;

/*
 * tls_start: run the client handshake on fd and verify the peer.  The
 * handshake waits through w (waiter.h): bounded by its timeout from the
 * start, feeding its idle hook, ended by its flags.  On success *out owns
 * the session (not the fd).
 *
 * Errors: E_TLS (handshake failed, untrusted chain, hostname mismatch,
 * fingerprint mismatch: the message says which), E_TIMEOUT, E_IO, E_ABORT.
 */
int	 tls_start(int fd, const struct tls_params *params, struct waiter *w,
	    struct tls **out, struct err *e);

/*
 * tls_read: read up to len bytes, waiting at most timeout_ms.  Returns the
 * count (> 0), 0 at a clean or unclean end of stream, or a negative code.
 * Errors: E_TIMEOUT (nothing arrived, or a signal cut the wait short),
 * E_TLS, E_IO.
 */
ssize_t	 tls_read(struct tls *t, void *buf, size_t len, int timeout_ms,
	    struct err *e);

/*
 * tls_write: write all len bytes, each wait bounded by timeout_ms.
 * Returns 0 or a negative code.  After E_TIMEOUT, call again with the same
 * bytes and len to finish the write (OpenSSL keeps what it already sent).
 * Errors: E_TIMEOUT, E_TLS, E_IO.
 */
int	 tls_write(struct tls *t, const void *buf, size_t len, int timeout_ms,
	    struct err *e);

/* tls_pending: bytes already decrypted and waiting inside OpenSSL. */
size_t	 tls_pending(const struct tls *t);

/* tls_get_info: fill *info for the established session. */
void	 tls_get_info(const struct tls *t, struct tls_info *info);

/*
 * tls_free: send close_notify (best effort, no waiting) and free the
 * session; the fd is left open for the caller.  Accepts NULL.
 */
void	 tls_free(struct tls *t);

#endif
