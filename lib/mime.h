/*
 * mime — MIME structure of a stored message (RFC 5322, RFC 2045-2047,
 * RFC 2231), the IMAP ENVELOPE and BODYSTRUCTURE built from it (RFC 3501
 * §7.4.2, RFC 9051 §7.5.2), and decoding helpers for SEARCH and BINARY.
 *
 * deliver parses each message once (mime_parse) and caches the ENVELOPE
 * and BODYSTRUCTURE strings; imapd serves BODY[section] from the part
 * tree's offsets without parsing again.
 *
 * The input is a whole message in memory, as stored: CRLF line ends, bare
 * LF accepted everywhere (a line ends at LF; a CR before it belongs to the
 * line end; a lone CR is data).  The input is untrusted:
 *  - one forward pass over the lines: time is linear in the input (each
 *    line that starts with "--" is also compared with at most depth_max
 *    open boundaries); the writers and decoders are linear too;
 *  - bodies are never copied; memory is bounded by struct mime_limits,
 *    whatever the structure: parts past parts_max are not created, parts
 *    deeper than depth_max are opaque leaves, at most fields_max header
 *    fields per part are looked at and at most field_max octets of one
 *    (unfolded) field are kept.  What is kept comes from header octets
 *    (at most tripled by RFC 2231 "%25" escaping) plus a fixed cost per
 *    part;
 *  - nothing is an error: missing or never-closed boundaries, headers
 *    without a colon, NUL and 8-bit octets, unterminated quoted strings and
 *    comments all give some tree.  NUL octets are dropped from every
 *    string kept (IMAP strings cannot carry them).
 *
 * Decisions (where the RFCs leave room or the input breaks them):
 *  - Boundary delimiter lines (RFC 2046 §5.1.1) are "--" boundary
 *    ["--"] followed by optional space/tab, matched exactly, innermost
 *    multipart first; a delimiter of an enclosing multipart also ends
 *    every inner part (a missing close delimiter is tolerated).  The line
 *    end before a delimiter belongs to the delimiter.  A boundary longer
 *    than MIME_BOUNDARY_MAX, an empty one or none at all makes the
 *    multipart an opaque leaf.
 *  - A header ends at the first empty line, at a delimiter line of an
 *    enclosing multipart, or at the end of the input.  Lines without a
 *    colon inside a header are skipped (not taken as the start of the
 *    body).  The first occurrence of each field counts.
 *  - Content-Type is honoured without MIME-Version.  Missing: text/plain
 *    (message/rfc822 inside multipart/digest, RFC 2046 §5.1.5);
 *    syntactically invalid: text/plain (RFC 2045 §5.2).  A text part
 *    without charset gets charset=us-ascii (RFC 2046 §4.1.2).  A missing
 *    or invalid Content-Transfer-Encoding is "7bit" (RFC 2045 §6.1).
 *  - Type, subtype, encoding, disposition type and parameter names are
 *    case-insensitive (RFC 2045 §5.1) and kept in lower case; parameter
 *    values and all other strings are kept as sent.
 *  - RFC 2231 continuations are merged (name*0*, name*1, ... -> one
 *    "name*" or "name" parameter), but the charset'language'%XX form is
 *    not decoded in BODYSTRUCTURE (clients decode it; the wire stays
 *    7-bit): a merged extended value is "charset'lang'pct-encoded", with
 *    "%" of plain segments escaped as "%25" and "''" put in front when the
 *    first segment was plain.  Segments with gaps or duplicates are kept
 *    as sent.  mime_rfc2231_decode() gives the UTF-8 value.
 *  - message/rfc822 and message/global (RFC 6532 §3.5) are parsed
 *    recursively and written with envelope and body (the RFC 9051 form
 *    of body-type-msg).  One that is not parsed (base64/quoted-printable
 *    encoded, or at the depth or parts limit) is still written in that
 *    form, with an all-NIL envelope and an empty text/plain body, so that
 *    clients following the grammar do not trip.  Likewise a multipart with
 *    no parts is written with one empty text/plain part (the grammar
 *    needs 1*body).
 *  - body-fld-octets is the size of the body as stored; body-fld-lines
 *    counts LFs in the body, plus one for a last line without LF.
 */
