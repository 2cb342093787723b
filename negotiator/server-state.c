/* The node state (server-int.h, struct server_state): the registry, the
 * channels, the forest, the fanouts and the nodes' health under one lock;
 * what is done to it under that lock; and the view that the HTTP side
 * and the verifier read it through. */
#include "config.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/registry.h"
#include "negotiator/server-int.h"
#include "negotiator/server.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"

int
server_state_init(struct server_state *ns, uint32_t max_nodes, char *err,
    size_t errlen)
{
	uint8_t hashkey[REGISTRY_KEY_LEN];

	randombytes_buf(hashkey, sizeof hashkey);
	pthread_mutex_init(&ns->lock, NULL);
	ns->max_nodes = max_nodes;
	if ((ns->fanout = calloc(max_nodes, 1)) == NULL ||
	    (ns->health = calloc(max_nodes, sizeof *ns->health)) == NULL ||
	    (ns->addr6 = calloc(max_nodes, sizeof *ns->addr6)) == NULL ||
	    (ns->forest = forest_create(max_nodes)) == NULL ||
	    (ns->reg = registry_create(max_nodes, hashkey)) == NULL ||
	    (ns->channels = channels_create()) == NULL) {
		snprintf(err, errlen, "cannot allocate a registry of %u nodes",
		    max_nodes);
		return -1;
	}
	return 0;
}

/* Frees what server_state_init took, whether or not it got it all (the
 * state zeroed before it). */
void
server_state_free(struct server_state *ns)
{
	registry_free(ns->reg);
	channels_free(ns->channels);
	free(ns->fanout);
	free(ns->health);
	free(ns->addr6);
	forest_free(ns->forest);
	pthread_mutex_destroy(&ns->lock);
}

/* Adds a peer's playout figures to a sum, or takes them away. */
static void
server_playout_count(struct server_playout *sum, const struct tc_health *h,
    int add)
{
	sum->played_ms = add ? sum->played_ms + h->played_ms :
	    sum->played_ms - h->played_ms;
	sum->stalled_ms = add ? sum->stalled_ms + h->stalled_ms :
	    sum->stalled_ms - h->stalled_ms;
	sum->stalls = add ? sum->stalls + h->stalls : sum->stalls - h->stalls;
}

/* Adds a node's health to the sums by channel, or takes it away. */
static void
server_offload_count(struct server_state *ns, const struct server_health *sh,
    int add)
{
	uint64_t *ch, *all, v;

	if (sh->at_ms == 0)
		return;
	if (sh->role == TC_ROLE_PEER) {
		server_playout_count(&ns->playout[sh->channel], &sh->h, add);
		server_playout_count(&ns->playout_all, &sh->h, add);
	}
	if (sh->role == TC_ROLE_ORIGIN) {
		ch = &ns->origin_out[sh->channel];
		all = &ns->origin_out_all;
		v = sh->h.bytes_out;
	} else if (sh->role == TC_ROLE_PEER) {
		ch = &ns->delivered[sh->channel];
		all = &ns->delivered_all;
		v = sh->h.bytes_in;
	} else
		return;
	*ch = add ? *ch + v : *ch - v;
	*all = add ? *all + v : *all - v;
}

void
server_state_set_health(struct server_state *ns, uint32_t slot,
    const struct reg_node *n, const struct server_health *sh)
{
	struct server_health *h = &ns->health[slot];

	server_offload_count(ns, h, 0);
	if (sh == NULL) {
		memset(h, 0, sizeof *h);
		return;
	}
	*h = *sh;
	h->channel = n->channel;
	h->role = n->role;
	server_offload_count(ns, h, 1);
}

/* The node in slot is gone from the registry or registers again: out
 * of its channel's tree, figures forgotten. Under the lock. */
void
server_state_untree(struct server_state *ns, uint32_t slot)
{
	const struct reg_node *n = registry_node_const(ns->reg, slot);

	if (n != NULL)
		forest_gone(ns->forest, n->channel, slot);
	server_state_set_health(ns, slot, NULL, NULL);
}

/* Drops the node in slot from the registry (it left, or it went silent
 * while its children lost it). Under the lock. */
void
server_state_drop(struct server_state *ns, uint32_t slot)
{
	server_state_untree(ns, slot);
	channels_unref(ns->channels, registry_node(ns->reg, slot)->channel);
	registry_remove(ns->reg, slot);
}

/* The standby parent of a node whose parent is in slot parent (TREE_NONE:
 * none): that parent's own parent, the origin too; 0 when there is none.
 * A node bridges a repair from it (README, "The tree"). Under the lock. */
uint64_t
server_state_standby(const struct server_state *ns, int ch, uint32_t parent)
{
	const struct reg_node *g;
	uint32_t gp;

	if (parent == TREE_NONE ||
	    forest_parent(ns->forest, ch, parent, &gp) != 0 ||
	    gp == TREE_NONE || (g = registry_node_const(ns->reg, gp)) == NULL)
		return 0;
	return g->node_id;
}

/* A node reachable over IPv6 (no NAT there, a stateful firewall that
 * punching opens) is a repeater candidate even behind a random IPv4 NAT;
 * the verifier's punch, over IPv6 then, decides. Not one for random
 * children, which reach it over IPv4: a predictable parent. */
