/* struct node, for node.c and node-serve.c alone. */
#ifndef TREECAST_NODE_PRIVATE_H
#define TREECAST_NODE_PRIVATE_H

#include "net/node/node.h"

struct event;
struct udt_loop;

struct node {
	struct event_base	*base;
	struct node_config	 cfg;
	struct node_hooks	 hooks;
	void			*arg;
	struct discover		*disc;
	struct session		*session;
	struct event		*sigint, *sigterm;
	int			 exit_code;
	struct portmap		*pm;		/* the router's mapping, or NULL */
	struct event		*pm_renew;
	/* node_serving's, and what node.c calls of it (NULL without) */
	struct ring		*ring;
	struct serve		*serve;
	struct udt_loop		*udt;
	struct link_agent	*agent;
	struct event		*progress, *status, *drain;
	uint64_t		 draining;	/* since, clock_ms */
	/* After session_start: the agent and timers; -1 (err) if not. */
	int			(*attach)(struct node *n, char *err,
				    size_t errlen);
	/* After the program's start: the progress and STATUS timers. */
	void			(*arm)(struct node *n);
	/* Left: 1 when children are drained first (the loop ends then). */
	int			(*start_drain)(struct node *n);
	void			(*detach)(struct node *n);
};

#endif
