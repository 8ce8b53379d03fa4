/*
 * dns — asynchronous DNS on libunbound, driven by lib/ev.
 *
 * A struct dns is one libunbound context in forwarding mode: queries go to
 * the configured servers (or the nameservers of /etc/resolv.conf) with
 * recursion desired, and are DNSSEC-validated when asked.  Answers arrive
 * through ub_fd(), watched with ev_io; every query has its own deadline
 * (libunbound retries for a long time on its own): on expiry it is
 * cancelled and answered DNS_TEMPFAIL "timeout".
 *
 * The helper process.  libunbound's asynchronous mode without threads
 * (ub_ctx_async(ctx, 0): our daemons have none) forks a resolver process
 * that does all network I/O and talks to us over two pipes.  The fork is
 * LAZY: it happens in the first dns_query()/dns_mx_route(), not in
 * dns_new(), so the helper has the user, root directory and privileges of
 * the daemon at that moment (call dns_new() before chroot/privilege drop:
 * it reads resolv.conf and the trust anchor file; query only after).  The
 * helper inherits every file descriptor open at that moment (they stay
 * open in it until it exits) and the signal mask; stdio buffers are
 * flushed before the fork so nothing is written twice.  It leaves with
 * exit(0), so atexit() handlers run in it too (Wharf registers none).
 * It exits when dns_free() is called (which waits for it and reaps it:
 * a SIGCHLD handler must not reap children it does not know) or when
 * this process dies (EOF on its pipe).  If it dies, the queries in flight
 * are answered DNS_TEMPFAIL and a new context (and helper) is created for
 * the next ones; libunbound then logs "tube msg write failed" on stderr.
 * The process must ignore SIGPIPE (lib/service does).
 *
 * libunbound answers some names itself without asking the servers:
 * localhost, the special-use zones test., invalid. and onion. (NXDOMAIN)
 * and the reverse zones of private addresses.  Tests use .example.
 *
 * Callbacks run from the event loop, never from inside dns_query() or
 * dns_mx_route().  A callback may start queries, cancel others and call
 * dns_free().  dns_free() cancels everything pending: those callbacks are
 * NOT called.
 *
 * timeout_ms bounds each query; dns_mx_route() makes two rounds (MX, then
 * every host's addresses in parallel), so it answers within about
 * 2 x timeout_ms.
 *
 * Names are text in the usual dotted form, a trailing dot optional;
 * labels of letters, digits, '-' and '_' only (internationalised names
 * must be A-labels already), 63 octets a label, 253 in all.  Names we
 * return have no trailing dot (the root is ".").
 *
 * STANDARDS: RFC 1035 (wire format), RFC 5321 section 5.1 (MX and the
 * implicit MX), RFC 7505 (null MX), RFC 4033-4035 (DNSSEC, by libunbound).
 */
#ifndef WHARF_DNS_H
#define WHARF_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct ev;
struct dns;
struct dns_req;
struct dns_route_req;

/* RR types we know by name (any type may be queried). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_TLSA	52

/* Room for any name in text form, escapes and NUL included. */
#define DNS_NAME_TEXT_SIZE	1004
/* A host name (no escapes): 253 + NUL. */
#define DNS_HOST_NAME_SIZE	254

#define DNS_TIMEOUT_DEFAULT_MS	10000
#define DNS_RR_MAX		64	/* records kept from one answer */
#define DNS_ROUTE_HOSTS_MAX	10	/* MX hosts looked up, best first */
#define DNS_HOST_ADDRS_MAX	16	/* addresses per host and family */

enum dns_status {
	DNS_OK,
	DNS_NODATA,	/* name exists, no record of the type (dns_query) */
	DNS_NXDOMAIN,	/* permanent: the name does not exist */
	DNS_NOHOST,	/* permanent: no MX and no address, or no usable MX */
	DNS_NULLMX,	/* permanent: the domain accepts no mail (RFC 7505) */
	DNS_TEMPFAIL,	/* SERVFAIL, REFUSED, timeout, network, helper */
	DNS_BOGUS,	/* DNSSEC validation failed: temporary */
};

