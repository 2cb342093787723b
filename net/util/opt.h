/* Command-line options as a table: getopt_long's arrays and the --help
 * text are both built from the same rows. */
#ifndef TREECAST_OPT_H
#define TREECAST_OPT_H

#include <getopt.h>
#include <stdio.h>

#define OPT_MAX 40

struct opt {
	const char	*name;	/* long name, without "--" */
	int		 key;	/* short letter, or a value above 255 */
	const char	*arg;	/* argument's name in --help; NULL for a flag */
	const char	*help;	/* one line */
};

struct opt_state {
	struct option	longopts[OPT_MAX + 1];
	char		shortopts[OPT_MAX * 2 + 2];
};

/* Rows every program has. */
#define OPT_KEY_HELP		'h'
#define OPT_KEY_VERSION		'V'
#define OPT_KEY_LOG_LEVEL	'v'
#define OPT_COMMON_ROWS							\
	{ "log-level", OPT_KEY_LOG_LEVEL, "LEVEL",			\
	  "error, warn, info (default), debug or trace" },		\
	{ "help", OPT_KEY_HELP, NULL, "print this help and exit" },	\
	{ "version", OPT_KEY_VERSION, NULL, "print the version and exit" }

/* The table ends with a row whose name is NULL. */
void	opt_init(struct opt_state *st, const struct opt *table);
/* getopt_long over the table: the next key, -1 at the end, '?' on error. */
int	opt_next(struct opt_state *st, int argc, char **argv);
void	opt_usage(FILE *fp, const char *prog, const char *synopsis,
	    const char *about, const struct opt *table);
/*
 * Handles the common rows: prints help or version and exits, or sets the
 * log level (exits with an error naming a bad level). Returns 1 if key was
 * a common row, else 0.
 */
int	opt_common(int key, const char *prog, const char *synopsis,
	    const char *about, const struct opt *table);
/* A decimal option value from min to max; exits with an error naming the
 * option and the value otherwise. */
unsigned long opt_number(const char *name, const char *text,
	    unsigned long min, unsigned long max);

#endif
