/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* --probe: show what a server offers, log in, STAT, QUIT. */

#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "account.h"
#include "conn.h"
#include "err.h"
#include "pop3.h"
#include "probe.h"
#include "session.h"
#include "tls.h"

static void	probe_print_tls(struct pop3 *, FILE *);
static void	probe_print_chain(const struct tls_info *, FILE *);
static void	probe_explain(const struct account *, int, const struct err *,
		    FILE *);
static void	probe_explain_cert(const struct account *, enum tls_failure,
		    const struct err *, FILE *);

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

/* Every certificate the server sent, leaf first. */
static void
probe_print_chain(const struct tls_info *ti, FILE *out)
{
	const struct tls_cert	*c;
	size_t			 i;

	fprintf(out, "chain:        %zu certificate%s sent, the server's "
	    "own first\n", ti->chain_len, ti->chain_len == 1 ? "" : "s");
	for (i = 0; i < ti->nchain; i++) {
		c = &ti->chain[i];
		fprintf(out, "cert %zu:       subject %s\n", i, c->subject);
		fprintf(out, "              issuer  %s\n", c->issuer);
		fprintf(out, "              valid   %s to %s\n", c->not_before,
		    c->not_after);
		fprintf(out, "              names   %s\n",
		    c->names[0] != '\0' ? c->names : "(no subjectAltName)");
		fprintf(out, "              sha256  %s\n", c->fingerprint + 7);
	}
	if (ti->chain_len > ti->nchain)
		fprintf(out, "              (%zu more not shown)\n",
		    ti->chain_len - ti->nchain);
}

/*
 * After a failed connect: say which config key fixes it.  A certificate
 * that failed a check is fetched again without the checks, only to show
 * it; nothing is sent over that link but CAPA (and STLS).
 */
static void
probe_explain(const struct account *a, int rc, const struct err *e,
    FILE *out)
{
	enum tls_failure	kind = tls_failure_kind(e);

	switch (kind) {
	case TLS_FAIL_CHAIN:
	case TLS_FAIL_HOST:
	case TLS_FAIL_PIN:
		probe_explain_cert(a, kind, e, out);
		break;
	case TLS_FAIL_NOT_TLS:
		fprintf(out, "fix:          %s:%d answers in plain POP3, not "
		    "TLS: for STLS on this port set tls = \"starttls\"; for "
		    "TLS from the first byte use its TLS port (995) with tls "
		    "= \"implicit\"\n", a->host, a->port);
		break;
	default:
		/* A TLS port waits for our ClientHello: no greeting ever. */
		if (rc == E_TIMEOUT && a->tls != ACCOUNT_TLS_IMPLICIT)
			fprintf(out, "fix:          no greeting from %s:%d "
			    "within %d s; a port that expects TLS from the "
			    "first byte (as 995 does) waits for the client to "
			    "start it: set tls = \"implicit\"\n", a->host,
			    a->port, a->timeout);
		break;
	}
}

/* Show the chain that failed a check, and the key that fixes it. */
static void
probe_explain_cert(const struct account *a, enum tls_failure kind,
    const struct err *e, FILE *out)
{
	struct account	 look = *a;
	struct pop3	*p = NULL;
	struct tls_info	 ti;
	struct err	 e2;
	const char	*fp;

	err_clear(&e2);
	fprintf(out, "tls:          failed: %s\n", e->msg);
	look.tls_verify = false;
	look.tls_fingerprint = NULL;
	if (session_connect(&look, NULL, &p, &e2) < 0 ||
	    !conn_tls_info(pop3_conn(p), &ti) || ti.nchain == 0) {
		fprintf(out, "chain:        (cannot show it: %s)\n",
		    e2.code < 0 ? e2.msg : "no certificate");
		goto out;
	}
	probe_print_chain(&ti, out);
	fp = ti.chain[0].fingerprint;
	switch (kind) {
	case TLS_FAIL_HOST:
		fprintf(out, "fix:          the certificate is for the names "
		    "above, not for %s: set host to one of them; or, if this "
		    "is the server you mean, pin it: tls_fingerprint = "
		    "\"%s\"\n", a->host, fp);
		break;
	case TLS_FAIL_PIN:
		fprintf(out, "fix:          the server's certificate is not "
		    "the one tls_fingerprint pins; if it changed and you trust "
		    "the new one, set tls_fingerprint = \"%s\"\n", fp);
		break;
	default:
		if (strstr(e->msg, "expired") != NULL ||
		    strstr(e->msg, "not yet valid") != NULL)
			fprintf(out, "fix:          a certificate is outside "
			    "its validity (see \"valid\"): the server must "
			    "renew it; meanwhile a pin accepts it: "
			    "tls_fingerprint = \"%s\" with tls_verify = "
			    "false\n", fp);
		else
			fprintf(out, "fix:          the chain does not lead "
			    "to a CA this account trusts (%s%s): set ca_file "
			    "to the CA certificate that issued the last one "
			    "above; or pin the server's certificate: "
			    "tls_fingerprint = \"%s\" with tls_verify = "
			    "false\n", a->ca_file != NULL ? "ca_file " :
			    "the system store", a->ca_file != NULL ?
			    a->ca_file : "", fp);
		break;
	}
out:
	pop3_free(p);
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
	/* A TLS port waits for us to speak first: it never greets. */
	if (a->port == 995 && a->tls != ACCOUNT_TLS_IMPLICIT)
		fprintf(out, "note:         port 995 is the implicit-TLS port; "
		    "with tls = \"%s\" no greeting may come (tls = "
		    "\"implicit\" fixes that)\n", account_tls_name(a->tls));
	fflush(out);
	if ((rc = session_connect(a, NULL, &p, e)) < 0) {
		probe_explain(a, rc, e, out);
		goto out;
	}
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
