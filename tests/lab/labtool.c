/*
 * labtool: the NAT lab's own UDP instrument.
 *
 *   labtool reflect PORT...          answer on each port (IPv4, and IPv6
 *                                    where the host has it): "MAP" gets
 *                                    "MAPPED IP:PORT" (the sender as seen),
 *                                    "POKE IP:PORT" makes this port send
 *                                    "POKED" to IP:PORT.
 *   labtool map [--bind PORT] DEST... from one socket (of the first DEST's
 *                                    family), ask each DEST for
 *                                    the mapping; prints "LOCAL IP:PORT MS" a
 *                                    line, MS from the first try to the answer.
 *   labtool filter SOLICITED OTHERPORT STRANGER
 *                                    open a mapping to SOLICITED, then have
 *                                    each of the three poke it from a second
 *                                    socket; prints which pokes came in.
 *   labtool flows RATE DEST          until killed, RATE times a second: a
 *                                    fresh socket sends "MAP" to DEST and
 *                                    closes (a new flow, a new mapping).
 *   labtool blast KBIT MS DEST       sends 1,200-byte datagrams to DEST at
 *                                    KBIT kbit/s for MS ms; prints the bytes
 *                                    sent.
 *   labtool sink PORT                counts what comes to PORT until 1 s
 *                                    passes without a datagram (after the
 *                                    first); prints "BYTES DATAGRAMS MS", MS
 *                                    from the first datagram to the last.
 *
 * It is a test instrument, not part of treecast: it uses plain blocking
 * sockets and exits non-zero with a reason when a reflector does not answer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net/util/addr.h"
#include "net/util/clock.h"

#define LAB_TOOL "labtool"
#include "labutil.h"

#define LAB_TRIES	5
#define LAB_WAIT_MS	1000

static double
now_ms(void)
{
	return (double)clock_us() / 1e3;
}

static int
udp_socket(uint16_t port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1)
		die("bind: %s", strerror(errno));
	return fd;
}

static void
parse_dest(const char *text, struct addr *a)
{
	char err[160];

	if (addr_parse(text, 0, 0, a, err, sizeof err) != 0 ||
	    addr_port((struct sockaddr *)&a->ss) == 0)
		die("bad destination %s", text);
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	getsockname(fd, (struct sockaddr *)&ss, &len);
	return addr_port((struct sockaddr *)&ss);
}

/* Waits up to ms for a datagram; returns its length or -1 on timeout. */
static ssize_t
recv_wait(int fd, char *buf, size_t len, int ms, struct addr *from)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct addr dummy;
	ssize_t n;

	if (from == NULL)
		from = &dummy;
	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	from->len = sizeof from->ss;
	n = recvfrom(fd, buf, len - 1, 0, (struct sockaddr *)&from->ss,
	    &from->len);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Sends MAP to dest until "MAPPED x" comes back; writes x into mapped. */
static double
ask_mapping(int fd, const struct addr *dest, char *mapped, size_t len)
{
	char buf[ADDR_STRLEN + 8];
	double start;
	int i;

	start = now_ms();
	for (i = 0; i < LAB_TRIES; i++) {
		sendto(fd, "MAP", 3, 0, (const struct sockaddr *)&dest->ss,
		    dest->len);
		while (recv_wait(fd, buf, sizeof buf, LAB_WAIT_MS, NULL) >= 0) {
			if (strncmp(buf, "MAPPED ", 7) == 0) {
				snprintf(mapped, len, "%.*s",
				    ADDR_STRLEN - 1, buf + 7);
				return now_ms() - start;
			}
		}
	}
	return -1;
}

/*
 * Receives one datagram and notes the local address it was sent to, so the
 * answer can leave from that address: a host with two public addresses
 * (RFC 5780's other address) must answer from the one it was asked on, or
 * the asker's NAT drops the answer.
 */
static ssize_t
reflect_recv(int fd, char *buf, size_t len, struct addr *from,
    struct in_pktinfo *pi)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = {
		.msg_name = &from->ss, .msg_namelen = sizeof from->ss,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	struct cmsghdr *c;
	ssize_t n;

	memset(pi, 0, sizeof *pi);
	if ((n = recvmsg(fd, &mh, 0)) <= 0)
		return n;
	buf[n] = '\0';
	from->len = mh.msg_namelen;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			memcpy(pi, CMSG_DATA(c), sizeof *pi);
	return n;
}

