/* The status page and the API, over evhttp:
 *   GET /                               the status page (negotiator/
 *                                       status.html, built in)
 *   GET /metrics                        Prometheus text format
 *   GET /api/nodes[?id=HEX][&limit=N]   registered nodes and their profiles
 *   GET /api/tree                       each channel's tree: roles, links,
 *                                       the nodes' figures
 *   GET /api/stats                      every counter; joins, departures
 *                                       and repairs in the last minute
 *   GET /api/links                      the broker: link outcomes by the
 *                                       pair's NAT classes, the relay */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "media/playout.h"
#include "negotiator/broker.h"
#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/http.h"
#include "negotiator/registry.h"
#include "negotiator/server.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/key.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"

#define HTTP_NODES_DEFAULT	1000
#define HTTP_NODES_MAX		10000	/* built under the registry lock */
#define HTTP_TREE_MAX		10000	/* nodes a channel's tree lists */
#define HTTP_SAMPLE_S		5	/* the per-minute rates' resolution */
#define HTTP_SAMPLES		(60 / HTTP_SAMPLE_S + 1)

/* What the per-minute rates are taken from. */
struct http_sample {
	uint64_t	at_ms;
	uint64_t	joins, departures, moves;
};

struct http {
	struct evhttp		*evh;
	struct server		*srv;
	struct event		*tick;
	struct http_sample	 samples[HTTP_SAMPLES];	/* a ring */
	unsigned		 nsamples, next;
	/* Registry slots the requests looked at under the server's lock,
	 * and when it was taken (the main thread's alone). */
	uint64_t		 slots;
	uint64_t		 locked_at_us;
	uint64_t		 slots_at;
};

/* The server's view for a request, timed, for the debug log. */
static void
http_lock(struct http *h, struct server_view *snap)
{
	server_view_begin(h->srv, snap);
	h->locked_at_us = clock_us();
	h->slots_at = h->slots;
}

static void
http_unlock(struct http *h, struct server_view *snap, const char *what)
{
	uint64_t now_us = clock_us();

	server_view_end(h->srv, snap);
	log_debug("http %s: the registry lock held %.3f ms, %" PRIu64
	    " slots looked at", what, (double)(now_us - h->locked_at_us) /
	    1e3, h->slots - h->slots_at);
}

