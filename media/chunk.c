/* The chunk codec: header encode, bounded decode, signature. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "media/chunk.h"

static void
chunk_put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
chunk_get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void __attribute__((format(printf, 3, 4)))
chunk_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

uint16_t
chunk_ts_pid(const uint8_t *p)
{
	return (uint16_t)((p[1] & 0x1f) << 8 | p[2]);
}

int
chunk_ts_pusi(const uint8_t *p)
{
	return (p[1] & 0x40) != 0;
}

int
chunk_ts_random_access(const uint8_t *p)
{
	/* adaptation_field_control '10' or '11', then a non-empty field. */
	if ((p[3] & 0x20) == 0 || p[4] == 0)
		return 0;
	return (p[5] & 0x40) != 0;
}

int
chunk_check_payload(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	size_t off;

	if (len == 0 || len % CHUNK_TS_PACKET != 0) {
		chunk_seterr(err, errlen, "payload length %lu is not a "
		    "non-zero multiple of 188", (unsigned long)len);
		return -1;
	}
	if (len > CHUNK_MAX_PAYLOAD) {
		chunk_seterr(err, errlen, "payload length %lu is over the "
		    "maximum of %lu", (unsigned long)len,
		    (unsigned long)CHUNK_MAX_PAYLOAD);
		return -1;
	}
	for (off = 0; off < len; off += CHUNK_TS_PACKET) {
		if (p[off] != CHUNK_TS_SYNC) {
			chunk_seterr(err, errlen, "TS packet %lu does not start "
			    "with the sync byte 0x47",
			    (unsigned long)(off / CHUNK_TS_PACKET));
			return -1;
		}
	}
	return 0;
}

int
chunk_encode_header(const struct chunk *c, uint8_t *out, size_t outlen)
{
	if (outlen < CHUNK_HEADER_LEN || (c->flags & ~CHUNK_F_ALL) != 0 ||
	    c->len == 0 || c->len % CHUNK_TS_PACKET != 0 ||
	    c->len > CHUNK_MAX_PAYLOAD)
		return -1;
	out[0] = CHUNK_MAGIC0;
	out[1] = CHUNK_MAGIC1;
	out[2] = CHUNK_VERSION;
	out[3] = c->flags;
	chunk_put64(out + 4, c->seq);
	chunk_put64(out + 12, c->timestamp_us);
	out[20] = (uint8_t)(c->len >> 24);
	out[21] = (uint8_t)(c->len >> 16);
	out[22] = (uint8_t)(c->len >> 8);
	out[23] = (uint8_t)c->len;
	memcpy(out + 24, c->signature, CHUNK_SIG_LEN);
	return CHUNK_HEADER_LEN;
}

int
chunk_encode(const struct chunk *c, uint8_t *out, size_t outlen)
{
	if (chunk_encode_header(c, out, outlen) < 0 ||
	    outlen - CHUNK_HEADER_LEN < c->len)
		return -1;
	memcpy(out + CHUNK_HEADER_LEN, c->payload, c->len);
	return (int)(CHUNK_HEADER_LEN + c->len);
}

int
chunk_decode(const uint8_t *in, size_t len, struct chunk *c, char *err,
    size_t errlen)
{
	uint32_t plen;

	if (len < CHUNK_HEADER_LEN) {
		chunk_seterr(err, errlen, "truncated header: %lu bytes",
		    (unsigned long)len);
		return -1;
	}
	if (in[0] != CHUNK_MAGIC0 || in[1] != CHUNK_MAGIC1) {
		chunk_seterr(err, errlen, "bad magic 0x%04lx",
		    (unsigned long)(in[0] << 8 | in[1]));
		return -1;
	}
	if (in[2] != CHUNK_VERSION) {
		chunk_seterr(err, errlen, "unknown version %lu",
		    (unsigned long)in[2]);
		return -1;
	}
	if ((in[3] & ~CHUNK_F_ALL) != 0) {
		chunk_seterr(err, errlen, "unknown flags 0x%02lx",
		    (unsigned long)in[3]);
		return -1;
	}
	plen = (uint32_t)in[20] << 24 | (uint32_t)in[21] << 16 |
	    (uint32_t)in[22] << 8 | in[23];
	/* A bad declared length is rejected before it bounds any read:
	 * chunk_check_payload fails on the length alone. */
	if (plen == 0 || plen % CHUNK_TS_PACKET != 0 ||
	    plen > CHUNK_MAX_PAYLOAD)
		return chunk_check_payload(in, plen, err, errlen);
	if (len - CHUNK_HEADER_LEN < plen) {
		chunk_seterr(err, errlen, "truncated payload: %lu bytes "
		    "missing", (unsigned long)(plen - (len - CHUNK_HEADER_LEN)));
		return -1;
	}
	if (chunk_check_payload(in + CHUNK_HEADER_LEN, plen, err, errlen) < 0)
		return -1;
	c->flags = in[3];
	c->seq = chunk_get64(in + 4);
	c->timestamp_us = chunk_get64(in + 12);
	memcpy(c->signature, in + 24, CHUNK_SIG_LEN);
	c->payload = in + CHUNK_HEADER_LEN;
	c->len = plen;
	return (int)(CHUNK_HEADER_LEN + plen);
}