/* An IPv6 socket (IPv6 alone) on port; -1 on a host without IPv6. */
static int
udp_socket6(uint16_t port)
{
	struct sockaddr_in6 sin6;
	int fd, one = 1;

	if ((fd = socket(AF_INET6, SOCK_DGRAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin6, sizeof sin6) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket of dest's family on port. */
static int
udp_socket_for(const struct addr *dest, uint16_t port)
{
	int fd;

	if (dest->ss.ss_family != AF_INET6)
		return udp_socket(port);
	if ((fd = udp_socket6(port)) == -1)
		die("IPv6 socket: %s", strerror(errno));
	return fd;
}

static void
reflect_send(int fd, const void *msg, size_t len, const struct addr *to,
    const struct in_pktinfo *via)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)&to->ss, .msg_namelen = to->len,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct in_pktinfo pi;

	memset(&ctl, 0, sizeof ctl);
	memset(&pi, 0, sizeof pi);
	pi.ipi_spec_dst = via->ipi_addr;
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof pi);
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
	sendmsg(fd, &mh, 0);
}

static int
cmd_reflect(int argc, char **argv)
{
	struct pollfd pfd[32];
	char buf[512], text[ADDR_STRLEN + 16], a[ADDR_STRLEN], err[160];
	struct in_pktinfo pi;
	struct addr from, to;
	int i, n = 0, one = 1, is6[32] = { 0 };
	uint16_t port;
	ssize_t got;

	/* Each port on IPv4 and, where the host has it, IPv6 (one address:
	 * no need to note which it was asked on). */
	for (i = 0; i < argc && n < 31; i++) {
		if (addr_parse_port(argv[i], 0, &port) != 0)
			die("bad port %s", argv[i]);
		pfd[n].fd = udp_socket(port);
		setsockopt(pfd[n].fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
		pfd[n++].events = POLLIN;
		if ((pfd[n].fd = udp_socket6(port)) != -1) {
			is6[n] = 1;
			pfd[n++].events = POLLIN;
		}
	}
	if (n == 0)
		die("%s", "reflect needs at least one port");
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			got = is6[i] ? recv_wait(pfd[i].fd, buf, sizeof buf, 0,
			    &from) : reflect_recv(pfd[i].fd, buf, sizeof buf,
			    &from, &pi);
			if (got <= 0)
				continue;
			if (strcmp(buf, "MAP") == 0) {
				snprintf(text, sizeof text, "MAPPED %s",
				    addr_format((struct sockaddr *)&from.ss, a,
				    sizeof a));
				to = from;
			} else if (strncmp(buf, "POKE ", 5) == 0 &&
			    addr_parse(buf + 5, 0, 0, &to, err,
			    sizeof err) == 0)
				snprintf(text, sizeof text, "POKED");
			else
				continue;
			if (is6[i])
				sendto(pfd[i].fd, text, strlen(text), 0,
				    (struct sockaddr *)&to.ss, to.len);
			else
				reflect_send(pfd[i].fd, text, strlen(text),
				    &to, &pi);
		}
	}
}