struct dns_config {
	/*
	 * Forwarders, tried in turn: "1.2.3.4", "1.2.3.4:5353", "::1",
	 * "[::1]", "[::1]:5353" or unbound's "addr@port".  Numeric only.
	 * None: the nameservers of /etc/resolv.conf (127.0.0.1 if it
	 * names none).
	 */
	const char *const *servers;
	size_t		 nservers;
	const char	*resolv_conf;	/* NULL: /etc/resolv.conf */
	/*
	 * Validate DNSSEC.  The servers must pass DNSSEC records through
	 * (a validating or at least DNSSEC-aware resolver).
	 */
	bool		 dnssec;
	/*
	 * With dnssec: a file of DS or DNSKEY records for the root, one per
	 * line (";"/"#" comments), e.g. /usr/share/dns/root.ds from the
	 * package dns-root-data; read by dns_new(), which checks each line
	 * only loosely: libunbound parses them at the first query, which
	 * fails (-1, "initialization failure", details on stderr) when one
	 * is wrong.  NULL: the IANA root KSK-2017 and KSK-2024 DS records
	 * compiled in.  Either is a static anchor (no RFC 5011 tracking): a
	 * root key roll needs an update.
	 */
	const char	*trust_anchor_file;
	unsigned	 timeout_ms;	/* each query; 0: the default */
};

/* NULL and *err_r on a bad server address, an unreadable file, or a
   libunbound setup error. */
struct dns *dns_new(struct ev *, const struct dns_config *, char **err_r);
/* Cancels every pending query and route (no callbacks); waits for the
   helper process to exit.  Accepts NULL, sets NULL. */
void	dns_free(struct dns **);
/* The forwarders in use, in unbound's "addr[@port]" form (for logs). */
const char *const *dns_servers(const struct dns *, size_t *n_r);

/*
 * One record of an answer.  name is set for MX, CNAME, NS and PTR (the
 * target, text), pref for MX, addr for A and AAAA (port 0); rdata/rdlen
 * are the raw rdata of every record (parse TXT, TLSA... from there).
 */
struct dns_rr {
	uint16_t		 type;
	unsigned		 pref;
	const char		*name;
	struct sockaddr_storage	 addr;
	const uint8_t		*rdata;
	size_t			 rdlen;
};

/*
 * A query's answer, valid during the callback only.  status: DNS_OK (at
 * least one record), DNS_NODATA, DNS_NXDOMAIN, DNS_TEMPFAIL or
 * DNS_BOGUS.  rrs: the records of the asked type that parsed (at most
 * DNS_RR_MAX; nbad counts those skipped as malformed); a CNAME chain
 * is followed, canonname is its final target (NULL: none).  why: NULL,
 * or for a failure a reason ("timeout", "SERVFAIL", the validator's
 * complaint...) that may hold names from the network: log_safe() it.
 */
struct dns_result {
	enum dns_status		 status;
	const char		*qname;
	int			 qtype;
	int			 rcode;		/* -1: no answer at all */
	bool			 secure;	/* DNSSEC-validated */
	const char		*canonname;
	const char		*why;
	unsigned		 ttl;
	const struct dns_rr	*rrs;
	size_t			 nrrs;
	size_t			 nbad;
};

typedef void dns_fn(const struct dns_result *, void *arg);

/*
 * Look up (name, rrtype) in class IN.  0, the callback later exactly
 * once (unless cancelled), and *req_r (may be NULL) a handle valid until
 * the callback starts; -1 with *err_r for a bad name or a libunbound
 * failure (no callback).
 */
int	dns_query(struct dns *, const char *name, int rrtype, dns_fn *,
	    void *arg, struct dns_req **req_r, char **err_r);
/* The callback will not be called.  Accepts NULL, sets NULL. */
void	dns_cancel(struct dns_req **);

