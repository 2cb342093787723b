/* The negotiator's requests: the method table and the dispatch, the
 * answers' helpers (the bound on unauthenticated answers), and the
 * methods of sessions and links: Binding, KEEPALIVE, LEAVE, LINK, REPORT.
 * REGISTER is in server-register.c, the tree's methods in server-tree.c. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "negotiator/broker.h"
#include "negotiator/forest.h"
#include "negotiator/ratelimit.h"
#include "negotiator/registry.h"
#include "negotiator/server-int.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

/* Starts an answer to req in m->out. */
void
server_answer(struct srv_msg *m, struct stun_builder *b,
    const struct stun_msg *req, enum stun_class cls)
{
	stun_build_init(b, m->out, sizeof m->out, req->method, cls, req->tid);
}

/* Finishes an answer to an authenticated request, sent if no larger than
 * limit. */
void
server_finish(struct worker *w, struct srv_msg *m, struct stun_builder *b,
    size_t limit)
{
	int len = stun_build_finish(b);

	if (len < 0)
		return;
	if ((size_t)len > limit) {
		STAT_INC(w, drop_amplify);
		return;
	}
	m->outlen = (size_t)len;
}

/*
 * Lets an answer of len bytes to an unauthenticated request go (m->outlen)
 * if it is at most twice the request and its source's prefix has budget
 * left; else counts why not (drop_amplify, drop_unauth_rate). Returns 0 if
 * it goes. Every answer that anyone can ask for passes here, so that no one
 * can aim more than the policy at an address by forging it (README,
 * "treecast-negotiator"). Authenticated requests do not: they pay nothing.
 */
int
server_pass_unauth(struct worker *w, struct srv_msg *m, int len,
    size_t reqlen)
{
	if (len < 0)
		return -1;
	if ((size_t)len > SERVER_UNAUTH_FACTOR * reqlen) {
		STAT_INC(w, drop_amplify);
		return -1;
	}
	if (w->srv->unauth != NULL && ratelimit_take(w->srv->unauth,
	    (struct sockaddr *)&m->from, clock_us() * 1000) != 0) {
		STAT_INC(w, drop_unauth_rate);
		return -1;
	}
	m->outlen = (size_t)len;
	return 0;
}

/* Finishes an answer to an unauthenticated request (server_pass_unauth). */
void
server_finish_unauth(struct worker *w, struct srv_msg *m,
    struct stun_builder *b, size_t reqlen)
{
	server_pass_unauth(w, m, stun_build_finish(b), reqlen);
}

/* An error answer to a request not (or not yet) authenticated. */
void
server_error(struct worker *w, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen, int code, const char *reason, const uint16_t *unknown,
    size_t nunknown)
{
	struct stun_builder b;
	uint8_t list[2 * 8];
	size_t i;

	server_answer(m, &b, req, STUN_ERROR);
	stun_put_error_code(&b, code, reason);
	if (nunknown > 0) {
		for (i = 0; i < nunknown && i < 8; i++) {
			list[2 * i] = (uint8_t)(unknown[i] >> 8);
			list[2 * i + 1] = (uint8_t)unknown[i];
		}
		stun_put(&b, STUN_ATTR_UNKNOWN_ATTRIBUTES, list,
		    (uint16_t)(2 * i));
	}
	server_finish_unauth(w, m, &b, reqlen);
}

/* An error answer to an authenticated request, under the session's key so
 * that the node can trust it. */
void
server_auth_error(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, const uint8_t key[TC_KEY_LEN], int code,
    const char *reason)
{
	struct stun_builder b;

	server_answer(m, &b, req, STUN_ERROR);
	stun_put_error_code(&b, code, reason);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, STUN_MAX_MSG);
}

