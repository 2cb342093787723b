/*
 * The last N chunks, indexed by sequence number: what a node serves to a
 * child that resumes from a sequence number, and to a new viewer from the
 * latest keyframe. All memory is taken at creation; a push copies the
 * chunk into a preallocated slot and never allocates.
 */
#ifndef TREECAST_RING_H
#define TREECAST_RING_H

#include <stddef.h>
#include <stdint.h>

#include "media/chunk.h"

struct ring;

/* A ring of capacity chunks of up to CHUNK_MAX_PAYLOAD bytes each; NULL if
 * capacity is 0, too large, or memory is short. */
struct ring	*ring_create(size_t capacity);
/* Frees the ring; accepts NULL. */
void		 ring_free(struct ring *r);
/* Forgets every chunk: the next push may have any sequence number. */
void		 ring_reset(struct ring *r);

/*
 * Copies c (header fields and payload) into the ring, evicting the oldest
 * chunk when full. Returns 0, or -1 if c's sequence number is not the one
 * after the newest (the first push after create or reset takes any) or its
 * payload length is 0 or over CHUNK_MAX_PAYLOAD.
 */
int		 ring_push(struct ring *r, const struct chunk *c);

/* The chunk with sequence number seq, or NULL if it was evicted or has not
 * arrived. Its payload points into the ring and stays valid until the slot
 * is reused (capacity more pushes) or the ring is reset. */
const struct chunk *ring_get(const struct ring *r, uint64_t seq);

/* Sequence numbers of the oldest and newest chunk held: 0, or -1 when the
 * ring is empty. */
int		 ring_oldest(const struct ring *r, uint64_t *seq);
int		 ring_newest(const struct ring *r, uint64_t *seq);
/* The newest held chunk with CHUNK_F_KEYFRAME (where a new viewer starts):
 * 0, or -1 if the ring holds none. */
int		 ring_latest_keyframe(const struct ring *r, uint64_t *seq);

size_t		 ring_count(const struct ring *r);
size_t		 ring_capacity(const struct ring *r);

#endif
