/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/*
 * Known-answer tests for crypto.c: MD5, HMAC-MD5, strict base64 and the
 * certificate pin parser.
 */

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
static void	 test_pin_parse(void **);

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

#define PIN_HEX \
	"0b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8cdf2173c6186"
#define PIN_COLONS \
	"0B:30:55:7A:9F:C4:E9:0E:33:58:7D:A2:C7:EC:11:36:" \
	"5B:80:A5:CA:EF:14:39:5E:83:A8:CD:F2:17:3C:61:86"

/*
 * Every spelling the config check accepts gives the same 32 bytes; every
 * other is refused (the handshake once took "SHA256:" that the check did
 * not).
 */
static void
test_pin_parse(void **state)
{
	static const struct {
		const char	*s;
		int		 rc;
	} rows[] = {
		{ "sha256:" PIN_HEX, 0 },
		{ "sha256:" PIN_COLONS, 0 },
		{ "sha256:0B30557A9FC4E90E33587DA2C7EC11365B80A5CAEF14395E83A8CD"
		    "F2173C6186", 0 },
		{ "sha256:0b:30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8"
		    "cdf2173c6186", 0 },
		{ "SHA256:" PIN_HEX, -1 },
		{ "sha1:" PIN_HEX, -1 },
		{ PIN_HEX, -1 },
		{ "sha256:", -1 },
		{ "sha256::" PIN_COLONS, -1 },
		{ "sha256:" PIN_COLONS ":", -1 },
		{ "sha256:0B::30:55:7A:9F:C4:E9:0E:33:58:7D:A2:C7:EC:11:36:"
		    "5B:80:A5:CA:EF:14:39:5E:83:A8:CD:F2:17:3C:61:86", -1 },
		{ "sha256:0:B30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8"
		    "cdf2173c6186", -1 },
		{ "sha256:" PIN_HEX "00", -1 },
		{ "sha256:" PIN_HEX "0", -1 },
		{ "sha256:0b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8c"
		    "df2173c61", -1 },
		{ "sha256:0b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8c"
		    "df2173c61g", -1 },
		{ "sha256: " PIN_HEX, -1 },
	};
	static const unsigned char want[CRYPTO_SHA256_LEN] = {
		0x0b, 0x30, 0x55, 0x7a, 0x9f, 0xc4, 0xe9, 0x0e, 0x33, 0x58,
		0x7d, 0xa2, 0xc7, 0xec, 0x11, 0x36, 0x5b, 0x80, 0xa5, 0xca,
		0xef, 0x14, 0x39, 0x5e, 0x83, 0xa8, 0xcd, 0xf2, 0x17, 0x3c,
		0x61, 0x86
	};
	unsigned char	md[CRYPTO_SHA256_LEN];
	size_t		i;
	int		rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(md, 0, sizeof(md));
		rc = crypto_pin_parse(rows[i].s, md);
		if (rc != rows[i].rc)
			fail_msg("row %zu (%s): got %d", i, rows[i].s, rc);
		if (rc == 0 && memcmp(md, want, sizeof(md)) != 0)
			fail_msg("row %zu (%s): wrong bytes", i, rows[i].s);
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
	const struct CMUnitTest pin_tests[] = {
		cmocka_unit_test(test_pin_parse),
	};
	int	 rc = 0;

	rc |= cmocka_run_group_tests_name("crypto_pin_parse", pin_tests,
	    NULL, NULL);
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
