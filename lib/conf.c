/*
 * conf — main.conf(5): parsing, expansion, validation, printing (conf.h).
 *
 * conf_parse reads logical lines into one raw value per key, then expands
 * and validates every key (defaults included) in table order, so that the
 * lookups below cannot fail on input.  Expansion is memoised per key; a key
 * being expanded is marked busy, which is how a cycle is found (as in
 * Postfix's mac_expand, but an error instead of a warning).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "xmalloc.h"

#define CONF_LINE_MAX	8192		/* bytes in a physical line */
#define CONF_FILE_MAX	(1024 * 1024)	/* bytes in a file */
/*
 * Bytes in an expanded value.  It caps the blow-up of nested "$a$a$a"
 * references, and keeps conf_serialize's "$$"-escaped line of any key
 * (at most 2 * CONF_VALUE_MAX + 64 bytes) under CONF_LINE_MAX.
 */
#define CONF_VALUE_MAX	4000
#define CONF_KEYNAME_MAX 60		/* for that sum: checked by a test */
#define CONF_LIST_SEPS	", \t\r"

enum conf_state { CONF_UNSEEN, CONF_BUSY, CONF_DONE };

struct conf_val {
	char		*raw;		/* from the file; NULL: the default */
	unsigned	 line;		/* of the setting, when raw != NULL */
	enum conf_state	 state;
	char		*exp;		/* expanded, effective value */
	int64_t		 num;		/* INT SIZE TIME */
	bool		 yes;		/* BOOL */
	char		**list;		/* LIST */
	size_t		 nlist;
};

struct conf {
	char		*name;		/* file name in error messages */
	struct conf_val	*vals;		/* one per conf_keys[] entry */
	size_t		*stack;		/* keys being expanded (cycles) */
	size_t		 depth;
};

/* The logical line being assembled by conf_parse. */
struct conf_reader {
	struct buf	 line;
	unsigned	 lineno;	/* first physical line of it */
	bool		 open;
};

struct conf_unit {
	const char	*name;
	int64_t		 mult;
};

static const struct conf_unit conf_size_units[] = {
	{ "g", 1024LL * 1024 * 1024 }, { "m", 1024 * 1024 }, { "k", 1024 },
	{ "", 1 }, { NULL, 0 }
};
static const struct conf_unit conf_time_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
	{ "ms", 1 }, { "", 1000 }, { NULL, 0 }
};

static bool
conf_is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static bool
conf_is_keych(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_';
}

static size_t
conf_keyspan(const char *s, size_t n)
{
	size_t	 i = 0;

	while (i < n && conf_is_keych(s[i]))
		i++;
	return i;
}

static ssize_t
conf_key_index(const char *name, size_t len)
{
	for (size_t i = 0; i < conf_nkeys; i++)
		if (strncmp(conf_keys[i].name, name, len) == 0 &&
		    conf_keys[i].name[len] == '\0')
			return (ssize_t)i;
	return -1;
}

const struct conf_key *
conf_key_find(const char *name)
{
	ssize_t	 i = conf_key_index(name, strlen(name));

	return i == -1 ? NULL : &conf_keys[i];
}

/* Errors. */

