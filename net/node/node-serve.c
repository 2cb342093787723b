/* node_serving: what a node of the tree has beside its session: the ring,
 * the serving children, UDT and the link agent, the progress line, the
 * STATUS reports and, leaving, the drain (net/node/node.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "net/link/udt.h"
#include "media/ring.h"
#include "media/serve.h"
#include "net/node/node-private.h"
#include "net/util/clock.h"
#include "net/util/log.h"

#define NODE_PROGRESS_S	10	/* the progress line's period */
#define NODE_DRAIN_EVERY_MS 50

/* Every link a node takes is a child's; the program claims the rest of
 * its links' events (its parent's, its bridge's) before the children. */
static int
node_incoming(void *arg, struct link *l, uint64_t peer)
{
	struct node *n = arg;

	(void)l;
	return serve_incoming(n->serve, peer);
}

static void
node_connected(void *arg, struct link *l)
{
	struct node *n = arg;

	if (n->hooks.link_connected == NULL ||
	    !n->hooks.link_connected(n->arg, l))
		serve_connected(n->serve, l);
}

static void
node_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	struct node *n = arg;

	/* link.c logged it; a child's attempt needs nothing more */
	if (n->hooks.link_failed != NULL)
		n->hooks.link_failed(n->arg, l, step, why);
}

static void
node_message(void *arg, struct link *l, const uint8_t *msg, size_t len)
{
	struct node *n = arg;

	if (n->hooks.link_message == NULL ||
	    !n->hooks.link_message(n->arg, l, msg, len))
		serve_message(n->serve, l, msg, len);
}

static void
node_closed(void *arg, struct link *l, const char *why)
{
	struct node *n = arg;

	if (n->hooks.link_closed == NULL ||
	    !n->hooks.link_closed(n->arg, l, why))
		serve_closed(n->serve, l, why);
}

static const struct link_callbacks node_links = {
	node_incoming, node_connected, node_failed, node_message, node_closed
};

static int
node_attach(struct node *n, char *err, size_t errlen)
{
	struct link_options o = link_defaults;

	o.portmap = n->pm;
	if ((n->agent = link_agent_new(n->base, n->session, n->udt,
	    &node_links, n, &o)) == NULL) {
		snprintf(err, errlen, "cannot make the link agent");
		return -1;
	}
	return 0;
}

static void
node_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	(void)fd;
	(void)what;
	n->hooks.progress(n->arg);
}

/* STATUS: the node's children and upload, and the program's figures,
 * for the status page. */
static void
node_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct tc_health h;
	uint64_t parent = 0;

	(void)fd;
	(void)what;
	memset(&h, 0, sizeof h);
	if (n->hooks.health != NULL)
		parent = n->hooks.health(n->arg, &h);
	serve_report(n->serve, n->session, parent, &h, TC_STATUS_MS);
}

static void
node_arm(struct node *n)
{
	struct timeval every = { NODE_PROGRESS_S, 0 };
	struct timeval status_every = { TC_STATUS_MS / 1000,
	    TC_STATUS_MS % 1000 * 1000 };

	if (n->hooks.progress != NULL) {
		n->progress = event_new(n->base, -1, EV_PERSIST,
		    node_progress_cb, n);
		event_add(n->progress, &every);
	}
	n->status = event_new(n->base, -1, EV_PERSIST, node_status_cb, n);
	event_add(n->status, &status_every);
}

static void
node_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	uint64_t ms = clock_ms() - n->draining;

	(void)fd;
	(void)what;
	if (serve_children(n->serve) > 0 && ms < n->cfg.drain_ms)
		return;
	log_info("%zu children left after %llu ms of draining",
	    serve_children(n->serve), (unsigned long long)ms);
	event_base_loopexit(n->base, NULL);
}

/* Left the negotiator (which has moved our children): serve them until
 * their new parents bring them the stream and they let go of us, so
 * that a graceful departure costs them nothing; drain_ms at most. */
static int
node_start_drain(struct node *n)
{
	struct timeval every = { 0, NODE_DRAIN_EVERY_MS * 1000 };

	if (n->cfg.drain_ms == 0 || serve_children(n->serve) == 0 ||
	    (n->drain = event_new(n->base, -1, EV_PERSIST, node_drain_cb,
	    n)) == NULL)
		return 0;
	n->draining = clock_ms();
	log_info("serving %zu children until they have moved",
	    serve_children(n->serve));
	event_add(n->drain, &every);
	return 1;
}

static void
node_detach(struct node *n)
{
	link_agent_free(n->agent);
	n->agent = NULL;
	if (n->progress != NULL)
		event_free(n->progress);
	if (n->status != NULL)
		event_free(n->status);
	if (n->drain != NULL)
		event_free(n->drain);
	serve_free(n->serve);
	ring_free(n->ring);
	udt_loop_free(n->udt);
}

void
node_serving(struct node *n)
{
	char err[256];

	if ((n->ring = ring_create(n->cfg.ring_size)) == NULL ||
	    (n->serve = serve_new(n->base, n->ring,
	    n->cfg.session.fanout)) == NULL)
		fatal("cannot allocate a ring of %zu chunks", n->cfg.ring_size);
	if ((n->udt = udt_loop_new(n->base, err, sizeof err)) == NULL)
		fatal("%s", err);
	n->attach = node_attach;
	n->arm = node_arm;
	n->start_drain = node_start_drain;
	n->detach = node_detach;
}
