/*
 * auth_client — reading authd's answers (lib/proto_auth.h) the same way
 * in every daemon that asks: a missing, late or malformed answer is
 * AUTH_TEMPFAIL.
 */
#ifndef WHARF_AUTH_CLIENT_H
#define WHARF_AUTH_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

struct ipc_msg;

/*
 * AUTH_PASSWORD_R (msg NULL: no answer): AUTH_OK with *id_r != 0 and
 * *account_r (valid as long as msg), or the failure's status.
 */
uint32_t auth_client_password_reply(struct ipc_msg *, uint64_t *id_r,
	    const char **account_r);
/* AUTH_CONNECT_R: the status; *relay_r (may be NULL): inside mynetworks. */
uint32_t auth_client_connect_reply(struct ipc_msg *, bool *relay_r);

#endif
