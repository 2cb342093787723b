/* libFuzzer target for net/wire/stun and the control protocol's own readers
 * (net/wire/proto): arbitrary bytes through stun_parse, every attribute reader,
 * the link endpoint and outcome readers, and both checks; what parses is
 * built again and must parse back to the same attributes. Any broken
 * promise aborts. */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/wire/proto.h"
#include "net/wire/stun.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_KEY	((const uint8_t *)"fuzz-key")
#define FUZZ_KEYLEN	8

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* Same address, an IPv4-mapped IPv6 one being equal to its IPv4 form (the
 * builder writes those as IPv4). */
static int
fuzz_same_address(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	struct sockaddr_in	 a4, b4;
	struct sockaddr_in6	 a6, b6;

	if (a->ss_family == AF_INET6 && b->ss_family == AF_INET) {
		memcpy(&a6, a, sizeof a6);
		memcpy(&b4, b, sizeof b4);
		return IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr) &&
		    memcmp(a6.sin6_addr.s6_addr + 12, &b4.sin_addr, 4) == 0 &&
		    a6.sin6_port == b4.sin_port;
	}
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		memcpy(&a4, a, sizeof a4);
		memcpy(&b4, b, sizeof b4);
		return a4.sin_addr.s_addr == b4.sin_addr.s_addr &&
		    a4.sin_port == b4.sin_port;
	}
	memcpy(&a6, a, sizeof a6);
	memcpy(&b6, b, sizeof b6);
	return memcmp(&a6.sin6_addr, &b6.sin6_addr, 16) == 0 &&
	    a6.sin6_port == b6.sin6_port;
}

