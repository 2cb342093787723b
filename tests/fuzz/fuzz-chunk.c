/* libFuzzer target for media/chunk: arbitrary bytes through chunk_decode
 * and chunk_check_payload, each against a plain reading of the format in
 * chunk.h; what decodes must encode again to the same bytes, and no prefix
 * of it may decode. Any broken promise aborts. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "media/chunk.h"
#include "tests/fuzz/fuzz.h"

/* What chunk_check_payload must answer, read off the format. */
static int
fuzz_payload_ok(const uint8_t *p, size_t len)
{
	size_t off;

	if (len == 0 || len % CHUNK_TS_PACKET != 0 || len > CHUNK_MAX_PAYLOAD)
		return 0;
	for (off = 0; off < len; off += CHUNK_TS_PACKET)
		if (p[off] != CHUNK_TS_SYNC)
			return 0;
	return 1;
}

/* A reason was written, NUL-terminated, within errlen. */
static void
fuzz_reason(const char *err, size_t errlen)
{
	fuzz_assert(memchr(err, '\0', errlen) != NULL);
	fuzz_assert(errlen == 1 || err[0] != '\0');
}

/* A chunk that decoded: its fields are the bytes', it encodes back to
 * them, and its packets read as TS packets. */
static void
fuzz_decoded(const uint8_t *data, size_t n, const struct chunk *c)
{
	static uint8_t out[CHUNK_MAX_LEN];
	struct chunk back;
	size_t off;
	uint32_t plen;

	plen = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 |
	    (uint32_t)data[22] << 8 | data[23];
	fuzz_assert(n == CHUNK_HEADER_LEN + (size_t)plen);
	fuzz_assert(n <= CHUNK_MAX_LEN);
	fuzz_assert(c->len == plen);
	fuzz_assert(c->payload == data + CHUNK_HEADER_LEN);
	fuzz_assert(c->flags == data[3] && (c->flags & ~CHUNK_F_ALL) == 0);
	fuzz_assert(data[0] == CHUNK_MAGIC0 && data[1] == CHUNK_MAGIC1 &&
	    data[2] == CHUNK_VERSION);
	fuzz_assert(memcmp(c->signature, data + 24, CHUNK_SIG_LEN) == 0);
	fuzz_assert(fuzz_payload_ok(c->payload, c->len));
	fuzz_assert(chunk_check_payload(c->payload, c->len, NULL, 0) == 0);

	/* The round trip: the same bytes, and no byte more. */
	memset(out, 0xa5, sizeof out);
	fuzz_assert(chunk_encode(c, out, n) == (int)n);
	fuzz_assert(memcmp(out, data, n) == 0);
	fuzz_assert(chunk_encode(c, out, n - 1) == -1);
	fuzz_assert(chunk_encode_header(c, out, CHUNK_HEADER_LEN) ==
	    CHUNK_HEADER_LEN);
	fuzz_assert(chunk_encode_header(c, out, CHUNK_HEADER_LEN - 1) == -1);
	fuzz_assert(chunk_decode(out, n, &back, NULL, 0) == (int)n);
	fuzz_assert(back.seq == c->seq && back.timestamp_us ==
	    c->timestamp_us && back.flags == c->flags && back.len == c->len);

	/* Cut short by one byte, it is refused. */
	fuzz_assert(chunk_decode(data, n - 1, &back, NULL, 0) == -1);

	for (off = 0; off < c->len; off += CHUNK_TS_PACKET) {
		fuzz_assert(chunk_ts_pid(c->payload + off) < 0x2000);
		fuzz_assert(chunk_ts_pusi(c->payload + off) <= 1);
		fuzz_assert(chunk_ts_random_access(c->payload + off) <= 1);
	}
}

/* The seeds' key (make-seeds.c signs with the same seed). */
static void
fuzz_keypair(uint8_t pk[CHUNK_PUBLIC_LEN], uint8_t sk[CHUNK_SECRET_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	memset(seed, 0x5a, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* A chunk signed by the key passes chunk_verify; with one byte of its
 * header or payload flipped, it fails. Any other chunk fails. */
static void
fuzz_signed(const uint8_t *data, size_t n, const struct chunk *c)
{
	static uint8_t pk[CHUNK_PUBLIC_LEN], sk[CHUNK_SECRET_LEN];
	static uint8_t copy[CHUNK_MAX_LEN];
	static int have;
	struct chunk f;
	size_t at;

	if (!have) {
		fuzz_keypair(pk, sk);
		have = 1;
	}
	if (chunk_verify(c, pk) != 0)
		return;
	/* Flip a byte outside the signature field: it must no longer pass. */
	memcpy(copy, data, n);
	at = (c->seq + c->len) % (n - CHUNK_SIG_LEN);
	if (at >= 24)
		at += CHUNK_SIG_LEN;
	copy[at] ^= 0x01;
	if (chunk_decode(copy, n, &f, NULL, 0) == (int)n)
		fuzz_assert(chunk_verify(&f, pk) != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunk c, c2;
	char err[128], tiny[1];
	int n, ok;

	/* The payload check alone, on the whole input. */
	ok = fuzz_payload_ok(data, size);
	err[0] = 'x';
	fuzz_assert((chunk_check_payload(data, size, err, sizeof err) == 0) ==
	    ok);
	if (!ok)
		fuzz_reason(err, sizeof err);

	memset(&c, 0, sizeof c);
	err[0] = 'x';
	n = chunk_decode(data, size, &c, err, sizeof err);
	fuzz_assert(n == -1 || (n >= CHUNK_HEADER_LEN + CHUNK_TS_PACKET &&
	    (size_t)n <= size));
	/* Without room for a reason, or with none, the same verdict. */
	tiny[0] = 'x';
	fuzz_assert(chunk_decode(data, size, &c2, tiny, sizeof tiny) == n);
	fuzz_assert(chunk_decode(data, size, &c2, NULL, 0) == n);
	if (n == -1) {
		fuzz_reason(err, sizeof err);
		fuzz_assert(tiny[0] == '\0');
		return 0;
	}
	fuzz_decoded(data, (size_t)n, &c);
	fuzz_signed(data, (size_t)n, &c);
	return 0;
}
