/* The broker's insides, shared by its files: broker.c (the flows: LINK,
 * INSTRUCT and its answer, REPORT, the tick), broker-table.c (the link
 * table's lists and indexes), broker-count.c (outcomes, failure classes
 * and the figures). Not for use outside negotiator/broker*.c. */
#ifndef TREECAST_BROKER_PRIVATE_H
#define TREECAST_BROKER_PRIVATE_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "negotiator/broker.h"
#include "negotiator/relay.h"
#include "net/util/log.h"
#include "net/wire/stun.h"

#define BROKER_TICK_MS		50
/* INSTRUCT is sent at 0, 250, 750 and 1750 ms, then every second; no ACK
 * by 9 s (B's own mapping exchange may retransmit too, on a lossy path) and
 * A hears that B did not answer, well before its LINK gives up (11.5 s). */
#define BROKER_RTO_MS		250
#define BROKER_RTO_MAX_MS	1000
#define BROKER_GIVE_UP_MS	9000
/* ... and after this long unanswered, B is reported silent (broker.h). */
#define BROKER_SILENT_MS	1500
#define BROKER_SILENT_BATCH	16	/* reported a tick, the rest next */
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
	int			 birthday;	/* birthday punching
						   (net/link/link-birthday.c) */
	int			 same_ip;	/* A and B behind one address */
	int			 have_report_b;
	struct tc_outcome	 report_b;
	struct broker_end	 end[2];	/* A's and B's REPORT */
	int			 classified;
	int			 silent_told;	/* B reported silent */
};

/*
 * The broker's counters, one row each: X(name, group, key, help). group
 * and key name it in /api/links ("": at the top), help in /metrics
 * (treecast_broker_NAME_total); the relay's are its own (negotiator/
 * relay.h). The rows of the top come first, then each group's together:
 * /api/links writes the relay's object where the top's rows end and
 * opens a group where its name changes (broker_json).
 */
#define BROKER_COUNTERS(X)						\
	X(links,	"", "links", "LINK requests taken")		\
	X(retransmits,	"", "retransmits",				\
	    "LINK again, answered from memory")				\
	X(instructs,	"", "instructs", "INSTRUCT datagrams sent")	\
	X(acks,		"", "acks", "INSTRUCTs acknowledged")		\
	X(peer_silent,	"", "peer_silent", "INSTRUCTs B never answered")	\
	X(peer_refused,	"", "peer_refused", "INSTRUCTs B refused")	\
	X(full,		"", "full", "LINKs refused: the link table full")	\
	X(forgotten,	"", "forgotten", "answered links forgotten "	\
	    "before their time, for room")				\
	X(reports,	"", "reports", "REPORTs of a link's outcome")	\
	X(bad_answers,	"", "bad_answers",				\
	    "INSTRUCT answers unknown or forged")			\
	X(birthday,	"birthday", "links",				\
	    "links told to punch by birthday")				\
	X(birthday_up,	"birthday", "up",				\
	    "birthday links that came up (A's word)")			\
	X(birthday_failed, "birthday", "failed", "birthday links whose "	\
	    "punch failed: the pair is relayed when it asks again")	\
	X(verify_up,	"verifier", "up", "the verifier's links up")	\
	X(verify_failed, "verifier", "failed",				\
	    "the verifier's links failed")

struct broker_counters {
#define BROKER_COUNTER_FIELD(name, group, key, help)	uint64_t name;
	BROKER_COUNTERS(BROKER_COUNTER_FIELD)
#undef BROKER_COUNTER_FIELD
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

/* The tick's nodes to report silent (broker.h, broker_on_silent). */
struct broker_silent {
	uint64_t		 id[BROKER_SILENT_BATCH];
	unsigned		 n;
};

struct broker {
	pthread_mutex_t		 lock;	/* error-checking: a second lock in
					   one thread is fatal, not a hang */
	struct event_base	*base;
	struct broker_config	 cfg;
	broker_send_fn		 send;
	void			*ctx;
	broker_silent_fn	 on_silent;	/* NULL: none */
	void			*silent_ctx;
	struct event		*tick;
	struct blink		*links;
	uint32_t		 used;		/* slots ever used; above, untouched */
	struct bl_list		 pending, done, free;
	uint32_t		*heads[IX_COUNT];
	uint32_t		 hmask;
	uint8_t			 hkey[crypto_shorthash_KEYBYTES];
	struct relay		*relay;		/* NULL: none */
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
	struct broker_dgram	 batch[BROKER_BATCH];	/* the tick's */
};

static inline void
broker_lock(struct broker *br)
{
	int e;

	if ((e = pthread_mutex_lock(&br->lock)) != 0)
		fatal("broker: cannot lock: %s", strerror(e));
}

static inline void
broker_unlock(struct broker *br)
{
	int e;

	if ((e = pthread_mutex_unlock(&br->lock)) != 0)
		fatal("broker: cannot unlock: %s", strerror(e));
}

/* The link table (broker-table.c), under the lock: lists of slots
 * through prev and next, and the three indexes. */
void	bl_append(struct broker *br, struct bl_list *q, struct blink *l);
void	bl_remove(struct broker *br, struct bl_list *q, struct blink *l);
size_t	bl_atid_key(uint8_t k[IX_KEY_MAX], uint64_t session,
	    const uint8_t tid[12]);
void	bl_index(struct broker *br, struct blink *l);
struct blink *bl_find(struct broker *br, int ix, const uint8_t *k,
	    size_t n);
void	bl_forget(struct broker *br, struct blink *l);
void	bl_release(struct broker *br, struct blink *l);

/* Outcomes and classes (broker-count.c), under the lock. */
void	broker_count(struct broker *br, struct blink *l, enum outcome o,
	    uint32_t ms);
void	broker_count_step(struct broker *br, struct blink *l,
	    enum link_step step);
void	broker_class_count(struct broker *br, struct blink *l, int silent);
void	broker_class_wait(struct broker *br, struct blink *l, uint64_t now);
void	broker_class_due(struct broker *br, uint64_t now);
enum outcome broker_up_outcome(unsigned path);
void	broker_count_unreported(struct broker *br, struct blink *l);

#endif
