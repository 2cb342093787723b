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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client/ctl.h"
#include "util/addr.h"
#include "util/opt.h"
#include "wire/nat.h"
#include "wire/proto.h"
#include "wire/stun.h"

#define BATCH		64
#define HIST_US		1000000		/* latency histogram: 1 us buckets up to 1 s */
#define BIND_SOFTWARE	"treecast nego-bench"
#define BIND_MSG_MAX	64	/* room for one Binding request (52 bytes) */
#define BENCH_CHANNEL \
	"be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c"

struct client {
	uint64_t	session;
	uint64_t	reg_sent;	/* time of its first register request,
					   in its transaction id: a client
					   resends that very request (a
					   REGISTER with a new id for a node
					   registered is refused) */
	uint32_t	seq;
	uint8_t		key[TC_KEY_LEN];
	uint8_t		registered;
};

/* Response times, in 1 us buckets up to 1 s. */
struct hist {
	uint32_t	*us;
	uint64_t	 n;
	uint64_t	 late;		/* 1 s or more: in the last bucket */
};

/* A REPORT to send once the link would have connected. */
struct pending {
	uint64_t	due;		/* monotonic ns */
	uint64_t	link;
	uint32_t	a;
};

struct bench {
	uint32_t	 nclients, nsockets, interval_s, duration_s;
	struct client	*c;
	int		*fd;
	int		 ep;
	int		 gso;
	struct sockaddr_in server;
	pid_t		 pid;
	struct hist	 rtt;		/* keepalives' or Bindings' */
	uint64_t	 sent, received, errors, superseded;
	/* --binding only */
	struct sockaddr_in *local;	/* each socket's own address */
	uint32_t	 rate, burst, cursor;
	uint64_t	 error_answers;	/* Binding error responses */
	uint64_t	 bad_mapped;	/* a wrong XOR-MAPPED-ADDRESS */
	/* --links only: brokered links, A = a client, B = its partner */
	uint32_t	 link_rate;	/* LINKs a second */
	uint32_t	 link_cursor;	/* the next A */
	struct hist	 link_rtt;	/* LINK to GO */
	uint64_t	 links_sent, links_go, links_refused, instructs;
	uint64_t	 instructs_bad, reports_sent, reports_ok, reports_err;
	int		 last_refusal;	/* the last error code to a LINK */
	uint32_t	 connect_ms;	/* GO to REPORT, as a link connects */
	struct pending	*pend;		/* REPORTs waiting, oldest first */
	uint32_t	 pend_cap, pend_head, pend_n;
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

/* Records one response time: sent and arrived are CLOCK_REALTIME ns. */
static void
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
static double
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
static void
print_rtt(const struct hist *h)
{
	printf("%-34s %14.3f ms\n", "p50 response time", percentile(h, 0.50));
	printf("%-34s %14.3f ms\n", "p99 response time", percentile(h, 0.99));
	printf("%-34s %14.3f ms\n", "p99.9 response time",
	    percentile(h, 0.999));
	printf("%-34s %14" PRIu64 "\n", "answers of 1 s or more", h->late);
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

/* This process's CPU seconds (user + system): the load generator's. */
static double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * Client i's socket: runs of CLIENT_RUN consecutive clients share a socket
 * (and one send), and consecutive runs go to consecutive sockets. A tick's
 * requests thus come from many sockets, as a real audience's arrive from
 * many hosts at once. With every client of a socket in a row instead, a
 * tick came from one or two sockets, which the kernel's SO_REUSEPORT hash
 * gives to one worker: runs of sockets on one worker left it 15 ms of the
 * whole load while the other slept, and that was most of p99.
 */
#define CLIENT_RUN	16

static int
client_sock(const struct bench *b, uint32_t i)
{
	return (int)((i / CLIENT_RUN) % b->nsockets);
}

/* Client i's node id: NODE_BASE + i + 1. */
#define NODE_BASE	0x5eed000000000000ULL

static uint64_t
client_node(uint32_t i)
{
	return NODE_BASE + i + 1;
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
	uint64_t node_id = client_node(i);

	if (bb->c[i].reg_sent == 0)
		bb->c[i].reg_sent = wall_ns();
	make_tid(tid, i, bb->c[i].reg_sent);
	stun_build_init(&b, buf, cap, TC_METHOD_REGISTER, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, node_id);
	/* A channel named by a key: a peer naming a label needs its
	 * origin. */
	stun_put(&b, TC_ATTR_CHANNEL, BENCH_CHANNEL, sizeof BENCH_CHANNEL - 1);
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
 * --links: client a asks for a link to its partner, half the audience
 * away (another socket), and the partner acknowledges the INSTRUCT as a
 * peer would. The endpoints are made up: nothing is punched here, this
 * measures the negotiator's brokering alone.
 */
static uint32_t
link_partner(const struct bench *b, uint32_t a)
{
	return (a + b->nclients / 2) % b->nclients;
}

static void
bench_endpoint(struct tc_endpoint *ep, uint32_t i)
{
	struct sockaddr_in *in;

	memset(ep, 0, sizeof *ep);
	in = (struct sockaddr_in *)&ep->external;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0xc6120000u + (i & 0xffff));
	in->sin_port = htons((uint16_t)(20000 + i % 40000));
	in = (struct sockaddr_in *)&ep->internal;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0x0a000000u + i);
	in->sin_port = htons(40001);
	ep->ports[0] = (uint16_t)(20000 + i % 40000);
	ep->nports = 1;
}

/* An authenticated request of client i, tid = (i, now): LINK or REPORT. */
static int
build_session_req(uint8_t *buf, size_t cap, struct bench *bb, uint32_t i,
    uint16_t method, uint64_t link)
{
	struct stun_builder b;
	struct client *c = &bb->c[i];
	struct tc_endpoint ep;
	struct tc_outcome o;
	uint8_t tid[12];

	make_tid(tid, i, wall_ns());
	stun_build_init(&b, buf, cap, method, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_SESSION, c->session);
	stun_put_u32(&b, TC_ATTR_SEQ, ++c->seq);
	if (method == TC_METHOD_LINK) {
		stun_put_u64(&b, TC_ATTR_PEER_NODE,
		    client_node(link_partner(bb, i)));
		bench_endpoint(&ep, i);
		tc_put_endpoint(&b, &ep);
	} else {
		memset(&o, 0, sizeof o);
		o.ok = 1;
		o.path = LINK_PATH_DIRECT;
		o.ms = 100;
		stun_put_u64(&b, TC_ATTR_LINK, link);
		tc_put_outcome(&b, &o);
	}
	stun_put_integrity_sha256(&b, c->key, sizeof c->key);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/* Waits a little for room in a full socket buffer. */
static void
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
static void
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
static void
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

/*
 * Keepalives of consecutive clients on one socket all have the same length
 * and destination: the load generator hands them to the kernel as one UDP
 * GSO send.
 */
static void
send_keepalives_gso(struct bench *b, uint32_t from, uint32_t to)
{
	static uint8_t buf[BATCH * 128];
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
		send_gso(b->fd[s], buf, off, seg);
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
	int n, s, len;

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
		send_mmsg(b->fd[s], mm, n);
		b->sent += (uint64_t)n;
	}
}

/* One datagram from client i's socket. */
static void
send_one(struct bench *b, uint32_t i, const uint8_t *buf, int len)
{
	if (len < 0)
		return;
	while (send(b->fd[client_sock(b, i)], buf, (size_t)len, 0) < 0)
		send_backoff("send");
}

/* LINKs due by now, at link_rate a second since start. */
static void
send_links(struct bench *b, uint64_t start, uint64_t now)
{
	uint8_t buf[STUN_MAX_MSG];
	uint64_t due = (now - start) / 1000000ULL * b->link_rate / 1000;
	uint32_t a, tried;

	for (tried = 0; b->links_sent < due && tried < b->nclients; tried++) {
		a = b->link_cursor;
		b->link_cursor = (b->link_cursor + 1) % b->nclients;
		if (!b->c[a].registered ||
		    !b->c[link_partner(b, a)].registered)
			continue;
		send_one(b, a, buf, build_session_req(buf, sizeof buf, b, a,
		    TC_METHOD_LINK, 0));
		b->links_sent++;
	}
}

/* B's side: an INSTRUCT, checked under B's key and acknowledged. */
static void
answer_instruct(struct bench *b, struct stun_msg *m)
{
	struct stun_builder sb;
	struct tc_endpoint ep;
	uint8_t buf[STUN_MAX_MSG];
	uint64_t peer, link;
	uint32_t a, p;

	if (stun_attr_u64(stun_find(m, TC_ATTR_PEER_NODE), &peer) != 0 ||
	    stun_attr_u64(stun_find(m, TC_ATTR_LINK), &link) != 0 ||
	    peer <= NODE_BASE || peer - NODE_BASE > b->nclients) {
		b->instructs_bad++;
		return;
	}
	a = (uint32_t)(peer - NODE_BASE - 1);
	p = link_partner(b, a);
	if (stun_check_integrity_sha256(m, b->c[p].key,
	    sizeof b->c[p].key) != 0) {
		b->instructs_bad++;
		return;
	}
	b->instructs++;
	stun_build_init(&sb, buf, sizeof buf, TC_METHOD_INSTRUCT,
	    STUN_SUCCESS, m->tid);
	bench_endpoint(&ep, p);
	tc_put_endpoint(&sb, &ep);
	stun_put_u64(&sb, TC_ATTR_LINK, link);
	stun_put_integrity_sha256(&sb, b->c[p].key, sizeof b->c[p].key);
	stun_put_fingerprint(&sb);
	send_one(b, p, buf, stun_build_finish(&sb));
}

/* A's side: the answer to its LINK; a GO is timed and reported on. */
static void
link_answered(struct bench *b, struct stun_msg *m, uint32_t a, uint64_t sent,
    uint64_t arrived)
{
	uint8_t buf[STUN_MAX_MSG];
	struct pending *p;
	const char *reason;
	size_t rlen;
	uint64_t link;
	int code;

	if (m->cls != STUN_SUCCESS ||
	    stun_attr_u64(stun_find(m, TC_ATTR_LINK), &link) != 0) {
		b->links_refused++;
		if (stun_attr_error_code(stun_find(m, STUN_ATTR_ERROR_CODE),
		    &code, &reason, &rlen) == 0)
			b->last_refusal = code;
		return;
	}
	b->links_go++;
	hist_add(&b->link_rtt, sent, arrived);
	if (b->connect_ms == 0 || b->pend_n == b->pend_cap) {
		send_one(b, a, buf, build_session_req(buf, sizeof buf, b, a,
		    TC_METHOD_REPORT, link));
		b->reports_sent++;
		return;
	}
	p = &b->pend[(b->pend_head + b->pend_n++) % b->pend_cap];
	p->due = now_ns() + (uint64_t)b->connect_ms * 1000000ULL;
	p->link = link;
	p->a = a;
}

/* The REPORTs whose links have connected by now. */
static void
send_reports(struct bench *b)
{
	uint8_t buf[STUN_MAX_MSG];
	uint64_t now = now_ns();
	struct pending *p;

	while (b->pend_n > 0) {
		p = &b->pend[b->pend_head];
		if (p->due > now)
			break;
		send_one(b, p->a, buf, build_session_req(buf, sizeof buf, b,
		    p->a, TC_METHOD_REPORT, p->link));
		b->reports_sent++;
		b->pend_head = (b->pend_head + 1) % b->pend_cap;
		b->pend_n--;
	}
}

/* When the kernel received a datagram (SO_TIMESTAMPNS), or now. */
static uint64_t
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
	int nev, e, n, j;

