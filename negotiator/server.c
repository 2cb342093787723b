/* The negotiation server's UDP side: sockets, the receive loop and one
 * handler a method. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "negotiator/broker.h"
#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/ratelimit.h"
#include "negotiator/registry.h"
#include "negotiator/server-test.h"
#include "negotiator/server.h"
#include "util/log.h"
#include "wire/key.h"
#include "wire/nat.h"
#include "wire/proto.h"

/*
 * Counters: each thread bumps its own with relaxed atomics (its own cache
 * line, so no contention), and server_stats() reads them at any time.
 */
#define STAT_ADD(o, name, v) \
	__atomic_fetch_add(&(o)->st.name, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_INC(o, name) STAT_ADD(o, name, 1)

#define SERVER_BATCH	64	/* datagrams per recvmmsg */
#define SERVER_ROUNDS	16	/* batches per wakeup, then let others run */
#define SERVER_TICK_MS	100	/* expiry sweep */
#define SERVER_SWEEP_SLICE 2048	/* records swept per hold of the lock */
#define SERVER_GONE_LOGGED 8	/* expired nodes named in the log a sweep */
/* An unauthenticated request gets at most this many times its size back. */
#define SERVER_UNAUTH_FACTOR 2
#define SERVER_CHALLENGE_S 30	/* an origin's challenge is good this long */

/* Sockets by what they differ in: bit 0 the port, bit 1 the address. */
#define SOCK_ALT_PORT	1
#define SOCK_ALT_ADDR	2
#define SOCK_V6		4	/* the IPv6 socket beside an IPv4 --listen */
#define SOCK_MAX	5

struct server;
struct worker;

struct srv_sock {
	struct worker		*w;
	int			 index;
	int			 fd;
	struct event		*ev;
	struct addr		 local;		/* as bound */
	int			 wildcard;	/* bound to 0.0.0.0: use pktinfo */
};

/* Room for one IP_PKTINFO control message. */
union srv_cmsg {
	struct cmsghdr	 align;
	char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
};

/* One received datagram and, once handled, its answer. */
struct srv_msg {
	uint8_t			 in[STUN_MAX_MSG + 4];
	uint8_t			 out[STUN_MAX_MSG];
	struct sockaddr_storage	 from;
	union srv_cmsg		 ctl;
	struct in_pktinfo	 pi;		/* where it arrived */
	int			 has_pi;
	size_t			 outlen;	/* 0: no answer */
	int			 via;		/* socket to answer from */
};

/*
 * A worker: one thread with its own event loop and its own sockets, all
 * with SO_REUSEPORT, so that the kernel spreads clients over the workers
 * by address. Workers share the registry under the server's lock; each
 * keeps its own counters.
 */
struct worker {
	struct server		*srv;
	int			 index;
	pthread_t		 thread;
	int			 started;
	struct event_base	*base;
	struct srv_sock		 socks[SOCK_MAX];
	struct server_stats	 st;		/* this thread's own */

	/* The batch, reused: no allocation per message. */
	struct srv_msg		 msgs[SERVER_BATCH];
	struct mmsghdr		 rx[SERVER_BATCH];
	struct iovec		 rxiov[SERVER_BATCH];
	struct mmsghdr		 tx[SERVER_BATCH];
	struct iovec		 txiov[SERVER_BATCH];
	union srv_cmsg		 txctl[SERVER_BATCH];
};

struct server {
	struct event_base	*base;		/* the main thread's */
	struct server_config	 cfg;
	pthread_mutex_t		 lock;		/* registry, channels */
	struct registry		*reg;
	struct channels		*channels;
	struct event		*tick;
	struct timespec		 start;
	struct server_stats	 st;		/* the main thread's (expiry) */
	struct server_stats	 st_last;	/* at the last stats line */
	uint8_t			 challenge_key[32];	/* origins' challenges */
	uint32_t		 ticks;
	uint64_t		 gone[SERVER_GONE_LOGGED];	/* this sweep's */
	uint32_t		 ngone;
	struct worker		*workers;
	int			 nworkers;
	struct broker		*broker;
	struct ratelimit	*unauth;	/* NULL: no limit */
	/* The channels' trees, and by slot: the children a node serves,
	 * and its last STATUS (calloc'd: pages are touched only by nodes
	 * that report). Under the lock. */
	struct forest		*forest;
	uint8_t			*fanout;
	struct server_health	*health;
	/* The health's stream bytes summed by channel and in all, so that
	 * the API reads them without a walk of the registry. */
	uint64_t		 origin_out[CHANNELS_MAX], delivered[CHANNELS_MAX];
	uint64_t		 origin_out_all, delivered_all;
	/* The peers' playout figures, summed the same way. */
	struct server_playout	 playout[CHANNELS_MAX], playout_all;
	uint64_t		 move_seq;	/* MOVEs sent; under the lock */
};

static uint32_t
server_now(const struct server *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec - s->start.tv_sec);
}

/* Starts an answer to req in m->out. */
static void
server_answer(struct srv_msg *m, struct stun_builder *b,
    const struct stun_msg *req, enum stun_class cls)
{
	stun_build_init(b, m->out, sizeof m->out, req->method, cls, req->tid);
}

/* Finishes an answer to an authenticated request, sent if no larger than
 * limit. */
static void
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

static uint64_t
server_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Lets an answer of len bytes to an unauthenticated request go (m->outlen)
 * if it is at most twice the request and its source's prefix has budget
 * left; else counts why not (drop_amplify, drop_unauth_rate). Returns 0 if
 * it goes. Every answer that anyone can ask for passes here, so that no one
 * can aim more than the policy at an address by forging it (README,
 * "treecast-negotiator"). Authenticated requests do not: they pay nothing.
 */
static int
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
	    (struct sockaddr *)&m->from, server_clock_ns()) != 0) {
		STAT_INC(w, drop_unauth_rate);
		return -1;
	}
	m->outlen = (size_t)len;
	return 0;
}

/* Finishes an answer to an unauthenticated request (server_pass_unauth). */
static void
server_finish_unauth(struct worker *w, struct srv_msg *m,
    struct stun_builder *b, size_t reqlen)
{
	server_pass_unauth(w, m, stun_build_finish(b), reqlen);
}

/* An error answer to a request not (or not yet) authenticated. */
static void
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

