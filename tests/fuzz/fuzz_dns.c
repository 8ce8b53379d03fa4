/*
 * fuzz_dns — the rdata parsers of lib/dns (untrusted network input), and
 * the name and server-address checks (recipient domains, configuration).
 *
 * The whole input goes through dns_name_wire_to_text (with a roomy and a
 * tight output buffer), dns_rdata_mx, dns_rdata_a and dns_rdata_aaaa.
 * Round trips: a name's text, unescaped back to wire form here, must be
 * exactly the octets the parser said it used; an MX's preference and
 * name must re-encode to the whole rdata.  A name accepted with a small
 * buffer must equal the one from the big buffer.  The input as a C
 * string also goes through dns_name_valid and dns_server_parse, whose
 * output must parse again to itself.  Any mismatch abort()s.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static int
digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : -1;
}

/* One presentation-form octet at *s ("\DDD", "\X" or X); advances *s. */
static int
unescape_octet(const char **s)
{
	const char	*p = *s;
	int		 v;

	if (*p != '\\') {
		*s = p + 1;
		return (unsigned char)*p;
	}
	if (digit(p[1]) >= 0) {
		check(digit(p[2]) >= 0 && digit(p[3]) >= 0);
		v = digit(p[1]) * 100 + digit(p[2]) * 10 + digit(p[3]);
		check(v <= 255);
		*s = p + 4;
		return v;
	}
	check(p[1] != '\0');
	*s = p + 2;
	return (unsigned char)p[1];
}

/* Text back to wire form; returns its length. */
static size_t
text_to_wire(const char *text, uint8_t *w, size_t size)
{
	size_t	 off = 0, lenpos;

	if (strcmp(text, ".") == 0) {
		w[0] = 0;
		return 1;
	}
	while (*text != '\0') {
		lenpos = off++;
		while (*text != '\0' && *text != '.') {
			check(off < size);
			w[off++] = (uint8_t)unescape_octet(&text);
		}
		check(off - lenpos - 1 > 0 && off - lenpos - 1 <= 63);
		w[lenpos] = (uint8_t)(off - lenpos - 1);
		if (*text == '.') {
			text++;
			check(*text != '\0');	/* no trailing dot */
		}
	}
	check(off < size);
	w[off++] = 0;
	return off;
}

static void
fuzz_name(const uint8_t *data, size_t len)
{
	char	 out[DNS_NAME_TEXT_SIZE], small[64];
	uint8_t	 w[DNS_NAME_TEXT_SIZE];
	size_t	 used = 0, used2 = 0, n;

	if (dns_name_wire_to_text(data, len, out, sizeof(out), &used) == -1) {
		check(dns_name_wire_to_text(data, len, small, sizeof(small),
		    &used2) == -1);
		return;
	}
	check(used >= 1 && used <= len && used <= 255);
	check(strlen(out) < sizeof(out));
	n = text_to_wire(out, w, sizeof(w));
	check(n == used && memcmp(w, data, used) == 0);
	if (dns_name_wire_to_text(data, len, small, sizeof(small),
	    &used2) == 0) {
		check(used2 == used && strcmp(small, out) == 0);
	} else
		check(strlen(out) >= sizeof(small) - 1);
	(void)dns_name_valid(out);
}

static void
fuzz_mx(const uint8_t *data, size_t len)
{
	char		 name[DNS_NAME_TEXT_SIZE];
	uint8_t		 w[DNS_NAME_TEXT_SIZE];
	unsigned	 pref;
	size_t		 n;

	if (dns_rdata_mx(data, len, &pref, name, sizeof(name)) == -1)
		return;
	check(pref == ((unsigned)data[0] << 8 | data[1]));
	n = text_to_wire(name, w, sizeof(w));
	check(n + 2 == len && memcmp(w, data + 2, n) == 0);
}

static void
fuzz_addrs(const uint8_t *data, size_t len)
{
	struct in_addr	 a;
	struct in6_addr	 a6;

	check((dns_rdata_a(data, len, &a) == 0) == (len == 4));
	check((dns_rdata_aaaa(data, len, &a6) == 0) == (len == 16));
	if (len == 16)
		check(memcmp(&a6, data, 16) == 0);
}

static void
fuzz_strings(const uint8_t *data, size_t len)
{
	char		*s = malloc(len + 1);
	char		 out[64], again[64];
	const char	*err;
	bool		 valid;

	check(s != NULL);
	memcpy(s, data, len);
	s[len] = '\0';
	valid = dns_name_valid(s);
	check(!valid || (strlen(s) >= 1 && strlen(s) <= 254));
	if (dns_server_parse(s, out, sizeof(out), &err) == 0) {
		check(dns_server_parse(out, again, sizeof(again), &err) == 0);
		check(strcmp(out, again) == 0);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_name(data, len);
	fuzz_mx(data, len);
	fuzz_addrs(data, len);
	fuzz_strings(data, len);
	return 0;
}
