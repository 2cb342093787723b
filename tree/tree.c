/* Tree manager: joins, verification, departures, placement and repair. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tree/tree-private.h"

struct tree *
tree_create(uint32_t max_nodes, uint32_t origin_fanout)
{
	struct tree *t;
	uint32_t i;

	if (origin_fanout == 0)
		origin_fanout = TREE_FANOUT_DEFAULT;
	if (max_nodes == 0 || max_nodes > TREE_NODES_MAX ||
	    origin_fanout > TREE_FANOUT_MAX)
		return NULL;
#if SIZE_MAX <= UINT32_MAX
	if (max_nodes >= SIZE_MAX / sizeof *t->nodes)
		return NULL;
#endif
	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->max_nodes = max_nodes;
	t->fanout = origin_fanout;
	t->nodes = malloc(((size_t)max_nodes + 1) * sizeof *t->nodes);
	t->okids = malloc(origin_fanout * sizeof *t->okids);
	t->queue = malloc((size_t)max_nodes * sizeof *t->queue);
	if (t->nodes == NULL || t->okids == NULL || t->queue == NULL ||
	    tree_set_init(t) != 0)
		goto fail;
	for (i = 0; i <= max_nodes; i++) {
		memset(&t->nodes[i], 0, sizeof t->nodes[i]);
		t->nodes[i].parent = TREE_NONE;
		t->nodes[i].set[0] = t->nodes[i].set[1] = TREE_SET_NONE;
	}
	for (i = 0; i < origin_fanout; i++)
		t->okids[i] = TREE_NONE;
	t->nodes[TREE_ORIGIN].role = TREE_ROLE_ORIGIN;
	t->nodes[TREE_ORIGIN].nat = TREE_NAT_OPEN;
	tree_set_index(t, TREE_ORIGIN);
	return t;

fail:
	tree_free(t);
	return NULL;
}

void
tree_free(struct tree *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->okids);
	free(t->queue);
	free(t->heads);
	free(t->bits);
	free(t);
}

/* Records, before x's parent changes, what the caller has last been told. */
static void
tree_note(struct tree *t, uint32_t x)
{
	struct tree_node *n = &t->nodes[x];

	if (n->flags & TREE_F_PENDING)
		return;
	n->flags |= TREE_F_PENDING;
	n->old_parent = n->parent;
	n->qidx = (t->qhead + t->qlen) % t->max_nodes;
	t->queue[n->qidx] = x;
	t->qlen++;
}

/* Drops x's pending event (x is leaving). */
static void
tree_unnote(struct tree *t, uint32_t x)
{
	struct tree_node *n = &t->nodes[x];
	uint32_t lastpos, last;

	if (!(n->flags & TREE_F_PENDING))
		return;
	lastpos = (t->qhead + t->qlen - 1) % t->max_nodes;
	last = t->queue[lastpos];
	t->queue[n->qidx] = last;
	t->nodes[last].qidx = n->qidx;
	t->qlen--;
	n->flags &= ~TREE_F_PENDING;
}

/* Attaches x, out of the tree, under p, which has a free slot. x has no
 * child, or keeps its depth (its subtree comes along unchanged); the
 * caller made room for the new depth. */
static void
tree_link(struct tree *t, uint32_t x, uint32_t p)
{
	struct tree_node *n = &t->nodes[x];
	uint32_t *kids = tree_kids(t, p);
	uint32_t k = tree_nkids(t, p);

	tree_note(t, x);
	tree_set_unindex(t, p);
	tree_set_unindex(t, x);
	kids[k] = x;
	if (p == TREE_ORIGIN)
		t->onkids++;
	else
		t->nodes[p].nkids++;
	n->pslot = (uint16_t)k;
	n->parent = p;
	n->depth = t->nodes[p].depth + 1;
	if (n->depth >= t->dcap)
		abort();	/* a placement skipped tree_set_reserve() */
	tree_set_index(t, p);
	tree_set_index(t, x);
}

/* Detaches x, with its subtree, from its parent, keeping the parent's
 * children packed at the front of its array. */
