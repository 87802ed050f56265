/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_PROBE_H
#define POPSYNC_PROBE_H

#include <stdio.h>

#include "account.h"
#include "err.h"

/*
 * probe_run: connect to the account's server and report on out what a user
 * setting it up needs to see: the greeting, TLS version, cipher and peer
 * certificate (subject, issuer, expiry, SHA-256 fingerprint), the CAPA
 * list, the login method chosen; then log in, print STAT and QUIT.
 * Returns 0, or the error of the step that failed (see session_open);
 * e's message names the account, the command and the server's reply.
 */
int	 probe_run(const struct account *a, FILE *out, struct err *e);

#endif
