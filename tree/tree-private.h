/*
 * Inside the tree manager: the node record, and the structures that let
 * every placement decision be taken without a scan.
 *
 * Each node is in at most two lists at once, one per link:
 * - link 0: a free-slot set (a repeater or the origin with a free slot, by
 *   its own class), the sets of full open repeaters with one or two
 *   children that are not random (slots lent, that a trade can give back
 *   to a random node), a leaf set (a
 *   placed candidate or non-repeater, by its class and its parent's), or
 *   an unplaced list;
 * - link 1: the "childless" or "bottom" set of repeaters, the fillers used
 *   for repair.
 * The free-slot, leaf and filler sets are bucketed by depth, with a bitmap
 * of the non-empty depths, so that the shallowest or deepest member is
 * found in one bitmap-word scan. Lists are circular and doubly linked
 * through the node records: no allocation per operation.
 */
#ifndef TREECAST_TREE_PRIVATE_H
#define TREECAST_TREE_PRIVATE_H

#include <stdint.h>

#include "tree/tree.h"

/* Depth-bucketed sets. */
enum {
	TREE_SET_FREE_OPEN = 0,	/* origin, open repeaters with a free slot */
	TREE_SET_FREE_PRED,	/* predictable repeaters with a free slot */
	TREE_SET_LENT2,		/* full open repeaters, no random child */
	TREE_SET_LENT1,		/* full open repeaters, one random child */
	TREE_SET_LEAF_RANDOM,	/* placed random leaves */
	TREE_SET_LEAF_OPEN,	/* other leaves under the origin or open */
	TREE_SET_LEAF_PRED,	/* other placed leaves under a predictable */
	TREE_SET_CHILDLESS,	/* placed repeaters with no child (link 1) */
	TREE_SET_BOTTOM,	/* placed repeaters with children, all leaves */
	TREE_NSETS,
	/* Lists of unplaced nodes, FIFO, not bucketed (link 0). */
	TREE_UNPL_REP_OPEN = TREE_NSETS,
	TREE_UNPL_REP_PRED,
	TREE_UNPL_RANDOM,
	TREE_UNPL_OTHER,	/* candidates and non-repeaters, not random */
	TREE_NLISTS,
	TREE_SET_NONE = 0xff
};

#define TREE_NUNPL	(TREE_NLISTS - TREE_NSETS)
#define TREE_PREV	0
#define TREE_NEXT	1

/* Node flags. */
#define TREE_F_PENDING	0x01	/* in the event queue */
#define TREE_F_FRESH	0x02	/* joined since its last event was drained */

struct tree_node {
	uint32_t	parent;		/* TREE_NONE when unplaced */
	uint32_t	depth;		/* valid when placed */
	uint32_t	link[2][2];	/* [link][TREE_PREV / TREE_NEXT] */
	uint32_t	old_parent;	/* parent before the pending event */
	uint32_t	qidx;		/* position in the event queue */
	union {
		uint32_t	 child[2];	/* repeaters, candidates */
		const char	*reason;	/* non-repeaters */
	} u;
	uint16_t	pslot;		/* index in the parent's child array */
	uint8_t		role;		/* enum tree_role */
	uint8_t		nat;		/* enum tree_nat */
	uint8_t		set[2];		/* list per link, or TREE_SET_NONE */
	uint8_t		nkids;
	uint8_t		flags;
};

struct tree {
	struct tree_node	*nodes;		/* [max_nodes + 1]; 0: origin */
	uint32_t		 max_nodes;
	uint32_t		 fanout;
	uint32_t		*okids;		/* the origin's children */
	uint32_t		 onkids;

	/* Bucketed sets: heads[depth * TREE_NSETS + set], bits likewise
	 * per 64 depths; dcap depths, a multiple of 64. */
	uint32_t		*heads;
	uint64_t		*bits;
	uint32_t		 dcap;
	uint32_t		 cnt[TREE_NLISTS];
	uint32_t		 lo[TREE_NSETS];	/* shallowest member */
	uint32_t		 hi[TREE_NSETS];	/* deepest member */
	uint32_t		 uhead[TREE_NUNPL];

	/* Event queue: a ring of node handles, each at most once. */
	uint32_t		*queue;
	uint32_t		 qhead;
	uint32_t		 qlen;

	uint32_t		 nnodes;
	uint32_t		 nrole[TREE_ROLE_COUNT];
	uint32_t		 nnat[TREE_NAT_COUNT];
};

/* tree-set.c */
int		tree_set_init(struct tree *t);
int		tree_set_reserve(struct tree *t, uint32_t depth);
uint32_t	tree_set_min(const struct tree *t, int set);
uint32_t	tree_set_max(const struct tree *t, int set);
uint32_t	tree_set_first(const struct tree *t, int set, uint32_t depth);
void		tree_set_unindex(struct tree *t, uint32_t x);
void		tree_set_index(struct tree *t, uint32_t x);
void		tree_set_unplace(struct tree *t, uint32_t x, int front);
int		tree_set_of(const struct tree *t, uint32_t x, int link);

static inline uint32_t *
tree_kids(struct tree *t, uint32_t p)
{
	return p == TREE_ORIGIN ? t->okids : t->nodes[p].u.child;
}

static inline const uint32_t *
tree_ckids(const struct tree *t, uint32_t p)
{
	return p == TREE_ORIGIN ? t->okids : t->nodes[p].u.child;
}

static inline uint32_t
tree_nkids(const struct tree *t, uint32_t p)
{
	return p == TREE_ORIGIN ? t->onkids : t->nodes[p].nkids;
}

/* Child slots a node offers. */
static inline uint32_t
tree_cap(const struct tree *t, uint32_t p)
{
	if (p == TREE_ORIGIN)
		return t->fanout;
	return t->nodes[p].role == TREE_ROLE_REPEATER ? 2 : 0;
}

static inline int
tree_is_leaf_role(uint8_t role)
{
	return role == TREE_ROLE_CANDIDATE || role == TREE_ROLE_NONREPEATER;
}

/* The origin and open repeaters can take a random child. */
static inline int
tree_is_open_parent(const struct tree *t, uint32_t p)
{
	return p == TREE_ORIGIN || t->nodes[p].nat == TREE_NAT_OPEN;
}

static inline int
tree_is_placed(const struct tree *t, uint32_t x)
{
	return x == TREE_ORIGIN || t->nodes[x].parent != TREE_NONE;
}

#endif
