/* STUN client transactions with retransmission. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/client/ctl.h"
#include "net/util/clock.h"
#include "net/wire/proto.h"

const struct ctl_timing ctl_timing_default = { 500, 7, 16 };

struct ctl_txn {
	struct ctl	*ctl;
	int		 used;
	uint8_t		 msg[STUN_MAX_MSG];
	size_t		 len;
	struct addr	 dest;
	struct ctl_timing t;
	uint32_t	 sent;		/* how many sends so far */
	uint32_t	 wait_ms;	/* the current wait */
	uint64_t	 t_sent;	/* the first send, ms */
	struct event	*timer;
	ctl_cb		 cb;
	void		*arg;
};

struct ctl {
	struct event_base *base;
	int		 fd;
	struct event	*ev;
	struct ctl_txn	*txn[CTL_MAX_TXN];	/* made as first needed */
	int		 ntxn;
	struct ctl_stats st;
	ctl_request_cb	 on_request;
	void		*on_request_arg;
	uint8_t		 rx[STUN_MAX_MSG + 4];
};

/* One datagram's fate in the loss estimate: an average over the last
 * eight or so, per mille. */
static void
ctl_loss(struct ctl *c, int lost)
{
	c->st.loss_permille = (c->st.loss_permille * 7 + (lost ? 1000 : 0)) /
	    8;
}

static void
ctl_send(struct ctl_txn *x)
{
	sendto(x->ctl->fd, x->msg, x->len, 0,
	    (struct sockaddr *)&x->dest.ss, x->dest.len);
	x->sent++;
}

static void
ctl_arm(struct ctl_txn *x, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(x->timer, &tv);
}

static void
ctl_end(struct ctl_txn *x, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	ctl_cb cb = x->cb;
	void *arg = x->arg;
	uint32_t rtt;

	evtimer_del(x->timer);
	x->used = 0;
	if (resp != NULL) {
		ctl_loss(x->ctl, 0);
		if (x->sent == 1) {	/* Karn: never a retransmitted one */
			rtt = (uint32_t)(clock_ms() - x->t_sent);
			x->ctl->st.srtt_ms = x->ctl->st.srtt_ms == 0 ? rtt :
			    (x->ctl->st.srtt_ms * 7 + rtt) / 8;
		}
	}
	cb(arg, resp, from);	/* last: it may start a new transaction */
}

static void
ctl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_txn *x = arg;

	(void)fd;
	(void)what;
	if (x->sent >= x->t.rc) {
		x->ctl->st.timeouts++;
		ctl_loss(x->ctl, 1);
		ctl_end(x, NULL, NULL);
		return;
	}
	ctl_send(x);
	x->ctl->st.retransmits++;
	ctl_loss(x->ctl, 1);
	x->wait_ms *= 2;
	/* After the last send, wait rm * rto instead (RFC 8489 §6.2.1). */
	ctl_arm(x, x->sent >= x->t.rc ? x->t.rm * x->t.rto_ms : x->wait_ms);
}

static void
ctl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	struct sockaddr_storage from;
	struct stun_msg m;
	socklen_t fromlen;
	ssize_t n;
	int i, budget;

	(void)what;
	for (budget = 0; budget < 64; budget++) {
		fromlen = sizeof from;
		n = recvfrom(fd, c->rx, sizeof c->rx, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		c->st.rx++;
		if (stun_parse(c->rx, (size_t)n, &m, NULL) != 0 ||
		    m.cls == STUN_INDICATION) {
			c->st.rx_malformed++;
			continue;
		}
		if (m.cls == STUN_REQUEST) {
			if (c->on_request == NULL) {
				c->st.rx_unmatched++;
				continue;
			}
			c->st.rx_requests++;
			/* May free c, as a transaction's callback may. */
			c->on_request(c->on_request_arg, &m,
			    (struct sockaddr *)&from);
			return;
		}
		for (i = 0; i < c->ntxn; i++) {
			struct ctl_txn *x = c->txn[i];

			if (x->used && memcmp(x->msg + 8, m.tid, 12) == 0) {
				/* The callback may free c: touch nothing
				 * after it (what else waits stays readable). */
				ctl_end(x, &m, (struct sockaddr *)&from);
				return;
			}
		}
		c->st.rx_unmatched++;
	}
}

