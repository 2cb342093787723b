/*
 * The negotiation server: made and freed here, with the expiry sweep on
 * the main thread and the entry for tests and fuzzers (server-test.h).
 * What it is made of (the workers, the method table, the node state)
 * is told in server-int.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "negotiator/broker.h"
#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/ratelimit.h"
#include "negotiator/registry.h"
#include "negotiator/server-int.h"
#include "negotiator/server-test.h"
#include "negotiator/server.h"
#include "net/util/addr.h"
#include "net/util/clock.h"
#include "net/util/log.h"

uint32_t
server_clock(const struct server *s)
{
	/* Whole seconds of the monotonic clock, less the start's. */
	return (uint32_t)(clock_ms() / 1000 - s->start_ms / 1000);
}

uint64_t
server_clock_ms(const struct server *s)
{
	return clock_ms() - s->start_ms;
}

struct broker *
server_broker(struct server *s)
{
	return s->broker;
}

/* Under the lock: no logging here, the sweep's caller reports. */
static void
server_gone(void *arg, uint32_t slot, const struct reg_node *n)
{
	struct server *s = arg;

	STAT_INC(s, expired);
	channels_unref(s->ns.channels, n->channel);
	/* Still in the registry until we return. */
	server_state_untree(&s->ns, slot);
	if (s->ngone < SERVER_GONE_LOGGED)
		s->gone[s->ngone] = n->node_id;
	s->ngone++;
}

static void
server_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint32_t per_s = 1000 / SERVER_TICK_MS, i, slices = 1;

	(void)fd;
	(void)what;
	/*
	 * All of the pool once a second, a slice at a time with the lock let
	 * go between slices: a million records in one hold of the lock kept
	 * every worker waiting for milliseconds ten times a second (most of
	 * the 600,000-client bench's p99).
	 */
	s->ngone = 0;
	for (i = 0; i < slices; i++) {
		pthread_mutex_lock(&s->ns.lock);
		if (i == 0)
			slices = registry_high_water(s->ns.reg) /
			    (per_s * SERVER_SWEEP_SLICE) + 1;
		registry_sweep(s->ns.reg, server_clock(s), s->cfg.expire_s,
		    per_s * slices, server_gone, s);
		pthread_mutex_unlock(&s->ns.lock);
	}
	for (i = 0; i < s->ngone && i < SERVER_GONE_LOGGED; i++)
		log_info("node %016llx expired: silent for over %u s",
		    (unsigned long long)s->gone[i], s->cfg.expire_s);
	if (s->ngone > SERVER_GONE_LOGGED)
		log_info("and %u more nodes expired",
		    s->ngone - SERVER_GONE_LOGGED);
	s->ticks++;
	if (s->cfg.stats_s > 0 && s->ticks % (s->cfg.stats_s * per_s) == 0)
		server_log_stats(s);
}

/* The server both kinds share: the node state and nworkers workers,
 * zeroed. NULL with a reason. */
static struct server *
server_alloc(struct event_base *base, const struct server_config *cfg,
    int nworkers, char *err, size_t errlen)
{
	struct server *s;
	int i, j;

	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->cfg = *cfg;
	s->start_ms = clock_ms();
	s->nworkers = nworkers;
	if (server_state_init(&s->ns, cfg->max_nodes, err, errlen) != 0)
		goto fail;
	if ((s->workers = calloc((size_t)nworkers, sizeof *s->workers)) ==
	    NULL) {
		snprintf(err, errlen, "cannot allocate a registry of %u nodes",
		    cfg->max_nodes);
		goto fail;
	}
	for (j = 0; j < nworkers; j++) {
		s->workers[j].srv = s;
		s->workers[j].index = j;
		for (i = 0; i < SOCK_MAX; i++)
			s->workers[j].socks[i].fd = -1;
	}
	return s;

fail:
	server_free(s);
	return NULL;
}

