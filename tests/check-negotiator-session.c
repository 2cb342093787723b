/*
 * treecast-negotiator, the real daemon on loopback (check-negotiator.h),
 * against net/client/session.c as every program has it: leaving drains the
 * session's requests, a label pins its channel's key, a restarted
 * negotiator and a lost path are registered through; and the HTTP API's
 * work under the server's lock after churn.
 */
#include "config.h"

#include <event2/event.h>

#include "net/client/session.h"
#include "tests/check-negotiator.h"
#include "tests/check-run.h"

/* A peer's session: to the negotiator at 127.0.0.1:port, on channel,
 * with no NAT. */
static void
peer_config(struct session_config *cfg, uint16_t port, const char *channel)
{
	char err[160];

	memset(cfg, 0, sizeof *cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", port, 0, &cfg->server, err,
	    sizeof err), 0);
	snprintf(cfg->channel, sizeof cfg->channel, "%s", channel);
	cfg->role = TC_ROLE_PEER;
	cfg->profile.mapping = NAT_MAPPING_NONE;
}

/* A session on base with cfg, its events to cb. */
static struct session *
start_session(struct event_base *base, const struct session_config *cfg,
    session_cb cb, void *arg)
{
	struct session *s;
	char err[160];

	s = session_start(base, cfg, cb, arg, err, sizeof err);
	ck_assert_msg(s != NULL, "session_start: %s", err);
	return s;
}

/* Runs base for seconds at most (a callback may end it sooner). */
static void
run_base(struct event_base *base, int seconds)
{
	struct timeval limit = { seconds, 0 };

	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
}

/*
 * Leaving waits for the session's other requests: A (net/client/session.c, as
 * every program has it) asks for a link to B, a raw socket that answers
 * its INSTRUCT half a second late, and leaves at once. The LINK must get
 * its GO before the session says it has left; the negotiator could not
 * have checked it after the LEAVE (a link's REPORT, sent as it came up,
 * was lost this way when a program left right after).
 */
struct drain {
	struct event_base	*base;
	struct session		*s;
	int			 bs;
	uint8_t			 kb[TC_KEY_LEN];
	uint8_t			 ack[STUN_MAX_MSG];
	int			 acklen;
	int			 go;	/* A's LINK was answered with its GO */
	int			 left;	/* SESSION_LEFT came */
	int			 go_before_left;
};

static void
drain_ack_late(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;

	(void)fd;
	(void)what;
	sendto(d->bs, d->ack, (size_t)d->acklen, 0, (struct sockaddr *)&nego,
	    sizeof nego);
}

/* B: an INSTRUCT, answered 500 ms later. */
static void
drain_b_readable(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;
	struct timeval late = { 0, 500000 };
	uint8_t in[STUN_MAX_MSG];
	struct tc_endpoint ep;
	struct stun_msg m;
	ssize_t n;

	(void)what;
	if ((n = recv(fd, in, sizeof in, 0)) <= 0 ||
	    stun_parse(in, (size_t)n, &m, NULL) != 0 ||
	    m.method != TC_METHOD_INSTRUCT || m.cls != STUN_REQUEST ||
	    d->acklen > 0)
		return;
	ck_assert_int_eq(tc_get_endpoint(&m, &ep), 0);
	d->acklen = instruct_ack(d->ack, sizeof d->ack, m.tid, &ep, d->kb);
	event_base_once(d->base, -1, EV_TIMEOUT, drain_ack_late, d, &late);
}

static void
drain_link_answered(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct drain *d = arg;

	(void)from;
	d->go = resp != NULL && resp->cls == STUN_SUCCESS &&
	    session_verify(d->s, resp) == 0;
}

static void
drain_session(void *arg, enum session_event ev, struct session *s)
{
	struct drain *d = arg;
	uint8_t buf[STUN_MAX_MSG];
	struct stun_builder b;
	struct tc_endpoint ep;

	if (ev == SESSION_REGISTERED) {
		link_endpoint(&ep, INADDR_LOOPBACK);
		session_begin(s, &b, buf, sizeof buf, TC_METHOD_LINK);
		stun_put_u64(&b, TC_ATTR_PEER_NODE, 0xb);
		tc_put_endpoint(&b, &ep);
		ck_assert_int_eq(session_send(s, &b, &ctl_timing_default,
		    drain_link_answered, d), 0);
		session_leave(s);
	} else if (ev == SESSION_LEFT) {
		d->left = 1;
		d->go_before_left = d->go;
		event_base_loopexit(d->base, NULL);
	}
}

