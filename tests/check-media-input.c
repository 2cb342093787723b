/*
 * Unit tests for media/input: a sample made with the ffmpeg command line
 * goes through the remuxer and chunker, and the chunks' payloads must
 * decode as the frames that went in; looping, pacing, and a file that
 * will not open.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "media/input.h"
#include "net/util/clock.h"
#include "media/chunk.h"
#include "tests/check-run.h"

/* ---- media_input, end to end ---- */

static char sample_dir[] = "/tmp/check-media-XXXXXX";
static char sample_path[256];
static char sample_problem[1200];

/* Unchecked fixture: makes the sample once for the test case. */
static void
sample_setup(void)
{
	char cmd[1024];
	int rc;

	if (system("command -v ffmpeg >/dev/null 2>&1") != 0) {
		snprintf(sample_problem, sizeof sample_problem, "the ffmpeg "
		    "command is not installed (Debian: apt-get install "
		    "ffmpeg): it makes the sample for the end-to-end tests");
		return;
	}
	if (mkdtemp(sample_dir) == NULL) {
		snprintf(sample_problem, sizeof sample_problem, "mkdtemp "
		    "failed");
		return;
	}
	snprintf(sample_path, sizeof sample_path, "%s/sample.mp4", sample_dir);
	snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -hide_banner -loglevel "
	    "error -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i "
	    "sine=frequency=440 -t 4 -c:v libx264 -g 50 -pix_fmt yuv420p "
	    "-c:a aac -shortest -y '%s'", sample_path);
	if ((rc = system(cmd)) != 0)
		snprintf(sample_problem, sizeof sample_problem, "ffmpeg failed "
		    "(status %d) making the sample: %s", rc, cmd);
}

static void
sample_teardown(void)
{
	char cmd[512];

	if (sample_dir[strlen(sample_dir) - 1] != 'X') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", sample_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", sample_dir);
	}
}

/* Everything media_input emitted. */
struct collect {
	uint8_t		*data;
	size_t		 len, cap;
	size_t		 n;
	uint64_t	*seq;
	uint8_t		*flags;
	size_t		*off;		/* each chunk's start in data */
	size_t		 maxn;
	int		 bad;		/* chunks that fail chunk_decode */
};

static void
collect_cb(const struct chunk *c, void *arg)
{
	struct collect *k = arg;
	uint8_t wire[CHUNK_MAX_LEN];
	struct chunk d;

	/* Every emitted chunk must survive the codec. */
	if (chunk_encode(c, wire, sizeof wire) < 0 ||
	    chunk_decode(wire, sizeof wire, &d, NULL, 0) < 0)
		k->bad++;
	if (k->n == k->maxn) {
		k->maxn = k->maxn ? 2 * k->maxn : 64;
		k->seq = realloc(k->seq, k->maxn * sizeof *k->seq);
		k->flags = realloc(k->flags, k->maxn);
		k->off = realloc(k->off, k->maxn * sizeof *k->off);
		ck_assert(k->seq && k->flags && k->off);
	}
	if (k->len + c->len > k->cap) {
		k->cap = (k->cap + c->len) * 2;
		k->data = realloc(k->data, k->cap);
		ck_assert_ptr_nonnull(k->data);
	}
	k->seq[k->n] = c->seq;
	k->flags[k->n] = c->flags;
	k->off[k->n] = k->len;
	k->n++;
	memcpy(k->data + k->len, c->payload, c->len);
	k->len += c->len;
}

static void
collect_free(struct collect *k)
{
	free(k->data);
	free(k->seq);
	free(k->flags);
	free(k->off);
}

/* libav's error messages while a test runs; the last one kept. */
static int av_errors;
static char av_last_error[256];

static void
count_log(void *avcl, int level, const char *fmt, va_list ap)
{
	(void)avcl;
	if (level > AV_LOG_ERROR)
		return;
	av_errors++;
	vsnprintf(av_last_error, sizeof av_last_error, fmt, ap);
}

static void
require_sample(void)
{
	if (sample_problem[0] != '\0')
		ck_abort_msg("%s", sample_problem);
	av_log_set_callback(count_log);
}

/* Runs the sample through media_input without pacing. max_steps 0: to the
 * end of input. */
static void
run_input(const struct media_input_options *opt, size_t max_steps,
    struct collect *k)
{
	struct media_input *in;
	char err[512] = "";
	int64_t wait;
	size_t steps = 0;
	int rc;

	in = media_input_open(sample_path, opt, collect_cb, k, err,
	    sizeof err);
	ck_assert_msg(in != NULL, "media_input_open: %s", err);
	while ((rc = media_input_step(in, &wait, err, sizeof err)) == 0) {
		ck_assert_int_eq(wait, 0);
		if (max_steps != 0 && ++steps == max_steps)
			break;
	}
	ck_assert_msg(rc >= 0, "media_input_step: %s", err);
	if (rc == 1) {
		ck_assert_int_eq(media_input_step(in, &wait, err, sizeof err),
		    1);
	}
	ck_assert_uint_eq(media_input_chunks(in), k->n);
	media_input_close(in);
}

