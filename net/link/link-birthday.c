/* Birthday punching, the random side (DESIGN.md, flow 3): many sockets
 * towards the peer's one mapping, opened at a pace; the first whose punch
 * meets a probe of the peer's is the link's, and the machine hears of it
 * (or that all failed) as LINK_EV_PUNCHED. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/link/link-int.h"
#include "net/util/addr.h"
#include "net/util/log.h"

/*
 * The pace. The random side opens its sockets LINK_BDAY_BATCH every
 * LINK_BDAY_BATCH_MS (256 in 160 ms), each checking the peer's mapping
 * every LINK_BDAY_EVERY rounds of 20 ms; the other side (link.c) waits
 * LINK_BDAY_AFTER rounds for those mappings, then probes LINK_BDAY_ROUND
 * ports a round (2048 in 1.3 s). An agent holds at most LINK_BDAY_FDS
 * such sockets at once, whatever its links ask.
 */
#define LINK_BDAY_BATCH		16
#define LINK_BDAY_BATCH_MS	10
#define LINK_BDAY_EVERY		25
#define LINK_BDAY_FDS		512

unsigned
link_bday_open_ms(const struct link *l)
{
	return (l->a->o.birthday_sockets / LINK_BDAY_BATCH + 1) *
	    LINK_BDAY_BATCH_MS;
}

/* punch_free inside the punch's own callback is deferred by the punch. */
void
link_bday_free(struct link *l)
{
	unsigned i;

	for (i = 0; i < l->bday_open; i++) {
		punch_free(l->bday[i].punch);
		if (l->bday[i].fd != -1) {
			close(l->bday[i].fd);
			l->a->bday_fds--;
		}
	}
	if (l->bday_opener != NULL)
		event_del(l->bday_opener);	/* freed with the link */
	free(l->bday);
	l->bday = NULL;
	l->nbday = l->bday_open = l->bday_live = 0;
}

/* A socket punched its pair (it is the link's from now on, and the others
 * close), or failed (the link's punch fails with the last). */
static void
link_bday_punched(void *arg, const struct sockaddr *peer, socklen_t peerlen,
    const char *why)
{
	struct link_bday *b = arg;
	struct link *l = b->l;
	struct sockaddr_storage ss;
	struct link_punched ev = { NULL, 0, why, 0 };
	char text[64];

	if (peer == NULL) {
		punch_free(b->punch);
		b->punch = NULL;
		close(b->fd);
		b->fd = -1;
		l->a->bday_fds--;
		if (--l->bday_live > 0 || l->bday_open < l->nbday)
			return;
		link_drive(l, LINK_EV_PUNCHED, &ev);
		return;
	}
	memcpy(&ss, peer, peerlen);	/* peer lives in the punch */
	log_info("link %016llx: birthday: socket %u of %u met %s (%u checks "
	    "rejected)", (unsigned long long)l->id, (unsigned)(b - l->bday),
	    l->bday_open, addr_format(peer, text, sizeof text),
	    punch_stats(b->punch)->rejected);
	l->fd = b->fd;
	b->fd = -1;
	l->a->bday_fds--;
	l->pst = *punch_stats(b->punch);
	link_bday_free(l);
	ev.peer = (struct sockaddr *)&ss;
	ev.len = peerlen;
	link_drive(l, LINK_EV_PUNCHED, &ev);
}

/* The next batch of sockets, each punching towards the peer's one
 * mapping; the first is the link's own. */
static void
link_bday_open_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	struct link_bday *b;
	struct punch_config pc = l->bday_pc;
	struct link_punched ev = { NULL, 0, "cannot open birthday sockets", 0 };
	unsigned n;

	(void)fd;
	(void)what;
	for (n = 0; n < LINK_BDAY_BATCH && l->bday_open < l->nbday; n++) {
		b = &l->bday[l->bday_open];
		b->l = l;
		if (l->bday_open == 0) {
			b->fd = l->fd;	/* mapped at the negotiator */
			l->fd = -1;
		} else if (l->a->bday_fds >= LINK_BDAY_FDS ||
		    (b->fd = socket(l->them.external.ss_family, SOCK_DGRAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
		    (l->a->o.bind.len > 0 && bind(b->fd, (struct sockaddr *)
		    &l->a->o.bind.ss, l->a->o.bind.len) != 0)) {
			if (b->fd != -1)
				close(b->fd);
			l->nbday = l->bday_open;	/* this many, then */
			break;
		}
		l->a->bday_fds++;
		l->bday_open++;
		pc.fd = b->fd;
		if ((b->punch = punch_start(l->a->base, &pc, link_bday_punched,
		    b)) == NULL) {
			l->nbday = l->bday_open;
			break;
		}
		l->bday_live++;
	}
	if (l->bday_open < l->nbday)
		return;
	event_del(l->bday_opener);	/* all open */
	if (l->bday_live == 0)
		link_drive(l, LINK_EV_PUNCHED, &ev);
}

int
link_bday_start(struct link *l, const struct punch_config *pc)
{
	struct timeval tv = { 0, LINK_BDAY_BATCH_MS * 1000 };
	unsigned n = l->a->o.birthday_sockets;

	l->bday_pc = *pc;
	l->bday_pc.every = LINK_BDAY_EVERY;
	l->nbday = n > 0 ? n : 1;
	if (l->bday_opener == NULL)
		l->bday_opener = event_new(l->a->base, -1, EV_PERSIST,
		    link_bday_open_cb, l);
	if ((l->bday = calloc(l->nbday, sizeof *l->bday)) == NULL ||
	    l->bday_opener == NULL ||
	    evtimer_add(l->bday_opener, &tv) != 0) {
		l->nbday = 0;
		return -1;
	}
	link_bday_open_cb(-1, 0, l);
	return 0;
}
