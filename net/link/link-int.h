/* The link agent's insides (net/link/link.h is the API), one section a file:
 * link.c the state machine, link-agent.c the agent and the link's life,
 * link-wire.c the messages it builds and reads, link-birthday.c the
 * random side's sockets. For those files and tests/check-linkfsm.c. */
#ifndef TREECAST_LINK_INT_H
#define TREECAST_LINK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/client/ctl.h"
#include "net/client/portmap.h"
#include "net/link/link.h"
#include "net/link/punch.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

#define LINK_RECENT	16	/* INSTRUCT answers kept for retransmissions */
#define LINK_ANSWER_MAX	512
#define LINK_MSG_MAX	(64 * 1024)

/*
 * A link's states, in the order an attempt goes through them. Each has one
 * deadline, armed on entering it (link.c, link_rows): where a request, the
 * punch or UDT times itself, the machine's is a backstop a little later.
 */
enum link_state {
	LS_NEW,		/* made, not started (LINK_EV_START) */
	LS_MAPPING,	/* the fresh socket's mapping is being reflected */
	LS_ASKING,	/* initiator: LINK sent, waiting for the GO */
	LS_REPORTING,	/* initiator: the failed punch reported; asks again
			   once the REPORT is answered (or is not) */
	LS_PUNCHING,	/* checks both ways (birthday: many sockets) */
	LS_RELAYING,	/* binding the socket at the relay */
	LS_UDT_WAIT,	/* the nominating side's pause before UDT */
	LS_CONNECTING,	/* UDT's rendezvous */
	LS_HELLO,	/* initiator: UDT up, waiting for the accepting
			   side's HELLO */
	LS_UP,		/* messages both ways */
	LS_DEAD,	/* over: every event ignored, freed on the loop's
			   next turn (link_agent's sweep) */
	LS_COUNT
};

/* What moves a link: every transition is link_drive's. */
enum link_event {
	LINK_EV_START,		/* link_open, or an INSTRUCT taken */
	LINK_EV_MAPPED,		/* data: the Binding's answer (NULL: none) */
	LINK_EV_GO,		/* data: LINK's answer (NULL: none) */
	LINK_EV_REPORTED,	/* the failed punch's REPORT answered, or not */
	LINK_EV_PUNCHED,	/* data: struct link_punched */
	LINK_EV_RELAY_BOUND,	/* the relay took the socket */
	LINK_EV_UDT_UP,		/* UDT's rendezvous completed */
	LINK_EV_READABLE,	/* UDT has messages */
	LINK_EV_HELLO,		/* data: struct link_msg, the first message */
	LINK_EV_TIMEOUT,	/* the state's deadline */
	LINK_EV_CLOSED,		/* UDT: failed, broke, or the peer closed */
	LINK_EV_CLOSE,		/* link_close */
	LINK_EV_COUNT
};

struct link_punched {
	const struct sockaddr	*peer;	/* NULL: failed, why says how */
	socklen_t		 len;
	const char		*why;
	int			 v6;	/* from the IPv6 socket's punch */
};

struct link_msg {
	const uint8_t	*p;
	size_t		 len;
};

/* One of the random side's sockets. */
struct link_bday {
	struct link		*l;
	struct punch		*punch;
	int			 fd;
};

struct link {
	struct link_agent	*a;
	struct link		*next;
	uint64_t		 id;
	uint64_t		 peer;
	int			 initiator;
	int			 controlling;	/* nominates the punched pair */
	int			 birthday;	/* TC_BIRTHDAY_*, or 0 */
	struct link_bday	*bday;		/* the random side's sockets */
	unsigned		 nbday, bday_open, bday_live;
	struct punch_config	 bday_pc;	/* what each of them punches with */
	struct event		*bday_opener;	/* opens them at a pace */
	enum link_state		 state;
	enum link_path		 path;
	uint8_t			 key[TC_KEY_LEN];
	struct ctl		*probe;		/* the fresh socket, while probed */
	int			 fd;
	struct tc_endpoint	 me;
	struct tc_endpoint	 them;
	struct nat_profile	 peer_profile;
	int			 has_relay;
	struct addr		 relay;
	uint8_t			 instruct_tid[12];
	struct punch		*punch;
	struct punch_stats	 pst;		/* the punch's, once it is gone */
	int			 fd6;		/* the IPv6 socket (link-pair.c),
						   or -1 */
	struct punch		*punch6;	/* its punch, racing punch's */
	int			 v4_over;	/* the IPv4 punch failed */
	int			 claim;		/* a pair is nominated */
	int			 ipv6;		/* the link runs over IPv6 */
	struct udt_link		*udt;
	struct event		*deadline;	/* the state's, link_enter's */
	struct event		*relay_rto;	/* relay retransmissions */
	struct event		*relay_rx;	/* the relay's answer */
	struct sockaddr_storage	 peer_addr;	/* the punched pair's other end */
	socklen_t		 peer_len;
	unsigned		 relay_sent;
	int			 repunched;	/* asked again after a punch */
	uint64_t		 t0;
	uint64_t		 t_up;
	unsigned		 depth;		/* link_drive calls under way */
	unsigned		 ignored;	/* events its state does not take */
	struct portmap_req	*pm_req;	/* the router's mapping, coming */
	struct portmap_map	 pm;		/* and once it came (pm_ok) */
	int			 pm_ok, pm_wait;
	void			*data;
	uint8_t			 rx[LINK_MSG_MAX];
};

struct link_recent {
	uint64_t	id;
	size_t		len;
	uint8_t		msg[LINK_ANSWER_MAX];
};

