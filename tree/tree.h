/*
 * Tree manager: places viewers in the distribution tree of one channel
 * (DESIGN.md, "Tree manager"). A pure library: no I/O, no logging, no
 * mutable globals; the same calls give the same tree.
 *
 * Handles. The caller names nodes by dense handles 1..max_nodes (the
 * negotiator maps its registry slot to one). TREE_ORIGIN (0) is the origin,
 * present from tree_create() on; it is the root at depth 0 and offers
 * origin_fanout child slots.
 *
 * Roles. A node joins as a candidate: placed, but it offers no child slot.
 * tree_verify() turns it into a repeater (two child slots) or a
 * non-repeater (a leaf forever, with a reason). A node whose NAT allocates
 * ports at random is a non-repeater from the start. Non-repeaters and
 * candidates are only ever leaves.
 *
 * Placement. A node goes into the free slot nearest the root whose parent
 * can reach it: a TREE_NAT_RANDOM node needs the origin or a TREE_NAT_OPEN
 * repeater as parent; any other node may sit under any repeater. Among
 * slots at one depth, a predictable parent is preferred, to keep open
 * parents' slots for the random nodes that need them. A new repeater takes
 * a shallower slot held by a leaf, and the leaf moves down under it.
 *
 * Lent slots. An open parent's slot held by a node that needs none is
 * given back when a random node finds no open slot: a leaf there moves to
 * a predictable parent's free slot; else an open repeater whose children
 * all need no open parent trades places with a predictable repeater that
 * has a free slot (each adopts the other's children); else one with one
 * random child trades places with a childless repeater and takes that
 * child along. No other node changes depth, so the random nodes are held
 * as long as the open repeaters have slots for them.
 *
 * Repair. When a repeater with a repeater below it leaves (or is demoted),
 * the deepest repeater with no repeater child takes its place and adopts
 * all its children at once, so no subtree changes depth; the leaves that
 * repeater had are placed again. Other orphans (leaves) are placed again in
 * the best free slot. A free slot that is two or more levels above a
 * childless node is filled by moving that node up. With every node a
 * repeater and an origin fanout of at least 2, the depth stays at most
 * ceil(log2(n + 1)) + 1 after any sequence of joins and leaves.
 *
 * Shortfall. A node for which no compatible slot exists stays joined but
 * unplaced; the tree places it as soon as a slot opens.
 *
 * Events. Every change of a node's parent is queued, coalesced per node,
 * for the caller to drain with tree_drain() and pass on to the nodes.
 *
 * Cost: O(1) per operation: list and bitmap updates, and a bitmap scan
 * (one word per 64 levels) when a set's shallowest or deepest bucket
 * empties. No allocation after tree_create() except when the tree first
 * grows past 64, 128, ... levels.
 */
#ifndef TREECAST_TREE_H
#define TREECAST_TREE_H

#include <stddef.h>
#include <stdint.h>

#define TREE_ORIGIN		0u
#define TREE_NONE		UINT32_MAX
#define TREE_FANOUT_DEFAULT	2u
#define TREE_FANOUT_MAX		65535u
#define TREE_NODES_MAX		(UINT32_MAX / 4)
/* The reason tree_join() gives a TREE_NAT_RANDOM node. */
#define TREE_REASON_RANDOM	"random port allocation"

/* NAT class of a node, from its NAT profile (DESIGN.md, "NAT profile"). */
enum tree_nat {
	TREE_NAT_OPEN = 0,	/* public, or endpoint-independent mapping */
	TREE_NAT_PREDICTABLE,	/* address-and-port-dependent, sequential */
	TREE_NAT_RANDOM,	/* random allocation: never a repeater */
	TREE_NAT_COUNT
};

enum tree_role {
	TREE_ROLE_NONE = 0,	/* handle not joined */
	TREE_ROLE_ORIGIN,	/* TREE_ORIGIN */
	TREE_ROLE_CANDIDATE,	/* joined, not yet verified: a leaf */
	TREE_ROLE_REPEATER,	/* verified: two child slots */
	TREE_ROLE_NONREPEATER,	/* failed or random: a leaf, with a reason */
	TREE_ROLE_COUNT
};

enum tree_event_kind {
	TREE_EV_PLACED = 0,	/* had no parent, now has new_parent */
	TREE_EV_MOVED,		/* from old_parent to new_parent */
	TREE_EV_ORPHANED	/* no compatible slot: now unplaced */
};

struct tree_event {
	uint32_t		node;
	uint32_t		old_parent;	/* TREE_NONE if it had none */
	uint32_t		new_parent;	/* TREE_NONE if ORPHANED */
	enum tree_event_kind	kind;
};

