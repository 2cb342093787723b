// The C shim over UDT4 (net/link/udt.h): rendezvous links on punched sockets,
// joined to a libevent loop through an eventfd. All of treecast's C++.
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <vector>

#include <event2/event.h>
#include <udt/ccc.h>
#include <udt/udt.h>

#include "net/link/udt.h"
extern "C" {
#include "net/util/clock.h"
}

/*
 * Congestion control for a live stream. UDT's own (CUDTCC) slows down on
 * every loss report, and a receiver reports a lost packet again and again
 * until it comes: over a 100 ms round trip with 2 % random loss, the
 * reports added up to 60 % of the packets sent, the pacing fell to 5
 * Mbit/s and a 5 Mbit/s stream queued for seconds (bench/stream-bench.sh
 * --delay 25 --loss 1). A stream sends at its own rate, below what most
 * paths carry, and random loss is not congestion. So this control counts
 * each lost packet once, paces under a ceiling that it raises steadily,
 * keeps two round trips' worth of packets in flight, and lowers the
 * ceiling only when more than a tenth of what was sent in a round trip
 * was lost (a full path), or on a timeout. Retransmission is UDT's.
 */
#define MEDIA_CC_START	2000.0		// packets a second (about 24 Mbit/s)
#define MEDIA_CC_MIN	100.0
#define MEDIA_CC_MAX	50000.0
#define MEDIA_CC_RTT_US	100000		// until UDT has measured one
#define MEDIA_CC_SEQ_MASK 0x7FFFFFFF	// UDT's 31-bit sequence numbers

class MediaCC : public CCC {
public:
	MediaCC() : rate(MEDIA_CC_START), epoch_us(0), epoch_seq(0),
	    lost(0), counted(-1) {}

	virtual void init()
	{
		epoch_us = clock_us();
		epoch_seq = m_iSndCurrSeqNo;
		apply();
	}

	// Every ACK (about every 10 ms): raise the ceiling; once a round
	// trip, look at what was lost.
	virtual void onACK(int32_t)
	{
		uint64_t now = clock_us();
		int rtt = m_iRTT > 0 ? m_iRTT : MEDIA_CC_RTT_US;
		int32_t sent;

		rate = rate * 1.02 + 1;
		if (now - epoch_us >= (uint64_t)rtt + 10000) {
			sent = (m_iSndCurrSeqNo - epoch_seq) & MEDIA_CC_SEQ_MASK;
			if (sent > 16 && lost * 10 > sent)
				rate *= 0.75;
			epoch_us = now;
			epoch_seq = m_iSndCurrSeqNo;
			lost = 0;
		}
		apply();
	}

	virtual void onLoss(const int32_t *list, int size)
	{
		lost += udt_loss_new(list, size, &counted);
	}

	virtual void onTimeout()
	{
		rate /= 2;
		apply();
	}

private:
	double		rate;
	uint64_t	epoch_us;
	int32_t		epoch_seq;
	int32_t		lost;
	int32_t		counted;	// the highest lost number counted

	void apply()
	{
		double rtt_s = (m_iRTT > 0 ? m_iRTT : MEDIA_CC_RTT_US) / 1e6;

		if (rate < MEDIA_CC_MIN)
			rate = MEDIA_CC_MIN;
		if (rate > MEDIA_CC_MAX)
			rate = MEDIA_CC_MAX;
		m_dPktSndPeriod = 1e6 / rate;
		m_dCWndSize = rate * (rtt_s + 0.01) * 2;
		if (m_dCWndSize < 32)
			m_dCWndSize = 32;
	}
};

// Whether sequence number a comes after b, with wrap-around.
static bool
udt_seq_after(int32_t a, int32_t b)
{
	int32_t d = (a - b) & MEDIA_CC_SEQ_MASK;

	return d != 0 && d < 0x40000000;
}

