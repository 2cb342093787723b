/* treecast-peer: the viewer: joins the tree, plays, relays to two children. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <unistd.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sodium.h>

#include "client/discover.h"
#include "client/session.h"
#include "link/link.h"
#include "link/udt.h"
#include "media/playout.h"
#include "media/ring.h"
#include "media/serve.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/opt.h"
#include "wire/chunk.h"
#include "wire/key.h"
#include "wire/proto.h"

#define PEER_REJOIN_MS	500	/* after losing the parent */
#define PEER_LATENCIES	512	/* the last chunks' latencies, for figures */
/* A player this far behind (13 s of 5 Mbit/s) is dropped, not buffered
 * for without end. */
#define PEER_PLAYER_BACKLOG (8 << 20)
#define PEER_RETRY_MS	1000	/* after a refused JOIN or failed link */
/* A new parent that refused us may not have let go of the child the tree
 * moved away from it yet (MOVEs reach both at once): soon again. */
#define PEER_REFUSED_MS	150
/* A linked parent silent this long may have vanished (its link would take
 * many seconds to break): ask the tree again, every so often while it
 * stays silent. The negotiator takes a parent silent to it too for gone. */
#define PEER_SILENT_MS	1000
#define PEER_WATCH_MS	100
/* No chunk for this long (or four of the stream's usual spacing, if more)
 * and the peer bridges from its standby parent, the tree's grandparent,
 * at once, while the tree repairs (README, "The tree"). */
#define PEER_STANDBY_MS	500
/* A parent that delivers, but past a gap the bridge fills, is taken
 * (the gap with it) after the bridge has served this long. */
#define PEER_BRIDGE_MAX_MS 8000
/* A bridge that brings nothing for this long is closed (the standby may
 * have gone too); another may follow. */
#define PEER_BRIDGE_IDLE_MS 3000
/* Leaving (SIGTERM), a node serves its children until they have moved to
 * their new parents, this long at most. */
#define PEER_DRAIN_MS	3000

static const char synopsis[] =
    "--negotiator HOST[:PORT] [--channel KEY|NAME] [options]";
static const char about[] =
    "A viewer: joins a channel's tree, plays the stream and relays it to\n"
    "up to two children. The stream is served as MPEG-TS over HTTP at\n"
    "/live.ts (for VLC, mpv, ffplay...), and with --output written to a\n"
    "file or standard output.";

enum {
	OPT_NEGOTIATOR = 'n', OPT_CHANNEL = 'c', OPT_OUTPUT = 'o',
	OPT_PLAY = 'p', OPT_HTTP = 256, OPT_NO_HTTP, OPT_FANOUT, OPT_RING,
	OPT_NO_STANDBY
};