static void
write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

struct decoded {
	int	frames;
	int	errors;		/* API errors and corrupt frames */
	int	first_key;	/* the first frame decoded is a keyframe */
	int	monotonic;	/* frame timestamps strictly increase */
	int64_t	max_step;	/* largest step between them, 90 kHz */
};

/* Decodes the video of a TS file. */
static struct decoded
decode_ts(const char *path)
{
	AVFormatContext *ic = NULL;
	AVCodecContext *dec;
	const AVCodec *codec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	struct decoded d;
	int64_t last = AV_NOPTS_VALUE, ts;
	int vi, rc, draining = 0;

	memset(&d, 0, sizeof d);
	d.monotonic = 1;
	ck_assert_int_eq(avformat_open_input(&ic, path, NULL, NULL), 0);
	ck_assert_int_ge(avformat_find_stream_info(ic, NULL), 0);
	vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	ck_assert_int_ge(vi, 0);
	dec = avcodec_alloc_context3(codec);
	ck_assert_int_ge(avcodec_parameters_to_context(dec,
	    ic->streams[vi]->codecpar), 0);
	dec->pkt_timebase = ic->streams[vi]->time_base;
	ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);
	for (;;) {
		if (!draining) {
			rc = av_read_frame(ic, pkt);
			if (rc < 0) {
				draining = 1;
				rc = avcodec_send_packet(dec, NULL);
			} else if (pkt->stream_index != vi) {
				av_packet_unref(pkt);
				continue;
			} else {
				rc = avcodec_send_packet(dec, pkt);
				av_packet_unref(pkt);
			}
			if (rc < 0 && rc != AVERROR(EAGAIN))
				d.errors++;
		}
		for (;;) {
			rc = avcodec_receive_frame(dec, frame);
			if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
				break;
			if (rc < 0) {
				d.errors++;
				break;
			}
			if (d.frames == 0)
				d.first_key = frame->key_frame;
			if ((frame->flags & AV_FRAME_FLAG_CORRUPT) ||
			    frame->decode_error_flags != 0)
				d.errors++;
			ts = frame->best_effort_timestamp;
			if (last != AV_NOPTS_VALUE) {
				if (ts == AV_NOPTS_VALUE || ts <= last)
					d.monotonic = 0;
				else if (ts - last > d.max_step)
					d.max_step = ts - last;
			}
			last = ts;
			d.frames++;
			av_frame_unref(frame);
		}
		if (draining && rc == AVERROR_EOF)
			break;
		if (draining && rc != AVERROR(EAGAIN) && rc < 0)
			break;
	}
	avcodec_free_context(&dec);
	avformat_close_input(&ic);
	av_packet_free(&pkt);
	av_frame_free(&frame);
	return d;
}

/* Whether PID 0 appears in the first n TS packets from p. */
static int
has_pat(const uint8_t *p, size_t len, size_t n)
{
	size_t i;

	for (i = 0; i < n && (i + 1) * CHUNK_TS_PACKET <= len; i++)
		if (chunk_ts_pid(p + i * CHUNK_TS_PACKET) == 0)
			return 1;
	return 0;
}

START_TEST(test_input_e2e)
{
	struct collect k;
	struct decoded d, tail;
	char ts_path[300];
	size_t i, keys = 0, last_key = 0, len;

	require_sample();
	memset(&k, 0, sizeof k);
	run_input(NULL, 0, &k);
	ck_assert_int_eq(k.bad, 0);
	ck_assert_uint_gt(k.n, 2);
	for (i = 0; i < k.n; i++) {
		ck_assert_uint_eq(k.seq[i], i);
		len = (i + 1 < k.n ? k.off[i + 1] : k.len) - k.off[i];
		ck_assert_uint_le(len, CHUNK_MAX_PAYLOAD);
		if (k.flags[i] & CHUNK_F_KEYFRAME) {
			keys++;
			last_key = i;
			ck_assert_msg(has_pat(k.data + k.off[i], len, 3),
			    "keyframe chunk %zu does not open with PAT", i);
		}
	}
	ck_assert_msg(keys >= 2, "%zu keyframe chunks", keys);
	ck_assert_uint_eq(k.flags[0] & CHUNK_F_KEYFRAME, CHUNK_F_KEYFRAME);

	snprintf(ts_path, sizeof ts_path, "%s/all.ts", sample_dir);
	write_file(ts_path, k.data, k.len);
	d = decode_ts(ts_path);
	fprintf(stderr, "e2e: %zu chunks, %zu keyframe chunks, %zu bytes, "
	    "%d frames, %d decode errors, %d libav errors%s%s",
	    k.n, keys, k.len, d.frames, d.errors, av_errors,
	    av_errors ? ", last: " : "", av_errors ? av_last_error : "\n");
	ck_assert_int_eq(d.frames, 100);
	ck_assert_int_eq(d.errors, 0);
	ck_assert_int_eq(av_errors, 0);
	ck_assert(d.monotonic);

	/* A new viewer that starts at the latest keyframe chunk. */
	snprintf(ts_path, sizeof ts_path, "%s/tail.ts", sample_dir);
	write_file(ts_path, k.data + k.off[last_key], k.len - k.off[last_key]);
	tail = decode_ts(ts_path);
	fprintf(stderr, "e2e: from keyframe chunk %zu: %d frames, %d "
	    "errors\n", last_key, tail.frames, tail.errors);
	ck_assert_int_gt(tail.frames, 0);
	ck_assert_int_eq(tail.frames % 50, 0);
	ck_assert(tail.first_key);
	ck_assert_int_eq(tail.errors, 0);
	ck_assert_int_eq(av_errors, 0);
	collect_free(&k);
}
END_TEST

