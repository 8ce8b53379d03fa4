/*
 * peer — a daemon's connection to another Wharf daemon (authd, qmgr) over
 * its socket in $run_dir/private: made at start, re-made a second after it
 * breaks, with the protocol's IPC_HELLO sent first.
 *
 * A request belongs to an owner (a session), which keeps a struct
 * peer_req * slot while the answer is due: peer_forget() on that slot
 * (when the owner goes away first) drops the answer.  A request that
 * cannot be sent, or whose answer does not come within PEER_TIMEOUT_MS,
 * is answered with msg NULL.
 */
#ifndef WHARF_PEER_H
#define WHARF_PEER_H

#include <stdint.h>

struct ipc_msg;
struct ipc_out;
struct peer;
struct peer_req;
struct service;

#define PEER_TIMEOUT_MS		30000
#define PEER_RETRY_MS		1000

typedef void peer_reply_fn(void *owner, struct ipc_msg *);

/* sock is the file name in $run_dir/private (at "/" inside a chroot). */
struct peer *peer_new(struct service *, const char *name, const char *sock,
	    uint32_t proto, uint32_t version);
void	peer_free(struct peer **);	/* accepts NULL, sets NULL */
/* A message to fill, or NULL while not connected. */
struct ipc_out *peer_begin(struct peer *, uint32_t type, uint32_t *id_r);
/* Send it; fn(owner, reply) later, and *slot is NULL again by then. */
int	peer_send(struct peer *, struct ipc_out *, uint32_t id, void *owner,
	    struct peer_req **slot, peer_reply_fn *);
void	peer_forget(struct peer_req **slot);

#endif
