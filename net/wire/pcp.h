/* PCP, the Port Control Protocol (RFC 6887): the MAP request a node sends
 * its router for one UDP port, and the router's answer. Pure: the caller's
 * buffers, bounds checked before every read, no I/O. Addresses are the
 * protocol's 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 6887
 * section 5). */
#ifndef TREECAST_PCP_H
#define TREECAST_PCP_H

#include <stddef.h>
#include <stdint.h>

#define PCP_PORT		5351	/* the server's (section 19.1) */
#define PCP_VERSION		2
#define PCP_OPCODE_MAP		1
#define PCP_MAP_LEN		60	/* header 24 + MAP 36 */
#define PCP_MAX_LEN		1100	/* section 7: no message is longer */
#define PCP_NONCE_LEN		12

/* Result codes (section 7.4) this client tells apart. */
#define PCP_SUCCESS		0
#define PCP_UNSUPP_VERSION	1
#define PCP_NOT_AUTHORIZED	2
#define PCP_MALFORMED_REQUEST	3
#define PCP_NO_RESOURCES	8
#define PCP_CANNOT_PROVIDE_EXTERNAL 11

struct pcp_map {
	uint8_t		nonce[PCP_NONCE_LEN];	/* the mapping's, both ways */
	uint8_t		protocol;	/* IANA number: 17 UDP */
	uint16_t	internal_port;
	uint16_t	external_port;	/* suggested, or assigned */
	uint8_t		external_ip[16]; /* suggested (zero: none), or assigned */
	uint8_t		client_ip[16];	/* request: the source address */
	uint32_t	lifetime;	/* s; 0 deletes (section 15) */
	uint8_t		result;		/* answer: PCP_SUCCESS or a code */
	uint32_t	epoch;		/* answer: the server's epoch time */
};

/* The MAP request for m (result and epoch unused) into out: PCP_MAP_LEN,
 * or -1 if cap is short. */
int	pcp_map_encode(const struct pcp_map *m, uint8_t *out, size_t cap);
/* Reads a MAP answer: 0 and m filled (a failure's result code too), -1
 * when in is not one (too short or long, not a multiple of 4, wrong
 * version, not an answer, not MAP). Options after the MAP body are
 * skipped. */
int	pcp_map_decode(const uint8_t *in, size_t len, struct pcp_map *m);
/* An IPv4 address (4 bytes, network order) as PCP's 16, and back: -1 when
 * the 16 are not IPv4-mapped. */
void	pcp_ip4_to16(const uint8_t ip4[4], uint8_t out[16]);
int	pcp_ip16_to4(const uint8_t in[16], uint8_t ip4[4]);

#endif
