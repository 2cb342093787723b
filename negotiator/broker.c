/* The link broker and the relay. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sodium.h>

#include "negotiator/broker.h"
#include "util/log.h"
#include "wire/stun.h"

#define BROKER_TICK_MS		50
/* INSTRUCT is sent at 0, 250, 750 and 1750 ms, then every second; no ACK
 * by 9 s (B's own mapping exchange may retransmit too, on a lossy path) and
 * A hears that B did not answer, well before its LINK gives up (11.5 s). */
#define BROKER_RTO_MS		250
#define BROKER_RTO_MAX_MS	1000
#define BROKER_GIVE_UP_MS	9000
/* A link stays known this long after the GO: for A's retransmissions of
 * LINK and both ends' REPORTs. */
#define BROKER_KEEP_MS		60000
#define BROKER_MSG_MAX		512
/* Attempts in flight and remembered at once, by default. A slot's memory
 * is touched only once a link has used it. */
#define BROKER_MAX_LINKS	32768
/* Pairs behind one external address whose punch failed, remembered
 * BROKER_KEEP_MS: relayed when they ask again; and pairs whose birthday
 * punch failed: relayed the next time they ask. */
#define BROKER_SAME_FAILED	64
/* A failed link is classified once both ends reported, or this long
 * after the first did (the other end is gone); links waiting at most. */
#define BROKER_CLASS_WAIT_MS	10000
#define BROKER_CLASS_WAIT_MAX	1024
/* Datagrams the tick sends a hold of the lock. */
#define BROKER_BATCH		64

/* How an attempt ended, as counted per pair of NAT classes. */
enum outcome {
	OUT_DIRECT, OUT_LOCAL, OUT_RELAY,
	OUT_FAIL,		/* + enum link_step - 1: the step that failed */
	OUT_UNREPORTED = OUT_FAIL + LINK_STEP_COUNT - 1,
	OUT_COUNT
};

enum blink_state {
	BL_FREE = 0,		/* on the free list */
	BL_INSTRUCTING,		/* waiting for B's ACK; on the pending list */
	BL_ANSWERED,		/* A has its answer (GO or error); on the
				   done list, oldest answer first */
	BL_COUNTED		/* outcome counted; kept for stray reports,
				   still on the done list */
};

/*
 * Every message about a link finds it in O(1): by its id (REPORT), by its
 * INSTRUCT's transaction id (B's answer), and by A's session and LINK
 * transaction id (A's retransmissions). Chained hash tables of slot + 1
 * (0 ends a chain), keyed with SipHash, because A chooses its tid.
 */
enum { IX_ID, IX_ITID, IX_ATID, IX_COUNT };
#define IX_KEY_MAX	20

/* A list of links through their prev and next (slot + 1, 0: none). */
struct bl_list {
	uint32_t	head, tail;
};

/* One brokered link attempt. */
struct blink {
	enum blink_state	 state;
	uint32_t		 chain[IX_COUNT];
	uint32_t		 prev, next;
	uint64_t		 id;
	uint8_t			 key[TC_KEY_LEN];
	struct broker_node	 a, b;
	uint8_t			 a_tid[12];
	struct sockaddr_storage	 local;		/* where A's LINK arrived */
	uint8_t			 instruct[BROKER_MSG_MAX];
	size_t			 instruct_len;
	uint8_t			 instruct_tid[12];
	unsigned		 sent;
	uint64_t		 t0, next_ms, done_ms;
	uint8_t			 answer[BROKER_MSG_MAX];	/* to A */
	size_t			 answer_len;
	int			 relayed;
	int			 birthday;	/* birthday punching (link/link.c) */
	int			 same_ip;	/* A and B behind one address */
	int			 have_report_b;
	struct tc_outcome	 report_b;
	struct broker_end	 end[2];	/* A's and B's REPORT */
	int			 classified;
};

/* A relayed link: two sockets' mappings, bound by authenticated RELAY
 * requests, forwarded to each other. */
struct rlink {
	uint64_t		 id;		/* 0: free */
	uint8_t			 key[TC_KEY_LEN];
	struct sockaddr_storage	 side[2];
	int			 bound;		/* sides bound: 0, 1, 2 */
	uint64_t		 t0;		/* made: both sides bound within
						   relay_idle_s, or it ends */
	uint64_t		 last_ms;
	uint64_t		 packets, bytes;
};

struct broker_counters {
	uint64_t	links;		/* LINK requests taken */
	uint64_t	retransmits;	/* LINK again, answered from memory */
	uint64_t	instructs;	/* INSTRUCT datagrams sent */
	uint64_t	acks;
	uint64_t	peer_silent;	/* B never answered */
	uint64_t	peer_refused;
	uint64_t	full;
	uint64_t	reports;
	uint64_t	bad_answers;	/* INSTRUCT answers unknown or forged */
	uint64_t	relay_links;
	uint64_t	relay_binds;
	uint64_t	relay_packets;
	uint64_t	relay_bytes;
	uint64_t	relay_dropped;	/* from no bound socket, or no peer yet */
	uint64_t	relay_full;
	uint64_t	relay_reused;	/* an old link's address bound again */
	uint64_t	birthday;	/* links told to punch by birthday */
	uint64_t	birthday_up;	/* ... that came up (A's word) */
	uint64_t	birthday_failed;	/* ... whose punch failed: the pair
					   is relayed when it asks again */
	uint64_t	verify_up;	/* the verifier's links: up */
	uint64_t	verify_failed;	/* ... failed */
	uint64_t	forgotten;	/* answered links forgotten before
					   BROKER_KEEP_MS, for room */
};

/*
 * A datagram decided under the lock and sent once the lock is let go: the
 * send callback may take other locks, or call the broker again, and the
 * workers need not wait for a sendmsg.
 */
struct broker_dgram {
	struct sockaddr_storage	 to, src;
	size_t			 len;
	uint8_t			 msg[BROKER_MSG_MAX];
};

/* Datagrams to send, in the caller's buffer of max. */
struct broker_outbox {
	struct broker_dgram	*d;
	unsigned		 n, max;
};

