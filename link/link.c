/* Brokered links: the node's half of flow 3 (see link/link.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "client/ctl.h"
#include "client/session.h"
#include "link/link.h"
#include "link/punch.h"
#include "link/udt.h"
#include "util/log.h"
#include "wire/nat.h"
#include "wire/proto.h"

#define LINK_RECENT	16	/* INSTRUCT answers kept for retransmissions */
#define LINK_ANSWER_MAX	512
#define LINK_RELAY_RTO_MS 200
#define LINK_MSG_MAX	(64 * 1024)
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
 * rounds (link/punch.c) and a little more. */
#define LINK_UDT_DELAY_MS 90

const struct link_options link_defaults = {
	.window = 8, .punch_ms = 6000, .udt_ms = 6000,
	.birthday_sockets = 256, .birthday_probes = 2048
};

/*
 * Birthday punching's pace. The random side opens its sockets
 * LINK_BDAY_BATCH every LINK_BDAY_BATCH_MS (256 in 160 ms), each checking
 * the peer's mapping every LINK_BDAY_EVERY rounds of 20 ms; the other side
 * waits LINK_BDAY_AFTER rounds for those mappings, then probes
 * LINK_BDAY_ROUND ports a round (2048 in 1.3 s). An agent holds at most
 * LINK_BDAY_FDS such sockets at once, whatever its links ask.
 */
#define LINK_BDAY_BATCH		16
#define LINK_BDAY_BATCH_MS	10
#define LINK_BDAY_EVERY		25
#define LINK_BDAY_AFTER		10
#define LINK_BDAY_ROUND		32
#define LINK_BDAY_FDS		512

/* The fresh socket's mapping: quick retransmissions, a few seconds. */
static const struct ctl_timing link_mapping_timing = { 300, 6, 8 };
/* LINK waits for the peer's ACK through the negotiator: 11.5 s. */
static const struct ctl_timing link_request_timing = { 500, 5, 8 };
static const struct ctl_timing link_report_timing = { 500, 3, 4 };

enum link_state {
	LS_MAPPING,	/* the fresh socket's mapping is being reflected */
	LS_ASKING,	/* initiator: LINK sent, waiting for the GO */
	LS_PUNCHING,	/* checks both ways */
	LS_RELAYING,	/* binding the socket at the relay */
	LS_CONNECTING,	/* UDT's rendezvous */
	LS_HELLO,	/* initiator: UDT up, waiting for the accepting
			   side's HELLO, until udt_ms */
	LS_UP,
	LS_DEAD
};

/* One of the random side's sockets. */
struct link_bday {
	struct link		*l;
	struct punch		*punch;
	int			 fd;
};

struct link {
	struct link_agent	*a;
	struct link		*next;
	uint64_t		 id;
	uint64_t		 peer;
	int			 initiator;
	int			 controlling;	/* nominates the punched pair */
	int			 birthday;	/* TC_BIRTHDAY_*, or 0 */
	struct link_bday	*bday;		/* the random side's sockets */
	unsigned		 nbday, bday_open, bday_live;
	struct punch_config	 bday_pc;	/* what each of them punches with */
	enum link_state		 state;
	enum link_path		 path;
	uint8_t			 key[TC_KEY_LEN];
	struct ctl		*probe;		/* the fresh socket, while probed */
	int			 fd;
	struct tc_endpoint	 me;
	struct tc_endpoint	 them;
	struct nat_profile	 peer_profile;
	int			 has_relay;
	struct addr		 relay;
	uint8_t			 instruct_tid[12];
	struct punch		*punch;
	struct punch_stats	 pst;		/* the punch's, once it is gone */
	struct udt_link		*udt;
	struct event		*timer;		/* relay retransmissions, UDT's
						   start, the HELLO's deadline */
	struct event		*relay_rx;	/* the relay's answer */
	double			 deadline;	/* the relay binding's, set once */
	struct sockaddr_storage	 peer_addr;	/* the punched pair's other end */
	socklen_t		 peer_len;
	unsigned		 relay_sent;
	int			 repunched;	/* asked again after a punch */
	double			 t0;
	double			 t_up;
	int			 in_cb;		/* inside a user callback */
	int			 closed;	/* link_close during one */
	void			*data;
	uint8_t			 rx[LINK_MSG_MAX];
};

struct link_recent {
	uint64_t	id;
	size_t		len;
	uint8_t		msg[LINK_ANSWER_MAX];
};

struct link_agent {
	struct event_base	*base;
	struct session		*s;
	struct udt_loop		*udt;
	struct link_callbacks	 cb;
	void			*arg;
	struct link_options	 o;
	struct link		*links;
	unsigned		 bday_fds;	/* birthday sockets open */
	struct link_recent	 recent[LINK_RECENT];
	unsigned		 nrecent;
	session_request_cb	 other;		/* the negotiator's other requests */
	void			*other_arg;
};

