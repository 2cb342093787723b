/*
 * nego-bench's load generator for a treecast-negotiator: the simulated
 * clients' requests (REGISTER, KEEPALIVE, and with --links LINK, the
 * INSTRUCT's acknowledgement and REPORT), the reader of the answers, and
 * the keepalive benchmark's run and figures.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/client/ctl.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"
#include "bench/nego-bench.h"

#define BENCH_CHANNEL \
	"be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c"

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
	char why[64];
	uint64_t link;
	int code;

	if (m->cls != STUN_SUCCESS ||
	    stun_attr_u64(stun_find(m, TC_ATTR_LINK), &link) != 0) {
		b->links_refused++;
		if ((code = stun_error(m, why, sizeof why)) != 0)
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

/* Reads the answers waiting, waiting up to ms for the first; records
 * latencies. Returns how many datagrams it read. */
static uint64_t
drain(struct bench *b, int ms, int measure)
{
	uint64_t before = b->received + b->errors + b->superseded;
	static struct rx_batch rb;
	struct epoll_event evs[256];
	int nev, e, n, j;

	nev = epoll_wait(b->ep, evs, 256, ms);
	for (e = 0; e < nev; e++) {
		int fd = b->fd[evs[e].data.u32];

		for (;;) {
			n = recv_batch(fd, &rb);
			if (n <= 0)
				break;
			for (j = 0; j < n; j++) {
				struct stun_msg m;
				const struct stun_attr *a;
				uint32_t i;
				uint64_t t;

				if (stun_parse(rb.bufs[j], rb.mm[j].msg_len, &m,
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
					    rx_time(&rb.mm[j].msg_hdr));
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
					    rx_time(&rb.mm[j].msg_hdr));
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

/*
 * The keepalive benchmark: starts the negotiator, registers every client,
 * sends keepalives (and --links' requests) for b->duration_s, and prints
 * the figures.
 */
int
load_run(struct bench *b, const char *path, uint16_t port, uint32_t threads)
{
	uint32_t i, done, tick_per, ticks, t0s;
	uint64_t start, next, end, sent0, recv0;
	double cpu0, cpu1, gen0, gen1;
	long rss0, rss1, rss_idle;

	if ((b->c = calloc(b->nclients, sizeof *b->c)) == NULL)
		die("calloc");
	b->server.sin_port = htons(port);

	b->pid = start_negotiator(path, port, b->nclients + 1024, b->interval_s,
	    threads);
	open_sockets(b);
	usleep(300000);
	proc_usage(b->pid, &cpu0, &rss0);
	if (rss0 == 0) {
		fprintf(stderr, "nego-bench: the negotiator did not start\n");
		return 1;
	}
	rss_idle = rss0;

	/* Registration, in waves, until everyone holds a credential. */
	fprintf(stderr, "registering %u clients over %u sockets, each on a "
	    "/24 of its own (the negotiator's default budget of "
	    "unauthenticated answers, a /24)...\n", b->nclients, b->nsockets);
	start = now_ns();
	for (done = 0; done < b->nclients;) {
		uint32_t wave = 4096;

		for (i = 0; i < b->nclients; i += wave) {
			send_range(b, i, i + wave < b->nclients ? i + wave :
			    b->nclients, 1);
			drain(b, 0, 0);
		}
		drain_quiet(b, 200, 0);
		for (done = 0, i = 0; i < b->nclients; i++)
			done += b->c[i].registered;
		fprintf(stderr, "  %u of %u registered\n", done, b->nclients);
		if (now_ns() - start > 300ULL * 1000000000ULL) {
			fprintf(stderr, "nego-bench: registration stalled\n");
			kill(b->pid, SIGTERM);
			return 1;
		}
	}
	fprintf(stderr, "registered in %.1f s\n",
	    (double)(now_ns() - start) / 1e9);
	proc_usage(b->pid, &cpu1, &rss1);
	{
		long rss_reg = rss1;

		/* Keepalives: N/T a second, paced in 1 ms ticks. */
		ticks = b->interval_s * 1000;
		tick_per = (b->nclients + ticks - 1) / ticks;
		b->sent = b->received = 0;
		memset(b->rtt.us, 0, HIST_US * sizeof *b->rtt.us);
		b->rtt.n = b->rtt.late = 0;
		proc_usage(b->pid, &cpu0, &rss0);
		gen0 = self_cpu();
		start = now_ns();
		end = start + (uint64_t)b->duration_s * 1000000000ULL;
		next = start;
		i = 0;
		t0s = 0;
		fprintf(stderr, "keepalives: %u clients every %u s for %u s\n",
		    b->nclients, b->interval_s, b->duration_s);
		while (now_ns() < end) {
			uint64_t now = now_ns();

			while (next <= now) {
				uint32_t to = i + tick_per;

				if (to > b->nclients)
					to = b->nclients;
				if (b->gso)
					send_keepalives_gso(b, i, to);
				else
					send_range(b, i, to, 0);
				i = to >= b->nclients ? 0 : to;
				next += 1000000;
			}
			if (b->link_rate > 0) {
				send_links(b, start, now);
				send_reports(b);
			}
			/* Answers are timed by the kernel as they arrive, so
			 * they are read once a tick, not as each comes: a
			 * generator woken per answer costs both sides a
			 * wakeup and a switch per datagram or two. */
			sleep_until(next);
			while (drain(b, 0, 1) > 0)
				;
			if ((now - start) / 1000000000ULL >= t0s + 5) {
				t0s = (uint32_t)((now - start) / 1000000000ULL);
				fprintf(stderr, "  %u s: %" PRIu64 " sent, %"
				    PRIu64 " answered\n", t0s, b->sent,
				    b->received);
			}
		}
		sent0 = b->sent;
		/* Answers still in flight; then the links' last REPORTs, as
		 * they come due (all at once would be a burst no audience
		 * sends). */
		drain_quiet(b, 500, 1);
		while (b->pend_n > 0) {
			sleep_until(now_ns() + 1000000);
			send_reports(b);
			while (drain(b, 0, 0) > 0)
				;
		}
		drain_quiet(b, 200, 0);
		recv0 = b->received;
		proc_usage(b->pid, &cpu1, &rss1);
		gen1 = self_cpu();
		kill(b->pid, SIGTERM);
		waitpid(b->pid, NULL, 0);

		printf("%-34s %14s\n", "figure", "value");
		printf("%-34s %14u\n", "clients", b->nclients);
		printf("%-34s %14u\n", "client sockets", b->nsockets);
		printf("%-34s %14u\n", "  on distinct /24s", b->nsockets);
		printf("%-34s %14u s\n", "keepalive interval", b->interval_s);
		printf("%-34s %14.0f /s\n", "offered keepalives",
		    (double)sent0 / b->duration_s);
		printf("%-34s %14.0f /s\n", "answered keepalives",
		    (double)recv0 / b->duration_s);
		printf("%-34s %14.4f %%\n", "loss",
		    sent0 ? 100.0 * (double)(sent0 - recv0) / (double)sent0 : 0);
		print_rtt(&b->rtt);
		printf("%-34s %14.1f %%\n", "negotiator CPU (of one core)",
		    100.0 * (cpu1 - cpu0) / b->duration_s);
		printf("%-34s %14.1f %%\n", "generator CPU (of one core)",
		    100.0 * (gen1 - gen0) / b->duration_s);
		printf("%-34s %14.1f MB\n", "negotiator resident memory",
		    (double)rss_reg / 1e6);
		printf("%-34s %14.1f MB\n", "  of which before registration",
		    (double)rss_idle / 1e6);
		printf("%-34s %14.1f bytes\n", "memory per registered client",
		    (double)rss_reg / b->nclients);
		printf("%-34s %14" PRIu64 "\n", "error answers", b->errors);
		if (b->link_rate > 0)
			print_links(b);
	}
	return 0;
}
