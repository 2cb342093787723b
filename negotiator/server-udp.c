/* The negotiator's workers: each a thread with its own event loop and
 * its own sockets (the primary, the second port, with --alt-address the
 * second address's two, and the IPv6 one), the receive loop that drains
 * them in batches into server_handle, and the ways answers and the
 * broker's messages leave. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "negotiator/server-int.h"
#include "net/util/addr.h"
#include "net/util/log.h"
#include "net/wire/stun.h"

/* Makes a datagram leave from src (a wildcard socket answers from the
 * address it was asked on). */
static void
server_source(struct msghdr *mh, union srv_cmsg *ctl, struct in_addr src)
{
	struct in_pktinfo pi;
	struct cmsghdr *c;

	memset(ctl, 0, sizeof *ctl);
	memset(&pi, 0, sizeof pi);
	pi.ipi_spec_dst = src;
	mh->msg_control = ctl->buf;
	mh->msg_controllen = sizeof ctl->buf;
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof pi);
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
}

/* An answer from another socket than the one asked (CHANGE-REQUEST). From
 * a wildcard socket it leaves from the address that was asked. */
static void
server_send_one(struct worker *w, struct srv_msg *m)
{
	struct srv_sock *via = &w->socks[m->via];
	union srv_cmsg ctl;
	struct iovec iov = { .iov_base = m->out, .iov_len = m->outlen };
	struct msghdr mh;

	memset(&mh, 0, sizeof mh);
	mh.msg_name = &m->from;
	mh.msg_namelen = addr_sslen(&m->from);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (via->wildcard && m->has_pi)
		server_source(&mh, &ctl, m->pi.ipi_addr);
	if (sendmsg(via->fd, &mh, 0) == (ssize_t)m->outlen) {
		STAT_INC(w, tx_datagrams);
		STAT_ADD(w, tx_bytes, m->outlen);
	}
}

/* The broker's way out: from the primary port (worker 0's socket; any
 * thread may send on it, the IPv6 one to an IPv6 node), from the address
 * the node talks to. */
void
server_broker_send(void *ctx, const struct sockaddr *to, const uint8_t *msg,
    size_t len, const struct sockaddr *src)
{
	struct server *s = ctx;
	struct srv_sock *ss = &s->workers[0].socks[0];
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	union srv_cmsg ctl;
	struct msghdr mh;

	if (to->sa_family == AF_INET6 && s->workers[0].socks[SOCK_V6].fd != -1)
		ss = &s->workers[0].socks[SOCK_V6];
	memset(&mh, 0, sizeof mh);
	mh.msg_name = (void *)to;
	mh.msg_namelen = addr_sslen((const struct sockaddr_storage *)to);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (ss->wildcard && src != NULL && src->sa_family == AF_INET)
		server_source(&mh, &ctl,
		    ((const struct sockaddr_in *)src)->sin_addr);
	if (sendmsg(ss->fd, &mh, 0) == (ssize_t)len) {
		STAT_INC(s, tx_datagrams);
		STAT_ADD(s, tx_bytes, len);
	}
}

