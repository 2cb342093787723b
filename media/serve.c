/* Serving a ring's chunks to children over links. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net/client/session.h"
#include "net/link/link.h"
#include "net/link/udt.h"
#include "media/ring.h"
#include "media/serve.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "media/chunk.h"
#include "net/wire/proto.h"

/* A child whose UDT send buffer is full is tried again this often. */
#define SERVE_RETRY_MS	10
#define SERVE_CHILDREN_MAX 64
/* A child with data unacknowledged and no ACK for this long is gone (UDT
 * takes tens of seconds to say so): its link is dropped, its slot freed.
 * A slow child's ACKs go on. */
#define SERVE_STUCK_MS	1500
#define SERVE_CHECK_MS	250

enum child_state {
	CHILD_NEW,		/* linked; its RESUME has not come */
	CHILD_FED,		/* being sent chunks from next on */
	CHILD_WAITING		/* wants a keyframe and none has come yet (a
				   live input joined mid-GOP) */
};

struct child {
	struct link	*link;
	enum child_state state;
	uint64_t	 next;		/* the next sequence number to send */
	int64_t		 acks;		/* UDT's ACKs from it, last seen */
	uint64_t	 live_ms;	/* when they last moved, or nothing
					   was unacknowledged */
};

struct serve {
	struct event_base	*base;
	struct ring		*ring;
	unsigned		 fanout;
	struct child		 kids[SERVE_CHILDREN_MAX + SERVE_EXTRA];
	size_t			 nkids;
	struct event		*retry;
	struct event		*check;		/* for children gone silent */
	struct serve_stats	 st;
	uint64_t		 reported;	/* st.bytes at the last report */
	uint8_t			 buf[CHUNK_MAX_LEN];
};

static struct child *
serve_find(struct serve *s, struct link *l)
{
	size_t i;

	for (i = 0; i < s->nkids; i++)
		if (s->kids[i].link == l)
			return &s->kids[i];
	return NULL;
}

/* Links taken at most: the fanout and SERVE_EXTRA for repairs (none for a
 * node that serves no children). */
static size_t
serve_cap(const struct serve *s)
{
	return s->fanout > 0 ? s->fanout + SERVE_EXTRA : 0;
}

/* Serial number arithmetic (RFC 1982): a comes after b, numbers wrapping. */
static int
serve_after(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) > 0;
}

const struct chunk *
serve_next(const struct ring *r, uint64_t *next, uint64_t *skipped)
{
	const struct chunk *c;
	uint64_t oldest, newest, seq;

	if (ring_oldest(r, &oldest) != 0 || ring_newest(r, &newest) != 0 ||
	    serve_after(*next, newest))
		return NULL;
	if ((c = ring_get(r, *next)) != NULL)
		return c;
	if (!serve_after(oldest, *next))
		return NULL;	/* the ring holds every number in between */
	/* Fell out of the ring: go on at its oldest keyframe, the child
	 * sees the gap. */
	for (seq = oldest; !serve_after(seq, newest); seq++) {
		if ((c = ring_get(r, seq)) == NULL)
			return NULL;
		if (c->flags & CHUNK_F_KEYFRAME) {
			*skipped += seq - *next;
			*next = seq;
			return c;
		}
	}
	return NULL;
}

/* Sends what the child is owed; 1 when UDT's buffer filled first. */
static int
serve_pump(struct serve *s, struct child *k)
{
	const struct chunk *c;
	int len;

	if (k->state != CHILD_FED)
		return 0;
	while ((c = serve_next(s->ring, &k->next, &s->st.skipped)) != NULL) {
		if ((len = chunk_encode(c, s->buf, sizeof s->buf)) < 0) {
			k->next++;
			continue;
		}
		if (link_send(k->link, s->buf, (size_t)len) != 0) {
			if (errno == EAGAIN) {
				s->st.blocked++;
				return 1;
			}
			return 0;	/* broken: its closed callback follows */
		}
		s->st.chunks++;
		s->st.bytes += (uint64_t)len;
		k->next++;
	}
	return 0;
}

