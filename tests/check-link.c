/*
 * A brokered link's deadlines (net/link/link.c) against a peer that does not
 * play along: the real negotiator on loopback, this node's real link
 * agent (A, the initiator) and real UDT, and a peer B played here from
 * raw sockets. The pair is one the broker relays (A's NAT profile is
 * random, neither is reachable), so that B can act on A's link through
 * the real relay:
 *  - B binds both sides of the relayed link itself, so the relay turns
 *    A's binding away ("a third socket"), and sprays A's link socket
 *    with junk: A must still give up at the relay step when its deadline
 *    is up;
 *  - B binds one side and runs UDT's rendezvous with A through the relay
 *    but never says HELLO: A must give up at the UDT step.
 * Either failure must also be reported to the negotiator, as every
 * failure is.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/client/ctl.h"
#include "net/client/session.h"
#include "net/link/link.h"
#include "net/link/udt.h"
#include "net/util/addr.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"
#include "tests/check-daemon.h"
#include "tests/check-run.h"

/* A channel named by a key: a peer naming a label needs its origin. */
#define TEST_CHANNEL \
	"7e577e577e577e577e577e577e577e577e577e577e577e577e577e577e577e57"
#define NODE_A		0xa
#define NODE_B		0xb
#define DEADLINE_MS	1500	/* A's punch_ms and udt_ms */

static pid_t nego_pid;
static uint16_t nego_port, http_port;
static struct sockaddr_in nego;

/* GET path from the negotiator's HTTP API; the body, or NULL. */
static char *
http_get(const char *path)
{
	return http_get_at(http_port, path);
}

static void
setup(void)
{
	char listen[32], http[32], alt[8], relay[8];
	char *body;
	int i;

	ck_assert_int_ge(sodium_init(), 0);
	nego_port = free_port(SOCK_DGRAM);
	snprintf(alt, sizeof alt, "%u", free_port(SOCK_DGRAM));
	snprintf(relay, sizeof relay, "%u", free_port(SOCK_DGRAM));
	http_port = free_port(SOCK_STREAM);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", nego_port);
	snprintf(http, sizeof http, "127.0.0.1:%u", http_port);
	nego_pid = fork();
	if (nego_pid == 0) {
		execl("./treecast-negotiator", "treecast-negotiator",
		    "--listen", listen, "--alt-port", alt, "--relay-port",
		    relay, "--http", http, "--stats", "0", "--log-level",
		    "warn", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		if ((body = http_get("/api/stats")) != NULL &&
		    strstr(body, "\"nodes\":1") != NULL)
			break;	/* up, and its verifier registered */
		usleep(50000);
	}
	memset(&nego, 0, sizeof nego);
	nego.sin_family = AF_INET;
	nego.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nego.sin_port = htons(nego_port);
}

static void
teardown(void)
{
	daemon_stop(nego_pid, "the negotiator");
}

/* A UDP socket on 127.0.0.1. */
static int
udp_socket(void)
{
	struct sockaddr_in in;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
	return fd;
}

/* Waits up to ms for a datagram on fd; its length or 0. */
static size_t
receive_on(int fd, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1 || (n = recv(fd, buf, cap, 0)) <= 0)
		return 0;
	return (size_t)n;
}