static double
link_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
link_unlist(struct link *l)
{
	struct link **pp;

	for (pp = &l->a->links; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
}

/* Closes the random side's sockets, but the one taken out of bday. */
static void
link_bday_free(struct link *l)
{
	unsigned i;

	for (i = 0; i < l->bday_open; i++) {
		punch_free(l->bday[i].punch);
		if (l->bday[i].fd != -1) {
			close(l->bday[i].fd);
			l->a->bday_fds--;
		}
	}
	if (l->bday != NULL && l->bday_open < l->nbday && l->timer != NULL) {
		event_free(l->timer);	/* the sockets' opener */
		l->timer = NULL;
	}
	free(l->bday);
	l->bday = NULL;
	l->nbday = l->bday_open = l->bday_live = 0;
}

static void
link_destroy(struct link *l)
{
	link_bday_free(l);
	link_unlist(l);
	session_cancel(l->a->s, l);	/* a LINK under way */
	ctl_free(l->probe);
	punch_free(l->punch);
	udt_link_free(l->udt);
	if (l->fd != -1)
		close(l->fd);
	if (l->timer != NULL)
		event_free(l->timer);
	if (l->relay_rx != NULL)
		event_free(l->relay_rx);
	sodium_memzero(l->key, sizeof l->key);
	free(l);
}

static void
link_report_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	(void)arg;
	(void)resp;
	(void)from;
}

static uint16_t
link_sat16(uint64_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

/* Tells the negotiator how the attempt ended, and what this end saw of
 * it: it counts outcomes by the pair's NAT classes, and failures by
 * their cause. cb (NULL: none) hears the answer, or that none came; -1
 * when nothing was sent. */
static int
link_report_then(struct link *l, enum link_step step, ctl_cb cb)
{
	struct stun_builder b;
	struct tc_outcome o;
	struct tc_link_seen seen;
	const struct punch_stats *ps = l->punch != NULL ?
	    punch_stats(l->punch) : &l->pst;
	const struct ctl_stats *path = session_path(l->a->s);
	uint8_t msg[STUN_MAX_MSG];

	if (l->id == 0)
		return -1;	/* the negotiator never knew this link */
	memset(&o, 0, sizeof o);
	o.ok = step == LINK_STEP_NONE;
	o.step = (uint8_t)step;
	o.path = (uint8_t)l->path;
	o.ms = o.ok ? (uint32_t)(l->t_up - l->t0) : 0;
	session_begin(l->a->s, &b, msg, sizeof msg, TC_METHOD_REPORT);
	stun_put_u64(&b, TC_ATTR_LINK, l->id);
	tc_put_outcome(&b, &o);
	seen.sent = link_sat16(ps->sent);
	seen.received = link_sat16(ps->received);
	seen.answered = link_sat16(ps->answered);
	seen.learnt = link_sat16(ps->learnt);
	seen.rtt_ms = link_sat16(path->srtt_ms);
	seen.loss_permille = link_sat16(path->loss_permille);
	tc_put_link_seen(&b, &seen);
	return session_send(l->a->s, &b, &link_report_timing,
	    cb != NULL ? cb : link_report_cb, cb != NULL ? l : NULL);
}

static void
link_report(struct link *l, enum link_step step)
{
	link_report_then(l, step, NULL);
}

static int link_map(struct link *l, ctl_cb mapped);
static void link_ask(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from);

static void link_fail(struct link *l, enum link_step step, const char *why);

/* The failed punch's REPORT is answered, or none came: ask again. */
static void
link_repunch_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct link *l = arg;

	(void)resp;
	(void)from;
	if (link_map(l, link_ask) != 0)
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
	reported = link_report_then(l, LINK_STEP_PUNCH, link_repunch_cb);
	l->repunched = 1;
	link_bday_free(l);
	l->birthday = 0;
	l->controlling = l->initiator;
	punch_free(l->punch);
	l->punch = NULL;
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	l->id = 0;
	memset(&l->me, 0, sizeof l->me);
	memset(&l->them, 0, sizeof l->them);
	l->has_relay = 0;
	l->state = LS_MAPPING;
	return reported == 0 ? 0 : link_map(l, link_ask);
}

static void
link_fail(struct link *l, enum link_step step, const char *why)
{
	struct link_agent *a = l->a;

	if (step == LINK_STEP_PUNCH && link_repunch(l, why) == 0)
		return;
	log_info("link %016llx to node %016llx failed at %s: %s",
	    (unsigned long long)l->id, (unsigned long long)l->peer,
	    link_step_name(step), why);
	l->state = LS_DEAD;
	link_report(l, step);
	if (a->cb.failed != NULL)
		a->cb.failed(a->arg, l, step, why);
	link_destroy(l);
}

