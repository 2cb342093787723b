/* Unit tests for tree/'s placement: breadth first, NAT compatibility,
 * predictable parents, random-mapping nodes displacing and trading, a
 * crowd, and leaves kept at the edge. */
#include "config.h"

#include "tests/check-tree.h"
#include "tests/check-run.h"

/* --- placement ---------------------------------------------------------- */

START_TEST(test_place_breadth_first)
{
	struct tree *t = tree_create(64, 2);
	uint32_t i;

	/* Repeaters fill the levels in order: i at floor(log2(i + 1)). */
	for (i = 1; i <= 62; i++) {
		join_rep(t, i, i % 2 ? TREE_NAT_OPEN : TREE_NAT_PREDICTABLE);
		ck_assert_int_eq(tree_depth(t, i), (int)floor(log2(i + 1.0)));
	}
	tree_done(t);
}
END_TEST

START_TEST(test_place_candidates_offer_no_slot)
{
	struct tree *t = tree_create(8, 2);
	struct tree_event ev[EVMAX];
	struct tree_counts c;
	size_t n;

	ck_assert_int_eq(tree_join(t, 1, TREE_NAT_OPEN), 0);
	ck_assert_int_eq(tree_join(t, 2, TREE_NAT_OPEN), 0);
	ck_assert_int_eq(tree_join(t, 3, TREE_NAT_OPEN), 0);
	ck_assert_uint_eq(tree_parent(t, 1), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 2), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_NONE);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.unplaced, 1);
	ck_assert_uint_eq(c.free_slots, 0);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 3);
	event_of(ev, n, 3, TREE_EV_ORPHANED);
	/* Verification opens two slots: the waiting node is placed. */
	ck_assert_int_eq(tree_verify(t, 2, 1, NULL), 0);
	ck_assert_uint_eq(tree_parent(t, 3), 2);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].kind, TREE_EV_PLACED);
	ck_assert_uint_eq(ev[0].node, 3);
	ck_assert_uint_eq(ev[0].new_parent, 2);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_place_nat_compatible)
{
	struct tree *t = tree_create(16, 1);
	struct tree_counts c;

	join_rep(t, 1, TREE_NAT_PREDICTABLE);		/* origin's only slot */
	ck_assert_int_eq(tree_join(t, 2, TREE_NAT_RANDOM), 0);
	/* Free slots under 1, but 1 is predictable: no place for 2. */
	ck_assert_uint_eq(tree_parent(t, 2), TREE_NONE);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.unplaced_random, 1);
	ck_assert_uint_eq(c.free_slots, 2);
	join_rep(t, 3, TREE_NAT_OPEN);
	ck_assert_uint_eq(tree_parent(t, 3), 1);
	ck_assert_uint_eq(tree_parent(t, 2), 3);
	/* A non-random node may sit under a predictable parent. */
	join_leaf(t, 4, TREE_NAT_OPEN);
	ck_assert_uint_eq(tree_parent(t, 4), 1);
	tree_done(t);
}
END_TEST

