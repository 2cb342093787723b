/* The relay: relayed links, their RELAY binds, forwarding. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "negotiator/relay.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/stun.h"

/* Datagrams read a wakeup, at most: the loop's other events get a turn. */
#define RELAY_BUDGET	256

/* A relayed link: two sockets' mappings, bound by authenticated RELAY
 * requests, forwarded to each other. */
struct rlink {
	uint64_t		 id;		/* 0: free */
	uint8_t			 key[TC_KEY_LEN];
	struct sockaddr_storage	 side[2];
	int			 bound;		/* sides bound: 0, 1, 2 */
	uint64_t		 t0;		/* made: both sides bound within
						   idle_s, or it ends */
	uint64_t		 last_ms;
	uint64_t		 packets, bytes;
};

struct relay {
	pthread_mutex_t		 lock;
	struct rlink		*links;
	uint32_t		 max;
	uint32_t		 idle_s;
	int			 fd;
	struct event		*ev;
	struct relay_stats	 c;		/* live unused: counted apart */
	uint8_t			 rx[STUN_MAX_MSG + 4];	/* the loop's alone */
};

static void
relay_lock(struct relay *r)
{
	int e;

	if ((e = pthread_mutex_lock(&r->lock)) != 0)
		fatal("relay: cannot lock: %s", strerror(e));
}

static void
relay_unlock(struct relay *r)
{
	int e;

	if ((e = pthread_mutex_unlock(&r->lock)) != 0)
		fatal("relay: cannot unlock: %s", strerror(e));
}

int
relay_add(struct relay *r, uint64_t id, const uint8_t key[TC_KEY_LEN],
    uint64_t now_ms)
{
	struct rlink *l;
	uint32_t i;

	relay_lock(r);
	for (i = 0; i < r->max; i++) {
		l = &r->links[i];
		if (l->id == 0) {
			memset(l, 0, sizeof *l);
			l->id = id;
			memcpy(l->key, key, sizeof l->key);
			l->t0 = l->last_ms = now_ms;
			r->c.links++;
			relay_unlock(r);
			return 0;
		}
	}
	r->c.full++;
	relay_unlock(r);
	return -1;
}

/* A relayed link ends silent for idle_s, or not bound on both sides that
 * long after it was made: a deadline, which one side's binding again and
 * again does not move. */
void
relay_expire(struct relay *r, uint64_t now_ms)
{
	uint64_t idle = r->idle_s * 1000ull;
	struct rlink *l;
	uint32_t i;

	relay_lock(r);
	for (i = 0; i < r->max; i++) {
		l = &r->links[i];
		if (l->id != 0 && (now_ms - l->last_ms >= idle ||
		    (l->bound < 2 && now_ms - l->t0 >= idle)))
			l->id = 0;
	}
	relay_unlock(r);
}

void
relay_stats(struct relay *r, struct relay_stats *out)
{
	uint32_t i;

	relay_lock(r);
	*out = r->c;
	out->live = 0;
	for (i = 0; i < r->max; i++)
		out->live += r->links[i].id != 0;
	relay_unlock(r);
}

/*
 * A new socket binds from an address that an older relayed link still
 * holds: the NAT gave the address out again, so the old socket is gone.
 * The old link goes now; left, it would take the new one's packets (the
 * lookup takes the first match), and the new rendezvous would never meet.
 */
static void
relay_forget(struct relay *r, const struct sockaddr_storage *from,
    const struct rlink *keep)
{
	struct rlink *l;
	uint32_t i;
	int side;

	for (i = 0; i < r->max; i++) {
		l = &r->links[i];
		if (l == keep || l->id == 0)
			continue;
		for (side = 0; side < l->bound; side++)
			if (addr_equal((struct sockaddr *)&l->side[side],
			    (const struct sockaddr *)from)) {
				l->id = 0;
				r->c.reused++;
				break;
			}
	}
}

/* Under the lock: an authenticated RELAY request binds its sender; the
 * answer's length in out (for the caller to send once the lock is let
 * go), or 0 for none. */