static const struct opt options[] = {
	{ "negotiator", OPT_NEGOTIATOR, "HOST[:PORT]",
	  "the negotiation server (required; port 3478 by default)" },
	{ "channel", OPT_CHANNEL, "KEY|NAME",
	  "the channel: its key (64 hex digits, pinned: every chunk must be "
	  "signed by it) or the label its origin holds (the negotiator "
	  "tells the key, pinned then; default \"live\")" },
	{ "http", OPT_HTTP, "ADDR:PORT",
	  "serve /live.ts here (default 127.0.0.1:8554)" },
	{ "no-http", OPT_NO_HTTP, NULL, "serve no HTTP" },
	{ "output", OPT_OUTPUT, "FILE",
	  "also write the stream to FILE ('-': standard output)" },
	{ "play", OPT_PLAY, "CMD",
	  "start a player: CMD and the /live.ts URL, e.g. --play mpv" },
	{ "fanout", OPT_FANOUT, "N", "children relayed to (default 2)" },
	{ "ring", OPT_RING, "CHUNKS",
	  "chunks kept for children and players (default 1024)" },
	{ "no-standby", OPT_NO_STANDBY, NULL,
	  "repair as before the standby: no bridge from the grandparent, "
	  "the old parent let go at once, no draining on the way out (for "
	  "comparisons)" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

struct player {
	TAILQ_ENTRY(player)	 entry;
	struct evhttp_request	*req;
	struct peer		*peer;
	int			 started;	/* from a keyframe on */
};
TAILQ_HEAD(players, player);

struct peer {
	struct event_base	*base;
	struct addr		 server;
	char			 channel[TC_CHANNEL_MAX + 1];
	int			 has_channel_key;
	uint8_t			 channel_key[KEY_PUBLIC_LEN];
	unsigned		 fanout;
	size_t			 ring_size;
	const char		*output;
	FILE			*out;
	const char		*play;
	pid_t			 player;
	struct evhttp		*http;
	struct players		 players;
	struct discover		*disc;
	struct session		*session;
	struct udt_loop		*udt;
	struct link_agent	*agent;
	struct ring		*ring;
	struct serve		*serve;
	struct link		*parent;
	/* While the parent is silent or new: the standby parent, or the
	 * parent the tree moved us away from, still feeding. */
	struct link		*bridge;
	const struct link	*feeder;	/* the last chunk's, or NULL */
	uint64_t		 standby;	/* the tree's standby parent, 0 */
	uint64_t		 move_seq;	/* the last MOVE's (this session) */
	uint64_t		 moves_refused;	/* replayed or stale MOVEs */
	int			 no_standby;
	struct timespec		 bridged;	/* the bridge opened */
	struct timespec		 bridge_seen;	/* its last chunk */
	struct timespec		 parent_seen;	/* the parent's last chunk */
	struct timespec		 bridge_try;	/* the last bridge asked for */
	double			 spacing_ms;	/* between chunks, averaged */
	uint64_t		 bridges;	/* bridges opened */
	struct event		*drain;		/* leaving: children first */
	struct timespec		 draining;
	int			 joining;
	int			 accusing;	/* an ACCUSE waits for its answer */
	struct event		*rejoin;
	struct event		*progress;
	struct event		*status;
	uint64_t		 reported;	/* from_parent at the last STATUS */
	uint64_t		 from_parent;	/* bytes taken from the tree's
						   parent (not a bridge): its
						   children's lag is its own */
	int			 have;		/* a chunk came: next is valid */
	uint64_t		 next;		/* the sequence number expected */
	uint64_t		 chunks, bytes, gaps, parents;
	uint64_t		 bad;		/* chunks dropped: no valid signature */
	uint32_t		 bad_link;	/* ... from the parent linked now */
	uint64_t		 accused;	/* the parent last reported, or 0 */
#ifdef TREECAST_TEST_TAMPER
	int			 tamper;	/* SIGUSR1: from now on */
	struct event		*tamper_ev;
#endif
	struct timespec		 started;
	/* Since the parent link broke or the tree moved us, until the next
	 * chunk: how long the stream stopped (bench/churn-bench.sh). */
	struct timespec		 orphaned;
	uint64_t		 old_parent;
	int			 is_orphan;
	double			 orphan_wait;	/* the longest wait for a chunk
						   since, from the one before */
	struct timespec		 last_chunk;	/* or the parent linked */
	struct timespec		 last_taken;	/* the last chunk taken */
	struct timespec		 last_ask;	/* the watch's last JOIN */
	struct event		*watch;
	/* Origin timestamp to arrival, same clock in the lab: the stream's
	 * delay at this depth of the tree. */
	int64_t			 latency_us[PEER_LATENCIES];
	size_t			 nlatency;
	struct chunk_digest	 digest;
	struct playout		 playout;	/* as a viewer would see it */
	int			 exit_code;
};

static void peer_join(struct peer *p);
static void peer_join_now(struct peer *p);
static void peer_link_parent(struct peer *p, uint64_t parent);
static void peer_bridge_close(struct peer *p);
static void peer_drain(struct peer *p);

/* Notes that the parent link is gone, unless it had gone already. */
static void
peer_orphan(struct peer *p)
{
	if (p->is_orphan || p->parent == NULL || !p->have)
		return;
	p->is_orphan = 1;
	p->orphan_wait = 0;
	p->old_parent = link_peer(p->parent);
	clock_gettime(CLOCK_MONOTONIC, &p->orphaned);
}

static uint64_t
peer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
peer_cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median and 99th percentile of the last chunks' latencies, ms. */
static void
peer_latency(const struct peer *p, double *p50, double *p99)
{
	int64_t v[PEER_LATENCIES];
	size_t n = p->nlatency < PEER_LATENCIES ? p->nlatency :
	    PEER_LATENCIES;

	*p50 = *p99 = -1;
	if (n == 0)
		return;
	memcpy(v, p->latency_us, n * sizeof v[0]);
	qsort(v, n, sizeof v[0], peer_cmp64);
	*p50 = v[n / 2] / 1e3;
	*p99 = v[(n * 99) / 100] / 1e3;
}

static void
peer_later(struct peer *p, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(p->rejoin, &tv);
}

static double
peer_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1e3 +
	    (now.tv_nsec - t->tv_nsec) / 1e6;
}

static void
peer_stop(struct peer *p, int code)
{
	p->exit_code = code;
	if (p->session != NULL && session_registered(p->session))
		session_leave(p->session);
	else
		event_base_loopexit(p->base, NULL);
}

/* --- players: MPEG-TS over HTTP */

/* Sends a chunk to a player; drops a player that does not keep up (its
 * close callback then frees it) and returns -1. */
static int
player_send(struct player *pl, const struct chunk *c)
{
	struct evhttp_connection *conn =
	    evhttp_request_get_connection(pl->req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	struct evbuffer *b;
	size_t queued = evbuffer_get_length(bufferevent_get_output(bev));

	if (queued > PEER_PLAYER_BACKLOG) {
		log_warn("a player is %zu MB behind: dropped", queued >> 20);
		evhttp_connection_free(conn);
		return -1;
	}
	if ((b = evbuffer_new()) == NULL)
		return 0;
	evbuffer_add(b, c->payload, c->len);
	evhttp_send_reply_chunk(pl->req, b);
	evbuffer_free(b);
	return 0;
}

static void
player_gone_cb(struct evhttp_connection *conn, void *arg)
{
	struct player *pl = arg;

	(void)conn;
	log_info("a player left");
	TAILQ_REMOVE(&pl->peer->players, pl, entry);
	free(pl);
}

/* A new player starts at the latest keyframe (PAT and PMT first), so it
 * shows a picture at once. */
static void
peer_live_cb(struct evhttp_request *req, void *arg)
{
	struct peer *p = arg;
	struct player *pl;
	const struct chunk *c;
	uint64_t seq, newest;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, "GET only");
		return;
	}
	if ((pl = calloc(1, sizeof *pl)) == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	pl->req = req;
	pl->peer = p;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "video/mp2t");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    player_gone_cb, pl);
	TAILQ_INSERT_TAIL(&p->players, pl, entry);
	log_info("a player joined");
	if (ring_latest_keyframe(p->ring, &seq) != 0 ||
	    ring_newest(p->ring, &newest) != 0)
		return;		/* it starts at the next keyframe */
	pl->started = 1;
	for (; seq <= newest; seq++)
		if ((c = ring_get(p->ring, seq)) != NULL &&
		    player_send(pl, c) != 0)
			break;
}

static void
peer_other_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "the stream is at /live.ts");
}

/* --- the parent link */

static void
peer_accused(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct peer *p = arg;

	(void)from;
	p->accusing = 0;
	if (resp == NULL || session_verify(p->session, resp) != 0)
		log_warn("no answer to ACCUSE; joining again all the same");
	peer_join(p);
}

/* Tells the negotiator that parent relayed chunks that fail the channel's
 * signature (evidence of them), then joins again for another parent. */
