/* A viewer's playout buffer, modelled. */
#include "config.h"

#include <string.h>

#include "media/playout.h"

void
playout_init(struct playout *p, uint32_t startup_ms, uint32_t rebuffer_ms)
{
	memset(p, 0, sizeof *p);
	p->startup_ms = startup_ms;
	p->rebuffer_ms = rebuffer_ms;
}

void
playout_advance(struct playout *p, uint64_t now_ms)
{
	uint64_t dt_us;

	if (p->at_ms == 0 || now_ms <= p->at_ms) {
		if (p->at_ms == 0)
			p->at_ms = now_ms;
		return;
	}
	dt_us = (now_ms - p->at_ms) * 1000;
	p->at_ms = now_ms;
	switch (p->state) {
	case PLAYOUT_STARTING:
		break;
	case PLAYOUT_PLAYING:
		if (p->held_us >= dt_us) {
			p->held_us -= dt_us;
			p->played_ms += dt_us / 1000;
			break;
		}
		/* Dry part way: played what was held, stalled the rest. */
		p->played_ms += p->held_us / 1000;
		p->stalled_ms += (dt_us - p->held_us) / 1000;
		p->held_us = 0;
		p->state = PLAYOUT_STALLED;
		p->stalls++;
		break;
	case PLAYOUT_STALLED:
		p->stalled_ms += dt_us / 1000;
		break;
	}
}

void
playout_chunk(struct playout *p, uint64_t now_ms, uint64_t seq,
    uint64_t ts_us)
{
	uint64_t step;

	playout_advance(p, now_ms);
	if (p->has_last && seq == p->last_seq + 1 && ts_us >= p->last_ts_us) {
		step = ts_us - p->last_ts_us;
		if (step <= (uint64_t)PLAYOUT_STEP_MAX_MS * 1000)
			p->held_us += step;
	}
	p->has_last = 1;
	p->last_seq = seq;
	p->last_ts_us = ts_us;
	if ((p->state == PLAYOUT_STARTING &&
	    p->held_us >= (uint64_t)p->startup_ms * 1000) ||
	    (p->state == PLAYOUT_STALLED &&
	    p->held_us >= (uint64_t)p->rebuffer_ms * 1000))
		p->state = PLAYOUT_PLAYING;
}
