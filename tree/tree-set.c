/* Depth-bucketed sets and unplaced lists of the tree manager. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tree/tree-private.h"

#define TREE_DCAP_FIRST	64u

static int
tree_set_link(int set)
{
	return set == TREE_SET_CHILDLESS || set == TREE_SET_BOTTOM;
}

static uint32_t *
tree_set_headp(struct tree *t, int set, uint32_t depth)
{
	if (set >= TREE_NSETS)
		return &t->uhead[set - TREE_NSETS];
	return &t->heads[(size_t)depth * TREE_NSETS + set];
}

static uint64_t *
tree_set_word(struct tree *t, int set, uint32_t depth)
{
	return &t->bits[(size_t)(depth / 64) * TREE_NSETS + set];
}

int
tree_set_init(struct tree *t)
{
	size_t i;

	for (i = 0; i < TREE_NUNPL; i++)
		t->uhead[i] = TREE_NONE;
	t->dcap = 0;
	return tree_set_reserve(t, TREE_DCAP_FIRST - 1);
}

/* Makes room for nodes at depth; -1 if memory is short (nothing changed). */
int
tree_set_reserve(struct tree *t, uint32_t depth)
{
	uint64_t limit = ((uint64_t)t->max_nodes + 2 + 63) / 64 * 64;
	uint64_t cap = t->dcap != 0 ? t->dcap : TREE_DCAP_FIRST;
	uint32_t *heads;
	uint64_t *bits;
	size_t i;

	if (depth < t->dcap)
		return 0;
	while (cap <= depth)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	if (depth >= cap)
		return -1;
	heads = realloc(t->heads, (size_t)cap * TREE_NSETS * sizeof *heads);
	if (heads == NULL)
		return -1;
	t->heads = heads;
	bits = realloc(t->bits, (size_t)(cap / 64) * TREE_NSETS * sizeof *bits);
	if (bits == NULL)
		return -1;	/* heads grew; dcap did not: still consistent */
	t->bits = bits;
	for (i = (size_t)t->dcap * TREE_NSETS; i < (size_t)cap * TREE_NSETS;
	    i++)
		heads[i] = TREE_NONE;
	memset(bits + (size_t)(t->dcap / 64) * TREE_NSETS, 0,
	    (size_t)((cap - t->dcap) / 64) * TREE_NSETS * sizeof *bits);
	t->dcap = (uint32_t)cap;
	return 0;
}

/* Shallowest non-empty depth at or below from; the set is not empty. */
static uint32_t
tree_set_scan_up(const struct tree *t, int set, uint32_t from)
{
	size_t w = from / 64;
	uint64_t word = t->bits[w * TREE_NSETS + set] & (~0ULL << (from % 64));

	while (word == 0)
		word = t->bits[++w * TREE_NSETS + set];
	return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
}

/* Deepest non-empty depth at or above from; the set is not empty. */
static uint32_t
tree_set_scan_down(const struct tree *t, int set, uint32_t from)
{
	size_t w = from / 64;
	uint64_t word = t->bits[w * TREE_NSETS + set];

	if (from % 64 != 63)
		word &= (2ULL << (from % 64)) - 1;
	while (word == 0)
		word = t->bits[--w * TREE_NSETS + set];
	return (uint32_t)(w * 64 + 63 - (size_t)__builtin_clzll(word));
}

uint32_t
tree_set_min(const struct tree *t, int set)
{
	return t->cnt[set] != 0 ? t->lo[set] : TREE_NONE;
}

uint32_t
tree_set_max(const struct tree *t, int set)
{
	return t->cnt[set] != 0 ? t->hi[set] : TREE_NONE;
}

uint32_t
tree_set_first(const struct tree *t, int set, uint32_t depth)
{
	if (set >= TREE_NSETS)
		return t->uhead[set - TREE_NSETS];
	if (depth >= t->dcap)
		return TREE_NONE;
	return t->heads[(size_t)depth * TREE_NSETS + set];
}

int
tree_set_of(const struct tree *t, uint32_t x, int link)
{
	return t->nodes[x].set[link];
}

/* Adds x to a list, at its head or its tail. */
static void
tree_set_add(struct tree *t, uint32_t x, int set, int tail)
{
	struct tree_node *n = &t->nodes[x];
	int l = tree_set_link(set);
	uint32_t *head, h, last;

	head = tree_set_headp(t, set, n->depth);
	n->set[l] = (uint8_t)set;
	t->cnt[set]++;
	if (*head == TREE_NONE) {
		n->link[l][TREE_PREV] = n->link[l][TREE_NEXT] = x;
		*head = x;
		if (set < TREE_NSETS) {
			*tree_set_word(t, set, n->depth) |=
			    1ULL << (n->depth % 64);
			if (t->cnt[set] == 1)
				t->lo[set] = t->hi[set] = n->depth;
			else if (n->depth < t->lo[set])
				t->lo[set] = n->depth;
			else if (n->depth > t->hi[set])
				t->hi[set] = n->depth;
		}
		return;
	}
	h = *head;
	last = t->nodes[h].link[l][TREE_PREV];
	n->link[l][TREE_PREV] = last;
	n->link[l][TREE_NEXT] = h;
	t->nodes[last].link[l][TREE_NEXT] = x;
	t->nodes[h].link[l][TREE_PREV] = x;
	if (!tail)
		*head = x;
}

