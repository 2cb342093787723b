/*
 * labwire: a lossy, slow Ethernet wire between two network namespaces.
 *
 *   labwire NS_A IF_A NS_B IF_B [--delay MS] [--loss PCT] [--seed N]
 *           [--rate KBIT [--queue BYTES]]
 *
 * Creates TAP device IF_A in namespace NS_A and IF_B in NS_B (names as
 * "ip netns" knows them), brings both up and copies frames between them,
 * each direction delayed by MS milliseconds and dropped with probability
 * PCT percent. It stands in for netem, which these machines' kernels lack
 * (CONFIG_NET_SCH_NETEM is not set). The devices vanish when it exits.
 *
 * --rate limits the direction from IF_A to IF_B (a router's upload, when
 * IF_A is its WAN side) to KBIT kbit/s of Ethernet frames: they leave one
 * after another at that rate, as from a slow uplink, queued up to BYTES
 * (default 100 ms at the rate, at least 16 KB); a frame that would make
 * the queue longer is dropped ("shaped" in the figures at exit).
 *
 * A test instrument, not part of treecast.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/util/clock.h"

#define LAB_TOOL "labwire"
#include "labutil.h"

#define WIRE_FRAME	2048
#define WIRE_QUEUE	8192	/* frames in flight per direction */

struct frame {
	uint64_t	due_ns;
	uint16_t	len;
	uint8_t		data[WIRE_FRAME];
};

struct lane {		/* one direction */
	int		from, to;
	struct frame	*q;
	size_t		head, count;
	uint64_t	passed, lost, overflow, shaped;
	uint64_t	rate_bps;	/* bits a second; 0: unlimited */
	uint64_t	queue_max;	/* bytes waiting for the rate, at most */
	uint64_t	busy_ns;	/* when the last queued frame has left */
};

static uint64_t wire_delay_ns;
static uint32_t wire_loss_ppm;
static uint64_t wire_rng = 0x9e3779b97f4a7c15ULL;
static volatile sig_atomic_t wire_stop;

static uint64_t
now_ns(void)
{
	return clock_us() * 1000ULL;
}

/* xorshift64*: reproducible loss for a given --seed. */
static uint32_t
rng_ppm(void)
{
	wire_rng ^= wire_rng >> 12;
	wire_rng ^= wire_rng << 25;
	wire_rng ^= wire_rng >> 27;
	return (uint32_t)((wire_rng * 2685821657736338717ULL) >> 32) % 1000000;
}

static void
enter_ns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "/run/netns/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("namespace %s: %s", name, strerror(errno));
	if (setns(fd, CLONE_NEWNET) == -1)
		die("setns %s: %s", name, strerror(errno));
	close(fd);
}

