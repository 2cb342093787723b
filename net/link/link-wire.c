/* What a link sends and reads: REPORT, the fresh socket's Binding, LINK's
 * answer, INSTRUCT and its answer, RELAY (see net/link/link-int.h). None of it
 * moves the link: link.c does, with what these return. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/client/ctl.h"
#include "net/client/session.h"
#include "net/link/link-int.h"
#include "net/util/addr.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

const struct ctl_timing link_report_timing = { 500, 3, 4 };

static void
link_report_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	(void)arg;
	(void)resp;
	(void)from;
}

static uint16_t
link_sat16(uint64_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

/* The negotiator counts outcomes by the pair's NAT classes, and failures
 * by their cause. */
int
link_report(struct link *l, enum link_step step, ctl_cb cb)
{
	struct stun_builder b;
	struct tc_outcome o;
	struct tc_link_seen seen;
	const struct punch_stats *ps = l->punch != NULL ?
	    punch_stats(l->punch) : &l->pst;
	const struct ctl_stats *path = session_path(l->a->s);
	uint8_t msg[STUN_MAX_MSG];

	if (l->id == 0)
		return -1;	/* the negotiator never knew this link */
	memset(&o, 0, sizeof o);
	o.ok = step == LINK_STEP_NONE;
	o.step = (uint8_t)step;
	o.path = (uint8_t)l->path;
	o.ms = o.ok ? (uint32_t)(l->t_up - l->t0) : 0;
	session_begin(l->a->s, &b, msg, sizeof msg, TC_METHOD_REPORT);
	stun_put_u64(&b, TC_ATTR_LINK, l->id);
	tc_put_outcome(&b, &o);
	seen.sent = link_sat16(ps->sent);
	seen.received = link_sat16(ps->received);
	seen.answered = link_sat16(ps->answered);
	seen.learnt = link_sat16(ps->learnt);
	seen.rtt_ms = link_sat16(path->srtt_ms);
	seen.loss_permille = link_sat16(path->loss_permille);
	tc_put_link_seen(&b, &seen);
	return session_send(l->a->s, &b, &link_report_timing,
	    cb != NULL ? cb : link_report_cb, cb != NULL ? l : NULL);
}

int
link_wire_mapped(struct link *l, const struct stun_msg *resp)
{
	struct link_agent *a = l->a;
	const struct stun_attr *xa;
	struct addr local;
	uint16_t port, ports[TC_PORTS_MAX];
	size_t n;

	if (resp == NULL || resp->cls != STUN_SUCCESS ||
	    (xa = stun_find(resp, STUN_ATTR_XOR_MAPPED_ADDRESS)) == NULL ||
	    stun_attr_xor_address(resp, xa, &l->me.external, NULL) != 0)
		return -1;
	port = ctl_local_port(l->probe);
	if (addr_local_towards(session_server(a->s), &local) == 0) {
		addr_set_port((struct sockaddr *)&local.ss, port);
		memcpy(&l->me.internal, &local.ss, sizeof local.ss);
	}
	n = nat_predict(session_profile(a->s), port,
	    addr_port((struct sockaddr *)&l->me.external), a->o.window,
	    ports, TC_PORTS_MAX);
	memcpy(l->me.ports, ports, n * sizeof ports[0]);
	l->me.nports = (uint8_t)n;
	l->fd = ctl_detach(l->probe);	/* inside its callback: allowed */
	l->probe = NULL;
	return 0;
}

/* The peer's profile, the relay, and this end's part in birthday
 * punching, as LINK's answer or INSTRUCT carries them. */
static void
link_wire_peer(struct link *l, const struct stun_msg *m)
{
	const struct stun_attr *at;
	uint32_t v;

	if ((at = stun_find(m, TC_ATTR_NAT_PROFILE)) != NULL)
		nat_profile_decode(at->value, at->len, &l->peer_profile);
	if ((at = stun_find(m, TC_ATTR_XOR_RELAY)) != NULL &&
	    stun_attr_xor_address(m, at, &l->relay.ss, &l->relay.len) == 0)
		l->has_relay = 1;
	if (stun_attr_u32(stun_find(m, TC_ATTR_BIRTHDAY), &v) == 0 &&
	    (v == TC_BIRTHDAY_HARD || v == TC_BIRTHDAY_EASY))
		l->birthday = (int)v;
}

enum link_step
link_wire_go(struct link *l, const struct stun_msg *resp, char *why,
    size_t len)
{
	const struct stun_attr *a;
	char reason[128];
	int code;

	if (resp == NULL) {
		snprintf(why, len, "the negotiator did not answer");
		return LINK_STEP_REQUEST;
	}
	if (session_verify(l->a->s, resp) != 0) {
		snprintf(why, len, "the negotiator's answer failed integrity");
		return LINK_STEP_REQUEST;
	}
	if (resp->cls == STUN_ERROR) {
		code = stun_error(resp, reason, sizeof reason);
		snprintf(why, len, "the negotiator answered %d %s", code,
		    reason);
		/* 480 and 403 name the peer's part; the rest the request's. */
		return code == 480 || code == 403 ? LINK_STEP_PEER :
		    LINK_STEP_REQUEST;
	}
	if (stun_attr_u64(stun_find(resp, TC_ATTR_LINK), &l->id) != 0 ||
	    (a = stun_find(resp, TC_ATTR_LINK_KEY)) == NULL ||
	    a->len != TC_KEY_LEN || tc_get_endpoint(resp, &l->them) != 0) {
		l->id = 0;
		snprintf(why, len, "malformed answer to LINK");
		return LINK_STEP_REQUEST;
	}
	memcpy(l->key, a->value, TC_KEY_LEN);
	link_wire_peer(l, resp);
	return LINK_STEP_NONE;
}

