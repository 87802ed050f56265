/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_CONFIG_H
#define POPSYNC_CONFIG_H

#include "account.h"
#include "err.h"
#include "log.h"

/*
 * The config file (libconfig syntax) loaded into plain structs.  This is
 * the only module that includes <libconfig.h>.
 *
 * Every error message starts with "FILE:LINE: ".  Unknown keys, wrong
 * types, bad values, missing required keys and two password sources are
 * errors; so is a file holding a password that group or others can read.
 */

struct config {
	char			*path;
	char			*state_db;	/* never NULL after config_load */
	int			 interval;	/* seconds, default 300 */
	int			 max_parallel;	/* default 4 */
	enum log_level		 log_level;	/* default info */
	bool			 log_level_set;
	bool			 allow_root;	/* run as root; default false */
	struct account_list	 accounts;
};

/*
 * config_load: parse path, merge global defaults into each account and run
 * account_check on each.  On success *out owns everything.
 * Errors: E_CONFIG (the message names FILE:LINE or the file and why).
 */
int	 config_load(const char *path, struct config **out, struct err *e);

/* config_free: accepts NULL. */
void	 config_free(struct config *c);

/*
 * config_default_path: $XDG_CONFIG_HOME/popsyncd/config, else
 * ~/.config/popsyncd/config; caller frees.
 */
char	*config_default_path(void);

/*
 * config_default_state_db: $XDG_STATE_HOME/popsyncd/state.db, else
 * ~/.local/state/popsyncd/state.db; caller frees.  config_load puts it in
 * state_db when the file sets none.
 */
char	*config_default_state_db(void);

/* config_find: the account with that name, or NULL. */
struct account *config_find(const struct config *c, const char *name);

#endif