static void
tree_cut(struct tree *t, uint32_t x)
{
	struct tree_node *n = &t->nodes[x];
	uint32_t p = n->parent, *kids = tree_kids(t, p), k, last;

	tree_note(t, x);
	tree_set_unindex(t, p);
	tree_set_unindex(t, x);
	k = tree_nkids(t, p) - 1;
	last = kids[k];
	kids[n->pslot] = last;
	t->nodes[last].pslot = n->pslot;
	kids[k] = TREE_NONE;
	if (p == TREE_ORIGIN)
		t->onkids--;
	else
		t->nodes[p].nkids--;
	n->parent = TREE_NONE;
	if (tree_is_placed(t, p))	/* not a departed node's child */
		tree_set_index(t, p);
}

/* Puts y, out of the tree and with no child, in x's slot; x leaves the tree
 * with its subtree. */
static void
tree_take_slot(struct tree *t, uint32_t x, uint32_t y)
{
	struct tree_node *nx = &t->nodes[x], *ny = &t->nodes[y];
	uint32_t p = nx->parent;

	tree_note(t, x);
	tree_note(t, y);
	tree_set_unindex(t, p);
	tree_set_unindex(t, x);
	tree_set_unindex(t, y);
	tree_kids(t, p)[nx->pslot] = y;
	ny->pslot = nx->pslot;
	ny->parent = p;
	ny->depth = nx->depth;
	nx->parent = TREE_NONE;
	tree_set_index(t, p);
	tree_set_index(t, y);
}

/* Appends x to the n handles in v unless it is there; the new count. */
static uint32_t
tree_add_once(uint32_t *v, uint32_t n, uint32_t x)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (v[i] == x)
			return n;
	v[n] = x;
	return n + 1;
}

/*
 * Trades the places of repeaters a and b, either of which may be the
 * other's child: each takes the other's parent, slot, depth and children,
 * so no other node changes depth. The caller sees to it that each can
 * parent the children it gets.
 */
static void
tree_trade(struct tree *t, uint32_t a, uint32_t b)
{
	struct tree_node *na = &t->nodes[a], *nb = &t->nodes[b];
	uint32_t ka[2], kb[2], pa = na->parent, pb = nb->parent;
	uint32_t sa = na->pslot, sb = nb->pslot, da = na->depth;
	uint32_t db = nb->depth, nka = na->nkids, nkb = nb->nkids;
	uint32_t touched[8], nt = 0, i;

	memcpy(ka, na->u.child, sizeof ka);
	memcpy(kb, nb->u.child, sizeof kb);
	/* Those whose parent changes, then those whose lists may. */
	touched[nt++] = a;
	touched[nt++] = b;
	for (i = 0; i < nka; i++)
		nt = tree_add_once(touched, nt, ka[i]);
	for (i = 0; i < nkb; i++)
		nt = tree_add_once(touched, nt, kb[i]);
	for (i = 0; i < nt; i++)
		tree_note(t, touched[i]);
	nt = tree_add_once(touched, nt, pa);
	nt = tree_add_once(touched, nt, pb);
	for (i = 0; i < nt; i++)
		tree_set_unindex(t, touched[i]);
	if (pb == a) {		/* b moves up into a's place, a under it */
		tree_kids(t, pa)[sa] = b;
		ka[sb] = a;
		pb = b;
	} else if (pa == b) {	/* a moves up into b's place, b under it */
		tree_kids(t, pb)[sb] = a;
		kb[sa] = b;
		pa = a;
	} else {
		tree_kids(t, pa)[sa] = b;
		tree_kids(t, pb)[sb] = a;
	}
	na->parent = pb;
	na->pslot = (uint16_t)sb;
	na->depth = db;
	memcpy(na->u.child, kb, sizeof kb);
	na->nkids = (uint8_t)nkb;
	nb->parent = pa;
	nb->pslot = (uint16_t)sa;
	nb->depth = da;
	memcpy(nb->u.child, ka, sizeof ka);
	nb->nkids = (uint8_t)nka;
	for (i = 0; i < nkb; i++)
		t->nodes[kb[i]].parent = a;
	for (i = 0; i < nka; i++)
		t->nodes[ka[i]].parent = b;
	for (i = 0; i < nt; i++)
		tree_set_index(t, touched[i]);
}