static void
link_up(struct link *l)
{
	struct link_agent *a = l->a;

	if (l->timer != NULL) {
		event_free(l->timer);	/* the HELLO's deadline */
		l->timer = NULL;
	}
	l->state = LS_UP;
	l->t_up = link_now();
	log_info("link %016llx to node %016llx up (%s) in %.0f ms",
	    (unsigned long long)l->id, (unsigned long long)l->peer,
	    link_path_name(l->path), l->t_up - l->t0);
	link_report(l, LINK_STEP_NONE);
	if (a->cb.connected != NULL)
		a->cb.connected(a->arg, l);
}

/* Messages in; the user may close the link from a callback, and then it
 * goes once the callback returns. Returns -1 when l is gone. */
static int
link_read(struct link *l)
{
	struct link_agent *a = l->a;
	ssize_t n;

	l->in_cb++;
	while (!l->closed && (n = udt_link_recv(l->udt, l->rx,
	    sizeof l->rx)) >= 0) {
		if (l->state == LS_HELLO) {
			if ((size_t)n != sizeof link_hello - 1 ||
			    memcmp(l->rx, link_hello, (size_t)n) != 0) {
				l->in_cb--;
				link_fail(l, LINK_STEP_UDT,
				    "the peer did not say hello");
				return -1;
			}
			link_up(l);
			continue;
		}
		if (a->cb.message != NULL)
			a->cb.message(a->arg, l, l->rx, (size_t)n);
	}
	l->in_cb--;
	if (l->closed) {
		link_destroy(l);
		return -1;
	}
	return 0;
}

static void
link_hello_late_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	char why[80];

	(void)fd;
	(void)what;
	snprintf(why, sizeof why, "the peer did not say hello within %u ms "
	    "of UDT coming up", l->a->o.udt_ms);
	link_fail(l, LINK_STEP_UDT, why);
}

/* The initiator waits for the peer's HELLO until udt_ms: a peer that
 * never sends it must not hold the link (and its user) for ever. */
static int
link_hello_wait(struct link *l)
{
	struct timeval tv = { l->a->o.udt_ms / 1000,
	    (l->a->o.udt_ms % 1000) * 1000 };

	if (l->timer != NULL)
		event_free(l->timer);	/* UDT's start, done */
	l->state = LS_HELLO;
	l->timer = evtimer_new(l->a->base, link_hello_late_cb, l);
	return l->timer != NULL && evtimer_add(l->timer, &tv) == 0 ? 0 : -1;
}

/* UDT's events for the link. */
static void
link_udt_cb(struct udt_link *u, enum udt_event ev, void *arg)
{
	struct link *l = arg;
	struct link_agent *a = l->a;

	(void)u;
	switch (ev) {
	case UDT_LINK_CONNECTED:
		if (l->initiator) {
			if (link_hello_wait(l) != 0) {
				link_fail(l, LINK_STEP_UDT,
				    "cannot wait for the peer's hello");
				break;
			}
			link_read(l);	/* it may be here already */
			break;
		}
		if (udt_link_send(l->udt, link_hello, sizeof link_hello - 1) !=
		    (ssize_t)(sizeof link_hello - 1)) {
			link_fail(l, LINK_STEP_UDT, "cannot send hello");
			break;
		}
		l->in_cb++;
		link_up(l);
		l->in_cb--;
		if (l->closed)
			link_destroy(l);
		break;
	case UDT_LINK_READABLE:
		link_read(l);
		break;
	case UDT_LINK_CLOSED:
		if (l->state != LS_UP) {
			link_fail(l, LINK_STEP_UDT, l->state == LS_HELLO ?
			    "the link closed before the peer's hello" :
			    "UDT's rendezvous handshake did not complete");
			return;
		}
		l->state = LS_DEAD;
		if (a->cb.closed != NULL)
			a->cb.closed(a->arg, l, "the link broke or the peer "
			    "closed it");
		link_destroy(l);
		break;
	}
}

static void
link_udt_start(struct link *l, const struct sockaddr *peer, socklen_t len)
{
	char err[160];
	int fd = l->fd;

	l->fd = -1;		/* UDT's from here, whatever happens */
	l->state = LS_CONNECTING;
	l->udt = udt_link_start(l->a->udt, fd, peer, len,
	    (int)l->a->o.udt_ms, link_udt_cb, l, err, sizeof err);
	if (l->udt == NULL)
		link_fail(l, LINK_STEP_UDT, err);
}

static void
link_udt_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	link_udt_start(l, (struct sockaddr *)&l->peer_addr, l->peer_len);
}

/* UDT starts towards l->peer_addr on both sides at once, except that
 * the initiator (the nominating side on the direct path) waits
 * LINK_UDT_DELAY_MS: two
 * rendezvous handshakes started together meet at once; one started early
 * waits for UDT's next resend, and under loss sometimes never meets. */
