/* Tables of the control protocol. */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "net/wire/proto.h"

const uint16_t tc_known_attrs[] = {
	STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_CHANGE_REQUEST, STUN_ATTR_USERNAME,
	STUN_ATTR_MESSAGE_INTEGRITY, STUN_ATTR_ERROR_CODE,
	STUN_ATTR_UNKNOWN_ATTRIBUTES, STUN_ATTR_REALM, STUN_ATTR_NONCE,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256, STUN_ATTR_XOR_MAPPED_ADDRESS,
	STUN_ATTR_PADDING,
#define TC_ATTR_KNOWN(NAME, code, name)	TC_ATTR_##NAME,
	TC_ATTRS(TC_ATTR_KNOWN)
#undef TC_ATTR_KNOWN
};
const size_t tc_known_attrs_count =
    sizeof tc_known_attrs / sizeof tc_known_attrs[0];

#define TC_PROOF_DOMAIN	"treecast origin register v1"

size_t
tc_origin_proof(uint8_t out[TC_PROOF_MAX],
    const uint8_t challenge[TC_CHALLENGE_LEN], uint64_t node_id,
    const uint8_t channel_key[32], const char *label, size_t llen)
{
	uint8_t *p = out;
	int i;

	/* The prefix with its NUL: no other signed message starts so. */
	memcpy(p, TC_PROOF_DOMAIN, sizeof TC_PROOF_DOMAIN);
	p += sizeof TC_PROOF_DOMAIN;
	memcpy(p, challenge, TC_CHALLENGE_LEN);
	p += TC_CHALLENGE_LEN;
	for (i = 7; i >= 0; i--)
		*p++ = (uint8_t)(node_id >> (8 * i));
	memcpy(p, channel_key, 32);
	p += 32;
	if (llen > TC_CHANNEL_MAX)
		llen = TC_CHANNEL_MAX;
	*p++ = (uint8_t)llen;
	memcpy(p, label, llen);
	return (size_t)(p - out) + llen;
}

int
tc_is_key_name(const char *text, size_t len)
{
	size_t i;

	if (len != 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((text[i] >= '0' && text[i] <= '9') ||
		    (text[i] >= 'a' && text[i] <= 'f') ||
		    (text[i] >= 'A' && text[i] <= 'F')))
			return 0;
	return 1;
}

const char *
tc_role_name(enum tc_role r)
{
	switch (r) {
	case TC_ROLE_PEER:
		return "peer";
	case TC_ROLE_ORIGIN:
		return "origin";
	case TC_ROLE_PROBE:
		return "probe";
	case TC_ROLE_VERIFIER:
		return "verifier";
	default:
		return "unknown";
	}
}

const char *
tc_method_name(uint16_t method)
{
	switch (method) {
	case STUN_METHOD_BINDING:
		return "binding";
#define TC_METHOD_CASE(NAME, code, name, served, auth)			\
	case TC_METHOD_##NAME:						\
		return name;
	TC_METHODS(TC_METHOD_CASE)
#undef TC_METHOD_CASE
	default:
		return "unknown";
	}
}

const char *
tc_attr_name(uint16_t type)
{
	switch (type) {
#define TC_ATTR_CASE(NAME, code, name)					\
	case TC_ATTR_##NAME:						\
		return name;
	TC_ATTRS(TC_ATTR_CASE)
#undef TC_ATTR_CASE
	default:
		return NULL;
	}
}

