/* Unit tests for tree/'s API: arguments, errors, roles, queries, memory,
 * events, and tree_check catching a damaged tree. check-tree-place.c has
 * placement and leaves at the edge; check-tree-repair.c repair, balance
 * and churn. */
#include "config.h"

#include "tree/tree-private.h"	/* to damage a tree on purpose */
#include "tests/check-tree.h"
#include "tests/check-run.h"

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

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "api", .tests = { test_create_args, test_errors,
		    test_roles, test_queries, test_memory, test_drain,
		    test_check_detects } },
	};

	return check_run_cases("tree", cases, sizeof cases / sizeof cases[0]);
}