struct tree_counts {
	uint32_t	nodes;		/* joined, origin excluded */
	uint32_t	placed;
	uint32_t	unplaced;	/* the shortfall: joined, no slot */
	uint32_t	candidates;
	uint32_t	repeaters;
	uint32_t	nonrepeaters;
	uint32_t	max_depth;	/* 0 when only the origin is placed */
	uint32_t	free_slots;	/* on the origin and placed repeaters */
	uint32_t	origin_children;
	uint32_t	nat[TREE_NAT_COUNT];	/* joined nodes by NAT class */
	uint32_t	unplaced_random;	/* of which TREE_NAT_RANDOM */
};

struct tree;

/*
 * Makes a tree for handles 1..max_nodes (at most TREE_NODES_MAX) whose
 * origin offers origin_fanout slots (1..TREE_FANOUT_MAX; 0 means
 * TREE_FANOUT_DEFAULT). All memory is taken here: about 52 bytes a node.
 * Returns NULL on a bad argument or when memory is short.
 */
struct tree	*tree_create(uint32_t max_nodes, uint32_t origin_fanout);
/* Frees the tree; accepts NULL. */
void		 tree_free(struct tree *t);

/*
 * Joins node id with its NAT class and places it if a slot is free (a
 * PLACED or ORPHANED event follows). -1 if id is out of range or already
 * joined, or nat is not a class.
 */
int	tree_join(struct tree *t, uint32_t id, enum tree_nat nat);
/*
 * Ends a candidate's verification: ok makes it a repeater (which may move
 * to a shallower slot), otherwise a non-repeater with reason (kept, not
 * copied: a string that outlives the tree, such as a literal). Unplaced
 * nodes may then be placed. -1 if id is not a candidate.
 */
int	tree_verify(struct tree *t, uint32_t id, int ok, const char *reason);
/*
 * Makes a repeater a non-repeater with reason: its children move
 * elsewhere and it is placed again as a leaf. -1 if id is not a repeater.
 */
int	tree_demote(struct tree *t, uint32_t id, const char *reason);
/* Removes node id and repairs the tree at once. -1 if id is not joined. */
int	tree_leave(struct tree *t, uint32_t id);

/*
 * Copies up to max pending events, oldest first, and forgets them. Events
 * are coalesced: a node that moved twice is reported once, from its parent
 * before the first move to its parent now; one that moved back is not
 * reported; one that left is not reported. Returns the number copied.
 */
size_t	tree_drain(struct tree *t, struct tree_event *ev, size_t max);
/* Number of nodes with an event pending. */
size_t	tree_pending(const struct tree *t);

/* Queries. The origin answers too. */
enum tree_role	tree_role(const struct tree *t, uint32_t id);
/* The class given at join; -1 if id is not joined (the origin: -1). */
int		tree_nat(const struct tree *t, uint32_t id);
/* A non-repeater's reason, else NULL. */
const char	*tree_reason(const struct tree *t, uint32_t id);
/* Parent, or TREE_NONE if id is unplaced, not joined or the origin. */
uint32_t	tree_parent(const struct tree *t, uint32_t id);
/* Depth (origin 0, its children 1), or -1 if id is not placed. */
int		tree_depth(const struct tree *t, uint32_t id);
/*
 * Writes up to max children of id to out (at most 2, or the origin's
 * fanout) and returns how many id has, or -1 if id is not placed.
 */
int		tree_children(const struct tree *t, uint32_t id, uint32_t *out,
		    size_t max);
/*
 * Writes the handles from the origin down to id into out and returns how
 * many (depth + 1); -1 if id is not placed or max is less than that.
 */
int		tree_path(const struct tree *t, uint32_t id, uint32_t *out,
		    size_t max);
void		tree_counts(const struct tree *t, struct tree_counts *c);
uint32_t	tree_max_nodes(const struct tree *t);
uint32_t	tree_fanout(const struct tree *t);
/* Bytes the tree holds. */
size_t		tree_memory(const struct tree *t);
const char	*tree_role_name(enum tree_role role);
const char	*tree_nat_name(enum tree_nat nat);

/*
 * Checks every invariant, in O(nodes): each placed node reachable from the
 * origin, depths consistent, at most two children per repeater (fanout for
 * the origin), no candidate or non-repeater with a child, no random node
 * under a parent that is not open, the free-slot and leaf structures, the
 * counters and the event queue. Returns 0, or -1 with the first violation
 * in err. For tests.
 */
int	tree_check(const struct tree *t, char *err, size_t errlen);

#endif
