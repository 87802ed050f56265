/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_CRYPTO_H
#define POPSYNC_CRYPTO_H

#include <stddef.h>

/*
 * Digests and base64 for APOP and SASL.  The digests come from OpenSSL's
 * libcrypto; this module and tls.c are the only OpenSSL users (STYLE's
 * layout table names this "tiny crypto.c").
 */

/* crypto_md5_hex: MD5 of data as 32 lower-case hex digits plus NUL. */
void	 crypto_md5_hex(const void *data, size_t len, char out[33]);

/* crypto_hmac_md5_hex: HMAC-MD5(key, data) as 32 lower-case hex digits. */
void	 crypto_hmac_md5_hex(const void *key, size_t keylen, const void *data,
	    size_t len, char out[33]);

/* crypto_base64_encode: newly allocated NUL-terminated base64 of data. */
char	*crypto_base64_encode(const void *data, size_t len);

/*
 * crypto_base64_decode: decode NUL-terminated base64 text (padding
 * required, no whitespace, unused bits of the last group zero) into a newly
 * allocated buffer, NUL-terminated for convenience, with its length in
 * *len.  Returns NULL on bad input.
 */
unsigned char *crypto_base64_decode(const char *text, size_t *len);

#endif