extern "C" int32_t
udt_loss_new(const int32_t *list, int size, int32_t *counted)
{
	int32_t n = 0;

	for (int i = 0; i < size; i++) {
		int32_t first = list[i] & MEDIA_CC_SEQ_MASK, last = first;

		if ((list[i] & 0x80000000) && i + 1 < size)
			last = list[++i] & MEDIA_CC_SEQ_MASK;
		if (*counted >= 0) {
			if (!udt_seq_after(last, *counted))
				continue;	// all counted before
			if (!udt_seq_after(first, *counted))
				first = (*counted + 1) & MEDIA_CC_SEQ_MASK;
		}
		if (udt_seq_after(first, last))
			continue;	// not a range
		n += ((last - first) & MEDIA_CC_SEQ_MASK) + 1;
		*counted = last;
	}
	return n;
}

struct udt_link {
	struct udt_loop	*u;
	UDTSOCKET	 s;
	udt_link_cb	 cb;
	void		*arg;
	enum { LINK_CONNECTING, LINK_CONNECTED, LINK_DEAD } state;
	struct event	*timeout;
};

struct udt_loop {
	struct event_base		*base;
	int				 efd;	// watcher -> loop
	struct event			*ev;
	struct event			*health;
	int				 eid;	// UDT's epoll
	pthread_t			 thread;
	bool				 started;
	volatile bool			 stop;
	pthread_mutex_t			 mu;
	std::vector<UDTSOCKET>		 ready;	// under mu
	std::map<UDTSOCKET, udt_link *>	 links;	// loop thread only
	std::map<UDTSOCKET, uint64_t>	 doomed;	// ... and these: given up
							// while connecting, when
};

static int udt_users;	// UDT::startup once per process
static pthread_mutex_t udt_users_mu = PTHREAD_MUTEX_INITIALIZER;

// Watches UDT's epoll; each socket it reports is taken out (one-shot) until
// the loop thread arms it again, so that a socket is reported once a wait.
static void *
udt_watcher(void *arg)
{
	struct udt_loop *u = (struct udt_loop *)arg;
	UDTSOCKET rd[64], wr[64];
	int rn, wn, i;
	uint64_t one = 1;

	while (!u->stop) {
		rn = wn = 64;
		if (UDT::epoll_wait2(u->eid, rd, &rn, wr, &wn, 100) <= 0)
			continue;
		pthread_mutex_lock(&u->mu);
		for (i = 0; i < rn; i++) {
			UDT::epoll_remove_usock(u->eid, rd[i]);
			u->ready.push_back(rd[i]);
		}
		for (i = 0; i < wn; i++) {
			UDT::epoll_remove_usock(u->eid, wr[i]);
			u->ready.push_back(wr[i]);
		}
		pthread_mutex_unlock(&u->mu);
		if (write(u->efd, &one, sizeof one) != sizeof one)
			continue;	// the counter saturated: already awake
	}
	return NULL;
}

// The link on socket s, unless it was freed or died meanwhile (a callback
// may free any link).
static struct udt_link *
udt_find(struct udt_loop *u, UDTSOCKET s)
{
	std::map<UDTSOCKET, udt_link *>::iterator it = u->links.find(s);

	if (it == u->links.end() || it->second->state == udt_link::LINK_DEAD)
		return NULL;
	return it->second;
}

// No UDT_EPOLL_ERR: UDT 4.11 never takes a socket out of an epoll's error
// set once it is in it (epoll_remove_usock clears the watch, not the
// result; removeEPoll clears IN and OUT alone), so every wait after the
// first broken link would return at once, for good, and this thread spin.
// Nothing is lost: a link broken by a timeout is made readable and
// writable too (CUDT::checkTimers), a peer's shutdown is the health
// timer's, and a rendezvous that never connects is udt_timeout_cb's
// (UDT's own limit, 30 s, is longer than any link's).
static void
udt_arm(struct udt_link *l)
{
	int events = l->state == udt_link::LINK_CONNECTING ?
	    UDT_EPOLL_OUT : UDT_EPOLL_IN;

	UDT::epoll_add_usock(l->u->eid, l->s, &events);
}

static void
udt_dead(struct udt_link *l)
{
	l->state = udt_link::LINK_DEAD;
	UDT::epoll_remove_usock(l->u->eid, l->s);
	if (l->timeout != NULL)
		evtimer_del(l->timeout);
	l->cb(l, UDT_LINK_CLOSED, l->arg);	// last: it may free l
}

