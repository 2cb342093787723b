/* A session's anti-replay window, as IPsec's (RFC 4303 §3.4.3): pure, no
 * lock and no I/O, the window in and the verdict out. The server keeps a
 * window in each registry record (reg_node's last_seq and seq_win) and
 * runs every authenticated request's TC_ATTR_SEQ through it
 * (server-auth.c). */
#ifndef TREECAST_AUTH_H
#define TREECAST_AUTH_H

#include <stdint.h>

#define AUTH_WINDOW	8	/* numbers below the last that are remembered */

struct auth_window {
	uint32_t	last;	/* the highest number taken; 0: none yet */
	uint8_t		seen;	/* bit i: last - 1 - i taken */
};

enum auth_verdict {
	AUTH_FRESH,	/* not seen: act on it */
	AUTH_AGAIN,	/* seen: a retransmission (RFC 8489 §6.2.1 resends a
			   request unchanged), answered again, not acted on */
	AUTH_REPLAY	/* 0, or below the window: drop it */
};

/*
 * The verdict on sequence number seq against the window in, and in *out
 * the window after it (in unchanged on AUTH_REPLAY). A number above the
 * last is fresh, and the window slides up to it; the last again, or one of
 * the AUTH_WINDOW below it that was taken, is AUTH_AGAIN; one of those not
 * taken is fresh (a request overtaken by a later one: a LINK retransmitted
 * after the next keepalive went out); anything older, or 0, is a replay.
 * Numbers do not wrap: after UINT32_MAX every number is old.
 */
enum auth_verdict auth_window_check(struct auth_window in, uint32_t seq,
	    struct auth_window *out);

#endif
