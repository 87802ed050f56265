/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* TLS client sessions over OpenSSL: handshake, verification, pinning, I/O. */

#include "autoconf.h"

#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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
#include "log.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "waiter.h"
#include "xmalloc.h"

/* The read-ahead buffer: four records of the largest size. */
#define TLS_READ_BUFFER	(4 * 16384)

/* How the messages tls_failure_kind recognizes start (or contain). */
#define TLS_MSG_CHAIN	"certificate verify failed: "
#define TLS_MSG_HOST	"hostname mismatch: "
#define TLS_MSG_PIN	"certificate fingerprint mismatch"
#define TLS_MSG_NOT_TLS	"the server does not speak TLS on this port"

struct tls {
	SSL		 *ssl;
	int		  fd;
	bool		  established;	/* handshake done: close_notify is due */
	bool		  checked;	/* the peer passed every check */
	struct tls_cache *cache;	/* where its sessions go, or NULL */
	SSL_SESSION	 *unchecked;	/* a session that came before the
					 * checks ended: cached after them */
	char		 *host;		/* for messages */
};

/*
 * One account's context and newest session.  The lock guards ctx's
 * creation and sess; the context itself is thread-safe.
 */
struct tls_cache {
	pthread_mutex_t	 lock;
	SSL_CTX		*ctx;
	SSL_SESSION	*sess;
	/* What ctx was built for: other settings get a context of their
	 * own (--probe looks again with verification off). */
	bool		 verify;
	int		 version;
	char		*ca_file;
};

static int	tls_ctx_build(const struct tls_params *p, int version,
		    SSL_CTX **out, struct err *e);
static int	tls_new_session(SSL *ssl, SSL_SESSION *sess);
static void	tls_cache_put(struct tls_cache *c, SSL_SESSION *sess);
static bool	tls_cache_fits(const struct tls_cache *c,
		    const struct tls_params *p, int version);
static int	tls_cache_get(struct tls_cache *c, const struct tls_params *p,
		    int version, SSL_CTX **ctx, SSL_SESSION **sess,
		    struct err *e);
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
static int	tls_cert_sha256(X509 *cert,
		    unsigned char out[CRYPTO_SHA256_LEN]);
static void	tls_time_str(const ASN1_TIME *t, char *dst, size_t len);
static void	tls_cert_names(X509 *cert, char *dst, size_t len);
static void	tls_cert_fill(X509 *cert, struct tls_cert *c);

int
tls_start(int fd, const struct tls_params *p, struct waiter *w,
    struct tls **out, struct err *e)
{
	SSL_CTX		*ctx = NULL;
	SSL_SESSION	*sess = NULL;
	struct tls_cache *c = p->cache;
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

	/* The account's context and session; a context of its own when
	 * there is no cache or it was built for other settings. */
	if (c != NULL && (rc = tls_cache_get(c, p, version, &ctx, &sess,
	    e)) < 0)
		goto out;
	if (ctx == NULL) {
		c = NULL;
		if ((rc = tls_ctx_build(p, version, &ctx, e)) < 0)
			goto out;
	}

	t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->host = xstrdup(host);
	t->cache = c;
	if ((t->ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(t->ssl, fd) ||
	    !SSL_set_app_data(t->ssl, t)) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "SSL_new: %s", why);
		goto out;
	}
	/* A session OpenSSL will not offer (expired, other version) just
	 * means a full handshake. */
	if (sess != NULL && !SSL_set_session(t->ssl, sess))
		ERR_clear_error();
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
	t->checked = true;
	if (t->unchecked != NULL) {
		tls_cache_put(c, t->unchecked);
		t->unchecked = NULL;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	/* After a failure nothing of this server is offered again. */
	if (rc < 0 && c != NULL)
		tls_cache_put(c, NULL);
	tls_free(t);
	/* The session holds its own reference to the context. */
	SSL_CTX_free(ctx);
	SSL_SESSION_free(sess);
	ERR_clear_error();
	return rc;
}

/*
 * A client context for p: minimum version, verification, CA store, and,
 * with a cache, client session caching through tls_new_session.
 */
static int
tls_ctx_build(const struct tls_params *p, int version, SSL_CTX **out,
    struct err *e)
{
	SSL_CTX	*ctx = NULL;
	char	 why[256];
	int	 rc;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "SSL_CTX_new: %s", why);
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, version)) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_TLS, "cannot set minimum TLS version: %s",
		    why);
		goto fail;
	}
	/* A write that timed out is resumed by calling tls_write again with
	 * the same bytes; they need not sit at the same address. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read what the socket holds, several records at once, instead of
	 * a header and then a body per record: a RETR stream of 4 KiB
	 * messages took two read(2)s per message. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
	if (p->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (p->ca_file != NULL) {
			if (!SSL_CTX_load_verify_locations(ctx, p->ca_file,
			    NULL)) {
				tls_errstr(why, sizeof(why));
				rc = err_set(e, E_TLS, "cannot load CA file "
				    "%s: %s%s", p->ca_file, why,
				    util_private_tmp_hint(p->ca_file));
				goto fail;
			}
		} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
			tls_errstr(why, sizeof(why));
			rc = err_set(e, E_TLS, "cannot load the system CA "
			    "store: %s", why);
			goto fail;
		}
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);

	if (p->cache != NULL) {
		/* Sessions go to tls_new_session, not to OpenSSL's own
		 * store, which a client cannot look up anyway. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, tls_new_session);
	}
	*out = ctx;
	return 0;

fail:
	SSL_CTX_free(ctx);
	return rc;
}

/*
 * OpenSSL's new-session callback: keep the server's newest session.  One
 * that comes during the handshake (TLS 1.2) waits until the peer passed
 * every check; TLS 1.3 tickets come later, with the first read.  Returns
 * 1: the reference is ours now.
 */
