/*
 * fuzz_smtp_command — the server's command line parser and the client's
 * command formatter.
 *
 * Byte 0, bit 0: SMTP_PARSE_F_UTF8.  The rest is one command line.  On
 * success, MAIL and RCPT paths are formatted and parsed again with the
 * flags the command parser used (path round trip), and every command is
 * formatted and parsed again: the two parses must agree on every field.
 * On failure, the error must be a reply that formats.  Any mismatch
 * abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "smtp_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static void
path_trip(const struct smtp_cmd *c, int flags)
{
	struct addr	 b;
	enum addr_err	 err;
	char		 out[ADDR_FORMAT_SIZE];
	int		 aflags;

	if (c->verb == SMTP_VERB_MAIL)
		aflags = ADDR_F_NULL_OK | ADDR_F_UTF8;
	else if (c->verb == SMTP_VERB_RCPT)
		aflags = ADDR_F_POSTMASTER_OK |
		    ((flags & SMTP_PARSE_F_UTF8) ? ADDR_F_UTF8 : 0);
	else
		return;
	check(addr_format(&c->path, out, sizeof(out)) == 0);
	check(addr_parse_path(out, strlen(out), aflags, &b, NULL, &err) == 0);
	check(memcmp(&c->path, &b, sizeof(b)) == 0);
}

static void
cmd_trip(const struct smtp_cmd *c, int flags)
{
	struct smtp_cmd	 c2;
	struct buf	 out;

	buf_init(&out, SMTP_CMD_PARAM_LINE_MAX);
	check(smtp_proto_cmd_format(&out, c) == 0);
	check(smtp_proto_cmd_parse(buf_cstr(&out), out.len, flags, &c2) == 0);
	check(c->verb == c2.verb);
	check(strcmp(c->arg, c2.arg) == 0);
	check(memcmp(&c->path, &c2.path, sizeof(c2.path)) == 0);
	check(memcmp(&c->params, &c2.params, sizeof(c2.params)) == 0);
	check(c->chunk_size == c2.chunk_size && c->last == c2.last);
	check(strcmp(c->mech, c2.mech) == 0);
	buf_clear(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd	 c;
	struct buf	 reply;
	int		 flags;

	if (size < 1)
		return 0;
	flags = data[0] & SMTP_PARSE_F_UTF8;
	if (smtp_proto_cmd_parse((const char *)data + 1, size - 1, flags,
	    &c) == 0) {
		check(c.verb != SMTP_VERB_UNKNOWN);
		path_trip(&c, flags);
		cmd_trip(&c, flags);
		return 0;
	}
	buf_init(&reply, SMTP_REPLY_TEXT_MAX);
	check(smtp_proto_reply_error(&reply, &c.err) == 0);
	buf_clear(&reply);
	return 0;
}
