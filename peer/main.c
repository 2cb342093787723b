/* treecast-peer: the viewer: joins the tree, plays, relays to two children.
 * This file: its options, the chunks it takes and its figures; the node's
 * lifecycle is net/node/'s, the tree's side parent.c's, players player.c's. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net/link/link.h"
#include "net/link/udt.h"
#include "media/ring.h"
#include "media/serve.h"
#include "peer/peer.h"
#include "net/util/addr.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/util/opt.h"

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
	OPT_NO_STANDBY, OPT_NEGOTIATOR6, OPT_NO_PORTMAP
};

static const struct opt options[] = {
	NODE_ROW_NEGOTIATOR(OPT_NEGOTIATOR),
	NODE_ROW_NEGOTIATOR6(OPT_NEGOTIATOR6),
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
	NODE_ROW_NO_PORTMAP(OPT_NO_PORTMAP),
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

double
peer_ms_since(uint64_t t)
{
	return (double)(clock_ms() - t);
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

void
peer_chunk(struct peer *p, struct link *l, const uint8_t *msg, size_t len)
{
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
	*(l == p->bridge ? &p->bridge_seen : &p->parent_seen) = clock_ms();
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
		double ms = peer_ms_since(p->last_taken);

		if (p->is_orphan && ms > p->orphan_wait)
			p->orphan_wait = ms;
		p->spacing_ms = p->spacing_ms == 0 ? ms :
		    0.9 * p->spacing_ms + 0.1 * (ms < 5000 ? ms : 5000);
	}
	p->last_chunk = clock_ms();
	p->last_taken = p->last_chunk;
	p->feeder = l;
	if (l == p->parent && p->bridge != NULL) {
		log_info("the parent brings chunk %llu: bridge from node "
		    "%016llx closed", (unsigned long long)c.seq,
		    (unsigned long long)link_peer(p->bridge));
		peer_bridge_close(p);
	}
	p->latency_us[p->nlatency++ % PEER_LATENCIES] =
	    (int64_t)clock_wall_us() - (int64_t)c.timestamp_us;
	if (!p->have)
		log_info("first chunk %llu%s after %.0f ms",
		    (unsigned long long)c.seq, c.flags & CHUNK_F_KEYFRAME ?
		    " (a keyframe)" : "", peer_ms_since(p->started));
	else if (p->is_orphan && link_peer(l) != p->old_parent) {
		log_info("first chunk %llu from the %s after waiting at most "
		    "%.0f ms for one, %.0f ms after losing node %016llx",
		    (unsigned long long)c.seq,
		    l == p->bridge ? "standby" : "new parent", p->orphan_wait,
		    peer_ms_since(p->orphaned),
		    (unsigned long long)p->old_parent);
		p->is_orphan = 0;
	}
	if (chunk_digest_add(&p->digest, &c, &first, hex))
		log_info("chunks %llu-%llu digest %s",
		    (unsigned long long)first, (unsigned long long)c.seq, hex);
	playout_chunk(&p->playout, clock_ms(), c.seq, c.timestamp_us);
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
	peer_players_chunk(p, &c);
	serve_pushed(p->serve);
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

/* The node's progress hook: every 10 s, and on the way out. */
static void
peer_progress(void *arg)
{
	struct peer *p = arg;
	double p50, p99, rtt, lost;
	char link[96] = "none";

	peer_latency(p, &p50, &p99);
	if (peer_parent_link(p, &rtt, &lost) == 0)
		snprintf(link, sizeof link, "linked (rtt %.0f ms, %.1f %% of "
		    "packets resent)", rtt, 100.0 * lost);
	else if (p->parent != NULL)
		snprintf(link, sizeof link, "linking");
	playout_advance(&p->playout, clock_ms());
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

/* The node's STATUS hook: what we are linked to, and our figures, for
 * the status page. */
static uint64_t
peer_health(void *arg, struct tc_health *h)
{
	struct peer *p = arg;
	const struct chunk *old, *new;
	uint64_t a, z;
	double p50, p99, rtt, lost;

	peer_latency(p, &p50, &p99);
	h->bytes_in = p->bytes;
	h->chunks = p->chunks;
	h->gaps = (uint32_t)p->gaps;
	h->bad_chunks = (uint32_t)p->bad;
	h->delay_ms = p50 > 0 ? (uint32_t)p50 : 0;
	playout_advance(&p->playout, clock_ms());
	h->played_ms = (uint32_t)p->playout.played_ms;
	h->stalled_ms = (uint32_t)p->playout.stalled_ms;
	h->stalls = p->playout.stalls;
	if (ring_oldest(p->ring, &a) == 0 && ring_newest(p->ring, &z) == 0 &&
	    (old = ring_get(p->ring, a)) != NULL &&
	    (new = ring_get(p->ring, z)) != NULL)
		h->ring_ms = (uint32_t)((new->timestamp_us -
		    old->timestamp_us) / 1000);
	h->kbps_in = (uint32_t)((p->from_parent - p->reported) * 8 /
	    TC_STATUS_MS);
	p->reported = p->from_parent;
	h->players = peer_players(p);
	if (peer_parent_link(p, &rtt, &lost) == 0) {
		h->rtt_ms = (uint32_t)(rtt + 0.5);
		h->loss_permille = (uint32_t)(1000 * lost);
	}
	return p->parent != NULL && link_connect_ms(p->parent) >= 0 ?
	    link_peer(p->parent) : 0;
}

/* The session started (its REGISTER on the way) and the link agent made:
 * the tree's side starts. */
static int
peer_started(void *arg)
{
	struct peer *p = arg;

	p->session = node_session(p->node);
	p->agent = node_agent(p->node);
	peer_parent_start(p);
	return 0;
}

static const struct node_hooks peer_hooks = {
	.started = peer_started,
	.session = peer_session,
	.link_connected = peer_link_connected,
	.link_failed = peer_link_failed,
	.link_message = peer_link_message,
	.link_closed = peer_link_closed,
	.progress = peer_progress,
	.health = peer_health,
};

int
main(int argc, char **argv)
{
	struct peer p;
	struct node_config nc;
	struct opt_state st;
	struct addr http;
	const char *negotiator = NULL, *http_at = "127.0.0.1:8554";
	char err[256];
	int key, has_http = 1, code;

	log_init(argv[0], LOG_INFO);
	memset(&p, 0, sizeof p);
	p.started = clock_ms();
	TAILQ_INIT(&p.players);
	node_config_init(&nc);
	snprintf(nc.session.channel, sizeof nc.session.channel, "live");
	playout_init(&p.playout, PLAYOUT_STARTUP_MS, PLAYOUT_REBUFFER_MS);
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_NEGOTIATOR:
			negotiator = optarg;
			break;
		case OPT_NEGOTIATOR6:
			node_config_server6(&nc, "--negotiator6", optarg);
			break;
		case OPT_CHANNEL:
			snprintf(nc.session.channel,
			    sizeof nc.session.channel, "%s",
			    node_check_channel(optarg));
			if (key_parse_hex(optarg, strlen(optarg),
			    nc.session.channel_key) == 0) {
				nc.session.has_channel_key = 1;	/* pinned */
				key_hex(nc.session.channel_key,
				    nc.session.channel);
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
			node_config_fanout(&nc, optarg, 0);
			break;
		case OPT_RING:
			node_config_ring(&nc, optarg);
			break;
		case OPT_NO_STANDBY:
			p.no_standby = 1;
			break;
		case OPT_NO_PORTMAP:
			nc.no_portmap = 1;
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
	node_config_server(&nc, "--negotiator", negotiator);
	if (has_http && addr_parse(http_at, 8554, 1, &http, err,
	    sizeof err) != 0)
		fatal("--http %s", err);
	if (p.output != NULL) {
		p.out = strcmp(p.output, "-") == 0 ? stdout :
		    fopen(p.output, "wb");
		if (p.out == NULL)
			fatal("--output %s: %s", p.output, strerror(errno));
	}
	nc.session.role = TC_ROLE_PEER;
	nc.drain_ms = p.no_standby ? 0 : PEER_DRAIN_MS;
	p.node = node_new(&nc, &peer_hooks, &p);
	node_serving(p.node);
	p.base = node_base(p.node);
	p.ring = node_ring(p.node);
	p.serve = node_serve(p.node);
	if (has_http)
		peer_http_start(&p, &http, http_at);
	else if (p.play != NULL)
		fatal("--play needs the HTTP output (drop --no-http)");
#ifdef TREECAST_TEST_TAMPER
	p.tamper_ev = evsignal_new(p.base, SIGUSR1, peer_tamper_cb, &p);
	event_add(p.tamper_ev, NULL);
	log_warn("a test build: relays altered chunks once sent SIGUSR1");
#endif

	code = node_run(p.node);

	peer_http_free(&p);
	log_info("%llu chunks in, %llu missed, %llu bad, %llu parents, %llu "
	    "bridges, %llu MOVEs refused", (unsigned long long)p.chunks,
	    (unsigned long long)p.gaps, (unsigned long long)p.bad,
	    (unsigned long long)p.parents, (unsigned long long)p.bridges,
	    (unsigned long long)p.moves_refused);
	if (p.out != NULL && p.out != stdout)
		fclose(p.out);
	peer_parent_free(&p);
#ifdef TREECAST_TEST_TAMPER
	event_free(p.tamper_ev);
#endif
	node_free(p.node);
	return code;
}
