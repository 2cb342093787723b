/* treecast-peer's side of the tree: JOIN and its answer, the parent's
 * link, MOVEs and keepalives naming another parent, the standby's bridge
 * while the parent is silent or new, and ACCUSE for a parent that alters
 * chunks. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "net/link/link.h"
#include "media/serve.h"
#include "peer/peer.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/stun.h"

static void peer_join(struct peer *p);
static void peer_join_now(struct peer *p);
static void peer_link_parent(struct peer *p, uint64_t parent);

/* Notes that the parent link is gone, unless it had gone already. */
static void
peer_orphan(struct peer *p)
{
	if (p->is_orphan || p->parent == NULL || !p->have)
		return;
	p->is_orphan = 1;
	p->orphan_wait = 0;
	p->old_parent = link_peer(p->parent);
	p->orphaned = clock_ms();
}

static void
peer_later(struct peer *p, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(p->rejoin, &tv);
}

static void
peer_accused(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct peer *p = arg;

	(void)from;
	p->accusing = 0;
	if (resp == NULL || session_verify(p->session, resp) != 0)
		log_warn("no answer to ACCUSE; joining again all the same");
	peer_join(p);
}

/* Tells the negotiator that parent relayed chunks that fail the channel's
 * signature (evidence of them), then joins again for another parent. */
static void
peer_accuse(struct peer *p, uint64_t parent, uint32_t evidence)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	session_begin(p->session, &b, msg, sizeof msg, TC_METHOD_ACCUSE);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, parent);
	stun_put_u32(&b, TC_ATTR_EVIDENCE, evidence);
	if (session_send(p->session, &b, NULL, peer_accused, p) == 0)
		p->accusing = 1;
	else
		peer_later(p, PEER_REJOIN_MS);
}

/*
 * A chunk from the parent that is malformed or fails the channel's
 * signature (why says which): dropped, never played nor relayed, and
 * counted. The origin signs every chunk and the link is reliable, so it
 * proves the parent altered it: the link is dropped and the parent
 * reported.
 */
void
peer_bad_chunk(struct peer *p, struct link *l, const char *why)
{
	uint64_t parent = link_peer(l);

	p->bad++;
	if (l == p->bridge) {
		/* Not our parent in the tree: not ours to accuse. */
		log_warn("%s from standby %016llx: dropped, the bridge closed",
		    why, (unsigned long long)parent);
		peer_bridge_close(p);
		return;
	}
	p->bad_link++;
	log_warn("%s from parent %016llx: dropped; reporting the parent and "
	    "joining again", why, (unsigned long long)parent);
	peer_orphan(p);
	link_close(p->parent);
	p->parent = NULL;
	p->accused = parent;
	peer_accuse(p, parent, p->bad_link);
}

/* The stream's silence after which the standby bridges: PEER_STANDBY_MS,
 * or four times the usual spacing of chunks if that is more. */
static double
peer_standby_ms(const struct peer *p)
{
	return 4 * p->spacing_ms > PEER_STANDBY_MS ? 4 * p->spacing_ms :
	    PEER_STANDBY_MS;
}

void
peer_bridge_close(struct peer *p)
{
	if (p->bridge == NULL)
		return;
	if (p->feeder == p->bridge)
		p->feeder = NULL;
	link_close(p->bridge);
	p->bridge = NULL;
}

/* Bridges from the standby parent (the grandparent), resuming at the
 * next chunk, while the parent is silent, gone or new: at most one
 * bridge, asked for at most once a PEER_RETRY_MS, never to the parent
 * itself nor to one of our own children (that would be a loop). */
static void
peer_bridge_open(struct peer *p, const char *why)
{
	char err[160];

	if (p->no_standby || p->bridge != NULL || p->standby == 0 ||
	    !p->have || (p->parent != NULL &&
	    link_peer(p->parent) == p->standby) ||
	    serve_has_child(p->serve, p->standby) ||
	    peer_ms_since(p->bridge_try) < PEER_RETRY_MS)
		return;
	p->bridge_try = clock_ms();
	if ((p->bridge = link_open(p->agent, p->standby, err, sizeof err)) ==
	    NULL) {
		log_warn("cannot link to the standby: %s", err);
		return;
	}
	p->bridges++;
	p->bridged = p->bridge_try;
	p->bridge_seen = p->bridge_try;
	log_info("%s: bridging from the standby, node %016llx, at chunk %llu",
	    why, (unsigned long long)p->standby, (unsigned long long)p->next);
}

