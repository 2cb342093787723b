/*
 * labport: makes a TCP service inside a lab namespace reachable from the
 * host, for the demo's status page and player URLs. It listens in the
 * namespace it starts in and, for each connection, connects from inside
 * NETNS (a socket keeps the namespace it was made in) and copies both ways.
 *
 *   labport LISTEN_IP:PORT NETNS TARGET_IP:PORT
 *
 * NETNS is a name under /run/netns (ip netns add) or a path. Runs until
 * SIGINT or SIGTERM. IPv4 only, as the lab is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define LABPORT_BACKLOG	(1 << 20)	/* bytes buffered one way, at most */

static int host_ns = -1, lab_ns = -1;
static struct sockaddr_in target;

static int
parse(const char *s, struct sockaddr_in *out)
{
	char host[64], *colon;
	long port;

	if (strlen(s) >= sizeof host)
		return -1;
	strcpy(host, s);
	if ((colon = strrchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	port = strtol(colon + 1, NULL, 10);
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return port > 0 && port < 65536 &&
	    inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

/* Each side's bufferevent holds its peer as callback argument. */
static void
relay_read(struct bufferevent *from, void *arg)
{
	struct bufferevent *to = arg;

	evbuffer_add_buffer(bufferevent_get_output(to),
	    bufferevent_get_input(from));
	/* A slow reader holds the other side back, not our memory. */
	if (evbuffer_get_length(bufferevent_get_output(to)) > LABPORT_BACKLOG)
		bufferevent_disable(from, EV_READ);
}

static void
relay_written(struct bufferevent *to, void *arg)
{
	(void)to;
	bufferevent_enable(arg, EV_READ);
}

/* One side has gone: the other closes once it has written what it holds. */
static void
drain_written(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
drain_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
relay_event(struct bufferevent *bev, short what, void *arg)
{
	struct bufferevent *other = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		evbuffer_add_buffer(bufferevent_get_output(other),
		    bufferevent_get_input(bev));
		bufferevent_free(bev);
		bufferevent_setcb(other, NULL, drain_written, drain_event,
		    NULL);
		bufferevent_disable(other, EV_READ);
		drain_written(other, NULL);
	}
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct event_base *base = arg;
	struct bufferevent *in, *out;
	int s;

	(void)l;
	(void)sa;
	(void)len;
	/* The outgoing socket is made inside the lab's namespace. */
	if (setns(lab_ns, CLONE_NEWNET) != 0) {
		close(fd);
		return;
	}
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (setns(host_ns, CLONE_NEWNET) != 0) {
		fprintf(stderr, "labport: cannot return to the host: %s\n",
		    strerror(errno));
		exit(1);
	}
	if (s == -1) {
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	in = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	out = bufferevent_socket_new(base, s, BEV_OPT_CLOSE_ON_FREE);
	if (in == NULL || out == NULL || bufferevent_socket_connect(out,
	    (struct sockaddr *)&target, sizeof target) != 0) {
		if (in != NULL)
			bufferevent_free(in);
		if (out != NULL)
			bufferevent_free(out);
		return;
	}
	bufferevent_setcb(in, relay_read, relay_written, relay_event, out);
	bufferevent_setcb(out, relay_read, relay_written, relay_event, in);
	bufferevent_enable(in, EV_READ | EV_WRITE);
	bufferevent_enable(out, EV_READ | EV_WRITE);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evconnlistener *l;
	struct event *si, *st;
	struct sockaddr_in listen_at;
	char path[256];

	if (argc != 4 || parse(argv[1], &listen_at) != 0 ||
	    parse(argv[3], &target) != 0) {
		fprintf(stderr, "usage: labport LISTEN_IP:PORT NETNS "
		    "TARGET_IP:PORT\n");
		return 2;
	}
	snprintf(path, sizeof path, "%s%s", strchr(argv[2], '/') != NULL ? "" :
	    "/run/netns/", argv[2]);
	if ((host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1 ||
	    (lab_ns = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "labport: namespace %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	l = evconnlistener_new_bind(base, on_accept, base,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&listen_at, sizeof listen_at);
	if (l == NULL) {
		fprintf(stderr, "labport: cannot listen on %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	si = evsignal_new(base, SIGINT, on_signal, base);
	st = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(si, NULL);
	event_add(st, NULL);
	event_base_dispatch(base);
	evconnlistener_free(l);
	event_free(si);
	event_free(st);
	event_base_free(base);
	return 0;
}