static void
conf_err_line(const struct conf *c, unsigned line, char **err_r,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
conf_err_line(const struct conf *c, unsigned line, char **err_r,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*why;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	*err_r = xasprintf("%s:%u: %s", c->name, line, why);
	free(why);
}

/* "file:line: key: why", or "file:key: why (default value)". */
static void
conf_err_key(const struct conf *c, size_t k, char **err_r,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
conf_err_key(const struct conf *c, size_t k, char **err_r,
    const char *fmt, ...)
{
	const struct conf_val	*v = &c->vals[k];
	va_list			 ap;
	char			*why;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	if (v->raw != NULL)
		*err_r = xasprintf("%s:%u: %s: %s", c->name, v->line,
		    conf_keys[k].name, why);
	else
		*err_r = xasprintf("%s:%s: %s (default value)", c->name,
		    conf_keys[k].name, why);
	free(why);
}

/* A bad expanded value: quote it (made printable and short). */
static void
conf_err_value(const struct conf *c, size_t k, char **err_r,
    const char *why)
{
	const char	*v = c->vals[k].exp;
	char		 safe[80];

	log_safe(safe, sizeof(safe), v, strlen(v));
	conf_err_key(c, k, err_r, "\"%s\": %s", safe, why);
}

/* Reading logical lines. */

static struct conf *
conf_alloc(const char *name)
{
	struct conf	*c = xcalloc(1, sizeof(*c));

	c->name = xstrdup(name != NULL ? name : "main.conf");
	c->vals = xcalloc(conf_nkeys, sizeof(*c->vals));
	c->stack = xcalloc(conf_nkeys, sizeof(*c->stack));
	return c;
}

void
conf_free(struct conf **cp)
{
	struct conf	*c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < conf_nkeys; i++) {
		free(c->vals[i].raw);
		free(c->vals[i].exp);
		str_list_free(&c->vals[i].list);
	}
	free(c->vals);
	free(c->stack);
	free(c->name);
	free(c);
	*cp = NULL;
}

/* One logical line "key = value"; a later setting replaces an earlier. */
static int
conf_setting(struct conf *c, const char *s, size_t n, unsigned line,
    char **err_r)
{
	size_t	 klen = conf_keyspan(s, n), p = klen;
	ssize_t	 k;

	if (p < n && !conf_is_ws(s[p]) && s[p] != '=') {
		conf_err_line(c, line, err_r, "invalid character in key name");
		return -1;
	}
	while (p < n && conf_is_ws(s[p]))
		p++;
	if (p == n || s[p] != '=') {
		conf_err_line(c, line, err_r, "missing \"=\" after key");
		return -1;
	}
	if (klen == 0) {
		conf_err_line(c, line, err_r, "empty key");
		return -1;
	}
	if ((k = conf_key_index(s, klen)) == -1) {
		conf_err_line(c, line, err_r, "unknown key \"%.*s\"",
		    (int)(klen > 64 ? 64 : klen), s);
		return -1;
	}
	for (p++; p < n && conf_is_ws(s[p]); p++)
		;
	free(c->vals[k].raw);
	c->vals[k].raw = xstrndup(s + p, n - p);
	c->vals[k].line = line;
	return 0;
}

static int
conf_reader_flush(struct conf *c, struct conf_reader *r, char **err_r)
{
	int	 rc = 0;

	if (r->open)
		rc = conf_setting(c, buf_cstr(&r->line), r->line.len,
		    r->lineno, err_r);
	r->open = false;
	buf_reset(&r->line);
	return rc;
}

/* One physical line, without its '\n'. */
static int
conf_physical(struct conf *c, struct conf_reader *r, const char *s,
    size_t n, unsigned lineno, char **err_r)
{
	size_t	 i = 0;

	if (n > CONF_LINE_MAX) {
		conf_err_line(c, lineno, err_r, "line too long (max %d bytes)",
		    CONF_LINE_MAX);
		return -1;
	}
	if (memchr(s, '\0', n) != NULL) {
		conf_err_line(c, lineno, err_r, "NUL character");
		return -1;
	}
	while (n > 0 && conf_is_ws(s[n - 1]))
		n--;
	while (i < n && conf_is_ws(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return conf_reader_flush(c, r, err_r);
	if (i == 0) {
		if (conf_reader_flush(c, r, err_r) == -1)
			return -1;
		r->open = true;
		r->lineno = lineno;
		if (buf_add(&r->line, s, n) == -1)
			fatalx("conf: logical line overflow");
		return 0;
	}
	if (!r->open) {
		conf_err_line(c, lineno, err_r,
		    "continuation line without a setting before it");
		return -1;
	}
	/* The line cannot grow past the text it came from. */
	if (buf_add_u8(&r->line, ' ') == -1 ||
	    buf_add(&r->line, s + i, n - i) == -1)
		fatalx("conf: logical line overflow");
	return 0;
}

static int
conf_read_lines(struct conf *c, const char *text, size_t len, char **err_r)
{
	struct conf_reader	 r = { .open = false };
	const char		*s = text, *end = text + len, *eol;
	unsigned		 lineno = 1;
	int			 rc = 0;

	buf_init(&r.line, CONF_FILE_MAX);
	for (; s < end && rc == 0; s = eol + 1, lineno++) {
		if ((eol = memchr(s, '\n', (size_t)(end - s))) == NULL)
			eol = end;
		rc = conf_physical(c, &r, s, (size_t)(eol - s), lineno, err_r);
	}
	if (rc == 0)
		rc = conf_reader_flush(c, &r, err_r);
	buf_clear(&r.line);
	return rc;
}

/* Expansion. */

static int conf_expand_key(struct conf *, size_t, char **);

static void
conf_err_cycle(struct conf *c, size_t k, size_t ref, char **err_r)
{
	struct buf	 b;
	size_t		 i = 0;

	buf_init(&b, SIZE_MAX);
	while (i < c->depth && c->stack[i] != ref)
		i++;
	for (; i < c->depth; i++)
		buf_printf(&b, "%s -> ", conf_keys[c->stack[i]].name);
	buf_add_str(&b, conf_keys[ref].name);
	conf_err_key(c, k, err_r, "expansion cycle: %s", buf_cstr(&b));
	buf_clear(&b);
}

/*
 * After a '$' (not "$$"): the referenced name, "name" or "{name}".  *sp
 * moves past it.  -1 with *why_r for a malformed reference.
 */
static int
conf_ref_name(const char **sp, const char **name_r, size_t *len_r,
    const char **why_r)
{
	const char	*s = *sp, *end;

	if (*s != '{') {
		if ((*len_r = conf_keyspan(s, strlen(s))) == 0) {
			*why_r = "lone \"$\" (write \"$$\" for a literal "
			    "\"$\")";
			return -1;
		}
		*name_r = s;
		*sp = s + *len_r;
		return 0;
	}
	if ((end = strchr(s, '}')) == NULL) {
		*why_r = "unterminated \"${\"";
		return -1;
	}
	*name_r = s + 1;
	*len_r = (size_t)(end - *name_r);
	if (*len_r == 0 || conf_keyspan(*name_r, *len_r) != *len_r) {
		*why_r = "bad name in \"${...}\"";
		return -1;
	}
	*sp = end + 1;
	return 0;
}

/* Expand "$name" at *sp (after the '$') for key k into b. */
static int
conf_expand_ref(struct conf *c, size_t k, const char **sp, struct buf *b,
    char **err_r)
{
	const char	*name, *why;
	size_t		 len;
	ssize_t		 ref;

	if (conf_ref_name(sp, &name, &len, &why) == -1) {
		conf_err_key(c, k, err_r, "%s", why);
		return -1;
	}
	if ((ref = conf_key_index(name, len)) == -1) {
		conf_err_key(c, k, err_r, "undefined \"$%.*s\"",
		    (int)(len > 64 ? 64 : len), name);
		return -1;
	}
	if (c->vals[ref].state == CONF_BUSY) {
		conf_err_cycle(c, k, (size_t)ref, err_r);
		return -1;
	}
	if (conf_expand_key(c, (size_t)ref, err_r) == -1)
		return -1;
	if (*c->vals[ref].exp != '\0' &&
	    buf_add_str(b, c->vals[ref].exp) == -1) {
		conf_err_key(c, k, err_r, "value too long (max %d bytes)",
		    CONF_VALUE_MAX);
		return -1;
	}
	return 0;
}

static int
conf_expand_text(struct conf *c, size_t k, const char *s, struct buf *b,
    char **err_r)
{
	const char	*d;
	size_t		 n;

	for (;;) {
		d = strchr(s, '$');
		n = d != NULL ? (size_t)(d - s) : strlen(s);
		/* (buf_add of 0 bytes to an empty buf fails: buf.c) */
		if (n > 0 && buf_add(b, s, n) == -1)
			goto toolong;
		if (d == NULL)
			return 0;
		s = d + 1;
		if (*s != '$') {
			if (conf_expand_ref(c, k, &s, b, err_r) == -1)
				return -1;
		} else if (buf_add_u8(b, *s++) == -1)
			goto toolong;
	}
toolong:
	conf_err_key(c, k, err_r, "value too long (max %d bytes)",
	    CONF_VALUE_MAX);
	return -1;
}

/* Only what is safe to print in a header and to serialize. */
static bool
conf_hostname_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s != '\0'; s++)
		if (!conf_is_keych(*s) && *s != '.' && *s != '-')
			return false;
	return true;
}

/* gethostname(), made canonical by the resolver when it can be. */
static char *
conf_fqdn(void)
{
	struct addrinfo	 hints, *res;
	char		 host[256], *fqdn;

	if (gethostname(host, sizeof(host)) == -1)
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	if (!conf_hostname_ok(host))
		return xstrdup("localhost");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return xstrdup(host);
	if (res->ai_canonname != NULL && conf_hostname_ok(res->ai_canonname))
		fqdn = xstrdup(res->ai_canonname);
	else
		fqdn = xstrdup(host);
	freeaddrinfo(res);
	return fqdn;
}

static int
conf_number_of_cpus(int64_t max)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > max ? (int)max : (int)n;
}