struct broker {
	pthread_mutex_t		 lock;	/* error-checking: a second lock in
					   one thread is fatal, not a hang */
	struct event_base	*base;
	struct broker_config	 cfg;
	broker_send_fn		 send;
	void			*ctx;
	struct event		*tick;
	struct blink		*links;
	uint32_t		 used;		/* slots ever used; above, untouched */
	struct bl_list		 pending, done, free;
	uint32_t		*heads[IX_COUNT];
	uint32_t		 hmask;
	uint8_t			 hkey[crypto_shorthash_KEYBYTES];
	struct rlink		*relays;
	int			 relay_fd;
	struct event		*relay_ev;
	struct broker_counters	 c;
	struct {
		uint64_t	 a, b, ms;	/* node ids, when it failed */
	}			 same_failed[BROKER_SAME_FAILED];
	unsigned		 same_next;
	uint32_t		 pairs[NAT_CLASS_COUNT][NAT_CLASS_COUNT][OUT_COUNT];
	uint64_t		 pair_ms[NAT_CLASS_COUNT][NAT_CLASS_COUNT];
	uint32_t		 classes[NAT_CLASS_COUNT][NAT_CLASS_COUNT]
				     [LINK_CLASS_COUNT];
	struct {
		uint32_t	 slot;
		uint64_t	 id, due_ms;
	}			 cwait[BROKER_CLASS_WAIT_MAX];
	unsigned		 cwait_head, cwait_n;
	uint8_t			 rx[STUN_MAX_MSG + 4];
	struct broker_dgram	 batch[BROKER_BATCH];	/* the tick's */
};

static uint64_t
broker_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static socklen_t
broker_sslen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

static void
broker_lock(struct broker *br)
{
	int e;

	if ((e = pthread_mutex_lock(&br->lock)) != 0)
		fatal("broker: cannot lock: %s", strerror(e));
}

static void
broker_unlock(struct broker *br)
{
	int e;

	if ((e = pthread_mutex_unlock(&br->lock)) != 0)
		fatal("broker: cannot unlock: %s", strerror(e));
}

/* Under the lock: msg to to, from src, once the lock is let go. Each
 * caller sizes its outbox for what it may send. */
static void
broker_queue(struct broker_outbox *ob, const struct sockaddr_storage *to,
    const uint8_t *msg, size_t len, const struct sockaddr_storage *src)
{
	struct broker_dgram *d;

	if (ob->n == ob->max || len > sizeof d->msg)
		return;
	d = &ob->d[ob->n++];
	memcpy(&d->to, to, broker_sslen(to));
	memcpy(&d->src, src, broker_sslen(src));
	memcpy(d->msg, msg, len);
	d->len = len;
}

/* With the lock let go: what was queued. */
static void
broker_flush(struct broker *br, struct broker_outbox *ob)
{
	unsigned i;

	for (i = 0; i < ob->n; i++)
		br->send(br->ctx, (struct sockaddr *)&ob->d[i].to,
		    ob->d[i].msg, ob->d[i].len,
		    (struct sockaddr *)&ob->d[i].src);
	ob->n = 0;
}

/* --- the link table: lists and indexes */

static uint32_t
bl_ref(const struct broker *br, const struct blink *l)
{
	return (uint32_t)(l - br->links) + 1;
}

static void
bl_append(struct broker *br, struct bl_list *q, struct blink *l)
{
	l->next = 0;
	l->prev = q->tail;
	if (q->tail != 0)
		br->links[q->tail - 1].next = bl_ref(br, l);
	else
		q->head = bl_ref(br, l);
	q->tail = bl_ref(br, l);
}

static void
bl_remove(struct broker *br, struct bl_list *q, struct blink *l)
{
	if (l->prev != 0)
		br->links[l->prev - 1].next = l->next;
	else
		q->head = l->next;
	if (l->next != 0)
		br->links[l->next - 1].prev = l->prev;
	else
		q->tail = l->prev;
	l->prev = l->next = 0;
}

/* The IX_ATID key: A's session, then its LINK's tid; its length. */
static size_t
bl_atid_key(uint8_t k[IX_KEY_MAX], uint64_t session, const uint8_t tid[12])
{
	memcpy(k, &session, 8);
	memcpy(k + 8, tid, 12);
	return 20;
}

/* Link l's key in index ix, into k; its length. */
static size_t
bl_key(int ix, const struct blink *l, uint8_t k[IX_KEY_MAX])
{
	switch (ix) {
	case IX_ID:
		memcpy(k, &l->id, 8);
		return 8;
	case IX_ITID:
		memcpy(k, l->instruct_tid, 12);
		return 12;
	default:
		return bl_atid_key(k, l->a.session, l->a_tid);
	}
}

static uint32_t
bl_bucket(const struct broker *br, const uint8_t *k, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, k, n, br->hkey);
	memcpy(&v, h, sizeof v);
	return v & br->hmask;
}

static void
bl_index(struct broker *br, struct blink *l)
{
	uint8_t k[IX_KEY_MAX];
	uint32_t b;
	int ix;

	for (ix = 0; ix < IX_COUNT; ix++) {
		b = bl_bucket(br, k, bl_key(ix, l, k));
		l->chain[ix] = br->heads[ix][b];
		br->heads[ix][b] = bl_ref(br, l);
	}
}

static void
bl_unindex(struct broker *br, struct blink *l)
{
	uint8_t k[IX_KEY_MAX];
	uint32_t *p;
	int ix;

	for (ix = 0; ix < IX_COUNT; ix++) {
		p = &br->heads[ix][bl_bucket(br, k, bl_key(ix, l, k))];
		while (*p != 0 && *p != bl_ref(br, l))
			p = &br->links[*p - 1].chain[ix];
		if (*p != 0)
			*p = l->chain[ix];
	}
}

/* The live link whose key in index ix is k, or NULL. */
static struct blink *
bl_find(struct broker *br, int ix, const uint8_t *k, size_t n)
{
	uint8_t lk[IX_KEY_MAX];
	uint32_t i;
	struct blink *l;

	for (i = br->heads[ix][bl_bucket(br, k, n)]; i != 0;
	    i = l->chain[ix]) {
		l = &br->links[i - 1];
		if (bl_key(ix, l, lk) == n && memcmp(lk, k, n) == 0)
			return l;
	}
	return NULL;
}

static void broker_class_count(struct broker *br, struct blink *l,
    int silent);

/* A link's end: out of the indexes and its list, its secrets wiped; a
 * report still waiting for the other end's is classified now. */
static void
bl_forget(struct broker *br, struct blink *l)
{
	if (!l->classified && (l->end[0].have || l->end[1].have))
		broker_class_count(br, l, 0);
	bl_unindex(br, l);
	bl_remove(br, l->state == BL_INSTRUCTING ? &br->pending : &br->done,
	    l);
	sodium_memzero(l, sizeof *l);
}

