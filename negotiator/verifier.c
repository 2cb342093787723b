/* The verifier: punches into new candidates as a child would. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net/client/ctl.h"
#include "net/client/session.h"
#include "net/link/link.h"
#include "net/link/udt.h"
#include "negotiator/server.h"
#include "negotiator/verifier.h"
#include "net/util/log.h"
#include "net/wire/nat.h"

#define VERIFIER_TICK_MS	100

/* Each verification holds one of the session socket's transactions (its
 * LINK) and may leave two REPORTs behind it (a failed punch, then the
 * outcome); the session's own keepalive must always find one free, or the
 * verifier loses its session and every answer in flight with it. */
_Static_assert(3 * VERIFIER_INFLIGHT + 1 <= CTL_MAX_TXN,
    "VERIFIER_INFLIGHT is too many for one ctl's transactions");

struct verifier {
	struct event_base	*base;
	struct server		*srv;
	struct udt_loop		*udt;
	struct session		*session;
	struct link_agent	*agent;
	struct event		*tick;
	unsigned		 inflight;
};

/* What a link of the verifier's is for. */
struct vcheck {
	struct verifier	*v;
	uint64_t	 token;
	uint64_t	 node;
};

static int
verifier_incoming(void *arg, struct link *l, uint64_t peer)
{
	(void)arg;
	(void)l;
	(void)peer;
	return -1;	/* nobody links to the verifier */
}

static void
verifier_done(struct vcheck *c)
{
	c->v->inflight--;
	free(c);
}

static void
verifier_connected(void *arg, struct link *l)
{
	struct vcheck *c = link_data(l);

	(void)arg;
	log_info("node %016" PRIx64 " verified: a %s link in %d ms",
	    c->node, link_path_name(link_path(l)), link_connect_ms(l));
	server_verdict(c->v->srv, c->token, 1, NULL);
	link_close(l);
	verifier_done(c);
}

static void
verifier_failed(void *arg, struct link *l, enum link_step step,
    const char *why)
{
	struct vcheck *c = link_data(l);
	const char *reason = NULL;

	(void)arg;
	switch (step) {
	case LINK_STEP_PEER:
		reason = "did not answer the verifier's link";
		break;
	case LINK_STEP_PUNCH:
		reason = "the verifier's punch into its predicted ports failed";
		break;
	case LINK_STEP_UDT:
		reason = "UDT did not come up over the punched path";
		break;
	default:
		break;	/* the verifier's own trouble: no verdict */
	}
	if (reason != NULL) {
		log_info("node %016" PRIx64 " is not a repeater: %s (%s)",
		    c->node, reason, why);
		server_verdict(c->v->srv, c->token, 0, reason);
	} else {
		log_warn("cannot verify node %016" PRIx64 ": %s: %s; it will "
		    "be tried again", c->node, link_step_name(step), why);
		server_retry(c->v->srv, c->token);
	}
	verifier_done(c);
}

static void
verifier_message(void *arg, struct link *l, const uint8_t *msg, size_t len)
{
	(void)arg;
	(void)l;
	(void)msg;
	(void)len;
}

static void
verifier_closed(void *arg, struct link *l, const char *why)
{
	(void)arg;
	(void)l;
	(void)why;
}

static const struct link_callbacks verifier_links = {
	verifier_incoming, verifier_connected, verifier_failed,
	verifier_message, verifier_closed
};

static void
verifier_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct verifier *v = arg;
	struct vcheck *c;
	struct link *l;
	char err[160];

	(void)fd;
	(void)what;
	if (!session_registered(v->session))
		return;
	while (v->inflight < VERIFIER_INFLIGHT) {
		if ((c = calloc(1, sizeof *c)) == NULL)
			return;
		if (server_next_candidate(v->srv, &c->node, &c->token) != 0) {
			free(c);
			return;
		}
		c->v = v;
		if ((l = link_open(v->agent, c->node, err, sizeof err)) ==
		    NULL) {
			/* Again at the next tick, not in a loop now. */
			log_warn("cannot verify node %016" PRIx64 ": %s; it "
			    "will be tried again", c->node, err);
			server_retry(v->srv, c->token);
			free(c);
			return;
		}
		link_set_data(l, c);
		v->inflight++;
	}
}

static void
verifier_session_cb(void *arg, enum session_event ev, struct session *s)
{
	(void)arg;
	(void)s;
	if (ev == SESSION_REGISTERED)
		log_debug("verifier registered");
}

struct verifier *
verifier_start(struct event_base *base, struct server *srv,
    const struct addr *server_addr, const struct addr *v6, char *err,
    size_t errlen)
{
	struct verifier *v;
	struct session_config sc;
	struct link_options o = link_defaults;
	struct timeval tv = { 0, VERIFIER_TICK_MS * 1000 };
	char text[ADDR_STRLEN];

	if ((v = calloc(1, sizeof *v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->base = base;
	v->srv = srv;
	memset(&sc, 0, sizeof sc);
	sc.server = *server_addr;
	if (v6 != NULL)
		sc.server6 = *v6;
	snprintf(sc.channel, sizeof sc.channel, "verifier");
	sc.role = TC_ROLE_VERIFIER;
	/* An open host: it predicts its one port, and filters nothing. */
	sc.profile.mapping = NAT_MAPPING_NONE;
	sc.profile.allocation = NAT_ALLOC_PRESERVED;
	sc.profile.filtering = NAT_FILTER_EIF;
	sc.fanout = 0;
	o.strict = 1;
	o.bind = *server_addr;
	addr_set_port((struct sockaddr *)&o.bind.ss, 0);
	if ((v->udt = udt_loop_new(base, err, errlen)) == NULL ||
	    (v->session = session_start(base, &sc, verifier_session_cb, v,
	    err, errlen)) == NULL ||
	    (v->agent = link_agent_new(base, v->session, v->udt,
	    &verifier_links, v, &o)) == NULL ||
	    (v->tick = event_new(base, -1, EV_PERSIST, verifier_tick_cb, v)) ==
	    NULL || event_add(v->tick, &tv) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot start the verifier");
		verifier_free(v);
		return NULL;
	}
	log_info("verifier on %s", addr_format((const struct sockaddr *)
	    &server_addr->ss, text, sizeof text));
	return v;
}

void
verifier_free(struct verifier *v)
{
	if (v == NULL)
		return;
	if (v->tick != NULL)
		event_free(v->tick);
	link_agent_free(v->agent);
	session_free(v->session);
	udt_loop_free(v->udt);
	free(v);
}
