/*
 * Unit tests for media/serve, without a network: the RESUME message, what
 * serve_next owes a child, and the serve state machine over a ring with
 * the links faked (link_send and link_close here, the rest in
 * tests/fake-link.h, shared with tests/fuzz/fuzz-resume.c), each
 * recording what it was sent. A child's
 * RESUME from a sequence number gets the chunks from there; one older
 * than the ring starts at the ring's oldest keyframe; a new child ("K")
 * starts at the newest keyframe, or waits for the next one.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <event2/event.h>

#include "media/ring.h"
#include "media/serve.h"
#include "net/util/log.h"
#include "media/chunk.h"
#include "tests/check-media.h"
#include "tests/check-run.h"

#define SENT_MAX	32

/* A fake link: the numbers of the chunks sent on it, in order. */
struct link {
	uint64_t	 peer;
	int		 full;		/* link_send says EAGAIN */
	int		 closed;	/* link_close was called */
	uint64_t	 sent[SENT_MAX];
	size_t		 nsent;
};

#include "tests/fake-link.h"

int
link_send(struct link *l, const void *msg, size_t len)
{
	struct chunk c;

	ck_assert(!l->closed);
	if (l->full) {
		errno = EAGAIN;
		return -1;
	}
	/* One whole chunk a message. */
	ck_assert_int_eq(chunk_decode(msg, len, &c, NULL, 0), (int)len);
	ck_assert_uint_lt(l->nsent, SENT_MAX);
	l->sent[l->nsent++] = c.seq;
	return 0;
}

void
link_close(struct link *l)
{
	l->closed = 1;
}


static struct event_base *base;
static struct ring *ring;
static struct serve *srv;

static void
setup(void)
{
	log_init("check-serve", LOG_ERROR);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(ring = ring_create(8));
	ck_assert_ptr_nonnull(srv = serve_new(base, ring, 2));
}

static void
teardown(void)
{
	serve_free(srv);
	ring_free(ring);
	event_base_free(base);
}

/* Pushes chunks first..last, keyframes where key says, and tells serve. */
static void
push(uint64_t first, uint64_t last, int (*key)(uint64_t))
{
	static uint8_t payload[CHUNK_TS_PACKET];
	struct chunk c;
	uint64_t seq;

	fill_ts(payload, 1, 0);
	for (seq = first; seq <= last; seq++) {
		c = make_chunk(seq, key(seq), payload, sizeof payload);
		ck_assert_int_eq(ring_push(ring, &c), 0);
		serve_pushed(srv);
	}
}

/* Keyframes every fourth chunk: 10, 14, 18, ... (and 2, 6). */
static int
every_fourth(uint64_t seq)
{
	return seq % 4 == 2;
}

static int
never(uint64_t seq)
{
	(void)seq;
	return 0;
}

static int
always(uint64_t seq)
{
	(void)seq;
	return 1;
}

/* A child linked to serve, its RESUME not sent yet. */
static void
child_link(struct link *l, uint64_t peer)
{
	memset(l, 0, sizeof *l);
	l->peer = peer;
	ck_assert_int_eq(serve_incoming(srv, peer), 0);
	serve_connected(srv, l);
	ck_assert(!l->closed);
	ck_assert(serve_has_child(srv, peer));
}

/* The child's RESUME: from a keyframe, or from seq. */
static void
child_resume(struct link *l, int keyframe, uint64_t seq)
{
	uint8_t msg[SERVE_RESUME_LEN];
	size_t len = serve_resume_build(msg, keyframe, seq);

	serve_message(srv, l, msg, len);
	ck_assert(!l->closed);
}