static void
serve_all(struct serve *s)
{
	struct timeval tv = { 0, SERVE_RETRY_MS * 1000 };
	size_t i;
	int blocked = 0;

	for (i = 0; i < s->nkids; i++)
		blocked |= serve_pump(s, &s->kids[i]);
	if (blocked && !evtimer_pending(s->retry, NULL))
		evtimer_add(s->retry, &tv);
}

static void
serve_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	serve_all(arg);
}

/* Drops the children whose links have data unacknowledged and no ACK
 * for SERVE_STUCK_MS: gone without closing (killed, or their host cut
 * off). */
static void
serve_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	struct udt_stats us;
	struct child *k;
	struct link *l;
	uint64_t now = clock_ms();
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < s->nkids; i++) {
		k = &s->kids[i];
		if (link_stats(k->link, &us) != 0 || us.acks != k->acks ||
		    link_unacked(k->link) <= 0) {
			k->acks = us.acks;
			k->live_ms = now;
			continue;
		}
		if (now - k->live_ms < SERVE_STUCK_MS)
			continue;
		l = k->link;
		log_info("child %016llx: no acknowledgement for %llu ms: "
		    "dropped", (unsigned long long)link_peer(l),
		    (unsigned long long)(now - k->live_ms));
		s->st.stuck++;
		*k = s->kids[--s->nkids];
		link_close(l);
		i--;
	}
}

