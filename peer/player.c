/* treecast-peer's players: the stream as MPEG-TS over HTTP at /live.ts,
 * and --play, a player started on it. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "media/ring.h"
#include "peer/peer.h"
#include "net/util/addr.h"
#include "net/util/log.h"

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

void
peer_http_start(struct peer *p, const struct addr *http, const char *at)
{
	char text[ADDR_STRLEN], host[ADDR_STRLEN];

	addr_format((struct sockaddr *)&http->ss, text, sizeof text);
	snprintf(host, sizeof host, "%s", text);
	*strrchr(host, ':') = '\0';
	if ((p->http = evhttp_new(p->base)) == NULL ||
	    evhttp_bind_socket(p->http, host[0] == '[' ? host + 1 : host,
	    addr_port((struct sockaddr *)&http->ss)) != 0)
		fatal("--http %s: cannot listen there", at);
	evhttp_set_cb(p->http, "/live.ts", peer_live_cb, p);
	evhttp_set_gencb(p->http, peer_other_cb, p);
	log_info("playing at http://%s/live.ts", text);
	if (p->play != NULL)
		p->player = peer_player(p->play, text);
}

void
peer_http_free(struct peer *p)
{
	if (p->player > 0)
		kill(p->player, SIGTERM);
	if (p->http != NULL)
		evhttp_free(p->http);
}

void
peer_players_chunk(struct peer *p, const struct chunk *c)
{
	struct player *pl, *next;

	for (pl = TAILQ_FIRST(&p->players); pl != NULL; pl = next) {
		next = TAILQ_NEXT(pl, entry);	/* player_send may drop pl */
		if (!pl->started && (c->flags & CHUNK_F_KEYFRAME))
			pl->started = 1;
		if (pl->started)
			player_send(pl, c);
	}
}

unsigned
peer_players(const struct peer *p)
{
	const struct player *pl;
	unsigned n = 0;

	TAILQ_FOREACH(pl, &p->players, entry)
		n++;
	return n;
}
