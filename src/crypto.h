/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_CRYPTO_H
#define POPSYNC_CRYPTO_H

#include <stddef.h>

/*
 * Digests and base64 for APOP and SASL, and the certificate pin's syntax.  The digests come from OpenSSL's
 * libcrypto; this module and tls.c are the only OpenSSL users (STYLE's
 * layout table names this "tiny crypto.c").
 */

/* crypto_md5_hex: MD5 of data as 32 lower-case hex digits plus NUL. */
void	 crypto_md5_hex(const void *data, size_t len, char out[33]);

/* crypto_hmac_md5_hex: HMAC-MD5(key, data) as 32 lower-case hex digits. */
void	 crypto_hmac_md5_hex(const void *key, size_t keylen, const void *data,
	    size_t len, char out[33]);

/*
 * crypto_base64_encode: newly allocated NUL-terminated base64 of data
 * (OpenSSL's EVP_EncodeBlock).
 */
char	*crypto_base64_encode(const void *data, size_t len);

/*
 * crypto_base64_decode: decode NUL-terminated base64 text (padding
 * required, no whitespace, unused bits of the last group zero) into a newly
 * allocated buffer, NUL-terminated for convenience, with its length in
 * *len.  OpenSSL's EVP_DecodeBlock, with the strictness it lacks checked
 * here.  Returns NULL on bad input.
 */
unsigned char *crypto_base64_decode(const char *text, size_t *len);

/* The length of a SHA-256 digest, which a certificate pin holds. */
#define CRYPTO_SHA256_LEN	32

/*
 * crypto_pin_parse: a certificate pin (tls_fingerprint): "sha256:" in
 * lower case, then the certificate's SHA-256 digest as 64 hex digits in
 * either case, optionally with one colon between bytes ("sha256:AB:CD:..."
 * as --probe prints it), into out.  The one parser of pins: the config
 * check (account.c) and the TLS handshake (tls.c) both use it.  Returns 0,
 * or -1 when s is not a pin.
 */
int	 crypto_pin_parse(const char *s, unsigned char out[CRYPTO_SHA256_LEN]);

#endif
