/* A dual-stack link's second socket (net/link/link-int.h, link-pair.c):
 * beside the IPv4 socket and its mapping, an IPv6 socket whose host
 * candidate (IPv6 has no NAT to map it; a stateful firewall that checks
 * from both ends open) goes to the other end in the same LINK, INSTRUCT
 * and answers (XOR-CANDIDATE6). Where both ends have one, both pairs are
 * checked at once and the first that passes wins, as ICE does (RFC 8445
 * §6.1.4, §8.1.1): the controlling side nominates only one (the punches'
 * shared claim), and the controlled side takes the pair nominated. The
 * other socket is closed then, and UDT runs on the winner's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/client/session.h"
#include "net/link/link-int.h"
#include "net/util/addr.h"
#include "net/util/log.h"

void
link_pair_open(struct link *l)
{
	const struct addr *a6 = session_addr6(l->a->s);
	struct sockaddr_in6 any;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd, on = 1;

	l->fd6 = -1;
	memset(&l->me.v6, 0, sizeof l->me.v6);
	if (a6 == NULL)
		return;
	memset(&any, 0, sizeof any);
	any.sin6_family = AF_INET6;
	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		goto fail;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0 ||
	    bind(fd, (struct sockaddr *)&any, sizeof any) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		goto fail;
	memcpy(&l->me.v6, &a6->ss, sizeof l->me.v6);
	addr_set_port((struct sockaddr *)&l->me.v6,
	    addr_port((struct sockaddr *)&ss));
	l->fd6 = fd;
	return;
fail:
	log_info("link %016llx: no IPv6 socket (%s): IPv4 alone",
	    (unsigned long long)l->id, strerror(errno));
	if (fd >= 0)
		close(fd);
}

int
link_pair_ready(const struct link *l)
{
	return l->fd6 != -1 && l->them.v6.ss_family == AF_INET6;
}

static void
link_pair_punched_cb(void *arg, const struct sockaddr *peer,
    socklen_t peerlen, const char *why)
{
	struct link_punched ev = { peer, peerlen, why, 1 };

	link_drive(arg, LINK_EV_PUNCHED, &ev);
}

int
link_pair_punch(struct link *l, struct punch_config *pc)
{
	struct punch_config p6;

	if (!link_pair_ready(l))
		return 0;
	l->claim = 0;
	l->v4_over = 0;
	pc->claim = &l->claim;
	p6 = *pc;
	p6.fd = l->fd6;
	memset(p6.cand, 0, sizeof p6.cand);
	p6.cand[0].len = addr_sslen(&l->them.v6);
	memcpy(&p6.cand[0].ss, &l->them.v6, p6.cand[0].len);
	p6.ncand = 1;
	p6.spray_ip.len = 0;	/* no birthday over IPv6: no NAT */
	p6.spray = 0;
	if ((l->punch6 = punch_start(l->a->base, &p6, link_pair_punched_cb,
	    l)) == NULL) {
		pc->claim = NULL;
		link_pair_free(l);
		return -1;
	}
	return 0;
}

/* The IPv4 side's sockets and punches, given up for the IPv6 pair. */
static void
link_pair_drop_v4(struct link *l)
{
	if (l->punch != NULL)
		l->pst = *punch_stats(l->punch);
	punch_free(l->punch);
	l->punch = NULL;
	link_bday_free(l);
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
}

int
link_pair_punched(struct link *l, const struct link_punched *ev)
{
	if (l->punch6 == NULL)
		return 0;	/* no race (or it is over) */
	if (!ev->v6) {
		if (ev->peer != NULL) {
			link_pair_free(l);	/* IPv4 won */
			return 0;
		}
		/* IPv4 failed: IPv6 may still pass. The stats stay. */
		log_debug("link %016llx: the IPv4 punch failed (%s); IPv6 "
		    "goes on", (unsigned long long)l->id, ev->why);
		l->v4_over = 1;
		return 1;
	}
	if (ev->peer == NULL) {
		log_debug("link %016llx: the IPv6 punch failed (%s)",
		    (unsigned long long)l->id, ev->why);
		link_pair_free(l);
		/* Absorbed while IPv4 goes on (a relayed link's IPv4 waits
		 * for this: link.c takes it to the relay). */
		return l->v4_over || l->has_relay ? 0 : 1;
	}
	log_debug("link %016llx: the IPv6 pair passed first",
	    (unsigned long long)l->id);
	link_pair_drop_v4(l);
	l->fd = l->fd6;
	l->fd6 = -1;
	l->punch = l->punch6;	/* link.c frees it, once its callback returns */
	l->punch6 = NULL;
	l->ipv6 = 1;
	return 0;
}

void
link_pair_free(struct link *l)
{
	punch_free(l->punch6);	/* from its own callback: once that returns */
	l->punch6 = NULL;
	if (l->fd6 != -1)
		close(l->fd6);
	l->fd6 = -1;
}
