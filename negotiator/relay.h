/* The relay (DESIGN.md, flow 3's fallback): for pairs that no punch can
 * join, the negotiator forwards a link's datagrams between its two
 * sockets. The broker makes a relayed link (an id and the link's key);
 * each end's socket binds with an authenticated RELAY request, and once
 * both are bound every datagram from one goes to the other.
 *
 * Its own lock: the broker calls in under its own (relay_add), and the
 * relay never calls the broker. */
#ifndef TREECAST_RELAY_H
#define TREECAST_RELAY_H

#include <stdint.h>

#include "net/util/addr.h"
#include "net/wire/proto.h"

struct event_base;
struct relay;

/* Its counters, one row each: X(name, help); help is /metrics' HELP
 * line of treecast_relay_NAME_total. */
#define RELAY_COUNTERS(X)						\
	X(links,	"Relayed links made")				\
	X(binds,	"Sockets bound by RELAY requests")		\
	X(packets,	"Datagrams the relay forwarded")		\
	X(bytes,	"Bytes the relay forwarded")			\
	X(dropped,	"Datagrams to the relay from no bound socket, "	\
			"or before the other side bound")		\
	X(full,		"Relayed links refused: relay_max at once")	\
	X(reused,	"Relayed links dropped: their address bound "	\
			"again")

struct relay_stats {
#define RELAY_STATS_FIELD(name, help)	uint64_t name;
	RELAY_COUNTERS(RELAY_STATS_FIELD)
#undef RELAY_STATS_FIELD
	uint32_t	live;		/* relayed links now */
};

/* Listens on at for up to max links at once; a link ends idle_s after
 * its last datagram, or idle_s after it was made if both sides have not
 * bound by then. NULL with a sentence in err. */
struct relay *relay_create(struct event_base *base, const struct addr *at,
	    uint32_t max, uint32_t idle_s, char *err, size_t errlen);
void	relay_free(struct relay *r);
/* A relayed link for link id, bound with key: 0, or -1 when max are
 * live. */
int	relay_add(struct relay *r, uint64_t id, const uint8_t key[TC_KEY_LEN],
	    uint64_t now_ms);
/* Ends the links past their deadline. */
void	relay_expire(struct relay *r, uint64_t now_ms);
void	relay_stats(struct relay *r, struct relay_stats *out);

#endif