static void
http_reply(struct evhttp_request *req, int code, const char *reason,
    struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

/* A channel's key as a JSON value: quoted hex, or null for a plain name
 * (a probe's). out holds KEY_HEX_LEN + 3 bytes. */
static const char *
http_key(const struct channels *c, int ch, char *out)
{
	const uint8_t *pk = channels_key(c, ch);

	if (pk == NULL)
		return "null";
	out[0] = '"';
	key_hex(pk, out + 1);
	out[KEY_HEX_LEN + 1] = '"';
	out[KEY_HEX_LEN + 2] = '\0';
	return out;
}

/* One node as JSON, from a view. */
static void
http_node_json(struct evbuffer *b, const struct server_view *snap,
    const struct reg_node *n, uint32_t slot)
{
	const struct tree *t = forest_tree(snap->forest, n->channel);
	const struct reg_node *pn;
	struct sockaddr_storage ss;
	struct nat_profile p;
	socklen_t len;
	uint32_t parent;
	int children = 0;
	char up[24], ext[ADDR_STRLEN], in[ADDR_STRLEN];
	char key[KEY_HEX_LEN + 3], v6[ADDR_STRLEN + 2];

	snprintf(up, sizeof up, "null");
	if (forest_parent(snap->forest, n->channel, slot, &parent) == 0 &&
	    parent != TREE_NONE &&
	    (pn = registry_node_const(snap->reg, parent)) != NULL)
		snprintf(up, sizeof up, "\"%016" PRIx64 "\"", pn->node_id);
	if (t != NULL)
		children = tree_children(t, forest_origin_slot(snap->forest,
		    n->channel) == slot ?
		    TREE_ORIGIN : slot + 1, NULL, 0);
	if (children < 0)
		children = 0;
	reg_addr_load(n->ext_ip, n->ext_port, &ss, &len);
	addr_format((struct sockaddr *)&ss, ext, sizeof ext);
	snprintf(v6, sizeof v6, "null");
	if (server_view_addr6(snap, slot, &ss) && inet_ntop(AF_INET6,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr, in, sizeof in) != NULL)
		snprintf(v6, sizeof v6, "\"%s\"", in);
	reg_addr_load(n->int_ip, n->int_port, &ss, &len);
	addr_format((struct sockaddr *)&ss, in, sizeof in);
	memset(&p, 0, sizeof p);
	nat_profile_decode(n->profile, sizeof n->profile, &p);
	evbuffer_add_printf(b, "{\"id\":\"%016" PRIx64 "\",\"channel\":\"%s\","
	    "\"channel_key\":%s,\"role\":\"%s\",\"external\":\"%s\",\"internal\":\"%s\",\"ipv6\":%s,"
	    "\"class\":\"%s\",\"nat\":{\"mapping\":\"%s\",\"allocation\":\"%s\","
	    "\"offset\":%d,\"delta\":%d,\"filtering\":\"%s\"},"
	    "\"silent_s\":%u,\"parent\":%s,\"children\":%d}", n->node_id,
	    channels_display(snap->channels, n->channel),
	    http_key(snap->channels, n->channel, key),
	    tc_role_name(n->role), ext, in, v6, nat_class_name(&p),
	    nat_mapping_name(p.mapping), nat_allocation_name(p.allocation),
	    p.offset, p.delta, nat_filtering_name(p.filtering),
	    snap->clock - n->seen, up, children);
}

static void
http_links(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	broker_json(server_broker(h->srv), b);
	evbuffer_add(b, "\n", 1);
	http_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
http_nodes(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct server_view snap;
	const struct reg_node *n;
	struct evkeyvalq q;
	struct evbuffer *b = evbuffer_new();
	const char *v;
	char *end;
	uint64_t id = 0;
	unsigned long limit = HTTP_NODES_DEFAULT, shown = 0;
	uint32_t s, slot;
	int by_id = 0;

	TAILQ_INIT(&q);
	evhttp_parse_query_str(evhttp_uri_get_query(
	    evhttp_request_get_evhttp_uri(req)) ?
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)) : "", &q);
	if ((v = evhttp_find_header(&q, "id")) != NULL) {
		id = strtoull(v, &end, 16);
		if (*v == '\0' || *end != '\0') {
			evbuffer_add_printf(b, "{\"error\":\"id must be hex\"}");
			http_reply(req, 400, "Bad Request", b);
			goto out;
		}
		by_id = 1;
	}
	if ((v = evhttp_find_header(&q, "limit")) != NULL) {
		limit = strtoul(v, &end, 10);
		if (*v == '\0' || *end != '\0' || limit > HTTP_NODES_MAX) {
			evbuffer_add_printf(b,
			    "{\"error\":\"limit must be a number up to %d\"}",
			    HTTP_NODES_MAX);
			http_reply(req, 400, "Bad Request", b);
			goto out;
		}
	}
	http_lock(h, &snap);
	evbuffer_add_printf(b, "{\"count\":%u,\"nodes\":[", snap.nodes);
	if (by_id) {
		slot = registry_find(snap.reg, id);
		if ((n = registry_node_const(snap.reg, slot)) != NULL)
			http_node_json(b, &snap, n, slot);
	} else {
		for (s = registry_next(snap.reg, 0); s != REG_NONE &&
		    shown < limit; s = registry_next(snap.reg, s + 1)) {
			h->slots++;
			n = registry_node_const(snap.reg, s);
			if (shown++ > 0)
				evbuffer_add(b, ",", 1);
			http_node_json(b, &snap, n, s);
		}
	}
	http_unlock(h, &snap, "/api/nodes");
	evbuffer_add_printf(b, "]}\n");
	http_reply(req, 200, "OK", b);
out:
	evhttp_clear_headers(&q);
	evbuffer_free(b);
}

/* "id" or null for a slot. */
static void
http_id(struct evbuffer *b, const struct registry *reg, uint32_t slot)
{
	const struct reg_node *n = slot != TREE_NONE ?
	    registry_node_const(reg, slot) : NULL;

	if (n != NULL)
		evbuffer_add_printf(b, "\"%016" PRIx64 "\"", n->node_id);
	else
		evbuffer_add_printf(b, "null");
}