/*
 * The message under a chunk's signature, into out: the context, the
 * header's first CHUNK_SIGNED_LEN bytes, the payload. Its length, or -1
 * if c is not valid or out too small.
 */
_Static_assert(sizeof CHUNK_SIG_CONTEXT == CHUNK_SIG_CONTEXT_LEN,
    "the signature's context is 16 bytes");

static int
chunk_signed_message(const struct chunk *c, uint8_t *out, size_t outlen)
{
	uint8_t hdr[CHUNK_HEADER_LEN];

	if (chunk_encode_header(c, hdr, sizeof hdr) < 0 ||
	    outlen < CHUNK_SIG_CONTEXT_LEN + CHUNK_SIGNED_LEN + c->len)
		return -1;
	memcpy(out, CHUNK_SIG_CONTEXT, CHUNK_SIG_CONTEXT_LEN);
	memcpy(out + CHUNK_SIG_CONTEXT_LEN, hdr, CHUNK_SIGNED_LEN);
	memcpy(out + CHUNK_SIG_CONTEXT_LEN + CHUNK_SIGNED_LEN, c->payload,
	    c->len);
	return (int)(CHUNK_SIG_CONTEXT_LEN + CHUNK_SIGNED_LEN + c->len);
}

int
chunk_sign(struct chunk *c, const uint8_t sk[CHUNK_SECRET_LEN])
{
	uint8_t m[CHUNK_SIG_CONTEXT_LEN + CHUNK_SIGNED_LEN + CHUNK_MAX_PAYLOAD];
	int n;

	if ((n = chunk_signed_message(c, m, sizeof m)) < 0)
		return -1;
	crypto_sign_detached(c->signature, NULL, m, (unsigned long long)n,
	    sk);
	return 0;
}

int
chunk_verify(const struct chunk *c, const uint8_t pk[CHUNK_PUBLIC_LEN])
{
	uint8_t m[CHUNK_SIG_CONTEXT_LEN + CHUNK_SIGNED_LEN + CHUNK_MAX_PAYLOAD];
	int n;

	if ((n = chunk_signed_message(c, m, sizeof m)) < 0)
		return -1;
	return crypto_sign_verify_detached(c->signature, m,
	    (unsigned long long)n, pk) == 0 ? 0 : -1;
}

static crypto_generichash_state *
chunk_digest_state(struct chunk_digest *d)
{
	return &d->state;
}

void
chunk_digest_init(struct chunk_digest *d)
{
	memset(d, 0, sizeof *d);
}

int
chunk_digest_add(struct chunk_digest *d, const struct chunk *c,
    uint64_t *first, char out[CHUNK_DIGEST_HEX])
{
	uint8_t hdr[CHUNK_HEADER_LEN], sum[16];

	if (c->seq % CHUNK_DIGEST_WINDOW == 0) {
		crypto_generichash_init(chunk_digest_state(d), NULL, 0,
		    sizeof sum);
		d->whole = 1;
	} else if (c->seq != d->next)
		d->whole = 0;		/* a gap: this window is not whole */
	d->next = c->seq + 1;
	if (!d->whole)
		return 0;
	if (chunk_encode_header(c, hdr, sizeof hdr) < 0) {
		d->whole = 0;
		return 0;
	}
	crypto_generichash_update(chunk_digest_state(d), hdr, sizeof hdr);
	crypto_generichash_update(chunk_digest_state(d), c->payload, c->len);
	if (c->seq % CHUNK_DIGEST_WINDOW != CHUNK_DIGEST_WINDOW - 1)
		return 0;
	crypto_generichash_final(chunk_digest_state(d), sum, sizeof sum);
	sodium_bin2hex(out, CHUNK_DIGEST_HEX, sum, sizeof sum);
	*first = c->seq + 1 - CHUNK_DIGEST_WINDOW;
	d->whole = 0;
	return 1;
}