// The loop thread's side: what became of each socket the watcher saw.
static void
udt_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udt_loop *u = (struct udt_loop *)arg;
	std::vector<UDTSOCKET> ready;
	uint64_t n;
	size_t i;

	(void)what;
	if (read(fd, &n, sizeof n) != sizeof n && errno != EAGAIN)
		return;
	pthread_mutex_lock(&u->mu);
	ready.swap(u->ready);
	pthread_mutex_unlock(&u->mu);
	for (i = 0; i < ready.size(); i++) {
		struct udt_link *l = udt_find(u, ready[i]);

		if (l == NULL)
			continue;
		switch (UDT::getsockstate(l->s)) {
		case CONNECTED:
			if (l->state == udt_link::LINK_CONNECTING) {
				l->state = udt_link::LINK_CONNECTED;
				if (l->timeout != NULL)
					evtimer_del(l->timeout);
				udt_arm(l);
				l->cb(l, UDT_LINK_CONNECTED, l->arg);
			} else
				l->cb(l, UDT_LINK_READABLE, l->arg);
			break;
		case CONNECTING:
		case OPENED:
		case INIT:
			udt_arm(l);	// not yet: wait again
			break;
		default:		// BROKEN, CLOSING, CLOSED, NONEXIST
			udt_dead(l);
			break;
		}
	}
}

/*
 * UDT 4.11 marks a socket broken when its peer shuts down, but tells no
 * epoll about it (processCtrl's shutdown case updates no events), so a
 * closed peer would go unnoticed. Four times a second the loop asks each
 * link's state: a handful of links a node, no data polled.
 */
#define UDT_HEALTH_MS 250
/*
 * A link given up while UDT's rendezvous is under way is not closed then:
 * UDT 4.11's receiving thread may be completing the handshake at that
 * moment (CUDT::connect(const CPacket&)), and its connect_complete throws
 * for a socket closed meanwhile, from a function declared throw(): the
 * process ends in std::terminate (seen in a 120-peer flash crowd, a peer
 * moved twice within half a second). Its socket is closed once UDT says
 * it is no longer connecting, or after UDT's own limit for a rendezvous
 * (30 s) and a little more.
 */
#define UDT_DOOMED_MAX_MS 35000

// Closes the doomed sockets whose handshake is over.
static void
udt_bury(struct udt_loop *u, bool all)
{
	std::map<UDTSOCKET, uint64_t>::iterator it = u->doomed.begin();
	uint64_t now = clock_ms();

	while (it != u->doomed.end()) {
		if (all || UDT::getsockstate(it->first) != CONNECTING ||
		    now - it->second >= UDT_DOOMED_MAX_MS) {
			UDT::close(it->first);
			u->doomed.erase(it++);
		} else
			++it;
	}
}

static void
udt_health_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udt_loop *u = (struct udt_loop *)arg;
	std::vector<UDTSOCKET> dead;
	std::map<UDTSOCKET, udt_link *>::iterator it;
	size_t i;

	(void)fd;
	(void)what;
	udt_bury(u, false);
	for (it = u->links.begin(); it != u->links.end(); ++it) {
		struct udt_link *l = it->second;

		if (l->state != udt_link::LINK_CONNECTED)
			continue;
		switch (UDT::getsockstate(l->s)) {
		case BROKEN:
		case CLOSING:
		case CLOSED:
		case NONEXIST:
			dead.push_back(l->s);
			break;
		default:
			break;
		}
	}
	// Callbacks may free links (any of them), so not while walking the
	// map, and each looked up again. What the peer sent before it went
	// is still delivered first.
	for (i = 0; i < dead.size(); i++) {
		struct udt_link *l = udt_find(u, dead[i]);

		if (l == NULL)
			continue;
		l->cb(l, UDT_LINK_READABLE, l->arg);
		if ((l = udt_find(u, dead[i])) != NULL)
			udt_dead(l);
	}
}

static void
udt_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udt_link *l = (struct udt_link *)arg;

	(void)fd;
	(void)what;
	if (l->state == udt_link::LINK_CONNECTING)
		udt_dead(l);
}