/* The address the request came to: the bound one, or pktinfo's. */
static void
server_local(const struct srv_sock *ss, const struct srv_msg *m,
    struct sockaddr_storage *out)
{
	memcpy(out, &ss->local.ss, sizeof *out);
	if (ss->wildcard && m->has_pi && out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_addr = m->pi.ipi_addr;
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
    const struct stun_msg *req, size_t reqlen)
{
	static const uint16_t change[] = { STUN_ATTR_CHANGE_REQUEST };
	const struct stun_attr *a;
	struct stun_builder b;
	struct sockaddr_storage origin;
	uint32_t flags = 0;
	int via = ss->index, keep, len = -1;

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

static int
server_get_u64(const struct stun_msg *req, uint16_t type, uint64_t *v)
{
	const struct stun_attr *a = stun_find(req, type);

	return a == NULL ? -1 : stun_attr_u64(a, v);
}

static int
server_get_u32(const struct stun_msg *req, uint16_t type, uint32_t *v)
{
	const struct stun_attr *a = stun_find(req, type);

	return a == NULL ? -1 : stun_attr_u32(a, v);
}

/* Adds a peer's playout figures to a sum, or takes them away. */
static void
server_playout_count(struct server_playout *sum, const struct tc_health *h,
    int add)
{
	sum->played_ms = add ? sum->played_ms + h->played_ms :
	    sum->played_ms - h->played_ms;
	sum->stalled_ms = add ? sum->stalled_ms + h->stalled_ms :
	    sum->stalled_ms - h->stalled_ms;
	sum->stalls = add ? sum->stalls + h->stalls : sum->stalls - h->stalls;
}

/* Adds a node's health to the sums by channel, or takes it away. */
static void
server_offload_count(struct server *s, const struct server_health *sh,
    int add)
{
	uint64_t *ch, *all, v;

	if (sh->at_ms == 0)
		return;
	if (sh->role == TC_ROLE_PEER) {
		server_playout_count(&s->playout[sh->channel], &sh->h, add);
		server_playout_count(&s->playout_all, &sh->h, add);
	}
	if (sh->role == TC_ROLE_ORIGIN) {
		ch = &s->origin_out[sh->channel];
		all = &s->origin_out_all;
		v = sh->h.bytes_out;
	} else if (sh->role == TC_ROLE_PEER) {
		ch = &s->delivered[sh->channel];
		all = &s->delivered_all;
		v = sh->h.bytes_in;
	} else
		return;
	*ch = add ? *ch + v : *ch - v;
	*all = add ? *all + v : *all - v;
}

/* The node n in slot's last STATUS, or none (sh NULL), with the sums.
 * Under the lock. */
static void
server_set_health(struct server *s, uint32_t slot, const struct reg_node *n,
    const struct server_health *sh)
{
	struct server_health *h = &s->health[slot];

	server_offload_count(s, h, 0);
	if (sh == NULL) {
		memset(h, 0, sizeof *h);
		return;
	}
	*h = *sh;
	h->channel = n->channel;
	h->role = n->role;
	server_offload_count(s, h, 1);
}

/* The node in slot is gone from the registry or registers again: out
 * of its channel's tree, figures forgotten. Under the lock. */
static void
server_untree(struct server *s, uint32_t slot)
{
	const struct reg_node *n = registry_node_const(s->reg, slot);

	if (n != NULL)
		forest_gone(s->forest, n->channel, slot);
	server_set_health(s, slot, NULL, NULL);
}

/* Drops the node in slot from the registry (it left, or it went silent
 * while its children lost it). Under the lock. */
static void
server_drop(struct server *s, uint32_t slot)
{
	server_untree(s, slot);
	channels_unref(s->channels, registry_node(s->reg, slot)->channel);
	registry_remove(s->reg, slot);
}

/* What a REGISTER says, checked. */
struct server_reg {
	uint64_t		 node_id;
	uint32_t		 role;
	uint32_t		 fanout;
	const char		*chan;
	size_t			 chan_len;
	const char		*label;		/* an origin's; NULL: none */
	size_t			 label_len;
	int			 keyed;		/* chan is a key in hex */
	uint8_t			 key[KEY_PUBLIC_LEN];
	struct nat_profile	 profile;
	struct sockaddr_storage	 internal;
	int			 proven;	/* an origin that signed */
	int			 has_old;	/* names its old session */
	uint64_t		 old_session;
};

/* Reads and checks a REGISTER's attributes: 0, or -1 having answered 400
 * with the reason. */
static int
server_register_parse(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, struct server_reg *r)
{
	const struct stun_attr *chan, *prof, *intl, *label;
	const char *why = NULL;		/* NULL: plainly malformed */

	memset(r, 0, sizeof *r);
	r->fanout = TC_FANOUT_DEFAULT;
	chan = stun_find(req, TC_ATTR_CHANNEL);
	prof = stun_find(req, TC_ATTR_NAT_PROFILE);
	intl = stun_find(req, TC_ATTR_XOR_INTERNAL);
	label = stun_find(req, TC_ATTR_LABEL);
	if (stun_find(req, TC_ATTR_FANOUT) != NULL &&
	    (server_get_u32(req, TC_ATTR_FANOUT, &r->fanout) != 0 ||
	    r->fanout > TC_FANOUT_MAX)) {
		why = "bad fanout";
		goto bad;
	}
	if (server_get_u64(req, TC_ATTR_NODE_ID, &r->node_id) != 0 ||
	    server_get_u32(req, TC_ATTR_ROLE, &r->role) != 0 ||
	    r->role == 0 || r->role >= TC_ROLE_COUNT || chan == NULL ||
	    prof == NULL ||
	    nat_profile_decode(prof->value, prof->len, &r->profile) != 0 ||
	    intl == NULL ||
	    stun_attr_xor_address(req, intl, &r->internal, NULL) != 0)
		goto bad;
	r->chan = (const char *)chan->value;
	r->chan_len = chan->len;
	if ((r->keyed = tc_is_key_name(r->chan, r->chan_len)))
		key_parse_hex(r->chan, r->chan_len, r->key);
	if (r->role == TC_ROLE_ORIGIN && !r->keyed) {
		why = "an origin's channel is its key in hex";
		goto bad;
	}
	/* A peer's name that is not a key is a label; probes' and the
	 * verifier's plain names are checked as they are interned. */
	if (r->role == TC_ROLE_PEER && !r->keyed &&
	    !channels_label_valid(r->chan, r->chan_len)) {
		why = "bad channel name";
		goto bad;
	}
	if (r->role == TC_ROLE_ORIGIN && label != NULL) {
		if (!channels_label_valid((const char *)label->value,
		    label->len)) {
			why = "bad label";
			goto bad;
		}
		r->label = (const char *)label->value;
		r->label_len = label->len;
	}
	r->has_old = server_get_u64(req, TC_ATTR_SESSION, &r->old_session) ==
	    0 && stun_find(req, STUN_ATTR_MESSAGE_INTEGRITY_SHA256) != NULL;
	return 0;

bad:
	STAT_INC(w, err_bad_request);
	server_error(w, m, req, reqlen, 400, why, NULL, 0);
	return -1;
}

/* A challenge's MAC: where the request came from, the node, the channel's
 * key and the expiry, under the server's own secret. */
static void
server_challenge_mac(const struct server *s, const uint8_t expiry[4],
    const struct sockaddr *from, const struct server_reg *r,
    uint8_t mac[TC_CHALLENGE_LEN - 4])
{
	crypto_generichash_state st;
	uint8_t ip[16], v[10];
	uint16_t port;
	int i;

	reg_addr_store(from, ip, &port);
	v[0] = (uint8_t)(port >> 8);
	v[1] = (uint8_t)port;
	for (i = 0; i < 8; i++)
		v[2 + i] = (uint8_t)(r->node_id >> (56 - 8 * i));
	crypto_generichash_init(&st, s->challenge_key,
	    sizeof s->challenge_key, TC_CHALLENGE_LEN - 4);
	crypto_generichash_update(&st, expiry, 4);
	crypto_generichash_update(&st, ip, sizeof ip);
	crypto_generichash_update(&st, v, sizeof v);
	crypto_generichash_update(&st, r->key, sizeof r->key);
	crypto_generichash_final(&st, mac, TC_CHALLENGE_LEN - 4);
}

/* 0 when c is a challenge this server gave the same source, node and key
 * less than SERVER_CHALLENGE_S ago. */
static int
server_challenge_check(const struct server *s, const struct sockaddr *from,
    const struct server_reg *r, const struct stun_attr *c)
{
	uint8_t mac[TC_CHALLENGE_LEN - 4];
	uint32_t expiry, now = server_now(s);

	if (c == NULL || c->len != TC_CHALLENGE_LEN)
		return -1;
	expiry = (uint32_t)c->value[0] << 24 | (uint32_t)c->value[1] << 16 |
	    (uint32_t)c->value[2] << 8 | c->value[3];
	if (expiry < now || expiry > now + SERVER_CHALLENGE_S)
		return -1;
	server_challenge_mac(s, c->value, from, r, mac);
	return sodium_memcmp(mac, c->value + 4, sizeof mac) == 0 ? 0 : -1;
}

/*
 * An origin proves its channel's key: with no challenge, or a stale one,
 * it gets a 401 carrying a fresh one (no larger than the request: there
 * is nothing per challenge to keep); with one, its SIGNATURE over
 * tc_origin_proof() must verify under the key. 0 when proven, else -1
 * having answered.
 */
static int
server_register_proof(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, struct server_reg *r)
{
	struct server *s = w->srv;
	const struct stun_attr *sig;
	struct stun_builder b;
	uint8_t msg[TC_PROOF_MAX], chal[TC_CHALLENGE_LEN];
	uint32_t expiry;
	size_t len;

	if (server_challenge_check(s, (struct sockaddr *)&m->from, r,
	    stun_find(req, TC_ATTR_CHALLENGE)) != 0) {
		expiry = server_now(s) + SERVER_CHALLENGE_S;
		chal[0] = (uint8_t)(expiry >> 24);
		chal[1] = (uint8_t)(expiry >> 16);
		chal[2] = (uint8_t)(expiry >> 8);
		chal[3] = (uint8_t)expiry;
		server_challenge_mac(s, chal, (struct sockaddr *)&m->from, r,
		    chal + 4);
		STAT_INC(w, challenges);
		server_answer(m, &b, req, STUN_ERROR);
		stun_put_error_code(&b, 401, "sign the challenge");
		stun_put(&b, TC_ATTR_CHALLENGE, chal, sizeof chal);
		stun_put_fingerprint(&b);
		server_finish_unauth(w, m, &b, reqlen);
		return -1;
	}
	len = tc_origin_proof(msg, stun_find(req, TC_ATTR_CHALLENGE)->value,
	    r->node_id, r->key, r->label, r->label_len);
	if ((sig = stun_find(req, TC_ATTR_SIGNATURE)) == NULL ||
	    sig->len != KEY_SIG_LEN ||
	    crypto_sign_verify_detached(sig->value, msg, len, r->key) != 0) {
		STAT_INC(w, drop_bad_signature);
		server_error(w, m, req, reqlen, 403,
		    "bad signature: not the channel's key", NULL, 0);
		return -1;
	}
	r->proven = 1;
	return 0;
}

/* The answer to a registration: the credential, and the channel's key
 * for the node to pin, under the credential. */
static void
server_register_answer(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, uint64_t session,
    const uint8_t key[TC_KEY_LEN], const uint8_t *chkey)
{
	struct stun_builder b;

	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&m->from);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put(&b, TC_ATTR_SESSION_KEY, key, TC_KEY_LEN);
	stun_put_u32(&b, TC_ATTR_INTERVAL, w->srv->cfg.interval_ms);
	if (chkey != NULL)
		stun_put(&b, TC_ATTR_CHANNEL_KEY, chkey, KEY_PUBLIC_LEN);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	server_finish_unauth(w, m, &b, reqlen);
}

/*
 * The channel a REGISTER names, under the lock: a peer naming a label is
 * bound to the key that holds it; an origin claiming a label another key
 * holds is refused. The index (interned, not yet referenced), or -1
 * having counted, unlocked and answered.
 */
static int
server_register_channel(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct server_reg *r)
{
	struct server *s = w->srv;
	int channel, owner;

	if (r->role == TC_ROLE_PEER && !r->keyed) {
		if ((channel = channels_find_label(s->channels, r->chan,
		    r->chan_len)) >= 0)
			return channel;
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, err_no_channel);
		server_error(w, m, req, reqlen, 404,
		    "no origin holds this label", NULL, 0);
		return -1;
	}
	if ((channel = channels_intern(s->channels, r->chan,
	    r->chan_len)) == CHANNELS_INVALID) {
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, err_bad_request);
		server_error(w, m, req, reqlen, 400, "bad channel name", NULL,
		    0);
		return -1;
	}
	if (channel < 0) {
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, err_full);
		server_error(w, m, req, reqlen, 508, "channel table full",
		    NULL, 0);
		return -1;
	}
	if (r->label != NULL && (owner = channels_find_label(s->channels,
	    r->label, r->label_len)) >= 0 && owner != channel) {
		channels_drop_unused(s->channels, channel);
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, err_label_taken);
		server_error(w, m, req, reqlen, 403,
		    "label held by another key", NULL, 0);
		return -1;
	}
	return channel;
}

