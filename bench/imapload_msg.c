/*
 * imapload_msg — the messages imapload APPENDs, or writes as maildir
 * files for a server that is faster to fill directly (see imapload.h).
 *
 * SECURITY: bench tool; writes only below the directory it is given.
 * STANDARDS: RFC 5322 messages with CRLF line ends and lines under 78
 * characters; maildir file names as Dovecot reads them (",S=" size).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imapload.h"
#include "log.h"

static const char *const words[] = {
	"harbour", "anchor", "vessel", "cargo", "tide", "pier", "crane",
	"ledger", "manifest", "quay", "berth", "hull", "keel", "mast", "sail",
	"rope", "knot", "buoy", "lighthouse", "channel", "dredge", "ferry",
	"tug", "barge", "dock", "lock", "sluice", "bollard", "capstan",
	"winch", "galley", "bridge", "compass", "chart", "sextant", "log",
	"watch", "bell", "signal", "flag", "pennant", "beacon", "storm",
	"gale", "breeze", "current", "reef", "shoal", "cove", "inlet",
	"estuary", "delta", "island", "coast", "shore", "beach", "cliff",
	"rock", "sand", "shell", "salt", "spray", "foam", "wave"
};
#define WORDS	(sizeof(words) / sizeof(words[0]))

uint64_t
msg_rng(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

uint64_t
msg_rng_below(uint64_t *state, uint64_t n)
{
	return n == 0 ? 0 : msg_rng(state) % n;
}

const char *
msg_word(uint64_t i)
{
	return words[i % WORDS];
}

static void
msg_headers(uint64_t *rng, uint64_t k, struct buf *b)
{
	if (buf_printf(b, "From: Bench Sender <sender@bench.test>\r\n"
	    "To: <rcpt@bench.test>\r\nSubject: bench %s %" PRIu64 "\r\n"
	    "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
	    "Message-ID: <%" PRIu64 ".%" PRIu64 "@bench.test>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n",
	    msg_word(k), k, k, msg_rng(rng)) == -1)
		fatalx("message buffer");
}

void
msg_build(uint64_t *rng, uint64_t k, size_t size, struct buf *b)
{
	size_t col = 0;

	buf_reset(b);
	msg_headers(rng, k, b);
	if (k % MSG_NEEDLE_EVERY == 0 && buf_add_str(b, "zebra ") == -1)
		fatalx("message buffer");
	while (b->len + 16 < size) {
		const char *w = msg_word(msg_rng(rng));

		if (buf_printf(b, "%s%s", w, col > 60 ? "\r\n" : " ") == -1)
			fatalx("message buffer");
		col = col > 60 ? 0 : col + strlen(w) + 1;
	}
	if (buf_add_str(b, "\r\nend\r\n") == -1)
		fatalx("message buffer");
}

static void
write_all(int fd, const void *p, size_t len, const char *path)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			fatal("write %s", path);
		p = (const char *)p + n;
		len -= (size_t)n;
	}
}

static void
write_one(const char *dir, uint64_t k, const struct buf *b)
{
	char path[PATH_MAX];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/cur/%010" PRIu64
	    ".bench,S=%zu:2,", dir, k, b->len);
	if (n < 0 || (size_t)n >= sizeof(path))
		fatalx("%s: path too long", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		fatal("open %s", path);
	write_all(fd, BUF_DATA(b), b->len, path);
	if (close(fd) == -1)
		fatal("close %s", path);
}

void
msg_write_maildir(uint64_t *rng, const char *dir, uint64_t n, size_t size)
{
	struct buf b;
	uint64_t k;

	buf_init(&b, size + 4096);
	for (k = 0; k < n; k++) {
		msg_build(rng, k, size, &b);
		write_one(dir, k, &b);
	}
	buf_clear(&b);
}
