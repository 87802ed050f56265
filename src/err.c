/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Error codes, their classes and the exit code mapping. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static const struct {
	int		 code;
	const char	*name;
	bool		 temporary;
} err_table[] = {
	{ E_OK, "E_OK", false },
	{ E_IO, "E_IO", true },
	{ E_TIMEOUT, "E_TIMEOUT", true },
	{ E_PROTO, "E_PROTO", true },
	{ E_AUTH, "E_AUTH", false },
	{ E_TLS, "E_TLS", false },
	{ E_SERVER, "E_SERVER", false },
	{ E_INSECURE, "E_INSECURE", false },
	{ E_DELIVERY, "E_DELIVERY", true },
	{ E_STORE, "E_STORE", false },
	{ E_CONFIG, "E_CONFIG", false },
	{ E_ABORT, "E_ABORT", true },
	{ E_USAGE, "E_USAGE", false },
};

int
err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list	ap;

	if (e == NULL)
		return code;
	e->code = code;
	e->temporary = err_code_is_temporary(code);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
err_prefix(struct err *e, const char *fmt, ...)
{
	va_list	ap;
	char	old[ERR_MSGLEN];
	int	n;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->msg) - 2)
		return;
	/* Append ": old", truncating the old message if it must. */
	e->msg[n] = ':';
	e->msg[n + 1] = ' ';
	memcpy(e->msg + n + 2, old, sizeof(e->msg) - (size_t)n - 2);
	e->msg[sizeof(e->msg) - 1] = '\0';
}

const char *
err_after_prefix(const struct err *e, const char *prefix)
{
	size_t	len = strlen(prefix);

	if (strncmp(e->msg, prefix, len) != 0 ||
	    strncmp(e->msg + len, ": ", 2) != 0)
		return NULL;
	return e->msg + len + 2;
}

void
err_clear(struct err *e)
{
	e->code = E_OK;
	e->temporary = false;
	e->msg[0] = '\0';
}

bool
err_code_is_temporary(int code)
{
	size_t	i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return err_table[i].temporary;
	return false;
}

bool
err_is_temporary(const struct err *e)
{
	return e->temporary;
}

const char *
err_name(int code)
{
	size_t	i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return err_table[i].name;
	return "E_UNKNOWN";
}

int
err_exitcode(int code)
{
	switch (code) {
	case E_OK:
		return 0;
	case E_CONFIG:
	case E_USAGE:
		return 2;
	default:
		return 1;
	}
}

void
err_sanitize(char *dst, size_t dstlen, const char *src)
{
	size_t	i;

	if (dstlen == 0)
		return;
	for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	dst[i] = '\0';
}