/* Takes x out of the list it is in on link l, if any. */
static void
tree_set_del(struct tree *t, uint32_t x, int l)
{
	struct tree_node *n = &t->nodes[x];
	int set = n->set[l];
	uint32_t *head, prev, next;

	if (set == TREE_SET_NONE)
		return;
	n->set[l] = TREE_SET_NONE;
	t->cnt[set]--;
	head = tree_set_headp(t, set, n->depth);
	next = n->link[l][TREE_NEXT];
	if (next != x) {
		prev = n->link[l][TREE_PREV];
		t->nodes[prev].link[l][TREE_NEXT] = next;
		t->nodes[next].link[l][TREE_PREV] = prev;
		if (*head == x)
			*head = next;
		return;
	}
	*head = TREE_NONE;
	if (set >= TREE_NSETS)
		return;
	*tree_set_word(t, set, n->depth) &= ~(1ULL << (n->depth % 64));
	if (t->cnt[set] == 0)
		return;
	if (n->depth == t->lo[set])
		t->lo[set] = tree_set_scan_up(t, set, n->depth);
	else if (n->depth == t->hi[set])
		t->hi[set] = tree_set_scan_down(t, set, n->depth);
}

void
tree_set_unindex(struct tree *t, uint32_t x)
{
	tree_set_del(t, x, 0);
	tree_set_del(t, x, 1);
}

/* Puts a placed node, out of every list, in the lists its state calls for. */
void
tree_set_index(struct tree *t, uint32_t x)
{
	struct tree_node *n = &t->nodes[x];
	uint32_t i;
	int bottom, rkid;

	if (x == TREE_ORIGIN) {
		if (t->onkids < t->fanout)
			tree_set_add(t, x, TREE_SET_FREE_OPEN, 0);
		return;
	}
	if (n->role == TREE_ROLE_REPEATER) {
		/* A parent with one slot left comes first, so that childless
		 * repeaters, the cheapest fillers, stay childless. */
		if (n->nkids < 2)
			tree_set_add(t, x, n->nat == TREE_NAT_OPEN ?
			    TREE_SET_FREE_OPEN : TREE_SET_FREE_PRED,
			    n->nkids == 0);
		if (n->nkids == 0) {
			tree_set_add(t, x, TREE_SET_CHILDLESS, 0);
			return;
		}
		bottom = 1;
		rkid = 0;
		for (i = 0; i < n->nkids; i++) {
			if (t->nodes[n->u.child[i]].role == TREE_ROLE_REPEATER)
				bottom = 0;
			if (t->nodes[n->u.child[i]].nat == TREE_NAT_RANDOM)
				rkid++;
		}
		if (n->nkids == 2 && n->nat == TREE_NAT_OPEN && rkid < 2)
			tree_set_add(t, x, rkid == 0 ? TREE_SET_LENT2 :
			    TREE_SET_LENT1, 0);
		if (bottom)
			tree_set_add(t, x, TREE_SET_BOTTOM, 0);
		return;
	}
	/* A leaf. Candidates go last in their bucket: a new repeater would
	 * rather push down a non-repeater than a node that may be verified. */
	if (n->nat == TREE_NAT_RANDOM)
		tree_set_add(t, x, TREE_SET_LEAF_RANDOM, 0);
	else
		tree_set_add(t, x, tree_is_open_parent(t, n->parent) ?
		    TREE_SET_LEAF_OPEN : TREE_SET_LEAF_PRED,
		    n->role == TREE_ROLE_CANDIDATE);
}

/* Lists an unplaced node, out of every list, for another try. */
void
tree_set_unplace(struct tree *t, uint32_t x, int front)
{
	struct tree_node *n = &t->nodes[x];
	int set;

	if (n->role == TREE_ROLE_REPEATER)
		set = n->nat == TREE_NAT_OPEN ? TREE_UNPL_REP_OPEN :
		    TREE_UNPL_REP_PRED;
	else if (n->nat == TREE_NAT_RANDOM)
		set = TREE_UNPL_RANDOM;
	else
		set = TREE_UNPL_OTHER;
	tree_set_add(t, x, set, !front);
}