extern "C" struct udt_loop *
udt_loop_new(struct event_base *base, char *err, size_t errlen)
{
	struct udt_loop *u = new udt_loop();
	struct timeval health = { 0, UDT_HEALTH_MS * 1000 };

	u->base = base;
	u->efd = -1;
	u->eid = -1;
	pthread_mutex_init(&u->mu, NULL);
	pthread_mutex_lock(&udt_users_mu);
	if (udt_users++ == 0 && UDT::startup() != 0) {
		udt_users--;
		pthread_mutex_unlock(&udt_users_mu);
		snprintf(err, errlen, "UDT::startup failed");
		delete u;
		return NULL;
	}
	pthread_mutex_unlock(&udt_users_mu);
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	u->eid = UDT::epoll_create();
	if (u->efd == -1 || u->eid < 0) {
		snprintf(err, errlen, "cannot create UDT's epoll or an eventfd");
		udt_loop_free(u);
		return NULL;
	}
	u->ev = event_new(base, u->efd, EV_READ | EV_PERSIST, udt_wake_cb, u);
	u->health = event_new(base, -1, EV_PERSIST, udt_health_cb, u);
	if (u->ev == NULL || event_add(u->ev, NULL) != 0 ||
	    u->health == NULL || event_add(u->health, &health) != 0 ||
	    pthread_create(&u->thread, NULL, udt_watcher, u) != 0) {
		snprintf(err, errlen, "cannot start UDT's watcher");
		udt_loop_free(u);
		return NULL;
	}
	u->started = true;
	return u;
}

extern "C" void
udt_loop_free(struct udt_loop *u)
{
	if (u == NULL)
		return;
	while (!u->links.empty())
		udt_link_free(u->links.begin()->second);
	udt_bury(u, true);
	if (u->started) {
		u->stop = true;
		pthread_join(u->thread, NULL);
	}
	if (u->ev != NULL)
		event_free(u->ev);
	if (u->health != NULL)
		event_free(u->health);
	if (u->eid >= 0)
		UDT::epoll_release(u->eid);
	if (u->efd != -1)
		close(u->efd);
	pthread_mutex_destroy(&u->mu);
	pthread_mutex_lock(&udt_users_mu);
	if (--udt_users == 0)
		UDT::cleanup();
	pthread_mutex_unlock(&udt_users_mu);
	delete u;
}

extern "C" struct udt_link *
udt_link_start(struct udt_loop *u, int fd, const struct sockaddr *peer,
    socklen_t peerlen, int timeout_ms, udt_link_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct udt_link *l;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct linger nolinger = { 0, 0 };
	bool yes = true, no = false;
	UDTSOCKET s;
	int flags;

	// The caller gives fd up in any case: closed here on failure until
	// UDT holds it.
	s = UDT::socket(peer->sa_family, SOCK_DGRAM, 0);
	if (s == UDT::INVALID_SOCK) {
		snprintf(err, errlen, "UDT::socket: %s",
		    UDT::getlasterror_desc());
		close(fd);
		return NULL;
	}
	// UDT's receiving thread waits in recvmsg() with a timeout it sets
	// itself: on the non-blocking socket the punch used, it would spin.
	flags = fcntl(fd, F_GETFL);
	if (flags != -1)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	CCCFactory<MediaCC> media_cc;	// UDT keeps a clone
	if (UDT::setsockopt(s, 0, UDT_RENDEZVOUS, &yes, sizeof yes) != 0 ||
	    UDT::setsockopt(s, 0, UDT_CC, &media_cc, sizeof media_cc) != 0 ||
	    UDT::setsockopt(s, 0, UDT_SNDSYN, &no, sizeof no) != 0 ||
	    UDT::setsockopt(s, 0, UDT_RCVSYN, &no, sizeof no) != 0 ||
	    // Close at once, telling the peer (UDT's default lingers up to
	    // 180 s, and a non-blocking close then shuts down only later).
	    UDT::setsockopt(s, 0, UDT_LINGER, &nolinger, sizeof nolinger) != 0 ||
	    UDT::bind2(s, fd) != 0) {
		snprintf(err, errlen, "UDT on the punched socket: %s",
		    UDT::getlasterror_desc());
		UDT::close(s);
		close(fd);
		return NULL;
	}
	if (UDT::connect(s, peer, (int)peerlen) != 0) {
		snprintf(err, errlen, "UDT rendezvous: %s",
		    UDT::getlasterror_desc());
		UDT::close(s);	// closes fd too
		return NULL;
	}
	l = new udt_link();
	l->u = u;
	l->s = s;
	l->cb = cb;
	l->arg = arg;
	l->state = udt_link::LINK_CONNECTING;
	l->timeout = evtimer_new(u->base, udt_timeout_cb, l);
	if (l->timeout != NULL)
		evtimer_add(l->timeout, &tv);
	u->links[s] = l;
	udt_arm(l);
	return l;
}