struct ctl *
ctl_open(struct event_base *base, int family, const struct addr *local,
    char *err, size_t errlen)
{
	struct ctl *c;
	struct sockaddr_storage any;
	socklen_t anylen;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	memset(&any, 0, sizeof any);
	any.ss_family = (sa_family_t)family;
	anylen = family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if (bind(c->fd, local != NULL ? (const struct sockaddr *)&local->ss :
	    (struct sockaddr *)&any, local != NULL ? local->len : anylen) != 0) {
		snprintf(err, errlen, "bind: %s", strerror(errno));
		goto fail;
	}
	c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, ctl_read_cb, c);
	if (c->ev == NULL || event_add(c->ev, NULL) != 0) {
		snprintf(err, errlen, "event_add failed");
		goto fail;
	}
	return c;

fail:
	ctl_free(c);
	return NULL;
}

void
ctl_free(struct ctl *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ntxn; i++) {
		event_free(c->txn[i]->timer);
		free(c->txn[i]);
	}
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

int
ctl_detach(struct ctl *c)
{
	int fd = c->fd;

	c->fd = -1;
	ctl_free(c);
	return fd;
}

uint16_t
ctl_local_port(const struct ctl *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return addr_port((struct sockaddr *)&ss);
}

/* One more transaction slot, while there are fewer than CTL_MAX_TXN. */
static struct ctl_txn *
ctl_txn_new(struct ctl *c)
{
	struct ctl_txn *x;

	if (c->ntxn == CTL_MAX_TXN || (x = calloc(1, sizeof *x)) == NULL)
		return NULL;
	if ((x->timer = evtimer_new(c->base, ctl_timer_cb, x)) == NULL) {
		free(x);
		return NULL;
	}
	x->ctl = c;
	c->txn[c->ntxn++] = x;
	return x;
}

int
ctl_request(struct ctl *c, const struct addr *dest, const uint8_t *msg,
    size_t len, const struct ctl_timing *t, ctl_cb cb, void *arg)
{
	struct ctl_txn *x = NULL;
	int i;

	if (len < STUN_HEADER_LEN || len > STUN_MAX_MSG)
		return -1;
	for (i = 0; i < c->ntxn && x == NULL; i++)
		if (!c->txn[i]->used)
			x = c->txn[i];
	if (x == NULL && (x = ctl_txn_new(c)) == NULL)
		return -1;
	x->used = 1;
	memcpy(x->msg, msg, len);
	x->len = len;
	x->dest = *dest;
	x->t = t != NULL ? *t : ctl_timing_default;
	if (x->t.rc == 0)
		x->t.rc = 1;
	x->sent = 0;
	x->t_sent = clock_ms();
	x->wait_ms = x->t.rto_ms;
	x->cb = cb;
	x->arg = arg;
	ctl_send(x);
	ctl_arm(x, x->sent >= x->t.rc ? x->t.rm * x->t.rto_ms : x->wait_ms);
	return 0;
}

void
ctl_cancel(struct ctl *c, void *arg)
{
	int i;

	for (i = 0; i < c->ntxn; i++) {
		if (c->txn[i]->used && c->txn[i]->arg == arg) {
			evtimer_del(c->txn[i]->timer);
			c->txn[i]->used = 0;
		}
	}
}

int
ctl_pending(const struct ctl *c)
{
	int i, n = 0;

	for (i = 0; i < c->ntxn; i++)
		n += c->txn[i]->used != 0;
	return n;
}

void
ctl_on_request(struct ctl *c, ctl_request_cb cb, void *arg)
{
	c->on_request = cb;
	c->on_request_arg = arg;
}

int
ctl_send_to(struct ctl *c, const struct sockaddr *dest, socklen_t destlen,
    const uint8_t *msg, size_t len)
{
	return sendto(c->fd, msg, len, 0, dest, destlen) == (ssize_t)len ?
	    0 : -1;
}

const struct ctl_stats *
ctl_stats(const struct ctl *c)
{
	return &c->st;
}

int
ctl_put_padding(struct stun_builder *b, size_t minlen)
{
	char pad[STUN_REASON_MAX];
	size_t have = b->len + STUN_ATTR_HEADER_LEN + 8, len;

	len = strlen(TC_SOFTWARE);
	if (have + len < minlen)
		len = minlen - have;
	if (len >= sizeof pad)
		len = sizeof pad - 1;
	memset(pad, ' ', len);
	memcpy(pad, TC_SOFTWARE, strlen(TC_SOFTWARE));
	return stun_put(b, STUN_ATTR_SOFTWARE, pad, (uint16_t)len);
}

int
ctl_build_binding(uint8_t *buf, size_t cap, uint32_t change_flags,
    size_t minlen)
{
	struct stun_builder b;
	uint8_t tid[12];

	stun_random_tid(tid);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_REQUEST, tid);
	if (change_flags != 0)
		stun_put_u32(&b, STUN_ATTR_CHANGE_REQUEST, change_flags);
	ctl_put_padding(&b, minlen);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}