#ifndef WHARF_MIME_H
#define WHARF_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define MIME_DEPTH_MAX		50	/* nesting; deeper parts are leaves */
#define MIME_PARTS_MAX		10000	/* parts in one message */
#define MIME_FIELDS_MAX		1000	/* header fields looked at per part */
#define MIME_FIELD_MAX		65536	/* octets kept of one unfolded field */
#define MIME_PARAMS_MAX		64	/* parameters per Content-Type etc. */
/* Hard ceiling for depth_max (the parser recurses once per level). */
#define MIME_DEPTH_LIMIT	1000
/* RFC 2046 §5.1.1 allows 70; some senders go further. */
#define MIME_BOUNDARY_MAX	200

/*
 * Limits of one parse.  mime_limits_default() fills in the defaults
 * above; a zero parts_max/fields_max/field_max/params_max means the
 * default, depth_max is taken as is (0: the top level is a leaf) and
 * capped at MIME_DEPTH_LIMIT.
 */
struct mime_limits {
	unsigned int	 depth_max;
	unsigned int	 parts_max;
	unsigned int	 fields_max;
	size_t		 field_max;
	unsigned int	 params_max;
};

/* Content-Transfer-Encoding (RFC 2045 §6.1). */
enum mime_encoding {
	MIME_ENC_7BIT,
	MIME_ENC_8BIT,
	MIME_ENC_BINARY,
	MIME_ENC_BASE64,
	MIME_ENC_QP,		/* quoted-printable */
	MIME_ENC_OTHER,		/* any other token (x-uuencode...) */
};

/* The ENVELOPE fields, in the order of RFC 3501 §7.4.2. */
enum mime_env_field {
	MIME_ENV_DATE,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_NFIELDS,
};

/* A Content-Type or Content-Disposition parameter (RFC 2045 §5.1). */
struct mime_param {
	char	*name;		/* lower case; "name*" for RFC 2231 */
	char	*value;		/* unquoted; RFC 2231 segments merged */
};

/* mime_part.flags */
#define MIME_PART_F_MESSAGE	0x01	/* an RFC 5322 message: the root, or
					   the child of message/rfc822|global */
#define MIME_PART_F_MULTIPART	0x02	/* type "multipart" */
#define MIME_PART_F_ENCAPS	0x04	/* message/rfc822 or message/global */
#define MIME_PART_F_OPAQUE	0x08	/* multipart or encapsulating part not
					   parsed into children (limits,
					   encoding, bad boundary) */
#define MIME_PART_F_TRUNCATED	0x10	/* children dropped: parts_max */

/*
 * One node of the part tree; read-only for callers.  The tree is the
 * BODYSTRUCTURE tree: the root is the message itself (its header is the
 * message header); the children of a multipart are its body parts; a
 * message/rfc822 (or message/global) part has one child, the
 * encapsulated message (header = that message's header, body = its body).
 *
 * Offsets are into the input given to mime_parse().  The header is the
 * hdr_len octets at hdr_off, ending where the body starts; it includes
 * the empty line that ends it.  The body is body_len octets at body_off,
 * without the line end that belongs to the next delimiter (RFC 2046
 * §5.1.1: delimiter := CRLF dash-boundary).  So when a delimiter follows
 * a header directly, or right after its empty line, the header stops
 * before that line end and the body is empty; likewise an encapsulated
 * message inside.  Children lie inside their parent's body, in order
 * (an empty last part at "--inner" LF "--outer" keeps that LF inside).
 *
 * Section numbers (RFC 3501 §6.4.5), in mime_part.section:
 *  - The root of a non-multipart message is "1" (BODY[1] is its body);
 *    the root of a multipart message is "" (it has no part number; its
 *    parts are "1", "2", ...).  HEADER and TEXT of the top level are the
 *    root's header and body, MIME of "1" in a non-multipart message is
 *    the root's header too.
 *  - The parts of a multipart numbered N are N.1, N.2, ... (1, 2, ... at
 *    the top).
 *  - A message/rfc822 part numbered N: BODY[N] is its whole body (the
 *    encapsulated message), BODY[N.MIME] its own header.  Its child, the
 *    encapsulated message, serves N.HEADER and N.TEXT (child's header and
 *    body).  If that message is multipart, the child carries the same
 *    number N and its parts are N.1, N.2, ...; otherwise the child is
 *    N.1 (its body).  So "3" can name two nodes: mime_section_find()
 *    returns the outer one (the message/rfc822 part).
 */
