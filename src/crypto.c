/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* MD5, HMAC-MD5 and strict base64 from libcrypto, for APOP and SASL. */

#include "autoconf.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "log.h"
#include "xmalloc.h"

#define CRYPTO_MD5_LEN	16

static void	 crypto_hex(const unsigned char *md, size_t len, char *out);

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

/* Base64 of data, padded, without line breaks (EVP_EncodeBlock). */
char *
crypto_base64_encode(const void *data, size_t len)
{
	char	*out;
	int	 n;

	if (len > (size_t)INT_MAX / 4 * 3 - 2)
		fatalx("%s: input too long", __func__);
	out = xmalloc((len + 2) / 3 * 4 + 1);
	n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	if (n < 0 || (size_t)n != (len + 2) / 3 * 4)
		fatalx("%s: EVP_EncodeBlock returned %d", __func__, n);
	return out;
}

/*
 * Strict base64 decode.  EVP_DecodeBlock trims white space and does not
 * check that padding and the unused bits of a short last group are
 * canonical, so the result is encoded again and must give back the text
 * exactly: every input has one encoding (RFC 4648 3.5), and anything
 * outside the alphabet, white space included, is refused.
 */
unsigned char *
crypto_base64_decode(const char *text, size_t *len)
{
	unsigned char	*out = NULL;
	char		*again = NULL;
	size_t		 tlen, pad = 0, cap = 0;
	int		 n;

	tlen = strlen(text);
	if (tlen % 4 != 0 || tlen > (size_t)INT_MAX)
		return NULL;
	if (tlen > 0 && text[tlen - 1] == '=')
		pad = text[tlen - 2] == '=' ? 2 : 1;
	cap = tlen / 4 * 3 + 1;
	out = xmalloc(cap);
	n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)tlen);
	if (n < 0 || (size_t)n != tlen / 4 * 3)
		goto fail;
	*len = (size_t)n - pad;
	out[*len] = '\0';
	again = crypto_base64_encode(out, *len);
	if (strcmp(again, text) != 0)
		goto fail;
	freezero(again, tlen + 1);
	return out;

fail:
	if (again != NULL)
		freezero(again, strlen(again) + 1);
	freezero(out, cap);
	return NULL;
}

/*
 * OPENSSL_hexstr2buf_ex takes hex in either case and skips any run of
 * separators between bytes; one colon, only between two bytes, is allowed
 * here, so that a pin has one spelling per choice of colons.
 */
int
crypto_pin_parse(const char *s, unsigned char out[CRYPTO_SHA256_LEN])
{
	size_t	len, n = 0;

	if (strncmp(s, "sha256:", 7) != 0)
		return -1;
	s += 7;
	len = strlen(s);
	if (len == 0 || s[0] == ':' || s[len - 1] == ':' ||
	    strstr(s, "::") != NULL)
		return -1;
	if (OPENSSL_hexstr2buf_ex(out, CRYPTO_SHA256_LEN, &n, s, ':') != 1 ||
	    n != CRYPTO_SHA256_LEN) {
		/* Leave no stale error for the next TLS failure's report. */
		ERR_clear_error();
		return -1;
	}
	return 0;
}