static void
link_udt_begin(struct link *l)
{
	struct timeval tv = { 0, LINK_UDT_DELAY_MS * 1000 };

	if (!l->controlling) {
		link_udt_start(l, (struct sockaddr *)&l->peer_addr,
		    l->peer_len);
		return;
	}
	l->timer = evtimer_new(l->a->base, link_udt_later_cb, l);
	if (l->timer == NULL || evtimer_add(l->timer, &tv) != 0)
		link_fail(l, LINK_STEP_UDT, "cannot start UDT");
}

static void
link_punched(void *arg, const struct sockaddr *peer, socklen_t peerlen,
    const char *why)
{
	struct link *l = arg;

	if (peer == NULL) {
		link_fail(l, LINK_STEP_PUNCH, why);
		return;
	}
	memcpy(&l->peer_addr, peer, peerlen);	/* peer lives in the punch */
	l->peer_len = peerlen;
	if (l->punch != NULL) {	/* birthday's winner kept its own */
		l->pst = *punch_stats(l->punch);
		punch_free(l->punch);
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

static socklen_t
link_sslen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

/* A socket of the random side's punched its pair: that socket is the
 * link's from now on, and the others close. */
static void
link_bday_punched(void *arg, const struct sockaddr *peer, socklen_t peerlen,
    const char *why)
{
	struct link_bday *b = arg;
	struct link *l = b->l;
	struct sockaddr_storage ss;
	char text[64];

	if (peer == NULL) {
		punch_free(b->punch);
		b->punch = NULL;
		close(b->fd);
		b->fd = -1;
		l->a->bday_fds--;
		if (--l->bday_live > 0 || l->bday_open < l->nbday)
			return;
		link_bday_free(l);
		link_fail(l, LINK_STEP_PUNCH, why);
		return;
	}
	memcpy(&ss, peer, peerlen);	/* peer lives in the punch */
	log_info("link %016llx: birthday: socket %u of %u met %s (%u checks "
	    "rejected)", (unsigned long long)l->id, (unsigned)(b - l->bday),
	    l->bday_open, addr_format(peer, text, sizeof text),
	    punch_stats(b->punch)->rejected);
	l->fd = b->fd;
	b->fd = -1;
	l->a->bday_fds--;
	l->pst = *punch_stats(b->punch);
	link_bday_free(l);
	link_punched(l, (struct sockaddr *)&ss, peerlen, NULL);
}

/* Opens the random side's next batch of sockets, each punching towards
 * the peer's one mapping; the first is the link's own. */
static void
link_bday_open_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	struct link_bday *b;
	struct punch_config pc = l->bday_pc;
	unsigned n;

	(void)fd;
	(void)what;
	for (n = 0; n < LINK_BDAY_BATCH && l->bday_open < l->nbday; n++) {
		b = &l->bday[l->bday_open];
		b->l = l;
		if (l->bday_open == 0) {
			b->fd = l->fd;	/* mapped at the negotiator */
			l->fd = -1;
		} else if (l->a->bday_fds >= LINK_BDAY_FDS ||
		    (b->fd = socket(l->them.external.ss_family, SOCK_DGRAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
		    (l->a->o.bind.len > 0 && bind(b->fd, (struct sockaddr *)
		    &l->a->o.bind.ss, l->a->o.bind.len) != 0)) {
			if (b->fd != -1)
				close(b->fd);
			l->nbday = l->bday_open;	/* this many, then */
			break;
		}
		l->a->bday_fds++;
		l->bday_open++;
		pc.fd = b->fd;
		if ((b->punch = punch_start(l->a->base, &pc, link_bday_punched,
		    b)) == NULL) {
			l->nbday = l->bday_open;
			break;
		}
		l->bday_live++;
	}
	if (l->bday_open < l->nbday)
		return;
	event_free(l->timer);
	l->timer = NULL;
	if (l->bday_live == 0) {
		link_bday_free(l);
		link_fail(l, LINK_STEP_PUNCH, "cannot open birthday sockets");
	}
}

/* Birthday punching, the random side: its sockets, opened at a pace. */
static void
link_bday_start(struct link *l, const struct punch_config *pc)
{
	struct timeval tv = { 0, LINK_BDAY_BATCH_MS * 1000 };
	unsigned n = l->a->o.birthday_sockets;

	l->bday_pc = *pc;
	l->bday_pc.every = LINK_BDAY_EVERY;
	l->nbday = n > 0 ? n : 1;
	l->state = LS_PUNCHING;
	if ((l->bday = calloc(l->nbday, sizeof *l->bday)) == NULL ||
	    (l->timer = event_new(l->a->base, -1, EV_PERSIST,
	    link_bday_open_cb, l)) == NULL || evtimer_add(l->timer, &tv) != 0) {
		l->nbday = 0;
		link_fail(l, LINK_STEP_PUNCH, "cannot start birthday punching");
		return;
	}
	link_bday_open_cb(-1, 0, l);
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
		pc.cand[0].len = link_sslen(&l->them.internal);
		pc.ncand++;
	}
	for (i = 0; i < l->them.nports && pc.ncand < PUNCH_MAX_CANDIDATES;
	    i++) {
		memcpy(&pc.cand[pc.ncand].ss, &l->them.external,
		    sizeof l->them.external);
		pc.cand[pc.ncand].len = link_sslen(&l->them.external);
		addr_set_port((struct sockaddr *)&pc.cand[pc.ncand].ss,
		    l->them.ports[i]);
		pc.ncand++;
	}
	if (l->birthday == TC_BIRTHDAY_HARD) {
		l->controlling = pc.controlling = 0;
		link_bday_start(l, &pc);
		return;
	}
	if (l->birthday == TC_BIRTHDAY_EASY) {
		/* Probes from the one mapping, to many ports of theirs. */
		l->controlling = pc.controlling = 1;
		pc.spray_ip.len = link_sslen(&l->them.external);
		memcpy(&pc.spray_ip.ss, &l->them.external, pc.spray_ip.len);
		pc.spray = l->a->o.birthday_probes;
		pc.spray_round = LINK_BDAY_ROUND;
		pc.spray_after = LINK_BDAY_AFTER;
	}
	l->state = LS_PUNCHING;
	if ((l->punch = punch_start(l->a->base, &pc, link_punched, l)) ==
	    NULL)
		link_fail(l, LINK_STEP_PUNCH, "cannot start punching");
}

/* Relay binding: an authenticated RELAY request from the link's socket,
 * so that the relay learns the socket's mapping; UDT then talks to the
 * relay. */
static int
link_relay_send(struct link *l)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG], tid[12];
	int len;

	memcpy(tid, &l->id, sizeof l->id);
	memcpy(tid + 8, &l->relay_sent, 4);
	stun_build_init(&b, msg, sizeof msg, TC_METHOD_RELAY, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_LINK, l->id);
	stun_put_integrity_sha256(&b, l->key, sizeof l->key);
	stun_put_fingerprint(&b);
	if ((len = stun_build_finish(&b)) < 0)
		return -1;
	l->relay_sent++;
	return sendto(l->fd, msg, (size_t)len, 0,
	    (struct sockaddr *)&l->relay.ss, l->relay.len) == len ? 0 : -1;
}

