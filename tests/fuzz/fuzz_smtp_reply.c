/*
 * fuzz_smtp_reply — the client's incremental reply parser, EHLO
 * capabilities and the reply formatter.
 *
 * Byte 0: how many chunk sizes follow (1-8, from its low 3 bits + 1);
 * those bytes are the sizes (0 counts as 1), cycled.  The rest is fed
 * once whole and once in those chunks; the replies, where parsing
 * stopped and why must be the same.  Each reply that the formatter
 * accepts (code, enhanced code, text) must parse back the same.  Any
 * mismatch abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* A reply, serialised for comparison. */
static void
log_reply(struct buf *log, const struct smtp_reply *r)
{
	check(buf_printf(log, "%u %d %u.%u.%u %zu %zu:", r->code, r->has_enh,
	    r->enh[0], r->enh[1], r->enh[2], r->nlines, r->text_len) == 0);
	check(buf_add(log, r->text, r->text_len) == 0);
	check(buf_add_u8(log, '\n') == 0);
}

/* Format a parsed reply and parse it again: the same reply. */
static void
reply_trip(const struct smtp_reply *r)
{
	struct smtp_reply_parser	*p;
	const struct smtp_reply		*r2;
	struct buf			 out;
	char				 enh[16];
	const char			*err;
	size_t				 used;

	snprintf(enh, sizeof(enh), "%u.%u.%u", r->enh[0], r->enh[1],
	    r->enh[2]);
	buf_init(&out, 1 << 20);
	if (smtp_proto_reply_format(&out, r->code, r->has_enh ? enh : NULL,
	    r->text) == -1) {
		buf_clear(&out);
		return;
	}
	p = smtp_proto_reply_parser_new();
	check(smtp_proto_reply_parse(p, BUF_DATA(&out), out.len, &used, &r2,
	    &err) == SMTP_PARSE_OK);
	check(used == out.len);
	check(r2->code == r->code && r2->has_enh == r->has_enh);
	check(!r->has_enh || memcmp(r->enh, r2->enh, sizeof(r->enh)) == 0);
	check(r2->nlines == r->nlines && r2->text_len == r->text_len);
	check(memcmp(r->text, r2->text, r->text_len) == 0);
	smtp_proto_reply_parser_free(&p);
	buf_clear(&out);
}

/* Feed data in chunks (sizes cycled; NULL: whole); log the outcome. */
static void
run(const uint8_t *data, size_t len, const uint8_t *sizes, size_t nsizes,
    struct buf *log, bool extra)
{
	struct smtp_reply_parser	*p = smtp_proto_reply_parser_new();
	const struct smtp_reply		*r;
	enum smtp_parse_result		 res = SMTP_PARSE_MORE;
	struct smtp_caps		 caps;
	const char			*err = "";
	size_t				 off = 0, cur = 0, k = 0, used;

	while (off < len) {
		if (cur == 0)
			cur = sizes == NULL ? len - off :
			    (sizes[k++ % nsizes] == 0 ? 1 :
			    sizes[(k - 1) % nsizes]);
		if (cur > len - off)
			cur = len - off;
		res = smtp_proto_reply_parse(p, data + off, cur, &used, &r,
		    &err);
		check(used <= cur);
		check(res != SMTP_PARSE_MORE || used == cur);
		off += used;
		cur -= used;
		if (res == SMTP_PARSE_ERR)
			break;
		if (res == SMTP_PARSE_OK) {
			log_reply(log, r);
			if (extra) {
				reply_trip(r);
				smtp_proto_caps_parse(r, &caps);
			}
		}
	}
	check(buf_printf(log, "end %d %zu %s\n", res == SMTP_PARSE_ERR, off,
	    res == SMTP_PARSE_ERR ? err : "") == 0);
	smtp_proto_reply_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 whole, chunked;
	size_t		 nsizes;

	if (size < 1)
		return 0;
	nsizes = (size_t)(data[0] & 0x07) + 1;
	if (size < 1 + nsizes)
		return 0;
	buf_init(&whole, 1 << 24);
	buf_init(&chunked, 1 << 24);
	run(data + 1 + nsizes, size - 1 - nsizes, NULL, 0, &whole, true);
	run(data + 1 + nsizes, size - 1 - nsizes, data + 1, nsizes, &chunked,
	    false);
	check(whole.len == chunked.len);
	check(memcmp(BUF_DATA(&whole), BUF_DATA(&chunked), whole.len) == 0);
	buf_clear(&whole);
	buf_clear(&chunked);
	return 0;
}