/*
 * Register: unauthenticated; answers with a credential (DESIGN.md, flow
 * 1). A node id still registered is taken again only by a request that
 * proves the old session (its SESSION and MESSAGE-INTEGRITY-SHA256 under
 * its key) or, for an origin of the same channel, the channel's key;
 * else it is refused and counted (drop_hijack): node ids are public. A
 * retransmission of the request that made the session (same transaction,
 * same source, nothing authenticated since) gets the same answer again.
 */
static void
server_register(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen)
{
	struct server *s = w->srv;
	struct server_reg r;
	struct reg_node *n;
	uint8_t key[TC_KEY_LEN], chkey[KEY_PUBLIC_LEN], ip[16];
	uint64_t session = 0, osession = 0;
	uint32_t slot, oslot;
	uint16_t port;
	int channel, known, no_tree = 0, resent = 0, proved = 0, keyed;
	int labelled = 0;
	char ext[ADDR_STRLEN], in[ADDR_STRLEN], chname[TC_CHANNEL_MAX + 1];

	if (reqlen < TC_REGISTER_MIN) {
		STAT_INC(w, drop_unpadded);
		return;
	}
	if (server_register_parse(w, m, req, reqlen, &r) != 0)
		return;
	if (r.role == TC_ROLE_ORIGIN &&
	    server_register_proof(w, m, req, reqlen, &r) != 0)
		return;

	/* The old credential is checked outside the lock, as
	 * server_authenticate does, and the record looked up again. */
	reg_addr_store((struct sockaddr *)&m->from, ip, &port);
	pthread_mutex_lock(&s->lock);
	if ((oslot = registry_find(s->reg, r.node_id)) != REG_NONE) {
		n = registry_node(s->reg, oslot);
		osession = (uint64_t)n->gen << 32 | oslot;
		memcpy(key, n->key, sizeof key);
		resent = n->last_seq == 0 && n->ext_port == port &&
		    memcmp(n->ext_ip, ip, sizeof ip) == 0 &&
		    memcmp(n->reg_tid, req->tid, sizeof n->reg_tid) == 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (oslot != REG_NONE && !resent && r.has_old &&
	    r.old_session == osession)
		proved = stun_check_integrity_sha256(req, key, sizeof key) == 0;
	pthread_mutex_lock(&s->lock);
	slot = registry_find(s->reg, r.node_id);
	if (slot != oslot || (slot != REG_NONE &&
	    registry_session(s->reg, osession) != slot)) {
		/* Left or registered again meanwhile: it will resend. */
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, drop_unknown_session);
		goto out;
	}
	if (resent) {
		n = registry_node(s->reg, slot);
		channel = n->channel;
		if ((keyed = channels_key(s->channels, channel) != NULL))
			memcpy(chkey, channels_key(s->channels, channel),
			    sizeof chkey);
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, retransmits);
		server_register_answer(w, m, req, reqlen, osession, key,
		    keyed ? chkey : NULL);
		goto out;
	}
	if ((channel = server_register_channel(w, m, req, reqlen, &r)) < 0)
		goto out;
	known = slot != REG_NONE;
	if (known && !proved && !(r.proven &&
	    registry_node(s->reg, slot)->role == TC_ROLE_ORIGIN &&
	    registry_node(s->reg, slot)->channel == channel)) {
		channels_drop_unused(s->channels, channel);
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, drop_hijack);
		log_info("REGISTER for node %016llx from %s refused: the id "
		    "is registered, and the request proves neither its "
		    "session nor its channel's key",
		    (unsigned long long)r.node_id, addr_format(
		    (struct sockaddr *)&m->from, ext, sizeof ext));
		server_error(w, m, req, reqlen, 403, "node id in use", NULL,
		    0);
		goto out;
	}
	slot = registry_register(s->reg, r.node_id, server_now(s), &session);
	if (slot == REG_NONE) {
		channels_drop_unused(s->channels, channel);
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, err_full);
		server_error(w, m, req, reqlen, 508, "registry full", NULL, 0);
		goto out;
	}
	n = registry_node(s->reg, slot);
	/* A node registered again is out of its tree (it joins again),
	 * except an origin on its own channel: it keeps its tree. */
	if (known && !(r.role == TC_ROLE_ORIGIN &&
	    n->role == TC_ROLE_ORIGIN && n->channel == channel))
		server_untree(s, slot);
	s->fanout[slot] = (uint8_t)r.fanout;
	reg_addr_store((struct sockaddr *)&m->from, n->ext_ip, &n->ext_port);
	reg_addr_store((struct sockaddr *)&r.internal, n->int_ip,
	    &n->int_port);
	nat_profile_encode(&r.profile, n->profile);
	memcpy(n->reg_tid, req->tid, sizeof n->reg_tid);
	/* Taken before the old one is let go: a lone node registering
	 * again on its own channel must not free its name. */
	channels_ref(s->channels, channel);
	if (known)
		channels_unref(s->channels, n->channel);
	n->channel = (uint16_t)channel;
	n->role = (uint8_t)r.role;
	if (r.label != NULL)
		labelled = channels_set_label(s->channels, channel, r.label,
		    r.label_len) == 0;
	if (r.role == TC_ROLE_ORIGIN &&
	    forest_origin(s->forest, channel, slot, r.fanout) != 0)
		no_tree = 1;
	randombytes_buf(n->key, sizeof n->key);
	memcpy(key, n->key, sizeof key);
	if ((keyed = channels_key(s->channels, channel) != NULL))
		memcpy(chkey, channels_key(s->channels, channel),
		    sizeof chkey);
	snprintf(chname, sizeof chname, "%s", channels_display(s->channels,
	    channel));
	pthread_mutex_unlock(&s->lock);
	if (known)
		STAT_INC(w, reregistered);
	else
		STAT_INC(w, registered);
	if (r.label != NULL && !labelled)
		log_warn("origin %016llx: no room for label '%.*s'",
		    (unsigned long long)r.node_id, (int)r.label_len, r.label);
	if (no_tree)
		log_warn("origin %016llx on channel '%s' gets no tree: %d "
		    "channels have one already (or memory is short); its "
		    "viewers cannot join", (unsigned long long)r.node_id,
		    chname, FOREST_TREES_MAX);
	log_debug("node %016llx %s: %s on channel '%s', external %s, "
	    "internal %s, NAT %s", (unsigned long long)r.node_id,
	    known ? "registered again" : "registered", tc_role_name(r.role),
	    chname,
	    addr_format((struct sockaddr *)&m->from, ext, sizeof ext),
	    addr_format((struct sockaddr *)&r.internal, in, sizeof in),
	    nat_class_name(&r.profile));
	server_register_answer(w, m, req, reqlen, session, key,
	    keyed ? chkey : NULL);
