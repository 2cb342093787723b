/*
 * The negotiator's trees (negotiator/forest.c): a tree per channel with an
 * origin, slots as handles, the verifier's queue, verdicts by the verifier
 * and by children, demotion after failures in a row, and what an origin's
 * departure or return does to its tree.
 */
#include <check.h>

#include "negotiator/forest.h"
#include "net/wire/nat.h"
#include "tests/check-run.h"

#define MAXN 64

START_TEST(test_origin_and_join)
{
	struct forest *f = forest_create(MAXN);
	uint32_t parent, slot, gen;

	ck_assert_ptr_nonnull(f);
	/* No origin on channel 3: no tree, no join. */
	ck_assert_int_eq(forest_join(f, 3, 10, 1, TREE_NAT_OPEN, 2, &parent),
	    -1);
	ck_assert_ptr_null(forest_tree(f, 3));
	ck_assert_int_eq(forest_origin(f, 3, 0, 2), 0);
	ck_assert_uint_eq(forest_origin_slot(f, 3), 0);
	/* The origin's two slots, then none: candidates offer none. */
	ck_assert_int_eq(forest_join(f, 3, 10, 7, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_uint_eq(parent, 0);
	ck_assert_int_eq(forest_join(f, 3, 11, 8, TREE_NAT_PREDICTABLE, 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, 0);
	ck_assert_int_eq(forest_join(f, 3, 12, 9, TREE_NAT_PREDICTABLE, 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, TREE_NONE);
	/* Joining again changes nothing. */
	ck_assert_int_eq(forest_join(f, 3, 10, 7, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_uint_eq(parent, 0);
	ck_assert_uint_eq(forest_stats(f)->joins, 3);
	/* All three wait for the verifier, in order, with their gen. */
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), 0);
	ck_assert_uint_eq(slot, 10);
	ck_assert_uint_eq(gen, 7);
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), 0);
	ck_assert_uint_eq(slot, 11);
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), 0);
	ck_assert_uint_eq(slot, 12);
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), -1);
	/* 10 verified: a repeater, and 12 goes under it. */
	ck_assert_int_eq(forest_verdict(f, 3, 10, 1, NULL, 0), 1);
	ck_assert_int_eq(tree_role(forest_tree(f, 3), 11), TREE_ROLE_REPEATER);
	ck_assert_int_eq(forest_parent(f, 3, 12, &parent), 0);
	ck_assert_uint_eq(parent, 10);
	ck_assert_uint_eq(forest_stats(f)->verified, 1);
	/* 11 could not be tried (the verifier's own trouble): it waits
	 * again, with its gen. A node no longer a candidate is not queued. */
	forest_requeue(f, 3, 11, 8);
	forest_requeue(f, 3, 10, 7);
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), 0);
	ck_assert_uint_eq(slot, 11);
	ck_assert_uint_eq(gen, 8);
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), -1);
	forest_free(f);
}
END_TEST

START_TEST(test_nonrepeaters_at_once)
{
	struct forest *f = forest_create(MAXN);
	uint32_t parent, slot, gen;

	ck_assert_int_eq(forest_origin(f, 1, 0, 2), 0);
	/* A random allocator and a node that relays to fewer than two:
	 * non-repeaters, never queued. */
	ck_assert_int_eq(forest_join(f, 1, 5, 1, TREE_NAT_RANDOM, 2, &parent),
	    0);
	ck_assert_int_eq(forest_join(f, 1, 6, 1, TREE_NAT_OPEN, 1, &parent), 0);
	ck_assert_int_eq(tree_role(forest_tree(f, 1), 6),
	    TREE_ROLE_NONREPEATER);
	ck_assert_str_eq(tree_reason(forest_tree(f, 1), 6),
	    TREE_REASON_RANDOM);
	ck_assert_int_eq(tree_role(forest_tree(f, 1), 7),
	    TREE_ROLE_NONREPEATER);
	ck_assert_int_eq(forest_next_candidate(f, &slot, &gen), -1);
	/* A verdict on a non-repeater changes nothing. */
	ck_assert_int_eq(forest_verdict(f, 1, 5, 1, NULL, 1), 0);
	ck_assert_int_eq(forest_verdict(f, 1, 40, 1, NULL, 1), -1);
	forest_free(f);
}
END_TEST