	nev = epoll_wait(b->ep, evs, 256, ms);
	for (e = 0; e < nev; e++) {
		int fd = b->fd[evs[e].data.u32];

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
				uint64_t t;

				if (stun_parse(bufs[j], mm[j].msg_len, &m,
				    NULL) != 0) {
					b->errors++;
					continue;
				}
				if (m.method == TC_METHOD_INSTRUCT &&
				    m.cls == STUN_REQUEST) {
					answer_instruct(b, &m);
					continue;
				}
				memcpy(&i, m.tid, 4);
				memcpy(&t, m.tid + 4, 8);
				if (i < b->nclients &&
				    m.method == TC_METHOD_LINK) {
					link_answered(b, &m, i, t,
					    rx_time(&mm[j].msg_hdr));
					continue;
				}
				if (i < b->nclients &&
				    m.method == TC_METHOD_REPORT) {
					b->reports_ok += m.cls == STUN_SUCCESS;
					b->reports_err += m.cls != STUN_SUCCESS;
					continue;
				}
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
				if (measure)
					hist_add(&b->rtt, t,
					    rx_time(&mm[j].msg_hdr));
			}
		}
	}
	return b->received + b->errors + b->superseded - before;
}

/* Sleeps until the monotonic time t (ns). */
static void
sleep_until(uint64_t t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1000000000ULL);
	ts.tv_nsec = (long)(t % 1000000000ULL);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* Reads answers until none has come for quiet_ms. */