// Whether l is up; if not, errno says so.
static bool
udt_up(const struct udt_link *l)
{
	if (l->state == udt_link::LINK_CONNECTED)
		return true;
	errno = ENOTCONN;
	return false;
}

// What sendmsg or recvmsg returned, with UDT's error as errno: EAGAIN for
// again (its "would block"), EPIPE for the rest.
static ssize_t
udt_result(int n, int again)
{
	if (n != UDT::ERROR)
		return n;
	errno = UDT::getlasterror_code() == again ? EAGAIN : EPIPE;
	return -1;
}

extern "C" ssize_t
udt_link_send(struct udt_link *l, const void *msg, size_t len)
{
	if (!udt_up(l))
		return -1;
	return udt_result(UDT::sendmsg(l->s, (const char *)msg, (int)len, -1,
	    true), CUDTException::EASYNCSND);
}

extern "C" ssize_t
udt_link_recv(struct udt_link *l, void *buf, size_t cap)
{
	int n;

	if (!udt_up(l))
		return -1;
	n = UDT::recvmsg(l->s, (char *)buf, (int)cap);
	if (n == UDT::ERROR &&
	    UDT::getlasterror_code() == CUDTException::EASYNCRCV) {
		// Drained: arm, then look once more, for a message that came
		// in between (arming does not report one already waiting).
		udt_arm(l);
		n = UDT::recvmsg(l->s, (char *)buf, (int)cap);
	}
	return udt_result(n, CUDTException::EASYNCRCV);
}

extern "C" ssize_t
udt_link_unacked(struct udt_link *l)
{
	int bytes = 0, len = sizeof bytes;

	if (UDT::getsockopt(l->s, 0, UDT_SNDDATA, &bytes, &len) != 0)
		return -1;
	return bytes;
}

extern "C" void
udt_link_free(struct udt_link *l)
{
	if (l == NULL)
		return;
	UDT::epoll_remove_usock(l->u->eid, l->s);
	if (UDT::getsockstate(l->s) == CONNECTING)
		l->u->doomed[l->s] = clock_ms();	// closed later: udt_bury
	else
		UDT::close(l->s);
	l->u->links.erase(l->s);
	if (l->timeout != NULL)
		event_free(l->timeout);
	delete l;
}

extern "C" int
udt_link_stats(struct udt_link *l, struct udt_stats *out)
{
	UDT::TRACEINFO t;

	if (l->state != udt_link::LINK_CONNECTED ||
	    UDT::perfmon(l->s, &t, false) != 0)
		return -1;
	out->rtt_ms = t.msRTT;
	out->send_mbps = t.mbpsSendRate;
	out->recv_mbps = t.mbpsRecvRate;
	out->sent = t.pktSentTotal;
	out->received = t.pktRecvTotal;
	out->retransmitted = t.pktRetransTotal;
	out->send_lost = t.pktSndLossTotal;
	out->recv_lost = t.pktRcvLossTotal;
	out->period_us = t.usPktSndPeriod;
	out->cwnd = t.pktCongestionWindow;
	out->flow_window = t.pktFlowWindow;
	out->in_flight = t.pktFlightSize;
	out->acks = t.pktRecvACKTotal;
	return 0;
}