/* Roles in the JSON: one word each, for scripts and the page. */
static const char *
http_role(enum tree_role r)
{
	switch (r) {
	case TREE_ROLE_ORIGIN:
		return "origin";
	case TREE_ROLE_CANDIDATE:
		return "candidate";
	case TREE_ROLE_REPEATER:
		return "repeater";
	case TREE_ROLE_NONREPEATER:
		return "nonrepeater";
	default:
		return "none";
	}
}

/* A node of a tree: its role, place, links and figures. */
static void
http_tree_node(struct evbuffer *b, const struct server_view *snap,
    const struct tree *t, uint32_t origin, uint32_t slot)
{
	const struct registry *reg = snap->reg;
	const struct reg_node *n = registry_node_const(reg, slot);
	const struct server_health *sh = server_view_health(snap, slot);
	struct sockaddr_storage ss;
	struct nat_profile p;
	socklen_t len;
	uint32_t h = slot == origin ? TREE_ORIGIN : slot + 1;
	uint32_t kids[TREE_FANOUT_MAX < 64 ? TREE_FANOUT_MAX : 64];
	const char *reason = tree_reason(t, h);
	char ext[ADDR_STRLEN];
	int nk, i, depth = tree_depth(t, h);
	double loss;

	reg_addr_load(n->ext_ip, n->ext_port, &ss, &len);
	addr_format((struct sockaddr *)&ss, ext, sizeof ext);
	memset(&p, 0, sizeof p);
	nat_profile_decode(n->profile, sizeof n->profile, &p);
	evbuffer_add_printf(b, "{\"id\":\"%016" PRIx64 "\",\"role\":\"%s\","
	    "\"reason\":", n->node_id, http_role(tree_role(t, h)));
	if (reason != NULL)
		evbuffer_add_printf(b, "\"%s\"", reason);	/* our literals */
	else
		evbuffer_add_printf(b, "null");
	evbuffer_add_printf(b, ",\"parent\":");
	http_id(b, reg, tree_parent(t, h) == TREE_ORIGIN ? origin :
	    tree_parent(t, h) == TREE_NONE ? TREE_NONE : tree_parent(t, h) - 1);
	if (depth >= 0)
		evbuffer_add_printf(b, ",\"depth\":%d,\"children\":[", depth);
	else
		evbuffer_add_printf(b, ",\"depth\":null,\"children\":[");
	nk = tree_children(t, h, kids, sizeof kids / sizeof kids[0]);
	for (i = 0; i < nk && i < (int)(sizeof kids / sizeof kids[0]); i++) {
		if (i > 0)
			evbuffer_add(b, ",", 1);
		http_id(b, reg, kids[i] - 1);
	}
	evbuffer_add_printf(b, "],\"nat\":\"%s\",\"external\":\"%s\","
	    "\"health\":", nat_class_name(&p), ext);
	if (sh == NULL) {
		evbuffer_add_printf(b, "null}");
		return;
	}
	/* Loss: of the packets from its parent, lost on the way (UDT sent
	 * them again); chunks that never came are "gaps". */
	loss = sh->h.loss_permille / 10.0;
	evbuffer_add_printf(b, "{\"age_s\":%.1f,\"linked_parent\":",
	    (double)(snap->clock_ms - sh->at_ms) / 1000.0);
	if (sh->parent != 0)
		evbuffer_add_printf(b, "\"%016" PRIx64 "\"", sh->parent);
	else
		evbuffer_add_printf(b, "null");
	evbuffer_add_printf(b, ",\"linked_children\":[");
	for (i = 0; i < sh->nchildren && i < TC_FANOUT_DEFAULT; i++)
		evbuffer_add_printf(b, "%s\"%016" PRIx64 "\"", i > 0 ? "," : "",
		    sh->children[i]);
	evbuffer_add_printf(b, "],\"children\":%u,\"buffer_ms\":%u,"
	    "\"delay_ms\":%u,\"kbps_in\":%u,\"kbps_out\":%u,"
	    "\"loss_pct\":%.1f,\"rtt_ms\":%u,\"chunks\":%" PRIu64
	    ",\"gaps\":%u,\"bad_chunks\":%u,"
	    "\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
	    ",\"players\":%u,\"played_s\":%.1f,\"stalled_s\":%.1f,"
	    "\"stalls\":%u,\"continuity\":%.4f}}", sh->nchildren,
	    sh->h.ring_ms, sh->h.delay_ms,
	    sh->h.kbps_in, sh->h.kbps_out, loss, sh->h.rtt_ms, sh->h.chunks,
	    sh->h.gaps, sh->h.bad_chunks,
	    sh->h.bytes_in, sh->h.bytes_out, sh->h.players,
	    sh->h.played_ms / 1000.0, sh->h.stalled_ms / 1000.0, sh->h.stalls,
	    playout_continuity(sh->h.played_ms, sh->h.stalled_ms));
}