static void
drain_quiet(struct bench *b, int quiet_ms, int measure)
{
	while (drain(b, quiet_ms, measure) > 0)
		;
}

static pid_t
start_negotiator(const char *path, uint16_t port, uint32_t max_nodes,
    uint32_t interval_s, uint32_t threads)
{
	char listen[32], nodes[16], interval[16], expire[16], nthreads[16];
	pid_t pid;

	snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
	snprintf(nodes, sizeof nodes, "%u", max_nodes);
	snprintf(interval, sizeof interval, "%u", interval_s * 1000);
	snprintf(expire, sizeof expire, "%u", interval_s * 4);
	/* 0: the negotiator's own default, one worker per CPU. */
	snprintf(nthreads, sizeof nthreads, "%u", threads);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		/* It goes when the bench does, however the bench ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (threads == 0)
			execl(path, path, "--listen", listen, "--no-http",
			    "--max-nodes", nodes, "--interval", interval,
			    "--expire", expire, "--stats", "0", "--log-level",
			    "warn", (char *)NULL);
		else
			execl(path, path, "--listen", listen, "--no-http",
			    "--max-nodes", nodes, "--interval", interval,
			    "--expire", expire, "--stats", "0", "--log-level",
			    "warn", "--threads", nthreads, (char *)NULL);
		fprintf(stderr, "nego-bench: cannot run %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	return pid;
}

/*
 * A plain Binding request (RFC 8489 §7.3, no credential), with a SOFTWARE
 * attribute and FINGERPRINT as treecast's own clients send (52 bytes:
 * room for a treecast negotiator's whole answer, XOR-MAPPED-ADDRESS and
 * FINGERPRINT, within twice the request; other servers ignore SOFTWARE,
 * comprehension-optional). The transaction id carries the socket and the
 * send time.
 */
static int
build_binding(uint8_t *buf, size_t cap, uint32_t sock)
{
	struct stun_builder b;
	uint8_t tid[12];

	make_tid(tid, sock, wall_ns());
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_REQUEST, tid);
	stun_put(&b, STUN_ATTR_SOFTWARE, BIND_SOFTWARE,
	    (uint16_t)(sizeof BIND_SOFTWARE - 1));
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/* Sends n Binding requests, b->burst of them from each socket in turn.
 * Every request has the same length: with GSO, one send per socket. */
static void
send_bindings(struct bench *b, uint64_t n)
{
	static uint8_t buf[BATCH * BIND_MSG_MAX];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	uint32_t s, k;
	size_t off;
	int len = 0;

	while (n > 0) {
		s = b->cursor;
		b->cursor = (s + 1) % b->nsockets;
		for (k = 0, off = 0; k < b->burst && k < n; k++) {
			len = build_binding(buf + off, BIND_MSG_MAX, s);
			if (len < 0) {
				fprintf(stderr, "nego-bench: cannot build a "
				    "Binding request\n");
				exit(1);
			}
			iov[k].iov_base = buf + off;
			iov[k].iov_len = (size_t)len;
			memset(&mm[k], 0, sizeof mm[k]);
			mm[k].msg_hdr.msg_iov = &iov[k];
			mm[k].msg_hdr.msg_iovlen = 1;
			off += (size_t)len;
		}
		if (b->gso)
			send_gso(b->fd[s], buf, off, (uint16_t)len);
		else
			send_mmsg(b->fd[s], mm, (int)k);
		b->sent += k;
		n -= k;
	}
}

/*
 * Reads the Binding answers waiting, waiting up to ms for the first. An
 * answer counts only if it is a Binding success to a request of the socket
 * it came to, with that socket's own address in XOR-MAPPED-ADDRESS.
 * Returns how many datagrams it read.
 */
static uint64_t
drain_binding(struct bench *b, int ms)
{
	static uint8_t bufs[BATCH][STUN_MAX_MSG];
	static union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct timespec))];
	} ctl[BATCH];
	struct epoll_event evs[256];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	uint64_t got = 0;
	int nev, e, n, j;

	nev = epoll_wait(b->ep, evs, 256, ms);
	for (e = 0; e < nev; e++) {
		uint32_t s = evs[e].data.u32;

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
			n = recvmmsg(b->fd[s], mm, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				break;
			got += (uint64_t)n;
			for (j = 0; j < n; j++) {
				struct stun_msg m;
				const struct stun_attr *a;
				struct sockaddr_storage mapped;
				uint32_t i;
				uint64_t t;

				if (stun_parse(bufs[j], mm[j].msg_len, &m,
				    NULL) != 0 || m.method != STUN_METHOD_BINDING) {
					b->errors++;
					continue;
				}
				memcpy(&i, m.tid, 4);
				memcpy(&t, m.tid + 4, 8);
				if (i != s) {
					b->errors++;
					continue;
				}
				if (m.cls == STUN_ERROR) {
					b->error_answers++;
					continue;
				}
				if (m.cls != STUN_SUCCESS) {
					b->errors++;
					continue;
				}
				if ((a = stun_find(&m,
				    STUN_ATTR_XOR_MAPPED_ADDRESS)) == NULL ||
				    stun_attr_xor_address(&m, a, &mapped,
				    NULL) != 0 ||
				    !addr_equal((struct sockaddr *)&mapped,
				    (struct sockaddr *)&b->local[s])) {
					b->bad_mapped++;
					continue;
				}
				b->received++;
				hist_add(&b->rtt, t,
				    rx_time(&mm[j].msg_hdr));
			}
		}
	}
	return got;
}