/* The relay binding's retransmissions, and its deadline: punch_ms from
 * the first request, whatever else arrives meanwhile. */
static void
link_relay_rto_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	if (link_now() >= l->deadline) {
		link_fail(l, LINK_STEP_RELAY, "the relay did not answer");
		return;
	}
	link_relay_send(l);
}

/*
 * The relay's answer binds the socket. A datagram from the relay that is
 * not STUN is the peer's UDT, forwarded: proof that both sides are bound,
 * even if our answer was lost. It is left in the socket for UDT (MSG_PEEK):
 * dropping the peer's first handshake is what kept a rendezvous from ever
 * completing, about once in 500 relayed links. Anything else is dropped,
 * and moves no timer: junk at the socket must not keep the wait alive.
 */
static void
link_relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	uint8_t buf[STUN_MAX_MSG + 4];
	struct sockaddr_storage from;
	socklen_t fromlen;
	struct stun_msg m;
	uint64_t id;
	ssize_t n;
	int from_relay;

	(void)fd;
	(void)what;
	for (;;) {
		fromlen = sizeof from;
		n = recvfrom(l->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		from_relay = addr_equal((struct sockaddr *)&from,
		    (struct sockaddr *)&l->relay.ss);
		if (from_relay && !stun_is_stun(buf, (size_t)n))
			break;		/* the peer's UDT: leave it */
		if (recv(l->fd, buf, sizeof buf, MSG_DONTWAIT) != n)
			continue;	/* consumed */
		if (from_relay &&
		    stun_parse(buf, (size_t)n, &m, NULL) == 0 &&
		    m.method == TC_METHOD_RELAY && m.cls == STUN_SUCCESS &&
		    stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &id) == 0 &&
		    id == l->id &&
		    stun_check_integrity_sha256(&m, l->key, sizeof l->key) == 0)
			break;
	}
	event_free(l->timer);
	l->timer = NULL;
	event_free(l->relay_rx);
	l->relay_rx = NULL;
	l->path = LINK_PATH_RELAY;
	memcpy(&l->peer_addr, &l->relay.ss, sizeof l->relay.ss);
	l->peer_len = l->relay.len;
	link_udt_begin(l);
}