/* The address the request came to: the bound one, or pktinfo's. */
void
server_local(const struct srv_sock *ss, const struct srv_msg *m,
    struct sockaddr_storage *out)
{
	memcpy(out, &ss->local.ss, sizeof *out);
	if (ss->wildcard && m->has_pi && out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_addr = m->pi.ipi_addr;
}

int
server_get_u64(const struct stun_msg *req, uint16_t type, uint64_t *v)
{
	const struct stun_attr *a = stun_find(req, type);

	return a == NULL ? -1 : stun_attr_u64(a, v);
}

int
server_get_u32(const struct stun_msg *req, uint16_t type, uint32_t *v)
{
	const struct stun_attr *a = stun_find(req, type);

	return a == NULL ? -1 : stun_attr_u32(a, v);
}

/*
 * Binding (RFC 8489 §7.3, RFC 5780 §6.1): the reflexive address in
 * XOR-MAPPED-ADDRESS, then, as the bound on unauthenticated answers leaves
 * room, FINGERPRINT and, with a second address, OTHER-ADDRESS and
 * RESPONSE-ORIGIN; CHANGE-REQUEST sends the answer from another address or
 * port. A bare 20-byte request over IPv4 gets XOR-MAPPED-ADDRESS and
 * FINGERPRINT (40 bytes). Over IPv6 XOR-MAPPED-ADDRESS alone takes 44: a
 * bare request there is the one left unanswered (drop_amplify); any
 * attribute in it, FINGERPRINT's 8 bytes, makes room.
 */
static void
server_binding(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	static const uint16_t change[] = { STUN_ATTR_CHANGE_REQUEST };
	const struct stun_attr *a;
	struct stun_builder b;
	struct sockaddr_storage origin;
	uint32_t flags = 0;
	int via = ss->index, keep, len = -1;

	(void)au;
	if ((a = stun_find(req, STUN_ATTR_CHANGE_REQUEST)) != NULL) {
		if (stun_attr_u32(a, &flags) != 0) {
			STAT_INC(w, err_bad_request);
			server_error(w, m, req, reqlen, 400, NULL, NULL, 0);
			return;
		}
		/* The IPv6 socket has no RFC 5780 companions. */
		if (ss->index == SOCK_V6 && (flags & 0x6)) {
			STAT_INC(w, err_unknown_attr);
			server_error(w, m, req, reqlen, 420, NULL, change, 1);
			return;
		}
		if (flags & 0x4)	/* change IP */
			via ^= SOCK_ALT_ADDR;
		if (flags & 0x2)	/* change port */
			via ^= SOCK_ALT_PORT;
		/* RFC 5780 §6.1: no such address or port: 420. */
		if (w->socks[via].fd == -1) {
			STAT_INC(w, err_unknown_attr);
			server_error(w, m, req, reqlen, 420, NULL, change, 1);
			return;
		}
	}
	server_local(&w->socks[via], m, &origin);
	/* keep: how many of FINGERPRINT, OTHER-ADDRESS and RESPONSE-ORIGIN,
	 * in that order, go in; the most that fit. */
	for (keep = w->srv->cfg.has_alt_address && ss->index != SOCK_V6 ? 3 :
	    1; keep >= 0; keep--) {
		server_answer(m, &b, req, STUN_SUCCESS);
		stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
		    (struct sockaddr *)&m->from);
		/* RFC 5780 §7.4: the address differing in both IP and port
		 * from the one the request came to. */
		if (keep >= 2)
			stun_put_address(&b, STUN_ATTR_OTHER_ADDRESS,
			    (struct sockaddr *)&w->socks[ss->index ^
			    (SOCK_ALT_ADDR | SOCK_ALT_PORT)].local.ss);
		if (keep >= 3)
			stun_put_address(&b, STUN_ATTR_RESPONSE_ORIGIN,
			    (struct sockaddr *)&origin);
		if (keep >= 1)
			stun_put_fingerprint(&b);
		if ((len = stun_build_finish(&b)) > 0 &&
		    (size_t)len <= SERVER_UNAUTH_FACTOR * reqlen)
			break;
	}
	if (server_pass_unauth(w, m, len, reqlen) != 0)
		return;
	m->via = via;
	STAT_INC(w, binding);
	if (via != ss->index)
		STAT_INC(w, binding_change);
}

/* KEEPALIVE: refreshes the session, follows the node's mapping, and tells a
 * node in a tree its parent and standby. */
static void
server_keepalive(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	struct stun_builder b;
	struct reg_node *n;
	uint8_t ip[16];
	uint16_t port;
	uint32_t parent;
	uint64_t parent_id = 0, standby = 0;
	int moved = 0, in_tree;

	(void)ss;
	pthread_mutex_lock(&s->ns.lock);
	if ((n = server_auth_node(w, au)) == NULL) {
		pthread_mutex_unlock(&s->ns.lock);
		return;
	}
	/* A node in a tree learns its parent here: the tree moves nodes
	 * (repair, a repeater taking a leaf's slot) and they follow. */
	in_tree = n->role == TC_ROLE_PEER &&
	    forest_parent(s->ns.forest, n->channel, au->slot, &parent) == 0;
	if (in_tree && parent != TREE_NONE) {
		parent_id = registry_node(s->ns.reg, parent)->node_id;
		standby = server_state_standby(&s->ns, n->channel, parent);
	}
	if (au->fresh) {
		n->seen = server_clock(s);
		reg_addr_store((struct sockaddr *)&m->from, ip, &port);
		if (port != n->ext_port || memcmp(ip, n->ext_ip, 16) != 0) {
			/* The NAT moved the node's mapping: follow it. */
			memcpy(n->ext_ip, ip, 16);
			n->ext_port = port;
			moved = 1;
		}
	}
	pthread_mutex_unlock(&s->ns.lock);
	if (moved) {
		STAT_INC(w, rebinding);
		log_debug("node in slot %u: external address changed",
		    au->slot);
	}
	if (au->fresh)
		STAT_INC(w, keepalive);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&m->from);
	if (in_tree)
		stun_put_u64(&b, TC_ATTR_PARENT, parent_id);
	/* The standby where it fits: older peers pad for the parent only. */
	if (standby != 0 && b.len + 12 + 36 + 8 <= reqlen)
		stun_put_u64(&b, TC_ATTR_STANDBY, standby);
	stun_put_integrity_sha256(&b, au->key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	/* Anyone may own a session: no answer larger than its request
	 * (peers pad their keepalives for the parent and the standby). */
	server_finish(w, m, &b, reqlen);
}