/* Takes an unplaced node out of its list. */
static void
tree_unlist(struct tree *t, uint32_t x)
{
	tree_set_unindex(t, x);
}

/* Marks x, out of the tree and with no child, unplaced. */
static void
tree_orphan(struct tree *t, uint32_t x, int front)
{
	tree_note(t, x);
	tree_set_unindex(t, x);
	tree_set_unplace(t, x, front);
}

/*
 * The parent of the best free slot for a node of class nat: the shallowest
 * slot, under the origin or an open repeater for a random node, preferring
 * a predictable parent at equal depth. TREE_NONE if none.
 */
static uint32_t
tree_best_slot(const struct tree *t, int nat)
{
	uint32_t fo = tree_set_min(t, TREE_SET_FREE_OPEN);
	uint32_t fp = tree_set_min(t, TREE_SET_FREE_PRED);

	if (nat != TREE_NAT_RANDOM && fp != TREE_NONE && fp <= fo)
		return tree_set_first(t, TREE_SET_FREE_PRED, fp);
	if (fo != TREE_NONE)
		return tree_set_first(t, TREE_SET_FREE_OPEN, fo);
	return TREE_NONE;
}

/* Depth of a free slot under p, or TREE_NONE. */
static uint32_t
tree_slot_depth(const struct tree *t, uint32_t p)
{
	return p == TREE_NONE ? TREE_NONE : t->nodes[p].depth + 1;
}

/* The shallowest leaf a repeater of class nat can take the slot of (the
 * leaf then goes under it), or TREE_NONE. */
static uint32_t
tree_best_leaf(const struct tree *t, int nat)
{
	static const int sets[] = {
		TREE_SET_LEAF_PRED, TREE_SET_LEAF_OPEN, TREE_SET_LEAF_RANDOM
	};
	uint32_t best = TREE_NONE, d;
	size_t i, n = nat == TREE_NAT_OPEN ? 3 : 2;
	int set = -1;

	for (i = 0; i < n; i++) {
		d = tree_set_min(t, sets[i]);
		if (d != TREE_NONE && (best == TREE_NONE || d < best)) {
			best = d;
			set = sets[i];
		}
	}
	return set < 0 ? TREE_NONE : tree_set_first(t, set, best);
}

/*
 * Places random node x, for which no open parent has a free slot, in a
 * slot an open parent lent to a node that needs none; -1 if none can be
 * given back. Every node keeps its depth except x and the one random leaf
 * that may follow its parent.
 */
static int
tree_reclaim(struct tree *t, uint32_t x)
{
	struct tree_node *nq;
	uint32_t p, q, y, d, cd;

	p = tree_best_slot(t, TREE_NAT_PREDICTABLE);
	if (p == TREE_NONE || tree_set_reserve(t, tree_slot_depth(t, p)) != 0)
		return -1;
	/* A leaf gives its slot to x and moves to a predictable parent. */
	if ((d = tree_set_min(t, TREE_SET_LEAF_OPEN)) != TREE_NONE) {
		y = tree_set_first(t, TREE_SET_LEAF_OPEN, d);
		tree_unlist(t, x);
		tree_take_slot(t, y, x);
		tree_link(t, y, p);
		return 0;
	}
	/* An open repeater whose children need no open parent trades places
	 * with the predictable one, and x takes the free slot found there. */
	if ((d = tree_set_min(t, TREE_SET_LENT2)) != TREE_NONE) {
		q = tree_set_first(t, TREE_SET_LENT2, d);
		tree_trade(t, q, p);
		tree_unlist(t, x);
		tree_link(t, x, q);
		return 0;
	}
	/* One with a random child trades places with a childless repeater
	 * (predictable: an open one would have had a slot for x), and takes
	 * that child along; x gets the other slot. */
	d = tree_set_min(t, TREE_SET_LENT1);
	cd = tree_set_min(t, TREE_SET_CHILDLESS);
	if (d == TREE_NONE || cd == TREE_NONE ||
	    tree_set_reserve(t, cd + 1) != 0)
		return -1;
	p = tree_set_first(t, TREE_SET_CHILDLESS, cd);
	q = tree_set_first(t, TREE_SET_LENT1, d);
	nq = &t->nodes[q];
	y = nq->u.child[0];
	if (t->nodes[y].nat != TREE_NAT_RANDOM)
		y = nq->u.child[1];
	tree_cut(t, y);
	tree_trade(t, q, p);
	tree_link(t, y, q);
	tree_unlist(t, x);
	tree_link(t, x, q);
	return 0;
}

