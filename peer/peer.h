/* treecast-peer's own parts, over the node's lifecycle (net/node/node.h):
 * main.c (options, chunks, figures), parent.c (joining, the parent, the
 * standby's bridge, accusations), player.c (the /live.ts players). */
#ifndef TREECAST_PEER_H
#define TREECAST_PEER_H

#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "media/playout.h"
#include "net/node/node.h"
#include "media/chunk.h"
#include "net/wire/key.h"
#include "net/wire/proto.h"

#define PEER_REJOIN_MS	500	/* after losing the parent */
#define PEER_LATENCIES	512	/* the last chunks' latencies, for figures */
/* A player this far behind (13 s of 5 Mbit/s) is dropped, not buffered
 * for without end. */
#define PEER_PLAYER_BACKLOG (8 << 20)
#define PEER_RETRY_MS	1000	/* after a refused JOIN or failed link */
/* A new parent that refused us may not have let go of the child the tree
 * moved away from it yet (MOVEs reach both at once): soon again. */
#define PEER_REFUSED_MS	150
/* A linked parent silent this long may have vanished (its link would take
 * many seconds to break): ask the tree again, every so often while it
 * stays silent. The negotiator takes a parent silent to it too for gone. */
#define PEER_SILENT_MS	1000
#define PEER_WATCH_MS	100
/* No chunk for this long (or four of the stream's usual spacing, if more)
 * and the peer bridges from its standby parent, the tree's grandparent,
 * at once, while the tree repairs (README, "The tree"). */
#define PEER_STANDBY_MS	500
/* A parent that delivers, but past a gap the bridge fills, is taken
 * (the gap with it) after the bridge has served this long. */
#define PEER_BRIDGE_MAX_MS 8000
/* A bridge that brings nothing for this long is closed (the standby may
 * have gone too); another may follow. */
#define PEER_BRIDGE_IDLE_MS 3000
/* A bridge asked for is waited for this long before a parent's chunk
 * after a gap is taken: the standby may hold what the parent skipped. */
#define PEER_BRIDGE_WAIT_MS 1000
/* Leaving (SIGTERM), a node serves its children until they have moved to
 * their new parents, this long at most. */
#define PEER_DRAIN_MS	3000

struct evhttp;
struct event;
struct link;

struct player {
	TAILQ_ENTRY(player)	 entry;
	struct evhttp_request	*req;
	struct peer		*peer;
	int			 started;	/* from a keyframe on */
};
TAILQ_HEAD(players, player);

/* Times are clock_ms(). */
struct peer {
	struct node		*node;
	/* The node's, kept at hand (they live as long as it does): */
	struct event_base	*base;
	struct ring		*ring;
	struct serve		*serve;
	struct session		*session;	/* from the registration */
	struct link_agent	*agent;		/* ... */
	const char		*output;
	FILE			*out;
	const char		*play;
	pid_t			 player;
	struct evhttp		*http;
	struct players		 players;
	struct link		*parent;
	/* While the parent is silent or new: the standby parent, or the
	 * parent the tree moved us away from, still feeding. */
	struct link		*bridge;
	const struct link	*feeder;	/* the last chunk's, or NULL */
	uint64_t		 standby;	/* the tree's standby parent, 0 */
	uint64_t		 move_seq;	/* the last MOVE's (this session) */
	uint64_t		 moves_refused;	/* replayed or stale MOVEs */
	int			 no_standby;
	uint64_t		 bridged;	/* the bridge opened */
	uint64_t		 bridge_seen;	/* its last chunk */
	uint64_t		 parent_seen;	/* the parent's last chunk */
	uint64_t		 bridge_try;	/* the last bridge asked for */
	double			 spacing_ms;	/* between chunks, averaged */
	uint64_t		 bridges;	/* bridges opened */
	int			 joining;
	int			 accusing;	/* an ACCUSE waits for its answer */
	struct event		*rejoin;
	uint64_t		 reported;	/* from_parent at the last STATUS */
	uint64_t		 from_parent;	/* bytes taken from the tree's
						   parent (not a bridge): its
						   children's lag is its own */
	int			 have;		/* a chunk came: next is valid */
	uint64_t		 next;		/* the sequence number expected */
	uint64_t		 chunks, bytes, gaps, parents;
	uint64_t		 bad;		/* chunks dropped: no valid signature */
	uint32_t		 bad_link;	/* ... from the parent linked now */
	uint64_t		 accused;	/* the parent last reported, or 0 */
#ifdef TREECAST_TEST_TAMPER
	int			 tamper;	/* SIGUSR1: from now on */
	struct event		*tamper_ev;
#endif
	uint64_t		 started;
	/* Since the parent link broke or the tree moved us, until the next
	 * chunk: how long the stream stopped (bench/churn-bench.sh). */
	uint64_t		 orphaned;
	uint64_t		 old_parent;
	int			 is_orphan;
	double			 orphan_wait;	/* the longest wait for a chunk
						   since, from the one before */
	uint64_t		 last_chunk;	/* or the parent linked */
	uint64_t		 last_taken;	/* the last chunk taken */
	uint64_t		 last_ask;	/* the watch's last JOIN */
	struct event		*watch;
	/* Origin timestamp to arrival, same clock in the lab: the stream's
	 * delay at this depth of the tree. */
	int64_t			 latency_us[PEER_LATENCIES];
	size_t			 nlatency;
	struct chunk_digest	 digest;
	struct playout		 playout;	/* as a viewer would see it */
};

/* main.c */
double	peer_ms_since(uint64_t t);
/* A chunk from the parent or the bridge, as it came. */
void	peer_chunk(struct peer *p, struct link *l, const uint8_t *msg,
	    size_t len);

/* parent.c: the node hooks for the links and the session, and the
 * tree's side: JOIN, the parent, MOVEs, the standby's bridge. */
void	peer_parent_start(struct peer *p);	/* registered: listen */
void	peer_parent_free(struct peer *p);
void	peer_bridge_close(struct peer *p);
/* A chunk from l (malformed or forged, why says which): dropped; a
 * parent is reported and left. */
void	peer_bad_chunk(struct peer *p, struct link *l, const char *why);
/* Whether a chunk from l numbered seq is taken. */
int	peer_take(struct peer *p, const struct link *l, uint64_t seq);
void	peer_session(void *arg, enum session_event ev);
int	peer_link_connected(void *arg, struct link *l);
void	peer_link_failed(void *arg, struct link *l, enum link_step step,
	    const char *why);
int	peer_link_message(void *arg, struct link *l, const uint8_t *msg,
	    size_t len);
int	peer_link_closed(void *arg, struct link *l, const char *why);

/* player.c: /live.ts over HTTP at at (ADDR:PORT), and --play. Exits if
 * it cannot listen there. */
void	peer_http_start(struct peer *p, const struct addr *http,
	    const char *at);
void	peer_http_free(struct peer *p);
/* Hands chunk c to the players (from a keyframe on for each). */
void	peer_players_chunk(struct peer *p, const struct chunk *c);
unsigned peer_players(const struct peer *p);

#endif
