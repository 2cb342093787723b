/* The trees of the negotiator's channels. */
#include <stdlib.h>
#include <string.h>

#include "negotiator/forest.h"
#include "net/wire/nat.h"

struct forest_tree {
	int		 ch;		/* -1: unused */
	struct tree	*t;
	uint32_t	 origin;	/* the origin's slot */
};

struct forest {
	uint32_t		 max_nodes;
	struct forest_tree	 trees[FOREST_TREES_MAX];
	uint8_t			*fails;		/* by slot: children's failures */
	uint8_t			*lags;		/* by slot: children's lag */
	uint32_t		*qslot, *qgen;	/* candidates to verify, a ring */
	uint32_t		 qhead, qlen;
	struct forest_stats	 st;
	forest_move_cb		 on_move;
	void			*on_move_arg;
};

enum tree_nat
forest_nat(const struct nat_profile *p)
{
	if (!nat_predictable(p))
		return TREE_NAT_RANDOM;
	return nat_reachable(p) || p->mapping == NAT_MAPPING_EIM ||
	    p->mapping == NAT_MAPPING_NONE ? TREE_NAT_OPEN :
	    TREE_NAT_PREDICTABLE;
}

struct forest *
forest_create(uint32_t max_nodes)
{
	struct forest *f;
	int i;

	if (max_nodes == 0 || max_nodes > TREE_NODES_MAX ||
	    (f = calloc(1, sizeof *f)) == NULL)
		return NULL;
	f->max_nodes = max_nodes;
	for (i = 0; i < FOREST_TREES_MAX; i++)
		f->trees[i].ch = -1;
	/* calloc: pages are touched only as nodes join a tree. */
	f->fails = calloc(max_nodes, 1);
	f->lags = calloc(max_nodes, 1);
	f->qslot = calloc(max_nodes, sizeof *f->qslot);
	f->qgen = calloc(max_nodes, sizeof *f->qgen);
	if (f->fails == NULL || f->lags == NULL || f->qslot == NULL ||
	    f->qgen == NULL) {
		forest_free(f);
		return NULL;
	}
	return f;
}

void
forest_free(struct forest *f)
{
	int i;

	if (f == NULL)
		return;
	for (i = 0; i < FOREST_TREES_MAX; i++)
		tree_free(f->trees[i].t);
	free(f->fails);
	free(f->lags);
	free(f->qslot);
	free(f->qgen);
	free(f);
}

static struct forest_tree *
forest_find(const struct forest *f, int ch)
{
	int i;

	for (i = 0; i < FOREST_TREES_MAX; i++)
		if (f->trees[i].ch == ch && ch >= 0)
			return (struct forest_tree *)&f->trees[i];
	return NULL;
}

/* Tree handle to registry slot. */
static uint32_t
forest_slot(const struct forest_tree *ft, uint32_t handle)
{
	if (handle == TREE_NONE)
		return TREE_NONE;
	return handle == TREE_ORIGIN ? ft->origin : handle - 1;
}

/* The tree queues every change of parent for its caller: each is counted
 * (placements apart) and told to on_move, except the joining node's own
 * placement (handle self), which its JOIN's answer tells. */
static void
forest_drain(struct forest *f, struct forest_tree *ft, uint32_t self)
{
	struct tree_event ev[64];
	size_t n, i;

	while ((n = tree_drain(ft->t, ev, 64)) > 0)
		for (i = 0; i < n; i++) {
			if (ev[i].kind != TREE_EV_PLACED)
				f->st.moves++;
			if (f->on_move != NULL && ev[i].node != self &&
			    ev[i].node != TREE_ORIGIN)
				f->on_move(f->on_move_arg, ft->ch,
				    forest_slot(ft, ev[i].node),
				    forest_slot(ft, ev[i].new_parent));
		}
}

void
forest_on_move(struct forest *f, forest_move_cb cb, void *arg)
{
	f->on_move = cb;
	f->on_move_arg = arg;
}

