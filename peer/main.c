/* treecast-peer: the viewer: joins the tree, plays, relays to two children. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "net/log.h"
#include "net/opt.h"

static const char synopsis[] = "[options]";
static const char about[] =
    "A viewer: joins a channel's tree, plays the stream and relays it\n"
    "to up to two children.";

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
		opt_common(key, "treecast-peer", synopsis, about, options);
	}
	fatal("the viewer is not built yet");
}
