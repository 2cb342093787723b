/* Unit tests for tree/'s repair (adopted subtrees, orphans, demotion,
 * shortfall), balance, and the invariants under random churn. */
#include "config.h"

#include "tests/check-tree.h"
#include "tests/check-run.h"

/* --- repair ------------------------------------------------------------- */

START_TEST(test_repair_subtree_adopted)
{
	struct tree *t = full_tree(14, 32);	/* depths 1..3 */
	struct tree_event ev[EVMAX];
	uint32_t kids[2], depth[15], i, x, filler;
	size_t n;

	ck_assert_int_eq(tree_children(t, 1, kids, 2), 2);
	for (i = 1; i <= 14; i++)
		depth[i] = (uint32_t)tree_depth(t, i);
	ck_assert_int_eq(tree_leave(t, 1), 0);
	/* A deepest repeater took 1's slot and both orphans at once. */
	filler = tree_children(t, TREE_ORIGIN, kids, 2) == 2 &&
	    kids[0] != 2 ? kids[0] : kids[1];
	ck_assert_uint_ne(filler, 1);
	ck_assert_uint_eq(depth[filler], 3);
	ck_assert_int_eq(tree_depth(t, filler), 1);
	ck_assert_int_eq(tree_children(t, filler, kids, 2), 2);
	/* Every other node keeps its depth. */
	for (x = 2; x <= 14; x++)
		if (x != filler)
			ck_assert_uint_eq((uint32_t)tree_depth(t, x), depth[x]);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 3);	/* the filler and the two orphans */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ev[i].kind, TREE_EV_MOVED);
	tree_done(t);
}
END_TEST

START_TEST(test_repair_leaf_children)
{
	struct tree *t = tree_create(16, 1);
	struct tree_event ev[EVMAX];
	const struct tree_event *e;
	size_t n;

	join_rep(t, 1, TREE_NAT_OPEN);
	join_leaf(t, 2, TREE_NAT_PREDICTABLE);
	join_leaf(t, 3, TREE_NAT_RANDOM);
	drain_all(t);
	/* 1's children are leaves: one takes 1's slot; no slot is left for
	 * the other, which waits, unplaced. */
	ck_assert_int_eq(tree_leave(t, 1), 0);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_ORIGIN);  /* random first */
	e = event_of(ev, n, 3, TREE_EV_MOVED);
	e = event_of(ev, n, 2, TREE_EV_ORPHANED);
	ck_assert_uint_eq(e->old_parent, 1);
	/* A predictable repeater cannot parent the random leaf, so it cannot
	 * take its slot: it waits for a departure. */
	join_rep(t, 4, TREE_NAT_PREDICTABLE);
	check_tree(t);
	ck_assert_uint_eq(tree_parent(t, 4), TREE_NONE);
	ck_assert_int_eq(tree_leave(t, 3), 0);
	ck_assert_uint_eq(tree_parent(t, 4), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 2), 4);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_repair_filler_leaves)
{
	struct tree *t = tree_create(32, 2);
	struct tree_counts c;
	uint32_t kids[2], i;

	/* Repeaters 1..6, then leaves filling every slot below them. */
	for (i = 1; i <= 6; i++)
		join_rep(t, i, TREE_NAT_PREDICTABLE);
	for (i = 7; i <= 14; i++)
		join_leaf(t, i, TREE_NAT_PREDICTABLE);
	check_tree(t);
	drain_all(t);
	/* 1 has repeater children: the filler is a repeater whose children
	 * are leaves; those are placed again. */
	ck_assert_int_eq(tree_leave(t, 1), 0);
	check_tree(t);
	check_public(t);
	ck_assert_int_eq(tree_children(t, TREE_ORIGIN, kids, 2), 2);
	ck_assert_int_eq(tree_role(t, kids[0]), TREE_ROLE_REPEATER);
	ck_assert_int_eq(tree_role(t, kids[1]), TREE_ROLE_REPEATER);
	/* 5 repeaters: 12 slots for 12 of the 13 nodes left. */
	tree_counts(t, &c);
	ck_assert_uint_eq(c.placed, 12);
	ck_assert_uint_eq(c.unplaced, 1);
	ck_assert_uint_eq(c.max_depth, 3);
	tree_free(t);
}
END_TEST

