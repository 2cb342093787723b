/*
 * Unit tests for media/: the chunk codec (byte vectors and every
 * rejection), the ring, and media_input end to end: a sample made with the
 * ffmpeg command line goes through the remuxer and chunker, and the
 * chunks' payloads must decode as the frames that went in.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "media/input.h"
#include "media/playout.h"
#include "media/ring.h"
#include "media/serve.h"
#include "wire/chunk.h"
#include "tests/check-run.h"

/* A payload of n TS packets, each 0x47 then a filler from seed. */
static void
fill_ts(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n * CHUNK_TS_PACKET; i++)
		p[i] = (uint8_t)(seed + i);
	for (i = 0; i < n; i++)
		p[i * CHUNK_TS_PACKET] = CHUNK_TS_SYNC;
}

static struct chunk
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

/* ---- chunk codec ---- */

START_TEST(test_chunk_vector)
{
	static const uint8_t want[24] = {
		0x54, 0x43, 0x02, 0x01,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x06, 0x0a, 0x3b, 0x00, 0x00, 0x00, 0x2a,
		0x00, 0x00, 0x01, 0x78,		/* 376 = 2 packets */
	};
	uint8_t payload[2 * CHUNK_TS_PACKET], buf[CHUNK_MAX_LEN], zero[64];
	struct chunk c, d;
	char err[128];
	int n;

	fill_ts(payload, 2, 7);
	c = make_chunk(0x0102030405060708ULL, 1, payload, sizeof payload);
	c.timestamp_us = 0x00060a3b0000002aULL;
	ck_assert_int_eq(chunk_encode_header(&c, buf, sizeof buf),
	    CHUNK_HEADER_LEN);
	ck_assert_mem_eq(buf, want, sizeof want);
	memset(zero, 0, sizeof zero);
	ck_assert_mem_eq(buf + 24, zero, CHUNK_SIG_LEN);
	ck_assert_int_eq(chunk_encode_header(&c, buf, CHUNK_HEADER_LEN - 1),
	    -1);

	n = chunk_encode(&c, buf, sizeof buf);
	ck_assert_int_eq(n, CHUNK_HEADER_LEN + 376);
	ck_assert_int_eq(chunk_encode(&c, buf, CHUNK_HEADER_LEN + 375), -1);
	/* Trailing bytes are not consumed. */
	ck_assert_int_eq(chunk_decode(buf, (size_t)n + 10, &d, err,
	    sizeof err), n);
	ck_assert_uint_eq(d.seq, c.seq);
	ck_assert_uint_eq(d.timestamp_us, c.timestamp_us);
	ck_assert_uint_eq(d.flags, CHUNK_F_KEYFRAME);
	ck_assert_uint_eq(d.len, 376);
	ck_assert_ptr_eq(d.payload, buf + CHUNK_HEADER_LEN);
	ck_assert_mem_eq(d.payload, payload, 376);
	ck_assert_mem_eq(d.signature, zero, CHUNK_SIG_LEN);

	/* The largest payload passes; err may be NULL. */
	{
		static uint8_t big[CHUNK_MAX_PAYLOAD];
		static uint8_t out[CHUNK_MAX_LEN];

		fill_ts(big, CHUNK_MAX_PACKETS, 1);
		c = make_chunk(9, 0, big, sizeof big);
		ck_assert_int_eq(chunk_encode(&c, out, sizeof out),
		    CHUNK_MAX_LEN);
		ck_assert_int_eq(chunk_decode(out, sizeof out, &d, NULL, 0),
		    CHUNK_MAX_LEN);
		ck_assert_uint_eq(d.flags, 0);
	}
}
END_TEST

/* Encodes a valid two-packet chunk into buf and returns its length. */
static size_t
valid_chunk(uint8_t *buf, size_t len)
{
	static uint8_t payload[2 * CHUNK_TS_PACKET];
	struct chunk c;

	fill_ts(payload, 2, 3);
	c = make_chunk(5, 0, payload, sizeof payload);
	ck_assert_int_eq(chunk_encode(&c, buf, len), CHUNK_HEADER_LEN + 376);
	return CHUNK_HEADER_LEN + 376;
}

static void
set_len(uint8_t *buf, uint32_t v)
{
	buf[20] = (uint8_t)(v >> 24), buf[21] = (uint8_t)(v >> 16);
	buf[22] = (uint8_t)(v >> 8), buf[23] = (uint8_t)v;
}

static void
expect_reject(const uint8_t *buf, size_t len, const char *why)
{
	struct chunk d;
	char err[128] = "";

	ck_assert_int_eq(chunk_decode(buf, len, &d, err, sizeof err), -1);
	ck_assert_msg(strstr(err, why) != NULL, "reason '%s' lacks '%s'",
	    err, why);
	ck_assert_int_eq(chunk_decode(buf, len, &d, NULL, 0), -1);
}

