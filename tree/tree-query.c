/* Tree manager: queries for the negotiator and the status page. */
#include "config.h"

#include "tree/tree-private.h"

static const char *tree_role_names[TREE_ROLE_COUNT] = {
	[TREE_ROLE_NONE] = "none",
	[TREE_ROLE_ORIGIN] = "origin",
	[TREE_ROLE_CANDIDATE] = "candidate",
	[TREE_ROLE_REPEATER] = "repeater",
	[TREE_ROLE_NONREPEATER] = "non-repeater",
};

static const char *tree_nat_names[TREE_NAT_COUNT] = {
	[TREE_NAT_OPEN] = "open",
	[TREE_NAT_PREDICTABLE] = "predictable",
	[TREE_NAT_RANDOM] = "random",
};

const char *
tree_role_name(enum tree_role role)
{
	return (unsigned)role < TREE_ROLE_COUNT ? tree_role_names[role] : "?";
}

const char *
tree_nat_name(enum tree_nat nat)
{
	return (unsigned)nat < TREE_NAT_COUNT ? tree_nat_names[nat] : "?";
}

static int
tree_query_placed(const struct tree *t, uint32_t id)
{
	return id <= t->max_nodes && tree_is_placed(t, id);
}

enum tree_role
tree_role(const struct tree *t, uint32_t id)
{
	return id <= t->max_nodes ? t->nodes[id].role : TREE_ROLE_NONE;
}

int
tree_nat(const struct tree *t, uint32_t id)
{
	if (id == TREE_ORIGIN || id > t->max_nodes ||
	    t->nodes[id].role == TREE_ROLE_NONE)
		return -1;
	return t->nodes[id].nat;
}

const char *
tree_reason(const struct tree *t, uint32_t id)
{
	if (id > t->max_nodes || t->nodes[id].role != TREE_ROLE_NONREPEATER)
		return NULL;
	return t->nodes[id].u.reason;
}

uint32_t
tree_parent(const struct tree *t, uint32_t id)
{
	return id <= t->max_nodes ? t->nodes[id].parent : TREE_NONE;
}

int
tree_depth(const struct tree *t, uint32_t id)
{
	return tree_query_placed(t, id) ? (int)t->nodes[id].depth : -1;
}

int
tree_children(const struct tree *t, uint32_t id, uint32_t *out, size_t max)
{
	const uint32_t *kids;
	uint32_t i, n;

	if (!tree_query_placed(t, id))
		return -1;
	n = tree_nkids(t, id);
	if (n == 0)	/* a non-repeater's child array holds its reason */
		return 0;
	kids = tree_ckids(t, id);
	for (i = 0; i < n && i < max; i++)
		out[i] = kids[i];
	return (int)n;
}

int
tree_path(const struct tree *t, uint32_t id, uint32_t *out, size_t max)
{
	uint32_t len, d;

	if (!tree_query_placed(t, id) || t->nodes[id].depth >= max)
		return -1;
	len = t->nodes[id].depth + 1;
	for (d = len; d > 0; d--) {
		out[d - 1] = id;
		id = t->nodes[id].parent;
	}
	return (int)len;
}

void
tree_counts(const struct tree *t, struct tree_counts *c)
{
	static const int deepest[] = {
		TREE_SET_CHILDLESS, TREE_SET_LEAF_RANDOM, TREE_SET_LEAF_OPEN,
		TREE_SET_LEAF_PRED
	};
	uint32_t placed_reps, d, i;

	c->nodes = t->nnodes;
	c->unplaced = 0;
	for (i = TREE_NSETS; i < TREE_NLISTS; i++)
		c->unplaced += t->cnt[i];
	c->placed = c->nodes - c->unplaced;
	c->candidates = t->nrole[TREE_ROLE_CANDIDATE];
	c->repeaters = t->nrole[TREE_ROLE_REPEATER];
	c->nonrepeaters = t->nrole[TREE_ROLE_NONREPEATER];
	placed_reps = c->repeaters - t->cnt[TREE_UNPL_REP_OPEN] -
	    t->cnt[TREE_UNPL_REP_PRED];
	c->free_slots = t->fanout + 2 * placed_reps - c->placed;
	c->origin_children = t->onkids;
	c->max_depth = 0;
	for (i = 0; i < sizeof deepest / sizeof deepest[0]; i++) {
		d = tree_set_max(t, deepest[i]);
		if (d != TREE_NONE && d > c->max_depth)
			c->max_depth = d;
	}
	for (i = 0; i < TREE_NAT_COUNT; i++)
		c->nat[i] = t->nnat[i];
	c->unplaced_random = t->cnt[TREE_UNPL_RANDOM];
}

uint32_t
tree_max_nodes(const struct tree *t)
{
	return t->max_nodes;
}

uint32_t
tree_fanout(const struct tree *t)
{
	return t->fanout;
}

size_t
tree_memory(const struct tree *t)
{
	return sizeof *t +
	    ((size_t)t->max_nodes + 1) * sizeof *t->nodes +
	    (size_t)t->fanout * sizeof *t->okids +
	    (size_t)t->max_nodes * sizeof *t->queue +
	    (size_t)t->dcap * TREE_NSETS * sizeof *t->heads +
	    (size_t)(t->dcap / 64) * TREE_NSETS * sizeof *t->bits;
}