static void
peer_accuse(struct peer *p, uint64_t parent, uint32_t evidence)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	session_begin(p->session, &b, msg, sizeof msg, TC_METHOD_ACCUSE);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, parent);
	stun_put_u32(&b, TC_ATTR_EVIDENCE, evidence);
	if (session_send(p->session, &b, NULL, peer_accused, p) == 0)
		p->accusing = 1;
	else
		peer_later(p, PEER_REJOIN_MS);
}

/*
 * A chunk from the parent that is malformed or fails the channel's
 * signature (why says which): dropped, never played nor relayed, and
 * counted. The origin signs every chunk and the link is reliable, so it
 * proves the parent altered it: the link is dropped and the parent
 * reported.
 */
static void
peer_bad_chunk(struct peer *p, struct link *l, const char *why)
{
	uint64_t parent = link_peer(l);

	p->bad++;
	if (l == p->bridge) {
		/* Not our parent in the tree: not ours to accuse. */
		log_warn("%s from standby %016llx: dropped, the bridge closed",
		    why, (unsigned long long)parent);
		peer_bridge_close(p);
		return;
	}
	p->bad_link++;
	log_warn("%s from parent %016llx: dropped; reporting the parent and "
	    "joining again", why, (unsigned long long)parent);
	peer_orphan(p);
	link_close(p->parent);
	p->parent = NULL;
	p->accused = parent;
	peer_accuse(p, parent, p->bad_link);
}

#ifdef TREECAST_TEST_TAMPER
/* tamper-peer (tests/lab): once told (SIGUSR1), what it keeps and relays
 * has the last payload byte of every chunk flipped, after its own check;
 * its players and --output get the chunk as it came (but a player that
 * joins later starts from the altered ring). */
static const struct chunk *
peer_tamper(struct peer *p, const struct chunk *c)
{
	static uint8_t buf[CHUNK_MAX_PAYLOAD];
	static struct chunk t;

	if (!p->tamper)
		return c;
	t = *c;
	memcpy(buf, c->payload, c->len);
	buf[c->len - 1] ^= 0x01;
	t.payload = buf;
	return &t;
}

static void
peer_tamper_cb(evutil_socket_t sig, short what, void *arg)
{
	struct peer *p = arg;

	(void)sig;
	(void)what;
	if (!p->tamper)
		log_warn("tampering: every chunk relayed from now on has a "
		    "byte flipped");
	p->tamper = 1;
}
#endif

/* A bridge asked for is waited for this long before a parent's chunk
 * after a gap is taken: the standby may hold what the parent skipped. */
#define PEER_BRIDGE_WAIT_MS 1000

/* The stream's silence after which the standby bridges: PEER_STANDBY_MS,
 * or four times the usual spacing of chunks if that is more. */
static double
peer_standby_ms(const struct peer *p)
{
	return 4 * p->spacing_ms > PEER_STANDBY_MS ? 4 * p->spacing_ms :
	    PEER_STANDBY_MS;
}

static void
peer_bridge_close(struct peer *p)
{
	if (p->bridge == NULL)
		return;
	if (p->feeder == p->bridge)
		p->feeder = NULL;
	link_close(p->bridge);
	p->bridge = NULL;
}

/* Bridges from the standby parent (the grandparent), resuming at the
 * next chunk, while the parent is silent, gone or new: at most one
 * bridge, asked for at most once a PEER_RETRY_MS, never to the parent
 * itself nor to one of our own children (that would be a loop). */
static void
peer_bridge_open(struct peer *p, const char *why)
{
	char err[160];

	if (p->no_standby || p->bridge != NULL || p->standby == 0 ||
	    !p->have || (p->parent != NULL &&
	    link_peer(p->parent) == p->standby) ||
	    serve_has_child(p->serve, p->standby) ||
	    peer_ms_since(&p->bridge_try) < PEER_RETRY_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &p->bridge_try);
	if ((p->bridge = link_open(p->agent, p->standby, err, sizeof err)) ==
	    NULL) {
		log_warn("cannot link to the standby: %s", err);
		return;
	}
	p->bridges++;
	p->bridged = p->bridge_try;
	p->bridge_seen = p->bridge_try;
	log_info("%s: bridging from the standby, node %016llx, at chunk %llu",
	    why, (unsigned long long)p->standby, (unsigned long long)p->next);
}

/*
 * Whether a chunk from l numbered seq is taken: the next one expected
 * always, an older one never (a resume overlapped, or two links feed);
 * a later one (a gap) only when no other link has brought the next ones
 * lately, since a bridge may be filling what the parent skipped.
 */
static int
peer_take(struct peer *p, const struct link *l, uint64_t seq)
{
	if (!p->have || seq == p->next)
		return 1;
	if ((int64_t)(seq - p->next) < 0)
		return 0;
	if (p->bridge != NULL && l != p->bridge &&
	    peer_ms_since(&p->bridge_seen) < PEER_BRIDGE_WAIT_MS)
		return 0;
	return p->feeder == NULL || p->feeder == l ||
	    peer_ms_since(&p->last_taken) >= peer_standby_ms(p);
}