START_TEST(test_repair_random_orphans)
{
	struct tree *t = tree_create(32, 2);

	join_rep(t, 1, TREE_NAT_OPEN);
	join_rep(t, 2, TREE_NAT_PREDICTABLE);
	join_rep(t, 3, TREE_NAT_PREDICTABLE);		/* under 2 */
	join_rep(t, 4, TREE_NAT_PREDICTABLE);		/* under 2 */
	join_rep(t, 5, TREE_NAT_OPEN);			/* under 1 */
	join_leaf(t, 6, TREE_NAT_RANDOM);		/* under 1 */
	join_leaf(t, 7, TREE_NAT_RANDOM);		/* under 5 */
	ck_assert_uint_eq(tree_parent(t, 5), 1);
	ck_assert_uint_eq(tree_parent(t, 6), 1);
	ck_assert_uint_eq(tree_parent(t, 7), 5);
	/* A predictable repeater (3 or 4) fills 1's place: it adopts 5, but
	 * 6 cannot follow and finds an open parent of its own. */
	ck_assert_int_eq(tree_leave(t, 1), 0);
	ck_assert_int_eq(tree_nat(t, tree_children(t, TREE_ORIGIN, NULL, 0) ==
	    2 ? tree_parent(t, 5) : 0), TREE_NAT_PREDICTABLE);
	ck_assert_uint_eq(tree_parent(t, 6), 5);
	tree_done(t);
}
END_TEST

START_TEST(test_repair_demote)
{
	struct tree *t = full_tree(14, 32);
	struct tree_event ev[EVMAX];
	uint32_t kids[2], x;
	size_t n;
	int d;

	ck_assert_int_eq(tree_demote(t, 2, reason_demote), 0);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_NONREPEATER);
	ck_assert_ptr_eq(tree_reason(t, 2), reason_demote);
	ck_assert_int_eq(tree_children(t, 2, kids, 2), 0);
	ck_assert_int_ge(tree_depth(t, 2), 3);		/* now at the edge */
	n = drain(t, ev);
	event_of(ev, n, 2, TREE_EV_MOVED);
	check_tree(t);
	check_public(t);
	/* A childless repeater is demoted in place. */
	for (x = 3; x <= 14; x++)
		if (tree_role(t, x) == TREE_ROLE_REPEATER &&
		    tree_children(t, x, kids, 2) == 0)
			break;
	ck_assert_uint_le(x, 14);
	d = tree_depth(t, x);
	ck_assert_int_eq(tree_demote(t, x, reason_demote), 0);
	ck_assert_int_eq(tree_depth(t, x), d);
	ck_assert_int_eq(tree_role(t, x), TREE_ROLE_NONREPEATER);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_shortfall)
{
	struct tree *t = tree_create(64, 1);
	struct tree_counts c;
	uint32_t i;

	for (i = 1; i <= 10; i++)
		join_leaf(t, i, i % 2 ? TREE_NAT_RANDOM : TREE_NAT_OPEN);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.placed, 1);
	ck_assert_uint_eq(c.unplaced, 9);
	ck_assert_uint_eq(c.unplaced_random, 4);
	/* Each open repeater brings net one slot. */
	join_rep(t, 11, TREE_NAT_OPEN);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.placed, 3);
	ck_assert_uint_eq(c.unplaced, 8);
	join_rep(t, 12, TREE_NAT_OPEN);
	join_rep(t, 13, TREE_NAT_OPEN);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.placed, 7);
	ck_assert_uint_eq(c.unplaced, 6);
	check_tree(t);
	/* Departures hand their slots to waiting nodes. */
	ck_assert_int_eq(tree_leave(t, 1), 0);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.placed, 7);
	ck_assert_uint_eq(c.unplaced, 5);
	tree_done(t);
}
END_TEST