struct mime_part {
	struct mime_part	*parent;
	struct mime_part	*children;	/* first child */
	struct mime_part	*next;		/* next sibling */
	unsigned int		 nchildren;
	unsigned int		 depth;		/* 0 for the root */
	unsigned int		 index;		/* position in pre-order */
	int			 flags;		/* MIME_PART_F_* */
	char			*section;	/* "", "1", "2.1.3" */

	size_t			 hdr_off;	/* header */
	size_t			 hdr_len;	/* = body_off - hdr_off */
	size_t			 body_off;
	size_t			 body_len;
	uint64_t		 body_lines;

	/* Content-* fields (RFC 2045, RFC 2183, RFC 3282, RFC 2557). */
	char			*type;		/* "text" */
	char			*subtype;	/* "plain" */
	struct mime_param	*params;	/* Content-Type parameters */
	size_t			 nparams;
	const char		*charset;	/* a param value, "us-ascii" for
						   text without one, or NULL */
	char			*cte;		/* encoding, "7bit" default */
	enum mime_encoding	 encoding;
	char			*id;		/* Content-ID, NULL if absent */
	char			*description;
	char			*md5;
	char			*disposition;	/* type, NULL if absent */
	struct mime_param	*disp_params;
	size_t			 ndisp_params;
	char			**languages;	/* Content-Language tags */
	size_t			 nlanguages;
	char			*location;

	/*
	 * MIME_PART_F_MESSAGE nodes: the unfolded values (leading white
	 * space removed, NULs dropped, first occurrence) of the envelope
	 * fields; NULL when absent.  Not decoded: see mime_header_decode().
	 */
	char			*env[MIME_ENV_NFIELDS];
};

struct mime_msg;

void	 mime_limits_default(struct mime_limits *);

/*
 * Parse a message (never fails; see above).  lim NULL: the defaults.  The
 * input is not referenced after the call: offsets are relative to it.
 */
struct mime_msg *mime_parse(const uint8_t *data, size_t len,
	    const struct mime_limits *lim);
void	 mime_free(struct mime_msg **);		/* accepts NULL, sets NULL */

const struct mime_part *mime_root(const struct mime_msg *);
/* Nodes in pre-order (index 0 is the root); NULL past the end. */
size_t	 mime_part_count(const struct mime_msg *);
const struct mime_part *mime_part_at(const struct mime_msg *, size_t);
/* Some limit of struct mime_limits cut something off. */
bool	 mime_limited(const struct mime_msg *);
/*
 * The node of a section part number ("" for the root, "1", "4.2.2.1"):
 * the outermost node carrying it, or NULL (also for a malformed number:
 * RFC 3501 §9 section-part, no zero, no leading zero, no MIME/HEADER/TEXT
 * suffix).  Walks the tree: cost is the sum of the part numbers.
 */
const struct mime_part *mime_section_find(const struct mime_msg *,
	    const char *section);
/* A Content-Type parameter by (lower-case) name, or NULL. */
const char *mime_part_param(const struct mime_part *, const char *name);

/*
 * Append the IMAP "envelope" of a message node (RFC 3501 §7.4.2,
 * including the outer parentheses; another node gives all NIL) or "body"
 * (BODYSTRUCTURE when extended, BODY otherwise) of any node, ready to
 * follow "ENVELOPE " or "BODYSTRUCTURE ".  Header text is sent as it is
 * (RFC 2047 encoded-words are the client's to decode).  Strings are
 * quoted when they hold only 7-bit text without CR, LF or NUL (with " and
 * \ escaped), literals ({n} CRLF octets) otherwise.  Addresses: RFC 5322
 * §3.4 with the obsolete forms (§4.4); a group becomes (NIL NIL "name"
 * NIL) ... (NIL NIL NIL NIL); comments are dropped, except that a
 * comment after a bare addr-spec is its name ("u@d (Name)", as Dovecot
 * and c-client do); a quoted local part keeps its quotes; a missing local
 * part or domain is "".  Sender and Reply-To default to From when absent
 * or empty.
 * 0, or -1 when out's maximum would be passed (out then holds a prefix).
 */
