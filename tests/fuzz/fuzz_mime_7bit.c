/*
 * fuzz_mime_7bit — 8-bit to 7-bit MIME conversion (lib/mime_7bit.c).
 *
 * The whole input is a message.  When mime_7bit() converts it:
 *  - every output octet is 7-bit and every line at most 998 octets;
 *  - the output parses (lib/mime) to the same tree: as many nodes, each
 *    with the same type, subtype and kind (multipart, encapsulating,
 *    opaque, message);
 *  - each leaf body decodes to the original's: a body re-encoded as
 *    quoted-printable gives the original octets with LF line ends made
 *    CRLF, one re-encoded as base64 gives them exactly, any other is
 *    copied octet for octet;
 *  - mime_7bit_fd() writes the same octets;
 * when it does nothing (0), the input must already be 7-bit with short
 * lines; when it fails, it says why.  Any failure abort()s.
 * tests/unit/test_mime_7bit.c includes this file to run the same checks
 * on its table.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "buf.h"
#include "mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define M7_LINE_MAX	998
#define M7_FLAGS	(MIME_PART_F_MESSAGE | MIME_PART_F_MULTIPART | \
			 MIME_PART_F_ENCAPS | MIME_PART_F_OPAQUE)

#define M7_CHECK(x)	do { if (!(x)) abort(); } while (0)

static bool
m7_output_ok(const uint8_t *s, size_t len)
{
	size_t	 col = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] & 0x80)
			return false;
		if (s[i] == '\n') {
			col = 0;
			continue;
		}
		/* a CR before LF is not counted */
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		if (++col > M7_LINE_MAX)
			return false;
	}
	return true;
}

/* LF not after CR becomes CRLF (what the QP encoder's line ends give). */
static void
m7_crlf(struct buf *out, const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			M7_CHECK(buf_add_u8(out, '\r') == 0);
		M7_CHECK(buf_add_u8(out, s[i]) == 0);
	}
}

static bool
m7_leaf_same(const uint8_t *in, const struct mime_part *a,
    const uint8_t *out, const struct mime_part *b)
{
	const uint8_t	*ab = in + a->body_off, *bb = out + b->body_off;
	struct buf	 x, y;
	bool		 same;

	if (b->encoding == a->encoding || (b->encoding != MIME_ENC_QP &&
	    b->encoding != MIME_ENC_BASE64))
		return a->body_len == b->body_len &&
		    memcmp(ab, bb, a->body_len) == 0;
	buf_init(&x, a->body_len * 2 + 16);
	buf_init(&y, a->body_len * 2 + 16);
	if (b->encoding == MIME_ENC_QP) {
		m7_crlf(&x, ab, a->body_len);
		M7_CHECK(mime_qp_decode(&y, bb, b->body_len, NULL) == 0);
	} else {
		M7_CHECK(buf_add(&x, ab, a->body_len) == 0);
		M7_CHECK(mime_base64_decode(&y, bb, b->body_len, NULL) == 0);
	}
	same = x.len == y.len && memcmp(BUF_DATA(&x), BUF_DATA(&y),
	    x.len) == 0;
	buf_clear(&x);
	buf_clear(&y);
	return same;
}

static bool
m7_same_tree(const uint8_t *in, size_t inlen, const uint8_t *out,
    size_t outlen)
{
	struct mime_limits	 lim;
	struct mime_msg		*ma, *mb;
	bool			 same;

	mime_limits_default(&lim);
	lim.fields_max = 100000000u;
	ma = mime_parse(in, inlen, &lim);
	mb = mime_parse(out, outlen, &lim);
	same = mime_part_count(ma) == mime_part_count(mb) &&
	    !mime_limited(mb);
	for (size_t i = 0; same && i < mime_part_count(ma); i++) {
		const struct mime_part *a = mime_part_at(ma, i);
		const struct mime_part *b = mime_part_at(mb, i);

		same = strcmp(a->type, b->type) == 0 &&
		    strcmp(a->subtype, b->subtype) == 0 &&
		    (a->flags & M7_FLAGS) == (b->flags & M7_FLAGS) &&
		    a->nchildren == b->nchildren;
		if (same && ((a->flags & MIME_PART_F_OPAQUE) ||
		    !(a->flags & (MIME_PART_F_MULTIPART | MIME_PART_F_ENCAPS))))
			same = m7_leaf_same(in, a, out, b);
	}
	mime_free(&ma);
	mime_free(&mb);
	return same;
}

/* mime_7bit_fd() writes what mime_7bit() appends. */
static bool
m7_fd_same(const uint8_t *in, size_t inlen, const struct buf *want)
{
	int	 fd = memfd_create("m7", MFD_CLOEXEC);
	char	*err = NULL;
	uint8_t	*got;
	bool	 same;
	off_t	 len;

	M7_CHECK(fd != -1);
	M7_CHECK(mime_7bit_fd(fd, in, inlen, &err) == 1);
	len = lseek(fd, 0, SEEK_END);
	got = malloc((size_t)len + 1);
	M7_CHECK(got != NULL);
	M7_CHECK(pread(fd, got, (size_t)len, 0) == len);
	same = (size_t)len == want->len &&
	    memcmp(got, BUF_DATA(want), want->len) == 0;
	free(got);
	close(fd);
	return same;
}

/* The checks above; returns mime_7bit()'s result. */
static int
m7_check(const uint8_t *in, size_t len)
{
	struct buf	 out;
	char		*err = NULL;
	int		 rc;

	buf_init(&out, len * 4 + 4096);
	rc = mime_7bit(&out, in, len, &err);
	if (rc == -1) {
		M7_CHECK(err != NULL && *err != '\0');
		M7_CHECK(strstr(err, "too large") == NULL);
	} else if (rc == 0) {
		M7_CHECK(err == NULL && out.len == 0);
		M7_CHECK(m7_output_ok(in, len));
	} else {
		M7_CHECK(rc == 1 && err == NULL);
		M7_CHECK(m7_output_ok(BUF_DATA(&out), out.len));
		M7_CHECK(m7_same_tree(in, len, BUF_DATA(&out), out.len));
		M7_CHECK(m7_fd_same(in, len, &out));
	}
	free(err);
	buf_clear(&out);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256 * 1024)
		return 0;
	m7_check(data, size);
	return 0;
}
