/*
 * deliver/parse.c — a message's IMAP ENVELOPE and BODYSTRUCTURE, computed
 * once per message when it is delivered (lib/mime) and cached in every
 * message row, so imapd never parses a body to answer FETCH ENVELOPE or
 * BODYSTRUCTURE.  A result PostgreSQL cannot hold as text (NUL, invalid
 * UTF-8, over MIME_CACHE_MAX) is left NULL for imapd to compute when asked.
 *
 * The message's searchable text (mime_search_text: decoded header fields
 * and text bodies as words) is made here too, once; mailbox_db.c stores
 * its full-text vector in each message row (messages.fts, imapd's SEARCH
 * BODY/TEXT).  Text longer than MIME_TEXT_MAX leaves it NULL: no vector,
 * so imapd reads that message for every such search.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "addr.h"
#include "blob.h"
#include "buf.h"
#include "log.h"
#include "mime.h"
#include "deliver.h"


static void
parse_text(struct dmsg *m, const uint8_t *data, size_t len)
{
	struct buf	 text;

	buf_init(&text, MIME_TEXT_MAX);
	if (mime_search_text(data, len, &text, MIME_TEXT_MAX) == 0)
		m->fts_text = buf_steal(&text, NULL);
	else
		log_info("%s: text too long for a search vector",
		    m->queue_id);
	buf_clear(&text);
}

static void
parse_mapped(struct dmsg *m, const uint8_t *data, size_t len)
{
	mime_cache_strings(data, len, &m->envelope, &m->bodystructure);
	parse_text(m, data, len);
}

void
dmsg_parse(struct dmsg *m, const char *blobdir)
{
	struct stat	 st;
	void		*map;
	int		 fd;

	if ((fd = blob_open(blobdir, m->blob)) == -1 || fstat(fd, &st) == -1) {
		log_warn("%s: blob %s", m->queue_id, m->blob);
		if (fd != -1)
			close(fd);
		return;
	}
	if (st.st_size == 0) {
		parse_mapped(m, (const uint8_t *)"", 0);
		close(fd);
		return;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		log_warn("%s: mmap blob", m->queue_id);
		return;
	}
	parse_mapped(m, map, (size_t)st.st_size);
	munmap(map, (size_t)st.st_size);
}