int
forest_origin(struct forest *f, int ch, uint32_t slot, uint32_t fanout)
{
	struct forest_tree *ft = forest_find(f, ch);
	int i;

	if (ft == NULL)
		for (i = 0; i < FOREST_TREES_MAX && ft == NULL; i++)
			if (f->trees[i].ch == -1)
				ft = &f->trees[i];
	if (ft == NULL) {
		f->st.no_tree++;
		return -1;
	}
	if (ft->t != NULL && ft->origin == slot)
		return 0;	/* the same origin, registered again */
	tree_free(ft->t);
	ft->ch = -1;
	if ((ft->t = tree_create(f->max_nodes, fanout > 0 ? fanout :
	    TREE_FANOUT_DEFAULT)) == NULL)
		return -1;
	ft->ch = ch;
	ft->origin = slot;
	return 0;
}

void
forest_gone(struct forest *f, int ch, uint32_t slot)
{
	struct forest_tree *ft = forest_find(f, ch);

	if (slot < f->max_nodes)
		f->fails[slot] = f->lags[slot] = 0;
	if (ft == NULL)
		return;
	if (slot == ft->origin) {
		/* The nodes lose their links and ask again, to the next
		 * origin's tree. */
		tree_free(ft->t);
		ft->t = NULL;
		ft->ch = -1;
		return;
	}
	if (tree_leave(ft->t, slot + 1) == 0) {
		f->st.departures++;
		forest_drain(f, ft, TREE_NONE);
	}
}

/* Queues a candidate for the verifier, when it joins or when the verifier
 * could not try it; the queue has room for max_nodes. */
static void
forest_enqueue(struct forest *f, uint32_t slot, uint32_t gen)
{
	uint32_t at;

	if (f->qlen >= f->max_nodes)
		return;
	at = (f->qhead + f->qlen) % f->max_nodes;
	f->qslot[at] = slot;
	f->qgen[at] = gen;
	f->qlen++;
}

int
forest_join(struct forest *f, int ch, uint32_t slot, uint32_t gen,
    enum tree_nat nat, uint32_t fanout, uint32_t *parent)
{
	struct forest_tree *ft = forest_find(f, ch);
	uint32_t h = slot + 1;

	if (ft == NULL || slot >= f->max_nodes)
		return -1;
	if (tree_role(ft->t, h) == TREE_ROLE_NONE) {
		if (tree_join(ft->t, h, nat) != 0)
			return -1;
		f->st.joins++;
		f->fails[slot] = 0;
		if (nat != TREE_NAT_RANDOM && fanout < 2)
			tree_verify(ft->t, h, 0,
			    "relays to fewer than two children");
		else if (nat != TREE_NAT_RANDOM)
			forest_enqueue(f, slot, gen);
		forest_drain(f, ft, h);
	}
	*parent = forest_slot(ft, tree_parent(ft->t, h));
	return 0;
}

int
forest_parent(const struct forest *f, int ch, uint32_t slot,
    uint32_t *parent)
{
	const struct forest_tree *ft = forest_find(f, ch);

	if (ft == NULL || tree_role(ft->t, slot + 1) == TREE_ROLE_NONE)
		return -1;
	*parent = forest_slot(ft, tree_parent(ft->t, slot + 1));
	return 0;
}

int
forest_children(const struct forest *f, int ch, uint32_t slot,
    uint32_t *out, size_t max)
{
	const struct forest_tree *ft = forest_find(f, ch);
	int n, i;

	if (ft == NULL || tree_role(ft->t, slot + 1) == TREE_ROLE_NONE ||
	    (n = tree_children(ft->t, slot + 1, out, max)) < 0)
		return -1;
	for (i = 0; i < n && (size_t)i < max; i++)
		out[i] = forest_slot(ft, out[i]);
	return n;
}

uint32_t
forest_origin_slot(const struct forest *f, int ch)
{
	const struct forest_tree *ft = forest_find(f, ch);

	return ft != NULL ? ft->origin : TREE_NONE;
}

void
forest_requeue(struct forest *f, int ch, uint32_t slot, uint32_t gen)
{
	struct forest_tree *ft = forest_find(f, ch);

	if (ft != NULL && slot < f->max_nodes &&
	    tree_role(ft->t, slot + 1) == TREE_ROLE_CANDIDATE)
		forest_enqueue(f, slot, gen);
}