/* ... and its slot free for the next. */
static void
bl_release(struct broker *br, struct blink *l)
{
	bl_forget(br, l);
	bl_append(br, &br->free, l);
}

/* Whether a punch between nodes a and b, behind one external address,
 * failed in the last BROKER_KEEP_MS. */
static int
broker_same_failed(const struct broker *br, uint64_t a, uint64_t b,
    uint64_t now)
{
	unsigned i;

	for (i = 0; i < BROKER_SAME_FAILED; i++)
		if (br->same_failed[i].ms != 0 &&
		    now - br->same_failed[i].ms < BROKER_KEEP_MS &&
		    ((br->same_failed[i].a == a && br->same_failed[i].b == b) ||
		    (br->same_failed[i].a == b && br->same_failed[i].b == a)))
			return 1;
	return 0;
}

/* Whether nodes a and b ask again after their birthday punch failed:
 * relayed, once (the next attempt tries birthday punching again). */
static int
broker_retry_relayed(struct broker *br, uint64_t a, uint64_t b, uint64_t now)
{
	unsigned i;

	for (i = 0; i < BROKER_SAME_FAILED; i++) {
		if (br->same_failed[i].ms != 0 &&
		    now - br->same_failed[i].ms < BROKER_KEEP_MS &&
		    ((br->same_failed[i].a == a && br->same_failed[i].b == b) ||
		    (br->same_failed[i].a == b && br->same_failed[i].b == a))) {
			br->same_failed[i].ms = 0;
			return 1;
		}
	}
	return 0;
}

/*
 * Whether birthday punching joins a and b where prediction cannot: one
 * allocates at random, and the other, which filters, maps endpoint-
 * independently (or has no NAT), so that the random side's many sockets
 * all send to its one mapping, which then probes many ports of theirs.
 */
static int
broker_birthday_pair(const struct nat_profile *a, const struct nat_profile *b)
{
	const struct nat_profile *easy = nat_predictable(a) ? a : b;

	if (nat_reachable(a) || nat_reachable(b) ||
	    nat_predictable(a) == nat_predictable(b))
		return 0;
	return easy->mapping == NAT_MAPPING_EIM ||
	    easy->mapping == NAT_MAPPING_NONE;
}

/* Only a relay for pairs that no punch can join: where one side is
 * unpredictable and the other cannot take a packet unsolicited, unless
 * birthday punching can join them and has not just failed. Two nodes
 * behind one NAT reach each other on their internal addresses, unless
 * that failed: behind one carrier-grade NAT without hairpinning, each
 * behind its own home router, they share the address and nothing else. */
static int
broker_needs_relay(struct broker *br, const struct broker_node *a,
    const struct tc_endpoint *ae, const struct broker_node *b, uint64_t now)
{
	if (addr_equal_ip((const struct sockaddr *)&ae->external,
	    (const struct sockaddr *)&b->addr))
		return broker_same_failed(br, a->node_id, b->node_id, now);
	if (nat_predictable(&a->profile) && nat_predictable(&b->profile))
		return 0;
	if (broker_birthday_pair(&a->profile, &b->profile))
		return broker_retry_relayed(br, a->node_id, b->node_id, now);
	return !nat_reachable(&a->profile) && !nat_reachable(&b->profile);
}

static void
broker_count(struct broker *br, struct blink *l, enum outcome o, uint32_t ms)
{
	unsigned ca = nat_class(&l->a.profile), cb = nat_class(&l->b.profile);

	l->state = BL_COUNTED;
	if (l->a.verifier) {
		if (o <= OUT_RELAY)
			br->c.verify_up++;
		else
			br->c.verify_failed++;
		return;
	}
	br->pairs[ca][cb][o]++;
	if (o <= OUT_RELAY)
		br->pair_ms[ca][cb] += ms;
	l->state = BL_COUNTED;
}

static void
broker_count_step(struct broker *br, struct blink *l, enum link_step step)
{
	broker_count(br, l, (enum outcome)(OUT_FAIL + step - 1), 0);
}

static const char *const link_classes[LINK_CLASS_COUNT] = {
	"none", "random", "lossy", "filtering", "mapping", "peer_gone",
	"unknown"
};

const char *
link_class_name(enum link_class c)
{
	return (unsigned)c < LINK_CLASS_COUNT ? link_classes[c] : NULL;
}

static int
broker_lossy(const struct broker_end *e)
{
	return e->have_seen && (e->seen.loss_permille >= LINK_LOSSY_PERMILLE ||
	    e->seen.rtt_ms >= LINK_SLOW_MS);
}

enum link_class
broker_classify(const struct nat_profile *pa, const struct nat_profile *pb,
    const struct broker_end *a, const struct broker_end *b, int silent)
{
	const struct broker_end *f = a->have ? a : b;	/* the word taken */
	int random = !nat_predictable(pa) || !nat_predictable(pb);

	if (silent)
		return LINK_CLASS_PEER_GONE;
	if (!f->have)
		return LINK_CLASS_UNKNOWN;
	if (f->o.ok)
		return f->o.path != LINK_PATH_RELAY ? LINK_CLASS_NONE :
		    random ? LINK_CLASS_RANDOM : LINK_CLASS_FILTERING;
	if (f->o.step == LINK_STEP_PEER)
		return LINK_CLASS_PEER_GONE;
	if (broker_lossy(a) || broker_lossy(b))
		return LINK_CLASS_LOSSY;
	if (!a->have || !b->have)
		return LINK_CLASS_PEER_GONE;	/* one end never reported */
	switch (f->o.step) {
	case LINK_STEP_MAPPING:
	case LINK_STEP_RELAY:
		return LINK_CLASS_LOSSY;	/* both to the negotiator */
	case LINK_STEP_UDT:
		return LINK_CLASS_MAPPING;	/* a punched pair stopped */
	case LINK_STEP_PUNCH:
		if (random)
			return LINK_CLASS_RANDOM;
		if (!a->have_seen || !b->have_seen)
			return LINK_CLASS_UNKNOWN;
		if (a->seen.learnt > 0 || b->seen.learnt > 0)
			return LINK_CLASS_MAPPING;
		if (a->seen.sent > 0 || b->seen.sent > 0)
			return LINK_CLASS_FILTERING;
		return LINK_CLASS_UNKNOWN;
	default:
		return LINK_CLASS_UNKNOWN;
	}
}