/*
 * What an expanded value stands for, which is also what "$key" gives:
 * the FQDN for an empty host name, the number of CPUs for an NCPU 0.
 */
static char *
conf_effective(const struct conf_key *key, char *exp)
{
	const char	*why;
	int64_t		 n;

	if ((key->flags & CONF_F_HOSTNAME) && *exp == '\0') {
		free(exp);
		return conf_fqdn();
	}
	if ((key->flags & CONF_F_NCPU) &&
	    str_to_i64(exp, 0, 0, &n, &why) == 0) {
		free(exp);
		return xasprintf("%d", conf_number_of_cpus(key->max));
	}
	return exp;
}

static int
conf_expand_key(struct conf *c, size_t k, char **err_r)
{
	struct conf_val	*v = &c->vals[k];
	struct buf	 b;

	if (v->state == CONF_DONE)
		return 0;
	v->state = CONF_BUSY;
	c->stack[c->depth++] = k;
	buf_init(&b, CONF_VALUE_MAX);
	if (conf_expand_text(c, k, v->raw != NULL ? v->raw : conf_keys[k].def,
	    &b, err_r) == -1) {
		buf_clear(&b);
		return -1;
	}
	c->depth--;
	v->exp = conf_effective(&conf_keys[k], str_trim(buf_steal(&b, NULL)));
	v->state = CONF_DONE;
	return 0;
}