/* Places an unplaced leaf (candidate or non-repeater); -1 if no slot. */
static int
tree_place_leaf(struct tree *t, uint32_t x)
{
	struct tree_node *n = &t->nodes[x];
	uint32_t p;

	p = tree_best_slot(t, n->nat);
	if (p != TREE_NONE) {
		if (tree_set_reserve(t, tree_slot_depth(t, p)) != 0)
			return -1;
		tree_unlist(t, x);
		tree_link(t, x, p);
		return 0;
	}
	if (n->nat != TREE_NAT_RANDOM)
		return -1;
	return tree_reclaim(t, x);
}

/*
 * Places an unplaced repeater: in the shallowest free slot, or in a
 * shallower leaf's slot with that leaf under it, whichever is nearer the
 * root. -1 if neither exists.
 */
static int
tree_place_repeater(struct tree *t, uint32_t x)
{
	uint32_t p, y, fd, ld;

	p = tree_best_slot(t, t->nodes[x].nat);
	y = tree_best_leaf(t, t->nodes[x].nat);
	fd = tree_slot_depth(t, p);
	ld = y == TREE_NONE ? TREE_NONE : t->nodes[y].depth;
	if (y != TREE_NONE && (p == TREE_NONE || ld < fd)) {
		if (tree_set_reserve(t, ld + 1) != 0)
			return -1;
		tree_unlist(t, x);
		tree_take_slot(t, y, x);
		tree_link(t, y, x);
		return 0;
	}
	if (p == TREE_NONE || tree_set_reserve(t, fd) != 0)
		return -1;
	tree_unlist(t, x);
	tree_link(t, x, p);
	return 0;
}

/*
 * Moves a childless node up into a free slot two or more levels above it,
 * the deepest such node first; returns 1 if it moved one. Keeping every
 * free slot within one level of the deepest node is what bounds the depth.
 */
static int
tree_fill_hole(struct tree *t)
{
	static const int movers[] = {
		TREE_SET_CHILDLESS, TREE_SET_LEAF_PRED, TREE_SET_LEAF_OPEN
	};
	uint32_t p, z, zd, d;
	size_t i;
	int set;

	p = tree_best_slot(t, TREE_NAT_PREDICTABLE);
	if (p != TREE_NONE) {
		zd = 0;
		set = -1;
		for (i = 0; i < 3; i++) {
			d = tree_set_max(t, movers[i]);
			if (d != TREE_NONE && (set < 0 || d > zd)) {
				zd = d;
				set = movers[i];
			}
		}
		if (set >= 0 && zd >= t->nodes[p].depth + 3) {
			z = tree_set_first(t, set, zd);
			tree_cut(t, z);
			tree_link(t, z, p);
			return 1;
		}
	}
	p = tree_best_slot(t, TREE_NAT_RANDOM);
	zd = tree_set_max(t, TREE_SET_LEAF_RANDOM);
	if (p != TREE_NONE && zd != TREE_NONE &&
	    zd >= t->nodes[p].depth + 3) {
		z = tree_set_first(t, TREE_SET_LEAF_RANDOM, zd);
		tree_cut(t, z);
		tree_link(t, z, p);
		return 1;
	}
	return 0;
}

/* Places what can be placed, then fills holes, until nothing changes. */
static void
tree_settle(struct tree *t)
{
	static const struct {
		int	list;
		int	(*place)(struct tree *, uint32_t);
	} order[] = {
		/* Repeaters first: each one placed makes room for others. */
		{ TREE_UNPL_REP_OPEN, tree_place_repeater },
		{ TREE_UNPL_REP_PRED, tree_place_repeater },
		/* Random nodes before those that can use any slot. */
		{ TREE_UNPL_RANDOM, tree_place_leaf },
		{ TREE_UNPL_OTHER, tree_place_leaf },
	};
	uint32_t x;
	size_t i;

	do {
		for (i = 0; i < sizeof order / sizeof order[0]; i++)
			while ((x = tree_set_first(t, order[i].list, 0)) !=
			    TREE_NONE && order[i].place(t, x) == 0)
				;
	} while (tree_fill_hole(t));
}