enum tree_nat
server_state_tree_nat(const struct server_state *ns, uint32_t slot,
    const struct reg_node *n)
{
	struct nat_profile p;
	enum tree_nat nat;
	struct sockaddr_storage a6;

	memset(&p, 0, sizeof p);
	nat_profile_decode(n->profile, sizeof n->profile, &p);
	nat = forest_nat(&p);
	if (nat == TREE_NAT_RANDOM && server_state_addr6(ns, slot, &a6))
		nat = TREE_NAT_PREDICTABLE;
	return nat;
}

void
server_state_set_addr6(struct server_state *ns, uint32_t slot,
    const struct sockaddr *sa)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;

	if (sa != NULL && sa->sa_family == AF_INET6)
		memcpy(ns->addr6[slot], &a6->sin6_addr, 16);
	else
		memset(ns->addr6[slot], 0, 16);
}

int
server_state_addr6(const struct server_state *ns, uint32_t slot,
    struct sockaddr_storage *ss)
{
	static const uint8_t none[16];
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	if (memcmp(ns->addr6[slot], none, 16) == 0)
		return 0;
	memset(ss, 0, sizeof *ss);
	a6->sin6_family = AF_INET6;
	memcpy(&a6->sin6_addr, ns->addr6[slot], 16);
	return 1;
}

void
server_view_begin(struct server *s, struct server_view *snap)
{
	struct server_state *ns = &s->ns;

	pthread_mutex_lock(&ns->lock);
	snap->reg = ns->reg;
	snap->channels = ns->channels;
	snap->forest = ns->forest;
	snap->nodes = registry_count(ns->reg);
	snap->registry_bytes = registry_bytes(ns->reg);
	snap->forest_stats = *forest_stats(ns->forest);
	snap->clock = server_clock(s);
	snap->clock_ms = server_clock_ms(s);
	snap->ns = ns;
}

void
server_view_end(struct server *s, struct server_view *snap)
{
	snap->reg = NULL;
	snap->channels = NULL;
	snap->forest = NULL;
	snap->ns = NULL;
	pthread_mutex_unlock(&s->ns.lock);
}

int
server_view_addr6(const struct server_view *snap, uint32_t slot,
    struct sockaddr_storage *ss)
{
	return server_state_addr6(snap->ns, slot, ss);
}

const struct server_health *
server_view_health(const struct server_view *snap, uint32_t slot)
{
	const struct server_state *ns = snap->ns;

	if (slot >= ns->max_nodes || ns->health[slot].at_ms == 0)
		return NULL;
	return &ns->health[slot];
}

void
server_view_offload(const struct server_view *snap, int ch,
    uint64_t *origin_out, uint64_t *delivered)
{
	const struct server_state *ns = snap->ns;

	if (ch < 0) {
		*origin_out = ns->origin_out_all;
		*delivered = ns->delivered_all;
	} else if (ch < CHANNELS_MAX) {
		*origin_out = ns->origin_out[ch];
		*delivered = ns->delivered[ch];
	} else
		*origin_out = *delivered = 0;
}

void
server_view_playout(const struct server_view *snap, int ch,
    struct server_playout *out)
{
	static const struct server_playout none;
	const struct server_state *ns = snap->ns;

	*out = ch < 0 ? ns->playout_all : ch < CHANNELS_MAX ?
	    ns->playout[ch] : none;
}

uint32_t
server_nodes(struct server *s)
{
	uint32_t n;

	pthread_mutex_lock(&s->ns.lock);
	n = registry_count(s->ns.reg);
	pthread_mutex_unlock(&s->ns.lock);
	return n;
}

const struct registry *
server_lock_registry(struct server *s)
{
	pthread_mutex_lock(&s->ns.lock);
	return s->ns.reg;
}

void
server_unlock_registry(struct server *s)
{
	pthread_mutex_unlock(&s->ns.lock);
}

const struct forest *
server_forest_locked(struct server *s)
{
	return s->ns.forest;
}

int
server_next_candidate(struct server *s, uint64_t *node_id, uint64_t *token)
{
	const struct reg_node *n;
	uint32_t slot, gen;
	int rc = -1;

	pthread_mutex_lock(&s->ns.lock);
	while (rc != 0 && forest_next_candidate(s->ns.forest, &slot, &gen) == 0) {
		if ((n = registry_node_const(s->ns.reg, slot)) == NULL ||
		    n->gen != gen)
			continue;	/* gone meanwhile */
		*node_id = n->node_id;
		*token = (uint64_t)gen << 32 | slot;
		rc = 0;
	}
	pthread_mutex_unlock(&s->ns.lock);
	return rc;
}

void
server_retry(struct server *s, uint64_t token)
{
	const struct reg_node *n;
	uint32_t slot = (uint32_t)token, gen = (uint32_t)(token >> 32);

	pthread_mutex_lock(&s->ns.lock);
	if ((n = registry_node_const(s->ns.reg, slot)) != NULL && n->gen == gen)
		forest_requeue(s->ns.forest, n->channel, slot, gen);
	pthread_mutex_unlock(&s->ns.lock);
}

void
server_verdict(struct server *s, uint64_t token, int ok, const char *reason)
{
	const struct reg_node *n;
	uint32_t slot = (uint32_t)token;

	pthread_mutex_lock(&s->ns.lock);
	if ((n = registry_node_const(s->ns.reg, slot)) != NULL &&
	    n->gen == (uint32_t)(token >> 32))
		forest_verdict(s->ns.forest, n->channel, slot, ok, reason, 0);
	pthread_mutex_unlock(&s->ns.lock);
}
