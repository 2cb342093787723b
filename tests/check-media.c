/*
 * Unit tests for media/: the chunk codec (byte vectors and every
 * rejection, signatures), the ring, and the playout model.
 * check-media-input.c has media_input end to end; check-serve.c serving
 * children.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "media/playout.h"
#include "media/ring.h"
#include "media/chunk.h"
#include "tests/check-media.h"
#include "tests/check-run.h"

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
int
main(void)
{
	struct check_case cases[] = {
		{ .name = "chunk", .tests = { test_chunk_vector,
		    test_chunk_reject, test_chunk_ts_fields,
		    test_chunk_sign_vector, test_chunk_sign_tamper } },
		{ .name = "ring", .tests = { test_ring_basic, test_ring_evict,
		    test_ring_seq_wrap } },
		{ .name = "playout", .tests = { test_playout } },
	};

	if (sodium_init() < 0)
		return 1;
	return check_run_cases("media", cases, sizeof cases / sizeof cases[0]);
}