START_TEST(test_place_prefers_predictable_parent)
{
	struct tree *t = tree_create(16, 2);

	join_rep(t, 1, TREE_NAT_OPEN);
	join_rep(t, 2, TREE_NAT_PREDICTABLE);
	/* Equal depth: the predictable parent's slots go first, the open
	 * parent's are kept for random nodes. */
	join_leaf(t, 3, TREE_NAT_PREDICTABLE);
	join_leaf(t, 4, TREE_NAT_OPEN);
	ck_assert_uint_eq(tree_parent(t, 3), 2);
	ck_assert_uint_eq(tree_parent(t, 4), 2);
	join_leaf(t, 5, TREE_NAT_RANDOM);
	join_leaf(t, 6, TREE_NAT_RANDOM);
	ck_assert_uint_eq(tree_parent(t, 5), 1);
	ck_assert_uint_eq(tree_parent(t, 6), 1);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_place_random_displaces)
{
	struct tree *t = tree_create(16, 1);
	struct tree_event ev[EVMAX];
	size_t n;

	join_rep(t, 1, TREE_NAT_OPEN);			/* depth 1 */
	join_rep(t, 2, TREE_NAT_PREDICTABLE);		/* under 1 */
	join_leaf(t, 3, TREE_NAT_PREDICTABLE);		/* under 1 */
	ck_assert_uint_eq(tree_parent(t, 3), 1);
	drain_all(t);
	/* 4 needs an open parent and 1 is full: 3, which needs none, gives
	 * up its slot and moves to the predictable repeater. */
	ck_assert_int_eq(tree_join(t, 4, TREE_NAT_RANDOM), 0);
	ck_assert_uint_eq(tree_parent(t, 4), 1);
	ck_assert_uint_eq(tree_parent(t, 3), 2);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 2);
	event_of(ev, n, 4, TREE_EV_PLACED);
	moved(ev, n, 3, 1, 2);
	/* No such leaf left: the next random node waits. */
	ck_assert_int_eq(tree_join(t, 5, TREE_NAT_RANDOM), 0);
	ck_assert_uint_eq(tree_parent(t, 5), TREE_NONE);
	/* An open repeater, verified under 2, takes the random leaf's
	 * shallower slot, the leaf goes under it, and 5 gets its other. */
	ck_assert_int_eq(tree_join(t, 6, TREE_NAT_OPEN), 0);
	ck_assert_uint_eq(tree_parent(t, 6), 2);
	ck_assert_int_eq(tree_verify(t, 6, 1, NULL), 0);
	ck_assert_uint_eq(tree_parent(t, 6), 1);
	ck_assert_uint_eq(tree_parent(t, 4), 6);
	ck_assert_uint_eq(tree_parent(t, 5), 6);
	tree_done(t);
}
END_TEST

/* Depths of handles 1..n, -1 where unplaced. */
static void
save_depths(const struct tree *t, uint32_t n, int *depth)
{
	uint32_t x;

	for (x = 1; x <= n; x++)
		depth[x] = tree_depth(t, x);
}

START_TEST(test_place_random_trade)
{
	struct tree *t = tree_create(16, 2);
	struct tree_event ev[EVMAX];
	int depth[8];
	uint32_t x;
	size_t n;

	join_rep(t, 1, TREE_NAT_OPEN);
	join_rep(t, 2, TREE_NAT_PREDICTABLE);
	for (x = 3; x <= 6; x++)
		ck_assert_int_eq(tree_join(t, x, TREE_NAT_PREDICTABLE), 0);
	for (x = 3; x <= 6; x++)
		ck_assert_int_eq(tree_verify(t, x, 1, NULL), 0);
	/* The open repeater lent both its slots to repeaters that need no
	 * open parent. */
	ck_assert_uint_eq(tree_parent(t, 3), 2);
	ck_assert_uint_eq(tree_parent(t, 5), 1);
	ck_assert_uint_eq(tree_parent(t, 6), 1);
	save_depths(t, 6, depth);
	drain_all(t);
	/* 1 trades places with 3, a predictable repeater with free slots:
	 * 3 adopts 5 and 6, 1 sits under 2 and takes 7. */
	ck_assert_int_eq(tree_join(t, 7, TREE_NAT_RANDOM), 0);
	ck_assert_uint_eq(tree_parent(t, 7), 1);
	ck_assert_uint_eq(tree_parent(t, 1), 2);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 5), 3);
	ck_assert_uint_eq(tree_parent(t, 6), 3);
	ck_assert_int_eq(tree_depth(t, 1), depth[3]);
	ck_assert_int_eq(tree_depth(t, 3), depth[1]);
	for (x = 4; x <= 6; x++)
		ck_assert_int_eq(tree_depth(t, x), depth[x]);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 5);
	event_of(ev, n, 7, TREE_EV_PLACED);
	moved(ev, n, 1, TREE_ORIGIN, 2);
	moved(ev, n, 5, 1, 3);
	tree_done(t);
}
END_TEST