START_TEST(test_leave_drains)
{
	struct session_config cfg;
	struct event *ev;
	struct drain d;
	uint64_t sb;

	memset(&d, 0, sizeof d);
	d.bs = socket(AF_INET, SOCK_DGRAM, 0);
	do_register_on(d.bs, 0xb, &sb, d.kb);
	ck_assert_ptr_nonnull(d.base = event_base_new());
	ev = event_new(d.base, d.bs, EV_READ | EV_PERSIST, drain_b_readable,
	    &d);
	event_add(ev, NULL);
	peer_config(&cfg, nego_port, chan_hex);
	cfg.node_id = 0xa;
	d.s = start_session(d.base, &cfg, drain_session, &d);
	run_base(d.base, 10);
	ck_assert_msg(d.left, "the session never left");
	ck_assert_msg(d.go, "A's LINK got no GO");
	ck_assert_msg(d.go_before_left, "the session left before its LINK "
	    "was answered");
	ck_assert_int_eq(stat_of("left"), 1);
	session_free(d.s);
	event_free(ev);
	event_base_free(d.base);
	close(d.bs);
}
END_TEST

/*
 * /metrics and /api/tree look at the registry's occupied records under
 * the server's lock, not at every slot ever used: after 2,000 nodes came
 * and all but 10 left (the pool's high water stays at 2,000), serving
 * both must look at a few slots a node still registered.
 */
#define CHURN	2000
START_TEST(test_http_lock_scope)
{
	static uint64_t s[CHURN];
	static uint8_t k[CHURN][TC_KEY_LEN];
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], key[TC_KEY_LEN];
	uint64_t origin;
	struct reg_opts o;
	long before, after, n;
	char *body;
	int i, len;

	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "test";
	do_register_opts(sock, 0x500, &o, &origin, key);
	for (i = 0; i < CHURN; i++)
		do_register(0x10000 + (uint64_t)i, &s[i], k[i]);
	for (i = 10; i < CHURN; i++) {
		len = build_auth(req, sizeof req, TC_METHOD_LEAVE, s[i], 1,
		    k[i]);
		ck_assert_uint_gt(exchange(req, (size_t)len, ans, sizeof ans,
		    2000), 0);
	}
	ck_assert_int_eq(nodes(), 11);
	before = stat_of("http_slots_visited");
	ck_assert_int_ge(before, 0);
	ck_assert_ptr_nonnull(body = http_get("/metrics"));
	ck_assert_ptr_nonnull(strstr(body, "treecast_tree_nodes{channel="
	    "\"test\"} 0\n"));
	ck_assert_ptr_nonnull(body = http_get("/api/tree"));
	ck_assert_ptr_nonnull(strstr(body, "\"origin\":\"0000000000000500\""));
	after = stat_of("http_slots_visited");
	n = nodes() + 1;	/* and the verifier */
	ck_assert_msg(after - before <= 4 * n, "/api/stats, /metrics and "
	    "/api/tree looked at %ld registry slots under the lock, for %ld "
	    "nodes", after - before, n);
}
END_TEST

/* A session naming a label pins the key the negotiator names before it
 * says SESSION_REGISTERED; one that pinned another key refuses the
 * answer and leaves. */
struct pin {
	struct event_base	*base;
	int			 registered, left, had_key;
	uint8_t			 key[KEY_PUBLIC_LEN];
};

static void
pin_session(void *arg, enum session_event ev, struct session *s)
{
	struct pin *p = arg;

	if (ev == SESSION_REGISTERED) {
		p->registered = 1;
		if (session_channel_key(s) != NULL) {
			p->had_key = 1;
			memcpy(p->key, session_channel_key(s), sizeof p->key);
		}
		event_base_loopexit(p->base, NULL);
	} else if (ev == SESSION_LEFT) {
		p->left = 1;
		event_base_loopexit(p->base, NULL);
	}
}

static void
pin_run(struct pin *p, const struct session_config *cfg, int refused)
{
	struct session *s;

	memset(p, 0, sizeof *p);
	ck_assert_ptr_nonnull(p->base = event_base_new());
	s = start_session(p->base, cfg, pin_session, p);
	if (!cfg->has_channel_key)	/* not known before the answer */
		ck_assert_ptr_null(session_channel_key(s));
	run_base(p->base, 10);
	ck_assert_int_eq(session_refused(s), refused);
	session_free(s);
	event_base_free(p->base);
}

