/* NAT profiles (RFC 4787 and RFC 5780 terms, with the paper's offsets):
 * how a node's NAT maps, allocates and filters, learnt from observations,
 * and what it predicts for a new mapping. Pure: no I/O. */
#ifndef TREECAST_NAT_H
#define TREECAST_NAT_H

#include <stddef.h>
#include <stdint.h>

enum nat_mapping {
	NAT_MAPPING_UNKNOWN = 0,
	NAT_MAPPING_NONE,	/* no NAT: the external address is the local one */
	NAT_MAPPING_EIM,	/* endpoint-independent */
	NAT_MAPPING_ADM,	/* address-dependent */
	NAT_MAPPING_APDM,	/* address-and-port-dependent ("symmetric") */
	NAT_MAPPING_COUNT
};

enum nat_allocation {
	NAT_ALLOC_UNKNOWN = 0,
	NAT_ALLOC_PRESERVED,	/* external port = local port */
	NAT_ALLOC_OFFSET,	/* external = local + offset (the paper's static offset) */
	NAT_ALLOC_SEQUENTIAL,	/* each new mapping = the last + delta */
	NAT_ALLOC_RANDOM,	/* no pattern */
	NAT_ALLOC_COUNT
};

enum nat_filtering {
	NAT_FILTER_UNKNOWN = 0,
	NAT_FILTER_EIF,		/* endpoint-independent */
	NAT_FILTER_ADF,		/* address-dependent */
	NAT_FILTER_APDF,	/* address-and-port-dependent */
	NAT_FILTER_COUNT
};

struct nat_profile {
	uint8_t	mapping;	/* enum nat_mapping */
	uint8_t	allocation;	/* enum nat_allocation */
	uint8_t	filtering;	/* enum nat_filtering */
	uint8_t	flags;		/* NAT_F_* */
	int32_t	offset;		/* NAT_ALLOC_OFFSET: external - local */
	int32_t	delta;		/* NAT_ALLOC_SEQUENTIAL: step per new mapping */
};
#define NAT_F_ALT_ADDRESS 0x01	/* mapping and filtering tested with a second IP */
/* The node's router maps ports on request (UPnP-IGD, NAT-PMP or PCP), and
 * each link's socket gets a mapping of its own: its external port is
 * known exactly and takes packets from anyone, whatever the NAT does. */
#define NAT_F_PORTMAP 0x02

/* What one fresh socket saw: its local port and the port the server saw. */
struct nat_sample {
	uint16_t local;
	uint16_t mapped;
};

/*
 * The allocation pattern from fresh sockets, each of which opened exactly
 * one new flow, in the order they were opened (the paper, section IV C).
 * Needs at least 3 samples. Sequential steps may skip a little where other
 * hosts behind the NAT opened flows in between: every step must be within
 * 1..NAT_SEQ_MAX_STEP times the smallest. From 4 samples on, one sample
 * that breaks the pattern is forgiven (an old mapping the NAT reused).
 */
#define NAT_SEQ_MAX_STEP 8
#define NAT_SAMPLES_MAX 16
void	nat_classify_allocation(const struct nat_sample *s, size_t n,
	    struct nat_profile *p);

/*
 * Predicted external ports for a new flow from a socket whose mapping
 * towards the server was just observed as `mapped` (local port `local`):
 * writes up to max candidates, most likely first, and returns how many; 0
 * when the profile predicts nothing (random allocation with a
 * destination-dependent mapping). window is how many further sequential
 * steps to try, for NATs where other flows may have taken ports meanwhile.
 */
size_t	nat_predict(const struct nat_profile *p, uint16_t local,
	    uint16_t mapped, unsigned window, uint16_t *out, size_t max);
/* Whether a peer can reach a new mapping of this NAT by prediction (or
 * the router maps ports on request, NAT_F_PORTMAP). */
int	nat_predictable(const struct nat_profile *p);

/* Names as treecast-probe --json prints them; NULL for out of range. */
const char *nat_mapping_name(enum nat_mapping m);
const char *nat_allocation_name(enum nat_allocation a);
const char *nat_filtering_name(enum nat_filtering f);
/* One short class name for counters and the status page ("eim-preserved",
 * "apdm-sequential", "open"...), and its index 0..NAT_CLASS_COUNT-1 (0:
 * unknown). */
#define NAT_CLASS_COUNT	(2 + 3 * NAT_ALLOC_COUNT)
const char *nat_class_name(const struct nat_profile *p);
unsigned nat_class(const struct nat_profile *p);
const char *nat_class_label(unsigned c);
/* Whether a packet from anyone reaches the node's mapping unsolicited (no
 * NAT, a full cone, or NAT_F_PORTMAP): such a node links with anyone. */
int	nat_reachable(const struct nat_profile *p);

/* The profile on the wire: 12 bytes, network order. */
#define NAT_PROFILE_WIRE_LEN 12
void	nat_profile_encode(const struct nat_profile *p, uint8_t out[12]);
int	nat_profile_decode(const uint8_t *in, size_t len, struct nat_profile *p);

#endif