/* Typed validation of expanded values. */

/* "12k" with units (the empty name last); bounds are the caller's. */
static int
conf_parse_unit(const char *s, const struct conf_unit *units, int64_t *v_r,
    const char **why_r)
{
	size_t		 n = strspn(s, "0123456789");
	const char	*unit = s + n;
	char		*digits;
	uint64_t	 u;
	int		 rc;

	if (n == 0) {
		*why_r = "not a number";
		return -1;
	}
	while (units->name != NULL && strcasecmp(unit, units->name) != 0)
		units++;
	if (units->name == NULL) {
		*why_r = "bad unit";
		return -1;
	}
	digits = xstrndup(s, n);
	rc = str_to_u64(digits, 0, (uint64_t)(INT64_MAX / units->mult), &u,
	    why_r);
	free(digits);
	if (rc == 0)
		*v_r = (int64_t)u * units->mult;
	return rc;
}

/* A bound for a message: the largest unit that divides it. */
static void
conf_fmt_num(char *out, size_t size, enum conf_type type, int64_t v)
{
	const struct conf_unit	*u = NULL;

	if (type == CONF_SIZE)
		u = conf_size_units;
	else if (type == CONF_TIME)
		u = conf_time_units;
	for (; u != NULL && u->name != NULL && v != 0; u++)
		if (v % u->mult == 0 && *u->name != '\0')
			break;
	if (u == NULL || u->name == NULL || v == 0)
		snprintf(out, size, "%" PRId64, v);
	else
		snprintf(out, size, "%" PRId64 "%s", v / u->mult, u->name);
}

static int
conf_check_bounds(struct conf *c, size_t k, int64_t v, char **err_r)
{
	const struct conf_key	*key = &conf_keys[k];
	char			 bound[32], why[64];

	if (v >= key->min && v <= key->max)
		return 0;
	conf_fmt_num(bound, sizeof(bound), key->type,
	    v < key->min ? key->min : key->max);
	snprintf(why, sizeof(why), "too %s (%s %s)", v < key->min ? "small" :
	    "large", v < key->min ? "min" : "max", bound);
	conf_err_value(c, k, err_r, why);
	return -1;
}

static int
conf_check_num(struct conf *c, size_t k, char **err_r)
{
	const struct conf_key	*key = &conf_keys[k];
	struct conf_val		*v = &c->vals[k];
	const char		*why;
	int			 rc;

	if (key->type == CONF_INT)
		rc = str_to_i64(v->exp, INT64_MIN, INT64_MAX, &v->num, &why);
	else
		rc = conf_parse_unit(v->exp, key->type == CONF_SIZE ?
		    conf_size_units : conf_time_units, &v->num, &why);
	if (rc == -1) {
		if (strcmp(why, "bad unit") == 0)
			why = key->type == CONF_SIZE ?
			    "bad unit (use k, m or g)" :
			    "bad unit (use ms, s, m, h or d)";
		conf_err_value(c, k, err_r, why);
		return -1;
	}
	return conf_check_bounds(c, k, v->num, err_r);
}

