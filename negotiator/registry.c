/* The node registry: a fixed pool of records with a free list, a chained
 * hash from node id to slot, a clock sweep for expiry, and a two-level
 * bitmap of the occupied slots for walking only those. */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "negotiator/registry.h"

struct registry {
	struct reg_node	*nodes;
	uint32_t	*heads;		/* hash buckets: first slot or REG_NONE */
	uint32_t	 max;
	uint32_t	 nbuckets;	/* a power of two >= max */
	uint32_t	 count;
	uint32_t	 high;		/* slots below this have been used */
	uint32_t	 free_head;	/* free list through hnext */
	uint32_t	 sweep_at;	/* the clock hand */
	uint32_t	 gen_next;
	uint8_t		 key[REGISTRY_KEY_LEN];
	uint64_t	*occ;		/* bit s: slot s holds a node */
	uint64_t	*occ_words;	/* bit w: occ[w] is not 0 */
	uint32_t	 nwords;	/* in occ_words */
};

static void
registry_occupy(struct registry *r, uint32_t s)
{
	r->occ[s / 64] |= 1ull << (s % 64);
	r->occ_words[s / 4096] |= 1ull << (s / 64 % 64);
}

static void
registry_vacate(struct registry *r, uint32_t s)
{
	if ((r->occ[s / 64] &= ~(1ull << (s % 64))) == 0)
		r->occ_words[s / 4096] &= ~(1ull << (s / 64 % 64));
}

static uint32_t
registry_bucket(const struct registry *r, uint64_t node_id)
{
	uint8_t in[8], out[crypto_shorthash_BYTES];
	uint32_t h;

	memcpy(in, &node_id, sizeof in);
	crypto_shorthash(out, in, sizeof in, r->key);
	memcpy(&h, out, sizeof h);
	return h & (r->nbuckets - 1);
}

struct registry *
registry_create(uint32_t max, const uint8_t key[REGISTRY_KEY_LEN])
{
	struct registry *r;
	uint32_t i;

	if (max == 0 || max >= REG_NONE / 2)
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->max = max;
	memcpy(r->key, key, sizeof r->key);
	for (r->nbuckets = 1; r->nbuckets < max; r->nbuckets <<= 1)
		;
	/* calloc: pages of the pool are touched only as slots are used. */
	r->nodes = calloc(max, sizeof *r->nodes);
	r->heads = malloc((size_t)r->nbuckets * sizeof *r->heads);
	r->nwords = (max + 4095) / 4096;
	r->occ = calloc((size_t)r->nwords * 64, sizeof *r->occ);
	r->occ_words = calloc(r->nwords, sizeof *r->occ_words);
	if (r->nodes == NULL || r->heads == NULL || r->occ == NULL ||
	    r->occ_words == NULL) {
		registry_free(r);
		return NULL;
	}
	for (i = 0; i < r->nbuckets; i++)
		r->heads[i] = REG_NONE;
	r->free_head = REG_NONE;
	r->gen_next = 1;
	return r;
}

void
registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	free(r->nodes);
	free(r->heads);
	free(r->occ);
	free(r->occ_words);
	free(r);
}

static uint32_t
registry_new_gen(struct registry *r)
{
	uint32_t g = r->gen_next++;

	if (r->gen_next == 0)
		r->gen_next = 1;	/* 0 marks a free slot */
	return g;
}

uint32_t
registry_find(const struct registry *r, uint64_t node_id)
{
	uint32_t s;

	for (s = r->heads[registry_bucket(r, node_id)]; s != REG_NONE;
	    s = r->nodes[s].hnext)
		if (r->nodes[s].node_id == node_id)
			return s;
	return REG_NONE;
}

uint32_t
registry_register(struct registry *r, uint64_t node_id, uint32_t now,
    uint64_t *session)
{
	struct reg_node *n;
	uint32_t s, b;

	if ((s = registry_find(r, node_id)) == REG_NONE) {
		if (r->free_head != REG_NONE) {
			s = r->free_head;
			r->free_head = r->nodes[s].hnext;
		} else if (r->high < r->max)
			s = r->high++;
		else
			return REG_NONE;
		n = &r->nodes[s];
		memset(n, 0, sizeof *n);
		n->node_id = node_id;
		b = registry_bucket(r, node_id);
		n->hnext = r->heads[b];
		r->heads[b] = s;
		r->count++;
		registry_occupy(r, s);
	}
	n = &r->nodes[s];
	n->gen = registry_new_gen(r);
	n->last_seq = 0;
	n->seq_win = 0;
	n->seen = now;
	*session = (uint64_t)n->gen << 32 | s;
	return s;
}