/* Readable: drain the socket in batches, answering each batch at once. */
static void
server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_sock *ss = arg;
	struct worker *w = ss->w;
	struct srv_msg *m;
	struct cmsghdr *c;
	int i, n, got, ntx, round, sent;

	for (round = 0; round < SERVER_ROUNDS; round++) {
		for (i = 0; i < SERVER_BATCH; i++) {
			m = &w->msgs[i];
			w->rxiov[i].iov_base = m->in;
			w->rxiov[i].iov_len = sizeof m->in;
			memset(&w->rx[i].msg_hdr, 0, sizeof w->rx[i].msg_hdr);
			w->rx[i].msg_hdr.msg_name = &m->from;
			w->rx[i].msg_hdr.msg_namelen = sizeof m->from;
			w->rx[i].msg_hdr.msg_iov = &w->rxiov[i];
			w->rx[i].msg_hdr.msg_iovlen = 1;
			w->rx[i].msg_hdr.msg_control = m->ctl.buf;
			w->rx[i].msg_hdr.msg_controllen = sizeof m->ctl.buf;
		}
		got = recvmmsg(fd, w->rx, SERVER_BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			break;
		ntx = 0;
		for (i = 0; i < got; i++) {
			m = &w->msgs[i];
			STAT_INC(w, rx_datagrams);
			STAT_ADD(w, rx_bytes, w->rx[i].msg_len);
			m->has_pi = 0;
			for (c = CMSG_FIRSTHDR(&w->rx[i].msg_hdr); c != NULL;
			    c = CMSG_NXTHDR(&w->rx[i].msg_hdr, c)) {
				if (c->cmsg_level == IPPROTO_IP &&
				    c->cmsg_type == IP_PKTINFO) {
					memcpy(&m->pi, CMSG_DATA(c),
					    sizeof m->pi);
					m->has_pi = 1;
				}
			}
			if (w->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
				STAT_INC(w, drop_parse);
				w->st.parse_errors[STUN_E_TOO_BIG]++;
				continue;
			}
			server_handle(w, ss, m, w->rx[i].msg_len);
			if (m->outlen == 0)
				continue;
			if (m->via != ss->index) {
				server_send_one(w, m);
				continue;
			}
			w->txiov[ntx].iov_base = m->out;
			w->txiov[ntx].iov_len = m->outlen;
			memset(&w->tx[ntx].msg_hdr, 0, sizeof w->tx[ntx].msg_hdr);
			w->tx[ntx].msg_hdr.msg_name = &m->from;
			w->tx[ntx].msg_hdr.msg_namelen =
			    w->rx[i].msg_hdr.msg_namelen;
			w->tx[ntx].msg_hdr.msg_iov = &w->txiov[ntx];
			w->tx[ntx].msg_hdr.msg_iovlen = 1;
			if (ss->wildcard && m->has_pi)
				server_source(&w->tx[ntx].msg_hdr,
				    &w->txctl[ntx], m->pi.ipi_addr);
			ntx++;
		}
		for (i = 0; i < ntx; i += sent) {
			sent = sendmmsg(fd, w->tx + i, (unsigned)(ntx - i), 0);
			if (sent <= 0) {
				if (errno == EINTR)
					sent = 0;
				else
					break;	/* full socket: drop, as UDP does */
			}
			for (n = 0; n < sent; n++) {
				STAT_INC(w, tx_datagrams);
				STAT_ADD(w, tx_bytes, w->tx[i + n].msg_len);
			}
		}
		if (got < SERVER_BATCH)
			break;
	}
	(void)what;
}

