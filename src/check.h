/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_CHECK_H
#define POPSYNC_CHECK_H

#include <stdio.h>

#include "config.h"

/*
 * --check-config beyond what config_load validates: what can be checked
 * offline, without a server, in the file system.
 *
 * Errors (the config would fail at run time): no accounts; a ca_file that
 * is missing, not a regular file or holds no certificate; two accounts on
 * one Maildir whose keep or delete_after_days differ (one would delete
 * what the other keeps).  (A password_file that is missing, a directory or
 * readable by others is account_check's, so config_load's.)
 * Warnings (it runs, but maybe not as meant): a relative path (maildir,
 * ca_file, password_file, state_db), which depends on the directory popsyncd
 * starts in (under systemd: /).  A missing file under /tmp or /var/tmp
 * adds why a service may not see it (util_private_tmp_hint).
 */

/*
 * check_config: run the checks on cfg and print each finding to errs as
 * "popsyncd: error: FILE:LINE: ..." or "popsyncd: warning: FILE:LINE:
 * ...", as log.c writes config errors; FILE:LINE is where the account
 * starts, or the config file alone for a global setting.  Returns the
 * number of errors.
 */
int	 check_config(const struct config *cfg, FILE *errs);

/*
 * check_summary: print to out the line --check-config gives for a config,
 * "FILE: ok, N accounts", then one line per account: name, mailbox
 * (user@host:port, tls, auth), Maildir, keep or delete, interval and the
 * state database.
 */
void	 check_summary(const struct config *cfg, FILE *out);

#endif