static int
conf_check_bool(struct conf *c, size_t k, char **err_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	struct conf_val		*v = &c->vals[k];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v->exp, yes[i]) == 0 ||
		    strcasecmp(v->exp, no[i]) == 0) {
			v->yes = strcasecmp(v->exp, yes[i]) == 0;
			return 0;
		}
	}
	conf_err_value(c, k, err_r, "not a boolean (use yes or no)");
	return -1;
}

static bool
conf_enum_ok(const char *values, const char *s)
{
	size_t	 n = strlen(s), w;

	if (n == 0)
		return false;
	for (;; values += w + 1) {
		w = strcspn(values, "|");
		if (w == n && strncmp(values, s, n) == 0)
			return true;
		if (values[w] == '\0')
			return false;
	}
}

static int
conf_check_key(struct conf *c, size_t k, char **err_r)
{
	const struct conf_key	*key = &conf_keys[k];
	struct conf_val		*v = &c->vals[k];
	char			*why;

	switch (key->type) {
	case CONF_STR:
		if ((key->flags & CONF_F_PATH) && *v->exp != '\0' &&
		    *v->exp != '/') {
			conf_err_value(c, k, err_r, "not an absolute path");
			return -1;
		}
		return 0;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_TIME:
		return conf_check_num(c, k, err_r);
	case CONF_BOOL:
		return conf_check_bool(c, k, err_r);
	case CONF_ENUM:
		if (conf_enum_ok(key->enum_values, v->exp))
			return 0;
		why = xasprintf("not one of %s", key->enum_values);
		conf_err_value(c, k, err_r, why);
		free(why);
		return -1;
	case CONF_LIST:
		v->list = str_split(v->exp, CONF_LIST_SEPS, &v->nlist);
		return 0;
	}
	fatalx("conf: %s: bad type %d", key->name, (int)key->type);
}

static int
conf_validate(struct conf *c, char **err_r)
{
	for (size_t k = 0; k < conf_nkeys; k++)
		if (conf_expand_key(c, k, err_r) == -1 ||
		    conf_check_key(c, k, err_r) == -1)
			return -1;
	return 0;
}

/* Loading. */

struct conf *
conf_parse(const char *text, size_t len, const char *name, char **err_r)
{
	struct conf	*c = conf_alloc(name);

	*err_r = NULL;
	if (len > CONF_FILE_MAX) {
		*err_r = xasprintf("%s: file too large (max %d bytes)",
		    c->name, CONF_FILE_MAX);
		conf_free(&c);
		return NULL;
	}
	if (conf_read_lines(c, text, len, err_r) == -1 ||
	    conf_validate(c, err_r) == -1)
		conf_free(&c);
	return c;
}

struct conf *
conf_defaults(void)
{
	struct conf	*c;
	char		*err, msg[256];

	if ((c = conf_parse("", 0, "defaults", &err)) == NULL) {
		strlcpy(msg, err, sizeof(msg));
		free(err);
		fatalx("conf: bad key table: %s", msg);
	}
	return c;
}

