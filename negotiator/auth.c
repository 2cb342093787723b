/* A session's anti-replay window (negotiator/auth.h). */
#include "config.h"

#include "negotiator/auth.h"

enum auth_verdict
auth_window_check(struct auth_window in, uint32_t seq,
    struct auth_window *out)
{
	uint32_t d;

	*out = in;
	if (seq == 0)
		return AUTH_REPLAY;
	if (seq > in.last) {
		d = seq - in.last;
		out->seen = d > AUTH_WINDOW ? 0 : (uint8_t)((in.seen << d) |
		    (in.last != 0 ? 1u << (d - 1) : 0));
		out->last = seq;
		return AUTH_FRESH;
	}
	if (seq == in.last)
		return AUTH_AGAIN;
	d = in.last - seq - 1;
	if (d >= AUTH_WINDOW)
		return AUTH_REPLAY;
	out->seen = (uint8_t)(in.seen | 1u << d);
	return in.seen & (1u << d) ? AUTH_AGAIN : AUTH_FRESH;
}
