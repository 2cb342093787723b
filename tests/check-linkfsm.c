/*
 * The link agent's state machine (net/link/link.c) with events fed straight
 * to link_drive: which events each state takes (the table below is the
 * design, written out again), that the others are ignored and counted,
 * that a timeout in each state fails at its step or moves on, that a
 * state's deadline is armed on entering it, and that a link closed from
 * its own callback is freed only once the callback has returned (run
 * this suite under valgrind to see that nothing is read after a free).
 * The agent is real, over a session whose negotiator never answers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/client/session.h"
#include "net/link/link-int.h"
#include "net/link/udt.h"
#include "net/util/addr.h"
#include "net/util/clock.h"
#include "net/wire/proto.h"
#include "tests/check-run.h"

#define PUNCH_MS	1000
#define UDT_MS		1200

static struct event_base *base;
static struct session *sess;
static struct udt_loop *udt;
static struct link_agent *agent;
static int silent_fd;		/* the negotiator that never answers */

/* What the callbacks saw. */
static int n_connected, n_failed, n_closed;
static enum link_step failed_step;
static int close_in_connected;	/* link_close from the callback */
static uint64_t peer_after_close;
static uint64_t failed_at_ms;

static void
on_connected(void *arg, struct link *l)
{
	(void)arg;
	n_connected++;
	if (close_in_connected) {
		link_close(l);
		/* Still whole: freed on the loop's next turn. */
		peer_after_close = link_peer(l);
		ck_assert_int_eq(l->state, LS_DEAD);
	}
}

static void
on_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	(void)arg;
	(void)why;
	n_failed++;
	failed_step = step;
	failed_at_ms = clock_ms();
	ck_assert_int_eq(l->state, LS_DEAD);
	link_close(l);	/* too late: ignored, not a second free */
	event_base_loopbreak(base);
}

static void
on_closed(void *arg, struct link *l, const char *why)
{
	(void)arg;
	(void)l;
	(void)why;
	n_closed++;
}

static void
on_session(void *arg, enum session_event ev, struct session *s)
{
	(void)arg;
	(void)ev;
	(void)s;
}

static void
setup(void)
{
	static const struct link_callbacks cb = {
		.connected = on_connected, .failed = on_failed,
		.closed = on_closed
	};
	struct link_options o = link_defaults;
	struct session_config cfg;
	struct sockaddr_in in;
	socklen_t len = sizeof in;
	char err[200];

	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(bind(silent_fd, (struct sockaddr *)&in, sizeof in),
	    0);
	getsockname(silent_fd, (struct sockaddr *)&in, &len);
	ck_assert_ptr_nonnull(base = event_base_new());
	udt = udt_loop_new(base, err, sizeof err);
	ck_assert_msg(udt != NULL, "%s", err);
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", ntohs(in.sin_port), 0,
	    &cfg.server, err, sizeof err), 0);
	cfg.node_id = 0xa;
	cfg.role = TC_ROLE_PEER;
	sess = session_start(base, &cfg, on_session, NULL, err, sizeof err);
	ck_assert_msg(sess != NULL, "session_start: %s", err);
	o.punch_ms = PUNCH_MS;
	o.udt_ms = UDT_MS;
	agent = link_agent_new(base, sess, udt, &cb, NULL, &o);
	ck_assert_ptr_nonnull(agent);
	n_connected = n_failed = n_closed = 0;
	failed_step = LINK_STEP_NONE;
	close_in_connected = 0;
	peer_after_close = 0;
}

static void
teardown(void)
{
	link_agent_free(agent);
	session_free(sess);
	udt_loop_free(udt);
	event_base_free(base);
	close(silent_fd);
}

/* A link in state s, as if it had got there (the negotiator never knew
 * it: id 0, nothing reported). */
static struct link *
link_in(enum link_state s, int initiator)
{
	struct link *l = link_new(agent, 0xb, initiator);

	ck_assert_ptr_nonnull(l);
	l->state = s;
	return l;
}

