/* Links between nodes, brokered by the negotiator (DESIGN.md, flow 3; the
 * paper, section IV D): ask for a link to a node, accept one, and move
 * messages over it.
 *
 * A link gets a fresh UDP socket whose mapping the negotiator reflects just
 * before the punch; each side predicts its next external ports from its NAT
 * profile, the negotiator passes them across (LINK, INSTRUCT, its ACK, then
 * LINK's answer as the GO), both sides punch with authenticated checks
 * (net/link/punch), and UDT takes the socket over in rendezvous mode (net/link/udt).
 * Where neither side can be reached by prediction (a random allocator
 * against an address-dependent one) the negotiator says so and the link
 * runs through its relay instead: same socket, same UDT, the negotiator
 * forwarding. A random allocator against an endpoint-independent mapping
 * that filters is joined by birthday punching: the random side opens many
 * sockets towards the other's one mapping, which probes many ports of the
 * random side's address until one probe meets one of those mappings; the
 * relay serves such a pair only once that failed. Each side reports the outcome, so the negotiator counts them
 * by NAT-class pair.
 *
 * Everything runs on the session's libevent loop; UDT's threads wake it
 * through an eventfd, never by polling. */
#ifndef TREECAST_LINK_H
#define TREECAST_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/client/session.h"
#include "net/util/addr.h"
#include "net/wire/proto.h"

struct event_base;
struct nat_profile;
struct portmap;
struct session;
struct udt_loop;
struct link_agent;
struct link;

struct link_callbacks {
	/* A node asks for a link to us: return 0 to take it (connected or
	 * failed follows), -1 to refuse. NULL: take every one. */
	int	(*incoming)(void *arg, struct link *l, uint64_t peer_node);
	/* UDT is up: link_send works from now on. */
	void	(*connected)(void *arg, struct link *l);
	/* The attempt failed at step; the link is freed on return. */
	void	(*failed)(void *arg, struct link *l, enum link_step step,
		    const char *why);
	/* One message, as the peer sent it. */
	void	(*message)(void *arg, struct link *l, const uint8_t *msg,
		    size_t len);
	/* A connected link broke or the peer closed it; freed on return. */
	void	(*closed)(void *arg, struct link *l, const char *why);
};

struct link_options {
	unsigned	window;		/* sequential candidates past the
					   prediction (8) */
	unsigned	punch_ms;	/* give up punching after (6000) */
	unsigned	udt_ms;		/* give up UDT's handshake after (6000) */
	int		strict;		/* punch as a child behind an address-
					   and-port-dependent NAT would: only
					   the peer's predicted ports, no peer-
					   reflexive candidates (the verifier) */
	struct addr	bind;		/* link sockets' local address (len 0:
					   any) */
	unsigned	birthday_sockets; /* birthday punching, the random
					   side: sockets towards the peer's
					   one mapping (256) */
	unsigned	birthday_probes; /* the endpoint-independent side:
					   ports of the peer's address probed
					   (2048) */
	struct portmap	*portmap;	/* map each link's socket at the
					   router (net/client/portmap.h;
					   NULL: none) */
};
extern const struct link_options link_defaults;

/*
 * An agent serves one registered session: it answers the negotiator's
 * INSTRUCT requests on the session's socket and asks for links with LINK.
 * udt is the loop's UDT (udt_loop_new). o may be NULL.
 */
struct link_agent *link_agent_new(struct event_base *base,
	    struct session *s, struct udt_loop *udt,
	    const struct link_callbacks *cb, void *arg,
	    const struct link_options *o);
/* The session's authenticated requests other than INSTRUCT (the agent
 * holds the session's one request handler) go to cb. */
void	link_agent_on_request(struct link_agent *a, session_request_cb cb,
	    void *arg);
/* Closes every link (no callbacks) and frees. */
void	link_agent_free(struct link_agent *a);

/* Asks the negotiator for a link to node peer; connected or failed
 * follows. NULL with a reason in err if it cannot start. */
struct link *link_open(struct link_agent *a, uint64_t peer, char *err,
	    size_t errlen);
/* Sends one message (reliable, in order). Returns 0, or -1 with errno
 * EAGAIN when UDT's buffer is full (try again later) or ENOTCONN. */
int	link_send(struct link *l, const void *msg, size_t len);
/* Packets sent and not yet acknowledged (UDT's count); links close at
 * once, so wait for 0 before closing when the last message matters. */
ssize_t	link_unacked(struct link *l);
/* UDT's figures for a connected link (RTT, rates, loss); -1 before. */
struct udt_stats;
int	link_stats(struct link *l, struct udt_stats *out);
/* Closes; no callback runs for it afterwards. May be called from any of
 * the link's callbacks (from failed or closed it does nothing: the link
 * is over); l is freed on the loop's next turn, once they have returned,
 * and must not be used after this. */
void	link_close(struct link *l);

uint64_t link_peer(const struct link *l);
/* The peer's NAT profile as the negotiator has it (zeroes until known). */
const struct nat_profile *link_peer_profile(const struct link *l);
uint64_t link_id(const struct link *l);
int	link_initiator(const struct link *l);
enum link_path link_path(const struct link *l);
/* 1 when the link's pair is IPv6 (both ends dual-stack, its check passed
 * first). */
int	link_ipv6(const struct link *l);
/* Milliseconds from the request (the INSTRUCT, on the accepting side) to
 * UDT up; -1 before. */
int	link_connect_ms(const struct link *l);
void	link_set_data(struct link *l, void *data);
void	*link_data(const struct link *l);


#endif