out:
	sodium_memzero(key, sizeof key);
}

/*
 * The anti-replay window (as IPsec's, RFC 4303 §3.4.3): a number above the
 * last is fresh; the last or one of the 8 below it, if seen, is a
 * retransmission (*fresh = 0), if not, a request overtaken by a later one
 * (a LINK retransmitted after the next keepalive went out); older is a
 * replay: -1.
 */
static int
server_seq(struct reg_node *n, uint32_t seq, int *fresh)
{
	uint32_t d;

	if (seq == 0)
		return -1;
	if (seq > n->last_seq) {
		d = seq - n->last_seq;
		n->seq_win = d > 8 ? 0 : (uint8_t)((n->seq_win << d) |
		    (n->last_seq != 0 ? 1u << (d - 1) : 0));
		n->last_seq = seq;
		*fresh = 1;
		return 0;
	}
	if (seq == n->last_seq) {
		*fresh = 0;
		return 0;
	}
	d = n->last_seq - seq - 1;
	if (d >= 8)
		return -1;
	*fresh = !(n->seq_win & (1u << d));
	n->seq_win |= (uint8_t)(1u << d);
	return 0;
}

/*
 * Checks an authenticated request: its session, MESSAGE-INTEGRITY-SHA256
 * under the session's key and a sequence number not below the last one (no
 * replays). The last number again is a retransmission (RFC 8489 §6.2.1
 * resends a request unchanged): answered again, *fresh = 0. On success it
 * returns the slot with the server's lock HELD, for the caller to update
 * the record and unlock; else REG_NONE, unlocked, having counted and, where
 * the RFC says to, answered 401. The HMAC is checked outside the lock, so
 * workers verify in parallel; the slot is looked up again after it.
 */
static uint32_t
server_authenticate(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, uint8_t key[TC_KEY_LEN],
    int *fresh)
{
	struct server *s = w->srv;
	struct reg_node *n;
	uint64_t session;
	uint32_t slot, seq;

	if (server_get_u64(req, TC_ATTR_SESSION, &session) != 0 ||
	    server_get_u32(req, TC_ATTR_SEQ, &seq) != 0) {
		STAT_INC(w, err_bad_request);
		server_error(w, m, req, reqlen, 400, NULL, NULL, 0);
		return REG_NONE;
	}
	pthread_mutex_lock(&s->lock);
	if ((slot = registry_session(s->reg, session)) != REG_NONE)
		memcpy(key, registry_node(s->reg, slot)->key, TC_KEY_LEN);
	pthread_mutex_unlock(&s->lock);
	if (slot == REG_NONE) {
		/* Tells a node of a restarted negotiator to register again. */
		STAT_INC(w, drop_unknown_session);
		server_error(w, m, req, reqlen, 401, NULL, NULL, 0);
		return REG_NONE;
	}
	if (stun_check_integrity_sha256(req, key, TC_KEY_LEN) != 0) {
		STAT_INC(w, drop_bad_integrity);
		server_error(w, m, req, reqlen, 401, NULL, NULL, 0);
		return REG_NONE;
	}
	pthread_mutex_lock(&s->lock);
	if (registry_session(s->reg, session) != slot) {
		/* Left or registered again meanwhile. */
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, drop_unknown_session);
		return REG_NONE;
	}
	n = registry_node(s->reg, slot);
	if (server_seq(n, seq, fresh) != 0) {
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, drop_replay);
		return REG_NONE;
	}
	if (!*fresh)
		STAT_INC(w, retransmits);
	return slot;
}

/* The standby parent of a node whose parent is in slot parent (TREE_NONE:
 * none): that parent's own parent, the origin too; 0 when there is none.
 * A node bridges a repair from it (README, "The tree"). Under the lock. */
static uint64_t
server_standby(const struct server *s, int ch, uint32_t parent)
{
	const struct reg_node *g;
	uint32_t gp;

	if (parent == TREE_NONE ||
	    forest_parent(s->forest, ch, parent, &gp) != 0 ||
	    gp == TREE_NONE || (g = registry_node_const(s->reg, gp)) == NULL)
		return 0;
	return g->node_id;
}

static void
server_keepalive(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen)
{
	struct server *s = w->srv;
	struct stun_builder b;
	struct reg_node *n;
	uint8_t key[TC_KEY_LEN], ip[16];
	uint16_t port;
	uint32_t slot, parent;
	uint64_t parent_id = 0, standby = 0;
	int fresh, moved = 0, in_tree;

	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	n = registry_node(s->reg, slot);
	/* A node in a tree learns its parent here: the tree moves nodes
	 * (repair, a repeater taking a leaf's slot) and they follow. */
	in_tree = n->role == TC_ROLE_PEER &&
	    forest_parent(s->forest, n->channel, slot, &parent) == 0;
	if (in_tree && parent != TREE_NONE) {
		parent_id = registry_node(s->reg, parent)->node_id;
		standby = server_standby(s, n->channel, parent);
	}
	if (fresh) {
		n->seen = server_now(s);
		reg_addr_store((struct sockaddr *)&m->from, ip, &port);
		if (port != n->ext_port || memcmp(ip, n->ext_ip, 16) != 0) {
			/* The NAT moved the node's mapping: follow it. */
			memcpy(n->ext_ip, ip, 16);
			n->ext_port = port;
			moved = 1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (moved) {
		STAT_INC(w, rebinding);
		log_debug("node in slot %u: external address changed", slot);
	}
	if (fresh)
		STAT_INC(w, keepalive);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&m->from);
	if (in_tree)
		stun_put_u64(&b, TC_ATTR_PARENT, parent_id);
	/* The standby where it fits: older peers pad for the parent only. */
	if (standby != 0 && b.len + 12 + 36 + 8 <= reqlen)
		stun_put_u64(&b, TC_ATTR_STANDBY, standby);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	/* Anyone may own a session: no answer larger than its request
	 * (peers pad their keepalives for the parent and the standby). */
	server_finish(w, m, &b, reqlen);
}

static void
server_leave(struct worker *w, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen)
{
	struct server *s = w->srv;
	struct stun_builder b;
	uint8_t key[TC_KEY_LEN];
	uint64_t node_id;
	uint32_t slot;
	int fresh;

	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	node_id = registry_node(s->reg, slot)->node_id;
	server_drop(s, slot);
	pthread_mutex_unlock(&s->lock);
	log_debug("node %016llx left", (unsigned long long)node_id);
	STAT_INC(w, left);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, reqlen);
}

/* An error answer to an authenticated request, under the session's key so
 * that the node can trust it. */
static void
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
    const struct stun_msg *req, size_t reqlen)
{
	struct server *s = w->srv;
	struct broker_node a, b;
	struct tc_endpoint ep;
	struct sockaddr_storage local;
	const struct reg_node *n, *pn;
	uint8_t key[TC_KEY_LEN];
	uint64_t peer;
	uint32_t slot, pslot;
	int fresh, code;

	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	n = registry_node(s->reg, slot);
	if (server_get_u64(req, TC_ATTR_PEER_NODE, &peer) != 0 ||
	    tc_get_endpoint(req, &ep) != 0) {
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, key, 400, "malformed LINK");
		return;
	}
	pslot = registry_find(s->reg, peer);
	pn = pslot != REG_NONE ? registry_node(s->reg, pslot) : NULL;
	if (pn == NULL || pslot == slot || (pn->channel != n->channel &&
	    n->role != TC_ROLE_VERIFIER) || pn->role == TC_ROLE_PROBE) {
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, link_unknown_peer);
		server_auth_error(w, m, req, key, 404,
		    "no such node on this channel");
		return;
	}
	server_broker_node(n, slot, &a);
	memcpy(&a.addr, &m->from, sizeof a.addr);
	a.verifier = n->role == TC_ROLE_VERIFIER;
	server_broker_node(pn, pslot, &b);
	pthread_mutex_unlock(&s->lock);
	server_local(ss, m, &local);
	if ((code = broker_link(s->broker, &a, &b, req->tid, &ep,
	    (struct sockaddr *)&local)) != 0) {
		STAT_INC(w, err_full);
		server_auth_error(w, m, req, key, code, "too many links");
	}
	sodium_memzero(&a, sizeof a);
	sodium_memzero(&b, sizeof b);
}

/* The node's class for the tree (forest_nat). */
static enum tree_nat
server_tree_nat(const struct reg_node *n)
{
	struct nat_profile p;

	memset(&p, 0, sizeof p);
	nat_profile_decode(n->profile, sizeof n->profile, &p);
	return forest_nat(&p);
}

static uint64_t
server_now_ms(const struct server *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)(ts.tv_sec - s->start.tv_sec) * 1000 +
	    (uint64_t)(ts.tv_nsec / 1000000) - (uint64_t)(s->start.tv_nsec /
	    1000000);
}