int
forest_next_candidate(struct forest *f, uint32_t *slot, uint32_t *gen)
{
	if (f->qlen == 0)
		return -1;
	*slot = f->qslot[f->qhead];
	*gen = f->qgen[f->qhead];
	f->qhead = (f->qhead + 1) % f->max_nodes;
	f->qlen--;
	return 0;
}

/* Makes the repeater in slot a non-repeater: its children move at once.
 * The one path of failed links, lagging children and accusations. 1 when
 * it was a repeater, else 0. */
static int
forest_demote(struct forest *f, struct forest_tree *ft, uint32_t slot,
    const char *reason)
{
	f->fails[slot] = f->lags[slot] = 0;
	return tree_demote(ft->t, slot + 1, reason) == 0;
}

int
forest_verdict(struct forest *f, int ch, uint32_t slot, int ok,
    const char *reason, int by_child)
{
	struct forest_tree *ft = forest_find(f, ch);
	uint32_t h = slot + 1;
	int changed = 0;

	if (ft == NULL || slot >= f->max_nodes)
		return -1;
	switch (tree_role(ft->t, h)) {
	case TREE_ROLE_CANDIDATE:
		if (tree_verify(ft->t, h, ok, reason) != 0)
			return -1;
		if (!ok)
			f->st.verify_failed++;
		else if (by_child)
			f->st.verified_by_child++;
		else
			f->st.verified++;
		changed = 1;
		break;
	case TREE_ROLE_REPEATER:
		if (ok) {
			f->fails[slot] = 0;
			break;
		}
		if (++f->fails[slot] < FOREST_DEMOTE_AFTER)
			break;
		if ((changed = forest_demote(f, ft, slot, reason)))
			f->st.demoted++;
		break;
	case TREE_ROLE_NONE:
		return -1;
	default:
		break;
	}
	forest_drain(f, ft, TREE_NONE);
	return changed;
}

int
forest_lag(struct forest *f, int ch, uint32_t slot, int lagging)
{
	struct forest_tree *ft = forest_find(f, ch);
	uint32_t h = slot + 1;

	if (ft == NULL || slot >= f->max_nodes ||
	    tree_role(ft->t, h) != TREE_ROLE_REPEATER)
		return -1;
	if (!lagging) {
		f->lags[slot] = 0;
		return 0;
	}
	if (++f->lags[slot] < FOREST_DEMOTE_AFTER)
		return 0;
	if (!forest_demote(f, ft, slot,
	    "its children lag: its upload cannot carry them"))
		return -1;
	f->st.demoted_lag++;
	forest_drain(f, ft, TREE_NONE);
	return 1;
}

int
forest_accuse(struct forest *f, int ch, uint32_t child, uint32_t parent,
    const char *reason)
{
	struct forest_tree *ft = forest_find(f, ch);
	int cut;

	if (ft == NULL || child >= f->max_nodes || parent >= f->max_nodes ||
	    parent == ft->origin ||
	    tree_parent(ft->t, child + 1) != parent + 1)
		return -1;
	cut = forest_demote(f, ft, parent, reason);
	forest_drain(f, ft, TREE_NONE);
	return cut;
}

const struct tree *
forest_tree(const struct forest *f, int ch)
{
	const struct forest_tree *ft = forest_find(f, ch);

	return ft != NULL ? ft->t : NULL;
}

int
forest_channel_at(const struct forest *f, int i)
{
	return i >= 0 && i < FOREST_TREES_MAX ? f->trees[i].ch : -1;
}

const struct forest_stats *
forest_stats(const struct forest *f)
{
	return &f->st;
}

size_t
forest_memory(const struct forest *f)
{
	size_t n = sizeof *f + (size_t)f->max_nodes * 9;
	int i;

	for (i = 0; i < FOREST_TREES_MAX; i++)
		if (f->trees[i].t != NULL)
			n += tree_memory(f->trees[i].t);
	return n;
}
