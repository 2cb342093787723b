/* What the tree/ suites share: a repeatable random sequence, joins that
 * verify or fail, draining events, and the checks on a tree's shape (the
 * private invariants, the depth bound, the public API's view). */
#ifndef TREECAST_CHECK_TREE_H
#define TREECAST_CHECK_TREE_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree/tree.h"

#define EVMAX	64

static const char reason_fail[] = "punch test failed";
static const char reason_demote[] = "children lost the stream";

/* xorshift64: the same sequence on every run. */
static inline uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline uint32_t
rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)((rng_next(s) >> 11) % n);
}

static inline void
check_tree(const struct tree *t)
{
	char err[256];

	ck_assert_msg(tree_check(t, err, sizeof err) == 0, "tree_check: %s",
	    err);
}

/* Joins id and verifies it as a repeater. */
static inline void
join_rep(struct tree *t, uint32_t id, enum tree_nat nat)
{
	ck_assert_int_eq(tree_join(t, id, nat), 0);
	ck_assert_int_eq(tree_verify(t, id, 1, NULL), 0);
}

/* Joins id and fails its verification. */
static inline void
join_leaf(struct tree *t, uint32_t id, enum tree_nat nat)
{
	ck_assert_int_eq(tree_join(t, id, nat), 0);
	if (nat != TREE_NAT_RANDOM)
		ck_assert_int_eq(tree_verify(t, id, 0, reason_fail), 0);
}

static inline size_t
drain(struct tree *t, struct tree_event *ev)
{
	return tree_drain(t, ev, EVMAX);
}

static inline void
drain_all(struct tree *t)
{
	struct tree_event ev[EVMAX];

	while (drain(t, ev) > 0)
		;
}

/* The event about node id among n, or NULL. */
static inline const struct tree_event *
find_event(const struct tree_event *ev, size_t n, uint32_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ev[i].node == id)
			return &ev[i];
	return NULL;
}

static inline uint32_t
depth_bound(uint32_t n)
{
	return (uint32_t)ceil(log2((double)n + 1)) + 1;
}

static inline void
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
static inline void
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

/* The event about node id among n: there, and of kind. */
static inline const struct tree_event *
event_of(const struct tree_event *ev, size_t n, uint32_t id,
    enum tree_event_kind kind)
{
	const struct tree_event *e = find_event(ev, n, id);

	ck_assert_msg(e != NULL, "no event about %u", id);
	ck_assert_int_eq(e->kind, kind);
	return e;
}

/* Among the n events, id moved from parent from to parent to. */
static inline void
moved(const struct tree_event *ev, size_t n, uint32_t id, uint32_t from,
    uint32_t to)
{
	const struct tree_event *e = event_of(ev, n, id, TREE_EV_MOVED);

	ck_assert_uint_eq(e->old_parent, from);
	ck_assert_uint_eq(e->new_parent, to);
}

/* How a test leaves its tree: every invariant checked, then freed. */
static inline void
tree_done(struct tree *t)
{
	check_tree(t);
	check_public(t);
	tree_free(t);
}

/* A full tree of repeaters 1..n, levels filled in order. */
static inline struct tree *
full_tree(uint32_t n, uint32_t max)
{
	struct tree *t = tree_create(max, 2);
	uint32_t i;

	for (i = 1; i <= n; i++)
		join_rep(t, i, TREE_NAT_OPEN);
	drain_all(t);
	return t;
}

#endif