START_TEST(test_chunk_reject)
{
	static uint8_t buf[2 * CHUNK_MAX_LEN];
	uint8_t payload[CHUNK_TS_PACKET];
	struct chunk c;
	size_t n, i;

	n = valid_chunk(buf, sizeof buf);
	buf[0] = 'X';
	expect_reject(buf, n, "magic");
	n = valid_chunk(buf, sizeof buf);
	buf[1] = 'X';
	expect_reject(buf, n, "magic");
	n = valid_chunk(buf, sizeof buf);
	buf[2] = 1;			/* unsigned: refused */
	expect_reject(buf, n, "version 1");
	n = valid_chunk(buf, sizeof buf);
	buf[3] = 0x80;
	expect_reject(buf, n, "flags 0x80");

	n = valid_chunk(buf, sizeof buf);
	set_len(buf, 200);
	expect_reject(buf, n, "200 is not a non-zero multiple of 188");
	set_len(buf, 0);
	expect_reject(buf, n, "0 is not");
	set_len(buf, 0xffffffffU);
	expect_reject(buf, n, "not a non-zero multiple");
	set_len(buf, CHUNK_MAX_PAYLOAD + CHUNK_TS_PACKET);
	expect_reject(buf, sizeof buf, "over the maximum of 12032");

	n = valid_chunk(buf, sizeof buf);
	buf[CHUNK_HEADER_LEN + CHUNK_TS_PACKET] = 0x48;
	expect_reject(buf, n, "TS packet 1 does not start");
	n = valid_chunk(buf, sizeof buf);
	buf[CHUNK_HEADER_LEN] = 0x00;
	expect_reject(buf, n, "TS packet 0");

	/* Truncated anywhere. */
	n = valid_chunk(buf, sizeof buf);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(chunk_decode(buf, i, &c, NULL, 0), -1);
	expect_reject(buf, CHUNK_HEADER_LEN - 1, "truncated header");
	expect_reject(buf, n - 1, "truncated payload: 1 bytes missing");

	/* The encoder refuses what the decoder would. */
	fill_ts(payload, 1, 0);
	c = make_chunk(1, 0, payload, 0);
	ck_assert_int_eq(chunk_encode_header(&c, buf, sizeof buf), -1);
	c.len = 100;
	ck_assert_int_eq(chunk_encode_header(&c, buf, sizeof buf), -1);
	c.len = CHUNK_MAX_PAYLOAD + CHUNK_TS_PACKET;
	ck_assert_int_eq(chunk_encode_header(&c, buf, sizeof buf), -1);
	c.len = CHUNK_TS_PACKET;
	c.flags = 0x02;
	ck_assert_int_eq(chunk_encode_header(&c, buf, sizeof buf), -1);
}
END_TEST

START_TEST(test_chunk_ts_fields)
{
	uint8_t p[CHUNK_TS_PACKET];

	memset(p, 0xff, sizeof p);
	p[0] = 0x47, p[1] = 0x41, p[2] = 0x00, p[3] = 0x30;
	p[4] = 7, p[5] = 0x50;			/* RAI and PCR flags */
	ck_assert_uint_eq(chunk_ts_pid(p), 0x100);
	ck_assert_int_eq(chunk_ts_pusi(p), 1);
	ck_assert_int_eq(chunk_ts_random_access(p), 1);
	p[5] = 0x10;
	ck_assert_int_eq(chunk_ts_random_access(p), 0);
	p[3] = 0x10;				/* payload only */
	p[5] = 0x40;
	ck_assert_int_eq(chunk_ts_random_access(p), 0);
	p[1] = 0x1f, p[2] = 0xff;
	ck_assert_uint_eq(chunk_ts_pid(p), 0x1fff);
	ck_assert_int_eq(chunk_ts_pusi(p), 0);
}
END_TEST

/* ---- ring ---- */