static void
peer_chunk(struct peer *p, struct link *l, const uint8_t *msg, size_t len)
{
	struct player *pl, *next;
	struct timespec now;
	struct chunk c;
	const struct chunk *relayed = &c;
	const uint8_t *key;
	uint64_t first;
	char err[160], why[200], hex[CHUNK_DIGEST_HEX];

	if ((key = session_channel_key(p->session)) == NULL) {
		/* No chunk can be checked yet, and none is taken; the
		 * parent is not to blame. */
		if (++p->bad == 1 || p->bad % 500 == 0)
			log_warn("the channel's key is not known: chunk dropped "
			    "(%llu so far)", (unsigned long long)p->bad);
		return;
	}
	if (chunk_decode(msg, len, &c, err, sizeof err) < 0) {
		snprintf(why, sizeof why, "a malformed chunk (%s)", err);
		peer_bad_chunk(p, l, why);
		return;
	}
	if (chunk_verify(&c, key) != 0) {
		snprintf(why, sizeof why, "chunk %llu fails the channel's "
		    "signature", (unsigned long long)c.seq);
		peer_bad_chunk(p, l, why);
		return;
	}
#ifdef TREECAST_TEST_TAMPER
	relayed = peer_tamper(p, &c);
#endif
	clock_gettime(CLOCK_MONOTONIC, l == p->bridge ? &p->bridge_seen :
	    &p->parent_seen);
	if (!peer_take(p, l, c.seq))
		return;
	if (p->have && c.seq != p->next) {
		log_warn("gap: chunks %llu to %llu never came",
		    (unsigned long long)p->next,
		    (unsigned long long)c.seq - 1);
		p->gaps += c.seq - p->next;
		ring_reset(p->ring);
	}
	if (ring_push(p->ring, relayed) != 0) {
		ring_reset(p->ring);
		ring_push(p->ring, relayed);
	}
	if (p->have) {
		double ms = peer_ms_since(&p->last_taken);

		if (p->is_orphan && ms > p->orphan_wait)
			p->orphan_wait = ms;
		p->spacing_ms = p->spacing_ms == 0 ? ms :
		    0.9 * p->spacing_ms + 0.1 * (ms < 5000 ? ms : 5000);
	}
	clock_gettime(CLOCK_MONOTONIC, &p->last_chunk);
	p->last_taken = p->last_chunk;
	p->feeder = l;
	if (l == p->parent && p->bridge != NULL) {
		log_info("the parent brings chunk %llu: bridge from node "
		    "%016llx closed", (unsigned long long)c.seq,
		    (unsigned long long)link_peer(p->bridge));
		peer_bridge_close(p);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	p->latency_us[p->nlatency++ % PEER_LATENCIES] =
	    (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 -
	    (int64_t)c.timestamp_us;
	if (!p->have) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		log_info("first chunk %llu%s after %.0f ms",
		    (unsigned long long)c.seq, c.flags & CHUNK_F_KEYFRAME ?
		    " (a keyframe)" : "", (now.tv_sec - p->started.tv_sec) *
		    1e3 + (now.tv_nsec - p->started.tv_nsec) / 1e6);
	} else if (p->is_orphan && link_peer(l) != p->old_parent) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		log_info("first chunk %llu from the %s after waiting at most "
		    "%.0f ms for one, %.0f ms after losing node %016llx",
		    (unsigned long long)c.seq,
		    l == p->bridge ? "standby" : "new parent", p->orphan_wait,
		    (now.tv_sec - p->orphaned.tv_sec) * 1e3 +
		    (now.tv_nsec - p->orphaned.tv_nsec) / 1e6,
		    (unsigned long long)p->old_parent);
		p->is_orphan = 0;
	}
	if (chunk_digest_add(&p->digest, &c, &first, hex))
		log_info("chunks %llu-%llu digest %s",
		    (unsigned long long)first, (unsigned long long)c.seq, hex);
	playout_chunk(&p->playout, peer_now_ms(), c.seq, c.timestamp_us);
	p->have = 1;
	p->next = c.seq + 1;
	p->chunks++;
	p->bytes += c.len;
	if (l == p->parent)
		p->from_parent += c.len;
	if (p->out != NULL && fwrite(c.payload, 1, c.len, p->out) != c.len) {
		log_error("--output %s: %s", p->output, strerror(errno));
		fclose(p->out);
		p->out = NULL;
	}
	for (pl = TAILQ_FIRST(&p->players); pl != NULL; pl = next) {
		next = TAILQ_NEXT(pl, entry);	/* player_send may drop pl */
		if (!pl->started && (c.flags & CHUNK_F_KEYFRAME))
			pl->started = 1;
		if (pl->started)
			player_send(pl, &c);
	}
	serve_pushed(p->serve);
}

static int
peer_incoming(void *arg, struct link *l, uint64_t node)
{
	struct peer *p = arg;

	(void)l;
	return serve_incoming(p->serve, node);	/* a child's */
}

static void
peer_connected(void *arg, struct link *l)
{
	struct peer *p = arg;
	uint8_t resume[SERVE_RESUME_LEN];
	size_t n;

	if (l == p->bridge) {
		n = serve_resume_build(resume, !p->have, p->next);
		if (link_send(l, resume, n) != 0)
			peer_bridge_close(p);
		else
			log_info("standby %016llx linked: resuming at chunk "
			    "%llu", (unsigned long long)link_peer(l),
			    (unsigned long long)p->next);
		return;
	}
	if (l != p->parent) {
		serve_connected(p->serve, l);
		return;
	}
	/* Resume where we were, or start at the parent's latest keyframe. */
	n = serve_resume_build(resume, !p->have, p->next);
	if (link_send(l, resume, n) != 0) {
		log_warn("cannot ask the parent to resume");
		return;
	}
	p->parents++;
	clock_gettime(CLOCK_MONOTONIC, &p->last_chunk);	/* the watch waits */
	p->bad_link = 0;
	if (p->have)
		log_info("parent %016llx linked: resuming at chunk %llu",
		    (unsigned long long)link_peer(l),
		    (unsigned long long)p->next);
	else
		log_info("parent %016llx linked: starting at its latest "
		    "keyframe", (unsigned long long)link_peer(l));
}

static void
peer_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	struct peer *p = arg;

	(void)why;
	if (l == p->bridge) {
		p->bridge = NULL;
		return;
	}
	if (l == p->parent) {
		peer_orphan(p);
		p->parent = NULL;
		peer_later(p, step == LINK_STEP_PEER ? PEER_REFUSED_MS :
		    PEER_RETRY_MS);
		if (peer_ms_since(&p->last_taken) >= peer_standby_ms(p))
			peer_bridge_open(p, "no link to the new parent");
	}
}

