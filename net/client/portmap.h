/*
 * Port mapping at the node's router (issue 16): UPnP-IGD (libminiupnpc),
 * NAT-PMP (libnatpmp) and PCP (RFC 6887, net/wire/pcp). At start-up all
 * three are tried at once, within a deadline, for a socket of the node's
 * own; the first that maps (PCP, then NAT-PMP, then UPnP, where several
 * do) is the one the node keeps: it renews that mapping while alive and
 * deletes it on the way out, and maps each link's fresh socket with it
 * (portmap_request), so that the link's external port is known exactly and
 * takes packets from anyone (NAT_F_PORTMAP in the node's profile).
 *
 * Every exchange with the router blocks (miniupnpc's calls do), so each
 * runs in a thread of its own; portmap_request tells the loop through a
 * pipe. A router without any of them costs the start-up nothing but the
 * deadline's rest, and the node behaves as without.
 */
#ifndef TREECAST_PORTMAP_H
#define TREECAST_PORTMAP_H

#include <stdint.h>

struct event_base;
struct portmap;
struct portmap_req;

enum portmap_method {
	PORTMAP_NONE = 0,
	PORTMAP_PCP,
	PORTMAP_NATPMP,
	PORTMAP_UPNP,
	PORTMAP_COUNT
};

#define PORTMAP_DEADLINE_MS	1500	/* the start-up's whole attempt */
#define PORTMAP_LIFETIME	120	/* s: the node's mapping, renewed at half */
#define PORTMAP_LINK_LIFETIME	120	/* s: a link's, not renewed: once
					   the link is up its flow holds */

struct portmap_map {
	enum portmap_method	method;
	uint16_t		internal;	/* the local port */
	uint16_t		external;	/* the router's */
	uint32_t		lifetime;	/* s, as granted */
	uint8_t			nonce[12];	/* PCP's */
	unsigned		ms;		/* how long it took */
};

const char *portmap_method_name(enum portmap_method m);

/* Starts the attempt (threads; never blocks): NULL when there is no
 * default gateway or no thread. methods: a bit (1 << PORTMAP_*) for each
 * to try, 0 for all. */
struct portmap *portmap_probe_start(unsigned methods);
/* Waits until every method answered or deadline_ms after the start, logs
 * one line for each, and returns 0 with the kept mapping in out, or -1
 * (then pm is freed: none mapped). */
int	portmap_probe_finish(struct portmap **pm, struct portmap_map *out);
/* Renews the node's mapping (in a thread; the outcome is logged). */
void	portmap_renew(struct portmap *pm);

/* Maps local UDP port port for a link; cb hears it on base's loop (m NULL:
 * no mapping, after at most 1 s). */
typedef void (*portmap_cb)(void *arg, const struct portmap_map *m);
struct portmap_req *portmap_request(struct portmap *pm,
	    struct event_base *base, uint16_t port, portmap_cb cb, void *arg);
/* No callback after this; a mapping it still gets is deleted. */
void	portmap_cancel(struct portmap_req *r);
/* Deletes a link's mapping, in a thread. */
void	portmap_unmap(struct portmap *pm, const struct portmap_map *m);
/* Deletes the node's mapping (waits up to 500 ms for it and the links'
 * deletions still under way) and frees. NULL: nothing. */
void	portmap_free(struct portmap *pm);

#endif