int	 mime_envelope_write(struct buf *out, const struct mime_part *);
/*
 * The ENVELOPE and BODYSTRUCTURE (extended) of a whole message as
 * deliver and imapd's APPEND cache them in messages: malloc'd, or NULL
 * when one cannot be stored as text (a NUL, bad UTF-8) or passes
 * MIME_CACHE_MAX octets (imapd then computes it when asked).
 */
#define MIME_CACHE_MAX	(1024 * 1024)
void	 mime_cache_strings(const uint8_t *data, size_t len,
	    char **envelope_r, char **bodystructure_r);
int	 mime_body_write(struct buf *out, const struct mime_part *,
	    bool extended);

/*
 * Decoding.  Each appends to out and returns 0, or -1 when out's maximum
 * was reached (out then holds as much as fitted).  Text results are
 * always valid UTF-8 without NUL: undecodable octets become U+FFFD.
 * Charsets: UTF-8, US-ASCII and ISO-8859-1 natively, others through
 * iconv(3); an unknown charset is read as UTF-8.
 */
/*
 * A header field value with RFC 2047 encoded-words decoded (B and Q,
 * §4; "charset*lang" per RFC 2231 §5); white space between adjacent
 * encoded-words is dropped (§6.2) and adjacent words in one charset are
 * joined before conversion (senders split characters across words).
 * Malformed encoded-words stay as they are.
 */
int	 mime_header_decode(struct buf *out, const void *in, size_t len);
/* An RFC 2231 extended value "charset'lang'%XX..." to UTF-8. */
int	 mime_rfc2231_decode(struct buf *out, const char *value);
/*
 * Body decoding (RFC 2045 §6.7, §6.8), lenient: base64 skips characters
 * outside the alphabet and restarts after padding; quoted-printable takes
 * lower-case hex, drops trailing white space (rule 3) and keeps a bad
 * "=" as it is.  *damaged_r (if not NULL) tells whether the input was
 * invalid.  Binary output (no UTF-8 cleaning).
 */
int	 mime_base64_decode(struct buf *out, const void *in, size_t len,
	    bool *damaged_r);
int	 mime_qp_decode(struct buf *out, const void *in, size_t len,
	    bool *damaged_r);
/*
 * Decode a part body by its encoding; 7bit/8bit/binary are copied,
 * MIME_ENC_OTHER is copied and marked damaged (BINARY fetch must refuse
 * it with the UNKNOWN-CTE response code of RFC 3516).
 */
int	 mime_body_decode(struct buf *out, enum mime_encoding, const void *in,
	    size_t len, bool *damaged_r);
/* Append the UTF-8 of octets in charset (see above). */
int	 mime_charset_to_utf8(struct buf *out, const char *charset,
	    const void *in, size_t len);

/*
 * Full-text search (lib/mime_text.c): the searchable text of a message
 * as words separated by single spaces, for PostgreSQL's
 * to_tsvector('simple', ...) (imapd SEARCH BODY/TEXT candidates).  The
 * text is the header fields (name and decoded value) of every part and
 * the decoded UTF-8 bodies of its text/ and message/ leaves; words are
 * runs of ASCII letters and digits and non-ASCII characters, folded to
 * lower case (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic) and cut
 * every MIME_TEXT_WORD_MAX octets.  Valid UTF-8 without NUL.
 */