static void
peer_message(void *arg, struct link *l, const uint8_t *msg, size_t len)
{
	struct peer *p = arg;

	if (l == p->parent || l == p->bridge) {
		peer_chunk(p, l, msg, len);
		return;
	}
	serve_message(p->serve, l, msg, len);
}

static void
peer_closed(void *arg, struct link *l, const char *why)
{
	struct peer *p = arg;

	if (p->feeder == l)
		p->feeder = NULL;
	if (l == p->bridge) {
		log_info("the bridge from node %016llx closed: %s",
		    (unsigned long long)link_peer(l), why);
		p->bridge = NULL;
		return;
	}
	if (l == p->parent) {
		log_warn("lost the parent: %s; joining again", why);
		peer_orphan(p);
		p->parent = NULL;
		peer_later(p, PEER_REJOIN_MS);
		peer_bridge_open(p, "lost the parent");
		return;
	}
	serve_closed(p->serve, l, why);
}

static const struct link_callbacks peer_links = {
	peer_incoming, peer_connected, peer_failed, peer_message, peer_closed
};

/* The tree moved us away from the parent: it feeds on as the bridge,
 * until the new parent brings the next chunk, if it is linked and no
 * bridge is open; else it is let go at once. */
static void
peer_let_go(struct peer *p)
{
	peer_orphan(p);
	if (!p->no_standby && p->bridge == NULL &&
	    link_connect_ms(p->parent) >= 0) {
		p->bridge = p->parent;
		clock_gettime(CLOCK_MONOTONIC, &p->bridged);
		p->bridge_seen = p->bridged;
	} else {
		if (p->feeder == p->parent)
			p->feeder = NULL;
		link_close(p->parent);
	}
	p->parent = NULL;
}

/* The standby parent a message names (TC_ATTR_STANDBY; none: 0). */
static void
peer_standby(struct peer *p, const struct stun_msg *m)
{
	if (stun_attr_u64(stun_find(m, TC_ATTR_STANDBY), &p->standby) != 0)
		p->standby = 0;
}

static void
peer_joined(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct peer *p = arg;
	const struct stun_attr *a;
	const char *reason = "";
	uint64_t parent;
	size_t rlen = 0;
	int code = 0;

	(void)from;
	p->joining = 0;
	if (resp == NULL || session_verify(p->session, resp) != 0) {
		log_warn("no answer to JOIN; trying again");
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	if (resp->cls == STUN_ERROR) {
		if ((a = stun_find(resp, STUN_ATTR_ERROR_CODE)) != NULL)
			stun_attr_error_code(a, &code, &reason, &rlen);
		log_warn("no parent yet (%d %.*s); trying again", code,
		    (int)rlen, reason);
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	if (stun_attr_u64(stun_find(resp, TC_ATTR_PEER_NODE), &parent) != 0) {
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	peer_standby(p, resp);
	if (p->parent != NULL) {
		/* Asked again while linked (registered anew): keep the link
		 * if the tree agrees. */
		if (link_peer(p->parent) == parent)
			return;
		peer_let_go(p);
	}
	peer_link_parent(p, parent);
}

/* JOIN: for a parent, or (again, while linked) to be in the tree at all. */
static void
peer_join_now(struct peer *p)
{
	struct stun_builder b;
	uint8_t msg[STUN_MAX_MSG];

	if (p->joining || !session_registered(p->session))
		return;
	session_begin(p->session, &b, msg, sizeof msg, TC_METHOD_JOIN);
	if (session_send(p->session, &b, NULL, peer_joined, p) == 0)
		p->joining = 1;
	else
		peer_later(p, PEER_RETRY_MS);
}

/* JOIN unless linked to a parent already (or an ACCUSE is out: its
 * answer JOINs). */
static void
peer_join(struct peer *p)
{
	if (p->parent == NULL && !p->accusing)
		peer_join_now(p);
}

/* The parent's silence: JOIN again (the link stays, should the chunks
 * come back) until the tree names another parent. */
static void
peer_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	double silent;

	(void)fd;
	(void)what;
	if (!p->have)
		return;
	if (p->bridge == NULL && peer_ms_since(&p->last_taken) >=
	    peer_standby_ms(p))
		peer_bridge_open(p, p->parent == NULL ? "no parent" :
		    link_connect_ms(p->parent) < 0 ? "the new parent is not "
		    "linked yet" : "the parent is silent");
	else if (p->bridge != NULL && (peer_ms_since(&p->bridge_seen) >=
	    PEER_BRIDGE_IDLE_MS || (p->parent != NULL &&
	    peer_ms_since(&p->parent_seen) < peer_standby_ms(p) &&
	    peer_ms_since(&p->bridged) >= PEER_BRIDGE_MAX_MS))) {
		log_info("the bridge from node %016llx closed: %s",
		    (unsigned long long)link_peer(p->bridge),
		    peer_ms_since(&p->bridge_seen) >= PEER_BRIDGE_IDLE_MS ?
		    "it brings nothing" : "the parent delivers past a gap");
		peer_bridge_close(p);
	}
	if (p->parent == NULL || link_connect_ms(p->parent) < 0)
		return;
	silent = peer_ms_since(&p->last_chunk);
	if (silent < PEER_SILENT_MS ||
	    peer_ms_since(&p->last_ask) < PEER_RETRY_MS)
		return;
	log_info("no chunk from the parent for %.0f ms: asking the tree",
	    silent);
	clock_gettime(CLOCK_MONOTONIC, &p->last_ask);
	peer_join_now(p);
}

static void
peer_rejoin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	peer_join(arg);
}

/* The link from the parent as UDT sees it: its round trip, and the share
 * of its packets lost on the way (UDT sent them again). -1 until it is up. */
static int
peer_parent_link(struct peer *p, double *rtt_ms, double *lost)
{
	struct udt_stats us;

	if (p->parent == NULL || link_stats(p->parent, &us) != 0)
		return -1;
	*rtt_ms = us.rtt_ms;
	*lost = us.received + us.recv_lost > 0 ? (double)us.recv_lost /
	    (double)(us.received + us.recv_lost) : 0.0;
	return 0;
}

static void
peer_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	double p50, p99, rtt, lost;
	char link[96] = "none";

	(void)fd;
	(void)what;
	peer_latency(p, &p50, &p99);
	if (peer_parent_link(p, &rtt, &lost) == 0)
		snprintf(link, sizeof link, "linked (rtt %.0f ms, %.1f %% of "
		    "packets resent)", rtt, 100.0 * lost);
	else if (p->parent != NULL)
		snprintf(link, sizeof link, "linking");
	playout_advance(&p->playout, peer_now_ms());
	log_info("%llu chunks (%.1f MB) in, %llu missed, %llu bad, %zu "
	    "children, %.1f MB relayed, parent %s, latency p50 %.1f ms p99 "
	    "%.1f ms, continuity %.2f %% (%u stalls)",
	    (unsigned long long)p->chunks, p->bytes / 1e6,
	    (unsigned long long)p->gaps, (unsigned long long)p->bad,
	    serve_children(p->serve),
	    serve_stats(p->serve)->bytes / 1e6, link, p50, p99,
	    100 * playout_continuity(p->playout.played_ms,
	    p->playout.stalled_ms), p->playout.stalls);
	serve_log_children(p->serve);
}