struct link_agent {
	struct event_base	*base;
	struct session		*s;
	struct udt_loop		*udt;
	struct link_callbacks	 cb;
	void			*arg;
	struct link_options	 o;
	struct link		*links;		/* the dead too, until swept */
	struct event		*sweep;		/* frees the dead links */
	unsigned		 swept;		/* links freed by it */
	unsigned		 bday_fds;	/* birthday sockets open */
	struct link_recent	 recent[LINK_RECENT];
	unsigned		 nrecent;
	session_request_cb	 other;		/* the negotiator's other requests */
	void			*other_arg;
};

/* --- link.c: the machine */

/* Feeds ev to l's state (data as the event says): the one way a link
 * moves. An event the state does not take is ignored and counted (-1);
 * a link that dies in it stays valid until the loop's next turn, when
 * the agent's sweep frees it. */
int	link_drive(struct link *l, enum link_event ev, const void *data);
const char *link_state_name(enum link_state s);
const char *link_event_name(enum link_event e);
/* The deadline link_drive arms on entering s, in ms (0: none). */
unsigned link_deadline_ms(const struct link *l, enum link_state s);
/* Whether s takes e (link_drive acts on it). */
int	link_takes(enum link_state s, enum link_event e);
/* The step a timeout in s fails at (LINK_STEP_NONE: it does not fail). */
enum link_step link_timeout_step(enum link_state s);
/* The link's deadline timer, which feeds LINK_EV_TIMEOUT. */
struct event *link_deadline_new(struct link *l);

/* --- link-agent.c: the agent, and a link's life */

struct link *link_new(struct link_agent *a, uint64_t peer, int initiator);
/* Frees l and all it holds, now: the sweep's, and link_agent_free's. */
void	link_free(struct link *l);
/* Frees the dead links on the loop's next turn. */
void	link_sweep_later(struct link_agent *a);

/* --- link-wire.c: what the link sends and reads */

extern const struct ctl_timing link_report_timing;

/* REPORT: how the attempt ended and what this end saw; cb (NULL: none)
 * hears the answer with l as its argument. -1 when nothing was sent. */
int	link_report(struct link *l, enum link_step step, ctl_cb cb);
/* Fills l->me from the Binding's answer and takes the probe's socket. */
int	link_wire_mapped(struct link *l, const struct stun_msg *resp);
/* Reads LINK's answer into l (id, key, the peer, the relay, birthday);
 * the step and a reason when it is a refusal or malformed. */
enum link_step link_wire_go(struct link *l, const struct stun_msg *resp,
	    char *why, size_t len);
/* Reads INSTRUCT's link, peer and key: -1 if it is not one. */
int	link_wire_instruct_id(const struct stun_msg *req, uint64_t *id,
	    uint64_t *peer);
/* Reads the rest of INSTRUCT into a new l: -1 if malformed. */
int	link_wire_instruct(struct link *l, const struct stun_msg *req);
/* Answers INSTRUCT (the ACK, or an error) and keeps the answer. */
void	link_wire_answer(struct link *l, int code, const char *reason);
/* A retransmitted INSTRUCT: 0 if its answer was sent again. */
int	link_wire_resend(struct link_agent *a, uint64_t id);
/* RELAY from the link's socket, authenticated with its key. */
int	link_wire_relay_send(struct link *l);
/* Drains the link's socket for the relay's answer: 1 when bound. */
int	link_wire_relay_read(struct link *l);

/* --- link-birthday.c: the random side's sockets */

/* Opens them at a pace, each punching with pc; LINK_EV_PUNCHED follows. */
int	link_bday_start(struct link *l, const struct punch_config *pc);
/* Closes them, but the one that won (taken out of bday), and stops the
 * opener (freed with the link). */
void	link_bday_free(struct link *l);
/* How long they may take to open, in ms. */
unsigned link_bday_open_ms(const struct link *l);

/* --- link-pair.c: the IPv6 socket, racing the IPv4 one */

/* A dual-stack node's second socket, its host candidate in l->me.v6;
 * nothing for an IPv4-only one, or if it cannot be made. */
void	link_pair_open(struct link *l);
/* Whether both ends have an IPv6 candidate. */
int	link_pair_ready(const struct link *l);
/* Starts the IPv6 punch beside the IPv4 one, with pc's key, nonce and
 * role and a shared claim; 0 (also when not ready), -1 if it cannot. */
int	link_pair_punch(struct link *l, struct punch_config *pc);
/* LINK_EV_PUNCHED with an IPv6 punch racing: 1 when the event is
 * absorbed (the other punch goes on); 0 to go on with it, the winner's
 * socket and punch then in l->fd and l->punch. */
int	link_pair_punched(struct link *l, const struct link_punched *ev);
/* Closes the IPv6 socket and its punch (NULL-safe, idempotent). */
void	link_pair_free(struct link *l);
/* --- link-portmap.c: the link socket's own mapping at the router */

/* Asks the router (the agent's portmap, if any) to map l->probe's port. */
void	link_pm_start(struct link *l);
/* In LS_MAPPING, the negotiator's answer read: 1 while the router's
 * mapping is still coming (it drives LINK_EV_MAPPED again, with no data,
 * when it comes); else 0, and the mapped port, if any, is l->me's one. */
int	link_pm_hold(struct link *l);
/* Whether l only answers checks (its port is mapped, the peer's not). */
int	link_pm_passive(const struct link *l);
/* Cancels or deletes the mapping. */
void	link_pm_free(struct link *l);

#endif