START_TEST(test_children_verify_and_demote)
{
	struct forest *f = forest_create(MAXN);
	const struct tree *t;
	uint32_t parent;
	char err[160];

	ck_assert_int_eq(forest_origin(f, 2, 0, 1), 0);
	ck_assert_int_eq(forest_join(f, 2, 1, 1, TREE_NAT_OPEN, 2, &parent), 0);
	/* A real child's punched link verifies a candidate. */
	ck_assert_int_eq(forest_verdict(f, 2, 1, 1, NULL, 1), 1);
	ck_assert_uint_eq(forest_stats(f)->verified_by_child, 1);
	ck_assert_int_eq(forest_join(f, 2, 2, 1, TREE_NAT_PREDICTABLE, 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, 1);
	/* Two failures, a success, then three in a row: demoted, with the
	 * reason; its child moves on (here: nowhere, the origin is full). */
	ck_assert_int_eq(forest_verdict(f, 2, 1, 0, "x", 1), 0);
	ck_assert_int_eq(forest_verdict(f, 2, 1, 0, "x", 1), 0);
	ck_assert_int_eq(forest_verdict(f, 2, 1, 1, NULL, 1), 0);
	ck_assert_int_eq(forest_verdict(f, 2, 1, 0, "x", 1), 0);
	ck_assert_int_eq(forest_verdict(f, 2, 1, 0, "x", 1), 0);
	ck_assert_int_eq(forest_verdict(f, 2, 1, 0, "children failed", 1), 1);
	t = forest_tree(f, 2);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_NONREPEATER);
	ck_assert_str_eq(tree_reason(t, 2), "children failed");
	ck_assert_uint_eq(forest_stats(f)->demoted, 1);
	ck_assert_int_eq(forest_parent(f, 2, 2, &parent), 0);
	ck_assert_uint_ne(parent, 1);
	ck_assert_msg(tree_check(t, err, sizeof err) == 0, "%s", err);
	forest_free(f);
}
END_TEST

/* A child's accusation of tampering cuts its parent off at once; from
 * anyone else (a grandchild, the parent itself, about the origin) it is
 * refused. */