/* Creates TAP device ifname in namespace ns, up, and returns its fd. */
static int
tap_open(const char *ns, const char *ifname)
{
	struct ifreq ifr;
	int fd, s;

	enter_ns(ns);
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		die("/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) == -1)
		die("TUNSETIFF %s in %s: %s", ifname, ns, strerror(errno));
	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		die("SIOCGIFFLAGS %s: %s", ifname, strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
		die("SIOCSIFFLAGS %s: %s", ifname, strerror(errno));
	close(s);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* A rate-limited lane sends its frames one after another at its rate: a
 * frame leaves once those before it have. Moves the frame's due time to
 * its departure, or returns -1 if the queue is full (tail drop). */
static int
lane_shape(struct lane *l, struct frame *f)
{
	uint64_t start = l->busy_ns > f->due_ns ? l->busy_ns : f->due_ns;
	uint64_t waiting = (start - f->due_ns) * l->rate_bps / 8 / 1000000000ULL;

	if (waiting + f->len > l->queue_max)
		return -1;
	l->busy_ns = start + (uint64_t)f->len * 8 * 1000000000ULL / l->rate_bps;
	f->due_ns = l->busy_ns;
	return 0;
}

/* Reads every waiting frame of a lane into its queue, or drops it. */
static void
lane_read(struct lane *l)
{
	struct frame *f, spill;
	ssize_t n;

	for (;;) {
		f = l->count < WIRE_QUEUE ?
		    &l->q[(l->head + l->count) % WIRE_QUEUE] : &spill;
		n = read(l->from, f->data, sizeof f->data);
		if (n <= 0)
			return;
		if (f == &spill) {
			l->overflow++;
			continue;
		}
		if (wire_loss_ppm > 0 && rng_ppm() < wire_loss_ppm) {
			l->lost++;
			continue;
		}
		f->len = (uint16_t)n;
		f->due_ns = now_ns();
		if (l->rate_bps > 0 && lane_shape(l, f) != 0) {
			l->shaped++;
			continue;
		}
		f->due_ns += wire_delay_ns;
		l->count++;
	}
}

/* Writes the frames whose time has come; returns ns until the next one. */
static int64_t
lane_flush(struct lane *l, uint64_t now)
{
	struct frame *f;

	while (l->count > 0) {
		f = &l->q[l->head];
		if (f->due_ns > now)
			return (int64_t)(f->due_ns - now);
		if (write(l->to, f->data, f->len) == f->len)
			l->passed++;
		l->head = (l->head + 1) % WIRE_QUEUE;
		l->count--;
	}
	return -1;
}

static void
on_signal(int sig)
{
	(void)sig;
	wire_stop = 1;
}

int
main(int argc, char **argv)
{
	struct lane lane[2];
	struct pollfd pfd[2];
	struct timespec ts, *tsp;
	double delay_ms = 0, loss = 0, rate_kbit = 0, queue = 0;
	int64_t wait, w;
	int a, b, i;
	char *end;

	if (argc < 5)
		die("usage: labwire NS_A IF_A NS_B IF_B [--delay MS] "
		    "[--loss PCT] [--seed N] [--rate KBIT [--queue BYTES]]");
	for (i = 5; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--delay") == 0) {
			delay_ms = strtod(argv[i + 1], &end);
			if (*end != '\0' || delay_ms < 0 || delay_ms > 60000)
				die("--delay '%s': expected 0 to 60000 ms",
				    argv[i + 1]);
		} else if (strcmp(argv[i], "--loss") == 0) {
			loss = strtod(argv[i + 1], &end);
			if (*end != '\0' || loss < 0 || loss > 100)
				die("--loss '%s': expected 0 to 100 percent",
				    argv[i + 1]);
		} else if (strcmp(argv[i], "--rate") == 0) {
			rate_kbit = strtod(argv[i + 1], &end);
			if (*end != '\0' || rate_kbit < 8 || rate_kbit > 10e6)
				die("--rate '%s': expected 8 to 10000000 kbit/s",
				    argv[i + 1]);
		} else if (strcmp(argv[i], "--queue") == 0) {
			queue = strtod(argv[i + 1], &end);
			if (*end != '\0' || queue < WIRE_FRAME || queue > 1e9)
				die("--queue '%s': expected %d to 1000000000 "
				    "bytes", argv[i + 1], WIRE_FRAME);
		} else if (strcmp(argv[i], "--seed") == 0) {
			wire_rng = strtoull(argv[i + 1], NULL, 0) | 1;
		} else
			die("unknown option '%s'", argv[i]);
	}
	if (i != argc)
		die("option '%s' needs a value", argv[i]);
	wire_delay_ns = (uint64_t)(delay_ms * 1e6);
	wire_loss_ppm = (uint32_t)(loss * 1e4);

	a = tap_open(argv[1], argv[2]);
	b = tap_open(argv[3], argv[4]);
	/* Stay in NS_A, so that "ip netns pids NS_A" finds this process. */
	enter_ns(argv[1]);

	memset(lane, 0, sizeof lane);
	lane[0].from = a, lane[0].to = b;
	lane[1].from = b, lane[1].to = a;
	if (rate_kbit > 0) {
		lane[0].rate_bps = (uint64_t)(rate_kbit * 1000);
		lane[0].queue_max = queue > 0 ? (uint64_t)queue :
		    lane[0].rate_bps / 8 / 10;
		if (lane[0].queue_max < 16384)
			lane[0].queue_max = 16384;
	} else if (queue > 0)
		die("%s", "--queue needs --rate");
	for (i = 0; i < 2; i++)
		if ((lane[i].q = calloc(WIRE_QUEUE, sizeof *lane[i].q)) == NULL)
			die("out of memory");
	pfd[0].fd = a, pfd[0].events = POLLIN;
	pfd[1].fd = b, pfd[1].events = POLLIN;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);

	while (!wire_stop) {
		wait = -1;
		for (i = 0; i < 2; i++) {
			w = lane_flush(&lane[i], now_ns());
			if (w >= 0 && (wait < 0 || w < wait))
				wait = w;
		}
		tsp = NULL;
		if (wait >= 0) {
			ts.tv_sec = wait / 1000000000;
			ts.tv_nsec = wait % 1000000000;
			tsp = &ts;
		}
		if (ppoll(pfd, 2, tsp, NULL) == -1 && errno != EINTR)
			die("ppoll: %s", strerror(errno));
		for (i = 0; i < 2; i++)
			if (pfd[i].revents & POLLIN)
				lane_read(&lane[i]);
	}
	fprintf(stderr, "labwire: %s->%s passed %llu lost %llu overflow %llu "
	    "shaped %llu; %s->%s passed %llu lost %llu overflow %llu\n",
	    argv[2], argv[4], (unsigned long long)lane[0].passed,
	    (unsigned long long)lane[0].lost,
	    (unsigned long long)lane[0].overflow,
	    (unsigned long long)lane[0].shaped, argv[4], argv[2],
	    (unsigned long long)lane[1].passed,
	    (unsigned long long)lane[1].lost,
	    (unsigned long long)lane[1].overflow);
	return 0;
}
