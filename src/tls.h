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

struct tls_cache;

struct tls_params {
	const char	*host;		/* for SNI and the hostname check */
	const char	*ca_file;	/* NULL: the system store */
	bool		 verify;	/* chain + hostname (default true) */
	const char	*fingerprint;	/* "sha256:HEX" (colons allowed) or NULL */
	int		 min_version;	/* 12 for TLS 1.2 (default), 13 */
	/* What one account keeps between its connections (tls_cache_new),
	 * or NULL for a one-off context.  A cache whose context was built
	 * for another verify, ca_file or min_version is not used. */
	struct tls_cache *cache;
};

/* The certificates of a chain --probe shows; a longer chain is cut. */
#define TLS_CHAIN_MAX	4

/* One certificate as --probe shows it. */
struct tls_cert {
	char	 subject[256];		/* RFC 2253 */
	char	 issuer[256];
	char	 not_before[64];	/* "Nov 23 09:00:00 2026 GMT" */
	char	 not_after[64];
	char	 names[512];		/* "DNS:localhost, IP:127.0.0.1" */
	char	 fingerprint[7 + 95 + 1]; /* "sha256:AB:CD:..." */
};

/* What --probe prints about a session. */
struct tls_info {
	char	 version[16];		/* "TLSv1.3" */
	char	 cipher[64];
	char	 subject[256];		/* the leaf's, as in chain[0] */
	char	 issuer[256];
	char	 not_after[64];		/* "Nov 23 09:00:00 2027 GMT" */
	char	 fingerprint[7 + 95 + 1]; /* "sha256:AB:CD:..." */
	bool	 resumed;		/* a cached session was resumed */
	/* The chain as the server sent it, leaf first. */
	size_t		 nchain;	/* in chain[] */
	size_t		 chain_len;	/* sent; more than nchain if cut */
	struct tls_cert	 chain[TLS_CHAIN_MAX];
};

/* Which check of tls_start failed, as tls_failure_kind tells. */
enum tls_failure {
	TLS_FAIL_OTHER,		/* none of these, or not a TLS error */
	TLS_FAIL_CHAIN,		/* the chain: untrusted, expired, ... */
	TLS_FAIL_HOST,		/* the certificate names other hosts */
	TLS_FAIL_PIN,		/* the fingerprint is not the pinned one */
	TLS_FAIL_NOT_TLS	/* the server answered, but not in TLS */
};

struct tls;

/*
 * tls_cache_new: an empty cache for one account's connections.  The first
 * tls_start that uses it builds the OpenSSL context (the CA store read
 * once, not at every poll) and keeps it; each handshake stores the
 * server's newest session (TLS 1.2 session or TLS 1.3 ticket), which the
 * next tls_start offers to resume: a resumed handshake skips the
 * certificate exchange and its verification, so a re-poll costs one round
 * trip less and no public-key operation on either side.  Only a session
 * that passed every check here (chain, host name, pin) is kept.  Safe to
 * use from several threads; allocation only, it cannot fail.
 */
struct tls_cache *tls_cache_new(void);

/* tls_cache_free: free the cache, its context and session; accepts NULL. */
void	 tls_cache_free(struct tls_cache *c);

/*
 * tls_start: run the client handshake on fd and verify the peer,
 * resuming params->cache's session when there is one.  The handshake
 * waits through w (waiter.h): bounded by its timeout from the start,
 * feeding its idle hook, ended by its flags.  On success *out owns the
 * session (not the fd).
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

/*
 * tls_check_ca_file: whether path holds at least one certificate (PEM) that
 * OpenSSL can load as a trust anchor; for --check-config, which does not
 * connect.  Errors: E_CONFIG (the message is OpenSSL's reason, or "holds
 * no certificate"; the caller adds the key and the path).
 */
int	 tls_check_ca_file(const char *path, struct err *e);

/*
 * tls_failure_kind: which check an E_TLS from tls_start reports, read from
 * the message tls_start wrote into e (prefixes put in front of it do not
 * matter), so that --probe can name the config key that fixes it.
 */
enum tls_failure tls_failure_kind(const struct err *e);

/* tls_get_info: fill *info for the established session. */
void	 tls_get_info(const struct tls *t, struct tls_info *info);

/*
 * tls_free: send close_notify (best effort, no waiting) and free the
 * session; the fd is left open for the caller.  Accepts NULL.
 */
void	 tls_free(struct tls *t);

#endif
