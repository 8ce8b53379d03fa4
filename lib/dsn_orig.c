/*
 * dsn_orig — the original message inside a DSN (dsn.h, dsn_private.h):
 * read in chunks through struct dsn_orig, twice (a scan, then the copy),
 * never held whole in memory.
 *
 * Both passes run the same byte machine over the input: lines end at LF
 * (a CR just before it belongs to the line end), the header section ends
 * at the first empty line.  It feeds every octet to a KMP matcher for the
 * boundary and writes the normalised copy (dsn.h) to a staging array; the
 * scan throws the copy away, the copy pass hands it to the sink.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dsn.h"
#include "dsn_private.h"
#include "xmalloc.h"

#define CHUNK		(64 * 1024)
/* Worst case per input octet: " " for a held CR, "\r\n " and the octet. */
#define STAGE_SIZE	(CHUNK * 5 + 16)

struct pass {
	const char	*bnd;
	size_t		 blen;
	size_t		 fail[DSN_BOUNDARY_LEN];
	size_t		 match;
	bool		 full;		/* whole original, else the header */
	bool		 early;		/* scan: stop once full is hopeless */
	uint64_t	 full_max;
	uint8_t		*o;		/* staging for the copy */
	size_t		 olen;
	size_t		 col;		/* octets on the output line */
	size_t		 line;		/* data octets on the input line */
	bool		 cr;		/* a CR held back */
	bool		 body;		/* past the empty line */
	bool		 done;
	struct dsn_scan	 r;
};

void
dsn_orig_mem(struct dsn_orig *o, const void *p, size_t len)
{
	memset(o, 0, sizeof(*o));
	o->prefix = p;
	o->prefix_len = len;
	o->fd = -1;
}

void
dsn_orig_fd(struct dsn_orig *o, int fd)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
}