/* B registers from fd, behind a sequential APDM NAT as it says. */
static void
register_b(int fd, uint8_t key[TC_KEY_LEN])
{
	struct nat_profile p = { NAT_MAPPING_APDM, NAT_ALLOC_SEQUENTIAL,
	    NAT_FILTER_APDF, 0, 1, 0 };
	uint8_t buf[STUN_MAX_MSG], ans[STUN_MAX_MSG], tid[12];
	uint8_t prof[NAT_PROFILE_WIRE_LEN];
	const struct stun_attr *a;
	struct stun_builder b;
	struct sockaddr_in in;
	struct stun_msg m;
	size_t n;
	int len;

	stun_random_tid(tid);
	stun_build_init(&b, buf, sizeof buf, TC_METHOD_REGISTER, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, NODE_B);
	stun_put(&b, TC_ATTR_CHANNEL, TEST_CHANNEL, sizeof TEST_CHANNEL - 1);
	stun_put_u32(&b, TC_ATTR_ROLE, TC_ROLE_PEER);
	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(0x0a000002);
	in.sin_port = htons(40000);
	stun_put_xor_address(&b, TC_ATTR_XOR_INTERNAL, (struct sockaddr *)&in);
	nat_profile_encode(&p, prof);
	stun_put(&b, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	ctl_put_padding(&b, TC_REGISTER_MIN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(sendto(fd, buf, (size_t)len, 0,
	    (struct sockaddr *)&nego, sizeof nego), len);
	n = receive_on(fd, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_ptr_nonnull(a = stun_find(&m, TC_ATTR_SESSION_KEY));
	memcpy(key, a->value, TC_KEY_LEN);
}

enum peer_plays {
	PLAY_SQUAT,	/* binds both relay sides, then junk at A */
	PLAY_MUTE	/* binds one side, UDT up, never says HELLO */
};

struct run {
	struct event_base	*base;
	struct udt_loop		*udt;
	struct session		*s;
	struct link_agent	*agent;
	enum peer_plays		 plays;
	int			 bs;		/* B's session socket */
	uint8_t			 kb[TC_KEY_LEN];
	int			 x, y, z;	/* B's other sockets */
	uint64_t		 link;
	uint8_t			 lkey[TC_KEY_LEN];
	struct sockaddr_storage	 relay;
	socklen_t		 relaylen;
	struct tc_endpoint	 a_ep;		/* A's link socket */
	struct udt_link		*b_udt;
	struct event		*junk;
	unsigned		 junk_sent;
	int			 asked;
	int			 instructed;
	int			 connected;	/* A called the link up */
	int			 b_connected;	/* B's UDT is up */
	int			 failed;
	enum link_step		 step;
	char			 why[200];
};

/* B binds a relay side from fd with the link's key; 0 once answered. */
static int
relay_bind(struct run *r, int fd)
{
	uint8_t buf[STUN_MAX_MSG], ans[STUN_MAX_MSG], tid[12];
	struct stun_builder b;
	struct stun_msg m;
	size_t n;
	int len, i;

	for (i = 0; i < 5; i++) {
		stun_random_tid(tid);
		stun_build_init(&b, buf, sizeof buf, TC_METHOD_RELAY,
		    STUN_REQUEST, tid);
		stun_put_u64(&b, TC_ATTR_LINK, r->link);
		stun_put_integrity_sha256(&b, r->lkey, sizeof r->lkey);
		stun_put_fingerprint(&b);
		len = stun_build_finish(&b);
		sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&r->relay,
		    r->relaylen);
		if ((n = receive_on(fd, ans, sizeof ans, 300)) > 0 &&
		    stun_parse(ans, n, &m, NULL) == 0 &&
		    m.method == TC_METHOD_RELAY && m.cls == STUN_SUCCESS)
			return 0;
	}
	return -1;
}

/* Junk at A's link socket, from a stranger, faster than any
 * retransmission timer: STUN that is no answer of the relay's. */
static void
junk_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	uint8_t buf[64];
	int len;

	(void)fd;
	(void)what;
	len = ctl_build_binding(buf, sizeof buf, 0, 0);
	ck_assert_int_gt(len, 0);
	sendto(r->z, buf, (size_t)len, 0, (struct sockaddr *)&r->a_ep.external,
	    r->a_ep.external.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6));
	r->junk_sent++;
}

static void
b_udt_cb(struct udt_link *u, enum udt_event ev, void *arg)
{
	struct run *r = arg;
	uint8_t buf[256];

	if (ev == UDT_LINK_CONNECTED)
		r->b_connected = 1;	/* and says nothing */
	else if (ev == UDT_LINK_READABLE)
		while (udt_link_recv(u, buf, sizeof buf) >= 0)
			;
}