/* Counts l's class by its pair of NAT classes, once. */
static void
broker_class_count(struct broker *br, struct blink *l, int silent)
{
	enum link_class c;

	l->classified = 1;
	if (l->a.verifier)
		return;
	c = broker_classify(&l->a.profile, &l->b.profile, &l->end[0],
	    &l->end[1], silent);
	br->classes[nat_class(&l->a.profile)][nat_class(&l->b.profile)][c]++;
}

/* A report in: the link is classified once both ends' are, or after
 * BROKER_CLASS_WAIT_MS (the oldest waiting goes first when full). */
static void
broker_class_wait(struct broker *br, struct blink *l, uint64_t now)
{
	unsigned i;

	if (l->classified)
		return;
	if (l->end[0].have && l->end[1].have) {
		broker_class_count(br, l, 0);
		return;
	}
	if (br->cwait_n == BROKER_CLASS_WAIT_MAX) {
		i = br->cwait_head;
		if (br->links[br->cwait[i].slot].id == br->cwait[i].id &&
		    !br->links[br->cwait[i].slot].classified)
			broker_class_count(br, &br->links[br->cwait[i].slot],
			    0);
		br->cwait_head = (i + 1) % BROKER_CLASS_WAIT_MAX;
		br->cwait_n--;
	}
	i = (br->cwait_head + br->cwait_n++) % BROKER_CLASS_WAIT_MAX;
	br->cwait[i].slot = (uint32_t)(l - br->links);
	br->cwait[i].id = l->id;
	br->cwait[i].due_ms = now + BROKER_CLASS_WAIT_MS;
}

/* Under the lock: the links whose other end's report is overdue. */
static void
broker_class_due(struct broker *br, uint64_t now)
{
	struct blink *l;
	unsigned i;

	while (br->cwait_n > 0 &&
	    br->cwait[br->cwait_head].due_ms <= now) {
		i = br->cwait_head;
		l = &br->links[br->cwait[i].slot];
		if (l->id == br->cwait[i].id && !l->classified)
			broker_class_count(br, l, 0);
		br->cwait_head = (i + 1) % BROKER_CLASS_WAIT_MAX;
		br->cwait_n--;
	}
}

/* The outcome of a link that came up, by its path (enum link_path). */
static enum outcome
broker_up_outcome(unsigned path)
{
	return path == LINK_PATH_LOCAL ? OUT_LOCAL :
	    path == LINK_PATH_RELAY ? OUT_RELAY : OUT_DIRECT;
}

/* What each end learns of the link and of the other end: the link's id
 * and key, the other end's profile and endpoint, and the relay where the
 * link goes through it. INSTRUCT and the GO both carry it. */