void
server_auth_ok(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct stun_builder b;

	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_integrity_sha256(&b, au->key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, reqlen);
}

/* LEAVE: the node's goodbye; its session ends at once. */
static void
server_leave(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	struct reg_node *n;
	uint64_t node_id;

	(void)ss;
	pthread_mutex_lock(&s->ns.lock);
	if ((n = server_auth_node(w, au)) == NULL) {
		pthread_mutex_unlock(&s->ns.lock);
		return;
	}
	node_id = n->node_id;
	server_state_drop(&s->ns, au->slot);
	pthread_mutex_unlock(&s->ns.lock);
	log_debug("node %016llx left", (unsigned long long)node_id);
	STAT_INC(w, left);
	server_auth_ok(w, m, req, reqlen, au);
}

/* What the broker needs of a node; under the lock. */
static void
server_broker_node(const struct reg_node *n, uint32_t slot,
    struct broker_node *out)
{
	socklen_t len;

	memset(out, 0, sizeof *out);
	out->node_id = n->node_id;
	out->session = (uint64_t)n->gen << 32 | slot;
	memcpy(out->key, n->key, sizeof out->key);
	nat_profile_decode(n->profile, sizeof n->profile, &out->profile);
	reg_addr_load(n->ext_ip, n->ext_port, &out->addr, &len);
}

/* LINK (flow 3): A, authenticated, asks for a link to a node of its
 * channel; the broker answers later. */
static void
server_link(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	struct broker_node a, b;
	struct tc_endpoint ep;
	struct sockaddr_storage local;
	const struct reg_node *n, *pn;
	uint64_t peer;
	uint32_t pslot;
	int code;

	(void)reqlen;
	if (server_get_u64(req, TC_ATTR_PEER_NODE, &peer) != 0 ||
	    tc_get_endpoint(req, &ep) != 0) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, au->key, 400, "malformed LINK");
		return;
	}
	pthread_mutex_lock(&s->ns.lock);
	if ((n = server_auth_node(w, au)) == NULL) {
		pthread_mutex_unlock(&s->ns.lock);
		return;
	}
	pslot = registry_find(s->ns.reg, peer);
	pn = pslot != REG_NONE ? registry_node(s->ns.reg, pslot) : NULL;
	if (pn == NULL || pslot == au->slot || (pn->channel != n->channel &&
	    n->role != TC_ROLE_VERIFIER) || pn->role == TC_ROLE_PROBE) {
		pthread_mutex_unlock(&s->ns.lock);
		STAT_INC(w, link_unknown_peer);
		server_auth_error(w, m, req, au->key, 404,
		    "no such node on this channel");
		return;
	}
	server_broker_node(n, au->slot, &a);
	memcpy(&a.addr, &m->from, sizeof a.addr);
	a.verifier = n->role == TC_ROLE_VERIFIER;
	server_broker_node(pn, pslot, &b);
	pthread_mutex_unlock(&s->ns.lock);
	server_local(ss, m, &local);
	if ((code = broker_link(s->broker, &a, &b, req->tid, &ep,
	    (struct sockaddr *)&local)) != 0) {
		STAT_INC(w, err_full);
		server_auth_error(w, m, req, au->key, code, "too many links");
	}
	sodium_memzero(&a, sizeof a);
	sodium_memzero(&b, sizeof b);
}

/* REPORT: how a link attempt ended, for the counts by NAT-class pair. */
static void
server_report(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	struct tc_outcome o;
	struct tc_link_seen seen;
	uint64_t link, acceptor = 0;
	int has_seen;

	(void)ss;
	if (server_get_u64(req, TC_ATTR_LINK, &link) != 0 ||
	    tc_get_outcome(req, &o) != 0 ||
	    (has_seen = tc_get_link_seen(req, &seen)) < 0) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, au->key, 400, "malformed REPORT");
		return;
	}
	if (au->fresh && broker_report_seen(s->broker, au->session, link, &o,
	    has_seen == 0 ? &seen : NULL, &acceptor) != 0)
		STAT_INC(w, link_unknown_report);
	else if (au->fresh && acceptor != 0)
		server_child_verdict(s, au->session, acceptor, &o);
	server_auth_ok(w, m, req, reqlen, au);
}

