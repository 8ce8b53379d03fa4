/*
 * conf — main.conf(5): parsing, the one key table, expansion, printing.
 *
 * Grammar (one logical line):
 *	line     = blank | comment | key *WSP "=" *WSP value
 *	comment  = *WSP "#" *CHAR
 *	key      = 1*(ALPHA / DIGIT / "_")
 *	a physical line starting with white space continues the previous
 *	logical line (joined with one space); comments and blank lines end it.
 * A "#" elsewhere is part of the value.  White space around a value is
 * dropped.  A key set twice is no error: the later setting wins (as in
 * Postfix).  Limits: a physical line 8192 bytes, a file 1 MiB, an expanded
 * value 4000 bytes.
 * Values are expanded at load: "$name" / "${name}" is the (expanded) value
 * of another key, "$$" is a literal "$"; a cycle or an unknown name is an
 * error reported by conf_load.  Lists are split on commas and white space.
 *
 * Every key lives in conf_keys[] (conf_keys.c): name, type, default,
 * bounds, help.  An unknown key or bad value is an error naming file:line.
 * The table generates `wharf config -d`, etc/main.conf and the key table in
 * main.conf(5); tests check the three agree.
 */
#ifndef WHARF_CONF_H
#define WHARF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct buf;

enum conf_type {
	CONF_STR,	/* any string */
	CONF_INT,	/* decimal integer in [min, max] */
	CONF_SIZE,	/* bytes: integer with optional k/m/g suffix (1024) */
	CONF_TIME,	/* milliseconds: integer with ms/s/m/h/d suffix; a bare
			   number is seconds */
	CONF_BOOL,	/* yes/no/true/false/on/off/1/0 */
	CONF_ENUM,	/* one of the words in the key's enum_values */
	CONF_LIST,	/* list of words, commas or white space between */
};

#define CONF_F_HOSTNAME	0x01	/* empty default = this host's FQDN */
#define CONF_F_NCPU	0x02	/* value 0 means "number of CPUs" */
#define CONF_F_PATH	0x04	/* must be an absolute path when set */

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	const char	*def;		/* default, before expansion */
	int64_t		 min, max;	/* INT/SIZE/TIME bounds (after units) */
	unsigned	 flags;
	const char	*enum_values;	/* CONF_ENUM: "a|b|c" */
	const char	*help;		/* one line */
};

extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

struct conf;

/* Read and validate a file.  NULL and *err_r ("file:line: reason"). */
struct conf *conf_load(const char *path, char **err_r);
/* Same from memory; name is used in error messages. */
struct conf *conf_parse(const char *text, size_t len, const char *name,
	    char **err_r);
/* Defaults only. */
struct conf *conf_defaults(void);
void	conf_free(struct conf **);

const struct conf_key *conf_key_find(const char *name);

/*
 * Lookups return expanded, validated values.  A name that is not in
 * conf_keys[], or of another type, is a bug: fatalx().  conf_str works for
 * every key (the effective text: the FQDN for an empty myhostname, the
 * CPU count for a CONF_F_NCPU 0).
 */
const char *conf_str(const struct conf *, const char *key);
int64_t	conf_int(const struct conf *, const char *key);   /* INT SIZE TIME */
bool	conf_bool(const struct conf *, const char *key);
/* NULL-terminated; owned by conf. */
char *const *conf_list(const struct conf *, const char *key, size_t *n_r);
/* True when the file set the key (not just the default). */
bool	conf_is_set(const struct conf *, const char *key);
/* The raw (unexpanded) value, from the file or the default. */
const char *conf_raw(const struct conf *, const char *key);

/*
 * Printing (wharf config).  CONF_PRINT_ALL: every key, effective expanded
 * value; CONF_PRINT_CHANGED: only keys set in the file; CONF_PRINT_DEFAULTS:
 * every key with its default (unexpanded).  Lines are "key = value".
 */
enum conf_print { CONF_PRINT_ALL, CONF_PRINT_CHANGED, CONF_PRINT_DEFAULTS };
void	conf_print(const struct conf *, enum conf_print, FILE *);
/* The documented default file etc/main.conf, generated from the table. */
void	conf_write_sample(FILE *);
/* The man page key table (mdoc), generated from the table. */
void	conf_write_mdoc_table(FILE *);

/*
 * A self-contained snapshot: every key with its expanded value, in the
 * syntax conf_parse reads back.  Used for the sealed memfd given to
 * children (lib/proto_master.h).  Returns 0 or -1 (buffer limit).
 */
int	conf_serialize(const struct conf *, struct buf *);

/*
 * `wharf config set`: rewrite path in place so that key = value, keeping
 * every comment and other line; an existing (possibly continued) setting
 * is replaced, a commented "#key = ..." line is followed by the new one,
 * else it is appended.  The result is validated before the atomic rename.
 */
int	conf_file_set(const char *path, const char *key, const char *value,
	    char **err_r);

#endif