START_TEST(test_accuse)
{
	struct forest *f = forest_create(MAXN);
	const struct tree *t;
	uint32_t parent, p2, p3, p4, s;
	char err[160];

	/* The origin feeds one: T (slot 1), then A and B (2, 3) under T,
	 * and G (4) under A or B. */
	ck_assert_int_eq(forest_origin(f, 4, 0, 1), 0);
	ck_assert_int_eq(forest_join(f, 4, 1, 1, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_int_eq(forest_verdict(f, 4, 1, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_join(f, 4, 2, 1, TREE_NAT_OPEN, 2, &p2), 0);
	ck_assert_int_eq(forest_join(f, 4, 3, 1, TREE_NAT_OPEN, 2, &p3), 0);
	ck_assert_uint_eq(p2, 1);
	ck_assert_uint_eq(p3, 1);
	ck_assert_int_eq(forest_verdict(f, 4, 2, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_verdict(f, 4, 3, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_join(f, 4, 4, 1, TREE_NAT_OPEN, 2, &p4), 0);
	ck_assert(p4 == 2 || p4 == 3);

	/* Refused: a grandchild, the parent of the accuser, the origin, a
	 * node not in the tree, another channel. */
	ck_assert_int_eq(forest_accuse(f, 4, 4, 1, "x"), -1);
	ck_assert_int_eq(forest_accuse(f, 4, 1, 2, "x"), -1);
	ck_assert_int_eq(forest_accuse(f, 4, 1, 0, "x"), -1);
	ck_assert_int_eq(forest_accuse(f, 4, 9, 1, "x"), -1);
	ck_assert_int_eq(forest_accuse(f, 5, 2, 1, "x"), -1);
	ck_assert_int_eq(forest_accuse(f, 4, 2, MAXN, "x"), -1);
	t = forest_tree(f, 4);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_REPEATER);

	/* A's word: T is cut off at once, no one's parent any more. */
	ck_assert_int_eq(forest_accuse(f, 4, 2, 1, "tampered"), 1);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_NONREPEATER);
	ck_assert_str_eq(tree_reason(t, 2), "tampered");
	for (s = 2; s <= 4; s++) {
		ck_assert_int_eq(forest_parent(f, 4, s, &parent), 0);
		ck_assert_uint_ne(parent, 1);
		ck_assert_uint_ne(parent, TREE_NONE);
	}
	ck_assert_int_eq(tree_children(t, 2, NULL, 0), 0);
	ck_assert_msg(tree_check(t, err, sizeof err) == 0, "%s", err);
	/* Not counted as a failed-links demotion; said again: refused,
	 * A's parent is another now. */
	ck_assert_uint_eq(forest_stats(f)->demoted, 0);
	ck_assert_int_eq(forest_accuse(f, 4, 2, 1, "tampered"), -1);
	forest_free(f);
}
END_TEST

START_TEST(test_departures)
{
	struct forest *f = forest_create(MAXN);
	uint32_t parent;
	char err[160];

	ck_assert_int_eq(forest_origin(f, 4, 9, 2), 0);
	ck_assert_int_eq(forest_join(f, 4, 1, 1, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_uint_eq(parent, 9);	/* the origin's slot */
	ck_assert_int_eq(forest_verdict(f, 4, 1, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_join(f, 4, 2, 1, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_int_eq(forest_join(f, 4, 3, 1, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_int_eq(forest_join(f, 4, 4, 1, TREE_NAT_OPEN, 2, &parent), 0);
	ck_assert_uint_eq(parent, 1);
	/* 1 goes: the tree repairs at once, nobody is left under it. */
	forest_gone(f, 4, 1);
	ck_assert_uint_eq(forest_stats(f)->departures, 1);
	ck_assert_int_eq(forest_parent(f, 4, 1, &parent), -1);
	ck_assert_int_eq(forest_parent(f, 4, 4, &parent), 0);
	ck_assert_uint_ne(parent, 1);
	ck_assert_msg(tree_check(forest_tree(f, 4), err, sizeof err) == 0,
	    "%s", err);
	/* The same origin registered again keeps its tree; another origin
	 * on the channel makes a new one; the origin's departure takes it. */
	ck_assert_int_eq(forest_origin(f, 4, 9, 2), 0);
	ck_assert_int_eq(forest_parent(f, 4, 2, &parent), 0);
	ck_assert_int_eq(forest_origin(f, 4, 8, 2), 0);
	ck_assert_int_eq(forest_parent(f, 4, 2, &parent), -1);
	forest_gone(f, 4, 8);
	ck_assert_ptr_null(forest_tree(f, 4));
	forest_free(f);
}
END_TEST

/* A random node takes back a slot an open repeater lent: the repeaters
 * that trade places answer their new parents at once, to the JOIN and to
 * each keepalive (forest_parent), and the moves are counted. */
START_TEST(test_random_takes_lent_slot)
{
	struct forest *f = forest_create(MAXN);
	uint32_t parent, up, other, moves;
	char err[160];

	ck_assert_int_eq(forest_origin(f, 2, 0, 1), 0);
	ck_assert_int_eq(forest_join(f, 2, 10, 1, TREE_NAT_OPEN, 2, &parent),
	    0);
	ck_assert_int_eq(forest_verdict(f, 2, 10, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_join(f, 2, 11, 1, TREE_NAT_PREDICTABLE, 2,
	    &parent), 0);
	ck_assert_int_eq(forest_join(f, 2, 12, 1, TREE_NAT_PREDICTABLE, 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, 10);
	ck_assert_int_eq(forest_verdict(f, 2, 11, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_verdict(f, 2, 12, 1, NULL, 0), 1);
	moves = (uint32_t)forest_stats(f)->moves;
	/* 10 lent both slots; a random node joins and is placed under it,
	 * now below the predictable repeater that took its place. */
	ck_assert_int_eq(forest_join(f, 2, 13, 1, TREE_NAT_RANDOM, 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, 10);
	ck_assert_int_eq(forest_parent(f, 2, 10, &up), 0);
	ck_assert(up == 11 || up == 12);
	other = up == 11 ? 12 : 11;
	ck_assert_int_eq(forest_parent(f, 2, up, &parent), 0);
	ck_assert_uint_eq(parent, 0);
	ck_assert_int_eq(forest_parent(f, 2, other, &parent), 0);
	ck_assert_uint_eq(parent, up);
	ck_assert_uint_eq(forest_stats(f)->moves, moves + 3);
	ck_assert_msg(tree_check(forest_tree(f, 2), err, sizeof err) == 0,
	    "%s", err);
	forest_free(f);
}
END_TEST

/* Birthday punching joins a random allocator with an endpoint-independent
 * mapping that filters (net/link/link-birthday.c): such a node is a parent a random one
 * can have, whatever its allocation; an address-and-port-dependent one is
 * not. */
START_TEST(test_random_under_eim)
{
	static const struct {
		struct nat_profile	p;
		enum tree_nat		want;
	} cases[] = {
		{ { NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED, NAT_FILTER_APDF, 0, 0,
		    0 }, TREE_NAT_OPEN },
		{ { NAT_MAPPING_EIM, NAT_ALLOC_OFFSET, NAT_FILTER_APDF, 0, 1000,
		    0 }, TREE_NAT_OPEN },
		{ { NAT_MAPPING_EIM, NAT_ALLOC_RANDOM, NAT_FILTER_ADF, 0, 0, 0 },
		    TREE_NAT_OPEN },
		{ { NAT_MAPPING_NONE, NAT_ALLOC_PRESERVED, NAT_FILTER_APDF, 0, 0,
		    0 }, TREE_NAT_OPEN },
		{ { NAT_MAPPING_APDM, NAT_ALLOC_SEQUENTIAL, NAT_FILTER_APDF, 0,
		    0, 1 }, TREE_NAT_PREDICTABLE },
		{ { NAT_MAPPING_APDM, NAT_ALLOC_RANDOM, NAT_FILTER_APDF, 0, 0,
		    0 }, TREE_NAT_RANDOM },
	};
	struct nat_profile eim = cases[0].p;
	struct forest *f = forest_create(MAXN);
	uint32_t parent;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_int_eq(forest_nat(&cases[i].p), cases[i].want);
	/* The origin's one slot goes to the eim repeater; the random node
	 * goes under it. */
	ck_assert_int_eq(forest_origin(f, 5, 0, 1), 0);
	ck_assert_int_eq(forest_join(f, 5, 10, 1, forest_nat(&eim), 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, 0);
	ck_assert_int_eq(forest_verdict(f, 5, 10, 1, NULL, 0), 1);
	ck_assert_int_eq(forest_join(f, 5, 11, 1, TREE_NAT_RANDOM, 2,
	    &parent), 0);
	ck_assert_uint_eq(parent, 10);
	forest_free(f);
}
END_TEST

START_TEST(test_tree_limit)
{
	struct forest *f = forest_create(MAXN);
	int ch;

	for (ch = 0; ch < FOREST_TREES_MAX; ch++)
		ck_assert_int_eq(forest_origin(f, ch, (uint32_t)ch, 2), 0);
	ck_assert_int_eq(forest_origin(f, ch, (uint32_t)ch, 2), -1);
	ck_assert_uint_eq(forest_stats(f)->no_tree, 1);
	forest_gone(f, 0, 0);
	ck_assert_int_eq(forest_origin(f, ch, (uint32_t)ch, 2), 0);
	ck_assert_int_eq(forest_channel_at(f, 0), ch);
	forest_free(f);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "forest", .tests = { test_origin_and_join,
		    test_nonrepeaters_at_once, test_children_verify_and_demote,
		    test_accuse, test_departures, test_random_takes_lent_slot,
		    test_random_under_eim, test_tree_limit } },
	};

	return check_run_cases("forest", cases,
	    sizeof cases / sizeof cases[0]);
}
