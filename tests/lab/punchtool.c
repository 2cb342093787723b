/*
 * punchtool: one side of a punched UDT link between two lab hosts, with the
 * negotiator's broker stood in for by files (the broker comes with the
 * links issue). Each side learns its NAT profile (net/discover), opens a
 * fresh socket, has the negotiator reflect its mapping, predicts its
 * external ports (net/nat), writes them to DIR/ME, reads DIR/PEER, punches
 * (net/punch) and hands the socket to UDT (net/udt), then sends MSGS
 * messages and expects as many back; each side says DONE when it has them
 * all and leaves once it has heard the peer's. Prints one JSON line;
 * punch_ms and connect_ms count from the moment both sides' candidates
 * are known (what the broker's GO would be).
 *
 *   punchtool SERVER DIR ME PEER SECRET [MSGS]
 *
 * A test instrument, not part of treecast.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/addr.h"
#include "net/ctl.h"
#include "net/discover.h"
#include "net/nat.h"
#include "net/punch.h"
#include "net/udt.h"

#define WINDOW	4	/* sequential steps beyond the prediction */

struct tool {
	struct event_base	*base;
	struct addr		 server;
	const char		*dir, *me, *peer, *secret;
	int			 msgs;
	struct nat_profile	 profile;
	struct ctl		*probe;		/* the fresh socket, while probed */
	int			 fd;
	struct punch		*punch;
	struct udt_loop		*udt;
	struct udt_link		*link;
	double			 t0, t_punch, t_punched, t_linked;
	int			 sent, got, bad;
	int			 said_done, peer_done;
	const char		*fail;
	char			 why[200];
	struct event		*poll;
	struct event		*drain;
	uint16_t		 local_port;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
tool_fail(struct tool *t, const char *stage, const char *why)
{
	t->fail = stage;
	snprintf(t->why, sizeof t->why, "%s", why != NULL ? why : "");
	event_base_loopexit(t->base, NULL);
}

static void
tool_pump(struct tool *t)
{
	char msg[64];
	int n;

	while (t->sent < t->msgs) {
		n = snprintf(msg, sizeof msg, "%s %d", t->me, t->sent);
		if (udt_link_send(t->link, msg, (size_t)n) != n)
			return;
		t->sent++;
	}
}

/* Done when everything sent has been acknowledged: links close at once. */
static void
tool_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;

	(void)fd;
	(void)what;
	if (udt_link_unacked(t->link) <= 0 || now_ms() - t->t0 > 30000)
		event_base_loopexit(t->base, NULL);
}

static void
tool_drain(struct tool *t)
{
	struct timeval tv = { 0, 20000 };

	if (t->drain != NULL)
		return;
	t->drain = event_new(t->base, -1, EV_PERSIST, tool_drain_cb, t);
	event_add(t->drain, &tv);
}

static void
tool_link_cb(struct udt_link *l, enum udt_event ev, void *arg)
{
	struct tool *t = arg;
	char buf[128], want[64];
	ssize_t n;

	(void)l;
	switch (ev) {
	case UDT_LINK_CONNECTED:
		t->t_linked = now_ms();
		tool_pump(t);
		break;
	case UDT_LINK_READABLE:
		while ((n = udt_link_recv(t->link, buf, sizeof buf - 1)) > 0) {
			buf[n] = '\0';
			if (strcmp(buf, "DONE") == 0) {
				t->peer_done = 1;
				continue;
			}
			snprintf(want, sizeof want, "%s %d", t->peer, t->got);
			if (strcmp(buf, want) != 0)
				t->bad++;
			t->got++;
		}
		tool_pump(t);
		if (t->got >= t->msgs && t->sent >= t->msgs && !t->said_done &&
		    udt_link_send(t->link, "DONE", 4) == 4)
			t->said_done = 1;	/* we have it all: the peer may go */
		if (t->said_done && t->peer_done)
			tool_drain(t);
		break;
	case UDT_LINK_CLOSED:
		if (t->got < t->msgs)
			tool_fail(t, "udt", "the link closed");
		else
			event_base_loopexit(t->base, NULL);
		break;
	}
}

static void
tool_punched(void *arg, const struct sockaddr *peer, socklen_t peerlen,
    const char *why)
{
	struct tool *t = arg;
	char err[200];
	int fd = t->fd;

	if (peer == NULL) {
		tool_fail(t, "punch", why);
		return;
	}
	t->t_punched = now_ms();
	t->fd = -1;		/* UDT's now */
	t->link = udt_link_start(t->udt, fd, peer, peerlen, 5000,
	    tool_link_cb, t, err, sizeof err);
	if (t->link == NULL)
		tool_fail(t, "udt", err);
}

/* Reads the peer's candidates once its file exists, then punches. */
static void
tool_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;
	struct punch_config pc;
	char path[512], ip[64], err[160];
	unsigned port;
	FILE *f;

	(void)fd;
	(void)what;
	snprintf(path, sizeof path, "%s/%s", t->dir, t->peer);
	if ((f = fopen(path, "r")) == NULL) {
		if (now_ms() - t->t0 > 20000)
			tool_fail(t, "exchange", "the peer wrote no candidates");
		return;
	}
	memset(&pc, 0, sizeof pc);
	if (fscanf(f, "%63s", ip) == 1) {
		while (pc.ncand < PUNCH_MAX_CANDIDATES &&
		    fscanf(f, "%u", &port) == 1) {
			char text[96];

			snprintf(text, sizeof text, "%s:%u", ip, port);
			if (addr_parse(text, 0, 0, &pc.cand[pc.ncand], err,
			    sizeof err) == 0)
				pc.ncand++;
		}
	}
	fclose(f);
	event_del(t->poll);
	pc.fd = t->fd;
	crypto_generichash(pc.key, sizeof pc.key,
	    (const uint8_t *)t->secret, strlen(t->secret), NULL, 0);
	memcpy(&pc.nonce, pc.key, sizeof pc.nonce);
	t->t_punch = now_ms();	/* both sides' candidates known: the clock */
	t->punch = punch_start(t->base, &pc, tool_punched, t);
	if (t->punch == NULL)
		tool_fail(t, "punch", "no candidates");
}