/* Links to the parent the tree gave us (JOIN's answer, or a move). The
 * one we last reported, given back (the negotiator did not believe us:
 * it is the origin, or our key is wrong), is tried again only after a
 * pause, so that a bad key costs the broker a link a second, not one a
 * chunk. */
static void
peer_link_parent(struct peer *p, uint64_t parent)
{
	char err[160];

	if (parent == p->accused) {
		log_warn("the tree gives back node %016llx, which we reported: "
		    "linking again in %u ms", (unsigned long long)parent,
		    PEER_RETRY_MS);
		p->accused = 0;
		peer_later(p, PEER_RETRY_MS);
		return;
	}
	log_info("parent: node %016llx", (unsigned long long)parent);
	if (p->bridge != NULL && link_peer(p->bridge) == parent) {
		/* The tree names the one bridging: it is the parent now. */
		p->parent = p->bridge;
		p->bridge = NULL;
		return;
	}
	if ((p->parent = link_open(p->agent, parent, err, sizeof err)) ==
	    NULL) {
		log_warn("cannot link to the parent: %s", err);
		peer_later(p, PEER_RETRY_MS);
	}
}

/* Follows the tree to parent want (0: none for now). */
static void
peer_follow(struct peer *p, uint64_t want)
{
	if (p->parent != NULL ? link_peer(p->parent) == want : want == 0)
		return;
	if (p->parent != NULL) {
		log_info("the tree moves us from node %016llx to %s%016llx",
		    (unsigned long long)link_peer(p->parent),
		    want != 0 ? "node " : "no parent ", (unsigned long long)want);
		peer_let_go(p);
	}
	if (want != 0)
		peer_link_parent(p, want);
	else
		peer_later(p, PEER_RETRY_MS);
}

/* Every keepalive's answer names our parent in the tree now: the tree
 * moves nodes (a repair, a repeater taking a leaf's slot), and we follow.
 * Between a JOIN and its answer the two may disagree for a moment. */
static void
peer_keepalive(void *arg, const struct stun_msg *resp)
{
	struct peer *p = arg;
	uint64_t want;

	if (p->joining || p->accusing)
		return;
	if (stun_attr_u64(stun_find(resp, TC_ATTR_PARENT), &want) != 0) {
		/* Not in the tree: not joined yet, or the negotiator forgot
		 * us (it restarted, or we were silent). */
		if (p->parent != NULL)
			peer_join_now(p);
		return;
	}
	peer_standby(p, resp);
	peer_follow(p, want);
}

/* MOVE: the negotiator tells a move at once (the keepalive would tell it
 * within an interval). Authenticated by the session; unanswered. */
static void
peer_request(void *arg, const struct stun_msg *req)
{
	struct peer *p = arg;
	uint64_t want;

	if (req->method != TC_METHOD_MOVE ||
	    stun_attr_u64(stun_find(req, TC_ATTR_PARENT), &want) != 0)
		return;
	/* A replay (or one overtaken by a later MOVE) is refused: the
	 * negotiator numbers its MOVEs, rising, within the session. */
	if (tc_move_fresh(req, &p->move_seq) != 0) {
		p->moves_refused++;
		log_debug("a MOVE not numbered above %llu: refused",
		    (unsigned long long)p->move_seq);
		return;
	}
	if (p->joining)
		return;
	log_debug("MOVE %llu: parent %016llx",
	    (unsigned long long)p->move_seq, (unsigned long long)want);
	peer_standby(p, req);
	peer_follow(p, want);
}