uint32_t
registry_session(const struct registry *r, uint64_t session)
{
	uint32_t s = (uint32_t)session, gen = (uint32_t)(session >> 32);

	if (s >= r->high || gen == 0 || r->nodes[s].gen != gen)
		return REG_NONE;
	return s;
}

struct reg_node *
registry_node(struct registry *r, uint32_t slot)
{
	if (slot >= r->high || r->nodes[slot].gen == 0)
		return NULL;
	return &r->nodes[slot];
}

const struct reg_node *
registry_node_const(const struct registry *r, uint32_t slot)
{
	if (slot >= r->high || r->nodes[slot].gen == 0)
		return NULL;
	return &r->nodes[slot];
}

void
registry_remove(struct registry *r, uint32_t slot)
{
	struct reg_node *n;
	uint32_t *p;

	if ((n = registry_node(r, slot)) == NULL)
		return;
	for (p = &r->heads[registry_bucket(r, n->node_id)]; *p != REG_NONE;
	    p = &r->nodes[*p].hnext) {
		if (*p == slot) {
			*p = n->hnext;
			break;
		}
	}
	n->gen = 0;
	explicit_bzero(n->key, sizeof n->key);
	n->hnext = r->free_head;
	r->free_head = slot;
	r->count--;
	registry_vacate(r, slot);
}

uint32_t
registry_sweep(struct registry *r, uint32_t now, uint32_t timeout,
    uint32_t period, void (*gone)(void *, uint32_t, const struct reg_node *),
    void *arg)
{
	uint32_t share, end, s, removed = 0;

	if (r->high == 0)
		return 0;
	if (period == 0)
		period = 1;
	share = r->high / period + 1;
	if (r->sweep_at >= r->high)
		r->sweep_at = 0;
	end = r->sweep_at + share;
	if (end > r->high)
		end = r->high;
	for (s = r->sweep_at; s < end; s++) {
		struct reg_node *n = &r->nodes[s];

		if (n->gen == 0 || now - n->seen <= timeout)
			continue;
		if (gone != NULL)
			gone(arg, s, n);
		registry_remove(r, s);
		removed++;
	}
	r->sweep_at = end;
	return removed;
}

uint32_t
registry_count(const struct registry *r)
{
	return r->count;
}

uint32_t
registry_high_water(const struct registry *r)
{
	return r->high;
}

uint32_t
registry_next(const struct registry *r, uint32_t slot)
{
	uint64_t bits;
	uint32_t w, sw;

	if (slot >= r->high)
		return REG_NONE;
	w = slot / 64;
	if ((bits = r->occ[w] & ~0ull << (slot % 64)) != 0)
		return w * 64 + (uint32_t)__builtin_ctzll(bits);
	/* The next word with a node in it, by the words' own bitmap. */
	if (++w / 64 >= r->nwords)
		return REG_NONE;
	sw = w / 64;
	bits = r->occ_words[sw] & ~0ull << (w % 64);
	while (bits == 0) {
		if (++sw >= r->nwords)
			return REG_NONE;
		bits = r->occ_words[sw];
	}
	w = sw * 64 + (uint32_t)__builtin_ctzll(bits);
	return w * 64 + (uint32_t)__builtin_ctzll(r->occ[w]);
}

size_t
registry_bytes(const struct registry *r)
{
	return (size_t)r->high * sizeof(struct reg_node) +
	    (size_t)r->nbuckets * sizeof(uint32_t) +
	    ((size_t)(r->high + 63) / 64 + r->nwords) * sizeof(uint64_t);
}

void
reg_addr_store(const struct sockaddr *sa, uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(ip, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	} else
		*port = 0;
}

void
reg_addr_load(const uint8_t ip[16], uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	static const uint8_t v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	memset(ss, 0, sizeof *ss);
	if (memcmp(ip, v4mapped, 12) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, ip + 12, 4);
		in->sin_port = htons(port);
		*len = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, ip, 16);
		in6->sin6_port = htons(port);
		*len = sizeof *in6;
	}
}
