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
#include <sys/socket.h>

#include "net/wire/stun.h"

#define TC_DEFAULT_PORT		3478
#define TC_SOFTWARE		"treecast " PACKAGE_VERSION

/*
 * Methods, one row each: X(NAME, code, name, served, auth). served is
 * where a request is answered (NEGOTIATOR, NODE: a node's session socket,
 * LINK: a link's socket, RELAY: the negotiator's relay port); auth is what
 * signs it (NONE, SESSION: the session's key, LINK: the link's key). The
 * rows make TC_METHOD_NAME, tc_method_name(), the negotiator's dispatch
 * table and the fuzzers' dictionary (tests/fuzz/make-dict.c).
 */
#define TC_METHODS(X)							\
	/* a node joins: profile in, credential out */			\
	X(REGISTER,	0x0C1, "register",	NEGOTIATOR, NONE)	\
	/* authenticated refresh, every interval */			\
	X(KEEPALIVE,	0x0C2, "keepalive",	NEGOTIATOR, SESSION)	\
	/* authenticated goodbye */					\
	X(LEAVE,	0x0C3, "leave",		NEGOTIATOR, SESSION)	\
	/* peer to peer, on a punched socket */				\
	X(CHECK,	0x0C4, "check",		LINK,	    LINK)	\
	/* A asks for a link to B; answered once B has acknowledged	\
	 * (flow 3) */							\
	X(LINK,		0x0C5, "link",		NEGOTIATOR, SESSION)	\
	/* negotiator to B: open a link to A; B's answer is the paper's	\
	 * ACK */							\
	X(INSTRUCT,	0x0C6, "instruct",	NODE,	    SESSION)	\
	/* a link's outcome, node to negotiator */			\
	X(REPORT,	0x0C7, "report",	NEGOTIATOR, SESSION)	\
	/* a link socket binds to the relay */				\
	X(RELAY,	0x0C8, "relay",		RELAY,	    LINK)	\
	/* a node asks for a parent */					\
	X(JOIN,		0x0C9, "join",		NEGOTIATOR, SESSION)	\
	/* a node's figures, every few seconds */			\
	X(STATUS,	0x0CA, "status",	NEGOTIATOR, SESSION)	\
	/* negotiator to node: the tree moved it to TC_ATTR_PARENT	\
	 * (unanswered: the keepalive says it again) */			\
	X(MOVE,		0x0CB, "move",		NODE,	    SESSION)	\
	/* a child: its parent relayed chunks that fail the channel's	\
	 * signature */							\
	X(ACCUSE,	0x0CC, "accuse",	NEGOTIATOR, SESSION)

enum tc_method {
#define TC_METHOD_ENUM(NAME, code, name, served, auth)			\
	TC_METHOD_##NAME = code,
	TC_METHODS(TC_METHOD_ENUM)
#undef TC_METHOD_ENUM
};

/*
 * Attributes, one row each: X(NAME, code, name). They make the
 * TC_ATTR_NAME constants, tc_attr_name(), the known-attribute list
 * (tc_known_attrs, with the STUN ones) and the fuzzers' dictionary.
 */