START_TEST(test_ring_basic)
{
	uint8_t payload[3 * CHUNK_TS_PACKET];
	const struct chunk *g;
	struct chunk c;
	struct ring *r;
	uint64_t s;

	ck_assert_ptr_null(ring_create(0));
	ck_assert_ptr_null(ring_create(SIZE_MAX));
	ring_free(NULL);
	r = ring_create(4);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(ring_capacity(r), 4);
	ck_assert_int_eq(ring_oldest(r, &s), -1);
	ck_assert_int_eq(ring_newest(r, &s), -1);
	ck_assert_int_eq(ring_latest_keyframe(r, &s), -1);
	ck_assert_ptr_null(ring_get(r, 0));

	/* The first push takes any sequence number. */
	fill_ts(payload, 3, 100);
	c = make_chunk(1000, 0, payload, sizeof payload);
	ck_assert_int_eq(ring_push(r, &c), 0);
	/* The ring copied it. */
	memset(payload, 0, sizeof payload);
	g = ring_get(r, 1000);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->len, 3 * CHUNK_TS_PACKET);
	ck_assert_uint_eq(g->payload[0], CHUNK_TS_SYNC);
	ck_assert_uint_eq(g->payload[1], (uint8_t)101);
	ck_assert_uint_eq(g->timestamp_us, 1700000000000000ULL + 1000);
	ck_assert_ptr_null(ring_get(r, 999));
	ck_assert_ptr_null(ring_get(r, 1001));

	/* Gaps, repeats and going back are refused and change nothing. */
	fill_ts(payload, 1, 0);
	c = make_chunk(1002, 0, payload, CHUNK_TS_PACKET);
	ck_assert_int_eq(ring_push(r, &c), -1);
	c.seq = 1000;
	ck_assert_int_eq(ring_push(r, &c), -1);
	c.seq = 999;
	ck_assert_int_eq(ring_push(r, &c), -1);
	c.seq = 1001;
	c.len = 0;
	ck_assert_int_eq(ring_push(r, &c), -1);
	c.len = CHUNK_MAX_PAYLOAD + 1;
	ck_assert_int_eq(ring_push(r, &c), -1);
	ck_assert_uint_eq(ring_count(r), 1);
	ck_assert_int_eq(ring_newest(r, &s), 0);
	ck_assert_uint_eq(s, 1000);

	/* Reset: the next push may start anywhere. */
	ring_reset(r);
	ck_assert_uint_eq(ring_count(r), 0);
	ck_assert_ptr_null(ring_get(r, 1000));
	c = make_chunk(7, 0, payload, CHUNK_TS_PACKET);
	ck_assert_int_eq(ring_push(r, &c), 0);
	ck_assert_int_eq(ring_oldest(r, &s), 0);
	ck_assert_uint_eq(s, 7);
	ring_free(r);
}
END_TEST

START_TEST(test_ring_evict)
{
	uint8_t payload[CHUNK_TS_PACKET];
	const struct chunk *g;
	struct chunk c;
	struct ring *r;
	uint64_t s, seq;

	r = ring_create(5);
	ck_assert_ptr_nonnull(r);
	/* Keyframes at 0, 4, 8, ...; push 0..22 and watch the window. */
	for (seq = 0; seq < 23; seq++) {
		fill_ts(payload, 1, (uint8_t)seq);
		c = make_chunk(seq, seq % 4 == 0, payload, sizeof payload);
		ck_assert_int_eq(ring_push(r, &c), 0);
		ck_assert_int_eq(ring_newest(r, &s), 0);
		ck_assert_uint_eq(s, seq);
		ck_assert_int_eq(ring_oldest(r, &s), 0);
		ck_assert_uint_eq(s, seq >= 4 ? seq - 4 : 0);
		ck_assert_uint_eq(ring_count(r), seq >= 4 ? 5 : seq + 1);
		ck_assert_int_eq(ring_latest_keyframe(r, &s), 0);
		ck_assert_uint_eq(s, seq - seq % 4);
	}
	for (seq = 0; seq < 30; seq++) {
		g = ring_get(r, seq);
		if (seq < 18 || seq > 22) {
			ck_assert_ptr_null(g);
			continue;
		}
		ck_assert_ptr_nonnull(g);
		ck_assert_uint_eq(g->seq, seq);
		ck_assert_uint_eq(g->payload[1], (uint8_t)(seq + 1));
		ck_assert_uint_eq(g->flags, seq % 4 == 0 ? CHUNK_F_KEYFRAME : 0);
	}
	ring_free(r);

	/* A keyframe that has been evicted is not offered. */
	r = ring_create(3);
	for (seq = 50; seq < 53; seq++) {
		c = make_chunk(seq, seq == 50, payload, sizeof payload);
		ck_assert_int_eq(ring_push(r, &c), 0);
	}
	ck_assert_int_eq(ring_latest_keyframe(r, &s), 0);
	ck_assert_uint_eq(s, 50);
	c = make_chunk(53, 0, payload, sizeof payload);
	ck_assert_int_eq(ring_push(r, &c), 0);
	ck_assert_int_eq(ring_latest_keyframe(r, &s), -1);
	ring_reset(r);
	ck_assert_int_eq(ring_latest_keyframe(r, &s), -1);
	ring_free(r);
}
END_TEST