/* The whole regular file into b (max CONF_FILE_MAX bytes). */
static int
conf_read_file(const char *path, struct buf *b, struct stat *st,
    char **err_r)
{
	uint8_t	*p;
	size_t	 want;
	ssize_t	 n;
	int	 fd;

	buf_init(b, CONF_FILE_MAX + 1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, st) == -1) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		*err_r = xasprintf("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	for (;;) {
		if ((want = buf_avail(b)) == 0) {
			close(fd);
			*err_r = xasprintf("%s: file too large (max %d bytes)",
			    path, CONF_FILE_MAX);
			return -1;
		}
		want = want < 65536 ? want : 65536;
		p = buf_reserve(b, want);
		if ((n = read(fd, p, want)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_commit(b, (size_t)n);
	}
	if (n == -1)
		*err_r = xasprintf("%s: %s", path, strerror(errno));
	close(fd);
	return n == -1 ? -1 : 0;
}

struct conf *
conf_load(const char *path, char **err_r)
{
	struct conf	*c = NULL;
	struct buf	 b;
	struct stat	 st;

	*err_r = NULL;
	if (conf_read_file(path, &b, &st, err_r) == 0)
		c = conf_parse(buf_cstr(&b), b.len, path, err_r);
	buf_clear(&b);
	return c;
}

/* Lookups. */

#define CONF_T(t)	(1U << (t))
#define CONF_T_ANY	(~0U)
#define CONF_T_NUM	\
	(CONF_T(CONF_INT) | CONF_T(CONF_SIZE) | CONF_T(CONF_TIME))

/* The value of name, whose type must be in the mask types. */
static const struct conf_val *
conf_get(const struct conf *c, const char *name, unsigned types)
{
	const struct conf_key	*key = conf_key_find(name);

	if (key == NULL)
		fatalx("conf: lookup of unknown key \"%s\"", name);
	if ((CONF_T(key->type) & types) == 0)
		fatalx("conf: lookup of %s as the wrong type", name);
	return &c->vals[key - conf_keys];
}

const char *
conf_str(const struct conf *c, const char *key)
{
	return conf_get(c, key, CONF_T_ANY)->exp;
}

int64_t
conf_int(const struct conf *c, const char *key)
{
	return conf_get(c, key, CONF_T_NUM)->num;
}

bool
conf_bool(const struct conf *c, const char *key)
{
	return conf_get(c, key, CONF_T(CONF_BOOL))->yes;
}

char *const *
conf_list(const struct conf *c, const char *key, size_t *n_r)
{
	const struct conf_val	*v;

	v = conf_get(c, key, CONF_T(CONF_LIST));
	if (n_r != NULL)
		*n_r = v->nlist;
	return v->list;
}

bool
conf_is_set(const struct conf *c, const char *key)
{
	return conf_get(c, key, CONF_T_ANY)->raw != NULL;
}

const char *
conf_raw(const struct conf *c, const char *key)
{
	const struct conf_val	*v = conf_get(c, key, CONF_T_ANY);

	return v->raw != NULL ? v->raw : conf_key_find(key)->def;
}

/* Printing. */

/* "key = value\n"; escape: '$' as "$$", for expanded values. */
static int
conf_add_line(struct buf *b, const char *key, const char *value,
    bool escape)
{
	if (buf_printf(b, "%s =%s", key, *value != '\0' ? " " : "") == -1)
		return -1;
	for (; *value != '\0'; value++)
		if ((escape && *value == '$' && buf_add_u8(b, '$') == -1) ||
		    buf_add_u8(b, (uint8_t)*value) == -1)
			return -1;
	return buf_add_u8(b, '\n');
}

void
conf_print(const struct conf *c, enum conf_print what, FILE *fp)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX);
	for (size_t k = 0; k < conf_nkeys; k++) {
		if (what == CONF_PRINT_DEFAULTS)
			conf_add_line(&b, conf_keys[k].name, conf_keys[k].def,
			    false);
		else if (what == CONF_PRINT_ALL || c->vals[k].raw != NULL)
			conf_add_line(&b, conf_keys[k].name, c->vals[k].exp,
			    true);
	}
	fputs(buf_cstr(&b), fp);
	buf_clear(&b);
}

int
conf_serialize(const struct conf *c, struct buf *b)
{
	struct buf	 all;
	int		 rc;

	/* All or nothing: b is left as it was when it has no room. */
	buf_init(&all, SIZE_MAX);
	for (size_t k = 0; k < conf_nkeys; k++)
		conf_add_line(&all, conf_keys[k].name, c->vals[k].exp, true);
	rc = buf_add(b, BUF_DATA(&all), all.len);
	buf_clear(&all);
	return rc;
}

static const char *
conf_type_name(const struct conf_key *key)
{
	switch (key->type) {
	case CONF_STR:
		return (key->flags & CONF_F_PATH) ? "path" : "string";
	case CONF_INT:
		return "number";
	case CONF_SIZE:
		return "size";
	case CONF_TIME:
		return "time";
	case CONF_BOOL:
		return "boolean";
	case CONF_ENUM:
		return "keyword";
	case CONF_LIST:
		return "list";
	}
	return "?";
}

static bool
conf_is_fqdn_default(const struct conf_key *key)
{
	return (key->flags & CONF_F_HOSTNAME) && *key->def == '\0';
}

/* text as "# " comment lines of at most 78 columns, split at spaces. */
static void
conf_write_wrapped(FILE *fp, const char *text)
{
	size_t	 col = 1, w;

	fputc('#', fp);
	for (text += strspn(text, " "); *text != '\0'; text += w) {
		w = strcspn(text, " ");
		if (col > 1 && col + 1 + w > 78) {
			fputs("\n#", fp);
			col = 1;
		}
		fprintf(fp, " %.*s", (int)w, text);
		col += 1 + w;
		w += strspn(text + w, " ");
	}
	fputc('\n', fp);
}

