/* treecast-origin: reads a libavformat input and feeds the tree. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "client/discover.h"
#include "client/session.h"
#include "link/link.h"
#include "link/udt.h"
#include "media/input.h"
#include "media/ring.h"
#include "media/serve.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/opt.h"
#include "wire/key.h"
#include "wire/proto.h"

static const char synopsis[] =
    "--input URL --negotiator HOST[:PORT] [--channel NAME] [options]";
static const char about[] =
    "The root of a channel's tree: reads any libavformat input (a file,\n"
    "paced in real time, or udp://, srt://, rtmp://, http://...), cuts it\n"
    "into chunks of MPEG-TS and streams them to its children, which relay\n"
    "them on. Registers with the negotiator as the channel's origin,\n"
    "proving with its key (--key) that the channel is its own: the\n"
    "channel is named by that key, and --channel NAME is a label beside\n"
    "it, which viewers may name instead, held while the channel lives.";

enum {
	OPT_INPUT = 'i', OPT_NEGOTIATOR = 'n', OPT_CHANNEL = 'c',
	OPT_FANOUT = 'f', OPT_KEY = 'k', OPT_LOOP = 256, OPT_RING
};

#define ORIGIN_KEY_DEFAULT	"treecast-origin.key"

static const struct opt options[] = {
	{ "input", OPT_INPUT, "URL", "what to broadcast (required)" },
	{ "negotiator", OPT_NEGOTIATOR, "HOST[:PORT]",
	  "the negotiation server (required; port 3478 by default)" },
	{ "channel", OPT_CHANNEL, "NAME",
	  "a label for the channel, refused if another key holds it "
	  "(default: none; the channel is named by its key in hex)" },
	{ "fanout", OPT_FANOUT, "N", "children served directly (default 2)" },
	{ "key", OPT_KEY, "FILE",
	  "the channel's Ed25519 key, made (mode 0600) if missing (default "
	  ORIGIN_KEY_DEFAULT ")" },
	{ "loop", OPT_LOOP, NULL, "start a file again at its end" },
	{ "ring", OPT_RING, "CHUNKS",
	  "chunks kept for children that resume (default 1024)" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

struct origin {
	struct event_base	*base;
	struct addr		 server;
	const char		*input_url;
	struct key_pair		 key;		/* the channel's */
	char			 channel[TC_CHANNEL_MAX + 1];	/* its key, hex */
	char			 label[TC_CHANNEL_MAX + 1];	/* "": none */
	unsigned		 fanout;
	int			 loop;
	size_t			 ring_size;
	struct discover		*disc;
	struct session		*session;
	struct udt_loop		*udt;
	struct link_agent	*agent;
	struct media_input	*input;
	struct ring		*ring;
	struct serve		*serve;
	struct event		*step;
	struct event		*progress;
	struct event		*status;
	struct chunk_digest	 digest;
	int			 exit_code;
};

static void
origin_stop(struct origin *o, int code)
{
	o->exit_code = code;
	if (o->session != NULL && session_registered(o->session))
		session_leave(o->session);
	else
		event_base_loopexit(o->base, NULL);
}

/* Each chunk, as the input cuts it: signed with the channel's key (every
 * node checks it before it plays or relays it), kept, sent on. */
static void
origin_chunk(const struct chunk *in, void *arg)
{
	struct origin *o = arg;
	struct chunk signed_chunk = *in, *c = &signed_chunk;
	char hex[CHUNK_DIGEST_HEX];
	uint64_t first;

	if (chunk_sign(c, o->key.sk) != 0) {
		log_warn("chunk %llu: cannot sign it: dropped",
		    (unsigned long long)c->seq);
		return;
	}
	if (chunk_digest_add(&o->digest, c, &first, hex))
		log_info("chunks %llu-%llu digest %s",
		    (unsigned long long)first, (unsigned long long)c->seq,
		    hex);
	if (ring_push(o->ring, c) != 0) {
		log_warn("chunk %llu out of order: ring reset",
		    (unsigned long long)c->seq);
		ring_reset(o->ring);
		ring_push(o->ring, c);
	}
	serve_pushed(o->serve);
}

/* Reads the input as its pacing says: a timer, never a busy loop. */
static void
origin_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct origin *o = arg;
	struct timeval tv;
	int64_t wait_us = 0;
	char err[256];
	int r, n;

	(void)fd;
	(void)what;
	for (n = 0; n < 64; n++) {
		if ((r = media_input_step(o->input, &wait_us, err,
		    sizeof err)) != 0)
			break;
		if (wait_us > 0)
			break;
	}
	if (r < 0) {
		log_error("%s", err);
		origin_stop(o, 1);
		return;
	}
	if (r > 0) {
		log_info("the input ended after %llu chunks",
		    (unsigned long long)media_input_chunks(o->input));
		origin_stop(o, 0);
		return;
	}
	tv.tv_sec = (time_t)(wait_us / 1000000);
	tv.tv_usec = (suseconds_t)(wait_us % 1000000);
	evtimer_add(o->step, &tv);
}

