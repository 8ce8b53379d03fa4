/*
 * smtpd/submit.c — what a message submission agent does to the header of
 * a submitted message (RFC 6409 8): add Date: and Message-ID: when the
 * client left them out (8.2, 8.3), and check that every address in
 * From: and Sender: is one the authenticated user may send as (6.1,
 * submission_sender_check).
 *
 * The header is read line by line as the body streams into the spool
 * (DATA or BDAT alike); lines pass through unchanged, and the missing
 * fields go in just before the empty line that ends the header.  Only
 * the bodies of From: and Sender: are kept, to be parsed and checked with
 * authd once the whole message is in: then data_commit() or a 550.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <bsd/stdlib.h>

#include "addr_list.h"
#include "buf.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "peer.h"
#include "proto_auth.h"
#include "xmalloc.h"
#include "smtpd.h"

#define HEADER_LINE_MAX	(64 * 1024)	/* BDAT has no 998 check */
#define SENDERS_MAX	(64 * 1024)	/* From: and Sender: bodies */
#define CHECKS_MAX	100		/* addresses asked about */

enum field {
	FIELD_OTHER,
	FIELD_FROM,
	FIELD_SENDER,
};

struct submit {
	struct buf	 line;		/* the header line being read */
	bool		 done;		/* past the header */
	bool		 have_date, have_msgid;
	enum field	 field;		/* the field being read */
	struct buf	 senders;	/* field bodies, each NUL-ended, with
					   a leading 'F' or 'S' */
	char		**check;	/* "local@domain" to ask authd about */
	size_t		 ncheck, next;
	char		 reply[512];	/* a rejection, for s->data_error */
};

void
submit_start(struct session *s)
{
	s->submit = xcalloc(1, sizeof(*s->submit));
	buf_init(&s->submit->line, HEADER_LINE_MAX);
	buf_init(&s->submit->senders, SENDERS_MAX);
}

void
submit_free(struct session *s)
{
	struct submit	*sb = s->submit;

	if (sb == NULL)
		return;
	buf_clear(&sb->line);
	buf_clear(&sb->senders);
	for (size_t i = 0; i < sb->ncheck; i++)
		free(sb->check[i]);
	free(sb->check);
	free(sb);
	s->submit = NULL;
}

bool
submit_in_header(const struct session *s)
{
	return s->submit != NULL && !s->submit->done;
}

/* RFC 6409 8.2, 8.3: the fields we add, before the header's end. */
static void
add_missing(struct session *s)
{
	struct submit	*sb = s->submit;
	char		 line[320];
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 n;

	sb->done = true;
	if (!sb->have_date) {
		gmtime_r(&now, &tm);
		n = (int)strftime(line, sizeof(line), "Date: %a, %d %b %Y "
		    "%H:%M:%S +0000\r\n", &tm);
		data_put(s, line, (size_t)n);
	}
	if (!sb->have_msgid) {
		n = snprintf(line, sizeof(line), "Message-ID: <%s.%08x@%s>\r\n",
		    s->spool, arc4random(), s->sd->hostname);
		if (n > 0 && (size_t)n < sizeof(line))
			data_put(s, line, (size_t)n);
	}
}

/* The field's last line end is not part of its body. */
static void
senders_end(struct submit *sb)
{
	struct buf	*b = &sb->senders;

	if (sb->field == FIELD_OTHER)
		return;
	while (b->len > 1 && (BUF_DATA(b)[b->len - 1] == '\n' ||
	    BUF_DATA(b)[b->len - 1] == '\r'))
		b->len--;
	(void)buf_add(b, "", 1);	/* room kept by senders_add() */
	sb->field = FIELD_OTHER;
}

static void
senders_add(struct session *s, const char *p, size_t n)
{
	struct buf	*b = &s->submit->senders;

	if (n + 1 > buf_avail(b) || buf_add(b, p, n) == -1) {
		if (s->data_error == NULL)
			s->data_error = "550 5.6.0 Error: From: or Sender: "
			    "header too long";
	}
}

/*
 * A field name: printable US-ASCII but ":" (RFC 5322 2.2), then the
 * colon, with white space before it allowed (obs-optional, 4.5: MIME
 * parsers and MUAs take "From : x" as From:).  The name's length, with
 * *colon_r the colon's offset; 0 when the line is no field.
 */
static size_t
field_name_len(const char *p, size_t n, size_t *colon_r)
{
	size_t	 i = 0, name;

	while (i < n && p[i] >= 33 && p[i] <= 126 && p[i] != ':')
		i++;
	name = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (name == 0 || i >= n || p[i] != ':')
		return 0;
	*colon_r = i;
	return name;
}

static void
header_field(struct session *s, const char *p, size_t n, size_t name,
    size_t colon)
{
	struct submit	*sb = s->submit;

	senders_end(sb);
	if (name == 4 && strncasecmp(p, "Date", 4) == 0)
		sb->have_date = true;
	else if (name == 10 && strncasecmp(p, "Message-ID", 10) == 0)
		sb->have_msgid = true;
	else if (name == 4 && strncasecmp(p, "From", 4) == 0)
		sb->field = FIELD_FROM;
	else if (name == 6 && strncasecmp(p, "Sender", 6) == 0)
		sb->field = FIELD_SENDER;
	if (sb->field != FIELD_OTHER) {
		senders_add(s, sb->field == FIELD_FROM ? "F" : "S", 1);
		senders_add(s, p + colon + 1, n - colon - 1);
	}
}

