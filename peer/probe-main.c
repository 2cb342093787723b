/* treecast-probe: tells a user what their NAT does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "net/log.h"
#include "net/opt.h"

static const char synopsis[] = "[options] HOST[:PORT]";
static const char about[] =
    "Asks a treecast negotiator or an RFC 5780 STUN server how this host's\n"
    "NAT maps, allocates and filters ports, and prints the answer.";

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
		opt_common(key, "treecast-probe", synopsis, about, options);
	}
	fatal("the probe is not built yet");
}
