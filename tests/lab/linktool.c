/*
 * linktool: links between lab hosts through the negotiator's broker
 * (net/link), with a data check on each. It learns its NAT profile
 * (net/discover), registers (net/session), and then either takes every
 * link asked of it or asks for links to other nodes, several attempts
 * each, one after another.
 *
 * On every link both sides send MSGS messages "ID n" (their own node id in
 * hex, n from 0), check that the peer's arrive whole and in order, and say
 * DONE once they have sent and received them all. A side that has said
 * and heard DONE waits until UDT has its messages acknowledged (links close
 * without lingering); then the initiator closes and the acceptor sees it
 * closed.
 *
 *   linktool SERVER[:PORT] --id HEX --accept
 *   linktool SERVER[:PORT] --id HEX --link HEX[,HEX...] [--attempts N]
 *
 * Prints one JSON line per link on stdout; "from" and "to" are the
 * initiator and the acceptor on both sides, "class" is this side's NAT.
 * A failure's "step" is link_step_name's, or "data" (connected, but the
 * messages did not all arrive in order) or "timeout" (no outcome in 60 s).
 * Says "linktool: ready" on stderr once registered with its link agent
 * up, for scripts to wait on. Exits 0 when every link asked for was ok
 * (--accept: on SIGINT or SIGTERM), 1 when one was not, 2 when it could
 * not start.
 *
 * A test instrument, not part of treecast. Its command line is
 * linktool-opt.c; what the two share, linktool.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/client/discover.h"
#include "net/client/portmap.h"
#include "net/client/session.h"
#include "net/link/link.h"
#include "net/link/udt.h"
#include "net/util/addr.h"
#include "net/util/log.h"
#include "net/util/opt.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "linktool.h"

/* A libevent callback's arguments, the descriptor and events unused. */
#define EV_CB_ARGS \
	evutil_socket_t fd __attribute__((unused)), \
	short what __attribute__((unused)), void *arg

