/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104). The compression
 * function is chosen once: the x86 SHA extensions where the CPU has them
 * (about ten times faster than portable C for STUN's short messages),
 * portable C otherwise.
 */
#include "config.h"

#include <stdatomic.h>
#include <string.h>

#include "net/wire/sha256.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_HAVE_X86 1
#endif

typedef void sha256_compress_fn(uint32_t[8], const uint8_t *, size_t);

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
};

static uint32_t
sha256_ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t
sha256_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* FIPS 180-4 §6.2.2, one block at a time. */
static void
sha256_compress_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (; nblocks > 0; nblocks--, p += SHA256_BLOCK) {
		for (i = 0; i < 16; i++)
			w[i] = sha256_be32(p + 4 * i);
		for (i = 16; i < 64; i++)
			w[i] = w[i - 16] + (sha256_ror(w[i - 15], 7) ^
			    sha256_ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
			    w[i - 7] + (sha256_ror(w[i - 2], 17) ^
			    sha256_ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
		a = h[0]; b = h[1]; c = h[2]; d = h[3];
		e = h[4]; f = h[5]; g = h[6]; hh = h[7];
		for (i = 0; i < 64; i++) {
			t1 = hh + (sha256_ror(e, 6) ^ sha256_ror(e, 11) ^
			    sha256_ror(e, 25)) + ((e & f) ^ (~e & g)) +
			    sha256_k[i] + w[i];
			t2 = (sha256_ror(a, 2) ^ sha256_ror(a, 13) ^
			    sha256_ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			hh = g; g = f; f = e; e = d + t1;
			d = c; c = b; b = a; a = t1 + t2;
		}
		h[0] += a; h[1] += b; h[2] += c; h[3] += d;
		h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
	}
}

#ifdef SHA256_HAVE_X86
/*
 * The same with the SHA extensions. SHA256RNDS2 keeps the state as two
 * registers, ABEF and CDGH, and does two rounds per instruction; MSG1 and
 * MSG2 compute the message schedule four words at a time:
 * W[t] = MSG2(MSG1(W[t-16..], W[t-12..]) + W[t-7..], W[t-4..]).
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void
sha256_compress_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	    0x0405060700010203ULL);
	__m128i abef, cdgh, abef0, cdgh0, t, w[4], m;
	int i;

	t = _mm_loadu_si128((const __m128i *)&h[0]);	/* D C B A */
	cdgh = _mm_loadu_si128((const __m128i *)&h[4]);	/* H G F E */
	t = _mm_shuffle_epi32(t, 0xb1);			/* C D A B */
	cdgh = _mm_shuffle_epi32(cdgh, 0x1b);		/* E F G H */
	abef = _mm_alignr_epi8(t, cdgh, 8);		/* A B E F */
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);		/* C D G H */

	for (; nblocks > 0; nblocks--, p += SHA256_BLOCK) {
		abef0 = abef;
		cdgh0 = cdgh;
#pragma GCC unroll 16
		for (i = 0; i < 16; i++) {
			if (i < 4) {
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128(
				    (const __m128i *)(p + 16 * i)), bswap);
			} else {
				t = _mm_sha256msg1_epu32(w[i & 3],
				    w[(i + 1) & 3]);
				t = _mm_add_epi32(t, _mm_alignr_epi8(
				    w[(i + 3) & 3], w[(i + 2) & 3], 4));
				w[i & 3] = _mm_sha256msg2_epu32(t,
				    w[(i + 3) & 3]);
			}
			m = _mm_add_epi32(w[i & 3], _mm_loadu_si128(
			    (const __m128i *)&sha256_k[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
			m = _mm_shuffle_epi32(m, 0x0e);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, m);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	t = _mm_shuffle_epi32(abef, 0x1b);		/* F E B A */
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);		/* D C H G */
	abef = _mm_blend_epi16(t, cdgh, 0xf0);		/* D C B A */
	cdgh = _mm_alignr_epi8(cdgh, t, 8);		/* H G F E */
	_mm_storeu_si128((__m128i *)&h[0], abef);
	_mm_storeu_si128((__m128i *)&h[4], cdgh);
}

static int
sha256_cpu_has_shani(void)
{
	unsigned int a, b, c, d;

	/* SHA (leaf 7 EBX bit 29) needs SSSE3 and SSE4.1 beside it. */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) ||
	    !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & (1u << 29)) != 0;
}
#endif

