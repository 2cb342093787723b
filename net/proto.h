/* treecast's control protocol: STUN (RFC 8489) methods and attributes of
 * its own, and the rules both ends follow. See DESIGN.md, "Control
 * protocol".
 *
 * Methods come from the unassigned part of the Expert Review range
 * (0x081-0x0FF), attributes from the Expert Review ranges (0x4000-0x7FFF
 * comprehension-required, 0xC000-0xFFFF comprehension-optional). They are
 * not registered with IANA: a treecast negotiator and its nodes are the
 * only ones to speak them. */
#ifndef TREECAST_PROTO_H
#define TREECAST_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "net/stun.h"

#define TC_DEFAULT_PORT		3478
#define TC_SOFTWARE		"treecast " PACKAGE_VERSION

/* Methods. */
#define TC_METHOD_REGISTER	0x0C1	/* a node joins: profile in, credential out */
#define TC_METHOD_KEEPALIVE	0x0C2	/* authenticated refresh, every interval */
#define TC_METHOD_LEAVE		0x0C3	/* authenticated goodbye */
#define TC_METHOD_CHECK		0x0C4	/* peer to peer, on a punched socket */

/* Attributes. */
#define TC_ATTR_NODE_ID		0x7C01	/* u64: the node's own random id */
#define TC_ATTR_CHANNEL		0x7C02	/* 1..TC_CHANNEL_MAX bytes of UTF-8 */
#define TC_ATTR_XOR_INTERNAL	0x7C03	/* the node's local address, XORed as
					   XOR-MAPPED-ADDRESS is, so that no
					   NAT's ALG rewrites it */
#define TC_ATTR_NAT_PROFILE	0x7C04	/* NAT_PROFILE_WIRE_LEN bytes (net/nat.h) */
#define TC_ATTR_ROLE		0x7C05	/* u32: enum tc_role */
#define TC_ATTR_SESSION		0x7C06	/* u64: the credential's id */
#define TC_ATTR_SESSION_KEY	0x7C07	/* TC_KEY_LEN bytes: the credential */
#define TC_ATTR_INTERVAL	0x7C08	/* u32: keepalive interval, ms */
#define TC_ATTR_SEQ		0x7C09	/* u32: per-session request counter */
#define TC_ATTR_LINK		0x7C0A	/* u64: a link's id (punch checks) */

#define TC_CHANNEL_MAX		64
#define TC_KEY_LEN		32
/*
 * A register request must be at least this long (padded with PADDING,
 * RFC 5780 §7.6): its answer carries a credential, and an unauthenticated
 * request never gets an answer larger than itself.
 */
#define TC_REGISTER_MIN		200
#define TC_KEEPALIVE_MS		3000	/* the paper's 3 s */

enum tc_role {
	TC_ROLE_PEER = 1,
	TC_ROLE_ORIGIN = 2,
	TC_ROLE_PROBE = 3,	/* registers to be seen, joins no tree */
	TC_ROLE_COUNT
};

/* Every attribute either end understands: the rest, if comprehension-
 * required, earn a 420 (RFC 8489 §6.3.1). */
extern const uint16_t tc_known_attrs[];
extern const size_t tc_known_attrs_count;

const char *tc_role_name(enum tc_role r);
const char *tc_method_name(uint16_t method);

#endif