int
link_wire_instruct_id(const struct stun_msg *req, uint64_t *id,
    uint64_t *peer)
{
	const struct stun_attr *at;

	if (stun_attr_u64(stun_find(req, TC_ATTR_LINK), id) != 0 ||
	    stun_attr_u64(stun_find(req, TC_ATTR_PEER_NODE), peer) != 0 ||
	    (at = stun_find(req, TC_ATTR_LINK_KEY)) == NULL ||
	    at->len != TC_KEY_LEN)
		return -1;
	return 0;
}

int
link_wire_instruct(struct link *l, const struct stun_msg *req)
{
	memcpy(l->key, stun_find(req, TC_ATTR_LINK_KEY)->value, TC_KEY_LEN);
	memcpy(l->instruct_tid, req->tid, sizeof l->instruct_tid);
	if (tc_get_endpoint(req, &l->them) != 0)
		return -1;
	link_wire_peer(l, req);
	return 0;
}

static void
link_remember(struct link_agent *a, uint64_t id, const uint8_t *msg,
    size_t len)
{
	struct link_recent *r = &a->recent[a->nrecent++ % LINK_RECENT];

	if (len > sizeof r->msg)
		return;
	r->id = id;
	r->len = len;
	memcpy(r->msg, msg, len);
}

/* Kept for the negotiator's retransmissions (link_wire_resend). */
void
link_wire_answer(struct link *l, int code, const char *reason)
{
	struct stun_builder b;
	uint8_t msg[LINK_ANSWER_MAX];

	stun_build_init(&b, msg, sizeof msg, TC_METHOD_INSTRUCT,
	    code != 0 ? STUN_ERROR : STUN_SUCCESS, l->instruct_tid);
	if (code != 0)
		stun_put_error_code(&b, code, reason);
	else
		tc_put_endpoint(&b, &l->me);
	stun_put_u64(&b, TC_ATTR_LINK, l->id);
	if (session_answer(l->a->s, &b) == 0)
		link_remember(l->a, l->id, msg, b.len);
}

int
link_wire_resend(struct link_agent *a, uint64_t id)
{
	unsigned i;

	for (i = 0; i < LINK_RECENT; i++) {
		if (a->recent[i].id == id && a->recent[i].len > 0) {
			session_resend(a->s, a->recent[i].msg,
			    a->recent[i].len);
			return 0;
		}
	}
	return -1;
}

/* So that the relay learns the socket's mapping; UDT then talks to the
 * relay. */
int
link_wire_relay_send(struct link *l)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG], tid[12];
	int len;

	memcpy(tid, &l->id, sizeof l->id);
	memcpy(tid + 8, &l->relay_sent, 4);
	stun_build_init(&b, msg, sizeof msg, TC_METHOD_RELAY, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_LINK, l->id);
	stun_put_integrity_sha256(&b, l->key, sizeof l->key);
	stun_put_fingerprint(&b);
	if ((len = stun_build_finish(&b)) < 0)
		return -1;
	l->relay_sent++;
	return sendto(l->fd, msg, (size_t)len, 0,
	    (struct sockaddr *)&l->relay.ss, l->relay.len) == len ? 0 : -1;
}

/*
 * The relay's answer binds the socket. A datagram from the relay that is
 * not STUN is the peer's UDT, forwarded: proof that both sides are bound,
 * even if our answer was lost. It is left in the socket for UDT (MSG_PEEK):
 * dropping the peer's first handshake is what kept a rendezvous from ever
 * completing, about once in 500 relayed links. Anything else is dropped,
 * and moves no timer: junk at the socket must not keep the wait alive.
 */
int
link_wire_relay_read(struct link *l)
{
	uint8_t buf[STUN_MAX_MSG + 4];
	struct sockaddr_storage from;
	socklen_t fromlen;
	struct stun_msg m;
	uint64_t id;
	ssize_t n;
	int from_relay;

	for (;;) {
		fromlen = sizeof from;
		n = recvfrom(l->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return 0;
		from_relay = addr_equal((struct sockaddr *)&from,
		    (struct sockaddr *)&l->relay.ss);
		if (from_relay && !stun_is_stun(buf, (size_t)n))
			return 1;	/* the peer's UDT: leave it */
		if (recv(l->fd, buf, sizeof buf, MSG_DONTWAIT) != n)
			continue;	/* consumed */
		if (from_relay &&
		    stun_parse(buf, (size_t)n, &m, NULL) == 0 &&
		    m.method == TC_METHOD_RELAY && m.cls == STUN_SUCCESS &&
		    stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &id) == 0 &&
		    id == l->id &&
		    stun_check_integrity_sha256(&m, l->key, sizeof l->key) == 0)
			return 1;
	}
}