static void
tool_mapped(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct tool *t = arg;
	struct sockaddr_storage mapped;
	struct timeval tv = { 0, 10000 };
	char path[512], tmp[520], ip[64];
	uint16_t ports[WINDOW + 1];
	size_t n, i;
	FILE *f;

	(void)from;
	if (resp == NULL || stun_attr_xor_address(resp, stun_find(resp,
	    STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped, NULL) != 0) {
		tool_fail(t, "mapping", "the negotiator did not answer");
		return;
	}
	n = nat_predict(&t->profile, t->local_port,
	    addr_port((struct sockaddr *)&mapped), WINDOW, ports, WINDOW + 1);
	if (n == 0) {
		tool_fail(t, "predict", "this NAT's next port is unpredictable");
		return;
	}
	t->fd = ctl_detach(t->probe);	/* freed inside its callback: allowed */
	t->probe = NULL;
	addr_format((struct sockaddr *)&mapped, ip, sizeof ip);
	*strrchr(ip, ':') = '\0';
	snprintf(path, sizeof path, "%s/%s", t->dir, t->me);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		tool_fail(t, "exchange", strerror(errno));
		return;
	}
	fprintf(f, "%s", ip);
	for (i = 0; i < n; i++)
		fprintf(f, " %u", ports[i]);
	fprintf(f, "\n");
	fclose(f);
	rename(tmp, path);
	t->poll = event_new(t->base, -1, EV_PERSIST, tool_poll_cb, t);
	event_add(t->poll, &tv);
}

static void
tool_discovered(void *arg, const struct discover_result *r)
{
	struct tool *t = arg;
	uint8_t msg[STUN_MAX_MSG];
	char err[160];
	int len;

	if (!r->ok) {
		tool_fail(t, "discover", r->error);
		return;
	}
	t->profile = r->profile;
	t->t0 = now_ms();
	/* The link's own fresh socket, its mapping seen by the negotiator
	 * just before the punch (DESIGN.md, "Links"). */
	if ((t->probe = ctl_open(t->base, t->server.ss.ss_family, NULL, err,
	    sizeof err)) == NULL) {
		tool_fail(t, "socket", err);
		return;
	}
	t->local_port = ctl_local_port(t->probe);
	len = ctl_build_binding(msg, sizeof msg, 0, 64);
	if (len < 0 || ctl_request(t->probe, &t->server, msg, (size_t)len,
	    NULL, tool_mapped, t) != 0)
		tool_fail(t, "mapping", "cannot send");
}

int
main(int argc, char **argv)
{
	struct tool t;
	struct discover *d;
	char err[200];

	if (argc < 6) {
		fprintf(stderr, "usage: punchtool SERVER DIR ME PEER SECRET "
		    "[MSGS]\n");
		return 2;
	}
	memset(&t, 0, sizeof t);
	t.fd = -1;
	t.dir = argv[2];
	t.me = argv[3];
	t.peer = argv[4];
	t.secret = argv[5];
	t.msgs = argc > 6 ? atoi(argv[6]) : 100;
	if (sodium_init() < 0 || (t.base = event_base_new()) == NULL)
		return 1;
	if (addr_parse(argv[1], 3478, 0, &t.server, err, sizeof err) != 0) {
		fprintf(stderr, "punchtool: %s\n", err);
		return 2;
	}
	if ((t.udt = udt_loop_new(t.base, err, sizeof err)) == NULL) {
		fprintf(stderr, "punchtool: %s\n", err);
		return 1;
	}
	d = discover_start(t.base, &t.server, NULL, tool_discovered, &t, err,
	    sizeof err);
	if (d == NULL) {
		fprintf(stderr, "punchtool: %s\n", err);
		return 1;
	}
	event_base_dispatch(t.base);

	if (t.fail == NULL && (t.got < t.msgs || t.bad > 0))
		t.fail = "data";
	printf("{\"me\":\"%s\",\"class\":\"%s\",\"ok\":%s,\"stage\":\"%s\","
	    "\"why\":\"%s\",\"punch_ms\":%.0f,\"connect_ms\":%.0f,"
	    "\"sent\":%d,\"received\":%d,\"bad\":%d,\"checks_sent\":%u,"
	    "\"checks_rejected\":%u}\n", t.me, nat_class_name(&t.profile),
	    t.fail == NULL ? "true" : "false", t.fail ? t.fail : "",
	    t.why, t.t_punched > 0 ? t.t_punched - t.t_punch : -1,
	    t.t_linked > 0 ? t.t_linked - t.t_punch : -1, t.sent, t.got, t.bad,
	    t.punch ? punch_stats(t.punch)->sent : 0,
	    t.punch ? punch_stats(t.punch)->rejected : 0);
	punch_free(t.punch);
	udt_link_free(t.link);
	udt_loop_free(t.udt);
	if (t.poll != NULL)
		event_free(t.poll);
	if (t.drain != NULL)
		event_free(t.drain);
	discover_free(d);
	event_base_free(t.base);
	return t.fail == NULL ? 0 : 1;
}
