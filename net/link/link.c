/* Brokered links: the node's half of flow 3 (see net/link/link.h), as one
 * state machine. Every callback that concerns a link (the Binding's
 * answer, LINK's, the punch, the relay, UDT, a deadline) feeds link_drive,
 * which looks the state and the event up in link_rows; what is not there
 * is ignored. A link that ends is left DEAD, and the agent frees it on the
 * loop's next turn, when none of its callbacks is running. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/client/ctl.h"
#include "net/client/session.h"
#include "net/link/link-int.h"
#include "net/link/udt.h"
#include "net/util/addr.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/proto.h"

#define LINK_RELAY_RTO_MS 200
/*
 * UDT's rendezvous ends on one side before the other, and what the first
 * side sends before the second is up comes back only with UDT's
 * retransmission timer (100 messages took 2 s on loopback). So the
 * accepting side's first message is this HELLO, and the initiator calls
 * the link up (and lets its user send) only when it arrives; the
 * initiator also starts UDT a little after the accepting side (below), so
 * that both handshakes meet at once.
 */
static const char link_hello[] = "treecast link hello";
/* What the nominating side waits before UDT: the other side's quiet
 * rounds (net/link/punch.c) and a little more. */
#define LINK_UDT_DELAY_MS 90
/* Birthday punching, the endpoint-independent side: it waits
 * LINK_BDAY_AFTER rounds for the random side's mappings, then probes
 * LINK_BDAY_ROUND ports a round (link-birthday.c has the other side). */
#define LINK_BDAY_AFTER		10
#define LINK_BDAY_ROUND		32
/* Where a request, the punch or UDT keeps its own time, the state's
 * deadline comes this much after theirs: a backstop, which only a
 * part that never reports would reach. */
#define LINK_BACKSTOP_MS 2000

/* The fresh socket's mapping: quick retransmissions, a few seconds. */
static const struct ctl_timing link_mapping_timing = { 300, 6, 8 };
/* LINK waits for the peer's ACK through the negotiator: 11.5 s. */
static const struct ctl_timing link_request_timing = { 500, 5, 8 };

typedef void link_fn(struct link *l, const void *data);

static link_fn link_on_start, link_on_mapped, link_on_go, link_on_reported,
    link_on_punched, link_on_relay_bound, link_on_udt_wait, link_on_udt_up,
    link_on_readable, link_on_hello, link_on_hello_late, link_on_timeout,
    link_on_closed, link_on_close;

/* How long a transaction with timing t waits before it gives up. */
static unsigned
link_ctl_ms(const struct ctl_timing *t)
{
	return t->rto_ms * ((1u << (t->rc - 1)) - 1) + t->rm * t->rto_ms;
}

static unsigned
link_mapping_ms(const struct link *l)
{
	(void)l;
	return link_ctl_ms(&link_mapping_timing) + LINK_BACKSTOP_MS;
}

static unsigned
link_asking_ms(const struct link *l)
{
	(void)l;
	return link_ctl_ms(&link_request_timing) + LINK_BACKSTOP_MS;
}

static unsigned
link_reporting_ms(const struct link *l)
{
	(void)l;
	return link_ctl_ms(&link_report_timing) + LINK_BACKSTOP_MS;
}

/* The punch's own, and birthday's sockets' opening. */
static unsigned
link_punching_ms(const struct link *l)
{
	return l->a->o.punch_ms + link_bday_open_ms(l) + LINK_BACKSTOP_MS;
}

/* The relay binding's: punch_ms, whatever arrives meanwhile. */
static unsigned
link_relaying_ms(const struct link *l)
{
	return l->a->o.punch_ms;
}

static unsigned
link_udt_wait_ms(const struct link *l)
{
	(void)l;
	return LINK_UDT_DELAY_MS;
}

static unsigned
link_connecting_ms(const struct link *l)
{
	return l->a->o.udt_ms + LINK_BACKSTOP_MS;
}