/*
 * JOIN: a peer asks for its parent. New to the tree, it joins it (and the
 * verifier is told to try it); already in it, it lost the link to its
 * parent. A parent that has been silent for over a keepalive interval is
 * taken for gone at once (the tree repairs around it) rather than after
 * the expiry; a parent that keeps talking keeps its child, which links
 * again. Answers with the parent's id, or 503 while the tree has no slot
 * for the node: it learns its parent from its keepalives when one opens.
 */
static void
server_join(struct worker *w, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen)
{
	struct server *s = w->srv;
	const struct reg_node *n, *pn;
	struct stun_builder b;
	uint8_t key[TC_KEY_LEN];
	uint32_t slot, parent, silent;
	uint64_t parent_id = 0, gone = 0, standby = 0;
	int fresh, rc;

	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	n = registry_node(s->reg, slot);
	if (n->role != TC_ROLE_PEER) {
		pthread_mutex_unlock(&s->lock);
		server_auth_error(w, m, req, key, 400, "only peers join");
		return;
	}
	if (fresh && forest_parent(s->forest, n->channel, slot, &parent) == 0 &&
	    parent != TREE_NONE &&
	    parent != forest_origin_slot(s->forest, n->channel) &&
	    (pn = registry_node_const(s->reg, parent)) != NULL) {
		silent = server_now(s) - pn->seen;
		if (silent * 1000 > s->cfg.interval_ms) {
			gone = pn->node_id;
			STAT_INC(w, parents_gone);
			server_drop(s, parent);
		}
	}
	rc = forest_join(s->forest, n->channel, slot, n->gen,
	    server_tree_nat(n), s->fanout[slot], &parent);
	if (rc == 0 && parent != TREE_NONE) {
		parent_id = registry_node_const(s->reg, parent)->node_id;
		standby = server_standby(s, n->channel, parent);
	}
	pthread_mutex_unlock(&s->lock);
	if (gone != 0)
		log_info("node %016llx: its children lost it and it has been "
		    "silent since: gone", (unsigned long long)gone);
	if (rc != 0 || parent_id == 0) {
		STAT_INC(w, join_no_parent);
		server_auth_error(w, m, req, key, rc != 0 ? 404 : 503,
		    rc != 0 ? "no origin on this channel" :
		    "no free slot in the tree yet");
		return;
	}
	STAT_INC(w, joined);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, parent_id);
	if (standby != 0)
		stun_put_u64(&b, TC_ATTR_STANDBY, standby);
	stun_put_integrity_sha256(&b, key, sizeof key);
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
static void
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
	pthread_mutex_lock(&s->lock);
	c = registry_node_const(s->reg, cslot);
	n = registry_node_const(s->reg, slot);
	if (c != NULL && n != NULL && c->gen == (uint32_t)(child >> 32) &&
	    n->gen == (uint32_t)(node >> 32) && c->role == TC_ROLE_PEER &&
	    n->role == TC_ROLE_PEER && c->channel == n->channel) {
		changed = forest_verdict(s->forest, n->channel, slot, o->ok,
		    o->step == LINK_STEP_UDT ? "children's links failed at UDT"
		    : "children could not punch into it", 1) == 1;
		id = n->node_id;
	}
	pthread_mutex_unlock(&s->lock);
	if (changed)
		log_info("node %016llx: %s by its children's links",
		    (unsigned long long)id, o->ok ? "verified" : "demoted");
}

/* REPORT: how a link attempt ended, for the counts by NAT-class pair. */
static void
server_report(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen)
{
	struct server *s = w->srv;
	struct stun_builder b;
	struct tc_outcome o;
	struct tc_link_seen seen;
	uint8_t key[TC_KEY_LEN];
	uint64_t link, session, acceptor = 0;
	uint32_t slot;
	int fresh, has_seen;

	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	session = (uint64_t)registry_node(s->reg, slot)->gen << 32 | slot;
	pthread_mutex_unlock(&s->lock);
	if (server_get_u64(req, TC_ATTR_LINK, &link) != 0 ||
	    tc_get_outcome(req, &o) != 0 ||
	    (has_seen = tc_get_link_seen(req, &seen)) < 0) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, key, 400, "malformed REPORT");
		return;
	}
	if (fresh && broker_report_seen(s->broker, session, link, &o,
	    has_seen == 0 ? &seen : NULL, &acceptor) != 0)
		STAT_INC(w, link_unknown_report);
	else if (fresh && acceptor != 0)
		server_child_verdict(s, session, acceptor, &o);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, reqlen);
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
	const struct reg_node *n = registry_node_const(s->reg, slot), *pn;
	const struct server_health *ph;
	uint32_t parent;
	int lag;

	if (n == NULL || n->role != TC_ROLE_PEER || sh->parent == 0 ||
	    forest_parent(s->forest, n->channel, slot, &parent) != 0 ||
	    parent == TREE_NONE ||
	    parent == forest_origin_slot(s->forest, n->channel) ||
	    (pn = registry_node_const(s->reg, parent)) == NULL ||
	    pn->node_id != sh->parent)
		return;
	ph = &s->health[parent];
	if (ph->at_ms == 0 || sh->at_ms - ph->at_ms > 2 * TC_STATUS_MS ||
	    ph->h.kbps_in == 0)
		return;
	lag = (uint64_t)sh->h.kbps_in * 100 <
	    (uint64_t)ph->h.kbps_in * SERVER_LAG_SHARE;
	if (forest_lag(s->forest, n->channel, parent, lag) == 1)
		log_info("node %016llx is a leaf now: its children took in "
		    "%u of its %u kbit/s", (unsigned long long)pn->node_id,
		    sh->h.kbps_in, ph->h.kbps_in);
}

/*
 * ACCUSE: a child's chunks from its parent failed the channel's signature
 * (TC_ATTR_EVIDENCE of them). Believed only from the accused's own child
 * in the tree, where it cuts the accused off at once (forest_accuse);
 * the child joins again for a new parent. Answered alike either way, so
 * that a retransmission gets the same answer.
 */
static void
server_accuse(struct worker *w, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen)
{
	struct server *s = w->srv;
	struct stun_builder b;
	const struct reg_node *n, *pn;
	uint8_t key[TC_KEY_LEN];
	uint64_t accused, child_id = 0;
	uint32_t slot, pslot, gen, evidence;
	int fresh, rc = -1;

	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	gen = registry_node(s->reg, slot)->gen;
	pthread_mutex_unlock(&s->lock);
	if (server_get_u64(req, TC_ATTR_PEER_NODE, &accused) != 0 ||
	    server_get_u32(req, TC_ATTR_EVIDENCE, &evidence) != 0 ||
	    evidence == 0) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, key, 400, "malformed ACCUSE");
		return;
	}
	if (fresh) {
		STAT_INC(w, accusations);
		pthread_mutex_lock(&s->lock);
		if ((n = registry_node_const(s->reg, slot)) != NULL &&
		    n->gen == gen && n->role == TC_ROLE_PEER &&
		    (pslot = registry_find(s->reg, accused)) != REG_NONE &&
		    (pn = registry_node_const(s->reg, pslot)) != NULL &&
		    pn->channel == n->channel) {
			rc = forest_accuse(s->forest, n->channel, slot, pslot,
			    "relayed chunks that fail the channel's signature");
			child_id = n->node_id;
		}
		pthread_mutex_unlock(&s->lock);
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
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, reqlen);
}

/* STATUS: a node's figures and links, for the status page (bounded: fixed
 * attributes, at most TC_FANOUT_MAX children, of which 2 are kept). */
