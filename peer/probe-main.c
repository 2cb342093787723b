/* treecast-probe: tells a user what their NAT does. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/client/discover.h"
#include "net/client/session.h"
#include "net/node/node.h"
#include "net/util/log.h"
#include "net/util/opt.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"

static const char synopsis[] = "[options] HOST[:PORT]";
static const char about[] =
    "Asks a treecast negotiator or any STUN server (RFC 5780 support gives\n"
    "the full picture) how this host's NAT maps, allocates and filters\n"
    "ports, and prints the answer. PORT defaults to 3478.";

enum {
	OPT_JSON = 'j', OPT_ALT_PORT = 'p', OPT_REGISTER = 'r',
	OPT_CHANNEL = 'c', OPT_STAY = 256
};

static const struct opt options[] = {
	{ "json", OPT_JSON, NULL, "print one JSON object" },
	{ "alt-port", OPT_ALT_PORT, "PORT",
	  "the server's second port when it has no RFC 5780 other address "
	  "(default PORT+1)" },
	{ "register", OPT_REGISTER, NULL,
	  "then register with the negotiator (treecast servers only)" },
	{ "channel", OPT_CHANNEL, "NAME",
	  "the channel to register on (default \"probe\")" },
	{ "stay", OPT_STAY, NULL,
	  "with --register: stay registered until SIGINT or SIGTERM" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

/* The node (net/node/node.h) brings discovery, the session and the signals;
 * the probe prints what they found. */
struct probe {
	struct node		*node;
	const struct addr	*server;
	int			 json;
	int			 do_register;
	int			 stay;
	struct discover_result	 result;
	int			 status;	/* -1: registering */
};

static const char *
mapping_words(const struct nat_profile *p)
{
	switch (p->mapping) {
	case NAT_MAPPING_NONE:
		return "none: this host has a public address, no NAT";
	case NAT_MAPPING_EIM:
		return "endpoint-independent: one external port for every "
		    "destination";
	case NAT_MAPPING_ADM:
		return "address-dependent: a new external port for each "
		    "destination address";
	case NAT_MAPPING_APDM:
		return "address-and-port-dependent (\"symmetric\"): a new "
		    "external port for each destination";
	default:
		return "unknown: the server's second port did not answer";
	}
}

static void
allocation_words(const struct nat_profile *p, char *buf, size_t len)
{
	switch (p->allocation) {
	case NAT_ALLOC_PRESERVED:
		snprintf(buf, len, "preserved: the external port is the "
		    "local port");
		break;
	case NAT_ALLOC_OFFSET:
		snprintf(buf, len, "offset: the external port is the local "
		    "port %+d", p->offset);
		break;
	case NAT_ALLOC_SEQUENTIAL:
		snprintf(buf, len, "sequential: each new mapping takes the "
		    "last port %+d", p->delta);
		break;
	case NAT_ALLOC_RANDOM:
		snprintf(buf, len, "random: no pattern between mappings");
		break;
	default:
		snprintf(buf, len, "unknown");
		break;
	}
}

static const char *
filtering_words(const struct nat_profile *p)
{
	switch (p->filtering) {
	case NAT_FILTER_EIF:
		return "endpoint-independent: anyone may send to an open "
		    "mapping";
	case NAT_FILTER_ADF:
		return "address-dependent: only hosts this host sent to may "
		    "answer";
	case NAT_FILTER_APDF:
		return "address-and-port-dependent: only the exact address "
		    "and port this host sent to may answer";
	default:
		return "unknown: the server has no second address to test it";
	}
}

static const char *
verdict_words(const struct nat_profile *p)
{
	if (p->mapping == NAT_MAPPING_NONE && p->filtering == NAT_FILTER_EIF)
		return "open: peers can connect straight in; this host can "
		    "relay to others (a repeater)";
	if (nat_predictable(p))
		return "predictable: peers can reach this host by hole "
		    "punching, so it can relay to others (a repeater)";
	return "unpredictable: peers cannot punch through to this host; it "
	    "can watch, as a leaf, under a parent with a predictable NAT";
}