static void
http_tree(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct evbuffer *b = evbuffer_new();
	struct server_view snap;
	const struct forest *f;
	const struct tree *t;
	const struct reg_node *n;
	struct tree_counts c;
	struct server_playout pl;
	uint64_t out, delivered;
	uint32_t slot, origin, listed;
	int i, ch, first = 1;
	char key[KEY_HEX_LEN + 3];

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	http_lock(h, &snap);
	f = snap.forest;
	evbuffer_add_printf(b, "{\"channels\":[");
	for (i = 0; i < FOREST_TREES_MAX; i++) {
		if ((ch = forest_channel_at(f, i)) < 0 ||
		    (t = forest_tree(f, ch)) == NULL)
			continue;
		origin = forest_origin_slot(f, ch);
		tree_counts(t, &c);
		out = delivered = 0;
		server_view_offload(&snap, ch, &out, &delivered);
		server_view_playout(&snap, ch, &pl);
		evbuffer_add_printf(b, "%s{\"name\":\"%s\",\"key\":%s,"
		    "\"label\":\"%s\",\"origin\":", first ? "" : ",",
		    channels_display(snap.channels, ch),
		    http_key(snap.channels, ch, key),
		    channels_label(snap.channels, ch));
		first = 0;
		http_id(b, snap.reg, origin);
		evbuffer_add_printf(b, ",\"fanout\":%u,\"counts\":{\"nodes\":%u,"
		    "\"placed\":%u,\"unplaced\":%u,\"candidates\":%u,"
		    "\"repeaters\":%u,\"nonrepeaters\":%u,\"max_depth\":%u,"
		    "\"free_slots\":%u},\"connectible\":%.4f,\"nat\":{"
		    "\"open\":%u,\"predictable\":%u,\"random\":%u},"
		    "\"origin_bytes_out\":%" PRIu64 ",\"delivered_bytes\":%"
		    PRIu64 ",\"playout\":{\"played_s\":%.1f,\"stalled_s\":"
		    "%.1f,\"stalls\":%" PRIu64 ",\"continuity\":%.4f},"
		    "\"nodes\":[", tree_fanout(t), c.nodes, c.placed,
		    c.unplaced, c.candidates, c.repeaters, c.nonrepeaters,
		    c.max_depth, c.free_slots, c.nodes > 0 ? (double)c.placed /
		    c.nodes : 1.0, c.nat[TREE_NAT_OPEN],
		    c.nat[TREE_NAT_PREDICTABLE], c.nat[TREE_NAT_RANDOM], out,
		    delivered, pl.played_ms / 1000.0, pl.stalled_ms / 1000.0,
		    pl.stalls, playout_continuity(pl.played_ms,
		    pl.stalled_ms));
		http_tree_node(b, &snap, t, origin, origin);
		for (slot = registry_next(snap.reg, 0), listed = 0;
		    slot != REG_NONE && listed < HTTP_TREE_MAX;
		    slot = registry_next(snap.reg, slot + 1)) {
			h->slots++;
			if (slot == origin ||
			    (n = registry_node_const(snap.reg, slot)) == NULL ||
			    n->channel != ch ||
			    tree_role(t, slot + 1) == TREE_ROLE_NONE)
				continue;
			evbuffer_add(b, ",", 1);
			http_tree_node(b, &snap, t, origin, slot);
			listed++;
		}
		evbuffer_add_printf(b, "],\"truncated\":%s}",
		    listed < c.nodes ? "true" : "false");
	}
	http_unlock(h, &snap, "/api/tree");
	evbuffer_add_printf(b, "]}\n");
	http_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* Every HTTP_SAMPLE_S: the tree's counters, for rates a minute. */
static void
http_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct http_sample *sm = &h->samples[h->next];
	struct server_view snap;

	(void)fd;
	(void)what;
	server_view_begin(h->srv, &snap);
	server_view_end(h->srv, &snap);
	sm->joins = snap.forest_stats.joins;
	sm->departures = snap.forest_stats.departures;
	sm->moves = snap.forest_stats.moves;
	sm->at_ms = snap.clock_ms;
	h->next = (h->next + 1) % HTTP_SAMPLES;
	if (h->nsamples < HTTP_SAMPLES)
		h->nsamples++;
}

