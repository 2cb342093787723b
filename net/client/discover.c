/* NAT discovery: one step a Binding exchange, in a fixed order, since the
 * order of new flows is what a sequential allocator shows. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/client/discover.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/proto.h"

#define DISC_ALLOC_SOCKS	5	/* fresh sockets for the allocation test */
#define DISC_PAD		128	/* room for RFC 5780 attributes */

const struct discover_options discover_defaults = {
	.alt_port = 0,
	.timing = { 200, 5, 4 },
	.negative = { 100, 3, 4 },
};

enum disc_step {
	STEP_PRIMARY,		/* s0 -> primary: the external address */
	STEP_OTHER_IP,		/* s0 -> other IP (or port): mapping */
	STEP_OTHER_BOTH,	/* s0 -> other IP and port: ADM vs APDM */
	STEP_ALLOC,		/* s1..s5 -> primary, one flow each */
	STEP_FILTER_OPEN = STEP_ALLOC + DISC_ALLOC_SOCKS,
	STEP_FILTER_IP,		/* s6 -> primary, answer from other IP+port */
	STEP_FILTER_PORT,	/* s6 -> primary, answer from other port */
	STEP_CONFIRM_OPEN,	/* s7: the same again, where s6 got in */
	STEP_CONFIRM_IP,
	STEP_CONFIRM_PORT,
	STEP_DONE
};

/*
 * An answer that gets in may have come through an old hole: the NAT may
 * still hold a flow from an earlier socket that had the same local port.
 * So a filtering test that passes is repeated on a second fresh socket,
 * and only what passes twice counts.
 */
#define DISC_SOCKS (3 + DISC_ALLOC_SOCKS)	/* s0, s1..s5, s6, s7 */
#define DISC_FILTER_SOCK (1 + DISC_ALLOC_SOCKS)

struct discover {
	struct event_base	*base;
	struct addr		 server;
	struct discover_options	 o;
	discover_cb		 cb;
	void			*arg;
	struct ctl		*s[DISC_SOCKS];
	struct discover_result	 r;
	int			 step;
	struct event		*later;		/* runs the callback outside
						   ctl's own callback */
	/* Observations. */
	struct addr		 x[3];		/* s0's mappings */
	int			 have_x[3];
	struct nat_sample	 samples[DISC_ALLOC_SOCKS];
	int			 nsamples;
	int			 filter_open, filter_ip, filter_port;
	int			 confirm_open, confirm_ip, confirm_port;
	int			 filter_unsupported;
	int			 adaptive;	/* negative tests timed by RTT */
	uint64_t		 t_sent;	/* ms: this step's request, first sent */
	long			 rtt_ms;	/* least seen so far; -1: none */
};

static void disc_next(struct discover *d);

static void
disc_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct discover *d = arg;

	(void)fd;
	(void)what;
	d->cb(d->arg, &d->r);
}

/* The mapping and filtering verdicts from what was seen. */
static void
disc_conclude(struct discover *d)
{
	struct nat_profile *p = &d->r.profile;
	struct sockaddr_storage local;
	int i;

	memset(p, 0, sizeof *p);
	local = d->r.local.ss;
	if (addr_equal((struct sockaddr *)&local,
	    (struct sockaddr *)&d->x[0].ss))
		p->mapping = NAT_MAPPING_NONE;
	else if (!d->have_x[1])
		p->mapping = NAT_MAPPING_UNKNOWN;
	else if (addr_equal((struct sockaddr *)&d->x[0].ss,
	    (struct sockaddr *)&d->x[1].ss))
		p->mapping = NAT_MAPPING_EIM;
	else if (d->r.has_other && d->have_x[2] &&
	    addr_equal((struct sockaddr *)&d->x[1].ss,
	    (struct sockaddr *)&d->x[2].ss))
		p->mapping = NAT_MAPPING_ADM;
	else
		p->mapping = NAT_MAPPING_APDM;
	if (d->r.has_other)
		p->flags |= NAT_F_ALT_ADDRESS;

	for (i = 0; i < d->nsamples; i++)
		log_debug("allocation sample %d: local port %u, mapped %u", i,
		    d->samples[i].local, d->samples[i].mapped);
	log_debug("filtering: open %d, other address %d/%d, other port "
	    "%d/%d", d->filter_open, d->filter_ip, d->confirm_ip,
	    d->filter_port, d->confirm_port);
	if (p->mapping == NAT_MAPPING_NONE)
		p->allocation = NAT_ALLOC_PRESERVED;
	else
		nat_classify_allocation(d->samples, (size_t)d->nsamples, p);

	/* RFC 5780 §4.4, each pass confirmed. */
	if (d->filter_ip && !(d->confirm_open && d->confirm_ip))
		d->filter_ip = 0;
	if (d->filter_port && !(d->confirm_open && d->confirm_port))
		d->filter_port = 0;
	if (!d->filter_open || d->filter_unsupported)
		p->filtering = NAT_FILTER_UNKNOWN;
	else if (d->filter_ip)
		p->filtering = NAT_FILTER_EIF;
	else if (d->filter_port)
		p->filtering = d->r.has_other ? NAT_FILTER_ADF :
		    NAT_FILTER_UNKNOWN;	/* ADF or EIF: no other IP to tell */
	else
		p->filtering = NAT_FILTER_APDF;
	d->r.ok = 1;
}

