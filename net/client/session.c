/* Registration, keepalive and leave, as one small state machine. */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/client/ctl.h"
#include "net/client/session.h"
#include "net/util/log.h"

#define SESSION_BACKOFF_MIN_MS	1000
#define SESSION_BACKOFF_MAX_MS	30000
/* A negotiator that answers but no longer knows the session (it
 * restarted) is registered with again this soon, backing off from there:
 * the tree is made again as the nodes come back. */
#define SESSION_FORGOTTEN_MS	100
/* A restarted negotiator refuses a peer (404) until the origin, which
 * notices at its own next keepalive, is back: asked again this often. */
#define SESSION_NO_ORIGIN_MS	500
#define SESSION_CHALLENGES	3	/* 401s with a challenge in a row */

enum session_state {
	SS_REGISTERING,		/* a register transaction is under way */
	SS_REGISTERED,		/* idle between keepalives */
	SS_KEEPALIVE,		/* a keepalive transaction is under way */
	SS_WAITING,		/* backing off before registering again */
	SS_DRAINING,		/* leaving once others' requests (a link's
				   REPORT) have their answers */
	SS_LEAVING,		/* the leave transaction is under way */
	SS_GONE			/* left */
};

/* Keepalives give up sooner than registration: sends at 0, 0.5, 1.5, 3.5
 * and 7.5 s, then 1 s more: 8.5 s, inside the negotiator's default 10 s
 * expiry; a path losing 5% each way loses a session about once in
 * 100,000 keepalives. */
static const struct ctl_timing session_keepalive_timing = { 500, 5, 2 };
#define SESSION_KEEPALIVE_PAD	28	/* room for TC_ATTR_PARENT and _STANDBY */
/* Leave waits this long at most for requests sent under the session's
 * credential (a REPORT sent just before, still being retransmitted),
 * which the negotiator cannot check once the session has left; it looks
 * every SESSION_DRAIN_STEP_MS. */
#define SESSION_DRAIN_MS	4000
#define SESSION_DRAIN_STEP_MS	50

struct session {
	struct event_base	*base;
	struct session_config	 cfg;
	struct addr		 addr6;		/* len 0: IPv4 alone */
	session_cb		 cb;
	void			*arg;
	struct ctl		*ctl;
	struct event		*timer;
	enum session_state	 state;
	uint64_t		 session;
	uint8_t			 key[TC_KEY_LEN];
	/* The credential lost, kept to prove the node id is ours when
	 * registering again (the negotiator may still hold it). */
	uint64_t		 old_session;
	uint8_t			 old_key[TC_KEY_LEN];
	uint8_t			 challenge[TC_CHALLENGE_LEN];	/* an origin's */
	int			 has_challenge;
	int			 challenges;	/* 401s in a row */
	int			 refused;	/* left: another channel key */
	uint32_t		 seq;
	uint32_t		 interval_ms;
	uint32_t		 backoff_ms;
	uint32_t		 drained_ms;	/* SS_DRAINING so far */
	struct addr		 external;
	struct session_stats	 st;
	session_request_cb	 on_request;
	void			*on_request_arg;
	session_answer_cb	 on_keepalive;
	void			*on_keepalive_arg;
};

static void session_register(struct session *s);
static void session_send_leave(struct session *s);

static void
session_arm(struct session *s, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(s->timer, &tv);
}