/* One turn of the loop: the sweep. */
static void
turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static int
listed(const struct link *l)
{
	const struct link *x;

	for (x = agent->links; x != NULL; x = x->next)
		if (x == l)
			return 1;
	return 0;
}

/* The design: the events each state takes. */
static const unsigned takes[LS_COUNT] = {
#define B(e) (1u << (e))
	[LS_NEW] = B(LINK_EV_START) | B(LINK_EV_CLOSE),
	[LS_MAPPING] = B(LINK_EV_MAPPED) | B(LINK_EV_TIMEOUT) |
	    B(LINK_EV_CLOSE),
	[LS_ASKING] = B(LINK_EV_GO) | B(LINK_EV_TIMEOUT) | B(LINK_EV_CLOSE),
	[LS_REPORTING] = B(LINK_EV_REPORTED) | B(LINK_EV_TIMEOUT) |
	    B(LINK_EV_CLOSE),
	[LS_PUNCHING] = B(LINK_EV_PUNCHED) | B(LINK_EV_TIMEOUT) |
	    B(LINK_EV_CLOSE),
	[LS_RELAYING] = B(LINK_EV_RELAY_BOUND) | B(LINK_EV_TIMEOUT) |
	    B(LINK_EV_CLOSE),
	[LS_UDT_WAIT] = B(LINK_EV_TIMEOUT) | B(LINK_EV_CLOSE),
	[LS_CONNECTING] = B(LINK_EV_UDT_UP) | B(LINK_EV_TIMEOUT) |
	    B(LINK_EV_CLOSED) | B(LINK_EV_CLOSE),
	[LS_HELLO] = B(LINK_EV_READABLE) | B(LINK_EV_HELLO) |
	    B(LINK_EV_TIMEOUT) | B(LINK_EV_CLOSED) | B(LINK_EV_CLOSE),
	[LS_UP] = B(LINK_EV_READABLE) | B(LINK_EV_CLOSED) | B(LINK_EV_CLOSE),
	[LS_DEAD] = 0,
#undef B
};

START_TEST(test_table)
{
	int s, e;

	for (s = 0; s < LS_COUNT; s++)
		for (e = 0; e < LINK_EV_COUNT; e++)
			ck_assert_msg((unsigned)link_takes(s, e) ==
			    ((takes[s] >> e) & 1), "%s takes %s: %d",
			    link_state_name(s), link_event_name(e),
			    link_takes(s, e));
}
END_TEST

/* Every event a state does not take leaves it as it was, and counts. */
START_TEST(test_unexpected_ignored)
{
	struct link_punched pd = { NULL, 0, "no", 0 };
	struct link_msg m = { (const uint8_t *)"x", 1 };
	const void *data[LINK_EV_COUNT] = {
		[LINK_EV_PUNCHED] = &pd, [LINK_EV_HELLO] = &m
	};
	struct link *l;
	unsigned n;
	int s, e;

	for (s = 0; s < LS_COUNT; s++) {
		l = link_in(s, 1);
		for (n = 0, e = 0; e < LINK_EV_COUNT; e++) {
			if ((takes[s] >> e) & 1)
				continue;
			ck_assert_int_eq(link_drive(l, e, data[e]), -1);
			ck_assert_int_eq(l->state, s);
			ck_assert_uint_eq(l->ignored, ++n);
		}
		link_free(l);
	}
	ck_assert_int_eq(n_failed + n_connected + n_closed, 0);
}
END_TEST

/* A timeout fails each waiting state at its step; the link is swept on
 * the next turn, not before. */