static void
link_relay(struct link *l)
{
	struct timeval tv = { 0, LINK_RELAY_RTO_MS * 1000 };

	l->state = LS_RELAYING;
	l->deadline = link_now() + l->a->o.punch_ms;
	/* Two events: with EV_PERSIST, a read event's timeout starts again
	 * on every datagram. */
	l->timer = event_new(l->a->base, -1, EV_PERSIST, link_relay_rto_cb, l);
	l->relay_rx = event_new(l->a->base, l->fd, EV_READ | EV_PERSIST,
	    link_relay_cb, l);
	if (l->timer == NULL || l->relay_rx == NULL ||
	    event_add(l->timer, &tv) != 0 ||
	    event_add(l->relay_rx, NULL) != 0 || link_relay_send(l) != 0)
		link_fail(l, LINK_STEP_RELAY, "cannot reach the relay");
}

/* Both sides know each other: punch, or bind at the relay. */
static void
link_go(struct link *l)
{
	if (l->has_relay)
		link_relay(l);
	else
		link_punch(l);
}

/* The link's fresh socket; mapped runs with its reflected mapping. */
static int
link_map(struct link *l, ctl_cb mapped)
{
	struct link_agent *a = l->a;
	uint8_t msg[STUN_MAX_MSG];
	char err[160];
	int len;

	l->state = LS_MAPPING;
	if ((l->probe = ctl_open(a->base,
	    session_server(a->s)->ss.ss_family, a->o.bind.len > 0 ?
	    &a->o.bind : NULL, err, sizeof err)) ==
	    NULL) {
		log_warn("link socket: %s", err);
		return -1;
	}
	len = ctl_build_binding(msg, sizeof msg, 0, 64);
	if (len < 0 || ctl_request(l->probe, session_server(a->s), msg,
	    (size_t)len, &link_mapping_timing, mapped, l) != 0)
		return -1;
	return 0;
}

/* Fills l->me from the probe's answer and takes the socket. */
static int
link_mapped(struct link *l, const struct stun_msg *resp)
{
	struct link_agent *a = l->a;
	struct addr local;
	uint16_t port, ports[TC_PORTS_MAX];
	size_t n;

	if (resp == NULL || resp->cls != STUN_SUCCESS ||
	    stun_find(resp, STUN_ATTR_XOR_MAPPED_ADDRESS) == NULL ||
	    stun_attr_xor_address(resp, stun_find(resp,
	    STUN_ATTR_XOR_MAPPED_ADDRESS), &l->me.external, NULL) != 0)
		return -1;
	port = ctl_local_port(l->probe);
	if (addr_local_towards(session_server(a->s), &local) == 0) {
		addr_set_port((struct sockaddr *)&local.ss, port);
		memcpy(&l->me.internal, &local.ss, sizeof local.ss);
	}
	n = nat_predict(session_profile(a->s), port,
	    addr_port((struct sockaddr *)&l->me.external), a->o.window,
	    ports, TC_PORTS_MAX);
	memcpy(l->me.ports, ports, n * sizeof ports[0]);
	l->me.nports = (uint8_t)n;
	l->fd = ctl_detach(l->probe);	/* inside its callback: allowed */
	l->probe = NULL;
	return 0;
}

static struct link *
link_new(struct link_agent *a, uint64_t peer, int initiator)
{
	struct link *l;

	if ((l = calloc(1, sizeof *l)) == NULL)
		return NULL;
	l->a = a;
	l->peer = peer;
	l->initiator = initiator;
	l->controlling = initiator;
	l->fd = -1;
	l->t0 = link_now();
	l->next = a->links;
	a->links = l;
	return l;
}

/* This end's part in birthday punching, if the negotiator chose it. */
static void
link_birthday_role(struct link *l, const struct stun_msg *m)
{
	uint32_t v;

	if (stun_attr_u32(stun_find(m, TC_ATTR_BIRTHDAY), &v) == 0 &&
	    (v == TC_BIRTHDAY_HARD || v == TC_BIRTHDAY_EASY))
		l->birthday = (int)v;
}

/* --- the initiator's side: LINK, then the GO */

static enum link_step
link_error_step(const struct stun_msg *resp, char *why, size_t len)
{
	const struct stun_attr *ea = stun_find(resp, STUN_ATTR_ERROR_CODE);
	const char *reason = "";
	size_t rlen = 0;
	int code = 0;

	if (ea != NULL)
		stun_attr_error_code(ea, &code, &reason, &rlen);
	snprintf(why, len, "the negotiator answered %d %.*s", code,
	    (int)rlen, reason);
	/* 480 and 403 name the peer's part; the rest are the request's. */
	return code == 480 || code == 403 ? LINK_STEP_PEER : LINK_STEP_REQUEST;
}

