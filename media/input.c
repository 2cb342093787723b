/*
 * libavformat input to chunks: demux, remux to MPEG-TS into our own
 * AVIOContext, and cut the TS byte stream into chunks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
#include <libavutil/time.h>

#include "media/input.h"
#include "net/util/clock.h"

/* PIDs we ask the muxer for, so that the chunker knows them. */
#define MEDIA_PID_PAT		0x0000
#define MEDIA_PID_SDT		0x0011
#define MEDIA_PID_PMT		0x1000
#define MEDIA_PID_FIRST		0x0100	/* output stream i gets FIRST + i */
/* PSI packets held while we learn whether a keyframe follows them. */
#define MEDIA_PSI_MAX		16
#define MEDIA_AVIO_BUF		(CHUNK_TS_PACKET * 32)
/* A jump in timestamps larger than this restarts the pacing clock rather
 * than stalling the stream. */
#define MEDIA_MAX_WAIT_US	(5 * AV_TIME_BASE)
#define MEDIA_IO_TIMEOUT_US	(5 * 1000000)	/* one open or read, at most */

/* One input stream's timestamps in the current pass, AV_TIME_BASE. */
struct media_input_span {
	int64_t	min_pts, end_pts;	/* end: last timestamp + duration */
	int64_t	min_dts, end_dts;
	int	any;
};

struct media_input {
	AVFormatContext		*ic;
	AVFormatContext		*oc;
	int			*map;		/* input stream -> output, or -1 */
	struct media_input_span	*span;		/* per input stream */
	unsigned		 nmap;
	int			 video_pid;	/* -1: no video */
	media_chunk_cb		 cb;
	void			*arg;
	struct media_input_options opt;
	int			 done;
	int64_t			 io_deadline;	/* monotonic us: a read past it
						   is interrupted */

	/* Timestamps, in AV_TIME_BASE units. */
	int64_t			 loop_offset;	/* added to every input packet */
	int64_t			 clock_start;	/* pacing: wall clock ... */
	int64_t			 ts_start;	/* ... at this stream time */
	int			 clock_set;
	AVPacket		*pkt;
	int			 held;		/* pkt read but not yet due */

	/* The chunker, fed by the AVIO write callback. */
	uint8_t			 stage[CHUNK_TS_PACKET];
	size_t			 stage_len;
	uint8_t			 psi[MEDIA_PSI_MAX * CHUNK_TS_PACKET];
	size_t			 psi_len;
	uint8_t			 pat[CHUNK_TS_PACKET];
	uint8_t			 pmt[CHUNK_TS_PACKET];
	int			 have_pat;
	int			 have_pmt;
	uint8_t			 cur[CHUNK_MAX_PAYLOAD];
	size_t			 cur_len;
	int			 cur_key;
	uint64_t		 seq;
};