#define TC_ATTRS(X)							\
	/* u64: the node's own random id */				\
	X(NODE_ID,	0x7C01, "NODE-ID")				\
	/* 1..TC_CHANNEL_MAX bytes of UTF-8 */				\
	X(CHANNEL,	0x7C02, "CHANNEL")				\
	/* the node's local address, XORed as XOR-MAPPED-ADDRESS is, so	\
	 * that no NAT's ALG rewrites it */				\
	X(XOR_INTERNAL,	0x7C03, "XOR-INTERNAL")				\
	/* NAT_PROFILE_WIRE_LEN bytes (net/wire/nat.h) */			\
	X(NAT_PROFILE,	0x7C04, "NAT-PROFILE")				\
	/* u32: enum tc_role */						\
	X(ROLE,		0x7C05, "ROLE")					\
	/* u64: the credential's id */					\
	X(SESSION,	0x7C06, "SESSION")				\
	/* TC_KEY_LEN bytes: the credential */				\
	X(SESSION_KEY,	0x7C07, "SESSION-KEY")				\
	/* u32: keepalive interval, ms */				\
	X(INTERVAL,	0x7C08, "INTERVAL")				\
	/* u32: per-session request counter */				\
	X(SEQ,		0x7C09, "SEQ")					\
	/* u64: a link's id (punch checks) */				\
	X(LINK,		0x7C0A, "LINK")					\
	/* u64: the node at the other end */				\
	X(PEER_NODE,	0x7C0B, "PEER-NODE")				\
	/* TC_KEY_LEN bytes: the link's key */				\
	X(LINK_KEY,	0x7C0C, "LINK-KEY")				\
	/* a link socket's mapping towards the negotiator, XORed */	\
	X(XOR_EXTERNAL,	0x7C0D, "XOR-EXTERNAL")				\
	/* u16 each: predicted external ports, most likely first	\
	 * (1..TC_PORTS_MAX) */						\
	X(PORTS,	0x7C0E, "PORTS")				\
	/* the relay's address, XORed: the link goes through the	\
	 * negotiator */						\
	X(XOR_RELAY,	0x7C0F, "XOR-RELAY")				\
	/* a link's outcome: u8 ok, u8 step, u8 path, u8 0, u32 ms */	\
	X(OUTCOME,	0x7C10, "OUTCOME")				\
	/* empty, in a check: the initiator chose this pair of		\
	 * addresses (as ICE's USE-CANDIDATE) */			\
	X(NOMINATE,	0x7C11, "NOMINATE")				\
	/* u32: children a node serves (2) */				\
	X(FANOUT,	0x7C12, "FANOUT")				\
	/* u64: the node's parent in the tree now (0: none yet), in a	\
	 * keepalive's answer; in STATUS, the parent it is linked to */	\
	X(PARENT,	0x7C13, "PARENT")				\
	/* struct tc_health, in STATUS */				\
	X(HEALTH,	0x7C14, "HEALTH")				\
	/* u64 each: the children linked to it, in STATUS		\
	 * (0..TC_FANOUT_MAX) */					\
	X(CHILDREN,	0x7C15, "CHILDREN")				\
	/* KEY_PUBLIC_LEN bytes: the channel's Ed25519 key, in a	\
	 * REGISTER's answer */						\
	X(CHANNEL_KEY,	0x7C16, "CHANNEL-KEY")				\
	/* 1..TC_CHANNEL_MAX bytes: an origin's human name for its	\
	 * channel */							\
	X(LABEL,	0x7C17, "LABEL")				\
	/* TC_CHALLENGE_LEN bytes: the negotiator's, in a 401 to an	\
	 * origin; echoed, signed */					\
	X(CHALLENGE,	0x7C18, "CHALLENGE")				\
	/* KEY_SIG_LEN bytes: Ed25519 by the channel's key over		\
	 * tc_origin_proof() */						\
	X(SIGNATURE,	0x7C19, "SIGNATURE")				\
	/* u32, in ACCUSE: the chunks from the accused			\
	 * (TC_ATTR_PEER_NODE) that failed the signature (1 or more) */	\
	X(EVIDENCE,	0x7C20, "EVIDENCE")				\
	/* u32, in INSTRUCT and LINK's answer: birthday punching, this	\
	 * end's part (TC_BIRTHDAY_*) */				\
	X(BIRTHDAY,	0x7C21, "BIRTHDAY")				\
	/* u64: the node's standby parent (its parent's parent in the	\
	 * tree; 0: none), beside TC_ATTR_PARENT and JOIN's		\
	 * TC_ATTR_PEER_NODE */						\
	X(STANDBY,	0x7C38, "STANDBY")				\
	/* u64, in MOVE: the negotiator's count of MOVEs, rising; a	\
	 * node refuses one not above the last */			\
	X(MOVE_SEQ,	0x7C39, "MOVE-SEQ")				\
	/* struct tc_link_seen, in REPORT */				\
	X(LINK_SEEN,	0x7C40, "LINK-SEEN")				\
	/* a link's IPv6 socket, XORed, in LINK, INSTRUCT and their	\
	 * answers beside XOR-EXTERNAL: a host candidate (IPv6 has no	\
	 * NAT to map it) that the other end checks alongside IPv4 */	\
	X(XOR_CANDIDATE6, 0x7C41, "XOR-CANDIDATE6")			\
	/* the node's global IPv6 address, XORed, in REGISTER: it can	\
	 * be reached over IPv6 (a repeater whatever its IPv4 NAT) */	\
	X(XOR_ADDRESS6,	0x7C42, "XOR-ADDRESS6")

