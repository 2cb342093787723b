/* treecast-negotiator: the negotiation server, tree manager and status page. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sodium.h>

#include "negotiator/http.h"
#include "negotiator/ratelimit.h"
#include "negotiator/server.h"
#include "negotiator/verifier.h"
#include "net/util/log.h"
#include "net/util/opt.h"
#include "net/wire/proto.h"

static const char synopsis[] = "[options]";
static const char about[] =
    "The negotiation server: registers nodes, learns their NAT behaviour,\n"
    "brokers hole punching between them and manages the tree. It answers\n"
    "any STUN client's Binding requests too (RFC 8489; RFC 5780 with\n"
    "--alt-address). An unauthenticated request never gets more than twice\n"
    "its size back (a bare one: XOR-MAPPED-ADDRESS and FINGERPRINT, over\n"
    "IPv4), and each source prefix (IPv4 /24, IPv6 /56) gets at most\n"
    "--unauth-rate such answers a second, --unauth-burst at once; the rest\n"
    "are dropped and counted (drop_amplify, drop_unauth_rate).";

enum {
	OPT_LISTEN = 'l', OPT_ALT_PORT = 'p', OPT_ALT_ADDRESS = 'a',
	OPT_HTTP = 256, OPT_NO_HTTP, OPT_MAX_NODES, OPT_INTERVAL, OPT_EXPIRE,
	OPT_STATS, OPT_THREADS, OPT_RELAY_PORT, OPT_NO_RELAY, OPT_RELAY_MAX,
	OPT_UNAUTH_RATE, OPT_UNAUTH_BURST, OPT_LISTEN6, OPT_NO_LISTEN6
};

/* Sized for a carrier-grade NAT's /24: thousands of viewers starting at
 * once, some 20 answers each (README, "treecast-negotiator"). */
#define UNAUTH_RATE_DEFAULT	2000
#define UNAUTH_BURST_DEFAULT	20000

static const struct opt options[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT",
	  "UDP address and port (default 0.0.0.0:3478)" },
	{ "listen6", OPT_LISTEN6, "[ADDR]:PORT",
	  "IPv6 UDP address beside an IPv4 --listen (default [::]:PORT, "
	  "skipped on a host without IPv6); a named address is also where "
	  "the verifier's links try IPv6 from" },
	{ "no-listen6", OPT_NO_LISTEN6, NULL, "listen on --listen alone" },
	{ "alt-port", OPT_ALT_PORT, "PORT",
	  "the second UDP port (default PORT+1)" },
	{ "alt-address", OPT_ALT_ADDRESS, "IP",
	  "a second IP address, for RFC 5780 behaviour discovery" },
	{ "http", OPT_HTTP, "ADDR:PORT",
	  "status page, JSON API and /metrics (default 127.0.0.1:8080)" },
	{ "no-http", OPT_NO_HTTP, NULL, "serve no HTTP" },
	{ "max-nodes", OPT_MAX_NODES, "N",
	  "registry size, preallocated (default 1048576)" },
	{ "interval", OPT_INTERVAL, "MS",
	  "keepalive interval nodes are told (default 3000)" },
	{ "expire", OPT_EXPIRE, "SECONDS",
	  "forget a node silent this long (default 10)" },
	{ "stats", OPT_STATS, "SECONDS",
	  "log a line of figures this often, 0 for never (default 60)" },
	{ "threads", OPT_THREADS, "N",
	  "worker threads for UDP (default: one per CPU)" },
	{ "relay-port", OPT_RELAY_PORT, "PORT",
	  "UDP port of the relay for pairs no prediction joins (default PORT+2)" },
	{ "no-relay", OPT_NO_RELAY, NULL,
	  "relay nothing: such pairs fail at punching" },
	{ "relay-max", OPT_RELAY_MAX, "N",
	  "relayed links at once (default 64)" },
	{ "unauth-rate", OPT_UNAUTH_RATE, "N",
	  "unauthenticated answers a second to a source prefix (IPv4 /24, "
	  "IPv6 /56); 0 for no limit (default 2000)" },
	{ "unauth-burst", OPT_UNAUTH_BURST, "N",
	  "and at once, after a quiet spell; 0 for no limit (default 20000)" },
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("%s: shutting down", strsignal((int)sig));
	event_base_loopexit(arg, NULL);
}

/*
 * Where the verifier talks to the server from, and binds its link sockets:
 * the second address where there is one (an address the nodes have not
 * sent to), else the listening one; for a wildcard, the address of the
 * default route, or loopback on a host without one.
 */
