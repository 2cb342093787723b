/*
 * chunk-bench: what signing the stream costs, for the two ways issue 15
 * names, on full chunks (CHUNK_MAX_PACKETS TS packets, 12,032 bytes):
 *
 *   (a) an Ed25519 signature on every chunk (media/chunk.c's chunk_sign
 *       and chunk_verify, what treecast does);
 *   (b) a BLAKE2b-256 hash of every chunk, and one Ed25519 signature over
 *       the hashes of each window of --window chunks.
 *
 * Each figure is the least of --rounds rounds of --ms milliseconds: on a
 * shared machine other processes only ever add time. Per second of video:
 * at --mbps of payload (default 5), cut into full chunks.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "media/chunk.h"

#define BENCH_ROUNDS_MAX	99

struct bench {
	unsigned	 rounds;
	unsigned	 ms;
	unsigned	 window;
	double		 mbps;
	uint8_t		 pk[CHUNK_PUBLIC_LEN], sk[CHUNK_SECRET_LEN];
	uint8_t		 payload[CHUNK_MAX_PAYLOAD];
	struct chunk	 c;
	uint8_t		*hashes;	/* window x 32 bytes: (b)'s message */
	uint8_t		 wsig[CHUNK_SIG_LEN];
};

typedef int (*bench_fn)(struct bench *b);

static double
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The least over the rounds of fn's time per call, ns; -1 if fn failed. */
static double
bench_time(struct bench *b, bench_fn fn)
{
	double v[BENCH_ROUNDS_MAX], t0, t;
	unsigned r;
	long n;

	for (r = 0; r < b->rounds; r++) {
		t0 = bench_now_ns();
		n = 0;
		do {
			if (fn(b) != 0)
				return -1;
			n++;
		} while ((t = bench_now_ns()) - t0 < b->ms * 1e6);
		v[r] = (t - t0) / (double)n;
	}
	qsort(v, b->rounds, sizeof v[0], bench_cmp);
	return v[0];
}

static int
bench_sign(struct bench *b)
{
	return chunk_sign(&b->c, b->sk);
}

static int
bench_verify(struct bench *b)
{
	return chunk_verify(&b->c, b->pk);
}

/* (b): the chunk's hash, into the window's message. */
static int
bench_hash(struct bench *b)
{
	uint8_t hdr[CHUNK_HEADER_LEN];
	crypto_generichash_state st;

	if (chunk_encode_header(&b->c, hdr, sizeof hdr) < 0)
		return -1;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hdr, CHUNK_SIGNED_LEN);
	crypto_generichash_update(&st, b->c.payload, b->c.len);
	crypto_generichash_final(&st, b->hashes, 32);
	return 0;
}

static int
bench_window_sign(struct bench *b)
{
	return crypto_sign_detached(b->wsig, NULL, b->hashes,
	    (unsigned long long)b->window * 32, b->sk);
}

static int
bench_window_verify(struct bench *b)
{
	return crypto_sign_verify_detached(b->wsig, b->hashes,
	    (unsigned long long)b->window * 32, b->pk);
}

static void
bench_line(const char *name, double v, const char *unit)
{
	printf("%-44s %12.0f %s\n", name, v, unit);
}

static void
bench_usage(FILE *f)
{
	fprintf(f, "usage: bench/chunk-bench [--rounds N] [--ms MS] "
	    "[--window N] [--mbps R]\n\n"
	    "Measures signing and checking full chunks, (a) one Ed25519 "
	    "signature each, (b)\nBLAKE2b per chunk and a signature per "
	    "window of hashes, and prints the cost\nper chunk and per "
	    "second of video.\n\n"
	    "  --rounds N   rounds per figure, the least kept (default 9)\n"
	    "  --ms MS      each round's length (default 100)\n"
	    "  --window N   chunks under one signature in (b) (default 64)\n"
	    "  --mbps R     the video's rate, Mbit/s (default 5)\n"
	    "  -h, --help   print this help and exit\n");
}

