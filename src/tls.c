/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* TLS client sessions over OpenSSL: handshake, verification, pinning, I/O. */

#include "autoconf.h"

#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "waiter.h"
#include "xmalloc.h"

struct tls {
	SSL	*ssl;
	int	 fd;
	bool	 established;	/* handshake done: close_notify is due */
	char	*host;		/* for messages */
};

static void	tls_format_fp(const unsigned char *md, size_t len, char *dst,
		    size_t dstlen);
static int	tls_leaf_sha256(const SSL *ssl,
		    unsigned char out[CRYPTO_SHA256_LEN]);
static bool	tls_is_ip(const char *host);
static void	tls_errstr(char *dst, size_t len);
static int	tls_wait(struct tls *t, int want_write, int64_t deadline,
		    struct err *e);
static int	tls_want(struct tls *t, int ret, int64_t deadline,
		    struct err *e);
static bool	tls_eof(struct tls *t, int ret, int saved_errno);
static int	tls_handshake(struct tls *t, struct waiter *w, bool verify,
		    struct err *e);
static int	tls_check_verify(struct tls *t, struct err *e);
static int	tls_check_pin(struct tls *t, const unsigned char *pin,
		    struct err *e);
static int	tls_io_error(struct tls *t, int ret, const char *what,
		    int saved_errno, struct err *e);
static void	tls_name_oneline(const X509_NAME *name, char *dst, size_t len);

int
tls_start(int fd, const struct tls_params *p, struct waiter *w,
    struct tls **out, struct err *e)
{
	SSL_CTX		*ctx = NULL;
	struct tls	*t = NULL;
	unsigned char	 pin[CRYPTO_SHA256_LEN];
	const char	*host = p->host != NULL ? p->host : "";
	char		 why[256];
	int		 rc, version, ok;
	bool		 ip;

	*out = NULL;
	ERR_clear_error();
	if (p->fingerprint != NULL &&
	    crypto_pin_parse(p->fingerprint, pin) == -1) {
		rc = err_set(e, E_TLS, "invalid fingerprint pin: expected "
		    "\"sha256:\" and 64 hex digits");
		goto out;
	}
	switch (p->min_version) {
	case 0:
	case 12:
		version = TLS1_2_VERSION;
		break;
	case 13:
		version = TLS1_3_VERSION;
		break;
	default:
		rc = err_set(e, E_TLS, "unsupported minimum TLS version %d",
		    p->min_version);
		goto out;
	}
	if (p->verify && *host == '\0') {
		rc = err_set(e, E_TLS, "cannot verify the certificate: "
		    "no host name");
		goto out;
	}

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "SSL_CTX_new: %s", why);
		goto out;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, version)) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "cannot set minimum TLS version: %s",
		    why);
		goto out;
	}
	/* A write that timed out is resumed by calling tls_write again with
	 * the same bytes; they need not sit at the same address. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (p->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (p->ca_file != NULL) {
			if (!SSL_CTX_load_verify_locations(ctx, p->ca_file,
			    NULL)) {
				tls_errstr(why, sizeof(why));
				rc = err_set(e, E_TLS, "cannot load CA file "
				    "%s: %s", p->ca_file, why);
				goto out;
			}
		} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
			tls_errstr(why, sizeof(why));
			rc = err_set(e, E_TLS, "cannot load the system CA "
			    "store: %s", why);
			goto out;
		}
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);

	t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->host = xstrdup(host);
	if ((t->ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(t->ssl, fd)) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "SSL_new: %s", why);
		goto out;
	}
	ip = tls_is_ip(host);
	if (p->verify) {
		if (ip)
			ok = X509_VERIFY_PARAM_set1_ip_asc(
			    SSL_get0_param(t->ssl), host);
		else {
			SSL_set_hostflags(t->ssl,
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			ok = SSL_set1_host(t->ssl, host);
		}
		if (!ok) {
			tls_errstr(why, sizeof(why));
			rc = err_set(e, E_TLS, "cannot check host name %s: %s",
			    host, why);
			goto out;
		}
	}
	/* RFC 6066: SNI carries DNS names only, never address literals. */
	if (!ip && *host != '\0' && !SSL_set_tlsext_host_name(t->ssl, host)) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "cannot set SNI %s: %s", host, why);
		goto out;
	}

	if ((rc = tls_handshake(t, w, p->verify, e)) < 0)
		goto out;
	t->established = true;
	if (p->verify && (rc = tls_check_verify(t, e)) < 0)
		goto out;
	if (p->fingerprint != NULL && (rc = tls_check_pin(t, pin, e)) < 0)
		goto out;
	*out = t;
	t = NULL;
	rc = 0;
out:
	tls_free(t);
	/* The session holds its own reference to the context. */
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/*
 * Drive the non-blocking handshake until done or failed, waiting for the
 * socket through w: a peer that never answers is a timeout counted from
 * the start, and a stop request ends the wait within a slice.
 */
