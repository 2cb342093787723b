/* A node's lifecycle: start-up, discovery, the session, signals, the way
 * out (net/node/node.h). Needs net/client/ alone: what needs links and media is
 * node-serve.c's, reached through the pointers node_serving sets. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/client/portmap.h"
#include "net/node/node-private.h"
#include "net/util/log.h"
#include "net/util/opt.h"
#include "net/wire/nat.h"

void
node_config_init(struct node_config *c)
{
	memset(c, 0, sizeof *c);
	c->session.fanout = TC_FANOUT_DEFAULT;
	c->ring_size = 1024;
}

void
node_config_server(struct node_config *c, const char *opt, const char *text)
{
	char err[256];

	if (text == NULL)
		fatal("no %s HOST[:PORT] (see --help)", opt);
	if (addr_parse(text, TC_DEFAULT_PORT, 1, &c->server, err,
	    sizeof err) != 0)
		fatal("%s %s", opt, err);
}

void
node_config_server6(struct node_config *c, const char *opt, const char *text)
{
	char err[256];

	if (addr_parse(text, TC_DEFAULT_PORT, 1, &c->session.server6, err,
	    sizeof err) != 0)
		fatal("%s %s", opt, err);
	if (c->session.server6.ss.ss_family != AF_INET6)
		fatal("%s %s: not an IPv6 address", opt, text);
}

const char *
node_check_channel(const char *text)
{
	if (text[0] == '\0' || strlen(text) > TC_CHANNEL_MAX)
		fatal("--channel '%s': 1 to %d bytes", text, TC_CHANNEL_MAX);
	return text;
}

void
node_config_fanout(struct node_config *c, const char *text, unsigned min)
{
	c->session.fanout = (uint32_t)opt_number("fanout", text, min,
	    TC_FANOUT_MAX);
}

void
node_config_ring(struct node_config *c, const char *text)
{
	c->ring_size = opt_number("ring", text, 16, 65536);
}

struct node *
node_new(const struct node_config *c, const struct node_hooks *h, void *arg)
{
	struct node *n;

	if (sodium_init() < 0)
		fatal("libsodium failed to start");
	if ((n = calloc(1, sizeof *n)) == NULL)
		fatal("out of memory");
	n->cfg = *c;
	if (h != NULL)
		n->hooks = *h;
	n->arg = arg;
	signal(SIGPIPE, SIG_IGN);
	if ((n->base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	return n;
}

void
node_exit(struct node *n, int code)
{
	n->exit_code = code;
	event_base_loopexit(n->base, NULL);
}

void
node_stop(struct node *n, int code)
{
	n->exit_code = code;
	if (n->session != NULL && session_registered(n->session))
		session_leave(n->session);
	else
		event_base_loopexit(n->base, NULL);
}

static void
node_session_cb(void *arg, enum session_event ev, struct session *s)
{
	struct node *n = arg;

	if (ev != SESSION_LEFT) {
		if (n->hooks.session != NULL)
			n->hooks.session(n->arg, ev);
		return;
	}
	if (session_refused(s))
		n->exit_code = 1;	/* another channel's key */
	else if (n->start_drain != NULL && n->start_drain(n))
		return;		/* the drain ends the loop */
	event_base_loopexit(n->base, NULL);
}

static void
node_pm_renew(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	portmap_renew(arg);
}

/* The router's mapping, tried since start-up (node_run): with one, each
 * link's socket is mapped too, and the node is open to strangers. */
static void
node_portmap(struct node *n, struct nat_profile *p)
{
	struct portmap_map m;
	struct timeval tv = { PORTMAP_LIFETIME / 2, 0 };

	if (n->pm == NULL || portmap_probe_finish(&n->pm, &m) != 0)
		return;
	p->flags |= NAT_F_PORTMAP;
	n->pm_renew = event_new(n->base, -1, EV_PERSIST, node_pm_renew, n->pm);
	if (n->pm_renew != NULL)
		event_add(n->pm_renew, &tv);
}

static void
node_discovered(void *arg, const struct discover_result *r)
{
	struct node *n = arg;
	struct session_config sc = n->cfg.session;
	char err[256] = "";

	if (n->hooks.discovered != NULL && n->hooks.discovered(n->arg, r))
		return;
	if (!r->ok) {
		log_error("negotiator: %s", r->error);
		node_stop(n, 1);
		return;
	}
	sc.server = n->cfg.server;
	sc.profile = r->profile;
	node_portmap(n, &sc.profile);
	if ((n->session = session_start(n->base, &sc, node_session_cb, n,
	    err, sizeof err)) == NULL ||
	    (n->attach != NULL && n->attach(n, err, sizeof err) != 0)) {
		log_error("cannot register: %s", err);
		node_stop(n, 1);
		return;
	}
	if (n->hooks.started != NULL && n->hooks.started(n->arg) != 0) {
		node_stop(n, 1);
		return;
	}
	if (n->arm != NULL)
		n->arm(n);
}

static void
node_signal(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;

	(void)what;
	if (n->drain != NULL) {
		log_info("%s: leaving now", strsignal((int)sig));
		event_base_loopexit(n->base, NULL);
		return;
	}
	if (!n->cfg.quiet)
		log_info("%s: leaving", strsignal((int)sig));
	node_stop(n, 0);
}

int
node_run(struct node *n)
{
	char err[256];

	n->sigint = evsignal_new(n->base, SIGINT, node_signal, n);
	n->sigterm = evsignal_new(n->base, SIGTERM, node_signal, n);
	event_add(n->sigint, NULL);
	event_add(n->sigterm, NULL);
	if (!n->cfg.no_portmap)	/* beside the discovery */
		n->pm = portmap_probe_start(0);
	if ((n->disc = discover_start(n->base, &n->cfg.server,
	    n->cfg.discover, node_discovered, n, err, sizeof err)) == NULL)
		fatal("%s", err);
	event_base_dispatch(n->base);
	if (n->hooks.progress != NULL)
		n->hooks.progress(n->arg);
	return n->exit_code;
}

void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	if (n->detach != NULL)
		n->detach(n);	/* the link agent first: it holds the session */
	session_free(n->session);
	discover_free(n->disc);
	if (n->pm_renew != NULL)
		event_free(n->pm_renew);
	portmap_free(n->pm);	/* the links' deletions too */
	if (n->sigint != NULL)
		event_free(n->sigint);
	if (n->sigterm != NULL)
		event_free(n->sigterm);
	event_base_free(n->base);
	free(n);
}

struct event_base *
node_base(const struct node *n)
{
	return n->base;
}

struct session *
node_session(const struct node *n)
{
	return n->session;
}

struct link_agent *
node_agent(const struct node *n)
{
	return n->agent;
}

struct ring *
node_ring(const struct node *n)
{
	return n->ring;
}

struct serve *
node_serve(const struct node *n)
{
	return n->serve;
}
