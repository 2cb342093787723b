/* Hole punching with authenticated checks. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/link/punch.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

/* The controlled side finishes once nominations have stopped this many
 * rounds: the controlling side got an answer and moved on. */
#define PUNCH_QUIET_ROUNDS	4
/* Birthday probes go to ports PUNCH_SPRAY_LO..65535: what allocators
 * that pick ports at random use (Linux's fully-random, without a range). */
#define PUNCH_SPRAY_LO		1024
#define PUNCH_SPRAY_N		(65536 - PUNCH_SPRAY_LO)

enum punch_state {
	PUNCH_RUNNING,		/* sending checks, answering the peer's */
	PUNCH_NOMINATING,	/* controlling: nominating the pair that worked */
	PUNCH_QUIET,		/* controlled: nominated, waiting for quiet */
	PUNCH_OVER		/* callback done */
};

struct punch {
	struct event_base	*base;
	struct punch_config	 cfg;
	punch_cb		 cb;
	void			*arg;
	struct event		*ev;
	struct event		*tick;
	enum punch_state	 state;
	int			 in_cb;		/* the callback runs */
	int			 freed;		/* punch_free in it */
	unsigned		 rounds;
	unsigned		 quiet;		/* rounds since the last nomination */
	struct addr		 peer;		/* the pair's other end */
	uint32_t		 spray_at;	/* the next probe's index, and the */
	uint32_t		 spray_step;	/* permutation's step */
	struct punch_stats	 st;
};

static int
punch_build(struct punch *p, uint8_t *buf, size_t cap, enum stun_class cls,
    const uint8_t tid[12], int nominate)
{
	struct stun_builder b;

	stun_build_init(&b, buf, cap, TC_METHOD_CHECK, cls, tid);
	stun_put_u64(&b, TC_ATTR_LINK, p->cfg.nonce);
	if (nominate)
		stun_put(&b, TC_ATTR_NOMINATE, NULL, 0);
	stun_put_integrity_sha256(&b, p->cfg.key, sizeof p->cfg.key);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/* The callback may free the punch: then it goes once the callback has
 * returned, and the caller must not touch p after this. */
static void
punch_finish(struct punch *p, const char *why)
{
	p->state = PUNCH_OVER;
	event_del(p->ev);
	evtimer_del(p->tick);
	p->in_cb = 1;
	if (why == NULL)
		p->cb(p->arg, (struct sockaddr *)&p->peer.ss, p->peer.len,
		    NULL);
	else
		p->cb(p->arg, NULL, 0, why);
	p->in_cb = 0;
	if (p->freed)
		punch_free(p);
}

static void
punch_send(struct punch *p, const struct addr *to, int nominate)
{
	uint8_t buf[STUN_MAX_MSG], tid[12];
	int len;

	stun_random_tid(tid);
	if ((len = punch_build(p, buf, sizeof buf, STUN_REQUEST, tid,
	    nominate)) > 0 && sendto(p->cfg.fd, buf, (size_t)len, 0,
	    (const struct sockaddr *)&to->ss, to->len) == len)
		p->st.sent++;
}

/* This round's birthday probes: the next ports of a random permutation
 * of the range, so that no port is probed twice. */
static void
punch_spray(struct punch *p)
{
	struct addr to;
	unsigned i;

	if (p->cfg.spray_ip.len == 0 || p->rounds <= p->cfg.spray_after)
		return;
	to = p->cfg.spray_ip;
	for (i = 0; i < p->cfg.spray_round && p->st.sprayed < p->cfg.spray;
	    i++) {
		p->spray_at = (p->spray_at + p->spray_step) % PUNCH_SPRAY_N;
		addr_set_port((struct sockaddr *)&to.ss,
		    (uint16_t)(PUNCH_SPRAY_LO + p->spray_at));
		punch_send(p, &to, 0);
		p->st.sprayed++;
	}
}

static void
punch_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct punch *p = arg;
	size_t i;

	(void)fd;
	(void)what;
	p->rounds++;
	if (p->state == PUNCH_QUIET) {
		if (++p->quiet >= PUNCH_QUIET_ROUNDS)
			punch_finish(p, NULL);
		return;
	}
	if (p->rounds * p->cfg.interval_ms >= p->cfg.timeout_ms) {
		punch_finish(p, p->st.received == 0 ?
		    "nothing came back from any candidate" :
		    p->state == PUNCH_NOMINATING ?
		    "the peer did not answer the nomination" :
		    "checks came, but none of ours was answered");
		return;
	}
	if (p->state == PUNCH_NOMINATING) {
		punch_send(p, &p->peer, 1);
		return;
	}
	if (p->cfg.every <= 1 || p->rounds % p->cfg.every == 1)
		for (i = 0; i < p->cfg.ncand; i++)
			punch_send(p, &p->cfg.cand[i], 0);
	punch_spray(p);
}

/* A genuine check from an address we do not send to: the peer's NAT
 * mapped it where nobody could predict (a random allocator facing an open
 * host). Check it back there too, as ICE does with peer-reflexive
 * candidates. */
static int
punch_is_candidate(const struct punch *p, const struct sockaddr_storage *a)
{
	size_t i;

	for (i = 0; i < p->cfg.ncand; i++)
		if (addr_equal((const struct sockaddr *)&p->cfg.cand[i].ss,
		    (const struct sockaddr *)a))
			return 1;
	return 0;
}

