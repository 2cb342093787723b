/*
 * The budget of unauthenticated answers (negotiator/ratelimit.c): prefixes
 * by family, a burst then the rate, prefixes apart from each other, a clock
 * read late by another thread, and two threads on one bucket at once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <sodium.h>

#include "negotiator/ratelimit.h"
#include "tests/check-run.h"

#define MS	1000000ULL
#define T0	(1000000ULL * MS)	/* any monotonic time */

static const uint8_t key[RATELIMIT_KEY_LEN] = "check-ratelimit";

static struct sockaddr_storage *
v4(const char *ip)
{
	static struct sockaddr_storage ss[4];
	static int n;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss[n++ % 4];

	memset(in, 0, sizeof *in);
	in->sin_family = AF_INET;
	in->sin_port = htons(3478);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return (struct sockaddr_storage *)in;
}

static struct sockaddr_storage *
v6(const char *ip)
{
	static struct sockaddr_storage ss[4];
	static int n;
	struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss[n++ % 4];

	memset(in, 0, sizeof *in);
	in->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &in->sin6_addr), 1);
	return (struct sockaddr_storage *)in;
}

#define SA(x) ((const struct sockaddr *)(x))

/* Takes from a's budget until it says no, up to max; how many it gave. */
static int
drain(struct ratelimit *rl, const struct sockaddr_storage *a, uint64_t now,
    int max)
{
	int n = 0;

	while (n < max && ratelimit_take(rl, SA(a), now) == 0)
		n++;
	return n;
}

static int
same_prefix(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	uint8_t pa[8], pb[8];
	size_t la = ratelimit_prefix(SA(a), pa), lb = ratelimit_prefix(SA(b), pb);

	return la != 0 && la == lb && memcmp(pa, pb, la) == 0;
}

START_TEST(test_prefix)
{
	struct sockaddr_un un;
	uint8_t p[8];

	ck_assert(same_prefix(v4("198.51.100.1"), v4("198.51.100.254")));
	ck_assert(!same_prefix(v4("198.51.100.1"), v4("198.51.101.1")));
	ck_assert(!same_prefix(v4("198.51.100.1"), v4("199.51.100.1")));
	/* An IPv4-mapped IPv6 source is its IPv4 address. */
	ck_assert(same_prefix(v4("198.51.100.1"), v6("::ffff:198.51.100.9")));
	/* IPv6: a /56: the 56th bit counts, the 57th does not. */
	ck_assert(same_prefix(v6("2001:db8:0:1::1"), v6("2001:db8:0:ff::2")));
	ck_assert(!same_prefix(v6("2001:db8:0:100::1"), v6("2001:db8:0:1::1")));
	ck_assert(!same_prefix(v6("2001:db8:1::1"), v6("2001:db8::1")));
	/* Not the same as an IPv4 address with the same first bytes. */
	ck_assert(!same_prefix(v4("32.1.13.1"), v6("2001:0d01::1")));
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	ck_assert_uint_eq(ratelimit_prefix(SA(&un), p), 0);
}
END_TEST

START_TEST(test_create)
{
	ck_assert_ptr_null(ratelimit_create(0, 10, key));
	ck_assert_ptr_null(ratelimit_create(10, 0, key));
	ck_assert_ptr_null(ratelimit_create(RATELIMIT_RATE_MAX + 1, 10, key));
	ck_assert_ptr_null(ratelimit_create(10, RATELIMIT_BURST_MAX + 1, key));
}
END_TEST

START_TEST(test_burst_then_rate)
{
	struct ratelimit *rl = ratelimit_create(10, 5, key);
	struct sockaddr_storage *a = v4("127.0.0.1");

	ck_assert_ptr_nonnull(rl);
	/* The burst at once, then nothing. */
	ck_assert_int_eq(drain(rl, a, T0, 100), 5);
	/* The same /24 shares the budget. */
	ck_assert_int_eq(ratelimit_take(rl, SA(v4("127.0.0.200")), T0), -1);
	/* One every 100 ms at 10/s; not before. */
	ck_assert_int_eq(drain(rl, a, T0 + 99 * MS, 100), 0);
	ck_assert_int_eq(drain(rl, a, T0 + 100 * MS, 100), 1);
	ck_assert_int_eq(drain(rl, a, T0 + 450 * MS, 100), 3);
	/* A long quiet spell fills it to the burst, not beyond. */
	ck_assert_int_eq(drain(rl, a, T0 + 3600000 * MS, 100), 5);
	/* An older clock reading (another thread's, read before ours):
	 * nothing more. */
	ck_assert_int_eq(drain(rl, a, T0 + 3599000 * MS, 100), 0);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_prefixes_apart)
{
	struct ratelimit *rl = ratelimit_create(1, 50, key);

	ck_assert_int_eq(drain(rl, v4("127.0.0.1"), T0, 1000), 50);
	ck_assert_int_eq(drain(rl, v4("127.0.0.1"), T0, 1000), 0);
	/* Another /24, another /56: budgets of their own. */
	ck_assert_int_eq(drain(rl, v4("127.0.1.1"), T0, 1000), 50);
	ck_assert_int_eq(drain(rl, v6("2001:db8::1"), T0, 1000), 50);
	ck_assert_int_eq(drain(rl, v6("2001:db8:0:ff::1"), T0, 1000), 0);
	ck_assert_int_eq(drain(rl, v6("2001:db8:0:100::1"), T0, 1000), 50);
	ratelimit_free(rl);
}
END_TEST

struct racer {
	struct ratelimit	*rl;
	struct sockaddr_in	 from;
	int			 got;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < 200000; i++)
		if (ratelimit_take(r->rl, SA(&r->from), T0) == 0)
			r->got++;
	return NULL;
}

/* Two threads on one bucket: the burst, exactly, between them. */
START_TEST(test_threads)
{
	struct ratelimit *rl = ratelimit_create(1, 10000, key);
	struct racer r[2];
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].rl = rl;
		memcpy(&r[i].from, v4(i == 0 ? "10.1.2.3" : "10.1.2.4"),
		    sizeof r[i].from);
	}
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(r[0].got + r[1].got, 10000);
	ratelimit_free(rl);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "ratelimit", .tests = { test_prefix, test_create,
		    test_burst_then_rate, test_prefixes_apart,
		    test_threads } },
	};

	if (sodium_init() < 0)
		return 1;
	return check_run_cases("ratelimit", cases,
	    sizeof cases / sizeof cases[0]);
}
