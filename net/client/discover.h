/* NAT profile discovery (DESIGN.md, flow 1; the paper, section IV C; RFC
 * 5780 §4.3 and §4.4): a sequence of Binding exchanges from fresh local
 * sockets to the server's addresses and ports, on a libevent loop. Works
 * against treecast-negotiator and any STUN server; a server with RFC 5780
 * support (OTHER-ADDRESS) also gives address-dependence and filtering. */
#ifndef TREECAST_DISCOVER_H
#define TREECAST_DISCOVER_H

#include "net/client/ctl.h"
#include "net/util/addr.h"
#include "net/wire/nat.h"

struct event_base;
struct discover;

struct discover_result {
	int		 ok;		/* the server answered at all */
	char		 error[160];	/* why not, when !ok */
	struct addr	 local;		/* first socket's local address */
	struct addr	 external;	/* ... and as the server saw it */
	int		 has_other;
	struct addr	 other;		/* the server's OTHER-ADDRESS */
	struct nat_profile profile;
	unsigned	 exchanges;	/* requests answered */
};

struct discover_options {
	uint16_t	 alt_port;	/* without OTHER-ADDRESS: the server's
					   second port (0: its port + 1) */
	struct ctl_timing timing;	/* exchanges that should succeed */
	struct ctl_timing negative;	/* filtering tests that may not */
};
extern const struct discover_options discover_defaults;

typedef void (*discover_cb)(void *arg, const struct discover_result *r);

/* Starts discovery against server; cb runs once with the result. NULL
 * with a reason in err if it cannot start. */
struct discover *discover_start(struct event_base *base,
	    const struct addr *server, const struct discover_options *o,
	    discover_cb cb, void *arg, char *err, size_t errlen);
void	discover_free(struct discover *d);

#endif