START_TEST(test_ring_seq_wrap)
{
	uint8_t payload[CHUNK_TS_PACKET];
	struct chunk c;
	struct ring *r;
	uint64_t s, seq = UINT64_MAX - 1;
	int i;

	fill_ts(payload, 1, 0);
	r = ring_create(3);
	for (i = 0; i < 4; i++, seq++) {
		c = make_chunk(seq, i == 1, payload, sizeof payload);
		ck_assert_int_eq(ring_push(r, &c), 0);
	}
	/* Holds UINT64_MAX, 0, 1. */
	ck_assert_ptr_null(ring_get(r, UINT64_MAX - 1));
	ck_assert_ptr_nonnull(ring_get(r, UINT64_MAX));
	ck_assert_ptr_nonnull(ring_get(r, 0));
	ck_assert_ptr_nonnull(ring_get(r, 1));
	ck_assert_ptr_null(ring_get(r, 2));
	ck_assert_int_eq(ring_oldest(r, &s), 0);
	ck_assert_uint_eq(s, UINT64_MAX);
	ck_assert_int_eq(ring_latest_keyframe(r, &s), 0);
	ck_assert_uint_eq(s, UINT64_MAX);
	ring_free(r);
}
END_TEST

/* ---- the RESUME message ---- */

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

/* ---- media_input, end to end ---- */

static char sample_dir[] = "/tmp/check-media-XXXXXX";
static char sample_path[256];
static char sample_problem[1200];

/* Unchecked fixture: makes the sample once for the test case. */
static void
sample_setup(void)
{
	char cmd[1024];
	int rc;

	if (system("command -v ffmpeg >/dev/null 2>&1") != 0) {
		snprintf(sample_problem, sizeof sample_problem, "the ffmpeg "
		    "command is not installed (Debian: apt-get install "
		    "ffmpeg): it makes the sample for the end-to-end tests");
		return;
	}
	if (mkdtemp(sample_dir) == NULL) {
		snprintf(sample_problem, sizeof sample_problem, "mkdtemp "
		    "failed");
		return;
	}
	snprintf(sample_path, sizeof sample_path, "%s/sample.mp4", sample_dir);
	snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -hide_banner -loglevel "
	    "error -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i "
	    "sine=frequency=440 -t 4 -c:v libx264 -g 50 -pix_fmt yuv420p "
	    "-c:a aac -shortest -y '%s'", sample_path);
	if ((rc = system(cmd)) != 0)
		snprintf(sample_problem, sizeof sample_problem, "ffmpeg failed "
		    "(status %d) making the sample: %s", rc, cmd);
}

static void
sample_teardown(void)
{
	char cmd[512];

	if (sample_dir[strlen(sample_dir) - 1] != 'X') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", sample_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", sample_dir);
	}
}

/* Everything media_input emitted. */
struct collect {
	uint8_t		*data;
	size_t		 len, cap;
	size_t		 n;
	uint64_t	*seq;
	uint8_t		*flags;
	size_t		*off;		/* each chunk's start in data */
	size_t		 maxn;
	int		 bad;		/* chunks that fail chunk_decode */
};

static void
collect_cb(const struct chunk *c, void *arg)
{
	struct collect *k = arg;
	uint8_t wire[CHUNK_MAX_LEN];
	struct chunk d;

	/* Every emitted chunk must survive the codec. */
	if (chunk_encode(c, wire, sizeof wire) < 0 ||
	    chunk_decode(wire, sizeof wire, &d, NULL, 0) < 0)
		k->bad++;
	if (k->n == k->maxn) {
		k->maxn = k->maxn ? 2 * k->maxn : 64;
		k->seq = realloc(k->seq, k->maxn * sizeof *k->seq);
		k->flags = realloc(k->flags, k->maxn);
		k->off = realloc(k->off, k->maxn * sizeof *k->off);
		ck_assert(k->seq && k->flags && k->off);
	}
	if (k->len + c->len > k->cap) {
		k->cap = (k->cap + c->len) * 2;
		k->data = realloc(k->data, k->cap);
		ck_assert_ptr_nonnull(k->data);
	}
	k->seq[k->n] = c->seq;
	k->flags[k->n] = c->flags;
	k->off[k->n] = k->len;
	k->n++;
	memcpy(k->data + k->len, c->payload, c->len);
	k->len += c->len;
}

static void
collect_free(struct collect *k)
{
	free(k->data);
	free(k->seq);
	free(k->flags);
	free(k->off);
}

/* libav's error messages while a test runs; the last one kept. */
static int av_errors;
static char av_last_error[256];

static void
count_log(void *avcl, int level, const char *fmt, va_list ap)
{
	(void)avcl;
	if (level > AV_LOG_ERROR)
		return;
	av_errors++;
	vsnprintf(av_last_error, sizeof av_last_error, fmt, ap);
}

static void
require_sample(void)
{
	if (sample_problem[0] != '\0')
		ck_abort_msg("%s", sample_problem);
	av_log_set_callback(count_log);
}

/* Runs the sample through media_input without pacing. max_steps 0: to the
 * end of input. */
static void
run_input(const struct media_input_options *opt, size_t max_steps,
    struct collect *k)
{
	struct media_input *in;
	char err[512] = "";
	int64_t wait;
	size_t steps = 0;
	int rc;

