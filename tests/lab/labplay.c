/*
 * labplay: a viewer's player, measured: decodes a live MPEG-TS stream and
 * models a playout buffer, counting the stalls a viewer would see.
 *
 *   labplay [--startup MS] [--rebuffer MS] URL
 *
 * Opens URL with libavformat (http://.../live.ts), decodes its first video
 * stream with libavcodec (one thread) and adds each decoded frame's
 * duration (1 / the stream's frame rate) to the media it holds: a lost
 * chunk is lost frames, media that never comes. Playback starts once
 * --startup ms of media are held (default 1000) and then consumes media in
 * real time; when the buffer runs dry it stalls, and plays again once
 * --rebuffer ms are held (default 500). Each stall is printed as it ends,
 * with its wall-clock start (UTC, ms) and length; on SIGTERM, SIGINT or the
 * stream's end it prints one summary line (startup -1: it never played):
 *
 *   labplay: played S s, stalled S s in N stalls (longest MS ms), startup
 *   MS ms, F frames, E decode errors
 *
 * A stall still running at the end is counted up to the end. A test
 * instrument, not part of treecast.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "net/util/clock.h"

#define LAB_TOOL "labplay"
#include "labutil.h"

enum play_state {
	PLAY_STARTING,		/* filling the start-up buffer */
	PLAY_PLAYING,		/* consuming media in real time */
	PLAY_STALLED		/* ran dry: refilling to --rebuffer */
};

struct play {
	enum play_state	 state;
	double		 startup_s, rebuffer_s;
	double		 opened;	/* wall clock, s */
	double		 held;		/* media decoded since the start, s */
	double		 resumed;	/* wall clock of the last resume */
	double		 at_resume;	/* media played by then */
	double		 first_play;	/* wall clock playback started, or 0 */
	double		 stall_at;	/* wall clock the stall began */
	double		 stalled;	/* seconds stalled, in all */
	double		 longest;
	unsigned	 stalls;
	uint64_t	 frames, errors;
};

static volatile sig_atomic_t play_stop;

static double
now_s(void)
{
	return (double)clock_wall_us() / 1e6;
}

static void
on_signal(int sig)
{
	(void)sig;
	play_stop = 1;
}

/* libavformat's blocking reads give up when asked to stop. */
static int
play_interrupt(void *arg)
{
	(void)arg;
	return play_stop;
}

/* The wall clock at which a playing buffer runs dry. */
static double
play_dry_at(const struct play *p)
{
	return p->resumed + (p->held - p->at_resume);
}

/* Brings the model up to wall time t: a playing buffer may have run dry. */
static void
play_advance(struct play *p, double t)
{
	double dry;

	if (p->state != PLAY_PLAYING)
		return;
	dry = play_dry_at(p);
	if (t < dry)
		return;
	p->state = PLAY_STALLED;
	p->stall_at = dry;
}

static void
play_stall_end(struct play *p, double t)
{
	double len = t - p->stall_at;
	time_t sec = (time_t)p->stall_at;
	struct tm tm;
	char stamp[32];

	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	printf("stall at %s.%03dZ for %.0f ms\n", stamp,
	    (int)((p->stall_at - (double)sec) * 1000), len * 1000);
	fflush(stdout);
	p->stalls++;
	p->stalled += len;
	if (len > p->longest)
		p->longest = len;
}

/* One decoded frame of dur seconds arrived at wall time t. */
static void
play_frame(struct play *p, double t, double dur)
{
	play_advance(p, t);
	p->frames++;
	p->held += dur;
	switch (p->state) {
	case PLAY_STARTING:
		if (p->held >= p->startup_s) {
			p->state = PLAY_PLAYING;
			p->first_play = p->resumed = t;
			p->at_resume = 0;
		}
		break;
	case PLAY_STALLED:
		/* Stalled, the playhead stands where the buffer ran dry. */
		if (p->held - (p->at_resume + (p->stall_at - p->resumed)) >=
		    p->rebuffer_s) {
			play_stall_end(p, t);
			p->at_resume += p->stall_at - p->resumed;
			p->resumed = t;
			p->state = PLAY_PLAYING;
		}
		break;
	case PLAY_PLAYING:
		break;
	}
}

