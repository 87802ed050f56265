/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* --probe: show what a server offers, log in, STAT, QUIT. */

#include "autoconf.h"

#include <stdio.h>

#include "account.h"
#include "conn.h"
#include "err.h"
#include "pop3.h"
#include "probe.h"
#include "session.h"

static void	probe_print_tls(struct pop3 *, FILE *);

/* The TLS session details, or a note that the link is in clear. */
static void
probe_print_tls(struct pop3 *p, FILE *out)
{
	struct tls_info	ti;

	if (!conn_tls_info(pop3_conn(p), &ti)) {
		fprintf(out, "tls:          none (cleartext link)\n");
		return;
	}
	fprintf(out, "tls:          %s, %s\n", ti.version, ti.cipher);
	fprintf(out, "subject:      %s\n", ti.subject);
	fprintf(out, "issuer:       %s\n", ti.issuer);
	fprintf(out, "expires:      %s\n", ti.not_after);
	fprintf(out, "fingerprint:  %s\n", ti.fingerprint);
}

int
probe_run(const struct account *a, FILE *out, struct err *e)
{
	const struct pop3_capa	*caps;
	struct pop3		*p = NULL;
	const char		*method = NULL;
	unsigned long		 count;
	unsigned long long	 octets;
	size_t			 i;
	int			 rc;

	fprintf(out, "account:      %s\n", a->name);
	fprintf(out, "server:       %s:%d (tls %s)\n", a->host, a->port,
	    account_tls_name(a->tls));
	if ((rc = session_connect(a, NULL, &p, e)) < 0)
		goto out;
	fprintf(out, "greeting:     %s\n", pop3_welcome(p));
	probe_print_tls(p, out);
	caps = pop3_caps(p);
	if (caps->nlines == 0)
		fprintf(out, "capa:         (none: the server has no CAPA)\n");
	for (i = 0; i < caps->nlines; i++)
		fprintf(out, "capa:         %s\n", caps->lines[i]);
	fflush(out);

	if ((rc = session_login(a, p, &method, e)) < 0) {
		if (method != NULL)
			fprintf(out, "auth:         %s (failed)\n", method);
		goto out;
	}
	fprintf(out, "auth:         %s (logged in as %s)\n", method, a->user);
	if ((rc = pop3_stat(p, &count, &octets, e)) < 0)
		goto fail;
	fprintf(out, "stat:         %lu messages, %llu octets\n", count,
	    octets);
	if ((rc = pop3_quit(p, e)) < 0)
		goto fail;
	fprintf(out, "quit:         ok\n");
	goto out;

fail:
	err_prefix(e, "%s", a->name);
out:
	pop3_free(p);
	return rc;
}