/* A peer that never says HELLO must not hold the link for ever. */
static unsigned
link_hello_ms(const struct link *l)
{
	return l->a->o.udt_ms;
}

/*
 * The machine: for each state, its deadline, the step a timeout fails at
 * (with why), and the events it takes. LINK_EV_CLOSE (link_close) is taken
 * in every state but DEAD; an event a state does not list is ignored.
 */
static const struct link_row {
	const char	*name;
	unsigned	(*deadline)(const struct link *);
	enum link_step	 step;
	const char	*why;
	link_fn		*on[LINK_EV_COUNT];
} link_rows[LS_COUNT] = {
	[LS_NEW] = { "new", NULL, LINK_STEP_NONE, NULL, {
		[LINK_EV_START] = link_on_start,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_MAPPING] = { "mapping", link_mapping_ms, LINK_STEP_MAPPING,
	    "the negotiator did not reflect the link socket", {
		[LINK_EV_MAPPED] = link_on_mapped,
		[LINK_EV_TIMEOUT] = link_on_timeout,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_ASKING] = { "asking", link_asking_ms, LINK_STEP_REQUEST,
	    "the negotiator did not answer", {
		[LINK_EV_GO] = link_on_go,
		[LINK_EV_TIMEOUT] = link_on_timeout,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_REPORTING] = { "reporting", link_reporting_ms, LINK_STEP_NONE,
	    NULL, {
		[LINK_EV_REPORTED] = link_on_reported,
		[LINK_EV_TIMEOUT] = link_on_reported,	/* ask anyway */
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_PUNCHING] = { "punching", link_punching_ms, LINK_STEP_PUNCH,
	    "the punch did not finish", {
		[LINK_EV_PUNCHED] = link_on_punched,
		[LINK_EV_TIMEOUT] = link_on_timeout,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_RELAYING] = { "relaying", link_relaying_ms, LINK_STEP_RELAY,
	    "the relay did not answer", {
		[LINK_EV_RELAY_BOUND] = link_on_relay_bound,
		[LINK_EV_TIMEOUT] = link_on_timeout,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_UDT_WAIT] = { "udt-wait", link_udt_wait_ms, LINK_STEP_NONE, NULL, {
		[LINK_EV_TIMEOUT] = link_on_udt_wait,	/* start UDT */
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_CONNECTING] = { "connecting", link_connecting_ms, LINK_STEP_UDT,
	    "UDT's rendezvous handshake did not complete", {
		[LINK_EV_UDT_UP] = link_on_udt_up,
		[LINK_EV_TIMEOUT] = link_on_timeout,
		[LINK_EV_CLOSED] = link_on_closed,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_HELLO] = { "hello", link_hello_ms, LINK_STEP_UDT,
	    "the link closed before the peer's hello", {
		[LINK_EV_READABLE] = link_on_readable,
		[LINK_EV_HELLO] = link_on_hello,
		[LINK_EV_TIMEOUT] = link_on_hello_late,
		[LINK_EV_CLOSED] = link_on_closed,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_UP] = { "up", NULL, LINK_STEP_NONE, NULL, {
		[LINK_EV_READABLE] = link_on_readable,
		[LINK_EV_CLOSED] = link_on_closed,
		[LINK_EV_CLOSE] = link_on_close } },
	[LS_DEAD] = { "dead", NULL, LINK_STEP_NONE, NULL, { NULL } },
};

static const char *const link_event_names[LINK_EV_COUNT] = {
	[LINK_EV_START] = "start", [LINK_EV_MAPPED] = "mapped",
	[LINK_EV_GO] = "go", [LINK_EV_REPORTED] = "reported",
	[LINK_EV_PUNCHED] = "punched", [LINK_EV_RELAY_BOUND] = "relay-bound",
	[LINK_EV_UDT_UP] = "udt-up", [LINK_EV_READABLE] = "readable",
	[LINK_EV_HELLO] = "hello", [LINK_EV_TIMEOUT] = "timeout",
	[LINK_EV_CLOSED] = "closed", [LINK_EV_CLOSE] = "close",
};

const char *
link_state_name(enum link_state s)
{
	return (unsigned)s < LS_COUNT ? link_rows[s].name : "?";
}

const char *
link_event_name(enum link_event e)
{
	return (unsigned)e < LINK_EV_COUNT ? link_event_names[e] : "?";
}

unsigned
link_deadline_ms(const struct link *l, enum link_state s)
{
	return (unsigned)s < LS_COUNT && link_rows[s].deadline != NULL ?
	    link_rows[s].deadline(l) : 0;
}

int
link_takes(enum link_state s, enum link_event e)
{
	return (unsigned)s < LS_COUNT && (unsigned)e < LINK_EV_COUNT &&
	    link_rows[s].on[e] != NULL;
}

enum link_step
link_timeout_step(enum link_state s)
{
	return (unsigned)s < LS_COUNT ? link_rows[s].step : LINK_STEP_NONE;
}

int
link_drive(struct link *l, enum link_event ev, const void *data)
{
	link_fn *fn = (unsigned)ev < LINK_EV_COUNT ?
	    link_rows[l->state].on[ev] : NULL;

	if (fn == NULL) {
		l->ignored++;
		log_debug("link %016llx: %s ignored while %s",
		    (unsigned long long)l->id, link_event_name(ev),
		    link_state_name(l->state));
		return -1;
	}
	l->depth++;
	fn(l, data);
	l->depth--;
	return 0;
}

/* The one place a state's deadline is armed. */
static void
link_enter(struct link *l, enum link_state s)
{
	unsigned ms = link_deadline_ms(l, s);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_del(l->deadline);
	l->state = s;
	if (ms > 0 && evtimer_add(l->deadline, &tv) != 0)
		log_warn("link %016llx: cannot arm the %s deadline",
		    (unsigned long long)l->id, link_state_name(s));
}

/* Over: what could call back is stopped or finds l DEAD, and the sweep
 * frees the rest. */
static void
link_kill(struct link *l)
{
	link_enter(l, LS_DEAD);
	session_cancel(l->a->s, l);	/* a LINK or REPORT under way */
	if (l->relay_rto != NULL)
		event_del(l->relay_rto);
	if (l->relay_rx != NULL)
		event_del(l->relay_rx);
	link_bday_free(l);	/* their fds are the agent's to count */
	link_pair_free(l);
	link_sweep_later(l->a);
}

static int link_repunch(struct link *l, const char *why);

static void
link_fail(struct link *l, enum link_step step, const char *why)
{
	struct link_agent *a = l->a;

	if (step == LINK_STEP_PUNCH && link_repunch(l, why) == 0)
		return;
	log_info("link %016llx to node %016llx failed at %s: %s",
	    (unsigned long long)l->id, (unsigned long long)l->peer,
	    link_step_name(step), why);
	link_report(l, step, NULL);
	link_kill(l);
	if (a->cb.failed != NULL)
		a->cb.failed(a->arg, l, step, why);
}

static void
link_up(struct link *l)
{
	struct link_agent *a = l->a;

	link_enter(l, LS_UP);
	l->t_up = clock_ms();
	log_info("link %016llx to node %016llx up (%s%s) in %llu ms",
	    (unsigned long long)l->id, (unsigned long long)l->peer,
	    link_path_name(l->path), l->ipv6 ? ", IPv6" : "",
	    (unsigned long long)(l->t_up - l->t0));
	link_report(l, LINK_STEP_NONE, NULL);
	if (a->cb.connected != NULL)
		a->cb.connected(a->arg, l);
}

static void
link_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_drive(arg, LINK_EV_TIMEOUT, NULL);
}

static void
link_on_timeout(struct link *l, const void *data)
{
	(void)data;
	/* The accepting side owes INSTRUCT its answer, as link_on_mapped's
	 * failure gives it: a retransmitted INSTRUCT then finds it. */
	if (l->state == LS_MAPPING && !l->initiator)
		link_wire_answer(l, 500, "mapping: no answer");
	link_fail(l, link_rows[l->state].step, link_rows[l->state].why);
}

static void
link_on_close(struct link *l, const void *data)
{
	(void)data;
	link_kill(l);	/* silently: the user asked */
}

/* --- mapping: the fresh socket */

static void
link_mapped_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	(void)from;
	link_drive(arg, LINK_EV_MAPPED, resp);
}

/* The link's fresh socket, and its Binding at the negotiator. */
static int
link_map(struct link *l)
{
	struct link_agent *a = l->a;
	uint8_t msg[STUN_MAX_MSG];
	char err[160];
	int len;

	link_enter(l, LS_MAPPING);
	if ((l->probe = ctl_open(a->base,
	    session_server(a->s)->ss.ss_family, a->o.bind.len > 0 ?
	    &a->o.bind : NULL, err, sizeof err)) == NULL) {
		log_warn("link socket: %s", err);
		return -1;
	}
	link_pair_open(l);	/* and, dual-stack, an IPv6 one */
	link_pm_start(l);	/* the router's mapping, beside the Binding */
	len = ctl_build_binding(msg, sizeof msg, 0, 64);
	if (len < 0 || ctl_request(l->probe, session_server(a->s), msg,
	    (size_t)len, &link_mapping_timing, link_mapped_cb, l) != 0)
		return -1;
	return 0;
}

/* link_open's (which frees the link when it is DEAD after this), or an
 * INSTRUCT taken, which the agent answers at once if there is no socket. */
static void
link_on_start(struct link *l, const void *data)
{
	(void)data;
	if (link_map(l) == 0)
		return;
	if (l->initiator) {
		link_kill(l);
		return;
	}
	link_wire_answer(l, 500, "cannot open a link socket");
	l->id = 0;	/* nothing to report: the negotiator knows */
	link_fail(l, LINK_STEP_MAPPING, "cannot open a link socket");
}

static void link_go(struct link *l);

static void
link_go_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	(void)from;
	link_drive(arg, LINK_EV_GO, resp);
}

/* The initiator asks for the link with its mapping; the accepting side
 * ACKs INSTRUCT with it and goes. */
static void
link_on_mapped(struct link *l, const void *data)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	if (!l->pm_wait && link_wire_mapped(l, data) != 0) {
		if (!l->initiator)
			link_wire_answer(l, 500, "mapping: no answer");
		link_fail(l, LINK_STEP_MAPPING,
		    "the negotiator did not reflect the link socket");
		return;
	}
	if (link_pm_hold(l))
		return;
	if (!l->initiator) {
		link_wire_answer(l, 0, NULL);
		link_go(l);
		return;
	}
	link_enter(l, LS_ASKING);
	session_begin(l->a->s, &b, msg, sizeof msg, TC_METHOD_LINK);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, l->peer);
	tc_put_endpoint(&b, &l->me);
	if (session_send(l->a->s, &b, &link_request_timing, link_go_cb, l) !=
	    0)
		link_fail(l, LINK_STEP_REQUEST, "not registered");
}

static void
link_on_go(struct link *l, const void *data)
{
	char why[200];
	enum link_step step = link_wire_go(l, data, why, sizeof why);

	if (step != LINK_STEP_NONE)
		link_fail(l, step, why);
	else
		link_go(l);
}

/* --- a failed punch, asked again */

static void
link_reported_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	(void)resp;
	(void)from;
	link_drive(arg, LINK_EV_REPORTED, NULL);
}

static void
link_on_reported(struct link *l, const void *data)
{
	(void)data;
	if (link_map(l) != 0)
		link_fail(l, LINK_STEP_MAPPING, "cannot open a link socket");
}

/*
 * A punch that failed is tried once more, by the initiator, from the
 * start: a fresh socket, a new mapping, a new LINK (as ICE restarts). The
 * failed attempt is reported as such, and the new LINK waits for that
 * REPORT's answer: the negotiator relays two nodes behind one address
 * whose punch failed, so it must know before it is asked again (on a lossy
 * path the LINK could overtake the REPORT). 0 when the link goes on.
 */
static int
link_repunch(struct link *l, const char *why)
{
	int reported;

	if (!l->initiator || l->repunched)
		return -1;
	log_info("link %016llx to node %016llx: the punch failed (%s); "
	    "asking again with a fresh socket", (unsigned long long)l->id,
	    (unsigned long long)l->peer, why);
	reported = link_report(l, LINK_STEP_PUNCH, link_reported_cb);
	l->repunched = 1;
	link_bday_free(l);
	link_pair_free(l);
	l->birthday = 0;
	l->controlling = l->initiator;
	punch_free(l->punch);	/* in its callback: freed once that returns */
	l->punch = NULL;
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	l->id = 0;
	memset(&l->me, 0, sizeof l->me);
	memset(&l->them, 0, sizeof l->them);
	l->has_relay = 0;
	if (reported == 0) {
		link_enter(l, LS_REPORTING);
		return 0;
	}
	return link_map(l);
}

/* --- punching */

static void
link_punched_cb(void *arg, const struct sockaddr *peer, socklen_t peerlen,
    const char *why)
{
	struct link_punched ev = { peer, peerlen, why, 0 };

	link_drive(arg, LINK_EV_PUNCHED, &ev);
}

/* Checks towards every candidate: the peer's internal address first where
 * both sit behind one NAT (the same external IP), then its predicted
 * external ports. */
static void
link_punch(struct link *l)
{
	struct punch_config pc;
	size_t i;

	memset(&pc, 0, sizeof pc);
	pc.fd = l->fd;
	memcpy(pc.key, l->key, sizeof pc.key);
	pc.nonce = l->id;
	pc.timeout_ms = l->a->o.punch_ms;
	pc.controlling = l->initiator;
	pc.strict = l->a->o.strict;
	if (addr_equal_ip((struct sockaddr *)&l->them.external,
	    (struct sockaddr *)&l->me.external) &&
	    !addr_is_any((struct sockaddr *)&l->them.internal)) {
		memcpy(&pc.cand[0].ss, &l->them.internal, sizeof l->them.internal);
		pc.cand[0].len = addr_sslen(&l->them.internal);
		pc.ncand++;
	}
	for (i = 0; i < l->them.nports && pc.ncand < PUNCH_MAX_CANDIDATES;
	    i++) {
		memcpy(&pc.cand[pc.ncand].ss, &l->them.external,
		    sizeof l->them.external);
		pc.cand[pc.ncand].len = addr_sslen(&l->them.external);
		addr_set_port((struct sockaddr *)&pc.cand[pc.ncand].ss,
		    l->them.ports[i]);
		pc.ncand++;
	}
	if (link_pm_passive(l))
		pc.ncand = 0;	/* answers only (link-portmap.c) */
	link_enter(l, LS_PUNCHING);
	if (link_pair_punch(l, &pc) != 0 || (l->has_relay && l->punch6 == NULL))
		link_fail(l, LINK_STEP_PUNCH, "cannot start punching");
	if (l->has_relay || l->state != LS_PUNCHING)
		return;	/* IPv6 alone: the relay once it fails */
	if (l->birthday == TC_BIRTHDAY_HARD) {
		l->controlling = pc.controlling = 0;
		if (link_bday_start(l, &pc) != 0)
			link_fail(l, LINK_STEP_PUNCH,
			    "cannot start birthday punching");
		return;
	}
	if (l->birthday == TC_BIRTHDAY_EASY) {
		/* Probes from the one mapping, to many ports of theirs. */
		l->controlling = pc.controlling = 1;
		pc.spray_ip.len = addr_sslen(&l->them.external);
		memcpy(&pc.spray_ip.ss, &l->them.external, pc.spray_ip.len);
		pc.spray = l->a->o.birthday_probes;
		pc.spray_round = LINK_BDAY_ROUND;
		pc.spray_after = LINK_BDAY_AFTER;
	}
	if ((l->punch = punch_start(l->a->base, &pc, link_punched_cb, l)) ==
	    NULL)
		link_fail(l, LINK_STEP_PUNCH, "cannot start punching");
}

static void link_udt_begin(struct link *l);
static void link_relay(struct link *l);

static void
link_on_punched(struct link *l, const void *data)
{
	const struct link_punched *ev = data;

	if (link_pair_punched(l, ev))
		return;		/* the other pair's punch goes on */
	if (ev->peer == NULL) {
		if (l->has_relay)	/* its IPv6 pair failed */
			link_relay(l);
		else
			link_fail(l, LINK_STEP_PUNCH, ev->why);
		return;
	}
	memcpy(&l->peer_addr, ev->peer, ev->len); /* it lives in the punch */
	l->peer_len = ev->len;
	if (l->punch != NULL) {	/* birthday's winner kept its own */
		l->pst = *punch_stats(l->punch);
		punch_free(l->punch);	/* freed once its callback returns */
		l->punch = NULL;
	}
	/* Local: the peer's internal address, where it differs from the
	 * external one (a node without NAT has only the one). */
	l->path = addr_equal((struct sockaddr *)&l->peer_addr,
	    (struct sockaddr *)&l->them.internal) &&
	    !addr_equal_ip((struct sockaddr *)&l->them.internal,
	    (struct sockaddr *)&l->them.external) ?
	    LINK_PATH_LOCAL : LINK_PATH_DIRECT;
	link_udt_begin(l);
}

/* --- relaying: the socket bound at the negotiator's relay */

static void
link_relay_rto_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_wire_relay_send(arg);	/* the state's deadline ends it */
}

static void
link_relay_rx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	if (link_wire_relay_read(l))
		link_drive(l, LINK_EV_RELAY_BOUND, NULL);
}

static void
link_relay(struct link *l)
{
	struct timeval tv = { 0, LINK_RELAY_RTO_MS * 1000 };

	link_enter(l, LS_RELAYING);
	/* Two events: with EV_PERSIST, a read event's timeout starts again
	 * on every datagram. */
	l->relay_rto = event_new(l->a->base, -1, EV_PERSIST, link_relay_rto_cb,
	    l);
	l->relay_rx = event_new(l->a->base, l->fd, EV_READ | EV_PERSIST,
	    link_relay_rx_cb, l);
	if (l->relay_rto == NULL || l->relay_rx == NULL ||
	    event_add(l->relay_rto, &tv) != 0 ||
	    event_add(l->relay_rx, NULL) != 0 || link_wire_relay_send(l) != 0)
		link_fail(l, LINK_STEP_RELAY, "cannot reach the relay");
}

static void
link_on_relay_bound(struct link *l, const void *data)
{
	(void)data;
	event_del(l->relay_rto);	/* both freed with the link */
	event_del(l->relay_rx);
	l->path = LINK_PATH_RELAY;
	memcpy(&l->peer_addr, &l->relay.ss, sizeof l->relay.ss);
	l->peer_len = l->relay.len;
	link_udt_begin(l);
}

/* Both sides know each other: punch, or bind at the relay. */
static void
link_go(struct link *l)
{
	if (l->has_relay && !link_pair_ready(l))
		link_relay(l);
	else
		link_punch(l);	/* over IPv6 first, when relayed */
}

/* --- UDT, HELLO, up */

static void
link_udt_cb(struct udt_link *u, enum udt_event ev, void *arg)
{
	static const enum link_event events[] = {
		[UDT_LINK_CONNECTED] = LINK_EV_UDT_UP,
		[UDT_LINK_READABLE] = LINK_EV_READABLE,
		[UDT_LINK_CLOSED] = LINK_EV_CLOSED,
	};

	(void)u;
	link_drive(arg, events[ev], NULL);
}

static void
link_udt_start(struct link *l)
{
	char err[160];
	int fd = l->fd;

	l->fd = -1;		/* UDT's from here, whatever happens */
	link_enter(l, LS_CONNECTING);
	l->udt = udt_link_start(l->a->udt, fd,
	    (struct sockaddr *)&l->peer_addr, l->peer_len,
	    (int)l->a->o.udt_ms, link_udt_cb, l, err, sizeof err);
	if (l->udt == NULL)
		link_fail(l, LINK_STEP_UDT, err);
}

/* UDT starts towards l->peer_addr on both sides at once, except that the
 * nominating side waits LINK_UDT_DELAY_MS (LS_UDT_WAIT's deadline): two
 * rendezvous handshakes started together meet at once; one started early
 * waits for UDT's next resend, and under loss sometimes never meets. */
static void
link_udt_begin(struct link *l)
{
	if (l->controlling)
		link_enter(l, LS_UDT_WAIT);
	else
		link_udt_start(l);
}

static void
link_on_udt_wait(struct link *l, const void *data)
{
	(void)data;
	link_udt_start(l);
}

/* Messages in, until UDT has no more or the link ends (a user may close
 * it from a callback). The first, on the initiator, is the HELLO. */
static void
link_on_readable(struct link *l, const void *data)
{
	struct link_agent *a = l->a;
	struct link_msg m;
	ssize_t n;

	(void)data;
	while ((l->state == LS_HELLO || l->state == LS_UP) &&
	    (n = udt_link_recv(l->udt, l->rx, sizeof l->rx)) >= 0) {
		if (l->state == LS_HELLO) {
			m.p = l->rx;
			m.len = (size_t)n;
			link_drive(l, LINK_EV_HELLO, &m);
		} else if (a->cb.message != NULL)
			a->cb.message(a->arg, l, l->rx, (size_t)n);
	}
}

static void
link_on_udt_up(struct link *l, const void *data)
{
	(void)data;
	if (l->initiator) {
		link_enter(l, LS_HELLO);
		link_on_readable(l, NULL);	/* it may be here already */
		return;
	}
	if (udt_link_send(l->udt, link_hello, sizeof link_hello - 1) !=
	    (ssize_t)(sizeof link_hello - 1)) {
		link_fail(l, LINK_STEP_UDT, "cannot send hello");
		return;
	}
	link_up(l);
}

static void
link_on_hello(struct link *l, const void *data)
{
	const struct link_msg *m = data;

	if (m->len != sizeof link_hello - 1 ||
	    memcmp(m->p, link_hello, m->len) != 0) {
		link_fail(l, LINK_STEP_UDT, "the peer did not say hello");
		return;
	}
	link_up(l);
}

static void
link_on_hello_late(struct link *l, const void *data)
{
	char why[80];

	(void)data;
	snprintf(why, sizeof why, "the peer did not say hello within %u ms "
	    "of UDT coming up", l->a->o.udt_ms);
	link_fail(l, LINK_STEP_UDT, why);
}

/* UDT gave up: before the link was up a failure at its step, after it
 * the end of the link. */
static void
link_on_closed(struct link *l, const void *data)
{
	struct link_agent *a = l->a;

	(void)data;
	if (l->state != LS_UP) {
		link_fail(l, LINK_STEP_UDT, link_rows[l->state].why);
		return;
	}
	link_kill(l);
	if (a->cb.closed != NULL)
		a->cb.closed(a->arg, l, "the link broke or the peer closed it");
}

/* The deadline timer, made with the link (link-agent.c). */
struct event *
link_deadline_new(struct link *l)
{
	return evtimer_new(l->a->base, link_deadline_cb, l);
}