START_TEST(test_pin)
{
	struct session_config cfg;
	struct reg_opts o;
	struct pin p;
	uint8_t k[TC_KEY_LEN];
	uint64_t sess;

	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "pinned";
	do_register_opts(sock, 0x60, &o, &sess, k);
	peer_config(&cfg, nego_port, "pinned");
	pin_run(&p, &cfg, 0);
	ck_assert(p.registered && p.had_key);
	ck_assert_int_eq(memcmp(p.key, chan_kp.pk, sizeof p.key), 0);
	/* Pinned to another key: the answer is refused, and it leaves. */
	cfg.has_channel_key = 1;
	memset(cfg.channel_key, 0x5a, sizeof cfg.channel_key);
	pin_run(&p, &cfg, 1);
	ck_assert(!p.registered && p.left);
	ck_assert_int_eq(stat_of("left"), 1);
}
END_TEST

/* A node whose negotiator restarted (it forgot every session) registers
 * afresh: the old session's proof it sends is no hindrance. */
struct restart {
	struct event_base	*base;
	int			 registered;
};

static void
restart_session(void *arg, enum session_event ev, struct session *s)
{
	struct restart *r = arg;
	int status;

	(void)s;
	if (ev != SESSION_REGISTERED)
		return;
	if (++r->registered == 1) {
		kill(nego_pid, SIGTERM);
		waitpid(nego_pid, &status, 0);
		spawn_negotiator();
	} else
		event_base_loopexit(r->base, NULL);
}

START_TEST(test_restart)
{
	struct session_config cfg;
	struct session *s;
	struct restart r;

	memset(&r, 0, sizeof r);
	ck_assert_ptr_nonnull(r.base = event_base_new());
	peer_config(&cfg, nego_port, chan_hex);
	s = start_session(r.base, &cfg, restart_session, &r);
	run_base(r.base, 20);
	ck_assert_int_eq(r.registered, 2);
	ck_assert_int_eq(nodes(), 1);
	ck_assert_int_eq(stat_of("drop_hijack"), 0);
	ck_assert_int_eq(stat_of("drop_unknown_session"), 1);
	session_free(s);
	event_base_free(r.base);
}
END_TEST

/*
 * A node whose keepalives went unanswered while the negotiator still
 * holds its session registers again proving that session (its id and its
 * key): accepted, not taken for a hijack. The session talks through a
 * forwarder here that drops everything for a while.
 */
struct relost {
	struct event_base	*base;
	int			 client, upstream;	/* the forwarder's */
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	int			 drop, registered, lost;
};

/* The forwarder: the session's datagrams to the negotiator and its
 * answers back, unless the path is dark. */
static void
relost_forward(evutil_socket_t fd, short what, void *arg)
{
	struct relost *r = arg;
	uint8_t buf[STUN_MAX_MSG];
	ssize_t n;

	(void)what;
	if (fd == r->client) {
		r->fromlen = sizeof r->from;
		n = recvfrom(fd, buf, sizeof buf, 0,
		    (struct sockaddr *)&r->from, &r->fromlen);
		if (n > 0 && !r->drop)
			send(r->upstream, buf, (size_t)n, 0);
	} else if ((n = recv(fd, buf, sizeof buf, 0)) > 0 && !r->drop &&
	    r->fromlen > 0)
		sendto(r->client, buf, (size_t)n, 0,
		    (struct sockaddr *)&r->from, r->fromlen);
}

static void
relost_session(void *arg, enum session_event ev, struct session *s)
{
	struct relost *r = arg;

	(void)s;
	if (ev == SESSION_REGISTERED && ++r->registered == 1)
		r->drop = 1;	/* the path goes dark */
	else if (ev == SESSION_REGISTERED)
		event_base_loopexit(r->base, NULL);
	else if (ev == SESSION_LOST) {
		r->lost++;
		r->drop = 0;	/* and comes back */
	}
}