static int
cmd_map(int argc, char **argv)
{
	char mapped[ADDR_STRLEN];
	struct addr dest;
	uint16_t bindport = 0;
	double rtt;
	int fd, i = 0;

	if (argc >= 2 && strcmp(argv[0], "--bind") == 0) {
		if (addr_parse_port(argv[1], 1, &bindport) != 0)
			die("bad port %s", argv[1]);
		i = 2;
	}
	if (i >= argc)
		die("%s", "map needs at least one destination");
	parse_dest(argv[i], &dest);	/* one family: the first's */
	fd = udp_socket_for(&dest, bindport);
	for (; i < argc; i++) {
		parse_dest(argv[i], &dest);
		if ((rtt = ask_mapping(fd, &dest, mapped, sizeof mapped)) < 0)
			die("no answer from %s", argv[i]);
		printf("%u %s %.1f\n", local_port(fd), mapped, rtt);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

static int
cmd_filter(int argc, char **argv)
{
	static const char *names[] = { "solicited", "other_port", "other_host" };
	struct addr dest[3], from;
	char mapped[ADDR_STRLEN], poke[ADDR_STRLEN + 8], buf[256];
	int seen[3] = { 0, 0, 0 }, fd, ctl, i;
	double deadline;

	if (argc != 3)
		die("%s", "filter needs SOLICITED OTHERPORT STRANGER");
	for (i = 0; i < 3; i++)
		parse_dest(argv[i], &dest[i]);
	fd = udp_socket_for(&dest[0], 0);
	ctl = udp_socket_for(&dest[0], 0);
	if (ask_mapping(fd, &dest[0], mapped, sizeof mapped) < 0)
		die("no answer from %s", argv[0]);
	snprintf(poke, sizeof poke, "POKE %s", mapped);
	/*
	 * Each poke goes out from the control socket, so it opens no hole for
	 * fd's mapping; each is sent a few times against loss. A poke from
	 * dest[i] arrives from dest[i]'s own address and port.
	 */
	for (i = 0; i < 3 * LAB_TRIES; i++)
		sendto(ctl, poke, strlen(poke), 0,
		    (struct sockaddr *)&dest[i % 3].ss, dest[i % 3].len);
	deadline = now_ms() + 800;
	while (now_ms() < deadline) {
		int left = (int)(deadline - now_ms());

		if (recv_wait(fd, buf, sizeof buf, left > 0 ? left : 0,
		    &from) < 0)
			break;
		if (strcmp(buf, "POKED") != 0)
			continue;
		for (i = 0; i < 3; i++)
			if (addr_equal((struct sockaddr *)&from.ss,
			    (struct sockaddr *)&dest[i].ss))
				seen[i] = 1;
	}
	for (i = 0; i < 3; i++)
		printf("%s%s=%d", i ? " " : "", names[i], seen[i]);
	printf("\n");
	return 0;
}

/* Another host's traffic: each flow from a new local port, so a
 * sequential NAT takes a new external port for each. */
static int
cmd_flows(int argc, char **argv)
{
	struct timespec next;
	struct addr dest;
	char *end;
	long rate;
	int fd;

	if (argc != 2)
		die("%s", "flows needs RATE DEST");
	rate = strtol(argv[0], &end, 10);
	if (*end != '\0' || end == argv[0] || rate < 1 || rate > 1000)
		die("bad rate %s (1 to 1000 a second)", argv[0]);
	parse_dest(argv[1], &dest);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		fd = udp_socket(0);
		sendto(fd, "MAP", 3, 0, (struct sockaddr *)&dest.ss, dest.len);
		close(fd);
		next.tv_nsec += 1000000000L / rate;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
		    NULL) == EINTR)
			;
	}
}

/* Paced UDP at a given rate, to measure what a wire lets through. */
static int
cmd_blast(int argc, char **argv)
{
	static char payload[1200];
	struct timespec next;
	struct addr dest;
	char *end;
	long kbit, ms, sent = 0;
	double gap_ns, t_end;
	int fd;

	if (argc != 3)
		die("%s", "blast needs KBIT MS DEST");
	kbit = strtol(argv[0], &end, 10);
	if (*end != '\0' || end == argv[0] || kbit < 1 || kbit > 1000000)
		die("bad rate %s (1 to 1000000 kbit/s)", argv[0]);
	ms = strtol(argv[1], &end, 10);
	if (*end != '\0' || end == argv[1] || ms < 1 || ms > 600000)
		die("bad duration %s (1 to 600000 ms)", argv[1]);
	parse_dest(argv[2], &dest);
	fd = udp_socket(0);
	gap_ns = sizeof payload * 8 * 1e6 / (double)kbit;
	t_end = now_ms() + (double)ms;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (now_ms() < t_end) {
		if (sendto(fd, payload, sizeof payload, 0,
		    (struct sockaddr *)&dest.ss, dest.len) > 0)
			sent += sizeof payload;
		next.tv_nsec += (long)gap_ns;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
		    NULL) == EINTR)
			;
	}
	printf("%ld\n", sent);
	close(fd);
	return 0;
}

static int
cmd_sink(int argc, char **argv)
{
	static char buf[65536];
	uint16_t port;
	long long bytes = 0, n = 0;
	double first = 0, last = 0;
	ssize_t len;
	int fd;

	if (argc != 1 || addr_parse_port(argv[0], 1, &port) != 0)
		die("%s", "sink needs PORT");
	fd = udp_socket(port);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		len = recv_wait(fd, buf, sizeof buf, n == 0 ? 60000 : 1000,
		    NULL);
		if (len < 0)
			break;
		last = now_ms();
		if (n++ == 0)
			first = last;
		bytes += len;
	}
	printf("%lld %lld %.0f\n", bytes, n, last - first);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "reflect") == 0)
		return cmd_reflect(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "map") == 0)
		return cmd_map(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "filter") == 0)
		return cmd_filter(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "flows") == 0)
		return cmd_flows(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "blast") == 0)
		return cmd_blast(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "sink") == 0)
		return cmd_sink(argc - 2, argv + 2);
	fprintf(stderr, "usage: labtool reflect PORT... | map [--bind PORT] "
	    "DEST... | filter SOLICITED OTHERPORT STRANGER | flows RATE "
	    "DEST | blast KBIT MS DEST | sink PORT\n");
	return 2;
}
