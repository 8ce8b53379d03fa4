/*
 * dns_private — shared by lib/dns*.c only; see dns.h for the API.
 */
#ifndef WHARF_DNS_PRIVATE_H
#define WHARF_DNS_PRIVATE_H

#include <sys/queue.h>

#include "dns.h"

TAILQ_HEAD(dns_route_reqs, dns_route_req);

/* dns_mx.c: cancel every route of a dns being freed (no callbacks). */
void	dns_route_cancel_all(struct dns *);
/* dns.c: the list of routes in progress, for dns_mx.c. */
struct dns_route_reqs *dns_routes(struct dns *);

#endif
