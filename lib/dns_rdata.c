/*
 * dns_rdata — parsers for the rdata libunbound hands over (dns.h).
 *
 * Untrusted input: every length is checked before the octets it covers
 * are read, and anything not exactly right is refused, never repaired.
 * libunbound decompresses the names inside rdata of the types it knows
 * (RFC 3597 section 4: MX, CNAME, NS, PTR among them), so a compression
 * pointer here is an error, not something to follow.
 */
#include <stdio.h>
#include <string.h>

#include "dns.h"

#define DNS_WIRE_NAME_MAX	255	/* RFC 1035 3.1, length octets in */
#define DNS_LABEL_MAX		63

/* Append one label octet in presentation form; -1 when out is full. */
static int
dns_text_octet(uint8_t c, char *out, size_t size, size_t *pos)
{
	char	 esc[5];
	size_t	 n;

	if (c == '.' || c == '\\') {
		esc[0] = '\\';
		esc[1] = (char)c;
		n = 2;
	} else if (c < '!' || c > '~') {
		(void)snprintf(esc, sizeof(esc), "\\%03u", (unsigned)c);
		n = 4;
	} else {
		esc[0] = (char)c;
		n = 1;
	}
	if (*pos + n >= size)
		return -1;
	memcpy(out + *pos, esc, n);
	*pos += n;
	return 0;
}

static int
dns_text_label(const uint8_t *label, size_t n, char *out, size_t size,
    size_t *pos)
{
	size_t	 i;

	if (*pos > 0) {
		if (*pos + 1 >= size)
			return -1;
		out[(*pos)++] = '.';
	}
	for (i = 0; i < n; i++)
		if (dns_text_octet(label[i], out, size, pos) == -1)
			return -1;
	return 0;
}

int
dns_name_wire_to_text(const uint8_t *wire, size_t len, char *out,
    size_t size, size_t *used_r)
{
	size_t	 off = 0, pos = 0, n;

	if (size < 2)
		return -1;
	for (;;) {
		if (off >= len || off >= DNS_WIRE_NAME_MAX)
			return -1;
		n = wire[off++];
		if (n == 0)
			break;
		if (n > DNS_LABEL_MAX)		/* pointer or EDNS label */
			return -1;
		if (n > len - off || off + n >= DNS_WIRE_NAME_MAX)
			return -1;
		if (dns_text_label(wire + off, n, out, size, &pos) == -1)
			return -1;
		off += n;
	}
	if (pos == 0)
		out[pos++] = '.';
	out[pos] = '\0';
	*used_r = off;
	return 0;
}

/* RFC 1035 3.3.9: PREFERENCE (16 bits), EXCHANGE (a name). */
int
dns_rdata_mx(const uint8_t *rd, size_t len, unsigned *pref_r, char *name,
    size_t size)
{
	size_t	 used;

	if (len < 3)
		return -1;
	if (dns_name_wire_to_text(rd + 2, len - 2, name, size, &used) == -1)
		return -1;
	if (used != len - 2)
		return -1;
	*pref_r = (unsigned)rd[0] << 8 | rd[1];
	return 0;
}

int
dns_rdata_a(const uint8_t *rd, size_t len, struct in_addr *a)
{
	if (len != sizeof(*a))
		return -1;
	memcpy(a, rd, sizeof(*a));
	return 0;
}

int
dns_rdata_aaaa(const uint8_t *rd, size_t len, struct in6_addr *a)
{
	if (len != sizeof(*a))
		return -1;
	memcpy(a, rd, sizeof(*a));
	return 0;
}