START_TEST(test_place_random_trade_with_child)
{
	struct tree *t = tree_create(16, 1);
	struct tree_event ev[EVMAX];
	uint32_t kids[2], p, other;
	size_t n;

	join_rep(t, 1, TREE_NAT_OPEN);
	join_rep(t, 2, TREE_NAT_PREDICTABLE);
	join_rep(t, 3, TREE_NAT_PREDICTABLE);
	drain_all(t);
	/* The predictable repeater with a free slot is 1's own child: it
	 * moves up into 1's place and 1 goes under it. */
	ck_assert_int_eq(tree_join(t, 4, TREE_NAT_RANDOM), 0);
	ck_assert_int_eq(tree_children(t, TREE_ORIGIN, kids, 2), 1);
	p = kids[0];
	ck_assert(p == 2 || p == 3);
	other = p == 2 ? 3 : 2;
	ck_assert_uint_eq(tree_parent(t, 1), p);
	ck_assert_uint_eq(tree_parent(t, other), p);
	ck_assert_uint_eq(tree_parent(t, 4), 1);
	ck_assert_int_eq(tree_depth(t, other), 2);
	ck_assert_int_eq(tree_depth(t, 4), 3);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 4);
	moved(ev, n, p, 1, TREE_ORIGIN);
	moved(ev, n, 1, TREE_ORIGIN, p);
	tree_done(t);
}
END_TEST

START_TEST(test_place_random_follows_parent)
{
	struct tree *t = tree_create(16, 1);
	struct tree_event ev[EVMAX];
	const struct tree_event *e;
	size_t n;

	join_rep(t, 1, TREE_NAT_OPEN);
	join_leaf(t, 2, TREE_NAT_RANDOM);
	join_rep(t, 3, TREE_NAT_PREDICTABLE);
	ck_assert_uint_eq(tree_parent(t, 2), 1);
	ck_assert_uint_eq(tree_parent(t, 3), 1);
	drain_all(t);
	/* 1 lent one slot, to 3: it trades places with 3, a childless
	 * repeater, and its random child 2 comes along. */
	ck_assert_int_eq(tree_join(t, 4, TREE_NAT_RANDOM), 0);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 1), 3);
	ck_assert_uint_eq(tree_parent(t, 2), 1);
	ck_assert_uint_eq(tree_parent(t, 4), 1);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 3);	/* 2 kept its parent: not reported */
	ck_assert_ptr_null(find_event(ev, n, 2));
	e = event_of(ev, n, 4, TREE_EV_PLACED);
	e = find_event(ev, n, 3);
	ck_assert_uint_eq(e->new_parent, TREE_ORIGIN);
	tree_done(t);
}
END_TEST

/*
 * A flash crowd, as `bench/tree-sim --open 17 --predictable 66 --random 17
 * --fail 0 --lag 60 -c 0`: every node joins, each open or predictable one
 * is verified 60 joins later, none leaves. Every node is placed (the open
 * repeaters have slots enough for the random ones), within the depth
 * bound.
 */
START_TEST(test_crowd_every_node_placed)
{
	/* Crowds the tree before it took back lent slots left 3, 3, 3, 21,
	 * 63 and 107 random nodes unplaced. */
	static const struct {
		uint32_t	nodes;
		uint64_t	seed;
	} runs[] = {
		{ 60, 1704 }, { 60, 1714 }, { 120, 1705 }, { 1000, 1720 },
		{ 10000, 1721 }, { 30000, 1722 }
	};
	uint32_t max = runs[_i].nodes, lag = 60, *vq, vh = 0, vn = 0, id, r;
	struct tree *t = tree_create(max, 2);
	uint64_t seed = runs[_i].seed;
	struct tree_counts c;
	enum tree_nat nat;

	vq = malloc(max * sizeof *vq);
	ck_assert_ptr_nonnull(vq);
	for (id = 1; id <= max + lag; id++) {
		if (id <= max) {
			r = rng_below(&seed, 100);
			nat = r < 17 ? TREE_NAT_OPEN : r < 83 ?
			    TREE_NAT_PREDICTABLE : TREE_NAT_RANDOM;
			ck_assert_int_eq(tree_join(t, id, nat), 0);
			if (nat != TREE_NAT_RANDOM)
				vq[vn++] = id;
		}
		while (vh < vn && vq[vh] + lag <= id)
			ck_assert_int_eq(tree_verify(t, vq[vh++], 1, NULL), 0);
		drain_all(t);
		if (id % 1000 == 0)
			check_tree(t);
	}
	tree_counts(t, &c);
	ck_assert_uint_eq(c.candidates, 0);
	ck_assert_msg(c.unplaced == 0, "%u nodes: %u unplaced, %u of them "
	    "random", max, c.unplaced, c.unplaced_random);
	check_bound(t);
	check_tree(t);
	check_public(t);
	free(vq);
	tree_free(t);
}
END_TEST

