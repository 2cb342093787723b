/* treecast-origin: reads a libavformat input and feeds the tree. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "media/input.h"
#include "media/ring.h"
#include "media/serve.h"
#include "net/node/node.h"
#include "net/util/log.h"
#include "net/util/opt.h"
#include "net/wire/key.h"
#include "net/wire/proto.h"

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
	OPT_FANOUT = 'f', OPT_KEY = 'k', OPT_LOOP = 256, OPT_RING,
	OPT_NEGOTIATOR6, OPT_NO_PORTMAP
};

#define ORIGIN_KEY_DEFAULT	"treecast-origin.key"

static const struct opt options[] = {
	{ "input", OPT_INPUT, "URL", "what to broadcast (required)" },
	NODE_ROW_NEGOTIATOR(OPT_NEGOTIATOR),
	NODE_ROW_NEGOTIATOR6(OPT_NEGOTIATOR6),
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
	NODE_ROW_NO_PORTMAP(OPT_NO_PORTMAP),
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

struct origin {
	struct node		*node;
	const char		*input_url;
	struct key_pair		 key;		/* the channel's */
	char			 channel[TC_CHANNEL_MAX + 1];	/* its key, hex */
	char			 label[TC_CHANNEL_MAX + 1];	/* "": none */
	int			 loop;
	struct media_input	*input;
	struct event		*step;
	struct chunk_digest	 digest;
};

/* Each chunk, as the input cuts it: signed with the channel's key (every
 * node checks it before it plays or relays it), kept, sent on. */
static void
origin_chunk(const struct chunk *in, void *arg)
{
	struct origin *o = arg;
	struct ring *ring = node_ring(o->node);
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
	if (ring_push(ring, c) != 0) {
		log_warn("chunk %llu out of order: ring reset",
		    (unsigned long long)c->seq);
		ring_reset(ring);
		ring_push(ring, c);
	}
	serve_pushed(node_serve(o->node));
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
		node_stop(o->node, 1);
		return;
	}
	if (r > 0) {
		log_info("the input ended after %llu chunks",
		    (unsigned long long)media_input_chunks(o->input));
		node_stop(o->node, 0);
		return;
	}
	tv.tv_sec = (time_t)(wait_us / 1000000);
	tv.tv_usec = (suseconds_t)(wait_us % 1000000);
	evtimer_add(o->step, &tv);
}

static void
origin_progress(void *arg)
{
	struct origin *o = arg;
	struct serve *sv = node_serve(o->node);
	const struct serve_stats *st = serve_stats(sv);

	if (o->input == NULL)
		return;		/* not broadcasting yet */
	log_info("%llu chunks read, %zu children, %llu chunks and %.1f MB "
	    "sent", (unsigned long long)media_input_chunks(o->input),
	    serve_children(sv), (unsigned long long)st->chunks,
	    st->bytes / 1e6);
}

/* STATUS: the origin's children and upload (node-serve.c), and what it
 * read. */
static uint64_t
origin_health(void *arg, struct tc_health *h)
{
	struct origin *o = arg;

	h->chunks = media_input_chunks(o->input);
	return 0;
}

/* Registered: the input opens, and its chunks start. */
static int
origin_started(void *arg)
{
	struct origin *o = arg;
	struct media_input_options mo = { o->loop, 1 };
	struct timeval now = { 0, 0 };
	char err[256];

	if ((o->input = media_input_open(o->input_url, &mo, origin_chunk, o,
	    err, sizeof err)) == NULL) {
		log_error("%s", err);
		return -1;
	}
	o->step = evtimer_new(node_base(o->node), origin_step_cb, o);
	evtimer_add(o->step, &now);
	log_info("broadcasting %s on channel %s%s%s%s", o->input_url,
	    o->channel, o->label[0] != '\0' ? " (label '" : "", o->label,
	    o->label[0] != '\0' ? "')" : "");
	return 0;
}

static const struct node_hooks origin_hooks = {
	.started = origin_started,
	.progress = origin_progress,
	.health = origin_health,
};

int
main(int argc, char **argv)
{
	struct origin o;
	struct node_config nc;
	struct opt_state st;
	const char *negotiator = NULL, *key_path = ORIGIN_KEY_DEFAULT;
	char err[256], hex[KEY_HEX_LEN + 1];
	uint8_t pk[KEY_PUBLIC_LEN];
	size_t i;
	int key, created, code;

	log_init(argv[0], LOG_INFO);
	memset(&o, 0, sizeof o);
	node_config_init(&nc);
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_INPUT:
			o.input_url = optarg;
			break;
		case OPT_NEGOTIATOR:
			negotiator = optarg;
			break;
		case OPT_NEGOTIATOR6:
			node_config_server6(&nc, "--negotiator6", optarg);
			break;
		case OPT_CHANNEL:
			snprintf(o.label, sizeof o.label, "%s",
			    node_check_channel(optarg));
			break;
		case OPT_FANOUT:
			node_config_fanout(&nc, optarg, 1);
			break;
		case OPT_KEY:
			key_path = optarg;
			break;
		case OPT_LOOP:
			o.loop = 1;
			break;
		case OPT_RING:
			node_config_ring(&nc, optarg);
			break;
		case OPT_NO_PORTMAP:
			nc.no_portmap = 1;
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
	node_config_server(&nc, "--negotiator", negotiator);
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
	snprintf(nc.session.channel, sizeof nc.session.channel, "%s",
	    o.channel);
	snprintf(nc.session.label, sizeof nc.session.label, "%s", o.label);
	nc.session.has_channel_key = 1;
	memcpy(nc.session.channel_key, o.key.pk,
	    sizeof nc.session.channel_key);
	nc.session.sign_key = &o.key;
	nc.session.role = TC_ROLE_ORIGIN;
	o.node = node_new(&nc, &origin_hooks, &o);
	node_serving(o.node);

	code = node_run(o.node);

	media_input_close(o.input);
	if (o.step != NULL)
		event_free(o.step);
	node_free(o.node);
	key_clear(&o.key);
	return code;
}