/*
 * Whether a chunk from l numbered seq is taken: the next one expected
 * always, an older one never (a resume overlapped, or two links feed);
 * a later one (a gap) only when no other link has brought the next ones
 * lately, since a bridge may be filling what the parent skipped.
 */
int
peer_take(struct peer *p, const struct link *l, uint64_t seq)
{
	if (!p->have || seq == p->next)
		return 1;
	if ((int64_t)(seq - p->next) < 0)
		return 0;
	if (p->bridge != NULL && l != p->bridge &&
	    peer_ms_since(p->bridge_seen) < PEER_BRIDGE_WAIT_MS)
		return 0;
	return p->feeder == NULL || p->feeder == l ||
	    peer_ms_since(p->last_taken) >= peer_standby_ms(p);
}

/* The node's link hooks (net/node/node.h): the parent's and the bridge's
 * links are ours; every other is a child's. */
int
peer_link_connected(void *arg, struct link *l)
{
	struct peer *p = arg;
	uint8_t resume[SERVE_RESUME_LEN];
	size_t n;

	if (l == p->bridge) {
		n = serve_resume_build(resume, !p->have, p->next);
		if (link_send(l, resume, n) != 0)
			peer_bridge_close(p);
		else
			log_info("standby %016llx linked: resuming at chunk "
			    "%llu", (unsigned long long)link_peer(l),
			    (unsigned long long)p->next);
		return 1;
	}
	if (l != p->parent)
		return 0;
	/* Resume where we were, or start at the parent's latest keyframe. */
	n = serve_resume_build(resume, !p->have, p->next);
	if (link_send(l, resume, n) != 0) {
		log_warn("cannot ask the parent to resume");
		return 1;
	}
	p->parents++;
	p->last_chunk = clock_ms();	/* the watch waits */
	p->bad_link = 0;
	if (p->have)
		log_info("parent %016llx linked: resuming at chunk %llu",
		    (unsigned long long)link_peer(l),
		    (unsigned long long)p->next);
	else
		log_info("parent %016llx linked: starting at its latest "
		    "keyframe", (unsigned long long)link_peer(l));
	return 1;
}

void
peer_link_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	struct peer *p = arg;

	(void)why;
	if (l == p->bridge) {
		p->bridge = NULL;
		return;
	}
	if (l == p->parent) {
		peer_orphan(p);
		p->parent = NULL;
		peer_later(p, step == LINK_STEP_PEER ? PEER_REFUSED_MS :
		    PEER_RETRY_MS);
		if (peer_ms_since(p->last_taken) >= peer_standby_ms(p))
			peer_bridge_open(p, "no link to the new parent");
	}
}

int
peer_link_message(void *arg, struct link *l, const uint8_t *msg, size_t len)
{
	struct peer *p = arg;

	if (l != p->parent && l != p->bridge)
		return 0;
	peer_chunk(p, l, msg, len);
	return 1;
}

int
peer_link_closed(void *arg, struct link *l, const char *why)
{
	struct peer *p = arg;

	if (p->feeder == l)
		p->feeder = NULL;
	if (l == p->bridge) {
		log_info("the bridge from node %016llx closed: %s",
		    (unsigned long long)link_peer(l), why);
		p->bridge = NULL;
		return 1;
	}
	if (l != p->parent)
		return 0;
	log_warn("lost the parent: %s; joining again", why);
	peer_orphan(p);
	p->parent = NULL;
	peer_later(p, PEER_REJOIN_MS);
	peer_bridge_open(p, "lost the parent");
	return 1;
}

/* The tree moved us away from the parent: it feeds on as the bridge,
 * until the new parent brings the next chunk, if it is linked and no
 * bridge is open; else it is let go at once. */