/* The link was sent exactly first..first + n - 1, in order. */
static void
sent_run(const struct link *l, uint64_t first, size_t n)
{
	size_t i;

	ck_assert_uint_eq(l->nsent, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(l->sent[i] == first + i, "chunk %zu: %llu, not "
		    "%llu", i, (unsigned long long)l->sent[i],
		    (unsigned long long)(first + i));
}

START_TEST(test_resume_parse)
{
	static const uint8_t k[] = { 'K' };
	static const uint8_t r[] = { 'R', 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	    0x07, 0x08 };
	static const uint8_t rmax[] = { 'R', 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff };
	static const struct {
		const char	*bytes;
		size_t		 len;
	} bad[] = {
		{ "", 0 },			/* empty */
		{ "k", 1 },			/* lower case */
		{ "KK", 2 },			/* K with a byte more */
		{ "K\0", 2 },
		{ "R", 1 },			/* R without its number */
		{ "R\1\2\3\4\5\6\7", 8 },	/* one byte short */
		{ "R\1\2\3\4\5\6\7\x08\x09", 10 },	/* one over */
		{ "X\1\2\3\4\5\6\7\x08", 9 },	/* R's length, not R */
		{ "\x47", 1 },			/* a TS sync byte */
	};
	uint8_t buf[SERVE_RESUME_LEN];
	uint64_t seq;
	size_t i;
	int key;

	ck_assert_int_eq(serve_resume_parse(k, sizeof k, &key, &seq), 0);
	ck_assert_int_eq(key, 1);
	ck_assert_uint_eq(seq, 0);
	ck_assert_int_eq(serve_resume_parse(r, sizeof r, &key, &seq), 0);
	ck_assert_int_eq(key, 0);
	ck_assert_uint_eq(seq, 0x0102030405060708ULL);
	ck_assert_int_eq(serve_resume_parse(rmax, sizeof rmax, &key, &seq), 0);
	ck_assert_uint_eq(seq, UINT64_MAX);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		key = 7;
		seq = 7;
		ck_assert_msg(serve_resume_parse((const uint8_t *)bad[i].bytes,
		    bad[i].len, &key, &seq) == -1, "bad vector %zu taken", i);
		ck_assert_int_eq(key, 0);
		ck_assert_uint_eq(seq, 0);
	}

	/* What the builder writes, the parser reads. */
	ck_assert_uint_eq(serve_resume_build(buf, 1, 99), 1);
	ck_assert_int_eq(serve_resume_parse(buf, 1, &key, &seq), 0);
	ck_assert_int_eq(key, 1);
	ck_assert_uint_eq(serve_resume_build(buf, 0, 0x0102030405060708ULL),
	    SERVE_RESUME_LEN);
	ck_assert_mem_eq(buf, r, sizeof r);
	ck_assert_int_eq(serve_resume_parse(buf, SERVE_RESUME_LEN, &key, &seq),
	    0);
	ck_assert_int_eq(key, 0);
	ck_assert_uint_eq(seq, 0x0102030405060708ULL);
}
END_TEST

/* What a child is sent next, numbers wrapping: each chunk once, in order,
 * then nothing (a ring about to wrap sent its chunks round and round). */
START_TEST(test_serve_next_wrap)
{
	uint8_t payload[CHUNK_TS_PACKET];
	const struct chunk *c;
	struct chunk in;
	struct ring *r;
	uint64_t next, skipped = 0, got[8];
	size_t n = 0;

	fill_ts(payload, 1, 0);
	r = ring_create(4);
	in = make_chunk(UINT64_MAX - 1, 1, payload, sizeof payload);
	ck_assert_int_eq(ring_push(r, &in), 0);
	in = make_chunk(UINT64_MAX, 0, payload, sizeof payload);
	ck_assert_int_eq(ring_push(r, &in), 0);
	next = UINT64_MAX - 1;
	while (n < 8 && (c = serve_next(r, &next, &skipped)) != NULL) {
		got[n++] = c->seq;
		next++;
	}
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(got[0], UINT64_MAX - 1);
	ck_assert_uint_eq(got[1], UINT64_MAX);
	ck_assert_uint_eq(next, 0);
	ck_assert_uint_eq(skipped, 0);

	/* Across the wrap: 0 and 1 follow UINT64_MAX. */
	in = make_chunk(0, 0, payload, sizeof payload);
	ck_assert_int_eq(ring_push(r, &in), 0);
	in = make_chunk(1, 1, payload, sizeof payload);
	ck_assert_int_eq(ring_push(r, &in), 0);
	c = serve_next(r, &next, &skipped);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->seq, 0);

	/* Fallen out of the ring (it holds MAX-1..1): the oldest keyframe,
	 * MAX-1, and the numbers passed over counted. */
	next = UINT64_MAX - 5;
	c = serve_next(r, &next, &skipped);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->seq, UINT64_MAX - 1);
	ck_assert_uint_eq(next, UINT64_MAX - 1);
	ck_assert_uint_eq(skipped, 4);

	/* Ahead of the newest: nothing yet. */
	next = 2;
	ck_assert_ptr_null(serve_next(r, &next, &skipped));
	ck_assert_uint_eq(next, 2);
	ring_free(r);
}
END_TEST

/*
 * Where a child's RESUME starts it, over a ring of 8 holding first..last:
 * "R" and a number held, from there; a number older than the ring, at
 * its oldest keyframe, the numbers passed over counted; "K", the newest
 * keyframe; "K" with none held, nothing yet. Then two more chunks, not
 * keyframes, are pushed: sent on after the last (none while it waits).
 */
