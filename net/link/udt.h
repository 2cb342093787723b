/* UDT4 links over a punched UDP socket, for C (DESIGN.md, "Links: punching,
 * then UDT"). The only C++ in treecast is behind this header, in
 * udt-shim.cc.
 *
 * UDT takes over an already-punched UDP socket (UDT::bind2, rendezvous), so
 * the NAT mapping the punch opened is the one UDT uses. UDT runs its own
 * threads; a watcher thread waits on UDT's epoll and wakes the libevent loop
 * through an eventfd, so the loop never polls. Every callback runs on the
 * libevent loop's thread. */
#ifndef TREECAST_UDT_H
#define TREECAST_UDT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct udt_loop;
struct udt_link;

enum udt_event {
	UDT_LINK_CONNECTED,	/* the rendezvous handshake completed */
	UDT_LINK_READABLE,	/* messages wait: udt_link_recv until -1/EAGAIN */
	UDT_LINK_CLOSED		/* failed to connect, broken, or closed by the
				   peer; the link is dead: free it */
};

typedef void (*udt_link_cb)(struct udt_link *l, enum udt_event ev,
    void *arg);

/* One per event loop; starts UDT (UDT::startup) and the watcher thread.
 * NULL with a reason in err. */
struct udt_loop *udt_loop_new(struct event_base *base, char *err,
	    size_t errlen);
/* Closes every link still open and stops the watcher. */
void	udt_loop_free(struct udt_loop *u);

/*
 * Hands the punched UDP socket fd to UDT and starts a rendezvous connection
 * to peer, which must do the same towards this side within timeout_ms. fd
 * is given up in every case (UDT closes it, or this does on failure). cb
 * gets CONNECTED or CLOSED, then
 * READABLE whenever messages arrive. NULL with a reason in err.
 */
struct udt_link *udt_link_start(struct udt_loop *u, int fd,
	    const struct sockaddr *peer, socklen_t peerlen, int timeout_ms,
	    udt_link_cb cb, void *arg, char *err, size_t errlen);
/* Sends one message (UDT's message mode, reliable and in order). Returns
 * len, or -1 (EAGAIN when UDT's send buffer is full). */
ssize_t	udt_link_send(struct udt_link *l, const void *msg, size_t len);
/* Receives one message into buf; -1 with errno EAGAIN when none is left
 * (which re-arms READABLE), another errno when the link is broken. */
ssize_t	udt_link_recv(struct udt_link *l, void *buf, size_t cap);
/* Packets sent but not yet acknowledged by the peer (UDT_SNDDATA): wait
 * for 0 before closing, as links close without lingering. -1 if
 * unknown. */
ssize_t	udt_link_unacked(struct udt_link *l);
/* Closes the link; no callback runs for it afterwards. */
void	udt_link_free(struct udt_link *l);
/* UDT's own figures for a link (UDT::perfmon), totals since it came up. */
struct udt_stats {
	double		rtt_ms;
	double		send_mbps, recv_mbps;	/* lately */
	int64_t		sent, received;		/* data packets */
	int64_t		retransmitted;
	int64_t		send_lost, recv_lost;	/* reported lost each way */
	double		period_us;		/* congestion control: pacing, */
	int		cwnd, flow_window;	/* ... its window, the peer's */
	int		in_flight;		/* packets sent, not acked */
	int64_t		acks;			/* ACKs received: a live peer's
						   go on while data is unacked */
};
int	udt_link_stats(struct udt_link *l, struct udt_stats *out);

/*
 * For the congestion control, and tested on its own: a loss report (UDT's
 * list of 31-bit sequence numbers, a range being its first with the top
 * bit set, then its last) counted once a packet. *counted is the highest
 * number counted so far (-1 at first); returns the packets newly lost.
 * Receivers report a loss again until the packet comes: those count 0.
 */
int32_t	udt_loss_new(const int32_t *list, int size, int32_t *counted);

#ifdef __cplusplus
}
#endif

#endif