/* One complete header line, its LF included. */
static void
header_line(struct session *s)
{
	struct submit	*sb = s->submit;
	const char	*p = (const char *)BUF_DATA(&sb->line);
	size_t		 n = sb->line.len, text = n, name, colon;

	while (text > 0 && (p[text - 1] == '\n' || p[text - 1] == '\r'))
		text--;
	if (text > 0 && (p[0] == ' ' || p[0] == '\t')) {
		if (sb->field != FIELD_OTHER)	/* folded (RFC 5322 2.2.3) */
			senders_add(s, p, n);
	} else if (text > 0 && (name = field_name_len(p, text, &colon)) > 0)
		header_field(s, p, n, name, colon);
	else {			/* the empty line, or already body text */
		senders_end(sb);
		add_missing(s);
		if (text > 0)	/* no empty line: the header ends here */
			data_put(s, "\r\n", 2);
	}
	data_put(s, p, n);
	buf_reset(&sb->line);
}

void
submit_feed(struct session *s, const uint8_t *p, size_t len)
{
	struct submit	*sb = s->submit;
	const uint8_t	*lf;
	size_t		 n;

	while (len > 0 && !sb->done) {
		lf = memchr(p, '\n', len);
		n = lf != NULL ? (size_t)(lf - p) + 1 : len;
		if (buf_add(&sb->line, p, n) == -1) {
			if (s->data_error == NULL)
				s->data_error = "550 5.6.0 Error: header line "
				    "too long";
			sb->done = true;
			return;
		}
		p += n;
		len -= n;
		if (lf != NULL)
			header_line(s);
	}
	if (len > 0)
		data_put(s, p, len);
}

/* ---- the senders, once the message is in ---- */

static void	check_next(struct session *);

static void
check_done(struct session *s)
{
	data_commit(s);
	if (s->state != SMTP_STATE_WAIT)	/* else qmgr's answer resumes */
		session_resume(s);
}

static void
check_reply(void *arg, struct ipc_msg *msg)
{
	struct session	*s = arg;
	struct submit	*sb = s->submit;
	uint32_t	 status = AUTH_TEMPFAIL;
	char		 safe[300];
	const char	*a = sb->check[sb->next];

	if (msg != NULL && msg->hdr.type == AUTH_SENDER_R)
		ipc_get_u32(msg, &status);
	log_safe(safe, sizeof(safe), a, strlen(a));
	if (status == AUTH_OK) {
		sb->next++;
		check_next(s);
		return;
	}
	if (status == AUTH_DENIED) {
		log_info("%s reject: From/Sender <%s> not owned by user=%s",
		    s->id, safe, s->auth_user);
		snprintf(sb->reply, sizeof(sb->reply), "550 5.7.1 <%s>: From: "
		    "or Sender: address not owned by user %s", safe,
		    s->auth_user);
		s->data_error = sb->reply;
	} else
		s->data_error = "451 4.3.0 Error: temporary lookup failure";
	check_done(s);
}

static void
check_next(struct session *s)
{
	struct submit	*sb = s->submit;
	struct ipc_out	*o;
	uint32_t	 id;

	if (sb->next >= sb->ncheck) {
		check_done(s);
		return;
	}
	s->state = SMTP_STATE_WAIT;
	io_pause_read(s->io);
	if ((o = peer_begin(s->sd->authd, AUTH_SENDER, &id)) != NULL) {
		ipc_put_u64(o, s->auth_id);
		ipc_put_str(o, sb->check[sb->next]);
		if (peer_send(s->sd->authd, o, id, s, &s->pending, check_reply) == 0)
			return;
	}
	check_reply(s, NULL);
}

/* Each body of From: (mailbox-list) and Sender: (one mailbox). */
static int
senders_parse(struct session *s)
{
	struct submit	*sb = s->submit;
	const char	*p = (const char *)BUF_DATA(&sb->senders), *why;
	const char	*end = p + sb->senders.len;
	struct addr_list list = { NULL, 0 };
	size_t		 n;

	for (; p < end; p += n + 1) {
		n = strlen(p);
		if (addr_list_parse(p + 1, n - 1, ADDR_LIST_F_UTF8 |
		    ADDR_LIST_F_NO_GROUPS, &list, &why) == -1 ||
		    (p[0] == 'S' && list.n != 1)) {
			log_info("%s reject: %s: header: %s", s->id,
			    p[0] == 'F' ? "From" : "Sender",
			    why != NULL ? why : "not one mailbox");
			addr_list_clear(&list);
			return -1;
		}
		for (size_t i = 0; i < list.n && sb->ncheck < CHECKS_MAX; i++) {
			sb->check = xreallocarray(sb->check, sb->ncheck + 1,
			    sizeof(*sb->check));
			sb->check[sb->ncheck++] = xasprintf("%s@%s",
			    list.v[i].local, list.v[i].domain);
		}
		addr_list_clear(&list);
	}
	return 0;
}

void
submit_finish(struct session *s)
{
	struct submit	*sb = s->submit;

	if (!sb->done && sb->line.len > 0 &&	/* BDAT: no final CRLF */
	    buf_add(&sb->line, "\r\n", 2) == 0)
		header_line(s);
	if (!sb->done) {
		senders_end(sb);
		add_missing(s);
	}
	if (s->data_error == NULL && !s->sd->sender_any &&
	    senders_parse(s) == -1)
		s->data_error = "550 5.6.0 Error: malformed From: or Sender: "
		    "header";
	if (s->data_error != NULL || s->sd->sender_any) {
		check_done(s);
		return;
	}
	sb->next = 0;
	check_next(s);
}