	in = media_input_open(sample_path, opt, collect_cb, k, err,
	    sizeof err);
	ck_assert_msg(in != NULL, "media_input_open: %s", err);
	while ((rc = media_input_step(in, &wait, err, sizeof err)) == 0) {
		ck_assert_int_eq(wait, 0);
		if (max_steps != 0 && ++steps == max_steps)
			break;
	}
	ck_assert_msg(rc >= 0, "media_input_step: %s", err);
	if (rc == 1) {
		ck_assert_int_eq(media_input_step(in, &wait, err, sizeof err),
		    1);
	}
	ck_assert_uint_eq(media_input_chunks(in), k->n);
	media_input_close(in);
}

static void
write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

struct decoded {
	int	frames;
	int	errors;		/* API errors and corrupt frames */
	int	first_key;	/* the first frame decoded is a keyframe */
	int	monotonic;	/* frame timestamps strictly increase */
	int64_t	max_step;	/* largest step between them, 90 kHz */
};

/* Decodes the video of a TS file. */
static struct decoded
decode_ts(const char *path)
{
	AVFormatContext *ic = NULL;
	AVCodecContext *dec;
	const AVCodec *codec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	struct decoded d;
	int64_t last = AV_NOPTS_VALUE, ts;
	int vi, rc, draining = 0;

	memset(&d, 0, sizeof d);
	d.monotonic = 1;
	ck_assert_int_eq(avformat_open_input(&ic, path, NULL, NULL), 0);
	ck_assert_int_ge(avformat_find_stream_info(ic, NULL), 0);
	vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	ck_assert_int_ge(vi, 0);
	dec = avcodec_alloc_context3(codec);
	ck_assert_int_ge(avcodec_parameters_to_context(dec,
	    ic->streams[vi]->codecpar), 0);
	dec->pkt_timebase = ic->streams[vi]->time_base;
	ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);
	for (;;) {
		if (!draining) {
			rc = av_read_frame(ic, pkt);
			if (rc < 0) {
				draining = 1;
				rc = avcodec_send_packet(dec, NULL);
			} else if (pkt->stream_index != vi) {
				av_packet_unref(pkt);
				continue;
			} else {
				rc = avcodec_send_packet(dec, pkt);
				av_packet_unref(pkt);
			}
			if (rc < 0 && rc != AVERROR(EAGAIN))
				d.errors++;
		}
		for (;;) {
			rc = avcodec_receive_frame(dec, frame);
			if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
				break;
			if (rc < 0) {
				d.errors++;
				break;
			}
			if (d.frames == 0)
				d.first_key = frame->key_frame;
			if ((frame->flags & AV_FRAME_FLAG_CORRUPT) ||
			    frame->decode_error_flags != 0)
				d.errors++;
			ts = frame->best_effort_timestamp;
			if (last != AV_NOPTS_VALUE) {
				if (ts == AV_NOPTS_VALUE || ts <= last)
					d.monotonic = 0;
				else if (ts - last > d.max_step)
					d.max_step = ts - last;
			}
			last = ts;
			d.frames++;
			av_frame_unref(frame);
		}
		if (draining && rc == AVERROR_EOF)
			break;
		if (draining && rc != AVERROR(EAGAIN) && rc < 0)
			break;
	}
	avcodec_free_context(&dec);
	avformat_close_input(&ic);
	av_packet_free(&pkt);
	av_frame_free(&frame);
	return d;
}

/* Whether PID 0 appears in the first n TS packets from p. */
static int
has_pat(const uint8_t *p, size_t len, size_t n)
{
	size_t i;

	for (i = 0; i < n && (i + 1) * CHUNK_TS_PACKET <= len; i++)
		if (chunk_ts_pid(p + i * CHUNK_TS_PACKET) == 0)
			return 1;
	return 0;
}

