/* The verifier (DESIGN.md, "Tree manager"): a node is made a repeater only
 * once a punched link into it has worked. The verifier is a client of the
 * negotiator's own, registered as TC_ROLE_VERIFIER, and tries each new
 * candidate exactly as a child would: a fresh socket, LINK, the broker's
 * INSTRUCT to the node, the punch, UDT and the node's HELLO. It punches as
 * the most demanding child does, one behind an address-and-port-dependent
 * NAT: only to the ports the node predicted, taking checks only from them
 * (no peer-reflexive candidates), so that passing says the node's
 * prediction holds. Its sockets sit on the second address where there is
 * one, an address the node has never sent to. On the main thread. */
#ifndef TREECAST_VERIFIER_H
#define TREECAST_VERIFIER_H

#include <stdint.h>

#include "net/util/addr.h"

struct event_base;
struct server;
struct verifier;

#define VERIFIER_INFLIGHT	16	/* verifications at once */

/* Registers with the server at server_addr (one of its addresses, which
 * the verifier's sockets also bind to) and starts; with v6 (an IPv6
 * address of the server's; NULL: none) its links try IPv6 too, so that
 * a node reachable over IPv6 alone is verified over it. NULL with a
 * reason. */
struct verifier *verifier_start(struct event_base *base, struct server *srv,
	    const struct addr *server_addr, const struct addr *v6, char *err,
	    size_t errlen);
void	verifier_free(struct verifier *v);

#endif
