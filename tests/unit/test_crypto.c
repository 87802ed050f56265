/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Known-answer tests for crypto.c: MD5, HMAC-MD5 and strict base64. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define BYTES(s)	(s), sizeof(s) - 1

static void	 test_md5_hex(void **);
static void	 test_hmac_md5_hex(void **);
static void	 test_base64_encode(void **);
static void	 test_base64_decode(void **);
static void	 test_base64_decode_bad(void **);

/* RFC 1321 appendix A.5. */
static const struct {
	const char	*in;
	const char	*md5;
} md5_cases[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ "a", "0cc175b9c0f1b6a831c399e269772661" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
	{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
};

/* MD5 of each RFC 1321 input, in lower-case hex. */
static void
test_md5_hex(void **state)
{
	char	out[33];
	size_t	i;

	for (i = 0; i < sizeof(md5_cases) / sizeof(md5_cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		crypto_md5_hex(md5_cases[i].in, strlen(md5_cases[i].in), out);
		assert_string_equal(out, md5_cases[i].md5);
	}
}

/* RFC 2202 section 2, test cases 1, 2, 3 and 6 (key longer than a block). */
static const struct {
	const char	*key;
	size_t		 keylen;
	const char	*data;
	size_t		 len;
	const char	*mac;
} hmac_cases[] = {
	{ BYTES("\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b"
	    "\x0b\x0b"), BYTES("Hi There"),
	    "9294727a3638bb1c13f48ef8158bfc9d" },
	{ BYTES("Jefe"), BYTES("what do ya want for nothing?"),
	    "750c783e6ab0b503eaa86e310a5db738" },
	{ BYTES("\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa"),
	    BYTES("\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd"
	    "\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd"
	    "\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd"
	    "\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd"
	    "\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd\xdd"),
	    "56be34521d144c88dbb8c733f0e8b3f6" },
	{ BYTES("\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"),
	    BYTES("Test Using Larger Than Block-Size Key - Hash Key First"),
	    "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd" },
	/* An empty key and message (a CRAM-MD5 user with no password). */
	{ BYTES(""), BYTES(""), "74e6f7298a9c2d168935f58c001bad88" },
};

/* HMAC-MD5 of each RFC 2202 case, in lower-case hex. */
static void
test_hmac_md5_hex(void **state)
{
	char	out[33];
	size_t	i;

	for (i = 0; i < sizeof(hmac_cases) / sizeof(hmac_cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		crypto_hmac_md5_hex(hmac_cases[i].key, hmac_cases[i].keylen,
		    hmac_cases[i].data, hmac_cases[i].len, out);
		assert_string_equal(out, hmac_cases[i].mac);
	}
}

/* RFC 4648 section 10, plus bytes that need the whole alphabet. */
static const struct {
	const char	*raw;
	size_t		 len;
	const char	*b64;
} b64_cases[] = {
	{ BYTES(""), "" },
	{ BYTES("f"), "Zg==" },
	{ BYTES("fo"), "Zm8=" },
	{ BYTES("foo"), "Zm9v" },
	{ BYTES("foob"), "Zm9vYg==" },
	{ BYTES("fooba"), "Zm9vYmE=" },
	{ BYTES("foobar"), "Zm9vYmFy" },
	{ BYTES("\0a"), "AGE=" },
	{ BYTES("\xff\xfe\xfd"), "//79" },
	{ BYTES("\xfb\xff\xbf"), "+/+/" },
	{ BYTES("\0tim\0tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm" },
};

/* Encoding each raw input gives its base64 text. */
static void
test_base64_encode(void **state)
{
	char	*s;
	size_t	 i;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		s = crypto_base64_encode(b64_cases[i].raw, b64_cases[i].len);
		assert_string_equal(s, b64_cases[i].b64);
		free(s);
	}
}

/* Decoding each base64 text gives its raw bytes, NUL-terminated. */
static void
test_base64_decode(void **state)
{
	unsigned char	*p;
	size_t		 i, len;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		len = (size_t)-1;
		p = crypto_base64_decode(b64_cases[i].b64, &len);
		assert_non_null(p);
		assert_int_equal(len, b64_cases[i].len);
		assert_memory_equal(p, b64_cases[i].raw, len);
		assert_int_equal(p[len], '\0');
		free(p);
	}
}

/* Malformed base64: every row must be refused. */
static const char *const b64_bad[] = {
	"Z",			/* length 1 */
	"Zg",			/* padding left out */
	"Zg=",			/* padding cut short */
	"Zm9",			/* length 3 */
	"Zm9vY",		/* length 5 */
	"Z===",			/* three pad characters */
	"====",			/* nothing but padding */
	"=Zm9",			/* padding first */
	"Zm=v",			/* padding inside a group */
	"Zg==Zm9v",		/* padding before the last group */
	"Zg==Zg==",		/* two padded groups */
	"Zm9v====",		/* a whole group of padding */
	"Zh==",			/* non-zero bits under "==" */
	"Zm9=",			/* non-zero bits under "=" */
	"Zm-v",			/* base64url alphabet */
	"Zm_v",			/* base64url alphabet */
	"Zm 9",			/* space */
	"Zm\r\n",		/* line ending */
	"Zm9\n",		/* line break */
	"Zm9.",			/* punctuation */
	"Zm9\x80",		/* high byte */
	"Zm\xc3\xa4",		/* UTF-8 */
};

/* crypto_base64_decode returns NULL for every malformed row. */
static void
test_base64_decode_bad(void **state)
{
	unsigned char	*p;
	size_t		 i, len;

	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		p = crypto_base64_decode(b64_bad[i], &len);
		if (p != NULL)
			fail_msg("row %zu \"%s\" decoded", i, b64_bad[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest md5_tests[] = {
		cmocka_unit_test(test_md5_hex),
	};
	const struct CMUnitTest hmac_tests[] = {
		cmocka_unit_test(test_hmac_md5_hex),
	};
	const struct CMUnitTest encode_tests[] = {
		cmocka_unit_test(test_base64_encode),
	};
	const struct CMUnitTest decode_tests[] = {
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_base64_decode_bad),
	};
	int	 rc = 0;

	rc |= cmocka_run_group_tests_name("crypto_md5_hex", md5_tests,
	    NULL, NULL);
	rc |= cmocka_run_group_tests_name("crypto_hmac_md5_hex", hmac_tests,
	    NULL, NULL);
	rc |= cmocka_run_group_tests_name("crypto_base64_encode",
	    encode_tests, NULL, NULL);
	rc |= cmocka_run_group_tests_name("crypto_base64_decode",
	    decode_tests, NULL, NULL);
	return rc == 0 ? 0 : 1;
}
