/*
 * imap_utf7 — IMAP's modified UTF-7 for mailbox names (RFC 3501 §5.1.3;
 * RFC 9051 §5.1 keeps it for clients that do not enable UTF8=ACCEPT).
 *
 *   - US-ASCII 0x20-0x7e stand for themselves, except "&", which is "&-";
 *   - anything else is "&", the UTF-16BE of a run of such characters in
 *     modified BASE64 (RFC 4648 with "," for "/", no "=" padding), "-".
 *
 * Decoding is strict, so that every name has exactly one spelling and
 * utf7 -> utf8 -> utf7 gives the input back: refused are octets outside
 * 0x20-0x7e, "&" with no "-", an empty run other than "&-", characters
 * outside the modified alphabet, a run with a superfluous character or
 * non-zero padding bits, printable US-ASCII (or U+0000) encoded, an
 * unpaired or misordered surrogate, and two runs back to back ("&Jjo-&Jjo-"
 * must be "&JjomOg-").  Encoding takes valid UTF-8 only (RFC 3629:
 * addr_utf8_valid()) and makes one run per maximal stretch of characters
 * that must be encoded.
 *
 * Both append to out and are all-or-nothing: 0, or -1 with out unchanged
 * (bad input, or out's maximum would be passed).
 */
#ifndef WHARF_IMAP_UTF7_H
#define WHARF_IMAP_UTF7_H

struct buf;

int	imap_utf7_to_utf8(const char *in, struct buf *out);
int	imap_utf8_to_utf7(const char *in, struct buf *out);

#endif