static int
tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls	*t = SSL_get_app_data(ssl);

	if (t == NULL || t->cache == NULL)
		return 0;
	if (!t->checked) {
		SSL_SESSION_free(t->unchecked);
		t->unchecked = sess;
	} else
		tls_cache_put(t->cache, sess);
	return 1;
}

/* Whether c's context was built for p's settings. */
static bool
tls_cache_fits(const struct tls_cache *c, const struct tls_params *p,
    int version)
{
	if (c->verify != p->verify || c->version != version)
		return false;
	if (c->ca_file == NULL || p->ca_file == NULL)
		return c->ca_file == p->ca_file;
	return strcmp(c->ca_file, p->ca_file) == 0;
}

/*
 * References to c's context, built now if c has none, and to its session
 * (or NULL); *ctx stays NULL when the context was built for other
 * settings.  Returns 0, or the error of building it.
 */
static int
tls_cache_get(struct tls_cache *c, const struct tls_params *p, int version,
    SSL_CTX **ctx, SSL_SESSION **sess, struct err *e)
{
	int	rc = 0;

	pthread_mutex_lock(&c->lock);
	if (c->ctx == NULL) {
		if ((rc = tls_ctx_build(p, version, &c->ctx, e)) < 0)
			goto out;
		c->verify = p->verify;
		c->version = version;
		c->ca_file = p->ca_file != NULL ? xstrdup(p->ca_file) : NULL;
	} else if (!tls_cache_fits(c, p, version))
		goto out;
	*ctx = c->ctx;
	SSL_CTX_up_ref(*ctx);
	if ((*sess = c->sess) != NULL)
		SSL_SESSION_up_ref(*sess);
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Make sess (owned; may be NULL) the session the cache offers next. */
static void
tls_cache_put(struct tls_cache *c, SSL_SESSION *sess)
{
	pthread_mutex_lock(&c->lock);
	SSL_SESSION_free(c->sess);
	c->sess = sess;
	pthread_mutex_unlock(&c->lock);
}

struct tls_cache *
tls_cache_new(void)
{
	struct tls_cache	*c;

	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void
tls_cache_free(struct tls_cache *c)
{
	if (c == NULL)
		return;
	SSL_SESSION_free(c->sess);
	SSL_CTX_free(c->ctx);
	free(c->ca_file);
	pthread_mutex_destroy(&c->lock);
	free(c);
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
			/* A plain POP3 greeting read as a TLS record. */
			if (ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_SSL &&
			    ERR_GET_REASON(ERR_peek_error()) ==
			    SSL_R_WRONG_VERSION_NUMBER) {
				ERR_clear_error();
				return err_set(e, E_TLS, "TLS handshake with "
				    "%s failed: " TLS_MSG_NOT_TLS " (OpenSSL: "
				    "wrong version number); for a plain POP3 "
				    "port such as 110 set tls = \"starttls\"",
				    t->host);
			}
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
		return err_set(e, E_TLS, TLS_MSG_HOST "certificate is not "
		    "valid for %s", t->host);
	default:
		return err_set(e, E_TLS, TLS_MSG_CHAIN "%s",
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
	return err_set(e, E_TLS, TLS_MSG_PIN " for %s: expected %s, got %s",
	    t->host, want, got);
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
	X509	*cert;

	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	return tls_cert_sha256(cert, out);
}

/* SHA-256 of a certificate (DER).  Returns 0 or -1. */
static int
tls_cert_sha256(X509 *cert, unsigned char out[CRYPTO_SHA256_LEN])
{
	unsigned int	n = 0;

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

int
tls_check_ca_file(const char *path, struct err *e)
{
	X509_STORE	*st;
	char		 why[256];
	int		 rc = 0;

	ERR_clear_error();
	if ((st = X509_STORE_new()) == NULL)
		fatalx("%s: X509_STORE_new", __func__);
	if (!X509_STORE_load_file(st, path)) {
		tls_errstr(why, sizeof(why));
		rc = err_set(e, E_CONFIG, "cannot load it: %s", why);
	} else if (sk_X509_OBJECT_num(X509_STORE_get0_objects(st)) <= 0)
		rc = err_set(e, E_CONFIG, "holds no certificate");
	X509_STORE_free(st);
	ERR_clear_error();
	return rc;
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

/* A certificate time as OpenSSL prints it ("Nov 23 09:00:00 2026 GMT"). */
static void
tls_time_str(const ASN1_TIME *t, char *dst, size_t len)
{
	BIO	*bio;
	int	 n;

	dst[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (ASN1_TIME_print(bio, t) && (n = BIO_read(bio, dst,
	    (int)len - 1)) > 0)
		dst[n] = '\0';
	BIO_free(bio);
}

/* The subjectAltName DNS names and IP addresses, "DNS:a, IP:b", cut to
 * fit; "" without the extension. */
static void
tls_cert_names(X509 *cert, char *dst, size_t len)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	const unsigned char	*d;
	char			 ip[64];
	size_t			 off = 0;
	int			 i, n;

	dst[0] = '\0';
	if ((gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL,
	    NULL)) == NULL)
		return;
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && off < len; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			n = snprintf(dst + off, len - off, "%sDNS:%.*s",
			    off > 0 ? ", " : "",
			    ASN1_STRING_length(g->d.dNSName), (const char *)d);
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			n = ASN1_STRING_length(g->d.iPAddress);
			if ((n != 4 && n != 16) || inet_ntop(n == 16 ?
			    AF_INET6 : AF_INET, d, ip, sizeof(ip)) == NULL)
				continue;
			n = snprintf(dst + off, len - off, "%sIP:%s",
			    off > 0 ? ", " : "", ip);
		} else
			continue;
		if (n < 0 || (size_t)n >= len - off) {
			dst[off] = '\0';
			break;
		}
		off += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
	/* The names come from the server: no control bytes to a terminal. */
	for (d = (const unsigned char *)dst; *d != '\0'; d++)
		if (*d < 0x20 || *d >= 0x7f)
			dst[d - (const unsigned char *)dst] = '?';
}

/* What --probe shows of one certificate. */
static void
tls_cert_fill(X509 *cert, struct tls_cert *c)
{
	unsigned char	md[CRYPTO_SHA256_LEN];

	memset(c, 0, sizeof(*c));
	tls_name_oneline(X509_get_subject_name(cert), c->subject,
	    sizeof(c->subject));
	tls_name_oneline(X509_get_issuer_name(cert), c->issuer,
	    sizeof(c->issuer));
	tls_time_str(X509_get0_notBefore(cert), c->not_before,
	    sizeof(c->not_before));
	tls_time_str(X509_get0_notAfter(cert), c->not_after,
	    sizeof(c->not_after));
	tls_cert_names(cert, c->names, sizeof(c->names));
	if (tls_cert_sha256(cert, md) == 0)
		tls_format_fp(md, sizeof(md), c->fingerprint,
		    sizeof(c->fingerprint));
}

void
tls_get_info(const struct tls *t, struct tls_info *info)
{
	STACK_OF(X509)	*chain;
	X509		*leaf;
	int		 i, n;

	memset(info, 0, sizeof(*info));
	snprintf(info->version, sizeof(info->version), "%s",
	    SSL_get_version(t->ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)));
	info->resumed = SSL_session_reused(t->ssl) == 1;
	/* On a client the chain starts with the server's own certificate;
	 * without a chain (none kept) show that one alone. */
	if ((chain = SSL_get_peer_cert_chain(t->ssl)) != NULL &&
	    (n = sk_X509_num(chain)) > 0) {
		info->chain_len = (size_t)n;
		for (i = 0; i < n && i < TLS_CHAIN_MAX; i++)
			tls_cert_fill(sk_X509_value(chain, i),
			    &info->chain[info->nchain++]);
	} else if ((leaf = SSL_get0_peer_certificate(t->ssl)) != NULL) {
		info->chain_len = 1;
		tls_cert_fill(leaf, &info->chain[info->nchain++]);
	}
	if (info->nchain > 0) {
		memcpy(info->subject, info->chain[0].subject,
		    sizeof(info->subject));
		memcpy(info->issuer, info->chain[0].issuer,
		    sizeof(info->issuer));
		memcpy(info->not_after, info->chain[0].not_after,
		    sizeof(info->not_after));
		memcpy(info->fingerprint, info->chain[0].fingerprint,
		    sizeof(info->fingerprint));
	}
	ERR_clear_error();
}

enum tls_failure
tls_failure_kind(const struct err *e)
{
	if (e->code != E_TLS)
		return TLS_FAIL_OTHER;
	if (strstr(e->msg, TLS_MSG_CHAIN) != NULL)
		return TLS_FAIL_CHAIN;
	if (strstr(e->msg, TLS_MSG_HOST) != NULL)
		return TLS_FAIL_HOST;
	if (strstr(e->msg, TLS_MSG_PIN) != NULL)
		return TLS_FAIL_PIN;
	if (strstr(e->msg, TLS_MSG_NOT_TLS) != NULL)
		return TLS_FAIL_NOT_TLS;
	return TLS_FAIL_OTHER;
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
	SSL_SESSION_free(t->unchecked);
	ERR_clear_error();
	free(t->host);
	free(t);
}
