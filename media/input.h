/*
 * The origin's source: any libavformat input (file, srt://, rtmp://,
 * udp://...), remuxed to MPEG-TS and cut into chunks on TS packet
 * boundaries. A chunk is cut where a video keyframe starts (the muxer puts
 * PAT and PMT just before it, and that chunk begins with them and carries
 * CHUNK_F_KEYFRAME) or when the next packets would not fit in
 * CHUNK_MAX_PAYLOAD. Does no I/O beyond libavformat's and never logs; it
 * does not touch libavformat's global log level either.
 */
#ifndef TREECAST_MEDIA_INPUT_H
#define TREECAST_MEDIA_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "media/chunk.h"

struct media_input;

struct media_input_options {
	int	loop;		/* at the end, seek to the start and go on, with
				   timestamps still increasing */
	int	realtime;	/* pace packets by their dts, as ffmpeg -re */
};

/* Called with each chunk as it is cut; c and its payload are valid only
 * during the call. Sequence numbers start at 0 and are consecutive. */
typedef void (*media_chunk_cb)(const struct chunk *c, void *arg);

/*
 * Opens url (blocking: start-up only), finds its streams and sets up the
 * MPEG-TS muxer. opt may be NULL (no loop, no pacing). Returns the input,
 * or NULL with a sentence naming the url and the failure in err.
 */
struct media_input *media_input_open(const char *url,
	    const struct media_input_options *opt, media_chunk_cb cb, void *arg,
	    char *err, size_t errlen);

/*
 * Does one packet's worth of work: reads a packet and remuxes it (emitting
 * any chunks it completes), or with realtime pacing, finds the held packet
 * not yet due. Returns 0 and sets *wait_us to how long the caller should
 * wait before the next call (0: at once); 1 at the end of the input, once
 * the muxer is flushed and the last chunk emitted (and on every later
 * call); -1 with a reason in err on a read or mux error.
 */
int	media_input_step(struct media_input *in, int64_t *wait_us,
	    char *err, size_t errlen);

/* Chunks emitted so far. */
uint64_t media_input_chunks(const struct media_input *in);
/* Closes the input and the muxer without emitting anything; accepts NULL. */
void	media_input_close(struct media_input *in);

#endif
