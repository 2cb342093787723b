/*
 * libFuzzer target for the children's side of media/serve: the RESUME
 * parser alone (serve_resume_parse against a plain reading of serve.h),
 * then the real serve state machine over a ring, driven by a script read
 * from the input: children link, speak (arbitrary messages), block, go;
 * chunks arrive, in order or after a gap. The links are fakes (link_send
 * and link_close here, link_peer, link_stats and link_unacked in
 * tests/fake-link.h: the only net/link/link calls serve.c makes, so the UDT
 * library is not linked); they check what serve sends:
 * only on a live link, whole chunks as the ring holds them, in order from
 * where the child asked or from a keyframe. Any broken promise aborts.
 *
 * The script, one operation after another until the input ends:
 *   byte 0: fanout (its low 3 bits)
 *   then each operation's first byte op: op & 7 says what, to child
 *   (op >> 3) & 7 where it names one, a keyframe if op & 0x40 where a
 *   chunk arrives:
 *     0, 6: a child asks for a link (accepted or refused as serve says)
 *     1: the child sends a message: a length byte (its low 4 bits), then
 *        that many bytes
 *     2, 7: a chunk arrives, the next number
 *     3: a gap, as peer/main.c makes one: a chunk numbered by the
 *        next 8 bytes (big-endian) arrives, the ring reset first; where
 *        that number does not come after the one after the newest
 *        (serial number arithmetic, as serve's), the next number instead
 *     4: the child goes (its link breaks)
 *     5: the child's link fills (or drains, if full)
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "media/ring.h"
#include "media/serve.h"
#include "net/util/log.h"
#include "media/chunk.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_LINKS	8	/* (op >> 3) & 7 names one */
#define FUZZ_RING	6

enum fuzz_link_state {
	FL_NONE,		/* never asked, or gone */
	FL_SERVED,		/* serve took it */
};

/* A fake link, and what its child was promised. */
struct link {
	uint64_t		 peer;
	enum fuzz_link_state	 state;
	int			 full;		/* link_send says EAGAIN */
	int			 resumed;	/* a RESUME was taken */
	int			 keyframe;	/* it asked for one */
	uint64_t		 asked;		/* ... or this number */
	int			 sent_any;	/* since the RESUME */
	uint64_t		 last;		/* the last number sent */
	int			 reset;		/* the ring was, since */
};

#include "tests/fake-link.h"

static struct event_base	*fuzz_base;
static struct ring		*fuzz_ring;
static struct link		 fuzz_links[FUZZ_LINKS];
static int			 fuzz_closing;	/* link_close expected */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz-resume", LOG_ERROR);
	if ((fuzz_base = event_base_new()) == NULL ||
	    (fuzz_ring = ring_create(FUZZ_RING)) == NULL)
		abort();
	return 0;
}

/* What serve_resume_parse must answer, read off serve.h. */
static int
fuzz_resume_ok(const uint8_t *msg, size_t len, int *keyframe, uint64_t *seq)
{
	size_t i;

	*keyframe = 0;
	*seq = 0;
	if (len == 1 && msg[0] == 'K') {
		*keyframe = 1;
		return 1;
	}
	if (len != 9 || msg[0] != 'R')
		return 0;
	for (i = 0; i < 8; i++)
		*seq |= (uint64_t)msg[1 + i] << (8 * (7 - i));
	return 1;
}

static void
fuzz_parse(const uint8_t *msg, size_t len)
{
	uint64_t seq = 1, want_seq;
	int key = 1, want_key, ok;

	ok = fuzz_resume_ok(msg, len, &want_key, &want_seq);
	fuzz_assert((serve_resume_parse(msg, len, &key, &seq) == 0) == ok);
	fuzz_assert(key == want_key && seq == want_seq);
}

/* a after b, numbers wrapping: never the same chunk twice, never back. */
static int
fuzz_after(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) > 0;
}

/* ---- the fake links: what serve.c calls ---- */

int
link_send(struct link *l, const void *msg, size_t len)
{
	const struct chunk *held;
	struct chunk c;
	uint64_t oldest, newest, owed;

	/* Only to a child it serves, and only once the child asked. */
	fuzz_assert(l->state == FL_SERVED && l->resumed);
	if (l->full) {
		errno = EAGAIN;
		return -1;
	}
	/* One whole chunk, as the ring holds it. */
	fuzz_assert(chunk_decode(msg, len, &c, NULL, 0) == (int)len);
	fuzz_assert((held = ring_get(fuzz_ring, c.seq)) != NULL);
	fuzz_assert(held->len == c.len && held->flags == c.flags &&
	    held->timestamp_us == c.timestamp_us &&
	    memcmp(held->payload, c.payload, c.len) == 0);
	fuzz_assert(ring_oldest(fuzz_ring, &oldest) == 0 &&
	    ring_newest(fuzz_ring, &newest) == 0);
	/* In order: the one asked for, then each next one; where that one
	 * left the ring, a keyframe. Never one sent before (no reset
	 * since), so never round and round. */
	if (l->keyframe && !l->sent_any)
		fuzz_assert(c.flags & CHUNK_F_KEYFRAME);
	else {
		owed = l->sent_any ? l->last + 1 : l->asked;
		/* Another than the one owed: a keyframe, where the one owed
		 * left the ring (before its oldest), or the ring was reset
		 * since (serve may have moved on to a keyframe then, while
		 * the link was full). */
		fuzz_assert(c.seq == owed || ((c.flags & CHUNK_F_KEYFRAME) &&
		    (l->reset || (ring_get(fuzz_ring, owed) == NULL &&
		    fuzz_after(oldest, owed)))));
	}
	l->sent_any = 1;
	l->last = c.seq;
	l->reset = 0;
	return 0;
}