/* Lost the negotiator: tell the owner, then register again later. */
static void
session_lost(struct session *s, const char *why)
{
	log_warn("negotiator session lost (%s); registering again in %u ms",
	    why, s->backoff_ms);
	s->state = SS_WAITING;
	if (s->session != 0) {
		s->old_session = s->session;
		memcpy(s->old_key, s->key, sizeof s->old_key);
	}
	s->session = 0;
	sodium_memzero(s->key, sizeof s->key);
	session_arm(s, s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > SESSION_BACKOFF_MAX_MS ?
	    SESSION_BACKOFF_MAX_MS : s->backoff_ms * 2;
	s->cb(s->arg, SESSION_LOST, s);
}

/* Takes the channel's key the negotiator named: pinned the first time,
 * refused if it differs from the pinned one (0, or -1). */
static int
session_pin(struct session *s, const struct stun_msg *resp)
{
	const struct stun_attr *a = stun_find(resp, TC_ATTR_CHANNEL_KEY);
	char have[KEY_HEX_LEN + 1], told[KEY_HEX_LEN + 1];

	if (a == NULL || a->len != KEY_PUBLIC_LEN) {
		/* Probes and the verifier register under plain names. */
		if (s->cfg.role != TC_ROLE_PEER &&
		    s->cfg.role != TC_ROLE_ORIGIN)
			return 0;
		log_error("the negotiator's answer names no channel key");
		return -1;
	}
	if (!s->cfg.has_channel_key) {
		memcpy(s->cfg.channel_key, a->value, KEY_PUBLIC_LEN);
		s->cfg.has_channel_key = 1;
		log_info("channel '%s' is key %s", s->cfg.channel,
		    key_hex(a->value, told));
		return 0;
	}
	if (sodium_memcmp(s->cfg.channel_key, a->value, KEY_PUBLIC_LEN) == 0)
		return 0;
	log_error("the negotiator says channel '%s' is key %s, not %s, the "
	    "one pinned: refused, leaving", s->cfg.channel,
	    key_hex(a->value, told), key_hex(s->cfg.channel_key, have));
	return -1;
}

static void
session_register_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct session *s = arg;
	const struct stun_attr *a;
	uint32_t interval;
	char text[ADDR_STRLEN];

	(void)from;
	if (resp == NULL) {
		session_lost(s, "no answer to register");
		return;
	}
	if (resp->cls == STUN_ERROR) {
		char why[STUN_REASON_MAX + 32], reason[STUN_REASON_MAX];
		int code = stun_error(resp, reason, sizeof reason);

		/* An origin asked to sign a challenge does so at once. */
		a = stun_find(resp, TC_ATTR_CHALLENGE);
		if (code == 401 && a != NULL && a->len == TC_CHALLENGE_LEN &&
		    s->cfg.sign_key != NULL &&
		    s->challenges++ < SESSION_CHALLENGES) {
			memcpy(s->challenge, a->value, sizeof s->challenge);
			s->has_challenge = 1;
			session_register(s);
			return;
		}
		s->challenges = 0;
		s->has_challenge = 0;
		/* No origin holds the label yet: wait for it, no slower. */
		if (code == 404)
			s->backoff_ms = SESSION_NO_ORIGIN_MS;
		snprintf(why, sizeof why, "register refused: %d %s", code,
		    reason);
		session_lost(s, why);
		return;
	}
	s->challenges = 0;
	s->has_challenge = 0;
	if ((a = stun_find(resp, TC_ATTR_SESSION_KEY)) == NULL ||
	    a->len != TC_KEY_LEN) {
		session_lost(s, "register answer without a credential");
		return;
	}
	memcpy(s->key, a->value, TC_KEY_LEN);
	if (stun_check_integrity_sha256(resp, s->key, TC_KEY_LEN) != 0 ||
	    (a = stun_find(resp, TC_ATTR_SESSION)) == NULL ||
	    stun_attr_u64(a, &s->session) != 0 ||
	    (a = stun_find(resp, STUN_ATTR_XOR_MAPPED_ADDRESS)) == NULL ||
	    stun_attr_xor_address(resp, a, &s->external.ss,
	    &s->external.len) != 0) {
		session_lost(s, "malformed register answer");
		return;
	}
	s->old_session = 0;
	sodium_memzero(s->old_key, sizeof s->old_key);
	if (session_pin(s, resp) != 0) {
		/* A credential on another channel than ours: goodbye. */
		s->refused = 1;
		evtimer_del(s->timer);
		session_send_leave(s);
		return;
	}
	interval = TC_KEEPALIVE_MS;
	if ((a = stun_find(resp, TC_ATTR_INTERVAL)) != NULL)
		stun_attr_u32(a, &interval);
	if (interval < 100)
		interval = 100;
	s->interval_ms = interval;
	s->seq = 0;
	s->backoff_ms = SESSION_BACKOFF_MIN_MS;
	s->state = SS_REGISTERED;
	log_info("registered as node %016llx, external %s, keepalive every "
	    "%u ms", (unsigned long long)s->cfg.node_id,
	    addr_format((struct sockaddr *)&s->external.ss, text, sizeof text),
	    interval);
	session_arm(s, s->interval_ms);
	s->cb(s->arg, SESSION_REGISTERED, s);
}

