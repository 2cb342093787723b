/*
 * nego-bench: drives a treecast-negotiator from loopback with N simulated
 * clients, each registered with its own credential and then sending an
 * authenticated keepalive every T seconds, spread over many source
 * addresses and ports; prints requests/s achieved, loss, p50 and p99
 * response time (request sent to answer received by the kernel), the
 * negotiator's CPU and its memory per registered client.
 *
 *   nego-bench --negotiator PATH [--clients N] [--interval S]
 *              [--duration S] [--sockets K] [--threads N]
 *              [--links R [--connect-ms MS]]
 *
 * With --links R it also brokers R links a second beside the keepalives:
 * a client asks for a link to another (LINK), the other acknowledges the
 * negotiator's INSTRUCT as a peer does, the first gets its GO and reports
 * the link --connect-ms later (REPORT). It prints links brokered, refused
 * and lost, and the time from LINK to GO (which includes the partner's
 * answer, read within the generator's 1 ms tick).
 *
 * It starts the negotiator itself (on 127.0.0.1, a free port) so that it
 * can read its CPU time and memory from /proc. One thread: the load
 * generator shares the machine with the server, as the paper's did not.
 *
 * With --binding it is a load generator for any STUN server instead:
 * plain Binding requests (RFC 8489 §7.3, no credential) at a fixed rate,
 * from K sockets in turn, each answer checked (a Binding success whose
 * XOR-MAPPED-ADDRESS is the socket's own address):
 *
 *   nego-bench --binding --server ADDR:PORT --rate R [--duration S]
 *              [--sockets K] [--pid PID]
 *
 * It starts no server; --pid names the server's process, for its CPU.
 *
 * This file: the options, the sockets, timing and the sends both loads
 * share; nego-load.c the keepalive (and --links) load, nego-binding.c the
 * Binding load.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "net/util/addr.h"
#include "net/util/opt.h"
#include "bench/nego-bench.h"

/* Records one response time: sent and arrived are CLOCK_REALTIME ns. */
void
hist_add(struct hist *h, uint64_t sent, uint64_t arrived)
{
	uint64_t us = arrived > sent ? (arrived - sent) / 1000 : 0;

	if (us >= HIST_US) {
		h->late++;
		us = HIST_US - 1;
	}
	h->us[us]++;
	h->n++;
}

/* The response time under which a fraction q of them fell, in ms. */
double
percentile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n), acc = 0;
	uint32_t us;

	for (us = 0; us < HIST_US; us++) {
		acc += h->us[us];
		if (acc > want)
			return us / 1000.0;
	}
	return HIST_US / 1000.0;
}

/* The response-time lines of the figures. */
void
print_rtt(const struct hist *h)
{
	printf("%-34s %14.3f ms\n", "p50 response time", percentile(h, 0.50));
	printf("%-34s %14.3f ms\n", "p99 response time", percentile(h, 0.99));
	printf("%-34s %14.3f ms\n", "p99.9 response time",
	    percentile(h, 0.999));
	printf("%-34s %14" PRIu64 "\n", "answers of 1 s or more", h->late);
}

void
die(const char *what)
{
	fprintf(stderr, "nego-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* CPU seconds (user + system) and resident bytes of a process. */
void
proc_usage(pid_t pid, double *cpu, long *rss)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof buf, f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL) {
			/* Fields 14 and 15 (utime, stime); the name ends
			 * field 2, so skip to the space before field 14. */
			for (i = 0; i < 12 && p != NULL; i++)
				p = strchr(p + 1, ' ');
			if (p != NULL)
				sscanf(p, " %lu %lu", &ut, &st);
		}
		fclose(f);
	}
	*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	*rss = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof buf, f) != NULL)
			if (sscanf(buf, "VmRSS: %ld", rss) == 1)
				break;
		fclose(f);
	}
	*rss *= 1024;
}

/* This process's CPU seconds (user + system): the load generator's. */
double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
/* Waits a little for room in a full socket buffer. */
void
send_backoff(const char *what)
{
	struct timespec ts = { 0, 50000 };

	if (errno != EAGAIN && errno != ENOBUFS)
		die(what);
	nanosleep(&ts, NULL);
}