static void
server_status(struct worker *w, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen)
{
	struct server *s = w->srv;
	struct server_health sh;
	const struct stun_attr *a;
	struct stun_builder b;
	const struct reg_node *n;
	uint8_t key[TC_KEY_LEN];
	uint32_t slot, gen;
	size_t i;
	int fresh;

	memset(&sh, 0, sizeof sh);
	if ((slot = server_authenticate(w, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	gen = registry_node(s->reg, slot)->gen;
	pthread_mutex_unlock(&s->lock);
	a = stun_find(req, TC_ATTR_CHILDREN);
	if (tc_get_health(req, &sh.h) != 0 ||
	    server_get_u64(req, TC_ATTR_PARENT, &sh.parent) != 0 ||
	    (a != NULL && (a->len % 8 != 0 || a->len > 8 * TC_FANOUT_MAX))) {
		STAT_INC(w, err_bad_request);
		server_auth_error(w, m, req, key, 400, "malformed STATUS");
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
	sh.at_ms = server_now_ms(s);
	if (fresh) {
		pthread_mutex_lock(&s->lock);
		/* The same node still? (It may have left since.) */
		if ((n = registry_node_const(s->reg, slot)) != NULL &&
		    n->gen == gen) {
			server_set_health(s, slot, n, &sh);
			server_lag_verdict(s, slot, &sh);
		}
		pthread_mutex_unlock(&s->lock);
		STAT_INC(w, status);
	}
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(w, m, &b, reqlen);
}

/* One datagram in; an answer in m->out or none. Never trusts its input. */
static void
server_handle(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    size_t len)
{
	enum stun_parse_error why;
	struct stun_msg req;
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
	switch (req.method) {
	case STUN_METHOD_BINDING:
		server_binding(w, ss, m, &req, len);
		break;
	case TC_METHOD_REGISTER:
		server_register(w, m, &req, len);
		break;
	case TC_METHOD_KEEPALIVE:
		server_keepalive(w, m, &req, len);
		break;
	case TC_METHOD_LEAVE:
		server_leave(w, m, &req, len);
		break;
	case TC_METHOD_LINK:
		server_link(w, ss, m, &req, len);
		break;
	case TC_METHOD_REPORT:
		server_report(w, m, &req, len);
		break;
	case TC_METHOD_JOIN:
		server_join(w, m, &req, len);
		break;
	case TC_METHOD_STATUS:
		server_status(w, m, &req, len);
		break;
	case TC_METHOD_ACCUSE:
		server_accuse(w, m, &req, len);
		break;
	default:
		STAT_INC(w, err_bad_request);
		server_error(w, m, &req, len, 400, NULL, NULL, 0);
		break;
	}
}

/* Makes a datagram leave from src (a wildcard socket answers from the
 * address it was asked on). */
static void
server_source(struct msghdr *mh, union srv_cmsg *ctl, struct in_addr src)
{
	struct in_pktinfo pi;
	struct cmsghdr *c;

	memset(ctl, 0, sizeof *ctl);
	memset(&pi, 0, sizeof pi);
	pi.ipi_spec_dst = src;
	mh->msg_control = ctl->buf;
	mh->msg_controllen = sizeof ctl->buf;
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof pi);
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
}

/* An answer from another socket than the one asked (CHANGE-REQUEST). From
 * a wildcard socket it leaves from the address that was asked. */
static void
server_send_one(struct worker *w, struct srv_msg *m)
{
	struct srv_sock *via = &w->socks[m->via];
	union srv_cmsg ctl;
	struct iovec iov = { .iov_base = m->out, .iov_len = m->outlen };
	struct msghdr mh;

	memset(&mh, 0, sizeof mh);
	mh.msg_name = &m->from;
	mh.msg_namelen = m->from.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (via->wildcard && m->has_pi)
		server_source(&mh, &ctl, m->pi.ipi_addr);
	if (sendmsg(via->fd, &mh, 0) == (ssize_t)m->outlen) {
		STAT_INC(w, tx_datagrams);
		STAT_ADD(w, tx_bytes, m->outlen);
	}
}

/* The broker's way out: from the primary port (worker 0's socket; any
 * thread may send on it, the IPv6 one to an IPv6 node), from the address
 * the node talks to. */
static void
server_broker_send(void *ctx, const struct sockaddr *to, const uint8_t *msg,
    size_t len, const struct sockaddr *src)
{
	struct server *s = ctx;
	struct srv_sock *ss = &s->workers[0].socks[0];
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	union srv_cmsg ctl;
	struct msghdr mh;

	if (to->sa_family == AF_INET6 && s->workers[0].socks[SOCK_V6].fd != -1)
		ss = &s->workers[0].socks[SOCK_V6];
	memset(&mh, 0, sizeof mh);
	mh.msg_name = (void *)to;
	mh.msg_namelen = to->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (ss->wildcard && src != NULL && src->sa_family == AF_INET)
		server_source(&mh, &ctl,
		    ((const struct sockaddr_in *)src)->sin_addr);
	if (sendmsg(ss->fd, &mh, 0) == (ssize_t)len) {
		STAT_INC(s, tx_datagrams);
		STAT_ADD(s, tx_bytes, len);
	}
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
	struct reg_node *n = registry_node(s->reg, slot);
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
	stun_put_u64(&b, TC_ATTR_MOVE_SEQ, ++s->move_seq);
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
static void
server_push_move(void *arg, int ch, uint32_t slot, uint32_t parent)
{
	struct server *s = arg;
	const struct reg_node *n = registry_node_const(s->reg, slot), *pn;
	uint32_t kids[TC_FANOUT_MAX];
	uint64_t parent_id;
	int i, nk;

	if (n == NULL || n->role != TC_ROLE_PEER)
		return;
	pn = parent != TREE_NONE ? registry_node_const(s->reg, parent) : NULL;
	parent_id = pn != NULL ? pn->node_id : 0;
	server_send_move(s, slot, parent_id, server_standby(s, ch, parent));
	nk = forest_children(s->forest, ch, slot, kids, TC_FANOUT_MAX);
	for (i = 0; i < nk && i < TC_FANOUT_MAX; i++)
		server_send_move(s, kids[i], n->node_id, parent_id);
}

/* Readable: drain the socket in batches, answering each batch at once. */
static void
server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_sock *ss = arg;
	struct worker *w = ss->w;
	struct srv_msg *m;
	struct cmsghdr *c;
	int i, n, got, ntx, round, sent;

	for (round = 0; round < SERVER_ROUNDS; round++) {
		for (i = 0; i < SERVER_BATCH; i++) {
			m = &w->msgs[i];
			w->rxiov[i].iov_base = m->in;
			w->rxiov[i].iov_len = sizeof m->in;
			memset(&w->rx[i].msg_hdr, 0, sizeof w->rx[i].msg_hdr);
			w->rx[i].msg_hdr.msg_name = &m->from;
			w->rx[i].msg_hdr.msg_namelen = sizeof m->from;
			w->rx[i].msg_hdr.msg_iov = &w->rxiov[i];
			w->rx[i].msg_hdr.msg_iovlen = 1;
			w->rx[i].msg_hdr.msg_control = m->ctl.buf;
			w->rx[i].msg_hdr.msg_controllen = sizeof m->ctl.buf;
		}
		got = recvmmsg(fd, w->rx, SERVER_BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			break;
		ntx = 0;
		for (i = 0; i < got; i++) {
			m = &w->msgs[i];
			STAT_INC(w, rx_datagrams);
			STAT_ADD(w, rx_bytes, w->rx[i].msg_len);
			m->has_pi = 0;
			for (c = CMSG_FIRSTHDR(&w->rx[i].msg_hdr); c != NULL;
			    c = CMSG_NXTHDR(&w->rx[i].msg_hdr, c)) {
				if (c->cmsg_level == IPPROTO_IP &&
				    c->cmsg_type == IP_PKTINFO) {
					memcpy(&m->pi, CMSG_DATA(c),
					    sizeof m->pi);
					m->has_pi = 1;
				}
			}
			if (w->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
				STAT_INC(w, drop_parse);
				w->st.parse_errors[STUN_E_TOO_BIG]++;
				continue;
			}
			server_handle(w, ss, m, w->rx[i].msg_len);
			if (m->outlen == 0)
				continue;
			if (m->via != ss->index) {
				server_send_one(w, m);
				continue;
			}
			w->txiov[ntx].iov_base = m->out;
			w->txiov[ntx].iov_len = m->outlen;
			memset(&w->tx[ntx].msg_hdr, 0, sizeof w->tx[ntx].msg_hdr);
			w->tx[ntx].msg_hdr.msg_name = &m->from;
			w->tx[ntx].msg_hdr.msg_namelen =
			    w->rx[i].msg_hdr.msg_namelen;
			w->tx[ntx].msg_hdr.msg_iov = &w->txiov[ntx];
			w->tx[ntx].msg_hdr.msg_iovlen = 1;
			if (ss->wildcard && m->has_pi)
				server_source(&w->tx[ntx].msg_hdr,
				    &w->txctl[ntx], m->pi.ipi_addr);
			ntx++;
		}
		for (i = 0; i < ntx; i += sent) {
			sent = sendmmsg(fd, w->tx + i, (unsigned)(ntx - i), 0);
			if (sent <= 0) {
				if (errno == EINTR)
					sent = 0;
				else
					break;	/* full socket: drop, as UDP does */
			}
			for (n = 0; n < sent; n++) {
				STAT_INC(w, tx_datagrams);
				STAT_ADD(w, tx_bytes, w->tx[i + n].msg_len);
			}
		}
		if (got < SERVER_BATCH)
			break;
	}
	(void)what;
}

/* Under the lock: no logging here, the sweep's caller reports. */
static void
server_gone(void *arg, uint32_t slot, const struct reg_node *n)
{
	struct server *s = arg;

	STAT_INC(s, expired);
	channels_unref(s->channels, n->channel);
	server_untree(s, slot);	/* still in the registry until we return */
	if (s->ngone < SERVER_GONE_LOGGED)
		s->gone[s->ngone] = n->node_id;
	s->ngone++;
}

static void
server_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint32_t per_s = 1000 / SERVER_TICK_MS, i, slices = 1;

	(void)fd;
	(void)what;
	/*
	 * All of the pool once a second, a slice at a time with the lock let
	 * go between slices: a million records in one hold of the lock kept
	 * every worker waiting for milliseconds ten times a second (most of
	 * the 600,000-client bench's p99).
	 */
	s->ngone = 0;
	for (i = 0; i < slices; i++) {
		pthread_mutex_lock(&s->lock);
		if (i == 0)
			slices = registry_high_water(s->reg) /
			    (per_s * SERVER_SWEEP_SLICE) + 1;
		registry_sweep(s->reg, server_now(s), s->cfg.expire_s,
		    per_s * slices, server_gone, s);
		pthread_mutex_unlock(&s->lock);
	}
	for (i = 0; i < s->ngone && i < SERVER_GONE_LOGGED; i++)
		log_info("node %016llx expired: silent for over %u s",
		    (unsigned long long)s->gone[i], s->cfg.expire_s);
	if (s->ngone > SERVER_GONE_LOGGED)
		log_info("and %u more nodes expired",
		    s->ngone - SERVER_GONE_LOGGED);
	s->ticks++;
	if (s->cfg.stats_s > 0 && s->ticks % (s->cfg.stats_s * per_s) == 0)
		server_log_stats(s);
}

/* server_stats() sums the counters as an array of uint64_t. */
_Static_assert(sizeof(struct server_stats) % sizeof(uint64_t) == 0,
    "struct server_stats must hold only uint64_t counters");

void
server_stats(struct server *s, struct server_stats *out)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;
	size_t i, n = sizeof *out / sizeof(uint64_t);
	int j;

	memset(out, 0, sizeof *out);
	for (j = -1; j < s->nworkers; j++) {
		src = (const uint64_t *)(j < 0 ? &s->st : &s->workers[j].st);
		for (i = 0; i < n; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
}

void
server_log_stats(struct server *s)
{
	struct server_stats now, *a = &now, *b = &s->st_last;
	uint64_t drops;
	double secs = s->cfg.stats_s > 0 ? s->cfg.stats_s : 1;

	server_stats(s, &now);
	drops = (a->drop_not_stun - b->drop_not_stun) +
	    (a->drop_parse - b->drop_parse) +
	    (a->drop_bad_integrity - b->drop_bad_integrity) +
	    (a->drop_replay - b->drop_replay) +
	    (a->drop_amplify - b->drop_amplify) +
	    (a->drop_unauth_rate - b->drop_unauth_rate) +
	    (a->drop_unpadded - b->drop_unpadded);
	log_info("%u nodes; %.0f datagrams/s in, %.0f out; %llu registered, "
	    "%llu left, %llu expired, %llu dropped in the last %.0f s",
	    server_nodes(s),
	    (double)(a->rx_datagrams - b->rx_datagrams) / secs,
	    (double)(a->tx_datagrams - b->tx_datagrams) / secs,
	    (unsigned long long)(a->registered - b->registered),
	    (unsigned long long)(a->left - b->left),
	    (unsigned long long)(a->expired - b->expired),
	    (unsigned long long)drops, secs);
	s->st_last = now;
}

static int
server_open(struct worker *w, int index, const struct addr *a, char *err,
    size_t errlen)
{
	struct srv_sock *ss = &w->socks[index];
	char text[ADDR_STRLEN];
	int one = 1, size = 4 << 20, probe;

	/*
	 * SO_REUSEPORT would let a second negotiator on the same port join
	 * this one's group and take half its clients, each with a registry
	 * of its own. A plain bind first: it fails if anyone holds the port.
	 */
	if (w->index == 0) {
		probe = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && index == SOCK_V6)
			setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		if (probe != -1 && bind(probe, (const struct sockaddr *)&a->ss,
		    a->len) == -1 && errno == EADDRINUSE) {
			snprintf(err, errlen, "cannot listen on %s: in use "
			    "(another negotiator?)", addr_format(
			    (const struct sockaddr *)&a->ss, text,
			    sizeof text));
			close(probe);
			return -1;
		}
		if (probe != -1)
			close(probe);
	}
	ss->w = w;
	ss->index = index;
	ss->local = *a;
	ss->fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (ss->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Every worker binds the same addresses; the kernel spreads the
	 * clients over them by address and port. */
	setsockopt(ss->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	setsockopt(ss->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(ss->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	/* Beside an IPv4 socket on the same port: IPv6 alone. */
	if (index == SOCK_V6)
		setsockopt(ss->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	/* Bound to 0.0.0.0: learn each request's address, to answer from it
	 * and name it in RESPONSE-ORIGIN. */
	if (a->ss.ss_family == AF_INET &&
	    ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
	    htonl(INADDR_ANY)) {
		setsockopt(ss->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
		ss->wildcard = 1;
	}
	if (bind(ss->fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    addr_format((const struct sockaddr *)&a->ss, text,
		    sizeof text), strerror(errno));
		return -1;
	}
	ss->ev = event_new(w->base, ss->fd, EV_READ | EV_PERSIST,
	    server_read_cb, ss);
	if (ss->ev == NULL || event_add(ss->ev, NULL) != 0) {
		snprintf(err, errlen, "event_add failed");
		return -1;
	}
	if (w->index == 0)
		log_info("listening on udp %s", addr_format(
		    (const struct sockaddr *)&a->ss, text, sizeof text));
	return 0;
}

/* The default IPv6 socket is skipped on a host without IPv6. */
static void
server_probe_v6(struct server_config *cfg)
{
	int fd, one = 1;

	if (!cfg->has_listen6 || !cfg->listen6_optional)
		return;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd != -1)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (fd == -1 || (bind(fd, (const struct sockaddr *)&cfg->listen6.ss,
	    cfg->listen6.len) == -1 && errno != EADDRINUSE)) {
		log_info("no IPv6 here (%s): listening on IPv4 alone",
		    strerror(errno));
		cfg->has_listen6 = 0;
	}
	if (fd != -1)
		close(fd);
}

static void *
server_worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct server *
server_create(struct event_base *base, const struct server_config *cfg,
    char *err, size_t errlen)
{
	struct server *s;
	struct worker *w;
	struct addr a;
	struct timeval tv = { 0, SERVER_TICK_MS * 1000 };
	struct broker_config bc;
	uint8_t hashkey[REGISTRY_KEY_LEN], rlkey[RATELIMIT_KEY_LEN];
	int i, j;

	memset(&bc, 0, sizeof bc);
	randombytes_buf(hashkey, sizeof hashkey);
	randombytes_buf(rlkey, sizeof rlkey);
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	randombytes_buf(s->challenge_key, sizeof s->challenge_key);
	s->base = base;
	s->cfg = *cfg;
	server_probe_v6(&s->cfg);
	pthread_mutex_init(&s->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->nworkers = cfg->threads > 0 ? (int)cfg->threads : 1;
	if ((s->workers = calloc((size_t)s->nworkers, sizeof *s->workers)) ==
	    NULL || (s->fanout = calloc(cfg->max_nodes, 1)) == NULL ||
	    (s->health = calloc(cfg->max_nodes, sizeof *s->health)) == NULL ||
	    (s->forest = forest_create(cfg->max_nodes)) == NULL ||
	    (s->reg = registry_create(cfg->max_nodes, hashkey)) ==
	    NULL ||
	    (s->channels = channels_create()) == NULL) {
		snprintf(err, errlen, "cannot allocate a registry of %u nodes",
		    cfg->max_nodes);
		goto fail;
	}
	if (cfg->unauth_rate != 0 && cfg->unauth_burst != 0 &&
	    (s->unauth = ratelimit_create(cfg->unauth_rate, cfg->unauth_burst,
	    rlkey)) == NULL) {
		snprintf(err, errlen, "cannot make a budget of %u answers/s, "
		    "%u at once", cfg->unauth_rate, cfg->unauth_burst);
		goto fail;
	}
	for (j = 0; j < s->nworkers; j++) {
		w = &s->workers[j];
		w->srv = s;
		w->index = j;
		for (i = 0; i < SOCK_MAX; i++)
			w->socks[i].fd = -1;
		if ((w->base = event_base_new()) == NULL) {
			snprintf(err, errlen, "cannot create an event loop");
			goto fail;
		}
		for (i = 0; i < SOCK_V6; i++) {
			if ((i & SOCK_ALT_ADDR) && !cfg->has_alt_address)
				continue;
			a = (i & SOCK_ALT_ADDR) ? cfg->alt_address :
			    cfg->listen;
			addr_set_port((struct sockaddr *)&a.ss,
			    (i & SOCK_ALT_PORT) ? cfg->alt_port :
			    addr_port((const struct sockaddr *)&cfg->listen.ss));
			if (server_open(w, i, &a, err, errlen) != 0)
				goto fail;
		}
		if (s->cfg.has_listen6 && server_open(w, SOCK_V6,
		    &s->cfg.listen6, err, errlen) != 0)
			goto fail;
	}
	bc.has_relay = cfg->has_relay;
	bc.relay = cfg->relay;
	bc.relay_max = cfg->relay_max;
	forest_on_move(s->forest, server_push_move, s);
	if ((s->broker = broker_create(base, &bc, server_broker_send, s, err,
	    errlen)) == NULL)
		goto fail;
	s->tick = event_new(base, -1, EV_PERSIST, server_tick_cb, s);
	if (s->tick == NULL || event_add(s->tick, &tv) != 0) {
		snprintf(err, errlen, "cannot start the expiry timer");
		goto fail;
	}
	for (j = 0; j < s->nworkers; j++) {
		w = &s->workers[j];
		if (pthread_create(&w->thread, NULL, server_worker_main, w)
		    != 0) {
			snprintf(err, errlen, "cannot start worker thread %d",
			    j);
			goto fail;
		}
		w->started = 1;
	}
	return s;

fail:
	server_free(s);
	return NULL;
}

void
server_free(struct server *s)
{
	struct worker *w;
	int i, j;

	if (s == NULL)
		return;
	for (j = 0; s->workers != NULL && j < s->nworkers; j++) {
		w = &s->workers[j];
		if (w->started) {
			event_base_loopexit(w->base, NULL);
			pthread_join(w->thread, NULL);
		}
	}
	for (j = 0; s->workers != NULL && j < s->nworkers; j++) {
		w = &s->workers[j];
		for (i = 0; i < SOCK_MAX; i++) {
			if (w->socks[i].ev != NULL)
				event_free(w->socks[i].ev);
			if (w->socks[i].fd != -1)
				close(w->socks[i].fd);
		}
		if (w->base != NULL)
			event_base_free(w->base);
	}
	free(s->workers);
	broker_free(s->broker);
	if (s->tick != NULL)
		event_free(s->tick);
	registry_free(s->reg);
	ratelimit_free(s->unauth);
	channels_free(s->channels);
	free(s->fanout);
	free(s->health);
	forest_free(s->forest);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint32_t
server_nodes(struct server *s)
{
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	n = registry_count(s->reg);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t
server_registry_bytes(struct server *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = registry_bytes(s->reg);
	pthread_mutex_unlock(&s->lock);
	return n;
}

const struct registry *
server_lock_registry(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	return s->reg;
}

void
server_unlock_registry(struct server *s)
{
	pthread_mutex_unlock(&s->lock);
}

const struct channels *
server_channels_locked(struct server *s)
{
	return s->channels;
}

uint32_t
server_clock(const struct server *s)
{
	return server_now(s);
}

struct broker *
server_broker(struct server *s)
{
	return s->broker;
}

const struct forest *
server_forest_locked(struct server *s)
{
	return s->forest;
}

const struct server_health *
server_health_locked(struct server *s, uint32_t slot)
{
	if (slot >= s->cfg.max_nodes || s->health[slot].at_ms == 0)
		return NULL;
	return &s->health[slot];
}

void
server_offload_locked(struct server *s, int ch, uint64_t *origin_out,
    uint64_t *delivered)
{
	if (ch < 0) {
		*origin_out = s->origin_out_all;
		*delivered = s->delivered_all;
	} else if (ch < CHANNELS_MAX) {
		*origin_out = s->origin_out[ch];
		*delivered = s->delivered[ch];
	} else
		*origin_out = *delivered = 0;
}

void
server_playout_locked(struct server *s, int ch, struct server_playout *out)
{
	static const struct server_playout none;

	*out = ch < 0 ? s->playout_all : ch < CHANNELS_MAX ? s->playout[ch] :
	    none;
}

uint64_t
server_clock_ms(const struct server *s)
{
	return server_now_ms(s);
}

int
server_next_candidate(struct server *s, uint64_t *node_id, uint64_t *token)
{
	const struct reg_node *n;
	uint32_t slot, gen;
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	while (rc != 0 && forest_next_candidate(s->forest, &slot, &gen) == 0) {
		if ((n = registry_node_const(s->reg, slot)) == NULL ||
		    n->gen != gen)
			continue;	/* gone meanwhile */
		*node_id = n->node_id;
		*token = (uint64_t)gen << 32 | slot;
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
server_retry(struct server *s, uint64_t token)
{
	const struct reg_node *n;
	uint32_t slot = (uint32_t)token, gen = (uint32_t)(token >> 32);

	pthread_mutex_lock(&s->lock);
	if ((n = registry_node_const(s->reg, slot)) != NULL && n->gen == gen)
		forest_requeue(s->forest, n->channel, slot, gen);
	pthread_mutex_unlock(&s->lock);
}

void
server_verdict(struct server *s, uint64_t token, int ok, const char *reason)
{
	const struct reg_node *n;
	uint32_t slot = (uint32_t)token;

	pthread_mutex_lock(&s->lock);
	if ((n = registry_node_const(s->reg, slot)) != NULL &&
	    n->gen == (uint32_t)(token >> 32))
		forest_verdict(s->forest, n->channel, slot, ok, reason, 0);
	pthread_mutex_unlock(&s->lock);
}

/* ---- negotiator/server-test.h: the server without sockets or threads */

struct server *
server_create_detached(struct event_base *base,
    const struct server_config *cfg, uint32_t max_links,
    broker_send_fn send, void *ctx, char *err, size_t errlen)
{
	struct server *s;
	struct worker *w;
	struct srv_sock *ss;
	struct broker_config bc;
	uint8_t hashkey[REGISTRY_KEY_LEN];
	int i;

	memset(&bc, 0, sizeof bc);
	bc.max_links = max_links;
	randombytes_buf(hashkey, sizeof hashkey);
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->cfg = *cfg;
	s->cfg.threads = 1;
	s->cfg.has_relay = 0;
	pthread_mutex_init(&s->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->nworkers = 1;
	if ((s->workers = calloc(1, sizeof *s->workers)) == NULL ||
	    (s->fanout = calloc(cfg->max_nodes, 1)) == NULL ||
	    (s->health = calloc(cfg->max_nodes, sizeof *s->health)) == NULL ||
	    (s->forest = forest_create(cfg->max_nodes)) == NULL ||
	    (s->reg = registry_create(cfg->max_nodes, hashkey)) == NULL ||
	    (s->channels = channels_create()) == NULL) {
		snprintf(err, errlen, "cannot allocate a registry of %u nodes",
		    cfg->max_nodes);
		goto fail;
	}
	w = &s->workers[0];
	w->srv = s;
	for (i = 0; i < SOCK_MAX; i++)
		w->socks[i].fd = -1;
	for (i = 0; i < SOCK_V6; i++) {
		ss = &w->socks[i];
		ss->w = w;
		ss->index = i;
		ss->fd = -1;
		if ((i & SOCK_ALT_ADDR) && !cfg->has_alt_address)
			continue;
		ss->local = (i & SOCK_ALT_ADDR) ? cfg->alt_address :
		    cfg->listen;
		addr_set_port((struct sockaddr *)&ss->local.ss,
		    (i & SOCK_ALT_PORT) ? cfg->alt_port :
		    addr_port((const struct sockaddr *)&cfg->listen.ss));
		/* A descriptor that is never read nor written: the socket
		 * exists, for CHANGE-REQUEST. server_free closes it. */
		if ((ss->fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "/dev/null: %s", strerror(errno));
			goto fail;
		}
	}
	if ((s->broker = broker_create(base, &bc, send, ctx, err, errlen)) ==
	    NULL)
		goto fail;
	return s;

fail:
	server_free(s);
	return NULL;
}

size_t
server_dispatch(struct server *s, const uint8_t *in, size_t len,
    const struct sockaddr *from, uint8_t *out, size_t cap)
{
	struct worker *w = &s->workers[0];
	struct srv_msg *m = &w->msgs[0];

	STAT_INC(w, rx_datagrams);
	STAT_ADD(w, rx_bytes, len);
	if (len > sizeof m->in) {
		/* As a datagram the kernel truncated. */
		STAT_INC(w, drop_parse);
		w->st.parse_errors[STUN_E_TOO_BIG]++;
		return 0;
	}
	memcpy(m->in, in, len);
	memset(&m->from, 0, sizeof m->from);
	memcpy(&m->from, from, from->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	m->has_pi = 0;
	server_handle(w, &w->socks[0], m, len);
	if (m->outlen == 0 || m->outlen > cap)
		return 0;
	memcpy(out, m->out, m->outlen);
	return m->outlen;
}
