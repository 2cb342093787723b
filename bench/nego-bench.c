/*
 * nego-bench: drives a treecast-negotiator from loopback with N simulated
 * clients, each registered with its own credential and then sending an
 * authenticated keepalive every T seconds, spread over many source
 * addresses and ports; prints requests/s achieved, loss, p50 and p99
 * response time (request sent to answer received by the kernel), the
 * negotiator's CPU and its memory per registered client.
 *
 *   nego-bench --negotiator PATH [--clients N] [--interval S]
 *              [--duration S] [--sockets K]
 *
 * It starts the negotiator itself (on 127.0.0.1, a free port) so that it
 * can read its CPU time and memory from /proc. One thread: the load
 * generator shares the machine with the server, as the paper's did not.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "net/ctl.h"
#include "net/nat.h"
#include "net/opt.h"
#include "net/proto.h"
#include "net/stun.h"

#define BATCH		64
#define HIST_US		1000000		/* latency histogram: 1 us buckets up to 1 s */

struct client {
	uint64_t	session;
	uint64_t	reg_sent;	/* time of the latest register request:
					   only its answer counts, an earlier
					   one's credential is already void */
	uint32_t	seq;
	uint8_t		key[TC_KEY_LEN];
	uint8_t		registered;
};

struct bench {
	uint32_t	 nclients, nsockets, interval_s, duration_s;
	struct client	*c;
	int		*fd;
	int		 ep;
	int		 gso;
	struct sockaddr_in server;
	pid_t		 pid;
	uint32_t	*hist;		/* latency, us */
	uint64_t	 sent, received, errors, late, superseded;
	uint64_t	 hist_n;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Request timestamps are CLOCK_REALTIME, the clock of the kernel's receive
 * timestamps (SO_TIMESTAMPNS): the response time is then from the request
 * leaving the generator to its answer reaching the generator's socket, and
 * excludes the time the generator itself takes to get round to reading it
 * (it shares the two cores with the server).
 */
static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "nego-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* CPU seconds (user + system) and resident bytes of a process. */
static void
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

/* Client i's socket: clients are laid out socket-major, so that a run of
 * consecutive clients shares one socket and one sendmmsg. */
static int
client_sock(const struct bench *b, uint32_t i)
{
	uint32_t per = (b->nclients + b->nsockets - 1) / b->nsockets;

	return (int)(i / per);
}

/* The transaction id carries the client and the send time. */
static void
make_tid(uint8_t tid[12], uint32_t client, uint64_t t)
{
	memcpy(tid, &client, 4);
	memcpy(tid + 4, &t, 8);
}

static int
build_register(uint8_t *buf, size_t cap, struct bench *bb, uint32_t i)
{
	struct stun_builder b;
	struct nat_profile profile = { NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED,
	    NAT_FILTER_APDF, 0, 0, 0 };
	uint8_t tid[12], prof[NAT_PROFILE_WIRE_LEN];
	struct sockaddr_in in;
	uint64_t node_id = 0x5eed000000000000ULL + i + 1;

	make_tid(tid, i, wall_ns());
	memcpy(&bb->c[i].reg_sent, tid + 4, 8);
	stun_build_init(&b, buf, cap, TC_METHOD_REGISTER, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, node_id);
	stun_put(&b, TC_ATTR_CHANNEL, "bench", 5);
	stun_put_u32(&b, TC_ATTR_ROLE, TC_ROLE_PEER);
	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(0x0a000000u + i);
	in.sin_port = htons(40000);
	stun_put_xor_address(&b, TC_ATTR_XOR_INTERNAL, (struct sockaddr *)&in);
	nat_profile_encode(&profile, prof);
	stun_put(&b, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	ctl_put_padding(&b, TC_REGISTER_MIN);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

static int
build_keepalive(uint8_t *buf, size_t cap, struct bench *bb, uint32_t i)
{
	struct stun_builder b;
	struct client *c = &bb->c[i];
	uint8_t tid[12];

	make_tid(tid, i, wall_ns());
	stun_build_init(&b, buf, cap, TC_METHOD_KEEPALIVE, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_SESSION, c->session);
	stun_put_u32(&b, TC_ATTR_SEQ, ++c->seq);
	stun_put_integrity_sha256(&b, c->key, sizeof c->key);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/*
 * Keepalives of consecutive clients on one socket all have the same length
 * and destination: the load generator hands them to the kernel as one UDP
 * GSO send (UDP_SEGMENT), which the kernel cuts into one datagram each. This
 * only makes the generator cheaper; the negotiator sees the same datagrams.
 */
static void
send_keepalives_gso(struct bench *b, uint32_t from, uint32_t to)
{
	static uint8_t buf[BATCH * 128];
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	uint32_t i = from;
	size_t off;
	uint16_t seg = 0;
	int s, len, n;

	while (i < to) {
		s = client_sock(b, i);
		for (n = 0, off = 0; n < BATCH && i < to &&
		    client_sock(b, i) == s; i++) {
			if (!b->c[i].registered)
				continue;
			len = build_keepalive(buf + off, 128, b, i);
			if (len < 0 || (seg != 0 && len != seg))
				continue;
			seg = (uint16_t)len;
			off += (size_t)len;
			n++;
		}
		if (n == 0)
			continue;
		memset(&mh, 0, sizeof mh);
		iov.iov_base = buf;
		iov.iov_len = off;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof ctl.buf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof seg);
		memcpy(CMSG_DATA(cm), &seg, sizeof seg);
		while (sendmsg(b->fd[s], &mh, 0) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct timespec ts = { 0, 50000 };

				nanosleep(&ts, NULL);
				continue;
			}
			die("sendmsg (UDP GSO)");
		}
		b->sent += (uint64_t)n;
	}
}

/* Sends clients [from, to) one kind of request, batched per socket. */
static void
send_range(struct bench *b, uint32_t from, uint32_t to, int reg)
{
	static uint8_t bufs[BATCH][STUN_MAX_MSG];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	uint32_t i = from;
	int n, s, len, k;

	while (i < to) {
		s = client_sock(b, i);
		for (n = 0; n < BATCH && i < to && client_sock(b, i) == s; i++) {
			if (reg && b->c[i].registered)
				continue;
			if (!reg && !b->c[i].registered)
				continue;
			len = reg ? build_register(bufs[n], sizeof bufs[n], b, i) :
			    build_keepalive(bufs[n], sizeof bufs[n], b, i);
			if (len < 0)
				continue;
			iov[n].iov_base = bufs[n];
			iov[n].iov_len = (size_t)len;
			memset(&mm[n], 0, sizeof mm[n]);
			mm[n].msg_hdr.msg_iov = &iov[n];
			mm[n].msg_hdr.msg_iovlen = 1;
			n++;
		}
		for (k = 0; k < n;) {
			int r = sendmmsg(b->fd[s], mm + k, (unsigned)(n - k), 0);

			if (r <= 0) {
				if (errno == EAGAIN || errno == ENOBUFS) {
					struct timespec ts = { 0, 50000 };

					nanosleep(&ts, NULL);
					continue;
				}
				die("sendmmsg");
			}
			k += r;
		}
		b->sent += (uint64_t)n;
	}
}

/* Reads the answers waiting, waiting up to ms for the first; records
 * latencies. Returns how many datagrams it read. */
static uint64_t
drain(struct bench *b, int ms, int measure)
{
	uint64_t before = b->received + b->errors + b->superseded;
	static uint8_t bufs[BATCH][STUN_MAX_MSG];
	static union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct timespec))];
	} ctl[BATCH];
	struct epoll_event evs[256];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct cmsghdr *cm;
	int nev, e, n, j;

	nev = epoll_wait(b->ep, evs, 256, ms);
	for (e = 0; e < nev; e++) {
		int fd = evs[e].data.fd;

		for (;;) {
			for (j = 0; j < BATCH; j++) {
				iov[j].iov_base = bufs[j];
				iov[j].iov_len = sizeof bufs[j];
				memset(&mm[j], 0, sizeof mm[j]);
				mm[j].msg_hdr.msg_iov = &iov[j];
				mm[j].msg_hdr.msg_iovlen = 1;
				mm[j].msg_hdr.msg_control = ctl[j].buf;
				mm[j].msg_hdr.msg_controllen = sizeof ctl[j].buf;
			}
			n = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				break;
			for (j = 0; j < n; j++) {
				struct stun_msg m;
				const struct stun_attr *a;
				uint32_t i;
				uint64_t t, us, arrived;

				if (stun_parse(bufs[j], mm[j].msg_len, &m,
				    NULL) != 0) {
					b->errors++;
					continue;
				}
				memcpy(&i, m.tid, 4);
				memcpy(&t, m.tid + 4, 8);
				if (i >= b->nclients || m.cls != STUN_SUCCESS) {
					b->errors++;
					continue;
				}
				b->received++;
				if (m.method == TC_METHOD_REGISTER &&
				    t != b->c[i].reg_sent) {
					b->superseded++;
					continue;
				}
				if (m.method == TC_METHOD_REGISTER &&
				    !b->c[i].registered) {
					if ((a = stun_find(&m,
					    TC_ATTR_SESSION_KEY)) == NULL ||
					    a->len != TC_KEY_LEN) {
						b->errors++;
						continue;
					}
					memcpy(b->c[i].key, a->value,
					    TC_KEY_LEN);
					if ((a = stun_find(&m,
					    TC_ATTR_SESSION)) == NULL ||
					    stun_attr_u64(a,
					    &b->c[i].session) != 0) {
						b->errors++;
						continue;
					}
					b->c[i].registered = 1;
				}
				if (!measure)
					continue;
				arrived = 0;
				for (cm = CMSG_FIRSTHDR(&mm[j].msg_hdr);
				    cm != NULL;
				    cm = CMSG_NXTHDR(&mm[j].msg_hdr, cm)) {
					struct timespec ts;

					if (cm->cmsg_level != SOL_SOCKET ||
					    cm->cmsg_type != SCM_TIMESTAMPNS)
						continue;
					memcpy(&ts, CMSG_DATA(cm), sizeof ts);
					arrived = (uint64_t)ts.tv_sec *
					    1000000000ULL + (uint64_t)ts.tv_nsec;
				}
				if (arrived == 0)
					arrived = wall_ns();
				us = arrived > t ? (arrived - t) / 1000 : 0;
				if (us >= HIST_US) {
					b->late++;
					us = HIST_US - 1;
				}
				b->hist[us]++;
				b->hist_n++;
			}
		}
	}
	return b->received + b->errors + b->superseded - before;
}