START_TEST(test_input_e2e)
{
	struct collect k;
	struct decoded d, tail;
	char ts_path[300];
	size_t i, keys = 0, last_key = 0, len;

	require_sample();
	memset(&k, 0, sizeof k);
	run_input(NULL, 0, &k);
	ck_assert_int_eq(k.bad, 0);
	ck_assert_uint_gt(k.n, 2);
	for (i = 0; i < k.n; i++) {
		ck_assert_uint_eq(k.seq[i], i);
		len = (i + 1 < k.n ? k.off[i + 1] : k.len) - k.off[i];
		ck_assert_uint_le(len, CHUNK_MAX_PAYLOAD);
		if (k.flags[i] & CHUNK_F_KEYFRAME) {
			keys++;
			last_key = i;
			ck_assert_msg(has_pat(k.data + k.off[i], len, 3),
			    "keyframe chunk %zu does not open with PAT", i);
		}
	}
	ck_assert_msg(keys >= 2, "%zu keyframe chunks", keys);
	ck_assert_uint_eq(k.flags[0] & CHUNK_F_KEYFRAME, CHUNK_F_KEYFRAME);

	snprintf(ts_path, sizeof ts_path, "%s/all.ts", sample_dir);
	write_file(ts_path, k.data, k.len);
	d = decode_ts(ts_path);
	fprintf(stderr, "e2e: %zu chunks, %zu keyframe chunks, %zu bytes, "
	    "%d frames, %d decode errors, %d libav errors%s%s",
	    k.n, keys, k.len, d.frames, d.errors, av_errors,
	    av_errors ? ", last: " : "", av_errors ? av_last_error : "\n");
	ck_assert_int_eq(d.frames, 100);
	ck_assert_int_eq(d.errors, 0);
	ck_assert_int_eq(av_errors, 0);
	ck_assert(d.monotonic);

	/* A new viewer that starts at the latest keyframe chunk. */
	snprintf(ts_path, sizeof ts_path, "%s/tail.ts", sample_dir);
	write_file(ts_path, k.data + k.off[last_key], k.len - k.off[last_key]);
	tail = decode_ts(ts_path);
	fprintf(stderr, "e2e: from keyframe chunk %zu: %d frames, %d "
	    "errors\n", last_key, tail.frames, tail.errors);
	ck_assert_int_gt(tail.frames, 0);
	ck_assert_int_eq(tail.frames % 50, 0);
	ck_assert(tail.first_key);
	ck_assert_int_eq(tail.errors, 0);
	ck_assert_int_eq(av_errors, 0);
	collect_free(&k);
}
END_TEST

START_TEST(test_input_loop)
{
	struct media_input_options opt = { .loop = 1, .realtime = 0 };
	struct collect k;
	struct decoded d;
	char ts_path[300];
	size_t i, last_key = 0;

	require_sample();
	memset(&k, 0, sizeof k);
	/* About 290 packets a pass: this is two and a half passes. */
	run_input(&opt, 730, &k);
	for (i = 0; i < k.n; i++) {
		ck_assert_uint_eq(k.seq[i], i);
		if (k.flags[i] & CHUNK_F_KEYFRAME)
			last_key = i;
	}
	/* Keep whole frames only: cut where the last keyframe begins. */
	snprintf(ts_path, sizeof ts_path, "%s/loop.ts", sample_dir);
	write_file(ts_path, k.data, k.off[last_key]);
	d = decode_ts(ts_path);
	fprintf(stderr, "loop: %zu chunks, %d frames, %d errors, largest "
	    "step %lld\n", k.n, d.frames, d.errors, (long long)d.max_step);
	ck_assert_int_ge(d.frames, 200);
	ck_assert_int_eq(d.frames % 50, 0);
	ck_assert_int_eq(d.errors, 0);
	ck_assert(d.monotonic);
	/* 25 fps is 3600 in 90 kHz. At a seam the next pass starts when the
	 * longest stream ended: here the audio, one AAC frame (23 ms) after
	 * the video. Less than a frame's gap, never an overlap. */
	ck_assert_int_ge(d.max_step, 3600);
	ck_assert_int_lt(d.max_step, 7200);
	ck_assert_int_eq(av_errors, 0);
	collect_free(&k);
}
END_TEST

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

START_TEST(test_input_realtime)
{
	struct media_input_options opt = { .loop = 0, .realtime = 1 };
	struct collect paced, all;
	struct media_input *in;
	char err[512];
	int64_t wait, start, max_wait = 0;
	int rc, waits = 0;

	require_sample();
	memset(&all, 0, sizeof all);
	run_input(NULL, 0, &all);

	memset(&paced, 0, sizeof paced);
	in = media_input_open(sample_path, &opt, collect_cb, &paced, err,
	    sizeof err);
	ck_assert_msg(in != NULL, "%s", err);
	start = mono_us();
	while (mono_us() - start < 1000000) {
		rc = media_input_step(in, &wait, err, sizeof err);
		ck_assert_int_eq(rc, 0);
		if (wait > 0) {
			waits++;
			if (wait > max_wait)
				max_wait = wait;
			usleep((useconds_t)wait);
		}
	}
	media_input_close(in);
	fprintf(stderr, "realtime: 1 s paced gave %zu of %zu bytes, %d "
	    "waits, longest %lld us\n", paced.len, all.len, waits,
	    (long long)max_wait);
	ck_assert_int_gt(waits, 0);	/* no more: a loaded machine waits less */
	ck_assert_int_le(max_wait, 100000);
	ck_assert_uint_gt(paced.len, 0);
	/* One second of a four-second file, plus the muxer's delay. */
	ck_assert_uint_lt(paced.len, all.len * 6 / 10);
	collect_free(&paced);
	collect_free(&all);
}
END_TEST