static void
probe_print(struct probe *pr)
{
	const struct discover_result *r = &pr->result;
	const struct nat_profile *p = &r->profile;
	const struct session *s = node_session(pr->node);
	char local[ADDR_STRLEN], ext[ADDR_STRLEN], srv[ADDR_STRLEN],
	    other[ADDR_STRLEN], words[128];

	addr_format((struct sockaddr *)&r->local.ss, local, sizeof local);
	addr_format((struct sockaddr *)&r->external.ss, ext, sizeof ext);
	addr_format((struct sockaddr *)&pr->server->ss, srv, sizeof srv);
	if (r->has_other)
		addr_format((struct sockaddr *)&r->other.ss, other,
		    sizeof other);
	if (pr->json) {
		printf("{\"server\":\"%s\",\"other_address\":%s%s%s,"
		    "\"local\":\"%s\",\"external\":\"%s\",\"mapping\":\"%s\","
		    "\"allocation\":\"%s\",\"offset\":%d,\"delta\":%d,"
		    "\"filtering\":\"%s\",\"class\":\"%s\","
		    "\"predictable\":%s", srv, r->has_other ? "\"" : "",
		    r->has_other ? other : "null", r->has_other ? "\"" : "",
		    local, ext,
		    p->mapping == NAT_MAPPING_UNKNOWN ? "unknown" :
		    nat_mapping_name(p->mapping),
		    nat_allocation_name(p->allocation), p->offset, p->delta,
		    nat_filtering_name(p->filtering), nat_class_name(p),
		    nat_predictable(p) ? "true" : "false");
		if (s != NULL)
			printf(",\"node_id\":\"%016" PRIx64 "\"",
			    session_node_id(s));
		printf("}\n");
	} else {
		allocation_words(p, words, sizeof words);
		printf("server:      %s%s%s%s\n", srv,
		    r->has_other ? " (RFC 5780; other address " : "",
		    r->has_other ? other : "", r->has_other ? ")" : "");
		printf("this host:   %s, seen from outside as %s\n", local,
		    ext);
		printf("mapping:     %s\n", mapping_words(p));
		printf("allocation:  %s\n", words);
		printf("filtering:   %s\n", filtering_words(p));
		printf("verdict:     %s\n", verdict_words(p));
		if (s != NULL)
			printf("registered:  node %016" PRIx64 "\n",
			    session_node_id(s));
	}
	fflush(stdout);
}

static void
probe_session(void *arg, enum session_event ev)
{
	struct probe *pr = arg;

	if (pr->status != -1)
		return;
	if (ev == SESSION_REGISTERED) {
		pr->status = 0;
		probe_print(pr);
		if (!pr->stay)
			session_leave(node_session(pr->node));
	} else {
		log_error("the server did not accept the registration "
		    "(is it a treecast negotiator?)");
		pr->status = 1;
		node_exit(pr->node, 1);
	}
}

/* Discovery's result: printed, or (--register) the node registers. */
static int
probe_discovered(void *arg, const struct discover_result *r)
{
	struct probe *pr = arg;

	pr->result = *r;
	if (!r->ok) {
		log_error("%s", r->error);
		pr->status = 1;
		node_exit(pr->node, 1);
		return 1;
	}
	if (!pr->do_register) {
		pr->status = 0;
		probe_print(pr);
		node_exit(pr->node, 0);
		return 1;
	}
	pr->status = -1;
	return 0;
}

static const struct node_hooks probe_hooks = {
	.discovered = probe_discovered,
	.session = probe_session,
};

int
main(int argc, char **argv)
{
	struct discover_options o = discover_defaults;
	struct node_config nc;
	struct probe pr;
	struct opt_state st;
	uint16_t port;
	int key;

	log_init(argv[0], LOG_WARN);
	memset(&pr, 0, sizeof pr);
	memset(&nc, 0, sizeof nc);	/* no fanout: not in a tree */
	snprintf(nc.session.channel, sizeof nc.session.channel, "probe");
	nc.session.role = TC_ROLE_PROBE;
	nc.discover = &o;
	nc.quiet = 1;
	nc.no_portmap = 1;	/* it tells what the NAT does, unaided */
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_JSON:
			pr.json = 1;
			break;
		case OPT_ALT_PORT:
			if (addr_parse_port(optarg, 0, &port) != 0)
				fatal("--alt-port '%s': expected a port from "
				    "1 to 65535", optarg);
			o.alt_port = port;
			break;
		case OPT_REGISTER:
			pr.do_register = 1;
			break;
		case OPT_CHANNEL:
			if (strlen(optarg) == 0 ||
			    strlen(optarg) > TC_CHANNEL_MAX)
				fatal("--channel '%s': 1 to %d characters",
				    optarg, TC_CHANNEL_MAX);
			snprintf(nc.session.channel,
			    sizeof nc.session.channel, "%s", optarg);
			break;
		case OPT_STAY:
			pr.stay = 1;
			break;
		case '?':
			return 2;
		default:
			opt_common(key, "treecast-probe", synopsis, about,
			    options);
			break;
		}
	}
	if (optind != argc - 1)
		fatal("expected one HOST[:PORT] (see --help)");
	node_config_server(&nc, "server", argv[optind]);
	pr.server = &nc.server;
	if (pr.stay && !pr.do_register)
		fatal("--stay needs --register");
	pr.node = node_new(&nc, &probe_hooks, &pr);
	pr.status = 1;
	node_run(pr.node);

	node_free(pr.node);
	return pr.status == 0 ? 0 : 1;
}