/* B's session socket: the INSTRUCT for A's link, played as r->plays. */
static void
b_readable(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct timeval every = { 0, 50000 };
	uint8_t in[STUN_MAX_MSG], ack[STUN_MAX_MSG];
	const struct stun_attr *a;
	struct sockaddr_in xin;
	socklen_t xlen = sizeof xin;
	struct stun_builder b;
	struct tc_endpoint ep;
	struct stun_msg m;
	char err[200];
	ssize_t n;
	int len;

	(void)what;
	if ((n = recv(fd, in, sizeof in, 0)) <= 0 ||
	    stun_parse(in, (size_t)n, &m, NULL) != 0 ||
	    m.method != TC_METHOD_INSTRUCT || m.cls != STUN_REQUEST ||
	    r->instructed)
		return;
	r->instructed = 1;
	ck_assert_int_eq(stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &r->link),
	    0);
	ck_assert_ptr_nonnull(a = stun_find(&m, TC_ATTR_LINK_KEY));
	memcpy(r->lkey, a->value, sizeof r->lkey);
	ck_assert_int_eq(tc_get_endpoint(&m, &r->a_ep), 0);
	ck_assert_msg((a = stun_find(&m, TC_ATTR_XOR_RELAY)) != NULL,
	    "the broker did not relay the pair");
	ck_assert_int_eq(stun_attr_xor_address(&m, a, &r->relay,
	    &r->relaylen), 0);

	ck_assert_int_eq(relay_bind(r, r->x), 0);
	if (r->plays == PLAY_SQUAT)
		ck_assert_int_eq(relay_bind(r, r->y), 0);

	/* The ACK, with X as B's endpoint. */
	memset(&ep, 0, sizeof ep);
	getsockname(r->x, (struct sockaddr *)&xin, &xlen);
	memcpy(&ep.external, &xin, sizeof xin);
	memcpy(&ep.internal, &xin, sizeof xin);
	ep.ports[0] = ntohs(xin.sin_port);
	ep.nports = 1;
	stun_build_init(&b, ack, sizeof ack, TC_METHOD_INSTRUCT, STUN_SUCCESS,
	    m.tid);
	tc_put_endpoint(&b, &ep);
	stun_put_u64(&b, TC_ATTR_LINK, r->link);
	stun_put_integrity_sha256(&b, r->kb, sizeof r->kb);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	ck_assert_int_gt(len, 0);
	sendto(r->bs, ack, (size_t)len, 0, (struct sockaddr *)&nego,
	    sizeof nego);

	if (r->plays == PLAY_SQUAT) {
		r->junk = event_new(r->base, -1, EV_PERSIST, junk_cb, r);
		event_add(r->junk, &every);
	} else {
		r->b_udt = udt_link_start(r->udt, r->x,
		    (struct sockaddr *)&r->relay, r->relaylen, 8000, b_udt_cb,
		    r, err, sizeof err);
		ck_assert_msg(r->b_udt != NULL, "%s", err);
		r->x = -1;	/* UDT's */
	}
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void
a_connected(void *arg, struct link *l)
{
	struct run *r = arg;

	(void)l;
	r->connected = 1;
}

static void
a_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	struct run *r = arg;
	struct timeval report = { 0, 500000 };

	(void)l;
	r->failed = 1;
	r->step = step;
	snprintf(r->why, sizeof r->why, "%s", why);
	/* A moment for the REPORT to reach the negotiator. */
	event_base_once(r->base, -1, EV_TIMEOUT, stop_cb, r->base, &report);
}

static void
a_session(void *arg, enum session_event ev, struct session *s)
{
	struct run *r = arg;
	char err[160];

	(void)s;
	if (ev != SESSION_REGISTERED || r->asked)
		return;
	r->asked = 1;
	ck_assert_msg(link_open(r->agent, NODE_B, err, sizeof err) != NULL,
	    "link_open: %s", err);
}