/* STATUS: what we are linked to, and our figures, for the status page. */
static void
peer_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct tc_health h;
	const struct chunk *old, *new;
	uint64_t a, z;
	double p50, p99, rtt, lost;
	struct player *pl;

	(void)fd;
	(void)what;
	memset(&h, 0, sizeof h);
	peer_latency(p, &p50, &p99);
	h.bytes_in = p->bytes;
	h.chunks = p->chunks;
	h.gaps = (uint32_t)p->gaps;
	h.bad_chunks = (uint32_t)p->bad;
	h.delay_ms = p50 > 0 ? (uint32_t)p50 : 0;
	playout_advance(&p->playout, peer_now_ms());
	h.played_ms = (uint32_t)p->playout.played_ms;
	h.stalled_ms = (uint32_t)p->playout.stalled_ms;
	h.stalls = p->playout.stalls;
	if (ring_oldest(p->ring, &a) == 0 && ring_newest(p->ring, &z) == 0 &&
	    (old = ring_get(p->ring, a)) != NULL &&
	    (new = ring_get(p->ring, z)) != NULL)
		h.ring_ms = (uint32_t)((new->timestamp_us - old->timestamp_us) /
		    1000);
	h.kbps_in = (uint32_t)((p->from_parent - p->reported) * 8 /
	    TC_STATUS_MS);
	p->reported = p->from_parent;
	TAILQ_FOREACH(pl, &p->players, entry)
		h.players++;
	if (peer_parent_link(p, &rtt, &lost) == 0) {
		h.rtt_ms = (uint32_t)(rtt + 0.5);
		h.loss_permille = (uint32_t)(1000 * lost);
	}
	serve_report(p->serve, p->session, p->parent != NULL &&
	    link_connect_ms(p->parent) >= 0 ? link_peer(p->parent) : 0, &h,
	    TC_STATUS_MS);
}

static void
peer_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	(void)what;
	if (serve_children(p->serve) > 0 &&
	    peer_ms_since(&p->draining) < PEER_DRAIN_MS)
		return;
	log_info("%zu children left after %.0f ms of draining",
	    serve_children(p->serve), peer_ms_since(&p->draining));
	event_base_loopexit(p->base, NULL);
}

/* Left the negotiator (which has moved our children): serve them until
 * their new parents bring them the stream and they let go of us, so
 * that a graceful departure costs them nothing; PEER_DRAIN_MS at most. */
static void
peer_drain(struct peer *p)
{
	struct timeval every = { 0, 50 * 1000 };

	if (p->no_standby || serve_children(p->serve) == 0 ||
	    (p->drain = event_new(p->base, -1, EV_PERSIST, peer_drain_cb,
	    p)) == NULL) {
		event_base_loopexit(p->base, NULL);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &p->draining);
	log_info("serving %zu children until they have moved",
	    serve_children(p->serve));
	event_add(p->drain, &every);
}

static void
peer_session_cb(void *arg, enum session_event ev, struct session *s)
{
	struct peer *p = arg;

	switch (ev) {
	case SESSION_REGISTERED:
		p->move_seq = 0;	/* a new credential: MOVEs count anew */
		peer_join_now(p);	/* registered anew: in no tree */
		break;
	case SESSION_LOST:
		break;
	case SESSION_LEFT:
		if (session_refused(s)) {
			p->exit_code = 1;	/* another channel's key */
			event_base_loopexit(p->base, NULL);
		} else
			peer_drain(p);
		break;
	}
}

static void
peer_discovered(void *arg, const struct discover_result *r)
{
	struct peer *p = arg;
	struct session_config sc;
	struct timeval every = { 10, 0 };
	struct timeval status_every = { TC_STATUS_MS / 1000,
	    TC_STATUS_MS % 1000 * 1000 };
	struct timeval watch_every = { 0, PEER_WATCH_MS * 1000 };
	char err[256];

	if (!r->ok) {
		log_error("negotiator: %s", r->error);
		peer_stop(p, 1);
		return;
	}
	memset(&sc, 0, sizeof sc);
	sc.server = p->server;
	snprintf(sc.channel, sizeof sc.channel, "%s", p->channel);
	sc.has_channel_key = p->has_channel_key;
	memcpy(sc.channel_key, p->channel_key, sizeof sc.channel_key);
	sc.role = TC_ROLE_PEER;
	sc.profile = r->profile;
	sc.fanout = p->fanout;
	if ((p->session = session_start(p->base, &sc, peer_session_cb, p,
	    err, sizeof err)) == NULL ||
	    (p->agent = link_agent_new(p->base, p->session, p->udt,
	    &peer_links, p, NULL)) == NULL) {
		log_error("cannot register: %s", err);
		peer_stop(p, 1);
		return;
	}
	session_on_keepalive(p->session, peer_keepalive, p);
	link_agent_on_request(p->agent, peer_request, p);
	p->progress = event_new(p->base, -1, EV_PERSIST, peer_progress_cb, p);
	event_add(p->progress, &every);
	p->status = event_new(p->base, -1, EV_PERSIST, peer_status_cb, p);
	event_add(p->status, &status_every);
	p->watch = event_new(p->base, -1, EV_PERSIST, peer_watch_cb, p);
	event_add(p->watch, &watch_every);
}

static void
peer_signal(evutil_socket_t sig, short what, void *arg)
{
	struct peer *p = arg;

	(void)what;
	if (p->drain != NULL) {
		log_info("%s: leaving now", strsignal((int)sig));
		event_base_loopexit(p->base, NULL);
		return;
	}
	log_info("%s: leaving", strsignal((int)sig));
	peer_stop(p, 0);
}

/* --play: the player, started on our URL with /bin/sh, so that CMD may
 * carry its own options ("mpv --no-cache"). */
static pid_t
peer_player(const char *cmd, const char *at)
{
	char url[ADDR_STRLEN + 32];
	pid_t pid;

	snprintf(url, sizeof url, "http://%s/live.ts", at);
	if ((pid = fork()) == 0) {
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", cmd, url,
		    (char *)NULL);
		_exit(127);
	}
	if (pid == -1)
		log_warn("--play %s: cannot start it: %s", cmd,
		    strerror(errno));
	else
		log_info("started the player: %s %s", cmd, url);
	return pid;
}