static void
play_summary(struct play *p, double t)
{
	double played;

	play_advance(p, t);
	if (p->state == PLAY_STALLED)
		play_stall_end(p, t);
	played = p->first_play > 0 ? t - p->first_play - p->stalled : 0;
	printf("labplay: played %.3f s, stalled %.3f s in %u stalls (longest "
	    "%.0f ms), startup %.0f ms, %llu frames, %llu decode errors\n",
	    played < 0 ? 0 : played, p->stalled, p->stalls, p->longest * 1000,
	    p->first_play > 0 ? (p->first_play - p->opened) * 1000 : -1.0,
	    (unsigned long long)p->frames, (unsigned long long)p->errors);
	fflush(stdout);
}

static double
parse_ms(const char *opt, const char *v)
{
	char *end;
	double ms = strtod(v, &end);

	if (*end != '\0' || ms < 0 || ms > 60000)
		die("%s '%s': expected 0 to 60000 ms", opt, v);
	return ms / 1000;
}

int
main(int argc, char **argv)
{
	struct play p;
	AVFormatContext *fmt = NULL;
	AVDictionary *o = NULL;
	const AVCodec *codec;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	AVRational fr;
	const char *url = NULL;
	double dur;
	int i, vi, r;

	memset(&p, 0, sizeof p);
	p.startup_s = 1.0;
	p.rebuffer_s = 0.5;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--startup") == 0 && i + 1 < argc) {
			p.startup_s = parse_ms(argv[i], argv[i + 1]);
			i++;
		} else if (strcmp(argv[i], "--rebuffer") == 0 &&
		    i + 1 < argc) {
			p.rebuffer_s = parse_ms(argv[i], argv[i + 1]);
			i++;
		} else if (argv[i][0] == '-' || url != NULL)
			die("usage: labplay [--startup MS] [--rebuffer MS] URL");
		else
			url = argv[i];
	}
	if (url == NULL)
		die("usage: labplay [--startup MS] [--rebuffer MS] URL");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	av_log_set_level(AV_LOG_ERROR);
	avformat_network_init();

	/* The peer may not listen yet: try again for up to 10 s. */
	p.opened = now_s();
	av_dict_set(&o, "analyzeduration", "500000", 0);
	for (i = 0; ; i++) {
		AVDictionary *oo = NULL;

		if ((fmt = avformat_alloc_context()) == NULL)
			die("out of memory");
		fmt->interrupt_callback.callback = play_interrupt;
		av_dict_copy(&oo, o, 0);
		r = avformat_open_input(&fmt, url, NULL, &oo);
		av_dict_free(&oo);
		if (r == 0)
			break;
		if (play_stop) {
			play_summary(&p, now_s());
			return 0;
		}
		if (i >= 100)
			die("%s: %s", url, av_err2str(r));
		usleep(100000);
	}
	av_dict_free(&o);
	if ((r = avformat_find_stream_info(fmt, NULL)) < 0) {
		if (play_stop) {
			play_summary(&p, now_s());
			return 0;
		}
		die("%s: no stream info: %s", url, av_err2str(r));
	}
	if ((vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec,
	    0)) < 0)
		die("%s: no video stream", url);
	if ((dec = avcodec_alloc_context3(codec)) == NULL ||
	    avcodec_parameters_to_context(dec, fmt->streams[vi]->codecpar) < 0)
		die("cannot set up the decoder");
	dec->thread_count = 1;
	if (avcodec_open2(dec, codec, NULL) < 0)
		die("cannot open the %s decoder", codec->name);
	fr = av_guess_frame_rate(fmt, fmt->streams[vi], NULL);
	dur = fr.num > 0 && fr.den > 0 ? (double)fr.den / fr.num : 0.04;
	if ((pkt = av_packet_alloc()) == NULL ||
	    (frame = av_frame_alloc()) == NULL)
		die("out of memory");

	while (!play_stop && av_read_frame(fmt, pkt) >= 0) {
		if (pkt->stream_index == vi) {
			if (avcodec_send_packet(dec, pkt) < 0)
				p.errors++;
			while (avcodec_receive_frame(dec, frame) == 0) {
				if (frame->decode_error_flags != 0)
					p.errors++;
				play_frame(&p, now_s(), dur);
				av_frame_unref(frame);
			}
		}
		av_packet_unref(pkt);
	}
	play_summary(&p, now_s());
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	return 0;
}
