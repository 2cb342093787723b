/* The negotiation server: the control protocol over UDP (DESIGN.md,
 * "Control protocol"), a STUN server for plain Binding requests, the
 * registry of nodes, and the HTTP API. */
#ifndef TREECAST_SERVER_H
#define TREECAST_SERVER_H

#include <stdint.h>

#include "net/addr.h"
#include "net/stun.h"

struct event_base;
struct server;
struct registry;
struct channels;

struct server_config {
	struct addr	listen;		/* primary address and port */
	uint16_t	alt_port;	/* the second port */
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
	X(drop_amplify,		"dropped: the answer would be larger than an unauthenticated request") \
	X(drop_unpadded,	"dropped: register request under the minimum size") \
	X(drop_bad_integrity,	"dropped or refused: MESSAGE-INTEGRITY-SHA256 wrong or missing") \
	X(drop_unknown_session,	"refused: no such session (expired, or negotiator restarted)") \
	X(drop_replay,		"dropped: sequence number below the last one") \
	X(retransmits,		"authenticated requests seen again, answered again") \
	X(err_unknown_attr,	"answered 420: unknown comprehension-required attribute") \
	X(err_bad_request,	"answered 400: missing or malformed attribute")	\
	X(err_full,		"answered 508: registry or channel table full")	\
	X(binding,		"Binding requests answered")		\
	X(binding_change,	"Binding requests answered from another address or port") \
	X(registered,		"registrations")			\
	X(reregistered,		"registrations of a node already known")	\
	X(keepalive,		"keepalives")				\
	X(rebinding,		"keepalives from a new external address")	\
	X(left,			"nodes that said goodbye")		\
	X(joined,		"JOINs answered with a parent")		\
	X(join_no_parent,	"JOINs with no parent to give (no origin, no free slot)") \
	X(link_unknown_peer,	"LINK for a node not registered on the channel") \
	X(link_unknown_report,	"REPORT of a link the broker does not know") \
	X(expired,		"nodes that went silent")

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
size_t	server_registry_bytes(struct server *s);
/* Logs the summary line of figures. */
void	server_log_stats(struct server *s);
/* The registry, for reading, with the workers held off until unlock. */
const struct registry *server_lock_registry(struct server *s);
void	server_unlock_registry(struct server *s);
/* The channel table; only between server_lock_registry and unlock. */
const struct channels *server_channels_locked(struct server *s);
/* Where the node in slot sits in its channel's tree (JOIN): its parent's
 * node id and how many children it has; -1 (children still set) when it
 * has no parent (the origin, or not joined). Under server_lock_registry. */
int	server_placement_locked(struct server *s, uint32_t slot,
	    uint64_t *parent, unsigned *children);
/* The link broker, for its JSON. */
struct broker *server_broker(struct server *s);
/* The registry's clock: seconds since start. */
uint32_t server_clock(const struct server *s);

#endif