/* Reads answers until none has come for quiet_ms. */
static void
drain_quiet(struct bench *b, int quiet_ms, int measure)
{
	while (drain(b, quiet_ms, measure) > 0)
		;
}

static double
percentile(const struct bench *b, double q)
{
	uint64_t want = (uint64_t)(q * (double)b->hist_n), acc = 0;
	uint32_t us;

	for (us = 0; us < HIST_US; us++) {
		acc += b->hist[us];
		if (acc > want)
			return us / 1000.0;
	}
	return HIST_US / 1000.0;
}

static pid_t
start_negotiator(const char *path, uint16_t port, uint32_t max_nodes,
    uint32_t interval_s)
{
	char listen[32], nodes[16], interval[16], expire[16];
	pid_t pid;

	snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
	snprintf(nodes, sizeof nodes, "%u", max_nodes);
	snprintf(interval, sizeof interval, "%u", interval_s * 1000);
	snprintf(expire, sizeof expire, "%u", interval_s * 4);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		execl(path, path, "--listen", listen, "--no-http",
		    "--max-nodes", nodes, "--interval", interval, "--expire",
		    expire, "--stats", "0", "--log-level", "warn", (char *)NULL);
		fprintf(stderr, "nego-bench: cannot run %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	return pid;
}

enum { OPT_NEGOTIATOR = 'n', OPT_CLIENTS = 'c', OPT_INTERVAL = 'i',
    OPT_DURATION = 'd', OPT_SOCKETS = 's', OPT_PORT = 'p', OPT_NO_GSO = 256 };

static const struct opt options[] = {
	{ "negotiator", OPT_NEGOTIATOR, "PATH",
	  "the treecast-negotiator binary (default ./treecast-negotiator)" },
	{ "clients", OPT_CLIENTS, "N", "simulated clients (default 600000)" },
	{ "interval", OPT_INTERVAL, "SECONDS",
	  "keepalive interval T (default 3)" },
	{ "duration", OPT_DURATION, "SECONDS",
	  "how long to measure keepalives (default 30)" },
	{ "sockets", OPT_SOCKETS, "K",
	  "client sockets, over many 127.x addresses (default 1000)" },
	{ "port", OPT_PORT, "PORT", "the negotiator's port (default 34780)" },
	{ "no-gso", OPT_NO_GSO, NULL,
	  "send keepalives with sendmmsg, not UDP GSO (a costlier generator)" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

static unsigned long
num(const char *name, const char *text, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "nego-bench: --%s '%s': expected %lu to %lu\n",
		    name, text, min, max);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct opt_state st;
	struct rlimit rl;
	const char *path = "./treecast-negotiator";
	uint16_t port = 34780;
	uint32_t i, done, tick_per, ticks, t0s;
	uint64_t start, next, end, sent0, recv0;
	double cpu0, cpu1;
	long rss0, rss1, rss_idle;
	int key, s;

	memset(&b, 0, sizeof b);
	b.nclients = 600000;
	b.interval_s = 3;
	b.duration_s = 30;
	b.nsockets = 1000;
	b.gso = 1;
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_NEGOTIATOR:
			path = optarg;
			break;
		case OPT_CLIENTS:
			b.nclients = (uint32_t)num("clients", optarg, 1, 4000000);
			break;
		case OPT_INTERVAL:
			b.interval_s = (uint32_t)num("interval", optarg, 1, 60);
			break;
		case OPT_DURATION:
			b.duration_s = (uint32_t)num("duration", optarg, 1, 3600);
			break;
		case OPT_SOCKETS:
			b.nsockets = (uint32_t)num("sockets", optarg, 1, 60000);
			break;
		case OPT_PORT:
			port = (uint16_t)num("port", optarg, 1, 65535);
			break;
		case OPT_NO_GSO:
			b.gso = 0;
			break;
		case '?':
			return 2;
		default:
			opt_common(key, "nego-bench", "[options]",
			    "Drives a treecast-negotiator with N clients sending "
			    "authenticated keepalives\nevery T seconds and prints "
			    "what it measured.", options);
			break;
		}
	}
	if (b.nsockets > b.nclients)
		b.nsockets = b.nclients;
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = b.nsockets + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("setrlimit");
	b.c = calloc(b.nclients, sizeof *b.c);
	b.fd = calloc(b.nsockets, sizeof *b.fd);
	b.hist = calloc(HIST_US, sizeof *b.hist);
	if (b.c == NULL || b.fd == NULL || b.hist == NULL)
		die("calloc");
	memset(&b.server, 0, sizeof b.server);
	b.server.sin_family = AF_INET;
	b.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b.server.sin_port = htons(port);

	b.pid = start_negotiator(path, port, b.nclients + 1024, b.interval_s);
	if ((b.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (s = 0; s < (int)b.nsockets; s++) {
		struct sockaddr_in in;
		struct epoll_event ev;
		int size = 1 << 20, one = 1;

		b.fd[s] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (b.fd[s] == -1)
			die("socket");
		setsockopt(b.fd[s], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
		setsockopt(b.fd[s], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
		memset(&in, 0, sizeof in);
		in.sin_family = AF_INET;
		/* 127.1.x.y: a source address for every 250 sockets. */
		in.sin_addr.s_addr = htonl(0x7f010000u |
		    (uint32_t)((s / 250) << 8) | (uint32_t)(1 + s % 250));
		if (bind(b.fd[s], (struct sockaddr *)&in, sizeof in) != 0)
			die("bind");
		/* Connected: the kernel routes once, not per datagram. */
		if (connect(b.fd[s], (struct sockaddr *)&b.server,
		    sizeof b.server) != 0)
			die("connect");
		ev.events = EPOLLIN;
		ev.data.fd = b.fd[s];
		epoll_ctl(b.ep, EPOLL_CTL_ADD, b.fd[s], &ev);
	}
	usleep(300000);
	proc_usage(b.pid, &cpu0, &rss0);
	if (rss0 == 0) {
		fprintf(stderr, "nego-bench: the negotiator did not start\n");
		return 1;
	}
	rss_idle = rss0;

	/* Registration, in waves, until everyone holds a credential. */
	fprintf(stderr, "registering %u clients over %u sockets...\n",
	    b.nclients, b.nsockets);
	start = now_ns();
	for (done = 0; done < b.nclients;) {
		uint32_t wave = 4096;

		for (i = 0; i < b.nclients; i += wave) {
			send_range(&b, i, i + wave < b.nclients ? i + wave :
			    b.nclients, 1);
			drain(&b, 0, 0);
		}
		drain_quiet(&b, 200, 0);
		for (done = 0, i = 0; i < b.nclients; i++)
			done += b.c[i].registered;
		fprintf(stderr, "  %u of %u registered\n", done, b.nclients);
		if (now_ns() - start > 300ULL * 1000000000ULL) {
			fprintf(stderr, "nego-bench: registration stalled\n");
			kill(b.pid, SIGTERM);
			return 1;
		}
	}
	fprintf(stderr, "registered in %.1f s\n",
	    (double)(now_ns() - start) / 1e9);
	proc_usage(b.pid, &cpu1, &rss1);
	{
		long rss_reg = rss1;

		/* Keepalives: N/T a second, paced in 1 ms ticks. */
		ticks = b.interval_s * 1000;
		tick_per = (b.nclients + ticks - 1) / ticks;
		b.sent = b.received = 0;
		memset(b.hist, 0, HIST_US * sizeof *b.hist);
		b.hist_n = 0;
		proc_usage(b.pid, &cpu0, &rss0);
		start = now_ns();
		end = start + (uint64_t)b.duration_s * 1000000000ULL;
		next = start;
		i = 0;
		t0s = 0;
		fprintf(stderr, "keepalives: %u clients every %u s for %u s\n",
		    b.nclients, b.interval_s, b.duration_s);
		while (now_ns() < end) {
			uint64_t now = now_ns();

			while (next <= now) {
				uint32_t to = i + tick_per;

				if (to > b.nclients)
					to = b.nclients;
				if (b.gso)
					send_keepalives_gso(&b, i, to);
				else
					send_range(&b, i, to, 0);
				i = to >= b.nclients ? 0 : to;
				next += 1000000;
			}
			drain(&b, 1, 1);
			if ((now - start) / 1000000000ULL >= t0s + 5) {
				t0s = (uint32_t)((now - start) / 1000000000ULL);
				fprintf(stderr, "  %u s: %" PRIu64 " sent, %"
				    PRIu64 " answered\n", t0s, b.sent,
				    b.received);
			}
		}
		sent0 = b.sent;
		/* Answers still in flight. */
		drain_quiet(&b, 500, 1);
		recv0 = b.received;
		proc_usage(b.pid, &cpu1, &rss1);
		kill(b.pid, SIGTERM);
		waitpid(b.pid, NULL, 0);

		printf("%-34s %14s\n", "figure", "value");
		printf("%-34s %14u\n", "clients", b.nclients);
		printf("%-34s %14u\n", "client sockets", b.nsockets);
		printf("%-34s %14u s\n", "keepalive interval", b.interval_s);
		printf("%-34s %14.0f /s\n", "offered keepalives",
		    (double)sent0 / b.duration_s);
		printf("%-34s %14.0f /s\n", "answered keepalives",
		    (double)recv0 / b.duration_s);
		printf("%-34s %14.4f %%\n", "loss",
		    sent0 ? 100.0 * (double)(sent0 - recv0) / (double)sent0 : 0);
		printf("%-34s %14.3f ms\n", "p50 response time",
		    percentile(&b, 0.50));
		printf("%-34s %14.3f ms\n", "p99 response time",
		    percentile(&b, 0.99));
		printf("%-34s %14.3f ms\n", "p99.9 response time",
		    percentile(&b, 0.999));
		printf("%-34s %14.1f %%\n", "negotiator CPU (of one core)",
		    100.0 * (cpu1 - cpu0) / b.duration_s);
		printf("%-34s %14.1f MB\n", "negotiator resident memory",
		    (double)rss_reg / 1e6);
		printf("%-34s %14.1f MB\n", "  of which before registration",
		    (double)rss_idle / 1e6);
		printf("%-34s %14.1f bytes\n", "memory per registered client",
		    (double)rss_reg / b.nclients);
		printf("%-34s %14" PRIu64 "\n", "error answers", b.errors);
	}
	return 0;
}
