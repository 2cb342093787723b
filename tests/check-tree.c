/* Unit tests for tree/: placement, NAT compatibility, leaves kept at the
 * edge, repair, balance, and the invariants under random churn. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree/tree-private.h"	/* to damage a tree on purpose */
#include "tree/tree.h"
#include "tests/check-run.h"

#define EVMAX	64

static const char reason_fail[] = "punch test failed";
static const char reason_demote[] = "children lost the stream";

/* xorshift64: the same sequence on every run. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t
rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)((rng_next(s) >> 11) % n);
}

static void
check_tree(const struct tree *t)
{
	char err[256];

	ck_assert_msg(tree_check(t, err, sizeof err) == 0, "tree_check: %s",
	    err);
}

/* Joins id and verifies it as a repeater. */
static void
join_rep(struct tree *t, uint32_t id, enum tree_nat nat)
{
	ck_assert_int_eq(tree_join(t, id, nat), 0);
	ck_assert_int_eq(tree_verify(t, id, 1, NULL), 0);
}

/* Joins id and fails its verification. */
static void
join_leaf(struct tree *t, uint32_t id, enum tree_nat nat)
{
	ck_assert_int_eq(tree_join(t, id, nat), 0);
	if (nat != TREE_NAT_RANDOM)
		ck_assert_int_eq(tree_verify(t, id, 0, reason_fail), 0);
}

static size_t
drain(struct tree *t, struct tree_event *ev)
{
	return tree_drain(t, ev, EVMAX);
}

static void
drain_all(struct tree *t)
{
	struct tree_event ev[EVMAX];

	while (drain(t, ev) > 0)
		;
}

/* The event about node id among n, or NULL. */
static const struct tree_event *
find_event(const struct tree_event *ev, size_t n, uint32_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ev[i].node == id)
			return &ev[i];
	return NULL;
}

static uint32_t
depth_bound(uint32_t n)
{
	return (uint32_t)ceil(log2((double)n + 1)) + 1;
}

static void
check_bound(const struct tree *t)
{
	struct tree_counts c;

	tree_counts(t, &c);
	ck_assert_uint_eq(c.unplaced, 0);
	if (c.nodes > 0)
		ck_assert_msg(c.max_depth <= depth_bound(c.nodes),
		    "depth %u with %u nodes, bound %u", c.max_depth, c.nodes,
		    depth_bound(c.nodes));
}

/*
 * The churn properties, through the public API only: every placed node is
 * reached from the origin by tree_children, no node has more than two
 * children (the origin: its fanout), no candidate or non-repeater has a
 * child, a random node's parent is open, paths agree with parents and
 * depths, and the counts add up.
 */
static void
check_public(const struct tree *t)
{
	uint32_t max = tree_max_nodes(t), fan = tree_fanout(t);
	uint32_t *stack, *kids, *path, x, i, sp = 0, reached = 0, placed = 0;
	struct tree_counts c;
	int n, k, d;

	stack = malloc(((size_t)max + 1) * sizeof *stack);
	kids = malloc(((size_t)fan + 2) * sizeof *kids);
	path = malloc(((size_t)max + 1) * sizeof *path);
	ck_assert(stack != NULL && kids != NULL && path != NULL);
	stack[sp++] = TREE_ORIGIN;
	while (sp > 0) {
		x = stack[--sp];
		k = tree_children(t, x, kids, fan + 2);
		ck_assert_int_ge(k, 0);
		if (x == TREE_ORIGIN)
			ck_assert_uint_le((uint32_t)k, fan);
		else {
			reached++;
			ck_assert_int_le(k, 2);
			if (tree_role(t, x) != TREE_ROLE_REPEATER)
				ck_assert_int_eq(k, 0);
		}
		for (i = 0; i < (uint32_t)k; i++) {
			ck_assert_uint_eq(tree_parent(t, kids[i]), x);
			ck_assert_int_eq(tree_depth(t, kids[i]),
			    tree_depth(t, x) + 1);
			if (tree_nat(t, kids[i]) == TREE_NAT_RANDOM)
				ck_assert(x == TREE_ORIGIN ||
				    tree_nat(t, x) == TREE_NAT_OPEN);
			ck_assert_uint_le(sp, max);
			stack[sp++] = kids[i];
		}
	}
	for (x = 1; x <= max; x++) {
		if (tree_role(t, x) == TREE_ROLE_NONE ||
		    tree_parent(t, x) == TREE_NONE)
			continue;
		placed++;
		d = tree_depth(t, x);
		n = tree_path(t, x, path, max + 1);
		ck_assert_int_eq(n, d + 1);
		ck_assert_uint_eq(path[0], TREE_ORIGIN);
		ck_assert_uint_eq(path[n - 1], x);
		ck_assert_uint_eq(path[n - 2], tree_parent(t, x));
	}
	ck_assert_uint_eq(reached, placed);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.placed, placed);
	ck_assert_uint_eq(c.placed + c.unplaced, c.nodes);
	ck_assert_uint_eq(c.candidates + c.repeaters + c.nonrepeaters,
	    c.nodes);
	ck_assert_uint_eq(c.nat[0] + c.nat[1] + c.nat[2], c.nodes);
	free(stack);
	free(kids);
	free(path);
}