START_TEST(test_input_loop)
{
	struct media_input_options opt = { .loop = 1, .realtime = 0 };
	struct collect k;
	struct decoded d;
	char ts_path[300];
	size_t i, last_key = 0;

	require_sample();
	memset(&k, 0, sizeof k);
	/* About 290 packets a pass: this is two and a half passes. */
	run_input(&opt, 730, &k);
	for (i = 0; i < k.n; i++) {
		ck_assert_uint_eq(k.seq[i], i);
		if (k.flags[i] & CHUNK_F_KEYFRAME)
			last_key = i;
	}
	/* Keep whole frames only: cut where the last keyframe begins. */
	snprintf(ts_path, sizeof ts_path, "%s/loop.ts", sample_dir);
	write_file(ts_path, k.data, k.off[last_key]);
	d = decode_ts(ts_path);
	fprintf(stderr, "loop: %zu chunks, %d frames, %d errors, largest "
	    "step %lld\n", k.n, d.frames, d.errors, (long long)d.max_step);
	ck_assert_int_ge(d.frames, 200);
	ck_assert_int_eq(d.frames % 50, 0);
	ck_assert_int_eq(d.errors, 0);
	ck_assert(d.monotonic);
	/* 25 fps is 3600 in 90 kHz. At a seam the next pass starts when the
	 * longest stream ended: here the audio, one AAC frame (23 ms) after
	 * the video. Less than a frame's gap, never an overlap. */
	ck_assert_int_ge(d.max_step, 3600);
	ck_assert_int_lt(d.max_step, 7200);
	ck_assert_int_eq(av_errors, 0);
	collect_free(&k);
}
END_TEST
START_TEST(test_input_realtime)
{
	struct media_input_options opt = { .loop = 0, .realtime = 1 };
	struct collect paced, all;
	struct media_input *in;
	char err[512];
	int64_t wait, max_wait = 0;
	uint64_t start;
	int rc, waits = 0;

	require_sample();
	memset(&all, 0, sizeof all);
	run_input(NULL, 0, &all);

	memset(&paced, 0, sizeof paced);
	in = media_input_open(sample_path, &opt, collect_cb, &paced, err,
	    sizeof err);
	ck_assert_msg(in != NULL, "%s", err);
	start = clock_us();
	while (clock_us() - start < 1000000) {
		rc = media_input_step(in, &wait, err, sizeof err);
		ck_assert_int_eq(rc, 0);
		if (wait > 0) {
			waits++;
			if (wait > max_wait)
				max_wait = wait;
			usleep((useconds_t)wait);
		}
	}
	media_input_close(in);
	fprintf(stderr, "realtime: 1 s paced gave %zu of %zu bytes, %d "
	    "waits, longest %lld us\n", paced.len, all.len, waits,
	    (long long)max_wait);
	ck_assert_int_gt(waits, 0);	/* no more: a loaded machine waits less */
	ck_assert_int_le(max_wait, 100000);
	ck_assert_uint_gt(paced.len, 0);
	/* One second of a four-second file, plus the muxer's delay. */
	ck_assert_uint_lt(paced.len, all.len * 6 / 10);
	collect_free(&paced);
	collect_free(&all);
}
END_TEST

START_TEST(test_input_open_fail)
{
	struct media_input *in;
	char err[512] = "";

	in = media_input_open("/nonexistent/treecast.mp4", NULL, collect_cb,
	    NULL, err, sizeof err);
	ck_assert_ptr_null(in);
	ck_assert_msg(strstr(err, "/nonexistent/treecast.mp4") != NULL,
	    "%s", err);
	media_input_close(NULL);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "input", .setup = sample_setup,
		    .teardown = sample_teardown, .unchecked = 1,
		    .timeout = 120, .tests = { test_input_open_fail,
		    test_input_e2e, test_input_loop, test_input_realtime } },
	};

	return check_run_cases("media-input", cases,
	    sizeof cases / sizeof cases[0]);
}
