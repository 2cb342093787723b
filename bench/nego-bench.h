/* nego-bench's shared state and helpers: nego-bench.c (options, sockets,
 * timing and sends), nego-load.c (the keepalive benchmark), nego-binding.c
 * (--binding). */
#ifndef TREECAST_NEGO_BENCH_H
#define TREECAST_NEGO_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "net/util/clock.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

#define BATCH		64
#define HIST_US		1000000		/* latency histogram: 1 us buckets up to 1 s */

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

/* One recvmmsg batch, with room for each datagram's receive timestamp. */
struct rx_batch {
	uint8_t		bufs[BATCH][STUN_MAX_MSG];
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct timespec))];
	}		ctl[BATCH];
	struct mmsghdr	mm[BATCH];
	struct iovec	iov[BATCH];
};

/* CLOCK_MONOTONIC in ns: deadlines and pacing. */
static inline uint64_t
now_ns(void)
{
	return clock_us() * 1000ULL;
}

/*
 * Request timestamps are CLOCK_REALTIME, the clock of the kernel's receive
 * timestamps (SO_TIMESTAMPNS): the response time is then from the request
 * leaving the generator to its answer reaching the generator's socket, and
 * excludes the time the generator itself takes to get round to reading it
 * (it shares the two cores with the server).
 */
static inline uint64_t
wall_ns(void)
{
	return clock_wall_us() * 1000ULL;
}

void	 hist_add(struct hist *, uint64_t, uint64_t);
double	 percentile(const struct hist *, double);
void	 print_rtt(const struct hist *);
void	 die(const char *) __attribute__((noreturn));
void	 proc_usage(pid_t, double *, long *);
double	 self_cpu(void);
void	 send_gso(int, const uint8_t *, size_t, uint16_t);
void	 send_mmsg(int, struct mmsghdr *, int);
void	 send_backoff(const char *);
uint64_t rx_time(struct msghdr *);
int	 recv_batch(int, struct rx_batch *);
void	 sleep_until(uint64_t);
void	 make_tid(uint8_t [12], uint32_t, uint64_t);
void	 open_sockets(struct bench *);

/* nego-load.c */
int	 load_run(struct bench *, const char *, uint16_t, uint32_t);
/* nego-binding.c */
int	 binding_run(struct bench *);

#endif
