/*
 * A viewer's playout buffer, modelled from the chunks a node takes in, the
 * way tests/lab/labplay models a player's: playback starts once startup
 * ms of stream are held, then consumes the stream in real time; when the
 * buffer runs dry it stalls, and plays again once rebuffer ms are held.
 * Each chunk adds the stream time since the chunk before it (the step of
 * their origin timestamps); a chunk after a gap adds none, since the
 * media lost never plays. The node reports the figures (played, stalled,
 * stalls) in its STATUS, so that the status page shows continuity.
 *
 * Pure: the caller gives the clock, in ms; no allocation, no I/O.
 */
#ifndef TREECAST_PLAYOUT_H
#define TREECAST_PLAYOUT_H

#include <stdint.h>

#define PLAYOUT_STARTUP_MS	1000	/* as labplay's defaults */
#define PLAYOUT_REBUFFER_MS	500
#define PLAYOUT_STEP_MAX_MS	5000	/* a larger step is a jump, not media */

enum playout_state {
	PLAYOUT_STARTING,	/* filling the start-up buffer (not a stall) */
	PLAYOUT_PLAYING,	/* consuming in real time */
	PLAYOUT_STALLED		/* ran dry: refilling to rebuffer */
};

struct playout {
	enum playout_state	state;
	uint32_t		startup_ms, rebuffer_ms;
	uint64_t		at_ms;		/* the clock at the last update */
	uint64_t		held_us;	/* stream held, not played yet */
	uint64_t		last_seq, last_ts_us;
	int			has_last;
	uint64_t		played_ms, stalled_ms;
	uint32_t		stalls;
};

void	playout_init(struct playout *p, uint32_t startup_ms,
	    uint32_t rebuffer_ms);
/* The chunk numbered seq with origin timestamp ts_us came at now_ms. */
void	playout_chunk(struct playout *p, uint64_t now_ms, uint64_t seq,
	    uint64_t ts_us);
/* Plays (or stalls) up to now_ms; the figures are then up to date. */
void	playout_advance(struct playout *p, uint64_t now_ms);
/* The share of playback time not stalled, 0..1 (1 before any); inline,
 * for the negotiator's figures without the media library. */
static inline double
playout_continuity(uint64_t played_ms, uint64_t stalled_ms)
{
	return played_ms + stalled_ms > 0 ? (double)played_ms /
	    (double)(played_ms + stalled_ms) : 1.0;
}

#endif
