/* Hole punching on one fresh UDP socket (DESIGN.md, flow 3): send paced
 * check messages to every candidate address of the peer and answer the
 * peer's. Checks are STUN requests carrying the link's nonce under
 * MESSAGE-INTEGRITY-SHA256 with the link's key, so a stranger can neither
 * complete nor fake the punch.
 *
 * Behind address-dependent NATs several pairs of addresses may work, and
 * each side may see a different one first; UDT needs both to use the same.
 * So, as ICE does, one side controls: once one of its checks is answered
 * it nominates that pair (a check with NOMINATE) until the nomination is
 * answered; the other side takes the pair a nomination came from, and
 * finishes when nominations stop. On a libevent loop; the socket is left
 * open for UDT to take over. */
#ifndef TREECAST_PUNCH_H
#define TREECAST_PUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "net/util/addr.h"

struct event_base;
struct punch;

#define PUNCH_MAX_CANDIDATES	32
#define PUNCH_KEY_LEN		32

struct punch_config {
	int		 fd;		/* bound, non-blocking; not closed here */
	struct addr	 cand[PUNCH_MAX_CANDIDATES];
	size_t		 ncand;
	uint8_t		 key[PUNCH_KEY_LEN];	/* the link's key, both sides */
	uint64_t	 nonce;			/* the link's id, both sides */
	int		 controlling;	/* this side nominates the pair */
	int		 strict;	/* take checks only from candidates, as a
					   peer behind an address-and-port-
					   dependent NAT does: no peer-
					   reflexive ones (the verifier) */
	unsigned	 interval_ms;	/* between rounds of checks (20) */
	unsigned	 timeout_ms;	/* give up (5000) */
	/* Shared by punches racing on one link's sockets (IPv4 and IPv6,
	 * as ICE checks its pairs at once): the controlling side's first to
	 * have a check answered nominates its pair and sets *claim; the
	 * others then only answer. NULL: this punch alone. */
	int		*claim;
	unsigned	 every;		/* check the candidates every this many
					   rounds (0, 1: each round); a
					   nomination and its answers are not
					   slowed */
	/* Birthday probes (DESIGN.md, flow 3): spray checks from this socket
	 * to spray random ports of spray_ip, spray_round a round from round
	 * spray_after on, each port at most once. An answer from any of them
	 * is a working pair, as a candidate's would be. */
	struct addr	 spray_ip;	/* len 0: no probes */
	unsigned	 spray;
	unsigned	 spray_round;
	unsigned	 spray_after;
};

/* With no candidates the punch only answers, and checks whoever sent a
 * genuine check (an open host facing an unpredictable NAT). */
/* peer: where the peer's answer came from (NULL on failure); why says
 * what failed. */
typedef void (*punch_cb)(void *arg, const struct sockaddr *peer,
    socklen_t peerlen, const char *why);

struct punch *punch_start(struct event_base *base,
	    const struct punch_config *cfg, punch_cb cb, void *arg);
/* Stops (no callback after this) and frees; the socket stays open. From
 * the punch's own callback too: then it goes once that returns. */
void	punch_free(struct punch *p);

struct punch_stats {
	unsigned	sent, received, answered, rejected;
	unsigned	learnt;		/* candidates learnt from the peer's checks */
	unsigned	sprayed;	/* birthday probes sent */
};
const struct punch_stats *punch_stats(const struct punch *p);

#endif