struct serve *
serve_new(struct event_base *base, struct ring *ring, unsigned fanout)
{
	struct timeval check = { 0, SERVE_CHECK_MS * 1000 };
	struct serve *s;

	if (fanout > SERVE_CHILDREN_MAX || (s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->base = base;
	s->ring = ring;
	s->fanout = fanout;
	s->retry = evtimer_new(base, serve_retry_cb, s);
	s->check = event_new(base, -1, EV_PERSIST, serve_check_cb, s);
	if (s->retry == NULL || s->check == NULL) {
		serve_free(s);
		return NULL;
	}
	event_add(s->check, &check);
	return s;
}

void
serve_free(struct serve *s)
{
	if (s == NULL)
		return;
	if (s->retry != NULL)
		event_free(s->retry);
	if (s->check != NULL)
		event_free(s->check);
	free(s);
}

int
serve_incoming(struct serve *s, uint64_t node)
{
	if (s->nkids >= serve_cap(s)) {
		log_info("node %016llx asks for a link: all %zu links taken",
		    (unsigned long long)node, serve_cap(s));
		return -1;
	}
	return 0;
}

void
serve_connected(struct serve *s, struct link *l)
{
	if (s->nkids >= serve_cap(s) || serve_find(s, l) != NULL) {
		link_close(l);
		return;
	}
	memset(&s->kids[s->nkids], 0, sizeof s->kids[0]);
	s->kids[s->nkids].live_ms = clock_ms();
	s->kids[s->nkids++].link = l;
	log_info("child %016llx linked", (unsigned long long)link_peer(l));
}

static void
serve_remove(struct serve *s, struct link *l)
{
	struct child *k = serve_find(s, l);

	if (k == NULL)
		return;
	*k = s->kids[--s->nkids];
}

/* The child's RESUME. */
static int
serve_resume(struct serve *s, struct link *l, const uint8_t *msg,
    size_t len)
{
	struct child *k = serve_find(s, l);
	uint64_t seq;
	int keyframe;

	if (k == NULL || serve_resume_parse(msg, len, &keyframe, &seq) != 0)
		return -1;
	if (keyframe && ring_latest_keyframe(s->ring, &seq) != 0) {
		k->state = CHILD_WAITING;
		return 0;
	}
	k->state = CHILD_FED;
	k->next = seq;
	serve_all(s);
	return 0;
}

void
serve_message(struct serve *s, struct link *l, const uint8_t *msg,
    size_t len)
{
	if (serve_resume(s, l, msg, len) == 0)
		return;
	log_warn("child %016llx sent a malformed message: closing",
	    (unsigned long long)link_peer(l));
	serve_remove(s, l);
	link_close(l);
}

void
serve_closed(struct serve *s, struct link *l, const char *why)
{
	log_info("child %016llx gone: %s", (unsigned long long)link_peer(l),
	    why);
	serve_remove(s, l);
}

void
serve_pushed(struct serve *s)
{
	const struct chunk *c;
	uint64_t newest;
	size_t i;

	/* Children waiting for a keyframe start at this one. */
	if (ring_newest(s->ring, &newest) == 0 &&
	    (c = ring_get(s->ring, newest)) != NULL &&
	    (c->flags & CHUNK_F_KEYFRAME)) {
		for (i = 0; i < s->nkids; i++) {
			if (s->kids[i].state == CHILD_WAITING) {
				s->kids[i].state = CHILD_FED;
				s->kids[i].next = newest;
			}
		}
	}
	serve_all(s);
}

size_t
serve_children(const struct serve *s)
{
	return s->nkids;
}

int
serve_has_child(const struct serve *s, uint64_t node)
{
	size_t i;

	for (i = 0; i < s->nkids; i++)
		if (link_peer(s->kids[i].link) == node)
			return 1;
	return 0;
}

const struct serve_stats *
serve_stats(const struct serve *s)
{
	return &s->st;
}

size_t
serve_resume_build(uint8_t *buf, int from_keyframe, uint64_t seq)
{
	int i;

	if (from_keyframe) {
		buf[0] = SERVE_RESUME_KEYFRAME;
		return 1;
	}
	buf[0] = SERVE_RESUME_SEQ;
	for (i = 8; i >= 1; i--) {
		buf[i] = (uint8_t)seq;
		seq >>= 8;
	}
	return SERVE_RESUME_LEN;
}

int
serve_resume_parse(const uint8_t *msg, size_t len, int *keyframe,
    uint64_t *seq)
{
	size_t i;

	*keyframe = 0;
	*seq = 0;
	if (len == 1 && msg[0] == SERVE_RESUME_KEYFRAME) {
		*keyframe = 1;
		return 0;
	}
	if (len != SERVE_RESUME_LEN || msg[0] != SERVE_RESUME_SEQ)
		return -1;
	for (i = 1; i < SERVE_RESUME_LEN; i++)
		*seq = *seq << 8 | msg[i];
	return 0;
}

void
serve_log_children(const struct serve *s)
{
	struct udt_stats us;
	size_t i;

	for (i = 0; i < s->nkids; i++) {
		if (link_stats(s->kids[i].link, &us) != 0)
			continue;
		log_debug("child %016llx: rtt %.0f ms, sending %.2f Mbit/s, "
		    "%lld packets sent, %lld resent, %lld lost, pacing %.0f us, "
		    "window %d (peer's %d), %d in flight",
		    (unsigned long long)link_peer(s->kids[i].link), us.rtt_ms,
		    us.send_mbps, (long long)us.sent,
		    (long long)us.retransmitted, (long long)us.send_lost,
		    us.period_us, us.cwnd, us.flow_window, us.in_flight);
	}
}

static void
serve_report_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	(void)arg;
	(void)resp;
	(void)from;	/* figures: nothing to do on the answer, or without */
}

int
serve_report(struct serve *s, struct session *session, uint64_t parent,
    struct tc_health *h, unsigned ms)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG], ids[8 * TC_FANOUT_MAX];
	size_t i, n = 0;
	int k;

	if (!session_registered(session))
		return -1;
	h->bytes_out = s->st.bytes;
	h->kbps_out = ms > 0 ? (uint32_t)((s->st.bytes - s->reported) * 8 /
	    ms) : 0;
	s->reported = s->st.bytes;
	for (i = 0; i < s->nkids && i < TC_FANOUT_MAX; i++) {
		uint64_t id = link_peer(s->kids[i].link);

		for (k = 7; k >= 0; k--)
			ids[n++] = (uint8_t)(id >> (8 * k));
	}
	session_begin(session, &b, msg, sizeof msg, TC_METHOD_STATUS);
	stun_put_u64(&b, TC_ATTR_PARENT, parent);
	if (n > 0)
		stun_put(&b, TC_ATTR_CHILDREN, ids, (uint16_t)n);
	tc_put_health(&b, h);
	return session_send(session, &b, NULL, serve_report_cb, s);
}