static void
broker_put_link(struct broker *br, const struct blink *l,
    struct stun_builder *sb, const struct nat_profile *other,
    const struct tc_endpoint *ep)
{
	uint8_t prof[NAT_PROFILE_WIRE_LEN];
	struct sockaddr_storage relay;

	stun_put_u64(sb, TC_ATTR_LINK, l->id);
	stun_put(sb, TC_ATTR_LINK_KEY, l->key, sizeof l->key);
	nat_profile_encode(other, prof);
	stun_put(sb, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	tc_put_endpoint(sb, ep);
	if (l->relayed) {
		relay = l->local;
		addr_set_port((struct sockaddr *)&relay,
		    addr_port((struct sockaddr *)&br->cfg.relay.ss));
		stun_put_xor_address(sb, TC_ATTR_XOR_RELAY,
		    (struct sockaddr *)&relay);
	}
	if (l->birthday)
		stun_put_u32(sb, TC_ATTR_BIRTHDAY, nat_predictable(other) ?
		    TC_BIRTHDAY_HARD : TC_BIRTHDAY_EASY);
}

/* The answer to A's LINK, kept for its retransmissions, and queued. */
static void
broker_answer_a(struct broker *br, struct blink *l, int code,
    const char *reason, const struct tc_endpoint *bep,
    struct broker_outbox *ob)
{
	struct stun_builder sb;
	int len;

	bl_remove(br, &br->pending, l);
	bl_append(br, &br->done, l);
	l->state = BL_ANSWERED;
	l->done_ms = broker_now();
	l->answer_len = 0;
	stun_build_init(&sb, l->answer, sizeof l->answer, TC_METHOD_LINK,
	    code != 0 ? STUN_ERROR : STUN_SUCCESS, l->a_tid);
	if (code != 0)
		stun_put_error_code(&sb, code, reason);
	else
		broker_put_link(br, l, &sb, &l->b.profile, bep);
	stun_put_integrity_sha256(&sb, l->a.key, sizeof l->a.key);
	stun_put_fingerprint(&sb);
	if ((len = stun_build_finish(&sb)) < 0)
		return;
	l->answer_len = (size_t)len;
	broker_queue(ob, &l->a.addr, l->answer, l->answer_len, &l->local);
}

/* A link that A never reported on ends: counted on B's word, if any. */
static void
broker_count_unreported(struct broker *br, struct blink *l)
{
	if (l->have_report_b && l->report_b.ok)
		broker_count(br, l, broker_up_outcome(l->report_b.path),
		    l->report_b.ms);
	else
		broker_count(br, l, OUT_UNREPORTED, 0);
}

/* A slot for a new link: a free one, one never used, or else the oldest
 * answered link, forgotten early; NULL while every one is in flight. */
static struct blink *
broker_slot(struct broker *br)
{
	struct blink *l;

	if (br->free.head != 0) {
		l = &br->links[br->free.head - 1];
		bl_remove(br, &br->free, l);
		return l;
	}
	if (br->used < br->cfg.max_links)
		return &br->links[br->used++];
	if (br->done.head == 0)
		return NULL;
	l = &br->links[br->done.head - 1];
	if (l->state == BL_ANSWERED)
		broker_count_unreported(br, l);
	br->c.forgotten++;
	bl_forget(br, l);
	return l;
}

static struct rlink *
broker_relay_add(struct broker *br, const struct blink *l, uint64_t now)
{
	struct rlink *r;
	uint32_t i;

	for (i = 0; i < br->cfg.relay_max; i++) {
		r = &br->relays[i];
		if (r->id == 0) {
			memset(r, 0, sizeof *r);
			r->id = l->id;
			memcpy(r->key, l->key, sizeof r->key);
			r->t0 = r->last_ms = now;
			br->c.relay_links++;
			return r;
		}
	}
	br->c.relay_full++;
	return NULL;
}

int
broker_link(struct broker *br, const struct broker_node *a,
    const struct broker_node *peer, const uint8_t tid[12],
    const struct tc_endpoint *ep, const struct sockaddr *local)
{
	struct stun_builder sb;
	struct blink *l;
	struct broker_dgram one;
	struct broker_outbox ob = { &one, 0, 1 };
	struct sockaddr_storage src;
	uint64_t now = broker_now(), id;
	uint8_t k[IX_KEY_MAX];
	size_t klen = bl_atid_key(k, a->session, tid);
	int len, relayed;

	memcpy(&src, local, broker_sslen((const struct sockaddr_storage *)
	    local));
	broker_lock(br);
	if ((l = bl_find(br, IX_ATID, k, klen)) != NULL) {
		/* A retransmitted: wait for B, or answer again. */
		br->c.retransmits++;
		if (l->answer_len > 0)
			broker_queue(&ob, &a->addr, l->answer, l->answer_len,
			    &src);
		broker_unlock(br);
		broker_flush(br, &ob);
		return 0;
	}
	if ((l = broker_slot(br)) == NULL) {
		br->c.full++;
		broker_unlock(br);
		return 508;
	}
	memset(l, 0, sizeof *l);
	l->state = BL_INSTRUCTING;
	while (l->id == 0)
		randombytes_buf(&l->id, sizeof l->id);
	randombytes_buf(l->key, sizeof l->key);
	l->a = *a;
	l->b = *peer;
	memcpy(l->a_tid, tid, 12);
	memcpy(&l->local, local, broker_sslen((const struct sockaddr_storage *)
	    local));
	l->t0 = now;
	l->same_ip = addr_equal_ip((const struct sockaddr *)&ep->external,
	    (const struct sockaddr *)&peer->addr);
	if (br->cfg.has_relay && broker_needs_relay(br, a, ep, peer, now))
		l->relayed = broker_relay_add(br, l, now) != NULL;
	l->birthday = !l->relayed && !l->same_ip &&
	    broker_birthday_pair(&a->profile, &peer->profile);
	br->c.birthday += (uint64_t)l->birthday;
	br->c.links++;

	stun_random_tid(l->instruct_tid);
	bl_index(br, l);
	bl_append(br, &br->pending, l);
	stun_build_init(&sb, l->instruct, sizeof l->instruct,
	    TC_METHOD_INSTRUCT, STUN_REQUEST, l->instruct_tid);
	stun_put_u64(&sb, TC_ATTR_PEER_NODE, a->node_id);
	broker_put_link(br, l, &sb, &a->profile, ep);
	stun_put_integrity_sha256(&sb, peer->key, sizeof peer->key);
	stun_put_fingerprint(&sb);
	if ((len = stun_build_finish(&sb)) < 0) {
		bl_release(br, l);
		broker_unlock(br);
		return 500;
	}
	l->instruct_len = (size_t)len;
	l->sent = 1;
	l->next_ms = now + BROKER_RTO_MS;
	br->c.instructs++;
	broker_queue(&ob, &l->b.addr, l->instruct, l->instruct_len,
	    &l->local);
	id = l->id;		/* l is the tick's and the workers' once let go */
	relayed = l->relayed;
	broker_unlock(br);
	broker_flush(br, &ob);
	log_debug("link %016" PRIx64 ": node %016" PRIx64 " (%s) asks for node "
	    "%016" PRIx64 " (%s)%s", id, a->node_id,
	    nat_class_name(&a->profile), peer->node_id,
	    nat_class_name(&peer->profile), relayed ? ", relayed" : "");
	return 0;
}

int
broker_instruct_answer(struct broker *br, const struct stun_msg *m)
{
	const struct stun_attr *ea;
	struct tc_endpoint bep;
	struct blink *l;
	struct broker_dgram one;
	struct broker_outbox ob = { &one, 0, 1 };
	const char *reason = "";
	char why[128];
	size_t rlen = 0;
	int code = 0;

	broker_lock(br);
	if ((l = bl_find(br, IX_ITID, m->tid, 12)) != NULL &&
	    l->state != BL_INSTRUCTING)
		l = NULL;
	if (l == NULL || stun_check_integrity_sha256(m, l->b.key,
	    sizeof l->b.key) != 0) {
		/* Late (answered already), or not B's. */
		br->c.bad_answers++;
		broker_unlock(br);
		return -1;
	}
	if (m->cls == STUN_SUCCESS && tc_get_endpoint(m, &bep) == 0) {
		br->c.acks++;
		broker_answer_a(br, l, 0, NULL, &bep, &ob);
	} else {
		if ((ea = stun_find(m, STUN_ATTR_ERROR_CODE)) != NULL)
			stun_attr_error_code(ea, &code, &reason, &rlen);
		snprintf(why, sizeof why, "peer: %.*s", (int)rlen, reason);
		br->c.peer_refused++;
		broker_answer_a(br, l, code == 403 ? 403 : 480, why, NULL,
		    &ob);
		broker_count_step(br, l, LINK_STEP_PEER);
	}
	broker_unlock(br);
	broker_flush(br, &ob);
	return 0;
}

/* Under the lock: a punch between two nodes behind one address failed. */
static void
broker_same_fail(struct broker *br, const struct blink *l)
{
	unsigned i = br->same_next++ % BROKER_SAME_FAILED;

	br->same_failed[i].a = l->a.node_id;
	br->same_failed[i].b = l->b.node_id;
	br->same_failed[i].ms = broker_now();
}

int
broker_report(struct broker *br, uint64_t session, uint64_t link,
    const struct tc_outcome *o, uint64_t *acceptor)
{
	return broker_report_seen(br, session, link, o, NULL, acceptor);
}

int
broker_report_seen(struct broker *br, uint64_t session, uint64_t link,
    const struct tc_outcome *o, const struct tc_link_seen *seen,
    uint64_t *acceptor)
{
	struct blink *l;
	struct broker_end *e;
	enum outcome out;

	broker_lock(br);
	l = bl_find(br, IX_ID, (const uint8_t *)&link, 8);
	if (l == NULL || (l->a.session != session && l->b.session != session)) {
		broker_unlock(br);
		return -1;
	}
	br->c.reports++;
	e = &l->end[l->a.session == session ? 0 : 1];
	if (!e->have && l->state != BL_INSTRUCTING) {
		e->have = 1;
		e->o = *o;
		if ((e->have_seen = seen != NULL))
			e->seen = *seen;
		broker_class_wait(br, l, broker_now());
	}
	*acceptor = l->a.session == session ? l->b.session : 0;
	if (l->b.session == session) {
		/* Counted if A never reports. */
		l->report_b = *o;
		l->have_report_b = 1;
	} else if (l->state == BL_ANSWERED) {
		if (o->ok)
			out = broker_up_outcome(o->path);
		else
			out = (enum outcome)(OUT_FAIL + (o->step >= 1 &&
			    o->step < LINK_STEP_COUNT ? o->step :
			    LINK_STEP_PUNCH) - 1);
		broker_count(br, l, out, o->ms);
		if (!o->ok && o->step == LINK_STEP_PUNCH &&
		    (l->same_ip || l->birthday) && !l->relayed)
			broker_same_fail(br, l);
		if (l->birthday && o->ok)
			br->c.birthday_up++;
		else if (l->birthday && o->step == LINK_STEP_PUNCH)
			br->c.birthday_failed++;
	}
	broker_unlock(br);
	return 0;
}

/*
 * Under the lock: the pending links that are due, from slot i (0: the
 * list's head), until ob is full. Returns where to go on (0: the end).
 */
static uint32_t
broker_tick_pending(struct broker *br, uint32_t i, uint64_t now,
    struct broker_outbox *ob)
{
	struct blink *l;
	uint32_t next;

	for (i = i != 0 ? i : br->pending.head; i != 0; i = next) {
		if (ob->n == ob->max)
			return i;
		l = &br->links[i - 1];
		next = l->next;		/* the answer moves l to done */
		if (now < l->next_ms)
			continue;
		if (now - l->t0 >= BROKER_GIVE_UP_MS) {
			br->c.peer_silent++;
			broker_answer_a(br, l, 480,
			    "peer: no answer to INSTRUCT", NULL, ob);
			broker_count_step(br, l, LINK_STEP_PEER);
			broker_class_count(br, l, 1);
			continue;
		}
		broker_queue(ob, &l->b.addr, l->instruct, l->instruct_len,
		    &l->local);
		br->c.instructs++;
		l->next_ms = now + (l->sent < 3 ? (uint64_t)BROKER_RTO_MS
		    << l->sent : BROKER_RTO_MAX_MS);
		l->sent++;
	}
	return 0;
}

/* Main thread: INSTRUCT retransmissions and deadlines, BROKER_BATCH
 * datagrams a hold of the lock, sent with it let go; forgetting. */
static void
broker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *br = arg;
	struct broker_outbox ob = { br->batch, 0, BROKER_BATCH };
	uint64_t now = broker_now(), at_id = 0;
	struct blink *l;
	struct rlink *r;
	uint32_t i, at = 0;

	(void)fd;
	(void)what;
	for (;;) {
		broker_lock(br);
		/* Go on where the last batch stopped, if that link is
		 * still pending (the list keeps its order); else from the
		 * head: the links sent to since are not due. */
		if (at != 0 && (br->links[at - 1].state != BL_INSTRUCTING ||
		    br->links[at - 1].id != at_id))
			at = 0;
		if ((at = broker_tick_pending(br, at, now, &ob)) == 0)
			break;
		at_id = br->links[at - 1].id;
		broker_unlock(br);
		broker_flush(br, &ob);
	}
	broker_class_due(br, now);
	/* Answered longest ago first: kept BROKER_KEEP_MS, then forgotten,
	 * counted on B's word if A never reported. */
	while (br->done.head != 0) {
		l = &br->links[br->done.head - 1];
		if (now - l->done_ms < BROKER_KEEP_MS)
			break;
		if (l->state == BL_ANSWERED)
			broker_count_unreported(br, l);
		bl_release(br, l);
	}
	/* A relayed link ends silent for relay_idle_s, or not bound on
	 * both sides that long after it was made: a deadline, which one
	 * side's binding again and again does not move. */
	for (i = 0; i < br->cfg.relay_max; i++) {
		r = &br->relays[i];
		if (r->id != 0 &&
		    (now - r->last_ms >= br->cfg.relay_idle_s * 1000ull ||
		    (r->bound < 2 &&
		    now - r->t0 >= br->cfg.relay_idle_s * 1000ull)))
			r->id = 0;
	}
	broker_unlock(br);
	broker_flush(br, &ob);
}

