/* The registry of nodes: one compact record a node, found in O(1) by
 * session (the credential's id) and by node id, allocated from a fixed
 * pool at start-up; no allocation per message. No I/O. */
#ifndef TREECAST_REGISTRY_H
#define TREECAST_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/wire/nat.h"

#define REG_NONE UINT32_MAX

/* One node, 120 bytes. Addresses are 16 bytes: IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d). */
struct reg_node {
	uint64_t	node_id;	/* the node's own random id */
	uint8_t		ext_ip[16];	/* as the negotiator sees it */
	uint8_t		int_ip[16];	/* as the node reports it */
	uint16_t	ext_port;
	uint16_t	int_port;
	uint32_t	gen;		/* session generation, 0 = free slot */
	uint32_t	last_seq;	/* highest authenticated TC_ATTR_SEQ */
	uint32_t	seen;		/* registry clock at the last refresh */
	uint32_t	hnext;		/* next in the node-id hash chain */
	uint16_t	channel;
	uint8_t		role;		/* enum tc_role */
	uint8_t		seq_win;	/* bit i: last_seq - 1 - i seen */
	uint8_t		profile[NAT_PROFILE_WIRE_LEN];
	uint8_t		key[32];	/* the session's credential: kept, not
					   derived, to spare an HMAC a request */
	uint8_t		reg_tid[8];	/* its REGISTER's transaction id (the
					   first 8 bytes): a retransmission
					   gets the same credential again */
};

struct registry;

/*
 * A registry for up to max nodes, every record preallocated. Node ids are
 * chosen by the nodes, so the id index hashes them with SipHash under key
 * (RFC 8489 leaves no such choice to chance: a hostile registrant could
 * otherwise pile ids into one bucket).
 */
#define REGISTRY_KEY_LEN 16
struct registry *registry_create(uint32_t max,
	    const uint8_t key[REGISTRY_KEY_LEN]);
void	registry_free(struct registry *r);

/*
 * Registers node_id, or refreshes its record if it is already known (a
 * restarted node keeps its slot; its old credential stops working). Returns
 * the slot, or REG_NONE when full. *session gets the new credential's id.
 */
uint32_t registry_register(struct registry *r, uint64_t node_id,
	    uint32_t now, uint64_t *session);
/* The slot of a live session, or REG_NONE. */
uint32_t registry_session(const struct registry *r, uint64_t session);
uint32_t registry_find(const struct registry *r, uint64_t node_id);
struct reg_node *registry_node(struct registry *r, uint32_t slot);
const struct reg_node *registry_node_const(const struct registry *r,
	    uint32_t slot);
void	registry_remove(struct registry *r, uint32_t slot);
/*
 * Visits a share of the pool (all of it every `period` calls) and removes
 * nodes not refreshed since now - timeout, calling gone(slot) for each
 * before it goes. Returns how many went.
 */
uint32_t registry_sweep(struct registry *r, uint32_t now, uint32_t timeout,
	    uint32_t period, void (*gone)(void *, uint32_t, const struct reg_node *),
	    void *arg);
uint32_t registry_count(const struct registry *r);
/* Slots in use are below this; for iteration with registry_node. */
uint32_t registry_high_water(const struct registry *r);
/* The first slot from slot on that holds a node, or REG_NONE: walks the
 * nodes in slot order in time about their number (a bitmap's words, and
 * one word in 4,096 slots), not the pool's. */
uint32_t registry_next(const struct registry *r, uint32_t slot);
/* Bytes the registry holds for its pool and index. */
size_t	registry_bytes(const struct registry *r);

/* Conversions between sockaddr and the compact form. */
void	reg_addr_store(const struct sockaddr *sa, uint8_t ip[16],
	    uint16_t *port);
void	reg_addr_load(const uint8_t ip[16], uint16_t port,
	    struct sockaddr_storage *ss, socklen_t *len);

#endif
