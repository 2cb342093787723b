/* The negotiation server: the control protocol over UDP (DESIGN.md,
 * "Control protocol"), a STUN server for plain Binding requests, the
 * registry of nodes, and the HTTP API. */
#ifndef TREECAST_SERVER_H
#define TREECAST_SERVER_H

#include <stdint.h>

#include "negotiator/forest.h"
#include "net/util/addr.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

struct event_base;
struct server;
struct registry;
struct channels;
struct server_state;

/* A node's last STATUS: what it says it is linked to, and its figures. */
struct server_health {
	uint64_t	at_ms;		/* the server's clock; 0: never */
	uint64_t	parent;		/* linked to (node id; 0: none) */
	uint64_t	children[TC_FANOUT_DEFAULT];
	uint8_t		nchildren;	/* linked children (ids: the first 2) */
	struct tc_health h;
	uint16_t	channel;	/* the node's, and its role, as */
	uint8_t		role;		/* server_offload_locked counts it */
};

struct server_config {
	struct addr	listen;		/* primary address and port */
	uint16_t	alt_port;	/* the second port */
	int		has_listen6;
	struct addr	listen6;	/* IPv6 beside an IPv4 listen (V6ONLY) */
	int		listen6_optional; /* the default: skipped without IPv6 */
	int		has_alt_address;
	struct addr	alt_address;	/* RFC 5780's other address (port ignored) */
	int		has_http;
	struct addr	http;		/* JSON API */
	uint32_t	max_nodes;
	uint32_t	interval_ms;	/* keepalive interval told to nodes */
	uint32_t	expire_s;	/* silent this long: gone */
	uint32_t	stats_s;	/* a log line of figures this often; 0: never */
	uint32_t	threads;	/* worker threads, each with its sockets */
	int		has_relay;
	struct addr	relay;		/* the relay's socket */
	uint32_t	relay_max;	/* relayed links at once */
	/* Answers to unauthenticated requests, a source prefix (IPv4 /24,
	 * IPv6 /56): a second, and at once; 0 in either: no limit. */
	uint32_t	unauth_rate;
	uint32_t	unauth_burst;
};

/*
 * Counters, declared once: name and help. Every drop has its own counter,
 * so that a hostile datagram is counted by kind.
 */
#define SERVER_COUNTERS(X)						\
	X(rx_datagrams,		"datagrams received")			\
	X(rx_bytes,		"bytes received")			\
	X(tx_datagrams,		"datagrams sent")			\
	X(tx_bytes,		"bytes sent")				\
	X(drop_not_stun,	"dropped: not STUN (bits, cookie, size)")	\
	X(drop_parse,		"dropped: malformed STUN (see parse errors)")	\
	X(drop_not_request,	"dropped: not a request")		\
	X(drop_amplify,		"dropped: the answer would be over twice an unauthenticated request, or larger than an authenticated one") \
	X(drop_unauth_rate,	"dropped: an unauthenticated answer over its source prefix's budget (--unauth-rate, --unauth-burst)") \
	X(drop_unpadded,	"dropped: register request under the minimum size") \
	X(drop_bad_integrity,	"dropped or refused: MESSAGE-INTEGRITY-SHA256 wrong or missing") \
	X(drop_unknown_session,	"refused: no such session (expired, or negotiator restarted)") \
	X(drop_replay,		"dropped: sequence number below the last one") \
	X(retransmits,		"authenticated requests seen again, answered again") \
	X(err_unknown_attr,	"answered 420: unknown comprehension-required attribute") \
	X(err_bad_request,	"answered 400: missing or malformed attribute")	\
	X(err_full,		"answered 508: registry or channel table full")	\
	X(err_no_channel,	"answered 404: a peer named a label no origin holds") \
	X(err_label_taken,	"refused: an origin claimed a label another key holds") \
	X(challenges,		"origin REGISTERs answered 401 with a challenge to sign") \
	X(drop_bad_signature,	"refused: origin REGISTER not signed by the channel's key") \
	X(drop_hijack,		"refused: REGISTER for a registered node id without its credential") \
	X(binding,		"Binding requests answered")		\
	X(binding_change,	"Binding requests answered from another address or port") \
	X(registered,		"registrations")			\
	X(reregistered,		"registrations of a node already known")	\
	X(keepalive,		"keepalives")				\
	X(rebinding,		"keepalives from a new external address")	\
	X(left,			"nodes that said goodbye")		\
	X(joined,		"JOINs answered with a parent")		\
	X(parents_gone,		"parents taken for gone: children lost them, and silent") \
	X(instruct_gone,	"peers taken for gone: a link's INSTRUCTs unanswered, and silent") \
	X(status,		"STATUS reports from nodes")		\
	X(join_no_parent,	"JOINs with no parent to give (no origin, no free slot)") \
	X(link_unknown_peer,	"LINK for a node not registered on the channel") \
	X(link_unknown_report,	"REPORT of a link the broker does not know") \
	X(expired,		"nodes that went silent")			\
	X(moves_pushed,		"MOVEs sent: nodes told of a new parent at once")	\
	X(accusations,		"ACCUSE: children's reports of a parent relaying chunks that fail the channel's signature") \
	X(accuse_refused,	"ACCUSE refused: the accused is not the node's parent in the tree") \
	X(parents_cut,		"parents cut off for tampering: made non-repeaters, their children moved")