void
link_close(struct link *l)
{
	fuzz_assert(fuzz_closing && l->state == FL_SERVED);
	l->state = FL_NONE;
}


/* ---- the script ---- */

static size_t
fuzz_served(void)
{
	size_t i, n = 0;

	for (i = 0; i < FUZZ_LINKS; i++)
		n += fuzz_links[i].state == FL_SERVED;
	return n;
}

/* The links serve takes: the fanout and SERVE_EXTRA, or none. */
static unsigned
fuzz_cap(unsigned fanout)
{
	return fanout > 0 ? fanout + SERVE_EXTRA : 0;
}

static void
fuzz_connect(struct serve *s, unsigned fanout)
{
	struct link *l = NULL;
	size_t i, before = serve_children(s);

	for (i = 0; i < FUZZ_LINKS && l == NULL; i++)
		if (fuzz_links[i].state == FL_NONE)
			l = &fuzz_links[i];
	if (l == NULL)
		return;
	memset(l, 0, sizeof *l);
	l->peer = 0x1000 + (uint64_t)(l - fuzz_links);
	if (serve_incoming(s, l->peer) != 0) {
		fuzz_assert(before >= fuzz_cap(fanout));
		return;
	}
	fuzz_assert(before < fuzz_cap(fanout));
	l->state = FL_SERVED;
	fuzz_closing = 1;
	serve_connected(s, l);
	fuzz_closing = 0;
	fuzz_assert(l->state == FL_SERVED);
	fuzz_assert(serve_children(s) == before + 1);
}

static void
fuzz_message(struct serve *s, struct link *l, const uint8_t *msg,
    size_t len)
{
	size_t before = serve_children(s);
	uint64_t seq;
	int ok, key;

	fuzz_parse(msg, len);
	if (l->state != FL_SERVED)
		return;		/* no messages on a link that is gone */
	ok = fuzz_resume_ok(msg, len, &key, &seq);
	if (ok) {
		l->resumed = 1;
		l->keyframe = key;
		l->asked = seq;
		l->sent_any = 0;
		l->reset = 0;
	}
	fuzz_closing = !ok;
	serve_message(s, l, msg, len);
	fuzz_closing = 0;
	/* A RESUME is taken; anything else closes the link. */
	if (ok) {
		fuzz_assert(l->state == FL_SERVED);
		fuzz_assert(serve_children(s) == before);
	} else {
		fuzz_assert(l->state == FL_NONE);
		fuzz_assert(serve_children(s) == before - 1);
	}
}

static void
fuzz_push(struct serve *s, int gap, uint64_t seq, int key)
{
	static uint8_t payload[CHUNK_TS_PACKET];
	struct chunk c;
	size_t i;

	/* After a gap too, each child is owed the number after its last
	 * (or the one it asked for), or else a keyframe: link_send checks. */
	if (ring_newest(fuzz_ring, &c.seq) == 0 && (!gap ||
	    !fuzz_after(seq, c.seq + 1)))
		seq = c.seq + 1;
	else if (gap) {
		ring_reset(fuzz_ring);
		for (i = 0; i < FUZZ_LINKS; i++)
			fuzz_links[i].reset = 1;
	}
	memset(&c, 0, sizeof c);
	payload[0] = CHUNK_TS_SYNC;
	payload[1] = (uint8_t)seq;
	c.seq = seq;
	c.flags = key ? CHUNK_F_KEYFRAME : 0;
	c.timestamp_us = seq * 1000;
	c.payload = payload;
	c.len = sizeof payload;
	fuzz_assert(ring_push(fuzz_ring, &c) == 0);
	serve_pushed(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve *s;
	struct link *l;
	size_t off = 1, n, i;
	uint64_t seq;
	unsigned fanout;
	uint8_t op;

	fuzz_parse(data, size);
	if (size == 0)
		return 0;
	fanout = data[0] & 7;
	memset(fuzz_links, 0, sizeof fuzz_links);
	ring_reset(fuzz_ring);
	if ((s = serve_new(fuzz_base, fuzz_ring, fanout)) == NULL)
		abort();
	while (off < size) {
		op = data[off++];
		l = &fuzz_links[(op >> 3) & 7];
		switch (op & 7) {
		case 0:
		case 6:
			fuzz_connect(s, fanout);
			break;
		case 1:
			n = off < size ? data[off++] & 15 : 0;
			if (n > size - off)
				n = size - off;
			fuzz_message(s, l, data + off, n);
			off += n;
			break;
		case 2:
		case 7:
			fuzz_push(s, 0, 0, op & 0x40);
			break;
		case 3:
			seq = 0;
			for (i = 0; i < 8 && off < size; i++)
				seq = seq << 8 | data[off++];
			fuzz_push(s, 1, seq, op & 0x40);
			break;
		case 4:
			if (l->state == FL_SERVED) {
				l->state = FL_NONE;
				serve_closed(s, l, "fuzzed");
			}
			break;
		case 5:
			l->full = !l->full;
			break;
		}
		fuzz_assert(serve_children(s) == fuzz_served());
		fuzz_assert(serve_children(s) <= fuzz_cap(fanout));
	}
	serve_free(s);
	return 0;
}
