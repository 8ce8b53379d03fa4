/*
 * lib/auth_client.c — authd's answers as its clients read them; see
 * auth_client.h.
 */
#include "auth_client.h"
#include "ipc.h"
#include "proto_auth.h"

uint32_t
auth_client_password_reply(struct ipc_msg *msg, uint64_t *id_r,
    const char **account_r)
{
	uint32_t	 status;

	*id_r = 0;
	*account_r = "";
	if (msg == NULL || msg->hdr.type != AUTH_PASSWORD_R ||
	    ipc_get_u32(msg, &status) == -1 || ipc_get_u64(msg, id_r) == -1 ||
	    ipc_get_str(msg, account_r) == -1 || ipc_get_end(msg) == -1) {
		*id_r = 0;
		*account_r = "";
		return AUTH_TEMPFAIL;
	}
	if (status == AUTH_OK && *id_r == 0)
		return AUTH_TEMPFAIL;
	return status;
}

uint32_t
auth_client_connect_reply(struct ipc_msg *msg, bool *relay_r)
{
	uint32_t	 status, relay;

	if (relay_r != NULL)
		*relay_r = false;
	if (msg == NULL || msg->hdr.type != AUTH_CONNECT_R ||
	    ipc_get_u32(msg, &status) == -1 ||
	    ipc_get_u32(msg, &relay) == -1)
		return AUTH_TEMPFAIL;
	if (relay_r != NULL)
		*relay_r = relay == 1;
	return status;
}