static void
session_register(struct session *s)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG], tid[12], prof[NAT_PROFILE_WIRE_LEN];
	uint8_t proof[TC_PROOF_MAX], sig[KEY_SIG_LEN];
	size_t plen, llen = strlen(s->cfg.label);
	int len;

	s->state = SS_REGISTERING;
	stun_random_tid(tid);
	stun_build_init(&b, msg, sizeof msg, TC_METHOD_REGISTER, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, s->cfg.node_id);
	stun_put(&b, TC_ATTR_CHANNEL, s->cfg.channel,
	    (uint16_t)strlen(s->cfg.channel));
	stun_put_u32(&b, TC_ATTR_ROLE, s->cfg.role);
	if (s->cfg.fanout != 0)
		stun_put_u32(&b, TC_ATTR_FANOUT, s->cfg.fanout);
	stun_put_xor_address(&b, TC_ATTR_XOR_INTERNAL,
	    (struct sockaddr *)&s->cfg.internal.ss);
	if (s->addr6.len > 0)
		stun_put_xor_address(&b, TC_ATTR_XOR_ADDRESS6,
		    (struct sockaddr *)&s->addr6.ss);
	nat_profile_encode(&s->cfg.profile, prof);
	stun_put(&b, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	if (llen > 0)
		stun_put(&b, TC_ATTR_LABEL, s->cfg.label, (uint16_t)llen);
	if (s->has_challenge && s->cfg.sign_key != NULL) {
		/* The proof that the channel's key is ours. */
		plen = tc_origin_proof(proof, s->challenge, s->cfg.node_id,
		    s->cfg.sign_key->pk, s->cfg.label, llen);
		crypto_sign_detached(sig, NULL, proof, plen,
		    s->cfg.sign_key->sk);
		stun_put(&b, TC_ATTR_CHALLENGE, s->challenge,
		    sizeof s->challenge);
		stun_put(&b, TC_ATTR_SIGNATURE, sig, sizeof sig);
	}
	if (s->old_session != 0)
		stun_put_u64(&b, TC_ATTR_SESSION, s->old_session);
	/* An unauthenticated request must be as large as its answer. */
	ctl_put_padding(&b, TC_REGISTER_MIN);
	/* The node id is ours if the negotiator still holds the session
	 * we lost: proven under its key. */
	if (s->old_session != 0)
		stun_put_integrity_sha256(&b, s->old_key, sizeof s->old_key);
	stun_put_fingerprint(&b);
	if ((len = stun_build_finish(&b)) < 0 ||
	    ctl_request(s->ctl, &s->cfg.server, msg, (size_t)len, NULL,
	    session_register_cb, s) != 0)
		session_lost(s, "cannot send register");
}

void
session_begin(struct session *s, struct stun_builder *b, uint8_t *buf,
    size_t cap, uint16_t method)
{
	uint8_t tid[12];

	stun_random_tid(tid);
	stun_build_init(b, buf, cap, method, STUN_REQUEST, tid);
	stun_put_u64(b, TC_ATTR_SESSION, s->session);
	stun_put_u32(b, TC_ATTR_SEQ, ++s->seq);
}

/* Signs b with the session's credential and finishes it: its length, or
 * -1 (not registered, or no room). */
static int
session_seal(struct session *s, struct stun_builder *b)
{
	if (s->session == 0)
		return -1;
	stun_put_integrity_sha256(b, s->key, sizeof s->key);
	stun_put_fingerprint(b);
	return stun_build_finish(b);
}

int
session_send(struct session *s, struct stun_builder *b,
    const struct ctl_timing *t, ctl_cb cb, void *arg)
{
	int len;

	if ((len = session_seal(s, b)) < 0)
		return -1;
	return ctl_request(s->ctl, &s->cfg.server, b->buf, (size_t)len, t,
	    cb, arg);
}

int
session_verify(const struct session *s, const struct stun_msg *m)
{
	if (s->session == 0)
		return -1;
	return stun_check_integrity_sha256(m, s->key, sizeof s->key);
}

int
session_answer(struct session *s, struct stun_builder *b)
{
	int len;

	if ((len = session_seal(s, b)) < 0)
		return -1;
	return session_resend(s, b->buf, (size_t)len);
}

void
session_cancel(struct session *s, void *arg)
{
	ctl_cancel(s->ctl, arg);
}