#define MIME_TEXT_MAX		1000000	/* octets of text kept for a vector
					   (PostgreSQL's tsvector: < 1 MiB) */
#define MIME_TEXT_WORD_MAX	200	/* octets of one word (piece) */
#define MIME_TEXT_QUERY_WORDS	32	/* words of a search string used */
/*
 * Append the text of msg to out (a space first when out is not empty);
 * 0, or -1 when it passed max octets (out then holds a prefix of it, or
 * out's own maximum was reached).
 */
int	 mime_search_text(const uint8_t *msg, size_t len, struct buf *out,
	    size_t max);
/* Append the words of any octets, as above; 0, or -1 past max octets. */
int	 mime_text_words(struct buf *out, const void *in, size_t len,
	    size_t max);
/*
 * Append a tsquery for to_tsquery('simple', ...) matching the words of a
 * search string by prefix: 'w1':* & 'w2':* (the first
 * MIME_TEXT_QUERY_WORDS words; quotes and backslashes, which words never
 * hold, doubled).  Returns the number of words: 0 appends nothing.
 */
int	 mime_text_tsquery(struct buf *out, const char *s, size_t len);

/* Lower case of a code point of 2-octet UTF-8 (U+0080..U+07FF) when it
   has one of the same length; cp otherwise. */
unsigned mime_fold_cp(unsigned cp);

/*
 * 7-bit MIME (lib/mime_7bit.c) for a peer without 8BITMIME: RFC 6152 §3
 * and RFC 5321 §2.4 allow it only 7-bit data; RFC 1652 §3 lets a relay
 * convert the message (Postfix: disable_mime_output_conversion = no).
 * The input is a whole message as stored (CRLF or LF line ends).
 *  - A message without 8-bit octets and without lines over 998 octets is
 *    left alone: 0, nothing written (send the input as it is).
 *  - A leaf part whose body has 8-bit octets or lines over 998 octets,
 *    labelled 7bit (or not at all), 8bit or binary, is encoded:
 *    quoted-printable (RFC 2045 §6.7) for text/ types and the RFC 6533
 *    message/global-* types (line ends become hard line breaks CRLF; a
 *    CR not before LF is =0D; trailing white space, "=", controls and
 *    8-bit octets are =XX; soft breaks keep lines within 76 octets; a
 *    line starting "--" gets "=2D-", so no line can pass for a boundary
 *    delimiter), base64 (RFC 2045 §6.8, 76 columns) for every other type.
 *    Its Content-Transfer-Encoding fields are replaced by one.
 *  - Multiparts and message/rfc822 (never encoded, RFC 2046 §5.2.1) are
 *    converted part by part, their 8bit or binary labels becoming 7bit;
 *    so are leaves labelled 8bit or binary that hold 7-bit data.  The
 *    top-level header gets "MIME-Version: 1.0" when it has none.
 *  - Boundaries, preamble and epilogue are kept, but for a line in them
 *    with 8-bit octets or over 998 octets: it is emptied (its line end
 *    kept), as readers never show them (RFC 2046 §5.1.1).
 *  - Failures (-1, *err_r malloc'd): 8-bit octets in any header ("8-bit
 *    header": RFC 6531 SMTPUTF8 is for those) or a header line over 998
 *    octets; 8-bit octets or long lines in a part already encoded
 *    (base64, quoted-printable, other) or in message/global (RFC 6532)
 *    or another message/ type that must not be encoded, or in a
 *    multipart whose boundary is unusable; any limit of mime_parse() hit
 *    (depth MIME_DEPTH_MAX, parts, field size, parameters: a boundary or
 *    an encoding could be missed); out's maximum reached; a write error
 *    (its text, and no other, starts with "write: ").
 * NUL octets of a 7-bit part are left as they are.  Every output line is
 * 7-bit and at most 998 octets; encoded bodies decode (mime_qp_decode,
 * mime_base64_decode) to the original octets, LF line ends as CRLF.
 * Returns 1 when converted (written), 0 when nothing had to be done, -1.
 * mime_7bit() appends to out (a prefix of the output on failure);
 * mime_7bit_fd() writes to fd, holding at most 128 KiB of output.
 */
int	 mime_7bit(struct buf *out, const uint8_t *msg, size_t len,
	    char **err_r);
int	 mime_7bit_fd(int fd, const uint8_t *msg, size_t len, char **err_r);

#endif