START_TEST(test_timeouts)
{
	static const struct {
		enum link_state	s;
		enum link_step	step;
	} cases[] = {
		{ LS_MAPPING, LINK_STEP_MAPPING },
		{ LS_ASKING, LINK_STEP_REQUEST },
		{ LS_PUNCHING, LINK_STEP_PUNCH },	/* accepting side */
		{ LS_RELAYING, LINK_STEP_RELAY },
		{ LS_CONNECTING, LINK_STEP_UDT },
		{ LS_HELLO, LINK_STEP_UDT },
		{ LS_UDT_WAIT, LINK_STEP_UDT },	/* UDT on no socket fails */
	};
	struct link *l;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n_failed = 0;
		l = link_in(cases[i].s, 0);
		ck_assert_int_eq(link_drive(l, LINK_EV_TIMEOUT, NULL), 0);
		ck_assert_msg(n_failed == 1 && failed_step == cases[i].step,
		    "%s: failed %d at %s", link_state_name(cases[i].s),
		    n_failed, link_step_name(failed_step));
		ck_assert(cases[i].s == LS_UDT_WAIT ||
		    link_timeout_step(cases[i].s) == cases[i].step);
		ck_assert_int_eq(l->state, LS_DEAD);
		ck_assert(listed(l));
		turn();
		ck_assert(!listed(l));
	}
	ck_assert_uint_eq(agent->swept, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The initiator's failed punch is asked again once, from a fresh
 * mapping; the second failure is the link's. */
START_TEST(test_repunch)
{
	struct link *l = link_in(LS_PUNCHING, 1);
	struct link_punched pd = { NULL, 0, "nothing came back", 0 };

	ck_assert_int_eq(link_drive(l, LINK_EV_TIMEOUT, NULL), 0);
	ck_assert_int_eq(l->state, LS_MAPPING);
	ck_assert_int_eq(l->repunched, 1);
	ck_assert_ptr_nonnull(l->probe);
	ck_assert_int_eq(n_failed, 0);
	l->state = LS_PUNCHING;		/* as if mapped and asked again */
	ck_assert_int_eq(link_drive(l, LINK_EV_PUNCHED, &pd), 0);
	ck_assert_int_eq(n_failed, 1);
	ck_assert_int_eq(failed_step, LINK_STEP_PUNCH);
	/* A REPORT that waits is answered or given up: ask anyway. */
	l = link_in(LS_REPORTING, 1);
	ck_assert_int_eq(link_drive(l, LINK_EV_TIMEOUT, NULL), 0);
	ck_assert_int_eq(l->state, LS_MAPPING);
}
END_TEST

/* Each state's deadline, and that entering a state arms it: punched on
 * the nominating side, the link waits LS_UDT_WAIT's deadline before UDT
 * (which, on no socket, fails at once). */
START_TEST(test_deadlines)
{
	struct sockaddr_in to;
	struct link_punched pd = { (struct sockaddr *)&to, sizeof to, NULL, 0 };
	struct link *l = link_in(LS_PUNCHING, 1);
	uint64_t t0, ms;

	ck_assert_uint_eq(link_deadline_ms(l, LS_NEW), 0);
	ck_assert_uint_eq(link_deadline_ms(l, LS_UP), 0);
	ck_assert_uint_eq(link_deadline_ms(l, LS_DEAD), 0);
	ck_assert_uint_eq(link_deadline_ms(l, LS_RELAYING), PUNCH_MS);
	ck_assert_uint_eq(link_deadline_ms(l, LS_HELLO), UDT_MS);
	/* Backstops, after the part that keeps its own time. */
	ck_assert_uint_gt(link_deadline_ms(l, LS_PUNCHING), PUNCH_MS);
	ck_assert_uint_gt(link_deadline_ms(l, LS_CONNECTING), UDT_MS);
	ck_assert_uint_gt(link_deadline_ms(l, LS_MAPPING), 11700);
	ck_assert_uint_gt(link_deadline_ms(l, LS_ASKING), 11500);
	ck_assert_uint_gt(link_deadline_ms(l, LS_REPORTING), 0);
	ck_assert_uint_gt(link_deadline_ms(l, LS_UDT_WAIT), 0);

	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(9);
	l->repunched = 1;
	t0 = clock_ms();
	ck_assert_int_eq(link_drive(l, LINK_EV_PUNCHED, &pd), 0);
	ck_assert_int_eq(l->state, LS_UDT_WAIT);
	ck_assert_int_eq(l->path, LINK_PATH_DIRECT);
	event_base_dispatch(base);	/* until on_failed breaks it */
	ms = failed_at_ms - t0;
	ck_assert_int_eq(n_failed, 1);
	ck_assert_int_eq(failed_step, LINK_STEP_UDT);
	ck_assert_msg(ms >= link_deadline_ms(l, LS_UDT_WAIT) && ms < 1000,
	    "UDT started after %llu ms", (unsigned long long)ms);
}
END_TEST

static const struct link_msg hello = {
	(const uint8_t *)"treecast link hello", 19
};

/* link_close from the connected callback: the link stays whole until the
 * callback and the drive that called it have returned. */
START_TEST(test_close_in_callback)
{
	struct link *l = link_in(LS_HELLO, 1);

	close_in_connected = 1;
	ck_assert_int_eq(link_drive(l, LINK_EV_HELLO, &hello), 0);
	ck_assert_int_eq(n_connected, 1);
	ck_assert_uint_eq(peer_after_close, 0xb);
	ck_assert_int_eq(l->state, LS_DEAD);
	ck_assert(listed(l));
	ck_assert_uint_eq(agent->swept, 0);
	/* Dead: nothing moves it any more. */
	ck_assert_int_eq(link_drive(l, LINK_EV_CLOSED, NULL), -1);
	ck_assert_int_eq(n_closed, 0);
	turn();
	ck_assert(!listed(l));
	ck_assert_uint_eq(agent->swept, 1);
}
END_TEST

/* The HELLO, or not; and a link that broke after it. */
START_TEST(test_hello)
{
	struct link_msg bad = { (const uint8_t *)"hello", 5 };
	struct link *l = link_in(LS_HELLO, 1);

	ck_assert_int_eq(link_drive(l, LINK_EV_HELLO, &hello), 0);
	ck_assert_int_eq(l->state, LS_UP);
	ck_assert_int_ge(link_connect_ms(l), 0);
	ck_assert_int_eq(link_drive(l, LINK_EV_CLOSED, NULL), 0);
	ck_assert_int_eq(n_closed, 1);
	ck_assert_int_eq(l->state, LS_DEAD);
	l = link_in(LS_HELLO, 1);
	ck_assert_int_eq(link_drive(l, LINK_EV_HELLO, &bad), 0);
	ck_assert_int_eq(n_failed, 1);
	ck_assert_int_eq(failed_step, LINK_STEP_UDT);
	ck_assert_int_eq(n_connected, 1);
}
END_TEST

/* The agent frees the dead it has not swept yet. */
START_TEST(test_agent_free_dead)
{
	struct link *l = link_in(LS_MAPPING, 0);

	link_close(l);
	ck_assert_int_eq(l->state, LS_DEAD);
	ck_assert(listed(l));
	(void)link_in(LS_PUNCHING, 1);	/* and the living */
}
END_TEST

static void
no_punch_cb(void *arg, const struct sockaddr *peer, socklen_t len,
    const char *why)
{
	(void)arg;
	(void)peer;
	(void)len;
	(void)why;
}

/* A punching link with an IPv6 pair racing its IPv4 one (link-pair.c):
 * a v4 punch towards 127.0.0.1:9 (none if relayed) and, through
 * link_pair_punch, a v6 one towards [::1]:9; nothing answers either. */
static struct link *
link_racing(int relayed)
{
	struct link *l = link_in(LS_PUNCHING, 1);
	struct sockaddr_in6 *them6 = (struct sockaddr_in6 *)&l->them.v6;
	struct punch_config pc;

	ck_assert_int_ne(l->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK,
	    0), -1);
	ck_assert_int_ne(l->fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK,
	    0), -1);
	them6->sin6_family = AF_INET6;
	them6->sin6_addr = in6addr_loopback;
	them6->sin6_port = htons(9);
	ck_assert(link_pair_ready(l));
	memset(&pc, 0, sizeof pc);
	pc.fd = l->fd;
	pc.timeout_ms = 60000;
	pc.controlling = 1;
	ck_assert_int_eq(addr_parse("127.0.0.1:9", 9, 0, &pc.cand[0], NULL, 0),
	    0);
	pc.ncand = 1;
	ck_assert_int_eq(link_pair_punch(l, &pc), 0);
	ck_assert_ptr_nonnull(l->punch6);
	ck_assert_ptr_eq(pc.claim, &l->claim);	/* shared with IPv4's */
	if (relayed) {
		l->has_relay = 1;
		ck_assert_int_eq(addr_parse("127.0.0.1:9", 9, 0, &l->relay,
		    NULL, 0), 0);
	} else
		ck_assert_ptr_nonnull(l->punch = punch_start(base, &pc,
		    no_punch_cb, l));
	return l;
}

