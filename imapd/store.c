/*
 * imapd/store.c — STORE and UID STORE (RFC 9051 6.4.6, RFC 3501 6.4.6):
 *
 *   store          = "STORE" SP sequence-set [SP store-modifiers] SP
 *                    store-att-flags
 *   store-modifiers = "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"
 *   store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
 *                    (flag-list / (flag *(SP flag)))
 *
 * One statement per batch of UIDs (mdb_store_sql) changes what changes
 * under one new modseq; each message of the set is then answered with
 * its flags as a FETCH (with UID for UID STORE) unless .SILENT, through
 * fetch.c's engine.  \Recent cannot be stored (flags_parse refuses it).
 *
 * CONDSTORE (RFC 7162 3.1.3): with UNCHANGEDSINCE, a message whose
 * modseq is greater is left alone and listed in the tagged OK's
 * [MODIFIED set]; once CONDSTORE is enabled the answers carry UID and
 * MODSEQ, and .SILENT still answers the messages changed (UID and
 * MODSEQ only), so the client learns their new modseq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "xmalloc.h"
#include "imapd.h"
#include "fetch.h"

#define STORE_BATCH	500

enum store_op {
	STORE_REPLACE,		/* FLAGS */
	STORE_ADD,		/* +FLAGS */
	STORE_REMOVE,		/* -FLAGS */
};

/* [+-]FLAGS[.SILENT]; -1 when it is none of them. */
static int
store_att(const struct imap_arg *arg, enum store_op *op_r, bool *silent_r)
{
	const char	*s;

	if (!imap_arg_atom(arg, &s))
		return -1;
	*op_r = *s == '+' ? STORE_ADD : *s == '-' ? STORE_REMOVE :
	    STORE_REPLACE;
	if (*s == '+' || *s == '-')
		s++;
	if (strncasecmp(s, "FLAGS", 5) != 0)
		return -1;
	s += 5;
	*silent_r = strcasecmp(s, ".SILENT") == 0;
	return *s == '\0' || *silent_r ? 0 : -1;
}

static void
keyword_add(struct flag_list *all, char *kw)
{
	for (size_t i = 0; i < all->n; i++)
		if (strcasecmp(all->v[i], kw) == 0) {
			free(kw);
			return;
		}
	all->v = xreallocarray(all->v, all->n + 1, sizeof(*all->v));
	all->v[all->n++] = kw;
}

/* A flag list, or flags one per argument; keywords without duplicates. */
static int
store_flags(const struct imap_arg *args, size_t n, unsigned *bits_r,
    struct flag_list *all)
{
	struct flag_list	 kw;
	unsigned		 bits;

	*bits_r = 0;
	memset(all, 0, sizeof(*all));
	if (n == 0 || (n > 1 && args[0].type == IMAP_ARG_LIST))
		return -1;
	for (size_t i = 0; i < n; i++) {
		memset(&kw, 0, sizeof(kw));
		if ((i > 0 && args[i].type == IMAP_ARG_LIST) ||
		    flags_parse(&args[i], &bits, &kw) == -1 ||
		    all->n + kw.n > FLAG_KEYWORDS_MAX) {
			flags_list_free(&kw);
			flags_list_free(all);
			return -1;
		}
		*bits_r |= bits;
		for (size_t j = 0; j < kw.n; j++)
			keyword_add(all, kw.v[j]);
		free(kw.v);
	}
	return 0;
}

/* "(UNCHANGEDSINCE n)" into since (digits); false when it is not. */
static bool
store_mods(const struct imap_arg *arg, char *since, size_t size)
{
	const struct imap_arg	*v;
	size_t			 n;
	uint64_t		 modseq;

	if (!imap_arg_list(arg, &v, &n) || n != 2 ||
	    !imap_arg_atom_equals(&v[0], "UNCHANGEDSINCE") ||
	    !mbox_modseq_arg(&v[1], &modseq))
		return false;
	snprintf(since, size, "%llu", (unsigned long long)modseq);
	return true;
}

static void
store_run(struct session *s, enum store_op op, bool silent, unsigned bits,
    struct flag_list *kw, const char *since, uint32_t *uids, size_t n)
{
	struct fetch_job	 job;
	char			 ops[4], bitss[8], *kws = flags_pg_literal(kw);

	memset(&job, 0, sizeof(job));
	snprintf(ops, sizeof(ops), "%d", (int)op);
	snprintf(bitss, sizeof(bitss), "%u", bits);
	job.sql = mdb_store_sql;
	job.extra[0] = ops;
	job.extra[1] = bitss;
	job.extra[2] = kws;
	job.extra[3] = since;
	job.nextra = 4;
	job.items = xcalloc(1, sizeof(*job.items));
	job.items[0].att = FA_FLAGS;
	job.nitems = 1;
	job.batch = STORE_BATCH;
	job.silent = silent;
	job.store = true;
	job.done_text = s->cmd.uid ? "UID STORE completed" : "STORE completed";
	fetch_job_run(s, &job, uids, n);
	free(kws);
}

void
cmd_store(struct session *s)
{
	enum store_op		 op;
	bool			 silent;
	unsigned		 bits;
	struct flag_list	 kw;
	uint32_t		*uids;
	size_t			 n, a = 1;
	char			 since[24] = "";

	if (s->cmd.nargs > 1 && s->cmd.args[1].type == IMAP_ARG_LIST &&
	    !store_mods(&s->cmd.args[a++], since, sizeof(since))) {
		cmd_done(s, "BAD", "Syntax: (UNCHANGEDSINCE mod-sequence)");
		return;
	}
	if (s->cmd.nargs < a + 2 || store_att(&s->cmd.args[a], &op,
	    &silent) == -1) {
		cmd_done(s, "BAD", "Syntax: %sSTORE sequence-set "
		    "[(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] (flags)",
		    s->cmd.uid ? "UID " : "");
		return;
	}
	if (store_flags(&s->cmd.args[a + 1], s->cmd.nargs - a - 1, &bits,
	    &kw) == -1) {
		cmd_done(s, "BAD", "Invalid flags");
		return;
	}
	if (s->sel->readonly) {
		flags_list_free(&kw);
		cmd_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (mbox_set(s, &s->cmd.args[0], s->cmd.uid, &uids, &n) == -1) {
		flags_list_free(&kw);
		return;
	}
	if (since[0] != '\0')	/* a CONDSTORE enabling command */
		mbox_condstore_enable(s);
	store_run(s, op, silent, bits, &kw, since, uids, n);
	flags_list_free(&kw);
}
