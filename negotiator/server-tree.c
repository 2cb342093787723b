/* The channels' trees from the wire: JOIN, STATUS and ACCUSE, the
 * verdicts on repeaters that children's reports and figures make, and
 * the MOVEs that tell nodes the tree moved them. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "negotiator/forest.h"
#include "negotiator/registry.h"
#include "negotiator/server-int.h"
#include "net/util/log.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

/*
 * JOIN: a peer asks for its parent. New to the tree, it joins it (and the
 * verifier is told to try it); already in it, it lost the link to its
 * parent. A parent that has been silent for over a keepalive interval is
 * taken for gone at once (the tree repairs around it) rather than after
 * the expiry; a parent that keeps talking keeps its child, which links
 * again. Answers with the parent's id, or 503 while the tree has no slot
 * for the node: it learns its parent from its keepalives when one opens.
 */
void
server_join(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	const struct reg_node *n, *pn;
	struct stun_builder b;
	uint32_t slot = au->slot, parent, silent;
	uint64_t parent_id = 0, gone = 0, standby = 0;
	int rc;

	(void)ss;
	(void)reqlen;
	pthread_mutex_lock(&s->ns.lock);
	if ((n = server_auth_node(w, au)) == NULL) {
		pthread_mutex_unlock(&s->ns.lock);
		return;
	}
	if (n->role != TC_ROLE_PEER) {
		pthread_mutex_unlock(&s->ns.lock);
		server_auth_error(w, m, req, au->key, 400, "only peers join");
		return;
	}
	if (au->fresh && forest_parent(s->ns.forest, n->channel, slot, &parent) == 0 &&
	    parent != TREE_NONE &&
	    parent != forest_origin_slot(s->ns.forest, n->channel) &&
	    (pn = registry_node_const(s->ns.reg, parent)) != NULL) {
		silent = server_clock(s) - pn->seen;
		if (silent * 1000 > s->cfg.interval_ms) {
			gone = pn->node_id;
			STAT_INC(w, parents_gone);
			server_state_drop(&s->ns, parent);
		}
	}
	rc = forest_join(s->ns.forest, n->channel, slot, n->gen,
	    server_state_tree_nat(&s->ns, slot, n), s->ns.fanout[slot], &parent);
	if (rc == 0 && parent != TREE_NONE) {
		parent_id = registry_node_const(s->ns.reg, parent)->node_id;
		standby = server_state_standby(&s->ns, n->channel, parent);
	}
	pthread_mutex_unlock(&s->ns.lock);
	if (gone != 0)
		log_info("node %016llx: its children lost it and it has been "
		    "silent since: gone", (unsigned long long)gone);
	if (rc != 0 || parent_id == 0) {
		STAT_INC(w, join_no_parent);
		server_auth_error(w, m, req, au->key, rc != 0 ? 404 : 503,
		    rc != 0 ? "no origin on this channel" :
		    "no free slot in the tree yet");
		return;
	}
	STAT_INC(w, joined);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, parent_id);
	if (standby != 0)
		stun_put_u64(&b, TC_ATTR_STANDBY, standby);
	stun_put_integrity_sha256(&b, au->key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, STUN_MAX_MSG);
}

/*
 * A child's link into a node (the initiator's report of it) is a verdict
 * on the node as a repeater: a punched link verifies a candidate, and
 * failures in a row demote a repeater (forest_verdict). The relay proves
 * nothing about punching, and the verifier's own links count where the
 * verifier reports them.
 */
void
server_child_verdict(struct server *s, uint64_t child, uint64_t node,
    const struct tc_outcome *o)
{
	const struct reg_node *c, *n;
	uint32_t cslot = (uint32_t)child, slot = (uint32_t)node;
	uint64_t id = 0;
	int changed = 0;

	if (o->ok && o->path == LINK_PATH_RELAY)
		return;
	if (!o->ok && o->step != LINK_STEP_PUNCH && o->step != LINK_STEP_UDT)
		return;		/* not the node's fault, or not known to be */
	pthread_mutex_lock(&s->ns.lock);
	c = registry_node_const(s->ns.reg, cslot);
	n = registry_node_const(s->ns.reg, slot);
	if (c != NULL && n != NULL && c->gen == (uint32_t)(child >> 32) &&
	    n->gen == (uint32_t)(node >> 32) && c->role == TC_ROLE_PEER &&
	    n->role == TC_ROLE_PEER && c->channel == n->channel) {
		changed = forest_verdict(s->ns.forest, n->channel, slot, o->ok,
		    o->step == LINK_STEP_UDT ? "children's links failed at UDT"
		    : "children could not punch into it", 1) == 1;
		id = n->node_id;
	}
	pthread_mutex_unlock(&s->ns.lock);
	if (changed)
		log_info("node %016llx: %s by its children's links",
		    (unsigned long long)id, o->ok ? "verified" : "demoted");
}

