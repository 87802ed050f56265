/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz SASL challenges: the "+ " line, its base64 and every mechanism. */

#include "autoconf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "fuzz.h"
#include "pop3_parse.h"
#include "sasl.h"
#include "xmalloc.h"

/*
 * Input: a server line during AUTH, as sasl_auth reads it.
 *
 * Invariants: base64 is strict both ways (a decoded challenge encodes back
 * to exactly the text it came from, and any bytes encode and decode back
 * to themselves); every mechanism, fed the challenge at each step, either
 * answers with a NUL-terminated response of the length it reports or fails
 * with E_AUTH and a message, and never answers after its last step.
 */

static const char *const mechs[] = {
	"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"
};

static void	check_base64(const char *, const uint8_t *, size_t);
static void	run_mech(const struct sasl_mech *, const unsigned char *,
		    size_t);

/* Decoding is strict and encoding round-trips. */
static void
check_base64(const char *text, const uint8_t *raw, size_t rawlen)
{
	unsigned char	*dec;
	char		*enc;
	size_t		 len;

	if ((dec = crypto_base64_decode(text, &len)) != NULL) {
		FUZZ_CHECK(dec[len] == '\0', "decoded text not terminated");
		enc = crypto_base64_encode(dec, len);
		FUZZ_CHECK(strcmp(enc, text) == 0,
		    "\"%s\" decodes, but encodes back as \"%s\"", text, enc);
		free(enc);
		free(dec);
	}
	enc = crypto_base64_encode(raw, rawlen);
	FUZZ_CHECK(strlen(enc) == (rawlen + 2) / 3 * 4, "encoded length");
	dec = crypto_base64_decode(enc, &len);
	FUZZ_CHECK(dec != NULL && len == rawlen &&
	    (rawlen == 0 || memcmp(dec, raw, rawlen) == 0),
	    "encode then decode changed %zu bytes", rawlen);
	free(dec);
	free(enc);
}

/* Run mech with chal at every step, as a server repeating itself would. */
static void
run_mech(const struct sasl_mech *mech, const unsigned char *chal,
    size_t chlen)
{
	struct sasl_ctx	 ctx;
	struct err	 e;
	unsigned char	*out;
	size_t		 outlen;
	int		 step, rc, answered = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.user = "user@example.org";
	ctx.secret = "s3cret";
	ctx.host = "pop.example.org";
	ctx.port = 995;
	for (step = 0; step < 4; step++) {
		out = NULL;
		outlen = 0;
		err_clear(&e);
		if (step == 0 && mech->client_first)
			rc = mech->step(&ctx, NULL, 0, &out, &outlen, &e);
		else
			rc = mech->step(&ctx, chal, chlen, &out, &outlen, &e);
		if (rc < 0) {
			FUZZ_CHECK(rc == E_AUTH && e.code == E_AUTH &&
			    e.msg[0] != '\0' && out == NULL,
			    "%s: error %d \"%s\"", mech->name, rc, e.msg);
			continue;
		}
		FUZZ_CHECK(rc == 0 && out != NULL && out[outlen] == '\0',
		    "%s: unterminated response", mech->name);
		/* Only PLAIN's response holds NULs. */
		if (strcmp(mech->name, "PLAIN") != 0)
			FUZZ_CHECK(strlen((char *)out) == outlen,
			    "%s: length %zu", mech->name, outlen);
		freezero(out, outlen + 1);
		answered++;
	}
	/* No mechanism here takes more than two steps. */
	FUZZ_CHECK(answered <= 2, "%s answered %d times", mech->name,
	    answered);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_status	 st;
	const struct sasl_mech	*mech;
	unsigned char		*chal;
	char			*line;
	size_t			 i, chlen;

	line = fuzz_cstr(data, size);
	check_base64(line, data, size);
	if (pop3_parse_status(line, &st) == 0 && st.kind == POP3_CONT &&
	    (chal = crypto_base64_decode(st.text, &chlen)) != NULL) {
		for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
			mech = sasl_find(mechs[i]);
			FUZZ_CHECK(mech != NULL, "%s missing", mechs[i]);
			run_mech(mech, chal, chlen);
		}
		free(chal);
	}
	free(line);
	return 0;
}