START_TEST(test_origin_fanout)
{
	struct tree *t = tree_create(64, 5);
	struct tree_event ev[EVMAX];
	uint32_t kids[8], i;
	size_t n;

	for (i = 1; i <= 6; i++)
		join_leaf(t, i, TREE_NAT_RANDOM);
	/* Spare origin fanout serves nodes no repeater can take. */
	ck_assert_int_eq(tree_children(t, TREE_ORIGIN, kids, 8), 5);
	ck_assert_uint_eq(tree_parent(t, 6), TREE_NONE);
	drain_all(t);
	ck_assert_int_eq(tree_leave(t, 3), 0);
	ck_assert_uint_eq(tree_parent(t, 6), TREE_ORIGIN);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].kind, TREE_EV_PLACED);
	tree_done(t);
}
END_TEST

/* --- balance ------------------------------------------------------------ */

START_TEST(test_balance_joins)
{
	struct tree *t = tree_create(20000, 2);
	uint32_t i;

	for (i = 1; i <= 20000; i++) {
		join_rep(t, i, i % 3 ? TREE_NAT_PREDICTABLE : TREE_NAT_OPEN);
		check_bound(t);
	}
	check_tree(t);
	tree_free(t);
}
END_TEST

/* Joins and leaves at random, every node a repeater: the bound holds after
 * every operation, for origin fanouts 2 to 5. */
START_TEST(test_balance_churn)
{
	uint32_t fanout = 2 + (uint32_t)_i, max = 2000, id, op;
	struct tree *t = tree_create(max, fanout);
	uint64_t seed = 1000 + (uint64_t)_i;

	for (op = 0; op < 60000; op++) {
		id = 1 + rng_below(&seed, max);
		/* Drift the population between small and full. */
		if (tree_role(t, id) == TREE_ROLE_NONE)
			join_rep(t, id, rng_below(&seed, 2) ?
			    TREE_NAT_OPEN : TREE_NAT_PREDICTABLE);
		else if (rng_below(&seed, 100) < ((op / 10000) % 2 ? 70 : 30))
			ck_assert_int_eq(tree_leave(t, id), 0);
		check_bound(t);
		if (op % 500 == 0)
			check_tree(t);
		drain_all(t);
	}
	tree_done(t);
}
END_TEST

/* Verification lags behind joins: candidates wait, leaves happen, then the
 * candidates are verified in random order. Once all are repeaters, the
 * bound holds again. */
START_TEST(test_balance_lagging_verification)
{
	uint32_t max = 1000, *pend, np, k, i, j, id, round;
	struct tree *t = tree_create(max, 2);
	uint64_t seed = 99;

	pend = malloc(max * sizeof *pend);
	for (round = 0; round < 400; round++) {
		np = 0;
		k = rng_below(&seed, max / 4 + 1);
		for (i = 0; i < k; i++) {
			id = 1 + rng_below(&seed, max);
			if (tree_role(t, id) != TREE_ROLE_NONE)
				continue;
			ck_assert_int_eq(tree_join(t, id, rng_below(&seed, 2) ?
			    TREE_NAT_OPEN : TREE_NAT_PREDICTABLE), 0);
			pend[np++] = id;
		}
		k = rng_below(&seed, max / 4 + 1);
		for (i = 0; i < k; i++) {
			id = 1 + rng_below(&seed, max);
			if (tree_role(t, id) != TREE_ROLE_NONE)
				ck_assert_int_eq(tree_leave(t, id), 0);
		}
		for (i = np; i > 0; i--) {
			j = rng_below(&seed, i);
			id = pend[j];
			pend[j] = pend[i - 1];
			if (tree_role(t, id) == TREE_ROLE_CANDIDATE)
				ck_assert_int_eq(tree_verify(t, id, 1,
				    NULL), 0);
		}
		check_bound(t);
		check_tree(t);
		drain_all(t);
	}
	free(pend);
	tree_free(t);
}
END_TEST

/* --- churn -------------------------------------------------------------- */

