/* A ring of the last N chunks, preallocated. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "media/ring.h"

struct ring_slot {
	struct chunk	c;		/* c.payload points at data */
	uint8_t		data[CHUNK_MAX_PAYLOAD];
};

struct ring {
	struct ring_slot *slots;
	size_t		  capacity;
	size_t		  count;	/* chunks held, <= capacity */
	size_t		  head;		/* slot of the newest, when count > 0 */
	uint64_t	  newest;	/* valid when count > 0 */
	int		  have_key;
	uint64_t	  key;		/* newest keyframe pushed */
};

struct ring *
ring_create(size_t capacity)
{
	struct ring *r;

	if (capacity == 0 || capacity > SIZE_MAX / sizeof(struct ring_slot))
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	if ((r->slots = calloc(capacity, sizeof *r->slots)) == NULL) {
		free(r);
		return NULL;
	}
	r->capacity = capacity;
	return r;
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

void
ring_reset(struct ring *r)
{
	r->count = 0;
	r->have_key = 0;
}

/*
 * The slot of a held seq, counted back from the newest: slots follow push
 * order, not seq % capacity, which is not continuous across the 2^64 wrap
 * unless the capacity is a power of two.
 */
static struct ring_slot *
ring_slot(const struct ring *r, uint64_t seq)
{
	size_t back = (size_t)(r->newest - seq);

	return &r->slots[(r->head + r->capacity - back) % r->capacity];
}

int
ring_push(struct ring *r, const struct chunk *c)
{
	struct ring_slot *s;

	if (c->len == 0 || c->len > CHUNK_MAX_PAYLOAD)
		return -1;
	if (r->count > 0 && c->seq != r->newest + 1)
		return -1;
	r->head = r->count > 0 ? (r->head + 1) % r->capacity : 0;
	s = &r->slots[r->head];
	s->c = *c;
	memmove(s->data, c->payload, c->len);	/* may be a ring_get result */
	s->c.payload = s->data;
	r->newest = c->seq;
	if (r->count < r->capacity)
		r->count++;
	if (c->flags & CHUNK_F_KEYFRAME) {
		r->have_key = 1;
		r->key = c->seq;
	}
	return 0;
}

/* Whether seq is among the chunks held; unsigned arithmetic keeps this
 * right across a wrap of the sequence space. */
static int
ring_holds(const struct ring *r, uint64_t seq)
{
	return r->count > 0 && r->newest - seq < r->count;
}

const struct chunk *
ring_get(const struct ring *r, uint64_t seq)
{
	if (!ring_holds(r, seq))
		return NULL;
	return &ring_slot(r, seq)->c;
}

int
ring_oldest(const struct ring *r, uint64_t *seq)
{
	if (r->count == 0)
		return -1;
	*seq = r->newest - (r->count - 1);
	return 0;
}

int
ring_newest(const struct ring *r, uint64_t *seq)
{
	if (r->count == 0)
		return -1;
	*seq = r->newest;
	return 0;
}

int
ring_latest_keyframe(const struct ring *r, uint64_t *seq)
{
	/* Any keyframe newer than r->key would have replaced it, so if this
	 * one is evicted the ring holds none. */
	if (!r->have_key || !ring_holds(r, r->key))
		return -1;
	*seq = r->key;
	return 0;
}

size_t
ring_count(const struct ring *r)
{
	return r->count;
}

size_t
ring_capacity(const struct ring *r)
{
	return r->capacity;
}