static void tool_leave(struct tool *);
static void run_fail(struct run *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void tool_setup_fail(struct tool *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* The loop is running: say why, leave and exit 2. */
static void
tool_setup_fail(struct tool *t, const char *fmt, ...)
{
	TOOL_SAY(fmt);
	t->setup_failed = 1;
	tool_leave(t);
}

static void
timer_arm(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* Copies why for a JSON string: no quotes, backslashes or control bytes,
 * so the lab scripts' sed reads it whole. */
static void
json_clean(char *dst, size_t len, const char *why)
{
	char *p;

	snprintf(dst, len, "%s", why != NULL ? why : "");
	for (p = dst; *p != '\0'; p++) {
		if (*p == '"')
			*p = '\'';
		else if (*p == '\\')
			*p = '/';
		else if ((unsigned char)*p < 0x20)
			*p = ' ';
	}
}

static const char *
name_or_empty(const char *name)
{
	return name != NULL ? name : "";
}

/* The first failure is the one reported. */
static void
run_fail(struct run *r, const char *step, const char *fmt, ...)
{
	char why[sizeof r->why];
	va_list ap;

	if (r->step != NULL)
		return;
	r->step = step;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	json_clean(r->why, sizeof r->why, why);
}

static int
run_ok(const struct run *r)
{
	return r->step == NULL && r->connected && r->got == r->tool->msgs &&
	    r->bad == 0 && r->peer_done;
}

/* What the link knows now, kept for the line: the link may go first. */
static void
run_snapshot(struct run *r)
{
	const struct nat_profile *p;

	if (r->link == NULL)
		return;
	r->path = link_path(r->link);
	r->ipv6 = link_ipv6(r->link);
	if (r->connected)
		r->connect_ms = link_connect_ms(r->link);
	if ((p = link_peer_profile(r->link)) != NULL)
		r->peer_profile = *p;
}

static void
run_print(const struct run *r)
{
	const struct tool *t = r->tool;

	printf("{\"from\":\"%016" PRIx64 "\",\"to\":\"%016" PRIx64 "\","
	    "\"attempt\":%d,\"class\":\"%s\",\"peer_class\":\"%s\","
	    "\"ok\":%s,\"step\":\"%s\",\"why\":\"%s\",\"path\":\"%s\","
	    "\"ipv6\":%s,\"connect_ms\":%d,\"sent\":%d,\"received\":%d,"
	    "\"bad\":%d}\n",
	    r->initiator ? t->id : r->peer, r->initiator ? r->peer : t->id,
	    r->attempt, nat_class_name(&t->profile),
	    nat_class_name(&r->peer_profile), run_ok(r) ? "true" : "false",
	    name_or_empty(r->step), r->why,
	    name_or_empty(link_path_name(r->path)), r->ipv6 ? "true" : "false",
	    r->connect_ms, r->sent,
	    r->got, r->bad);
	fflush(stdout);
}

static void run_tick_cb(evutil_socket_t, short, void *);
static void run_deadline_cb(evutil_socket_t, short, void *);

static struct run *
run_new(struct tool *t, uint64_t peer, int initiator, int attempt)
{
	struct run *r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		fatal("out of memory");
	r->tool = t;
	r->peer = peer;
	r->initiator = initiator;
	r->attempt = attempt;
	r->connect_ms = -1;
	r->deadline = evtimer_new(t->base, run_deadline_cb, r);
	r->tick = event_new(t->base, -1, EV_PERSIST, run_tick_cb, r);
	if (r->deadline == NULL || r->tick == NULL)
		fatal("cannot create timers");
	timer_arm(r->deadline, TOOL_ATTEMPT_MS);
	TAILQ_INSERT_TAIL(&t->runs, r, entry);
	return r;
}

/* Frees the run alone: its link is closed or freed by now, or the agent
 * frees it. */
static void
run_free(struct run *r)
{
	TAILQ_REMOVE(&r->tool->runs, r, entry);
	event_free(r->deadline);
	event_free(r->tick);
	free(r);
}

/* The next attempt: the following node once this one had them all. */
static void
tool_advance(struct tool *t)
{
	if (++t->attempt > t->attempts) {
		t->attempt = 1;
		t->target++;
	}
	timer_arm(t->pause, TOOL_PAUSE_MS);
}

/* The link is gone (closed here, or freed by the agent on return): print
 * its line and go on. */
static void
run_finish(struct run *r)
{
	struct tool *t = r->tool;
	int initiator = r->initiator;

	if (!run_ok(r)) {
		run_fail(r, "data", "%d of %d messages in order, %d bad, "
		    "%s DONE", r->got - r->bad, t->msgs, r->bad,
		    r->peer_done ? "with" : "no");
		t->failures++;
	}
	run_print(r);
	run_free(r);
	if (!initiator)
		return;
	t->reported++;
	if (!t->leaving)
		tool_advance(t);
}

/* Sends what is due: the messages, then DONE once everything is sent and
 * received. A full UDT buffer (EAGAIN) waits for the next tick. */
static void
run_pump(struct run *r)
{
	struct tool *t = r->tool;
	char msg[48];
	int n;

	while (r->sent < t->msgs) {
		n = snprintf(msg, sizeof msg, "%016" PRIx64 " %d", t->id,
		    r->sent);
		if (link_send(r->link, msg, (size_t)n) != 0)
			return;
		r->sent++;
	}
	if (!r->said_done && r->got >= t->msgs &&
	    link_send(r->link, "DONE", 4) == 0)
		r->said_done = 1;	/* we have it all: the peer may go */
}

/* Links are closed from this timer, never inside the link's own
 * callbacks. Both DONEs and nothing unacknowledged: the initiator closes;
 * the acceptor waits for closed. */
static void
run_tick_cb(EV_CB_ARGS)
{
	struct run *r = arg;

	run_pump(r);
	if (!r->said_done || !r->peer_done || link_unacked(r->link) != 0)
		return;
	event_del(r->tick);
	if (!r->initiator)
		return;
	link_close(r->link);
	r->link = NULL;
	run_finish(r);
}

static void
run_deadline_cb(EV_CB_ARGS)
{
	struct run *r = arg;

	run_snapshot(r);
	if (!r->connected)
		run_fail(r, "timeout", "neither connected nor failed in %d s",
		    TOOL_ATTEMPT_MS / 1000);
	else if (r->said_done && r->peer_done && !r->initiator)
		run_fail(r, "data", "the initiator did not close the link");
	else if (r->said_done && r->peer_done)
		run_fail(r, "data", "%zd bytes still unacknowledged after %d s",
		    link_unacked(r->link), TOOL_ATTEMPT_MS / 1000);
	else
		run_fail(r, "data", "after %d s: %d of %d messages in, %d out",
		    TOOL_ATTEMPT_MS / 1000, r->got, r->tool->msgs, r->sent);
	link_close(r->link);
	r->link = NULL;
	run_finish(r);
}

static int
tool_incoming(void *arg, struct link *l, uint64_t peer)
{
	struct tool *t = arg;
	struct run *r;

	if (!t->accept || t->leaving)
		return -1;
	r = run_new(t, peer, 0, ++t->accepted);
	r->link = l;
	link_set_data(l, r);
	return 0;
}

static void
tool_connected(void *arg, struct link *l)
{
	struct timeval tick = { 0, TOOL_TICK_MS * 1000 };
	struct run *r = link_data(l);

	(void)arg;
	if (r == NULL)
		return;
	r->connected = 1;
	run_snapshot(r);
	timer_arm(r->deadline, TOOL_ATTEMPT_MS);	/* the data's own */
	event_add(r->tick, &tick);
	run_pump(r);
}

/* The run of a link that ends (the agent frees it on return), what it
 * knew kept; NULL if none. */
static struct run *
run_detach(struct link *l)
{
	struct run *r = link_data(l);

	if (r == NULL)
		return NULL;
	run_snapshot(r);
	r->link = NULL;
	return r;
}

static void
tool_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	struct run *r;

	(void)arg;
	if ((r = run_detach(l)) == NULL)
		return;
	run_fail(r, name_or_empty(link_step_name(step)), "%s",
	    why != NULL ? why : "");
	run_finish(r);
}

static void
tool_message(void *arg, struct link *l, const uint8_t *msg, size_t len)
{
	struct run *r = link_data(l);
	char want[48];
	int n;

	(void)arg;
	if (r == NULL)
		return;
	if (len == 4 && memcmp(msg, "DONE", 4) == 0) {
		r->peer_done = 1;
	} else {
		n = snprintf(want, sizeof want, "%016" PRIx64 " %d", r->peer,
		    r->got);
		if (len != (size_t)n || memcmp(msg, want, len) != 0)
			r->bad++;
		r->got++;
	}
	run_pump(r);
}

/* The acceptor's normal end; on the initiator's side the peer broke it. */
static void
tool_closed(void *arg, struct link *l, const char *why)
{
	struct run *r;

	(void)arg;
	if ((r = run_detach(l)) == NULL)
		return;
	if (!run_ok(r))
		run_fail(r, "data", "closed after %d of %d messages in: %s",
		    r->got, r->tool->msgs, why != NULL ? why : "");
	run_finish(r);
}

static const struct link_callbacks tool_link_callbacks = {
	.incoming = tool_incoming,
	.connected = tool_connected,
	.failed = tool_failed,
	.message = tool_message,
	.closed = tool_closed,
};

/* --link: the current attempt, or leave once every node has had its. */
static void
tool_attempt(struct tool *t)
{
	struct run *r;
	char err[160];

	if (t->target >= t->ntargets) {
		tool_leave(t);
		return;
	}
	/* A session lost to the last attempt's troubles is registering
	 * again: wait for it rather than fail the next attempts too. */
	if (!session_registered(t->session) &&
	    t->unregistered_ms < TOOL_ATTEMPT_MS) {
		t->unregistered_ms += TOOL_PAUSE_MS;
		timer_arm(t->pause, TOOL_PAUSE_MS);
		return;
	}
	t->unregistered_ms = 0;
	r = run_new(t, t->targets[t->target], 1, t->attempt);
	if ((r->link = link_open(t->agent, r->peer, err, sizeof err)) ==
	    NULL) {
		run_fail(r, name_or_empty(link_step_name(LINK_STEP_REQUEST)),
		    "%s", err);
		run_finish(r);
		return;
	}
	link_set_data(r->link, r);
}

static void
tool_pause_cb(EV_CB_ARGS)
{
	tool_attempt(arg);
}

static void
tool_register_timeout(EV_CB_ARGS)
{
	struct tool *t = arg;

	tool_setup_fail(t, "%s did not register node %016" PRIx64
	    " within %d s", t->server_text, t->id, TOOL_REGISTER_MS / 1000);
}

static void
tool_registered(struct tool *t)
{
	char err[160];

	evtimer_del(t->register_timer);
	if ((t->udt = udt_loop_new(t->base, err, sizeof err)) == NULL) {
		tool_setup_fail(t, "UDT: %s", err);
		return;
	}
	if ((t->agent = link_agent_new(t->base, t->session, t->udt,
	    &tool_link_callbacks, t, &t->lo)) == NULL) {
		tool_setup_fail(t, "cannot start the link agent");
		return;
	}
	fprintf(stderr, "linktool: ready: node %016" PRIx64 ", NAT %s\n",
	    t->id, nat_class_name(&t->profile));
	if (!t->accept)
		tool_attempt(t);
}

static void
tool_session_cb(void *arg, enum session_event ev, struct session *s)
{
	struct tool *t = arg;

	(void)s;
	switch (ev) {
	case SESSION_REGISTERED:
		if (t->udt == NULL && !t->leaving)
			tool_registered(t);
		break;
	case SESSION_LOST:
		break;	/* it registers again; the deadline covers the first */
	case SESSION_LEFT:
		event_base_loopexit(t->base, NULL);
		break;
	}
}

static void
tool_discovered(void *arg, const struct discover_result *res)
{
	struct tool *t = arg;
	struct session_config cfg;
	struct portmap_map m;
	char err[160];

	if (!res->ok) {
		tool_setup_fail(t, "discovery against %s failed: %s",
		    t->server_text, res->error);
		return;
	}
	t->profile = res->profile;
	if (t->pm != NULL && portmap_probe_finish(&t->pm, &m) == 0) {
		t->profile.flags |= NAT_F_PORTMAP;
		t->lo.portmap = t->pm;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.server = t->server;
	cfg.server6 = t->server6;
	cfg.node_id = t->id;
	snprintf(cfg.channel, sizeof cfg.channel, "%s", t->channel);
	cfg.role = TC_ROLE_PEER;
	cfg.profile = t->profile;
	if ((t->session = session_start(t->base, &cfg, tool_session_cb, t,
	    err, sizeof err)) == NULL) {
		tool_setup_fail(t, "cannot register with %s: %s",
		    t->server_text, err);
		return;
	}
	timer_arm(t->register_timer, TOOL_REGISTER_MS);
}

/* Says goodbye to the negotiator (SESSION_LEFT ends the loop). */
static void
tool_leave(struct tool *t)
{
	if (t->leaving)
		return;
	t->leaving = 1;
	evtimer_del(t->pause);
	evtimer_del(t->register_timer);
	if (t->session != NULL)
		session_leave(t->session);
	else
		event_base_loopexit(t->base, NULL);
}

static void
tool_signal(EV_CB_ARGS)
{
	tool_leave(arg);
}

int
main(int argc, char **argv)
{
	struct tool t;
	struct run *r;
	char err[160];
	int status;

	log_init("linktool", LOG_INFO);
	memset(&t, 0, sizeof t);
	TAILQ_INIT(&t.runs);
	t.channel = LINKTOOL_CHANNEL;
	t.attempts = 5;
	t.msgs = 100;
	t.lo = link_defaults;
	t.attempt = 1;
	tool_options(&t, argc, argv);
	if (sodium_init() < 0)
		fatal("libsodium failed to start");
	if ((t.base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	t.register_timer = evtimer_new(t.base, tool_register_timeout, &t);
	t.pause = evtimer_new(t.base, tool_pause_cb, &t);
	t.sigint = evsignal_new(t.base, SIGINT, tool_signal, &t);
	t.sigterm = evsignal_new(t.base, SIGTERM, tool_signal, &t);
	if (t.register_timer == NULL || t.pause == NULL || t.sigint == NULL ||
	    t.sigterm == NULL)
		fatal("cannot create events");
	event_add(t.sigint, NULL);
	event_add(t.sigterm, NULL);
	if (t.pm_methods != 0)
		t.pm = portmap_probe_start(t.pm_methods);
	if ((t.discover = discover_start(t.base, &t.server, NULL,
	    tool_discovered, &t, err, sizeof err)) == NULL)
		usage_fail("discovery against %s: %s", t.server_text, err);
	event_base_dispatch(t.base);

	if (t.setup_failed)
		status = 2;
	else if (t.accept)
		status = 0;
	else
		status = t.failures == 0 &&
		    t.reported == t.attempts * (int)t.ntargets ? 0 : 1;
	if (t.agent != NULL)
		link_agent_free(t.agent);  /* closes the links left, silently */
	while ((r = TAILQ_FIRST(&t.runs)) != NULL)
		run_free(r);
	udt_loop_free(t.udt);
	portmap_free(t.pm);	/* after the agent: its links' mappings */
	session_free(t.session);
	discover_free(t.discover);
	event_free(t.register_timer);
	event_free(t.pause);
	event_free(t.sigint);
	event_free(t.sigterm);
	event_base_free(t.base);
	return status;
}