/* A full tree of repeaters 1..n, levels filled in order. */
static struct tree *
full_tree(uint32_t n, uint32_t max)
{
	struct tree *t = tree_create(max, 2);
	uint32_t i;

	for (i = 1; i <= n; i++)
		join_rep(t, i, TREE_NAT_OPEN);
	drain_all(t);
	return t;
}

/* --- API ---------------------------------------------------------------- */

START_TEST(test_create_args)
{
	struct tree *t;

	ck_assert_ptr_null(tree_create(0, 2));
	ck_assert_ptr_null(tree_create(10, TREE_FANOUT_MAX + 1));
	ck_assert_ptr_null(tree_create(TREE_NODES_MAX + 1, 2));
	t = tree_create(10, 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(tree_fanout(t), TREE_FANOUT_DEFAULT);
	ck_assert_uint_eq(tree_max_nodes(t), 10);
	ck_assert_int_eq(tree_role(t, TREE_ORIGIN), TREE_ROLE_ORIGIN);
	ck_assert_int_eq(tree_depth(t, TREE_ORIGIN), 0);
	ck_assert_uint_eq(tree_parent(t, TREE_ORIGIN), TREE_NONE);
	check_tree(t);
	tree_free(t);
	tree_free(NULL);
}
END_TEST

START_TEST(test_errors)
{
	struct tree *t = tree_create(4, 2);
	uint32_t out[4];

	ck_assert_int_eq(tree_join(t, TREE_ORIGIN, TREE_NAT_OPEN), -1);
	ck_assert_int_eq(tree_join(t, 5, TREE_NAT_OPEN), -1);
	ck_assert_int_eq(tree_join(t, 1, (enum tree_nat)7), -1);
	ck_assert_int_eq(tree_join(t, 1, TREE_NAT_OPEN), 0);
	ck_assert_int_eq(tree_join(t, 1, TREE_NAT_OPEN), -1);
	ck_assert_int_eq(tree_leave(t, 2), -1);
	ck_assert_int_eq(tree_leave(t, TREE_ORIGIN), -1);
	ck_assert_int_eq(tree_leave(t, 99), -1);
	ck_assert_int_eq(tree_verify(t, 2, 1, NULL), -1);
	ck_assert_int_eq(tree_verify(t, TREE_ORIGIN, 1, NULL), -1);
	ck_assert_int_eq(tree_demote(t, 1, reason_demote), -1);
	ck_assert_int_eq(tree_verify(t, 1, 1, NULL), 0);
	ck_assert_int_eq(tree_verify(t, 1, 1, NULL), -1);
	ck_assert_int_eq(tree_demote(t, TREE_ORIGIN, reason_demote), -1);
	ck_assert_int_eq(tree_demote(t, 1, reason_demote), 0);
	ck_assert_int_eq(tree_demote(t, 1, reason_demote), -1);
	ck_assert_int_eq(tree_verify(t, 1, 1, NULL), -1);
	ck_assert_int_eq(tree_role(t, 99), TREE_ROLE_NONE);
	ck_assert_int_eq(tree_depth(t, 99), -1);
	ck_assert_int_eq(tree_depth(t, 2), -1);
	ck_assert_int_eq(tree_children(t, 2, out, 4), -1);
	ck_assert_int_eq(tree_path(t, 2, out, 4), -1);
	ck_assert_int_eq(tree_path(t, 1, out, 1), -1);	/* too short */
	ck_assert_int_eq(tree_nat(t, 2), -1);
	ck_assert_int_eq(tree_nat(t, TREE_ORIGIN), -1);
	ck_assert_uint_eq(tree_parent(t, 99), TREE_NONE);
	ck_assert_ptr_null(tree_reason(t, 99));
	ck_assert_int_eq(tree_leave(t, 1), 0);
	ck_assert_int_eq(tree_leave(t, 1), -1);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_roles)
{
	struct tree *t = tree_create(8, 2);
	struct tree_counts c;

	ck_assert_int_eq(tree_join(t, 1, TREE_NAT_RANDOM), 0);
	ck_assert_int_eq(tree_role(t, 1), TREE_ROLE_NONREPEATER);
	ck_assert_str_eq(tree_reason(t, 1), "random port allocation");
	ck_assert_int_eq(tree_verify(t, 1, 1, NULL), -1);  /* not a candidate */
	ck_assert_int_eq(tree_join(t, 2, TREE_NAT_PREDICTABLE), 0);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_CANDIDATE);
	ck_assert_ptr_null(tree_reason(t, 2));
	ck_assert_int_eq(tree_verify(t, 2, 0, reason_fail), 0);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_NONREPEATER);
	ck_assert_ptr_eq(tree_reason(t, 2), reason_fail);	/* not copied */
	ck_assert_int_eq(tree_nat(t, 2), TREE_NAT_PREDICTABLE);
	ck_assert_int_eq(tree_join(t, 3, TREE_NAT_OPEN), 0);
	ck_assert_int_eq(tree_verify(t, 3, 1, NULL), 0);
	ck_assert_int_eq(tree_role(t, 3), TREE_ROLE_REPEATER);
	ck_assert_str_eq(tree_role_name(TREE_ROLE_NONREPEATER), "non-repeater");
	ck_assert_str_eq(tree_nat_name(TREE_NAT_PREDICTABLE), "predictable");
	tree_counts(t, &c);
	ck_assert_uint_eq(c.nodes, 3);
	ck_assert_uint_eq(c.repeaters, 1);
	ck_assert_uint_eq(c.nonrepeaters, 2);
	ck_assert_uint_eq(c.candidates, 0);
	ck_assert_uint_eq(c.nat[TREE_NAT_RANDOM], 1);
	check_tree(t);
	tree_free(t);
}
END_TEST

