/* PCP MAP (RFC 6887, sections 7 and 11): the request and its answer. */
#include "config.h"

#include <string.h>

#include "net/wire/pcp.h"

static const uint8_t pcp_v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff };

static void
pcp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void
pcp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint16_t
pcp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
pcp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

void
pcp_ip4_to16(const uint8_t ip4[4], uint8_t out[16])
{
	memcpy(out, pcp_v4_prefix, sizeof pcp_v4_prefix);
	memcpy(out + 12, ip4, 4);
}

int
pcp_ip16_to4(const uint8_t in[16], uint8_t ip4[4])
{
	if (memcmp(in, pcp_v4_prefix, sizeof pcp_v4_prefix) != 0)
		return -1;
	memcpy(ip4, in + 12, 4);
	return 0;
}

/*
 * Section 7.1, the request header: version, R = 0 and the opcode, 16
 * reserved bits, the requested lifetime, the client's IP address; section
 * 11.1, MAP's: nonce, protocol, 24 reserved bits, internal port, suggested
 * external port and address. "Reserved: MUST be sent as 0".
 */
int
pcp_map_encode(const struct pcp_map *m, uint8_t *out, size_t cap)
{
	if (cap < PCP_MAP_LEN)
		return -1;
	memset(out, 0, PCP_MAP_LEN);
	out[0] = PCP_VERSION;
	out[1] = PCP_OPCODE_MAP;
	pcp_put32(out + 4, m->lifetime);
	memcpy(out + 8, m->client_ip, 16);
	memcpy(out + 24, m->nonce, PCP_NONCE_LEN);
	out[36] = m->protocol;
	pcp_put16(out + 40, m->internal_port);
	pcp_put16(out + 42, m->external_port);
	memcpy(out + 44, m->external_ip, 16);
	return PCP_MAP_LEN;
}

/*
 * Section 7.2, the response header: version, R = 1 and the opcode, 8
 * reserved bits, the result code, lifetime, epoch time, 96 reserved bits;
 * then MAP's body with the assigned port and address. "All PCP messages
 * ... MUST be a multiple of 4 octets" and at most 1100 (section 7); a
 * failure's answer still carries the MAP body (section 8.3: "copied from
 * the request").
 */
int
pcp_map_decode(const uint8_t *in, size_t len, struct pcp_map *m)
{
	if (len < PCP_MAP_LEN || len > PCP_MAX_LEN || len % 4 != 0 ||
	    in[0] != PCP_VERSION || in[1] != (0x80 | PCP_OPCODE_MAP))
		return -1;
	memset(m, 0, sizeof *m);
	m->result = in[3];
	m->lifetime = pcp_get32(in + 4);
	m->epoch = pcp_get32(in + 8);
	memcpy(m->nonce, in + 24, PCP_NONCE_LEN);
	m->protocol = in[36];
	m->internal_port = pcp_get16(in + 40);
	m->external_port = pcp_get16(in + 42);
	memcpy(m->external_ip, in + 44, 16);
	return 0;
}