static void
http_stats(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct server_stats stats, *st = &stats;
	struct evbuffer *b = evbuffer_new();
	const struct http_sample *old, *now;
	struct server_view snap;
	struct forest_stats fs;
	uint64_t out = 0, delivered = 0;
	uint64_t span = 0;
	int i;

	server_stats(h->srv, &stats);
	http_lock(h, &snap);
	fs = snap.forest_stats;
	server_view_offload(&snap, -1, &out, &delivered);
	http_unlock(h, &snap, "/api/stats");
	evbuffer_add_printf(b, "{\"uptime_s\":%.1f,\"nodes\":%u,"
	    "\"registry_bytes\":%zu,\"http_slots_visited\":%" PRIu64,
	    snap.clock_ms / 1000.0, snap.nodes, snap.registry_bytes,
	    h->slots);
	/* Counts over the last minute (less, just after the start), to the
	 * last sample: not scaled up from a few seconds. */
	old = &h->samples[(h->next + HTTP_SAMPLES - h->nsamples) %
	    HTTP_SAMPLES];
	now = &h->samples[(h->next + HTTP_SAMPLES - 1) % HTTP_SAMPLES];
	span = now->at_ms - old->at_ms;
	evbuffer_add_printf(b, ",\"per_minute\":{\"span_s\":%" PRIu64
	    ",\"joins\":%" PRIu64 ",\"departures\":%" PRIu64 ",\"repairs\":%"
	    PRIu64 "}", span / 1000, now->joins - old->joins,
	    now->departures - old->departures, now->moves - old->moves);
	evbuffer_add_printf(b, ",\"origin_bytes_out\":%" PRIu64
	    ",\"delivered_bytes\":%" PRIu64, out, delivered);
#define HTTP_FOREST_STAT(name, json, metric, labels, help)		\
	evbuffer_add_printf(b, ",\"" json "\":%" PRIu64, fs.name);
	FOREST_COUNTERS(HTTP_FOREST_STAT)
#undef HTTP_FOREST_STAT
#define HTTP_STAT(name, help)						\
	evbuffer_add_printf(b, ",\"" #name "\":%" PRIu64, st->name);
	SERVER_COUNTERS(HTTP_STAT)
#undef HTTP_STAT
	evbuffer_add_printf(b, ",\"parse_errors\":{");
	for (i = 1; i < STUN_E_COUNT; i++)
		evbuffer_add_printf(b, "%s\"%s\":%" PRIu64, i > 1 ? "," : "",
		    stun_parse_error_name(i), st->parse_errors[i]);
	evbuffer_add_printf(b, "}}\n");
	http_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* --- /metrics: the Prometheus text format (version 0.0.4) */

static void
http_metric(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP treecast_%s %s\n# TYPE treecast_%s %s\n",
	    name, help, name, type);
}

/* A label value: \\, \" and newlines escaped. */
static void
http_label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

/* One gauge a channel with a tree. */
enum http_tree_figure {
	HTF_NODES, HTF_CANDIDATES, HTF_REPEATERS, HTF_NONREPEATERS,
	HTF_UNPLACED, HTF_DEPTH, HTF_FREE, HTF_OPEN, HTF_PREDICTABLE,
	HTF_RANDOM, HTF_ORIGIN_OUT, HTF_DELIVERED, HTF_PLAYED, HTF_STALLED,
	HTF_STALLS, HTF_COUNT
};

static void
http_metrics(struct evhttp_request *req, void *arg)
{
	static const struct {
		const char	*name, *labels, *help;
	} figs[HTF_COUNT] = {
		{ "tree_nodes", "", "Nodes in the channel's tree, origin "
		  "aside." },
		{ "tree_role_nodes", ",role=\"candidate\"", "Nodes by role." },
		{ "tree_role_nodes", ",role=\"repeater\"", NULL },
		{ "tree_role_nodes", ",role=\"nonrepeater\"", NULL },
		{ "tree_unplaced_nodes", "", "Nodes the tree has no slot for "
		  "(the shortfall)." },
		{ "tree_depth", "", "Depth of the deepest node." },
		{ "tree_free_slots", "", "Child slots free on the origin and "
		  "the repeaters." },
		{ "tree_nat_nodes", ",nat=\"open\"", "Nodes by NAT class "
		  "(random: never repeaters)." },
		{ "tree_nat_nodes", ",nat=\"predictable\"", NULL },
		{ "tree_nat_nodes", ",nat=\"random\"", NULL },
		{ "origin_sent_bytes", "", "Stream bytes the origin says it "
		  "sent." },
		{ "delivered_bytes", "", "Stream bytes the channel's peers say "
		  "they received." },
		{ "playout_played_milliseconds", "", "Playback time the "
		  "channel's peers now in it report, their playout modelled "
		  "as a viewer's player." },
		{ "playout_stalled_milliseconds", "", "Time those peers' "
		  "playout stalled (ran dry)." },
		{ "playout_stalls", "", "Stalls those peers' playout had." },
	};
	struct http *h = arg;
	struct server_stats stats, *st = &stats;
	struct evbuffer *b = evbuffer_new();
	struct server_view snap;
	const struct forest *f;
	const struct forest_stats *fs;
	const struct tree *t;
	struct tree_counts c;
	struct server_playout pl;
	uint64_t v[FOREST_TREES_MAX][HTF_COUNT], out, delivered;
	int chs[FOREST_TREES_MAX], n = 0, i, k, fig;

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	server_stats(h->srv, &stats);
#define HTTP_COUNTER(name, help)					\
	http_metric(b, #name "_total", "counter", help);		\
	evbuffer_add_printf(b, "treecast_" #name "_total %" PRIu64 "\n",	\
	    st->name);
	SERVER_COUNTERS(HTTP_COUNTER)
#undef HTTP_COUNTER
	http_metric(b, "parse_errors_total", "counter",
	    "Datagrams dropped as malformed STUN, by what was wrong.");
	for (i = 1; i < STUN_E_COUNT; i++)
		evbuffer_add_printf(b, "treecast_parse_errors_total{kind=\"%s\"} "
		    "%" PRIu64 "\n", stun_parse_error_name(i),
		    st->parse_errors[i]);
	http_metric(b, "nodes", "gauge", "Registered nodes.");
	evbuffer_add_printf(b, "treecast_nodes %u\n", server_nodes(h->srv));
	http_metric(b, "uptime_seconds", "gauge", "Seconds since the start.");
	evbuffer_add_printf(b, "treecast_uptime_seconds %.1f\n",
	    server_clock_ms(h->srv) / 1000.0);

	http_lock(h, &snap);
	f = snap.forest;
	fs = &snap.forest_stats;
#define HTTP_FOREST_METRIC(name, json, metric, labels, help)		\
	if (help[0] != '\0')						\
		http_metric(b, metric "_total", "counter", help);	\
	evbuffer_add_printf(b, "treecast_" metric "_total" labels " %" PRIu64 \
	    "\n", fs->name);
	FOREST_COUNTERS(HTTP_FOREST_METRIC)
#undef HTTP_FOREST_METRIC
	for (i = 0; i < FOREST_TREES_MAX; i++) {
		if ((chs[n] = forest_channel_at(f, i)) < 0 ||
		    (t = forest_tree(f, chs[n])) == NULL)
			continue;
		tree_counts(t, &c);
		out = delivered = 0;
		server_view_offload(&snap, chs[n], &out, &delivered);
		v[n][HTF_NODES] = c.nodes;
		v[n][HTF_CANDIDATES] = c.candidates;
		v[n][HTF_REPEATERS] = c.repeaters;
		v[n][HTF_NONREPEATERS] = c.nonrepeaters;
		v[n][HTF_UNPLACED] = c.unplaced;
		v[n][HTF_DEPTH] = c.max_depth;
		v[n][HTF_FREE] = c.free_slots;
		v[n][HTF_OPEN] = c.nat[TREE_NAT_OPEN];
		v[n][HTF_PREDICTABLE] = c.nat[TREE_NAT_PREDICTABLE];
		v[n][HTF_RANDOM] = c.nat[TREE_NAT_RANDOM];
		v[n][HTF_ORIGIN_OUT] = out;
		v[n][HTF_DELIVERED] = delivered;
		server_view_playout(&snap, chs[n], &pl);
		v[n][HTF_PLAYED] = pl.played_ms;
		v[n][HTF_STALLED] = pl.stalled_ms;
		v[n][HTF_STALLS] = pl.stalls;
		n++;
	}
	/* By family: a family's samples together, its HELP and TYPE once. */
	for (fig = 0; fig < HTF_COUNT; fig++) {
		if (figs[fig].help != NULL)
			http_metric(b, figs[fig].name, "gauge", figs[fig].help);
		for (k = 0; k < n; k++) {
			evbuffer_add_printf(b, "treecast_%s{channel=\"",
			    figs[fig].name);
			http_label(b, channels_display(snap.channels, chs[k]));
			evbuffer_add_printf(b, "\"%s} %" PRIu64 "\n",
			    figs[fig].labels, v[k][fig]);
		}
	}
	http_metric(b, "playout_continuity_ratio", "gauge", "Share of the "
	    "channel's playback time not stalled, of its peers now in it.");
	for (k = 0; k < n; k++) {
		evbuffer_add_printf(b, "treecast_playout_continuity_ratio{"
		    "channel=\"");
		http_label(b, channels_display(snap.channels, chs[k]));
		evbuffer_add_printf(b, "\"} %.4f\n", playout_continuity(
		    v[k][HTF_PLAYED], v[k][HTF_STALLED]));
	}
	http_unlock(h, &snap, "/metrics");
	broker_metrics(server_broker(h->srv), b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* --- / : the status page, built in from negotiator/status.html */
extern const unsigned char status_html[];
extern const size_t status_html_len;

static void
http_index(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add_reference(b, status_html, status_html_len, NULL, NULL);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-cache");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
http_other(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	evbuffer_add_printf(b, "{\"error\":\"no such page\"}\n");
	http_reply(req, 404, "Not Found", b);
	evbuffer_free(b);
}

struct http *
http_create(struct event_base *base, struct server *srv,
    const struct addr *listen, char *err, size_t errlen)
{
	struct http *h;
	char host[ADDR_STRLEN], text[ADDR_STRLEN], *colon;

	if ((h = calloc(1, sizeof *h)) == NULL ||
	    (h->evh = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->srv = srv;
	addr_format((const struct sockaddr *)&listen->ss, text, sizeof text);
	snprintf(host, sizeof host, "%s", text[0] == '[' ? text + 1 : text);
	if ((colon = strrchr(host, text[0] == '[' ? ']' : ':')) != NULL)
		*colon = '\0';
	if (evhttp_bind_socket(h->evh, host,
	    addr_port((const struct sockaddr *)&listen->ss)) != 0) {
		snprintf(err, errlen, "cannot listen for HTTP on %s", text);
		http_free(h);
		return NULL;
	}
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(h->evh, "/api/nodes", http_nodes, h);
	evhttp_set_cb(h->evh, "/api/stats", http_stats, h);
	evhttp_set_cb(h->evh, "/api/links", http_links, h);
	evhttp_set_cb(h->evh, "/api/tree", http_tree, h);
	evhttp_set_cb(h->evh, "/metrics", http_metrics, h);
	evhttp_set_cb(h->evh, "/", http_index, h);
	h->tick = event_new(base, -1, EV_PERSIST, http_tick_cb, h);
	if (h->tick == NULL || event_add(h->tick, &(struct timeval){
	    HTTP_SAMPLE_S, 0 }) != 0) {
		snprintf(err, errlen, "cannot start the HTTP sampler");
		http_free(h);
		return NULL;
	}
	http_tick_cb(-1, 0, h);
	evhttp_set_gencb(h->evh, http_other, h);
	log_info("status page on http://%s/ (API under /api/, Prometheus at "
	    "/metrics)", text);
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->tick != NULL)
		event_free(h->tick);
	if (h->evh != NULL)
		evhttp_free(h->evh);
	free(h);
}