/* Feeds ev to l, which takes it and is then in state s. */
static void
punched(struct link *l, const struct link_punched *ev, enum link_state s)
{
	ck_assert_int_eq(link_drive(l, LINK_EV_PUNCHED, ev), 0);
	ck_assert_int_eq(l->state, s);
}

/* The first pair to pass wins, whichever family; the other's failure
 * before that waits for it; a relayed pair goes to the relay once its
 * IPv6 punch fails. */
START_TEST(test_pair_race)
{
	struct sockaddr_in6 six;
	struct sockaddr_in four;
	struct link_punched v4_failed = { NULL, 0, "no", 0 },
	    v6_failed = { NULL, 0, "no", 1 },
	    v6_ok = { (struct sockaddr *)&six, sizeof six, NULL, 1 },
	    v4_ok = { (struct sockaddr *)&four, sizeof four, NULL, 0 };
	struct link *l;
	int fd6;

	memset(&six, 0, sizeof six);
	six.sin6_family = AF_INET6;
	six.sin6_addr = in6addr_loopback;
	six.sin6_port = htons(9);
	memset(&four, 0, sizeof four);
	four.sin_family = AF_INET;
	four.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	four.sin_port = htons(9);

	/* IPv4 fails first: the link waits; IPv6 passes and takes it. */
	l = link_racing(0);
	fd6 = l->fd6;
	punched(l, &v4_failed, LS_PUNCHING);
	ck_assert_int_eq(n_failed, 0);
	punched(l, &v6_ok, LS_UDT_WAIT);
	ck_assert_int_eq(link_ipv6(l), 1);
	ck_assert_int_eq(l->fd, fd6);
	ck_assert_int_eq(l->fd6, -1);
	ck_assert_ptr_null(l->punch6);
	ck_assert_ptr_null(l->punch);
	ck_assert_int_eq(l->path, LINK_PATH_DIRECT);
	link_close(l);

	/* IPv6 fails first: its socket goes; IPv4 passes and takes it. */
	l = link_racing(0);
	punched(l, &v6_failed, LS_PUNCHING);
	ck_assert_int_eq(l->fd6, -1);
	ck_assert_ptr_null(l->punch6);
	punched(l, &v4_ok, LS_UDT_WAIT);
	ck_assert_int_eq(link_ipv6(l), 0);
	link_close(l);

	/* IPv4 passes first: the IPv6 socket and punch go. */
	l = link_racing(0);
	punched(l, &v4_ok, LS_UDT_WAIT);
	ck_assert_int_eq(l->fd6, -1);
	ck_assert_ptr_null(l->punch6);
	link_close(l);

	/* Relayed: IPv6 alone is tried, then the relay. */
	l = link_racing(1);
	punched(l, &v6_failed, LS_RELAYING);
	ck_assert_int_eq(n_failed, 0);
	link_close(l);
	turn();
	ck_assert_ptr_null(agent->links);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("linkfsm");
	TCase *tc = tcase_create("drive");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_unexpected_ignored);
	tcase_add_test(tc, test_timeouts);
	tcase_add_test(tc, test_repunch);
	tcase_add_test(tc, test_deadlines);
	tcase_add_test(tc, test_close_in_callback);
	tcase_add_test(tc, test_hello);
	tcase_add_test(tc, test_agent_free_dead);
	tcase_add_test(tc, test_pair_race);
	suite_add_tcase(s, tc);
	return check_run(s);
}