int
main(int argc, char **argv)
{
	struct peer p;
	struct opt_state st;
	struct event *sigint, *sigterm;
	struct addr http;
	const char *negotiator = NULL, *http_at = "127.0.0.1:8554";
	char err[256], text[ADDR_STRLEN], host[ADDR_STRLEN];
	int key, has_http = 1;

	log_init(argv[0], LOG_INFO);
	memset(&p, 0, sizeof p);
	clock_gettime(CLOCK_MONOTONIC, &p.started);
	TAILQ_INIT(&p.players);
	snprintf(p.channel, sizeof p.channel, "live");
	p.fanout = TC_FANOUT_DEFAULT;
	p.ring_size = 1024;
	playout_init(&p.playout, PLAYOUT_STARTUP_MS, PLAYOUT_REBUFFER_MS);
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_NEGOTIATOR:
			negotiator = optarg;
			break;
		case OPT_CHANNEL:
			if (optarg[0] == '\0' ||
			    strlen(optarg) > TC_CHANNEL_MAX)
				fatal("--channel '%s': 1 to %d bytes", optarg,
				    TC_CHANNEL_MAX);
			snprintf(p.channel, sizeof p.channel, "%s", optarg);
			if (key_parse_hex(optarg, strlen(optarg),
			    p.channel_key) == 0) {
				p.has_channel_key = 1;
				key_hex(p.channel_key, p.channel);
			}
			break;
		case OPT_HTTP:
			http_at = optarg;
			break;
		case OPT_NO_HTTP:
			has_http = 0;
			break;
		case OPT_OUTPUT:
			p.output = optarg;
			break;
		case OPT_PLAY:
			p.play = optarg;
			break;
		case OPT_FANOUT:
			p.fanout = (unsigned)opt_number("fanout", optarg, 0,
			    TC_FANOUT_MAX);
			break;
		case OPT_RING:
			p.ring_size = opt_number("ring", optarg, 16, 65536);
			break;
		case OPT_NO_STANDBY:
			p.no_standby = 1;
			break;
		case '?':
			return 2;
		default:
			opt_common(key, "treecast-peer", synopsis, about,
			    options);
			break;
		}
	}
	if (optind < argc)
		fatal("unexpected argument '%s' (see --help)", argv[optind]);
	if (negotiator == NULL)
		fatal("no --negotiator HOST[:PORT] (see --help)");
	if (addr_parse(negotiator, TC_DEFAULT_PORT, 1, &p.server, err,
	    sizeof err) != 0)
		fatal("--negotiator %s", err);
	if (has_http && addr_parse(http_at, 8554, 1, &http, err,
	    sizeof err) != 0)
		fatal("--http %s", err);
	if (p.output != NULL) {
		p.out = strcmp(p.output, "-") == 0 ? stdout :
		    fopen(p.output, "wb");
		if (p.out == NULL)
			fatal("--output %s: %s", p.output, strerror(errno));
	}
	if (sodium_init() < 0)
		fatal("libsodium failed to start");
	signal(SIGPIPE, SIG_IGN);
	if ((p.base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	if ((p.ring = ring_create(p.ring_size)) == NULL ||
	    (p.serve = serve_new(p.base, p.ring, p.fanout)) == NULL)
		fatal("cannot allocate a ring of %zu chunks", p.ring_size);
	if (has_http) {
		addr_format((struct sockaddr *)&http.ss, text, sizeof text);
		snprintf(host, sizeof host, "%s", text);
		*strrchr(host, ':') = '\0';
		if ((p.http = evhttp_new(p.base)) == NULL ||
		    evhttp_bind_socket(p.http, host[0] == '[' ? host + 1 : host,
		    addr_port((struct sockaddr *)&http.ss)) != 0)
			fatal("--http %s: cannot listen there", http_at);
		evhttp_set_cb(p.http, "/live.ts", peer_live_cb, &p);
		evhttp_set_gencb(p.http, peer_other_cb, &p);
		log_info("playing at http://%s/live.ts", text);
		if (p.play != NULL)
			p.player = peer_player(p.play, text);
	} else if (p.play != NULL)
		fatal("--play needs the HTTP output (drop --no-http)");
	if ((p.udt = udt_loop_new(p.base, err, sizeof err)) == NULL)
		fatal("%s", err);
	p.rejoin = evtimer_new(p.base, peer_rejoin_cb, &p);
	if ((p.disc = discover_start(p.base, &p.server, NULL,
	    peer_discovered, &p, err, sizeof err)) == NULL)
		fatal("%s", err);
	sigint = evsignal_new(p.base, SIGINT, peer_signal, &p);
	sigterm = evsignal_new(p.base, SIGTERM, peer_signal, &p);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
#ifdef TREECAST_TEST_TAMPER
	p.tamper_ev = evsignal_new(p.base, SIGUSR1, peer_tamper_cb, &p);
	event_add(p.tamper_ev, NULL);
	log_warn("a test build: relays altered chunks once sent SIGUSR1");
#endif

	event_base_dispatch(p.base);

	peer_progress_cb(-1, 0, &p);
	if (p.player > 0)
		kill(p.player, SIGTERM);
	log_info("%llu chunks in, %llu missed, %llu bad, %llu parents, %llu "
	    "bridges, %llu MOVEs refused", (unsigned long long)p.chunks,
	    (unsigned long long)p.gaps, (unsigned long long)p.bad,
	    (unsigned long long)p.parents, (unsigned long long)p.bridges,
	    (unsigned long long)p.moves_refused);
	link_agent_free(p.agent);
	session_free(p.session);
	discover_free(p.disc);
	if (p.http != NULL)
		evhttp_free(p.http);
	if (p.out != NULL && p.out != stdout)
		fclose(p.out);
	if (p.progress != NULL)
		event_free(p.progress);
	if (p.status != NULL)
		event_free(p.status);
	if (p.watch != NULL)
		event_free(p.watch);
	if (p.drain != NULL)
		event_free(p.drain);
	event_free(p.rejoin);
	serve_free(p.serve);
	ring_free(p.ring);
	udt_loop_free(p.udt);
	event_free(sigint);
	event_free(sigterm);
#ifdef TREECAST_TEST_TAMPER
	event_free(p.tamper_ev);
#endif
	event_base_free(p.base);
	return p.exit_code;
}
