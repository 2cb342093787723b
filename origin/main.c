/* treecast-origin: reads a libavformat input and feeds the tree. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "net/log.h"
#include "net/opt.h"

static const char synopsis[] = "[options]";
static const char about[] =
    "The root of a channel's tree: reads any libavformat input, cuts it\n"
    "into chunks and streams them to its children.";

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
		opt_common(key, "treecast-origin", synopsis, about, options);
	}
	fatal("the origin is not built yet");
}