/*
 * Sends len bytes of datagrams of seg bytes each as one UDP GSO send
 * (UDP_SEGMENT): the kernel cuts them into one datagram each. This only
 * makes the generator cheaper; the server sees the same datagrams.
 */
void
send_gso(int fd, const uint8_t *buf, size_t len, uint16_t seg)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;

	memset(&mh, 0, sizeof mh);
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof ctl.buf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof seg);
	memcpy(CMSG_DATA(cm), &seg, sizeof seg);
	while (sendmsg(fd, &mh, 0) < 0)
		send_backoff("sendmsg (UDP GSO)");
}

/* Sends n prepared datagrams with sendmmsg. */
void
send_mmsg(int fd, struct mmsghdr *mm, int n)
{
	int k, r;

	for (k = 0; k < n;) {
		if ((r = sendmmsg(fd, mm + k, (unsigned)(n - k), 0)) <= 0) {
			send_backoff("sendmmsg");
			continue;
		}
		k += r;
	}
}

/* When the kernel received a datagram (SO_TIMESTAMPNS), or now. */
uint64_t
rx_time(struct msghdr *mh)
{
	struct cmsghdr *cm;
	struct timespec ts;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof ts);
		return (uint64_t)ts.tv_sec * 1000000000ULL +
		    (uint64_t)ts.tv_nsec;
	}
	return wall_ns();
}

/* A transaction id carries a client (or socket) and the send time. */
void
make_tid(uint8_t tid[12], uint32_t client, uint64_t t)
{
	memcpy(tid, &client, 4);
	memcpy(tid + 4, &t, 8);
}

/* Reads up to BATCH datagrams waiting on fd into rb, with their receive
 * timestamps; returns how many, 0 or less when none is waiting. */
int
recv_batch(int fd, struct rx_batch *rb)
{
	int j;

	for (j = 0; j < BATCH; j++) {
		rb->iov[j].iov_base = rb->bufs[j];
		rb->iov[j].iov_len = sizeof rb->bufs[j];
		memset(&rb->mm[j], 0, sizeof rb->mm[j]);
		rb->mm[j].msg_hdr.msg_iov = &rb->iov[j];
		rb->mm[j].msg_hdr.msg_iovlen = 1;
		rb->mm[j].msg_hdr.msg_control = rb->ctl[j].buf;
		rb->mm[j].msg_hdr.msg_controllen = sizeof rb->ctl[j].buf;
	}
	return recvmmsg(fd, rb->mm, BATCH, MSG_DONTWAIT, NULL);
}

/* Sleeps until the monotonic time t (ns). */
void
sleep_until(uint64_t t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1000000000ULL);
	ts.tv_nsec = (long)(t % 1000000000ULL);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/*
 * The client sockets: each bound (when the server is on loopback, socket s
 * to 127.(1 + s / 256).(s % 256).1, a /24 of its own; else to any address)
 * and connected to the server, so that the kernel routes once, not per
 * datagram. A /24 each, because the negotiator budgets its unauthenticated
 * answers (REGISTER's, Binding's) by /24 (--unauth-rate, default 2000/s,
 * --unauth-burst 20000): 600,000 registrations in 4 s from four /24s would
 * be cut, and an audience comes from many networks. Records each one's own
 * address for the Binding check.
 */
