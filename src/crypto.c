/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* MD5 and HMAC-MD5 from libcrypto, and strict base64 for APOP and SASL. */

#include "autoconf.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "log.h"
#include "xmalloc.h"

#define CRYPTO_MD5_LEN	16

static void	 crypto_hex(const unsigned char *md, size_t len, char *out);
static int	 crypto_b64_value(unsigned char c);

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Write len bytes as lower-case hex plus a NUL into out. */
static void
crypto_hex(const unsigned char *md, size_t len, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* MD5 of data in hex. */
void
crypto_md5_hex(const void *data, size_t len, char out[33])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	/*
	 * This fails only without an MD5 implementation (a FIPS-only
	 * provider), which the API has no way to report: treat it as broken.
	 */
	if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 ||
	    mdlen != CRYPTO_MD5_LEN)
		fatalx("%s: MD5 unavailable in libcrypto", __func__);
	crypto_hex(md, mdlen, out);
	OPENSSL_cleanse(md, sizeof(md));
}

/* HMAC-MD5(key, data) in hex. */
void
crypto_hmac_md5_hex(const void *key, size_t keylen, const void *data,
    size_t len, char out[33])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (keylen > INT_MAX)
		fatalx("%s: key too long", __func__);
	/* An empty key still needs a non-NULL pointer for HMAC(). */
	if (key == NULL)
		key = "";
	if (HMAC(EVP_md5(), key, (int)keylen, data, len, md, &mdlen) ==
	    NULL || mdlen != CRYPTO_MD5_LEN)
		fatalx("%s: HMAC-MD5 unavailable in libcrypto", __func__);
	crypto_hex(md, mdlen, out);
	OPENSSL_cleanse(md, sizeof(md));
}

/* Base64 of data, padded, without line breaks. */
char *
crypto_base64_encode(const void *data, size_t len)
{
	const unsigned char	*p = data;
	char			*out, *o;
	unsigned long		 v;
	size_t			 i, rest;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		fatalx("%s: input too long", __func__);
	out = o = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 3 <= len; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		*o++ = b64_alphabet[v >> 18 & 0x3f];
		*o++ = b64_alphabet[v >> 12 & 0x3f];
		*o++ = b64_alphabet[v >> 6 & 0x3f];
		*o++ = b64_alphabet[v & 0x3f];
	}
	rest = len - i;
	if (rest > 0) {
		v = (unsigned long)p[i] << 16;
		if (rest == 2)
			v |= (unsigned long)p[i + 1] << 8;
		*o++ = b64_alphabet[v >> 18 & 0x3f];
		*o++ = b64_alphabet[v >> 12 & 0x3f];
		*o++ = rest == 2 ? b64_alphabet[v >> 6 & 0x3f] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* The 6-bit value of a base64 character, or -1 for any other byte. */
static int
crypto_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 decode: the length must be a multiple of 4, '=' may only
 * end the last group (one or two of them), and the bits a short group does
 * not use must be zero (RFC 4648 3.5), so every input has one encoding.
 */
unsigned char *
crypto_base64_decode(const char *text, size_t *len)
{
	unsigned char	*out = NULL, *o;
	size_t		 tlen, i, pad = 0;
	unsigned long	 v;
	int		 c, k;

	tlen = strlen(text);
	if (tlen % 4 != 0)
		goto fail;
	if (tlen > 0 && text[tlen - 1] == '=')
		pad = text[tlen - 2] == '=' ? 2 : 1;
	out = o = xmalloc(tlen / 4 * 3 + 1);
	for (i = 0; i < tlen; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			/* Padding is only legal in the final group's tail. */
			if (i + 4 == tlen && k >= 4 - (int)pad) {
				v <<= 6;
				continue;
			}
			c = crypto_b64_value((unsigned char)text[i + k]);
			if (c < 0)
				goto fail;
			v = v << 6 | (unsigned long)c;
		}
		*o++ = v >> 16 & 0xff;
		if (i + 4 == tlen && pad == 2) {
			if ((v & 0xffff) != 0)
				goto fail;
			break;
		}
		*o++ = v >> 8 & 0xff;
		if (i + 4 == tlen && pad == 1) {
			if ((v & 0xff) != 0)
				goto fail;
			break;
		}
		*o++ = v & 0xff;
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;

fail:
	freezero(out, tlen / 4 * 3 + 1);
	return NULL;
}
