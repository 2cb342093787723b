/* The UDT shim on loopback: two UDP sockets that have exchanged a datagram
 * (a punch, without NATs) are handed to UDT in rendezvous mode; messages
 * then flow both ways, in order, through the libevent loop. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/link/udt.h"
#include "tests/check-run.h"

#define MSGS	2000
#define MSGLEN	1200

struct side {
	struct udt_link	*l;
	int		 connected;
	int		 closed;
	int		 received;	/* messages, checked in order */
	int		 bad;
	int		 sent;
};

static struct event_base *base;
static struct side a, b;
static int transfer_done;

static int
udp_bound(struct sockaddr_in *out)
{
	socklen_t len = sizeof *out;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)out, sizeof *out), 0);
	getsockname(fd, (struct sockaddr *)out, &len);
	return fd;
}

static void
fill(uint8_t *buf, int seq)
{
	int i;

	memcpy(buf, &seq, sizeof seq);
	for (i = sizeof seq; i < MSGLEN; i++)
		buf[i] = (uint8_t)(seq * 7 + i);
}

static void
pump(struct side *s)
{
	uint8_t buf[MSGLEN];

	while (s->sent < MSGS) {
		fill(buf, s->sent);
		if (udt_link_send(s->l, buf, sizeof buf) != MSGLEN)
			break;	/* send buffer full: the next wake-up goes on */
		s->sent++;
	}
}

/* Once only: a second loopexit would end the next dispatch at once. */
static void
done_check(void)
{
	if (!transfer_done && a.received == MSGS && b.received == MSGS) {
		transfer_done = 1;
		event_base_loopexit(base, NULL);
	}
}

static void
link_cb(struct udt_link *l, enum udt_event ev, void *arg)
{
	struct side *s = arg;
	uint8_t buf[MSGLEN + 16], want[MSGLEN];
	ssize_t n;

	(void)l;
	switch (ev) {
	case UDT_LINK_CONNECTED:
		s->connected = 1;
		pump(s);
		break;
	case UDT_LINK_READABLE:
		while ((n = udt_link_recv(s->l, buf, sizeof buf)) > 0) {
			fill(want, s->received);
			if (n != MSGLEN || memcmp(buf, want, MSGLEN) != 0)
				s->bad++;
			s->received++;
		}
		pump(s);
		pump(s == &a ? &b : &a);
		done_check();
		break;
	case UDT_LINK_CLOSED:
		s->closed = 1;
		event_base_loopexit(base, NULL);
		break;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	/* Keep the senders going when neither side has had a wake-up. */
	if (a.connected)
		pump(&a);
	if (b.connected)
		pump(&b);
}

START_TEST(test_link_both_ways)
{
	struct sockaddr_in sa, sb;
	struct timeval limit = { 20, 0 }, tick = { 0, 20000 };
	struct udt_loop *u;
	struct event *t;
	char err[200];
	int fa, fb;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	transfer_done = 0;
	base = event_base_new();
	u = udt_loop_new(base, err, sizeof err);
	ck_assert_msg(u != NULL, "%s", err);
	fa = udp_bound(&sa);
	fb = udp_bound(&sb);
	/* The punch: each side has sent to the other. */
	ck_assert_int_eq(sendto(fa, "x", 1, 0, (struct sockaddr *)&sb,
	    sizeof sb), 1);
	ck_assert_int_eq(sendto(fb, "y", 1, 0, (struct sockaddr *)&sa,
	    sizeof sa), 1);
	a.l = udt_link_start(u, fa, (struct sockaddr *)&sb, sizeof sb, 5000,
	    link_cb, &a, err, sizeof err);
	ck_assert_msg(a.l != NULL, "%s", err);
	b.l = udt_link_start(u, fb, (struct sockaddr *)&sa, sizeof sa, 5000,
	    link_cb, &b, err, sizeof err);
	ck_assert_msg(b.l != NULL, "%s", err);
	t = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(t, &tick);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);

	ck_assert(a.connected && b.connected);
	ck_assert_int_eq(a.received, MSGS);
	ck_assert_int_eq(b.received, MSGS);
	ck_assert_int_eq(a.bad + b.bad, 0);

	/* One side closes: the other learns the link is gone. */
	udt_link_free(a.l);
	a.l = NULL;
	/* The peer's shutdown is usually seen at once; when it is not, UDT
	 * declares the link broken after its silence timeout. */
	limit.tv_sec = 30;
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_msg(b.closed, "the peer's close was not noticed");
	udt_link_free(b.l);
	event_free(t);
	udt_loop_free(u);
	event_base_free(base);
}
END_TEST

START_TEST(test_link_timeout)
{
	struct sockaddr_in sa, nobody;
	struct timeval limit = { 10, 0 };
	struct udt_loop *u;
	char err[200];
	int fa, fz;

	memset(&a, 0, sizeof a);
	base = event_base_new();
	u = udt_loop_new(base, err, sizeof err);
	ck_assert_ptr_nonnull(u);
	fa = udp_bound(&sa);
	fz = udp_bound(&nobody);	/* bound, but nobody answers */
	a.l = udt_link_start(u, fa, (struct sockaddr *)&nobody, sizeof nobody,
	    500, link_cb, &a, err, sizeof err);
	ck_assert_ptr_nonnull(a.l);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert(!a.connected);
	ck_assert(a.closed);
	udt_link_free(a.l);
	close(fz);
	udt_loop_free(u);
	event_base_free(base);
}
END_TEST

/* The congestion control's loss count: each lost packet once, however
 * often the receiver reports it, ranges included, across the wrap. */
#define RANGE(a)	((int32_t)((uint32_t)(a) | 0x80000000u))
START_TEST(test_loss_count)
{
	int32_t counted = -1;
	const int32_t one[] = { 5 }, range[] = { RANGE(10), 14 };
	const int32_t overlap[] = { RANGE(12), 20, 21 };
	const int32_t old_and_new[] = { 7, 30 };
	const int32_t wrap[] = { RANGE(0x7FFFFFFE), 1 };
	const int32_t after_wrap[] = { 0, 2 };

	ck_assert_int_eq(udt_loss_new(one, 1, &counted), 1);
	ck_assert_int_eq(counted, 5);
	ck_assert_int_eq(udt_loss_new(one, 1, &counted), 0);	/* again */
	ck_assert_int_eq(udt_loss_new(range, 2, &counted), 5);	/* 10-14 */
	ck_assert_int_eq(udt_loss_new(range, 2, &counted), 0);
	ck_assert_int_eq(udt_loss_new(overlap, 3, &counted), 7); /* 15-21 */
	ck_assert_int_eq(counted, 21);
	ck_assert_int_eq(udt_loss_new(old_and_new, 2, &counted), 1);
	ck_assert_int_eq(counted, 30);
	counted = 0x7FFFFFFD;
	ck_assert_int_eq(udt_loss_new(wrap, 2, &counted), 4);	/* ...FE-1 */
	ck_assert_int_eq(counted, 1);
	ck_assert_int_eq(udt_loss_new(after_wrap, 2, &counted), 1);
	ck_assert_int_eq(udt_loss_new(NULL, 0, &counted), 0);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "link", .timeout = 60, .tests = {
		    test_link_both_ways, test_link_timeout,
		    test_loss_count } },
	};

	return check_run_cases("udt", cases, sizeof cases / sizeof cases[0]);
}