static void
peer_let_go(struct peer *p)
{
	peer_orphan(p);
	if (!p->no_standby && p->bridge == NULL &&
	    link_connect_ms(p->parent) >= 0) {
		p->bridge = p->parent;
		p->bridged = clock_ms();
		p->bridge_seen = p->bridged;
	} else {
		if (p->feeder == p->parent)
			p->feeder = NULL;
		link_close(p->parent);
	}
	p->parent = NULL;
}

/* The standby parent a message names (TC_ATTR_STANDBY; none: 0). */
static void
peer_standby(struct peer *p, const struct stun_msg *m)
{
	if (stun_attr_u64(stun_find(m, TC_ATTR_STANDBY), &p->standby) != 0)
		p->standby = 0;
}

static void
peer_joined(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct peer *p = arg;
	uint64_t parent;
	char why[128];
	int code;

	(void)from;
	p->joining = 0;
	if (resp == NULL || session_verify(p->session, resp) != 0) {
		log_warn("no answer to JOIN; trying again");
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	if (resp->cls == STUN_ERROR) {
		code = stun_error(resp, why, sizeof why);
		log_warn("no parent yet (%d %s); trying again", code, why);
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	if (stun_attr_u64(stun_find(resp, TC_ATTR_PEER_NODE), &parent) != 0) {
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	peer_standby(p, resp);
	if (p->parent != NULL) {
		/* Asked again while linked (registered anew): keep the link
		 * if the tree agrees. */
		if (link_peer(p->parent) == parent)
			return;
		peer_let_go(p);
	}
	peer_link_parent(p, parent);
}

/* JOIN: for a parent, or (again, while linked) to be in the tree at all. */
static void
peer_join_now(struct peer *p)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	if (p->joining || !session_registered(p->session))
		return;
	session_begin(p->session, &b, msg, sizeof msg, TC_METHOD_JOIN);
	if (session_send(p->session, &b, NULL, peer_joined, p) == 0)
		p->joining = 1;
	else
		peer_later(p, PEER_RETRY_MS);
}

/* JOIN unless linked to a parent already (or an ACCUSE is out: its
 * answer JOINs). */
static void
peer_join(struct peer *p)
{
	if (p->parent == NULL && !p->accusing)
		peer_join_now(p);
}

/* The parent's silence: JOIN again (the link stays, should the chunks
 * come back) until the tree names another parent. */
static void
peer_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	double silent;

	(void)fd;
	(void)what;
	if (!p->have)
		return;
	if (p->bridge == NULL && peer_ms_since(p->last_taken) >=
	    peer_standby_ms(p))
		peer_bridge_open(p, p->parent == NULL ? "no parent" :
		    link_connect_ms(p->parent) < 0 ? "the new parent is not "
		    "linked yet" : "the parent is silent");
	else if (p->bridge != NULL && (peer_ms_since(p->bridge_seen) >=
	    PEER_BRIDGE_IDLE_MS || (p->parent != NULL &&
	    peer_ms_since(p->parent_seen) < peer_standby_ms(p) &&
	    peer_ms_since(p->bridged) >= PEER_BRIDGE_MAX_MS))) {
		log_info("the bridge from node %016llx closed: %s",
		    (unsigned long long)link_peer(p->bridge),
		    peer_ms_since(p->bridge_seen) >= PEER_BRIDGE_IDLE_MS ?
		    "it brings nothing" : "the parent delivers past a gap");
		peer_bridge_close(p);
	}
	if (p->parent == NULL || link_connect_ms(p->parent) < 0)
		return;
	silent = peer_ms_since(p->last_chunk);
	if (silent < PEER_SILENT_MS ||
	    peer_ms_since(p->last_ask) < PEER_RETRY_MS)
		return;
	log_info("no chunk from the parent for %.0f ms: asking the tree",
	    silent);
	p->last_ask = clock_ms();
	peer_join_now(p);
}

static void
peer_rejoin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	peer_join(arg);
}

/* Links to the parent the tree gave us (JOIN's answer, or a move). The
 * one we last reported, given back (the negotiator did not believe us:
 * it is the origin, or our key is wrong), is tried again only after a
 * pause, so that a bad key costs the broker a link a second, not one a
 * chunk. */
