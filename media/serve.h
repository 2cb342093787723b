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
/* Links taken beyond the fanout (by a node that serves any), for a
 * while: in a repair a vanished child's children come to it as standbys
 * (their grandparent) before the vanished child's link has broken, and a
 * child the tree moved here may come before the one it moved away has
 * closed its link. A live third child costs a 1.5 times upload for the
 * second or so a repair takes. */
#define SERVE_EXTRA		2

struct serve_stats {
	uint64_t	chunks;		/* chunk messages sent */
	uint64_t	bytes;
	uint64_t	blocked;	/* sends deferred: UDT's buffer was full */
	uint64_t	skipped;	/* chunks a slow child never got */
	uint64_t	stuck;		/* children dropped: no ACK (gone) */
};

/* Serves ring to up to fanout children. */
struct serve *serve_new(struct event_base *base, struct ring *ring,
	    unsigned fanout);
/* Forgets every child (the links stay the caller's). */
void	serve_free(struct serve *s);

/* The children's side of struct link_callbacks (net/link/link.h), for the
 * node's own callbacks to hand the links of its children to:
 * incoming takes a child while a link is free (0) or refuses it (-1):
 * the fanout and two more, for a repair's standbys and a moved child
 * that has not closed its link yet;
 * connected starts serving it, nothing sent before its RESUME; a
 * malformed message closes its link; closed forgets it. */
int	serve_incoming(struct serve *s, uint64_t node);
void	serve_connected(struct serve *s, struct link *l);
void	serve_message(struct serve *s, struct link *l, const uint8_t *msg,
	    size_t len);
void	serve_closed(struct serve *s, struct link *l, const char *why);
/* A chunk was pushed into the ring: send it on. */
void	serve_pushed(struct serve *s);
size_t	serve_children(const struct serve *s);
/* 1 when node is linked to us as a child. */
int	serve_has_child(const struct serve *s, uint64_t node);
const struct serve_stats *serve_stats(const struct serve *s);

/*
 * Sends the node's STATUS to the negotiator on session: parent (the node
 * it is linked to, 0 for none or for the origin), the children linked now,
 * and h, whose bytes_out and kbps_out are filled in here from what was
 * served (kbps over the ms since the last report). For the status page.
 */
struct session;
struct tc_health;
int	serve_report(struct serve *s, struct session *session,
	    uint64_t parent, struct tc_health *h, unsigned ms);

/* Logs, at debug, each child's link as UDT sees it. */
void	serve_log_children(const struct serve *s);

/*
 * The chunk a child owed the numbers from *next on gets now: the one
 * numbered *next, or, that one having left the ring, the oldest keyframe
 * the ring holds (*next moved to it, the numbers passed over added to
 * *skipped). NULL when the child has all the ring holds, or the ring no
 * keyframe after the gap. Numbers wrap (serial number arithmetic).
 */
struct chunk;
const struct chunk *serve_next(const struct ring *r, uint64_t *next,
	    uint64_t *skipped);

/* A RESUME message into buf (SERVE_RESUME_LEN bytes); returns its length. */
size_t	serve_resume_build(uint8_t *buf, int from_keyframe, uint64_t seq);
/* Reads the RESUME message of len bytes at msg: 0 with *keyframe 1 for
 * "K", or 0 and the sequence number in *seq for "R" (both zeroed first);
 * -1 for anything else (another length, another first byte). */
int	serve_resume_parse(const uint8_t *msg, size_t len, int *keyframe,
	    uint64_t *seq);

#endif