int
session_resend(struct session *s, const uint8_t *msg, size_t len)
{
	return ctl_send_to(s->ctl, (struct sockaddr *)&s->cfg.server.ss,
	    s->cfg.server.len, msg, len);
}

/* A request on the session's socket: only the negotiator's, under the
 * session's credential, reach the handler. */
static void
session_request_in(void *arg, const struct stun_msg *req,
    const struct sockaddr *from)
{
	struct session *s = arg;

	if (!addr_equal(from, (struct sockaddr *)&s->cfg.server.ss)) {
		s->st.strangers++;
		return;
	}
	if (session_verify(s, req) != 0) {
		s->st.bad_integrity++;
		return;
	}
	if (s->on_request != NULL)
		s->on_request(s->on_request_arg, req);
}

void
session_on_keepalive(struct session *s, session_answer_cb cb, void *arg)
{
	s->on_keepalive = cb;
	s->on_keepalive_arg = arg;
}

void
session_on_request(struct session *s, session_request_cb cb, void *arg)
{
	s->on_request = cb;
	s->on_request_arg = arg;
}

/* An authenticated request of the session: keepalive or leave. */
static int
session_send_auth(struct session *s, uint16_t method,
    const struct ctl_timing *t, ctl_cb cb)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	session_begin(s, &b, msg, sizeof msg, method);
	return session_send(s, &b, t, cb, s);
}

static void session_keepalive_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from);

/* A peer's keepalive is padded: the negotiator answers no larger than the
 * request, and a peer's answer also names its parent in the tree. */
static int
session_keepalive(struct session *s)
{
	static const uint8_t pad[SESSION_KEEPALIVE_PAD];
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	session_begin(s, &b, msg, sizeof msg, TC_METHOD_KEEPALIVE);
	if (s->cfg.role == TC_ROLE_PEER)
		stun_put(&b, STUN_ATTR_PADDING, pad, sizeof pad);
	return session_send(s, &b, &session_keepalive_timing,
	    session_keepalive_cb, s);
}

static void
session_keepalive_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct session *s = arg;
	const struct stun_attr *a;
	struct addr ext;

	(void)from;
	if (resp == NULL) {
		session_lost(s, "no answer to keepalive");
		return;
	}
	if (stun_check_integrity_sha256(resp, s->key, TC_KEY_LEN) != 0) {
		/* An unauthenticated error: the negotiator does not know
		 * this session (it restarted, or expired us). */
		if (resp->cls == STUN_ERROR)
			s->backoff_ms = SESSION_FORGOTTEN_MS;
		session_lost(s, resp->cls == STUN_ERROR ?
		    "the negotiator does not know this session" :
		    "keepalive answer failed integrity");
		return;
	}
	if ((a = stun_find(resp, STUN_ATTR_XOR_MAPPED_ADDRESS)) != NULL &&
	    stun_attr_xor_address(resp, a, &ext.ss, &ext.len) == 0 &&
	    !addr_equal((struct sockaddr *)&ext.ss,
	    (struct sockaddr *)&s->external.ss)) {
		char text[ADDR_STRLEN];

		log_info("external address is now %s", addr_format(
		    (struct sockaddr *)&ext.ss, text, sizeof text));
		s->external = ext;
	}
	s->state = SS_REGISTERED;
	session_arm(s, s->interval_ms);
	if (s->on_keepalive != NULL)
		s->on_keepalive(s->on_keepalive_arg, resp);
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SS_REGISTERED:
		s->state = SS_KEEPALIVE;
		if (session_keepalive(s) != 0)
			session_lost(s, "cannot send keepalive");
		break;
	case SS_WAITING:
		session_register(s);
		break;
	case SS_DRAINING:
		s->drained_ms += SESSION_DRAIN_STEP_MS;
		if (ctl_pending(s->ctl) == 0 ||
		    s->drained_ms >= SESSION_DRAIN_MS)
			session_send_leave(s);
		else
			session_arm(s, SESSION_DRAIN_STEP_MS);
		break;
	default:
		break;
	}
}

static void
session_leave_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct session *s = arg;

	(void)from;
	if (resp == NULL)
		log_warn("the negotiator did not acknowledge leave");
	else
		log_info("left the negotiator");
	s->state = SS_GONE;
	s->cb(s->arg, SESSION_LEFT, s);
}