START_TEST(test_queries)
{
	struct tree *t = tree_create(20, 2);
	struct tree_counts c;
	uint32_t out[8], i;

	for (i = 1; i <= 6; i++)
		join_rep(t, i, TREE_NAT_OPEN);
	ck_assert_int_eq(tree_children(t, TREE_ORIGIN, out, 8), 2);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(out[1], 2);
	ck_assert_int_eq(tree_path(t, 5, out, 8), 3);
	ck_assert_uint_eq(out[0], TREE_ORIGIN);
	ck_assert_uint_eq(out[2], 5);
	ck_assert_uint_eq(out[1], tree_parent(t, 5));
	ck_assert_int_eq(tree_path(t, TREE_ORIGIN, out, 8), 1);
	ck_assert_int_eq(tree_children(t, 5, out, 8), 0);
	/* Only as many as asked are written, the total is returned. */
	out[1] = 77;
	ck_assert_int_eq(tree_children(t, 1, out, 1), 2);
	ck_assert_uint_eq(out[1], 77);
	tree_counts(t, &c);
	ck_assert_uint_eq(c.max_depth, 2);
	ck_assert_uint_eq(c.placed, 6);
	ck_assert_uint_eq(c.free_slots, 2 + 12 - 6);
	ck_assert_uint_eq(c.origin_children, 2);
	tree_free(t);
}
END_TEST

START_TEST(test_memory)
{
	struct tree *t = tree_create(1000000, 2);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_le(tree_memory(t), (size_t)64 * 1000000);
	tree_free(t);
}
END_TEST