static void
negotiator_verifier_address(const struct server_config *cfg,
    struct addr *out)
{
	struct addr probe;
	char err[128];

	*out = cfg->has_alt_address ? cfg->alt_address : cfg->listen;
	if (addr_is_any((struct sockaddr *)&out->ss)) {
		/* TEST-NET-1: only a route lookup, nothing is sent. */
		if (addr_parse(out->ss.ss_family == AF_INET6 ? "[2001:db8::1]:9"
		    : "192.0.2.1:9", 9, 0, &probe, err, sizeof err) != 0 ||
		    addr_local_towards(&probe, out) != 0)
			addr_parse(out->ss.ss_family == AF_INET6 ? "[::1]:0" :
			    "127.0.0.1:0", 0, 0, out, err, sizeof err);
	}
	addr_set_port((struct sockaddr *)&out->ss,
	    addr_port((const struct sockaddr *)&cfg->listen.ss));
}

int
main(int argc, char **argv)
{
	struct server_config cfg;
	struct opt_state st;
	struct event_base *base;
	struct event *sigint, *sigterm;
	struct server *srv;
	struct http *http = NULL;
	struct verifier *verifier;
	struct addr vaddr;
	char err[256];
	const char *listen = "0.0.0.0:3478", *http_at = "127.0.0.1:8080";
	const char *alt_address = NULL, *listen6 = NULL;
	int no_listen6 = 0;
	int key, alt_port = -1, relay_port = -1;
	uint16_t port;

	log_init(argv[0], LOG_INFO);
	memset(&cfg, 0, sizeof cfg);
	cfg.max_nodes = 1 << 20;
	cfg.interval_ms = TC_KEEPALIVE_MS;
	cfg.expire_s = 10;
	cfg.stats_s = 60;
	cfg.has_http = 1;
	cfg.has_relay = 1;
	cfg.relay_max = 64;
	cfg.unauth_rate = UNAUTH_RATE_DEFAULT;
	cfg.unauth_burst = UNAUTH_BURST_DEFAULT;
	cfg.threads = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	if (cfg.threads < 1)
		cfg.threads = 1;
	if (cfg.threads > 64)
		cfg.threads = 64;
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		switch (key) {
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_ALT_PORT:
			if (addr_parse_port(optarg, 0, &port) != 0)
				fatal("--alt-port '%s': expected a port from "
				    "1 to 65535", optarg);
			alt_port = port;
			break;
		case OPT_ALT_ADDRESS:
			alt_address = optarg;
			break;
		case OPT_HTTP:
			http_at = optarg;
			break;
		case OPT_NO_HTTP:
			cfg.has_http = 0;
			break;
		case OPT_MAX_NODES:
			cfg.max_nodes = (uint32_t)opt_number("max-nodes",
			    optarg, 1, 1u << 30);
			break;
		case OPT_INTERVAL:
			cfg.interval_ms = (uint32_t)opt_number("interval",
			    optarg, 100, 3600000);
			break;
		case OPT_EXPIRE:
			cfg.expire_s = (uint32_t)opt_number("expire", optarg,
			    1, 86400);
			break;
		case OPT_THREADS:
			cfg.threads = (uint32_t)opt_number("threads", optarg,
			    1, 64);
			break;
		case OPT_LISTEN6:
			listen6 = optarg;
			break;
		case OPT_NO_LISTEN6:
			no_listen6 = 1;
			break;
		case OPT_RELAY_PORT:
			if (addr_parse_port(optarg, 0, &port) != 0)
				fatal("--relay-port '%s': expected a port from "
				    "1 to 65535", optarg);
			relay_port = port;
			break;
		case OPT_NO_RELAY:
			cfg.has_relay = 0;
			break;
		case OPT_RELAY_MAX:
			cfg.relay_max = (uint32_t)opt_number("relay-max",
			    optarg, 1, 65536);
			break;
		case OPT_UNAUTH_RATE:
			cfg.unauth_rate = (uint32_t)opt_number("unauth-rate",
			    optarg, 0, RATELIMIT_RATE_MAX);
			break;
		case OPT_UNAUTH_BURST:
			cfg.unauth_burst = (uint32_t)opt_number("unauth-burst",
			    optarg, 0, RATELIMIT_BURST_MAX);
			break;
		case OPT_STATS:
			cfg.stats_s = (uint32_t)opt_number("stats", optarg,
			    0, 86400);
			break;
		case '?':
			return 2;
		default:
			opt_common(key, "treecast-negotiator", synopsis, about,
			    options);
			break;
		}
	}
	if (optind < argc)
		fatal("unexpected argument '%s' (see --help)", argv[optind]);
	if (cfg.interval_ms >= cfg.expire_s * 1000)
		fatal("--interval %u ms is not below --expire %u s: every node "
		    "would expire between its keepalives", cfg.interval_ms,
		    cfg.expire_s);
	if (addr_parse(listen, TC_DEFAULT_PORT, 1, &cfg.listen, err,
	    sizeof err) != 0)
		fatal("--listen %s", err);
	port = addr_port((struct sockaddr *)&cfg.listen.ss);
	if (alt_port < 0 && port == 65535)
		fatal("--listen port 65535 leaves no PORT+1: give --alt-port");
	cfg.alt_port = alt_port >= 0 ? (uint16_t)alt_port : port + 1;
	if (cfg.alt_port == port)
		fatal("--alt-port %u: must differ from the --listen port", port);
	if (relay_port < 0 && port > 65533)
		fatal("--listen port %u leaves no PORT+2: give --relay-port",
		    port);
	cfg.relay = cfg.listen;
	addr_set_port((struct sockaddr *)&cfg.relay.ss, relay_port >= 0 ?
	    (uint16_t)relay_port : port + 2);
	if (cfg.has_relay && (addr_port((struct sockaddr *)&cfg.relay.ss) ==
	    port || addr_port((struct sockaddr *)&cfg.relay.ss) ==
	    cfg.alt_port))
		fatal("--relay-port %u: must differ from the negotiator's "
		    "ports", addr_port((struct sockaddr *)&cfg.relay.ss));
	if (alt_address != NULL) {
		if (addr_parse(alt_address, port, 0, &cfg.alt_address, err,
		    sizeof err) != 0)
			fatal("--alt-address %s", err);
		if (cfg.alt_address.ss.ss_family != cfg.listen.ss.ss_family)
			fatal("--alt-address %s: not of --listen's family",
			    alt_address);
		/* RFC 5780 needs to know which address answered which. */
		if (addr_is_any((struct sockaddr *)&cfg.listen.ss))
			fatal("--alt-address needs --listen with a specific "
			    "address, not %s", listen);
		cfg.has_alt_address = 1;
	}
	if (!no_listen6 && cfg.listen.ss.ss_family == AF_INET) {
		char text[ADDR_STRLEN];

		snprintf(text, sizeof text, "[::]:%u", port);
		if (addr_parse(listen6 != NULL ? listen6 : text, port, 1,
		    &cfg.listen6, err, sizeof err) != 0)
			fatal("--listen6 %s", err);
		if (cfg.listen6.ss.ss_family != AF_INET6)
			fatal("--listen6 %s: not an IPv6 address", listen6);
		cfg.has_listen6 = 1;
		cfg.listen6_optional = listen6 == NULL;
	}
	if (cfg.has_http && addr_parse(http_at, 8080, 1, &cfg.http, err,
	    sizeof err) != 0)
		fatal("--http %s", err);

	if (sodium_init() < 0)
		fatal("libsodium failed to start");
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0)
		fatal("libevent has no thread support");
	if ((base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	if ((srv = server_create(base, &cfg, err, sizeof err)) == NULL)
		fatal("%s", err);
	if (cfg.has_http &&
	    (http = http_create(base, srv, &cfg.http, err, sizeof err)) == NULL)
		fatal("%s", err);
	negotiator_verifier_address(&cfg, &vaddr);
	/* IPv6 links where --listen6 names an address: a wildcard has none
	 * to register. */
	if ((verifier = verifier_start(base, srv, &vaddr, cfg.has_listen6 &&
	    !addr_is_any((struct sockaddr *)&cfg.listen6.ss) ? &cfg.listen6 :
	    NULL, err, sizeof err)) == NULL)
		fatal("verifier: %s", err);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	log_info("treecast-negotiator %s ready: %u node slots, keepalive "
	    "%u ms, expiry %u s, %u worker threads", PACKAGE_VERSION,
	    cfg.max_nodes, cfg.interval_ms, cfg.expire_s, cfg.threads);
	if (cfg.unauth_rate != 0 && cfg.unauth_burst != 0)
		log_info("unauthenticated answers: %u/s and %u at once a "
		    "source prefix (IPv4 /24, IPv6 /56)", cfg.unauth_rate,
		    cfg.unauth_burst);
	else
		log_info("unauthenticated answers: no limit a source prefix "
		    "(only twice each request's size)");

	event_base_dispatch(base);

	server_log_stats(srv);
	verifier_free(verifier);
	http_free(http);
	server_free(srv);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(base);
	return 0;
}
