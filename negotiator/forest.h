/* The trees of the negotiator's channels: tree/ driven by the registry
 * (DESIGN.md, "Tree manager"). One tree per channel that has an origin;
 * a node's handle in it is its registry slot + 1, the origin is
 * TREE_ORIGIN. It also queues the candidates for the verifier and counts
 * real children's failed links into each repeater.
 *
 * Not thread-safe: the server calls it under its lock. */
#ifndef TREECAST_FOREST_H
#define TREECAST_FOREST_H

#include <stdint.h>

#include "tree/tree.h"

#define FOREST_TREES_MAX	16	/* channels with an origin at once */
#define FOREST_DEMOTE_AFTER	3	/* children's failed links in a row */

struct forest;

/*
 * The forest's counters, one row each: X(name, json, metric, labels,
 * help). json names it in /api/stats, metric and labels in /metrics
 * (treecast_METRIC_total{LABELS}); a row with help "" is another sample of
 * the metric of the row above it.
 */
#define FOREST_COUNTERS(X)						\
	X(joins, "tree_joins", "tree_joins", "",			\
	    "Nodes that joined a tree.")				\
	X(departures, "tree_departures", "tree_departures", "",		\
	    "Nodes gone from a tree.")					\
	X(moves, "tree_moves", "tree_repairs", "",			\
	    "Nodes the tree moved to another parent.")			\
	X(verified, "tree_verified", "tree_verified", "{by=\"verifier\"}", \
	    "Candidates made repeaters, by whose punch.")		\
	X(verified_by_child, "tree_verified_by_child", "tree_verified",	\
	    "{by=\"child\"}", "")					\
	X(verify_failed, "tree_verify_failed", "tree_verify_failed", "", \
	    "Candidates made non-repeaters by a failed verification.")	\
	X(demoted, "tree_demoted", "tree_demoted", "",			\
	    "Repeaters demoted after their children's links failed.")	\
	X(demoted_lag, "tree_demoted_lag", "tree_demoted_lag", "",	\
	    "Repeaters demoted because their children lagged (upload too " \
	    "small).")							\
	X(no_tree, "origins_without_tree", "origins_without_tree", "",	\
	    "Origins refused a tree: FOREST_TREES_MAX channels have one.")

struct forest_stats {
#define FOREST_STATS_FIELD(name, json, metric, labels, help)		\
	uint64_t name;
	FOREST_COUNTERS(FOREST_STATS_FIELD)
#undef FOREST_STATS_FIELD
};

/* The tree changed the parent of the node in slot (channel ch) to the
 * node in parent (TREE_NONE: it has none now). Called under the caller's
 * lock, from the call that changed the tree. */
typedef void (*forest_move_cb)(void *arg, int ch, uint32_t slot,
	    uint32_t parent);

/* For up to max_nodes registry slots. NULL when memory is short. */
struct nat_profile;
/* A node's class for the tree, from its NAT profile: a random allocator
 * behind an address-dependent NAT is never a parent (DESIGN.md, "NAT
 * profile"); a node anyone can reach unsolicited, or whose mapping is
 * endpoint-independent (birthday punching joins it with a random one,
 * net/link/link-birthday.c), is a parent such a node can have. */
enum tree_nat forest_nat(const struct nat_profile *p);

struct forest *forest_create(uint32_t max_nodes);
void	forest_free(struct forest *f);
/* Tells cb (NULL: no one) of every move, so nodes can be told at once
 * rather than at their next keepalive. */
void	forest_on_move(struct forest *f, forest_move_cb cb, void *arg);

/* An origin registered on channel ch in slot, serving fanout children:
 * its channel's tree is made anew (kept, if the same slot's origin
 * registers again). -1 when FOREST_TREES_MAX channels have one already,
 * or memory is short. */
int	forest_origin(struct forest *f, int ch, uint32_t slot,
	    uint32_t fanout);
/* The node in slot (on channel ch) is gone: left, expired, registered
 * again. An origin takes its tree with it. */
void	forest_gone(struct forest *f, int ch, uint32_t slot);

/*
 * A peer asks for a parent (JOIN). A node new to the tree joins it with
 * its NAT class: a random allocator, or one that serves no children, is a
 * non-repeater at once; the others are candidates, queued for the
 * verifier with gen (the registry's generation of the slot). Returns 0
 * with *parent the parent's slot (TREE_NONE while the tree has no slot
 * for it), or -1 when the channel has no tree.
 */
int	forest_join(struct forest *f, int ch, uint32_t slot, uint32_t gen,
	    enum tree_nat nat, uint32_t fanout, uint32_t *parent);
/* Where slot sits: 0 with its parent's slot (or TREE_NONE, unplaced), -1
 * when it is not in a tree. */
int	forest_parent(const struct forest *f, int ch, uint32_t slot,
	    uint32_t *parent);
/* Writes up to max of slot's children (registry slots) to out and returns
 * how many it has; -1 when it is not placed in ch's tree. */
int	forest_children(const struct forest *f, int ch, uint32_t slot,
	    uint32_t *out, size_t max);
/* The slot of channel ch's origin, TREE_NONE if it has no tree. */
uint32_t forest_origin_slot(const struct forest *f, int ch);

/* The next candidate to verify: 0 with its slot and gen, -1 if none. The
 * caller checks that the slot still holds that generation. */
int	forest_next_candidate(struct forest *f, uint32_t *slot, uint32_t *gen);
/* A candidate the verifier could not try goes back to the queue's end. */
void	forest_requeue(struct forest *f, int ch, uint32_t slot, uint32_t gen);
/* The verifier's (or a real child's, by_child) verdict on slot. A
 * candidate becomes a repeater or a non-repeater with reason (a string
 * that outlives the forest). A failure counts against a repeater, which is
 * demoted after FOREST_DEMOTE_AFTER in a row; a success clears the count.
 * Returns 1 when the node's role changed, 0 if not, -1 if not in a tree. */
int	forest_verdict(struct forest *f, int ch, uint32_t slot, int ok,
	    const char *reason, int by_child);

/* A report of a child of the repeater in slot: lagging (taking in less
 * than the repeater does) or keeping up. FOREST_DEMOTE_AFTER lagging
 * reports in a row, none keeping up between, demote it to a non-repeater
 * (its children are moved). Returns 1 when it was demoted, 0 if not, -1
 * if slot is no repeater of ch's tree. */
int	forest_lag(struct forest *f, int ch, uint32_t slot, int lagging);

/*
 * A child's accusation (ACCUSE): the node in parent relayed it chunks that
 * fail the channel's signature. Believed only from parent's own child in
 * the tree: then parent is cut off at once, as forest_verdict demotes a
 * repeater (a non-repeater, its children placed elsewhere), with reason.
 * Returns 1 when it was cut off, 0 when it was believed but was no
 * repeater to cut, -1 when child is not parent's child (or either is not
 * in the tree, or parent is the origin).
 */
int	forest_accuse(struct forest *f, int ch, uint32_t child, uint32_t parent,
	    const char *reason);

/* Channel ch's tree for reading (NULL: none), and the channel of a tree
 * index 0..FOREST_TREES_MAX-1 (-1: unused), for the status page. */
const struct tree *forest_tree(const struct forest *f, int ch);
int	forest_channel_at(const struct forest *f, int i);
const struct forest_stats *forest_stats(const struct forest *f);
size_t	forest_memory(const struct forest *f);

#endif
