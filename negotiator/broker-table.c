/* The broker's link table: lists of slots and the indexes that find a
 * link in O(1) (negotiator/broker-private.h). */
#include "config.h"

#include <sodium.h>

#include "negotiator/broker-private.h"

static uint32_t
bl_ref(const struct broker *br, const struct blink *l)
{
	return (uint32_t)(l - br->links) + 1;
}

void
bl_append(struct broker *br, struct bl_list *q, struct blink *l)
{
	l->next = 0;
	l->prev = q->tail;
	if (q->tail != 0)
		br->links[q->tail - 1].next = bl_ref(br, l);
	else
		q->head = bl_ref(br, l);
	q->tail = bl_ref(br, l);
}

void
bl_remove(struct broker *br, struct bl_list *q, struct blink *l)
{
	if (l->prev != 0)
		br->links[l->prev - 1].next = l->next;
	else
		q->head = l->next;
	if (l->next != 0)
		br->links[l->next - 1].prev = l->prev;
	else
		q->tail = l->prev;
	l->prev = l->next = 0;
}

/* The IX_ATID key: A's session, then its LINK's tid; its length. */
size_t
bl_atid_key(uint8_t k[IX_KEY_MAX], uint64_t session, const uint8_t tid[12])
{
	memcpy(k, &session, 8);
	memcpy(k + 8, tid, 12);
	return 20;
}

/* Link l's key in index ix, into k; its length. */
static size_t
bl_key(int ix, const struct blink *l, uint8_t k[IX_KEY_MAX])
{
	switch (ix) {
	case IX_ID:
		memcpy(k, &l->id, 8);
		return 8;
	case IX_ITID:
		memcpy(k, l->instruct_tid, 12);
		return 12;
	default:
		return bl_atid_key(k, l->a.session, l->a_tid);
	}
}

static uint32_t
bl_bucket(const struct broker *br, const uint8_t *k, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, k, n, br->hkey);
	memcpy(&v, h, sizeof v);
	return v & br->hmask;
}

void
bl_index(struct broker *br, struct blink *l)
{
	uint8_t k[IX_KEY_MAX];
	uint32_t b;
	int ix;

	for (ix = 0; ix < IX_COUNT; ix++) {
		b = bl_bucket(br, k, bl_key(ix, l, k));
		l->chain[ix] = br->heads[ix][b];
		br->heads[ix][b] = bl_ref(br, l);
	}
}

static void
bl_unindex(struct broker *br, struct blink *l)
{
	uint8_t k[IX_KEY_MAX];
	uint32_t *p;
	int ix;

	for (ix = 0; ix < IX_COUNT; ix++) {
		p = &br->heads[ix][bl_bucket(br, k, bl_key(ix, l, k))];
		while (*p != 0 && *p != bl_ref(br, l))
			p = &br->links[*p - 1].chain[ix];
		if (*p != 0)
			*p = l->chain[ix];
	}
}

/* The live link whose key in index ix is k, or NULL. */
struct blink *
bl_find(struct broker *br, int ix, const uint8_t *k, size_t n)
{
	uint8_t lk[IX_KEY_MAX];
	uint32_t i;
	struct blink *l;

	for (i = br->heads[ix][bl_bucket(br, k, n)]; i != 0;
	    i = l->chain[ix]) {
		l = &br->links[i - 1];
		if (bl_key(ix, l, lk) == n && memcmp(lk, k, n) == 0)
			return l;
	}
	return NULL;
}

/* A link's end: out of the indexes and its list, its secrets wiped; a
 * report still waiting for the other end's is classified now. */
void
bl_forget(struct broker *br, struct blink *l)
{
	if (!l->classified && (l->end[0].have || l->end[1].have))
		broker_class_count(br, l, 0);
	bl_unindex(br, l);
	bl_remove(br, l->state == BL_INSTRUCTING ? &br->pending : &br->done,
	    l);
	sodium_memzero(l, sizeof *l);
}

/* ... and its slot free for the next. */
void
bl_release(struct broker *br, struct blink *l)
{
	bl_forget(br, l);
	bl_append(br, &br->free, l);
}