START_TEST(test_relost)
{
	struct session_config cfg;
	struct sockaddr_in in;
	socklen_t len = sizeof in;
	struct event *ec, *eu;
	struct session *s;
	struct relost r;

	memset(&r, 0, sizeof r);
	ck_assert_ptr_nonnull(r.base = event_base_new());
	r.client = socket(AF_INET, SOCK_DGRAM, 0);
	r.upstream = socket(AF_INET, SOCK_DGRAM, 0);
	loopback_in(&in, 0);
	ck_assert_int_eq(bind(r.client, (struct sockaddr *)&in, sizeof in), 0);
	ck_assert_int_eq(getsockname(r.client, (struct sockaddr *)&in, &len),
	    0);
	ck_assert_int_eq(connect(r.upstream, (struct sockaddr *)&nego,
	    sizeof nego), 0);
	ec = event_new(r.base, r.client, EV_READ | EV_PERSIST, relost_forward,
	    &r);
	eu = event_new(r.base, r.upstream, EV_READ | EV_PERSIST,
	    relost_forward, &r);
	event_add(ec, NULL);
	event_add(eu, NULL);
	peer_config(&cfg, ntohs(in.sin_port), chan_hex);
	s = start_session(r.base, &cfg, relost_session, &r);
	run_base(r.base, 45);
	ck_assert_int_ge(r.lost, 1);
	ck_assert_int_eq(r.registered, 2);
	ck_assert_int_eq(nodes(), 1);
	ck_assert_int_eq(stat_of("reregistered"), 1);
	ck_assert_int_eq(stat_of("drop_hijack"), 0);
	session_free(s);
	event_free(ec);
	event_free(eu);
	event_base_free(r.base);
	close(r.client);
	close(r.upstream);
}
END_TEST

/* A dual-stack node (issue 16): its IPv6 address is registered and shown;
 * behind a random IPv4 NAT it joins the tree as a candidate, which the
 * verifier then tries (over IPv6), where the same node without IPv6 is a
 * non-repeater at once; an XOR-ADDRESS6 that is not IPv6 is a 400. */
START_TEST(test_register_ipv6)
{
	struct nat_profile random = { NAT_MAPPING_APDM, NAT_ALLOC_RANDOM,
	    NAT_FILTER_APDF, 0, 0, 0 };
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct reg_opts o;
	uint8_t k[3][TC_KEY_LEN], req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	uint64_t s[3];
	const char *tree;
	int fd[3], i, code, len;

	for (i = 0; i < 3; i++)
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
	do_register_origin(fd[0], 0x60, "v6", &s[0], k[0]);
	memset(&a6, 0, sizeof a6);
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1::2", &a6.sin6_addr);
	memset(&o, 0, sizeof o);
	o.profile = &random;
	o.addr6 = (struct sockaddr *)&a6;
	do_register_opts(fd[1], 0x61, &o, &s[1], k[1]);
	o.addr6 = NULL;
	do_register_opts(fd[2], 0x62, &o, &s[2], k[2]);
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=61"),
	    "\"ipv6\":\"2001:db8:1::2\""));
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=62"),
	    "\"ipv6\":null"));
	ck_assert_uint_eq(join(fd[1], s[1], 1, k[1], &code), 0x60);
	ck_assert_uint_eq(join(fd[2], s[2], 1, k[2], &code), 0x60);
	tree = http_get("/api/tree");
	ck_assert_msg(strstr(tree, "{\"id\":\"0000000000000061\","
	    "\"role\":\"candidate\"") != NULL, "/api/tree: %s", tree);
	ck_assert_msg(strstr(tree, "{\"id\":\"0000000000000062\","
	    "\"role\":\"nonrepeater\",\"reason\":\"random port "
	    "allocation\"") != NULL, "/api/tree: %s", tree);
	/* An IPv4 address where IPv6 belongs. */
	memset(&a4, 0, sizeof a4);
	a4.sin_family = AF_INET;
	a4.sin_addr.s_addr = htonl(0x0a000002);
	o.addr6 = (struct sockaddr *)&a4;
	len = build_register_opts(req, sizeof req, 0x63, TC_REGISTER_MIN, &o);
	ck_assert_int_eq(error_code(ans, exchange(req, (size_t)len, ans,
	    sizeof ans, 2000)), 400);
	for (i = 0; i < 3; i++)
		close(fd[i]);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "daemon", .setup = setup, .teardown = teardown,
		    .timeout = 30, .tests = { test_pin, test_restart,
		    test_leave_drains, test_http_lock_scope,
		    test_register_ipv6 } },
		{ .name = "relost", .setup = setup_long_expiry,
		    .teardown = teardown, .timeout = 60,
		    .tests = { test_relost } },
	};

	return check_run_cases("negotiator-session", cases,
	    sizeof cases / sizeof cases[0]);
}