int
dsn_sink_put(struct dsn_sink *s, const void *p, size_t n)
{
	const uint8_t	*q = p;
	ssize_t		 w;

	if (s->err != NULL)
		return -1;
	if (s->buf != NULL && buf_add(s->buf, p, n) == -1) {
		s->err = xstrdup("the DSN is larger than the output maximum");
		return -1;
	}
	s->size += n;
	while (s->buf == NULL && n > 0) {
		if ((w = write(s->fd, q, n)) == -1) {
			if (errno == EINTR)
				continue;
			s->err = xasprintf("write: %s", strerror(errno));
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
pass_init(struct pass *p, const char *bnd, bool full)
{
	size_t	 i, k = 0;

	memset(p, 0, sizeof(*p));
	p->bnd = bnd;
	p->blen = strlen(bnd);
	p->full = full;
	/* KMP: fail[i] = longest proper border of bnd[0..i]. */
	for (i = 1; i < p->blen; i++) {
		while (k > 0 && bnd[i] != bnd[k])
			k = p->fail[k - 1];
		if (bnd[i] == bnd[k])
			k++;
		p->fail[i] = k;
	}
	p->o = xmalloc(STAGE_SIZE);
}

static void
kmp_feed(struct pass *p, uint8_t c)
{
	while (p->match > 0 && c != (uint8_t)p->bnd[p->match])
		p->match = p->fail[p->match - 1];
	if (c == (uint8_t)p->bnd[p->match])
		p->match++;
	if (p->match == p->blen) {
		p->r.found = true;
		p->match = p->fail[p->blen - 1];
	}
}

static void
emit(struct pass *p, const char *s, size_t n)
{
	memcpy(p->o + p->olen, s, n);
	p->olen += n;
}

static void
line_end(struct pass *p)
{
	if (!p->body && p->line == 0) {
		/* The empty line: the header section ends before it. */
		p->body = true;
		if (!p->full) {
			p->done = true;
			return;
		}
	}
	emit(p, "\r\n", 2);
	p->col = p->line = 0;
}

/* A data octet; NUL and a lone CR are "bad". */
static void
data_octet(struct pass *p, uint8_t c)
{
	bool	 bad = c == '\0' || c == '\r';

	if (!p->body) {
		if (p->col >= DSN_LINE_MAX) {
			emit(p, "\r\n ", 3);
			p->col = 1;
		}
		if (c >= 0x80 && p->r.size <= DSN_HEADERS_MAX)
			p->r.hdr_8bit = true;
	} else {
		if (p->col >= DSN_LINE_MAX) {
			p->r.binary = true;
			emit(p, "\r\n", 2);
			p->col = 0;
		}
		p->r.binary |= bad;
	}
	p->r.any_8bit |= c >= 0x80;
	p->o[p->olen++] = bad ? ' ' : c;
	p->col++;
	p->line++;
}

/* Whether to stop reading after the octet just taken. */
static bool
pass_stop(struct pass *p)
{
	if (p->done)
		return true;
	if (!p->full && !p->body && p->r.size >= DSN_HEADERS_MAX) {
		/* Header section cut: end the line that was cut. */
		if (p->line > 0)
			emit(p, "\r\n", 2);
		p->cr = false;
		return p->done = true;
	}
	if (!p->early)
		return false;
	if (p->body && p->r.binary)
		return p->done = true;
	return p->done = p->full_max > 0 && p->r.size > p->full_max &&
	    (p->body || p->r.size >= DSN_HEADERS_MAX);
}

static void
pass_feed(struct pass *p, const uint8_t *in, size_t n)
{
	size_t	 i;
	uint8_t	 c;

	for (i = 0; i < n && !p->done; i++) {
		c = in[i];
		kmp_feed(p, c);
		p->r.size++;
		if (p->cr) {
			p->cr = false;
			if (c == '\n') {
				line_end(p);
				pass_stop(p);
				continue;
			}
			data_octet(p, '\r');
		}
		if (c == '\r')
			p->cr = true;
		else if (c == '\n')
			line_end(p);
		else
			data_octet(p, c);
		pass_stop(p);
	}
}

/* End of input: a held CR ends the line, an unfinished line gets CRLF. */
static void
pass_finish(struct pass *p)
{
	p->r.eof = true;
	if (p->done)
		return;
	if (p->cr) {
		p->cr = false;
		line_end(p);
	} else if (p->line > 0)
		emit(p, "\r\n", 2);
	p->done = true;
}

static ssize_t
orig_read(const struct dsn_orig *o, uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t	 r;

	if (off < o->prefix_len) {
		if (len > o->prefix_len - off)
			len = (size_t)(o->prefix_len - off);
		memcpy(buf, (const uint8_t *)o->prefix + off, len);
		return (ssize_t)len;
	}
	off -= o->prefix_len;
	if (o->read != NULL)
		r = o->read(o->arg, buf, len, off);
	else if (o->fd < 0)
		r = 0;
	else
		while ((r = pread(o->fd, buf, len, (off_t)off)) == -1 &&
		    errno == EINTR)
			;
	if (r > (ssize_t)len) {
		errno = EIO;
		r = -1;
	}
	return r;
}

/* Read to the end or the stop; copy into sink unless it is NULL. */
static int
pass_run(struct pass *p, const struct dsn_orig *o, struct dsn_sink *sink,
    char **err_r)
{
	uint8_t		*in = xmalloc(CHUNK);
	uint64_t	 off = 0;
	ssize_t		 r;
	int		 rv = 0;

	while (!p->done) {
		if ((r = orig_read(o, in, CHUNK, off)) == -1) {
			*err_r = xasprintf("reading the original: %s",
			    strerror(errno));
			rv = -1;
			break;
		}
		if (r == 0)
			pass_finish(p);
		else {
			off += (uint64_t)r;
			pass_feed(p, in, (size_t)r);
		}
		if (sink != NULL && dsn_sink_put(sink, p->o, p->olen) == -1) {
			*err_r = xstrdup(sink->err);
			rv = -1;
			break;
		}
		p->olen = 0;
	}
	free(in);
	free(p->o);
	p->o = NULL;
	return rv;
}

int
dsn_orig_scan(const struct dsn_orig *o, const char *bnd, bool full,
    uint64_t full_max, struct dsn_scan *r, char **err_r)
{
	struct pass	 p;

	pass_init(&p, bnd, full);
	p.early = full;
	p.full_max = full_max;
	if (pass_run(&p, o, NULL, err_r) == -1)
		return -1;
	*r = p.r;
	return 0;
}

int
dsn_orig_copy(const struct dsn_orig *o, const char *bnd, bool full,
    const struct dsn_scan *first, struct dsn_sink *sink, char **err_r)
{
	struct pass	 p;
	bool		 changed;

	pass_init(&p, bnd, full);
	if (pass_run(&p, o, sink, err_r) == -1)
		return -1;
	changed = p.r.found || (p.r.hdr_8bit && !first->hdr_8bit);
	if (full)
		changed |= p.r.size != first->size || p.r.binary ||
		    (p.r.any_8bit && !first->any_8bit);
	if (changed) {
		*err_r = xstrdup("the original changed while it was read");
		return -1;
	}
	return 0;
}
