/* Client side of the control protocol: STUN transactions over one UDP
 * socket, with RFC 8489 §6.2.1 retransmission, on a libevent loop. */
#ifndef TREECAST_CTL_H
#define TREECAST_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "net/util/addr.h"
#include "net/wire/stun.h"

struct event_base;
struct ctl;

/*
 * Retransmission (RFC 8489 §6.2.1): send, then again after rto, 2*rto,
 * 4*rto... rc sends in all, then wait rm*rto for the last. The defaults,
 * {500, 7, 16}, give up after 39.5 s.
 */
struct ctl_timing {
	uint32_t	rto_ms;
	uint32_t	rc;
	uint32_t	rm;
};
extern const struct ctl_timing ctl_timing_default;

/* A transaction's end: resp is the parsed answer (success or error), or
 * NULL on timeout. The callback may start transactions, or free the ctl. */
typedef void (*ctl_cb)(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from);

/*
 * Opens a UDP socket bound to local (NULL: any address and port of
 * family). Returns NULL with a reason in err.
 */
struct ctl *ctl_open(struct event_base *base, int family,
	    const struct addr *local, char *err, size_t errlen);
/* Cancels every transaction (their callbacks do not run) and closes. */
void	ctl_free(struct ctl *c);
/* Frees the ctl but keeps its socket open, and returns it: a link's fresh
 * socket, probed through the negotiator, then punched. */
int	ctl_detach(struct ctl *c);
uint16_t ctl_local_port(const struct ctl *c);

/*
 * Sends the request msg (len bytes, its transaction id at bytes 8..19) to
 * dest and retransmits it until an answer with that id comes from anywhere
 * or the timing gives up; cb then runs once. Returns 0, or -1 when
 * CTL_MAX_TXN transactions are under way (or memory ran out).
 */
#define CTL_MAX_TXN	64
int	ctl_request(struct ctl *c, const struct addr *dest, const uint8_t *msg,
	    size_t len, const struct ctl_timing *t, ctl_cb cb, void *arg);
/* Forgets every transaction whose callback argument is arg. */
void	ctl_cancel(struct ctl *c, void *arg);
/* Transactions under way. */
int	ctl_pending(const struct ctl *c);

/* A request that came to the socket (the negotiator asks nodes things
 * too), parsed but not authenticated: that is the handler's job. It may
 * free the ctl. */
typedef void (*ctl_request_cb)(void *arg, const struct stun_msg *req,
    const struct sockaddr *from);
/* Without a handler, requests are dropped and counted as unmatched. */
void	ctl_on_request(struct ctl *c, ctl_request_cb cb, void *arg);
/* Sends one datagram, no retransmission (an answer). 0 or -1. */
int	ctl_send_to(struct ctl *c, const struct sockaddr *dest,
	    socklen_t destlen, const uint8_t *msg, size_t len);

/* Counters of what the socket received and dropped. */
struct ctl_stats {
	uint64_t	rx;
	uint64_t	rx_requests;	/* handed to the request handler */
	uint64_t	rx_unmatched;	/* no transaction of that id */
	uint64_t	rx_malformed;
	uint64_t	retransmits;
	uint64_t	timeouts;
	uint32_t	srtt_ms;	/* answers to first sends, smoothed */
	uint32_t	loss_permille;	/* sends unanswered (retransmitted or
					   timed out), of the last eight or so */
};
const struct ctl_stats *ctl_stats(const struct ctl *c);

/* A Binding request with FINGERPRINT, padded with a SOFTWARE attribute to
 * at least minlen bytes (so that an anti-amplification server has room for
 * RFC 5780's attributes in its answer), and CHANGE-REQUEST flags if any.
 * Returns its length or -1. */
int	ctl_build_binding(uint8_t *buf, size_t cap, uint32_t change_flags,
	    size_t minlen);
/* Adds a SOFTWARE attribute that pads the message to at least minlen
 * bytes once FINGERPRINT (8 bytes) follows. */
int	ctl_put_padding(struct stun_builder *b, size_t minlen);

#endif
