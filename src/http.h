/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_HTTP_H
#define POPSYNC_HTTP_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "err.h"

/*
 * HTTPS requests for OAuth2 (issue 12).  This is the only module that
 * includes <curl/curl.h> (STYLE 11).  The trust rules are POP's: the chain
 * and the host name are always verified, against ca_file when it is set
 * and the system store otherwise; only https:// URLs are fetched and
 * redirects are not followed.  Nothing is traced: requests and replies
 * carry secrets.
 */

/* The longest reply body kept; a token reply is a few KiB. */
#define HTTP_BODY_MAX	(64 * 1024)

struct http_params {
	const char	*ca_file;	/* NULL: the system's trust store */
	int		 timeout_ms;	/* for the whole request */
	/* Optional: run about once a second while waiting; once
	 * *abort_flag is set the request ends with E_ABORT. */
	void		(*idle)(void *arg);
	void		 *idle_arg;
	const atomic_int *abort_flag;
};

/*
 * http_post_form: POST the fields (name, value pairs ending in a NULL
 * name) as application/x-www-form-urlencoded to url and wait for the whole
 * reply.  *status gets the HTTP status; *body the reply body, NUL-
 * terminated, which the caller frees with freezero(*body, 0) as it may
 * hold tokens.  Any status is a success here: the caller reads the body.
 * Messages name the URL but no field value.
 * Errors: E_IO (connect, send, receive), E_TIMEOUT, E_TLS (handshake or
 * verification), E_PROTO (a body over HTTP_BODY_MAX), E_ABORT.
 */
int	 http_post_form(const char *url, const char *const *fields,
	    const struct http_params *hp, long *status, char **body,
	    struct err *e);

#endif
