/*
 * Writes the seeds of fuzz-chunk, fuzz-resume and fuzz-negotiator into
 * tests/fuzz/corpus-*, with the project's own encoders. Not part of the
 * build; after a change to a format, from a configured tree:
 *
 *   cc -std=gnu11 -I. -D_GNU_SOURCE tests/fuzz/make-seeds.c \
 *       media/libmedia.a net/libnet.a -lsodium -o /tmp/make-seeds &&
 *       /tmp/make-seeds tests/fuzz
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/chunk.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

#define SEED_MAX	8192
#define NODE_ORIGIN	0x7e57000000000001ULL	/* fuzz-negotiator's */
#define NODE_A		0x7e57000000000002ULL
#define NODE_B		0x7e57000000000003ULL

static const char *dir;

static void
seed(const char *corpus, const char *name, const uint8_t *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/corpus-%s/%s", dir, corpus, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- chunks ---- */

static size_t
chunk(uint8_t *out, uint64_t seq, int key, size_t packets)
{
	static uint8_t payload[CHUNK_MAX_PAYLOAD];
	uint8_t seed[crypto_sign_SEEDBYTES], pk[CHUNK_PUBLIC_LEN];
	uint8_t sk[CHUNK_SECRET_LEN];
	struct chunk c;
	size_t i;
	int n;

	for (i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)i;
	for (i = 0; i < packets; i++)
		payload[i * CHUNK_TS_PACKET] = CHUNK_TS_SYNC;
	memset(&c, 0, sizeof c);
	c.seq = seq;
	c.flags = key ? CHUNK_F_KEYFRAME : 0;
	c.timestamp_us = 1700000000000000ULL + seq;
	c.payload = payload;
	c.len = packets * CHUNK_TS_PACKET;
	/* Signed with fuzz-chunk's key, so verification is reached. */
	memset(seed, 0x5a, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	if (chunk_sign(&c, sk) != 0)
		exit(1);
	if ((n = chunk_encode(&c, out, CHUNK_MAX_LEN)) < 0)
		exit(1);
	return (size_t)n;
}

static void
chunk_seeds(void)
{
	static uint8_t b[CHUNK_MAX_LEN + 8];
	size_t n;

	seed("chunk", "keyframe-1", b, chunk(b, 1, 1, 1));
	n = chunk(b, 0x0102030405060708ULL, 0, 3);
	memcpy(b + n, "trail", 5);
	seed("chunk", "three-trailing", b, n + 5);
	seed("chunk", "max", b, chunk(b, 7, 1, CHUNK_MAX_PACKETS));
	n = chunk(b, 2, 0, 2);
	seed("chunk", "truncated", b, n - 100);
	n = chunk(b, 3, 0, 2);
	b[CHUNK_HEADER_LEN + CHUNK_TS_PACKET] = 0x48;
	seed("chunk", "bad-sync", b, n);
}

/* ---- RESUME scripts (fuzz-resume.c says how they read) ---- */

static void
resume_seeds(void)
{
	/* fanout 2; a child links, asks for a keyframe; three chunks. */
	static const uint8_t keyframe[] = { 2, 0, 1, 1, 'K', 2 | 0x40, 2, 2 };
	/* fanout 3; three chunks; two children resume from 0 and 1; one
	 * more chunk; the first goes. */
	static const uint8_t seq[] = { 3, 2 | 0x40, 2, 2, 0, 1, 9, 'R', 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 1 | 8, 9, 'R', 0, 0, 0, 0, 0, 0, 0, 1, 2, 4 };
	/* fanout 1; two ask (the second refused, its message lost);
	 * garbage closes the first. */
	static const uint8_t full[] = { 1, 0, 0, 1 | 8, 1, 'K', 1, 3, 'R',
	    1, 2 };
	/* Numbers about to wrap, after a gap; a child blocked, then not. */
	static const uint8_t wrap[] = { 2, 3 | 0x40, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xfe, 0, 1, 9, 'R', 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xfe, 5, 2, 2, 5, 2 | 0x40 };

	seed("resume", "keyframe", keyframe, sizeof keyframe);
	seed("resume", "seq", seq, sizeof seq);
	seed("resume", "full", full, sizeof full);
	seed("resume", "wrap", wrap, sizeof wrap);
}

/* ---- negotiator scripts (fuzz-negotiator.c says how they read) ---- */

static uint8_t script[SEED_MAX];
static size_t scriptlen;

/* Appends a record: ctl, then the message b holds. */
static void
record(uint8_t ctl, struct stun_builder *b)
{
	int n = stun_build_finish(b);

	if (n < 0 || scriptlen + 3 + (size_t)n > sizeof script)
		exit(1);
	script[scriptlen++] = ctl;
	script[scriptlen++] = (uint8_t)(n >> 8);
	script[scriptlen++] = (uint8_t)n;
	memcpy(script + scriptlen, b->buf, (size_t)n);
	scriptlen += (size_t)n;
}

static struct stun_builder *
start(uint16_t method, enum stun_class cls)
{
	static struct stun_builder b;
	static uint8_t buf[STUN_MAX_MSG];
	static uint8_t n;
	uint8_t tid[12];

	memset(tid, ++n, sizeof tid);
	stun_build_init(&b, buf, sizeof buf, method, cls, tid);
	return &b;
}

static void
done(const char *name)
{
	seed("negotiator", name, script, scriptlen);
	scriptlen = 0;
}

/* ctl: from (0..3), signed as (1..3: origin, A, B). */
#define AS(from, who)	((uint8_t)((from) | (who) << 2))

/* A stranger's REGISTER, node id, from internal address in, with
 * XOR-ADDRESS6 addr6 (NULL: none); padded to be answered. */
static void
register_stranger(uint64_t id, const struct sockaddr *in,
    const struct sockaddr *addr6)
{
	static const char pad[64] = "treecast fuzz padding";
	struct nat_profile prof = { NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED,
	    NAT_FILTER_ADF, 0, 0, 0 };
	uint8_t wire[NAT_PROFILE_WIRE_LEN];
	struct stun_builder *b;

	b = start(TC_METHOD_REGISTER, STUN_REQUEST);
	stun_put_u64(b, TC_ATTR_NODE_ID, id);
	stun_put(b, TC_ATTR_CHANNEL, "other", 5);
	stun_put_u32(b, TC_ATTR_ROLE, TC_ROLE_PEER);
	stun_put_xor_address(b, TC_ATTR_XOR_INTERNAL, in);
	if (addr6 != NULL)
		stun_put_xor_address(b, TC_ATTR_XOR_ADDRESS6, addr6);
	nat_profile_encode(&prof, wire);
	stun_put(b, TC_ATTR_NAT_PROFILE, wire, sizeof wire);
	stun_put(b, STUN_ATTR_SOFTWARE, pad, sizeof pad);
	stun_put(b, STUN_ATTR_PADDING, pad, sizeof pad);
	stun_put(b, STUN_ATTR_PADDING, pad, sizeof pad);
	stun_put_fingerprint(b);
	record(3, b);
}

/* A asks for B with ep; B's answer to the INSTRUCT, with ep. */
static void
link_and_ack(const struct tc_endpoint *ep)
{
	struct stun_builder *b;

	b = start(TC_METHOD_LINK, STUN_REQUEST);
	stun_put_u64(b, TC_ATTR_PEER_NODE, NODE_B);
	tc_put_endpoint(b, ep);
	record(AS(1, 2), b);
	b = start(TC_METHOD_INSTRUCT, STUN_SUCCESS);
	tc_put_endpoint(b, ep);
	record(AS(2, 3) | 0x20, b);
}

static void
negotiator_seeds(void)
{
	static const char pad[64] = "treecast fuzz padding";
	struct stun_builder *b;
	struct tc_endpoint ep;
	struct tc_outcome oc;
	struct tc_health h;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	uint8_t children[16];
	int i;

	b = start(STUN_METHOD_BINDING, STUN_REQUEST);
	stun_put(b, STUN_ATTR_SOFTWARE, pad, sizeof pad);
	stun_put_fingerprint(b);
	record(3, b);
	b = start(STUN_METHOD_BINDING, STUN_REQUEST);
	stun_put_u32(b, STUN_ATTR_CHANGE_REQUEST, 0x6);
	stun_put(b, STUN_ATTR_SOFTWARE, pad, sizeof pad);
	record(0, b);
	done("binding");

	b = start(TC_METHOD_KEEPALIVE, STUN_REQUEST);
	record(AS(1, 2), b);
	b = start(TC_METHOD_JOIN, STUN_REQUEST);
	record(AS(1, 2), b);
	b = start(TC_METHOD_JOIN, STUN_REQUEST);
	record(AS(2, 3), b);
	b = start(TC_METHOD_KEEPALIVE, STUN_REQUEST);
	stun_put(b, STUN_ATTR_PADDING, pad, sizeof pad);
	record(AS(2, 3), b);
	done("join");

	memset(&ep, 0, sizeof ep);
	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(0xc6336402);		/* 198.51.100.2 */
	in.sin_port = htons(40001);
	memcpy(&ep.external, &in, sizeof in);
	in.sin_addr.s_addr = htonl(0x0a000002);
	memcpy(&ep.internal, &in, sizeof in);
	ep.ports[0] = 40001;
	ep.ports[1] = 40002;
	ep.nports = 2;
	link_and_ack(&ep);
	b = start(TC_METHOD_REPORT, STUN_REQUEST);
	stun_put_u64(b, TC_ATTR_LINK, 1);
	memset(&oc, 0, sizeof oc);
	oc.ok = 1;
	tc_put_outcome(b, &oc);
	record(AS(1, 2), b);
	done("link");

	b = start(TC_METHOD_STATUS, STUN_REQUEST);
	stun_put_u64(b, TC_ATTR_PARENT, NODE_ORIGIN);
	for (i = 0; i < 16; i++)
		children[i] = (uint8_t)(i < 8 ? NODE_A >> (8 * (7 - i)) :
		    NODE_B >> (8 * (15 - i)));
	stun_put(b, TC_ATTR_CHILDREN, children, sizeof children);
	memset(&h, 0, sizeof h);
	h.bytes_out = 1000;
	h.kbps_out = 8;
	tc_put_health(b, &h);
	record(AS(0, 1), b);
	/* The same again: a retransmission (its own SEQ, 1). */
	b = start(TC_METHOD_STATUS, STUN_REQUEST);
	stun_put_u32(b, TC_ATTR_SEQ, 1);
	record(AS(0, 1) | 0x10, b);
	done("status");

	/* A stranger registers; asks unsigned; a node leaves, then asks. */
	in.sin_addr.s_addr = htonl(0x0a000009);
	register_stranger(0x1234, (struct sockaddr *)&in, NULL);
	b = start(TC_METHOD_KEEPALIVE, STUN_REQUEST);
	stun_put_u64(b, TC_ATTR_SESSION, 1);
	stun_put_u32(b, TC_ATTR_SEQ, 1);
	stun_put(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, pad, 32);
	record(3, b);
	b = start(TC_METHOD_LEAVE, STUN_REQUEST);
	record(AS(2, 3), b);
	b = start(TC_METHOD_KEEPALIVE, STUN_REQUEST);
	record(AS(2, 3), b);
	done("register-leave");

	/* Dual stack: a stranger registers its IPv6 address; A asks for B
	 * with an IPv6 candidate, and B answers with one. */
	memset(&in6, 0, sizeof in6);
	in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1::2", &in6.sin6_addr);
	register_stranger(0x1236, (struct sockaddr *)&in,
	    (struct sockaddr *)&in6);
	in6.sin6_port = htons(40003);
	memcpy(&ep.v6, &in6, sizeof in6);
	link_and_ack(&ep);
	done("link-ipv6");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make-seeds DIR (tests/fuzz)\n");
		return 2;
	}
	dir = argv[1];
	chunk_seeds();
	resume_seeds();
	negotiator_seeds();
	return 0;
}
