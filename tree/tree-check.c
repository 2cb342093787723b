/* Tree manager: the invariant checker the tests run after every step. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "tree/tree-private.h"

static int
tree_check_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
tree_check_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The lists node x belongs in, worked out afresh from its state. */
static void
tree_check_want(const struct tree *t, uint32_t x, int want[2])
{
	const struct tree_node *n = &t->nodes[x];
	uint32_t i;
	int deep = 0, rkid = 0;

	want[0] = want[1] = TREE_SET_NONE;
	if (x == TREE_ORIGIN) {
		if (t->onkids < t->fanout)
			want[0] = TREE_SET_FREE_OPEN;
		return;
	}
	if (n->role == TREE_ROLE_NONE)
		return;
	if (n->parent == TREE_NONE) {
		if (n->role == TREE_ROLE_REPEATER)
			want[0] = n->nat == TREE_NAT_OPEN ? TREE_UNPL_REP_OPEN :
			    TREE_UNPL_REP_PRED;
		else
			want[0] = n->nat == TREE_NAT_RANDOM ? TREE_UNPL_RANDOM :
			    TREE_UNPL_OTHER;
		return;
	}
	if (n->role != TREE_ROLE_REPEATER) {
		if (n->nat == TREE_NAT_RANDOM)
			want[0] = TREE_SET_LEAF_RANDOM;
		else if (tree_is_open_parent(t, n->parent))
			want[0] = TREE_SET_LEAF_OPEN;
		else
			want[0] = TREE_SET_LEAF_PRED;
		return;
	}
	if (n->nkids < 2)
		want[0] = n->nat == TREE_NAT_OPEN ? TREE_SET_FREE_OPEN :
		    TREE_SET_FREE_PRED;
	for (i = 0; i < n->nkids; i++) {
		if (t->nodes[n->u.child[i]].role == TREE_ROLE_REPEATER)
			deep = 1;
		if (t->nodes[n->u.child[i]].nat == TREE_NAT_RANDOM)
			rkid++;
	}
	if (n->nkids == 2 && n->nat == TREE_NAT_OPEN && rkid < 2)
		want[0] = rkid == 0 ? TREE_SET_LENT2 : TREE_SET_LENT1;
	if (n->nkids == 0)
		want[1] = TREE_SET_CHILDLESS;
	else if (!deep)
		want[1] = TREE_SET_BOTTOM;
}

