/* The counters (server.h, SERVER_COUNTERS): each thread's summed, and
 * the log line of figures. */
#include "config.h"

#include <string.h>

#include "negotiator/server-int.h"
#include "net/util/log.h"

/* server_stats() sums the counters as an array of uint64_t. */
_Static_assert(sizeof(struct server_stats) % sizeof(uint64_t) == 0,
    "struct server_stats must hold only uint64_t counters");

void
server_stats(struct server *s, struct server_stats *out)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;
	size_t i, n = sizeof *out / sizeof(uint64_t);
	int j;

	memset(out, 0, sizeof *out);
	for (j = -1; j < s->nworkers; j++) {
		src = (const uint64_t *)(j < 0 ? &s->st : &s->workers[j].st);
		for (i = 0; i < n; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
}

void
server_log_stats(struct server *s)
{
	struct server_stats now, *a = &now, *b = &s->st_last;
	uint64_t drops;
	double secs = s->cfg.stats_s > 0 ? s->cfg.stats_s : 1;

	server_stats(s, &now);
	drops = (a->drop_not_stun - b->drop_not_stun) +
	    (a->drop_parse - b->drop_parse) +
	    (a->drop_bad_integrity - b->drop_bad_integrity) +
	    (a->drop_replay - b->drop_replay) +
	    (a->drop_amplify - b->drop_amplify) +
	    (a->drop_unauth_rate - b->drop_unauth_rate) +
	    (a->drop_unpadded - b->drop_unpadded);
	log_info("%u nodes; %.0f datagrams/s in, %.0f out; %llu registered, "
	    "%llu left, %llu expired, %llu dropped in the last %.0f s",
	    server_nodes(s),
	    (double)(a->rx_datagrams - b->rx_datagrams) / secs,
	    (double)(a->tx_datagrams - b->tx_datagrams) / secs,
	    (unsigned long long)(a->registered - b->registered),
	    (unsigned long long)(a->left - b->left),
	    (unsigned long long)(a->expired - b->expired),
	    (unsigned long long)drops, secs);
	s->st_last = now;
}