static int
server_open(struct worker *w, int index, const struct addr *a, char *err,
    size_t errlen)
{
	struct srv_sock *ss = &w->socks[index];
	char text[ADDR_STRLEN];
	int one = 1, size = 4 << 20, probe;

	/*
	 * SO_REUSEPORT would let a second negotiator on the same port join
	 * this one's group and take half its clients, each with a registry
	 * of its own. A plain bind first: it fails if anyone holds the port.
	 */
	if (w->index == 0) {
		probe = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && index == SOCK_V6)
			setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		if (probe != -1 && bind(probe, (const struct sockaddr *)&a->ss,
		    a->len) == -1 && errno == EADDRINUSE) {
			snprintf(err, errlen, "cannot listen on %s: in use "
			    "(another negotiator?)", addr_format(
			    (const struct sockaddr *)&a->ss, text,
			    sizeof text));
			close(probe);
			return -1;
		}
		if (probe != -1)
			close(probe);
	}
	ss->w = w;
	ss->index = index;
	ss->local = *a;
	ss->fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (ss->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Every worker binds the same addresses; the kernel spreads the
	 * clients over them by address and port. */
	setsockopt(ss->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	setsockopt(ss->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(ss->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	/* Beside an IPv4 socket on the same port: IPv6 alone. */
	if (index == SOCK_V6)
		setsockopt(ss->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	/* Bound to 0.0.0.0: learn each request's address, to answer from it
	 * and name it in RESPONSE-ORIGIN. */
	if (a->ss.ss_family == AF_INET &&
	    ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
	    htonl(INADDR_ANY)) {
		setsockopt(ss->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
		ss->wildcard = 1;
	}
	if (bind(ss->fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    addr_format((const struct sockaddr *)&a->ss, text,
		    sizeof text), strerror(errno));
		return -1;
	}
	ss->ev = event_new(w->base, ss->fd, EV_READ | EV_PERSIST,
	    server_read_cb, ss);
	if (ss->ev == NULL || event_add(ss->ev, NULL) != 0) {
		snprintf(err, errlen, "event_add failed");
		return -1;
	}
	if (w->index == 0)
		log_info("listening on udp %s", addr_format(
		    (const struct sockaddr *)&a->ss, text, sizeof text));
	return 0;
}

/* The default IPv6 socket is skipped on a host without IPv6. */
static void
server_probe_v6(struct server_config *cfg)
{
	int fd, one = 1;

	if (!cfg->has_listen6 || !cfg->listen6_optional)
		return;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd != -1)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (fd == -1 || (bind(fd, (const struct sockaddr *)&cfg->listen6.ss,
	    cfg->listen6.len) == -1 && errno != EADDRINUSE)) {
		log_info("no IPv6 here (%s): listening on IPv4 alone",
		    strerror(errno));
		cfg->has_listen6 = 0;
	}
	if (fd != -1)
		close(fd);
}

static void *
server_worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
server_udp_open(struct server *s, char *err, size_t errlen)
{
	const struct server_config *cfg = &s->cfg;
	struct worker *w;
	struct addr a;
	int i, j;

	server_probe_v6(&s->cfg);
	for (j = 0; j < s->nworkers; j++) {
		w = &s->workers[j];
		if ((w->base = event_base_new()) == NULL) {
			snprintf(err, errlen, "cannot create an event loop");
			return -1;
		}
		for (i = 0; i < SOCK_V6; i++) {
			if ((i & SOCK_ALT_ADDR) && !cfg->has_alt_address)
				continue;
			a = (i & SOCK_ALT_ADDR) ? cfg->alt_address :
			    cfg->listen;
			addr_set_port((struct sockaddr *)&a.ss,
			    (i & SOCK_ALT_PORT) ? cfg->alt_port :
			    addr_port((const struct sockaddr *)&cfg->listen.ss));
			if (server_open(w, i, &a, err, errlen) != 0)
				return -1;
		}
		if (cfg->has_listen6 && server_open(w, SOCK_V6,
		    &cfg->listen6, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int
server_udp_start(struct server *s, char *err, size_t errlen)
{
	struct worker *w;
	int j;

	for (j = 0; j < s->nworkers; j++) {
		w = &s->workers[j];
		if (pthread_create(&w->thread, NULL, server_worker_main, w)
		    != 0) {
			snprintf(err, errlen, "cannot start worker thread %d",
			    j);
			return -1;
		}
		w->started = 1;
	}
	return 0;
}

void
server_udp_close(struct server *s)
{
	struct worker *w;
	int i, j;

	for (j = 0; s->workers != NULL && j < s->nworkers; j++) {
		w = &s->workers[j];
		if (w->started) {
			event_base_loopexit(w->base, NULL);
			pthread_join(w->thread, NULL);
		}
	}
	for (j = 0; s->workers != NULL && j < s->nworkers; j++) {
		w = &s->workers[j];
		for (i = 0; i < SOCK_MAX; i++) {
			if (w->socks[i].ev != NULL)
				event_free(w->socks[i].ev);
			if (w->socks[i].fd != -1)
				close(w->socks[i].fd);
		}
		if (w->base != NULL)
			event_base_free(w->base);
	}
}