/* Runs A's link to B, B playing plays, for up to limit_s. */
static void
run_link(struct run *r, enum peer_plays plays, int limit_s)
{
	static const struct link_callbacks cb = {
		.connected = a_connected, .failed = a_failed
	};
	struct timeval limit = { limit_s, 0 };
	struct link_options o = link_defaults;
	struct session_config cfg;
	struct event *bev;
	char err[200];

	memset(r, 0, sizeof *r);
	r->plays = plays;
	r->bs = udp_socket();
	r->x = udp_socket();
	r->y = udp_socket();
	r->z = udp_socket();
	register_b(r->bs, r->kb);
	ck_assert_ptr_nonnull(r->base = event_base_new());
	r->udt = udt_loop_new(r->base, err, sizeof err);
	ck_assert_msg(r->udt != NULL, "%s", err);
	bev = event_new(r->base, r->bs, EV_READ | EV_PERSIST, b_readable, r);
	event_add(bev, NULL);

	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", nego_port, 0, &cfg.server,
	    err, sizeof err), 0);
	cfg.node_id = NODE_A;
	strcpy(cfg.channel, TEST_CHANNEL);
	cfg.role = TC_ROLE_PEER;
	cfg.profile.mapping = NAT_MAPPING_APDM;
	cfg.profile.allocation = NAT_ALLOC_RANDOM;
	cfg.profile.filtering = NAT_FILTER_APDF;
	r->s = session_start(r->base, &cfg, a_session, r, err, sizeof err);
	ck_assert_msg(r->s != NULL, "session_start: %s", err);
	/* A's link sockets on another loopback address than B's: not one
	 * NAT's, or the pair would link on internal addresses. */
	o.punch_ms = o.udt_ms = DEADLINE_MS;
	ck_assert_int_eq(addr_parse("127.0.0.3", 0, 0, &o.bind, err,
	    sizeof err), 0);
	r->agent = link_agent_new(r->base, r->s, r->udt, &cb, r, &o);
	ck_assert_ptr_nonnull(r->agent);

	event_base_loopexit(r->base, &limit);
	event_base_dispatch(r->base);

	link_agent_free(r->agent);
	session_free(r->s);
	udt_link_free(r->b_udt);
	if (r->junk != NULL)
		event_free(r->junk);
	event_free(bev);
	udt_loop_free(r->udt);
	event_base_free(r->base);
	close(r->bs);
	if (r->x != -1)
		close(r->x);
	close(r->y);
	close(r->z);
}

/* The relay turns A away and junk keeps coming: A gives up on time. */
START_TEST(test_relay_deadline)
{
	struct run r;
	const char *links;

	run_link(&r, PLAY_SQUAT, 4 * DEADLINE_MS / 1000 + 2);
	ck_assert_msg(r.instructed, "B was never instructed");
	ck_assert_uint_gt(r.junk_sent, 10);
	ck_assert_msg(r.failed, "A still waits for the relay after %u junk "
	    "datagrams, long past its %d ms deadline", r.junk_sent,
	    DEADLINE_MS);
	ck_assert_msg(r.step == LINK_STEP_RELAY, "failed at %s: %s",
	    link_step_name(r.step), r.why);
	ck_assert_ptr_nonnull(links = http_get("/api/links"));
	ck_assert_msg(strstr(links, "\"failed_relay\":1") != NULL,
	    "not reported: %s", links);
}
END_TEST

/* UDT comes up through the relay, and the peer never says HELLO. */
START_TEST(test_hello_deadline)
{
	struct run r;
	const char *links;

	run_link(&r, PLAY_MUTE, 4 * DEADLINE_MS / 1000 + 3);
	ck_assert_msg(r.instructed, "B was never instructed");
	ck_assert_msg(r.b_connected, "UDT never came up through the relay");
	ck_assert_msg(!r.connected, "A called the link up with no hello");
	ck_assert_msg(r.failed, "A still waits for the peer's hello");
	ck_assert_msg(r.step == LINK_STEP_UDT, "failed at %s: %s",
	    link_step_name(r.step), r.why);
	ck_assert_msg(strstr(r.why, "hello") != NULL, "why: %s", r.why);
	ck_assert_ptr_nonnull(links = http_get("/api/links"));
	ck_assert_msg(strstr(links, "\"failed_udt\":1") != NULL,
	    "not reported: %s", links);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("link");
	TCase *tc = tcase_create("deadlines");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_relay_deadline);
	tcase_add_test(tc, test_hello_deadline);
	suite_add_tcase(s, tc);
	return check_run(s);
}
