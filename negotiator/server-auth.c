/* Authenticated requests: a session, MESSAGE-INTEGRITY-SHA256 under its
 * key, and a sequence number through the session's replay window
 * (negotiator/auth.c). */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "negotiator/auth.h"
#include "negotiator/registry.h"
#include "negotiator/server-int.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

/*
 * Checks an authenticated request: its session, MESSAGE-INTEGRITY-SHA256
 * under the session's key and its sequence number through the session's
 * window, no replays. The last number again is a retransmission (RFC 8489
 * §6.2.1 resends a request unchanged): answered again, a->fresh = 0. 0 on
 * success; else -1, having counted and, where the RFC says to, answered
 * 401. The lock is released on every path: the HMAC is checked outside it,
 * so workers verify in parallel, and a handler that needs the record
 * takes the lock again and finds it with server_auth_node.
 */
int
server_authenticate(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, struct srv_auth *a)
{
	struct server_state *ns = &w->srv->ns;
	struct reg_node *n;
	struct auth_window win;
	enum auth_verdict v;
	uint32_t seq;

	if (server_get_u64(req, TC_ATTR_SESSION, &a->session) != 0 ||
	    server_get_u32(req, TC_ATTR_SEQ, &seq) != 0) {
		STAT_INC(w, err_bad_request);
		server_error(w, m, req, reqlen, 400, NULL, NULL, 0);
		return -1;
	}
	pthread_mutex_lock(&ns->lock);
	if ((a->slot = registry_session(ns->reg, a->session)) != REG_NONE)
		memcpy(a->key, registry_node(ns->reg, a->slot)->key,
		    TC_KEY_LEN);
	pthread_mutex_unlock(&ns->lock);
	if (a->slot == REG_NONE) {
		/* Tells a node of a restarted negotiator to register again. */
		STAT_INC(w, drop_unknown_session);
		server_error(w, m, req, reqlen, 401, NULL, NULL, 0);
		return -1;
	}
	if (stun_check_integrity_sha256(req, a->key, TC_KEY_LEN) != 0) {
		STAT_INC(w, drop_bad_integrity);
		server_error(w, m, req, reqlen, 401, NULL, NULL, 0);
		return -1;
	}
	pthread_mutex_lock(&ns->lock);
	if ((n = server_auth_node(w, a)) == NULL) {
		pthread_mutex_unlock(&ns->lock);
		return -1;
	}
	win.last = n->last_seq;
	win.seen = n->seq_win;
	v = auth_window_check(win, seq, &win);
	n->last_seq = win.last;
	n->seq_win = win.seen;
	pthread_mutex_unlock(&ns->lock);
	if (v == AUTH_REPLAY) {
		STAT_INC(w, drop_replay);
		return -1;
	}
	a->fresh = v == AUTH_FRESH;
	if (!a->fresh)
		STAT_INC(w, retransmits);
	return 0;
}

struct reg_node *
server_auth_node(struct worker *w, const struct srv_auth *a)
{
	struct server_state *ns = &w->srv->ns;

	if (registry_session(ns->reg, a->session) != a->slot) {
		/* Left or registered again meanwhile. */
		STAT_INC(w, drop_unknown_session);
		return NULL;
	}
	return registry_node(ns->reg, a->slot);
}