/*
 * A child's STATUS against its parent's: a repeater that cannot upload
 * what its children need shows as children receiving less than it does.
 * A child taking in under SERVER_LAG_SHARE of its parent's intake over
 * its last report counts against the parent (FOREST_DEMOTE_AFTER in a
 * row demote it to a leaf, its children moved); a child keeping up
 * clears the count. Under the lock.
 */
#define SERVER_LAG_SHARE	80	/* percent */
static void
server_lag_verdict(struct server *s, uint32_t slot,
    const struct server_health *sh)
{
	const struct reg_node *n = registry_node_const(s->ns.reg, slot), *pn;
	const struct server_health *ph;
	uint32_t parent;
	int lag;

	if (n == NULL || n->role != TC_ROLE_PEER || sh->parent == 0 ||
	    forest_parent(s->ns.forest, n->channel, slot, &parent) != 0 ||
	    parent == TREE_NONE ||
	    parent == forest_origin_slot(s->ns.forest, n->channel) ||
	    (pn = registry_node_const(s->ns.reg, parent)) == NULL ||
	    pn->node_id != sh->parent)
		return;
	ph = &s->ns.health[parent];
	if (ph->at_ms == 0 || sh->at_ms - ph->at_ms > 2 * TC_STATUS_MS ||
	    ph->h.kbps_in == 0)
		return;
	lag = (uint64_t)sh->h.kbps_in * 100 <
	    (uint64_t)ph->h.kbps_in * SERVER_LAG_SHARE;
	if (forest_lag(s->ns.forest, n->channel, parent, lag) == 1)
		log_info("node %016llx is a leaf now: its children took in "
		    "%u of its %u kbit/s", (unsigned long long)pn->node_id,
		    sh->h.kbps_in, ph->h.kbps_in);
}

/*
 * A peer that answers none of a link's INSTRUCTs for 1.5 s (the broker
 * says so) and has sent nothing for SERVER_INSTRUCT_GONE_S (keepalives
 * come every interval) is gone, most likely: it vanished, and a node
 * just moved under it, or its standby's child, waits for it. It is taken
 * for gone now, not at its expiry (10 s), and the tree repairs around it;
 * a live one that was only slow registers again at its next keepalive.
 */
void
server_broker_silent(void *ctx, uint64_t node_id)
{
	struct server *s = ctx;
	const struct reg_node *n;
	uint32_t slot, silent = 0;
	int gone = 0;

	pthread_mutex_lock(&s->ns.lock);
	if ((slot = registry_find(s->ns.reg, node_id)) != REG_NONE &&
	    (n = registry_node_const(s->ns.reg, slot)) != NULL &&
	    n->role == TC_ROLE_PEER &&
	    (silent = server_clock(s) - n->seen) >= SERVER_INSTRUCT_GONE_S) {
		server_state_drop(&s->ns, slot);
		gone = 1;
	}
	pthread_mutex_unlock(&s->ns.lock);
	if (gone) {
		STAT_INC(s, instruct_gone);
		log_info("node %016llx: answers no INSTRUCT and silent for %u "
		    "s: gone", (unsigned long long)node_id, silent);
	}
}

/*
 * ACCUSE: a child's chunks from its parent failed the channel's signature
 * (TC_ATTR_EVIDENCE of them). Believed only from the accused's own child
 * in the tree, where it cuts the accused off at once (forest_accuse);
 * the child joins again for a new parent. Answered alike either way, so
 * that a retransmission gets the same answer.
 */
void
server_accuse(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	const struct reg_node *n, *pn;
	uint64_t accused, child_id = 0;
	uint32_t slot = au->slot, pslot, evidence;
	uint32_t gen = (uint32_t)(au->session >> 32);
	int rc = -1;

	(void)ss;
	if (server_get_u64(req, TC_ATTR_PEER_NODE, &accused) != 0 ||
	    server_get_u32(req, TC_ATTR_EVIDENCE, &evidence) != 0 ||
	    evidence == 0) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, au->key, 400, "malformed ACCUSE");
		return;
	}
	if (au->fresh) {
		STAT_INC(w, accusations);
		pthread_mutex_lock(&s->ns.lock);
		if ((n = registry_node_const(s->ns.reg, slot)) != NULL &&
		    n->gen == gen && n->role == TC_ROLE_PEER &&
		    (pslot = registry_find(s->ns.reg, accused)) != REG_NONE &&
		    (pn = registry_node_const(s->ns.reg, pslot)) != NULL &&
		    pn->channel == n->channel) {
			rc = forest_accuse(s->ns.forest, n->channel, slot, pslot,
			    "relayed chunks that fail the channel's signature");
			child_id = n->node_id;
		}
		pthread_mutex_unlock(&s->ns.lock);
		if (rc < 0)
			STAT_INC(w, accuse_refused);
		else if (rc == 1) {
			STAT_INC(w, parents_cut);
			log_info("node %016llx: cut off for tampering (its "
			    "child %016llx had %u chunks fail the signature)",
			    (unsigned long long)accused,
			    (unsigned long long)child_id, evidence);
		}
	}
	server_auth_ok(w, m, req, reqlen, au);
}

