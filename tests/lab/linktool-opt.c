/*
 * linktool's command line: the options table and its readers (see
 * linktool.c). A test instrument, not part of treecast.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/client/portmap.h"
#include "net/util/opt.h"
#include "net/wire/proto.h"
#include "linktool.h"

static const char synopsis[] =
    "SERVER[:PORT] --id HEX (--accept | --link HEX[,HEX...]) [options]";
static const char about[] =
    "A NAT lab instrument: registers with a treecast negotiator, then takes\n"
    "every link asked of it (--accept) or asks for links to other nodes\n"
    "(--link), moves messages both ways on each and prints one JSON line\n"
    "per link. PORT defaults to 3478.";

enum {
	OPT_ID = 'i', OPT_ACCEPT = 'a', OPT_LINK = 'l', OPT_ATTEMPTS = 'n',
	OPT_MSGS = 'm', OPT_CHANNEL = 'c', OPT_BDAY_SOCKETS = 'S',
	OPT_BDAY_PROBES = 'P', OPT_NEGOTIATOR6 = '6', OPT_PORTMAP = 256
};

static const struct opt options[] = {
	{ "id", OPT_ID, "HEX", "this node's id, not 0 (required)" },
	{ "accept", OPT_ACCEPT, NULL,
	  "take every link asked of this node, until SIGINT or SIGTERM" },
	{ "link", OPT_LINK, "HEX[,HEX...]",
	  "ask for links to these nodes, one attempt at a time" },
	{ "attempts", OPT_ATTEMPTS, "N",
	  "with --link: attempts per node (default 5)" },
	{ "msgs", OPT_MSGS, "M",
	  "messages each way on every link (default 100)" },
	{ "channel", OPT_CHANNEL, "NAME",
	  "the channel to register on (default: a fixed key, "
	  LINKTOOL_CHANNEL ")" },
	{ "birthday-sockets", OPT_BDAY_SOCKETS, "N",
	  "birthday punching: sockets on the random side (default 256)" },
	{ "birthday-probes", OPT_BDAY_PROBES, "N",
	  "birthday punching: ports probed by the other side (default 2048)" },
	{ "negotiator6", OPT_NEGOTIATOR6, "[ADDR]:PORT",
	  "the negotiator's IPv6 address: register this host's and try IPv6 "
	  "beside IPv4 on every link" },
	{ "portmap", OPT_PORTMAP, "all|upnp,natpmp,pcp",
	  "ask the router for port mappings with these methods (default: "
	  "none)" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

/* --portmap's list: its methods' bits. */
static unsigned
parse_portmap(const char *text)
{
	char buf[64], *save = NULL, *w;
	unsigned bits = 0, m;

	if (strcmp(text, "all") == 0)
		return ~0u;
	snprintf(buf, sizeof buf, "%s", text);
	for (w = strtok_r(buf, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		for (m = PORTMAP_PCP; m < PORTMAP_COUNT &&
		    strcmp(w, portmap_method_name(m)) != 0; m++)
			;
		if (m == PORTMAP_COUNT)
			usage_fail("--portmap '%s': not upnp, natpmp or pcp", w);
		bits |= 1u << m;
	}
	return bits;
}

/* A bad command line: exits 2 with the reason, naming the value. */
void
usage_fail(const char *fmt, ...)
{
	TOOL_SAY(fmt);
	exit(2);
}

/* A node id: hex digits (an optional 0x), not 0. */
static int
parse_id(const char *text, uint64_t *out)
{
	char *end;

	if (strchr("0123456789abcdefABCDEF", text[0]) == NULL ||
	    text[0] == '\0')
		return -1;
	errno = 0;
	*out = strtoull(text, &end, 16);
	if (errno != 0 || *end != '\0' || *out == 0)
		return -1;
	return 0;
}

/* A count option's value, 1 to max; else exits 2 naming it. */
static int
opt_count(const char *name, const char *text, int max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || n < 1 || n > max)
		usage_fail("--%s '%s': expected 1 to %d", name, text, max);
	return (int)n;
}

static void
parse_targets(struct tool *t, const char *list)
{
	char copy[1024], *word, *last;

	if (strlen(list) >= sizeof copy)
		usage_fail("--link: too long a list");
	snprintf(copy, sizeof copy, "%s", list);
	for (word = strtok_r(copy, ",", &last); word != NULL;
	    word = strtok_r(NULL, ",", &last)) {
		if (t->ntargets == TOOL_TARGETS_MAX)
			usage_fail("--link: at most %d nodes",
			    TOOL_TARGETS_MAX);
		if (parse_id(word, &t->targets[t->ntargets]) != 0)
			usage_fail("--link: bad node id '%s' (hex, not 0)",
			    word);
		t->ntargets++;
	}
	if (t->ntargets == 0)
		usage_fail("--link '%s': no node ids", list);
}

void
tool_options(struct tool *t, int argc, char **argv)
{
	struct opt_state st;
	const char *link = NULL;
	char err[160] = "";
	int key;

	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_ID:
			if (parse_id(optarg, &t->id) != 0)
				usage_fail("--id '%s': expected a node id in "
				    "hex, not 0", optarg);
			break;
		case OPT_ACCEPT:
			t->accept = 1;
			break;
		case OPT_LINK:
			link = optarg;
			break;
		case OPT_ATTEMPTS:
			t->attempts = opt_count("attempts", optarg, 10000);
			break;
		case OPT_MSGS:
			t->msgs = opt_count("msgs", optarg, 1000000);
			break;
		case OPT_BDAY_SOCKETS:
			t->lo.birthday_sockets = (unsigned)opt_count(
			    "birthday-sockets", optarg, 1024);
			break;
		case OPT_BDAY_PROBES:
			t->lo.birthday_probes = (unsigned)opt_count(
			    "birthday-probes", optarg, 65535);
			break;
		case OPT_NEGOTIATOR6:
			if (addr_parse(optarg, TC_DEFAULT_PORT, 1, &t->server6,
			    err, sizeof err) != 0 ||
			    t->server6.ss.ss_family != AF_INET6)
				usage_fail("--negotiator6 '%s': %s", optarg,
				    err[0] != '\0' ? err : "not IPv6");
			break;
		case OPT_PORTMAP:
			t->pm_methods = parse_portmap(optarg);
			break;
		case OPT_CHANNEL:
			if (strlen(optarg) == 0 ||
			    strlen(optarg) > TC_CHANNEL_MAX)
				usage_fail("--channel '%s': 1 to %d "
				    "characters", optarg, TC_CHANNEL_MAX);
			t->channel = optarg;
			break;
		case '?':
			exit(2);
		default:
			opt_common(key, "linktool", synopsis, about, options);
			break;
		}
	}
	if (optind != argc - 1)
		usage_fail("expected one SERVER[:PORT] (see --help)");
	t->server_text = argv[optind];
	if (addr_parse(t->server_text, TC_DEFAULT_PORT, 1, &t->server, err,
	    sizeof err) != 0)
		usage_fail("server '%s': %s", t->server_text, err);
	if (t->id == 0)
		usage_fail("--id is required (see --help)");
	if (link != NULL)
		parse_targets(t, link);
	if (t->accept == (link != NULL))
		usage_fail("expected --accept or --link (see --help)");
}