enum tc_attr {
#define TC_ATTR_ENUM(NAME, code, name)	TC_ATTR_##NAME = code,
	TC_ATTRS(TC_ATTR_ENUM)
#undef TC_ATTR_ENUM
};

/* Birthday punching (net/link/link-birthday.c): the random allocator opens many
 * sockets towards the other end's one mapping; that end, whose mapping is
 * endpoint-independent, probes many ports of its address. */
#define TC_BIRTHDAY_HARD	1
#define TC_BIRTHDAY_EASY	2

#define TC_CHANNEL_MAX		64
#define TC_PORTS_MAX		16
#define TC_FANOUT_DEFAULT	2
#define TC_FANOUT_MAX		64
#define TC_KEY_LEN		32
#define TC_CHALLENGE_LEN	20	/* u32 expiry, 16 bytes of keyed MAC */
/*
 * A register request must be at least this long (padded with PADDING,
 * RFC 5780 §7.6): its answer carries a credential, and an unauthenticated
 * request never gets an answer larger than itself.
 */
#define TC_REGISTER_MIN		200
#define TC_KEEPALIVE_MS		3000	/* the paper's 3 s */
#define TC_STATUS_MS		2000	/* a node's STATUS, this often */

enum tc_role {
	TC_ROLE_PEER = 1,
	TC_ROLE_ORIGIN = 2,
	TC_ROLE_PROBE = 3,	/* registers to be seen, joins no tree */
	TC_ROLE_VERIFIER = 4,	/* the negotiator's own, punching into new
				   nodes as a child would */
	TC_ROLE_COUNT
};

/*
 * One end of a link as the other end must know it: its fresh socket's
 * mapping towards the negotiator, its local address, and the external
 * ports it predicts for the link (none: unpredictable). Carried by LINK,
 * INSTRUCT and their answers as XOR-EXTERNAL, XOR-INTERNAL and PORTS,
 * and, for a dual-stack end, its IPv6 socket as XOR-CANDIDATE6.
 */
struct tc_endpoint {
	struct sockaddr_storage	external;
	struct sockaddr_storage	internal;
	uint16_t		ports[TC_PORTS_MAX];
	uint8_t			nports;
	struct sockaddr_storage	v6;	/* family 0: no IPv6 candidate */
};
int	tc_put_endpoint(struct stun_builder *b, const struct tc_endpoint *e);
/* 1 for an IPv6 address that is not IPv4-mapped: what XOR-CANDIDATE6 and
 * XOR-ADDRESS6 must hold. */
int	tc_is_ipv6(const struct sockaddr *sa);
/* 0, or -1 when an attribute is missing or malformed. */
int	tc_get_endpoint(const struct stun_msg *m, struct tc_endpoint *e);

/* Where a link attempt ended, for failures; on the wire in REPORT. */
enum link_step {
	LINK_STEP_NONE = 0,	/* connected */
	LINK_STEP_REQUEST,	/* the negotiator refused or did not answer */
	LINK_STEP_PEER,		/* the peer did not acknowledge, or refused */
	LINK_STEP_MAPPING,	/* the fresh socket's mapping: no answer */
	LINK_STEP_PUNCH,	/* no check answered before the deadline */
	LINK_STEP_RELAY,	/* the relay did not take the socket */
	LINK_STEP_UDT,		/* UDT's rendezvous failed */
	LINK_STEP_COUNT
};

/* How the link's packets travel. */
enum link_path {
	LINK_PATH_NONE = 0,
	LINK_PATH_DIRECT,	/* punched, to the peer's external address */
	LINK_PATH_LOCAL,	/* to its internal address: the same NAT */
	LINK_PATH_RELAY,	/* through the negotiator's relay */
	LINK_PATH_COUNT
};

const char *link_step_name(enum link_step s);
const char *link_path_name(enum link_path p);

/* A link's outcome (TC_ATTR_OUTCOME). */
struct tc_outcome {
	uint8_t		ok;
	uint8_t		step;		/* enum link_step */
	uint8_t		path;		/* enum link_path */
	uint32_t	ms;		/* request to UDT up */
};
int	tc_put_outcome(struct stun_builder *b, const struct tc_outcome *o);
int	tc_get_outcome(const struct stun_msg *m, struct tc_outcome *o);