int
tc_is_ipv6(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(
	    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

int
tc_put_endpoint(struct stun_builder *b, const struct tc_endpoint *e)
{
	uint8_t ports[2 * TC_PORTS_MAX];
	size_t i;

	stun_put_xor_address(b, TC_ATTR_XOR_EXTERNAL,
	    (const struct sockaddr *)&e->external);
	stun_put_xor_address(b, TC_ATTR_XOR_INTERNAL,
	    (const struct sockaddr *)&e->internal);
	for (i = 0; i < e->nports && i < TC_PORTS_MAX; i++) {
		ports[2 * i] = (uint8_t)(e->ports[i] >> 8);
		ports[2 * i + 1] = (uint8_t)e->ports[i];
	}
	if (tc_is_ipv6((const struct sockaddr *)&e->v6))
		stun_put_xor_address(b, TC_ATTR_XOR_CANDIDATE6,
		    (const struct sockaddr *)&e->v6);
	/* An empty PORTS says "unpredictable": still sent, so that a missing
	 * attribute stays an error. */
	return stun_put(b, TC_ATTR_PORTS, ports, (uint16_t)(2 * i));
}

int
tc_get_endpoint(const struct stun_msg *m, struct tc_endpoint *e)
{
	const struct stun_attr *ext, *in, *ports, *v6;
	size_t i;

	memset(e, 0, sizeof *e);
	if ((ext = stun_find(m, TC_ATTR_XOR_EXTERNAL)) == NULL ||
	    (in = stun_find(m, TC_ATTR_XOR_INTERNAL)) == NULL ||
	    (ports = stun_find(m, TC_ATTR_PORTS)) == NULL ||
	    ports->len % 2 != 0 || ports->len > 2 * TC_PORTS_MAX ||
	    stun_attr_xor_address(m, ext, &e->external, NULL) != 0 ||
	    stun_attr_xor_address(m, in, &e->internal, NULL) != 0)
		return -1;
	e->nports = (uint8_t)(ports->len / 2);
	for (i = 0; i < e->nports; i++)
		e->ports[i] = (uint16_t)(ports->value[2 * i] << 8 |
		    ports->value[2 * i + 1]);
	/* Optional: an IPv4-only end sends none. One that is not IPv6 (an
	 * IPv4-mapped one included) is malformed; what reads it falls back
	 * on IPv4 alone. */
	if ((v6 = stun_find(m, TC_ATTR_XOR_CANDIDATE6)) != NULL &&
	    (stun_attr_xor_address(m, v6, &e->v6, NULL) != 0 ||
	    !tc_is_ipv6((struct sockaddr *)&e->v6)))
		memset(&e->v6, 0, sizeof e->v6);
	return 0;
}

int
tc_put_outcome(struct stun_builder *b, const struct tc_outcome *o)
{
	uint8_t v[8] = { o->ok, o->step, o->path, 0,
	    (uint8_t)(o->ms >> 24), (uint8_t)(o->ms >> 16),
	    (uint8_t)(o->ms >> 8), (uint8_t)o->ms };

	return stun_put(b, TC_ATTR_OUTCOME, v, sizeof v);
}

int
tc_get_outcome(const struct stun_msg *m, struct tc_outcome *o)
{
	const struct stun_attr *a = stun_find(m, TC_ATTR_OUTCOME);

	if (a == NULL || a->len != 8 || a->value[0] > 1)
		return -1;
	o->ok = a->value[0];
	o->step = a->value[1];
	o->path = a->value[2];
	o->ms = (uint32_t)a->value[4] << 24 | (uint32_t)a->value[5] << 16 |
	    (uint32_t)a->value[6] << 8 | a->value[7];
	return 0;
}

int
tc_put_link_seen(struct stun_builder *b, const struct tc_link_seen *s)
{
	const uint16_t f[6] = { s->sent, s->received, s->answered, s->learnt,
	    s->rtt_ms, s->loss_permille };
	uint8_t v[TC_LINK_SEEN_LEN];
	int i;

	for (i = 0; i < 6; i++) {
		v[2 * i] = (uint8_t)(f[i] >> 8);
		v[2 * i + 1] = (uint8_t)f[i];
	}
	return stun_put(b, TC_ATTR_LINK_SEEN, v, sizeof v);
}

int
tc_get_link_seen(const struct stun_msg *m, struct tc_link_seen *s)
{
	const struct stun_attr *a = stun_find(m, TC_ATTR_LINK_SEEN);
	uint16_t f[6];
	int i;

	memset(s, 0, sizeof *s);
	if (a == NULL)
		return 1;
	if (a->len != TC_LINK_SEEN_LEN)
		return -1;
	for (i = 0; i < 6; i++)
		f[i] = (uint16_t)(a->value[2 * i] << 8 | a->value[2 * i + 1]);
	s->sent = f[0];
	s->received = f[1];
	s->answered = f[2];
	s->learnt = f[3];
	s->rtt_ms = f[4];
	s->loss_permille = f[5] > 1000 ? 1000 : f[5];
	return 0;
}

static uint8_t *
tc_be(uint8_t *p, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		*p++ = (uint8_t)(v >> (8 * bytes));
	return p;
}

static uint64_t
tc_unbe(const uint8_t **p, int bytes)
{
	uint64_t v = 0;

	while (bytes-- > 0)
		v = v << 8 | *(*p)++;
	return v;
}

int
tc_put_health(struct stun_builder *b, const struct tc_health *h)
{
	uint8_t v[TC_HEALTH_LEN], *p = v;

	p = tc_be(p, h->bytes_in, 8);
	p = tc_be(p, h->bytes_out, 8);
	p = tc_be(p, h->chunks, 8);
	p = tc_be(p, h->gaps, 4);
	p = tc_be(p, h->delay_ms, 4);
	p = tc_be(p, h->ring_ms, 4);
	p = tc_be(p, h->kbps_in, 4);
	p = tc_be(p, h->kbps_out, 4);
	p = tc_be(p, h->players, 4);
	p = tc_be(p, h->rtt_ms, 4);
	p = tc_be(p, h->loss_permille, 4);
	p = tc_be(p, h->bad_chunks, 4);
	p = tc_be(p, h->played_ms, 4);
	p = tc_be(p, h->stalled_ms, 4);
	tc_be(p, h->stalls, 4);
	return stun_put(b, TC_ATTR_HEALTH, v, sizeof v);
}

int
tc_get_health(const struct stun_msg *m, struct tc_health *h)
{
	const struct stun_attr *a = stun_find(m, TC_ATTR_HEALTH);
	const uint8_t *p;

	if (a == NULL || (a->len != TC_HEALTH_LEN &&
	    a->len != TC_HEALTH_LEN_V2 && a->len != TC_HEALTH_LEN_V1))
		return -1;
	p = a->value;
	h->bytes_in = tc_unbe(&p, 8);
	h->bytes_out = tc_unbe(&p, 8);
	h->chunks = tc_unbe(&p, 8);
	h->gaps = (uint32_t)tc_unbe(&p, 4);
	h->delay_ms = (uint32_t)tc_unbe(&p, 4);
	h->ring_ms = (uint32_t)tc_unbe(&p, 4);
	h->kbps_in = (uint32_t)tc_unbe(&p, 4);
	h->kbps_out = (uint32_t)tc_unbe(&p, 4);
	h->players = (uint32_t)tc_unbe(&p, 4);
	h->rtt_ms = (uint32_t)tc_unbe(&p, 4);
	h->loss_permille = (uint32_t)tc_unbe(&p, 4);
	h->bad_chunks = a->len >= TC_HEALTH_LEN_V2 ? (uint32_t)tc_unbe(&p, 4) :
	    0;
	h->played_ms = a->len >= TC_HEALTH_LEN ? (uint32_t)tc_unbe(&p, 4) : 0;
	h->stalled_ms = a->len >= TC_HEALTH_LEN ? (uint32_t)tc_unbe(&p, 4) : 0;
	h->stalls = a->len >= TC_HEALTH_LEN ? (uint32_t)tc_unbe(&p, 4) : 0;
	return 0;
}

int
tc_move_fresh(const struct stun_msg *m, uint64_t *last)
{
	uint64_t seq;

	if (stun_attr_u64(stun_find(m, TC_ATTR_MOVE_SEQ), &seq) != 0 ||
	    seq <= *last)
		return -1;
	*last = seq;
	return 0;
}

const char *
link_step_name(enum link_step s)
{
	static const char *names[LINK_STEP_COUNT] = {
		"", "request", "peer", "mapping", "punch", "relay", "udt"
	};

	return s < LINK_STEP_COUNT ? names[s] : "unknown";
}

const char *
link_path_name(enum link_path p)
{
	static const char *names[LINK_PATH_COUNT] = {
		"none", "direct", "local", "relay"
	};

	return p < LINK_PATH_COUNT ? names[p] : "unknown";
}