/*
 * Where to deliver mail for a domain (RFC 5321 5.1).  Hosts in the order
 * to try: MX by preference, equal preferences shuffled, then at most
 * DNS_ROUTE_HOSTS_MAX of them; without MX records, the domain itself
 * (implicit MX, preference 0).  Each host's AAAA and A are looked up in
 * parallel; addrs interleaves the families starting with IPv6 (v6, v4,
 * v6, v4, ..., then the rest of the longer list), port 0.
 *
 * status: DNS_OK when some host has an address (hosts without one stay
 * in the list with their own status: DNS_NOHOST, DNS_TEMPFAIL or
 * DNS_BOGUS; skip them); otherwise DNS_NXDOMAIN (the domain does not
 * exist), DNS_NULLMX (a single MX "." of preference 0), DNS_NOHOST (no
 * usable MX target or no address at all, permanent), DNS_TEMPFAIL (a
 * lookup failed temporarily) or DNS_BOGUS (a DNSSEC failure, and no
 * temporary one).  MX targets "." are dropped, so are targets that are
 * not host names (logged).  Local-host MX pruning (RFC 5321 5.1, "the
 * list ... MUST be pruned") is the caller's job: it knows its names.
 *
 * secure: the MX answer and every host's address answers were
 * validated; mx_secure and each host's secure give the detail (DANE,
 * RFC 7672).  why: a one-line reason when status is not DNS_OK, safe to
 * log (network text already sanitised).
 */
struct dns_host {
	char			*name;
	unsigned		 pref;
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
	enum dns_status		 status;
	bool			 secure;
};

struct dns_route {
	enum dns_status		 status;
	char			*domain;
	struct dns_host		*hosts;
	size_t			 nhosts;
	bool			 implicit;	/* no MX: the domain itself */
	bool			 secure;
	bool			 mx_secure;
	char			*why;		/* NULL when DNS_OK */
};

/* The callback owns route: free it with dns_route_free(). */
typedef void dns_route_fn(struct dns_route *, void *arg);

/* Like dns_query(): 0 and a callback later (*req_r, may be NULL, valid
   until it starts), or -1 and *err_r. */
int	dns_mx_route(struct dns *, const char *domain, dns_route_fn *,
	    void *arg, struct dns_route_req **req_r, char **err_r);
/* The callback will not be called.  Accepts NULL, sets NULL. */
void	dns_route_cancel(struct dns_route_req **);
void	dns_route_free(struct dns_route **);

/* "ok", "nodata", "nxdomain", "nohost", "nullmx", "tempfail", "bogus". */
const char *dns_status_str(enum dns_status);
/* NXDOMAIN, NOHOST and NULLMX: bounce; everything else: retry later. */
bool	dns_status_permanent(enum dns_status);

/* Is s a name we query: LDH/underscore labels, lengths as above. */
bool	dns_name_valid(const char *s);

/*
 * A server address in any dns_config form to unbound's "addr" or
 * "addr@port" into out; 0 or -1 with a static *err_r.
 */
int	dns_server_parse(const char *in, char *out, size_t size,
	    const char **err_r);

/*
 * rdata parsers (untrusted input: rdata from the network, rdlength
 * stripped; names uncompressed, as libunbound hands them over).  All
 * return 0 or -1; the dns_rdata_* ones want the whole rdata exactly.
 *
 * dns_name_wire_to_text: the wire name at the start of wire[0..len) into
 * out (size DNS_NAME_TEXT_SIZE is always enough), *used_r octets taken.
 * Text has no trailing dot ("." for the root); '.', '\\' and octets
 * outside '!'..'~' inside a label are escaped ("\.", "\\", "\DDD").
 * Compression pointers and extended label types are refused, so are
 * names over 255 octets.
 */
int	dns_name_wire_to_text(const uint8_t *wire, size_t len, char *out,
	    size_t size, size_t *used_r);
int	dns_rdata_mx(const uint8_t *, size_t, unsigned *pref_r, char *name,
	    size_t size);
int	dns_rdata_a(const uint8_t *, size_t, struct in_addr *);
int	dns_rdata_aaaa(const uint8_t *, size_t, struct in6_addr *);

#endif