static int
tls_handshake(struct tls *t, struct waiter *w, bool verify, struct err *e)
{
	struct pollfd	pfd;
	struct err	we;
	int64_t		since = util_now_ms();
	int		r, rc, saved;

	pfd.fd = t->fd;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(t->ssl);
		saved = errno;
		if (r == 1)
			return 0;
		switch (SSL_get_error(t->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			pfd.events = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			pfd.events = POLLOUT;
			break;
		default:
			/* A failed chain or name check ends the handshake
			 * early; say which check failed, not just "failed". */
			if (verify &&
			    SSL_get_verify_result(t->ssl) != X509_V_OK)
				return tls_check_verify(t, e);
			return tls_io_error(t, r, "TLS handshake", saved, e);
		}
		if ((rc = waiter_poll(w, &pfd, 1, since, &we)) < 0)
			return err_set(e, rc, "TLS handshake with %s %s",
			    t->host, we.msg);
	}
}

/* Report the chain or host name check that failed, if one did. */
static int
tls_check_verify(struct tls *t, struct err *e)
{
	long	vr = SSL_get_verify_result(t->ssl);

	switch (vr) {
	case X509_V_OK:
		return 0;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return err_set(e, E_TLS, "hostname mismatch: certificate is "
		    "not valid for %s", t->host);
	default:
		return err_set(e, E_TLS, "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
	}
}

/* Compare the leaf certificate's SHA-256 with the configured pin. */
static int
tls_check_pin(struct tls *t, const unsigned char *pin, struct err *e)
{
	unsigned char	md[CRYPTO_SHA256_LEN];
	char		want[7 + 95 + 1], got[7 + 95 + 1];

	if (tls_leaf_sha256(t->ssl, md) == -1)
		return err_set(e, E_TLS, "server %s sent no certificate",
		    t->host);
	if (memcmp(md, pin, sizeof(md)) == 0)
		return 0;
	tls_format_fp(pin, CRYPTO_SHA256_LEN, want, sizeof(want));
	tls_format_fp(md, sizeof(md), got, sizeof(got));
	return err_set(e, E_TLS, "certificate fingerprint mismatch for %s: "
	    "expected %s, got %s", t->host, want, got);
}

/* "sha256:AB:CD:..." from a digest. */
static void
tls_format_fp(const unsigned char *md, size_t len, char *dst, size_t dstlen)
{
	size_t	i, off;

	off = (size_t)snprintf(dst, dstlen, "sha256:");
	for (i = 0; i < len && off + 3 < dstlen; i++)
		off += (size_t)snprintf(dst + off, dstlen - off, "%s%02X",
		    i > 0 ? ":" : "", md[i]);
}

/* SHA-256 of the peer's leaf certificate (DER).  Returns 0 or -1. */
static int
tls_leaf_sha256(const SSL *ssl, unsigned char out[CRYPTO_SHA256_LEN])
{
	X509		*cert;
	unsigned int	 n = 0;

	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	if (!X509_digest(cert, EVP_sha256(), out, &n) ||
	    n != CRYPTO_SHA256_LEN)
		return -1;
	return 0;
}

/* Whether host is an IPv4 or IPv6 address literal. */
static bool
tls_is_ip(const char *host)
{
	unsigned char	addr[16];

	return inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
}

/* The oldest queued OpenSSL error as text (it names the cause), and
 * empty the queue. */
static void
tls_errstr(char *dst, size_t len)
{
	unsigned long	code;

	if ((code = ERR_get_error()) == 0)
		snprintf(dst, len, "unknown error");
	else
		ERR_error_string_n(code, dst, len);
	ERR_clear_error();
}

/*
 * Wait for the socket until deadline.  Returns 0 when ready, E_TIMEOUT
 * when the time is up or a signal interrupted the wait, E_IO.
 */
static int
tls_wait(struct tls *t, int want_write, int64_t deadline, struct err *e)
{
	int64_t	left = deadline - util_now_ms();
	int	r;

	if (left <= 0)
		return E_TIMEOUT;
	if ((r = net_wait(t->fd, want_write, (int)left, e)) < 0)
		return r;
	return r == 1 ? 0 : E_TIMEOUT;
}

/*
 * After an SSL call failed with ret: when OpenSSL waits for the socket, wait
 * until deadline and return 0 to retry the call (or E_TIMEOUT, E_IO);
 * otherwise return 1, and the caller reports the failure.
 */
static int
tls_want(struct tls *t, int ret, int64_t deadline, struct err *e)
{
	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return tls_wait(t, 0, deadline, e);
	case SSL_ERROR_WANT_WRITE:
		return tls_wait(t, 1, deadline, e);
	default:
		return 1;
	}
}

/*
 * Whether a failed SSL_read means end of stream: close_notify, or an EOF
 * without it.  The latter is accepted because POP3 frames its own data,
 * so a truncation shows at that level.
 */