struct server *
server_create(struct event_base *base, const struct server_config *cfg,
    char *err, size_t errlen)
{
	struct server *s;
	struct timeval tv = { 0, SERVER_TICK_MS * 1000 };
	struct broker_config bc;
	uint8_t rlkey[RATELIMIT_KEY_LEN];

	memset(&bc, 0, sizeof bc);
	randombytes_buf(rlkey, sizeof rlkey);
	if ((s = server_alloc(base, cfg, cfg->threads > 0 ?
	    (int)cfg->threads : 1, err, errlen)) == NULL)
		return NULL;
	randombytes_buf(s->challenge_key, sizeof s->challenge_key);
	if (cfg->unauth_rate != 0 && cfg->unauth_burst != 0 &&
	    (s->unauth = ratelimit_create(cfg->unauth_rate, cfg->unauth_burst,
	    rlkey)) == NULL) {
		snprintf(err, errlen, "cannot make a budget of %u answers/s, "
		    "%u at once", cfg->unauth_rate, cfg->unauth_burst);
		goto fail;
	}
	if (server_udp_open(s, err, errlen) != 0)
		goto fail;
	bc.has_relay = cfg->has_relay;
	bc.relay = cfg->relay;
	bc.relay_max = cfg->relay_max;
	forest_on_move(s->ns.forest, server_push_move, s);
	if ((s->broker = broker_create(base, &bc, server_broker_send, s, err,
	    errlen)) == NULL)
		goto fail;
	broker_on_silent(s->broker, server_broker_silent, s);
	s->tick = event_new(base, -1, EV_PERSIST, server_tick_cb, s);
	if (s->tick == NULL || event_add(s->tick, &tv) != 0) {
		snprintf(err, errlen, "cannot start the expiry timer");
		goto fail;
	}
	if (server_udp_start(s, err, errlen) != 0)
		goto fail;
	return s;

fail:
	server_free(s);
	return NULL;
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	server_udp_close(s);
	free(s->workers);
	broker_free(s->broker);
	if (s->tick != NULL)
		event_free(s->tick);
	ratelimit_free(s->unauth);
	server_state_free(&s->ns);
	free(s);
}

/* ---- negotiator/server-test.h: the server without sockets or threads */

struct server *
server_create_detached(struct event_base *base,
    const struct server_config *cfg, uint32_t max_links,
    broker_send_fn send, void *ctx, char *err, size_t errlen)
{
	struct server *s;
	struct worker *w;
	struct srv_sock *ss;
	struct broker_config bc;
	int i;

	memset(&bc, 0, sizeof bc);
	bc.max_links = max_links;
	if ((s = server_alloc(base, cfg, 1, err, errlen)) == NULL)
		return NULL;
	s->cfg.threads = 1;
	s->cfg.has_relay = 0;
	w = &s->workers[0];
	for (i = 0; i < SOCK_V6; i++) {
		ss = &w->socks[i];
		ss->w = w;
		ss->index = i;
		ss->fd = -1;
		if ((i & SOCK_ALT_ADDR) && !cfg->has_alt_address)
			continue;
		ss->local = (i & SOCK_ALT_ADDR) ? cfg->alt_address :
		    cfg->listen;
		addr_set_port((struct sockaddr *)&ss->local.ss,
		    (i & SOCK_ALT_PORT) ? cfg->alt_port :
		    addr_port((const struct sockaddr *)&cfg->listen.ss));
		/* A descriptor that is never read nor written: the socket
		 * exists, for CHANGE-REQUEST. server_free closes it. */
		if ((ss->fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "/dev/null: %s", strerror(errno));
			goto fail;
		}
	}
	if ((s->broker = broker_create(base, &bc, send, ctx, err, errlen)) ==
	    NULL)
		goto fail;
	broker_on_silent(s->broker, server_broker_silent, s);
	return s;

fail:
	server_free(s);
	return NULL;
}

size_t
server_dispatch(struct server *s, const uint8_t *in, size_t len,
    const struct sockaddr *from, uint8_t *out, size_t cap)
{
	struct worker *w = &s->workers[0];
	struct srv_msg *m = &w->msgs[0];

	STAT_INC(w, rx_datagrams);
	STAT_ADD(w, rx_bytes, len);
	if (len > sizeof m->in) {
		/* As a datagram the kernel truncated. */
		STAT_INC(w, drop_parse);
		w->st.parse_errors[STUN_E_TOO_BIG]++;
		return 0;
	}
	memcpy(m->in, in, len);
	memset(&m->from, 0, sizeof m->from);
	memcpy(&m->from, from, addr_sslen((const struct sockaddr_storage *)
	    from));
	m->has_pi = 0;
	server_handle(w, &w->socks[0], m, len);
	if (m->outlen == 0 || m->outlen > cap)
		return 0;
	memcpy(out, m->out, m->outlen);
	return m->outlen;
}
