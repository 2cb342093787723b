/* JSON API over evhttp:
 *   GET /api/nodes[?id=HEX][&limit=N]   registered nodes and their profiles
 *   GET /api/stats                      every counter
 *   GET /api/links                      the broker: link outcomes by the
 *                                       pair's NAT classes, the relay */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "negotiator/broker.h"
#include "negotiator/channel.h"
#include "negotiator/http.h"
#include "negotiator/registry.h"
#include "negotiator/server.h"
#include "net/log.h"
#include "net/nat.h"
#include "net/proto.h"

#define HTTP_NODES_DEFAULT	1000
#define HTTP_NODES_MAX		10000	/* built under the registry lock */

struct http {
	struct evhttp	*evh;
	struct server	*srv;
};

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

/* One node as JSON; the caller holds the registry lock. */
static void
http_node_json(struct evbuffer *b, struct server *srv,
    const struct reg_node *n, uint32_t slot)
{
	uint64_t parent;
	unsigned children;
	char up[24];

	struct sockaddr_storage ss;
	struct nat_profile p;
	socklen_t len;
	char ext[ADDR_STRLEN], in[ADDR_STRLEN];

	if (server_placement_locked(srv, slot, &parent, &children) == 0)
		snprintf(up, sizeof up, "\"%016" PRIx64 "\"", parent);
	else
		snprintf(up, sizeof up, "null");
	reg_addr_load(n->ext_ip, n->ext_port, &ss, &len);
	addr_format((struct sockaddr *)&ss, ext, sizeof ext);
	reg_addr_load(n->int_ip, n->int_port, &ss, &len);
	addr_format((struct sockaddr *)&ss, in, sizeof in);
	memset(&p, 0, sizeof p);
	nat_profile_decode(n->profile, sizeof n->profile, &p);
	evbuffer_add_printf(b, "{\"id\":\"%016" PRIx64 "\",\"channel\":\"%s\","
	    "\"role\":\"%s\",\"external\":\"%s\",\"internal\":\"%s\","
	    "\"class\":\"%s\",\"nat\":{\"mapping\":\"%s\",\"allocation\":\"%s\","
	    "\"offset\":%d,\"delta\":%d,\"filtering\":\"%s\"},"
	    "\"silent_s\":%u,\"parent\":%s,\"children\":%u}", n->node_id,
	    channels_name(server_channels_locked(srv), n->channel),
	    tc_role_name(n->role), ext, in, nat_class_name(&p),
	    nat_mapping_name(p.mapping), nat_allocation_name(p.allocation),
	    p.offset, p.delta, nat_filtering_name(p.filtering),
	    server_clock(srv) - n->seen, up, children);
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
	const struct registry *reg;
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
	reg = server_lock_registry(h->srv);
	evbuffer_add_printf(b, "{\"count\":%u,\"nodes\":[",
	    registry_count(reg));
	if (by_id) {
		slot = registry_find(reg, id);
		if ((n = registry_node_const(reg, slot)) != NULL)
			http_node_json(b, h->srv, n, slot);
	} else {
		for (s = 0; s < registry_high_water(reg) && shown < limit;
		    s++) {
			if ((n = registry_node_const(reg, s)) == NULL)
				continue;
			if (shown++ > 0)
				evbuffer_add(b, ",", 1);
			http_node_json(b, h->srv, n, s);
		}
	}
	server_unlock_registry(h->srv);
	evbuffer_add_printf(b, "]}\n");
	http_reply(req, 200, "OK", b);
out:
	evhttp_clear_headers(&q);
	evbuffer_free(b);
}

static void
http_stats(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct server_stats stats, *st = &stats;
	struct evbuffer *b = evbuffer_new();
	int i;

	server_stats(h->srv, &stats);
	evbuffer_add_printf(b, "{\"nodes\":%u,\"registry_bytes\":%zu",
	    server_nodes(h->srv), server_registry_bytes(h->srv));
#define HTTP_STAT(name, help) \
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
	evhttp_set_gencb(h->evh, http_other, h);
	log_info("HTTP API on http://%s/", text);
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->evh != NULL)
		evhttp_free(h->evh);
	free(h);
}