/* The repeater to put in a departing repeater's place: the deepest with no
 * repeater child, childless ones first. */
static uint32_t
tree_filler(const struct tree *t)
{
	uint32_t c = tree_set_max(t, TREE_SET_CHILDLESS);
	uint32_t b = tree_set_max(t, TREE_SET_BOTTOM);

	if (c != TREE_NONE && (b == TREE_NONE || c >= b))
		return tree_set_first(t, TREE_SET_CHILDLESS, c);
	if (b != TREE_NONE)
		return tree_set_first(t, TREE_SET_BOTTOM, b);
	return TREE_NONE;
}

/*
 * Takes placed node x out of the tree and re-attaches its children at
 * once. If a repeater hangs below x, a filler (tree_filler) takes x's slot
 * and adopts all of x's children, so every subtree keeps its depth; the
 * filler's own leaves are placed again. Otherwise x's children are leaves
 * and are placed again, most likely in x's slot. The caller settles.
 */
static void
tree_vacate(struct tree *t, uint32_t x)
{
	struct tree_node *nx = &t->nodes[x];
	uint32_t f, y, i;
	int deep = 0;

	for (i = 0; i < nx->nkids; i++)
		if (t->nodes[nx->u.child[i]].role == TREE_ROLE_REPEATER)
			deep = 1;
	if (!deep) {
		while (nx->nkids > 0) {
			y = nx->u.child[0];
			tree_cut(t, y);
			tree_orphan(t, y, 1);
		}
		tree_cut(t, x);
		return;
	}
	/* A bottom repeater exists in the subtree of x's repeater child. */
	f = tree_filler(t);
	while (t->nodes[f].nkids > 0) {
		y = t->nodes[f].u.child[0];
		tree_cut(t, y);
		tree_orphan(t, y, 1);
	}
	tree_cut(t, f);		/* f may be a child of x */
	tree_take_slot(t, x, f);
	while (nx->nkids > 0) {
		y = nx->u.child[0];
		tree_cut(t, y);
		if (t->nodes[y].nat == TREE_NAT_RANDOM &&
		    t->nodes[f].nat != TREE_NAT_OPEN)
			tree_orphan(t, y, 1);
		else
			tree_link(t, y, f);	/* same depth as under x */
	}
}

static int
tree_valid(const struct tree *t, uint32_t id)
{
	return id != TREE_ORIGIN && id <= t->max_nodes;
}

static void
tree_set_role(struct tree *t, uint32_t x, enum tree_role role,
    const char *reason)
{
	struct tree_node *n = &t->nodes[x];

	t->nrole[n->role]--;
	t->nrole[role]++;
	n->role = (uint8_t)role;
	if (role == TREE_ROLE_NONREPEATER)
		n->u.reason = reason != NULL ? reason : "verification failed";
	else {
		n->u.child[0] = n->u.child[1] = TREE_NONE;
		n->nkids = 0;
	}
}

int
tree_join(struct tree *t, uint32_t id, enum tree_nat nat)
{
	struct tree_node *n;

	if (!tree_valid(t, id) || (unsigned)nat >= TREE_NAT_COUNT ||
	    t->nodes[id].role != TREE_ROLE_NONE)
		return -1;
	n = &t->nodes[id];
	n->nat = (uint8_t)nat;
	n->parent = TREE_NONE;
	n->flags = TREE_F_FRESH;
	t->nrole[TREE_ROLE_NONE]++;
	if (nat == TREE_NAT_RANDOM)
		tree_set_role(t, id, TREE_ROLE_NONREPEATER, TREE_REASON_RANDOM);
	else
		tree_set_role(t, id, TREE_ROLE_CANDIDATE, NULL);
	t->nnodes++;
	t->nnat[nat]++;
	tree_orphan(t, id, 0);
	tree_settle(t);
	return 0;
}