/* 0 not chosen yet, 1 portable, 2 SHA-NI. cpuid is slow (a VM exit under a
 * hypervisor), so it is asked once; a race only asks twice. */
static atomic_int sha256_choice;
static atomic_int sha256_portable_only;

static int
sha256_choose(void)
{
	int c = atomic_load_explicit(&sha256_choice, memory_order_relaxed);

	if (c == 0) {
		c = 1;
#ifdef SHA256_HAVE_X86
		if (sha256_cpu_has_shani())
			c = 2;
#endif
		atomic_store_explicit(&sha256_choice, c, memory_order_relaxed);
	}
	if (atomic_load_explicit(&sha256_portable_only, memory_order_relaxed))
		c = 1;
	return c;
}

static void
sha256_compress(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
#ifdef SHA256_HAVE_X86
	if (sha256_choose() == 2) {
		sha256_compress_shani(h, p, nblocks);
		return;
	}
#endif
	sha256_compress_portable(h, p, nblocks);
}

const char *
sha256_impl(void)
{
	return sha256_choose() == 2 ? "sha-ni" : "portable";
}

int
sha256_force_portable(int on)
{
	return atomic_exchange(&sha256_portable_only, on != 0);
}

void
sha256_init(struct sha256 *s)
{
	memcpy(s->h, sha256_iv, sizeof s->h);
	s->len = 0;
	s->n = 0;
}

void
sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t take;

	s->len += len;
	if (s->n > 0) {
		take = SHA256_BLOCK - s->n < len ? SHA256_BLOCK - s->n : len;
		memcpy(s->buf + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n < SHA256_BLOCK)
			return;
		sha256_compress(s->h, s->buf, 1);
		s->n = 0;
	}
	if (len >= SHA256_BLOCK) {
		sha256_compress(s->h, p, len / SHA256_BLOCK);
		p += len - len % SHA256_BLOCK;
		len %= SHA256_BLOCK;
	}
	memcpy(s->buf, p, len);
	s->n = len;
}

/* §5.1.1: a 1 bit, zeros, and the length in bits as 64 big-endian bits. */
void
sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
	uint64_t bits = s->len * 8;
	int i;

	s->buf[s->n++] = 0x80;
	if (s->n > SHA256_BLOCK - 8) {
		memset(s->buf + s->n, 0, SHA256_BLOCK - s->n);
		sha256_compress(s->h, s->buf, 1);
		s->n = 0;
	}
	memset(s->buf + s->n, 0, SHA256_BLOCK - 8 - s->n);
	for (i = 0; i < 8; i++)
		s->buf[SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha256_compress(s->h, s->buf, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* RFC 2104 §2: H(K ^ opad, H(K ^ ipad, text)); a key longer than a block
 * is hashed first. The outer state is kept after its first block. */
void
hmac_sha256_init(struct hmac_sha256 *m, const uint8_t *key, size_t keylen)
{
	uint8_t pad[SHA256_BLOCK], hashed[SHA256_LEN];
	struct sha256 s;
	size_t i;

	if (keylen > SHA256_BLOCK) {
		sha256_init(&s);
		sha256_update(&s, key, keylen);
		sha256_final(&s, hashed);
		key = hashed;
		keylen = sizeof hashed;
	}
	memset(pad, 0x36, sizeof pad);
	for (i = 0; i < keylen; i++)
		pad[i] ^= key[i];
	sha256_init(&m->inner);
	sha256_update(&m->inner, pad, sizeof pad);
	for (i = 0; i < sizeof pad; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	memcpy(m->outer, sha256_iv, sizeof m->outer);
	sha256_compress(m->outer, pad, 1);
	explicit_bzero(pad, sizeof pad);
	explicit_bzero(hashed, sizeof hashed);
	explicit_bzero(&s, sizeof s);
}

void
hmac_sha256_update(struct hmac_sha256 *m, const void *data, size_t len)
{
	sha256_update(&m->inner, data, len);
}

void
hmac_sha256_final(struct hmac_sha256 *m, uint8_t out[SHA256_LEN])
{
	uint8_t ihash[SHA256_LEN];
	struct sha256 o;

	sha256_final(&m->inner, ihash);
	memcpy(o.h, m->outer, sizeof o.h);
	o.len = SHA256_BLOCK;
	o.n = 0;
	sha256_update(&o, ihash, sizeof ihash);
	sha256_final(&o, out);
	explicit_bzero(ihash, sizeof ihash);
	explicit_bzero(&o, sizeof o);
	explicit_bzero(m, sizeof *m);
}
