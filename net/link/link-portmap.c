/* A link's own mapping at the router (net/client/portmap.h): its fresh
 * socket's port is mapped while the negotiator reflects it, and the link
 * offers the mapped port, exactly, as its one candidate. The hooks that
 * link.c and link-agent.c call (link-int.h). */
#include "config.h"

#include <string.h>

#include "net/client/ctl.h"
#include "net/client/portmap.h"
#include "net/link/link-int.h"
#include "net/util/log.h"
#include "net/wire/nat.h"

static void
link_pm_cb(void *arg, const struct portmap_map *m)
{
	struct link *l = arg;

	l->pm_req = NULL;
	if (m != NULL) {
		l->pm = *m;
		l->pm_ok = 1;
	}
	if (l->state != LS_MAPPING) {	/* it moved on, or died */
		link_pm_free(l);
		return;
	}
	if (l->pm_wait)		/* the negotiator's answer came first */
		link_drive(l, LINK_EV_MAPPED, NULL);
}

void
link_pm_start(struct link *l)
{
	struct portmap *pm = l->a->o.portmap;

	link_pm_free(l);	/* a repunch's new socket */
	if (pm == NULL || l->probe == NULL)
		return;
	l->pm_req = portmap_request(pm, l->a->base, ctl_local_port(l->probe),
	    link_pm_cb, l);
}

int
link_pm_hold(struct link *l)
{
	if (l->pm_req != NULL) {
		l->pm_wait = 1;
		return 1;
	}
	l->pm_wait = 0;
	if (l->pm_ok) {
		/* The router's port, on the address the negotiator saw. */
		l->me.ports[0] = l->pm.external;
		l->me.nports = 1;
		log_debug("link %016llx: port %u mapped to %u (%s, %u ms)",
		    (unsigned long long)l->id, l->pm.internal,
		    l->pm.external, portmap_method_name(l->pm.method),
		    l->pm.ms);
	}
	return 0;
}

/*
 * A mapped side sends no check first: its router's NAT may give an
 * outbound flow another port (a random allocator does), and the peer's
 * checks to the mapped port would then clash with that flow's conntrack
 * entry and be dropped. It answers, and checks back where checks came
 * from (punch.c, no candidates), through the mapping. Two mapped sides
 * both send: their checks come from ports the other never sent to.
 */
int
link_pm_passive(const struct link *l)
{
	return l->pm_ok && !(l->peer_profile.flags & NAT_F_PORTMAP);
}

void
link_pm_free(struct link *l)
{
	if (l->pm_req != NULL)
		portmap_cancel(l->pm_req);	/* deletes what it gets */
	else if (l->pm_ok)
		portmap_unmap(l->a->o.portmap, &l->pm);
	l->pm_req = NULL;
	l->pm_ok = 0;
	l->pm_wait = 0;
}