START_TEST(test_drain)
{
	struct tree *t = tree_create(8, 1);
	struct tree_event ev[EVMAX];
	size_t n;

	/* A node that joins and is placed: one PLACED from NONE. */
	ck_assert_int_eq(tree_join(t, 1, TREE_NAT_OPEN), 0);
	ck_assert_uint_eq(tree_pending(t), 1);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].kind, TREE_EV_PLACED);
	ck_assert_uint_eq(ev[0].old_parent, TREE_NONE);
	ck_assert_uint_eq(ev[0].new_parent, TREE_ORIGIN);
	ck_assert_uint_eq(tree_pending(t), 0);
	/* No slot: ORPHANED. */
	ck_assert_int_eq(tree_join(t, 2, TREE_NAT_OPEN), 0);
	n = drain(t, ev);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].kind, TREE_EV_ORPHANED);
	ck_assert_uint_eq(ev[0].new_parent, TREE_NONE);
	/* Still unplaced after another change: nothing new to say. */
	ck_assert_int_eq(tree_join(t, 3, TREE_NAT_OPEN), 0);
	ck_assert_int_eq(tree_leave(t, 3), 0);
	ck_assert_uint_eq(drain(t, ev), 0);
	/* Partial drains hand events out oldest first. */
	ck_assert_int_eq(tree_verify(t, 1, 1, NULL), 0);   /* 2 goes under 1 */
	ck_assert_int_eq(tree_join(t, 4, TREE_NAT_OPEN), 0);
	ck_assert_uint_eq(tree_pending(t), 2);
	ck_assert_uint_eq(tree_drain(t, ev, 1), 1);
	ck_assert_uint_eq(ev[0].node, 2);
	ck_assert_int_eq(ev[0].kind, TREE_EV_PLACED);
	ck_assert_uint_eq(ev[0].new_parent, 1);
	ck_assert_uint_eq(tree_drain(t, ev, 1), 1);
	ck_assert_uint_eq(ev[0].node, 4);
	/* Leaving drops a pending event. */
	ck_assert_int_eq(tree_join(t, 5, TREE_NAT_OPEN), 0);
	ck_assert_int_eq(tree_leave(t, 5), 0);
	ck_assert_uint_eq(tree_pending(t), 0);
	check_tree(t);
	tree_free(t);
}
END_TEST

/* The checker notices damage: each field is broken, checked, mended. */
START_TEST(test_check_detects)
{
	struct tree *t = full_tree(14, 32);
	char err[256];
	uint32_t x, saved;

	join_leaf(t, 15, TREE_NAT_RANDOM);
	check_tree(t);
	ck_assert_int_eq(tree_children(t, TREE_ORIGIN, &x, 1), 2);

	t->nodes[5].depth++;
	ck_assert_int_eq(tree_check(t, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "depth"));
	t->nodes[5].depth--;

	/* A random child under a predictable parent. */
	saved = tree_parent(t, 15);
	t->nodes[saved].nat = TREE_NAT_PREDICTABLE;
	ck_assert_int_eq(tree_check(t, err, sizeof err), -1);
	t->nodes[saved].nat = TREE_NAT_OPEN;

	/* A non-repeater with children. */
	t->nodes[x].role = TREE_ROLE_NONREPEATER;
	ck_assert_int_eq(tree_check(t, err, sizeof err), -1);
	t->nodes[x].role = TREE_ROLE_REPEATER;

	/* A bucket's bit, a set's count. */
	t->bits[0] ^= 1ULL << 3;
	ck_assert_int_eq(tree_check(t, err, sizeof err), -1);
	t->bits[0] ^= 1ULL << 3;
	t->cnt[TREE_SET_CHILDLESS]++;
	ck_assert_int_eq(tree_check(t, err, sizeof err), -1);
	t->cnt[TREE_SET_CHILDLESS]--;

	/* A node cut off from the origin: its parent forgets it. */
	saved = t->nodes[x].u.child[1];
	t->nodes[x].u.child[1] = TREE_NONE;
	t->nodes[x].nkids--;
	ck_assert_int_eq(tree_check(t, err, sizeof err), -1);
	t->nodes[x].nkids++;
	t->nodes[x].u.child[1] = saved;
	check_tree(t);
	tree_free(t);
}
END_TEST

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
	check_tree(t);
	check_public(t);
	tree_free(t);
}
END_TEST

START_TEST(test_place_candidates_offer_no_slot)
{
	struct tree *t = tree_create(8, 2);
	struct tree_event ev[EVMAX];
	const struct tree_event *e;
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
	e = find_event(ev, n, 3);
	ck_assert_int_eq(e->kind, TREE_EV_ORPHANED);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	const struct tree_event *e;
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
	e = find_event(ev, n, 4);
	ck_assert_int_eq(e->kind, TREE_EV_PLACED);
	e = find_event(ev, n, 3);
	ck_assert_int_eq(e->kind, TREE_EV_MOVED);
	ck_assert_uint_eq(e->old_parent, 1);
	ck_assert_uint_eq(e->new_parent, 2);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	const struct tree_event *e;
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
	e = find_event(ev, n, 7);
	ck_assert_int_eq(e->kind, TREE_EV_PLACED);
	e = find_event(ev, n, 1);
	ck_assert_int_eq(e->kind, TREE_EV_MOVED);
	ck_assert_uint_eq(e->old_parent, TREE_ORIGIN);
	ck_assert_uint_eq(e->new_parent, 2);
	e = find_event(ev, n, 5);
	ck_assert_uint_eq(e->old_parent, 1);
	ck_assert_uint_eq(e->new_parent, 3);
	check_tree(t);
	check_public(t);
	tree_free(t);
}
END_TEST

