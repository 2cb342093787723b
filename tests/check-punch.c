/*
 * Hole punching (net/link/punch.c) on loopback, in one event loop: two
 * punches with the same key and nonce, each with the other's socket as
 * its one candidate, find each other, the controlling side nominating;
 * a punch whose checks carry another key is never answered, its checks
 * rejected; a punch freed from its own callback goes only once that
 * returns (valgrind sees it); and punches sharing a claim nominate one
 * pair only.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/link/punch.h"
#include "net/util/addr.h"
#include "tests/check-run.h"

struct side {
	int			 fd;
	struct sockaddr_in	 addr;
	struct punch		*p;
	int			 done;		/* the callback ran */
	int			 ok;
	struct sockaddr_in	 peer;
	struct punch_stats	 st;		/* as the callback saw them */
	int			 free_in_cb;
};

static struct event_base *base;
static struct side a, b;
static int *claim;	/* side_punch's punch_config.claim */

static void
side_open(struct side *s)
{
	socklen_t len = sizeof s->addr;

	memset(s, 0, sizeof *s);
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(s->fd, 0);
	s->addr.sin_family = AF_INET;
	s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&s->addr,
	    sizeof s->addr), 0);
	getsockname(s->fd, (struct sockaddr *)&s->addr, &len);
}

static void
on_punched(void *arg, const struct sockaddr *peer, socklen_t len,
    const char *why)
{
	struct side *s = arg;

	(void)why;
	s->done = 1;
	s->ok = peer != NULL;
	if (peer != NULL) {
		ck_assert_uint_eq(len, sizeof s->peer);
		memcpy(&s->peer, peer, len);
	}
	s->st = *punch_stats(s->p);
	if (s->free_in_cb) {
		punch_free(s->p);	/* goes once this returns */
		s->p = NULL;
	}
	if (a.done && b.done)
		event_base_loopbreak(base);
}

/* A punch from s towards to, with key k. */
static void
side_punch(struct side *s, const struct side *to, uint8_t k, int controlling,
    unsigned timeout_ms)
{
	struct punch_config pc;

	memset(&pc, 0, sizeof pc);
	pc.fd = s->fd;
	memcpy(&pc.cand[0].ss, &to->addr, sizeof to->addr);
	pc.cand[0].len = sizeof to->addr;
	pc.ncand = 1;
	memset(pc.key, k, sizeof pc.key);
	pc.nonce = 0x1234;
	pc.controlling = controlling;
	pc.timeout_ms = timeout_ms;
	pc.claim = claim;
	s->p = punch_start(base, &pc, on_punched, s);
	ck_assert_ptr_nonnull(s->p);
}

static void
run(void)
{
	struct timeval limit = { 5, 0 };

	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
}

static void
setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_ptr_nonnull(base = event_base_new());
	side_open(&a);
	side_open(&b);
	claim = NULL;
}

static void
teardown(void)
{
	punch_free(a.p);
	punch_free(b.p);
	close(a.fd);
	close(b.fd);
	event_base_free(base);
}

START_TEST(test_pair)
{
	a.free_in_cb = b.free_in_cb = 1;
	side_punch(&a, &b, 7, 1, 3000);
	side_punch(&b, &a, 7, 0, 3000);
	run();
	ck_assert(a.done && a.ok);
	ck_assert(b.done && b.ok);
	ck_assert(addr_equal((struct sockaddr *)&a.peer,
	    (struct sockaddr *)&b.addr));
	ck_assert(addr_equal((struct sockaddr *)&b.peer,
	    (struct sockaddr *)&a.addr));
	ck_assert_uint_gt(a.st.answered, 0);
	ck_assert_uint_gt(b.st.answered, 0);
	ck_assert_uint_eq(a.st.rejected, 0);
	ck_assert_uint_eq(b.st.rejected, 0);
	ck_assert_uint_eq(b.st.learnt, 0);	/* a was its candidate */
}
END_TEST

/* B's key is not A's: A rejects every check, answers none, and both give
 * up at their deadline. */
START_TEST(test_wrong_key)
{
	side_punch(&a, &b, 7, 1, 400);
	side_punch(&b, &a, 8, 0, 400);
	run();
	ck_assert(a.done && !a.ok);
	ck_assert(b.done && !b.ok);
	ck_assert_uint_gt(a.st.received, 0);
	ck_assert_uint_eq(a.st.rejected, a.st.received);
	ck_assert_uint_eq(b.st.rejected, b.st.received);
	ck_assert_uint_eq(a.st.answered, 0);
	ck_assert_uint_eq(b.st.answered, 0);
	ck_assert_uint_eq(a.st.learnt, 0);
}
END_TEST

/* A shared claim (a link's IPv4 and IPv6 punches): the controlling side
 * nominates only while no other punch has, and takes the claim when it
 * does; one taken already leaves it answering, nominating nothing, so the
 * controlled side is never nominated this pair and both give up. */
START_TEST(test_claim)
{
	int taken = 0;

	claim = &taken;
	a.free_in_cb = b.free_in_cb = 1;
	side_punch(&a, &b, 7, 1, 3000);
	side_punch(&b, &a, 7, 0, 3000);
	run();
	ck_assert(a.done && a.ok && b.done && b.ok);
	ck_assert_int_eq(taken, 1);
	/* Again, the claim another pair's. */
	teardown();
	setup();
	claim = &taken;
	side_punch(&a, &b, 7, 1, 400);
	side_punch(&b, &a, 7, 0, 400);
	run();
	ck_assert(a.done && !a.ok && b.done && !b.ok);
	ck_assert_uint_gt(a.st.answered, 0);	/* the pair works */
	ck_assert_uint_gt(b.st.answered, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("punch");
	TCase *tc = tcase_create("loopback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pair);
	tcase_add_test(tc, test_wrong_key);
	tcase_add_test(tc, test_claim);
	suite_add_tcase(s, tc);
	return check_run(s);
}
