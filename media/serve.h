/* Serving children: a node (the origin, or a peer relaying) sends the
 * chunks of its ring to each child over the child's link, cut-through, from
 * where the child asks to resume (DESIGN.md, "Media path").
 *
 * On a link, the child speaks first: one RESUME message, "K" for "from the
 * latest keyframe" (a new viewer) or "R" and a big-endian u64 sequence
 * number (a child re-parented, going on from where it was). The parent
 * then sends one chunk a message (media/chunk.h's encoding), in order.
 * Where the asked chunk has left the ring, it starts at the oldest
 * keyframe it holds and the child sees the gap in the numbers; a child that
 * wants a keyframe when the ring holds none (a live input joined in the
 * middle of a group of pictures) waits for the next one. */
#ifndef TREECAST_SERVE_H
#define TREECAST_SERVE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct link;
struct ring;
struct serve;

#define SERVE_RESUME_KEYFRAME	'K'
#define SERVE_RESUME_SEQ	'R'
#define SERVE_RESUME_LEN	9	/* 'R' and the sequence number */

struct serve_stats {
	uint64_t	chunks;		/* chunk messages sent */
	uint64_t	bytes;
	uint64_t	blocked;	/* sends deferred: UDT's buffer was full */
	uint64_t	skipped;	/* chunks a slow child never got */
};

struct serve *serve_new(struct event_base *base, struct ring *ring);
/* Forgets every child (the links stay the caller's). */
void	serve_free(struct serve *s);
/* A child's link is up; nothing is sent before its RESUME. */
int	serve_add(struct serve *s, struct link *l);
/* The child's message (its RESUME). -1 for a malformed one: close it. */
int	serve_message(struct serve *s, struct link *l, const uint8_t *msg,
	    size_t len);
/* The child's link is gone or about to be closed. */
void	serve_remove(struct serve *s, struct link *l);
/* A chunk was pushed into the ring: send it on. */
void	serve_pushed(struct serve *s);
size_t	serve_children(const struct serve *s);
const struct serve_stats *serve_stats(const struct serve *s);

/* A RESUME message into buf (SERVE_RESUME_LEN bytes); returns its length. */
size_t	serve_resume_build(uint8_t *buf, int from_keyframe, uint64_t seq);

#endif