static void
media_input_averr(char *err, size_t errlen, const char *what, int rc)
{
	char buf[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(rc, buf, sizeof buf);
	snprintf(err, errlen, "%s: %s", what, buf);
}

/* libav's interrupt callback: non-zero ends a blocking open or read. */
static int
media_input_interrupt(void *opaque)
{
	const struct media_input *in = opaque;

	return (int64_t)clock_us() > in->io_deadline;
}

/* Hands the chunk being built to the callback and starts the next. */
static void
media_input_emit(struct media_input *in)
{
	struct chunk c;

	if (in->cur_len == 0)
		return;
	memset(&c, 0, sizeof c);
	c.flags = in->cur_key ? CHUNK_F_KEYFRAME : 0;
	c.seq = in->seq++;
	c.timestamp_us = clock_wall_us();
	c.payload = in->cur;
	c.len = in->cur_len;
	in->cb(&c, in->arg);
	in->cur_len = 0;
	in->cur_key = 0;
}

/* Appends whole TS packets to the chunk, cutting it first if they would
 * not fit. n is at most CHUNK_MAX_PAYLOAD. */
static void
media_input_append(struct media_input *in, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (in->cur_len + n > CHUNK_MAX_PAYLOAD)
		media_input_emit(in);
	memcpy(in->cur + in->cur_len, p, n);
	in->cur_len += n;
}

static void
media_input_flush_psi(struct media_input *in)
{
	media_input_append(in, in->psi, in->psi_len);
	in->psi_len = 0;
}

/*
 * One TS packet from the muxer. PSI (PAT, PMT, SDT) is held back until the
 * next other packet shows whether a keyframe follows: if so, the current
 * chunk ends and the keyframe's chunk begins with that PSI. The muxer
 * writes PAT and PMT before each video keyframe that follows a non-key
 * frame (mpegtsenc's force_pat); where it did not, we repeat copies of the
 * last ones, which a demuxer takes as duplicate packets (ISO/IEC 13818-1,
 * 2.4.3.3: same continuity_counter) or as a new viewer's first tables.
 */
static void
media_input_ts_packet(struct media_input *in, const uint8_t *p)
{
	uint16_t pid = chunk_ts_pid(p);

	if (pid == MEDIA_PID_PAT || pid == MEDIA_PID_PMT ||
	    pid == MEDIA_PID_SDT) {
		if (pid == MEDIA_PID_PAT && chunk_ts_pusi(p)) {
			memcpy(in->pat, p, CHUNK_TS_PACKET);
			in->have_pat = 1;
		} else if (pid == MEDIA_PID_PMT && chunk_ts_pusi(p)) {
			memcpy(in->pmt, p, CHUNK_TS_PACKET);
			in->have_pmt = 1;
		}
		if (in->psi_len == sizeof in->psi)
			media_input_flush_psi(in);
		memcpy(in->psi + in->psi_len, p, CHUNK_TS_PACKET);
		in->psi_len += CHUNK_TS_PACKET;
		return;
	}
	if ((int)pid == in->video_pid && chunk_ts_pusi(p) &&
	    chunk_ts_random_access(p)) {
		media_input_emit(in);
		in->cur_key = 1;
		if (in->psi_len == 0) {
			if (in->have_pat)
				media_input_append(in, in->pat,
				    CHUNK_TS_PACKET);
			if (in->have_pmt)
				media_input_append(in, in->pmt,
				    CHUNK_TS_PACKET);
		}
	}
	media_input_flush_psi(in);
	media_input_append(in, p, CHUNK_TS_PACKET);
}

/* The muxer's AVIO write callback: splits the bytes into TS packets. */
static int
media_input_write(void *opaque, uint8_t *buf, int size)
{
	struct media_input *in = opaque;
	size_t n, left = (size_t)size;

	while (left > 0) {
		if (in->stage_len == 0 && left >= CHUNK_TS_PACKET) {
			if (buf[0] != CHUNK_TS_SYNC)
				return AVERROR_BUG;
			media_input_ts_packet(in, buf);
			buf += CHUNK_TS_PACKET;
			left -= CHUNK_TS_PACKET;
			continue;
		}
		n = CHUNK_TS_PACKET - in->stage_len;
		if (n > left)
			n = left;
		memcpy(in->stage + in->stage_len, buf, n);
		in->stage_len += n;
		buf += n;
		left -= n;
		if (in->stage_len == CHUNK_TS_PACKET) {
			if (in->stage[0] != CHUNK_TS_SYNC)
				return AVERROR_BUG;
			media_input_ts_packet(in, in->stage);
			in->stage_len = 0;
		}
	}
	return size;
}

/* Sets up the MPEG-TS muxer over our AVIO with one output stream per
 * usable input stream. */
static int
media_input_open_muxer(struct media_input *in, char *err, size_t errlen)
{
	AVDictionary *mopts = NULL;
	AVStream *ist, *ost;
	uint8_t *buf;
	unsigned i;
	int rc, nout = 0;

	rc = avformat_alloc_output_context2(&in->oc, NULL, "mpegts", NULL);
	if (rc < 0) {
		media_input_averr(err, errlen, "mpegts muxer", rc);
		return -1;
	}
	in->nmap = in->ic->nb_streams;
	if ((in->map = calloc(in->nmap ? in->nmap : 1, sizeof *in->map)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((in->span = calloc(in->nmap ? in->nmap : 1, sizeof *in->span)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < in->nmap; i++) {
		enum AVMediaType type;

		ist = in->ic->streams[i];
		type = ist->codecpar->codec_type;
		in->map[i] = -1;
		if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO &&
		    type != AVMEDIA_TYPE_SUBTITLE)
			continue;
		if (ist->disposition & AV_DISPOSITION_ATTACHED_PIC)
			continue;
		if ((ost = avformat_new_stream(in->oc, NULL)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rc = avcodec_parameters_copy(ost->codecpar, ist->codecpar);
		if (rc < 0) {
			media_input_averr(err, errlen, "stream parameters", rc);
			return -1;
		}
		ost->codecpar->codec_tag = 0;
		ost->time_base = ist->time_base;
		ost->id = MEDIA_PID_FIRST + nout;
		if (type == AVMEDIA_TYPE_VIDEO && in->video_pid < 0)
			in->video_pid = ost->id;
		in->map[i] = nout++;
	}
	if (nout == 0) {
		snprintf(err, errlen, "no audio, video or subtitle stream");
		return -1;
	}

	if ((buf = av_malloc(MEDIA_AVIO_BUF)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	in->oc->pb = avio_alloc_context(buf, MEDIA_AVIO_BUF, 1, in, NULL,
	    media_input_write, NULL);
	if (in->oc->pb == NULL) {
		av_free(buf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	in->oc->flags |= AVFMT_FLAG_CUSTOM_IO;

	av_dict_set_int(&mopts, "mpegts_pmt_start_pid", MEDIA_PID_PMT, 0);
	/* The first packets carry SDT, PAT and PMT; "resend_headers" is
	 * one-shot and would land on whichever packet the interleaver
	 * writes next, so keyframes rely on force_pat (above) instead. */
	/* The demuxed input is interleaved already: do not let the muxer
	 * hold packets up to its default 10 s waiting for a quiet stream. */
	in->oc->max_interleave_delta = AV_TIME_BASE / 2;
	rc = avformat_write_header(in->oc, &mopts);
	av_dict_free(&mopts);
	if (rc < 0) {
		media_input_averr(err, errlen, "mpegts header", rc);
		return -1;
	}
	return 0;
}

struct media_input *
media_input_open(const char *url, const struct media_input_options *opt,
    media_chunk_cb cb, void *arg, char *err, size_t errlen)
{
	struct media_input *in;
	int rc;

	if ((in = calloc(1, sizeof *in)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->cb = cb;
	in->arg = arg;
	in->video_pid = -1;
	if (opt != NULL)
		in->opt = *opt;
	if ((in->pkt = av_packet_alloc()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/*
	 * A stalled network input must not hold the caller's event loop:
	 * every open and read gets MEDIA_IO_TIMEOUT_US, then libav gives up.
	 */
	if ((in->ic = avformat_alloc_context()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	in->ic->interrupt_callback.callback = media_input_interrupt;
	in->ic->interrupt_callback.opaque = in;
	in->io_deadline = (int64_t)clock_us() + MEDIA_IO_TIMEOUT_US;
	if ((rc = avformat_open_input(&in->ic, url, NULL, NULL)) < 0) {
		char what[512];

		snprintf(what, sizeof what, "'%s'", url);
		media_input_averr(err, errlen, what, rc);
		goto fail;
	}
	if ((rc = avformat_find_stream_info(in->ic, NULL)) < 0) {
		char what[512];

		snprintf(what, sizeof what, "'%s': stream info", url);
		media_input_averr(err, errlen, what, rc);
		goto fail;
	}
	if (media_input_open_muxer(in, err, errlen) < 0) {
		char reason[256];

		snprintf(reason, sizeof reason, "%s", err);
		snprintf(err, errlen, "'%s': %s", url, reason);
		goto fail;
	}
	return in;

fail:
	media_input_close(in);
	return NULL;
}

/*
 * At the end of one pass: seek back and move the timestamps on by the
 * pass's length, so that they keep increasing. The length is the longest
 * of any stream's pts and dts spans, so that no stream's next pass starts
 * before its last one ended (a video's leading B-frame dts do not count
 * twice). 0, or -1 if it cannot.
 */
static int
media_input_rewind(struct media_input *in)
{
	int64_t start = in->ic->start_time, len = 0;
	unsigned i;

	for (i = 0; i < in->nmap; i++) {
		struct media_input_span *sp = &in->span[i];

		if (!sp->any)
			continue;
		if (sp->end_pts - sp->min_pts > len)
			len = sp->end_pts - sp->min_pts;
		if (sp->end_dts - sp->min_dts > len)
			len = sp->end_dts - sp->min_dts;
	}
	if (len == 0)
		return -1;
	if (av_seek_frame(in->ic, -1, start != AV_NOPTS_VALUE ? start : 0,
	    AVSEEK_FLAG_BACKWARD) < 0)
		return -1;
	in->loop_offset += len;
	memset(in->span, 0, in->nmap * sizeof *in->span);
	return 0;
}

/* Widens a stream's span by one packet's timestamps. */
static void
media_input_track(struct media_input_span *sp, const AVPacket *pkt,
    AVRational tb)
{
	int64_t dur = pkt->duration > 0 ? pkt->duration : 1;
	int64_t pts = pkt->pts, dts = pkt->dts, end;

	if (pts == AV_NOPTS_VALUE)
		pts = dts;
	if (dts == AV_NOPTS_VALUE)
		dts = pts;
	if (pts == AV_NOPTS_VALUE)
		return;
	if (!sp->any) {
		sp->min_pts = sp->min_dts = INT64_MAX;
		sp->end_pts = sp->end_dts = INT64_MIN;
		sp->any = 1;
	}
	end = av_rescale_q_rnd(pts + dur, tb, AV_TIME_BASE_Q, AV_ROUND_UP);
	if (end > sp->end_pts)
		sp->end_pts = end;
	end = av_rescale_q_rnd(dts + dur, tb, AV_TIME_BASE_Q, AV_ROUND_UP);
	if (end > sp->end_dts)
		sp->end_dts = end;
	pts = av_rescale_q(pts, tb, AV_TIME_BASE_Q);
	if (pts < sp->min_pts)
		sp->min_pts = pts;
	dts = av_rescale_q(dts, tb, AV_TIME_BASE_Q);
	if (dts < sp->min_dts)
		sp->min_dts = dts;
}

/* Flushes the muxer and emits the last chunk. */
static int
media_input_finish(struct media_input *in, char *err, size_t errlen)
{
	int rc;

	in->done = 1;
	rc = av_write_trailer(in->oc);
	avio_flush(in->oc->pb);
	media_input_flush_psi(in);
	media_input_emit(in);
	if (rc < 0) {
		media_input_averr(err, errlen, "mpegts trailer", rc);
		return -1;
	}
	return 1;
}

/* Reads the next packet of a mapped stream and shifts and records its
 * timestamps. 0, 1 at the end of input, -1 on error. */
static int
media_input_read(struct media_input *in, char *err, size_t errlen)
{
	AVPacket *pkt = in->pkt;
	AVStream *ist;
	int64_t off;
	int rc;

	for (;;) {
		in->io_deadline = (int64_t)clock_us() + MEDIA_IO_TIMEOUT_US;
		rc = av_read_frame(in->ic, pkt);
		if (rc == AVERROR_EOF && in->opt.loop &&
		    media_input_rewind(in) == 0)
			continue;
		if (rc == AVERROR_EOF)
			return 1;
		if (rc < 0) {
			media_input_averr(err, errlen, "read", rc);
			return -1;
		}
		if ((unsigned)pkt->stream_index < in->nmap &&
		    in->map[pkt->stream_index] >= 0)
			break;
		av_packet_unref(pkt);
	}
	ist = in->ic->streams[pkt->stream_index];
	media_input_track(&in->span[pkt->stream_index], pkt, ist->time_base);
	if (in->loop_offset != 0) {
		off = av_rescale_q(in->loop_offset, AV_TIME_BASE_Q,
		    ist->time_base);
		if (pkt->pts != AV_NOPTS_VALUE)
			pkt->pts += off;
		if (pkt->dts != AV_NOPTS_VALUE)
			pkt->dts += off;
	}
	return 0;
}

/* Microseconds until the held packet is due under -re pacing; 0 if now. */
static int64_t
media_input_due(struct media_input *in)
{
	AVPacket *pkt = in->pkt;
	int64_t ts, now, wait;

	ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
	if (!in->opt.realtime || ts == AV_NOPTS_VALUE)
		return 0;
	ts = av_rescale_q(ts, in->ic->streams[pkt->stream_index]->time_base,
	    AV_TIME_BASE_Q);
	now = av_gettime_relative();
	if (!in->clock_set) {
		in->clock_start = now;
		in->ts_start = ts;
		in->clock_set = 1;
	}
	wait = in->clock_start + (ts - in->ts_start) - now;
	if (wait > MEDIA_MAX_WAIT_US) {
		in->clock_start = now;
		in->ts_start = ts;
		wait = 0;
	}
	return wait > 0 ? wait : 0;
}

int
media_input_step(struct media_input *in, int64_t *wait_us, char *err,
    size_t errlen)
{
	AVPacket *pkt = in->pkt;
	AVStream *ist, *ost;
	int64_t wait;
	int rc;

	*wait_us = 0;
	if (in->done)
		return 1;
	if (!in->held) {
		rc = media_input_read(in, err, errlen);
		if (rc == 1)
			return media_input_finish(in, err, errlen);
		if (rc < 0)
			return -1;
		in->held = 1;
	}
	if ((wait = media_input_due(in)) > 0) {
		*wait_us = wait;
		return 0;
	}
	in->held = 0;
	ist = in->ic->streams[pkt->stream_index];
	pkt->stream_index = in->map[pkt->stream_index];
	ost = in->oc->streams[pkt->stream_index];
	av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
	pkt->pos = -1;
	/* Takes the packet's reference, leaving pkt blank. */
	rc = av_interleaved_write_frame(in->oc, pkt);
	if (rc < 0) {
		media_input_averr(err, errlen, "mpegts write", rc);
		return -1;
	}
	avio_flush(in->oc->pb);
	return 0;
}

uint64_t
media_input_chunks(const struct media_input *in)
{
	return in->seq;
}

void
media_input_close(struct media_input *in)
{
	if (in == NULL)
		return;
	if (in->oc != NULL) {
		if (in->oc->pb != NULL) {
			av_freep(&in->oc->pb->buffer);
			avio_context_free(&in->oc->pb);
		}
		avformat_free_context(in->oc);
	}
	avformat_close_input(&in->ic);
	av_packet_free(&in->pkt);
	free(in->map);
	free(in->span);
	free(in);
}
