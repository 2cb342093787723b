/* linktool's state, shared by linktool.c (the links and the loop) and
 * linktool-opt.c (its command line). A test instrument, not part of
 * treecast. */
#ifndef LINKTOOL_H
#define LINKTOOL_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "net/link/link.h"
#include "net/util/addr.h"
#include "net/wire/nat.h"

/* A channel named by a key: peers naming a label wait for its origin. */
#define LINKTOOL_CHANNEL \
	"11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11ab"
#define TOOL_TARGETS_MAX	32
#define TOOL_REGISTER_MS	10000	/* registered by then, or give up */
#define TOOL_ATTEMPT_MS		60000	/* to connect; then again, for the data
					   (UDT crawls on a 5 %-lossy path) */
#define TOOL_PAUSE_MS		200	/* between attempts */
#define TOOL_TICK_MS		20	/* retry full sends, watch the acks */

struct tool;

/* One link and its data check. */
struct run {
	struct tool		*tool;
	struct link		*link;		/* NULL once closed or freed */
	int			 initiator;
	uint64_t		 peer;
	int			 attempt;
	/* Copied while the link lives: it is freed before the line is
	 * printed. */
	struct nat_profile	 peer_profile;
	enum link_path		 path;
	int			 ipv6;		/* the link runs over IPv6 */
	int			 connect_ms;
	int			 connected;
	int			 sent, got, bad;
	int			 said_done, peer_done;
	const char		*step;		/* NULL while it may succeed */
	char			 why[160];
	struct event		*deadline;
	struct event		*tick;
	TAILQ_ENTRY(run)	 entry;
};
TAILQ_HEAD(runs, run);

struct tool {
	struct event_base	*base;
	const char		*server_text;
	struct addr		 server;
	struct addr		 server6;	/* --negotiator6 (len 0: none) */
	uint64_t		 id;
	const char		*channel;
	int			 accept;
	uint64_t		 targets[TOOL_TARGETS_MAX];
	size_t			 ntargets;
	int			 attempts;
	int			 msgs;
	struct link_options	 lo;
	unsigned		 pm_methods;	/* --portmap: 1 << PORTMAP_* */
	struct portmap		*pm;
	struct nat_profile	 profile;
	struct discover		*discover;
	struct session		*session;
	struct udt_loop		*udt;
	struct link_agent	*agent;
	struct runs		 runs;
	size_t			 target;	/* --link: the current node */
	int			 attempt;	/* its attempt, from 1 */
	int			 accepted;	/* --accept: links taken */
	int			 reported;	/* --link: lines printed */
	unsigned		 unregistered_ms; /* waited for the session */
	int			 failures;
	int			 setup_failed;
	int			 leaving;
	struct event		*register_timer;
	struct event		*pause;		/* between attempts */
	struct event		*sigint, *sigterm;
};

/* "linktool: WHY" on stderr. */
#define TOOL_SAY(fmt) do {						\
	va_list ap;							\
									\
	fprintf(stderr, "linktool: ");					\
	va_start(ap, fmt);						\
	vfprintf(stderr, fmt, ap);					\
	va_end(ap);							\
	fputc('\n', stderr);						\
} while (0)

/* A bad command line: exits 2 with the reason, naming the value. */
void	usage_fail(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Reads the command line into t, or exits 2 saying what is wrong. */
void	tool_options(struct tool *t, int argc, char **argv);

#endif