static void
origin_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct origin *o = arg;
	const struct serve_stats *st = serve_stats(o->serve);

	(void)fd;
	(void)what;
	log_info("%llu chunks read, %zu children, %llu chunks and %.1f MB "
	    "sent", (unsigned long long)media_input_chunks(o->input),
	    serve_children(o->serve), (unsigned long long)st->chunks,
	    st->bytes / 1e6);
}

/* STATUS: the origin's children and upload, for the status page. */
static void
origin_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct origin *o = arg;
	struct tc_health h;

	(void)fd;
	(void)what;
	memset(&h, 0, sizeof h);
	h.chunks = media_input_chunks(o->input);
	serve_report(o->serve, o->session, 0, &h, TC_STATUS_MS);
}

/* Every link of the origin's is a child's. */
static int
origin_incoming(void *arg, struct link *l, uint64_t peer)
{
	struct origin *o = arg;

	(void)l;
	return serve_incoming(o->serve, peer);
}

static void
origin_connected(void *arg, struct link *l)
{
	struct origin *o = arg;

	serve_connected(o->serve, l);
}

static void
origin_failed(void *arg, struct link *l, enum link_step step, const char *why)
{
	(void)arg;
	(void)l;
	(void)step;
	(void)why;	/* link.c logged it */
}

static void
origin_message(void *arg, struct link *l, const uint8_t *msg, size_t len)
{
	struct origin *o = arg;

	serve_message(o->serve, l, msg, len);
}

static void
origin_closed(void *arg, struct link *l, const char *why)
{
	struct origin *o = arg;

	serve_closed(o->serve, l, why);
}

static const struct link_callbacks origin_links = {
	origin_incoming, origin_connected, origin_failed, origin_message,
	origin_closed
};

static void
origin_session_cb(void *arg, enum session_event ev, struct session *s)
{
	struct origin *o = arg;

	if (ev == SESSION_LEFT) {
		if (session_refused(s))
			o->exit_code = 1;
		event_base_loopexit(o->base, NULL);
	}
}

static void
origin_discovered(void *arg, const struct discover_result *r)
{
	struct origin *o = arg;
	struct session_config sc;
	struct media_input_options mo = { o->loop, 1 };
	struct timeval now = { 0, 0 }, every = { 10, 0 };
	struct timeval status_every = { TC_STATUS_MS / 1000,
	    TC_STATUS_MS % 1000 * 1000 };
	char err[256];

	if (!r->ok) {
		log_error("negotiator: %s", r->error);
		origin_stop(o, 1);
		return;
	}
	memset(&sc, 0, sizeof sc);
	sc.server = o->server;
	snprintf(sc.channel, sizeof sc.channel, "%s", o->channel);
	snprintf(sc.label, sizeof sc.label, "%s", o->label);
	sc.has_channel_key = 1;
	memcpy(sc.channel_key, o->key.pk, sizeof sc.channel_key);
	sc.sign_key = &o->key;
	sc.role = TC_ROLE_ORIGIN;
	sc.profile = r->profile;
	sc.fanout = o->fanout;
	if ((o->session = session_start(o->base, &sc, origin_session_cb, o,
	    err, sizeof err)) == NULL ||
	    (o->agent = link_agent_new(o->base, o->session, o->udt,
	    &origin_links, o, NULL)) == NULL) {
		log_error("cannot register: %s", err);
		origin_stop(o, 1);
		return;
	}
	if ((o->input = media_input_open(o->input_url, &mo, origin_chunk, o,
	    err, sizeof err)) == NULL) {
		log_error("%s", err);
		origin_stop(o, 1);
		return;
	}
	o->step = evtimer_new(o->base, origin_step_cb, o);
	o->progress = event_new(o->base, -1, EV_PERSIST, origin_progress_cb,
	    o);
	o->status = event_new(o->base, -1, EV_PERSIST, origin_status_cb, o);
	evtimer_add(o->step, &now);
	event_add(o->progress, &every);
	event_add(o->status, &status_every);
	log_info("broadcasting %s on channel %s%s%s%s", o->input_url,
	    o->channel, o->label[0] != '\0' ? " (label '" : "", o->label,
	    o->label[0] != '\0' ? "')" : "");
}

