/* domain_table — "domain value" tables and next hops (domain_table.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "buf.h"
#include "xmalloc.h"
#include "domain_table.h"

struct domain_entry {
	char	*key;		/* lower case; ".parent" or "exact" */
	char	*value;
};

struct domain_table {
	struct domain_entry	*entries;	/* sorted by key */
	size_t			 n;
};

/* Letters, digits, '-' and '_'; labels 1..63; 253 octets in all. */
static bool
host_name_ok(const char *s, size_t len)
{
	size_t	 label = 0;

	if (len == 0 || len > DOMAIN_TABLE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0;
}

/* "example.org", ".example.org", a trailing dot allowed; NULL if bad. */
static char *
key_make(const char *s, size_t len)
{
	char	*k;
	size_t	 off = s[0] == '.' ? 1 : 0;

	if (len > 1 && s[len - 1] == '.')
		len--;
	if (!host_name_ok(s + off, len - off))
		return NULL;
	k = xstrndup(s, len);
	for (char *p = k; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct domain_entry *)a)->key,
	    ((const struct domain_entry *)b)->key);
}

static void
table_add(struct domain_table *t, char *key, const char *value)
{
	t->entries = xreallocarray(t->entries, t->n + 1,
	    sizeof(*t->entries));
	t->entries[t->n].key = key;
	t->entries[t->n].value = xstrdup(value);
	t->n++;
}

/* The next blank-separated word of *p, NUL-terminated; NULL: none. */
static char *
next_word(char **p)
{
	char	*s = *p + strspn(*p, " \t\r"), *w = s;

	if (*s == '\0')
		return NULL;
	s += strcspn(s, " \t\r");
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return w;
}

/* One line, NUL-terminated and writable; -1 with a static *why_r. */
static int
table_line(struct domain_table *t, char *line, domain_table_check_fn *check,
    const char **why_r)
{
	char	*dom, *val, *extra, *key;

	if ((dom = next_word(&line)) == NULL || *dom == '#')
		return 0;
	val = next_word(&line);
	extra = next_word(&line);
	if (val == NULL || (extra != NULL && *extra != '#')) {
		*why_r = "expected \"domain value\"";
		return -1;
	}
	if (strlen(val) > DOMAIN_TABLE_VALUE_MAX) {
		*why_r = "value too long";
		return -1;
	}
	if (check != NULL && check(val, why_r) == -1)
		return -1;
	if ((key = key_make(dom, strlen(dom))) == NULL) {
		*why_r = "bad domain";
		return -1;
	}
	table_add(t, key, val);
	return 0;
}

/* Sort, then refuse duplicates. */
static int
table_finish(struct domain_table *t, const char **why_r)
{
	if (t->n > 1)
		qsort(t->entries, t->n, sizeof(*t->entries), entry_cmp);
	for (size_t i = 1; i < t->n; i++)
		if (strcmp(t->entries[i - 1].key, t->entries[i].key) == 0) {
			*why_r = t->entries[i].key;
			return -1;
		}
	return 0;
}

static char *
line_copy(const char *text, size_t len, size_t *used_r)
{
	const char	*nl = memchr(text, '\n', len);
	size_t		 n = nl != NULL ? (size_t)(nl - text) : len;

	*used_r = nl != NULL ? n + 1 : n;
	if (memchr(text, '\0', n) != NULL)
		return NULL;
	return xstrndup(text, n);
}

int
domain_table_parse(const char *text, size_t len, const char *name,
    domain_table_check_fn *check, struct domain_table **t_r, char **err_r)
{
	struct domain_table	*t = xcalloc(1, sizeof(*t));
	const char		*why = NULL;
	char			*line;
	size_t			 used, lineno = 0;
	int			 rc = 0;

	*t_r = NULL;
	while (len > 0 && rc == 0) {
		lineno++;
		if ((line = line_copy(text, len, &used)) == NULL) {
			why = "NUL byte";
			rc = -1;
			break;
		}
		rc = table_line(t, line, check, &why);
		free(line);
		text += used;
		len -= used;
	}
	if (rc == -1)
		*err_r = xasprintf("%s:%zu: %s", name, lineno, why);
	else if (table_finish(t, &why) == -1) {
		*err_r = xasprintf("%s: domain %s given twice", name, why);
		rc = -1;
	}
	if (rc == -1)
		domain_table_free(&t);
	*t_r = t;
	return rc;
}

static int
file_read(const char *path, struct buf *b, char **err_r)
{
	uint8_t	*p;
	ssize_t	 r;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if ((p = buf_reserve(b, 8192)) == NULL) {
			*err_r = xasprintf("%s: file too large", path);
			break;
		}
		if ((r = read(fd, p, 8192)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == -1)
				*err_r = xasprintf("%s: %s", path,
				    strerror(errno));
			close(fd);
			return r == 0 ? 0 : -1;
		}
		buf_commit(b, (size_t)r);
	}
	close(fd);
	return -1;
}

int
domain_table_load(const char *path, domain_table_check_fn *check,
    struct domain_table **t_r, char **err_r)
{
	struct buf	 b;
	int		 rc = -1;