static void
disc_fail(struct discover *d, const char *why)
{
	char a[ADDR_STRLEN];

	snprintf(d->r.error, sizeof d->r.error, "%s %s", why,
	    addr_format((struct sockaddr *)&d->server.ss, a, sizeof a));
	d->step = STEP_DONE;
	event_active(d->later, EV_TIMEOUT, 0);
}

static void
disc_answer_cb(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct discover *d = arg;
	const struct stun_attr *a;
	struct addr mapped;
	int step = d->step, got = 0;

	memset(&mapped, 0, sizeof mapped);
	if (resp != NULL && resp->cls == STUN_SUCCESS &&
	    (a = stun_find(resp, STUN_ATTR_XOR_MAPPED_ADDRESS)) != NULL &&
	    stun_attr_xor_address(resp, a, &mapped.ss, &mapped.len) == 0) {
		got = 1;
		d->r.exchanges++;
	}
	if (resp != NULL && resp->cls == STUN_ERROR &&
	    step >= STEP_FILTER_IP && step != STEP_CONFIRM_OPEN)
		d->filter_unsupported = 1;	/* 420: no CHANGE-REQUEST */
	/*
	 * A server that ignores CHANGE-REQUEST answers from where it was
	 * asked; such an answer proves nothing about filtering (RFC 5780
	 * §4.4 relies on the other address and port).
	 */
	if (got && from != NULL && (step == STEP_FILTER_IP ||
	    step == STEP_CONFIRM_IP || step == STEP_FILTER_PORT ||
	    step == STEP_CONFIRM_PORT)) {
		int want_ip = step == STEP_FILTER_IP || step == STEP_CONFIRM_IP;
		int same_ip = addr_equal_ip(from,
		    (struct sockaddr *)&d->server.ss);
		int same_port = addr_port(from) ==
		    addr_port((struct sockaddr *)&d->server.ss);

		if (same_port || (want_ip && same_ip) ||
		    (!want_ip && !same_ip)) {
			d->filter_unsupported = 1;
			got = 0;
		}
	}

	if (got && d->adaptive) {
		/*
		 * A filtering test passes if its answer comes: wait what the
		 * path's round trip needs, not a fixed time made for slow
		 * paths (0.7 s twice, most of a peer's start-up on a LAN):
		 * sends 2 RTT + 20 ms apart (50 ms at least), three in all.
		 * The round trip is the least of the exchanges so far: one
		 * whose request was lost and sent again looks a timeout
		 * longer (Karn), and taking it alone once made the filtering
		 * tests of a peer on a lossy path last 24 s.
		 */
		long rtt = (long)(clock_ms() - d->t_sent);

		if (d->rtt_ms < 0 || rtt < d->rtt_ms)
			d->rtt_ms = rtt;
		d->o.negative.rto_ms = (uint32_t)(2 * d->rtt_ms + 20 < 50 ?
		    50 : 2 * d->rtt_ms + 20);
		d->o.negative.rc = 3;
		d->o.negative.rm = 2;
	}
	if (step == STEP_PRIMARY) {
		if (!got) {
			disc_fail(d, resp == NULL ? "no answer from" :
			    "an error answer from");
			return;
		}
		if ((a = stun_find(resp, STUN_ATTR_OTHER_ADDRESS)) != NULL &&
		    stun_attr_address(a, &d->r.other.ss, &d->r.other.len) == 0)
			d->r.has_other = 1;
		d->r.external = mapped;
	}
	if (step <= STEP_OTHER_BOTH && got) {
		d->x[step] = mapped;
		d->have_x[step] = 1;
	} else if (step >= STEP_ALLOC && step < STEP_FILTER_OPEN && got) {
		d->samples[d->nsamples].local =
		    ctl_local_port(d->s[1 + step - STEP_ALLOC]);
		d->samples[d->nsamples].mapped =
		    addr_port((struct sockaddr *)&mapped.ss);
		d->nsamples++;
	} else if (step == STEP_FILTER_OPEN)
		d->filter_open = got;
	else if (step == STEP_FILTER_IP)
		d->filter_ip = got;
	else if (step == STEP_FILTER_PORT)
		d->filter_port = got;
	else if (step == STEP_CONFIRM_OPEN)
		d->confirm_open = got;
	else if (step == STEP_CONFIRM_IP)
		d->confirm_ip = got;
	else if (step == STEP_CONFIRM_PORT)
		d->confirm_port = got;
	d->step++;
	disc_next(d);
}

