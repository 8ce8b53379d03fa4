/*
 * sasl — the server side of SASL (RFC 4422) shared by smtpd's AUTH
 * (RFC 4954) and imapd's AUTHENTICATE (RFC 9051 §6.2.2): strict base64,
 * the PLAIN message (RFC 4616), the LOGIN exchange
 * (draft-murchison-sasl-login), mechanism names and the "*" cancel.
 *
 * Everything here parses untrusted client input, so nothing allocates
 * beyond the caller's bounded struct buf, and every field has a fixed
 * limit.  Credentials are only checked for form: whether they are right
 * is authd's business.
 *
 * Decisions:
 *  - Base64 is RFC 4648 §4 with no leniency (RFC 4954 §4 requires it):
 *    no white space or line breaks, length a multiple of 4, "=" only as
 *    the last one or two characters, and zero pad bits, so each byte
 *    string has exactly one accepted encoding.  The "=" that stands for
 *    an empty initial response (RFC 4954 §4, RFC 9051 §6.2.2) is not
 *    base64: the caller maps it to zero octets before decoding.
 *  - Identities (authzid, authcid, LOGIN user name) must be strict UTF-8
 *    (RFC 3629) without C0 controls or DEL, at most SASL_FIELD_MAX
 *    octets.  SASLprep/PRECIS normalisation is not applied: names are
 *    compared as sent.
 *  - The password may hold any octet but NUL, at most SASL_PASSWORD_MAX.
 *    RFC 4616 §2 says UTF-8, but clients in the field send passwords in
 *    their local 8-bit charset, and the hash comparison does not care,
 *    so they are accepted to interoperate.
 *  - An empty authcid or password is refused (RFC 4616 §2: 1*SAFE).  An
 *    empty authzid means "none" (authorise as the authcid).
 *  - On failure, outputs are wiped and *why_r is a short static English
 *    reason for the log ("missing NUL").  A reason never contains the
 *    client's data, and the password is never logged or copied anywhere
 *    but the caller's output, which the caller wipes (sasl_plain_clear,
 *    explicit_bzero, buf_wipe for the decoded message).
 */
#ifndef WHARF_SASL_H
#define WHARF_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define SASL_MECH_NAME_MAX	20	/* RFC 4422 §3.1 */
#define SASL_FIELD_MAX		255	/* authzid, authcid, user name */
#define SASL_PASSWORD_MAX	1024
/* Longest PLAIN message we accept: authzid NUL authcid NUL passwd. */
#define SASL_PLAIN_MSG_MAX	(2 * SASL_FIELD_MAX + 2 + SASL_PASSWORD_MAX)
/* Length of the base64 form of n octets (RFC 4648 §4). */
#define SASL_B64_LEN(n)		(((n) + 2) / 3 * 4)

/* LOGIN's challenges, base64 of "Username:" and "Password:". */
#define SASL_LOGIN_USER_PROMPT	"VXNlcm5hbWU6"
#define SASL_LOGIN_PASS_PROMPT	"UGFzc3dvcmQ6"

enum sasl_mech {
	SASL_MECH_UNKNOWN = 0,
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
};

/* RFC 4616 §2, each field NUL-terminated; nothing to free. */
struct sasl_plain {
	char	 authzid[SASL_FIELD_MAX + 1];	/* "" when absent */
	char	 authcid[SASL_FIELD_MAX + 1];
	char	 passwd[SASL_PASSWORD_MAX + 1];
};

/*
 * Append the decoding of in[0..len) to out.  0, or -1 when in is not
 * canonical base64 or out's maximum would be passed; on -1 out is
 * unchanged.  Empty input decodes to nothing.  The output may hold any
 * octet, NUL included.
 */
int	sasl_b64_decode(const char *in, size_t len, struct buf *out);
/* Append the base64 of in[0..len) to out; 0, or -1 (out unchanged). */
int	sasl_b64_encode(const void *in, size_t len, struct buf *out);

/*
 * Parse a decoded PLAIN message (RFC 4616 §2):
 *	message = [authzid] NUL authcid NUL passwd
 * Exactly two NULs.  0 with *out filled, or -1 with *out wiped and
 * *why_r (may be NULL) set.
 */
int	sasl_plain_parse(const uint8_t *msg, size_t len, struct sasl_plain *out,
	    const char **why_r);
/* explicit_bzero the whole struct (call when done with it). */
void	sasl_plain_clear(struct sasl_plain *);

/*
 * Check one decoded LOGIN response, the user name (password false) or
 * the password (true), by the PLAIN rules for authcid and passwd, and
 * copy it NUL-terminated into out.  outsize must exceed the length: use
 * SASL_FIELD_MAX + 1 or SASL_PASSWORD_MAX + 1.  0, or -1 with out wiped
 * (all outsize octets) and *why_r (may be NULL) set.
 */
int	sasl_login_field(const uint8_t *msg, size_t len, char *out,
	    size_t outsize, bool password, const char **why_r);

/*
 * A mechanism name, case-insensitively.  Names that are not RFC 4422
 * §3.1 sasl-mech (1*20 of A-Z 0-9 "-" "_", here in either case) and
 * mechanisms we do not implement are SASL_MECH_UNKNOWN; NULL too.
 */
enum sasl_mech sasl_mech_parse(const char *name);
/* "PLAIN", "LOGIN"; NULL for SASL_MECH_UNKNOWN. */
const char *sasl_mech_name(enum sasl_mech);

/*
 * Whether a client response line (without its CRLF) is "*", which
 * cancels the exchange (RFC 4954 §4: the server answers 501; RFC 9051
 * §6.2.2: BAD).
 */
bool	sasl_is_cancel(const char *line, size_t len);

#endif