static long
bench_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "chunk-bench: --%s '%s': expected %ld to %ld\n",
		    name, v, lo, hi);
		exit(2);
	}
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "window", required_argument, NULL, 'w' },
		{ "mbps", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct bench b;
	double per_s, sign, verify, hash, wsign, wverify, pb_sign, pb_verify;
	size_t i;
	int k;

	b.rounds = 9;
	b.ms = 100;
	b.window = 64;
	b.mbps = 5;
	while ((k = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (k) {
		case 'r':
			b.rounds = (unsigned)bench_arg("rounds", optarg, 1,
			    BENCH_ROUNDS_MAX);
			break;
		case 'm':
			b.ms = (unsigned)bench_arg("ms", optarg, 1, 60000);
			break;
		case 'w':
			b.window = (unsigned)bench_arg("window", optarg, 1,
			    4096);
			break;
		case 'b':
			b.mbps = (double)bench_arg("mbps", optarg, 1, 10000);
			break;
		case 'h':
			bench_usage(stdout);
			return 0;
		default:
			bench_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		bench_usage(stderr);
		return 2;
	}
	if (sodium_init() < 0 || (b.hashes = calloc(b.window, 32)) == NULL) {
		fprintf(stderr, "chunk-bench: cannot start libsodium\n");
		return 1;
	}
	crypto_sign_keypair(b.pk, b.sk);
	randombytes_buf(b.payload, sizeof b.payload);
	for (i = 0; i < CHUNK_MAX_PACKETS; i++)
		b.payload[i * CHUNK_TS_PACKET] = CHUNK_TS_SYNC;
	b.c.seq = 1;
	b.c.timestamp_us = 1;
	b.c.payload = b.payload;
	b.c.len = sizeof b.payload;
	randombytes_buf(b.hashes, (size_t)b.window * 32);
	if (chunk_sign(&b.c, b.sk) != 0 || bench_window_sign(&b) != 0) {
		fprintf(stderr, "chunk-bench: cannot sign\n");
		return 1;
	}

	per_s = b.mbps * 1e6 / 8 / CHUNK_MAX_PAYLOAD;
	sign = bench_time(&b, bench_sign);
	verify = bench_time(&b, bench_verify);
	hash = bench_time(&b, bench_hash);
	wsign = bench_time(&b, bench_window_sign);
	wverify = bench_time(&b, bench_window_verify);
	if (sign < 0 || verify < 0 || hash < 0 || wsign < 0 || wverify < 0) {
		fprintf(stderr, "chunk-bench: a signature did not verify\n");
		return 1;
	}
	pb_sign = hash + wsign / b.window;
	pb_verify = hash + wverify / b.window;

	printf("%-44s %12s\n", "figure", "value");
	printf("%-44s %12u bytes\n", "chunk payload", CHUNK_MAX_PAYLOAD);
	printf("%-44s %12.1f chunks/s\n", "chunks per second of video",
	    per_s);
	printf("%-44s %12.0f Mbit/s\n", "video rate", b.mbps);
	printf("%-44s %12u chunks\n", "window of (b)", b.window);
	bench_line("(a) Ed25519 per chunk: sign, per chunk", sign, "ns");
	bench_line("(a) Ed25519 per chunk: verify, per chunk", verify, "ns");
	bench_line("(a) Ed25519 per chunk: sign, per second", sign * per_s /
	    1e3, "us");
	bench_line("(a) Ed25519 per chunk: verify, per second", verify *
	    per_s / 1e3, "us");
	bench_line("(b) BLAKE2b per chunk: hash, per chunk", hash, "ns");
	bench_line("(b) window signature: sign, per window", wsign, "ns");
	bench_line("(b) window signature: verify, per window", wverify, "ns");
	bench_line("(b) per window: sign, per chunk", pb_sign, "ns");
	bench_line("(b) per window: verify, per chunk", pb_verify, "ns");
	bench_line("(b) per window: sign, per second", pb_sign * per_s / 1e3,
	    "us");
	bench_line("(b) per window: verify, per second", pb_verify * per_s /
	    1e3, "us");
	/* (b)'s price: a chunk is known good only when its window's
	 * signature has come, up to a window later. */
	bench_line("(b) per window: wait for the signature, worst",
	    b.window / per_s * 1e3, "ms");
	free(b.hashes);
	return 0;
}
