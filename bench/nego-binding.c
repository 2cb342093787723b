/*
 * nego-bench --binding: plain STUN Binding load on any STUN server, each
 * answer checked, and its figures.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "net/util/addr.h"
#include "net/wire/stun.h"
#include "bench/nego-bench.h"

#define BIND_SOFTWARE	"treecast nego-bench"
#define BIND_MSG_MAX	64	/* room for one Binding request (52 bytes) */

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
	static struct rx_batch rb;
	struct epoll_event evs[256];
	uint64_t got = 0;
	int nev, e, n, j;

	nev = epoll_wait(b->ep, evs, 256, ms);
	for (e = 0; e < nev; e++) {
		uint32_t s = evs[e].data.u32;

		for (;;) {
			n = recv_batch(b->fd[s], &rb);
			if (n <= 0)
				break;
			got += (uint64_t)n;
			for (j = 0; j < n; j++) {
				struct stun_msg m;
				const struct stun_attr *a;
				struct sockaddr_storage mapped;
				uint32_t i;
				uint64_t t;

				if (stun_parse(rb.bufs[j], rb.mm[j].msg_len, &m,
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
				    rx_time(&rb.mm[j].msg_hdr));
			}
		}
	}
	return got;
}

/* The Binding load: b->rate requests a second for b->duration_s. */
int
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
