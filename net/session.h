/* A node's registration with the negotiator: register, keepalive every
 * interval under the short-term credential it was given, register again
 * when the negotiator forgets it, leave on the way out (DESIGN.md, flows 1
 * and 5). */
#ifndef TREECAST_SESSION_H
#define TREECAST_SESSION_H

#include <stdint.h>

#include "net/addr.h"
#include "net/nat.h"
#include "net/proto.h"

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
/* Says goodbye; cb gets SESSION_LEFT. */
void	session_leave(struct session *s);
void	session_free(struct session *s);
uint64_t session_node_id(const struct session *s);
const struct addr *session_external(const struct session *s);
uint32_t session_interval_ms(const struct session *s);
int	session_registered(const struct session *s);

#endif