/* One node's own fields, its links up and down, its lists and its event. */
static int
tree_check_node(const struct tree *t, uint32_t x, char *err, size_t errlen)
{
	const struct tree_node *n = &t->nodes[x], *pn;
	const uint32_t *kids;
	uint32_t i, k, p;
	int want[2];

	if (x != TREE_ORIGIN && n->role == TREE_ROLE_NONE) {
		if (n->parent != TREE_NONE || n->set[0] != TREE_SET_NONE ||
		    n->set[1] != TREE_SET_NONE || n->flags != 0)
			return tree_check_fail(err, errlen,
			    "node %u: not joined but linked", x);
		return 0;
	}
	if (x != TREE_ORIGIN && (n->role == TREE_ROLE_ORIGIN ||
	    n->role >= TREE_ROLE_COUNT || n->nat >= TREE_NAT_COUNT))
		return tree_check_fail(err, errlen, "node %u: role %u nat %u",
		    x, n->role, n->nat);
	if (n->nat == TREE_NAT_RANDOM && n->role != TREE_ROLE_NONREPEATER)
		return tree_check_fail(err, errlen,
		    "node %u: random but %s", x, tree_role_name(n->role));
	tree_check_want(t, x, want);
	for (i = 0; i < 2; i++)
		if (n->set[i] != want[i])
			return tree_check_fail(err, errlen, "node %u: in list "
			    "%d on link %u, should be in %d", x, n->set[i], i,
			    want[i]);
	if ((n->flags & TREE_F_PENDING) && (n->qidx >= t->max_nodes ||
	    t->queue[n->qidx] != x))
		return tree_check_fail(err, errlen,
		    "node %u: pending but not queued", x);

	/* Down: children packed, pointing back, within capacity. */
	k = tree_nkids(t, x);
	if (k > tree_cap(t, x))
		return tree_check_fail(err, errlen, "node %u (%s): %u "
		    "children, %u slots", x, tree_role_name(n->role), k,
		    tree_cap(t, x));
	if (k > 0 && n->parent == TREE_NONE && x != TREE_ORIGIN)
		return tree_check_fail(err, errlen,
		    "node %u: unplaced with children", x);
	kids = tree_ckids(t, x);
	for (i = 0; i < tree_cap(t, x); i++) {
		if (i >= k) {
			if (kids[i] != TREE_NONE)
				return tree_check_fail(err, errlen, "node %u: "
				    "stale child in slot %u", x, i);
			continue;
		}
		if (kids[i] == TREE_ORIGIN || kids[i] > t->max_nodes ||
		    t->nodes[kids[i]].parent != x ||
		    t->nodes[kids[i]].pslot != i)
			return tree_check_fail(err, errlen, "node %u: child %u "
			    "in slot %u does not point back", x, kids[i], i);
	}

	/* Up: the parent offers slots, holds x and can reach it. */
	p = n->parent;
	if (x == TREE_ORIGIN || p == TREE_NONE)
		return 0;
	if (p > t->max_nodes)
		return tree_check_fail(err, errlen, "node %u: parent %u out "
		    "of range", x, p);
	pn = &t->nodes[p];
	if (p != TREE_ORIGIN && (pn->role != TREE_ROLE_REPEATER ||
	    pn->parent == TREE_NONE))
		return tree_check_fail(err, errlen, "node %u: parent %u is a "
		    "placed %s", x, p, pn->parent == TREE_NONE ?
		    "nothing" : tree_role_name(pn->role));
	if (n->pslot >= tree_nkids(t, p) || tree_ckids(t, p)[n->pslot] != x)
		return tree_check_fail(err, errlen, "node %u: not in parent "
		    "%u's slot %u", x, p, n->pslot);
	if (n->depth != pn->depth + 1)
		return tree_check_fail(err, errlen, "node %u: depth %u under "
		    "%u at depth %u", x, n->depth, p, pn->depth);
	if (n->nat == TREE_NAT_RANDOM && !tree_is_open_parent(t, p))
		return tree_check_fail(err, errlen, "node %u: random under %s "
		    "parent %u", x, tree_nat_name(pn->nat), p);
	return 0;
}

/* Walks the tree from the origin without a stack, through parent links and
 * slot indexes, and counts what it reaches. */
static int
tree_check_reach(const struct tree *t, uint32_t placed, char *err,
    size_t errlen)
{
	uint32_t x = TREE_ORIGIN, seen = 0, next;
	uint64_t steps = 0, limit = 3 * ((uint64_t)placed + 1);

	for (;;) {
		if (++steps > limit)
			return tree_check_fail(err, errlen,
			    "walk from the origin does not end: a cycle");
		/* Arrived at x for the first time. */
		seen++;
		if (tree_nkids(t, x) > 0) {
			x = tree_ckids(t, x)[0];
			continue;
		}
		/* Climb until a next sibling exists. */
		for (;;) {
			if (x == TREE_ORIGIN)
				goto done;
			next = t->nodes[x].pslot + 1u;
			x = t->nodes[x].parent;
			if (next < tree_nkids(t, x)) {
				x = tree_ckids(t, x)[next];
				break;
			}
		}
	}
done:
	if (seen != placed + 1)
		return tree_check_fail(err, errlen, "%u nodes reachable from "
		    "the origin, %u placed", seen - 1, placed);
	return 0;
}