START_TEST(test_input_open_fail)
{
	struct media_input *in;
	char err[512] = "";

	in = media_input_open("/nonexistent/treecast.mp4", NULL, collect_cb,
	    NULL, err, sizeof err);
	ck_assert_ptr_null(in);
	ck_assert_msg(strstr(err, "/nonexistent/treecast.mp4") != NULL,
	    "%s", err);
	media_input_close(NULL);
}
END_TEST

/* A key pair from a fixed seed (Ed25519 is deterministic), and a signed
 * two-packet chunk. */
static void
sig_fixture(uint8_t pk[32], uint8_t sk[64], uint8_t *payload,
    struct chunk *c)
{
	uint8_t seed[32];
	size_t i;

	for (i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)i;
	ck_assert_int_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
	fill_ts(payload, 2, 7);
	*c = make_chunk(0x0102030405060708ULL, 1, payload,
	    2 * CHUNK_TS_PACKET);
	c->timestamp_us = 0x00060a3b0000002aULL;
	ck_assert_int_eq(chunk_sign(c, sk), 0);
}

START_TEST(test_chunk_sign_vector)
{
	/* The signature of the chunk of test_chunk_vector by the key of
	 * seed 00 01 .. 1f: a change to the signed message changes it. */
	static const uint8_t want[CHUNK_SIG_LEN] = {
		0xf2, 0x3c, 0xa7, 0x9c, 0xe8, 0x07, 0x5e, 0x0e,
		0x72, 0x97, 0xbd, 0x6e, 0xf0, 0xe5, 0xd4, 0xf1,
		0x92, 0xd2, 0x69, 0x4d, 0xb1, 0x21, 0x34, 0x1e,
		0x60, 0xe9, 0xe2, 0x29, 0x53, 0x41, 0xb8, 0x2d,
		0xbc, 0xab, 0x12, 0x32, 0xa3, 0xb4, 0x45, 0xc9,
		0x52, 0x67, 0x85, 0xec, 0xc5, 0x24, 0x19, 0x07,
		0xd4, 0x16, 0xd2, 0xef, 0x4c, 0x9a, 0x76, 0x02,
		0x38, 0xc6, 0x8e, 0xd7, 0x31, 0x12, 0x3f, 0x0a
	};
	uint8_t pk[32], sk[64], payload[2 * CHUNK_TS_PACKET];
	uint8_t m[CHUNK_SIG_CONTEXT_LEN + CHUNK_SIGNED_LEN +
	    2 * CHUNK_TS_PACKET], buf[CHUNK_MAX_LEN];
	struct chunk c, d;
	int n;

	sig_fixture(pk, sk, payload, &c);
	ck_assert_mem_eq(c.signature, want, CHUNK_SIG_LEN);
	/* The signed message, built here by hand from the layout: the
	 * context, the header's first 24 bytes, the payload. */
	memcpy(m, "treecast chunk\0\0", 16);
	n = chunk_encode(&c, buf, sizeof buf);
	ck_assert_int_eq(n, CHUNK_HEADER_LEN + 376);
	memcpy(m + 16, buf, 24);
	memcpy(m + 40, payload, sizeof payload);
	ck_assert_int_eq(crypto_sign_verify_detached(want, m, sizeof m, pk),
	    0);
	ck_assert_mem_eq(buf + 24, want, CHUNK_SIG_LEN);
	/* It survives the wire. */
	ck_assert_int_eq(chunk_decode(buf, (size_t)n, &d, NULL, 0), n);
	ck_assert_int_eq(chunk_verify(&d, pk), 0);
	ck_assert_int_eq(chunk_verify(&c, pk), 0);
}
END_TEST

/* A flipped bit anywhere on the wire (a header field, the signature, the
 * payload) fails: decoding refuses it, or the signature does. */