struct server_stats {
#define SERVER_STATS_FIELD(name, help) uint64_t name;
	SERVER_COUNTERS(SERVER_STATS_FIELD)
#undef SERVER_STATS_FIELD
	uint64_t	parse_errors[STUN_E_COUNT];
};

struct server *server_create(struct event_base *base,
	    const struct server_config *cfg, char *err, size_t errlen);
void	server_free(struct server *s);
/* Every counter, summed over the workers as of their last tick. */
void	server_stats(struct server *s, struct server_stats *out);
uint32_t server_nodes(struct server *s);
/* Logs the summary line of figures. */
void	server_log_stats(struct server *s);
/* The registry, for reading, with the workers held off until unlock
 * (the tests and the fuzzer; the HTTP side takes a view). */
const struct registry *server_lock_registry(struct server *s);
void	server_unlock_registry(struct server *s);
/* The channels' trees (negotiator/forest.h); only between
 * server_lock_registry and unlock. */
const struct forest *server_forest_locked(struct server *s);

/* The playout figures the last STATUS of each peer on a channel gave,
 * summed: ms played and stalled, and stalls (media/playout.h). */
struct server_playout {
	uint64_t	played_ms, stalled_ms, stalls;
};

/*
 * What the HTTP side reads of the node state. server_view_begin takes the
 * state's lock and holds it, the workers held off, until
 * server_view_end: the figures are copies taken at the start, the
 * tables the live ones, to be read (not kept) in between. Take it on the
 * main thread, and keep it short.
 */
struct server_view {
	const struct registry	*reg;
	const struct channels	*channels;
	const struct forest	*forest;
	uint32_t		 nodes;		/* registered */
	size_t			 registry_bytes;
	struct forest_stats	 forest_stats;
	uint32_t		 clock;		/* server_clock() */
	uint64_t		 clock_ms;	/* server_clock_ms() */
	const struct server_state *ns;	/* the rest, for the readers below */
};
void	server_view_begin(struct server *s, struct server_view *snap);
void	server_view_end(struct server *s, struct server_view *snap);
/* 1 with the IPv6 address the node in slot registered in ss; 0: none. */
int	server_view_addr6(const struct server_view *snap, uint32_t slot,
	    struct sockaddr_storage *ss);
/* The node in slot's last STATUS, NULL if it never sent one. */
const struct server_health *server_view_health(
	    const struct server_view *snap, uint32_t slot);
/* The stream bytes the last STATUS of each node on channel ch (-1:
 * every channel) gave: the origins' sent, the peers' received. Kept as
 * the STATUS reports come and go, not summed here. */
void	server_view_offload(const struct server_view *snap, int ch,
	    uint64_t *origin_out, uint64_t *delivered);
/* The playout figures of the peers on channel ch (-1: every channel),
 * summed as the offload's. */
void	server_view_playout(const struct server_view *snap, int ch,
	    struct server_playout *out);
/* The server's clock in ms, as in server_health. */
uint64_t server_clock_ms(const struct server *s);

/*
 * The verifier's side (negotiator/verifier.c, on the main thread). The next
 * candidate to try: 0 with its node id and a token for the verdict, -1 if
 * none waits.
 */
int	server_next_candidate(struct server *s, uint64_t *node_id,
	    uint64_t *token);
/* The verifier could not try it (its own trouble, not the node's): the
 * candidate waits again, behind the others. */
void	server_retry(struct server *s, uint64_t token);
/* The verifier's verdict; reason (for a failure) must outlive the server. */
void	server_verdict(struct server *s, uint64_t token, int ok,
	    const char *reason);
/* The link broker, for its JSON. */
struct broker *server_broker(struct server *s);
/* The registry's clock: seconds since start. */
uint32_t server_clock(const struct server *s);

#endif