/* Each bucket's list, bit and members; each set's count and bounds. */
static int
tree_check_lists(const struct tree *t, char *err, size_t errlen)
{
	uint32_t d, h, x, cnt, lo, hi, steps;
	int s, l, bit;

	for (s = 0; s < TREE_NLISTS; s++) {
		l = s == TREE_SET_CHILDLESS || s == TREE_SET_BOTTOM;
		cnt = 0;
		lo = TREE_NONE;
		hi = 0;
		for (d = 0; d < (s < TREE_NSETS ? t->dcap : 1); d++) {
			h = tree_set_first(t, s, d);
			if (s < TREE_NSETS) {
				bit = (t->bits[(size_t)(d / 64) * TREE_NSETS +
				    s] >> (d % 64)) & 1;
				if (bit != (h != TREE_NONE))
					return tree_check_fail(err, errlen,
					    "set %d depth %u: bit %d", s, d,
					    bit);
			}
			if (h == TREE_NONE)
				continue;
			if (lo == TREE_NONE)
				lo = d;
			hi = d;
			x = h;
			steps = 0;
			do {
				if (x > t->max_nodes ||
				    ++steps > t->max_nodes + 1)
					return tree_check_fail(err, errlen,
					    "set %d depth %u: broken list", s,
					    d);
				if (t->nodes[x].set[l] != s ||
				    (s < TREE_NSETS && t->nodes[x].depth != d))
					return tree_check_fail(err, errlen,
					    "set %d depth %u: node %u does not "
					    "belong", s, d, x);
				if (t->nodes[t->nodes[x].link[l][TREE_NEXT]].
				    link[l][TREE_PREV] != x)
					return tree_check_fail(err, errlen,
					    "set %d: node %u: links disagree",
					    s, x);
				cnt++;
				x = t->nodes[x].link[l][TREE_NEXT];
			} while (x != h);
		}
		if (cnt != t->cnt[s])
			return tree_check_fail(err, errlen, "set %d: %u "
			    "members, count says %u", s, cnt, t->cnt[s]);
		if (s < TREE_NSETS && cnt > 0 &&
		    (t->lo[s] != lo || t->hi[s] != hi))
			return tree_check_fail(err, errlen, "set %d: bounds "
			    "%u..%u, should be %u..%u", s, t->lo[s], t->hi[s],
			    lo, hi);
	}
	return 0;
}

int
tree_check(const struct tree *t, char *err, size_t errlen)
{
	uint32_t x, i, nodes = 0, unplaced = 0, pending = 0;
	uint32_t role[TREE_ROLE_COUNT] = { 0 }, nat[TREE_NAT_COUNT] = { 0 };
	const struct tree_node *n;

	if (t->nodes[TREE_ORIGIN].role != TREE_ROLE_ORIGIN ||
	    t->nodes[TREE_ORIGIN].depth != 0 ||
	    t->nodes[TREE_ORIGIN].parent != TREE_NONE)
		return tree_check_fail(err, errlen, "origin record damaged");
	for (x = 0; x <= t->max_nodes; x++) {
		if (tree_check_node(t, x, err, errlen) != 0)
			return -1;
		n = &t->nodes[x];
		if (x == TREE_ORIGIN || n->role == TREE_ROLE_NONE)
			continue;
		nodes++;
		role[n->role]++;
		nat[n->nat]++;
		if (n->parent == TREE_NONE)
			unplaced++;
		if (n->flags & TREE_F_PENDING)
			pending++;
	}
	if (nodes != t->nnodes)
		return tree_check_fail(err, errlen, "%u nodes, count says %u",
		    nodes, t->nnodes);
	for (i = TREE_ROLE_CANDIDATE; i < TREE_ROLE_COUNT; i++)
		if (role[i] != t->nrole[i])
			return tree_check_fail(err, errlen, "%u %s, count says "
			    "%u", role[i], tree_role_name(i), t->nrole[i]);
	for (i = 0; i < TREE_NAT_COUNT; i++)
		if (nat[i] != t->nnat[i])
			return tree_check_fail(err, errlen, "%u %s, count says "
			    "%u", nat[i], tree_nat_name(i), t->nnat[i]);
	if (pending != t->qlen || t->qlen > t->max_nodes)
		return tree_check_fail(err, errlen, "%u pending, queue holds "
		    "%u", pending, t->qlen);
	for (i = 0; i < t->qlen; i++) {
		x = t->queue[(t->qhead + i) % t->max_nodes];
		if (x == TREE_ORIGIN || x > t->max_nodes ||
		    !(t->nodes[x].flags & TREE_F_PENDING))
			return tree_check_fail(err, errlen, "queue entry %u: "
			    "node %u not pending", i, x);
	}
	if (tree_check_reach(t, nodes - unplaced, err, errlen) != 0)
		return -1;
	return tree_check_lists(t, err, errlen);
}
