/* A budget of answers per source prefix, for the answers the negotiator
 * gives to anyone (README, "treecast-negotiator"): a token bucket per
 * prefix, in a fixed table, lock-free. */
#ifndef TREECAST_RATELIMIT_H
#define TREECAST_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;
struct ratelimit;

#define RATELIMIT_SLOTS		(1u << 16)	/* buckets, 8 bytes each */
#define RATELIMIT_KEY_LEN	16
#define RATELIMIT_RATE_MAX	1000000		/* answers/s a prefix */
#define RATELIMIT_BURST_MAX	100000000

/*
 * A table of RATELIMIT_SLOTS buckets: each prefix gets rate answers a
 * second, and up to burst at once after a quiet spell. Prefixes are hashed
 * to buckets with SipHash under key (the sources choose their addresses);
 * two prefixes on one bucket share it. NULL if rate or burst is 0 or over
 * its maximum, or out of memory.
 */
struct ratelimit *ratelimit_create(uint32_t rate, uint32_t burst,
	    const uint8_t key[RATELIMIT_KEY_LEN]);
void	ratelimit_free(struct ratelimit *rl);

/*
 * The prefix a source is counted by: an IPv4 address's /24 (an IPv4-mapped
 * IPv6 address counts as IPv4), an IPv6 address's /56. Fills out (family
 * byte, then the prefix's bytes) and returns its length, or 0 for another
 * family.
 */
size_t	ratelimit_prefix(const struct sockaddr *sa, uint8_t out[8]);

/*
 * Takes one answer from the budget of from's prefix at now_ns (a monotonic
 * clock, in ns): 0 if there was one, -1 if the prefix has used its budget
 * (or from is of no family it knows). Any thread, at once: one
 * compare-and-swap on the prefix's bucket, no lock.
 */
int	ratelimit_take(struct ratelimit *rl, const struct sockaddr *from,
	    uint64_t now_ns);

#endif