static void
link_go_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct link *l = arg;
	const struct stun_attr *a;
	char why[200];

	(void)from;
	if (resp == NULL) {
		link_fail(l, LINK_STEP_REQUEST, "the negotiator did not answer");
		return;
	}
	if (session_verify(l->a->s, resp) != 0) {
		link_fail(l, LINK_STEP_REQUEST,
		    "the negotiator's answer failed integrity");
		return;
	}
	if (resp->cls == STUN_ERROR) {
		enum link_step step = link_error_step(resp, why, sizeof why);

		link_fail(l, step, why);
		return;
	}
	if (stun_attr_u64(stun_find(resp, TC_ATTR_LINK), &l->id) != 0 ||
	    (a = stun_find(resp, TC_ATTR_LINK_KEY)) == NULL ||
	    a->len != TC_KEY_LEN || tc_get_endpoint(resp, &l->them) != 0) {
		l->id = 0;
		link_fail(l, LINK_STEP_REQUEST, "malformed answer to LINK");
		return;
	}
	memcpy(l->key, a->value, TC_KEY_LEN);
	if ((a = stun_find(resp, TC_ATTR_NAT_PROFILE)) != NULL)
		nat_profile_decode(a->value, a->len, &l->peer_profile);
	if ((a = stun_find(resp, TC_ATTR_XOR_RELAY)) != NULL &&
	    stun_attr_xor_address(resp, a, &l->relay.ss, &l->relay.len) == 0)
		l->has_relay = 1;
	link_birthday_role(l, resp);
	link_go(l);
}

static void
link_ask(void *arg, const struct stun_msg *resp, const struct sockaddr *from)
{
	struct link *l = arg;
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	(void)from;
	if (link_mapped(l, resp) != 0) {
		link_fail(l, LINK_STEP_MAPPING,
		    "the negotiator did not reflect the link socket");
		return;
	}
	l->state = LS_ASKING;
	session_begin(l->a->s, &b, msg, sizeof msg, TC_METHOD_LINK);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, l->peer);
	tc_put_endpoint(&b, &l->me);
	if (session_send(l->a->s, &b, &link_request_timing, link_go_cb, l) !=
	    0)
		link_fail(l, LINK_STEP_REQUEST, "not registered");
}