/* --- leaves at the edge ------------------------------------------------- */

START_TEST(test_leaf_moves_down)
{
	struct tree *t = tree_create(16, 2);
	struct tree_event ev[EVMAX];
	size_t n;

	join_rep(t, 1, TREE_NAT_OPEN);			/* depth 1 */
	join_leaf(t, 2, TREE_NAT_PREDICTABLE);		/* depth 1, a leaf */
	ck_assert_int_eq(tree_join(t, 3, TREE_NAT_OPEN), 0);
	ck_assert_uint_eq(tree_parent(t, 3), 1);	/* depth 2 */
	drain_all(t);
	/* 3 becomes a repeater: it takes the leaf's slot, the leaf goes
	 * under it. */
	ck_assert_int_eq(tree_verify(t, 3, 1, NULL), 0);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 2), 3);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 2);
	moved(ev, n, 3, 1, TREE_ORIGIN);
	moved(ev, n, 2, TREE_ORIGIN, 3);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_leaf_gives_slot_to_unplaced_repeater)
{
	struct tree *t = tree_create(16, 2);

	join_leaf(t, 1, TREE_NAT_PREDICTABLE);
	join_leaf(t, 2, TREE_NAT_RANDOM);
	ck_assert_int_eq(tree_join(t, 3, TREE_NAT_PREDICTABLE), 0);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_NONE);
	/* As a repeater 3 takes the slot of a leaf it can parent (not the
	 * random one), and that leaf goes under it. */
	ck_assert_int_eq(tree_verify(t, 3, 1, NULL), 0);
	ck_assert_uint_eq(tree_parent(t, 3), TREE_ORIGIN);
	ck_assert_uint_eq(tree_parent(t, 1), 3);
	ck_assert_uint_eq(tree_parent(t, 2), TREE_ORIGIN);
	check_tree(t);
	tree_free(t);
}
END_TEST

/* Under joins with verification at once, no repeater sits below a leaf it
 * could have parented. */
START_TEST(test_leaves_below_repeaters)
{
	struct tree *t = tree_create(3000, 2);
	uint64_t seed = 7;
	uint32_t id, x, rmax, lmin;
	int d;

	for (id = 1; id <= 3000; id++) {
		enum tree_nat nat = rng_below(&seed, 2) ? TREE_NAT_OPEN :
		    TREE_NAT_PREDICTABLE;

		if (rng_below(&seed, 10) < 4)
			join_leaf(t, id, nat);
		else
			join_rep(t, id, nat);
		if (id % 100 != 0)
			continue;
		rmax = 0;
		lmin = UINT32_MAX;
		for (x = 1; x <= id; x++) {
			d = tree_depth(t, x);
			if (d < 0)
				continue;
			if (tree_role(t, x) == TREE_ROLE_REPEATER &&
			    (uint32_t)d > rmax)
				rmax = (uint32_t)d;
			if (tree_role(t, x) == TREE_ROLE_NONREPEATER &&
			    (uint32_t)d < lmin)
				lmin = (uint32_t)d;
		}
		ck_assert_msg(rmax <= lmin, "%u nodes: repeater at depth %u, "
		    "leaf at %u", id, rmax, lmin);
	}
	check_tree(t);
	tree_free(t);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "placement", .tests = { test_place_breadth_first,
		    test_place_candidates_offer_no_slot,
		    test_place_nat_compatible,
		    test_place_prefers_predictable_parent,
		    test_place_random_displaces, test_place_random_trade,
		    test_place_random_trade_with_child,
		    test_place_random_follows_parent, test_leaf_moves_down,
		    test_leaf_gives_slot_to_unplaced_repeater,
		    test_leaves_below_repeaters } },
		{ .name = "balance", .timeout = 60,
		    .loops = { { test_crowd_every_node_placed, 6 } } },
	};

	return check_run_cases("tree-place", cases,
	    sizeof cases / sizeof cases[0]);
}