static void
peer_link_parent(struct peer *p, uint64_t parent)
{
	char err[160];

	if (parent == p->accused) {
		log_warn("the tree gives back node %016llx, which we reported: "
		    "linking again in %u ms", (unsigned long long)parent,
		    PEER_RETRY_MS);
		p->accused = 0;
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	log_info("parent: node %016llx", (unsigned long long)parent);
	if (p->bridge != NULL && link_peer(p->bridge) == parent) {
		/* The tree names the one bridging: it is the parent now. */
		p->parent = p->bridge;
		p->bridge = NULL;
		return;
	}
	if ((p->parent = link_open(p->agent, parent, err, sizeof err)) ==
	    NULL) {
		log_warn("cannot link to the parent: %s", err);
		peer_later(p, PEER_RETRY_MS);
	}
}

/* Follows the tree to parent want (0: none for now). */
static void
peer_follow(struct peer *p, uint64_t want)
{
	if (p->parent != NULL ? link_peer(p->parent) == want : want == 0)
		return;
	if (p->parent != NULL) {
		log_info("the tree moves us from node %016llx to %s%016llx",
		    (unsigned long long)link_peer(p->parent),
		    want != 0 ? "node " : "no parent ", (unsigned long long)want);
		peer_let_go(p);
	}
	if (want != 0)
		peer_link_parent(p, want);
	else
		peer_later(p, PEER_RETRY_MS);
}

/* Every keepalive's answer names our parent in the tree now: the tree
 * moves nodes (a repair, a repeater taking a leaf's slot), and we follow.
 * Between a JOIN and its answer the two may disagree for a moment. */
static void
peer_keepalive(void *arg, const struct stun_msg *resp)
{
	struct peer *p = arg;
	uint64_t want;

	if (p->joining || p->accusing)
		return;
	if (stun_attr_u64(stun_find(resp, TC_ATTR_PARENT), &want) != 0) {
		/* Not in the tree: not joined yet, or the negotiator forgot
		 * us (it restarted, or we were silent). */
		if (p->parent != NULL)
			peer_join_now(p);
		return;
	}
	peer_standby(p, resp);
	peer_follow(p, want);
}

/* MOVE: the negotiator tells a move at once (the keepalive would tell it
 * within an interval). Authenticated by the session; unanswered. */
static void
peer_request(void *arg, const struct stun_msg *req)
{
	struct peer *p = arg;
	uint64_t want;

	if (req->method != TC_METHOD_MOVE ||
	    stun_attr_u64(stun_find(req, TC_ATTR_PARENT), &want) != 0)
		return;
	/* A replay (or one overtaken by a later MOVE) is refused: the
	 * negotiator numbers its MOVEs, rising, within the session. */
	if (tc_move_fresh(req, &p->move_seq) != 0) {
		p->moves_refused++;
		log_debug("a MOVE not numbered above %llu: refused",
		    (unsigned long long)p->move_seq);
		return;
	}
	if (p->joining)
		return;
	log_debug("MOVE %llu: parent %016llx",
	    (unsigned long long)p->move_seq, (unsigned long long)want);
	peer_standby(p, req);
	peer_follow(p, want);
}

/* The node's session hook: registered (again), the peer is in no tree. */
void
peer_session(void *arg, enum session_event ev)
{
	struct peer *p = arg;

	if (ev != SESSION_REGISTERED)
		return;
	p->move_seq = 0;	/* a new credential: MOVEs count anew */
	peer_join_now(p);
}

/* The session started: the tree's answers and MOVEs come to us once it
 * has registered, and the watch starts. */
void
peer_parent_start(struct peer *p)
{
	struct timeval watch_every = { 0, PEER_WATCH_MS * 1000 };

	session_on_keepalive(p->session, peer_keepalive, p);
	link_agent_on_request(p->agent, peer_request, p);
	p->rejoin = evtimer_new(p->base, peer_rejoin_cb, p);
	p->watch = event_new(p->base, -1, EV_PERSIST, peer_watch_cb, p);
	event_add(p->watch, &watch_every);
}

void
peer_parent_free(struct peer *p)
{
	if (p->watch != NULL)
		event_free(p->watch);
	if (p->rejoin != NULL)
		event_free(p->rejoin);
}
