/* The link agent (net/link/link.h): INSTRUCT taken in, links made and swept
 * away, and what the API asks of a link. How a link moves is link.c's. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/client/ctl.h"
#include "net/client/session.h"
#include "net/link/link-int.h"
#include "net/link/udt.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/proto.h"

const struct link_options link_defaults = {
	.window = 8, .punch_ms = 6000, .udt_ms = 6000,
	.birthday_sockets = 256, .birthday_probes = 2048
};

struct link *
link_new(struct link_agent *a, uint64_t peer, int initiator)
{
	struct link *l;

	if ((l = calloc(1, sizeof *l)) == NULL)
		return NULL;
	l->a = a;
	l->peer = peer;
	l->initiator = initiator;
	l->controlling = initiator;
	l->fd = -1;
	l->fd6 = -1;
	l->t0 = clock_ms();
	if ((l->deadline = link_deadline_new(l)) == NULL) {
		free(l);
		return NULL;
	}
	l->next = a->links;
	a->links = l;
	return l;
}

void
link_free(struct link *l)
{
	struct link **pp;

	for (pp = &l->a->links; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	link_bday_free(l);
	link_pm_free(l);
	session_cancel(l->a->s, l);
	ctl_free(l->probe);
	link_pair_free(l);
	punch_free(l->punch);
	udt_link_free(l->udt);
	if (l->fd != -1)
		close(l->fd);
	if (l->bday_opener != NULL)
		event_free(l->bday_opener);
	if (l->relay_rto != NULL)
		event_free(l->relay_rto);
	if (l->relay_rx != NULL)
		event_free(l->relay_rx);
	event_free(l->deadline);
	sodium_memzero(l->key, sizeof l->key);
	free(l);
}

/* The dead links whose callbacks have all returned. */
static void
link_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link_agent *a = arg;
	struct link *l, *next;

	(void)fd;
	(void)what;
	for (l = a->links; l != NULL; l = next) {
		next = l->next;
		if (l->state != LS_DEAD)
			continue;
		if (l->depth > 0) {
			link_sweep_later(a);	/* not yet */
			continue;
		}
		link_free(l);
		a->swept++;
	}
}

void
link_sweep_later(struct link_agent *a)
{
	event_active(a->sweep, EV_TIMEOUT, 1);
}

struct link *
link_open(struct link_agent *a, uint64_t peer, char *err, size_t errlen)
{
	struct link *l;

	if (!session_registered(a->s)) {
		snprintf(err, errlen, "not registered with the negotiator");
		return NULL;
	}
	if (peer == session_node_id(a->s)) {
		snprintf(err, errlen, "node %016llx is this node",
		    (unsigned long long)peer);
		return NULL;
	}
	if ((l = link_new(a, peer, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	link_drive(l, LINK_EV_START, NULL);
	if (l->state == LS_DEAD) {
		snprintf(err, errlen, "cannot open a socket for the link");
		return NULL;	/* swept */
	}
	return l;
}

/* The negotiator's requests: INSTRUCT, answered with the ACK once the
 * link's socket is mapped (link.c); the others to whoever asked. */
static void
link_instruct(void *arg, const struct stun_msg *req)
{
	struct link_agent *a = arg;
	struct link *l;
	uint64_t id, peer;

	if (req->method != TC_METHOD_INSTRUCT) {
		if (a->other != NULL)
			a->other(a->other_arg, req);
		return;
	}
	if (link_wire_instruct_id(req, &id, &peer) != 0)
		return;
	/* A retransmission: the same answer again (ours was lost), or, while
	 * the link socket is still being mapped, wait for it. */
	if (link_wire_resend(a, id) == 0)
		return;
	for (l = a->links; l != NULL; l = l->next)
		if (l->id == id && !l->initiator && l->state != LS_DEAD)
			return;
	if ((l = link_new(a, peer, 0)) == NULL)
		return;
	l->id = id;
	if (link_wire_instruct(l, req) != 0) {
		link_wire_answer(l, 400, "malformed INSTRUCT");
		link_drive(l, LINK_EV_CLOSE, NULL);
		return;
	}
	if (a->cb.incoming != NULL && a->cb.incoming(a->arg, l, peer) != 0) {
		log_info("refused a link from node %016llx",
		    (unsigned long long)peer);
		link_wire_answer(l, 403, "refused");
		link_drive(l, LINK_EV_CLOSE, NULL);
		return;
	}
	log_debug("node %016llx asks for link %016llx",
	    (unsigned long long)peer, (unsigned long long)id);
	link_drive(l, LINK_EV_START, NULL);
}

struct link_agent *
link_agent_new(struct event_base *base, struct session *s,
    struct udt_loop *udt, const struct link_callbacks *cb, void *arg,
    const struct link_options *o)
{
	struct link_agent *a;

	if ((a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	if ((a->sweep = event_new(base, -1, 0, link_sweep_cb, a)) == NULL) {
		free(a);
		return NULL;
	}
	a->base = base;
	a->s = s;
	a->udt = udt;
	a->cb = *cb;
	a->arg = arg;
	a->o = o != NULL ? *o : link_defaults;
	if (a->o.window == 0)
		a->o.window = link_defaults.window;
	if (a->o.punch_ms == 0)
		a->o.punch_ms = link_defaults.punch_ms;
	if (a->o.udt_ms == 0)
		a->o.udt_ms = link_defaults.udt_ms;
	if (a->o.birthday_sockets == 0)
		a->o.birthday_sockets = link_defaults.birthday_sockets;
	if (a->o.birthday_probes == 0)
		a->o.birthday_probes = link_defaults.birthday_probes;
	session_on_request(s, link_instruct, a);
	return a;
}

void
link_agent_on_request(struct link_agent *a, session_request_cb cb, void *arg)
{
	a->other = cb;
	a->other_arg = arg;
}

void
link_agent_free(struct link_agent *a)
{
	if (a == NULL)
		return;
	session_on_request(a->s, NULL, NULL);
	while (a->links != NULL)
		link_free(a->links);
	event_free(a->sweep);
	free(a);
}

int
link_send(struct link *l, const void *msg, size_t len)
{
	if (l->state != LS_UP) {
		errno = ENOTCONN;
		return -1;
	}
	return udt_link_send(l->udt, msg, len) == (ssize_t)len ? 0 : -1;
}

ssize_t
link_unacked(struct link *l)
{
	return l->udt != NULL ? udt_link_unacked(l->udt) : 0;
}

int
link_stats(struct link *l, struct udt_stats *out)
{
	return l->udt != NULL ? udt_link_stats(l->udt, out) : -1;
}

/* From anywhere, a callback of the link's too: it is freed on the loop's
 * next turn. */
void
link_close(struct link *l)
{
	if (l != NULL)
		link_drive(l, LINK_EV_CLOSE, NULL);
}

uint64_t
link_peer(const struct link *l)
{
	return l->peer;
}

const struct nat_profile *
link_peer_profile(const struct link *l)
{
	return &l->peer_profile;
}

uint64_t
link_id(const struct link *l)
{
	return l->id;
}

int
link_initiator(const struct link *l)
{
	return l->initiator;
}

enum link_path
link_path(const struct link *l)
{
	return l->path;
}

int
link_ipv6(const struct link *l)
{
	return l->ipv6;
}

int
link_connect_ms(const struct link *l)
{
	return l->t_up > 0 ? (int)(l->t_up - l->t0) : -1;
}

void
link_set_data(struct link *l, void *data)
{
	l->data = data;
}

void *
link_data(const struct link *l)
{
	return l->data;
}