void
open_sockets(struct bench *b)
{
	int loopback = (ntohl(b->server.sin_addr.s_addr) >> 24) == 127;
	uint32_t s;

	if ((b->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (s = 0; s < b->nsockets; s++) {
		struct sockaddr_in in;
		struct epoll_event ev;
		socklen_t len = sizeof in;
		int size = 1 << 20, one = 1;

		b->fd[s] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (b->fd[s] == -1)
			die("socket");
		setsockopt(b->fd[s], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
		setsockopt(b->fd[s], SOL_SOCKET, SO_TIMESTAMPNS, &one,
		    sizeof one);
		memset(&in, 0, sizeof in);
		in.sin_family = AF_INET;
		if (loopback)
			in.sin_addr.s_addr = htonl(0x7f000001u |
			    ((1 + s / 256) << 16) | ((s % 256) << 8));
		if (bind(b->fd[s], (struct sockaddr *)&in, sizeof in) != 0)
			die("bind");
		if (connect(b->fd[s], (struct sockaddr *)&b->server,
		    sizeof b->server) != 0)
			die("connect");
		if (b->local != NULL && getsockname(b->fd[s],
		    (struct sockaddr *)&b->local[s], &len) != 0)
			die("getsockname");
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLIN;
		ev.data.u32 = s;
		if (epoll_ctl(b->ep, EPOLL_CTL_ADD, b->fd[s], &ev) != 0)
			die("epoll_ctl");
	}
}

enum { OPT_NEGOTIATOR = 'n', OPT_CLIENTS = 'c', OPT_INTERVAL = 'i',
    OPT_DURATION = 'd', OPT_SOCKETS = 's', OPT_PORT = 'p', OPT_NO_GSO = 256,
    OPT_BINDING, OPT_SERVER, OPT_RATE, OPT_BURST, OPT_PID, OPT_THREADS,
    OPT_LINKS, OPT_CONNECT_MS };

static const struct opt options[] = {
	{ "negotiator", OPT_NEGOTIATOR, "PATH",
	  "the treecast-negotiator binary (default ./treecast-negotiator)" },
	{ "clients", OPT_CLIENTS, "N", "simulated clients (default 600000)" },
	{ "interval", OPT_INTERVAL, "SECONDS",
	  "keepalive interval T (default 3)" },
	{ "duration", OPT_DURATION, "SECONDS",
	  "how long to measure keepalives or Bindings (default 30)" },
	{ "sockets", OPT_SOCKETS, "K",
	  "client sockets, each on a /24 of its own, 127.x.y.1, with a loopback "
	  "server (default 1000)" },
	{ "port", OPT_PORT, "PORT", "the negotiator's port (default 34780)" },
	{ "threads", OPT_THREADS, "N",
	  "the negotiator's worker threads (default: its own, one per CPU)" },
	{ "links", OPT_LINKS, "R",
	  "also R brokered links a second: LINK, INSTRUCT and its ACK, GO, "
	  "REPORT" },
	{ "connect-ms", OPT_CONNECT_MS, "MS",
	  "--links: GO to REPORT, the time a link takes to connect "
	  "(default 1000)" },
	{ "no-gso", OPT_NO_GSO, NULL,
	  "send with sendmmsg, not UDP GSO (a costlier generator)" },
	{ "binding", OPT_BINDING, NULL,
	  "plain STUN Binding load on --server instead (starts no server)" },
	{ "server", OPT_SERVER, "ADDR:PORT",
	  "--binding: the STUN server, IPv4 (default 127.0.0.1:3478)" },
	{ "rate", OPT_RATE, "R",
	  "--binding: requests a second (default 50000)" },
	{ "burst", OPT_BURST, "N",
	  "--binding: requests sent back to back per socket (default 8)" },
	{ "pid", OPT_PID, "PID",
	  "--binding: the server's process, to report its CPU" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

static unsigned long
num(const char *name, const char *text, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text < '0' || *text > '9' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "nego-bench: --%s '%s': expected %lu to %lu\n",
		    name, text, min, max);
		exit(2);
	}
	return v;
}

/* Parses --server: a numeric IPv4 address and port. */
static void
parse_server(const char *text, struct sockaddr_in *out)
{
	struct addr a;
	char err[128];

	if (addr_parse(text, 3478, 0, &a, err, sizeof err) != 0) {
		fprintf(stderr, "nego-bench: --server: %s\n", err);
		exit(2);
	}
	if (a.ss.ss_family != AF_INET) {
		fprintf(stderr, "nego-bench: --server '%s': an IPv4 address "
		    "is needed\n", text);
		exit(2);
	}
	memcpy(out, &a.ss, sizeof *out);
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct opt_state st;
	struct rlimit rl;
	const char *path = "./treecast-negotiator";
	const char *keepalive_only = NULL, *binding_only = NULL;
	uint16_t port = 34780;
	uint32_t threads = 0;
	int key, binding = 0, connect_given = 0;

	memset(&b, 0, sizeof b);
	b.nclients = 600000;
	b.interval_s = 3;
	b.duration_s = 30;
	b.nsockets = 1000;
	b.gso = 1;
	b.rate = 50000;
	b.burst = 8;
	b.connect_ms = 1000;
	b.server.sin_family = AF_INET;
	b.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b.server.sin_port = htons(3478);
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_NEGOTIATOR:
			path = optarg;
			keepalive_only = "negotiator";
			break;
		case OPT_CLIENTS:
			b.nclients = (uint32_t)num("clients", optarg, 1, 4000000);
			keepalive_only = "clients";
			break;
		case OPT_INTERVAL:
			b.interval_s = (uint32_t)num("interval", optarg, 1, 60);
			keepalive_only = "interval";
			break;
		case OPT_DURATION:
			b.duration_s = (uint32_t)num("duration", optarg, 1, 3600);
			break;
		case OPT_SOCKETS:
			b.nsockets = (uint32_t)num("sockets", optarg, 1, 60000);
			break;
		case OPT_PORT:
			port = (uint16_t)num("port", optarg, 1, 65535);
			keepalive_only = "port";
			break;
		case OPT_THREADS:
			threads = (uint32_t)num("threads", optarg, 1, 64);
			keepalive_only = "threads";
			break;
		case OPT_LINKS:
			b.link_rate = (uint32_t)num("links", optarg, 1, 1000000);
			keepalive_only = "links";
			break;
		case OPT_CONNECT_MS:
			b.connect_ms = (uint32_t)num("connect-ms", optarg, 0,
			    60000);
			keepalive_only = "connect-ms";
			connect_given = 1;
			break;
		case OPT_NO_GSO:
			b.gso = 0;
			break;
		case OPT_BINDING:
			binding = 1;
			break;
		case OPT_SERVER:
			parse_server(optarg, &b.server);
			binding_only = "server";
			break;
		case OPT_RATE:
			b.rate = (uint32_t)num("rate", optarg, 1, 10000000);
			binding_only = "rate";
			break;
		case OPT_BURST:
			b.burst = (uint32_t)num("burst", optarg, 1, BATCH);
			binding_only = "burst";
			break;
		case OPT_PID:
			b.pid = (pid_t)num("pid", optarg, 1, 4194304);
			binding_only = "pid";
			break;
		case '?':
			return 2;
		default:
			opt_common(key, "nego-bench", "[options]",
			    "Drives a treecast-negotiator with N clients sending "
			    "authenticated keepalives\nevery T seconds and prints "
			    "what it measured; with --binding, any STUN server\n"
			    "with plain Binding requests at R a second.", options);
			break;
		}
	}
	if (binding && keepalive_only != NULL) {
		fprintf(stderr, "nego-bench: --%s is for the keepalive "
		    "benchmark, not --binding\n", keepalive_only);
		return 2;
	}
	if (connect_given && b.link_rate == 0) {
		fprintf(stderr, "nego-bench: --connect-ms needs --links\n");
		return 2;
	}
	if (!binding && binding_only != NULL) {
		fprintf(stderr, "nego-bench: --%s needs --binding\n",
		    binding_only);
		return 2;
	}
	if (binding && b.pid != 0 && kill(b.pid, 0) != 0 && errno == ESRCH) {
		fprintf(stderr, "nego-bench: --pid %d: no such process\n",
		    (int)b.pid);
		return 2;
	}
	if (!binding && b.nsockets > b.nclients)
		b.nsockets = b.nclients;
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = b.nsockets + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("setrlimit");
	b.fd = calloc(b.nsockets, sizeof *b.fd);
	b.rtt.us = calloc(HIST_US, sizeof *b.rtt.us);
	b.link_rtt.us = calloc(HIST_US, sizeof *b.link_rtt.us);
	/* Room for every REPORT held back: a connect time's links, twice. */
	b.pend_cap = (uint32_t)(((uint64_t)b.link_rate * b.connect_ms /
	    1000 + 1024) * 2);
	b.pend = calloc(b.pend_cap, sizeof *b.pend);
	if (b.fd == NULL || b.rtt.us == NULL || b.link_rtt.us == NULL ||
	    b.pend == NULL)
		die("calloc");
	if (binding) {
		if ((b.local = calloc(b.nsockets, sizeof *b.local)) == NULL)
			die("calloc");
		open_sockets(&b);
		return binding_run(&b);
	}
	return load_run(&b, path, port, threads);
}