/* --- the relay */

/*
 * A new socket binds from an address that an older relayed link still
 * holds: the NAT gave the address out again, so the old socket is gone.
 * The old link goes now; left, it would take the new one's packets (the
 * lookup takes the first match), and the new rendezvous would never meet.
 */
static void
broker_relay_forget(struct broker *br, const struct sockaddr_storage *from,
    const struct rlink *keep)
{
	struct rlink *r;
	uint32_t i;
	int side;

	for (i = 0; i < br->cfg.relay_max; i++) {
		r = &br->relays[i];
		if (r == keep || r->id == 0)
			continue;
		for (side = 0; side < r->bound; side++)
			if (addr_equal((struct sockaddr *)&r->side[side],
			    (const struct sockaddr *)from)) {
				r->id = 0;
				br->c.relay_reused++;
				break;
			}
	}
}

/* Under the lock: an authenticated RELAY request binds its sender; the
 * answer's length in out (for the caller to send once the lock is let
 * go), or 0 for none. */
static size_t
broker_relay_bind(struct broker *br, const struct stun_msg *m,
    const struct sockaddr_storage *from, uint64_t now, uint8_t *out,
    size_t cap)
{
	struct stun_builder sb;
	struct rlink *r = NULL;
	uint64_t id;
	uint32_t i;
	int len, side;

	if (stun_attr_u64(stun_find(m, TC_ATTR_LINK), &id) != 0 || id == 0) {
		br->c.relay_dropped++;
		return 0;
	}
	for (i = 0; i < br->cfg.relay_max; i++)
		if (br->relays[i].id == id)
			r = &br->relays[i];
	if (r == NULL || stun_check_integrity_sha256(m, r->key,
	    sizeof r->key) != 0) {
		br->c.relay_dropped++;
		return 0;
	}
	for (side = 0; side < r->bound; side++)
		if (addr_equal((struct sockaddr *)&r->side[side],
		    (const struct sockaddr *)from))
			break;
	if (side == r->bound) {
		if (r->bound == 2) {
			br->c.relay_dropped++;	/* a third socket */
			return 0;
		}
		broker_relay_forget(br, from, r);
		memcpy(&r->side[r->bound++], from, sizeof *from);
		br->c.relay_binds++;
	}
	r->last_ms = now;
	stun_build_init(&sb, out, cap, TC_METHOD_RELAY, STUN_SUCCESS,
	    m->tid);
	stun_put_u64(&sb, TC_ATTR_LINK, id);
	stun_put_xor_address(&sb, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (const struct sockaddr *)from);
	stun_put_integrity_sha256(&sb, r->key, sizeof r->key);
	stun_put_fingerprint(&sb);
	return (len = stun_build_finish(&sb)) > 0 ? (size_t)len : 0;
}

