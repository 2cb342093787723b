/*
 * A session's replay window (negotiator/auth.c), by itself: numbers in
 * order, the last again, one overtaken by a later one and then seen again,
 * the edge of the window, a jump far ahead, 0, and the top of the 32-bit
 * range, where the numbers do not wrap. Each test is a run of numbers and
 * the verdict each must get, through one window.
 */
#include "config.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "negotiator/auth.h"
#include "tests/check-run.h"

struct step {
	uint32_t		seq;
	enum auth_verdict	v;
};

#define STEPS(w, ...) do {						\
	static const struct step steps_[] = { __VA_ARGS__ };		\
	run(w, steps_, sizeof steps_ / sizeof steps_[0]);		\
} while (0)

/* Runs the steps through *w, each verdict as told; a replay leaves the
 * window as it was. */
static void
run(struct auth_window *w, const struct step *steps, size_t n)
{
	struct auth_window in;
	size_t i;

	for (i = 0; i < n; i++) {
		in = *w;
		ck_assert_msg(auth_window_check(in, steps[i].seq, w) ==
		    steps[i].v, "step %zu (%u)", i, steps[i].seq);
		if (steps[i].v == AUTH_REPLAY)
			ck_assert(w->last == in.last && w->seen == in.seen);
	}
}

#define F	AUTH_FRESH
#define A	AUTH_AGAIN
#define R	AUTH_REPLAY

START_TEST(test_in_order)
{
	struct auth_window w = { 0, 0 };
	struct step s;
	uint32_t seq;

	for (seq = 1; seq <= 20; seq++) {
		s = (struct step){ seq, F };
		run(&w, &s, 1);
		ck_assert_uint_eq(w.last, seq);
	}
	/* The 8 below the last, all taken. */
	ck_assert_uint_eq(w.seen, 0xff);
}
END_TEST

START_TEST(test_first)
{
	struct auth_window w = { 0, 0 };

	/* A new session's first number may be any but 0; nothing below it
	 * counts as taken. */
	STEPS(&w, { 5, F });
	ck_assert_uint_eq(w.seen, 0);
	STEPS(&w, { 4, F }, { 4, A }, { 5, A });
	ck_assert_uint_eq(w.seen, 1);
}
END_TEST

START_TEST(test_zero)
{
	struct auth_window w = { 0, 0 };

	STEPS(&w, { 0, R }, { 1, F }, { 0, R });
}
END_TEST

START_TEST(test_retransmission)
{
	struct auth_window w = { 0, 0 };

	/* The last again, and a taken number below it: again. */
	STEPS(&w, { 1, F }, { 2, F }, { 2, A }, { 2, A }, { 1, A });
	ck_assert_uint_eq(w.last, 2);
}
END_TEST

START_TEST(test_overtaken)
{
	struct auth_window w = { 0, 0 };

	/* 12 overtakes 11 (a LINK retransmitted after the next keepalive
	 * went out): 11 is still fresh, once. */
	STEPS(&w, { 10, F }, { 12, F });
	ck_assert_uint_eq(w.seen, 0x2);		/* 10 taken, 11 not */
	STEPS(&w, { 11, F }, { 11, A }, { 10, A });
	ck_assert_uint_eq(w.last, 12);
	ck_assert_uint_eq(w.seen, 0x3);
}
END_TEST

START_TEST(test_window_edge)
{
	struct auth_window w = { 0, 0 };

	/* After 113, the window holds 105..112: the oldest of them, not
	 * taken, is fresh; one below it is a replay, taken or not. */
	STEPS(&w, { 100, F }, { 100 + AUTH_WINDOW + 5, F }, { 105, F },
	    { 104, R }, { 100, R }, { 1, R });
}
END_TEST

START_TEST(test_far_ahead)
{
	struct auth_window w = { 0, 0 };

	/* A jump past the window forgets it: below the new last is
	 * untaken, below the window old. */
	STEPS(&w, { 1, F }, { 2, F }, { 3, F }, { 1000000, F });
	ck_assert_uint_eq(w.seen, 0);
	STEPS(&w, { 3, R }, { 999999, F }, { 999999, A });
	/* A jump of exactly the window keeps the last as its top bit. */
	STEPS(&w, { 1000000 + AUTH_WINDOW, F });
	ck_assert_uint_eq(w.seen, 0x80);
	STEPS(&w, { 1000000, A }, { 999999, R });
}
END_TEST

START_TEST(test_top)
{
	struct auth_window w = { UINT32_MAX - 2, 0 };

	STEPS(&w, { UINT32_MAX - 1, F }, { UINT32_MAX, F },
	    { UINT32_MAX, A }, { UINT32_MAX - 1, A });
	ck_assert_uint_eq(w.seen, 0x3);
	/* No wrap: after UINT32_MAX every number is old (the node must
	 * register again); none counts as above it. */
	STEPS(&w, { 0, R }, { 1, R }, { UINT32_MAX - AUTH_WINDOW - 1, R });
	ck_assert_uint_eq(w.last, UINT32_MAX);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, test_in_order);
	tcase_add_test(tc, test_first);
	tcase_add_test(tc, test_zero);
	tcase_add_test(tc, test_retransmission);
	tcase_add_test(tc, test_overtaken);
	tcase_add_test(tc, test_window_edge);
	tcase_add_test(tc, test_far_ahead);
	tcase_add_test(tc, test_top);
	suite_add_tcase(s, tc);
	return check_run(s);
}