START_TEST(test_place_random_trade_with_child)
{
	struct tree *t = tree_create(16, 1);
	struct tree_event ev[EVMAX];
	const struct tree_event *e;
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
	e = find_event(ev, n, p);
	ck_assert_uint_eq(e->old_parent, 1);
	ck_assert_uint_eq(e->new_parent, TREE_ORIGIN);
	e = find_event(ev, n, 1);
	ck_assert_uint_eq(e->old_parent, TREE_ORIGIN);
	ck_assert_uint_eq(e->new_parent, p);
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	e = find_event(ev, n, 4);
	ck_assert_int_eq(e->kind, TREE_EV_PLACED);
	e = find_event(ev, n, 3);
	ck_assert_uint_eq(e->new_parent, TREE_ORIGIN);
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	const struct tree_event *e;
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
	e = find_event(ev, n, 3);
	ck_assert_int_eq(e->kind, TREE_EV_MOVED);
	ck_assert_uint_eq(e->old_parent, 1);
	ck_assert_uint_eq(e->new_parent, TREE_ORIGIN);
	e = find_event(ev, n, 2);
	ck_assert_int_eq(e->kind, TREE_EV_MOVED);
	ck_assert_uint_eq(e->old_parent, TREE_ORIGIN);
	ck_assert_uint_eq(e->new_parent, 3);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	e = find_event(ev, n, 3);
	ck_assert_int_eq(e->kind, TREE_EV_MOVED);
	e = find_event(ev, n, 2);
	ck_assert_int_eq(e->kind, TREE_EV_ORPHANED);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
}
END_TEST

START_TEST(test_repair_demote)
{
	struct tree *t = full_tree(14, 32);
	struct tree_event ev[EVMAX];
	const struct tree_event *e;
	uint32_t kids[2], x;
	size_t n;
	int d;

	ck_assert_int_eq(tree_demote(t, 2, reason_demote), 0);
	ck_assert_int_eq(tree_role(t, 2), TREE_ROLE_NONREPEATER);
	ck_assert_ptr_eq(tree_reason(t, 2), reason_demote);
	ck_assert_int_eq(tree_children(t, 2, kids, 2), 0);
	ck_assert_int_ge(tree_depth(t, 2), 3);		/* now at the edge */
	n = drain(t, ev);
	e = find_event(ev, n, 2);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->kind, TREE_EV_MOVED);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
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
	check_tree(t);
	check_public(t);
	tree_free(t);
}
END_TEST

static Suite *
tree_suite(void)
{
	Suite *s = suite_create("tree");
	TCase *tc;

	tc = tcase_create("api");
	tcase_add_test(tc, test_create_args);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_roles);
	tcase_add_test(tc, test_queries);
	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_check_detects);
	suite_add_tcase(s, tc);

	tc = tcase_create("placement");
	tcase_add_test(tc, test_place_breadth_first);
	tcase_add_test(tc, test_place_candidates_offer_no_slot);
	tcase_add_test(tc, test_place_nat_compatible);
	tcase_add_test(tc, test_place_prefers_predictable_parent);
	tcase_add_test(tc, test_place_random_displaces);
	tcase_add_test(tc, test_place_random_trade);
	tcase_add_test(tc, test_place_random_trade_with_child);
	tcase_add_test(tc, test_place_random_follows_parent);
	tcase_add_test(tc, test_leaf_moves_down);
	tcase_add_test(tc, test_leaf_gives_slot_to_unplaced_repeater);
	tcase_add_test(tc, test_leaves_below_repeaters);
	suite_add_tcase(s, tc);

	tc = tcase_create("repair");
	tcase_add_test(tc, test_repair_subtree_adopted);
	tcase_add_test(tc, test_repair_leaf_children);
	tcase_add_test(tc, test_repair_filler_leaves);
	tcase_add_test(tc, test_repair_random_orphans);
	tcase_add_test(tc, test_repair_demote);
	tcase_add_test(tc, test_shortfall);
	tcase_add_test(tc, test_origin_fanout);
	suite_add_tcase(s, tc);

	tc = tcase_create("balance");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_balance_joins);
	tcase_add_loop_test(tc, test_balance_churn, 0, 4);
	tcase_add_test(tc, test_balance_lagging_verification);
	tcase_add_loop_test(tc, test_crowd_every_node_placed, 0, 6);
	suite_add_tcase(s, tc);

	tc = tcase_create("churn");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_churn_invariants, 0, 12);
	tcase_add_test(tc, test_churn_large);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(tree_suite());
}