int
tree_verify(struct tree *t, uint32_t id, int ok, const char *reason)
{
	struct tree_node *n;
	uint32_t p, y, fd, ld;

	if (!tree_valid(t, id) || t->nodes[id].role != TREE_ROLE_CANDIDATE)
		return -1;
	n = &t->nodes[id];
	if (n->parent == TREE_NONE) {
		tree_unlist(t, id);
		tree_set_role(t, id, ok ? TREE_ROLE_REPEATER :
		    TREE_ROLE_NONREPEATER, reason);
		tree_set_unplace(t, id, 1);
		tree_settle(t);
		return 0;
	}
	p = n->parent;
	tree_set_unindex(t, p);
	tree_set_unindex(t, id);
	tree_set_role(t, id, ok ? TREE_ROLE_REPEATER : TREE_ROLE_NONREPEATER,
	    reason);
	tree_set_index(t, p);
	tree_set_index(t, id);
	if (ok) {
		/* A new repeater moves up: into a shallower leaf's slot, the
		 * leaf going under it, or into a shallower free slot. */
		p = tree_best_slot(t, n->nat);
		y = tree_best_leaf(t, n->nat);
		fd = tree_slot_depth(t, p);
		ld = y == TREE_NONE ? TREE_NONE : t->nodes[y].depth;
		if (y != TREE_NONE && ld < n->depth && ld < fd) {
			tree_cut(t, id);
			tree_take_slot(t, y, id);
			tree_link(t, y, id);
		} else if (p != TREE_NONE && fd < n->depth) {
			tree_cut(t, id);
			tree_link(t, id, p);
		}
	}
	tree_settle(t);
	return 0;
}

int
tree_demote(struct tree *t, uint32_t id, const char *reason)
{
	struct tree_node *n;
	uint32_t p;

	if (!tree_valid(t, id) || t->nodes[id].role != TREE_ROLE_REPEATER)
		return -1;
	n = &t->nodes[id];
	if (n->parent == TREE_NONE) {
		tree_unlist(t, id);
		tree_set_role(t, id, TREE_ROLE_NONREPEATER, reason);
		tree_set_unplace(t, id, 1);
	} else if (n->nkids == 0) {
		p = n->parent;
		tree_set_unindex(t, p);
		tree_set_unindex(t, id);
		tree_set_role(t, id, TREE_ROLE_NONREPEATER, reason);
		tree_set_index(t, p);
		tree_set_index(t, id);
	} else {
		tree_vacate(t, id);
		tree_set_role(t, id, TREE_ROLE_NONREPEATER, reason);
		tree_orphan(t, id, 1);
	}
	tree_settle(t);
	return 0;
}

int
tree_leave(struct tree *t, uint32_t id)
{
	struct tree_node *n;

	if (!tree_valid(t, id) || t->nodes[id].role == TREE_ROLE_NONE)
		return -1;
	n = &t->nodes[id];
	if (n->parent == TREE_NONE)
		tree_unlist(t, id);
	else
		tree_vacate(t, id);
	tree_unnote(t, id);
	tree_set_role(t, id, TREE_ROLE_NONE, NULL);
	t->nrole[TREE_ROLE_NONE]--;
	t->nnodes--;
	t->nnat[n->nat]--;
	n->flags = 0;
	tree_settle(t);
	return 0;
}

size_t
tree_drain(struct tree *t, struct tree_event *ev, size_t max)
{
	struct tree_node *n;
	size_t out = 0;
	uint32_t x;
	int fresh;

	while (out < max && t->qlen > 0) {
		x = t->queue[t->qhead];
		t->qhead = (t->qhead + 1) % t->max_nodes;
		t->qlen--;
		n = &t->nodes[x];
		fresh = (n->flags & TREE_F_FRESH) != 0;
		n->flags &= ~(TREE_F_PENDING | TREE_F_FRESH);
		if (n->parent == n->old_parent && !fresh)
			continue;
		ev[out].node = x;
		ev[out].old_parent = n->old_parent;
		ev[out].new_parent = n->parent;
		if (n->parent == TREE_NONE)
			ev[out].kind = TREE_EV_ORPHANED;
		else if (n->old_parent == TREE_NONE)
			ev[out].kind = TREE_EV_PLACED;
		else
			ev[out].kind = TREE_EV_MOVED;
		out++;
	}
	return out;
}

size_t
tree_pending(const struct tree *t)
{
	return t->qlen;
}