/* Sends the current step's request; skips the steps that do not apply. */
static void
disc_next(struct discover *d)
{
	uint8_t msg[STUN_MAX_MSG];
	struct addr dest = d->server;
	const struct ctl_timing *t = &d->o.timing;
	struct ctl *sock;
	uint32_t change = 0;
	int len;

	for (;;) {
		if (d->step == STEP_OTHER_BOTH && !d->r.has_other)
			d->step++;
		else if (d->step == STEP_FILTER_IP &&
		    (!d->r.has_other || !d->filter_open))
			d->step++;
		else if (d->step == STEP_FILTER_PORT && !d->filter_open)
			d->step++;
		else if (d->step == STEP_CONFIRM_OPEN &&
		    !d->filter_ip && !d->filter_port)
			d->step++;
		else if (d->step == STEP_CONFIRM_IP &&
		    (!d->filter_ip || !d->confirm_open))
			d->step++;
		else if (d->step == STEP_CONFIRM_PORT &&
		    (!d->filter_port || !d->confirm_open))
			d->step++;
		else
			break;
	}
	if (d->step >= STEP_DONE) {
		disc_conclude(d);
		event_active(d->later, EV_TIMEOUT, 0);
		return;
	}
	switch (d->step) {
	case STEP_OTHER_IP:
		if (d->r.has_other) {
			dest = d->r.other;
			addr_set_port((struct sockaddr *)&dest.ss,
			    addr_port((struct sockaddr *)&d->server.ss));
		} else
			addr_set_port((struct sockaddr *)&dest.ss,
			    d->o.alt_port != 0 ? d->o.alt_port :
			    (uint16_t)(addr_port((struct sockaddr *)
			    &d->server.ss) + 1));
		break;
	case STEP_OTHER_BOTH:
		dest = d->r.other;
		break;
	case STEP_FILTER_IP:
	case STEP_CONFIRM_IP:
		change = 0x6;
		t = &d->o.negative;
		break;
	case STEP_FILTER_PORT:
	case STEP_CONFIRM_PORT:
		change = 0x2;
		t = &d->o.negative;
		break;
	default:
		break;
	}
	if (d->step <= STEP_OTHER_BOTH)
		sock = d->s[0];
	else if (d->step < STEP_FILTER_OPEN)
		sock = d->s[1 + d->step - STEP_ALLOC];
	else if (d->step < STEP_CONFIRM_OPEN)
		sock = d->s[DISC_FILTER_SOCK];
	else
		sock = d->s[DISC_FILTER_SOCK + 1];
	/* The second mapping test may meet no second port: not fatal. */
	if (d->step == STEP_OTHER_IP && !d->r.has_other)
		t = &d->o.negative;
	len = ctl_build_binding(msg, sizeof msg, change, DISC_PAD);
	d->t_sent = clock_ms();
	if (len < 0 || ctl_request(sock, &dest, msg, (size_t)len, t,
	    disc_answer_cb, d) != 0)
		disc_fail(d, "cannot send to");
}

struct discover *
discover_start(struct event_base *base, const struct addr *server,
    const struct discover_options *o, discover_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct discover *d;
	int i;

	if ((d = calloc(1, sizeof *d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->base = base;
	d->server = *server;
	d->o = o != NULL ? *o : discover_defaults;
	d->adaptive = o == NULL;
	d->rtt_ms = -1;
	d->cb = cb;
	d->arg = arg;
	d->later = event_new(base, -1, 0, disc_finish_cb, d);
	if (d->later == NULL) {
		snprintf(err, errlen, "event_new failed");
		goto fail;
	}
	for (i = 0; i < DISC_SOCKS; i++)
		if ((d->s[i] = ctl_open(base, server->ss.ss_family, NULL, err,
		    errlen)) == NULL)
			goto fail;
	if (addr_local_towards(server, &d->r.local) != 0) {
		snprintf(err, errlen, "no route to the server");
		goto fail;
	}
	addr_set_port((struct sockaddr *)&d->r.local.ss,
	    ctl_local_port(d->s[0]));
	d->step = STEP_PRIMARY;
	disc_next(d);
	return d;

fail:
	discover_free(d);
	return NULL;
}

void
discover_free(struct discover *d)
{
	int i;

	if (d == NULL)
		return;
	for (i = 0; i < DISC_SOCKS; i++)
		ctl_free(d->s[i]);
	if (d->later != NULL)
		event_free(d->later);
	free(d);
}