static void
broker_relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *br = arg;
	struct sockaddr_storage from, to;
	uint8_t out[STUN_MAX_MSG];
	struct stun_msg m;
	struct rlink *r;
	socklen_t fromlen;
	uint64_t now = broker_now();
	ssize_t n;
	size_t len;
	uint32_t i;
	int budget, side;

	(void)what;
	for (budget = 0; budget < 256; budget++) {
		fromlen = sizeof from;
		n = recvfrom(fd, br->rx, sizeof br->rx, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		broker_lock(br);
		if (stun_is_stun(br->rx, (size_t)n) &&
		    stun_parse(br->rx, (size_t)n, &m, NULL) == 0 &&
		    m.method == TC_METHOD_RELAY && m.cls == STUN_REQUEST) {
			len = broker_relay_bind(br, &m, &from, now, out,
			    sizeof out);
			broker_unlock(br);
			if (len > 0)
				sendto(fd, out, len, 0,
				    (struct sockaddr *)&from, fromlen);
			continue;
		}
		r = NULL;
		side = 0;
		for (i = 0; i < br->cfg.relay_max && r == NULL; i++) {
			if (br->relays[i].id == 0 || br->relays[i].bound < 2)
				continue;
			for (side = 0; side < 2; side++) {
				if (addr_equal((struct sockaddr *)
				    &br->relays[i].side[side],
				    (struct sockaddr *)&from)) {
					r = &br->relays[i];
					break;
				}
			}
		}
		if (r == NULL) {
			br->c.relay_dropped++;
			broker_unlock(br);
			continue;
		}
		r->last_ms = now;
		r->packets++;
		r->bytes += (uint64_t)n;
		br->c.relay_packets++;
		br->c.relay_bytes += (uint64_t)n;
		memcpy(&to, &r->side[1 - side], sizeof to);
		broker_unlock(br);
		/* br->rx is the main thread's alone. */
		sendto(fd, br->rx, (size_t)n, 0, (struct sockaddr *)&to,
		    broker_sslen(&to));
	}
}

