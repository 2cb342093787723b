/*
 * A token bucket per source prefix, kept as GCRA (the generic cell rate
 * algorithm of ITU-T I.371, the ATM policer) so that a bucket is one 64-bit
 * word, updated with one compare-and-swap: each bucket holds its
 * "theoretical arrival time" (TAT), the time at which it would be full
 * again. An answer may go if TAT - now <= tau, the burst's worth of
 * intervals; it pushes TAT one interval (1/rate) on.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "negotiator/ratelimit.h"

_Static_assert(RATELIMIT_KEY_LEN == crypto_shorthash_KEYBYTES,
    "the table's key is a SipHash key");

struct ratelimit {
	uint64_t	 interval;	/* ns between answers at the rate */
	uint64_t	 tau;		/* (burst - 1) intervals */
	uint8_t		 key[RATELIMIT_KEY_LEN];
	uint64_t	 tat[RATELIMIT_SLOTS];	/* 0: never used, full */
};

struct ratelimit *
ratelimit_create(uint32_t rate, uint32_t burst,
    const uint8_t key[RATELIMIT_KEY_LEN])
{
	struct ratelimit *rl;

	if (rate == 0 || rate > RATELIMIT_RATE_MAX || burst == 0 ||
	    burst > RATELIMIT_BURST_MAX)
		return NULL;
	if ((rl = calloc(1, sizeof *rl)) == NULL)
		return NULL;
	rl->interval = 1000000000ULL / rate;
	rl->tau = (uint64_t)(burst - 1) * rl->interval;
	memcpy(rl->key, key, sizeof rl->key);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	free(rl);
}

/*
 * IPv4: a /24, the smallest block routed on the Internet, so one network's
 * addresses (a home with a few, a carrier-grade NAT's pool) share a budget.
 * IPv6: a /56, what ISPs give a home (RIPE-690 §4.2: /48 or /56): a /64
 * would give one home 256 budgets, and an attacker with a /48 65,536.
 */
size_t
ratelimit_prefix(const struct sockaddr *sa, uint8_t out[8])
{
	const uint8_t *ip;

	if (sa->sa_family == AF_INET) {
		ip = (const uint8_t *)&((const struct sockaddr_in *)sa)->
		    sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		ip = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr)) {
			out[0] = 6;
			memcpy(out + 1, ip, 7);
			return 8;
		}
		ip += 12;
	} else
		return 0;
	out[0] = 4;
	memcpy(out + 1, ip, 3);
	return 4;
}

int
ratelimit_take(struct ratelimit *rl, const struct sockaddr *from,
    uint64_t now_ns)
{
	uint8_t prefix[8], h[crypto_shorthash_BYTES];
	uint64_t *slot, old, tat;
	uint32_t i;
	size_t len;

	if ((len = ratelimit_prefix(from, prefix)) == 0)
		return -1;
	crypto_shorthash(h, prefix, len, rl->key);
	memcpy(&i, h, sizeof i);
	slot = &rl->tat[i & (RATELIMIT_SLOTS - 1)];
	old = __atomic_load_n(slot, __ATOMIC_RELAXED);
	do {
		tat = old > now_ns ? old : now_ns;
		if (tat - now_ns > rl->tau)
			return -1;
	} while (!__atomic_compare_exchange_n(slot, &old, tat + rl->interval,
	    1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}