/* The Binding load: b->rate requests a second for b->duration_s. */
static int
binding_run(struct bench *b)
{
	char server[ADDR_STRLEN];
	uint64_t start, end, now, due, cap, skipped = 0, sent0;
	uint32_t t0s = 0;
	double cpu0 = 0, cpu1 = 0;
	long rss;

	addr_format((struct sockaddr *)&b->server, server, sizeof server);
	if (b->pid != 0)
		proc_usage(b->pid, &cpu0, &rss);
	fprintf(stderr, "binding: %u requests/s to %s from %u sockets for "
	    "%u s\n", b->rate, server, b->nsockets, b->duration_s);
	/* At most 10 ms of requests at once after a stall: a generator
	 * that falls further behind offers less, and says so. */
	cap = b->rate / 100 + b->burst;
	start = now_ns();
	end = start + (uint64_t)b->duration_s * 1000000000ULL;
	while ((now = now_ns()) < end) {
		due = (now - start) / 1000 * b->rate / 1000000 - skipped;
		if (due > b->sent) {
			if (due - b->sent > cap) {
				skipped += due - b->sent - cap;
				due = b->sent + cap;
			}
			send_bindings(b, due - b->sent);
		}
		drain_binding(b, 1);
		if ((now - start) / 1000000000ULL >= t0s + 5) {
			t0s = (uint32_t)((now - start) / 1000000000ULL);
			fprintf(stderr, "  %u s: %" PRIu64 " sent, %" PRIu64
			    " answered\n", t0s, b->sent, b->received);
		}
	}
	if (b->pid != 0)
		proc_usage(b->pid, &cpu1, &rss);
	sent0 = b->sent;
	/* Answers still in flight. */
	while (drain_binding(b, 500) > 0)
		;

	printf("%-34s %14s\n", "figure", "value");
	printf("%-34s %14s\n", "server", server);
	printf("%-34s %14u\n", "client sockets", b->nsockets);
	printf("%-34s %14u\n", "  on distinct /24s", (ntohl(
	    b->server.sin_addr.s_addr) >> 24) == 127 ? b->nsockets : 1);
	printf("%-34s %14u /s\n", "target rate", b->rate);
	printf("%-34s %14.0f /s\n", "offered Binding requests",
	    (double)sent0 / b->duration_s);
	printf("%-34s %14.0f /s\n", "answered Binding requests",
	    (double)b->received / b->duration_s);
	printf("%-34s %14.4f %%\n", "loss", sent0 > b->received ?
	    100.0 * (double)(sent0 - b->received) / (double)sent0 : 0);
	print_rtt(&b->rtt);
	if (b->pid != 0)
		printf("%-34s %14.1f %%\n", "server CPU (of one core)",
		    100.0 * (cpu1 - cpu0) / b->duration_s);
	printf("%-34s %14" PRIu64 "\n", "error answers", b->error_answers);
	printf("%-34s %14" PRIu64 "\n", "wrong XOR-MAPPED-ADDRESS",
	    b->bad_mapped);
	printf("%-34s %14" PRIu64 "\n", "other bad datagrams", b->errors);
	return 0;
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
static void
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

static void
print_links(const struct bench *b)
{
	double d = b->duration_s;

	printf("%-34s %14.0f /s\n", "links asked (LINK)",
	    (double)b->links_sent / d);
	printf("%-34s %14.0f /s\n", "links brokered (GO)",
	    (double)b->links_go / d);
	printf("%-34s %14.4f %%\n", "links lost",
	    b->links_sent ? 100.0 * (double)(b->links_sent - b->links_go -
	    b->links_refused) / (double)b->links_sent : 0);
	printf("%-34s %14" PRIu64 "\n", "links refused", b->links_refused);
	if (b->links_refused > 0)
		printf("%-34s %14d\n", "  the last refusal's code",
		    b->last_refusal);
	printf("%-34s %14.3f ms\n", "p50 LINK to GO",
	    percentile(&b->link_rtt, 0.50));
	printf("%-34s %14.3f ms\n", "p99 LINK to GO",
	    percentile(&b->link_rtt, 0.99));
	printf("%-34s %14" PRIu64 "\n", "INSTRUCTs acknowledged",
	    b->instructs);
	printf("%-34s %14" PRIu64 "\n", "INSTRUCTs bad", b->instructs_bad);
	printf("%-34s %14" PRIu64 " of %" PRIu64 "\n", "REPORTs answered",
	    b->reports_ok, b->reports_sent);
	printf("%-34s %14" PRIu64 "\n", "REPORTs refused", b->reports_err);
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
	uint32_t threads = 0, i, done, tick_per, ticks, t0s;
	uint64_t start, next, end, sent0, recv0;
	double cpu0, cpu1, gen0, gen1;
	long rss0, rss1, rss_idle;
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
	if ((b.c = calloc(b.nclients, sizeof *b.c)) == NULL)
		die("calloc");
	b.server.sin_port = htons(port);

	b.pid = start_negotiator(path, port, b.nclients + 1024, b.interval_s,
	    threads);
	open_sockets(&b);
	usleep(300000);
	proc_usage(b.pid, &cpu0, &rss0);
	if (rss0 == 0) {
		fprintf(stderr, "nego-bench: the negotiator did not start\n");
		return 1;
	}
	rss_idle = rss0;

	/* Registration, in waves, until everyone holds a credential. */
	fprintf(stderr, "registering %u clients over %u sockets, each on a "
	    "/24 of its own (the negotiator's default budget of "
	    "unauthenticated answers, a /24)...\n", b.nclients, b.nsockets);
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
		memset(b.rtt.us, 0, HIST_US * sizeof *b.rtt.us);
		b.rtt.n = b.rtt.late = 0;
		proc_usage(b.pid, &cpu0, &rss0);
		gen0 = self_cpu();
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
			if (b.link_rate > 0) {
				send_links(&b, start, now);
				send_reports(&b);
			}
			/* Answers are timed by the kernel as they arrive, so
			 * they are read once a tick, not as each comes: a
			 * generator woken per answer costs both sides a
			 * wakeup and a switch per datagram or two. */
			sleep_until(next);
			while (drain(&b, 0, 1) > 0)
				;
			if ((now - start) / 1000000000ULL >= t0s + 5) {
				t0s = (uint32_t)((now - start) / 1000000000ULL);
				fprintf(stderr, "  %u s: %" PRIu64 " sent, %"
				    PRIu64 " answered\n", t0s, b.sent,
				    b.received);
			}
		}
		sent0 = b.sent;
		/* Answers still in flight; then the links' last REPORTs, as
		 * they come due (all at once would be a burst no audience
		 * sends). */
		drain_quiet(&b, 500, 1);
		while (b.pend_n > 0) {
			sleep_until(now_ns() + 1000000);
			send_reports(&b);
			while (drain(&b, 0, 0) > 0)
				;
		}
		drain_quiet(&b, 200, 0);
		recv0 = b.received;
		proc_usage(b.pid, &cpu1, &rss1);
		gen1 = self_cpu();
		kill(b.pid, SIGTERM);
		waitpid(b.pid, NULL, 0);

		printf("%-34s %14s\n", "figure", "value");
		printf("%-34s %14u\n", "clients", b.nclients);
		printf("%-34s %14u\n", "client sockets", b.nsockets);
		printf("%-34s %14u\n", "  on distinct /24s", b.nsockets);
		printf("%-34s %14u s\n", "keepalive interval", b.interval_s);
		printf("%-34s %14.0f /s\n", "offered keepalives",
		    (double)sent0 / b.duration_s);
		printf("%-34s %14.0f /s\n", "answered keepalives",
		    (double)recv0 / b.duration_s);
		printf("%-34s %14.4f %%\n", "loss",
		    sent0 ? 100.0 * (double)(sent0 - recv0) / (double)sent0 : 0);
		print_rtt(&b.rtt);
		printf("%-34s %14.1f %%\n", "negotiator CPU (of one core)",
		    100.0 * (cpu1 - cpu0) / b.duration_s);
		printf("%-34s %14.1f %%\n", "generator CPU (of one core)",
		    100.0 * (gen1 - gen0) / b.duration_s);
		printf("%-34s %14.1f MB\n", "negotiator resident memory",
		    (double)rss_reg / 1e6);
		printf("%-34s %14.1f MB\n", "  of which before registration",
		    (double)rss_idle / 1e6);
		printf("%-34s %14.1f bytes\n", "memory per registered client",
		    (double)rss_reg / b.nclients);
		printf("%-34s %14" PRIu64 "\n", "error answers", b.errors);
		if (b.link_rate > 0)
			print_links(&b);
	}
	return 0;
}