/*
 * The method table, a row for each of net/wire/proto.h's TC_METHODS and one
 * for STUN's Binding. A row served by the negotiator runs its handler;
 * a SESSION-signed one is authenticated (server_authenticate) first. The
 * others (a node's, a link's, the relay's) have none: a request for one
 * here gets 400, as one for a method nobody knows does.
 */
#define SERVER_HANDLER_REGISTER		server_register
#define SERVER_HANDLER_KEEPALIVE	server_keepalive
#define SERVER_HANDLER_LEAVE		server_leave
#define SERVER_HANDLER_LINK		server_link
#define SERVER_HANDLER_REPORT		server_report
#define SERVER_HANDLER_JOIN		server_join
#define SERVER_HANDLER_STATUS		server_status
#define SERVER_HANDLER_ACCUSE		server_accuse
/* The rows' served column: yes for the negotiator's, no for the rest. */
#define SERVER_SERVED_NEGOTIATOR(yes, no)	yes
#define SERVER_SERVED_NODE(yes, no)		no
#define SERVER_SERVED_LINK(yes, no)		no
#define SERVER_SERVED_RELAY(yes, no)		no
/* The auth column: a session's key is checked before the handler runs;
 * the negotiator holds no link's key, so it serves nothing a link's key
 * signs (the rows are held to that below). */
#define SERVER_AUTH_NONE		0
#define SERVER_AUTH_SESSION		1
#define SERVER_AUTH_LINK		2
#define SERVER_METHOD_CHECK(NAME, code, name, served, auth)		\
	_Static_assert(!SERVER_SERVED_##served(1, 0) ||		\
	    SERVER_AUTH_##auth != SERVER_AUTH_LINK,			\
	    #NAME ": the negotiator cannot check a link's key");
TC_METHODS(SERVER_METHOD_CHECK)
#undef SERVER_METHOD_CHECK

static const struct server_method {
	uint16_t		 method;
	const char		*name;
	int			 needs_auth;
	server_method_fn	*handler;
} server_methods[] = {
	{ STUN_METHOD_BINDING, "binding", 0, server_binding },
#define SERVER_METHOD_ROW(NAME, code, name, served, auth)		\
	{ code, name, SERVER_AUTH_##auth == SERVER_AUTH_SESSION,	\
	  SERVER_SERVED_##served(SERVER_HANDLER_##NAME, NULL) },
	TC_METHODS(SERVER_METHOD_ROW)
#undef SERVER_METHOD_ROW
};

static const struct server_method *
server_method_find(uint16_t method)
{
	size_t i;

	for (i = 0; i < sizeof server_methods / sizeof server_methods[0]; i++)
		if (server_methods[i].method == method)
			return &server_methods[i];
	return NULL;
}

/* One datagram in; an answer in m->out or none. Never trusts its input. */
void
server_handle(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    size_t len)
{
	const struct server_method *sm;
	enum stun_parse_error why;
	struct stun_msg req;
	struct srv_auth au;
	uint16_t unknown[8];
	size_t nunknown;

	m->outlen = 0;
	m->via = ss->index;
	if (!stun_is_stun(m->in, len)) {
		STAT_INC(w, drop_not_stun);
		return;
	}
	if (stun_parse(m->in, len, &req, &why) != 0) {
		STAT_INC(w, drop_parse);
		STAT_INC(w, parse_errors[why]);
		return;
	}
	if (req.cls != STUN_REQUEST) {
		/* The only answers the negotiator waits for: B's ACKs. */
		if (req.method == TC_METHOD_INSTRUCT &&
		    req.cls != STUN_INDICATION &&
		    broker_instruct_answer(w->srv->broker, &req) == 0)
			return;
		STAT_INC(w, drop_not_request);
		return;
	}
	nunknown = stun_unknown_required(&req, tc_known_attrs,
	    tc_known_attrs_count, unknown, 8);
	if (nunknown > 0) {
		STAT_INC(w, err_unknown_attr);
		server_error(w, m, &req, len, 420, NULL, unknown, nunknown);
		return;
	}
	if ((sm = server_method_find(req.method)) == NULL ||
	    sm->handler == NULL) {
		if (sm != NULL)
			log_debug("a %s request, which a node answers, not "
			    "the negotiator: 400", sm->name);
		STAT_INC(w, err_bad_request);
		server_error(w, m, &req, len, 400, NULL, NULL, 0);
		return;
	}
	if (!sm->needs_auth) {
		sm->handler(w, ss, m, &req, len, NULL);
		return;
	}
	if (server_authenticate(w, m, &req, len, &au) != 0)
		return;
	sm->handler(w, ss, m, &req, len, &au);
}
