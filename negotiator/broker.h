/* The link broker (DESIGN.md, flow 3; the paper, section IV D) and the
 * relay for pairs that no prediction can join.
 *
 * A asks for a link to B (LINK, with its fresh socket's mapping and
 * predicted ports); the broker instructs B (INSTRUCT, retransmitted until
 * B's ACK or a deadline); B's ACK carries its own mapping and predictions,
 * and the broker answers A's LINK with them: the GO. Both ends then punch
 * (or bind at the relay) on their own and report the outcome, which the
 * broker counts by the pair's NAT classes.
 *
 * Workers call in from their threads with what they read from the
 * registry; the broker has its own lock and never takes the registry's,
 * and it sends only with its lock let go (what to send is decided under
 * it, into a small buffer). Retransmission and expiry run on the main
 * thread's loop. */
#ifndef TREECAST_BROKER_H
#define TREECAST_BROKER_H

#include <stdint.h>
#include <sys/socket.h>

#include "net/util/addr.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"

struct event_base;
struct evbuffer;
struct broker;

/* Sends one datagram from the negotiator's primary port (src: the local
 * address to send from, NULL for the kernel's choice). Thread-safe;
 * called with no broker lock held, so it may call the broker again. */
typedef void (*broker_send_fn)(void *ctx, const struct sockaddr *to,
    const uint8_t *msg, size_t len, const struct sockaddr *src);

struct broker_config {
	uint32_t	max_links;	/* links in flight and remembered (0:
					   32,768); the oldest answered goes
					   first when full */
	int		has_relay;
	struct addr	relay;		/* the relay's socket, bound here */
	uint32_t	relay_max;	/* relayed links at once */
	uint32_t	relay_idle_s;	/* a silent relayed link ends, and
					   one not bound on both sides this
					   long after it was made (0: 30) */
};

/* One end of a requested link, as the registry has it. */
struct broker_node {
	uint64_t		node_id;
	uint64_t		session;
	uint8_t			key[TC_KEY_LEN];
	struct nat_profile	profile;
	struct sockaddr_storage	addr;	/* its session's external address */
	int			verifier;	/* the negotiator's own: its links
						   are counted apart from the
						   viewers' */
};

struct broker *broker_create(struct event_base *base,
	    const struct broker_config *cfg, broker_send_fn send, void *ctx,
	    char *err, size_t errlen);
/* B (node_id) has answered none of a link's INSTRUCTs for
 * BROKER_SILENT_MS: most likely it is gone, and its owner may judge so
 * from what else it knows. Called once a link, from the main thread's
 * loop, with no broker lock held. */
typedef void (*broker_silent_fn)(void *ctx, uint64_t node_id);
void	broker_on_silent(struct broker *b, broker_silent_fn fn, void *ctx);
void	broker_free(struct broker *b);

/*
 * A's authenticated LINK for B, which arrived at local. Returns 0 when the
 * broker took it (the answer comes later, from the broker; a
 * retransmission of a LINK under way is absorbed), or a STUN error code
 * for the caller to answer now (508: too many links in flight).
 */
int	broker_link(struct broker *b, const struct broker_node *a,
	    const struct broker_node *peer, const uint8_t tid[12],
	    const struct tc_endpoint *ep, const struct sockaddr *local);
/* A success or error answer to INSTRUCT, unauthenticated so far. Returns
 * 0 if it was one the broker waits for and it passed integrity. */
int	broker_instruct_answer(struct broker *b, const struct stun_msg *m);
/* A node's authenticated REPORT of link. 0, or -1 for no such link;
 * *acceptor is the other end's session when the initiator reported (its
 * outcome is a verdict on the acceptor, as a parent), else 0. */
int	broker_report(struct broker *b, uint64_t session, uint64_t link,
	    const struct tc_outcome *o, uint64_t *acceptor);
/* ... with what the node saw (NULL: an older node's REPORT, without). */
int	broker_report_seen(struct broker *b, uint64_t session, uint64_t link,
	    const struct tc_outcome *o, const struct tc_link_seen *seen,
	    uint64_t *acceptor);

/* Why a link failed or went through the relay (the paper's open
 * question), on the evidence the negotiator has. */
enum link_class {
	LINK_CLASS_NONE = 0,	/* connected directly: nothing to explain */
	LINK_CLASS_RANDOM,	/* a random allocator: no prediction */
	LINK_CLASS_LOSSY,	/* a lossy or slow path, as measured by an
				   end's requests to the negotiator */
	LINK_CLASS_FILTERING,	/* checks sent, none let through, though
				   the mapping was predicted */
	LINK_CLASS_MAPPING,	/* the mapping moved (checks came from a
				   port not predicted) or expired (UDT
				   failed on a punched pair) */
	LINK_CLASS_PEER_GONE,	/* the other end left or stopped answering */
	LINK_CLASS_UNKNOWN,	/* none of these, on the evidence */
	LINK_CLASS_COUNT
};
/* Lossy: an end lost this share of its requests lately, or waits this
 * long for an answer. */
#define LINK_LOSSY_PERMILLE	100
#define LINK_SLOW_MS		1000

/* One end's REPORT, as the broker holds it. */
struct broker_end {
	int			have;		/* its REPORT came */
	struct tc_outcome	o;
	int			have_seen;	/* with TC_ATTR_LINK_SEEN */
	struct tc_link_seen	seen;
};
/* The class of a link from its ends' profiles and reports (A asked, B
 * was asked); silent: B never answered INSTRUCT. Pure. */
enum link_class broker_classify(const struct nat_profile *pa,
	    const struct nat_profile *pb, const struct broker_end *a,
	    const struct broker_end *b, int silent);
const char *link_class_name(enum link_class c);

/* Counters and the outcome table as one JSON object. */
/* The outcome counts in the Prometheus text format, for /metrics. */
void	broker_metrics(struct broker *b, struct evbuffer *out);
void	broker_json(struct broker *b, struct evbuffer *out);

#endif
