/*
 * The negotiation server's insides, shared by its files and no one else:
 *
 *   server.c           create and free, the expiry sweep, the test entry
 *                      (server-test.h)
 *   server-udp.c       the workers: sockets, the receive loop, send paths
 *   server-method.c    the method table and the dispatch; answers; Binding,
 *                      KEEPALIVE, LEAVE, LINK, REPORT
 *   server-register.c  REGISTER, and an origin's challenge
 *   server-auth.c      authenticated requests: session, HMAC, replay window
 *                      (the window itself: negotiator/auth.c, pure)
 *   server-tree.c      JOIN, STATUS, ACCUSE; the verdicts and MOVEs they cause
 *   server-state.c     the node state under its lock, and its view
 *   server-stats.c     the counters summed, and the log line
 */
#ifndef TREECAST_SERVER_INT_H
#define TREECAST_SERVER_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "negotiator/broker.h"
#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/registry.h"
#include "negotiator/server.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

struct event;
struct event_base;
struct ratelimit;

/*
 * Counters: each thread bumps its own with relaxed atomics (its own cache
 * line, so no contention), and server_stats() reads them at any time.
 */
#define STAT_ADD(o, name, v) \
	__atomic_fetch_add(&(o)->st.name, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_INC(o, name) STAT_ADD(o, name, 1)

#define SERVER_BATCH	64	/* datagrams per recvmmsg */
#define SERVER_ROUNDS	16	/* batches per wakeup, then let others run */
#define SERVER_TICK_MS	100	/* expiry sweep */
#define SERVER_SWEEP_SLICE 2048	/* records swept per hold of the lock */
#define SERVER_GONE_LOGGED 8	/* expired nodes named in the log a sweep */
/* An unauthenticated request gets at most this many times its size back. */
#define SERVER_UNAUTH_FACTOR 2
#define SERVER_CHALLENGE_S 30	/* an origin's challenge is good this long */

/* Sockets by what they differ in: bit 0 the port, bit 1 the address. */
#define SOCK_ALT_PORT	1
#define SOCK_ALT_ADDR	2
#define SOCK_V6		4	/* the IPv6 socket beside an IPv4 --listen */
#define SOCK_MAX	5

struct server;
struct worker;

struct srv_sock {
	struct worker		*w;
	int			 index;
	int			 fd;
	struct event		*ev;
	struct addr		 local;		/* as bound */
	int			 wildcard;	/* bound to 0.0.0.0: use pktinfo */
};

/* Room for one IP_PKTINFO control message. */
union srv_cmsg {
	struct cmsghdr	 align;
	char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
};

/* One received datagram and, once handled, its answer. */
struct srv_msg {
	uint8_t			 in[STUN_MAX_MSG + 4];
	uint8_t			 out[STUN_MAX_MSG];
	struct sockaddr_storage	 from;
	union srv_cmsg		 ctl;
	struct in_pktinfo	 pi;		/* where it arrived */
	int			 has_pi;
	size_t			 outlen;	/* 0: no answer */
	int			 via;		/* socket to answer from */
};

/*
 * A worker: one thread with its own event loop and its own sockets, all
 * with SO_REUSEPORT, so that the kernel spreads clients over the workers
 * by address. Workers share the registry under the server's lock; each
 * keeps its own counters.
 */
struct worker {
	struct server		*srv;
	int			 index;
	pthread_t		 thread;
	int			 started;
	struct event_base	*base;
	struct srv_sock		 socks[SOCK_MAX];
	struct server_stats	 st;		/* this thread's own */

	/* The batch, reused: no allocation per message. */
	struct srv_msg		 msgs[SERVER_BATCH];
	struct mmsghdr		 rx[SERVER_BATCH];
	struct iovec		 rxiov[SERVER_BATCH];
	struct mmsghdr		 tx[SERVER_BATCH];
	struct iovec		 txiov[SERVER_BATCH];
	union srv_cmsg		 txctl[SERVER_BATCH];
};

/*
 * The node state: everything the workers, the sweep, the verifier and the
 * HTTP side share, under its one lock. The registry of sessions, the
 * channel names, the channels' trees and, by registry slot, the children
 * a node serves and its last STATUS (calloc'd: pages are touched only by
 * nodes that report), with the STATUS figures summed by channel so that
 * the API reads them without a walk of the registry (server-state.c).
 */
struct server_state {
	pthread_mutex_t		 lock;
	uint32_t		 max_nodes;
	struct registry		*reg;
	struct channels		*channels;
	struct forest		*forest;
	uint8_t			*fanout;
	struct server_health	*health;
	uint8_t			(*addr6)[16];	/* registered IPv6, or zeroes */
	/* The health's stream bytes summed by channel and in all. */
	uint64_t		 origin_out[CHANNELS_MAX], delivered[CHANNELS_MAX];
	uint64_t		 origin_out_all, delivered_all;
	/* The peers' playout figures, summed the same way. */
	struct server_playout	 playout[CHANNELS_MAX], playout_all;
	uint64_t		 move_seq;	/* MOVEs sent */
};

struct server {
	struct event_base	*base;		/* the main thread's */
	struct server_config	 cfg;
	struct server_state	 ns;		/* the node state, its lock */
	struct event		*tick;
	uint64_t		 start_ms;	/* clock_ms() at the start */
	struct server_stats	 st;		/* the main thread's (expiry) */
	struct server_stats	 st_last;	/* at the last stats line */
	uint8_t			 challenge_key[32];	/* origins' challenges */
	uint32_t		 ticks;
	uint64_t		 gone[SERVER_GONE_LOGGED];	/* this sweep's */
	uint32_t		 ngone;
	struct worker		*workers;
	int			 nworkers;
	struct broker		*broker;
	struct ratelimit	*unauth;	/* NULL: no limit */
};

/* What an authenticated request proved (server_authenticate). */
struct srv_auth {
	uint32_t		 slot;		/* the session's registry slot */
	uint64_t		 session;	/* gen << 32 | slot */
	uint8_t			 key[TC_KEY_LEN];	/* its credential */
	int			 fresh;		/* 0: a retransmission */
};

/*
 * A method's handler: the request req (reqlen bytes) that came to ss,
 * answered in m (m->outlen; 0: no answer). a is NULL for a method that
 * needs no authentication, else what server_authenticate proved; the
 * handler is called with no lock held and returns with none.
 */
typedef void server_method_fn(struct worker *w, struct srv_sock *ss,
	    struct srv_msg *m, const struct stun_msg *req, size_t reqlen,
	    const struct srv_auth *a);

/* --- server-method.c: answers, the dispatch, and its own methods */
/* Starts an answer to req in m->out. */
void	server_answer(struct srv_msg *m, struct stun_builder *b,
	    const struct stun_msg *req, enum stun_class cls);
/* Finishes an answer to an authenticated request, sent if no larger than
 * limit (else drop_amplify). */
void	server_finish(struct worker *w, struct srv_msg *m,
	    struct stun_builder *b, size_t limit);
/* Lets an answer of len bytes to an unauthenticated request go, within
 * the amplification bound and its source's budget: 0 if it goes. */
int	server_pass_unauth(struct worker *w, struct srv_msg *m, int len,
	    size_t reqlen);
/* Finishes an answer to an unauthenticated request (server_pass_unauth). */
void	server_finish_unauth(struct worker *w, struct srv_msg *m,
	    struct stun_builder *b, size_t reqlen);
/* An error answer to a request not (or not yet) authenticated. */
void	server_error(struct worker *w, struct srv_msg *m,
	    const struct stun_msg *req, size_t reqlen, int code,
	    const char *reason, const uint16_t *unknown, size_t nunknown);
/* An error answer to an authenticated request, under its session's key. */
void	server_auth_error(struct worker *w, struct srv_msg *m,
	    const struct stun_msg *req, const uint8_t key[TC_KEY_LEN], int code,
	    const char *reason);
/* An authenticated request's plain success: under the session's key, no
 * larger than the request. */
void	server_auth_ok(struct worker *w, struct srv_msg *m,
	    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au);
/* The address the request came to: the bound one, or pktinfo's. */
void	server_local(const struct srv_sock *ss, const struct srv_msg *m,
	    struct sockaddr_storage *out);
int	server_get_u64(const struct stun_msg *req, uint16_t type, uint64_t *v);
int	server_get_u32(const struct stun_msg *req, uint16_t type, uint32_t *v);
/* One datagram in; an answer in m->out or none. Never trusts its input. */
void	server_handle(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
	    size_t len);

/* --- server-register.c */
server_method_fn server_register;

/* --- server-auth.c */
/* Checks an authenticated request; 0 with *a filled, or -1 having counted
 * and, where the RFC says to, answered. Returns with the lock released on
 * every path. */
int	server_authenticate(struct worker *w, struct srv_msg *m,
	    const struct stun_msg *req, size_t reqlen, struct srv_auth *a);
/* Under the lock: a's node, or NULL (counted) if it left or registered
 * again since it was authenticated. */
struct reg_node *server_auth_node(struct worker *w, const struct srv_auth *a);

/* --- server-tree.c */
server_method_fn server_join, server_status, server_accuse;
/* A child's report of its link into node as a verdict on node. */
void	server_child_verdict(struct server *s, uint64_t child, uint64_t node,
	    const struct tc_outcome *o);
/* The forest's callback: the node in slot has a new parent. */
void	server_push_move(void *arg, int ch, uint32_t slot, uint32_t parent);

/* --- server-state.c: the node state; "under the lock" is its lock */
int	server_state_init(struct server_state *ns, uint32_t max_nodes,
	    char *err, size_t errlen);
void	server_state_free(struct server_state *ns);
/* The node n in slot's last STATUS, or none (sh NULL), with the sums.
 * Under the lock. */
void	server_state_set_health(struct server_state *ns, uint32_t slot,
	    const struct reg_node *n, const struct server_health *sh);
/* The node in slot out of its channel's tree, its figures forgotten. */
void	server_state_untree(struct server_state *ns, uint32_t slot);
/* The node in slot dropped from the registry. Under the lock. */
void	server_state_drop(struct server_state *ns, uint32_t slot);
/* The standby parent of a node whose parent is in slot parent: that
 * parent's own parent's node id, 0 for none. Under the lock. */
uint64_t server_state_standby(const struct server_state *ns, int ch,
	    uint32_t parent);
/* The node's class for the tree (forest_nat), the node in slot reachable
 * over IPv6 a predictable one whatever its IPv4 NAT. */
enum tree_nat server_state_tree_nat(const struct server_state *ns,
	    uint32_t slot, const struct reg_node *n);
/* The IPv6 address the node in slot registered (XOR-ADDRESS6), or none
 * (sa NULL). Under the lock. */
void	server_state_set_addr6(struct server_state *ns, uint32_t slot,
	    const struct sockaddr *sa);
/* 1 with it in ss when it registered one. Under the lock. */
int	server_state_addr6(const struct server_state *ns, uint32_t slot,
	    struct sockaddr_storage *ss);

/* --- server-udp.c: the workers */
/* Opens every worker's event loop and sockets (s->workers allocated,
 * each with its server, index and no descriptors). */
int	server_udp_open(struct server *s, char *err, size_t errlen);
/* Starts the worker threads. */
int	server_udp_start(struct server *s, char *err, size_t errlen);
/* Stops the threads and closes the sockets. */
void	server_udp_close(struct server *s);
/* The broker's way out (broker_send_fn); ctx is the server. */
/* The broker's word that a node answers no INSTRUCT (broker_on_silent):
 * a peer silent for SERVER_INSTRUCT_GONE_S too is taken for gone. */
#define SERVER_INSTRUCT_GONE_S 2
void	server_broker_silent(void *ctx, uint64_t node_id);
void	server_broker_send(void *ctx, const struct sockaddr *to,
	    const uint8_t *msg, size_t len, const struct sockaddr *src);

#endif