/* STATUS: a node's figures and links, for the status page (bounded: fixed
 * attributes, at most TC_FANOUT_MAX children, of which 2 are kept). */
void
server_status(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	struct server_health sh;
	const struct stun_attr *a;
	const struct reg_node *n;
	uint32_t slot = au->slot, gen = (uint32_t)(au->session >> 32);
	size_t i;

	(void)ss;
	memset(&sh, 0, sizeof sh);
	a = stun_find(req, TC_ATTR_CHILDREN);
	if (tc_get_health(req, &sh.h) != 0 ||
	    server_get_u64(req, TC_ATTR_PARENT, &sh.parent) != 0 ||
	    (a != NULL && (a->len % 8 != 0 || a->len > 8 * TC_FANOUT_MAX))) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, au->key, 400, "malformed STATUS");
		return;
	}
	for (i = 0; a != NULL && i < a->len / 8; i++) {
		uint64_t id = 0;
		int k;

		for (k = 0; k < 8; k++)
			id = id << 8 | a->value[8 * i + (size_t)k];
		if (i < TC_FANOUT_DEFAULT)
			sh.children[i] = id;
	}
	sh.nchildren = (uint8_t)(a != NULL ? a->len / 8 : 0);
	sh.at_ms = server_clock_ms(s);
	if (au->fresh) {
		pthread_mutex_lock(&s->ns.lock);
		/* The same node still? (It may have left since.) */
		if ((n = registry_node_const(s->ns.reg, slot)) != NULL &&
		    n->gen == gen) {
			server_state_set_health(&s->ns, slot, n, &sh);
			server_lag_verdict(s, slot, &sh);
		}
		pthread_mutex_unlock(&s->ns.lock);
		STAT_INC(w, status);
	}
	server_auth_ok(w, m, req, reqlen, au);
}

/* MOVE: tells the node in slot its parent now (parent_id, 0: none) and
 * its standby, under its session's credential and with the next MOVE
 * sequence number, so that a replayed MOVE is refused. Unanswered: the
 * next keepalive's answer says it again should this datagram be lost.
 * Under the lock. */
static void
server_send_move(struct server *s, uint32_t slot, uint64_t parent_id,
    uint64_t standby)
{
	struct reg_node *n = registry_node(s->ns.reg, slot);
	struct stun_builder b;
	struct sockaddr_storage to;
	uint8_t msg[128], tid[12];
	socklen_t len;
	int mlen;

	if (n == NULL || n->role != TC_ROLE_PEER)
		return;
	stun_random_tid(tid);
	stun_build_init(&b, msg, sizeof msg, TC_METHOD_MOVE, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_PARENT, parent_id);
	if (standby != 0)
		stun_put_u64(&b, TC_ATTR_STANDBY, standby);
	stun_put_u64(&b, TC_ATTR_MOVE_SEQ, ++s->ns.move_seq);
	stun_put_integrity_sha256(&b, n->key, sizeof n->key);
	stun_put_fingerprint(&b);
	if ((mlen = stun_build_finish(&b)) < 0)
		return;
	reg_addr_load(n->ext_ip, n->ext_port, &to, &len);
	server_broker_send(s, (struct sockaddr *)&to, msg, (size_t)mlen, NULL);
	STAT_INC(s, moves_pushed);
}

/* The tree moved the node in slot to parent (TREE_NONE: none): it is told
 * at once, and so are its children, whose standby it was the parent of.
 * Under the lock, from the forest. */
void
server_push_move(void *arg, int ch, uint32_t slot, uint32_t parent)
{
	struct server *s = arg;
	const struct reg_node *n = registry_node_const(s->ns.reg, slot), *pn;
	uint32_t kids[TC_FANOUT_MAX];
	uint64_t parent_id;
	int i, nk;

	if (n == NULL || n->role != TC_ROLE_PEER)
		return;
	pn = parent != TREE_NONE ? registry_node_const(s->ns.reg, parent) :
	    NULL;
	parent_id = pn != NULL ? pn->node_id : 0;
	server_send_move(s, slot, parent_id, server_state_standby(&s->ns, ch,
	    parent));
	nk = forest_children(s->ns.forest, ch, slot, kids, TC_FANOUT_MAX);
	for (i = 0; i < nk && i < TC_FANOUT_MAX; i++)
		server_send_move(s, kids[i], n->node_id, parent_id);
}
