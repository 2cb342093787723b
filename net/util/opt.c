/* Table-driven command-line options. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "net/util/log.h"
#include "net/util/opt.h"

void
opt_init(struct opt_state *st, const struct opt *table)
{
	size_t n = 0, s = 0;

	memset(st, 0, sizeof *st);
	st->shortopts[s++] = ':';	/* report a missing argument as ':' */
	for (; table->name != NULL && n < OPT_MAX; table++, n++) {
		st->longopts[n].name = table->name;
		st->longopts[n].has_arg = table->arg != NULL ?
		    required_argument : no_argument;
		st->longopts[n].val = table->key;
		if (table->key > 0 && table->key < 256) {
			st->shortopts[s++] = (char)table->key;
			if (table->arg != NULL)
				st->shortopts[s++] = ':';
		}
	}
}

int
opt_next(struct opt_state *st, int argc, char **argv)
{
	int key;

	opterr = 0;
	key = getopt_long(argc, argv, st->shortopts, st->longopts, NULL);
	if (key == ':') {
		fprintf(stderr, "%s: option '%s' needs a value (see --help)\n",
		    argv[0], argv[optind - 1]);
		return '?';
	}
	if (key == '?') {
		fprintf(stderr, "%s: unknown option '%s' (see --help)\n",
		    argv[0], argv[optind - 1]);
		return '?';
	}
	return key;
}

void
opt_usage(FILE *fp, const char *prog, const char *synopsis, const char *about,
    const struct opt *table)
{
	char left[64];

	fprintf(fp, "usage: %s %s\n\n%s\n\noptions:\n", prog, synopsis, about);
	for (; table->name != NULL; table++) {
		if (table->key > 0 && table->key < 256)
			snprintf(left, sizeof left, "-%c, --%s%s%s",
			    table->key, table->name, table->arg ? " " : "",
			    table->arg ? table->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", table->name,
			    table->arg ? " " : "", table->arg ? table->arg : "");
		fprintf(fp, "  %-28s %s\n", left, table->help);
	}
}

int
opt_common(int key, const char *prog, const char *synopsis, const char *about,
    const struct opt *table)
{
	enum log_level level;

	switch (key) {
	case OPT_KEY_HELP:
		opt_usage(stdout, prog, synopsis, about, table);
		exit(0);
	case OPT_KEY_VERSION:
		printf("%s (%s) %s\n", prog, PACKAGE_NAME, PACKAGE_VERSION);
		exit(0);
	case OPT_KEY_LOG_LEVEL:
		if (log_level_parse(optarg, &level) != 0)
			fatal("--log-level '%s': expected error, warn, info, "
			    "debug or trace", optarg);
		log_level_current = level;
		return 1;
	default:
		return 0;
	}
}

unsigned long
opt_number(const char *name, const char *text, unsigned long min,
    unsigned long max)
{
	unsigned long v;
	char *end;

	v = strtoul(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || v < min ||
	    v > max)
		fatal("--%s '%s': expected a number from %lu to %lu", name,
		    text, min, max);
	return v;
}
