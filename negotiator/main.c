/* treecast-negotiator: the negotiation server, tree manager and status page. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "net/log.h"
#include "net/opt.h"

static const char synopsis[] = "[options]";
static const char about[] =
    "The negotiation server: registers nodes, learns their NAT behaviour,\n"
    "brokers hole punching between them and manages the tree.";

static const struct opt options[] = {
	OPT_COMMON_ROWS,
	{ NULL, 0, NULL, NULL }
};

int
main(int argc, char **argv)
{
	struct opt_state st;
	int key;

	log_init(argv[0], LOG_INFO);
	opt_init(&st, options);
	while ((key = opt_next(&st, argc, argv)) != -1) {
		if (key == '?')
			return 2;
		opt_common(key, "treecast-negotiator", synopsis, about, options);
	}
	fatal("the negotiation server is not built yet");
}