	*t_r = NULL;
	buf_init(&b, DOMAIN_TABLE_FILE_MAX);
	if (file_read(path, &b, err_r) == 0)
		rc = domain_table_parse((const char *)buf_cstr(&b), b.len,
		    path, check, t_r, err_r);
	buf_clear(&b);
	return rc;
}

void
domain_table_free(struct domain_table **tp)
{
	struct domain_table	*t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->entries[i].key);
		free(t->entries[i].value);
	}
	free(t->entries);
	free(t);
	*tp = NULL;
}

size_t
domain_table_count(const struct domain_table *t)
{
	return t != NULL ? t->n : 0;
}

bool
domain_table_has_value(const struct domain_table *t, const char *value)
{
	for (size_t i = 0; t != NULL && i < t->n; i++)
		if (strcasecmp(t->entries[i].value, value) == 0)
			return true;
	return false;
}

static const char *
table_find(const struct domain_table *t, const char *key)
{
	struct domain_entry	 k = { .key = (char *)key }, *e;

	e = bsearch(&k, t->entries, t->n, sizeof(*t->entries), entry_cmp);
	return e != NULL ? e->value : NULL;
}

const char *
domain_table_lookup(const struct domain_table *t, const char *domain)
{
	char		 d[DOMAIN_TABLE_NAME_MAX + 2];
	const char	*v;
	size_t		 len;

	if (t == NULL || t->n == 0 || (len = strlen(domain)) == 0 ||
	    len >= sizeof(d))
		return NULL;
	for (size_t i = 0; i <= len; i++)
		d[i] = (char)tolower((unsigned char)domain[i]);
	if (d[len - 1] == '.')
		d[--len] = '\0';
	if ((v = table_find(t, d)) != NULL)
		return v;
	/* ".b.example.org", ".example.org", ".org" */
	for (char *p = strchr(d, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (p[1] != '\0' && (v = table_find(t, p)) != NULL)
			return v;
	return NULL;
}

/* Next hops. */

static int
hop_port(const char *s, struct domain_table_hop *h, const char **err_r)
{
	uint64_t	 v;
	const char	*why;

	if (s == NULL) {
		h->port = 25;
		return 0;
	}
	if (str_to_u64(s, 1, 65535, &v, &why) == -1) {
		*err_r = "bad port";
		return -1;
	}
	h->port = (uint16_t)v;
	return 0;
}

static bool
is_ip(const char *s, bool *v6_r)
{
	unsigned char	 a[16];

	*v6_r = inet_pton(AF_INET6, s, a) == 1;
	return *v6_r || inet_pton(AF_INET, s, a) == 1;
}

/* Inside the brackets: a host name, an IPv4 or an [IPv6:]IPv6 address. */
static int
hop_bracketed(const char *in, size_t len, struct domain_table_hop *h,
    const char **err_r)
{
	char	 s[DOMAIN_TABLE_NAME_MAX + 1];
	bool	 v6;

	if (len >= sizeof(s)) {
		*err_r = "host name too long";
		return -1;
	}
	memcpy(s, in, len);
	s[len] = '\0';
	if (strncasecmp(s, "IPv6:", 5) == 0) {
		if (!is_ip(s + 5, &v6) || !v6) {
			*err_r = "bad IPv6 address";
			return -1;
		}
		memmove(s, s + 5, len - 4);
	}
	h->literal = is_ip(s, &v6);
	if (!h->literal && !host_name_ok(s, strlen(s))) {
		*err_r = "bad host name";
		return -1;
	}
	strlcpy(h->host, s, sizeof(h->host));
	return 0;
}

static int
hop_plain(const char *s, size_t len, struct domain_table_hop *h,
    const char **err_r)
{
	char	 ip[64];
	bool	 v6;

	if (len < sizeof(ip)) {
		memcpy(ip, s, len);
		ip[len] = '\0';
		if (is_ip(ip, &v6)) {
			*err_r = "an IP address must be in brackets";
			return -1;
		}
	}
	if (len > 1 && s[len - 1] == '.')
		len--;
	if (!host_name_ok(s, len)) {
		*err_r = "bad host name";
		return -1;
	}
	memcpy(h->host, s, len);
	h->host[len] = '\0';
	h->mx_lookup = true;
	return 0;
}

int
domain_table_parse_hop(const char *s, struct domain_table_hop *h,
    const char **err_r)
{
	const char	*end, *colon;

	memset(h, 0, sizeof(*h));
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			*err_r = "missing ]";
			return -1;
		}
		if (end[1] != '\0' && end[1] != ':') {
			*err_r = "junk after ]";
			return -1;
		}
		if (hop_bracketed(s + 1, (size_t)(end - s - 1), h,
		    err_r) == -1)
			return -1;
		return hop_port(end[1] == ':' ? end + 2 : NULL, h, err_r);
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		*err_r = "an IP address must be in brackets";
		return -1;
	}
	if (hop_plain(s, colon != NULL ? (size_t)(colon - s) : strlen(s), h,
	    err_r) == -1)
		return -1;
	return hop_port(colon != NULL ? colon + 1 : NULL, h, err_r);
}

int
domain_table_check_hop(const char *value, const char **err_r)
{
	struct domain_table_hop	 h;

	return domain_table_parse_hop(value, &h, err_r);
}