void
conf_write_sample(FILE *fp)
{
	fputs("# main.conf: the Wharf configuration; see main.conf(5).\n"
	    "#\n"
	    "# Generated from the key table in lib/conf_keys.c.  Each key is "
	    "shown\n"
	    "# commented out with its default: remove the \"#\" and change "
	    "the value\n"
	    "# to override it.  \"wharf config -n\" shows the keys this file "
	    "sets and\n"
	    "# \"wharf config check\" validates it.\n"
	    "#\n"
	    "# Syntax: \"key = value\"; a line that starts with white space "
	    "continues the\n"
	    "# one before.  \"$key\" or \"${key}\" is the value of another "
	    "key, \"$$\" is a\n"
	    "# literal \"$\".  \"#\" starts a comment only at the beginning "
	    "of a line.\n", fp);
	for (size_t k = 0; k < conf_nkeys; k++) {
		const struct conf_key	*key = &conf_keys[k];

		fputc('\n', fp);
		conf_write_wrapped(fp, key->help);
		if (conf_is_fqdn_default(key))
			fprintf(fp, "#%s = (this host's FQDN)\n", key->name);
		else
			fprintf(fp, "#%s =%s%s\n", key->name,
			    *key->def != '\0' ? " " : "", key->def);
	}
}

/* roff: a text line, or (quoted) a macro argument. */
static void
conf_write_roff(FILE *fp, const char *s, bool quoted)
{
	if (!quoted && (*s == '.' || *s == '\''))
		fputs("\\&", fp);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (quoted && *s == '"')
			fputs("\\(dq", fp);
		else
			fputc(*s, fp);
	}
}

static void
conf_write_mdoc_key(FILE *fp, const struct conf_key *key)
{
	char	 lo[32], hi[32];
	size_t	 w;

	fprintf(fp, ".It Cm %s Pq Ar %s , No default", key->name,
	    conf_type_name(key));
	if (conf_is_fqdn_default(key))
		fputs(" this host's FQDN", fp);
	else if (*key->def == '\0')
		fputs(" empty", fp);
	else {
		fputs(" Ql \"", fp);
		conf_write_roff(fp, key->def, true);
		fputc('"', fp);
	}
	fputc('\n', fp);
	conf_write_roff(fp, key->help, false);
	fputs(".\n", fp);
	if (key->type == CONF_INT || key->type == CONF_SIZE ||
	    key->type == CONF_TIME) {
		conf_fmt_num(lo, sizeof(lo), key->type, key->min);
		conf_fmt_num(hi, sizeof(hi), key->type, key->max);
		fprintf(fp, "From %s to %s.\n", lo, hi);
	} else if (key->type == CONF_ENUM) {
		fputs("One of\n.Cm", fp);
		for (const char *v = key->enum_values; *v != '\0'; v += w) {
			w = strcspn(v, "|");
			fprintf(fp, "%s %.*s", v == key->enum_values ? "" :
			    " ,", (int)w, v);
			w += v[w] == '|';
		}
		fputs(" .\n", fp);
	}
}

void
conf_write_mdoc_table(FILE *fp)
{
	fputs(".Bl -tag -width Ds\n", fp);
	for (size_t k = 0; k < conf_nkeys; k++)
		conf_write_mdoc_key(fp, &conf_keys[k]);
	fputs(".El\n", fp);
}

/* conf_file_set. */

/* Line s (n bytes) is "key =..." or, when commented, "#key =...". */
static bool
conf_line_sets(const char *s, size_t n, const char *key, bool commented)
{
	size_t	 i = 0, klen = strlen(key);

	if (commented) {
		while (i < n && conf_is_ws(s[i]))
			i++;
		if (i == n || s[i++] != '#')
			return false;
		while (i < n && conf_is_ws(s[i]))
			i++;
	}
	if (n - i < klen || strncmp(s + i, key, klen) != 0)
		return false;
	for (i += klen; i < n && conf_is_ws(s[i]); i++)
		;
	return i < n && s[i] == '=';
}

/* A continuation line: indented, not blank, not a comment. */
static bool
conf_line_continues(const char *s, size_t n)
{
	size_t	 i = 0;

	while (i < n && conf_is_ws(s[i]))
		i++;
	return i > 0 && i < n && s[i] != '#';
}

/*
 * Copy text into out with the setting of key replaced by line (its
 * continuation lines and later duplicates dropped).  Returns where the
 * line goes when there was no setting: after "#key =", else the end.
 */
static size_t
conf_edit(const char *text, size_t len, const char *key, const char *line,
    struct buf *out, bool *done_r)
{
	const char	*s = text, *end = text + len, *eol;
	size_t		 n, at = SIZE_MAX;
	bool		 skip = false;

