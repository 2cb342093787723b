/*
 * A node's lifecycle, shared by treecast-origin, treecast-peer and (its
 * first half) treecast-probe: the event loop, SIGINT and SIGTERM, NAT
 * discovery, the negotiator session, and the way out (leave, then, for a
 * node that serves, its children drained). node_serving adds what a node
 * of the tree has beside: the ring, the serving children, UDT and the link
 * agent, the progress line and the STATUS reports. What differs between
 * the programs comes in through struct node_hooks.
 *
 * node.c calls into net/client/ alone (the probe links it without links,
 * media or UDT); node-serve.c holds node_serving and all that calls
 * into net/link/ and media/.
 */
#ifndef TREECAST_NODE_H
#define TREECAST_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "net/client/discover.h"
#include "net/client/session.h"
#include "net/link/link.h"
#include "net/util/addr.h"
#include "net/wire/proto.h"

struct event_base;
struct node;
struct ring;
struct serve;

/* Option rows and their parsers that every node program has. */
#define NODE_ROW_NEGOTIATOR(key)					\
	{ "negotiator", (key), "HOST[:PORT]",				\
	  "the negotiation server (required; port 3478 by default)" }
#define NODE_ROW_NEGOTIATOR6(key)					\
	{ "negotiator6", (key), "[ADDR]:PORT",				\
	  "the negotiator's IPv6 address: a host with a route to it "	\
	  "registers its own and tries IPv6 beside IPv4 on every link "	\
	  "(port 3478 by default; default none: IPv4 alone)" }
#define NODE_ROW_NO_PORTMAP(key)					\
	{ "no-portmap", (key), NULL,					\
	  "ask the router for no port mapping (UPnP-IGD, NAT-PMP, PCP): "\
	  "links are then made by prediction alone" }

struct node_config {
	struct addr		server;
	/* The session's, but for its server and NAT profile, which the
	 * node fills in. */
	struct session_config	session;
	const struct discover_options *discover;	/* NULL: defaults */
	int			quiet;		/* no log line for a signal */
	int			no_portmap;	/* ask the router for no
						   mapping (--no-portmap) */
	/* node_serving's: */
	size_t			ring_size;	/* chunks kept */
	unsigned		drain_ms;	/* leaving, children served
						   this long at most (0: not) */
};

/* The defaults of a node's config: ring of 1024, fanout 2. */
void	node_config_init(struct node_config *c);
/* --negotiator HOST[:PORT] (opt names it) into c's server; exits
 * naming the value, or when there is none (NULL). */
void	node_config_server(struct node_config *c, const char *opt,
	    const char *text);
/* --negotiator6 [ADDR]:PORT into c's session: an IPv6 address, or exits
 * naming the value. */
void	node_config_server6(struct node_config *c, const char *opt,
	    const char *text);
/* --channel TEXT: 1 to TC_CHANNEL_MAX bytes, or exits; returns text. */
const char *node_check_channel(const char *text);
/* --fanout, --ring. */
void	node_config_fanout(struct node_config *c, const char *text,
	    unsigned min);
void	node_config_ring(struct node_config *c, const char *text);

struct node_hooks {
	/* NAT discovery's result: 0 to register (r->ok), 1 when the
	 * program took it (it stopped or exits). NULL: register, or log
	 * the reason and stop with 1. */
	int	(*discovered)(void *arg, const struct discover_result *r);
	/* The session started (its REGISTER on the way, not yet
	 * answered) and the link agent made: the program's own start.
	 * -1 stops the node with 1. */
	int	(*started)(void *arg);
	/* SESSION_REGISTERED (each time) and SESSION_LOST. */
	void	(*session)(void *arg, enum session_event ev);
	/* Link events: 1 when the program took the link's (its parent's,
	 * its bridge's), 0 to hand it to the serving children. Each may be
	 * NULL: all theirs. */
	int	(*link_connected)(void *arg, struct link *l);
	void	(*link_failed)(void *arg, struct link *l, enum link_step step,
		    const char *why);
	int	(*link_message)(void *arg, struct link *l, const uint8_t *msg,
		    size_t len);
	int	(*link_closed)(void *arg, struct link *l, const char *why);
	/* Every 10 s, and once more on the way out. */
	void	(*progress)(void *arg);
	/* Every TC_STATUS_MS: fills h (zeroed) and returns the parent's
	 * node id (0: none) for the STATUS report. */
	uint64_t (*health)(void *arg, struct tc_health *h);
};

/* Start-up: libsodium, the event loop; exits (fatal) if either fails. c
 * and h are copied; arg is every hook's. */
struct node *node_new(const struct node_config *c,
	    const struct node_hooks *h, void *arg);
/* The ring, serving children and UDT of a tree's node (exits if they
 * cannot be made); links and timers follow the registration. */
void	node_serving(struct node *n);
/* Signals, discovery, then the loop until the node is gone; then the
 * last progress line. Returns the exit code. */
int	node_run(struct node *n);
/* Leaves the negotiator (if registered: the loop ends when that and the
 * drain are done) with exit code code. */
void	node_stop(struct node *n, int code);
/* Ends the loop now. */
void	node_exit(struct node *n, int code);
void	node_free(struct node *n);

struct event_base *node_base(const struct node *n);
struct session *node_session(const struct node *n);	/* or NULL */
struct link_agent *node_agent(const struct node *n);	/* or NULL */
struct ring *node_ring(const struct node *n);
struct serve *node_serve(const struct node *n);

#endif