/* Every reader on one attribute, whatever its type. */
static void
fuzz_readers(const struct stun_msg *msg, const struct stun_attr *a)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	const char		*reason;
	size_t			 rlen;
	uint32_t		 u32;
	uint64_t		 u64;
	int			 code;

	fuzz_assert(a->value >= msg->buf + STUN_HEADER_LEN);
	fuzz_assert(a->offset + STUN_ATTR_HEADER_LEN + a->len <= msg->length);
	fuzz_assert(a->value == msg->buf + a->offset + STUN_ATTR_HEADER_LEN);

	if (stun_attr_address(a, &ss, &sslen) == 0)
		fuzz_assert(sslen == (ss.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
	if (stun_attr_xor_address(msg, a, &ss, &sslen) == 0)
		fuzz_assert(ss.ss_family == AF_INET ||
		    ss.ss_family == AF_INET6);
	if (stun_attr_u32(a, &u32) == 0)
		fuzz_assert(a->len == 4);
	if (stun_attr_u64(a, &u64) == 0)
		fuzz_assert(a->len == 8);
	if (stun_attr_error_code(a, &code, &reason, &rlen) == 0) {
		fuzz_assert(code >= 300 && code <= 699);
		fuzz_assert(rlen + 4 == a->len);
		if (rlen > 0)
			fuzz_assert(((const uint8_t *)reason)[rlen - 1] ==
			    a->value[a->len - 1]);
	}
	(void)stun_attr_name(a->type);
}

/*
 * Builds msg again: each listed attribute but the integrity ones and
 * FINGERPRINT, through the typed put that reads it back, then a fresh
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT. When it fits, it must parse,
 * verify, and hold the same values.
 */
static void
fuzz_rebuild(const struct stun_msg *msg)
{
	struct stun_builder		 b;
	struct stun_msg			 again;
	struct sockaddr_storage		 ss, ss2;
	const struct stun_attr		*a, *b2;
	enum stun_parse_error		 why;
	uint8_t				 out[STUN_MAX_MSG];
	char				 text[STUN_REASON_MAX + 1];
	const char			*reason;
	size_t				 i, n = 0, map[STUN_MAX_ATTRS], rlen;
	uint32_t			 u32;
	uint64_t			 u64;
	int				 len, code, xor[STUN_MAX_ATTRS];

	stun_build_init(&b, out, sizeof out, msg->method, msg->cls, msg->tid);
	for (i = 0; i < msg->nattrs && n < STUN_MAX_ATTRS - 2; i++) {
		a = &msg->attrs[i];
		if (a->type == STUN_ATTR_MESSAGE_INTEGRITY ||
		    a->type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		    a->type == STUN_ATTR_FINGERPRINT)
			continue;
		xor[n] = 0;
		if (a->type == STUN_ATTR_XOR_MAPPED_ADDRESS &&
		    stun_attr_xor_address(msg, a, &ss, NULL) == 0) {
			stun_put_xor_address(&b, a->type,
			    (struct sockaddr *)&ss);
			xor[n] = 1;
		} else if ((a->type == STUN_ATTR_MAPPED_ADDRESS ||
		    a->type == STUN_ATTR_OTHER_ADDRESS ||
		    a->type == STUN_ATTR_RESPONSE_ORIGIN ||
		    a->type == STUN_ATTR_ALTERNATE_SERVER) &&
		    stun_attr_address(a, &ss, NULL) == 0) {
			stun_put_address(&b, a->type, (struct sockaddr *)&ss);
			xor[n] = 2;
		} else if (a->type == STUN_ATTR_ERROR_CODE &&
		    stun_attr_error_code(a, &code, &reason, &rlen) == 0 &&
		    rlen <= STUN_REASON_MAX &&
		    memchr(reason, '\0', rlen) == NULL &&
		    (a->value[0] | a->value[1] | (a->value[2] & 0xf8)) == 0) {
			/* Reserved bits zero, as we write them: the same
			 * bytes come out. */
			memcpy(text, reason, rlen);
			text[rlen] = '\0';
			stun_put_error_code(&b, code, text);
		} else if (stun_attr_u32(a, &u32) == 0)
			stun_put_u32(&b, a->type, u32);
		else if (stun_attr_u64(a, &u64) == 0)
			stun_put_u64(&b, a->type, u64);
		else
			stun_put(&b, a->type, a->value, a->len);
		map[n++] = i;
	}
	stun_put_integrity_sha256(&b, FUZZ_KEY, FUZZ_KEYLEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	fuzz_assert(b.len <= sizeof out);
	if (len == -1)
		return;		/* did not fit in STUN_MAX_MSG */

	fuzz_assert(stun_parse(out, (size_t)len, &again, &why) == 0);
	fuzz_assert(again.method == msg->method && again.cls == msg->cls);
	fuzz_assert(memcmp(again.tid, msg->tid, sizeof again.tid) == 0);
	fuzz_assert(again.nattrs == n + 2);
	fuzz_assert(again.has_fingerprint);
	fuzz_assert(stun_check_fingerprint(&again) == 0);
	fuzz_assert(stun_check_integrity_sha256(&again, FUZZ_KEY,
	    FUZZ_KEYLEN) == 0);
	fuzz_assert(stun_check_integrity_sha256(&again, FUZZ_KEY,
	    FUZZ_KEYLEN - 1) == -1);
	for (i = 0; i < n; i++) {
		a = &msg->attrs[map[i]];
		b2 = &again.attrs[i];
		fuzz_assert(a->type == b2->type);
		if (xor[i] == 0) {
			fuzz_assert(a->len == b2->len);
			fuzz_assert(memcmp(a->value, b2->value, a->len) == 0);
		} else if (xor[i] == 1) {
			fuzz_assert(stun_attr_xor_address(msg, a, &ss,
			    NULL) == 0);
			fuzz_assert(stun_attr_xor_address(&again, b2, &ss2,
			    NULL) == 0);
			fuzz_assert(fuzz_same_address(&ss, &ss2));
		} else {
			fuzz_assert(stun_attr_address(a, &ss, NULL) == 0);
			fuzz_assert(stun_attr_address(b2, &ss2, NULL) == 0);
			fuzz_assert(fuzz_same_address(&ss, &ss2));
		}
	}
}

/* What treecast's readers took (an endpoint, a node's figures; NULL:
 * none), built into one message and read back, is the same. */
static void
fuzz_tc_roundtrip(const struct tc_endpoint *ep, const struct tc_health *h)
{
	struct stun_builder b;
	struct stun_msg m;
	struct tc_endpoint ep2;
	struct tc_health h2;
	uint8_t buf[STUN_MAX_MSG], tid[12] = { 0 };
	int len;

	if (ep == NULL && h == NULL)
		return;
	stun_build_init(&b, buf, sizeof buf, TC_METHOD_STATUS, STUN_REQUEST,
	    tid);
	fuzz_assert(ep == NULL || tc_put_endpoint(&b, ep) == 0);
	fuzz_assert(h == NULL || tc_put_health(&b, h) == 0);
	fuzz_assert((len = stun_build_finish(&b)) > 0);
	fuzz_assert(stun_parse(buf, (size_t)len, &m, NULL) == 0);
	if (ep != NULL) {
		fuzz_assert(tc_get_endpoint(&m, &ep2) == 0);
		fuzz_assert(ep2.nports == ep->nports);
		fuzz_assert(memcmp(ep2.ports, ep->ports,
		    ep->nports * sizeof ep->ports[0]) == 0);
		fuzz_assert(fuzz_same_address(&ep->external, &ep2.external) ||
		    fuzz_same_address(&ep2.external, &ep->external));
		/* The IPv6 candidate: IPv6 or none, both ways. */
		fuzz_assert(ep2.v6.ss_family == ep->v6.ss_family);
		fuzz_assert(ep->v6.ss_family == 0 ||
		    fuzz_same_address(&ep->v6, &ep2.v6));
	}
	if (h != NULL) {
		memset(&h2, 0, sizeof h2);	/* its padding, compared */
		fuzz_assert(tc_get_health(&m, &h2) == 0);
		fuzz_assert(memcmp(&h2, h, sizeof h2) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg		msg;
	enum stun_parse_error	why = STUN_E_COUNT;
	uint16_t		unknown[8];
	const uint16_t		known[] = { STUN_ATTR_USERNAME,
				    STUN_ATTR_MESSAGE_INTEGRITY,
				    STUN_ATTR_MESSAGE_INTEGRITY_SHA256 };
	struct tc_endpoint	ep;
	struct tc_outcome	oc;
	struct tc_health	h;
	size_t			i, n;
	int			fp, has_ep, has_h;

	if (stun_parse(data, size, &msg, &why) != 0) {
		fuzz_assert(why > STUN_OK && why < STUN_E_COUNT);
		fuzz_assert(stun_parse_error_name(why) != NULL);
		return 0;
	}
	fuzz_assert(why == STUN_OK);
	fuzz_assert(stun_is_stun(data, size));
	fuzz_assert(msg.length == size && msg.buf == data);
	fuzz_assert(msg.nattrs <= STUN_MAX_ATTRS);

	for (i = 0; i < msg.nattrs; i++)
		fuzz_readers(&msg, &msg.attrs[i]);
	n = stun_unknown_required(&msg, known,
	    sizeof known / sizeof known[0], unknown, 8);
	fuzz_assert(n <= 8);
	for (i = 0; i < n; i++)
		fuzz_assert(unknown[i] < 0x8000 &&
		    stun_find(&msg, unknown[i]) != NULL);

	/* treecast's readers: bounded, and what they accept re-encodes. */
	has_ep = tc_get_endpoint(&msg, &ep) == 0;
	fuzz_assert(!has_ep || ep.nports <= TC_PORTS_MAX);
	if (tc_get_outcome(&msg, &oc) == 0)
		fuzz_assert(oc.ok <= 1);
	memset(&h, 0, sizeof h);
	has_h = tc_get_health(&msg, &h) == 0;
	fuzz_tc_roundtrip(has_ep ? &ep : NULL, has_h ? &h : NULL);

	fp = stun_check_fingerprint(&msg);
	fuzz_assert((fp == 0) == (msg.has_fingerprint != 0));
	(void)stun_check_integrity_sha256(&msg, FUZZ_KEY, FUZZ_KEYLEN);
	(void)stun_check_integrity_sha256(&msg, NULL, 0);

	fuzz_rebuild(&msg);
	return 0;
}