static const struct resume_case {
	const char	*what;
	uint64_t	 first, last;	/* pushed before the RESUME */
	int		 (*key)(uint64_t);
	int		 keyframe;	/* RESUME K, else R and seq */
	uint64_t	 seq;
	uint64_t	 start;		/* the first chunk sent */
	size_t		 n;		/* sent at once */
	uint64_t	 skipped;
} resume_cases[] = {
	{ "R, held", 10, 15, every_fourth, 0, 12, 12, 4, 0 },
	{ "R, ahead of the newest", 10, 17, every_fourth, 0, 18, 18, 0, 0 },
	{ "R, older than the ring", 4, 19, every_fourth, 0, 5, 14, 6, 9 },
	{ "R, the oldest held", 4, 19, every_fourth, 0, 12, 12, 8, 0 },
	{ "K, keyframes 10 and 14", 10, 17, every_fourth, 1, 0, 14, 4, 0 },
	{ "K, every chunk a keyframe", 100, 103, always, 1, 0, 103, 1, 0 },
	{ "K, none held", 20, 23, never, 1, 0, 0, 0, 0 },
};
#define RESUME_CASES (int)(sizeof resume_cases / sizeof resume_cases[0])

START_TEST(test_resume)
{
	const struct resume_case *rc = &resume_cases[_i];
	struct link l;
	size_t then;

	push(rc->first, rc->last, rc->key);
	child_link(&l, 0xc1);
	ck_assert_uint_eq(l.nsent, 0);	/* nothing before the RESUME */
	child_resume(&l, rc->keyframe, rc->seq);
	ck_assert_msg(l.nsent == rc->n, "%s: %zu sent", rc->what, l.nsent);
	sent_run(&l, rc->start, rc->n);
	ck_assert_msg(serve_stats(srv)->skipped == rc->skipped, "%s: %llu "
	    "skipped", rc->what,
	    (unsigned long long)serve_stats(srv)->skipped);
	push(rc->last + 1, rc->last + 2, never);
	then = rc->keyframe && rc->n == 0 ? 0 : 2;
	sent_run(&l, rc->start, rc->n + then);
	ck_assert_uint_eq(serve_stats(srv)->chunks, rc->n + then);
}
END_TEST

/* A new child when the ring holds no keyframe waits for the next one and
 * starts there, the chunks before it not sent. */
START_TEST(test_keyframe_wait)
{
	struct link l;

	push(20, 25, never);
	child_link(&l, 0xc1);
	child_resume(&l, 1, 0);
	ck_assert_uint_eq(l.nsent, 0);
	push(26, 26, always);
	push(27, 28, never);
	sent_run(&l, 26, 3);
}
END_TEST

/* A full link defers its chunks (counted), and they follow, in order,
 * once it drains: serve tries again on its own timer. */
START_TEST(test_resume_blocked)
{
	struct link l;
	int i;

	push(10, 13, every_fourth);
	child_link(&l, 0xc1);
	l.full = 1;
	child_resume(&l, 0, 10);
	ck_assert_uint_eq(l.nsent, 0);
	ck_assert_uint_ge(serve_stats(srv)->blocked, 1);
	push(14, 15, every_fourth);
	ck_assert_uint_eq(l.nsent, 0);
	l.full = 0;
	for (i = 0; i < 100 && l.nsent < 6; i++)
		event_base_loop(base, EVLOOP_ONCE);
	sent_run(&l, 10, 6);
}
END_TEST

/* Anything but a RESUME closes the child's link and frees its slot. */
START_TEST(test_resume_malformed)
{
	struct link l;

	push(10, 13, every_fourth);
	child_link(&l, 0xc1);
	serve_message(srv, &l, (const uint8_t *)"X", 1);
	ck_assert(l.closed);
	ck_assert_uint_eq(l.nsent, 0);
	ck_assert(!serve_has_child(srv, 0xc1));
	ck_assert_uint_eq(serve_children(srv), 0);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "resume", .tests = { test_resume_parse,
		    test_serve_next_wrap } },
		{ .name = "serve", .setup = setup, .teardown = teardown,
		    .timeout = 10, .tests = { test_keyframe_wait,
		    test_resume_blocked, test_resume_malformed },
		    .loops = { { test_resume, RESUME_CASES } } },
	};

	return check_run_cases("serve", cases, sizeof cases / sizeof cases[0]);
}