static size_t
relay_bind(struct relay *r, const struct stun_msg *m,
    const struct sockaddr_storage *from, uint64_t now, uint8_t *out,
    size_t cap)
{
	struct stun_builder sb;
	struct rlink *l = NULL;
	uint64_t id;
	uint32_t i;
	int len, side;

	if (stun_attr_u64(stun_find(m, TC_ATTR_LINK), &id) != 0 || id == 0) {
		r->c.dropped++;
		return 0;
	}
	for (i = 0; i < r->max; i++)
		if (r->links[i].id == id)
			l = &r->links[i];
	if (l == NULL || stun_check_integrity_sha256(m, l->key,
	    sizeof l->key) != 0) {
		r->c.dropped++;
		return 0;
	}
	for (side = 0; side < l->bound; side++)
		if (addr_equal((struct sockaddr *)&l->side[side],
		    (const struct sockaddr *)from))
			break;
	if (side == l->bound) {
		if (l->bound == 2) {
			r->c.dropped++;	/* a third socket */
			return 0;
		}
		relay_forget(r, from, l);
		memcpy(&l->side[l->bound++], from, sizeof *from);
		r->c.binds++;
	}
	l->last_ms = now;
	stun_build_init(&sb, out, cap, TC_METHOD_RELAY, STUN_SUCCESS,
	    m->tid);
	stun_put_u64(&sb, TC_ATTR_LINK, id);
	stun_put_xor_address(&sb, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (const struct sockaddr *)from);
	stun_put_integrity_sha256(&sb, l->key, sizeof l->key);
	stun_put_fingerprint(&sb);
	return (len = stun_build_finish(&sb)) > 0 ? (size_t)len : 0;
}

/* Under the lock: the bound link from is a side of, and which side. */
static struct rlink *
relay_find(struct relay *r, const struct sockaddr_storage *from, int *side)
{
	uint32_t i;

	for (i = 0; i < r->max; i++) {
		if (r->links[i].id == 0 || r->links[i].bound < 2)
			continue;
		for (*side = 0; *side < 2; (*side)++)
			if (addr_equal((struct sockaddr *)
			    &r->links[i].side[*side],
			    (const struct sockaddr *)from))
				return &r->links[i];
	}
	return NULL;
}

static void
relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	struct sockaddr_storage from, to;
	uint8_t out[STUN_MAX_MSG];
	struct stun_msg m;
	struct rlink *l;
	socklen_t fromlen;
	uint64_t now = clock_ms();
	ssize_t n;
	size_t len;
	int budget, side;

	(void)what;
	for (budget = 0; budget < RELAY_BUDGET; budget++) {
		fromlen = sizeof from;
		n = recvfrom(fd, r->rx, sizeof r->rx, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		relay_lock(r);
		if (stun_is_stun(r->rx, (size_t)n) &&
		    stun_parse(r->rx, (size_t)n, &m, NULL) == 0 &&
		    m.method == TC_METHOD_RELAY && m.cls == STUN_REQUEST) {
			len = relay_bind(r, &m, &from, now, out, sizeof out);
			relay_unlock(r);
			if (len > 0)
				sendto(fd, out, len, 0,
				    (struct sockaddr *)&from, fromlen);
			continue;
		}
		if ((l = relay_find(r, &from, &side)) == NULL) {
			r->c.dropped++;
			relay_unlock(r);
			continue;
		}
		l->last_ms = now;
		l->packets++;
		l->bytes += (uint64_t)n;
		r->c.packets++;
		r->c.bytes += (uint64_t)n;
		memcpy(&to, &l->side[1 - side], sizeof to);
		relay_unlock(r);
		sendto(fd, r->rx, (size_t)n, 0, (struct sockaddr *)&to,
		    addr_sslen(&to));
	}
}

struct relay *
relay_create(struct event_base *base, const struct addr *at, uint32_t max,
    uint32_t idle_s, char *err, size_t errlen)
{
	pthread_mutexattr_t ma;
	char text[ADDR_STRLEN];
	struct relay *r;
	int size = 4 << 20;

	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->links = calloc(max + 1, sizeof *r->links)) == NULL) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&r->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	r->max = max;
	r->idle_s = idle_s;
	addr_format((const struct sockaddr *)&at->ss, text, sizeof text);
	r->fd = socket(at->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (r->fd == -1 || bind(r->fd, (const struct sockaddr *)&at->ss,
	    at->len) != 0) {
		snprintf(err, errlen, "cannot open the relay on %s: %s", text,
		    strerror(errno));
		relay_free(r);
		return NULL;
	}
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, relay_cb, r);
	if (r->ev == NULL || event_add(r->ev, NULL) != 0) {
		snprintf(err, errlen, "cannot watch the relay socket");
		relay_free(r);
		return NULL;
	}
	log_info("relay on %s", text);
	return r;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->fd != -1)
		close(r->fd);
	sodium_memzero(r->links, (r->max + 1) * sizeof *r->links);
	free(r->links);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