static int
broker_relay_open(struct broker *br, char *err, size_t errlen)
{
	char text[ADDR_STRLEN];
	int size = 4 << 20;

	br->relay_fd = socket(br->cfg.relay.ss.ss_family, SOCK_DGRAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (br->relay_fd == -1 || bind(br->relay_fd,
	    (struct sockaddr *)&br->cfg.relay.ss, br->cfg.relay.len) != 0) {
		snprintf(err, errlen, "cannot open the relay on %s: %s",
		    addr_format((struct sockaddr *)&br->cfg.relay.ss, text,
		    sizeof text), strerror(errno));
		return -1;
	}
	setsockopt(br->relay_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(br->relay_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	br->relay_ev = event_new(br->base, br->relay_fd, EV_READ | EV_PERSIST,
	    broker_relay_cb, br);
	if (br->relay_ev == NULL || event_add(br->relay_ev, NULL) != 0) {
		snprintf(err, errlen, "cannot watch the relay socket");
		return -1;
	}
	log_info("relay on %s", addr_format((struct sockaddr *)
	    &br->cfg.relay.ss, text, sizeof text));
	return 0;
}

struct broker *
broker_create(struct event_base *base, const struct broker_config *cfg,
    broker_send_fn send, void *ctx, char *err, size_t errlen)
{
	struct timeval tv = { 0, BROKER_TICK_MS * 1000 };
	pthread_mutexattr_t ma;
	struct broker *br;
	int ix;

	if ((br = calloc(1, sizeof *br)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&br->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	br->base = base;
	br->cfg = *cfg;
	br->send = send;
	br->ctx = ctx;
	br->relay_fd = -1;
	if (br->cfg.max_links == 0)
		br->cfg.max_links = BROKER_MAX_LINKS;
	if (br->cfg.relay_idle_s == 0)
		br->cfg.relay_idle_s = 30;
	if (!br->cfg.has_relay)
		br->cfg.relay_max = 0;
	br->links = calloc(br->cfg.max_links, sizeof *br->links);
	for (br->hmask = 1; br->hmask < br->cfg.max_links; br->hmask <<= 1)
		;
	for (ix = 0; ix < IX_COUNT; ix++)
		br->heads[ix] = calloc(br->hmask, sizeof *br->heads[ix]);
	br->hmask--;
	crypto_shorthash_keygen(br->hkey);
	br->relays = calloc(br->cfg.relay_max + 1, sizeof *br->relays);
	br->tick = event_new(base, -1, EV_PERSIST, broker_tick_cb, br);
	if (br->links == NULL || br->heads[IX_ID] == NULL ||
	    br->heads[IX_ITID] == NULL || br->heads[IX_ATID] == NULL ||
	    br->relays == NULL || br->tick == NULL ||
	    event_add(br->tick, &tv) != 0) {
		snprintf(err, errlen, "out of memory");
		broker_free(br);
		return NULL;
	}
	if (br->cfg.has_relay && broker_relay_open(br, err, errlen) != 0) {
		broker_free(br);
		return NULL;
	}
	return br;
}

void
broker_free(struct broker *br)
{
	int ix;

	if (br == NULL)
		return;
	if (br->tick != NULL)
		event_free(br->tick);
	if (br->relay_ev != NULL)
		event_free(br->relay_ev);
	if (br->relay_fd != -1)
		close(br->relay_fd);
	if (br->links != NULL)
		sodium_memzero(br->links, br->used * sizeof *br->links);
	free(br->links);
	for (ix = 0; ix < IX_COUNT; ix++)
		free(br->heads[ix]);
	free(br->relays);
	pthread_mutex_destroy(&br->lock);
	free(br);
}

static const char *const broker_outs[OUT_COUNT] = {
	"direct", "local", "relay", "failed_request", "failed_peer",
	"failed_mapping", "failed_punch", "failed_relay", "failed_udt",
	"unreported"
};

/* Under the lock: links by class, over every pair of NAT classes. */
static void
broker_class_totals(const struct broker *br, uint32_t tot[LINK_CLASS_COUNT])
{
	unsigned x, y, c;

	memset(tot, 0, LINK_CLASS_COUNT * sizeof *tot);
	for (x = 0; x < NAT_CLASS_COUNT; x++)
		for (y = 0; y < NAT_CLASS_COUNT; y++)
			for (c = 0; c < LINK_CLASS_COUNT; c++)
				tot[c] += br->classes[x][y][c];
}

/* {"random":n,...}: every class but none. */
static void
broker_class_json(struct evbuffer *out, const uint32_t n[LINK_CLASS_COUNT])
{
	unsigned c;

	for (c = LINK_CLASS_NONE + 1; c < LINK_CLASS_COUNT; c++)
		evbuffer_add_printf(out, "%s\"%s\":%u", c == 1 ? "{" : ",",
		    link_classes[c], n[c]);
	evbuffer_add(out, "}", 1);
}

void
broker_metrics(struct broker *br, struct evbuffer *out)
{
	const uint32_t *p;
	uint32_t tot[LINK_CLASS_COUNT];
	unsigned x, y, o;

	evbuffer_add_printf(out, "# HELP treecast_link_outcomes_total Link "
	    "attempts by the NAT classes of the asking node (a) and the "
	    "asked (b), and how they ended.\n"
	    "# TYPE treecast_link_outcomes_total counter\n");
	broker_lock(br);
	for (x = 0; x < NAT_CLASS_COUNT; x++)
		for (y = 0; y < NAT_CLASS_COUNT; y++)
			for (p = br->pairs[x][y], o = 0; o < OUT_COUNT; o++)
				if (p[o] > 0)
					evbuffer_add_printf(out,
					    "treecast_link_outcomes_total{a=\"%s\","
					    "b=\"%s\",outcome=\"%s\"} %u\n",
					    nat_class_label(x),
					    nat_class_label(y),
					    broker_outs[o], p[o]);
	broker_class_totals(br, tot);
	evbuffer_add_printf(out, "# HELP treecast_link_class_total Failed or "
	    "relayed links by why (README, Failure classes).\n"
	    "# TYPE treecast_link_class_total counter\n");
	for (o = LINK_CLASS_NONE + 1; o < LINK_CLASS_COUNT; o++)
		evbuffer_add_printf(out, "treecast_link_class_total"
		    "{class=\"%s\"} %u\n", link_classes[o], tot[o]);
	evbuffer_add_printf(out, "# HELP treecast_relay_bytes_total Bytes "
	    "the relay forwarded.\n# TYPE treecast_relay_bytes_total counter\n"
	    "treecast_relay_bytes_total %" PRIu64 "\n", br->c.relay_bytes);
	evbuffer_add_printf(out, "# HELP treecast_links_total Links asked "
	    "for.\n# TYPE treecast_links_total counter\n"
	    "treecast_links_total %" PRIu64 "\n", br->c.links);
	broker_unlock(br);
}

void
broker_json(struct broker *br, struct evbuffer *out)
{
	const char *const *outs = broker_outs;
	const uint32_t *p;
	uint32_t total, ok, failed, live = 0, i, tot[LINK_CLASS_COUNT];
	unsigned x, y, o;
	int first = 1;

	broker_lock(br);
	for (i = 0; i < br->cfg.relay_max; i++)
		live += br->relays[i].id != 0;
	evbuffer_add_printf(out, "{\"links\":%" PRIu64 ",\"retransmits\":%"
	    PRIu64 ",\"instructs\":%" PRIu64 ",\"acks\":%" PRIu64
	    ",\"peer_silent\":%" PRIu64 ",\"peer_refused\":%" PRIu64
	    ",\"full\":%" PRIu64 ",\"forgotten\":%" PRIu64
	    ",\"reports\":%" PRIu64 ",\"bad_answers\":%"
	    PRIu64 ",\"relay\":{\"enabled\":%s,\"live\":%u,\"links\":%" PRIu64
	    ",\"binds\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"dropped\":%" PRIu64 ",\"full\":%" PRIu64 ",\"reused\":%"
	    PRIu64 "},\"birthday\":{\"links\":%" PRIu64 ",\"up\":%" PRIu64
	    ",\"failed\":%" PRIu64 "},\"verifier\":{\"up\":%" PRIu64
	    ",\"failed\":%" PRIu64 "},\"pairs\":[",
	    br->c.links, br->c.retransmits, br->c.instructs, br->c.acks,
	    br->c.peer_silent, br->c.peer_refused, br->c.full,
	    br->c.forgotten, br->c.reports,
	    br->c.bad_answers, br->cfg.has_relay ? "true" : "false", live,
	    br->c.relay_links, br->c.relay_binds, br->c.relay_packets,
	    br->c.relay_bytes, br->c.relay_dropped, br->c.relay_full,
	    br->c.relay_reused, br->c.birthday, br->c.birthday_up,
	    br->c.birthday_failed, br->c.verify_up, br->c.verify_failed);
	for (x = 0; x < NAT_CLASS_COUNT; x++) {
		for (y = 0; y < NAT_CLASS_COUNT; y++) {
			p = br->pairs[x][y];
			for (total = 0, o = 0; o < OUT_COUNT; o++)
				total += p[o];
			if (total == 0)
				continue;
			ok = p[OUT_DIRECT] + p[OUT_LOCAL] + p[OUT_RELAY];
			evbuffer_add_printf(out, "%s{\"a\":\"%s\",\"b\":\"%s\","
			    "\"attempts\":%u,\"connected\":%u,"
			    "\"mean_ms\":%.0f", first ? "" : ",",
			    nat_class_label(x), nat_class_label(y), total, ok,
			    ok > 0 ? (double)br->pair_ms[x][y] / ok : 0.0);
			for (o = 0; o < OUT_COUNT; o++)
				if (p[o] > 0)
					evbuffer_add_printf(out, ",\"%s\":%u",
					    outs[o], p[o]);
			/* Classes where the pair had failed or relayed
			 * links. */
			for (failed = 0, o = LINK_CLASS_NONE + 1;
			    o < LINK_CLASS_COUNT; o++)
				failed += br->classes[x][y][o];
			if (failed > 0) {
				evbuffer_add_printf(out, ",\"classes\":");
				broker_class_json(out, br->classes[x][y]);
			}
			evbuffer_add(out, "}", 1);
			first = 0;
		}
	}
	broker_class_totals(br, tot);
	evbuffer_add_printf(out, "],\"classes\":");
	broker_class_json(out, tot);
	evbuffer_add(out, "}", 1);
	broker_unlock(br);
}