static void
origin_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("%s: leaving", strsignal((int)sig));
	origin_stop(arg, 0);
}

int
main(int argc, char **argv)
{
	struct origin o;
	struct opt_state st;
	struct event *sigint, *sigterm;
	const char *negotiator = NULL, *key_path = ORIGIN_KEY_DEFAULT;
	char err[256], hex[KEY_HEX_LEN + 1];
	uint8_t pk[KEY_PUBLIC_LEN];
	size_t i;
	int key, created;

	log_init(argv[0], LOG_INFO);
	memset(&o, 0, sizeof o);
	o.fanout = TC_FANOUT_DEFAULT;
	o.ring_size = 1024;
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_INPUT:
			o.input_url = optarg;
			break;
		case OPT_NEGOTIATOR:
			negotiator = optarg;
			break;
		case OPT_CHANNEL:
			if (optarg[0] == '\0' ||
			    strlen(optarg) > TC_CHANNEL_MAX)
				fatal("--channel '%s': 1 to %d bytes", optarg,
				    TC_CHANNEL_MAX);
			snprintf(o.label, sizeof o.label, "%s", optarg);
			break;
		case OPT_FANOUT:
			o.fanout = (unsigned)opt_number("fanout", optarg, 1,
			    TC_FANOUT_MAX);
			break;
		case OPT_KEY:
			key_path = optarg;
			break;
		case OPT_LOOP:
			o.loop = 1;
			break;
		case OPT_RING:
			o.ring_size = opt_number("ring", optarg, 16, 65536);
			break;
		case '?':
			return 2;
		default:
			opt_common(key, "treecast-origin", synopsis, about,
			    options);
			break;
		}
	}
	if (optind < argc)
		fatal("unexpected argument '%s' (see --help)", argv[optind]);
	if (o.input_url == NULL)
		fatal("no --input: what should be broadcast? (see --help)");
	if (negotiator == NULL)
		fatal("no --negotiator HOST[:PORT] (see --help)");
	if (addr_parse(negotiator, TC_DEFAULT_PORT, 1, &o.server, err,
	    sizeof err) != 0)
		fatal("--negotiator %s", err);
	if (sodium_init() < 0)
		fatal("libsodium failed to start");
	if (key_load(key_path, 1, &o.key, &created, err, sizeof err) != 0)
		fatal("--key: %s", err);
	log_info("channel key %s (%s %s)", key_hex(o.key.pk, hex),
	    created ? "made now, kept in" : "from", key_path);
	snprintf(o.channel, sizeof o.channel, "%s", hex);
	if (tc_is_key_name(o.label, strlen(o.label))) {
		/* Its own key, given as the channel: no label. */
		if (key_parse_hex(o.label, strlen(o.label), pk) != 0 ||
		    sodium_memcmp(pk, o.key.pk, sizeof pk) != 0)
			fatal("--channel %s: not this origin's key (%s); a "
			    "channel is its key's, see --key", o.label, hex);
		o.label[0] = '\0';
	}
	for (i = 0; o.label[i] != '\0'; i++)
		if ((uint8_t)o.label[i] < 0x21 || (uint8_t)o.label[i] > 0x7e ||
		    o.label[i] == '"' || o.label[i] == '\\')
			fatal("--channel '%s': a label is printable ASCII, "
			    "without spaces or quotes", o.label);
	signal(SIGPIPE, SIG_IGN);
	if ((o.base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	if ((o.ring = ring_create(o.ring_size)) == NULL ||
	    (o.serve = serve_new(o.base, o.ring, o.fanout)) == NULL)
		fatal("cannot allocate a ring of %zu chunks", o.ring_size);
	if ((o.udt = udt_loop_new(o.base, err, sizeof err)) == NULL)
		fatal("%s", err);
	if ((o.disc = discover_start(o.base, &o.server, NULL,
	    origin_discovered, &o, err, sizeof err)) == NULL)
		fatal("%s", err);
	sigint = evsignal_new(o.base, SIGINT, origin_signal, &o);
	sigterm = evsignal_new(o.base, SIGTERM, origin_signal, &o);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);

	event_base_dispatch(o.base);
	if (o.input != NULL)
		origin_progress_cb(-1, 0, &o);

	link_agent_free(o.agent);
	session_free(o.session);
	discover_free(o.disc);
	media_input_close(o.input);
	if (o.step != NULL)
		event_free(o.step);
	if (o.progress != NULL)
		event_free(o.progress);
	if (o.status != NULL)
		event_free(o.status);
	serve_free(o.serve);
	ring_free(o.ring);
	udt_loop_free(o.udt);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(o.base);
	key_clear(&o.key);
	return o.exit_code;
}