	*done_r = false;
	for (; s < end; s = eol + 1) {
		if ((eol = memchr(s, '\n', (size_t)(end - s))) == NULL)
			eol = end;
		n = (size_t)(eol - s);
		if (skip && conf_line_continues(s, n))
			continue;
		if ((skip = conf_line_sets(s, n, key, false))) {
			if (!*done_r)
				buf_add_str(out, line);
			*done_r = true;
			continue;
		}
		buf_add(out, s, n);
		buf_add_u8(out, '\n');
		if (at == SIZE_MAX && conf_line_sets(s, n, key, true))
			at = out->len;
	}
	return at == SIZE_MAX ? out->len : at;
}

static int
conf_fsync_dir(const char *path)
{
	char	*dir = xstrdup(path), *slash = strrchr(dir, '/');
	int	 fd, rc = -1;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strlcpy(dir, ".", strlen(dir) + 1);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(dir);
	return rc;
}

static int
conf_write_fd(int fd, const struct buf *b, const struct stat *st)
{
	const uint8_t	*p = BUF_DATA(b);
	size_t		 left = b->len;
	ssize_t		 n;

	if (fchmod(fd, st->st_mode & 07777) == -1)
		return -1;
	if (geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) == -1)
		return -1;
	while (left > 0) {
		if ((n = write(fd, p, left)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		left -= (size_t)n;
	}
	return fsync(fd);
}

/* A temporary file next to path, then rename(2) over it. */
static int
conf_replace_file(const char *path, const struct buf *b,
    const struct stat *st, char **err_r)
{
	char	*tmp = xasprintf("%s.XXXXXX", path);
	int	 fd, saved;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		*err_r = xasprintf("%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (conf_write_fd(fd, b, st) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	/* The new file is in place; only its durability is in doubt. */
	if (conf_fsync_dir(path) == -1)
		log_warn("%s: fsync of the directory", path);
	free(tmp);
	return 0;
fail:
	unlink(tmp);
	*err_r = xasprintf("%s: %s", path, strerror(saved));
	free(tmp);
	return -1;
}

static int
conf_set_check(const char *key, const char *value, char **err_r)
{
	if (conf_key_find(key) == NULL) {
		*err_r = xasprintf("unknown key \"%.64s\"", key);
		return -1;
	}
	if (strlen(value) > CONF_LINE_MAX) {
		*err_r = xasprintf("%s: value too long (max %d bytes)", key,
		    CONF_LINE_MAX);
		return -1;
	}
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			*err_r = xasprintf("%s: control character in value",
			    key);
			return -1;
		}
	}
	return 0;
}

/* out has room: it holds at most the file, a line and one '\n'. */
static void
conf_buf_insert(struct buf *out, size_t at, const char *s)
{
	size_t	 n = strlen(s);

	if (buf_add_str(out, s) == -1)
		fatalx("conf: edited file overflow");
	memmove(BUF_DATA(out) + at + n, BUF_DATA(out) + at,
	    out->len - n - at);
	memcpy(BUF_DATA(out) + at, s, n);
}

/* The edited text, validated by conf_parse under path's name. */
static int
conf_set_text(const char *path, const struct buf *in, const char *key,
    const char *value, struct buf *out, char **err_r)
{
	struct conf	*c;
	char		*v = str_trim(xstrdup(value)), *line;
	size_t		 at;
	bool		 done;

	line = xasprintf("%s =%s%s\n", key, *v != '\0' ? " " : "", v);
	free(v);
	at = conf_edit(buf_cstr(in), in->len, key, line, out, &done);
	if (!done)
		conf_buf_insert(out, at, line);
	free(line);
	if ((c = conf_parse(buf_cstr(out), out->len, path, err_r)) == NULL)
		return -1;
	conf_free(&c);
	return 0;
}

int
conf_file_set(const char *path, const char *key, const char *value,
    char **err_r)
{
	struct buf	 in, out;
	struct stat	 st;
	char		*real;
	int		 rc = -1;

	*err_r = NULL;
	if (conf_set_check(key, value, err_r) == -1)
		return -1;
	if ((real = realpath(path, NULL)) == NULL) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&out, 2 * CONF_FILE_MAX + 2 * CONF_LINE_MAX);
	if (conf_read_file(real, &in, &st, err_r) == 0 &&
	    conf_set_text(path, &in, key, value, &out, err_r) == 0)
		rc = conf_replace_file(real, &out, &st, err_r);
	buf_clear(&in);
	buf_clear(&out);
	free(real);
	return rc;
}