static void
punch_learn(struct punch *p, const struct sockaddr_storage *from,
    socklen_t fromlen)
{
	if (punch_is_candidate(p, from) ||
	    p->cfg.ncand == PUNCH_MAX_CANDIDATES)
		return;
	memcpy(&p->cfg.cand[p->cfg.ncand].ss, from, sizeof *from);
	p->cfg.cand[p->cfg.ncand].len = fromlen;
	p->cfg.ncand++;
	p->st.learnt++;
}

static void
punch_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct punch *p = arg;
	uint8_t buf[STUN_MAX_MSG + 4], out[STUN_MAX_MSG];
	struct sockaddr_storage from;
	const struct stun_attr *a;
	struct stun_msg m;
	socklen_t fromlen;
	uint64_t nonce;
	ssize_t n;
	int len, nominated;

	(void)what;
	for (;;) {
		fromlen = sizeof from;
		n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		p->st.received++;
		/* Only our link's checks count: right method, nonce and key. */
		if (stun_parse(buf, (size_t)n, &m, NULL) != 0 ||
		    m.method != TC_METHOD_CHECK ||
		    (a = stun_find(&m, TC_ATTR_LINK)) == NULL ||
		    stun_attr_u64(a, &nonce) != 0 || nonce != p->cfg.nonce ||
		    stun_check_integrity_sha256(&m, p->cfg.key,
		    sizeof p->cfg.key) != 0) {
			p->st.rejected++;
			continue;
		}
		if (p->cfg.strict && !punch_is_candidate(p, &from)) {
			p->st.rejected++;	/* its NAT would drop it */
			continue;
		}
		nominated = stun_find(&m, TC_ATTR_NOMINATE) != NULL;
		if (m.cls == STUN_REQUEST) {
			punch_learn(p, &from, fromlen);
			len = punch_build(p, out, sizeof out, STUN_SUCCESS,
			    m.tid, nominated);
			if (len > 0 && sendto(fd, out, (size_t)len, 0,
			    (struct sockaddr *)&from, fromlen) == len)
				p->st.answered++;
			if (!nominated || p->cfg.controlling)
				continue;
			if (p->state == PUNCH_RUNNING) {
				memcpy(&p->peer.ss, &from, sizeof from);
				p->peer.len = fromlen;
				p->state = PUNCH_QUIET;
			}
			if (addr_equal((struct sockaddr *)&p->peer.ss,
			    (struct sockaddr *)&from))
				p->quiet = 0;
		} else if (m.cls == STUN_SUCCESS && p->cfg.controlling) {
			if (p->state == PUNCH_RUNNING && !nominated &&
			    (p->cfg.claim == NULL || !*p->cfg.claim)) {
				/* The first pair that works: nominate it. */
				if (p->cfg.claim != NULL)
					*p->cfg.claim = 1;
				memcpy(&p->peer.ss, &from, sizeof from);
				p->peer.len = fromlen;
				p->state = PUNCH_NOMINATING;
				punch_send(p, &p->peer, 1);
			} else if (p->state == PUNCH_NOMINATING && nominated &&
			    addr_equal((struct sockaddr *)&p->peer.ss,
			    (struct sockaddr *)&from)) {
				punch_finish(p, NULL);
				return;
			}
		}
	}
}

struct punch *
punch_start(struct event_base *base, const struct punch_config *cfg,
    punch_cb cb, void *arg)
{
	struct punch *p;
	struct timeval tv;

	if (cfg->ncand > PUNCH_MAX_CANDIDATES ||
	    (p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	p->base = base;
	p->cfg = *cfg;
	if (p->cfg.interval_ms == 0)
		p->cfg.interval_ms = 20;
	if (p->cfg.timeout_ms == 0)
		p->cfg.timeout_ms = 5000;
	p->cb = cb;
	p->arg = arg;
	/* A step prime to 2^10 * 3^2 * 7 visits every port once. */
	randombytes_buf(&p->spray_at, sizeof p->spray_at);
	randombytes_buf(&p->spray_step, sizeof p->spray_step);
	p->spray_at %= PUNCH_SPRAY_N;
	p->spray_step = (p->spray_step % PUNCH_SPRAY_N) | 1;
	while (p->spray_step % 3 == 0 || p->spray_step % 7 == 0)
		p->spray_step += 2;
	p->ev = event_new(base, cfg->fd, EV_READ | EV_PERSIST, punch_read_cb,
	    p);
	p->tick = event_new(base, -1, EV_PERSIST, punch_tick_cb, p);
	tv.tv_sec = p->cfg.interval_ms / 1000;
	tv.tv_usec = (p->cfg.interval_ms % 1000) * 1000;
	if (p->ev == NULL || p->tick == NULL || event_add(p->ev, NULL) != 0 ||
	    event_add(p->tick, &tv) != 0) {
		punch_free(p);
		return NULL;
	}
	punch_tick_cb(-1, 0, p);	/* the first round now */
	return p;
}

void
punch_free(struct punch *p)
{
	if (p == NULL)
		return;
	if (p->in_cb) {
		p->freed = 1;	/* from its callback: punch_finish frees it */
		return;
	}
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->tick != NULL)
		event_free(p->tick);
	free(p);
}

const struct punch_stats *
punch_stats(const struct punch *p)
{
	return &p->st;
}