struct link *
link_open(struct link_agent *a, uint64_t peer, char *err, size_t errlen)
{
	struct link *l;

	if (!session_registered(a->s)) {
		snprintf(err, errlen, "not registered with the negotiator");
		return NULL;
	}
	if (peer == session_node_id(a->s)) {
		snprintf(err, errlen, "node %016llx is this node",
		    (unsigned long long)peer);
		return NULL;
	}
	if ((l = link_new(a, peer, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (link_map(l, link_ask) != 0) {
		snprintf(err, errlen, "cannot open a socket for the link");
		link_destroy(l);
		return NULL;
	}
	return l;
}

/* --- the other side: INSTRUCT, answered with the ACK */

static void
link_remember(struct link_agent *a, uint64_t id, const uint8_t *msg,
    size_t len)
{
	struct link_recent *r = &a->recent[a->nrecent++ % LINK_RECENT];

	if (len > sizeof r->msg)
		return;
	r->id = id;
	r->len = len;
	memcpy(r->msg, msg, len);
}

/* Answers INSTRUCT (the ACK, or an error) and keeps the answer for the
 * negotiator's retransmissions. */
static void
link_instruct_answer(struct link *l, int code, const char *reason)
{
	struct stun_builder b;
	uint8_t msg[LINK_ANSWER_MAX];

	stun_build_init(&b, msg, sizeof msg, TC_METHOD_INSTRUCT,
	    code != 0 ? STUN_ERROR : STUN_SUCCESS, l->instruct_tid);
	if (code != 0)
		stun_put_error_code(&b, code, reason);
	else
		tc_put_endpoint(&b, &l->me);
	stun_put_u64(&b, TC_ATTR_LINK, l->id);
	if (session_answer(l->a->s, &b) == 0)
		link_remember(l->a, l->id, msg, b.len);
}

static void
link_acked(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct link *l = arg;

	(void)from;
	if (link_mapped(l, resp) != 0) {
		link_instruct_answer(l, 500, "mapping: no answer");
		link_fail(l, LINK_STEP_MAPPING,
		    "the negotiator did not reflect the link socket");
		return;
	}
	link_instruct_answer(l, 0, NULL);
	link_go(l);
}

static void
link_instruct(void *arg, const struct stun_msg *req)
{
	struct link_agent *a = arg;
	const struct stun_attr *at;
	struct link *l;
	uint64_t id, peer;
	unsigned i;

	if (req->method != TC_METHOD_INSTRUCT) {
		if (a->other != NULL)
			a->other(a->other_arg, req);
		return;
	}
	if (stun_attr_u64(stun_find(req, TC_ATTR_LINK), &id) != 0 ||
	    stun_attr_u64(stun_find(req, TC_ATTR_PEER_NODE), &peer) != 0 ||
	    (at = stun_find(req, TC_ATTR_LINK_KEY)) == NULL ||
	    at->len != TC_KEY_LEN)
		return;
	/* A retransmission: the same answer again (ours was lost), or, while
	 * the link socket is still being mapped, wait for it. */
	for (i = 0; i < LINK_RECENT; i++) {
		if (a->recent[i].id == id && a->recent[i].len > 0) {
			session_resend(a->s, a->recent[i].msg,
			    a->recent[i].len);
			return;
		}
	}
	for (l = a->links; l != NULL; l = l->next)
		if (l->id == id && !l->initiator)
			return;
	if ((l = link_new(a, peer, 0)) == NULL)
		return;
	l->id = id;
	memcpy(l->key, at->value, TC_KEY_LEN);
	memcpy(l->instruct_tid, req->tid, sizeof l->instruct_tid);
	if (tc_get_endpoint(req, &l->them) != 0) {
		link_instruct_answer(l, 400, "malformed INSTRUCT");
		link_destroy(l);
		return;
	}
	if ((at = stun_find(req, TC_ATTR_NAT_PROFILE)) != NULL)
		nat_profile_decode(at->value, at->len, &l->peer_profile);
	if ((at = stun_find(req, TC_ATTR_XOR_RELAY)) != NULL &&
	    stun_attr_xor_address(req, at, &l->relay.ss, &l->relay.len) == 0)
		l->has_relay = 1;
	link_birthday_role(l, req);
	if (a->cb.incoming != NULL && a->cb.incoming(a->arg, l, peer) != 0) {
		log_info("refused a link from node %016llx",
		    (unsigned long long)peer);
		link_instruct_answer(l, 403, "refused");
		link_destroy(l);
		return;
	}
	log_debug("node %016llx asks for link %016llx",
	    (unsigned long long)peer, (unsigned long long)id);
	if (link_map(l, link_acked) != 0) {
		link_instruct_answer(l, 500, "cannot open a link socket");
		l->id = 0;	/* nothing to report: the negotiator knows */
		link_fail(l, LINK_STEP_MAPPING, "cannot open a link socket");
	}
}

/* --- the agent */

struct link_agent *
link_agent_new(struct event_base *base, struct session *s,
    struct udt_loop *udt, const struct link_callbacks *cb, void *arg,
    const struct link_options *o)
{
	struct link_agent *a;

	if ((a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	a->base = base;
	a->s = s;
	a->udt = udt;
	a->cb = *cb;
	a->arg = arg;
	a->o = o != NULL ? *o : link_defaults;
	if (a->o.window == 0)
		a->o.window = link_defaults.window;
	if (a->o.punch_ms == 0)
		a->o.punch_ms = link_defaults.punch_ms;
	if (a->o.udt_ms == 0)
		a->o.udt_ms = link_defaults.udt_ms;
	if (a->o.birthday_sockets == 0)
		a->o.birthday_sockets = link_defaults.birthday_sockets;
	if (a->o.birthday_probes == 0)
		a->o.birthday_probes = link_defaults.birthday_probes;
	session_on_request(s, link_instruct, a);
	return a;
}

void
link_agent_on_request(struct link_agent *a, session_request_cb cb, void *arg)
{
	a->other = cb;
	a->other_arg = arg;
}

void
link_agent_free(struct link_agent *a)
{
	if (a == NULL)
		return;
	session_on_request(a->s, NULL, NULL);
	while (a->links != NULL)
		link_destroy(a->links);
	free(a);
}

int
link_send(struct link *l, const void *msg, size_t len)
{
	if (l->state != LS_UP) {
		errno = ENOTCONN;
		return -1;
	}
	return udt_link_send(l->udt, msg, len) == (ssize_t)len ? 0 : -1;
}

ssize_t
link_unacked(struct link *l)
{
	return l->udt != NULL ? udt_link_unacked(l->udt) : 0;
}

int
link_stats(struct link *l, struct udt_stats *out)
{
	return l->udt != NULL ? udt_link_stats(l->udt, out) : -1;
}

void
link_close(struct link *l)
{
	if (l == NULL)
		return;
	if (l->in_cb > 0) {
		l->closed = 1;	/* from a callback: gone when it returns */
		l->state = LS_DEAD;
		return;
	}
	link_destroy(l);
}

uint64_t
link_peer(const struct link *l)
{
	return l->peer;
}

const struct nat_profile *
link_peer_profile(const struct link *l)
{
	return &l->peer_profile;
}

uint64_t
link_id(const struct link *l)
{
	return l->id;
}

int
link_initiator(const struct link *l)
{
	return l->initiator;
}

enum link_path
link_path(const struct link *l)
{
	return l->path;
}

int
link_connect_ms(const struct link *l)
{
	return l->t_up > 0 ? (int)(l->t_up - l->t0) : -1;
}

void
link_set_data(struct link *l, void *data)
{
	l->data = data;
}

void *
link_data(const struct link *l)
{
	return l->data;
}