/* What one end saw of a link attempt (TC_ATTR_LINK_SEEN, in REPORT,
 * beside the outcome): its punch's checks, and its own path to the
 * negotiator, so that the negotiator can tell why a link failed. Counts
 * saturate at 65535; a REPORT without it is still read. */
#define TC_LINK_SEEN_LEN	12
struct tc_link_seen {
	uint16_t	sent;		/* checks sent */
	uint16_t	received;	/* genuine checks from the peer */
	uint16_t	answered;	/* own checks the peer answered */
	uint16_t	learnt;		/* ... of them from an address not
					   predicted: its mapping moved */
	uint16_t	rtt_ms;		/* to the negotiator, smoothed */
	uint16_t	loss_permille;	/* of requests to the negotiator,
					   lately (retransmitted) */
};
int	tc_put_link_seen(struct stun_builder *b, const struct tc_link_seen *s);
/* 0, 1 when absent (an older node), or -1 when malformed. */
int	tc_get_link_seen(const struct stun_msg *m, struct tc_link_seen *s);

/* A node's figures (TC_ATTR_HEALTH, in STATUS): counters since it
 * started and rates over the last report's interval. A node sends
 * TC_HEALTH_LEN bytes; older nodes' shorter figures are still read, the
 * fields they lack zero: TC_HEALTH_LEN_V2 bytes without the playout
 * figures, TC_HEALTH_LEN_V1 without bad_chunks either. */
#define TC_HEALTH_LEN		72
#define TC_HEALTH_LEN_V2	60
#define TC_HEALTH_LEN_V1	56
struct tc_health {
	uint64_t	bytes_in;	/* stream bytes from its parent */
	uint64_t	bytes_out;	/* stream bytes to its children */
	uint64_t	chunks;		/* chunks received */
	uint32_t	gaps;		/* chunks it never got */
	uint32_t	delay_ms;	/* origin to here, median lately */
	uint32_t	ring_ms;	/* stream it holds for resuming children */
	uint32_t	kbps_in;
	uint32_t	kbps_out;
	uint32_t	players;	/* local players attached */
	uint32_t	rtt_ms;		/* of the link from the parent */
	uint32_t	loss_permille;	/* of the packets from the parent, lost
					   on the way (UDT resent them) */
	uint32_t	bad_chunks;	/* dropped: failed the channel's
					   signature, or came before its key
					   was known */
	/* Its own playout, modelled as a viewer's player (media/playout.h):
	 * time played and stalled since it started, and the stalls. */
	uint32_t	played_ms;
	uint32_t	stalled_ms;
	uint32_t	stalls;
};
int	tc_put_health(struct stun_builder *b, const struct tc_health *h);
int	tc_get_health(const struct stun_msg *m, struct tc_health *h);

/*
 * What an origin signs with its channel's key to register (README,
 * treecast-negotiator): a domain-separating prefix, the negotiator's
 * challenge, its node id, the channel's key and the label it claims
 * (llen 0: none). Writes it to out (TC_PROOF_MAX bytes) and returns its length.
 */
#define TC_PROOF_MAX	(32 + TC_CHALLENGE_LEN + 8 + 32 + 1 + TC_CHANNEL_MAX)
size_t	tc_origin_proof(uint8_t out[TC_PROOF_MAX],
	    const uint8_t challenge[TC_CHALLENGE_LEN], uint64_t node_id,
	    const uint8_t channel_key[32], const char *label, size_t llen);
/* 1 when text (len bytes) is a channel key in hex: 64 hex digits. */
int	tc_is_key_name(const char *text, size_t len);

/* A MOVE's replay protection: 0 when m carries a TC_ATTR_MOVE_SEQ above
 * *last (then kept in *last), -1 when it carries none or one not above
 * (a replay, or a MOVE overtaken by a later one). *last starts at 0 with
 * each session, whose key signs its MOVEs. */
int	tc_move_fresh(const struct stun_msg *m, uint64_t *last);

/* Every attribute either end understands: the rest, if comprehension-
 * required, earn a 420 (RFC 8489 §6.3.1). */
extern const uint16_t tc_known_attrs[];
extern const size_t tc_known_attrs_count;

const char *tc_role_name(enum tc_role r);
/* A method's row name ("binding" for STUN's), or "unknown". */
const char *tc_method_name(uint16_t method);
/* A treecast attribute's row name, or NULL (stun_attr_name: STUN's). */
const char *tc_attr_name(uint16_t type);

#endif
