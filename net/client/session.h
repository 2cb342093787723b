/* A node's registration with the negotiator: register, keepalive every
 * interval under the short-term credential it was given, register again
 * when the negotiator forgets it, leave on the way out (DESIGN.md, flows 1
 * and 5). */
#ifndef TREECAST_SESSION_H
#define TREECAST_SESSION_H

#include <stdint.h>

#include "net/client/ctl.h"
#include "net/util/addr.h"
#include "net/wire/key.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

struct event_base;
struct session;

struct session_config {
	struct addr		server;
	uint64_t		node_id;	/* 0: a random one */
	char			channel[TC_CHANNEL_MAX + 1];
	enum tc_role		role;
	struct nat_profile	profile;
	struct addr		internal;	/* the node's local address
						   (len 0: found here) */
	/* The negotiator's IPv6 address (len 0: none). A node with a
	 * route to it registers the address it reaches it from as its
	 * own (XOR-ADDRESS6), and its links try IPv6 too (net/link). */
	struct addr		server6;
	uint32_t		fanout;		/* children it serves (0: the
						   negotiator's default, 2) */
	int			has_channel_key;
	uint8_t			channel_key[KEY_PUBLIC_LEN];	/* pinned */
	/* An origin's: the channel's key pair (channel is its public half
	 * in hex), which signs the negotiator's challenge; kept by the
	 * caller for the session's life. And the label it claims ("":
	 * none). */
	const struct key_pair	*sign_key;
	char			label[TC_CHANNEL_MAX + 1];
};

enum session_event {
	SESSION_REGISTERED,	/* registered (again): a new credential */
	SESSION_LOST,		/* no answer, or the negotiator forgot us:
				   registering again */
	SESSION_LEFT		/* session_leave finished (acknowledged or not) */
};

typedef void (*session_cb)(void *arg, enum session_event ev,
    struct session *s);

struct session *session_start(struct event_base *base,
	    const struct session_config *cfg, session_cb cb, void *arg,
	    char *err, size_t errlen);
/* Says goodbye, once the requests others sent under the session's
 * credential are answered (or after 4 s); cb gets SESSION_LEFT. */
void	session_leave(struct session *s);
void	session_free(struct session *s);
uint64_t session_node_id(const struct session *s);
const struct addr *session_external(const struct session *s);
/* The node's IPv6 address as registered (port 0): NULL for an IPv4-only
 * node. */
const struct addr *session_addr6(const struct session *s);
uint32_t session_interval_ms(const struct session *s);
int	session_registered(const struct session *s);
const struct addr *session_server(const struct session *s);
const struct nat_profile *session_profile(const struct session *s);
/* The channel's public key, pinned for the session's life (chunks are
 * checked against it); NULL while it is not known. Given as --channel
 * KEY, or told by the negotiator in the first REGISTER's answer, before
 * SESSION_REGISTERED; an answer naming another key later is refused:
 * the session leaves (session_refused). */
const uint8_t *session_channel_key(const struct session *s);
/* 1 when the session left on its own: the negotiator named another
 * channel key than the pinned one. */
int	session_refused(const struct session *s);

/*
 * Requests of the session's own beyond keepalive: session_begin starts one
 * in buf (a fresh transaction id, the session and its next sequence
 * number); add attributes, then session_send signs it with the credential
 * and sends it with retransmission; cb gets the answer, unverified (check
 * it with session_verify). -1 when not registered.
 */
void	session_begin(struct session *s, struct stun_builder *b,
	    uint8_t *buf, size_t cap, uint16_t method);
int	session_send(struct session *s, struct stun_builder *b,
	    const struct ctl_timing *t, ctl_cb cb, void *arg);
/* Forgets the session's requests whose callback argument is arg. */
void	session_cancel(struct session *s, void *arg);
/* 0 when m carries the session's MESSAGE-INTEGRITY-SHA256. */
int	session_verify(const struct session *s, const struct stun_msg *m);

/* Requests from the negotiator (INSTRUCT): the handler sees only those
 * from the negotiator's address under the session's credential, and
 * answers, now or later, with session_answer: b started with
 * stun_build_init as the answer to the request (its method and id). */
typedef void (*session_request_cb)(void *arg, const struct stun_msg *req);
void	session_on_request(struct session *s, session_request_cb cb,
	    void *arg);
int	session_answer(struct session *s, struct stun_builder *b);
/* Every keepalive's answer, verified (a peer's names its parent in the
 * tree: TC_ATTR_PARENT). */
typedef void (*session_answer_cb)(void *arg, const struct stun_msg *resp);
void	session_on_keepalive(struct session *s, session_answer_cb cb,
	    void *arg);
/* Sends a finished answer again (the negotiator retransmitted). */
int	session_resend(struct session *s, const uint8_t *msg, size_t len);

struct session_stats {
	uint64_t	strangers;	/* requests not from the negotiator */
	uint64_t	bad_integrity;	/* ... or not under our credential */
};
const struct session_stats *session_stats(const struct session *s);
/* The path to the negotiator as the session's requests find it. */
const struct ctl_stats *session_path(const struct session *s);

#endif