static bool
tls_eof(struct tls *t, int ret, int saved_errno)
{
	unsigned long	code;

	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_ZERO_RETURN:
		return true;
	case SSL_ERROR_SYSCALL:
		return ERR_peek_error() == 0 && saved_errno == 0;
	case SSL_ERROR_SSL:
		code = ERR_peek_error();
		if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return true;
		}
		return false;
	default:
		return false;
	}
}

/* Turn a failed SSL call into E_TLS or E_IO with OpenSSL's reason. */
static int
tls_io_error(struct tls *t, int ret, const char *what, int saved_errno,
    struct err *e)
{
	char	why[256];

	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			ERR_clear_error();
			if (saved_errno == 0)
				return err_set(e, E_IO, "%s with %s: "
				    "connection closed by server", what,
				    t->host);
			return err_set(e, E_IO, "%s with %s: %s", what,
			    t->host, strerror(saved_errno));
		}
		break;
	case SSL_ERROR_ZERO_RETURN:
		return err_set(e, E_IO, "%s with %s: connection closed by "
		    "server", what, t->host);
	default:
		break;
	}
	tls_errstr(why, sizeof(why));
	return err_set(e, E_TLS, "%s with %s failed: %s", what, t->host, why);
}

ssize_t
tls_read(struct tls *t, void *buf, size_t len, int timeout_ms, struct err *e)
{
	int64_t	deadline = util_now_ms() + timeout_ms;
	int	n, rc, saved;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		n = SSL_read(t->ssl, buf, (int)len);
		saved = errno;
		if (n > 0)
			return n;
		if ((rc = tls_want(t, n, deadline, e)) == 1)
			return tls_eof(t, n, saved) ? 0 :
			    tls_io_error(t, n, "TLS read", saved, e);
		if (rc == E_TIMEOUT)
			return err_set(e, E_TIMEOUT, "TLS read from %s timed "
			    "out", t->host);
		if (rc < 0)
			return rc;
	}
}

int
tls_write(struct tls *t, const void *buf, size_t len, int timeout_ms,
    struct err *e)
{
	const char	*p = buf;
	int64_t		 deadline = util_now_ms() + timeout_ms;
	size_t		 off = 0;
	int		 n, rc, saved, chunk;

	while (off < len) {
		chunk = len - off > INT_MAX ? INT_MAX : (int)(len - off);
		ERR_clear_error();
		errno = 0;
		n = SSL_write(t->ssl, p + off, chunk);
		saved = errno;
		if (n > 0) {
			off += (size_t)n;
			deadline = util_now_ms() + timeout_ms;
			continue;
		}
		if ((rc = tls_want(t, n, deadline, e)) == 1)
			return tls_io_error(t, n, "TLS write", saved, e);
		if (rc == E_TIMEOUT)
			return err_set(e, E_TIMEOUT, "TLS write to %s timed "
			    "out", t->host);
		if (rc < 0)
			return rc;
	}
	return 0;
}

size_t
tls_pending(const struct tls *t)
{
	int	n = SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

/* A certificate name in one-line RFC 2253 form, escaped for logs. */
static void
tls_name_oneline(const X509_NAME *name, char *dst, size_t len)
{
	BIO	*bio;
	int	 n;

	dst[0] = '\0';
	if (name == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(bio, dst, (int)len - 1)) > 0)
		dst[n] = '\0';
	BIO_free(bio);
}

void
tls_get_info(const struct tls *t, struct tls_info *info)
{
	X509		*cert;
	BIO		*bio;
	unsigned char	 md[CRYPTO_SHA256_LEN];
	int		 n;

	memset(info, 0, sizeof(*info));
	snprintf(info->version, sizeof(info->version), "%s",
	    SSL_get_version(t->ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)));
	if ((cert = SSL_get0_peer_certificate(t->ssl)) == NULL)
		return;
	tls_name_oneline(X509_get_subject_name(cert), info->subject,
	    sizeof(info->subject));
	tls_name_oneline(X509_get_issuer_name(cert), info->issuer,
	    sizeof(info->issuer));
	if ((bio = BIO_new(BIO_s_mem())) != NULL) {
		if (ASN1_TIME_print(bio, X509_get0_notAfter(cert)) &&
		    (n = BIO_read(bio, info->not_after,
		    (int)sizeof(info->not_after) - 1)) > 0)
			info->not_after[n] = '\0';
		BIO_free(bio);
	}
	if (tls_leaf_sha256(t->ssl, md) == 0)
		tls_format_fp(md, sizeof(md), info->fingerprint,
		    sizeof(info->fingerprint));
	ERR_clear_error();
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		/* One close_notify attempt: the socket is about to close and
		 * the server's answer is of no use to us. */
		if (t->established)
			SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	ERR_clear_error();
	free(t->host);
	free(t);
}