static void
session_send_leave(struct session *s)
{
	static const struct ctl_timing quick = { 250, 3, 2 };

	s->state = SS_LEAVING;
	if (s->session == 0 || session_send_auth(s, TC_METHOD_LEAVE, &quick,
	    session_leave_cb) != 0) {
		s->state = SS_GONE;
		s->cb(s->arg, SESSION_LEFT, s);
	}
}

/* A second call (a second Ctrl-C) leaves without waiting any longer. */
void
session_leave(struct session *s)
{
	int again = s->state == SS_DRAINING;

	evtimer_del(s->timer);
	ctl_cancel(s->ctl, s);
	if (!again && s->session != 0 && ctl_pending(s->ctl) > 0) {
		log_info("leaving once %d request(s) under way are answered",
		    ctl_pending(s->ctl));
		s->state = SS_DRAINING;
		s->drained_ms = 0;
		session_arm(s, SESSION_DRAIN_STEP_MS);
		return;
	}
	session_send_leave(s);
}

/* The IPv6 address this host reaches the negotiator's from: a global
 * one (a host without IPv6, or with a link-local address alone, has
 * none, and stays IPv4-only). */
static void
session_find_addr6(struct session *s)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->addr6.ss;

	if (s->cfg.server6.len == 0 ||
	    s->cfg.server6.ss.ss_family != AF_INET6 ||
	    addr_local_towards(&s->cfg.server6, &s->addr6) != 0 ||
	    s->addr6.ss.ss_family != AF_INET6 ||
	    IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr) ||
	    IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
	    IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		memset(&s->addr6, 0, sizeof s->addr6);
		return;
	}
	addr_set_port((struct sockaddr *)&s->addr6.ss, 0);
}

const struct addr *
session_addr6(const struct session *s)
{
	return s->addr6.len > 0 ? &s->addr6 : NULL;
}

struct session *
session_start(struct event_base *base, const struct session_config *cfg,
    session_cb cb, void *arg, char *err, size_t errlen)
{
	struct session *s;

	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->cfg = *cfg;
	while (s->cfg.node_id == 0)
		randombytes_buf(&s->cfg.node_id, sizeof s->cfg.node_id);
	s->cb = cb;
	s->arg = arg;
	s->backoff_ms = SESSION_BACKOFF_MIN_MS;
	if ((s->ctl = ctl_open(base, cfg->server.ss.ss_family, NULL, err,
	    errlen)) == NULL ||
	    (s->timer = evtimer_new(base, session_timer_cb, s)) == NULL) {
		if (s->ctl != NULL)
			snprintf(err, errlen, "evtimer_new failed");
		session_free(s);
		return NULL;
	}
	if (s->cfg.internal.len == 0) {
		if (addr_local_towards(&cfg->server, &s->cfg.internal) != 0) {
			snprintf(err, errlen, "no route to the negotiator");
			session_free(s);
			return NULL;
		}
		addr_set_port((struct sockaddr *)&s->cfg.internal.ss,
		    ctl_local_port(s->ctl));
	}
	session_find_addr6(s);
	ctl_on_request(s->ctl, session_request_in, s);
	session_register(s);
	return s;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->timer != NULL)
		event_free(s->timer);
	ctl_free(s->ctl);
	sodium_memzero(s->key, sizeof s->key);
	sodium_memzero(s->old_key, sizeof s->old_key);
	free(s);
}

uint64_t
session_node_id(const struct session *s)
{
	return s->cfg.node_id;
}

const struct addr *
session_external(const struct session *s)
{
	return &s->external;
}

uint32_t
session_interval_ms(const struct session *s)
{
	return s->interval_ms;
}

int
session_registered(const struct session *s)
{
	return s->state == SS_REGISTERED || s->state == SS_KEEPALIVE;
}

const struct addr *
session_server(const struct session *s)
{
	return &s->cfg.server;
}

const struct nat_profile *
session_profile(const struct session *s)
{
	return &s->cfg.profile;
}

const uint8_t *
session_channel_key(const struct session *s)
{
	return s->cfg.has_channel_key ? s->cfg.channel_key : NULL;
}

int
session_refused(const struct session *s)
{
	return s->refused;
}

const struct session_stats *
session_stats(const struct session *s)
{
	return &s->st;
}

const struct ctl_stats *
session_path(const struct session *s)
{
	return ctl_stats(s->ctl);
}