/*
 * Random joins with a mix of NAT classes, verifications that pass or fail,
 * demotions and departures, on small trees where shortfalls are common:
 * tree_check() after every operation, the public walk every few, and the
 * events always consistent with the parents they report.
 */
START_TEST(test_churn_invariants)
{
	static const uint32_t sizes[] = { 8, 40, 300 };
	uint32_t max = sizes[_i % 3], fanout = 1 + (uint32_t)_i % 4;
	struct tree *t = tree_create(max, fanout);
	uint64_t seed = 4242 + (uint64_t)_i;
	struct tree_event ev[EVMAX];
	uint32_t op, id, r;
	size_t n, i;
	enum tree_role role;

	for (op = 0; op < 10000; op++) {
		id = 1 + rng_below(&seed, max);
		r = rng_below(&seed, 100);
		role = tree_role(t, id);
		if (role == TREE_ROLE_NONE)
			ck_assert_int_eq(tree_join(t, id,
			    (enum tree_nat)rng_below(&seed, 3)), 0);
		else if (r < 35)
			ck_assert_int_eq(tree_leave(t, id), 0);
		else if (role == TREE_ROLE_CANDIDATE)
			ck_assert_int_eq(tree_verify(t, id, r < 80,
			    reason_fail), 0);
		else if (role == TREE_ROLE_REPEATER && r < 40)
			ck_assert_int_eq(tree_demote(t, id, reason_demote), 0);
		check_tree(t);
		if (op % 97 == 0)
			check_public(t);
		if (rng_below(&seed, 4) == 0)
			continue;	/* let events pile up and coalesce */
		while ((n = drain(t, ev)) > 0)
			for (i = 0; i < n; i++) {
				ck_assert_uint_eq(tree_parent(t, ev[i].node),
				    ev[i].new_parent);
				/* Only a fresh join that found no slot
				 * reports no parent on either side. */
				ck_assert(ev[i].old_parent !=
				    ev[i].new_parent ||
				    ev[i].old_parent == TREE_NONE);
				ck_assert_int_eq(ev[i].kind,
				    ev[i].new_parent == TREE_NONE ?
				    TREE_EV_ORPHANED :
				    ev[i].old_parent == TREE_NONE ?
				    TREE_EV_PLACED : TREE_EV_MOVED);
			}
	}
	tree_free(t);
}
END_TEST

/* Larger: 20,000 handles, a realistic mix, checked every 2,000 steps. */
START_TEST(test_churn_large)
{
	uint32_t max = 20000, op, id, r;
	struct tree *t = tree_create(max, 2);
	uint64_t seed = 777;
	enum tree_nat nat;

	for (op = 0; op < 120000; op++) {
		id = 1 + rng_below(&seed, max);
		r = rng_below(&seed, 100);
		if (tree_role(t, id) == TREE_ROLE_NONE) {
			nat = r < 35 ? TREE_NAT_OPEN : r < 80 ?
			    TREE_NAT_PREDICTABLE : TREE_NAT_RANDOM;
			ck_assert_int_eq(tree_join(t, id, nat), 0);
			if (nat != TREE_NAT_RANDOM)
				ck_assert_int_eq(tree_verify(t, id,
				    rng_below(&seed, 100) >= 5, reason_fail),
				    0);
		} else if (r < 45)
			ck_assert_int_eq(tree_leave(t, id), 0);
		drain_all(t);
		if (op % 2000 == 0)
			check_tree(t);
	}
	tree_done(t);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "repair", .tests = { test_repair_subtree_adopted,
		    test_repair_leaf_children, test_repair_filler_leaves,
		    test_repair_random_orphans, test_repair_demote,
		    test_shortfall, test_origin_fanout } },
		{ .name = "balance", .timeout = 60,
		    .tests = { test_balance_joins,
		    test_balance_lagging_verification },
		    .loops = { { test_balance_churn, 4 } } },
		{ .name = "churn", .timeout = 60,
		    .tests = { test_churn_large },
		    .loops = { { test_churn_invariants, 12 } } },
	};

	return check_run_cases("tree-repair", cases,
	    sizeof cases / sizeof cases[0]);
}