START_TEST(test_chunk_sign_tamper)
{
	uint8_t pk[32], sk[64], payload[2 * CHUNK_TS_PACKET];
	uint8_t buf[CHUNK_MAX_LEN], other_pk[32], other_sk[64];
	struct chunk c, d;
	size_t i, bit, n, failed;

	sig_fixture(pk, sk, payload, &c);
	n = (size_t)chunk_encode(&c, buf, sizeof buf);
	for (i = 0; i < n; i++) {
		for (bit = 0, failed = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			if (chunk_decode(buf, n, &d, NULL, 0) < 0 ||
			    chunk_verify(&d, pk) != 0)
				failed++;
			buf[i] ^= (uint8_t)(1u << bit);
		}
		ck_assert_msg(failed == 8, "byte %zu: %zu of 8 flips passed",
		    i, 8 - failed);
	}
	ck_assert_int_eq(chunk_decode(buf, n, &d, NULL, 0), (int)n);
	ck_assert_int_eq(chunk_verify(&d, pk), 0);

	/* Each field of the decoded chunk, changed, fails. */
	d.seq++;
	ck_assert_int_eq(chunk_verify(&d, pk), -1);
	d.seq--;
	d.timestamp_us ^= 1;
	ck_assert_int_eq(chunk_verify(&d, pk), -1);
	d.timestamp_us ^= 1;
	d.flags = 0;
	ck_assert_int_eq(chunk_verify(&d, pk), -1);
	d.flags = CHUNK_F_KEYFRAME;
	d.len = CHUNK_TS_PACKET;	/* a truncated payload */
	ck_assert_int_eq(chunk_verify(&d, pk), -1);
	d.len = 2 * CHUNK_TS_PACKET;
	d.flags = 0x80;			/* invalid: refused outright */
	ck_assert_int_eq(chunk_verify(&d, pk), -1);
	ck_assert_int_eq(chunk_sign(&d, sk), -1);
	d.flags = CHUNK_F_KEYFRAME;
	ck_assert_int_eq(chunk_verify(&d, pk), 0);

	/* Another key fails; an unsigned (zero) signature fails. */
	crypto_sign_keypair(other_pk, other_sk);
	ck_assert_int_eq(chunk_verify(&d, other_pk), -1);
	c = d;
	ck_assert_int_eq(chunk_sign(&c, other_sk), 0);
	ck_assert_int_eq(chunk_verify(&c, other_pk), 0);
	ck_assert_int_eq(chunk_verify(&c, pk), -1);
	memset(c.signature, 0, sizeof c.signature);
	ck_assert_int_eq(chunk_verify(&c, pk), -1);
}
END_TEST

/* The playout model: start-up is no stall; a silence longer than the
 * buffer is one, counted from the moment it ran dry; a gap's chunks add
 * no media. */
START_TEST(test_playout)
{
	struct playout p;
	uint64_t t = 1000, seq = 1, ts = 5000000;
	int i;

	playout_init(&p, 1000, 500);
	for (i = 0; i < 10; i++, seq++, ts += 100000, t += 100)
		playout_chunk(&p, t, seq, ts);
	ck_assert_int_eq(p.state, PLAYOUT_STARTING);	/* 0.9 s held */
	playout_chunk(&p, t, seq++, ts);
	ts += 100000;
	ck_assert_int_eq(p.state, PLAYOUT_PLAYING);
	for (i = 0; i < 50; i++, seq++, ts += 100000) {
		t += 100;
		playout_chunk(&p, t, seq, ts);
	}
	ck_assert_uint_eq(p.stalls, 0);
	ck_assert_uint_eq(p.played_ms, 5000);
	/* 1.5 s of silence with 1 s held: dry after 1 s, 0.5 s stalled. */
	t += 1500;
	playout_advance(&p, t);
	ck_assert_int_eq(p.state, PLAYOUT_STALLED);
	ck_assert_uint_eq(p.stalls, 1);
	ck_assert_uint_eq(p.stalled_ms, 500);
	ck_assert_uint_eq(p.played_ms, 6000);
	/* A gap: the chunk after it adds nothing, so still stalled. */
	seq += 20;
	ts += 2000000;
	playout_chunk(&p, t, seq++, ts);
	ck_assert_int_eq(p.state, PLAYOUT_STALLED);
	/* Five more of 100 ms each: 0.5 s held, playing again. */
	for (i = 0; i < 5; i++) {
		ts += 100000;
		playout_chunk(&p, t, seq++, ts);
	}
	ck_assert_int_eq(p.state, PLAYOUT_PLAYING);
	ck_assert_uint_eq(p.stalls, 1);
	ck_assert(playout_continuity(p.played_ms, p.stalled_ms) > 0.9);
	ck_assert(playout_continuity(0, 0) == 1.0);
}
END_TEST

static Suite *
media_suite(void)
{
	Suite *s = suite_create("media");
	TCase *tc;

	tc = tcase_create("chunk");
	tcase_add_test(tc, test_chunk_vector);
	tcase_add_test(tc, test_chunk_reject);
	tcase_add_test(tc, test_chunk_ts_fields);
	tcase_add_test(tc, test_chunk_sign_vector);
	tcase_add_test(tc, test_chunk_sign_tamper);
	suite_add_tcase(s, tc);

	tc = tcase_create("ring");
	tcase_add_test(tc, test_ring_basic);
	tcase_add_test(tc, test_ring_evict);
	tcase_add_test(tc, test_ring_seq_wrap);
	suite_add_tcase(s, tc);

	tc = tcase_create("serve");
	tcase_add_test(tc, test_resume_parse);
	tcase_add_test(tc, test_serve_next_wrap);
	tcase_add_test(tc, test_playout);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_unchecked_fixture(tc, sample_setup, sample_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_input_open_fail);
	tcase_add_test(tc, test_input_e2e);
	tcase_add_test(tc, test_input_loop);
	tcase_add_test(tc, test_input_realtime);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	return check_run(media_suite());
}
