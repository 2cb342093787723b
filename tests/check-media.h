/* What the media/ suites share: TS payloads and chunks made to order. */
#ifndef TREECAST_CHECK_MEDIA_H
#define TREECAST_CHECK_MEDIA_H

#include <stdint.h>
#include <string.h>

#include "media/chunk.h"

/* A payload of n TS packets, each 0x47 then a filler from seed. */
static inline void
fill_ts(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n * CHUNK_TS_PACKET; i++)
		p[i] = (uint8_t)(seed + i);
	for (i = 0; i < n; i++)
		p[i * CHUNK_TS_PACKET] = CHUNK_TS_SYNC;
}

/* A chunk numbered seq, a keyframe if key, over payload. */
static inline struct chunk
make_chunk(uint64_t seq, int key, const uint8_t *payload, size_t len)
{
	struct chunk c;

	memset(&c, 0, sizeof c);
	c.seq = seq;
	c.flags = key ? CHUNK_F_KEYFRAME : 0;
	c.timestamp_us = 1700000000000000ULL + seq;
	c.payload = payload;
	c.len = len;
	return c;
}

#endif
